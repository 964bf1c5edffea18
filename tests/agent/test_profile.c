/* test_profile.c - cProfile semantics of the aggregation, exactly, with a
 * fake clock (1 tick = 1 microsecond): recursion, mutual recursion,
 * generators, exceptions, threads, drops with resynchronisation, mode
 * changes, C functions, MPI, objects, call paths; the table text; the pstats
 * file read back by Python's pstats; the exports parsed by Python. */
#include "agent_test.h"
#include "profile.h"
#include "profile/export.h"
#include "profile/table.h"
#include "snapshot.h"

#define US 1e-6

static prof_t *new_prof(void)
{
    prof_t *p = prof_new(NULL, 4);
    p->hz = 1000000;
    return p;
}

static void feed(prof_t *p, unsigned slot, recbuf_t *b)
{
    CHECK(prof_consume(p, slot, b->r, b->n) == 0);
    b->n = 0;
}

/* The snapshot of a finished process's aggregates: the profile every
 * table and export is made from. */
static profile_t *snap(prof_t *p)
{
    pf_meta_t m;
    memset(&m, 0, sizeof(m));
    m.rank = -1;
    return snapshot_take(p, &m, 0, 0, 0);
}

static uint32_t find(const profile_t *r, const char *name)
{
    uint32_t cand[4], n;
    return profile_find(r, name, cand, 4, &n);
}

static const pf_func_t *row(const profile_t *r, const char *name)
{
    uint32_t i = find(r, name);
    if (i == UINT32_MAX) {
        fprintf(stderr, "no row %s\n", name);
        exit(1);
    }
    return profile_func(r, i);
}

#define NC(f) ((f)->c.ncalls)
#define CC(f) ((f)->c.pcalls)
#define TT(f) pf_sec((f)->c.tottime_ns)
#define CT(f) pf_sec((f)->c.cumtime_ns)

/* Edge caller->callee of a profile: nc, cc, tottime, cumtime. */
static void edge(const profile_t *r, const char *caller, const char *callee, uint64_t nc,
                 uint64_t cc, double tottime, double cumtime)
{
    uint32_t a = find(r, caller), b = find(r, callee);
    CHECK(a != UINT32_MAX && b != UINT32_MAX);
    pf_edge_sum_t *acc = NULL;
    uint32_t n = profile_edge_sums(r, a, 1, &acc), k = 0;
    while (k < n && acc[k].other != b)
        k++;
    CHECK(k < n);
    CHECK_EQ_U(acc[k].c.ncalls, nc);
    CHECK_EQ_U(acc[k].c.pcalls, cc);
    CHECK_NEAR(pf_sec(acc[k].c.tottime_ns), tottime);
    CHECK_NEAR(pf_sec(acc[k].c.cumtime_ns), cumtime);
    free(acc);
}

/* The edge caller->callee (fidx), 0 if none. */
static uint32_t hmap_get_test(const prof_t *p, uint32_t caller, uint32_t callee)
{
    for (uint32_t s = 1; s < p->nsubs; s++)
        if (p->subs[s].caller == caller && p->subs[s].callee == callee)
            return s;
    CHECK(!"no such edge");
    return 0;
}

static void defs(recbuf_t *b)
{
    rb_def(b, ULMA_EV_DEF_CODE, 1, 1, "<module>", "prog.py");
    rb_def(b, ULMA_EV_DEF_CODE, 2, 10, "f", "prog.py");
    rb_def(b, ULMA_EV_DEF_CODE, 3, 20, "a", "prog.py");
    rb_def(b, ULMA_EV_DEF_CODE, 4, 30, "b", "prog.py");
    rb_def(b, ULMA_EV_DEF_CODE, 5, 40, "gen", "prog.py");
    rb_def(b, ULMA_EV_DEF_CODE, 6, 50, "Klass.method", "prog.py");
    rb_def(b, ULMA_EV_DEF_CFUNC, 1, 0, "<built-in method builtins.len>", "builtins");
}

/* f -> f -> f (direct recursion) */
static void test_recursion(void)
{
    prof_t *p = new_prof();
    recbuf_t b = {0};
    defs(&b);
    rb_put(&b, 100, ULMA_EV_CALL, 1, 1);
    rb_put(&b, 100, ULMA_EV_CALL, 2, 2);
    rb_put(&b, 110, ULMA_EV_CALL, 2, 3);
    rb_put(&b, 120, ULMA_EV_CALL, 2, 4);
    rb_put(&b, 130, ULMA_EV_RETURN, 2, 4);
    rb_put(&b, 140, ULMA_EV_RETURN, 2, 3);
    rb_put(&b, 150, ULMA_EV_RETURN, 2, 2);
    rb_put(&b, 160, ULMA_EV_RETURN, 1, 1);
    feed(p, 0, &b);
    profile_t *r = snap(p);
    const pf_func_t *f = row(r, "f");
    CHECK_EQ_U(NC(f), 3);
    CHECK_EQ_U(CC(f), 1);
    CHECK_NEAR(TT(f), 50 * US);
    CHECK_NEAR(CT(f), 50 * US);
    edge(r, "f", "f", 2, 1, 30 * US, 30 * US);
    edge(r, "<module>", "f", 1, 1, 20 * US, 50 * US);
    pf_totals_t tot;
    profile_totals(r, &tot);
    CHECK_EQ_U(tot.calls, 4);
    CHECK_EQ_U(tot.pcalls, 2);
    CHECK_NEAR(pf_sec(tot.tottime_ns), 60 * US);
    /* the table, like cProfile's */
    sbuf_t t = {0};
    pf_table_opts_t o = {"stdname", 0, 0};
    profile_table(r, &o, &t);
    CHECK(strstr(t.data, "         4 function calls (2 primitive calls) in 0.000 seconds\n\n"
                         "   Ordered by: standard name\n\n"));
    CHECK(strstr(t.data, "      3/1    0.000    0.000    0.000    0.000   83.3    0.0  100.0 "
                         "prog.py:10(f)\n"));
    CHECK(!strstr(t.data, "Dropped"));
    sbuf_free(&t);
    /* pstats through Python */
    char dir[256], path[300], cmd[2048];
    make_tmpdir(dir, sizeof(dir), "prof");
    snprintf(path, sizeof(path), "%s/out.pstats", dir);
    sbuf_t ps = {0};
    profile_pstats(r, &ps);
    CHECK(write_file(path, ps.data, ps.len) == 0);
    snprintf(cmd, sizeof(cmd),
             "%s %s/check_pstats.py %s \"{('prog.py',10,'f'):(1,3,50e-6,50e-6,"
             "{('prog.py',10,'f'):(2,1,30e-6,30e-6),('prog.py',1,'<module>'):(1,1,20e-6,50e-6)}),"
             "('prog.py',1,'<module>'):(1,1,10e-6,60e-6,{})}\"",
             PYTHON, SRCDIR, path);
    CHECK(run(cmd) == 0);
    sbuf_free(&ps);
    rm_tree(dir);
    profile_destroy(&r);
    prof_destroy(&p);
    CHECK(p == NULL);
    free(b.r);
}

/* a -> b -> a -> b (mutual recursion) */
static void test_mutual(void)
{
    prof_t *p = new_prof();
    recbuf_t b = {0};
    defs(&b);
    rb_put(&b, 0, ULMA_EV_CALL, 3, 1);
    rb_put(&b, 10, ULMA_EV_CALL, 4, 2);
    rb_put(&b, 20, ULMA_EV_CALL, 3, 3);
    rb_put(&b, 30, ULMA_EV_CALL, 4, 4);
    rb_put(&b, 40, ULMA_EV_RETURN, 4, 4);
    rb_put(&b, 50, ULMA_EV_RETURN, 3, 3);
    rb_put(&b, 60, ULMA_EV_RETURN, 4, 2);
    rb_put(&b, 70, ULMA_EV_RETURN, 3, 1);
    feed(p, 0, &b);
    profile_t *r = snap(p);
    const pf_func_t *a = row(r, "a"), *bb = row(r, "b");
    CHECK_EQ_U(NC(a), 2);
    CHECK_EQ_U(CC(a), 1);
    CHECK_NEAR(TT(a), 40 * US);
    CHECK_NEAR(CT(a), 70 * US);
    CHECK_EQ_U(NC(bb), 2);
    CHECK_EQ_U(CC(bb), 1);
    CHECK_NEAR(TT(bb), 30 * US);
    CHECK_NEAR(CT(bb), 50 * US);
    edge(r, "a", "b", 2, 1, 30 * US, 50 * US);
    edge(r, "b", "a", 1, 1, 20 * US, 30 * US);
    /* call paths: a, a/b, a/b/a, a/b/a/b each once */
    CHECK_EQ_U(p->nnodes, 5);
    for (uint32_t n = 1; n < p->nnodes; n++)
        CHECK_EQ_U(p->nodes[n].count, 1);
    CHECK_NEAR(prof_sec(p, p->nodes[4].cum), 10 * US);
    profile_destroy(&r);
    prof_destroy(&p);
    free(b.r);
}

/* generator resumed 3 times (each resume a call), an exception unwinding
 * a method, a C function in full mode */
static void test_gen_exc_c(void)
{
    prof_t *p = new_prof();
    recbuf_t b = {0};
    defs(&b);
    rb_put(&b, 0, ULMA_EV_CALL, 1, 1);
    for (int i = 0; i < 3; i++) {
        rb_put(&b, 10 + 20 * i, ULMA_EV_CALL, 5, 2);
        rb_put(&b, 15 + 20 * i, ULMA_EV_RETURN, 5, 2);
    }
    rb_put(&b, 100, ULMA_EV_CALL, 6, 2);
    rb_put(&b, 101, ULMA_EV_C_CALL, 1, 3);
    rb_put(&b, 103, ULMA_EV_C_RETURN, 1, 3);
    rb_put(&b, 110, ULMA_EV_UNWIND, 6, 2);
    rb_put(&b, 200, ULMA_EV_RETURN, 1, 1);
    feed(p, 0, &b);
    profile_t *r = snap(p);
    const pf_func_t *g = row(r, "gen");
    CHECK_EQ_U(NC(g), 3);
    CHECK_EQ_U(CC(g), 3);
    CHECK_NEAR(TT(g), 15 * US);
    const pf_func_t *m = row(r, "prog.py:50(method)");
    CHECK_EQ_U(NC(m), 1);
    CHECK_NEAR(TT(m), 8 * US);
    CHECK_NEAR(CT(m), 10 * US);
    CHECK(m->qualname.len == 12 && memcmp(m->qualname.s, "Klass.method", 12) == 0);
    const pf_func_t *c = row(r, "{built-in method builtins.len}");
    CHECK_EQ_U(NC(c), 1);
    CHECK_NEAR(CT(c), 2 * US);
    CHECK(c->file.len == 1 && c->file.s[0] == '~' && c->line == 0);
    edge(r, "prog.py:50(method)", "{built-in method builtins.len}", 1, 1, 2 * US, 2 * US);
    profile_destroy(&r);
    prof_destroy(&p);
    free(b.r);
}

/* the same function active on two threads: primitive on each */
static void test_threads(void)
{
    prof_t *p = new_prof();
    recbuf_t b = {0};
    defs(&b);
    rb_put(&b, 0, ULMA_EV_CALL, 2, 1);
    feed(p, 0, &b);
    rb_put(&b, 5, ULMA_EV_CALL, 2, 1);
    rb_put(&b, 6, ULMA_EV_CALL, 2, 2);
    rb_put(&b, 8, ULMA_EV_RETURN, 2, 2);
    feed(p, 1, &b);
    rb_put(&b, 20, ULMA_EV_RETURN, 2, 1);
    rb_put(&b, 21, ULMA_EV_THREAD_END, 0, 0);
    feed(p, 0, &b);
    /* thread 1 ends with f still open: closed at its end like cProfile's disable */
    rb_put(&b, 30, ULMA_EV_THREAD_END, 0, 1);
    feed(p, 1, &b);
    profile_t *r = snap(p);
    const pf_func_t *f = row(r, "f");
    CHECK_EQ_U(NC(f), 3);
    CHECK_EQ_U(CC(f), 2); /* primitive on thread 0 and on thread 1 (closed at its end) */
    CHECK_NEAR(CT(f), 20 * US + 25 * US);
    CHECK_EQ_U(p->nthreads, 2);
    /* a new thread on slot 0 after THREAD_END */
    rb_put(&b, 40, ULMA_EV_CALL, 3, 1);
    feed(p, 0, &b);
    CHECK_EQ_U(p->nthreads, 3);
    CHECK_EQ_U(p->slot_thread[0]->depth, 1);
    sbuf_t s = {0};
    profile_destroy(&r);
    r = snap(p);
    jw_t w;
    jw_init(&w, &s);
    profile_threads_json(r, 0, &w);
    CHECK(strstr(s.data, "\"std\":\"prog.py:20(a)\""));
    sbuf_free(&s);
    profile_destroy(&r);
    prof_destroy(&p);
    free(b.r);
}

/* lost records: truncate, pad with placeholders named by their RETURN */
static void test_drops(void)
{
    prof_t *p = new_prof();
    recbuf_t b = {0};
    defs(&b);
    /* <module> -> f -> [lost: f returns, a and b entered] -> b returns, a returns */
    rb_put(&b, 0, ULMA_EV_CALL, 1, 1);
    rb_put(&b, 10, ULMA_EV_CALL, 2, 2);
    rb_put(&b, 50, ULMA_EV_DROP, 7, 3);
    rb_put(&b, 60, ULMA_EV_RETURN, 4, 3);
    rb_put(&b, 70, ULMA_EV_RETURN, 3, 2);
    /* then a RETURN at a depth we do not have: truncates */
    rb_put(&b, 80, ULMA_EV_CALL, 2, 2);
    rb_put(&b, 85, ULMA_EV_CALL, 2, 3);
    rb_put(&b, 90, ULMA_EV_DROP, 3, 1);
    rb_put(&b, 100, ULMA_EV_RETURN, 1, 1);
    feed(p, 0, &b);
    profile_t *r = snap(p);
    /* f (depth 2) was discarded at the first drop: its end was lost */
    CHECK_EQ_U(NC(row(r, "f")), 0);
    CHECK_EQ_U(NC(row(r, "b")), 1);
    CHECK_NEAR(CT(row(r, "b")), 10 * US);
    CHECK_EQ_U(NC(row(r, "a")), 1);
    CHECK_NEAR(CT(row(r, "a")), 20 * US);
    CHECK_NEAR(TT(row(r, "a")), 10 * US);
    CHECK_EQ_U(NC(row(r, "<module>")), 1);
    CHECK_NEAR(CT(row(r, "<module>")), 100 * US);
    CHECK_EQ_U(prof_total_dropped(p), 10);
    CHECK(prof_total_resyncs(p) >= 2);
    CHECK_EQ_U(p->slot_thread[0]->depth, 0);
    /* every level went back to zero: nothing stays "active" */
    for (uint32_t f = 0; f < p->slot_thread[0]->flevel_cap; f++)
        CHECK_EQ_U(p->slot_thread[0]->flevel[f], 0);
    sbuf_t t = {0};
    pf_table_opts_t o = {"tottime", 0, 0};
    profile_table(r, &o, &t);
    CHECK(strstr(t.data, "Dropped: 10 records lost by the writer"));
    CHECK(strstr(t.data, "Ordered by: internal time"));
    sbuf_free(&t);
    profile_destroy(&r);
    prof_destroy(&p);
    free(b.r);
}

/* MODE keeps frames open; MPI as a callee; objects per type and function */
static void test_mode_mpi_objects(void)
{
    prof_t *p = new_prof();
    recbuf_t b = {0};
    defs(&b);
    const char *mpiname = "MPI_Allreduce";
    rb_payload(&b, 0, ULMA_EV_DEF_MPI, 9, 0, mpiname, (uint32_t)strlen(mpiname));
    const char *ty = "list";
    rb_payload(&b, 0, ULMA_EV_DEF_TYPE, 3, 0, ty, (uint32_t)strlen(ty));
    rb_put(&b, 0, ULMA_EV_MODE, ULMA_MODE_FAST, 0);
    rb_put(&b, 0, ULMA_EV_CALL, 1, 1);
    rb_put(&b, 10, ULMA_EV_CALL, 2, 2);
    ulma_mpi_payload_t mp = {25, 4096, 1, 4, 0};
    rb_payload(&b, 20, ULMA_EV_MPI, 9, 2, &mp, sizeof(mp));
    ulma_obj_payload_t op = {64, 0x1000}, op2 = {64, 0x2000};
    rb_payload(&b, 50, ULMA_EV_OBJ_NEW, 3, 2, &op, sizeof(op));
    rb_payload(&b, 51, ULMA_EV_OBJ_NEW, 3, 2, &op2, sizeof(op2));
    rb_payload(&b, 52, ULMA_EV_OBJ_FREE, 3, 2, &op, sizeof(op));
    rb_put(&b, 60, ULMA_EV_RETURN, 2, 2);
    rb_put(&b, 100, ULMA_EV_MODE, ULMA_MODE_FULL, 1); /* <module> stays open */
    feed(p, 0, &b);
    profile_t *r = snap(p);
    CHECK_EQ_U(NC(row(r, "<module>")), 0);
    profile_destroy(&r);
    rb_put(&b, 150, ULMA_EV_RETURN, 1, 1);
    feed(p, 0, &b);
    r = snap(p);
    const pf_func_t *m = row(r, "MPI_Allreduce");
    CHECK_EQ_U(NC(m), 1);
    CHECK_NEAR(CT(m), 25 * US);
    CHECK_EQ_U(m->mpi_bytes, 4096);
    CHECK_NEAR(TT(row(r, "f")), 25 * US);
    CHECK_NEAR(CT(row(r, "f")), 50 * US);
    CHECK_EQ_U(NC(row(r, "<module>")), 1);
    CHECK_NEAR(CT(row(r, "<module>")), 150 * US);
    CHECK_EQ_U(prof_total_resyncs(p), 0);
    CHECK_EQ_U(p->types[3].news, 2);
    CHECK_EQ_U(p->types[3].frees, 1);
    CHECK_EQ_U(p->types[3].bytes_new, 128);
    CHECK_EQ_U(p->nsites, 2);
    CHECK_EQ_U(p->sites[1].count, 2);
    CHECK_EQ_U(profile_nsites(r), 1);
    CHECK(profile_site(r, 0)->func == find(r, "f"));
    CHECK_EQ_U(p->slot_thread[0]->mode, ULMA_MODE_FULL);
    sbuf_t s = {0};
    jw_t w;
    jw_init(&w, &s);
    profile_mpi_json(r, &w);
    CHECK(strstr(s.data, "\"name\":\"MPI_Allreduce\",\"calls\":1"));
    sbuf_free(&s);
    jw_init(&w, &s);
    profile_objects_json(r, 10, &w);
    CHECK(strstr(s.data, "\"name\":\"list\",\"new\":2,\"freed\":1,\"live\":1"));
    sbuf_free(&s);
    profile_destroy(&r);
    prof_destroy(&p);
    free(b.r);
}

/* A thread's clock read a little back (it moved to another CPU whose
 * counter is behind): no time comes out negative, neither a frame's nor
 * its own; the totals stay consistent. */
static void test_clock_back(void)
{
    prof_t *p = new_prof();
    recbuf_t b = {0};
    defs(&b);
    rb_put(&b, 100, ULMA_EV_CALL, 1, 1);
    rb_put(&b, 110, ULMA_EV_CALL, 3, 2);
    rb_put(&b, 150, ULMA_EV_CALL, 4, 3);
    rb_put(&b, 140, ULMA_EV_RETURN, 4, 3); /* 10 ticks before its call */
    rb_put(&b, 145, ULMA_EV_RETURN, 3, 2); /* before b's call too */
    rb_put(&b, 200, ULMA_EV_RETURN, 1, 1);
    feed(p, 0, &b);
    profile_t *r = snap(p);
    CHECK_NEAR(TT(row(r, "b")), 0);
    CHECK_NEAR(CT(row(r, "b")), 0);
    CHECK_NEAR(TT(row(r, "a")), 40 * US);
    CHECK_NEAR(CT(row(r, "a")), 40 * US);
    CHECK_NEAR(CT(row(r, "<module>")), 100 * US);
    CHECK_NEAR(TT(row(r, "<module>")), 60 * US);
    for (uint32_t i = 1; i < profile_npaths(r); i++)
        CHECK(profile_path(r, i)->tottime_ns >= 0 && profile_path(r, i)->cumtime_ns >= 0);
    profile_destroy(&r);
    prof_destroy(&p);
    free(b.r);
}

/* definitions arriving on another thread's ring after the first use; an
 * undefined id keeps a placeholder name */
static void test_lazy_names(void)
{
    prof_t *p = new_prof();
    recbuf_t b = {0};
    rb_put(&b, 0, ULMA_EV_CALL, 77, 1);
    rb_put(&b, 5, ULMA_EV_RETURN, 77, 1);
    rb_put(&b, 6, ULMA_EV_CALL, 78, 1);
    rb_put(&b, 9, ULMA_EV_RETURN, 78, 1);
    feed(p, 0, &b);
    rb_def(&b, ULMA_EV_DEF_CODE, 77, 7, "late", "other.py");
    feed(p, 1, &b);
    profile_t *r = snap(p);
    CHECK_EQ_U(NC(row(r, "other.py:7(late)")), 1);
    CHECK_EQ_U(NC(row(r, "<code 78>")), 1);
    profile_destroy(&r);
    prof_destroy(&p);
    free(b.r);
}

/* A mode switch does not end frames: with the writer's depth kept across
 * MODE records and the RETURNs of recorded frames written also while off,
 * <module> of a 90 s run reads 90 s after off and fast again (1 tick = 1 ms
 * here). A MODE record whose depth disagrees repairs the stack, counted. */
static void test_mode_keeps_frames(void)
{
    prof_t *p = new_prof();
    p->hz = 1000;
    recbuf_t b = {0};
    defs(&b);
    rb_put(&b, 0, ULMA_EV_MODE, ULMA_MODE_FAST, 0);
    rb_put(&b, 0, ULMA_EV_CALL, 1, 1);  /* <module> */
    rb_put(&b, 10, ULMA_EV_CALL, 3, 2); /* a: the main loop */
    for (uint64_t t = 100; t < 20000; t += 100) {
        rb_put(&b, t, ULMA_EV_CALL, 2, 3);
        rb_put(&b, t + 40, ULMA_EV_RETURN, 2, 3);
    }
    rb_put(&b, 20000, ULMA_EV_MODE, ULMA_MODE_OFF, 2);
    rb_put(&b, 25000, ULMA_EV_RETURN, 3, 2); /* recorded while off */
    rb_put(&b, 29000, ULMA_EV_MODE, ULMA_MODE_FAST, 1);
    rb_put(&b, 30000, ULMA_EV_CALL, 3, 2);
    for (uint64_t t = 30100; t < 89000; t += 100) {
        rb_put(&b, t, ULMA_EV_CALL, 2, 3);
        rb_put(&b, t + 40, ULMA_EV_RETURN, 2, 3);
    }
    rb_put(&b, 89000, ULMA_EV_RETURN, 3, 2);
    rb_put(&b, 90000, ULMA_EV_RETURN, 1, 1);
    feed(p, 0, &b);
    profile_t *r = snap(p);
    const pf_func_t *m = row(r, "<module>"), *a = row(r, "a"), *f = row(r, "f");
    CHECK_EQ_U(NC(m), 1);
    CHECK_NEAR(CT(m), 90.0);
    CHECK_NEAR(CT(a), 24.990 + 59.0);
    CHECK_EQ_U(NC(a), 2);
    CHECK_EQ_U(NC(f), 199 + 589);
    CHECK_NEAR(TT(m), 90.0 - CT(a));
    CHECK_EQ_U(prof_total_resyncs(p), 0);
    CHECK_EQ_U(p->slot_thread[0]->mode, ULMA_MODE_FAST);
    CHECK_EQ_U(p->slot_thread[0]->discarded, 0);
    profile_destroy(&r);
    /* a MODE whose depth disagrees: repaired (placeholders), counted */
    rb_put(&b, 100000, ULMA_EV_CALL, 1, 1);
    rb_put(&b, 100010, ULMA_EV_MODE, ULMA_MODE_FULL, 3);
    rb_put(&b, 100020, ULMA_EV_RETURN, 4, 3);
    rb_put(&b, 100030, ULMA_EV_RETURN, 3, 2);
    rb_put(&b, 100040, ULMA_EV_MODE, ULMA_MODE_OFF, 1); /* agrees: no repair */
    rb_put(&b, 100050, ULMA_EV_RETURN, 1, 1);
    feed(p, 0, &b);
    CHECK_EQ_U(prof_total_resyncs(p), 1);
    r = snap(p);
    CHECK_EQ_U(NC(row(r, "b")), 1);
    CHECK_NEAR(CT(row(r, "b")), 0.010);
    CHECK_EQ_U(NC(row(r, "<module>")), 2);
    CHECK_NEAR(CT(row(r, "<module>")), 90.050);
    profile_destroy(&r);
    prof_destroy(&p);
    free(b.r);
}

/* Frames still open: not calls (the table is cProfile's), but their part
 * as of `now`, with _lsprof's rules, per function, edge and call path. */
static void test_open(void)
{
    prof_t *p = new_prof();
    recbuf_t b = {0};
    defs(&b);
    rb_put(&b, 0, ULMA_EV_CALL, 1, 1);  /* <module> */
    rb_put(&b, 10, ULMA_EV_CALL, 3, 2); /* a */
    rb_put(&b, 20, ULMA_EV_CALL, 2, 3); /* f */
    rb_put(&b, 30, ULMA_EV_CALL, 2, 4); /* f again */
    rb_put(&b, 40, ULMA_EV_CALL, 4, 5); /* b, completed */
    rb_put(&b, 45, ULMA_EV_RETURN, 4, 5);
    feed(p, 0, &b);
    rb_put(&b, 50, ULMA_EV_CALL, 2, 1); /* f on another thread */
    feed(p, 1, &b);
    /* before any derivation: nothing open */
    prof_derive(p);
    uint32_t fm = p->map[PROF_NS_CODE][1], fa = p->map[PROF_NS_CODE][3];
    uint32_t ff = p->map[PROF_NS_CODE][2], fb = p->map[PROF_NS_CODE][4];
    CHECK_EQ_U(prof_func_open(p, fm)->calls, 0);
    CHECK(prof_node_open(p, 1) == NULL);
    prof_derive_open(p, 100);
    const prof_func_t *m = &p->funcs[fm], *f = &p->funcs[ff];
    /* the completed numbers: b only */
    CHECK_EQ_U(m->callcount, 0);
    CHECK_EQ_U(m->cum, 0);
    CHECK_EQ_U(f->callcount, 0);
    CHECK_EQ_U(p->funcs[fb].callcount, 1);
    CHECK_EQ_U(p->funcs[fb].cum, 5);
    CHECK_EQ_U(prof_func_open(p, fb)->calls, 0);
    /* the open part at 100 */
    CHECK_EQ_U(prof_func_open(p, fm)->calls, 1);
    CHECK_EQ_U(prof_func_open(p, fm)->rec, 0);
    CHECK_EQ_U(prof_func_open(p, fm)->cum, 100);
    CHECK_EQ_U(prof_func_open(p, fm)->own, 10);
    CHECK_EQ_U(prof_func_open(p, fa)->calls, 1);
    CHECK_EQ_U(prof_func_open(p, fa)->cum, 90);
    CHECK_EQ_U(prof_func_open(p, fa)->own, 10);
    /* f: outer (20..100, 10 own) and inner (30..100, 5 in b) on thread 0,
     * outermost (50..100) on thread 1 */
    CHECK_EQ_U(prof_func_open(p, ff)->calls, 3);
    CHECK_EQ_U(prof_func_open(p, ff)->rec, 1);
    CHECK_EQ_U(prof_func_open(p, ff)->cum, 80 + 50);
    CHECK_EQ_U(prof_func_open(p, ff)->own, 10 + 65 + 50);
    CHECK_EQ_U(prof_total_open_own(p), 10 + 10 + 125);
    uint32_t e_ff = hmap_get_test(p, ff, ff), e_af = hmap_get_test(p, fa, ff);
    CHECK_EQ_U(prof_sub_open(p, e_ff)->calls, 1);
    CHECK_EQ_U(prof_sub_open(p, e_ff)->rec, 0);
    CHECK_EQ_U(prof_sub_open(p, e_ff)->cum, 70);
    CHECK_EQ_U(prof_sub_open(p, e_ff)->own, 65);
    CHECK_EQ_U(p->subs[e_ff].callcount, 0);
    CHECK_EQ_U(prof_sub_open(p, e_af)->cum, 80);
    CHECK_EQ_U(prof_sub_open(p, e_af)->own, 10);
    /* call paths: the inner f's path, the root-level f of thread 1 */
    const prof_open_node_t *on = prof_node_open(p, p->slot_thread[0]->stack[3].node);
    CHECK(on && on->count == 1 && on->cum == 70 && on->own == 65);
    on = prof_node_open(p, p->slot_thread[1]->stack[0].node);
    CHECK(on && on->count == 1 && on->cum == 50 && on->own == 50);
    CHECK_EQ_U(p->nopen_nodes, 5);
    CHECK(prof_node_open(p, p->nodes[p->slot_thread[0]->stack[3].node].kid_node[0]) == NULL);
    /* the table stays cProfile's: <module> has no completed call */
    profile_t *r = snap(p);
    CHECK_EQ_U(NC(row(r, "<module>")), 0);
    CHECK_NEAR(CT(row(r, "<module>")), 0);
    profile_destroy(&r);
    /* now = 0, or earlier than a thread's last record: each thread at its
     * last record (45 and 50) */
    prof_derive_open(p, 0);
    CHECK_EQ_U(prof_func_open(p, fm)->cum, 45);
    CHECK_EQ_U(prof_func_open(p, ff)->cum, 25 + 0);
    CHECK_EQ_U(prof_func_open(p, ff)->own, 10 + 10 + 0);
    prof_derive_open(p, 47);
    CHECK_EQ_U(prof_func_open(p, fm)->cum, 47);
    CHECK_EQ_U(prof_func_open(p, ff)->cum, 27 + 0);
    /* closed: nothing open any more, and closing added what was open */
    prof_derive_open(p, 100);
    rb_put(&b, 100, ULMA_EV_THREAD_END, 0, 0);
    feed(p, 0, &b);
    rb_put(&b, 100, ULMA_EV_THREAD_END, 0, 0);
    feed(p, 1, &b);
    prof_derive(p);
    CHECK_EQ_U(f->callcount, 3);
    CHECK_EQ_U(f->reccallcount, 1);
    CHECK_EQ_U(f->cum, 130);
    CHECK_EQ_U(f->own, 125);
    CHECK_EQ_U(m->cum, 100);
    prof_derive_open(p, 200);
    CHECK_EQ_U(prof_func_open(p, ff)->calls, 0);
    CHECK_EQ_U(prof_func_open(p, ff)->cum, 0);
    CHECK_EQ_U(p->nopen_nodes, 0);
    prof_destroy(&p);
    free(b.r);
}

/* The open part is what closing the frames at `now` would add, also with
 * lost records (placeholders, replaced frames), several threads and a CCT
 * that fills up (flat frames): two profiles of one random lossy stream, the
 * open part of one against the other closed at `now` by THREAD_END. */
static uint64_t lossy_rs = 0x9e3779b97f4a7c15ull;
static uint32_t lossy_rnd(void)
{
    lossy_rs ^= lossy_rs << 13;
    lossy_rs ^= lossy_rs >> 7;
    lossy_rs ^= lossy_rs << 17;
    return (uint32_t)(lossy_rs >> 11);
}

static void test_open_equals_close(void)
{
    for (int round = 0; round < 300; round++) {
        prof_limits_t lim;
        prof_limits_default(&lim);
        if (round % 2)
            lim.max_cct_nodes = 16 + lossy_rnd() % 64;
        prof_t *p = prof_new(&lim, 4), *q = prof_new(&lim, 4);
        p->hz = q->hz = 1000000;
        recbuf_t b[3] = {{0}, {0}, {0}};
        uint32_t st[3][40], d[3] = {0, 0, 0}, lost[3] = {0, 0, 0};
        uint64_t tsc = 1000;
        int n = 50 + (int)(lossy_rnd() % 400);
        for (int i = 0; i < n; i++) {
            unsigned th = lossy_rnd() % 3;
            tsc += 1 + lossy_rnd() % 9;
            uint32_t r = lossy_rnd() % 100;
            unsigned kind;
            uint32_t id;
            if (d[th] == 0 || (d[th] < 40 && r < 55)) {
                id = r < 20 && d[th] ? st[th][d[th] - 1] : 1 + lossy_rnd() % 6;
                st[th][d[th]++] = id;
                kind = r % 7 == 0 ? ULMA_EV_C_CALL : ULMA_EV_CALL;
                if (kind == ULMA_EV_C_CALL)
                    st[th][d[th] - 1] |= 0x100;
            } else {
                id = st[th][--d[th]];
                kind = id & 0x100 ? ULMA_EV_C_RETURN : r % 5 ? ULMA_EV_RETURN : ULMA_EV_UNWIND;
            }
            int is_call = kind == ULMA_EV_CALL || kind == ULMA_EV_C_CALL;
            uint16_t depth = (uint16_t)(is_call ? d[th] : d[th] + 1);
            uint16_t before = (uint16_t)(depth - is_call); /* the writer's depth before it */
            if (r >= 90) { /* the writer loses it */
                lost[th]++;
                continue;
            }
            if (lost[th]) {
                rb_put(&b[th], tsc, ULMA_EV_DROP, lost[th], before);
                lost[th] = 0;
            }
            if (r == 89)
                rb_put(&b[th], tsc, ULMA_EV_MODE, ULMA_MODE_FULL, before);
            rb_put(&b[th], tsc, kind, id & 0xff, depth);
            if (lossy_rnd() % 16 == 0 && b[th].n) {
                for (int k = 0; k < 2; k++)
                    CHECK(prof_consume(k ? q : p, th, b[th].r, b[th].n) == 0);
                b[th].n = 0;
            }
        }
        for (unsigned th = 0; th < 3; th++) {
            for (int k = 0; k < 2; k++)
                CHECK(prof_consume(k ? q : p, th, b[th].r, b[th].n) == 0);
            b[th].n = 0;
        }
        uint64_t now = tsc + (round % 3 ? lossy_rnd() % 50 : 0);
        if (round % 5 == 0)
            now = 0; /* each thread at its last record */
        prof_derive(p);
        prof_derive_open(p, now);
        for (unsigned th = 0; th < 3; th++) {
            const prof_thread_t *t = q->slot_thread[th];
            if (!t)
                continue;
            uint64_t end = now > t->last_tsc ? now : t->last_tsc;
            rb_put(&b[th], end, ULMA_EV_THREAD_END, 0, 0);
            CHECK(prof_consume(q, th, b[th].r, b[th].n) == 0);
            b[th].n = 0;
        }
        prof_derive(q);
        CHECK_EQ_U(p->nfuncs, q->nfuncs);
        CHECK_EQ_U(p->nsubs, q->nsubs);
        CHECK_EQ_U(p->nnodes, q->nnodes);
        for (uint32_t f = 0; f < p->nfuncs; f++) {
            const prof_func_t *x = &p->funcs[f], *y = &q->funcs[f];
            const prof_open_t *o = prof_func_open(p, f);
            CHECK_EQ_U(x->callcount + o->calls, y->callcount);
            CHECK_EQ_U(x->reccallcount + o->rec, y->reccallcount);
            CHECK_EQ_U((uint64_t)(x->cum + o->cum), (uint64_t)y->cum);
            CHECK_EQ_U((uint64_t)(x->own + o->own), (uint64_t)y->own);
        }
        for (uint32_t e = 0; e < p->nsubs; e++) {
            const prof_sub_t *x = &p->subs[e], *y = &q->subs[e];
            const prof_open_t *o = prof_sub_open(p, e);
            CHECK_EQ_U(x->callcount + o->calls, y->callcount);
            CHECK_EQ_U(x->reccallcount + o->rec, y->reccallcount);
            CHECK_EQ_U((uint64_t)(x->cum + o->cum), (uint64_t)y->cum);
            CHECK_EQ_U((uint64_t)(x->own + o->own), (uint64_t)y->own);
        }
        for (uint32_t nd = 0; nd < p->nnodes; nd++) {
            const prof_open_node_t *o = prof_node_open(p, nd);
            const prof_node_t *x = &p->nodes[nd], *y = &q->nodes[nd];
            CHECK_EQ_U(x->count + (o ? o->count : 0), y->count);
            CHECK_EQ_U((uint64_t)(x->own + (o ? o->own : 0)), (uint64_t)y->own);
            CHECK_EQ_U((uint64_t)(x->cum + (o ? o->cum : 0)), (uint64_t)y->cum);
        }
        prof_destroy(&p);
        prof_destroy(&q);
        for (int k = 0; k < 3; k++)
            free(b[k].r);
    }
}

/* ---- objects: frees paired with constructions by address ------------------ */

static void obj(recbuf_t *b, uint64_t tsc, unsigned kind, uint32_t type, uint64_t addr,
                uint64_t size)
{
    ulma_obj_payload_t op = {size, addr};
    rb_payload(b, tsc, kind, type, 0, &op, sizeof(op));
}

/* The window of the latest constructions: newest last, bounded, each with
 * its type, size and constructing function. */
static void test_objects_recent(void)
{
    prof_t *p = new_prof();
    recbuf_t b = {0};
    defs(&b);
    rb_put(&b, 1, ULMA_EV_CALL, 1, 1);
    rb_put(&b, 2, ULMA_EV_CALL, 2, 2); /* f makes them */
    for (uint32_t i = 0; i < PROF_RECENT + 10; i++)
        obj(&b, 10 + i, ULMA_EV_OBJ_NEW, 1 + i % 3, 0x1000 + 64 * i, 16 + i);
    rb_put(&b, 10000, ULMA_EV_RETURN, 2, 2);
    feed(p, 0, &b);
    CHECK_EQ_U(p->recent_n, PROF_RECENT + 10);
    const prof_recent_t *last = &p->recent[(p->recent_n - 1) % PROF_RECENT];
    CHECK_EQ_U(last->tsc, 10 + PROF_RECENT + 9);
    CHECK_EQ_U(last->size, 16 + PROF_RECENT + 9);
    CHECK_EQ_U(last->type_id, 1 + (PROF_RECENT + 9) % 3);
    CHECK_EQ_U(last->fidx, p->map[PROF_NS_CODE][2]);
    const prof_recent_t *oldest = &p->recent[(p->recent_n - PROF_RECENT) % PROF_RECENT];
    CHECK_EQ_U(oldest->tsc, 10 + 10);
    prof_destroy(&p);
    free(b.r);
}

/* Pending frees in the set (entries the ring has not gone round since). */
static uint32_t pending_frees(const prof_t *p)
{
    const prof_objset_t *s = &p->objs;
    uint32_t n = 0;
    for (uint32_t j = 0; j < s->cap; j++) {
        const prof_objent_t *e = &s->ents[j];
        if (!e->addr || !(e->val & PROF_OBJ_PENDING))
            continue;
        CHECK(s->pend_cap && !(s->pend_cap & (s->pend_cap - 1)));
        if ((uint32_t)(s->pend_seq - e->size) <= s->pend_cap &&
            s->pend[e->size & (s->pend_cap - 1)].addr == e->addr)
            n++;
    }
    return n;
}

/* news = frees + lost + untracked + live for every type; live objects and
 * bytes per type, per site and in the set agree */
static void check_obj_balance(const prof_t *p)
{
    uint64_t live = 0, bytes = 0;
    for (uint32_t i = 0; i < p->types_cap; i++) {
        const prof_type_t *ty = &p->types[i];
        CHECK_EQ_U(ty->news, ty->frees + ty->lost + ty->untracked + ty->live);
        live += ty->live;
        bytes += ty->bytes_live;
    }
    CHECK_EQ_U(live, p->objs.nlive);
    uint64_t slive = 0, sbytes = 0;
    for (uint32_t s = 1; s < p->nsites; s++) {
        CHECK(p->sites[s].live <= p->sites[s].count);
        slive += p->sites[s].live;
        sbytes += p->sites[s].bytes_live;
    }
    CHECK_EQ_U(slive, live);
    CHECK_EQ_U(sbytes, bytes);
    uint64_t n = 0, elive = 0, ebytes = 0;
    for (uint32_t j = 0; j < p->objs.cap; j++) {
        const prof_objent_t *e = &p->objs.ents[j];
        if (!e->addr)
            continue;
        n++;
        if (!(e->val & PROF_OBJ_PENDING)) {
            elive++;
            ebytes += e->size;
        }
    }
    CHECK_EQ_U(n, p->objs.n);
    CHECK_EQ_U(elive, live);
    CHECK_EQ_U(ebytes, bytes);
}

/* frees of objects born before recording are not frees of recorded
 * constructions: live = news - frees never goes negative */
static void test_objects_unborn(void)
{
    prof_t *p = new_prof();
    recbuf_t b = {0};
    defs(&b);
    rb_payload(&b, 0, ULMA_EV_DEF_TYPE, 7, 0, "builtins.tuple", 14);
    rb_put(&b, 0, ULMA_EV_CALL, 1, 1);
    for (uint64_t i = 0; i < 100; i++)
        obj(&b, 10 + i, ULMA_EV_OBJ_FREE, 7, 0x10000 + 64 * i, 48); /* born before */
    for (uint64_t i = 0; i < 30; i++)
        obj(&b, 200 + i, ULMA_EV_OBJ_NEW, 7, 0x90000 + 64 * i, 56);
    for (uint64_t i = 0; i < 10; i++)
        obj(&b, 300 + i, ULMA_EV_OBJ_FREE, 7, 0x90000 + 64 * i, 56);
    feed(p, 0, &b);
    const prof_type_t *ty = &p->types[7];
    CHECK_EQ_U(ty->news, 30);
    CHECK_EQ_U(ty->frees, 10);
    CHECK_EQ_U(ty->bytes_free, 560);
    CHECK_EQ_U(ty->frees_unborn, 100);
    CHECK_EQ_U(ty->bytes_free_unborn, 4800);
    CHECK_EQ_U(ty->live, 20);
    CHECK_EQ_U(ty->bytes_live, 20 * 56);
    CHECK_EQ_U(ty->lost + ty->untracked, 0);
    check_obj_balance(p);
    profile_t *r = snap(p);
    sbuf_t s = {0};
    jw_t w;
    jw_init(&w, &s);
    profile_objects_json(r, 10, &w);
    CHECK(strstr(s.data, "\"name\":\"builtins.tuple\",\"new\":30,\"freed\":10,\"live\":20"));
    sbuf_free(&s);
    profile_destroy(&r);
    prof_destroy(&p);
    free(b.r);
}

/* an address reused after a free is a new object; without a free between,
 * the old object died unseen (lost); a free of another type there too */
static void test_objects_reuse_sites(void)
{
    prof_t *p = new_prof();
    recbuf_t b = {0};
    defs(&b);
    rb_put(&b, 0, ULMA_EV_CALL, 1, 1);
    rb_put(&b, 1, ULMA_EV_CALL, 3, 2); /* a builds */
    obj(&b, 2, ULMA_EV_OBJ_NEW, 5, 0xa0, 56);
    obj(&b, 3, ULMA_EV_OBJ_FREE, 5, 0xa0, 56);
    obj(&b, 4, ULMA_EV_OBJ_NEW, 5, 0xa0, 56); /* reused: new object */
    obj(&b, 5, ULMA_EV_OBJ_NEW, 5, 0xb0, 56);
    obj(&b, 6, ULMA_EV_OBJ_NEW, 5, 0xb0, 56); /* no free between: the first is lost */
    obj(&b, 7, ULMA_EV_OBJ_NEW, 6, 0xc0, 64);
    rb_put(&b, 8, ULMA_EV_RETURN, 3, 2);
    rb_put(&b, 9, ULMA_EV_CALL, 4, 2); /* b frees */
    obj(&b, 10, ULMA_EV_OBJ_FREE, 5, 0xc0, 56); /* a list where a dict was */
    obj(&b, 11, ULMA_EV_OBJ_FREE, 5, 0xa0, 56);
    obj(&b, 12, ULMA_EV_OBJ_NEW, 5, 0xd0, 56);
    rb_put(&b, 13, ULMA_EV_RETURN, 4, 2);
    feed(p, 0, &b);
    const prof_type_t *list = &p->types[5], *dict = &p->types[6];
    CHECK_EQ_U(list->news, 5);
    CHECK_EQ_U(list->frees, 2);
    CHECK_EQ_U(list->lost, 1);
    CHECK_EQ_U(list->live, 2); /* 0xb0 (second), 0xd0 */
    CHECK_EQ_U(list->frees_unborn, 1); /* at 0xc0 */
    CHECK_EQ_U(dict->news, 1);
    CHECK_EQ_U(dict->lost, 1);
    CHECK_EQ_U(dict->live, 0);
    check_obj_balance(p);
    /* per site: a built 4 lists (2 freed, 1 lost, 1 live) and a dict (lost),
     * b built one list, live */
    uint32_t fa = p->map[PROF_NS_CODE][3], fb = p->map[PROF_NS_CODE][4];
    int seen = 0;
    for (uint32_t i = 1; i < p->nsites; i++) {
        const prof_objsite_t *st = &p->sites[i];
        if (st->fidx == fa && st->type_id == 5) {
            CHECK_EQ_U(st->count, 4);
            CHECK_EQ_U(st->frees, 2);
            CHECK_EQ_U(st->live, 1);
            seen++;
        } else if (st->fidx == fa && st->type_id == 6) {
            CHECK_EQ_U(st->count, 1);
            CHECK_EQ_U(st->live, 0);
            seen++;
        } else if (st->fidx == fb && st->type_id == 5) {
            CHECK_EQ_U(st->count, 1);
            CHECK_EQ_U(st->live, 1);
            seen++;
        }
    }
    CHECK_EQ_U(seen, 3);
    prof_destroy(&p);
    free(b.r);
}

/* rings are read one after the other: a free read before its construction
 * (another thread's ring, earlier cycle count) is paired late; a free read
 * before a later construction at its address stays unborn */
static void test_objects_cross_thread(void)
{
    prof_limits_t lim;
    prof_limits_default(&lim);
    lim.max_pending_frees = 4;
    prof_t *p = prof_new(&lim, 4);
    p->hz = 1000000;
    recbuf_t b = {0};
    rb_put(&b, 1, ULMA_EV_CALL, 1, 1);
    feed(p, 0, &b);
    for (uint64_t i = 0; i < 8; i++)
        obj(&b, 100 + i, ULMA_EV_OBJ_FREE, 5, 0x1000 + 16 * i, 56);
    obj(&b, 120, ULMA_EV_OBJ_FREE, 5, 0x2000, 56);
    obj(&b, 121, ULMA_EV_OBJ_FREE, 6, 0x3000, 64);
    feed(p, 1, &b);
    CHECK_EQ_U(p->types[5].frees_unborn, 9);
    CHECK_EQ_U(pending_frees(p), 4);
    /* thread 0's constructions, read now: the 4 newest frees are pending
     * (0x1000 + 16 * 6, 7, 0x2000, 0x3000), the older ones left */
    for (uint64_t i = 0; i < 8; i++)
        obj(&b, 50 + i, ULMA_EV_OBJ_NEW, 5, 0x1000 + 16 * i, 56);
    obj(&b, 130, ULMA_EV_OBJ_NEW, 5, 0x2000, 56); /* after its free: a new object */
    obj(&b, 60, ULMA_EV_OBJ_NEW, 5, 0x3000, 56); /* another type was freed there */
    feed(p, 0, &b);
    const prof_type_t *list = &p->types[5], *dict = &p->types[6];
    CHECK_EQ_U(p->obj_paired_late, 2);
    CHECK_EQ_U(list->news, 10);
    CHECK_EQ_U(list->frees, 2);
    CHECK_EQ_U(list->bytes_free, 112);
    CHECK_EQ_U(list->frees_unborn, 7);
    CHECK_EQ_U(list->bytes_free_unborn, 7 * 56);
    CHECK_EQ_U(list->live, 8);
    CHECK_EQ_U(dict->frees_unborn, 1);
    CHECK_EQ_U(pending_frees(p), 0);
    check_obj_balance(p);
    /* one thread only: nothing waits */
    prof_t *q = new_prof();
    obj(&b, 10, ULMA_EV_OBJ_FREE, 5, 0x5000, 56);
    obj(&b, 5, ULMA_EV_OBJ_NEW, 5, 0x5000, 56);
    feed(q, 0, &b);
    CHECK_EQ_U(q->types[5].frees_unborn, 1);
    CHECK_EQ_U(q->types[5].live, 1);
    CHECK_EQ_U(q->obj_paired_late, 0);
    prof_destroy(&q);
    prof_destroy(&p);
    free(b.r);
}

/* bounded: live objects beyond the limit are counted, never kept, their
 * frees are unborn; construction sites beyond the limit go to [unknown] */
static void test_objects_limits(void)
{
    prof_limits_t lim;
    prof_limits_default(&lim);
    lim.max_live_objects = 16;
    lim.max_sites = 16;
    prof_t *p = prof_new(&lim, 4);
    p->hz = 1000000;
    recbuf_t b = {0};
    for (uint64_t i = 0; i < 20; i++)
        obj(&b, 10 + i, ULMA_EV_OBJ_NEW, 1, 0x100 + 16 * i, 28);
    obj(&b, 40, ULMA_EV_OBJ_NEW, 1, 0, 28); /* a null address is never kept */
    for (uint64_t i = 0; i < 20; i++)
        obj(&b, 50 + i, ULMA_EV_OBJ_FREE, 1, 0x100 + 16 * i, 28);
    feed(p, 0, &b);
    const prof_type_t *ty = &p->types[1];
    CHECK_EQ_U(ty->news, 21);
    CHECK_EQ_U(ty->untracked, 5);
    CHECK_EQ_U(p->obj_untracked, 4);
    CHECK_EQ_U(ty->frees, 16);
    CHECK_EQ_U(ty->frees_unborn, 4);
    CHECK_EQ_U(ty->live, 0);
    check_obj_balance(p);
    /* 40 functions construct: 14 sites fit (site 0 is none, site 1 the
     * ints above), then the type's [unknown] site */
    for (uint32_t f = 1; f <= 40; f++) {
        rb_put(&b, 100 + 3 * f, ULMA_EV_CALL, f, 1);
        obj(&b, 101 + 3 * f, ULMA_EV_OBJ_NEW, 2, 0x9000 + 16 * f, 24);
        rb_put(&b, 102 + 3 * f, ULMA_EV_RETURN, f, 1);
    }
    feed(p, 0, &b);
    CHECK_EQ_U(p->nsites, 17);
    CHECK_EQ_U(p->obj_site_overflows, 40 - 14);
    const prof_objsite_t *last = &p->sites[16];
    CHECK_EQ_U(last->fidx, PROF_FIDX_UNKNOWN);
    CHECK_EQ_U(last->count, 26);
    CHECK_EQ_U(p->objs.nlive, 16);
    check_obj_balance(p);
    /* type ids index an array: bounded apart */
    obj(&b, 500, ULMA_EV_OBJ_NEW, (1u << 20) + 3, 0x100, 28);
    feed(p, 0, &b);
    CHECK_EQ_U(p->ids_out_of_range, 1);
    CHECK(p->types_cap <= 64);
    prof_destroy(&p);
    /* pending frees, most of them stale soon, never grow the set beyond
     * twice the live and pending bounds */
    lim.max_live_objects = 4096;
    lim.max_pending_frees = 1024;
    p = prof_new(&lim, 4);
    rb_put(&b, 1, ULMA_EV_CALL, 1, 1);
    feed(p, 1, &b);
    for (uint64_t i = 0; i < 5000; i++)
        obj(&b, 10 + i, ULMA_EV_OBJ_NEW, 1, 0x10000000 + 16 * i, 28);
    feed(p, 0, &b);
    for (uint64_t i = 0; i < 200000; i++) {
        obj(&b, 10000 + i, ULMA_EV_OBJ_FREE, 1, 0x90000000 + 16 * i, 28);
        if (b.n >= 4096)
            feed(p, 0, &b);
    }
    feed(p, 0, &b);
    CHECK_EQ_U(p->objs.nlive, 4096);
    CHECK_EQ_U(p->types[1].untracked, 5000 - 4096);
    CHECK_EQ_U(p->types[1].frees_unborn, 200000);
    CHECK_EQ_U(pending_frees(p), 1024);
    CHECK(p->objs.cap <= 16384);
    check_obj_balance(p);
    prof_destroy(&p);
    free(b.r);
}

/* the set against a plain model: random constructions and frees over few
 * addresses (collisions, growth, deletions by backward shift), two threads
 * in time order (pending frees come and go, none pairs), every count equal */
static void test_objects_model(void)
{
    enum { NA = 3000, NT = 3 };
    static uint8_t alive[NA]; /* 0, or 1 + type */
    static uint64_t m_news[NT], m_frees[NT], m_unborn[NT], m_lost[NT];
    prof_limits_t lim;
    prof_limits_default(&lim);
    lim.max_pending_frees = 100; /* 64 */
    prof_t *p = prof_new(&lim, 4);
    p->hz = 1000000;
    recbuf_t b[2] = {{0}, {0}};
    uint64_t tsc = 1;
    for (int i = 0; i < 400000; i++) {
        uint32_t r = lossy_rnd();
        uint32_t a = r % NA, ty = (r >> 12) % NT, th = (r >> 16) & 1;
        uint64_t addr = 0x7f0000000000ull + (uint64_t)a * 32;
        /* in time order: the other thread's records are read before this
         * one's next ones */
        if (b[1 - th].n)
            feed(p, 1 - th, &b[1 - th]);
        if ((r >> 20) % 8 < 3) {
            if (alive[a] == 1 + ty) {
                m_frees[ty]++;
                alive[a] = 0;
            } else {
                if (alive[a])
                    m_lost[alive[a] - 1]++;
                alive[a] = 0;
                m_unborn[ty]++;
            }
            obj(&b[th], tsc++, ULMA_EV_OBJ_FREE, ty + 1, addr, 8);
        } else {
            if (alive[a])
                m_lost[alive[a] - 1]++;
            alive[a] = (uint8_t)(1 + ty);
            m_news[ty]++;
            obj(&b[th], tsc++, ULMA_EV_OBJ_NEW, ty + 1, addr, 8);
        }
        if (lossy_rnd() % 8 == 0)
            feed(p, th, &b[th]);
    }
    for (int k = 0; k < 2; k++) {
        if (b[k].n)
            feed(p, (unsigned)k, &b[k]);
    }
    uint64_t live = 0;
    for (uint32_t t = 0; t < NT; t++) {
        const prof_type_t *pt = &p->types[t + 1];
        uint64_t ml = 0;
        for (uint32_t a = 0; a < NA; a++)
            ml += alive[a] == 1 + t;
        CHECK_EQ_U(pt->news, m_news[t]);
        CHECK_EQ_U(pt->frees, m_frees[t]);
        CHECK_EQ_U(pt->frees_unborn, m_unborn[t]);
        CHECK_EQ_U(pt->lost, m_lost[t]);
        CHECK_EQ_U(pt->live, ml);
        live += ml;
    }
    CHECK_EQ_U(p->obj_paired_late, 0);
    CHECK_EQ_U(p->objs.nlive, live);
    CHECK(pending_frees(p) <= 64 && p->objs.pend_cap == 64);
    check_obj_balance(p);
    /* every address the model holds alive is in the set, nothing else */
    uint32_t in_set = 0;
    for (uint32_t j = 0; j < p->objs.cap; j++)
        in_set += p->objs.ents[j].addr && !(p->objs.ents[j].val & PROF_OBJ_PENDING);
    CHECK_EQ_U(in_set, live);
    prof_destroy(&p);
    for (int k = 0; k < 2; k++)
        free(b[k].r);
}


/* every export of a profile with everything in it parses */
static void test_exports(void)
{
    prof_t *p = new_prof();
    recbuf_t b = {0};
    defs(&b);
    rb_put(&b, 0, ULMA_EV_CALL, 1, 1);
    for (int i = 0; i < 5; i++) {
        rb_put(&b, 10 + 100 * i, ULMA_EV_CALL, 3, 2);
        rb_put(&b, 20 + 100 * i, ULMA_EV_CALL, 4, 3);
        rb_put(&b, 40 + 100 * i, ULMA_EV_RETURN, 4, 3);
        rb_put(&b, 90 + 100 * i, ULMA_EV_RETURN, 3, 2);
    }
    rb_put(&b, 1000, ULMA_EV_RETURN, 1, 1);
    feed(p, 0, &b);
    profile_t *r = snap(p);
    char dir[256], path[300], cmd[2048];
    make_tmpdir(dir, sizeof(dir), "export");
    const char *checks[] = {
        "import json,sys; d=json.load(open(sys.argv[1])); "
        "assert d['format']=='ulma-profile'; f={x['name']:x for x in d['functions']}; "
        "assert f['a']['ncalls']==5 and f['b']['ncalls']==5; assert len(d['paths'])==3",
        NULL,
        "import sys; L=open(sys.argv[1]).read().split(chr(10)); "
        "assert 'prog.py:1(<module>);prog.py:20(a);prog.py:30(b) 100' in L, L",
        "import json,sys; d=json.load(open(sys.argv[1])); "
        "assert d['profiles'][0]['type']=='sampled'; assert len(d['profiles'][0]['samples'])==3",
        "import gzip,sys; d=gzip.open(sys.argv[1]).read(); assert d[:1]==bytes([0x0a]) and "
        "b'prog.py:30(b)' in d",
        "import xml.dom.minidom,sys; d=xml.dom.minidom.parse(sys.argv[1]); "
        "assert len(d.getElementsByTagName('rect'))>=4",
    };
    for (int f = PROFILE_JSON; f <= PROFILE_SVG; f++) {
        if (!checks[f])
            continue;
        sbuf_t s = {0};
        CHECK(profile_export(r, f, &s) == 0);
        snprintf(path, sizeof(path), "%s/out.%d", dir, f);
        CHECK(write_file(path, s.data, s.len) == 0);
        snprintf(cmd, sizeof(cmd), "%s -c \"%s\" %s", PYTHON, checks[f], path);
        if (run(cmd) != 0) {
            fprintf(stderr, "export %d failed its check\n", f);
            exit(1);
        }
        sbuf_free(&s);
    }
    rm_tree(dir);
    profile_destroy(&r);
    prof_destroy(&p);
    free(b.r);
}

/* The hot path (runs of CALL / RETURN handled in bulk, the rest record by
 * record) against _lsprof's rules written the plain way, per function and
 * per caller->callee edge: random programs of Python and C frames with
 * recursion, exceptions and more children per path than a CCT node holds
 * inline, fed in batches of random sizes, interleaved with records of other
 * kinds; once with room in the CCT and once with a CCT that fills up, so
 * that most frames are accounted flat. Integer cycles: exact. */
enum { REF_NF = 24, REF_N = 2 * REF_NF }; /* keys: code ids 1.., then C ids 1.. */
typedef struct ref_acc {
    uint64_t nc, rc;
    int64_t cum, own;
    uint32_t level;
} ref_acc_t;

static uint64_t ref_rs;
static uint32_t ref_rnd(void)
{
    ref_rs ^= ref_rs << 13;
    ref_rs ^= ref_rs >> 7;
    ref_rs ^= ref_rs << 17;
    return (uint32_t)(ref_rs >> 11);
}

static void ref_leave(ref_acc_t *a, int64_t cum, int64_t own)
{
    a->nc++;
    a->own += own;
    if (--a->level == 0)
        a->cum += cum;
    else
        a->rc++;
}

static uint32_t ref_key(const prof_t *p, uint32_t fidx)
{
    const prof_func_t *fn = &p->funcs[fidx];
    CHECK(fn->ns == PROF_NS_CODE || fn->ns == PROF_NS_CFUNC);
    CHECK(fn->id >= 1 && fn->id <= REF_NF);
    return (fn->ns == PROF_NS_CFUNC ? REF_NF : 0) + fn->id - 1;
}

static void test_reference(void)
{
    static ref_acc_t fn[REF_N], ed[REF_N][REF_N];
    for (int variant = 0; variant < 2; variant++) {
        prof_limits_t lim;
        prof_limits_default(&lim);
        if (variant)
            lim.max_cct_nodes = 64;
        prof_t *p = prof_new(&lim, 4);
        p->hz = 1000000;
        memset(fn, 0, sizeof(fn));
        memset(ed, 0, sizeof(ed));
        ref_rs = 0x2545f4914f6cdd1dull + (uint64_t)variant;
        struct {
            uint32_t k;
            uint64_t t0;
            int64_t subt;
        } st[48];
        uint32_t d = 0;
        uint64_t tsc = 1000, ncalls = 0;
        size_t batch = 1;
        recbuf_t b = {0};
        rb_put(&b, tsc, ULMA_EV_MODE, ULMA_MODE_FULL, 0);
        for (int i = 0; i < 300000 || d; i++) {
            tsc += 1 + ref_rnd() % 7;
            uint32_t r = ref_rnd() % 100;
            if (i < 300000 && (d == 0 || (d < 48 && r < 52))) {
                uint32_t k;
                if (d && r < 10)
                    k = st[d - 1].k; /* recursion */
                else if (d && r < 40)
                    k = (st[d - 1].k * 7 + ref_rnd() % 3) % REF_N; /* a few hot callees */
                else
                    k = ref_rnd() % REF_N; /* many children per path */
                fn[k].level++;
                if (d)
                    ed[st[d - 1].k][k].level++;
                st[d].k = k;
                st[d].t0 = tsc;
                st[d].subt = 0;
                d++;
                ncalls++;
                rb_put(&b, tsc, k < REF_NF ? ULMA_EV_CALL : ULMA_EV_C_CALL, k % REF_NF + 1,
                       (uint16_t)d);
            } else {
                uint32_t k = st[--d].k;
                int64_t cum = (int64_t)(tsc - st[d].t0), own = cum - st[d].subt;
                ref_leave(&fn[k], cum, own);
                if (d) {
                    st[d - 1].subt += cum;
                    ref_leave(&ed[st[d - 1].k][k], cum, own);
                }
                unsigned kind = k >= REF_NF ? ULMA_EV_C_RETURN
                                : r % 8 == 0 ? ULMA_EV_UNWIND : ULMA_EV_RETURN;
                rb_put(&b, tsc, kind, k % REF_NF + 1, (uint16_t)(d + 1));
            }
            if (r == 99) { /* a record of another kind in the middle of a run */
                ulma_obj_payload_t op = {32, 0x1000};
                rb_payload(&b, tsc, ULMA_EV_OBJ_NEW, 1, (uint16_t)d, &op, sizeof(op));
            }
            if (b.n >= batch) {
                feed(p, 0, &b);
                batch = 1 + ref_rnd() % 400;
            }
        }
        feed(p, 0, &b);
        CHECK_EQ_U(prof_total_resyncs(p), 0);
        CHECK_EQ_U(p->threads->mismatches, 0);
        CHECK_EQ_U(p->types[1].news, p->events - 2 * ncalls - 1);
        if (variant)
            CHECK(p->cct_overflows > 0);
        else
            CHECK_EQ_U(p->cct_overflows, 0);
        prof_derive(p);
        uint64_t seen = 0;
        for (uint32_t f = 1; f < p->nfuncs; f++) {
            const prof_func_t *pf = &p->funcs[f];
            const ref_acc_t *a = &fn[ref_key(p, f)];
            CHECK_EQ_U(pf->callcount, a->nc);
            CHECK_EQ_U(pf->reccallcount, a->rc);
            CHECK_EQ_U((uint64_t)pf->cum, (uint64_t)a->cum);
            CHECK_EQ_U((uint64_t)pf->own, (uint64_t)a->own);
            seen += a->nc;
        }
        CHECK_EQ_U(seen, ncalls);
        CHECK_EQ_U(prof_total_calls(p), ncalls);
        uint64_t eseen = 0, eref = 0;
        for (uint32_t s = 1; s < p->nsubs; s++) {
            const prof_sub_t *ps = &p->subs[s];
            const ref_acc_t *a = &ed[ref_key(p, ps->caller)][ref_key(p, ps->callee)];
            CHECK_EQ_U(ps->callcount, a->nc);
            CHECK_EQ_U(ps->reccallcount, a->rc);
            CHECK_EQ_U((uint64_t)ps->cum, (uint64_t)a->cum);
            CHECK_EQ_U((uint64_t)ps->own, (uint64_t)a->own);
            eseen += ps->callcount;
        }
        for (uint32_t x = 0; x < REF_N; x++)
            for (uint32_t y = 0; y < REF_N; y++)
                eref += ed[x][y].nc;
        CHECK_EQ_U(eseen, eref);
        prof_destroy(&p);
        free(b.r);
    }
}

int main(void)
{
    test_recursion();
    test_mutual();
    test_gen_exc_c();
    test_threads();
    test_drops();
    test_mode_mpi_objects();
    test_mode_keeps_frames();
    test_open();
    test_open_equals_close();
    test_objects_unborn();
    test_objects_reuse_sites();
    test_objects_cross_thread();
    test_objects_limits();
    test_objects_model();
    test_lazy_names();
    test_clock_back();
    test_objects_recent();
    test_exports();
    test_reference();
    printf("test_profile: ok\n");
    return 0;
}
