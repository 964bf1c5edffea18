/*
 * jreq.h - parse a query request: one flat JSON object whose values are
 * strings, numbers, booleans or null (no nesting), e.g.
 *
 *     {"cmd":"top","pid":1234,"sort":"tottime","limit":20}
 *
 * Strict and bounded: at most JREQ_MAX_FIELDS fields, keys up to 31 bytes,
 * strings up to JREQ_MAX_STR bytes (UTF-8, no NUL), the whole text up to
 * JREQ_MAX_TEXT bytes, no key twice. Anything else is an error with a
 * message for the answer. Parsed by jansson; the fields are copied out
 * into the caller's jreq_t (no other state).
 */
#ifndef AGENT_JREQ_H
#define AGENT_JREQ_H

#include <stddef.h>
#include <stdint.h>

#include "profile/util.h"

#define JREQ_MAX_FIELDS 16
#define JREQ_MAX_STR 1024
#define JREQ_MAX_TEXT 8192

enum { JREQ_STR = 1, JREQ_NUM, JREQ_BOOL, JREQ_NULL };

typedef struct jreq_field {
    char key[32];
    int type;
    char str[JREQ_MAX_STR + 1]; /* JREQ_STR: decoded UTF-8 (escapes resolved) */
    double num;                 /* JREQ_NUM, JREQ_BOOL (0/1) */
} jreq_field_t;

typedef struct jreq {
    jreq_field_t f[JREQ_MAX_FIELDS];
    int n;
    char err[128];
} jreq_t;

/* Parse `len` bytes (not NUL-terminated). 0, or -1 with req->err set. */
int jreq_parse(jreq_t *req, const char *text, size_t len);

/* Append the answer to a request that failed, {"ok":false,"error":msg},
 * to `ans`. */
void jreq_error(sbuf_t *ans, const char *msg);

/* Lookups: NULL / `dflt` when absent or of another type. */
const char *jreq_str(const jreq_t *req, const char *key);
/* A non-negative integer field: 1 and *out set, 0 absent, -1 wrong type/range. */
int jreq_uint(const jreq_t *req, const char *key, uint64_t max, uint64_t *out);
int jreq_bool(const jreq_t *req, const char *key, int dflt);
int jreq_has(const jreq_t *req, const char *key);

#endif /* AGENT_JREQ_H */
