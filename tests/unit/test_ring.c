/* test_ring.c - segment, producer and reader in one process. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "one_mapping.h"
#include "ulma/clock.h"
#include "ulma/reader.h"
#include "ulma/ring.h"
#include "ulma/segment.h"

static char dir[512];

/* Collects every record of a drain. */
typedef struct collect {
    uint64_t n;
    ulma_rec_t recs[1 << 16];
    uint8_t payload[1 << 16][64];
    uint32_t plen[1 << 16];
    unsigned slot[1 << 16];
} collect_t;

static collect_t col;

static int on_batch(void *ctx, unsigned slot, const ulma_rec_t *recs, size_t nunits)
{
    collect_t *c = ctx;
    ulma_iter_t it;
    ulma_rec_t h;
    const void *pl;
    uint32_t plen;
    ulma_iter_init(&it, recs, nunits);
    while (ulma_iter_next(&it, &h, &pl, &plen)) {
        if (h.kind == ULMA_EV_PAD)
            continue;
        CHECK(c->n < (1u << 16));
        c->recs[c->n] = h;
        c->plen[c->n] = plen;
        c->slot[c->n] = slot;
        memcpy(c->payload[c->n], pl, plen < 64 ? plen : 64);
        c->n++;
    }
    return it.bad ? -1 : 0;
}

static ulma_segment_t *make_seg(uint32_t nslots, uint32_t ring)
{
    ulma_segment_opts_t o;
    ulma_segment_opts_init(&o);
    o.dir = dir;
    o.nslots = nslots;
    o.ring_bytes = ring;
    o.exe = "test_ring";
    o.mpi_rank = 3;
    o.mpi_size = 8;
    o.job = "job42";
    o.calib_window_ns = 1000000;
    ulma_segment_t *seg = NULL;
    CHECK_EQ_I(ulma_segment_create(&o, &seg), 0);
    return seg;
}

static ulma_reader_t *open_reader(ulma_segment_t *seg)
{
    ulma_reader_t *r = NULL;
    CHECK_EQ_I(ulma_reader_open(ulma_segment_path(seg), &r), 0);
    return r;
}

static void test_names(void)
{
    char buf[256];
    ulma_segment_name(buf, sizeof(buf), "/d", 1000, 1234, 987654321);
    CHECK(strcmp(buf, "/d/ulma.1000.1234.987654321.seg") == 0);
    uint32_t uid;
    int32_t pid;
    uint64_t st;
    CHECK_EQ_I(ulma_segment_parse_name("ulma.1000.1234.987654321.seg", &uid, &pid, &st), 0);
    CHECK_EQ_U(uid, 1000);
    CHECK_EQ_I(pid, 1234);
    CHECK_EQ_U(st, 987654321);
    CHECK(ulma_segment_parse_name("ulma.1000.1234.9.segx", &uid, &pid, &st) != 0);
    CHECK(ulma_segment_parse_name("ulma.1000.-5.9.seg", &uid, &pid, &st) != 0);
    CHECK(ulma_segment_parse_name("ulma.1000.0.9.seg", &uid, &pid, &st) != 0);
    CHECK(ulma_segment_parse_name(".ulma-tmp.5", &uid, &pid, &st) != 0);
    CHECK(ulma_segment_parse_name("ulma.99999999999.1.1.seg", &uid, &pid, &st) != 0);
    CHECK(ulma_proc_start_time(getpid()) > 0);
    CHECK_EQ_U(ulma_proc_start_time(0x7ffffff0), 0);
}

static void test_clock(void)
{
    uint64_t hz = ulma_clock_calibrate(2000000);
    CHECK(hz >= 10000000u && hz <= 100000000000ull);
    CHECK_EQ_U(ulma_clock_rate_from_pairs(0, 0, 3000000000ull, 1000000000ull), 3000000000ull);
    CHECK_EQ_U(ulma_clock_rate_from_pairs(5, 5, 5, 10), 0);
    CHECK_EQ_U(ulma_clock_rate_from_pairs(0, 0, 10, 1000000000ull), 0); /* 10 Hz: nonsense */
    uint64_t a = ulma_clock_read(), b = ulma_clock_read();
    CHECK(b >= a);
    CHECK(ulma_cycles_to_sec(hz, hz) == 1.0);
    CHECK(ulma_cycles_to_sec(5, 0) == 0.0);
}

/* The rate a writer puts in its header: an estimate made without sleeping
 * at creation, the rate of its two pairs once they are 1 ms apart, fixed
 * after ULMA_CALIB_REFINE_NS. */
static void test_calib_refresh(void)
{
    ulma_segment_opts_t o;
    ulma_segment_opts_init(&o);
    o.dir = dir;
    o.nslots = 1;
    o.ring_bytes = 4096;
    ulma_segment_t *seg = NULL;
    CHECK_EQ_I(ulma_segment_create(&o, &seg), 0); /* calib_window_ns 0: no sleep */
    ulma_seg_header_t *h = ulma_segment_header(seg);
    uint64_t quick = atomic_load(&h->cycles_per_sec);
    CHECK(quick >= 1000000u && quick <= 100000000000ull);
    CHECK(h->calib_ns0 > 0 && atomic_load(&h->calib_ns1) == 0);
    ulma_segment_calib_refresh(h); /* too close: the estimate stays */
    CHECK(atomic_load(&h->calib_ns1) >= h->calib_ns0);
    if (atomic_load(&h->calib_ns1) - h->calib_ns0 < ULMA_CALIB_MIN_PAIR_NS)
        CHECK_EQ_U(atomic_load(&h->cycles_per_sec), quick);
    while (ulma_clock_mono_ns() - h->calib_ns0 < 2 * ULMA_CALIB_MIN_PAIR_NS)
        ;
    ulma_segment_calib_refresh(h);
    uint64_t t1 = atomic_load(&h->calib_tsc1), n1 = atomic_load(&h->calib_ns1);
    CHECK(n1 - h->calib_ns0 >= 2 * ULMA_CALIB_MIN_PAIR_NS);
    uint64_t hz = ulma_clock_rate_from_pairs(h->calib_tsc0, h->calib_ns0, t1, n1);
    CHECK(hz > 0);
    CHECK_EQ_U(atomic_load(&h->cycles_per_sec), hz);
    /* 2 ms of pairs agree with the estimate to 1 % (it is that good) */
    CHECK(hz > quick - quick / 100 && hz < quick + quick / 100);
    /* past the refining time nothing moves any more */
    atomic_store(&h->calib_ns1, h->calib_ns0 + ULMA_CALIB_REFINE_NS);
    atomic_store(&h->cycles_per_sec, 12345678u);
    ulma_segment_calib_refresh(h);
    CHECK_EQ_U(atomic_load(&h->calib_ns1), h->calib_ns0 + ULMA_CALIB_REFINE_NS);
    CHECK_EQ_U(atomic_load(&h->calib_tsc1), t1);
    CHECK_EQ_U(atomic_load(&h->cycles_per_sec), 12345678u);
    ulma_segment_destroy(&seg, 1);
}

static void test_header(void)
{
    ulma_segment_t *seg = make_seg(4, 5000); /* rounds up to 8192 */
    char expect[512];
    ulma_segment_name(expect, sizeof(expect), dir, getuid(), getpid(),
                      ulma_proc_start_time(getpid()));
    CHECK(strcmp(ulma_segment_path(seg), expect) == 0);
    struct stat st;
    CHECK_EQ_I(stat(expect, &st), 0);
    CHECK((st.st_mode & 0777) == 0600);
    ulma_reader_t *r = open_reader(seg);
    const ulma_seg_info_t *in = ulma_reader_info(r);
    CHECK_EQ_I(in->pid, getpid());
    CHECK_EQ_U(in->uid, getuid());
    CHECK_EQ_U(in->start_time, ulma_proc_start_time(getpid()));
    CHECK_EQ_I(in->mpi_rank, 3);
    CHECK_EQ_I(in->mpi_size, 8);
    CHECK(strcmp(in->job, "job42") == 0);
    CHECK(strcmp(in->exe, "test_ring") == 0);
    CHECK_EQ_U(in->nslots, 4);
    CHECK_EQ_U(in->ring_bytes, 8192);
    char host[256] = "";
    gethostname(host, sizeof(host));
    CHECK(strncmp(in->host, host, ULMA_HOST_MAX - 1) == 0);
    CHECK(ulma_reader_hz(r) > 0);
    CHECK_EQ_I(ulma_reader_writer_alive(r), 1);
    CHECK_EQ_U(ulma_reader_state(r), ULMA_SEG_LIVE);

    /* control word round trip */
    uint32_t seq = ulma_reader_request(r, ULMA_MODE_FULL | ULMA_CTL_OBJECTS);
    ulma_seg_header_t *h = ulma_segment_header(seg);
    CHECK_EQ_U(atomic_load(&h->control_seq), seq);
    CHECK_EQ_U(atomic_load(&h->control), ULMA_MODE_FULL | ULMA_CTL_OBJECTS | ULMA_CTL_VALID);
    atomic_store(&h->applied_seq, seq);
    CHECK_EQ_U(ulma_reader_applied_seq(r), seq);

    ulma_segment_destroy(&seg, 0);
    CHECK(seg == NULL);
    ulma_segment_destroy(&seg, 0); /* NULL-safe */
    CHECK_EQ_U(ulma_reader_state(r), ULMA_SEG_EXITED);
    CHECK_EQ_I(stat(expect, &st), 0); /* outlives its process handle */
    CHECK_EQ_I(ulma_reader_unlink(r), 0);
    CHECK(stat(expect, &st) != 0);
    ulma_reader_destroy(&r);
    CHECK(r == NULL);
    ulma_reader_destroy(&r);
}

static void test_in_order(void)
{
    ulma_segment_t *seg = make_seg(2, 1 << 16); /* 4096 units */
    ulma_producer_t p;
    CHECK_EQ_I(ulma_producer_attach(seg, &p, 77, "main"), 0);
    ulma_reader_t *r = open_reader(seg);
    for (uint32_t round = 0; round < 5; round++) {
        for (uint32_t i = 0; i < 3000; i++)
            ulma_put(&p, 1000 + i, i & 1 ? ULMA_EV_RETURN : ULMA_EV_CALL, round * 10000 + i,
                     (uint16_t)(i % 7));
        col.n = 0;
        CHECK_EQ_I(ulma_reader_drain(r, on_batch, &col, 0), 3000);
        CHECK_EQ_U(col.n, 3000);
        for (uint32_t i = 0; i < 3000; i++) {
            CHECK_EQ_U(col.recs[i].id, round * 10000 + i);
            CHECK_EQ_U(col.recs[i].tsc, 1000 + i);
            CHECK_EQ_U(col.recs[i].depth, i % 7);
            CHECK_EQ_U(col.recs[i].kind, i & 1 ? ULMA_EV_RETURN : ULMA_EV_CALL);
            CHECK_EQ_U(col.slot[i], 0);
        }
    }
    CHECK_EQ_U(ulma_reader_total_dropped(r), 0);
    CHECK_EQ_U(ulma_reader_total_units(r), 15000);
    const ulma_slot_stats_t *s = ulma_reader_slot_stats(r, 0);
    CHECK_EQ_I(s->tid, 77);
    CHECK(ulma_reader_slot_stats(r, 2) == NULL);
    char name[8];
    ulma_reader_thread_name(r, 0, name, sizeof(name));
    CHECK(strcmp(name, "main") == 0);
    ulma_reader_destroy(&r);
    ulma_segment_destroy(&seg, 1);
}

static void test_drop_exact(void)
{
    ulma_segment_t *seg = make_seg(1, 4096); /* 256 units */
    ulma_producer_t p;
    CHECK_EQ_I(ulma_producer_attach(seg, &p, 1, "t"), 0);
    ulma_reader_t *r = open_reader(seg);
    for (uint32_t i = 0; i < 256 + 100; i++)
        ulma_put(&p, i, ULMA_EV_CALL, i, 1);
    col.n = 0;
    CHECK_EQ_I(ulma_reader_drain(r, on_batch, &col, 0), 256);
    CHECK_EQ_U(col.n, 256);
    CHECK_EQ_U(col.recs[255].id, 255);
    CHECK_EQ_U(ulma_reader_total_dropped(r), 100);
    /* the next record is preceded by a DROP record saying how many, and the depth */
    ulma_put(&p, 999, ULMA_EV_RETURN, 4242, 9);
    col.n = 0;
    CHECK_EQ_I(ulma_reader_drain(r, on_batch, &col, 0), 2);
    CHECK_EQ_U(col.n, 2);
    CHECK_EQ_U(col.recs[0].kind, ULMA_EV_DROP);
    CHECK_EQ_U(col.recs[0].id, 100);
    CHECK_EQ_U(col.recs[0].depth, 9);
    CHECK_EQ_U(col.recs[1].kind, ULMA_EV_RETURN);
    CHECK_EQ_U(col.recs[1].id, 4242);
    CHECK_EQ_U(ulma_reader_total_dropped(r), 100);
    /* the bounded drain hands out at most what was asked */
    for (uint32_t i = 0; i < 50; i++)
        ulma_put(&p, i, ULMA_EV_CALL, i, 1);
    col.n = 0;
    CHECK_EQ_I(ulma_reader_drain(r, on_batch, &col, 20), 20);
    CHECK_EQ_I(ulma_reader_drain(r, on_batch, &col, 0), 30);
    CHECK_EQ_U(col.recs[49].id, 49);
    ulma_reader_destroy(&r);
    ulma_segment_destroy(&seg, 1);
}

static void test_payload_wrap(void)
{
    ulma_segment_t *seg = make_seg(1, 4096);
    ulma_producer_t p;
    CHECK_EQ_I(ulma_producer_attach(seg, &p, 1, "t"), 0);
    ulma_reader_t *r = open_reader(seg);
    uint32_t seq = 0, seen = 0;
    unsigned pads = 0;
    for (int round = 0; round < 400; round++) {
        /* a mix of one-unit and payload records that must wrap many times */
        for (int k = 0; k < 5; k++) {
            uint8_t buf[64];
            uint32_t len = (uint32_t)((round * 7 + k * 13) % 60);
            for (uint32_t b = 0; b < len; b++)
                buf[b] = (uint8_t)(seq + b);
            if (k % 2)
                ulma_put(&p, seq, ULMA_EV_CALL, seq, 0);
            else
                CHECK_EQ_I(ulma_put_payload(&p, seq, ULMA_EV_DEF_TYPE, seq, 0, buf, len), 1);
            seq++;
        }
        col.n = 0;
        long got = ulma_reader_drain(r, on_batch, &col, 0);
        CHECK(got >= 5);
        for (uint64_t i = 0; i < col.n; i++, seen++) {
            CHECK_EQ_U(col.recs[i].id, seen);
            if (col.recs[i].kind == ULMA_EV_DEF_TYPE) {
                uint32_t len = (uint32_t)((round * 7 + (seen % 5) * 13) % 60);
                CHECK_EQ_U(col.plen[i], (len + 15) / 16 * 16);
                for (uint32_t b = 0; b < len; b++)
                    CHECK_EQ_U(col.payload[i][b], (uint8_t)(seen + b));
                for (uint32_t b = len; b < col.plen[i]; b++)
                    CHECK_EQ_U(col.payload[i][b], 0);
            }
        }
        pads += (unsigned)got - (unsigned)col.n; /* units, not records: only a hint */
    }
    CHECK_EQ_U(seen, seq);
    CHECK_EQ_U(ulma_reader_total_dropped(r), 0);
    (void)pads;
    ulma_reader_destroy(&r);
    ulma_segment_destroy(&seg, 1);
}

static void test_def_code(void)
{
    ulma_segment_t *seg = make_seg(1, 1 << 16);
    ulma_producer_t p;
    CHECK_EQ_I(ulma_producer_attach(seg, &p, 1, "t"), 0);
    CHECK_EQ_I(ulma_put_def_code(&p, ULMA_EV_DEF_CODE, 7, 42, "Foo.bar", 7, "x.py", 4), 1);
    static char big[10000];
    memset(big, 'a', sizeof(big));
    CHECK_EQ_I(ulma_put_def_code(&p, ULMA_EV_DEF_CODE, 8, 1, big, sizeof(big), big, 100), 1);
    ulma_reader_t *r = open_reader(seg);
    col.n = 0;
    CHECK(ulma_reader_drain(r, on_batch, &col, 0) > 0);
    CHECK_EQ_U(col.n, 2);
    ulma_def_code_t d;
    memcpy(&d, col.payload[0], sizeof(d));
    CHECK_EQ_U(d.firstline, 42);
    CHECK_EQ_U(d.name_len, 7);
    CHECK_EQ_U(d.file_len, 4);
    CHECK(memcmp(col.payload[0] + sizeof(d), "Foo.barx.py", 11) == 0);
    memcpy(&d, col.payload[1], sizeof(d));
    CHECK_EQ_U(col.recs[1].units, ULMA_MAX_UNITS);
    CHECK(sizeof(d) + d.name_len + d.file_len <= ULMA_MAX_PAYLOAD);
    CHECK_EQ_U(d.file_len, 0); /* the name took all the room */
    ulma_reader_destroy(&r);
    ulma_segment_destroy(&seg, 1);
}

static void test_blocking_bounded(void)
{
    ulma_segment_t *seg = make_seg(1, 4096);
    ulma_producer_t p;
    CHECK_EQ_I(ulma_producer_attach(seg, &p, 1, "t"), 0);
    ulma_producer_set_blocking(&p, 1);
    p.block_wait_ns = 20000000; /* 20 ms with no consumer progress, then drop */
    for (uint32_t i = 0; i < 256; i++)
        ulma_put(&p, i, ULMA_EV_CALL, i, 0);
    /* nobody drains: the writer waits a bounded time, then drops and counts */
    for (uint32_t i = 0; i < 10; i++)
        ulma_put(&p, i, ULMA_EV_CALL, i, 0);
    ulma_reader_t *r = open_reader(seg);
    col.n = 0;
    CHECK_EQ_I(ulma_reader_drain(r, on_batch, &col, 0), 256);
    CHECK_EQ_U(ulma_reader_total_dropped(r), 10);
    CHECK(atomic_load(&p.slot->blocked_ns) >= 20000000);
    ulma_reader_destroy(&r);
    ulma_segment_destroy(&seg, 1);
}

static void test_slots(void)
{
    ulma_segment_t *seg = make_seg(2, 4096);
    ulma_producer_t a, b, c;
    CHECK_EQ_I(ulma_producer_attach(seg, &a, 1, "a"), 0);
    CHECK_EQ_I(ulma_producer_attach(seg, &b, 2, "b"), 0);
    CHECK_EQ_I(ulma_producer_attach(seg, &c, 3, "c"), -ENOSPC);
    /* the writer's high-water mark tells readers which slots to look at */
    CHECK_EQ_U(atomic_load(&ulma_segment_header(seg)->slots_used), 2);
    ulma_reader_t *r = open_reader(seg);
    CHECK_EQ_U(ulma_reader_threads_lost(r), 1);
    ulma_put(&a, 1, ULMA_EV_CALL, 11, 1);
    ulma_put(&b, 2, ULMA_EV_CALL, 22, 1);
    ulma_producer_detach(&b);
    ulma_producer_detach(&b); /* twice is harmless */
    /* a retired slot with undrained records is not reused */
    CHECK_EQ_I(ulma_producer_attach(seg, &c, 3, "c"), -ENOSPC);
    col.n = 0;
    CHECK_EQ_I(ulma_reader_drain(r, on_batch, &col, 0), 3);
    CHECK_EQ_U(col.recs[2].kind, ULMA_EV_THREAD_END);
    CHECK_EQ_U(col.slot[2], 1);
    /* drained: the next drain gives the slot back, and a new thread gets it */
    CHECK_EQ_I(ulma_reader_drain(r, on_batch, &col, 0), 0);
    CHECK_EQ_U(ulma_reader_slot_stats(r, 1)->state, ULMA_SLOT_RETIRED);
    CHECK_EQ_I(ulma_producer_attach(seg, &c, 3, "c"), 0);
    CHECK_EQ_U(c.slot_index, 1);
    ulma_put(&c, 3, ULMA_EV_CALL, 33, 1);
    col.n = 0;
    CHECK_EQ_I(ulma_reader_drain(r, on_batch, &col, 0), 1);
    CHECK_EQ_U(col.recs[0].id, 33);
    CHECK_EQ_I(ulma_reader_slot_stats(r, 1)->tid, 3);
    CHECK_EQ_U(ulma_reader_slot_stats(r, 1)->generation, 2);
    ulma_reader_destroy(&r);
    ulma_segment_destroy(&seg, 1);
}

/* The header is shared: what another process writes into its layout
 * fields must not move the writer out of its own mapping. */
static void test_layout_private(void)
{
    ulma_segment_t *seg = make_seg(2, 4096);
    ulma_seg_header_t *h = ulma_segment_header(seg);
    h->nslots = ULMA_MAX_SLOTS;
    h->ring_bytes = ULMA_MAX_RING_BYTES;
    h->slot_size = 1u << 31;
    h->slot_offset = 1ull << 40;
    CHECK_EQ_U(ulma_segment_nslots(seg), 2);
    CHECK_EQ_U(ulma_segment_ring_bytes(seg), 4096);
    CHECK(ulma_segment_slot(seg, 1) ==
          (uint8_t *)h + ULMA_SEG_HEADER_BYTES + ULMA_SLOT_HEADER_BYTES + 4096);
    CHECK(ulma_segment_slot(seg, 2) == NULL);
    ulma_producer_t a, b, c;
    CHECK_EQ_I(ulma_producer_attach(seg, &a, 1, "a"), 0);
    CHECK_EQ_I(ulma_producer_attach(seg, &b, 2, "b"), 0);
    CHECK_EQ_I(ulma_producer_attach(seg, &c, 3, "c"), -ENOSPC);
    CHECK_EQ_U(b.mask, 4095);
    /* twice what the ring holds, nobody draining: the last slot's ring
     * ends the mapping, and the writer stops there (the rest dropped) */
    for (uint32_t i = 0; i < 2 * 4096 / ULMA_UNIT; i++)
        ulma_put(&b, i, ULMA_EV_CALL, i, 1);
    CHECK_EQ_U(b.head, 4096);
    CHECK_EQ_U(atomic_load(&b.slot->dropped), 4096 / ULMA_UNIT);
    ulma_segment_destroy(&seg, 1);
}

static void test_env_defaults(void)
{
    setenv("ULMA_DIR", dir, 1);
    setenv("ULMA_RING_SIZE", "64k", 1);
    setenv("ULMA_SLOTS", "3", 1);
    CHECK(strcmp(ulma_default_dir(), dir) == 0);
    ulma_segment_t *seg = NULL;
    CHECK_EQ_I(ulma_segment_create(NULL, &seg), 0);
    CHECK(strncmp(ulma_segment_path(seg), dir, strlen(dir)) == 0);
    ulma_reader_t *r = open_reader(seg);
    CHECK_EQ_U(ulma_reader_info(r)->ring_bytes, 65536);
    CHECK_EQ_U(ulma_reader_info(r)->nslots, 3);
    CHECK_EQ_I(ulma_reader_info(r)->mpi_rank, -1);
    ulma_reader_destroy(&r);
    ulma_segment_destroy(&seg, 1);
    setenv("ULMA_RING_SIZE", "nonsense", 1);
    CHECK_EQ_I(ulma_segment_create(NULL, &seg), 0);
    r = open_reader(seg);
    CHECK_EQ_U(ulma_reader_info(r)->ring_bytes, ULMA_DEFAULT_RING_BYTES);
    ulma_reader_destroy(&r);
    ulma_segment_destroy(&seg, 1);
    unsetenv("ULMA_DIR");
    unsetenv("ULMA_RING_SIZE");
    unsetenv("ULMA_SLOTS");
    CHECK(strcmp(ulma_default_dir(), "/dev/shm") == 0);
    ulma_segment_opts_t o;
    ulma_segment_opts_init(&o);
    o.dir = "/nonexistent/dir";
    CHECK_EQ_I(ulma_segment_create(&o, &seg), -ENOENT);
    CHECK(seg == NULL);
}

/* Producer and consumer threads in one process, the reader on the
 * writer's own mapping (one_mapping.h): what ThreadSanitizer can check.
 * Blocking writer, everything in order. */
typedef struct thr_arg {
    ulma_segment_t *seg;
    uint64_t n;
} thr_arg_t;

static void *producer_thread(void *vp)
{
    thr_arg_t *a = vp;
    ulma_producer_t p;
    CHECK_EQ_I(ulma_producer_attach(a->seg, &p, 5, "prod"), 0);
    ulma_producer_set_blocking(&p, 1);
    p.block_wait_ns = 10000000000ull;
    for (uint64_t i = 0; i < a->n; i++)
        ulma_put(&p, i, ULMA_EV_CALL, (uint32_t)i, 0);
    ulma_producer_detach(&p);
    return NULL;
}

typedef struct order {
    uint64_t next;
    int ended;
} order_t;

static int order_batch(void *ctx, unsigned slot, const ulma_rec_t *recs, size_t nunits)
{
    order_t *o = ctx;
    ulma_iter_t it;
    ulma_rec_t h;
    const void *pl;
    uint32_t plen;
    (void)slot;
    ulma_iter_init(&it, recs, nunits);
    while (ulma_iter_next(&it, &h, &pl, &plen)) {
        if (h.kind == ULMA_EV_THREAD_END) {
            o->ended = 1;
            continue;
        }
        CHECK_EQ_U(h.kind, ULMA_EV_CALL);
        CHECK_EQ_U(h.id, (uint32_t)o->next);
        o->next++;
    }
    return it.bad ? -1 : 0;
}

static void test_threads(void)
{
    const char *env = getenv("ULMA_TEST_RECORDS");
    thr_arg_t a = {make_seg(1, 4096), env ? strtoull(env, NULL, 0) : 300000};
    one_mapping_of(a.seg);
    ulma_reader_t *r = open_reader(a.seg);
    CHECK_EQ_I(one_mapping_refs(), 1);
    pthread_t th;
    CHECK_EQ_I(pthread_create(&th, NULL, producer_thread, &a), 0);
    order_t o = {0, 0};
    while (!o.ended)
        CHECK(ulma_reader_drain(r, order_batch, &o, 0) >= 0);
    CHECK_EQ_I(pthread_join(th, NULL), 0);
    CHECK_EQ_U(o.next, a.n);
    CHECK_EQ_U(ulma_reader_total_dropped(r), 0);
    ulma_reader_destroy(&r);
    CHECK_EQ_I(one_mapping_refs(), 0);
    one_mapping_of(NULL);
    ulma_segment_destroy(&a.seg, 1);
}

int main(void)
{
    make_tmpdir(dir, sizeof(dir), "test");
    RUN(test_names);
    RUN(test_clock);
    RUN(test_calib_refresh);
    RUN(test_header);
    RUN(test_in_order);
    RUN(test_drop_exact);
    RUN(test_payload_wrap);
    RUN(test_def_code);
    RUN(test_blocking_bounded);
    RUN(test_slots);
    RUN(test_layout_private);
    RUN(test_env_defaults);
    RUN(test_threads);
    rm_tree(dir);
    fprintf(stderr, "test_ring: all passed\n");
    return 0;
}
