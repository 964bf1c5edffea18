/* bench_agent_objects.c - the agent's cost of object records and of the
 * open part of a live profile (tests/bench/run agent_objects).
 *
 * Records are built in memory and fed to prof_consume in batches of 4096
 * units (the reader's part of a drain does not depend on record kinds and
 * is measured by `tests/bench/run agent`). Rates count records (an object
 * record is 2 units); each is the median of 5 runs. Each stream is fed
 * twice to one profile: the first pass ("cold") includes the first touch
 * of the memory the profile grows into (page faults, which cost 20-40 us
 * per 4 KiB page on this kind of virtual machine), the second ("steady")
 * runs in memory already there, like a long-running process.
 *
 *   BENCH agent_obj_rate_churn <rec/s> rec/s (steady; also _cold)
 *       an allocation-heavy loop like bench_objects': per iteration a call
 *       and its return, 9 constructions of 8 types and the 9 frees of the
 *       previous iteration's objects, addresses reused last-freed-first per
 *       type (like pymalloc), so that the live set stays small.
 *   BENCH agent_obj_rate_live_1m <rec/s> rec/s (steady; also _cold)
 *       1,000,000 constructions at distinct addresses, then their frees:
 *       the live set grows to a million objects (cache misses).
 *   BENCH agent_obj_rate_unborn <rec/s> rec/s (steady; also _cold)
 *       1,000,000 frees of objects never constructed (what the agent reads
 *       right after objects were switched on), one thread.
 *   BENCH agent_obj_rate_unborn_2threads <rec/s> rec/s (steady; also _cold)
 *       the same on two threads (the frees wait in the pending ring).
 *   BENCH agent_obj_bytes_per_live <B> B
 *       heap growth of the profile per live object, at 1,000,000 live.
 *   BENCH agent_open_derive_us <us> us
 *       prof_derive_open on a profile of 300 functions (bench_agent's
 *       program-like call graph, recursion at its leaves) with 8 threads
 *       40 frames deep each (median of 101 calls).
 *   BENCH agent_derive_us <us> us
 *       prof_derive on the same profile after a change (for scale).
 *
 * Built with -DBENCH_BASELINE (by hand) for a build without the open part:
 * the open-part figures are then left out. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_args.h"
#include "profile.h"

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

typedef struct stream {
    ulma_rec_t *r;
    size_t n, cap;
    size_t records;
} stream_t;

static ulma_rec_t *units(stream_t *s, size_t k)
{
    if (s->n + k > s->cap) {
        s->cap = (s->n + k) * 2;
        s->r = realloc(s->r, s->cap * sizeof(*s->r));
        if (!s->r)
            exit(1);
    }
    ulma_rec_t *r = &s->r[s->n];
    memset(r, 0, k * sizeof(*r));
    s->n += k;
    s->records++;
    return r;
}

static void put(stream_t *s, uint64_t tsc, unsigned kind, uint32_t id, uint16_t depth)
{
    ulma_rec_t *r = units(s, 1);
    *r = (ulma_rec_t){tsc, id, depth, (uint8_t)kind, 1};
}

static void put_obj(stream_t *s, uint64_t tsc, unsigned kind, uint32_t type, uint16_t depth,
                    uint64_t addr, uint64_t size)
{
    ulma_rec_t *r = units(s, 2);
    *r = (ulma_rec_t){tsc, type, depth, (uint8_t)kind, 2};
    ulma_obj_payload_t op = {size, addr};
    memcpy(r + 1, &op, sizeof(op));
}

/* The allocation-heavy loop (see the top). */
static void make_churn(stream_t *s, uint32_t iters)
{
    enum { PER = 9 };
    static const uint32_t types[PER] = {16, 5, 2, 2, 3, 6, 7, 8, 1}; /* Point, list, ... */
    uint64_t freelist[32][64];
    uint32_t nfree[32] = {0};
    uint64_t next_addr = 0x7f0000100000ull;
    uint64_t prev[PER] = {0}, tsc = 1000;
    put(s, tsc++, ULMA_EV_CALL, 1, 1);
    put(s, tsc++, ULMA_EV_CALL, 2, 2);
    for (uint32_t it = 0; it < iters; it++) {
        put(s, tsc++, ULMA_EV_CALL, 3, 3); /* Point.__init__ */
        uint64_t cur[PER];
        for (int k = 0; k < PER; k++) {
            uint32_t ty = types[k];
            uint64_t a = nfree[ty] ? freelist[ty][--nfree[ty]] : (next_addr += 64);
            cur[k] = a;
            put_obj(s, tsc++, ULMA_EV_OBJ_NEW, ty, k == 0 ? 3 : 2, a, 32 + 8 * (uint64_t)k);
            if (k == 0)
                put(s, tsc++, ULMA_EV_RETURN, 3, 3);
        }
        for (int k = 0; k < PER; k++) {
            if (!prev[k])
                continue;
            uint32_t ty = types[k];
            put_obj(s, tsc++, ULMA_EV_OBJ_FREE, ty, 2, prev[k], 32 + 8 * (uint64_t)k);
            if (nfree[ty] < 64)
                freelist[ty][nfree[ty]++] = prev[k];
        }
        memcpy(prev, cur, sizeof(prev));
    }
}

static void make_live(stream_t *s, uint32_t n)
{
    uint64_t tsc = 1000;
    for (uint32_t i = 0; i < n; i++)
        put_obj(s, tsc++, ULMA_EV_OBJ_NEW, 5, 0, 0x7f0000000000ull + 64 * (uint64_t)i, 56);
    for (uint32_t i = 0; i < n; i++)
        put_obj(s, tsc++, ULMA_EV_OBJ_FREE, 5, 0, 0x7f0000000000ull + 64 * (uint64_t)i, 56);
}

static void make_unborn(stream_t *s, uint32_t n)
{
    uint64_t tsc = 1000;
    for (uint32_t i = 0; i < n; i++)
        put_obj(s, tsc++, ULMA_EV_OBJ_FREE, 7, 0,
                0x7e0000000000ull + 48 * (uint64_t)(rnd() % (8u * n)), 48);
}

/* Feed `s` to `p` in batches of 4096 units (to slots 0 and 1 in turn
 * when `two`); returns records per second. */
static double feed(prof_t *p, const stream_t *s, int two)
{
    double t0 = now_s();
    size_t at = 0;
    int slot = 0;
    while (at < s->n) {
        size_t e = at + 4096 < s->n ? at + 4096 : s->n;
        if (e < s->n) { /* never split a record */
            size_t j = at;
            while (j < e && j + s->r[j].units <= e)
                j += s->r[j].units;
            e = j;
        }
        prof_consume(p, two ? (unsigned)slot : 0u, s->r + at, e - at);
        slot ^= 1;
        at = e;
    }
    return (double)s->records / (now_s() - t0);
}

static prof_t *new_prof(int two)
{
    prof_t *p = prof_new(NULL, 4);
    p->hz = 1000000000;
    if (two) { /* a second thread exists */
        ulma_rec_t r = {1, 99, 1, ULMA_EV_CALL, 1};
        prof_consume(p, 1, &r, 1);
    }
    return p;
}

typedef struct rates {
    double cold, steady;
} rates_t;

static rates_t median5(const stream_t *s, int two, const char *what)
{
    double c[5], st[5];
    for (int i = 0; i < 5; i++) {
        prof_t *p = new_prof(two);
        c[i] = feed(p, s, two);
        st[i] = feed(p, s, two);
        prof_destroy(&p);
    }
    qsort(c, 5, sizeof(double), cmp_d);
    qsort(st, 5, sizeof(double), cmp_d);
    printf("%s: steady %.1f M rec/s (runs %.1f .. %.1f), cold %.1f M rec/s (runs %.1f .. %.1f)\n",
           what, st[2] / 1e6, st[0] / 1e6, st[4] / 1e6, c[2] / 1e6, c[0] / 1e6, c[4] / 1e6);
    return (rates_t){c[2], st[2]};
}

/* Heap growth of a profile that has read the first half of `s` (the
 * constructions of make_live). */
static size_t heap_at_half(const stream_t *s)
{
    stream_t h = *s;
    h.n = s->n / 2;
    malloc_trim(0);
    struct mallinfo2 m0 = mallinfo2();
    prof_t *p = new_prof(0);
    feed(p, &h, 0);
    struct mallinfo2 m1 = mallinfo2();
    prof_destroy(&p);
    return m1.uordblks + m1.hblkhd - m0.uordblks - m0.hblkhd;
}

#ifndef BENCH_BASELINE
/* A profile with open frames: 300 functions in 6 layers of 50, each
 * calling 3 fixed functions of the next layer (bench_agent's program-like
 * graph), walked at random on 8 threads; then each thread is left 40
 * frames deep (a path down the layers, then recursion). */
static prof_t *open_profile(void)
{
    enum { LAYER = 50, NLAYERS = 6, FANOUT = 3 };
    static uint32_t callee[LAYER * NLAYERS + 1][FANOUT];
    for (uint32_t f = 1; f <= LAYER * NLAYERS; f++)
        for (int k = 0; k < FANOUT; k++)
            callee[f][k] = (f - 1) / LAYER + 1 < NLAYERS
                               ? 1 + ((f - 1) / LAYER + 1) * LAYER + rnd() % LAYER : 0;
    prof_t *p = prof_new(NULL, 8);
    p->hz = 1000000000;
    stream_t s = {0};
    uint64_t tsc = 1000;
    for (unsigned th = 0; th < 8; th++) {
        uint32_t stack[64];
        int d = 0;
        for (int i = 0; i < 200000 || d < 40; i++) {
            uint32_t top = d ? stack[d - 1] : 0;
            uint32_t next = 0;
            if (d == 0)
                next = 1 + rnd() % 5;
            else if (i >= 200000 || rnd() % 100 < 55)
                next = callee[top][0] ? callee[top][rnd() % FANOUT] : top;
            if (next && d < 40) {
                stack[d++] = next;
                put(&s, tsc++, ULMA_EV_CALL, next, (uint16_t)d);
            } else {
                put(&s, tsc++, ULMA_EV_RETURN, top, (uint16_t)d);
                d--;
            }
        }
        prof_consume(p, th, s.r, s.n);
        s.n = 0;
    }
    free(s.r);
    return p;
}
#endif

static const char usage_line[] = "usage: bench_agent_objects [-h]\n";

static void help(void)
{
    fputs("NAME\n"
          "    bench_agent_objects - the agent's cost of object records and of the open\n"
          "    part of a live profile\n\n"
          "SYNOPSIS\n"
          "    bench_agent_objects\n\n"
          "DESCRIPTION\n"
          "    Record streams are built in memory and fed to the agent's profile\n"
          "    (prof_consume) in batches of 4096 units, on one core; the reader's part\n"
          "    of a drain does not depend on the kinds of records and is measured by\n"
          "    bench_agent. Rates count records (an object record is 2 units); each is\n"
          "    the median of 5 runs. Each stream is fed twice to one profile: the\n"
          "    first pass (cold) includes the first touch of the memory the profile\n"
          "    grows into (page faults), the second (steady) runs in memory already\n"
          "    there, like a long-running process. The streams:\n"
          "      churn           an allocation-heavy loop like bench_objects': per\n"
          "                      iteration a call and its return, 9 constructions of\n"
          "                      8 types and the 9 frees of the previous iteration's\n"
          "                      objects, addresses reused last freed first per type\n"
          "                      (as pymalloc does); 1,000,000 iterations\n"
          "      live_1m         1,000,000 constructions at distinct addresses, then\n"
          "                      their frees: a million live objects\n"
          "      unborn          1,000,000 frees of objects never constructed (what\n"
          "                      the agent reads right after objects were switched\n"
          "                      on), one thread\n"
          "      unborn_2threads the same on two threads (the frees wait in the\n"
          "                      pending ring)\n"
          "    Then the profile's heap growth (mallinfo2) per live object, at\n"
          "    1,000,000 live; and, on a profile of random walks over bench_agent's\n"
          "    program-like call graph (300 functions in 6 layers of 50) on 8 threads,\n"
          "    each left 40 frames deep, the time of prof_derive_open (the open part\n"
          "    of a live profile) and, for scale, of prof_derive after a change: the\n"
          "    median of 101 calls each.\n\n"
          "    A build with -DBENCH_BASELINE (made by hand, for a profile without the\n"
          "    open part) leaves the open-part figures out.\n\n"
          "OPTIONS\n"
          "    -h, --help\n"
          "        Show this text and exit.\n\n"
          "ENVIRONMENT\n"
          "    None.\n\n"
          "OUTPUT\n"
          "    A line per stream for the reader, and:\n"
          "        BENCH agent_obj_rate_churn RATE rec/s             (steady)\n"
          "        BENCH agent_obj_rate_churn_cold RATE rec/s\n"
          "        BENCH agent_obj_rate_live_1m RATE rec/s           (steady)\n"
          "        BENCH agent_obj_rate_live_1m_cold RATE rec/s\n"
          "        BENCH agent_obj_rate_unborn RATE rec/s            (steady)\n"
          "        BENCH agent_obj_rate_unborn_cold RATE rec/s\n"
          "        BENCH agent_obj_rate_unborn_2threads RATE rec/s   (steady)\n"
          "        BENCH agent_obj_rate_unborn_2threads_cold RATE rec/s\n"
          "        BENCH agent_obj_bytes_per_live B B\n"
          "        BENCH agent_open_derive_us US us                  (not BENCH_BASELINE)\n"
          "        BENCH agent_derive_us US us                       (not BENCH_BASELINE)\n\n"
          "EXIT STATUS\n"
          "    0 success; 1 out of memory; 2 a usage error.\n\n"
          "SEE ALSO\n"
          "    tests/bench/run agent_objects, bench_agent --help\n",
          stdout);
}

int main(int argc, char **argv)
{
    int rc = bench_no_args(argc, argv, "bench_agent_objects", usage_line, help);
    if (rc >= 0)
        return rc;
    stream_t churn = {0}, live = {0}, unborn = {0};
    make_churn(&churn, 1000000);
    make_live(&live, 1000000);
    make_unborn(&unborn, 1000000);
    rates_t r_churn = median5(&churn, 0, "object churn (9 news + 9 frees + a call per iteration)");
    rates_t r_live = median5(&live, 0, "1,000,000 live objects, then freed");
    rates_t r_unborn = median5(&unborn, 0, "1,000,000 frees of unborn objects, one thread");
    rates_t r_unborn2 = median5(&unborn, 1, "1,000,000 frees of unborn objects, two threads");
    size_t peak = heap_at_half(&live);
    double per_live = (double)peak / 1e6;
    printf("profile heap at 1,000,000 live objects: %.1f MiB, %.1f B per live object\n",
           (double)peak / 1048576.0, per_live);
    printf("BENCH agent_obj_rate_churn %.0f rec/s\n", r_churn.steady);
    printf("BENCH agent_obj_rate_churn_cold %.0f rec/s\n", r_churn.cold);
    printf("BENCH agent_obj_rate_live_1m %.0f rec/s\n", r_live.steady);
    printf("BENCH agent_obj_rate_live_1m_cold %.0f rec/s\n", r_live.cold);
    printf("BENCH agent_obj_rate_unborn %.0f rec/s\n", r_unborn.steady);
    printf("BENCH agent_obj_rate_unborn_cold %.0f rec/s\n", r_unborn.cold);
    printf("BENCH agent_obj_rate_unborn_2threads %.0f rec/s\n", r_unborn2.steady);
    printf("BENCH agent_obj_rate_unborn_2threads_cold %.0f rec/s\n", r_unborn2.cold);
    printf("BENCH agent_obj_bytes_per_live %.1f B\n", per_live);
#ifndef BENCH_BASELINE
    prof_t *p = open_profile();
    double t_open[101], t_der[101];
    for (int i = 0; i < 101; i++) {
        double t0 = now_s();
        prof_derive_open(p, p->last_tsc + (uint64_t)i);
        t_open[i] = now_s() - t0;
        p->gen++; /* as after a consume: derive again */
        t0 = now_s();
        prof_derive(p);
        t_der[i] = now_s() - t0;
    }
    qsort(t_open, 101, sizeof(double), cmp_d);
    qsort(t_der, 101, sizeof(double), cmp_d);
    printf("open part of %u functions, %u edges, %u paths, 8 x 40 open frames: %.1f us "
           "(prof_derive: %.1f us)\n",
           p->nfuncs, p->nsubs, p->nnodes, t_open[50] * 1e6, t_der[50] * 1e6);
    printf("BENCH agent_open_derive_us %.1f us\n", t_open[50] * 1e6);
    printf("BENCH agent_derive_us %.1f us\n", t_der[50] * 1e6);
    prof_destroy(&p);
#endif
    free(churn.r);
    free(live.r);
    free(unborn.r);
    return 0;
}
