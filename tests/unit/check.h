/* check.h - the few assertion helpers ULMA's C tests share. A failed
 * check prints where and why and exits 1; exit 77 means skipped. */
#ifndef ULMA_TEST_CHECK_H
#define ULMA_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);        \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                  \
    do {                                                                                    \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);      \
        if (a_ != b_) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%llu != %llu)\n", __FILE__,     \
                    __LINE__, #a, #b, a_, b_);                                              \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                  \
    do {                                                                                    \
        long long a_ = (long long)(a), b_ = (long long)(b);                                 \
        if (a_ != b_) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__,     \
                    __LINE__, #a, #b, a_, b_);                                              \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

#define RUN(test)                                                                           \
    do {                                                                                    \
        fprintf(stderr, "-- %s\n", #test);                                                  \
        test();                                                                             \
    } while (0)

/* A private segment directory under $TMPDIR, removed by tmpdir_remove(). */
static inline char *tmpdir_make(void)
{
    const char *base = getenv("TMPDIR");
    static char path[512];
    snprintf(path, sizeof(path), "%s/ulma-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        exit(1);
    }
    return path;
}

static inline void tmpdir_remove(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

#endif
