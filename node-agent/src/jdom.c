/* jdom.c - a small JSON document parser (jdom.h). */
#include "jdom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/util.h"

struct jdom {
    enum jdom_type type;
    double num;    /* JDOM_NUM, JDOM_BOOL */
    char *str;     /* JDOM_STR (NUL-terminated, escapes decoded) */
    size_t n;      /* JDOM_ARR, JDOM_OBJ */
    jdom_t **kids;
    char **keys;   /* JDOM_OBJ */
};

typedef struct parser {
    const char *start, *p, *end;
    char *err;
    size_t errlen;
} parser_t;

static int perr(parser_t *ps, const char *what)
{
    if (ps->err && ps->errlen && !ps->err[0])
        snprintf(ps->err, ps->errlen, "%s at byte %zu", what, (size_t)(ps->p - ps->start));
    return -1;
}

static void ws(parser_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static void put_utf8(sbuf_t *b, unsigned cp)
{
    if (cp < 0x80) {
        sbuf_addc(b, (char)cp);
    } else if (cp < 0x800) {
        sbuf_addc(b, (char)(0xC0 | (cp >> 6)));
        sbuf_addc(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        sbuf_addc(b, (char)(0xE0 | (cp >> 12)));
        sbuf_addc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        sbuf_addc(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        sbuf_addc(b, (char)(0xF0 | (cp >> 18)));
        sbuf_addc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        sbuf_addc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        sbuf_addc(b, (char)(0x80 | (cp & 0x3F)));
    }
}

static int hex4(parser_t *ps, unsigned *out)
{
    if (ps->end - ps->p < 4)
        return perr(ps, "short \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *ps->p++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return perr(ps, "bad \\u escape");
    }
    *out = v;
    return 0;
}

/* A string after its opening quote; the decoded text in *out (owned). */
static int parse_str(parser_t *ps, char **out)
{
    sbuf_t b = {0};
    while (ps->p < ps->end && *ps->p != '"') {
        char c = *ps->p++;
        if ((unsigned char)c < 0x20) {
            sbuf_free(&b);
            return perr(ps, "control character in a string");
        }
        if (c != '\\') {
            sbuf_addc(&b, c);
            continue;
        }
        if (ps->p >= ps->end)
            break;
        c = *ps->p++;
        unsigned cp;
        switch (c) {
        case '"': case '\\': case '/': sbuf_addc(&b, c); break;
        case 'b': sbuf_addc(&b, '\b'); break;
        case 'f': sbuf_addc(&b, '\f'); break;
        case 'n': sbuf_addc(&b, '\n'); break;
        case 'r': sbuf_addc(&b, '\r'); break;
        case 't': sbuf_addc(&b, '\t'); break;
        case 'u':
            if (hex4(ps, &cp) != 0) {
                sbuf_free(&b);
                return -1;
            }
            if (cp >= 0xD800 && cp < 0xDC00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' &&
                ps->p[1] == 'u') {
                unsigned lo;
                ps->p += 2;
                if (hex4(ps, &lo) != 0) {
                    sbuf_free(&b);
                    return -1;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            put_utf8(&b, cp);
            break;
        default:
            sbuf_free(&b);
            return perr(ps, "bad escape");
        }
    }
    if (ps->p >= ps->end) {
        sbuf_free(&b);
        return perr(ps, "unterminated string");
    }
    ps->p++;
    sbuf_addc(&b, '\0');
    *out = b.data;
    return 0;
}

static jdom_t *parse_value(parser_t *ps, int depth);

static void add_kid(jdom_t *j, jdom_t *kid, char *key)
{
    j->kids = xrealloc(j->kids, sizeof(*j->kids) * (j->n + 1));
    j->kids[j->n] = kid;
    if (j->type == JDOM_OBJ) {
        j->keys = xrealloc(j->keys, sizeof(*j->keys) * (j->n + 1));
        j->keys[j->n] = key;
    }
    j->n++;
}

static jdom_t *parse_container(parser_t *ps, int depth, int obj)
{
    jdom_t *j = xcalloc(1, sizeof(*j));
    j->type = obj ? JDOM_OBJ : JDOM_ARR;
    char close = obj ? '}' : ']';
    ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return j;
    }
    for (;;) {
        char *key = NULL;
        ws(ps);
        if (obj) {
            if (ps->p >= ps->end || *ps->p != '"' || (ps->p++, parse_str(ps, &key)) != 0) {
                perr(ps, "expected a key");
                goto fail;
            }
            ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                perr(ps, "expected ':'");
                goto fail;
            }
            ps->p++;
        }
        jdom_t *kid = parse_value(ps, depth + 1);
        if (!kid) {
            free(key);
            goto fail;
        }
        add_kid(j, kid, key);
        ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return j;
        }
        perr(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        goto fail;
    }
fail:
    jdom_destroy(&j);
    return NULL;
}

static jdom_t *parse_value(parser_t *ps, int depth)
{
    if (depth > JDOM_MAX_DEPTH) {
        perr(ps, "nested too deep");
        return NULL;
    }
    ws(ps);
    if (ps->p >= ps->end) {
        perr(ps, "expected a value");
        return NULL;
    }
    char c = *ps->p;
    if (c == '{' || c == '[') {
        ps->p++;
        return parse_container(ps, depth, c == '{');
    }
    jdom_t *j = xcalloc(1, sizeof(*j));
    if (c == '"') {
        ps->p++;
        j->type = JDOM_STR;
        if (parse_str(ps, &j->str) != 0) {
            free(j);
            return NULL;
        }
        return j;
    }
    static const struct {
        const char *word;
        enum jdom_type type;
        double v;
    } words[] = {{"true", JDOM_BOOL, 1}, {"false", JDOM_BOOL, 0}, {"null", JDOM_NULL, 0}};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i].word);
        if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, words[i].word, n) == 0) {
            ps->p += n;
            j->type = words[i].type;
            j->num = words[i].v;
            return j;
        }
    }
    char buf[64];
    size_t n = 0;
    while (ps->p + n < ps->end && n < sizeof(buf) - 1 && strchr("+-0123456789.eE", ps->p[n]))
        n++;
    memcpy(buf, ps->p, n);
    buf[n] = '\0';
    char *e;
    j->num = n ? strtod(buf, &e) : 0;
    if (!n || *e) {
        free(j);
        perr(ps, "expected a value");
        return NULL;
    }
    ps->p += n;
    j->type = JDOM_NUM;
    return j;
}

jdom_t *jdom_parse(const char *text, size_t len, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    parser_t ps = {text, text, text + len, err, errlen};
    jdom_t *j = parse_value(&ps, 0);
    if (!j)
        return NULL;
    ws(&ps);
    if (ps.p != ps.end) {
        perr(&ps, "text after the value");
        jdom_destroy(&j);
    }
    return j;
}

void jdom_destroy(jdom_t **j_p)
{
    if (!j_p || !*j_p)
        return;
    jdom_t *j = *j_p;
    for (size_t i = 0; i < j->n; i++) {
        jdom_destroy(&j->kids[i]);
        if (j->keys)
            free(j->keys[i]);
    }
    free(j->kids);
    free(j->keys);
    free(j->str);
    free(j);
    *j_p = NULL;
}

enum jdom_type jdom_type(const jdom_t *j) { return j ? j->type : JDOM_NULL; }

const jdom_t *jdom_get(const jdom_t *obj, const char *key)
{
    if (!obj || obj->type != JDOM_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return obj->kids[i];
    return NULL;
}

size_t jdom_len(const jdom_t *j) { return j && (j->type == JDOM_ARR || j->type == JDOM_OBJ) ? j->n : 0; }

const jdom_t *jdom_at(const jdom_t *arr, size_t i)
{
    return arr && (arr->type == JDOM_ARR || arr->type == JDOM_OBJ) && i < arr->n ? arr->kids[i]
                                                                                 : NULL;
}

const char *jdom_key(const jdom_t *obj, size_t i)
{
    return obj && obj->type == JDOM_OBJ && i < obj->n ? obj->keys[i] : NULL;
}

double jdom_num(const jdom_t *j, double dflt)
{
    return j && (j->type == JDOM_NUM || j->type == JDOM_BOOL) ? j->num : dflt;
}

const char *jdom_str(const jdom_t *j, const char *dflt)
{
    return j && j->type == JDOM_STR ? j->str : dflt;
}

int jdom_bool(const jdom_t *j, int dflt) { return j && j->type == JDOM_BOOL ? j->num != 0 : dflt; }

double jdom_getnum(const jdom_t *obj, const char *key, double dflt)
{
    return jdom_num(jdom_get(obj, key), dflt);
}

const char *jdom_getstr(const jdom_t *obj, const char *key, const char *dflt)
{
    return jdom_str(jdom_get(obj, key), dflt);
}
