/* util.c - allocation, buffers, the JSON writer, files, time. */
#define _GNU_SOURCE
#include "profile/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *util_progname = "ulma";

static void oom(size_t n)
{
    fprintf(stderr, "%s: out of memory (%zu bytes)\n", util_progname, n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

char *xstrndup(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void *xgrow(void *arr, uint32_t *cap, uint32_t need, size_t size)
{
    if (need <= *cap)
        return arr;
    uint64_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    if (c > UINT32_MAX)
        c = UINT32_MAX;
    arr = xrealloc(arr, (size_t)c * size);
    memset((char *)arr + (size_t)*cap * size, 0, (size_t)(c - *cap) * size);
    *cap = (uint32_t)c;
    return arr;
}

void sbuf_init(sbuf_t *b) { memset(b, 0, sizeof(*b)); }

void sbuf_free(sbuf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void sbuf_reserve(sbuf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void sbuf_add(sbuf_t *b, const void *data, size_t n)
{
    sbuf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sbuf_addc(sbuf_t *b, char c) { sbuf_add(b, &c, 1); }
void sbuf_adds(sbuf_t *b, const char *s) { sbuf_add(b, s, strlen(s)); }

void sbuf_vprintf(sbuf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof(tmp)) {
        sbuf_add(b, tmp, (size_t)n);
    } else {
        sbuf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void sbuf_printf(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        len = 2;
        min = 0x80;
        c &= 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        min = 0x800;
        c &= 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        min = 0x10000;
        c &= 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return len;
}

void utf8_sanitize(char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (!k) {
            s[i++] = '?';
            continue;
        }
        i += k;
    }
}

void sbuf_json_str(sbuf_t *b, const char *s, size_t n)
{
    sbuf_reserve(b, n + 2);
    sbuf_addc(b, '"');
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            sbuf_addc(b, '\\');
            sbuf_addc(b, (char)c);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            sbuf_printf(b, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            sbuf_addc(b, (char)c);
            i++;
        } else {
            size_t k = utf8_seq((const unsigned char *)s + i, n - i);
            if (!k) {
                sbuf_adds(b, "\\ufffd");
                i++;
            } else {
                sbuf_add(b, s + i, k);
                i += k;
            }
        }
    }
    sbuf_addc(b, '"');
}

/* ---- the JSON writer ------------------------------------------------------ */

void jw_init(jw_t *w, sbuf_t *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
    w->first[0] = 1;
}

/* Before any value: the comma between elements, unless it follows a key. */
static void jw_sep(jw_t *w)
{
    if (w->keyed) {
        w->keyed = 0;
        return;
    }
    if (!w->first[w->depth])
        sbuf_addc(w->out, ',');
    w->first[w->depth] = 0;
}

static void jw_open(jw_t *w, char c)
{
    jw_sep(w);
    sbuf_addc(w->out, c);
    if (w->depth + 1 < JW_MAX_DEPTH)
        w->depth++;
    w->first[w->depth] = 1;
}

static void jw_close(jw_t *w, char c)
{
    sbuf_addc(w->out, c);
    if (w->depth)
        w->depth--;
}

void jw_obj(jw_t *w) { jw_open(w, '{'); }
void jw_obj_end(jw_t *w) { jw_close(w, '}'); }
void jw_arr(jw_t *w) { jw_open(w, '['); }
void jw_arr_end(jw_t *w) { jw_close(w, ']'); }

void jw_key(jw_t *w, const char *key)
{
    jw_sep(w);
    sbuf_json_str(w->out, key, strlen(key));
    sbuf_addc(w->out, ':');
    w->keyed = 1;
}

void jw_str(jw_t *w, const char *s, size_t n)
{
    jw_sep(w);
    sbuf_json_str(w->out, s ? s : "", s ? n : 0);
}

void jw_strz(jw_t *w, const char *s)
{
    if (!s) {
        jw_null(w);
        return;
    }
    jw_str(w, s, strlen(s));
}

void jw_u64(jw_t *w, uint64_t v)
{
    jw_sep(w);
    sbuf_printf(w->out, "%llu", (unsigned long long)v);
}

void jw_i64(jw_t *w, int64_t v)
{
    jw_sep(w);
    sbuf_printf(w->out, "%lld", (long long)v);
}

void jw_num(jw_t *w, double v)
{
    jw_sep(w);
    if (!isfinite(v))
        v = 0;
    if (v == (double)(long long)v && fabs(v) < 1e15)
        sbuf_printf(w->out, "%lld", (long long)v);
    else {
        /* the shortest form that reads back as the same double */
        char buf[40];
        for (int prec = 9; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
        sbuf_printf(w->out, "%s", buf);
    }
}

void jw_sec(jw_t *w, int64_t ns)
{
    jw_sep(w);
    uint64_t a = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    uint64_t whole = a / 1000000000u, frac = a % 1000000000u;
    if (!frac) {
        sbuf_printf(w->out, "%s%llu", ns < 0 ? "-" : "", (unsigned long long)whole);
        return;
    }
    char digits[16];
    int n = snprintf(digits, sizeof(digits), "%09llu", (unsigned long long)frac);
    while (n > 1 && digits[n - 1] == '0')
        digits[--n] = '\0';
    sbuf_printf(w->out, "%s%llu.%s", ns < 0 ? "-" : "", (unsigned long long)whole, digits);
}

void jw_bool(jw_t *w, int v)
{
    jw_sep(w);
    sbuf_adds(w->out, v ? "true" : "false");
}

void jw_null(jw_t *w)
{
    jw_sep(w);
    sbuf_adds(w->out, "null");
}

void jw_raw(jw_t *w, const char *json, size_t n)
{
    jw_sep(w);
    sbuf_add(w->out, json, n);
}

void jw_kstr(jw_t *w, const char *key, const char *s, size_t n)
{
    jw_key(w, key);
    jw_str(w, s, n);
}

void jw_kstrz(jw_t *w, const char *key, const char *s)
{
    jw_key(w, key);
    jw_strz(w, s);
}

void jw_ku64(jw_t *w, const char *key, uint64_t v)
{
    jw_key(w, key);
    jw_u64(w, v);
}

void jw_ki64(jw_t *w, const char *key, int64_t v)
{
    jw_key(w, key);
    jw_i64(w, v);
}

void jw_knum(jw_t *w, const char *key, double v)
{
    jw_key(w, key);
    jw_num(w, v);
}

void jw_ksec(jw_t *w, const char *key, int64_t ns)
{
    jw_key(w, key);
    jw_sec(w, ns);
}

void jw_kbool(jw_t *w, const char *key, int v)
{
    jw_key(w, key);
    jw_bool(w, v);
}

/* ---- files and time --------------------------------------------------------- */

static int write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Into an existing file that is not a regular one (/dev/stdout, a pipe, a
 * terminal), or through a link to a file not made yet: in place, never
 * replaced. */
static int write_in_place(const char *path, const void *data, size_t n, int flags)
{
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC | flags, 0644);
    if (fd < 0)
        return -errno;
    int err = write_all(fd, data, n);
    if (close(fd) != 0 && !err && errno != EINTR)
        err = -errno;
    return err;
}

int write_file(const char *path, const void *data, size_t n)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return S_ISDIR(sb.st_mode) ? -EISDIR : write_in_place(path, data, n, 0);
    /* a symbolic link to a regular file: that file is the one replaced;
     * to nothing yet: the file it names is made */
    char *real = realpath(path, NULL);
    if (!real && lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode))
        return write_in_place(path, data, n, O_CREAT | O_TRUNC);
    const char *target = real ? real : path;
    size_t plen = strlen(target);
    char *tmp = xmalloc(plen + 32);
    snprintf(tmp, plen + 32, "%s.tmp.%ld", target, (long)getpid());
    int err = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = -errno;
        goto out;
    }
    err = write_all(fd, data, n);
    if (close(fd) != 0 && !err)
        err = -errno;
    if (!err && rename(tmp, target) != 0)
        err = -errno;
    if (err)
        unlink(tmp);
out:
    free(tmp);
    free(real);
    return err;
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
uint64_t wall_ns(void) { return clock_ns(CLOCK_REALTIME); }
