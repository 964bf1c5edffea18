/*
 * fmt.h - numbers as a person reads them in a narrow column: seconds,
 * counts, rates, bytes, ages. Every function writes a NUL-terminated
 * string of at most `n` bytes into `b` and returns `b`.
 */
#ifndef CT_FMT_H
#define CT_FMT_H

#include <stddef.h>
#include <stdint.h>

/* Seconds from nanoseconds, as pstats prints them (%.3f) while they fit
 * in `width` columns, fewer decimals after that. */
char *fmt_sec(char *b, size_t n, int64_t ns, int width);
/* A count, exact while it fits in `width` columns, else 12.3k, 4.56M, ... */
char *fmt_count(char *b, size_t n, uint64_t v, int width);
/* ncalls as pstats writes it: "N" or "N/P" (recursive calls), shortened
 * like fmt_count when it does not fit. */
char *fmt_calls(char *b, size_t n, uint64_t ncalls, uint64_t pcalls, int width);
/* A rate: 950, 12.3k, 4.56M, 7.89G. */
char *fmt_rate(char *b, size_t n, double v);
/* Bytes: 512B, 12.3K, 4.56M, 7.89G (binary). */
char *fmt_bytes(char *b, size_t n, uint64_t v);
/* An age in seconds: 0.4s, 12s, 3m05s, 2h10m, 3d. */
char *fmt_age(char *b, size_t n, double s);
/* A percentage with one decimal. */
char *fmt_pct(char *b, size_t n, double pct);

#endif /* CT_FMT_H */
