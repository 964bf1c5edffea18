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

/* Edge caller->callee of a profile: nc, cc, tt, ct. */
static void edge(const profile_t *r, const char *caller, const char *callee, uint64_t nc,
                 uint64_t cc, double tt, double ct)
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
    CHECK_NEAR(pf_sec(acc[k].c.tottime_ns), tt);
    CHECK_NEAR(pf_sec(acc[k].c.cumtime_ns), ct);
    free(acc);
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
    CHECK_NEAR(prof_sec(p, p->nodes[4].ct), 10 * US);
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

/* MODE closes open frames; MPI as a callee; objects per type and function */
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
    ulma_obj_payload_t op = {64, 0x1000};
    rb_payload(&b, 50, ULMA_EV_OBJ_NEW, 3, 2, &op, sizeof(op));
    rb_payload(&b, 51, ULMA_EV_OBJ_NEW, 3, 2, &op, sizeof(op));
    rb_payload(&b, 52, ULMA_EV_OBJ_FREE, 3, 2, &op, sizeof(op));
    rb_put(&b, 60, ULMA_EV_RETURN, 2, 2);
    rb_put(&b, 100, ULMA_EV_MODE, ULMA_MODE_FULL, 0); /* <module> is closed here */
    feed(p, 0, &b);
    profile_t *r = snap(p);
    const pf_func_t *m = row(r, "MPI_Allreduce");
    CHECK_EQ_U(NC(m), 1);
    CHECK_NEAR(CT(m), 25 * US);
    CHECK_EQ_U(m->mpi_bytes, 4096);
    CHECK_NEAR(TT(row(r, "f")), 25 * US);
    CHECK_NEAR(CT(row(r, "f")), 50 * US);
    CHECK_EQ_U(NC(row(r, "<module>")), 1);
    CHECK_NEAR(CT(row(r, "<module>")), 100 * US);
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
    int64_t tt, it;
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

static void ref_leave(ref_acc_t *a, int64_t tt, int64_t it)
{
    a->nc++;
    a->it += it;
    if (--a->level == 0)
        a->tt += tt;
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
                int64_t tt = (int64_t)(tsc - st[d].t0), it = tt - st[d].subt;
                ref_leave(&fn[k], tt, it);
                if (d) {
                    st[d - 1].subt += tt;
                    ref_leave(&ed[st[d - 1].k][k], tt, it);
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
            CHECK_EQ_U((uint64_t)pf->tt, (uint64_t)a->tt);
            CHECK_EQ_U((uint64_t)pf->it, (uint64_t)a->it);
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
            CHECK_EQ_U((uint64_t)ps->tt, (uint64_t)a->tt);
            CHECK_EQ_U((uint64_t)ps->it, (uint64_t)a->it);
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
    test_lazy_names();
    test_exports();
    test_reference();
    printf("test_profile: ok\n");
    return 0;
}
