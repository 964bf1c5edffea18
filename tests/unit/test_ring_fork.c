/* test_ring_fork.c - a writer process and a reader process sharing a ring:
 * in order and lossless while the reader keeps up (blocking mode), exact
 * loss accounting when it does not. */
#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ulma/reader.h"
#include "ulma/ring.h"
#include "ulma/segment.h"

static char dir[512];

/* Find the one segment in dir (written by the child) and open it. */
static ulma_reader_t *wait_segment(pid_t pid)
{
    for (int tries = 0; tries < 5000; tries++) {
        DIR *d = opendir(dir);
        CHECK(d != NULL);
        struct dirent *e;
        char path[1024] = "";
        while ((e = readdir(d))) {
            uint32_t uid;
            int32_t p;
            uint64_t st;
            if (ulma_segment_parse_name(e->d_name, &uid, &p, &st) == 0 && p == pid)
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        }
        closedir(d);
        ulma_reader_t *r = NULL;
        if (path[0] && ulma_reader_open(path, &r) == 0)
            return r;
        usleep(1000);
    }
    fprintf(stderr, "segment of %d never appeared\n", (int)pid);
    exit(1);
}

/* Child: write n records with id = sequence number, then detach. The
 * thread slot says when it is done (RETIRED after THREAD_END). */
static void writer(uint64_t n, uint32_t ring, int blocking)
{
    ulma_segment_opts_t o;
    ulma_segment_opts_init(&o);
    o.dir = dir;
    o.nslots = 1;
    o.ring_bytes = ring;
    o.calib_window_ns = 1000000;
    ulma_segment_t *seg;
    if (ulma_segment_create(&o, &seg) != 0)
        _exit(10);
    ulma_producer_t p;
    if (ulma_producer_attach(seg, &p, (int32_t)getpid(), "writer") != 0)
        _exit(11);
    ulma_producer_set_blocking(&p, blocking);
    p.block_wait_ns = 5000000000ull; /* the reader is alive: wait for it */
    for (uint64_t i = 0; i < n; i++)
        ulma_put(&p, i, ULMA_EV_CALL, (uint32_t)i, (uint16_t)i);
    ulma_producer_detach(&p);
    ulma_segment_destroy(&seg, 0);
    _exit(0);
}

typedef struct seq_check {
    uint64_t next;      /* next sequence number expected */
    uint64_t received;  /* CALL records */
    uint64_t marked;    /* records declared lost by DROP records */
    uint64_t drops;     /* DROP records */
    int ended;
} seq_check_t;

static int on_batch(void *ctx, unsigned slot, const ulma_rec_t *recs, size_t nunits)
{
    seq_check_t *c = ctx;
    ulma_iter_t it;
    ulma_rec_t h;
    const void *pl;
    uint32_t plen;
    (void)slot;
    ulma_iter_init(&it, recs, nunits);
    while (ulma_iter_next(&it, &h, &pl, &plen)) {
        switch (h.kind) {
        case ULMA_EV_CALL:
            /* in order: exactly the next one, after any declared gap */
            CHECK_EQ_U(h.id, (uint32_t)c->next);
            CHECK_EQ_U(h.tsc, c->next);
            CHECK_EQ_U(h.depth, (uint16_t)c->next);
            c->next++;
            c->received++;
            break;
        case ULMA_EV_DROP:
            c->drops++;
            c->marked += h.id;
            c->next += h.id;
            break;
        case ULMA_EV_THREAD_END:
            c->ended = 1;
            break;
        case ULMA_EV_PAD:
            break;
        default:
            CHECK(!"unexpected record kind");
        }
    }
    return it.bad ? -1 : 0;
}

static void drain_until_done(ulma_reader_t *r, seq_check_t *c, int pause_us, unsigned seed)
{
    for (;;) {
        /* EXITED is stored after the last record is published: a drain that
         * starts after seeing it gets everything */
        int exited = ulma_reader_state(r) == ULMA_SEG_EXITED;
        long n = ulma_reader_drain(r, on_batch, c, 0);
        CHECK(n >= 0);
        if (exited && n == 0)
            return;
        if (pause_us)
            usleep((unsigned)(rand_r(&seed) % (unsigned)pause_us));
    }
}

static void run_case(uint64_t n, uint32_t ring, int blocking, int pause_us, int late_reader)
{
    fprintf(stderr, "   n=%" PRIu64 " ring=%u blocking=%d pause=%dus late=%d\n", n, ring,
            blocking, pause_us, late_reader);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        writer(n, ring, blocking);
    seq_check_t c;
    memset(&c, 0, sizeof(c));
    int status;
    if (late_reader) {
        CHECK_EQ_I(waitpid(pid, &status, 0), pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ulma_reader_t *r = wait_segment(pid);
    drain_until_done(r, &c, pause_us, 12345);
    if (!late_reader) {
        CHECK_EQ_I(waitpid(pid, &status, 0), pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    uint64_t dropped = ulma_reader_total_dropped(r);
    fprintf(stderr, "   received %" PRIu64 " dropped %" PRIu64 " in %" PRIu64 " gaps\n",
            c.received, dropped, c.drops);
    /* nothing unaccounted: each of the n records and the THREAD_END arrived
     * or was counted as dropped */
    CHECK_EQ_U(c.received + (uint64_t)c.ended + dropped, n + 1);
    /* drops before the last record that arrived are declared in place, exactly */
    CHECK(c.marked <= dropped);
    CHECK_EQ_U(c.next + (dropped - c.marked), n + (c.ended ? 0 : 1));
    CHECK_EQ_U(ulma_reader_total_corrupt(r), 0);
    CHECK_EQ_U(ulma_reader_state(r), ULMA_SEG_EXITED);
    if (blocking)
        CHECK_EQ_U(dropped, 0);
    if (late_reader) {
        /* the ring held the first ring/16 - 1 records (THREAD_END took the
         * last unit... or was dropped too) */
        CHECK(c.received >= ring / ULMA_UNIT - 1);
        CHECK_EQ_U(c.drops, 0);
    }
    CHECK_EQ_I(ulma_reader_unlink(r), 0);
    ulma_reader_destroy(&r);
}

int main(int argc, char **argv)
{
    uint64_t big = argc > 1 ? strtoull(argv[1], NULL, 0) : 2000000;
    make_tmpdir(dir, sizeof(dir), "test");
    fprintf(stderr, "-- lossless while the reader keeps up (blocking writer)\n");
    run_case(big, 1 << 16, 1, 0, 0);
    run_case(big / 4, 4096, 1, 50, 0);
    fprintf(stderr, "-- exact loss accounting with a slow reader\n");
    run_case(big, 1 << 14, 0, 200, 0);
    run_case(big, 4096, 0, 1000, 0);
    fprintf(stderr, "-- reader arrives after the writer is gone\n");
    run_case(100000, 1 << 16, 0, 0, 1);
    rm_tree(dir);
    fprintf(stderr, "test_ring_fork: all passed\n");
    return 0;
}
