/* fuzz_query.c - fuzz target over the collector's query API: an input is
 * the bytes of one dashboard Query (as they arrive on the query socket),
 * decoded and checked (wire_query), then answered (query_run) from a store
 * that real reports built once (two nodes, two jobs, processes that ended,
 * edges, paths, MPI rows, history). Oracle: no crash, no leak, no
 * sanitizer report; the answer packs and decodes again as a Reply; a
 * function table never holds more rows than the query's limit; a query
 * never changes the merged numbers (the cluster's rows and totals are the
 * same before and after it).
 *
 * LLVMFuzzerTestOneInput is the libFuzzer entry (-DULMA_LIBFUZZER, clang);
 * without it, main() runs argv[1] random mutations (default 2000) of the
 * committed seeds (tests/fuzz/seeds/query/: one query of each kind over
 * every scope) for CTest, bounded in time in sanitizer builds
 * (fuzz/budget.h). `fuzz_query --write-seeds DIR` writes the seeds. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/budget.h"
#include "fuzz/seeds.h"
#include "query.h"
#include "store_int.h"
#include "wire/sender.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_query: %s\n", what);
    abort();
}

static void deliver(store_t *s, wire_sender_t *w, uint64_t now)
{
    sbuf_t b = {0};
    wire_sender_end(w, NULL, &b);
    wire_sender_sent(w);
    wire_refusal_t why;
    Ulma__Wire__AgentMsg *m = wire_agent_msg(b.data, b.len, &why);
    if (!m || m->body_case != ULMA__WIRE__AGENT_MSG__BODY_REPORT)
        fail("a seed report did not decode");
    store_action_t act;
    if (store_report(s, m->report, now, "peer", 4, &act) != 0)
        fail("a seed report was not applied");
    protobuf_c_message_free_unpacked(&m->base, NULL);
    sbuf_free(&b);
}

/* Node `node`: 3 processes (ranks base..base+2, jobs j0/j1), 6 functions
 * (one MPI), a group of edges and paths, `reports` reports, the last
 * process exited in the last one. */
static void feed_node(store_t *s, const char *node, int base, int reports, uint64_t *now)
{
    wire_node_info_t ni = {node, node, "seed", "/dev/shm", 2, 1, 1};
    wire_sender_t *w = wire_sender_new(&ni, 1000 + (uint64_t)base, 1000000000ull);
    profile_t *g = profile_new();
    for (int r = 0; r < reports; r++) {
        wire_sender_begin(w, r == 0, r == 0);
        for (int p = 0; p < 3; p++) {
            pf_meta_t m;
            memset(&m, 0, sizeof(m));
            m.pid = 100 + p;
            m.start_time = 7;
            m.rank = base + p;
            m.size = 6;
            snprintf(m.job, sizeof(m.job), "j%d", p % 2);
            m.state = r == reports - 1 && p == 2 ? PF_STATE_EXITED : PF_STATE_LIVE;
            m.active_mode = 1;
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
                cnt[f].ncalls = (uint64_t)((r + 1) * (f + 1) * (p + 1 + base));
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
        deliver(s, w, *now);
        *now += 1000000000ull;
        store_tick(s, *now, *now);
    }
    profile_destroy(&g);
    wire_sender_destroy(&w);
}

static store_t *the_store;
static long decoded; /* inputs that were queries (the others were refused) */

static void store_free_at_exit(void) { store_destroy(&the_store); }

static store_t *store_get(void)
{
    if (the_store)
        return the_store;
    store_config_t c;
    memset(&c, 0, sizeof(c));
    c.interval_ns = 1000000000ull;
    c.gone_ns = 3600ull * 1000000000ull;
    c.keep_ns = 3600ull * 1000000000ull;
    c.history = 16;
    c.rate_points = 6;
    store_limits_default(&c.lim);
    the_store = store_new(&c);
    uint64_t now = 1000000000000ull;
    feed_node(the_store, "nodeA", 0, 4, &now);
    feed_node(the_store, "nodeB", 3, 5, &now);
    atexit(store_free_at_exit);
    return the_store;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    store_t *s = store_get();
    wire_refusal_t why;
    Ulma__Wire__Query *q = wire_query(data, size, &why);
    if (!q)
        return 0;
    decoded++;
    uint32_t nf = s->nfuncs;
    arow_t *before = xmalloc(sizeof(*before) * (nf + 1));
    memcpy(before, s->cl, sizeof(*before) * nf);
    pf_counts_t tot = s->nnodes ? s->nodes[0]->tot : (pf_counts_t){0};
    query_env_t env = {s, 0, 1.0};
    wire_answer_t w;
    wire_answer_init(&w, q->id);
    query_route_t route;
    memset(&route, 0, sizeof(route));
    query_run(&env, q, &w, &route);
    sbuf_t b = {0};
    wire_answer_pack(&w, &b);
    Ulma__Wire__Reply *r = wire_reply(b.data, b.len, &why);
    if (!r)
        fail("an answer does not decode as a Reply");
    if (q->kind == ULMA__WIRE__KIND__TOP && r->table && r->table->n_rows > wire_query_limit(q))
        fail("a function table longer than the query's limit");
    protobuf_c_message_free_unpacked(&r->base, NULL);
    if (s->nfuncs != nf || memcmp(before, s->cl, sizeof(*before) * nf) != 0)
        fail("a query changed the cluster's rows");
    if (s->nnodes && memcmp(&tot, &s->nodes[0]->tot, sizeof(tot)) != 0)
        fail("a query changed a node's total");
    free(before);
    sbuf_free(&b);
    sbuf_free(&route.fwd);
    free(route.nodes);
    wire_answer_free(&w);
    protobuf_c_message_free_unpacked(&q->base, NULL);
    return 0;
}

#ifndef ULMA_LIBFUZZER
/* ---- seeds: one query of each kind over every scope ------------------------------------ */

static int write_seeds(const char *dir)
{
    static const char *sorts[] = {"cumulative", "tottime", "ncalls", "pcalls", "name", "file"};
    int k = 0;
    for (int kind = 0; kind <= ULMA__WIRE__KIND__RECENT; kind++)
        for (int level = 0; level < 4; level++) {
            Ulma__Wire__Query q = ULMA__WIRE__QUERY__INIT;
            Ulma__Wire__Scope sc = ULMA__WIRE__SCOPE__INIT;
            q.version = WIRE_VERSION;
            q.id = (uint64_t)k + 1;
            q.kind = (Ulma__Wire__Kind)kind;
            q.scope = &sc;
            sc.level = (Ulma__Wire__Scope__Level)level;
            sc.node = level == 1 || level == 3 ? "nodeA" : "";
            sc.job = level == 2 ? "j0" : "";
            sc.pid = level == 3 ? 101 : 0;
            sc.start_time = level == 3 ? 7 : 0;
            q.sort = (char *)sorts[k % 6];
            q.filter = k % 3 == 0 ? "f" : "";
            q.limit = (uint32_t)(k % 4) * 2;
            q.offset = (uint32_t)(k % 5 == 4);
            q.func = kind == 5 || kind == 6 || kind == 7 ? "f1" : "";
            q.format = kind == 15 ? (char *[]){"json", "pstats", "collapsed", "speedscope",
                                               "pprof", "svg"}[level % 6]
                                  : "";
            q.mode = kind == 16 ? 1 : 0;
            q.wait_ms = kind == 16 ? 10 : 0;
            q.points = 4;
            q.ranks = 3;
            q.window = 2;
            sbuf_t b = {0};
            wire_pack(&q.base, &b);
            char path[1024];
            snprintf(path, sizeof(path), "%s/q%02d_%d.bin", dir, kind, level);
            if (write_file(path, b.data, b.len) != 0)
                return 1;
            sbuf_free(&b);
            k++;
        }
    return 0;
}

/* 3: a large varint (limits, offsets, ranks, points); 4: another field
 * appended (repeated or out of order). */
static size_t query_mutation(uint8_t *buf, size_t n, size_t cap, size_t at, unsigned op,
                             uint64_t st)
{
    if (op == 3) {
        if (n)
            buf[at] = (uint8_t)(0x80 | (st >> 48));
    } else if (n + 3 <= cap) {
        buf[n++] = (uint8_t)((((st >> 44) % 17 + 1) << 3)); /* varint field */
        buf[n++] = (uint8_t)(st >> 52);
    }
    return n;
}

#ifndef SEED_DIR
#define SEED_DIR "tests/fuzz/seeds/query"
#endif

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        return write_seeds(argv[2]);
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
    fuzz_seed_t seeds[128];
    int ns = fuzz_seeds_load(SEED_DIR, "fuzz_query", seeds, 128);
    if (!ns)
        return 1;
    for (int i = 0; i < ns; i++)
        LLVMFuzzerTestOneInput(seeds[i].d, seeds[i].n);
    uint64_t st = 0x9e3779b97f4a7c15ull;
    fuzz_budget_t bud;
    fuzz_budget_init(&bud, rounds, rounds / 10);
    long r =
        fuzz_mutate_rounds(seeds, ns, &bud, st, 6, 5, query_mutation, LLVMFuzzerTestOneInput);
    fuzz_seeds_free(seeds, ns);
    fuzz_budget_report(&bud, "fuzz_query", r);
    fprintf(stderr, "fuzz_query: %ld of %ld inputs decoded as queries and answered\n", decoded,
            r + ns);
    if (decoded < ns) {
        fprintf(stderr, "fuzz_query: a seed did not decode\n");
        return 1;
    }
    return 0;
}
#endif
