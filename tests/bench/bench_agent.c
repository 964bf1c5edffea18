/* bench_agent.c - ulma-agent throughput and memory.
 *
 *   BENCH agent_drain_rate <rec/s> rec/s
 *       drain + aggregate on one core: a segment ring filled by a synthetic
 *       producer (a program-like call graph of 300 functions in 10 layers,
 *       3 callees each, with recursion), drained with
 *       ulma_reader_drain into a profile; only the drain is timed. Median
 *       of 5 runs.
 *   BENCH agent_drain_rate_replay_fib <rec/s> rec/s
 *       the same with the record stream of recursive fib as the hooks write
 *       it (one code id, depth up to 25).
 *   BENCH agent_saturated_ranks_per_core <N> ranks
 *       how many saturated producers one agent core keeps up with at zero
 *       drops with the default ring size: producers paced at the rate of a
 *       saturated hooked Python rank (ULMA_BENCH_RANK_RATE, default 30e6
 *       rec/s, about what the fast mode writes for call-bound code), run
 *       concurrently with one draining thread; N = floor(drain rate / rank
 *       rate), checked for real with as many concurrent producers as this
 *       machine has spare cores (reported as agent_concurrent_zero_drop).
 *   BENCH agent_mem_per_proc_10k_funcs <KiB> KiB
 *       heap of one process's profile after 10,000 distinct functions were
 *       defined and called.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profile.h"
#include "report.h"
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
    while (d) {
        e[i++] = (ev_t){ULMA_EV_RETURN, stack[d - 1], (uint16_t)d};
        d--;
    }
    for (; i < n; i++)
        e[i] = (ev_t){ULMA_EV_PAD, 0, 0};
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
    prof_destroy(&p);
    ulma_reader_destroy(&rd);
    ulma_segment_destroy(&seg, 1);
    return (double)done / t_drain;
}

/* ---- concurrent: paced producers and one draining thread ------------------- */

typedef struct prod_arg {
    const ev_t *pat;
    size_t npat;
    double rate, seconds;
    ulma_segment_t *seg;
    uint64_t written;
} prod_arg_t;

static atomic_int stop_drain;

static void *producer(void *arg)
{
    prod_arg_t *a = arg;
    ulma_producer_t pr;
    ulma_producer_attach(a->seg, &pr, 2, "rank");
    put_defs(&pr, 300);
    double t0 = now_s();
    size_t at = 0;
    uint64_t n = 0;
    for (;;) {
        double el = now_s() - t0;
        if (el >= a->seconds)
            break;
        uint64_t due = (uint64_t)(el * a->rate);
        while (n < due) {
            const ev_t *e = &a->pat[at];
            at = at + 1 == a->npat ? 0 : at + 1;
            if (e->kind == ULMA_EV_PAD)
                continue;
            ulma_put(&pr, ulma_clock_read(), e->kind, e->id, e->depth);
            n++;
        }
    }
    a->written = n;
    return NULL;
}

typedef struct drain_arg {
    ulma_reader_t **rd;
    prof_t **p;
    int n;
} drain_arg_t;

static void *drainer(void *arg)
{
    drain_arg_t *d = arg;
    while (!atomic_load(&stop_drain)) {
        long got = 0;
        for (int i = 0; i < d->n; i++)
            got += ulma_reader_drain(d->rd[i], on_batch, d->p[i], 0);
        if (!got)
            usleep(200);
    }
    for (int i = 0; i < d->n; i++)
        ulma_reader_drain(d->rd[i], on_batch, d->p[i], 0);
    return NULL;
}

/* Run `n` producers at `rate` for `secs` with one drainer; returns drops. */
static uint64_t concurrent(const ev_t *pat, size_t npat, int n, double rate, double secs)
{
    ulma_segment_t *seg[16];
    ulma_reader_t *rd[16];
    prof_t *p[16];
    prod_arg_t pa[16];
    pthread_t th[16], dt;
    for (int i = 0; i < n; i++) {
        seg[i] = new_segment();
        if (ulma_reader_open(ulma_segment_path(seg[i]), &rd[i]) != 0)
            exit(1);
        p[i] = prof_new(NULL, 2);
        pa[i] = (prod_arg_t){pat, npat, rate, secs, seg[i], 0};
    }
    atomic_store(&stop_drain, 0);
    drain_arg_t da = {rd, p, n};
    pthread_create(&dt, NULL, drainer, &da);
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, producer, &pa[i]);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    atomic_store(&stop_drain, 1);
    pthread_join(dt, NULL);
    uint64_t drops = 0;
    for (int i = 0; i < n; i++) {
        drops += ulma_reader_total_dropped(rd[i]);
        prof_destroy(&p[i]);
        ulma_reader_destroy(&rd[i]);
        ulma_segment_destroy(&seg[i], 1);
    }
    return drops;
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

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/ulma-bench-agent-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir))
        return 1;
    const size_t npat = 1u << 20;
    ev_t *mix = make_mix(npat), *fib = make_fib(npat);
    const int runs = 5;
    double r_mix[5], r_fib[5];
    for (int i = 0; i < runs; i++) {
        r_mix[i] = drain_rate(mix, npat, 20000000);
        r_fib[i] = drain_rate(fib, npat, 20000000);
    }
    qsort(r_mix, runs, sizeof(double), cmp_d);
    qsort(r_fib, runs, sizeof(double), cmp_d);
    printf("drain + aggregate, one core, synthetic mix: %.1f M rec/s (runs %.1f .. %.1f)\n",
           r_mix[2] / 1e6, r_mix[0] / 1e6, r_mix[4] / 1e6);
    printf("drain + aggregate, one core, fib records:   %.1f M rec/s (runs %.1f .. %.1f)\n",
           r_fib[2] / 1e6, r_fib[0] / 1e6, r_fib[4] / 1e6);
    printf("BENCH agent_drain_rate %.0f rec/s\n", r_mix[2]);
    printf("BENCH agent_drain_rate_replay_fib %.0f rec/s\n", r_fib[2]);

    const char *rr = getenv("ULMA_BENCH_RANK_RATE");
    double rank_rate = rr ? atof(rr) : 30e6;
    int ranks = (int)(r_mix[2] / rank_rate);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int spare = cores > 1 ? (int)cores - 1 : 1;
    if (spare > ranks)
        spare = ranks > 0 ? ranks : 1;
    if (spare > 16)
        spare = 16;
    uint64_t drops = concurrent(mix, npat, spare, rank_rate, 1.0);
    printf("saturated rank = %.0f M rec/s: one agent core keeps up with %d; "
           "%d concurrent producer(s) on this %ld-core machine: %llu drops\n",
           rank_rate / 1e6, ranks, spare, cores, (unsigned long long)drops);
    printf("BENCH agent_saturated_ranks_per_core %d ranks\n", drops ? 0 : ranks);
    printf("BENCH agent_concurrent_zero_drop %d ranks\n", drops ? 0 : spare);

    double mem[3];
    for (int i = 0; i < 3; i++)
        mem[i] = mem_10k();
    qsort(mem, 3, sizeof(double), cmp_d);
    printf("profile heap with 10,000 functions: %.0f KiB\n", mem[1]);
    printf("BENCH agent_mem_per_proc_10k_funcs %.0f KiB\n", mem[1]);
    free(mix);
    free(fib);
    rmdir(dir);
    return 0;
}
