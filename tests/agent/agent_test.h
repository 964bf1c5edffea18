/*
 * agent_test.h - helpers of the agent tests: record streams built in
 * memory with a fake clock. Checks, temporary directories, commands and
 * files are the one header's (tests/check.h).
 */
#ifndef AGENT_TEST_H
#define AGENT_TEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "ulma/event.h"

/* A record stream in memory. */
typedef struct recbuf {
    ulma_rec_t *r;
    size_t n, cap;
} recbuf_t;

static inline ulma_rec_t *rb_units(recbuf_t *b, size_t units)
{
    if (b->n + units > b->cap) {
        b->cap = (b->n + units) * 2 + 64;
        b->r = realloc(b->r, b->cap * sizeof(*b->r));
        CHECK(b->r);
    }
    ulma_rec_t *r = &b->r[b->n];
    memset(r, 0, units * sizeof(*r));
    b->n += units;
    return r;
}

static inline void rb_put(recbuf_t *b, uint64_t tsc, unsigned kind, uint32_t id, uint16_t depth)
{
    ulma_rec_t *r = rb_units(b, 1);
    r->tsc = tsc;
    r->kind = (uint8_t)kind;
    r->id = id;
    r->depth = depth;
    r->units = 1;
}

static inline void rb_payload(recbuf_t *b, uint64_t tsc, unsigned kind, uint32_t id,
                              uint16_t depth, const void *pl, uint32_t len)
{
    unsigned units = ulma_rec_units(len);
    ulma_rec_t *r = rb_units(b, units);
    r->tsc = tsc;
    r->kind = (uint8_t)kind;
    r->id = id;
    r->depth = depth;
    r->units = (uint8_t)units;
    memcpy(r + 1, pl, len);
}

static inline void rb_def(recbuf_t *b, unsigned kind, uint32_t id, uint32_t line, const char *name,
                          const char *file)
{
    char buf[1024];
    ulma_def_code_t dc = {line, (uint16_t)strlen(name), (uint16_t)strlen(file)};
    memcpy(buf, &dc, sizeof(dc));
    memcpy(buf + sizeof(dc), name, dc.name_len);
    memcpy(buf + sizeof(dc) + dc.name_len, file, dc.file_len);
    rb_payload(b, 0, kind, id, 0, buf, (uint32_t)(sizeof(dc) + dc.name_len + dc.file_len));
}

#endif /* AGENT_TEST_H */
