/*
 * jdom.h - a small JSON document parser for the agent's answers (ulma-ctl
 * reads them to print tables). The whole text becomes a tree of nodes;
 * lookups never fail (a missing key or a wrong type gives the default).
 * Strict: one value, nothing after it but white space, nesting at most
 * JDOM_MAX_DEPTH.
 */
#ifndef AGENT_JDOM_H
#define AGENT_JDOM_H

#include <stddef.h>

#define JDOM_MAX_DEPTH 64

enum jdom_type { JDOM_NULL, JDOM_BOOL, JDOM_NUM, JDOM_STR, JDOM_ARR, JDOM_OBJ };

typedef struct jdom jdom_t;

/* Parse `len` bytes. Caller owns the return value; NULL with a message in
 * err on a syntax error. */
jdom_t *jdom_parse(const char *text, size_t len, char *err, size_t errlen);
void jdom_destroy(jdom_t **j_p);

/* NULL-safe accessors: `j` may be NULL (a missing value). */
enum jdom_type jdom_type(const jdom_t *j);
const jdom_t *jdom_get(const jdom_t *obj, const char *key); /* NULL: absent */
size_t jdom_len(const jdom_t *j);                          /* array/object size */
const jdom_t *jdom_at(const jdom_t *arr, size_t i);        /* NULL: out of range */
const char *jdom_key(const jdom_t *obj, size_t i);         /* i-th key of an object */
double jdom_num(const jdom_t *j, double dflt);
const char *jdom_str(const jdom_t *j, const char *dflt);
int jdom_bool(const jdom_t *j, int dflt);

/* Shorthands: a field of an object. */
double jdom_getnum(const jdom_t *obj, const char *key, double dflt);
const char *jdom_getstr(const jdom_t *obj, const char *key, const char *dflt);

#endif /* AGENT_JDOM_H */
