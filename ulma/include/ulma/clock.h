/*
 * clock.h - the one clock of ULMA.
 *
 * Records carry raw cycle counts from ulma_clock_read(); they are turned into
 * seconds late, in one place (the reader side), with the calibration the
 * writer stored once in its segment header.
 *
 * x86-64: the time-stamp counter (rdtsc, not serialising: the cheapest
 * read there is). Elsewhere: CLOCK_MONOTONIC_RAW in nanoseconds, whose
 * "frequency" is then exactly 1e9.
 */
#ifndef ULMA_CLOCK_H
#define ULMA_CLOCK_H

#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) && !defined(ULMA_FORCE_PORTABLE_CLOCK)
#include <x86intrin.h>
#define ULMA_CLOCK_IS_TSC 1
static inline uint64_t ulma_clock_read(void) { return __rdtsc(); }
#else
#define ULMA_CLOCK_IS_TSC 0
static inline uint64_t ulma_clock_read(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

/* Nanoseconds of CLOCK_MONOTONIC_RAW. */
uint64_t ulma_clock_mono_ns(void);

/* Cycles per second of ulma_clock_read(), measured against
 * CLOCK_MONOTONIC_RAW over about `window_ns` nanoseconds, sleeping (a few
 * ms is enough for 0.001 %). `window_ns` 0: no sleep, a spin of
 * ULMA_CLOCK_QUICK_NS (about 0.1 %): an estimate for the first moments,
 * which a segment's writer refines from (cycles, ns) pairs taken far apart
 * (segment.h). Returns 1e9 on the portable clock. Never 0. */
uint64_t ulma_clock_calibrate(uint64_t window_ns);

#define ULMA_CLOCK_QUICK_NS 50000u

/* One (cycles, ns) pair, read as close together as possible (the tightest
 * of a few brackets of a CLOCK_MONOTONIC_RAW read by two clock reads). */
void ulma_clock_sample_pair(uint64_t *cycles, uint64_t *ns);

/* Refine a calibration from two (cycles, ns) pairs taken far apart.
 * Returns 0 if the pairs are unusable. */
uint64_t ulma_clock_rate_from_pairs(uint64_t c0, uint64_t ns0, uint64_t c1, uint64_t ns1);

/* Cycles to seconds: the one conversion. `hz` 0 yields 0. */
static inline double ulma_cycles_to_sec(uint64_t cycles, uint64_t hz)
{
    return hz ? (double)cycles / (double)hz : 0.0;
}

/* Cycles to nanoseconds, exactly rounded down; `hz` 0 yields 0. For sums
 * that must add up exactly (tables merged across processes and nodes),
 * convert each cumulative value once and add the nanoseconds. */
static inline int64_t ulma_cycles_to_ns(int64_t cycles, uint64_t hz)
{
    if (!hz)
        return 0;
    __int128 v = (__int128)cycles * 1000000000 / (__int128)hz;
    return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

#endif /* ULMA_CLOCK_H */
