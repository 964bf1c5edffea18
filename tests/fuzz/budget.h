/*
 * fuzz/budget.h - how long a fuzz driver run by CTest goes on.
 *
 * A driver runs the rounds it is asked for (its argument). In a sanitizer
 * build (ASan, TSan: every allocation and access checked, several times
 * slower, slower still on a busy machine) it also stops once a wall-clock
 * budget is spent, after at least a minimum of rounds: the inputs are the
 * same deterministic sequence as without a sanitizer, only its tail may be
 * cut, and the driver prints how many rounds it ran (a failure at round k
 * reproduces with any run of k rounds or more). Every round checks what
 * it checks without a sanitizer.
 *
 * ULMA_FUZZ_SECONDS=S sets the budget (0: none, every round), in any build.
 * Default: FUZZ_SANITIZED_SECONDS in sanitizer builds, none otherwise.
 */
#ifndef ULMA_TESTS_FUZZ_BUDGET_H
#define ULMA_TESTS_FUZZ_BUDGET_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifndef FUZZ_SANITIZED_SECONDS
#define FUZZ_SANITIZED_SECONDS 30.0
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FUZZ_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FUZZ_SANITIZED 1
#endif
#endif
#ifndef FUZZ_SANITIZED
#define FUZZ_SANITIZED 0
#endif

typedef struct fuzz_budget {
    double start, seconds; /* seconds <= 0: no time bound */
    long rounds, min_rounds;
    int cut;               /* stopped by the time bound */
} fuzz_budget_t;

static inline double fuzz_budget_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* `rounds` asked for; at least `min_rounds` of them whatever the time. */
static inline void fuzz_budget_init(fuzz_budget_t *b, long rounds, long min_rounds)
{
    const char *e = getenv("ULMA_FUZZ_SECONDS");
    b->start = fuzz_budget_now();
    b->seconds = e && *e ? strtod(e, NULL) : FUZZ_SANITIZED ? FUZZ_SANITIZED_SECONDS : 0;
    b->rounds = rounds;
    b->min_rounds = min_rounds < rounds ? min_rounds : rounds;
    b->cut = 0;
}

/* May round `done` (0-based: the number run so far) run? */
static inline int fuzz_budget_more(fuzz_budget_t *b, long done)
{
    if (done >= b->rounds)
        return 0;
    if (b->seconds > 0 && done >= b->min_rounds && fuzz_budget_now() - b->start >= b->seconds) {
        b->cut = 1;
        return 0;
    }
    return 1;
}

/* One line on standard error: rounds run, of how many, in what time. */
static inline void fuzz_budget_report(const fuzz_budget_t *b, const char *name, long done)
{
    fprintf(stderr, "%s: %ld of %ld rounds in %.1f s%s\n", name, done, b->rounds,
            fuzz_budget_now() - b->start,
            b->cut ? " (time budget spent: the sanitizer build's bound)" : "");
}

#endif /* ULMA_TESTS_FUZZ_BUDGET_H */
