/* bench_agent.c - ulma-agent throughput and memory.
 *
 *   BENCH agent_drain_rate <rec/s> rec/s
 *       drain + aggregate on one core: a segment ring filled by a synthetic
 *       producer writing a program-like stream (make_program: 300 functions
 *       in 6 layers of 50, every function calls 3 fixed functions of the
 *       next layer, the first of them hot (called in loops); 5 entry points;
 *       one function in ten of the last layers recurses up to 6 deep: about
 *       4,200 distinct call paths), drained with ulma_reader_drain into a
 *       profile; only the drain is timed. Median of 5 runs.
 *   BENCH agent_drain_rate_many_paths <rec/s> rec/s
 *       the same with an adversarial stream for a calling context tree:
 *       300 functions in 10 layers of 30, 3 random callees each, recursion:
 *       tens of thousands of distinct call paths, no hot loop.
 *   BENCH agent_drain_rate_replay_fib <rec/s> rec/s
 *       a synthetic replay of recursive fib's record stream (one code id,
 *       depth up to 19).
 *   BENCH agent_drain_rate_hooked_fib <rec/s> rec/s
 *       REAL hooked records: `python3 -m ulma --no-agent fib.py` (fib(27),
 *       about 1.6 million records) with ULMA_RING_SIZE=64M so that the
 *       segment keeps all of them; then a copy of that segment is drained
 *       into a profile (timed), 5 times; median.
 *   BENCH agent_saturated_ranks_per_core <N> ranks
 *       measured for real: one node agent (ulma-agent --dir TMP, TMP a private
 *       directory in /dev/shm, the tmpfs segments live in) pinned with
 *       taskset to CPU 0, and K hooked Python ranks running fib(30)
 *       (python3 -m ulma --no-agent, default ring size) pinned to the other
 *       CPUs; zero drops required (ulma-ctl drops). On 2 CPUs only K = 1
 *       fits (one core for the agent, one for the rank), so N is the largest
 *       K tested with zero drops.
 *   BENCH agent_ranks_per_core_computed <N> ranks
 *       hooked-fib drain rate / records per second one saturated hooked rank
 *       writes (measured from the real segment: records / its time span).
 *   BENCH agent_mem_per_proc_10k_funcs <KiB> KiB
 *       heap of one process's profile after 10,000 distinct functions were
 *       defined and called.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_args.h"
#include "profile.h"
#include "ulma/clock.h"
#include "ulma/reader.h"
#include "ulma/ring.h"
#include "ulma/segment.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (uint32_t)(rs >> 11);
}

/* A pattern of (kind, id, depth) that stays balanced: a random walk over
 * the call tree. */
typedef struct ev {
    uint8_t kind;
    uint32_t id;
    uint16_t depth;
} ev_t;

/* End a generated stream: return from every frame still open, then pad
 * to `n` records. */
static void close_stream(ev_t *e, size_t i, size_t n, const uint32_t *stack, int d)
{
    for (; d > 0; d--)
        e[i++] = (ev_t){ULMA_EV_RETURN, stack[d - 1], (uint16_t)d};
    for (; i < n; i++)
        e[i] = (ev_t){ULMA_EV_PAD, 0, 0};
}

static ev_t *make_mix(size_t n)
{
    /* a program-like call graph: 300 functions in 10 layers of 30; each
     * calls 3 fixed functions of the next layer (hot ones more often), and
     * one in ten may also call itself (recursion up to 3 deep) */
    enum { NF = 300, LAYER = 30, FANOUT = 3 };
    static uint32_t callee[NF + 1][FANOUT];
    for (uint32_t f = 1; f <= NF; f++) {
        uint32_t layer = (f - 1) / LAYER;
        for (int k = 0; k < FANOUT; k++)
            callee[f][k] = layer + 1 < NF / LAYER ? 1 + (layer + 1) * LAYER + rnd() % LAYER : 0;
    }
    ev_t *e = malloc(n * sizeof(*e));
    uint32_t stack[64];
    int d = 0;
    size_t i = 0;
    while (i + 80 < n) {
        if (d == 0) {
            stack[d++] = 1 + rnd() % LAYER;
            e[i++] = (ev_t){ULMA_EV_CALL, stack[0], 1};
            continue;
        }
        uint32_t top = stack[d - 1];
        uint32_t r = rnd() % 100;
        uint32_t next = 0;
        if (top % 10 == 0 && r < 30 && d < 60 && (d < 3 || stack[d - 3] != top))
            next = top; /* recursion */
        else if (r < 55 && callee[top][0])
            next = callee[top][rnd() % FANOUT];
        if (next) {
            stack[d++] = next;
            e[i++] = (ev_t){ULMA_EV_CALL, next, (uint16_t)d};
        } else {
            e[i++] = (ev_t){ULMA_EV_RETURN, top, (uint16_t)d};
            d--;
        }
    }
    close_stream(e, i, n, stack, d);
    return e;
}

/* A program-like stream (see the top comment): bounded call paths, hot
 * loops, bounded recursion. */
static ev_t *make_program(size_t n)
{
    enum { NF = 300, LAYER = 50, NLAYERS = 6, FANOUT = 3, ROOTS = 5 };
    static uint32_t callee[NF + 1][FANOUT];
    for (uint32_t f = 1; f <= NF; f++) {
        uint32_t layer = (f - 1) / LAYER;
        for (int k = 0; k < FANOUT; k++)
            callee[f][k] = layer + 1 < NLAYERS ? 1 + (layer + 1) * LAYER + rnd() % LAYER : 0;
    }
    ev_t *e = malloc(n * sizeof(*e));
    uint32_t stack[64];
    int d = 0, rec = 0;
    size_t i = 0;
    while (i + 80 < n) {
        if (d == 0) {
            stack[d++] = 1 + rnd() % ROOTS;
            e[i++] = (ev_t){ULMA_EV_CALL, stack[0], 1};
            continue;
        }
        uint32_t top = stack[d - 1];
        uint32_t r = rnd() % 100;
        uint32_t next = 0;
        if (top % 10 == 0 && top > 3 * LAYER && r < 40 && rec < 6) {
            next = top; /* recursion */
            rec++;
        } else if (r < 60 && callee[top][0]) {
            uint32_t k = rnd() % 8;
            next = callee[top][k < 6 ? 0 : k - 5]; /* the first callee is hot */
        }
        if (next) {
            stack[d++] = next;
            e[i++] = (ev_t){ULMA_EV_CALL, next, (uint16_t)d};
        } else {
            e[i++] = (ev_t){ULMA_EV_RETURN, top, (uint16_t)d};
            d--;
            if (d && stack[d - 1] == top && rec)
                rec--;
        }
    }
    close_stream(e, i, n, stack, d);
    return e;
}

static ev_t *make_fib(size_t n)
{
    ev_t *e = malloc(n * sizeof(*e));
    /* fib's call tree by an explicit walk: call at depth d, recurse twice */
    size_t i = 0;
    while (i < n) {
        /* one fib(18) tree at a time, so every tree is balanced */
        struct {
            int n, state;
        } st[64];
        int d = 0;
        st[d].n = 18;
        st[d].state = 0;
        d = 1;
        if (i + 40000 >= n)
            break;
        e[i++] = (ev_t){ULMA_EV_CALL, 1, 1};
        while (d > 0) {
            int k = d - 1;
            if (st[k].n < 2 || st[k].state == 2) {
                e[i++] = (ev_t){ULMA_EV_RETURN, 1, (uint16_t)d};
                d--;
                if (d)
                    st[d - 1].state++;
                continue;
            }
            st[d].n = st[k].n - 1 - st[k].state;
            st[d].state = 0;
            d++;
            e[i++] = (ev_t){ULMA_EV_CALL, 1, (uint16_t)d};
        }
    }
    for (; i < n; i++)
        e[i] = (ev_t){ULMA_EV_PAD, 0, 0};
    return e;
}

static char dir[256];

static ulma_segment_t *new_segment(void)
{
    ulma_segment_opts_t o;
    ulma_segment_opts_init(&o);
    o.dir = dir;
    o.nslots = 2;
    ulma_segment_t *seg = NULL;
    if (ulma_segment_create(&o, &seg) != 0) {
        fprintf(stderr, "bench_agent: cannot create a segment in %s\n", dir);
        exit(1);
    }
    return seg;
}

static int on_batch(void *ctx, unsigned slot, const ulma_rec_t *recs, size_t n)
{
    return prof_consume(ctx, slot, recs, n);
}

static void put_defs(ulma_producer_t *pr, uint32_t nfuncs)
{
    char name[64];
    for (uint32_t i = 1; i <= nfuncs; i++) {
        int n = snprintf(name, sizeof(name), "module.Class.function_%u", i);
        ulma_put_def_code(pr, ULMA_EV_DEF_CODE, i, i * 10, name, (size_t)n, "/path/to/app.py", 15);
    }
}

/* Drain rate of a pattern: fill the ring (untimed), drain (timed). */
static uint32_t last_paths; /* CCT nodes of the last drain_rate run */

static double drain_rate(const ev_t *pat, size_t npat, uint64_t total)
{
    ulma_segment_t *seg = new_segment();
    ulma_producer_t pr;
    ulma_producer_attach(seg, &pr, 1, "bench");
    ulma_reader_t *rd = NULL;
    if (ulma_reader_open(ulma_segment_path(seg), &rd) != 0)
        exit(1);
    prof_t *p = prof_new(NULL, 2);
    put_defs(&pr, 300);
    ulma_reader_drain(rd, on_batch, p, 0);
    uint64_t cap = ulma_reader_info(rd)->ring_bytes / ULMA_UNIT - 64;
    uint64_t done = 0, tsc = 1000;
    size_t at = 0;
    double t_drain = 0;
    while (done < total) {
        for (uint64_t k = 0; k < cap; k++) {
            const ev_t *e = &pat[at];
            at = at + 1 == npat ? 0 : at + 1;
            if (e->kind == ULMA_EV_PAD)
                continue;
            ulma_put(&pr, tsc, e->kind, e->id, e->depth);
            tsc += 7;
        }
        double t0 = now_s();
        long n = ulma_reader_drain(rd, on_batch, p, 0);
        t_drain += now_s() - t0;
        done += (uint64_t)n;
    }
    if (ulma_reader_total_dropped(rd) || prof_total_resyncs(p)) {
        fprintf(stderr, "bench_agent: unexpected drops/resyncs (%llu, %llu)\n", (unsigned long long)ulma_reader_total_dropped(rd), (unsigned long long)prof_total_resyncs(p));
        exit(1);
    }
    last_paths = p->nnodes - 1;
    prof_destroy(&p);
    ulma_reader_destroy(&rd);
    ulma_segment_destroy(&seg, 1);
    return (double)done / t_drain;
}

/* ---- real hooked records ------------------------------------------------------ */

static const char *build_dir(void)
{
    const char *b = getenv("ULMA_BUILD_DIR");
    return b && *b ? b : ULMA_BUILD_DIR_DEFAULT;
}

static const char *python(void)
{
    const char *py = getenv("PYTHON");
    return py && *py ? py : "/usr/bin/python3";
}

static void write_fib(const char *path, int n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        exit(1);
    fprintf(f, "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\nfib(%d)\n", n);
    fclose(f);
}

/* The one segment file in `d` (name into out); exits if there is none. */
static void find_segment(const char *d, char *out, size_t len)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "ls %s | grep '^ulma\\..*\\.seg$' | head -1", d);
    FILE *f = popen(cmd, "r");
    char name[512] = "";
    if (!f || !fgets(name, sizeof(name), f)) {
        fprintf(stderr, "bench_agent: the hooked run left no segment in %s\n", d);
        exit(1);
    }
    pclose(f);
    name[strcspn(name, "\n")] = '\0';
    snprintf(out, len, "%s/%s", d, name);
}

static double hooked_rank_rate; /* records/s one hooked fib rank writes */

/* Drain rate of real hooked fib records (median of 5), see the top. */
static double hooked_fib_rate(void)
{
    char hd[400], prog[500], cmd[4096], seg[1024], copy[1100];
    snprintf(hd, sizeof(hd), "%s/hooked", dir);
    mkdir(hd, 0700);
    snprintf(prog, sizeof(prog), "%s/fib.py", hd);
    write_fib(prog, 27);
    snprintf(cmd, sizeof(cmd),
             "cd %s && ULMA_DIR=%s ULMA_SLOTS=4 ULMA_RING_SIZE=64M PYTHONPATH=%s/python %s -m ulma "
             "--no-agent %s",
             hd, hd, build_dir(), python(), prog);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_agent: the hooked python run failed (%s); build the python side "
                        "(it is part of this build)\n", cmd);
        exit(1);
    }
    find_segment(hd, seg, sizeof(seg));
    snprintf(copy, sizeof(copy), "%s/copy.bin", hd);
    double r[5];
    uint64_t events = 0;
    for (int i = 0; i < 5; i++) {
        snprintf(cmd, sizeof(cmd), "cp %s %s", seg, copy);
        if (system(cmd) != 0)
            exit(1);
        ulma_reader_t *rd = NULL;
        if (ulma_reader_open(copy, &rd) != 0)
            exit(1);
        prof_t *p = prof_new(NULL, ulma_reader_info(rd)->nslots);
        p->hz = ulma_reader_hz(rd);
        double t0 = now_s();
        long n = ulma_reader_drain(rd, on_batch, p, 0);
        r[i] = (double)n / (now_s() - t0);
        if (ulma_reader_total_dropped(rd) || n < 1000000) {
            fprintf(stderr, "bench_agent: hooked segment: %ld units, %llu dropped\n", n,
                    (unsigned long long)ulma_reader_total_dropped(rd));
            exit(1);
        }
        events = p->events;
        double span = prof_sec(p, prof_span(p));
        hooked_rank_rate = span > 0 ? (double)events / span : 0;
        prof_destroy(&p);
        ulma_reader_destroy(&rd);
        unlink(copy);
    }
    qsort(r, 5, sizeof(double), cmp_d);
    printf("hooked fib(27): %llu records, written at %.1f M rec/s by the rank; drained at "
           "%.1f M rec/s (runs %.1f .. %.1f)\n",
           (unsigned long long)events, hooked_rank_rate / 1e6, r[2] / 1e6, r[0] / 1e6, r[4] / 1e6);
    unlink(seg);
    unlink(prog);
    rmdir(hd);
    return r[2];
}

/* One node agent on CPU 0, `k` hooked fib(30) ranks on the other CPUs:
 * records lost (from ulma-ctl drops), or UINT64_MAX if it did not run. */
static uint64_t saturated(int k, long cores)
{
    char nd[400], prog[500], cmd[4096];
    /* segments live in tmpfs in real use (/dev/shm): a private directory
     * there, since on a disk-backed directory the reader's first touch of
     * every slot header is a major fault (a default segment has 64) */
    snprintf(nd, sizeof(nd), "/dev/shm/ulma-bench-node-XXXXXX");
    if (!mkdtemp(nd))
        snprintf(nd, sizeof(nd), "%s/node", dir);
    mkdir(nd, 0700);
    snprintf(prog, sizeof(prog), "%s/fib.py", nd);
    write_fib(prog, 30);
    pid_t a = fork();
    if (a == 0) {
        snprintf(cmd, sizeof(cmd), "exec taskset -c 0 %s/node-agent/ulma-agent --dir %s --keep 600",
                 build_dir(), nd);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    char sock[500];
    snprintf(sock, sizeof(sock), "%s/ulma-agent.ipc", nd);
    for (int i = 0; i < 500 && access(sock, F_OK) != 0; i++)
        usleep(10000);
    size_t o = 0;
    o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, "cd %s && ", nd);
    for (int i = 0; i < k; i++)
        o += (size_t)snprintf(cmd + o, sizeof(cmd) - o,
                              "ULMA_DIR=%s PYTHONPATH=%s/python taskset -c %ld %s -m ulma "
                              "--no-agent %s & ",
                              nd, build_dir(), 1 + i % (cores - 1), python(), prog);
    snprintf(cmd + o, sizeof(cmd) - o, "wait");
    double t0 = now_s();
    int rc = system(cmd);
    double el = now_s() - t0;
    /* the agent harvests the exited segments */
    for (int i = 0; i < 1000; i++) {
        char seg[1024];
        snprintf(cmd, sizeof(cmd), "ls %s | grep -q '^ulma\\..*\\.seg$'", nd);
        if (system(cmd) != 0)
            break;
        (void)seg;
        usleep(10000);
    }
    snprintf(cmd, sizeof(cmd), "%s/node-agent/ulma-ctl --dir %s --json drops", build_dir(), nd);
    FILE *f = popen(cmd, "r");
    char buf[65536];
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        pclose(f);
    buf[n] = '\0';
    kill(a, SIGTERM);
    waitpid(a, NULL, 0);
    unlink(prog);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", nd);
    if (system(cmd) != 0)
        return UINT64_MAX;
    char *last = NULL;
    for (char *q = strstr(buf, "\"records_lost\":"); q; q = strstr(q + 1, "\"records_lost\":"))
        last = q;
    if (rc != 0 || !last)
        return UINT64_MAX;
    uint64_t lost = strtoull(last + 15, NULL, 10);
    printf("node agent on CPU 0, %d hooked fib(30) rank(s) on the other CPU(s): %.2f s, "
           "%llu records lost\n", k, el, (unsigned long long)lost);
    return lost;
}

/* ---- memory ---------------------------------------------------------------------- */

static double mem_10k(void)
{
    ulma_segment_t *seg = new_segment();
    ulma_producer_t pr;
    ulma_producer_attach(seg, &pr, 1, "bench");
    ulma_reader_t *rd = NULL;
    if (ulma_reader_open(ulma_segment_path(seg), &rd) != 0)
        exit(1);
    malloc_trim(0);
    struct mallinfo2 m0 = mallinfo2();
    prof_t *p = prof_new(NULL, 2);
    uint64_t tsc = 1;
    char name[64];
    ulma_put(&pr, tsc++, ULMA_EV_CALL, 10001, 1);
    for (uint32_t i = 1; i <= 10000; i++) {
        int n = snprintf(name, sizeof(name), "package.module.Class.function_%u", i);
        ulma_put_def_code(&pr, ULMA_EV_DEF_CODE, i, i, name, (size_t)n,
                          "/home/user/project/package/module.py", 36);
        ulma_put(&pr, tsc++, ULMA_EV_CALL, i, 2);
        ulma_put(&pr, tsc++, ULMA_EV_RETURN, i, 2);
        if (i % 1000 == 0)
            ulma_reader_drain(rd, on_batch, p, 0);
    }
    ulma_put(&pr, tsc++, ULMA_EV_RETURN, 10001, 1);
    ulma_reader_drain(rd, on_batch, p, 0);
    struct mallinfo2 m1 = mallinfo2();
    double kib = (double)(m1.uordblks - m0.uordblks + m1.hblkhd - m0.hblkhd) / 1024.0;
    if (p->nfuncs < 10001)
        exit(1);
    prof_destroy(&p);
    ulma_reader_destroy(&rd);
    ulma_segment_destroy(&seg, 1);
    return kib;
}

static double median5(const ev_t *pat, size_t npat, const char *what, uint32_t *paths)
{
    double r[5];
    for (int i = 0; i < 5; i++)
        r[i] = drain_rate(pat, npat, 20000000);
    qsort(r, 5, sizeof(double), cmp_d);
    *paths = last_paths;
    printf("drain + aggregate, one core, %s: %.1f M rec/s (runs %.1f .. %.1f), %u call paths\n",
           what, r[2] / 1e6, r[0] / 1e6, r[4] / 1e6, last_paths);
    return r[2];
}

static const char usage_line[] = "usage: bench_agent [-h]\n";

static void help(void)
{
    fputs("NAME\n"
          "    bench_agent - ulma-agent's drain rate, how many saturated ranks one agent\n"
          "    core keeps up with, and a profile's memory\n\n"
          "SYNOPSIS\n"
          "    bench_agent\n\n"
          "DESCRIPTION\n"
          "    Drain rates: a segment ring filled by a producer in this process (not\n"
          "    timed), then drained with ulma_reader_drain into a profile as the agent\n"
          "    does (timed), on one core, until 20,000,000 records have gone through;\n"
          "    the median of 5 runs, in records per second, for three synthetic\n"
          "    streams:\n"
          "      program-like    300 functions in 6 layers of 50, each calling 3 fixed\n"
          "                      functions of the next layer, the first of them hot;\n"
          "                      5 entry points; one function in ten of the last\n"
          "                      layers recursing up to 6 deep (some 4,200 call paths)\n"
          "      many call paths 300 functions in 10 layers of 30, 3 random callees\n"
          "                      each, recursion, no hot loop: tens of thousands of\n"
          "                      call paths (the worst case of a calling context tree)\n"
          "      fib replay      recursive fib's stream: one function, depth up to 19\n"
          "    and for real hooked records: `$PYTHON -m ulma --no-agent fib.py` (fib(27),\n"
          "    over a million records, ULMA_RING_SIZE=64M so that the segment keeps\n"
          "    them all), a copy of its segment drained into a profile 5 times.\n\n"
          "    Saturated ranks: one node agent (ulma-agent --dir D, D a new directory\n"
          "    in /dev/shm) pinned to CPU 0 with taskset, and K hooked ranks running\n"
          "    fib(30) ($PYTHON -m ulma --no-agent, the default ring size) pinned to\n"
          "    the other CPUs, for K = 1, 2, ... up to the number of CPUs less one,\n"
          "    until ulma-ctl drops reports lost records: the figure is the largest K\n"
          "    with none lost (on 2 CPUs only K = 1 can be tried). Computed beside it:\n"
          "    the hooked-fib drain rate over the rate at which one saturated rank\n"
          "    writes records (from the fib(27) segment: its records over their time\n"
          "    span).\n\n"
          "    Memory: the heap a profile grows by (mallinfo2) when one process has\n"
          "    defined and called 10,000 distinct functions; the median of 3.\n\n"
          "    Needs the build's python side, node-agent/ulma-agent and\n"
          "    node-agent/ulma-ctl (built with this program), and taskset.\n\n"
          "OPTIONS\n"
          "    -h, --help\n"
          "        Show this text and exit.\n\n"
          "ENVIRONMENT\n"
          "    ULMA_BUILD_DIR\n"
          "        The build holding python/, node-agent/ulma-agent and\n"
          "        node-agent/ulma-ctl (default: " ULMA_BUILD_DIR_DEFAULT ").\n"
          "    PYTHON\n"
          "        The interpreter of the hooked runs (default: /usr/bin/python3).\n"
          "    TMPDIR\n"
          "        Where the synthetic segments and the hooked run's segment go, in a\n"
          "        new directory removed at the end (default: /tmp).\n\n"
          "OUTPUT\n"
          "    A line per measurement for the reader, and:\n"
          "        BENCH agent_drain_rate RATE rec/s              program-like stream\n"
          "        BENCH agent_drain_rate_many_paths RATE rec/s   many call paths\n"
          "        BENCH agent_drain_rate_replay_fib RATE rec/s   fib replay\n"
          "        BENCH agent_drain_rate_hooked_fib RATE rec/s   real hooked records\n"
          "        BENCH agent_saturated_ranks_per_core N ranks   measured\n"
          "        BENCH agent_ranks_per_core_computed N ranks    computed\n"
          "        BENCH agent_mem_per_proc_10k_funcs KIB KiB     memory\n\n"
          "EXIT STATUS\n"
          "    0 success; 1 a segment could not be made or read, the hooked run\n"
          "    failed, or a drain lost records; 2 a usage error.\n\n"
          "SEE ALSO\n"
          "    tests/bench/run agent, bench_agent_objects --help\n",
          stdout);
}

int main(int argc, char **argv)
{
    int rc = bench_no_args(argc, argv, "bench_agent", usage_line, help);
    if (rc >= 0)
        return rc;
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/ulma-bench-agent-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir))
        return 1;
    const size_t npat = 1u << 20;
    ev_t *prog = make_program(npat), *mix = make_mix(npat), *fib = make_fib(npat);
    uint32_t paths;
    double r_prog = median5(prog, npat, "program-like stream", &paths);
    double r_mix = median5(mix, npat, "many call paths", &paths);
    double r_fib = median5(fib, npat, "fib replay", &paths);
    double r_hooked = hooked_fib_rate();
    printf("BENCH agent_drain_rate %.0f rec/s\n", r_prog);
    printf("BENCH agent_drain_rate_many_paths %.0f rec/s\n", r_mix);
    printf("BENCH agent_drain_rate_replay_fib %.0f rec/s\n", r_fib);
    printf("BENCH agent_drain_rate_hooked_fib %.0f rec/s\n", r_hooked);

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int best = 0;
    for (int k = 1; k <= (cores > 1 ? cores - 1 : 0); k++) {
        if (saturated(k, cores) != 0)
            break;
        best = k;
    }
    printf("one agent core, %ld CPUs: largest number of saturated ranks tested at zero drops: "
           "%d (only %ld CPU(s) left for ranks)\n", cores, best, cores - 1);
    printf("BENCH agent_saturated_ranks_per_core %d ranks\n", best);
    double computed = hooked_rank_rate > 0 ? r_hooked / hooked_rank_rate : 0;
    printf("computed: hooked-fib drain rate / one saturated rank's rate (%.1f M rec/s) = %.1f\n",
           hooked_rank_rate / 1e6, computed);
    printf("BENCH agent_ranks_per_core_computed %.1f ranks\n", computed);

    double mem[3];
    for (int i = 0; i < 3; i++)
        mem[i] = mem_10k();
    qsort(mem, 3, sizeof(double), cmp_d);
    printf("profile heap with 10,000 functions: %.0f KiB\n", mem[1]);
    printf("BENCH agent_mem_per_proc_10k_funcs %.0f KiB\n", mem[1]);
    free(prog);
    free(mix);
    free(fib);
    rmdir(dir);
    return 0;
}
