/*
 * util.h - the support every program above ulma/ shares: allocation that
 * aborts on OOM, a growable byte buffer, the one JSON writer, files, time.
 */
#ifndef PROFILE_UTIL_H
#define PROFILE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Allocation: never returns NULL (aborts with a message on OOM). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Grow an array of `size`-byte elements to hold at least `need`; *cap is
 * updated (doubling). Returns the (possibly moved) array. */
void *xgrow(void *arr, uint32_t *cap, uint32_t need, size_t size);

/* A growable buffer, always NUL-terminated after data[len]. Zero-initialise
 * (sbuf_t b = {0}) or sbuf_init(). */
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
/* Make `s` valid UTF-8 in place (bad bytes become '?'). */
void utf8_sanitize(char *s, size_t n);
/* Bytes of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
size_t utf8_seq(const unsigned char *s, size_t n);

/*
 * The JSON writer: every JSON document the project writes goes through it,
 * so commas, escaping and numbers are done in one place. Nesting is
 * tracked (up to JW_MAX_DEPTH); a value after jw_key() belongs to that key.
 * Strings are escaped, invalid UTF-8 becomes U+FFFD. Times are written from
 * integer nanoseconds as exact decimal seconds (jw_sec), so that sums of
 * written times can be checked exactly.
 */
#define JW_MAX_DEPTH 64
typedef struct jw {
    sbuf_t *out;
    uint32_t depth;
    uint8_t first[JW_MAX_DEPTH]; /* no element yet at this level */
    uint8_t keyed;               /* a key was written, its value comes next */
} jw_t;

void jw_init(jw_t *w, sbuf_t *out);
void jw_obj(jw_t *w);
void jw_obj_end(jw_t *w);
void jw_arr(jw_t *w);
void jw_arr_end(jw_t *w);
void jw_key(jw_t *w, const char *key);
void jw_str(jw_t *w, const char *s, size_t n);
void jw_strz(jw_t *w, const char *s); /* NULL writes null */
void jw_u64(jw_t *w, uint64_t v);
void jw_i64(jw_t *w, int64_t v);
void jw_num(jw_t *w, double v); /* NaN and inf become 0 */
void jw_sec(jw_t *w, int64_t ns);
void jw_bool(jw_t *w, int v);
void jw_null(jw_t *w);
/* Already-encoded JSON as the next value (copied as it is). */
void jw_raw(jw_t *w, const char *json, size_t n);
/* key + value in one call */
void jw_kstr(jw_t *w, const char *key, const char *s, size_t n);
void jw_kstrz(jw_t *w, const char *key, const char *s);
void jw_ku64(jw_t *w, const char *key, uint64_t v);
void jw_ki64(jw_t *w, const char *key, int64_t v);
void jw_knum(jw_t *w, const char *key, double v);
void jw_ksec(jw_t *w, const char *key, int64_t ns);
void jw_kbool(jw_t *w, const char *key, int v);

/* A JSON string literal (quotes included) appended to b. */
void sbuf_json_str(sbuf_t *b, const char *s, size_t n);

/* Write `n` bytes to `path`. A regular file (or a new one) is replaced
 * atomically: a temporary file beside it, renamed over it (through a
 * symbolic link: the file it points to). An existing file of another kind
 * (/dev/stdout, a pipe, a device) is written in place, never replaced; a
 * directory is -EISDIR. 0 or -errno (ENOSPC when the disk is full). */
int write_file(const char *path, const void *data, size_t n);

/* CLOCK_MONOTONIC / CLOCK_REALTIME in nanoseconds. */
uint64_t now_ns(void);
uint64_t wall_ns(void);

/* The program name util's messages start with ("ulma-agent", ...). */
extern const char *util_progname;

#endif /* PROFILE_UTIL_H */
