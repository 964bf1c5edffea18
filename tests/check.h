/*
 * check.h - the one assertion header of ULMA's C tests (tests/unit,
 * agent, profile, fuzz, mpi). A failed check prints where and why and
 * exits 1; exit 77 means skipped. Also the few helpers every test needs:
 * temporary directories, running a command, reading a file, waiting for
 * a child.
 */
#ifndef ULMA_TEST_CHECK_H
#define ULMA_TEST_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);        \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

/* a == b, both taken as type T and printed with FMT */
#define CHECK_EQ_AS(T, FMT, a, b)                                                           \
    do {                                                                                    \
        T a_ = (T)(a), b_ = (T)(b);                                                         \
        if (a_ != b_) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (" FMT " != " FMT ")\n",         \
                    __FILE__, __LINE__, #a, #b, a_, b_);                                    \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

#define CHECK_EQ_U(a, b) CHECK_EQ_AS(unsigned long long, "%llu", a, b) /* unsigned */
#define CHECK_EQ_I(a, b) CHECK_EQ_AS(long long, "%lld", a, b)          /* signed */

/* Two doubles equal to 1e-9 relative. */
#define CHECK_NEAR(a, b)                                                                    \
    do {                                                                                    \
        double a_ = (a), b_ = (b);                                                          \
        if (fabs(a_ - b_) > 1e-9 * (1 + fabs(b_))) {                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%.12g != %.12g)\n", __FILE__,   \
                    __LINE__, #a, #b, a_, b_);                                              \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

#define RUN(test)                                                                           \
    do {                                                                                    \
        fprintf(stderr, "-- %s\n", #test);                                                  \
        test();                                                                             \
    } while (0)

/* A fresh private directory under $TMPDIR, ulma-TAG-XXXXXX, into
 * out[len] (removed by rm_tree). */
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

/* Run a shell command, return its exit status (128: it did not exit). */
static inline int run(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The whole file, NUL-terminated (its length in *len if not NULL), or
 * NULL. Caller owns the return value. */
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

/* Wait at most `seconds` for child `p`: its exit status, 128 + the signal
 * that killed it, or -1 (it was still running: killed and reaped). */
static inline int wait_exit(pid_t p, int seconds)
{
    for (int i = 0; i < seconds * 100; i++) {
        int st;
        if (waitpid(p, &st, WNOHANG) == p)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
    return -1;
}

#endif /* ULMA_TEST_CHECK_H */
