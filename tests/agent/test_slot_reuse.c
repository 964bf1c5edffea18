/*
 * test_slot_reuse.c - a thread whose THREAD_END was lost (its ring was
 * full when it ended) and a new thread that claims its slot: the agent must
 * start a new thread there, not credit the new thread's records to the old
 * one (its shadow stack, its name, its clock).
 *
 * One slot, a 4 KiB ring, a dropping writer "alpha" (tid 101) that opens
 * f, fills the ring with calls of g and ends with the ring full, so its
 * THREAD_END is lost. The agent's drain reads what it wrote; then "beta"
 * (tid 202) claims the same slot, with a clock that starts far behind
 * alpha's (another core's counter, or a fresh one), and calls h once for
 * 7 us. Checks: two threads, named and numbered as their slot headers say;
 * h a root-level call of exactly 1 call and 7 us; alpha's f open no more
 * (its thread ended where its records end, counted in threads_unended);
 * nothing counted corrupt.
 */
#include "agent_test.h"

#include "profile_rows.h"
#include "proctab.h"
#include "ulma/reader.h"
#include "ulma/ring.h"
#include "ulma/segment.h"

static const pf_thread_t *thread_tid(const profile_t *p, int32_t tid)
{
    for (uint32_t i = 0; i < profile_nthreads(p); i++)
        if (profile_thread(p, i)->tid == tid)
            return profile_thread(p, i);
    return NULL;
}

int main(void)
{
    char dir[256];
    make_tmpdir(dir, sizeof(dir), "slotreuse");
    ulma_segment_opts_t o;
    ulma_segment_opts_init(&o);
    o.dir = dir;
    o.nslots = 1;
    o.ring_bytes = 4096;
    o.reader_pid = getpid();
    o.exe = "reuse.py";
    ulma_segment_t *seg = NULL;
    CHECK_EQ_I(ulma_segment_create(&o, &seg), 0);
    ulma_seg_header_t *h = ulma_segment_header(seg);
    atomic_store(&h->cycles_per_sec, 1000000u); /* 1 tick = 1 us */
    atomic_store(&h->calib_ns1, 0u);
    atomic_store(&h->active_mode, ULMA_MODE_FAST);

    ulma_reader_t *rd = NULL;
    CHECK_EQ_I(ulma_reader_open(ulma_segment_path(seg), &rd), 0);
    prof_limits_t lim;
    prof_limits_default(&lim);
    proctab_t *tab = proctab_new(&lim, 0);
    aproc_t *ap = proctab_add(tab, ulma_segment_path(seg), rd, now_ns());
    CHECK(ap != NULL);
    int pace = 0;

    /* alpha: f open, g called until the ring is full, then it ends */
    ulma_producer_t a;
    CHECK_EQ_I(ulma_producer_attach(seg, &a, 101, "alpha"), 0);
    ulma_producer_set_blocking(&a, 0);
    CHECK(ulma_put_def_code(&a, ULMA_EV_DEF_CODE, 1, 1, "f", 1, "reuse.py", 8));
    CHECK(ulma_put_def_code(&a, ULMA_EV_DEF_CODE, 2, 5, "g", 1, "reuse.py", 8));
    uint64_t t = 5000000;
    ulma_put(&a, t, ULMA_EV_CALL, 1, 1);
    for (int i = 0; i < 1000; i++, t += 2) {
        ulma_put(&a, t, ULMA_EV_CALL, 2, 2);
        ulma_put(&a, t + 1, ULMA_EV_RETURN, 2, 2);
    }
    CHECK(ulma_load_relaxed(&a.slot->dropped) > 0); /* the ring filled up */
    ulma_producer_detach(&a); /* its THREAD_END does not fit */
    for (int i = 0; i < 3; i++)
        proctab_drain(tab, &pace);

    /* beta: the same slot, a clock far behind alpha's */
    ulma_producer_t b;
    CHECK_EQ_I(ulma_producer_attach(seg, &b, 202, "beta"), 0);
    CHECK(ulma_put_def_code(&b, ULMA_EV_DEF_CODE, 3, 9, "h", 1, "reuse.py", 8));
    ulma_put(&b, 1000, ULMA_EV_CALL, 3, 1);
    ulma_put(&b, 1007, ULMA_EV_RETURN, 3, 1);
    ulma_producer_detach(&b);
    for (int i = 0; i < 3; i++)
        proctab_drain(tab, &pace);
    proctab_finish(tab, ap, now_ns());

    profile_t *p = proctab_profile(ap);
    CHECK(p != NULL);
    CHECK_EQ_U(profile_nthreads(p), 2);
    const pf_thread_t *ta = thread_tid(p, 101), *tb = thread_tid(p, 202);
    CHECK(ta && tb);
    if (ta && tb) {
        CHECK(strcmp(ta->name, "alpha") == 0);
        CHECK(strcmp(tb->name, "beta") == 0);
        CHECK(ta->ended);
        CHECK_EQ_U(tb->depth, 0);
    }
    const pf_func_t *fh = profile_row_named(p, "h"), *ff = profile_row_named(p, "f");
    CHECK(fh && ff);
    if (fh) {
        CHECK_EQ_U(fh->c.ncalls, 1);
        CHECK_EQ_I(fh->c.tottime_ns, 7000);
        CHECK_EQ_I(fh->c.cumtime_ns, 7000);
    }
    const pf_drops_t *dr = profile_drops(p);
    printf("slot_reuse: alpha lost %llu records, threads_unended %llu\n",
           (unsigned long long)dr->records_lost, (unsigned long long)dr->threads_unended);
    CHECK_EQ_U(dr->threads_unended, 1);
    CHECK(dr->records_lost > 0);
    CHECK_EQ_U(dr->corrupt, 0);
    CHECK_EQ_U(dr->malformed_records, 0);
    profile_destroy(&p);
    proctab_destroy(&tab);
    ulma_segment_destroy(&seg, 1);
    rm_tree(dir);
    printf("test_slot_reuse: ok\n");
    return 0;
}
