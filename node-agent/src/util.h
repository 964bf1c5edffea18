/*
 * util.h - allocation that aborts on OOM, a growable byte buffer, JSON
 * string escaping, time. Shared by every module of the agent.
 */
#ifndef AGENT_UTIL_H
#define AGENT_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Allocation: never returns NULL (aborts with a message on OOM). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* A growable buffer. Zero-initialise (sbuf_t b = {0}) or sbuf_init(). */
typedef struct sbuf {
    char *data;
    size_t len, cap;
} sbuf_t;

void sbuf_init(sbuf_t *b);
void sbuf_free(sbuf_t *b);
void sbuf_reserve(sbuf_t *b, size_t extra);
void sbuf_add(sbuf_t *b, const void *data, size_t n);
void sbuf_addc(sbuf_t *b, char c);
void sbuf_adds(sbuf_t *b, const char *s);
void sbuf_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_vprintf(sbuf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* A JSON string literal (quotes included); invalid UTF-8 becomes U+FFFD. */
void sbuf_json_str(sbuf_t *b, const char *s, size_t n);
/* A JSON number for a double (finite; NaN/inf become 0). */
void sbuf_json_num(sbuf_t *b, double v);
/* Make `s` valid UTF-8 in place (bad bytes become '?'). */
void utf8_sanitize(char *s, size_t n);

/* Write `n` bytes to `path` (atomically: temp file + rename). 0 or -errno. */
int write_file(const char *path, const void *data, size_t n);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

#endif /* AGENT_UTIL_H */
