/*
 * agent_test.h - helpers of the agent tests: CHECK, record streams built
 * in memory with a fake clock, temp directories, running Python checks.
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

#include "ulma/event.h"

#define CHECK(c)                                                                           \
    do {                                                                                   \
        if (!(c)) {                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);          \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

#define CHECK_EQ_U(a, b)                                                                   \
    do {                                                                                   \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);     \
        if (a_ != b_) {                                                                    \
            fprintf(stderr, "%s:%d: %s == %llu, expected %s == %llu\n", __FILE__, __LINE__, \
                    #a, a_, #b, b_);                                                       \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

#define CHECK_NEAR(a, b)                                                                   \
    do {                                                                                   \
        double a_ = (a), b_ = (b);                                                         \
        if (fabs(a_ - b_) > 1e-9 * (1 + fabs(b_))) {                                       \
            fprintf(stderr, "%s:%d: %s == %.12g, expected %.12g\n", __FILE__, __LINE__, #a, \
                    a_, b_);                                                               \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

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

/* A fresh private temp directory (removed by rm_tree). */
static inline void make_tmpdir(char *out, size_t len, const char *tag)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, len, "%s/ulma-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    CHECK(mkdtemp(out) != NULL);
}

static inline void rm_tree(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

/* Run a shell command, return its exit status. */
static inline int run(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static inline char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = malloc((size_t)n + 1);
    CHECK(d);
    CHECK(fread(d, 1, (size_t)n, f) == (size_t)n);
    d[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return d;
}

#endif /* AGENT_TEST_H */
