/*
 * bench_collector_query.c - the collector's answers on a large store, in
 * one process (no sockets, no load generator competing for the CPU): N
 * nodes (default 64, 256, 1024; or argv) x 16 ranks x 2000 functions, one
 * job, fed by the real report sender (a snapshot, then deltas changing 10%
 * of the rows); then each query kind a dashboard asks every refresh is
 * answered 21 times and timed (wall and CPU of this thread; the first
 * answer, which warms caches and the allocator, left out): TOP of the
 * cluster and of the job with the spread over every rank (50 rows),
 * IMBALANCE of the job (20 rows x 64 ranks), FUNCTION at job scope (every
 * rank's value), NODES, RANKS, SUMMARY. TOP is timed twice: the first
 * answer of an interval (spreads computed: a new interval before each
 * answer) and again within the interval (spreads kept, as for a dashboard
 * refreshing faster than the interval, or a second dashboard).
 *
 * While building, the decoding and merging of each report is timed (CPU of
 * this thread): a node's first snapshot, its deltas (10% of rows changing)
 * and a later snapshot (onto the rows it replaces). With one report per
 * node per second and a snapshot every 10, the collector's CPU for merging
 * is N x (0.9 delta + 0.1 snapshot) per second, printed as
 * collector_ingest_cores_N (no sockets: what the load generators and the
 * machine's other work cannot disturb, beyond caches).
 *
 * Prints, per size N and query Q: BENCH collector_q_<Q>_ms_N (median wall)
 * and a line with median and max, wall and CPU.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_args.h"
#include "query.h"
#include "store_int.h"
#include "view.h"
#include "wire/sender.h"

#define RANKS 16
#define FUNCS 2000
#define ROUNDS 21

static double thread_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double wall_ms(void) { return (double)now_ns() / 1e6; }

/* Resident memory of this process now (MiB), from /proc/self/statm. */
static double rss_mib(void)
{
    unsigned long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (double)res * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double ingest_ms[3]; /* first snapshot, delta, later snapshot: CPU summed */
static uint64_t ingest_n[3];

static void deliver(store_t *s, sbuf_t *b, uint64_t now, int kind)
{
    double c0 = thread_ms();
    wire_refusal_t why;
    Ulma__Wire__AgentMsg *m = wire_agent_msg(b->data, b->len, &why);
    if (!m) {
        fprintf(stderr, "bench_collector_query: a report did not decode\n");
        exit(1);
    }
    store_action_t act;
    if (store_report(s, m->report, now, "p", 1, &act) != 0) {
        fprintf(stderr, "bench_collector_query: a report was not applied\n");
        exit(1);
    }
    protobuf_c_message_free_unpacked(&m->base, NULL);
    ingest_ms[kind] += thread_ms() - c0;
    ingest_n[kind]++;
}

/* N nodes, each one report sender over RANKS processes of FUNCS rows. */
static store_t *build(uint32_t nodes)
{
    store_config_t c;
    memset(&c, 0, sizeof(c));
    c.interval_ns = 1000000000ull;
    c.gone_ns = 3600ull * 1000000000ull;
    c.keep_ns = 3600ull * 1000000000ull;
    c.history = 600;
    c.rate_points = 61;
    store_limits_default(&c.lim);
    store_t *s = store_new(&c);
    uint32_t *idx = xmalloc(sizeof(uint32_t) * FUNCS);
    pf_counts_t *rows = xcalloc((size_t)RANKS * FUNCS, sizeof(*rows));
    char fname[32];
    uint64_t now = now_ns();
    for (uint32_t n = 0; n < nodes; n++) {
        char name[32];
        snprintf(name, sizeof(name), "node%05u", n);
        wire_node_info_t ni = {name, name, "bench", "/dev/shm", 16, 1, 1};
        wire_sender_t *snd = wire_sender_new(&ni, 0, 1000000000ull);
        for (uint32_t f = 0; f < FUNCS; f++) {
            pf_func_t pf;
            memset(&pf, 0, sizeof(pf));
            snprintf(fname, sizeof(fname), "f%u", f);
            pf.file.s = "/app/model.py";
            pf.file.len = 13;
            pf.name.s = fname;
            pf.name.len = (uint32_t)strlen(fname);
            pf.qualname = pf.name;
            pf.line = 10 + f;
            idx[f] = wire_sender_name(snd, &pf);
        }
        memset(rows, 0, sizeof(*rows) * RANKS * FUNCS);
        for (int round = 0; round < 4; round++) {
            int snap = round == 0 || round == 3;
            wire_sender_begin(snd, snap, round == 0);
            for (uint32_t r = 0; r < RANKS; r++) {
                pf_meta_t m;
                memset(&m, 0, sizeof(m));
                m.pid = 1000 + (int32_t)r;
                m.start_time = 7;
                m.rank = (int32_t)(n * RANKS + r);
                m.size = (int32_t)(nodes * RANKS);
                snprintf(m.job, sizeof(m.job), "job1");
                snprintf(m.exe, sizeof(m.exe), "python3");
                m.state = PF_STATE_LIVE;
                m.active_mode = 1;
                pf_counts_t *c0 = rows + (size_t)r * FUNCS;
                for (uint32_t f = 0; f < FUNCS; f++) {
                    if (round && rnd() % 10)
                        continue;
                    uint64_t k = 1 + rnd() % 50;
                    c0[f].ncalls += k;
                    c0[f].pcalls += k;
                    c0[f].tottime_ns += (int64_t)(k * (100 + rnd() % 3000));
                    c0[f].cumtime_ns = c0[f].tottime_ns + (int64_t)(rnd() % 100000);
                }
                wire_sender_process_rows(snd, &m, NULL, FUNCS, idx, c0, NULL);
            }
            sbuf_t b = {0};
            wire_sender_end(snd, NULL, &b);
            wire_sender_sent(snd);
            deliver(s, &b, now, round == 0 ? 0 : round == 3 ? 2 : 1);
            sbuf_free(&b);
        }
        wire_sender_destroy(&snd);
    }
    free(idx);
    free(rows);
    store_tick(s, now, wall_ns());
    store_tick(s, now + 1000000000ull, wall_ns());
    return s;
}

/* `fresh`: a new interval before each answer (store_tick), so that nothing
 * the views keep for the interval (spreads) is used. */
static void bench(store_t *s, uint32_t nodes, const char *label, Ulma__Wire__Kind kind,
                  Ulma__Wire__Scope *sc, uint32_t limit, const char *func, int fresh)
{
    const char *only = getenv("BENCH_ONLY"); /* one query kind, for a profiler */
    if (only && strcmp(only, label) != 0)
        return;
    query_env_t env = {s, 0, 1.0};
    double wall[ROUNDS], cpu[ROUNDS];
    uint32_t rows = 0;
    for (int i = 0; i < ROUNDS; i++) {
        Ulma__Wire__Query q = ULMA__WIRE__QUERY__INIT;
        q.version = WIRE_VERSION;
        q.kind = kind;
        q.scope = sc;
        q.limit = limit;
        q.func = (char *)func;
        q.ranks = 64;
        wire_answer_t w;
        if (fresh)
            store_tick(s, now_ns(), wall_ns());
        double w0 = wall_ms(), c0 = thread_ms();
        wire_answer_init(&w, 1);
        query_route_t route;
        query_run(&env, &q, &w, &route);
        sbuf_t b = {0};
        wire_answer_pack(&w, &b); /* the bytes the dashboard gets */
        wall[i] = wall_ms() - w0;
        cpu[i] = thread_ms() - c0;
        if (!w.r.ok) {
            fprintf(stderr, "bench_collector_query: %s: %s\n", label, w.r.error);
            exit(1);
        }
        rows = w.r.table ? (uint32_t)w.r.table->n_rows : 0;
        sbuf_free(&b);
        wire_answer_free(&w);
    }
    qsort(wall + 1, ROUNDS - 1, sizeof(double), dcmp);
    qsort(cpu + 1, ROUNDS - 1, sizeof(double), dcmp);
    printf("%u nodes: %-15s median %8.3f ms (CPU %8.3f), max %8.3f ms (CPU %8.3f)%s\n", nodes,
           label, wall[ROUNDS / 2], cpu[ROUNDS / 2], wall[ROUNDS - 1], cpu[ROUNDS - 1],
           rows ? "" : "");
    printf("BENCH collector_q_%s_ms_%u %.3f ms\n", label, nodes, wall[ROUNDS / 2]);
}

static const char usage_line[] = "usage: bench_collector_query [-h] [NODES...]\n";

static void help(void)
{
    fputs("NAME\n"
          "    bench_collector_query - the collector's answers and merging on a large\n"
          "    store, in one process\n\n"
          "SYNOPSIS\n"
          "    bench_collector_query [NODES...]\n\n"
          "DESCRIPTION\n"
          "    For each size, a collector store of NODES nodes x 16 ranks x 2000\n"
          "    functions, one job, is fed by the real report sender (per node a\n"
          "    snapshot, two deltas changing 10% of the rows, then a later snapshot),\n"
          "    with no sockets and no load generator competing for the CPU. Then each\n"
          "    query a dashboard asks every refresh is answered 21 times, packed as\n"
          "    the dashboard gets it, and timed (wall clock and CPU of this thread;\n"
          "    the first answer, which warms the caches and the allocator, left out):\n"
          "      top, job_top    TOP of the cluster and of the job, 50 rows with the\n"
          "                      spread over every rank, each the first answer of an\n"
          "                      interval (spreads computed anew)\n"
          "      top_again, job_top_again\n"
          "                      the same within the interval (spreads kept, as for a\n"
          "                      dashboard refreshing faster than the interval, or a\n"
          "                      second dashboard)\n"
          "      imbalance       IMBALANCE of the job, 20 rows x 64 ranks\n"
          "      function        FUNCTION at job scope (every rank's value)\n"
          "      nodes, ranks, summary\n"
          "                      NODES, RANKS of the job, SUMMARY\n\n"
          "    While the store is built, decoding and merging each report is timed\n"
          "    (CPU of this thread): a node's first snapshot, its deltas and its later\n"
          "    snapshot (onto the rows it replaces); and the once-per-interval work\n"
          "    (store_tick, median of 21). With one report per node per second and a\n"
          "    snapshot every 10, the collector's CPU for merging is\n"
          "    NODES x (0.9 delta + 0.1 snapshot) + a tick per second: the\n"
          "    collector_ingest_cores figure, which the load generators and the\n"
          "    machine's other work cannot disturb (beyond the caches).\n\n"
          "ARGUMENTS\n"
          "    NODES...\n"
          "        Up to 8 sizes, each a number of nodes of at least 1 (default: 64\n"
          "        256 1024).\n\n"
          "OPTIONS\n"
          "    -h, --help\n"
          "        Show this text and exit.\n\n"
          "ENVIRONMENT\n"
          "    BENCH_ONLY\n"
          "        Answer only this query (one of the names above, e.g. top), for a\n"
          "        profiler; the store is built all the same.\n\n"
          "OUTPUT\n"
          "    Per size N: a line on the store (build time, resident memory), one on\n"
          "    the merging, one per query (median and max, wall and CPU), and:\n"
          "        BENCH collector_store_mib_N MIB MiB            the store's memory\n"
          "        BENCH collector_tick_ms_N MS ms                a tick (CPU)\n"
          "        BENCH collector_ingest_delta_ms_N MS ms        a delta merged (CPU)\n"
          "        BENCH collector_ingest_snapshot_ms_N MS ms     a later snapshot (CPU)\n"
          "        BENCH collector_ingest_cores_N CORES cores     at 1 report/s\n"
          "        BENCH collector_q_Q_ms_N MS ms                 query Q (median wall)\n\n"
          "EXIT STATUS\n"
          "    0 success; 1 a report did not decode or apply, or a query failed;\n"
          "    2 a usage error.\n\n"
          "SEE ALSO\n"
          "    tests/bench/run collector_query, bench_collector --help\n",
          stdout);
}

int main(int argc, char **argv)
{
    uint32_t sizes[8] = {64, 256, 1024}, ns = 3;
    int given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end;
        if (bench_is_help(a)) {
            help();
            return 0;
        }
        if (bench_option_error("bench_collector_query", a, usage_line))
            return 2;
        if (!given)
            ns = 0;
        given = 1;
        if (ns == 8) {
            fprintf(stderr, "bench_collector_query: at most 8 sizes, not %d\n%s", argc - 1,
                    usage_line);
            return 2;
        }
        errno = 0;
        unsigned long v = strtoul(a, &end, 10);
        if (!isdigit((unsigned char)a[0]) || *end || errno || v < 1 || v > UINT32_MAX / RANKS) {
            fprintf(stderr, "bench_collector_query: NODES is a number of at least 1, not '%s'\n%s",
                    a, usage_line);
            return 2;
        }
        sizes[ns++] = (uint32_t)v;
    }
    for (uint32_t k = 0; k < ns; k++) {
        double t0 = wall_ms(), m0 = rss_mib();
        memset(ingest_ms, 0, sizeof(ingest_ms));
        memset(ingest_n, 0, sizeof(ingest_n));
        store_t *s = build(sizes[k]);
        double mem = rss_mib() - m0;
        printf("%u nodes x %d ranks x %d functions: built in %.1f s, the store %.0f MiB resident\n",
               sizes[k], RANKS, FUNCS, (wall_ms() - t0) / 1e3, mem);
        printf("BENCH collector_store_mib_%u %.0f MiB\n", sizes[k], mem);
        double per[3];
        for (int i = 0; i < 3; i++)
            per[i] = ingest_n[i] ? ingest_ms[i] / (double)ingest_n[i] : 0;
        double tick[ROUNDS];
        for (int i = 0; i < ROUNDS; i++) { /* the once-per-interval work */
            double c0 = thread_ms();
            store_tick(s, now_ns(), wall_ns());
            tick[i] = thread_ms() - c0;
        }
        qsort(tick, ROUNDS, sizeof(double), dcmp);
        double cores = (sizes[k] * (0.9 * per[1] + 0.1 * per[2]) + tick[ROUNDS / 2]) / 1e3;
        printf("%u nodes: a report decoded and merged in %.3f ms (first snapshot), %.3f ms "
               "(delta), %.3f ms (snapshot); a tick %.3f ms: %.3f cores at 1 report/s\n",
               sizes[k], per[0], per[1], per[2], tick[ROUNDS / 2], cores);
        printf("BENCH collector_tick_ms_%u %.3f ms\n", sizes[k], tick[ROUNDS / 2]);
        printf("BENCH collector_ingest_delta_ms_%u %.3f ms\n", sizes[k], per[1]);
        printf("BENCH collector_ingest_snapshot_ms_%u %.3f ms\n", sizes[k], per[2]);
        printf("BENCH collector_ingest_cores_%u %.3f cores\n", sizes[k], cores);
        Ulma__Wire__Scope cl = ULMA__WIRE__SCOPE__INIT, job = ULMA__WIRE__SCOPE__INIT;
        job.level = ULMA__WIRE__SCOPE__LEVEL__JOB;
        job.job = "job1";
        bench(s, sizes[k], "top", ULMA__WIRE__KIND__TOP, &cl, 50, NULL, 1);
        bench(s, sizes[k], "top_again", ULMA__WIRE__KIND__TOP, &cl, 50, NULL, 0);
        bench(s, sizes[k], "job_top", ULMA__WIRE__KIND__TOP, &job, 50, NULL, 1);
        bench(s, sizes[k], "job_top_again", ULMA__WIRE__KIND__TOP, &job, 50, NULL, 0);
        bench(s, sizes[k], "imbalance", ULMA__WIRE__KIND__IMBALANCE, &job, 20, NULL, 1);
        bench(s, sizes[k], "function", ULMA__WIRE__KIND__FUNCTION, &job, 50, "f3", 1);
        bench(s, sizes[k], "nodes", ULMA__WIRE__KIND__NODES, &cl, 50, NULL, 1);
        bench(s, sizes[k], "ranks", ULMA__WIRE__KIND__RANKS, &job, 50, NULL, 1);
        bench(s, sizes[k], "summary", ULMA__WIRE__KIND__SUMMARY, &cl, 0, NULL, 1);
        store_destroy(&s);
    }
    return 0;
}
