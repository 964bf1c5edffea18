/* jreq.c - a strict parser for flat JSON request objects: jansson parses
 * (duplicate keys refused, no NUL in strings, valid UTF-8), then the
 * bounds and the flat shape of jreq.h are checked. */
#include "jreq.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One value of the object into `f`, or -1 with req->err set. */
static int take(jreq_t *req, jreq_field_t *f, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: {
        size_t n = json_string_length(v);
        if (n > JREQ_MAX_STR) {
            snprintf(req->err, sizeof(req->err), "string too long (max %d bytes)", JREQ_MAX_STR);
            return -1;
        }
        f->type = JREQ_STR;
        memcpy(f->str, json_string_value(v), n + 1);
        return 0;
    }
    case JSON_INTEGER:
    case JSON_REAL:
        f->type = JREQ_NUM;
        f->num = json_number_value(v);
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        f->type = JREQ_BOOL;
        f->num = json_is_true(v);
        return 0;
    case JSON_NULL: f->type = JREQ_NULL; return 0;
    default:
        snprintf(req->err, sizeof(req->err), "values must be strings, numbers, booleans or null");
        return -1;
    }
}

int jreq_parse(jreq_t *req, const char *text, size_t len)
{
    req->n = 0;
    req->err[0] = '\0';
    if (len > JREQ_MAX_TEXT) {
        snprintf(req->err, sizeof(req->err), "request too long (max %d bytes)", JREQ_MAX_TEXT);
        return -1;
    }
    json_error_t e;
    /* numbers as doubles, as JSON has them: jreq_uint checks range and form */
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &e);
    int rc = -1;
    if (!root) {
        snprintf(req->err, sizeof(req->err), "%.127s", e.text);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(req->err, sizeof(req->err), "request must be a JSON object");
        goto out;
    }
    if (json_object_size(root) > JREQ_MAX_FIELDS) {
        snprintf(req->err, sizeof(req->err), "too many fields (max %d)", JREQ_MAX_FIELDS);
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        jreq_field_t *f = &req->f[req->n];
        if (strlen(key) >= sizeof(f->key)) {
            snprintf(req->err, sizeof(req->err), "key too long (max %zu bytes)",
                     sizeof(f->key) - 1);
            goto out;
        }
        memcpy(f->key, key, strlen(key) + 1);
        if (take(req, f, v) != 0)
            goto out;
        req->n++;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
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

void jreq_error(sbuf_t *ans, const char *msg)
{
    jw_t w;
    jw_init(&w, ans);
    jw_obj(&w);
    jw_kbool(&w, "ok", 0);
    jw_kstrz(&w, "error", msg);
    jw_obj_end(&w);
}
