/* jreq.c - a strict parser for flat JSON request objects. */
#include "jreq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cur {
    const char *p, *end;
} cur_t;

static void ws(cur_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9')
            v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            v |= (unsigned)(ch - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static int put_utf8(char *dst, size_t *n, size_t cap, unsigned cp)
{
    char tmp[4];
    size_t k;
    if (cp < 0x80) {
        tmp[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        tmp[0] = (char)(0xc0 | (cp >> 6));
        tmp[1] = (char)(0x80 | (cp & 0x3f));
        k = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (char)(0xe0 | (cp >> 12));
        tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        tmp[2] = (char)(0x80 | (cp & 0x3f));
        k = 3;
    } else {
        tmp[0] = (char)(0xf0 | (cp >> 18));
        tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        tmp[3] = (char)(0x80 | (cp & 0x3f));
        k = 4;
    }
    if (*n + k > cap)
        return -1;
    memcpy(dst + *n, tmp, k);
    *n += k;
    return 0;
}

/* A string at c->p (which is at the opening quote) into dst[cap+1]. */
static int str(cur_t *c, char *dst, size_t cap, jreq_t *req)
{
    size_t n = 0;
    c->p++;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p++;
        if (ch == '"') {
            dst[n] = '\0';
            return 0;
        }
        if (ch < 0x20) {
            snprintf(req->err, sizeof(req->err), "control character in string");
            return -1;
        }
        if (ch == '\\') {
            if (c->p >= c->end)
                break;
            char e = *c->p++;
            unsigned cp;
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (c->end - c->p < 4 || hex4(c->p, &cp)) {
                    snprintf(req->err, sizeof(req->err), "bad \\u escape");
                    return -1;
                }
                c->p += 4;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;
                    if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' ||
                        hex4(c->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff) {
                        snprintf(req->err, sizeof(req->err), "bad surrogate pair");
                        return -1;
                    }
                    c->p += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    snprintf(req->err, sizeof(req->err), "bad surrogate");
                    return -1;
                }
                break;
            default:
                snprintf(req->err, sizeof(req->err), "bad escape");
                return -1;
            }
            if (put_utf8(dst, &n, cap, cp))
                goto too_long;
            continue;
        }
        if (n + 1 > cap)
            goto too_long;
        dst[n++] = (char)ch;
    }
    snprintf(req->err, sizeof(req->err), "unterminated string");
    return -1;
too_long:
    snprintf(req->err, sizeof(req->err), "string too long (max %zu bytes)", cap);
    return -1;
}

static int lit(cur_t *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
        return -1;
    c->p += n;
    return 0;
}

static int num(cur_t *c, double *out)
{
    char buf[64];
    size_t n = 0;
    const char *s = c->p;
    if (s < c->end && *s == '-')
        s++;
    if (s >= c->end || !(*s >= '0' && *s <= '9'))
        return -1;
    while (s < c->end && ((*s >= '0' && *s <= '9') || *s == '.' || *s == 'e' || *s == 'E' ||
                          *s == '+' || *s == '-'))
        s++;
    n = (size_t)(s - c->p);
    if (n >= sizeof(buf))
        return -1;
    memcpy(buf, c->p, n);
    buf[n] = '\0';
    char *endp;
    double v = strtod(buf, &endp);
    if (*endp != '\0' || !isfinite(v))
        return -1;
    c->p = s;
    *out = v;
    return 0;
}

int jreq_parse(jreq_t *req, const char *text, size_t len)
{
    req->n = 0;
    req->err[0] = '\0';
    if (len > JREQ_MAX_TEXT) {
        snprintf(req->err, sizeof(req->err), "request too long (max %d bytes)", JREQ_MAX_TEXT);
        return -1;
    }
    cur_t c = {text, text + len};
    ws(&c);
    if (c.p >= c.end || *c.p != '{') {
        snprintf(req->err, sizeof(req->err), "request must be a JSON object");
        return -1;
    }
    c.p++;
    ws(&c);
    if (c.p < c.end && *c.p == '}') {
        c.p++;
        goto done;
    }
    for (;;) {
        ws(&c);
        if (c.p >= c.end || *c.p != '"') {
            snprintf(req->err, sizeof(req->err), "expected a key");
            return -1;
        }
        if (req->n >= JREQ_MAX_FIELDS) {
            snprintf(req->err, sizeof(req->err), "too many fields (max %d)", JREQ_MAX_FIELDS);
            return -1;
        }
        jreq_field_t *f = &req->f[req->n];
        if (str(&c, f->key, sizeof(f->key) - 1, req))
            return -1;
        for (int i = 0; i < req->n; i++) {
            if (strcmp(req->f[i].key, f->key) == 0) {
                snprintf(req->err, sizeof(req->err), "duplicate key");
                return -1;
            }
        }
        ws(&c);
        if (c.p >= c.end || *c.p != ':') {
            snprintf(req->err, sizeof(req->err), "expected ':'");
            return -1;
        }
        c.p++;
        ws(&c);
        if (c.p >= c.end) {
            snprintf(req->err, sizeof(req->err), "expected a value");
            return -1;
        }
        if (*c.p == '"') {
            f->type = JREQ_STR;
            if (str(&c, f->str, JREQ_MAX_STR, req))
                return -1;
            if (strlen(f->str) != strnlen(f->str, JREQ_MAX_STR + 1)) {
                snprintf(req->err, sizeof(req->err), "NUL in string");
                return -1;
            }
        } else if (lit(&c, "true") == 0) {
            f->type = JREQ_BOOL;
            f->num = 1;
        } else if (lit(&c, "false") == 0) {
            f->type = JREQ_BOOL;
            f->num = 0;
        } else if (lit(&c, "null") == 0) {
            f->type = JREQ_NULL;
        } else if (num(&c, &f->num) == 0) {
            f->type = JREQ_NUM;
        } else {
            snprintf(req->err, sizeof(req->err), "values must be strings, numbers, booleans or null");
            return -1;
        }
        req->n++;
        ws(&c);
        if (c.p < c.end && *c.p == ',') {
            c.p++;
            continue;
        }
        if (c.p < c.end && *c.p == '}') {
            c.p++;
            break;
        }
        snprintf(req->err, sizeof(req->err), "expected ',' or '}'");
        return -1;
    }
done:
    ws(&c);
    if (c.p != c.end) {
        snprintf(req->err, sizeof(req->err), "trailing bytes after the object");
        return -1;
    }
    return 0;
}

static const jreq_field_t *field(const jreq_t *req, const char *key)
{
    for (int i = 0; i < req->n; i++)
        if (strcmp(req->f[i].key, key) == 0)
            return &req->f[i];
    return NULL;
}

int jreq_has(const jreq_t *req, const char *key) { return field(req, key) != NULL; }

const char *jreq_str(const jreq_t *req, const char *key)
{
    const jreq_field_t *f = field(req, key);
    return f && f->type == JREQ_STR ? f->str : NULL;
}

int jreq_uint(const jreq_t *req, const char *key, uint64_t max, uint64_t *out)
{
    const jreq_field_t *f = field(req, key);
    if (!f || f->type == JREQ_NULL)
        return 0;
    if (f->type != JREQ_NUM || f->num < 0 || f->num > (double)max || f->num != floor(f->num))
        return -1;
    *out = (uint64_t)f->num;
    return 1;
}

int jreq_bool(const jreq_t *req, const char *key, int dflt)
{
    const jreq_field_t *f = field(req, key);
    return f && f->type == JREQ_BOOL ? (int)f->num : dflt;
}
