/* test_segment_fault.c - the reader against broken, hostile and orphaned
 * segments: it refuses, counts and survives; it never crashes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "ulma/reader.h"
#include "ulma/ring.h"
#include "ulma/segment.h"

static char dir[512];
static uint64_t units_seen;

static int count_batch(void *ctx, unsigned slot, const ulma_rec_t *recs, size_t nunits)
{
    ulma_iter_t it;
    ulma_rec_t h;
    const void *pl;
    uint32_t plen;
    (void)ctx;
    (void)slot;
    ulma_iter_init(&it, recs, nunits);
    while (ulma_iter_next(&it, &h, &pl, &plen))
        units_seen += h.units;
    return it.bad ? -1 : 0;
}

static ulma_segment_t *make_seg(void)
{
    ulma_segment_opts_t o;
    ulma_segment_opts_init(&o);
    o.dir = dir;
    o.nslots = 2;
    o.ring_bytes = 4096;
    o.calib_window_ns = 1000000;
    ulma_segment_t *seg = NULL;
    CHECK_EQ_I(ulma_segment_create(&o, &seg), 0);
    return seg;
}

/* Copy a fresh segment to `path`, then overwrite `len` bytes at `off`. */
static void write_variant(const char *src, const char *path, size_t off, const void *bytes, size_t len)
{
    int in = open(src, O_RDONLY);
    CHECK(in >= 0);
    struct stat st;
    CHECK_EQ_I(fstat(in, &st), 0);
    uint8_t *buf = malloc((size_t)st.st_size);
    CHECK(buf != NULL);
    CHECK_EQ_I(pread(in, buf, (size_t)st.st_size, 0), st.st_size);
    close(in);
    if (bytes)
        memcpy(buf + off, bytes, len);
    int out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(out >= 0);
    CHECK_EQ_I(write(out, buf, (size_t)st.st_size), st.st_size);
    close(out);
    free(buf);
}

#define FIELD(f) offsetof(ulma_seg_header_t, f), sizeof(((ulma_seg_header_t *)0)->f)

static void expect_open_fails(const char *src, size_t off, size_t len, uint64_t value, int err)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/variant.seg", dir);
    write_variant(src, path, off, &value, len);
    ulma_reader_t *r = NULL;
    int rc = ulma_reader_open(path, &r);
    if (rc != err)
        fprintf(stderr, "field at %zu = %llu: got %d, want %d\n", off, (unsigned long long)value,
                rc, err);
    CHECK_EQ_I(rc, err);
    CHECK(r == NULL);
    unlink(path);
}

static void test_bad_headers(void)
{
    ulma_segment_t *seg = make_seg();
    const char *src = ulma_segment_path(seg);
    expect_open_fails(src, FIELD(magic), 0x1234, -EINVAL);
    expect_open_fails(src, FIELD(version), 2, -EPROTONOSUPPORT);
    expect_open_fails(src, FIELD(header_size), 8, -EINVAL);
    expect_open_fails(src, FIELD(header_size), 1 << 20, -EINVAL);
    expect_open_fails(src, FIELD(ring_bytes), 5000, -EINVAL);
    expect_open_fails(src, FIELD(ring_bytes), 0, -EINVAL);
    expect_open_fails(src, FIELD(ring_bytes), 1u << 31, -EINVAL);
    expect_open_fails(src, FIELD(slot_size), 77, -EINVAL);
    expect_open_fails(src, FIELD(slot_header_size), 0, -EINVAL);
    expect_open_fails(src, FIELD(nslots), 0, -EINVAL);
    expect_open_fails(src, FIELD(nslots), 0xffffffffu, -EINVAL);
    expect_open_fails(src, FIELD(nslots), 3, -ENODATA); /* slots past the end */
    expect_open_fails(src, FIELD(slot_offset), 12, -EINVAL);
    expect_open_fails(src, FIELD(slot_offset), 0xfffffffffffff000ull, -EINVAL);
    expect_open_fails(src, FIELD(segment_size), 1ull << 40, -ENODATA);

    char path[1024];
    /* shorter than a header */
    snprintf(path, sizeof(path), "%s/short.seg", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_EQ_I(write(fd, "ULMASEG1", 8), 8);
    close(fd);
    ulma_reader_t *r = NULL;
    CHECK_EQ_I(ulma_reader_open(path, &r), -ENODATA);
    unlink(path);
    /* not a regular file, a symlink, nothing at all */
    CHECK_EQ_I(ulma_reader_open(dir, &r), -EISDIR);
    snprintf(path, sizeof(path), "%s/link.seg", dir);
    CHECK_EQ_I(symlink(src, path), 0);
    CHECK_EQ_I(ulma_reader_open(path, &r), -ELOOP);
    unlink(path);
    snprintf(path, sizeof(path), "%s/none.seg", dir);
    CHECK_EQ_I(ulma_reader_open(path, &r), -ENOENT);
    ulma_segment_destroy(&seg, 1);
}

/* Positions and records that break the rules are counted, not followed. */
static void test_hostile_positions(void)
{
    ulma_segment_t *seg = make_seg();
    ulma_producer_t p;
    CHECK_EQ_I(ulma_producer_attach(seg, &p, 1, "t"), 0);
    ulma_reader_t *r = NULL;
    CHECK_EQ_I(ulma_reader_open(ulma_segment_path(seg), &r), 0);
    ulma_slot_header_t *sh = p.slot;

    atomic_store(&sh->head, 7); /* not a whole unit */
    units_seen = 0;
    CHECK_EQ_I(ulma_reader_drain(r, count_batch, NULL, 0), 0);
    CHECK_EQ_U(ulma_reader_total_corrupt(r), 1);

    atomic_store(&sh->head, 1ull << 40); /* more than the ring holds */
    CHECK_EQ_I(ulma_reader_drain(r, count_batch, NULL, 0), 0);
    CHECK_EQ_U(ulma_reader_total_corrupt(r), 2);
    uint64_t t = atomic_load(&sh->tail);
    CHECK_EQ_U(t, 1ull << 40); /* skipped to what the writer claims */

    atomic_store(&sh->head, 16); /* behind the reader */
    CHECK_EQ_I(ulma_reader_drain(r, count_batch, NULL, 0), 0);
    CHECK_EQ_U(ulma_reader_total_corrupt(r), 3);
    CHECK_EQ_U(units_seen, 0);

    /* records of size 0 or larger than what was published */
    uint64_t base = atomic_load(&sh->tail);
    ulma_rec_t *rec = (ulma_rec_t *)(void *)((uint8_t *)sh + ULMA_SLOT_HEADER_BYTES + (base & 4095));
    rec->units = 0;
    rec->kind = ULMA_EV_CALL;
    atomic_store(&sh->head, base + 16);
    CHECK_EQ_I(ulma_reader_drain(r, count_batch, NULL, 0), 0);
    CHECK_EQ_U(ulma_reader_total_corrupt(r), 4);
    base += 16;
    rec = (ulma_rec_t *)(void *)((uint8_t *)sh + ULMA_SLOT_HEADER_BYTES + (base & 4095));
    rec->units = 200; /* claims more than the 2 units published */
    atomic_store(&sh->head, base + 32);
    CHECK_EQ_I(ulma_reader_drain(r, count_batch, NULL, 0), 0);
    CHECK_EQ_U(ulma_reader_total_corrupt(r), 5);

    /* a sane record afterwards is read normally */
    p.head = atomic_load(&sh->head);
    p.limit = 0;
    atomic_store(&sh->tail, p.head);
    ulma_put(&p, 1, ULMA_EV_CALL, 5, 1);
    units_seen = 0;
    CHECK_EQ_I(ulma_reader_drain(r, count_batch, NULL, 0), 1);
    CHECK_EQ_U(units_seen, 1);

    /* garbage header words are reported as found, never trusted */
    ulma_seg_header_t *h = ulma_segment_header(seg);
    atomic_store(&h->cycles_per_sec, 3);
    atomic_store(&h->calib_ns1, 0);
    CHECK_EQ_U(ulma_reader_hz(r), 0);
    memset(h->host, 'x', sizeof(h->host)); /* no terminator: the reader's copy has one */
    ulma_reader_destroy(&r);
    CHECK_EQ_I(ulma_reader_open(ulma_segment_path(seg), &r), 0);
    CHECK_EQ_U(strlen(ulma_reader_info(r)->host), ULMA_HOST_MAX - 1);
    ulma_reader_destroy(&r);
    ulma_segment_destroy(&seg, 1);
}

/* A reader of a segment with one record whose writer left (abandoned:
 * the file stays, at `path`). */
static ulma_reader_t *reader_of_one_record(char *path, size_t len)
{
    ulma_segment_t *seg = make_seg();
    ulma_producer_t p;
    CHECK_EQ_I(ulma_producer_attach(seg, &p, 1, "t"), 0);
    ulma_put(&p, 1, ULMA_EV_CALL, 5, 1);
    ulma_reader_t *r = NULL;
    CHECK_EQ_I(ulma_reader_open(ulma_segment_path(seg), &r), 0);
    snprintf(path, len, "%s", ulma_segment_path(seg));
    ulma_segment_abandon(&seg);
    return r;
}

/* The file is cut short under a live mapping: SIGBUS is caught. */
static void test_truncated_under_reader(void)
{
    char path[1024];
    ulma_reader_t *r = reader_of_one_record(path, sizeof(path));
    /* the header stays, the slots are gone: touching slot 0 faults */
    CHECK_EQ_I(truncate(path, ULMA_SEG_HEADER_BYTES), 0);
    CHECK_EQ_I(ulma_reader_drain(r, count_batch, NULL, 0), -EFAULT);
    CHECK_EQ_I(ulma_reader_drain(r, count_batch, NULL, 0), -EFAULT);
    CHECK_EQ_U(ulma_reader_state(r), ULMA_SEG_EXITED);
    CHECK_EQ_U(ulma_reader_hz(r), 0);
    char name[16];
    ulma_reader_thread_name(r, 0, name, sizeof(name));
    CHECK_EQ_U(name[0], 0);
    /* a SIGBUS outside the reader still kills: the guard is not a blanket */
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_RDWR);
        uint8_t *m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
        volatile uint8_t x = m[4096];
        (void)x;
        _exit(0);
    }
    int status;
    CHECK_EQ_I(waitpid(pid, &status, 0), pid);
    /* killed by SIGBUS, or (under AddressSanitizer, whose handler we chain
     * to) reported and exited non-zero: never silently survived */
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS) ||
          (WIFEXITED(status) && WEXITSTATUS(status) != 0));
    CHECK_EQ_I(ulma_reader_unlink(r), 0);
    ulma_reader_destroy(&r);
}

/* A header word that faults marks the reader broken, as a faulted drain
 * does: once the file is whole again (zero pages) nothing is read from
 * the mapping, the reader stays done. */
static void test_header_fault_breaks(void)
{
    char path[1024];
    ulma_reader_t *r = reader_of_one_record(path, sizeof(path));
    struct stat sb;
    CHECK_EQ_I(stat(path, &sb), 0);
    CHECK_EQ_I(truncate(path, 0), 0);
    CHECK_EQ_U(ulma_reader_state(r), ULMA_SEG_EXITED); /* faulted: the default */
    CHECK_EQ_I(truncate(path, sb.st_size), 0);       /* readable again, all zero */
    CHECK_EQ_I(ulma_reader_drain(r, count_batch, NULL, 0), -EFAULT);
    CHECK_EQ_U(ulma_reader_state(r), ULMA_SEG_EXITED);
    CHECK_EQ_U(ulma_reader_request(r, ULMA_MODE_FAST), 0);
    CHECK_EQ_I(ulma_reader_unlink(r), 0);
    ulma_reader_destroy(&r);
}

/* A writer killed by SIGKILL in the middle of a record: what it published
 * is harvested, what it had not published is invisible, nothing wedges. */
static void test_killed_writer(void)
{
    int pipefd[2];
    CHECK_EQ_I(pipe(pipefd), 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        ulma_segment_opts_t o;
        ulma_segment_opts_init(&o);
        o.dir = dir;
        o.nslots = 1;
        o.ring_bytes = 1 << 16;
        o.calib_window_ns = 1000000;
        ulma_segment_t *seg;
        if (ulma_segment_create(&o, &seg) != 0)
            _exit(10);
        ulma_producer_t p;
        if (ulma_producer_attach(seg, &p, getpid(), "victim") != 0)
            _exit(11);
        for (uint32_t i = 0; i < 1000; i++)
            ulma_put(&p, i, ULMA_EV_CALL, i, 1);
        /* half a record: units written, head not published */
        ulma_rec_t *rec = (ulma_rec_t *)(void *)(p.data + (p.head & p.mask));
        rec->kind = ULMA_EV_DEF_CODE;
        rec->units = 9;
        rec->id = 0xdead;
        if (write(pipefd[1], "x", 1) != 1)
            _exit(12);
        for (;;)
            pause();
    }
    char c;
    CHECK_EQ_I(read(pipefd[0], &c, 1), 1);
    CHECK_EQ_I(kill(pid, SIGKILL), 0);
    int status;
    CHECK_EQ_I(waitpid(pid, &status, 0), pid);
    close(pipefd[0]);
    close(pipefd[1]);

    char path[1024];
    ulma_segment_name(path, sizeof(path), dir, getuid(), pid, 0);
    /* the start time is part of the name: find it by scanning */
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "ls %s/ulma.%u.%d.*.seg > %s/found", dir, getuid(), (int)pid, dir);
    CHECK_EQ_I(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/found", dir);
    FILE *f = fopen(cmd, "r");
    CHECK(f && fgets(path, sizeof(path), f));
    fclose(f);
    path[strcspn(path, "\n")] = '\0';

    ulma_reader_t *r = NULL;
    CHECK_EQ_I(ulma_reader_open(path, &r), 0);
    CHECK_EQ_I(ulma_reader_writer_alive(r), 0);
    CHECK_EQ_U(ulma_reader_state(r), ULMA_SEG_LIVE); /* it never said goodbye */
    units_seen = 0;
    CHECK_EQ_I(ulma_reader_drain(r, count_batch, NULL, 0), 1000);
    CHECK_EQ_U(units_seen, 1000);
    CHECK_EQ_I(ulma_reader_drain(r, count_batch, NULL, 0), 0);
    CHECK_EQ_U(ulma_reader_total_corrupt(r), 0);
    CHECK_EQ_I(ulma_reader_unlink(r), 0);
    ulma_reader_destroy(&r);
    struct stat st;
    CHECK(stat(path, &st) != 0);
}

int main(void)
{
    make_tmpdir(dir, sizeof(dir), "test");
    RUN(test_bad_headers);
    RUN(test_hostile_positions);
    RUN(test_truncated_under_reader);
    RUN(test_header_fault_breaks);
    RUN(test_killed_writer);
    rm_tree(dir);
    fprintf(stderr, "test_segment_fault: all passed\n");
    return 0;
}
