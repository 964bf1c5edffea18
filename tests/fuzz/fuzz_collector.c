/* fuzz_collector.c - fuzz target over the collector's decoding, validation
 * and merging: an input is a sequence of agent messages (each a 4-byte
 * little-endian length and the bytes of an AgentMsg), applied in order to
 * a fresh store (store_report), followed by a tick and queries over every
 * scope (TOP with spread, FUNCTION, IMBALANCE, EXPORT, SNAPSHOT) so that
 * whatever got in is merged and read. Oracle: no crash, no leak, and the
 * store's invariants (checked below) hold; run it under ASan.
 *
 * LLVMFuzzerTestOneInput is the libFuzzer entry (-DULMA_LIBFUZZER, clang);
 * without it, main() runs N random mutations of the committed seeds
 * (tests/fuzz/seeds/collector/, argv[1] rounds, default 2000) for CTest,
 * bounded in time in sanitizer builds (fuzz/budget.h).
 * `fuzz_collector --write-seeds DIR` makes the seeds with the real sender. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/budget.h"
#include "fuzz/seeds.h"
#include "query.h"
#include "store_int.h"
#include "view.h"
#include "wire/sender.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run_query(const query_env_t *env, Ulma__Wire__Kind kind, Ulma__Wire__Scope *sc,
                      const char *func)
{
    Ulma__Wire__Query q = ULMA__WIRE__QUERY__INIT;
    q.version = WIRE_VERSION;
    q.kind = kind;
    q.scope = sc;
    q.func = (char *)func;
    q.format = "pstats";
    q.limit = 20;
    wire_answer_t w;
    wire_answer_init(&w, 1);
    query_route_t route;
    query_run(env, &q, &w, &route);
    sbuf_t b = {0};
    wire_answer_pack(&w, &b);
    sbuf_free(&b);
    sbuf_free(&route.fwd);
    free(route.nodes);
    wire_answer_free(&w);
}

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_collector: %s\n", what);
    abort();
}

static int arow_eq(const arow_t *a, const arow_t *b)
{
    return a->c.ncalls == b->c.ncalls && a->c.pcalls == b->c.pcalls &&
           a->c.tottime_ns == b->c.tottime_ns && a->c.cumtime_ns == b->c.cumtime_ns &&
           a->mpi_bytes == b->mpi_bytes && a->open.calls == b->open.calls &&
           a->open.tottime_ns == b->open.tottime_ns && a->open.cumtime_ns == b->open.cumtime_ns;
}

static void edge_sum(pf_counts_t *e, pathv_t *pa, const group_t *g)
{
    for (uint32_t i = 0; i < g->nbedges; i++) {
        pf_counts_t *d = &e[g->bedges[i].id];
        d->ncalls += g->bedges[i].c.ncalls;
        d->pcalls += g->bedges[i].c.pcalls;
        d->tottime_ns += g->bedges[i].c.tottime_ns;
        d->cumtime_ns += g->bedges[i].c.cumtime_ns;
    }
    for (uint32_t i = 0; i < g->nbpaths; i++) {
        pathv_t *d = &pa[g->bpaths[i].id];
        d->count += g->bpaths[i].v.count;
        d->tottime_ns += g->bpaths[i].v.tottime_ns;
        d->cumtime_ns += g->bpaths[i].v.cumtime_ns;
    }
    for (uint32_t i = 0; g->sess && i < g->nedges; i++) {
        pf_counts_t *d = &e[g->sess->geid[i]];
        d->ncalls += g->edges[i].ncalls;
        d->pcalls += g->edges[i].pcalls;
        d->tottime_ns += g->edges[i].tottime_ns;
        d->cumtime_ns += g->edges[i].cumtime_ns;
    }
    for (uint32_t i = 0; g->sess && i < g->npaths; i++) {
        pathv_t *d = &pa[g->sess->gpid[i]];
        d->count += g->paths[i].count;
        d->tottime_ns += g->paths[i].tottime_ns;
        d->cumtime_ns += g->paths[i].cumtime_ns;
    }
}

/* Nothing lost or counted twice whatever was accepted: every aggregate
 * row (the cluster's and each job's, functions, edges and paths) equals
 * the sum of what its processes and groups hold; each process's total
 * equals the sum of its rows. */
static void check_invariants(const store_t *s)
{
    arow_t *acc = calloc(s->nfuncs + 1, sizeof(*acc));
    for (uint32_t i = 0; i < s->nnodes; i++)
        for (uint32_t k = 0; k < s->nodes[i]->nprocs; k++) {
            const proc_t *p = s->nodes[i]->procs[k];
            arow_t *one = calloc(s->nfuncs + 1, sizeof(*one));
            store_proc_accumulate(s, p, one);
            pf_counts_t t = {0};
            for (uint32_t g = 0; g < s->nfuncs; g++) {
                t.ncalls += one[g].c.ncalls;
                t.tottime_ns += one[g].c.tottime_ns;
                acc[g].c.ncalls += one[g].c.ncalls;
                acc[g].c.pcalls += one[g].c.pcalls;
                acc[g].c.tottime_ns += one[g].c.tottime_ns;
                acc[g].c.cumtime_ns += one[g].c.cumtime_ns;
                acc[g].mpi_bytes += one[g].mpi_bytes;
                acc[g].open.calls += one[g].open.calls;
                acc[g].open.tottime_ns += one[g].open.tottime_ns;
                acc[g].open.cumtime_ns += one[g].open.cumtime_ns;
            }
            free(one);
            if (t.ncalls != p->tot.ncalls || t.tottime_ns != p->tot.tottime_ns)
                fail("a process's total differs from the sum of its rows");
        }
    for (uint32_t g = 0; g < s->nfuncs; g++)
        if (!arow_eq(&acc[g], &s->cl[g]))
            fail("a cluster row differs from the sum of the processes' rows");
    for (uint32_t j = 0; j < s->njobs; j++) {
        const job_t *jb = s->jobs[j];
        memset(acc, 0, sizeof(*acc) * (s->nfuncs + 1));
        for (uint32_t k = 0; k < jb->nprocs; k++)
            store_proc_accumulate(s, jb->procs[k], acc);
        for (uint32_t g = 0; g < s->nfuncs; g++) {
            const arow_t *r = store_job_row(jb, g);
            static const arow_t zero;
            if (!arow_eq(&acc[g], r ? r : &zero))
                fail("a job row differs from the sum of its processes' rows");
        }
    }
    free(acc);
    pf_counts_t *e = calloc(s->nedges + 1, sizeof(*e));
    pathv_t *pa = calloc(s->npaths + 1, sizeof(*pa));
    for (uint32_t i = 0; i < s->nnodes; i++)
        for (uint32_t k = 0; k < s->nodes[i]->ngroups; k++)
            edge_sum(e, pa, s->nodes[i]->groups[k]);
    for (uint32_t i = 0; i < s->nedges; i++)
        if (memcmp(&e[i], &s->cl_edges[i], sizeof(e[i])) != 0)
            fail("a cluster edge differs from the sum of the groups' edges");
    for (uint32_t i = 1; i < s->npaths; i++)
        if (pa[i].count != s->cl_paths[i].count || pa[i].tottime_ns != s->cl_paths[i].tottime_ns ||
            pa[i].cumtime_ns != s->cl_paths[i].cumtime_ns)
            fail("a cluster path differs from the sum of the groups' paths");
    for (uint32_t j = 0; j < s->njobs; j++) {
        const job_t *jb = s->jobs[j];
        memset(e, 0, sizeof(*e) * (s->nedges + 1));
        memset(pa, 0, sizeof(*pa) * (s->npaths + 1));
        for (uint32_t i = 0; i < s->nnodes; i++)
            for (uint32_t k = 0; k < s->nodes[i]->ngroups; k++)
                if (s->nodes[i]->groups[k]->job == jb)
                    edge_sum(e, pa, s->nodes[i]->groups[k]);
        static const pf_counts_t zc;
        static const pathv_t zp;
        for (uint32_t i = 0; i < s->nedges; i++) {
            uint64_t slot = map_get(&jb->edges.map, i);
            const pf_counts_t *x = slot ? (const pf_counts_t *)jb->edges.rows + slot - 1 : &zc;
            if (memcmp(&e[i], x, sizeof(e[i])) != 0)
                fail("a job's edge differs from the sum of its groups' edges");
        }
        for (uint32_t i = 1; i < s->npaths; i++) {
            uint64_t slot = map_get(&jb->paths.map, i);
            const pathv_t *x = slot ? (const pathv_t *)jb->paths.rows + slot - 1 : &zp;
            if (pa[i].count != x->count || pa[i].tottime_ns != x->tottime_ns ||
                pa[i].cumtime_ns != x->cumtime_ns)
                fail("a job's path differs from the sum of its groups' paths");
        }
    }
    free(e);
    free(pa);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    store_config_t c;
    memset(&c, 0, sizeof(c));
    c.interval_ns = 1000000000ull;
    c.gone_ns = 5000000000ull;
    c.keep_ns = 1000000000ull;
    c.history = 8;
    c.rate_points = 4;
    store_limits_default(&c.lim);
    c.lim.names_per_session = 1u << 16;
    c.lim.functions = 1u << 16;
    c.lim.edges = c.lim.paths = 1u << 16;
    c.lim.procs_per_node = 256;
    c.lim.nodes = 64;
    store_t *s = store_new(&c);
    uint64_t now = 1000000000000ull;
    size_t off = 0;
    while (off + 4 <= size) {
        uint32_t n = (uint32_t)data[off] | (uint32_t)data[off + 1] << 8 |
                     (uint32_t)data[off + 2] << 16 | (uint32_t)data[off + 3] << 24;
        off += 4;
        if (n > size - off)
            n = (uint32_t)(size - off);
        wire_refusal_t why;
        Ulma__Wire__AgentMsg *m = wire_agent_msg(data + off, n, &why);
        off += n;
        if (!m)
            continue;
        if (m->body_case == ULMA__WIRE__AGENT_MSG__BODY_REPORT) {
            store_action_t act;
            store_report(s, m->report, now, "peer", 4, &act);
        }
        protobuf_c_message_free_unpacked(&m->base, NULL);
        now += 300000000ull;
        check_invariants(s);
    }
    store_tick(s, now, 1);
    query_env_t env = {s, 0, 1.0};
    Ulma__Wire__Scope sc = ULMA__WIRE__SCOPE__INIT;
    run_query(&env, ULMA__WIRE__KIND__TOP, &sc, NULL);
    run_query(&env, ULMA__WIRE__KIND__SNAPSHOT, &sc, NULL);
    run_query(&env, ULMA__WIRE__KIND__EXPORT, &sc, NULL);
    run_query(&env, ULMA__WIRE__KIND__PATHS, &sc, NULL);
    for (uint32_t i = 0; i < s->njobs && i < 2; i++) {
        Ulma__Wire__Scope js = ULMA__WIRE__SCOPE__INIT;
        js.level = ULMA__WIRE__SCOPE__LEVEL__JOB;
        js.job = s->jobs[i]->name;
        run_query(&env, ULMA__WIRE__KIND__IMBALANCE, &js, NULL);
        run_query(&env, ULMA__WIRE__KIND__MPI, &js, NULL);
        run_query(&env, ULMA__WIRE__KIND__FUNCTION, &js, "f1");
    }
    for (uint32_t i = 0; i < s->nnodes && i < 2; i++) {
        Ulma__Wire__Scope ns = ULMA__WIRE__SCOPE__INIT;
        ns.level = ULMA__WIRE__SCOPE__LEVEL__NODE;
        ns.node = s->nodes[i]->name;
        run_query(&env, ULMA__WIRE__KIND__TOP, &ns, NULL);
        run_query(&env, ULMA__WIRE__KIND__CALLERS, &ns, "f2");
        if (s->nodes[i]->nprocs) {
            Ulma__Wire__Scope rs = ULMA__WIRE__SCOPE__INIT;
            rs.level = ULMA__WIRE__SCOPE__LEVEL__RANK;
            rs.node = s->nodes[i]->name;
            rs.pid = s->nodes[i]->procs[0]->m.pid;
            run_query(&env, ULMA__WIRE__KIND__TOP, &rs, NULL);
            run_query(&env, ULMA__WIRE__KIND__RANKS, &ns, NULL);
        }
    }
    now += 100000000000ull; /* everything expires */
    store_tick(s, now, 2);
    store_tick(s, now + 1, 3);
    check_invariants(s);
    store_destroy(&s);
    return 0;
}

#ifndef ULMA_LIBFUZZER
/* ---- seeds: sequences of real reports ---------------------------------------------------- */

static void put_msg(sbuf_t *out, wire_sender_t *w, int snapshot, int full)
{
    sbuf_t b = {0};
    wire_sender_end(w, NULL, &b);
    wire_sender_sent(w);
    uint8_t len[4] = {(uint8_t)b.len, (uint8_t)(b.len >> 8), (uint8_t)(b.len >> 16),
                      (uint8_t)(b.len >> 24)};
    sbuf_add(out, len, 4);
    sbuf_add(out, b.data, b.len);
    sbuf_free(&b);
    (void)snapshot;
    (void)full;
}

static void seed_session(sbuf_t *out, const char *node, uint64_t session, int nreports,
                         int restart)
{
    wire_node_info_t ni = {node, node, "seed", "/dev/shm", 2, 1, 1};
    wire_sender_t *w = wire_sender_new(&ni, session, 1000000000ull);
    profile_t *g = profile_new();
    for (int r = 0; r < nreports; r++) {
        if (restart && r == nreports / 2) {
            wire_sender_destroy(&w);
            w = wire_sender_new(&ni, session + 100, 1000000000ull);
        }
        int snap = r == 0 || r % 3 == 0;
        wire_sender_begin(w, snap, r == 0);
        for (int p = 0; p < 3; p++) {
            pf_meta_t m;
            memset(&m, 0, sizeof(m));
            m.pid = 100 + p;
            m.start_time = 7;
            m.rank = p;
            snprintf(m.job, sizeof(m.job), "j%d", p % 2);
            m.state = r == nreports - 1 && p == 2 ? PF_STATE_EXITED : PF_STATE_LIVE;
            m.events = (uint64_t)(r * 100);
            uint32_t idx[6];
            pf_counts_t cnt[6];
            uint64_t mpi[6];
            for (int f = 0; f < 6; f++) {
                pf_func_t pf;
                memset(&pf, 0, sizeof(pf));
                char nm[8];
                snprintf(nm, sizeof(nm), "f%d", f);
                pf.file.s = f == 5 ? "~" : "a.py";
                pf.file.len = f == 5 ? 1 : 4;
                pf.name.s = nm;
                pf.name.len = (uint32_t)strlen(nm);
                pf.qualname = pf.name;
                pf.line = f == 5 ? 0 : (uint32_t)f + 1;
                pf.kind = f == 5 ? PF_KIND_MPI : 0;
                idx[f] = wire_sender_name(w, &pf);
                if (profile_nfuncs(g) < 6)
                    profile_add_func_like(g, &pf);
                cnt[f].ncalls = (uint64_t)((r + 1) * (f + 1) * (p + 1));
                cnt[f].pcalls = cnt[f].ncalls - (uint64_t)r;
                cnt[f].tottime_ns = (int64_t)cnt[f].ncalls * 100;
                cnt[f].cumtime_ns = cnt[f].tottime_ns * 2;
                mpi[f] = f == 5 ? cnt[f].ncalls * 8 : 0;
            }
            wire_sender_process_rows(w, &m, NULL, 6, idx, cnt, mpi);
        }
        if (profile_nedges(g) == 0) {
            profile_add_edge(g, 0, 1);
            profile_add_edge(g, 1, 2);
            uint32_t a = profile_add_path(g, 0, 0);
            profile_add_path(g, a, 1);
        }
        profile_edge_w(g, 0)->c.ncalls += 2;
        profile_edge_w(g, 0)->c.pcalls += 2;
        profile_edge_w(g, 0)->c.tottime_ns += 10;
        profile_edge_w(g, 0)->c.cumtime_ns += 20;
        profile_path_w(g, 1)->count += 1;
        profile_path_w(g, 1)->tottime_ns += 5;
        profile_path_w(g, 1)->cumtime_ns += 9;
        wire_sender_group(w, "j0", g);
        if (r == nreports - 1)
            wire_sender_gone(w, 102, 7);
        put_msg(out, w, snap, r == 0);
    }
    profile_destroy(&g);
    wire_sender_destroy(&w);
}

static int write_seeds(const char *dir)
{
    for (int k = 0; k < 4; k++) {
        sbuf_t b = {0};
        seed_session(&b, k & 1 ? "nodeB" : "nodeA", 1000 + (uint64_t)k, 4 + k, k >= 2);
        if (k == 3)
            seed_session(&b, "nodeC", 2000, 3, 0);
        char path[1024];
        snprintf(path, sizeof(path), "%s/seed%d.bin", dir, k);
        if (write_file(path, b.data, b.len) != 0)
            return 1;
        sbuf_free(&b);
    }
    return 0;
}

/* 3: a byte one up or one down (lengths, tags, counts off by one). */
static size_t report_mutation(uint8_t *buf, size_t n, size_t cap, size_t at, unsigned op,
                              uint64_t st)
{
    (void)cap;
    (void)op;
    buf[at] = (uint8_t)(buf[at] + 1 - 2 * ((st >> 50) & 1));
    return n;
}

#ifndef SEED_DIR
#define SEED_DIR "tests/fuzz/seeds/collector"
#endif

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        return write_seeds(argv[2]);
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
    fuzz_seed_t seeds[16];
    int ns = fuzz_seeds_load(SEED_DIR, "fuzz_collector", seeds, 16);
    if (!ns)
        return 1;
    for (int i = 0; i < ns; i++)
        LLVMFuzzerTestOneInput(seeds[i].d, seeds[i].n);
    uint64_t st = 0x2545f4914f6cdd1dull;
    fuzz_budget_t bud;
    fuzz_budget_init(&bud, rounds, rounds / 10);
    long r =
        fuzz_mutate_rounds(seeds, ns, &bud, st, 8, 4, report_mutation, LLVMFuzzerTestOneInput);
    fuzz_seeds_free(seeds, ns);
    fuzz_budget_report(&bud, "fuzz_collector", r);
    return 0;
}
#endif
