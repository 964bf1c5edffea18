/* fmt.c - numbers for narrow columns. */
#include "fmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const units = "kMGTPE";

/* v / 1000^k with three significant digits and the unit's letter. */
static char *scaled(char *b, size_t n, double v, double base, const char *suffixes,
                    const char *tail)
{
    int k = -1;
    while (v >= 999.5 && suffixes[k + 1]) {
        v /= base;
        k++;
    }
    if (k < 0)
        snprintf(b, n, "%.0f%s", v, tail);
    else if (v < 9.995)
        snprintf(b, n, "%.2f%c%s", v, suffixes[k], tail);
    else if (v < 99.95)
        snprintf(b, n, "%.1f%c%s", v, suffixes[k], tail);
    else
        snprintf(b, n, "%.0f%c%s", v, suffixes[k], tail);
    return b;
}

char *fmt_sec(char *b, size_t n, int64_t ns, int width)
{
    double s = (double)ns / 1e9;
    for (int dec = 3; dec >= 0; dec--) {
        int len = snprintf(b, n, "%.*f", dec, s);
        if (len <= width)
            return b;
    }
    if (s >= 3600.0 * 24)
        snprintf(b, n, "%.0fd", s / 86400.0);
    else if (s >= 3600.0)
        snprintf(b, n, "%.0fh", s / 3600.0);
    else
        snprintf(b, n, "%.0fm", s / 60.0);
    return b;
}

char *fmt_count(char *b, size_t n, uint64_t v, int width)
{
    int len = snprintf(b, n, "%llu", (unsigned long long)v);
    if (len <= width)
        return b;
    return scaled(b, n, (double)v, 1000.0, units, "");
}

char *fmt_calls(char *b, size_t n, uint64_t ncalls, uint64_t pcalls, int width)
{
    if (ncalls == pcalls)
        return fmt_count(b, n, ncalls, width);
    int len = snprintf(b, n, "%llu/%llu", (unsigned long long)ncalls, (unsigned long long)pcalls);
    if (len <= width)
        return b;
    char x[32], y[32];
    scaled(x, sizeof(x), (double)ncalls, 1000.0, units, "");
    scaled(y, sizeof(y), (double)pcalls, 1000.0, units, "");
    snprintf(b, n, "%s/%s", x, y);
    if ((int)strlen(b) > width)
        snprintf(b, n, "%s", x);
    return b;
}

char *fmt_rate(char *b, size_t n, double v)
{
    if (!(v > 0))
        v = 0;
    if (v < 10 && v > 0 && v != floor(v))
        snprintf(b, n, "%.1f", v);
    else
        scaled(b, n, v, 1000.0, units, "");
    return b;
}

char *fmt_bytes(char *b, size_t n, uint64_t v)
{
    if (v < 1024) {
        snprintf(b, n, "%lluB", (unsigned long long)v);
        return b;
    }
    return scaled(b, n, (double)v, 1024.0, "KMGTPE", "");
}

char *fmt_age(char *b, size_t n, double s)
{
    if (!(s > 0))
        s = 0;
    if (s < 10)
        snprintf(b, n, "%.1fs", s);
    else if (s < 60)
        snprintf(b, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(b, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else if (s < 86400)
        snprintf(b, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else
        snprintf(b, n, "%.0fd", s / 86400);
    return b;
}

char *fmt_pct(char *b, size_t n, double pct)
{
    if (!(pct > 0))
        pct = 0;
    if (pct >= 999.95)
        snprintf(b, n, "%.0f", pct);
    else
        snprintf(b, n, "%.1f", pct);
    return b;
}
