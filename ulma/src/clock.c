/* clock.c - calibration of the ULMA clock against CLOCK_MONOTONIC_RAW. */
#include "ulma/clock.h"

#include <time.h>

uint64_t ulma_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t ulma_clock_rate_from_pairs(uint64_t c0, uint64_t ns0, uint64_t c1, uint64_t ns1)
{
    if (c1 <= c0 || ns1 <= ns0)
        return 0;
    long double hz = (long double)(c1 - c0) * 1e9L / (long double)(ns1 - ns0);
    if (hz < 1e6L || hz > 1e11L) /* 1 MHz .. 100 GHz: anything else is nonsense */
        return 0;
    return (uint64_t)(hz + 0.5L);
}

/* Read the clock and monotonic time as close together as we can: take the
 * tightest of a few brackets. */
void ulma_clock_sample_pair(uint64_t *cycles, uint64_t *ns)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        uint64_t a = ulma_clock_read();
        uint64_t t = ulma_clock_mono_ns();
        uint64_t b = ulma_clock_read();
        if (b - a < best) {
            best = b - a;
            *cycles = a + (b - a) / 2;
            *ns = t;
        }
    }
}

uint64_t ulma_clock_calibrate(uint64_t window_ns)
{
#if !ULMA_CLOCK_IS_TSC
    (void)window_ns;
    return 1000000000u;
#else
    uint64_t c0 = 0, n0 = 0, c1 = 0, n1 = 0;
    ulma_clock_sample_pair(&c0, &n0);
    if (window_ns == 0) {
        /* no sleep: a short spin, refined later from pairs far apart */
        do
            ulma_clock_sample_pair(&c1, &n1);
        while (n1 - n0 < ULMA_CLOCK_QUICK_NS);
    } else {
        struct timespec req = {(time_t)(window_ns / 1000000000u),
                               (long)(window_ns % 1000000000u)};
        while (nanosleep(&req, &req) != 0)
            ;
        ulma_clock_sample_pair(&c1, &n1);
    }
    uint64_t hz = ulma_clock_rate_from_pairs(c0, n0, c1, n1);
    return hz ? hz : 1000000000u;
#endif
}
