/*
 * test_drain_threads.c - the ring and the agent's drain with the writers
 * and the reader as threads of one process, so that ThreadSanitizer (the
 * -DULMA_TSAN=ON build, `deploy/run test --tsan`) sees every access of
 * both sides: three blocking writer threads and one that drops, writing
 * into small rings, while the main thread drains them through the agent's
 * process table (proctab_drain: reader, shadow stacks, calling context
 * tree) as ulma-agent does.
 *
 * A reader maps the segment a second time, at another address, and
 * ThreadSanitizer knows memory by address: it would see the writers' and
 * the reader's accesses as different memory. So this test's reader maps
 * nothing: a mapping of the segment's file is the writers' own mapping
 * again (tests/one_mapping.h), so both sides touch the same addresses and
 * every ordering the ring relies on (release of head and tail, acquire on
 * the other side) is checked.
 *
 * Checks: the blocking threads' functions have exactly the calls and
 * times written (a fake clock of 1 tick = 1 us); the dropping thread's
 * losses are counted the same by the writer's slot, the reader and the
 * profile, and nothing else is lost.
 */
#include "agent_test.h"
#include "one_mapping.h"

#include <pthread.h>

#include "profile_rows.h"
#include "proctab.h"
#include "ulma/reader.h"
#include "ulma/ring.h"
#include "ulma/segment.h"

enum { BLOCKING = 3, WRITERS = BLOCKING + 1 };

/* every writer attached before any writes: four slots in use at once, none
 * freed and claimed again while the others start */
static pthread_barrier_t attached;

typedef struct writer {
    ulma_segment_t *seg;
    int k;         /* writer number: its function ids are 10k+1, 10k+2 */
    uint32_t reps;
    int blocking;
} writer_t;

/* f calls g `reps` times: g 3 us of own time per call, f 1 us before
 * each call to g. */
static void *writer_main(void *vp)
{
    writer_t *w = vp;
    ulma_producer_t pr;
    CHECK_EQ_I(ulma_producer_attach(w->seg, &pr, 1000 + w->k, "writer"), 0);
    ulma_producer_set_blocking(&pr, w->blocking);
    pr.block_wait_ns = 30000000000ull; /* a slow sanitizer build is no stall */
    pthread_barrier_wait(&attached);
    uint32_t f = 10u * (uint32_t)w->k + 1, g = f + 1;
    char name[8];
    snprintf(name, sizeof(name), "f%d", w->k);
    CHECK(ulma_put_def_code(&pr, ULMA_EV_DEF_CODE, f, 1, name, strlen(name), "thr.py", 6));
    snprintf(name, sizeof(name), "g%d", w->k);
    CHECK(ulma_put_def_code(&pr, ULMA_EV_DEF_CODE, g, 5, name, strlen(name), "thr.py", 6));
    uint64_t t = 1000;
    ulma_put(&pr, t, ULMA_EV_CALL, f, 1);
    for (uint32_t i = 0; i < w->reps; i++) {
        ulma_put(&pr, t + 1, ULMA_EV_CALL, g, 2);
        ulma_put(&pr, t + 4, ULMA_EV_RETURN, g, 2);
        t += 4;
    }
    ulma_put(&pr, t, ULMA_EV_RETURN, f, 1);
    ulma_producer_detach(&pr);
    return NULL;
}

int main(void)
{
    char dir[256];
    make_tmpdir(dir, sizeof(dir), "drainthr");
    const char *env = getenv("ULMA_TEST_RECORDS");
    uint32_t reps = env ? (uint32_t)strtoul(env, NULL, 0) : 100000;

    ulma_segment_opts_t o;
    ulma_segment_opts_init(&o);
    o.dir = dir;
    o.nslots = WRITERS;
    o.ring_bytes = 4096; /* 256 records: the drain must keep up or drop */
    o.reader_pid = getpid();
    o.exe = "thr.py";
    ulma_segment_t *seg = NULL;
    CHECK_EQ_I(ulma_segment_create(&o, &seg), 0);
    ulma_seg_header_t *h = ulma_segment_header(seg);
    atomic_store(&h->cycles_per_sec, 1000000u); /* the fake clock: 1 MHz */
    atomic_store(&h->calib_ns1, 0u);
    atomic_store(&h->active_mode, ULMA_MODE_FAST);

    one_mapping_of(seg);
    ulma_reader_t *rd = NULL;
    CHECK_EQ_I(ulma_reader_open(ulma_segment_path(seg), &rd), 0);
    CHECK_EQ_I(one_mapping_refs(), 1); /* the reader reads the writers' mapping */
    prof_limits_t lim;
    prof_limits_default(&lim);
    proctab_t *tab = proctab_new(&lim, 0);
    aproc_t *ap = proctab_add(tab, ulma_segment_path(seg), rd, now_ns());
    CHECK(ap != NULL);

    writer_t w[WRITERS];
    pthread_t th[WRITERS];
    CHECK_EQ_I(pthread_barrier_init(&attached, NULL, WRITERS), 0);
    for (int k = 0; k < WRITERS; k++) {
        w[k] = (writer_t){seg, k, reps, k < BLOCKING};
        CHECK_EQ_I(pthread_create(&th[k], NULL, writer_main, &w[k]), 0);
    }
    /* drain while they write, as the agent's loop does */
    int pace = 0;
    for (int k = 0; k < WRITERS; k++) {
        while (pthread_tryjoin_np(th[k], NULL) != 0)
            proctab_drain(tab, &pace);
    }
    for (int i = 0; i < 4; i++)
        proctab_drain(tab, &pace);
    proctab_finish(tab, ap, now_ns());

    profile_t *p = proctab_profile(ap);
    CHECK(p != NULL);
    for (int k = 0; k < BLOCKING; k++) {
        char name[8];
        snprintf(name, sizeof(name), "f%d", k);
        const pf_func_t *f = profile_row_named(p, name);
        snprintf(name, sizeof(name), "g%d", k);
        const pf_func_t *g = profile_row_named(p, name);
        CHECK(f && g);
        CHECK_EQ_U(f->c.ncalls, 1);
        CHECK_EQ_U(g->c.ncalls, reps);
        CHECK_EQ_U(g->c.pcalls, reps);
        CHECK_EQ_I(g->c.tottime_ns, (int64_t)reps * 3000);
        CHECK_EQ_I(f->c.tottime_ns, (int64_t)reps * 1000);
        CHECK_EQ_I(f->c.cumtime_ns, (int64_t)reps * 4000);
    }
    /* the dropping writer: its slot, the reader and the profile agree */
    const pf_drops_t *dr = profile_drops(p);
    uint64_t slot_dropped = 0;
    for (unsigned i = 0; i < WRITERS; i++) {
        const ulma_slot_stats_t *st = ulma_reader_slot_stats(ap->rd, i);
        slot_dropped += st ? st->dropped : 0;
    }
    printf("drain_threads: %u records per writer, dropping writer lost %llu\n", 2 * reps + 2,
           (unsigned long long)dr->records_lost);
    CHECK_EQ_U(dr->records_lost, slot_dropped);
    CHECK_EQ_U(dr->records_lost, ulma_reader_total_dropped(ap->rd));
    CHECK_EQ_U(dr->corrupt, 0);
    CHECK_EQ_U(dr->malformed_records, 0);
    CHECK_EQ_U(dr->threads_lost, 0);
    profile_destroy(&p);
    proctab_destroy(&tab);
    pthread_barrier_destroy(&attached);
    CHECK_EQ_I(one_mapping_refs(), 0);
    one_mapping_of(NULL);
    ulma_segment_destroy(&seg, 1);
    rm_tree(dir);
    printf("test_drain_threads: ok\n");
    return 0;
}
