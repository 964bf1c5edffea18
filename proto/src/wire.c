/* wire.c - arenas, packing, checked unpacking, JSON of any message. */
#define _GNU_SOURCE
#include "wire/wire.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* ---- arenas ------------------------------------------------------------------- */

#define ARENA_CHUNK (256u * 1024u)

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} chunk_t;

struct wire_arena {
    chunk_t *head;
};

wire_arena_t *wire_arena_new(void) { return xcalloc(1, sizeof(wire_arena_t)); }

void wire_arena_destroy(wire_arena_t **a_p)
{
    if (!a_p || !*a_p)
        return;
    chunk_t *c = (*a_p)->head;
    while (c) {
        chunk_t *n = c->next;
        free(c);
        c = n;
    }
    free(*a_p);
    *a_p = NULL;
}

void *wire_alloc(wire_arena_t *a, size_t n)
{
    n = (n + 15u) & ~(size_t)15u;
    chunk_t *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        c = xmalloc(sizeof(*c) + cap);
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *wire_strndup(wire_arena_t *a, const char *s, size_t n)
{
    char *d = wire_alloc(a, n + 1);
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    /* NUL bytes would cut the string short; invalid UTF-8 is not a proto3 string */
    for (size_t i = 0; i < n; i++)
        if (!d[i])
            d[i] = '?';
    utf8_sanitize(d, n);
    return d;
}

char *wire_strdup(wire_arena_t *a, const char *s) { return wire_strndup(a, s, s ? strlen(s) : 0); }

char *wire_printf(wire_arena_t *a, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(tmp)) {
        char *d = wire_alloc(a, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(d, (size_t)n + 1, fmt, ap);
        va_end(ap);
        return d;
    }
    return wire_strndup(a, tmp, (size_t)n);
}

void **wire_msgs(wire_arena_t *a, size_t n, size_t size, const ProtobufCMessageDescriptor *desc)
{
    if (size != desc->sizeof_message) {
        fprintf(stderr, "wire_msgs: %s is %zu bytes, not %zu\n", desc->name, desc->sizeof_message,
                size);
        abort();
    }
    void **v = wire_alloc(a, sizeof(void *) * (n ? n : 1));
    unsigned char *block = wire_alloc(a, size * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        v[i] = block + i * size;
        protobuf_c_message_init(desc, v[i]);
    }
    if (!n) { /* one message for WIRE_MSG */
        v[0] = block;
        protobuf_c_message_init(desc, v[0]);
    }
    return v;
}

/* ---- packing ------------------------------------------------------------------- */

void wire_pack(const ProtobufCMessage *m, sbuf_t *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    sbuf_reserve(out, n);
    protobuf_c_message_pack(m, (uint8_t *)out->data + out->len);
    out->len += n;
    out->data[out->len] = '\0';
}

const char *wire_refusal_name(wire_refusal_t r)
{
    switch (r) {
    case WIRE_OK: return "ok";
    case WIRE_TOO_BIG: return "message too big";
    case WIRE_MALFORMED: return "malformed message";
    case WIRE_BAD_VERSION: return "unknown protocol version";
    }
    return "?";
}

static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *d, const void *data, size_t len,
                                wire_refusal_t *why)
{
    *why = WIRE_OK;
    if (len > WIRE_MAX_MSG) {
        *why = WIRE_TOO_BIG;
        return NULL;
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, data);
    if (!m) {
        *why = WIRE_MALFORMED;
        return NULL;
    }
    /* every top-level message has `uint32 version = 1` */
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, 1);
    uint32_t v = f ? *(const uint32_t *)((const char *)m + f->offset) : 0;
    if (v != WIRE_VERSION) {
        protobuf_c_message_free_unpacked(m, NULL);
        *why = WIRE_BAD_VERSION;
        return NULL;
    }
    return m;
}

Ulma__Wire__AgentMsg *wire_agent_msg(const void *data, size_t len, wire_refusal_t *why)
{
    return (Ulma__Wire__AgentMsg *)unpack(&ulma__wire__agent_msg__descriptor, data, len, why);
}

Ulma__Wire__CollectorMsg *wire_collector_msg(const void *data, size_t len, wire_refusal_t *why)
{
    return (Ulma__Wire__CollectorMsg *)unpack(&ulma__wire__collector_msg__descriptor, data, len,
                                              why);
}

Ulma__Wire__Query *wire_query(const void *data, size_t len, wire_refusal_t *why)
{
    return (Ulma__Wire__Query *)unpack(&ulma__wire__query__descriptor, data, len, why);
}

Ulma__Wire__Reply *wire_reply(const void *data, size_t len, wire_refusal_t *why)
{
    return (Ulma__Wire__Reply *)unpack(&ulma__wire__reply__descriptor, data, len, why);
}

/* ---- JSON ------------------------------------------------------------------------ */

static void json_value(const ProtobufCFieldDescriptor *f, const void *v, jw_t *w)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: jw_i64(w, *(const int32_t *)v); break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: jw_u64(w, *(const uint32_t *)v); break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: jw_i64(w, *(const int64_t *)v); break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: jw_u64(w, *(const uint64_t *)v); break;
    case PROTOBUF_C_TYPE_FLOAT: jw_num(w, *(const float *)v); break;
    case PROTOBUF_C_TYPE_DOUBLE: jw_num(w, *(const double *)v); break;
    case PROTOBUF_C_TYPE_BOOL: jw_bool(w, *(const protobuf_c_boolean *)v); break;
    case PROTOBUF_C_TYPE_ENUM: {
        int e = *(const int *)v;
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value((const ProtobufCEnumDescriptor *)f->descriptor, e);
        if (ev)
            jw_strz(w, ev->name);
        else
            jw_i64(w, e);
        break;
    }
    case PROTOBUF_C_TYPE_STRING: jw_strz(w, *(char *const *)v ? *(char *const *)v : ""); break;
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = v;
        jw_obj(w);
        jw_ku64(w, "bytes", b->len);
        jw_obj_end(w);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(const ProtobufCMessage *const *)v;
        if (m)
            wire_json(m, w);
        else
            jw_null(w);
        break;
    }
    }
}

static size_t value_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT: return 4;
    case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
    default: return 8;
    }
}

/* proto3: a singular scalar at its zero value is not there */
static int is_zero(const ProtobufCFieldDescriptor *f, const void *v)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)v;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)v)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE: return *(void *const *)v == NULL;
    case PROTOBUF_C_TYPE_FLOAT: return *(const float *)v == 0;
    case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)v == 0;
    default: {
        unsigned char zero[8] = {0};
        return memcmp(v, zero, value_size(f)) == 0;
    }
    }
}

void wire_json(const ProtobufCMessage *m, jw_t *w)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    jw_obj(w);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            if (!n)
                continue;
            const char *arr = *(char *const *)(base + f->offset);
            jw_key(w, f->name);
            jw_arr(w);
            for (size_t k = 0; k < n; k++)
                json_value(f, arr + k * value_size(f), w);
            jw_arr_end(w);
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
            if (which != f->id)
                continue;
        } else if (is_zero(f, base + f->offset)) {
            continue;
        }
        jw_key(w, f->name);
        json_value(f, base + f->offset, w);
    }
    jw_obj_end(w);
}

/* ---- small things ------------------------------------------------------------------ */

int wire_send(void *sock, const sbuf_t *buf, int more)
{
    int flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0);
    return zmq_send(sock, buf->data ? buf->data : "", buf->len, flags) < 0 ? -1 : 0;
}

int wire_scope_parse(const char *text, Ulma__Wire__Scope *out, wire_arena_t *a, char *err,
                     size_t errlen)
{
    ulma__wire__scope__init(out);
    out->rank = -1;
    if (!text || !*text || strcmp(text, "cluster") == 0) {
        out->level = ULMA__WIRE__SCOPE__LEVEL__CLUSTER;
        return 0;
    }
    const char *colon = strchr(text, ':');
    if (!colon || !colon[1]) {
        snprintf(err, errlen, "scope '%s': expected cluster, node:NAME, job:ID, rank:NODE/PID "
                 "or rank:JOB#RANK", text);
        return -1;
    }
    size_t kl = (size_t)(colon - text);
    const char *v = colon + 1;
    if (kl == 4 && strncmp(text, "node", 4) == 0) {
        out->level = ULMA__WIRE__SCOPE__LEVEL__NODE;
        out->node = wire_strdup(a, v);
        return 0;
    }
    if (kl == 3 && strncmp(text, "job", 3) == 0) {
        out->level = ULMA__WIRE__SCOPE__LEVEL__JOB;
        out->job = wire_strdup(a, v);
        return 0;
    }
    if (kl == 4 && strncmp(text, "rank", 4) == 0) {
        out->level = ULMA__WIRE__SCOPE__LEVEL__RANK;
        const char *slash = strrchr(v, '/'), *hash = strrchr(v, '#');
        char *end = NULL;
        if (slash && slash != v) {
            long pid = strtol(slash + 1, &end, 10);
            if (end && !*end && pid > 0 && pid <= INT32_MAX) {
                out->node = wire_strndup(a, v, (size_t)(slash - v));
                out->pid = (int32_t)pid;
                return 0;
            }
        } else if (hash && hash != v) {
            long rank = strtol(hash + 1, &end, 10);
            if (end && !*end && rank >= 0 && rank <= INT32_MAX) {
                out->job = wire_strndup(a, v, (size_t)(hash - v));
                out->rank = (int32_t)rank;
                return 0;
            }
        } else {
            long pid = strtol(v, &end, 10);
            if (end && !*end && pid > 0 && pid <= INT32_MAX) {
                out->pid = (int32_t)pid; /* on the only node (an agent) */
                return 0;
            }
        }
        snprintf(err, errlen, "scope '%s': rank:NODE/PID, rank:JOB#RANK or rank:PID", text);
        return -1;
    }
    snprintf(err, errlen, "scope '%s': expected cluster, node:NAME, job:ID or rank:NODE/PID",
             text);
    return -1;
}

const char *wire_kind_name(Ulma__Wire__Kind k)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(&ulma__wire__kind__descriptor,
                                                                       (int)k);
    return ev ? ev->name : "?";
}
