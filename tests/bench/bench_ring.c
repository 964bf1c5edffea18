/*
 * bench_ring - cost of the clock, of a ring write, and the drain rate.
 *
 *   rdtsc_ns          a bare cycle-counter read (ns, median of runs)
 *   ring_write_ns     the writer's cost per record, clock read included:
 *                     ulma_put(ulma_clock_read(), ...) into a ring that
 *                     has room (the reader empties it between rounds)
 *   ring_write_ns_concurrent  the same while a reader thread drains
 *                     the ring on the other core, as an agent does
 *   ring_write_vs_rdtsc       ring_write_ns / rdtsc_ns (target <= 1.15)
 *   ring_drain_rate   records/s one reader drains on one core, doing a
 *                     minimal per-record update (count per kind, last time)
 *
 * Usage: bench_ring [RUNS]   (default 7; medians are reported)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_args.h"
#include "ulma/clock.h"
#include "ulma/reader.h"
#include "ulma/ring.h"
#include "ulma/segment.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct sink {
    uint64_t counts[256];
    uint64_t last_tsc;
    uint64_t records;
} sink_t;

/* The minimal per-record update a reader does. */
static int sink_batch(void *ctx, unsigned slot, const ulma_rec_t *recs, size_t nunits)
{
    sink_t *s = ctx;
    ulma_iter_t it;
    ulma_rec_t h;
    const void *pl;
    uint32_t plen;
    (void)slot;
    ulma_iter_init(&it, recs, nunits);
    while (ulma_iter_next(&it, &h, &pl, &plen)) {
        s->counts[h.kind]++;
        s->last_tsc = h.tsc;
        s->records++;
    }
    return it.bad ? -1 : 0;
}

static volatile uint64_t sink_u64;

static double bench_rdtsc(uint64_t n)
{
    uint64_t acc = 0;
    double t0 = now_ns();
    for (uint64_t i = 0; i < n; i++)
        acc += ulma_clock_read();
    double t1 = now_ns();
    sink_u64 = acc;
    return (t1 - t0) / (double)n;
}

/* Keep the writer loop out of line and un-unrolled, like a hook. */
__attribute__((noinline)) static void write_n(ulma_producer_t *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        ulma_put(p, ulma_clock_read(), (i & 1) ? ULMA_EV_RETURN : ULMA_EV_CALL, (uint32_t)i & 1023,
                 (uint16_t)(i & 63));
}

typedef struct drainer {
    ulma_reader_t *r;
    volatile int stop;
    sink_t sink;
} drainer_t;

static void *drain_thread(void *arg)
{
    drainer_t *d = arg;
    while (!d->stop) {
        if (ulma_reader_drain(d->r, sink_batch, &d->sink, 0) == 0) {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
    ulma_reader_drain(d->r, sink_batch, &d->sink, 0);
    return NULL;
}

static ulma_segment_t *make(const char *dir, uint32_t ring)
{
    ulma_segment_opts_t o;
    ulma_segment_opts_init(&o);
    o.dir = dir;
    o.nslots = 1;
    o.ring_bytes = ring;
    ulma_segment_t *seg;
    if (ulma_segment_create(&o, &seg) != 0) {
        fprintf(stderr, "bench_ring: cannot create a segment in %s\n", dir);
        exit(1);
    }
    return seg;
}

static const char usage_line[] = "usage: bench_ring [-h] [RUNS]\n";

static void help(void)
{
    fputs("NAME\n"
          "    bench_ring - what a clock read and a ring write cost, and how fast one\n"
          "    reader drains a ring\n\n"
          "SYNOPSIS\n"
          "    bench_ring [RUNS]\n\n"
          "DESCRIPTION\n"
          "    Times both ends of a record's way through a segment ring, in this\n"
          "    process alone. Every figure is the median of RUNS runs.\n\n"
          "    clock read\n"
          "        A bare ulma_clock_read(): rdtsc where the build reads the cycle\n"
          "        counter, else clock_gettime (the first line of the output says\n"
          "        which). 16 x 1,048,575 reads per run; ns per read.\n"
          "    ring write\n"
          "        The writer's cost per record, the clock read included:\n"
          "        ulma_put(ulma_clock_read(), ...) into a ring of the default size\n"
          "        (16 MiB) that has room. 16 rounds of a ring's worth of records per\n"
          "        run, a reader emptying the ring between rounds (not timed), the\n"
          "        runs interleaved with those of the clock read; ns per record, and\n"
          "        the ratio to the clock read (target <= 1.15).\n"
          "    ring write, reader draining\n"
          "        The same, 20,000,000 records per run, while a reader thread drains\n"
          "        the ring on the other core, as an agent does; the records lost to\n"
          "        a full ring are counted.\n"
          "    ring drain\n"
          "        A 64 MiB ring filled, then drained by one reader on one core (the\n"
          "        drain timed alone) doing a minimal update per record (a count per\n"
          "        kind, the last time stamp); records per second (target >= 200 M).\n\n"
          "    The segments live in a temporary directory in /dev/shm, removed at\n"
          "    the end.\n\n"
          "ARGUMENTS\n"
          "    RUNS\n"
          "        Runs of each measurement, 1 to 101 (default 7).\n\n"
          "OPTIONS\n"
          "    -h, --help\n"
          "        Show this text and exit.\n\n"
          "ENVIRONMENT\n"
          "    None: the segments' directory and sizes are fixed (ULMA_DIR,\n"
          "    ULMA_SLOTS and ULMA_RING_SIZE do not apply).\n\n"
          "OUTPUT\n"
          "    The medians as a table, then one line per figure:\n"
          "        BENCH rdtsc_ns NS ns                   the clock read\n"
          "        BENCH ring_write_ns NS ns              the ring write\n"
          "        BENCH ring_write_vs_rdtsc RATIO x      ring write / clock read\n"
          "        BENCH ring_write_ns_concurrent NS ns   the ring write, reader draining\n"
          "        BENCH ring_write_concurrent_drops N records\n"
          "                                               the records it lost\n"
          "        BENCH ring_drain_rate RATE rec/s       the ring drain\n\n"
          "EXIT STATUS\n"
          "    0 success; 1 a segment could not be made or read, or a drain fell\n"
          "    short; 2 a usage error.\n\n"
          "SEE ALSO\n"
          "    tests/bench/run ring\n",
          stdout);
}

int main(int argc, char **argv)
{
    int runs = 7, given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end;
        if (bench_is_help(a)) {
            help();
            return 0;
        }
        if (bench_option_error("bench_ring", a, usage_line))
            return 2;
        if (given) {
            fprintf(stderr, "bench_ring: unexpected argument '%s'\n%s", a, usage_line);
            return 2;
        }
        long v = strtol(a, &end, 10);
        if (end == a || *end || v < 1 || v > 101) {
            fprintf(stderr, "bench_ring: RUNS is a number from 1 to 101, not '%s'\n%s", a,
                    usage_line);
            return 2;
        }
        runs = (int)v;
        given = 1;
    }
    char dir[] = "/dev/shm/ulma-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    double *a = calloc((size_t)runs, sizeof(double));
    double *b = calloc((size_t)runs, sizeof(double));
    double *c = calloc((size_t)runs, sizeof(double));
    double *d = calloc((size_t)runs, sizeof(double));

    /* the writer: rounds that fit the default ring, emptied between rounds */
    ulma_segment_t *seg = make(dir, ULMA_DEFAULT_RING_BYTES);
    ulma_producer_t p;
    ulma_producer_attach(seg, &p, (int32_t)getpid(), "bench");
    ulma_reader_t *r;
    if (ulma_reader_open(ulma_segment_path(seg), &r) != 0)
        return 1;
    const uint64_t per_round = ULMA_DEFAULT_RING_BYTES / ULMA_UNIT - 1;
    const int rounds = 16;
    sink_t s;
    memset(&s, 0, sizeof(s));
    write_n(&p, per_round); /* warm the ring's pages */
    ulma_reader_drain(r, sink_batch, &s, 0);
    uint64_t dropped0 = ulma_reader_total_dropped(r);
    for (int i = 0; i < runs; i++) {
        /* interleave the baseline and the writer */
        a[i] = bench_rdtsc(per_round * rounds);
        double total = 0;
        for (int k = 0; k < rounds; k++) {
            double t0 = now_ns();
            write_n(&p, per_round);
            total += now_ns() - t0;
            ulma_reader_drain(r, sink_batch, &s, 0);
        }
        b[i] = total / (double)(per_round * rounds);
    }
    uint64_t write_drops = ulma_reader_total_dropped(r) - dropped0;

    /* the writer with a reader draining concurrently */
    drainer_t dr;
    memset(&dr, 0, sizeof(dr));
    dr.r = r;
    pthread_t th;
    pthread_create(&th, NULL, drain_thread, &dr);
    uint64_t before = ulma_reader_total_dropped(r);
    const uint64_t nconc = 20000000;
    for (int i = 0; i < runs; i++) {
        double t0 = now_ns();
        write_n(&p, nconc);
        c[i] = (now_ns() - t0) / (double)nconc;
    }
    dr.stop = 1;
    pthread_join(th, NULL);
    uint64_t conc_drops = ulma_reader_total_dropped(r) - before;
    ulma_reader_destroy(&r);
    ulma_segment_destroy(&seg, 1);

    /* the reader: a big ring filled, then drained, timed alone */
    const uint32_t big = 64u << 20;
    seg = make(dir, big);
    ulma_producer_attach(seg, &p, (int32_t)getpid(), "bench");
    if (ulma_reader_open(ulma_segment_path(seg), &r) != 0)
        return 1;
    const uint64_t nfill = big / ULMA_UNIT - 1;
    uint64_t drained = 0;
    for (int i = 0; i < runs; i++) {
        write_n(&p, nfill);
        memset(&s, 0, sizeof(s));
        double t0 = now_ns();
        long n = ulma_reader_drain(r, sink_batch, &s, 0);
        double t1 = now_ns();
        drained += s.records;
        if (n < 0 || s.records != nfill) {
            fprintf(stderr, "bench_ring: drained %llu of %llu\n", (unsigned long long)s.records,
                    (unsigned long long)nfill);
            return 1;
        }
        d[i] = (double)s.records / ((t1 - t0) / 1e9);
    }
    ulma_reader_destroy(&r);
    ulma_segment_destroy(&seg, 1);
    rmdir(dir);

    double rdtsc = median(a, runs), wr = median(b, runs), wc = median(c, runs), dr_rate = median(d, runs);
    printf("clock: %s, runs: %d (medians)\n", ULMA_CLOCK_IS_TSC ? "rdtsc" : "clock_gettime", runs);
    printf("  bare clock read              %8.2f ns\n", rdtsc);
    printf("  ring write (clock + record)  %8.2f ns  = %.3f x clock read (target <= 1.15), drops %llu\n",
           wr, wr / rdtsc, (unsigned long long)write_drops);
    printf("  ring write, reader draining  %8.2f ns  = %.3f x clock read, drops %llu of %llu\n", wc,
           wc / rdtsc, (unsigned long long)conc_drops, (unsigned long long)(nconc * (uint64_t)runs));
    printf("  ring drain                   %8.1f M records/s (target >= 200)\n", dr_rate / 1e6);
    printf("BENCH rdtsc_ns %.2f ns\n", rdtsc);
    printf("BENCH ring_write_ns %.2f ns\n", wr);
    printf("BENCH ring_write_vs_rdtsc %.3f x\n", wr / rdtsc);
    printf("BENCH ring_write_ns_concurrent %.2f ns\n", wc);
    printf("BENCH ring_write_concurrent_drops %llu records\n", (unsigned long long)conc_drops);
    printf("BENCH ring_drain_rate %.0f rec/s\n", dr_rate);
    free(a);
    free(b);
    free(c);
    free(d);
    (void)drained;
    return 0;
}
