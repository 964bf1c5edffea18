/* test_mpi_counts.c - run mpi_known on 2 ranks with libulma-mpi and check
 * every recorded MPI call (count, bytes, peer, communicator size) against
 * what the program is known to do; then check that with profiling off
 * nothing is recorded at all.
 *
 * Usage: test_mpi_counts MPIEXEC MPI_KNOWN */
#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ulma/reader.h"

#define MAXID 256

typedef struct tally {
    uint64_t calls[MAXID];
    uint64_t bytes[MAXID];
    int32_t last_peer[MAXID];
    uint32_t comm_size[MAXID];
    char names[MAXID][32];
    uint64_t mpi_records;
} tally_t;

static int on_batch(void *ctx, unsigned slot, const ulma_rec_t *recs, size_t nunits)
{
    tally_t *t = ctx;
    ulma_iter_t it;
    ulma_rec_t h;
    const void *pl;
    uint32_t plen;
    (void)slot;
    ulma_iter_init(&it, recs, nunits);
    while (ulma_iter_next(&it, &h, &pl, &plen)) {
        if (h.id >= MAXID)
            continue;
        if (h.kind == ULMA_EV_MPI && plen >= sizeof(ulma_mpi_payload_t)) {
            ulma_mpi_payload_t m;
            memcpy(&m, pl, sizeof(m));
            t->calls[h.id]++;
            t->bytes[h.id] += m.bytes;
            t->last_peer[h.id] = m.peer;
            t->comm_size[h.id] = m.comm_size;
            t->mpi_records++;
        } else if (h.kind == ULMA_EV_DEF_MPI) {
            size_t n = plen < 31 ? plen : 31;
            memcpy(t->names[h.id], pl, n);
            t->names[h.id][n] = '\0';
        }
    }
    return it.bad ? -1 : 0;
}

static int find_id(const tally_t *t, const char *name)
{
    for (int i = 0; i < MAXID; i++)
        if (!strcmp(t->names[i], name))
            return i;
    fprintf(stderr, "no record named %s\n", name);
    exit(1);
}

static void expect(const tally_t *t, const char *name, uint64_t calls, uint64_t bytes)
{
    int id = find_id(t, name);
    if (t->calls[id] != calls || t->bytes[id] != bytes) {
        fprintf(stderr, "%s: %" PRIu64 " calls, %" PRIu64 " bytes; want %" PRIu64 ", %" PRIu64 "\n",
                name, t->calls[id], t->bytes[id], calls, bytes);
        exit(1);
    }
}

static int run_job(const char *mpiexec, const char *prog, const char *dir, int on)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             /* leak checking off: Open MPI's own allocations outlive
              * MPI_Finalize, and the runtime keeps its mapping on purpose */
             "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 %s ULMA_DIR=%s "
             "ASAN_OPTIONS=detect_leaks=0 "
             "%s -np 2 --oversubscribe --mca btl self,vader -x ULMA_DIR -x ASAN_OPTIONS %s %s",
             on ? "ULMA_MODE=fast" : "", dir, mpiexec, on ? "-x ULMA_MODE" : "", prog);
    if (!on)
        unsetenv("ULMA_MODE");
    fprintf(stderr, "+ %s\n", cmd);
    return system(cmd);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_mpi_counts MPIEXEC MPI_KNOWN\n");
        return 2;
    }
    char dir[512];
    make_tmpdir(dir, sizeof(dir), "test");
    CHECK_EQ_I(run_job(argv[1], argv[2], dir, 1), 0);

    tally_t rank[2];
    memset(rank, 0, sizeof(rank));
    int found = 0;
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        uint32_t uid;
        int32_t pid;
        uint64_t st;
        if (ulma_segment_parse_name(e->d_name, &uid, &pid, &st) != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        ulma_reader_t *r = NULL;
        CHECK_EQ_I(ulma_reader_open(path, &r), 0);
        int rk = ulma_reader_info(r)->mpi_rank;
        CHECK(rk == 0 || rk == 1);
        CHECK_EQ_I(ulma_reader_info(r)->mpi_size, 2);
        CHECK(ulma_reader_drain(r, on_batch, &rank[rk], 0) > 0);
        CHECK_EQ_U(ulma_reader_total_dropped(r), 0);
        ulma_reader_destroy(&r);
        found++;
    }
    closedir(d);
    CHECK_EQ_I(found, 2);

    for (int rk = 0; rk < 2; rk++) {
        tally_t *t = &rank[rk];
        fprintf(stderr, "rank %d: %" PRIu64 " MPI records\n", rk, t->mpi_records);
        expect(t, "MPI_Init", 1, 0);
        expect(t, "MPI_Finalize", 1, 0);
        if (rk == 0) {
            expect(t, "MPI_Send", 10, 10 * 1000 * 8);
            CHECK_EQ_I(t->last_peer[find_id(t, "MPI_Send")], 1);
        } else {
            expect(t, "MPI_Recv", 10, 10 * 1000 * 8);
            CHECK_EQ_I(t->last_peer[find_id(t, "MPI_Recv")], 0);
        }
        expect(t, "MPI_Isend", 5, 5 * 100 * 4);
        expect(t, "MPI_Irecv", 5, 5 * 100 * 4);
        CHECK_EQ_I(t->last_peer[find_id(t, "MPI_Isend")], 1 - rk);
        expect(t, "MPI_Waitall", 5, 0);
        expect(t, "MPI_Bcast", 4, 4 * 100 * 4);
        CHECK_EQ_I(t->last_peer[find_id(t, "MPI_Bcast")], 0);
        CHECK_EQ_U(t->comm_size[find_id(t, "MPI_Bcast")], 2);
        expect(t, "MPI_Allreduce", 3, 3 * 2 * 10 * 8);
        expect(t, "MPI_Barrier", 2, 0);
        /* Gather: 4 ints sent; the root also receives 4 from each of 2 ranks */
        expect(t, "MPI_Gather", 1, 16 + (rk == 0 ? 2 * 4 * 4 : 0));
        expect(t, "MPI_Comm_dup", 1, 0);
        expect(t, "MPI_Comm_free", 1, 0);
        expect(t, "MPI_Win_create", 1, 0);
        expect(t, "MPI_Win_fence", 2, 0);
        expect(t, "MPI_Win_free", 1, 0);
        if (rk == 0) {
            expect(t, "MPI_Put", 1, 64);
            CHECK_EQ_I(t->last_peer[find_id(t, "MPI_Put")], 1);
        }
        uint64_t want = 1 + 1 + 10 + 5 * 3 + 4 + 3 + 2 + 1 + 2 + 1 + 2 + 1 + (rk == 0 ? 1 : 0);
        CHECK_EQ_U(t->mpi_records, want);
    }

    /* off: the wrappers pass through, no segment is made */
    rm_tree(dir);
    make_tmpdir(dir, sizeof(dir), "test");
    CHECK_EQ_I(run_job(argv[1], argv[2], dir, 0), 0);
    d = opendir(dir);
    CHECK(d != NULL);
    int any = 0;
    while ((e = readdir(d)))
        any += e->d_name[0] != '.';
    closedir(d);
    CHECK_EQ_I(any, 0);
    rm_tree(dir);
    fprintf(stderr, "test_mpi_counts: all passed\n");
    return 0;
}
