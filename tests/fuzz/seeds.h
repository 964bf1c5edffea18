/*
 * fuzz/seeds.h - the committed seed inputs of a fuzz driver (the *.bin
 * files of its seed directory), read into memory for its CTest rounds,
 * and those rounds: each a seed with a few deterministic mutations.
 */
#ifndef ULMA_TESTS_FUZZ_SEEDS_H
#define ULMA_TESTS_FUZZ_SEEDS_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/budget.h"

typedef struct fuzz_seed {
    uint8_t *d; /* owned */
    size_t n;
} fuzz_seed_t;

/* Up to `cap` seeds of `dir` (directory order) into seeds[]; the count.
 * 0 (and a message naming `who`) when there is none. */
static inline int fuzz_seeds_load(const char *dir, const char *who, fuzz_seed_t *seeds, int cap)
{
    int ns = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) && ns < cap) {
        if (!strstr(e->d_name, ".bin"))
            continue;
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        seeds[ns].d = malloc((size_t)(n > 0 ? n : 0) + 1);
        if (!seeds[ns].d) {
            fclose(f);
            break;
        }
        seeds[ns].n = fread(seeds[ns].d, 1, (size_t)(n > 0 ? n : 0), f);
        fclose(f);
        ns++;
    }
    if (d)
        closedir(d);
    if (!ns)
        fprintf(stderr, "%s: no seeds in %s\n", who, dir);
    return ns;
}

static inline void fuzz_seeds_free(fuzz_seed_t *seeds, int ns)
{
    for (int i = 0; i < ns; i++)
        free(seeds[i].d);
}

/* A driver's own mutation number `op` (3 and up) at offset `at` of buf
 * (n bytes, room for cap, st the round's random word); the new length. */
typedef size_t (*fuzz_mutation_fn)(uint8_t *buf, size_t n, size_t cap, size_t at, unsigned op,
                                   uint64_t st);

/* The rounds the budget allows: round r takes seed r % ns, applies 1 to
 * max_muts mutations (0 flip a bit, 1 set a byte, 2 delete a byte, 3 to
 * n_ops-1 the driver's `own`) drawn from the xorshift state st, and gives
 * the result to `test`. The number of rounds run. */
static inline long fuzz_mutate_rounds(const fuzz_seed_t *seeds, int ns, fuzz_budget_t *bud,
                                      uint64_t st, unsigned max_muts, unsigned n_ops,
                                      fuzz_mutation_fn own, int (*test)(const uint8_t *, size_t))
{
    long r;
    for (r = 0; fuzz_budget_more(bud, r); r++) {
        int k = (int)(r % ns);
        size_t n = seeds[k].n, cap = n + 64;
        uint8_t *buf = malloc(cap);
        if (!buf)
            abort();
        memcpy(buf, seeds[k].d, n);
        unsigned muts = 1 + (unsigned)(st % max_muts);
        for (unsigned m = 0; m < muts; m++) {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            size_t at = n ? (size_t)(st % n) : 0;
            unsigned op = (unsigned)((st >> 32) % n_ops);
            switch (op) {
            case 0: if (n) buf[at] ^= (uint8_t)(1u << ((st >> 40) % 8)); break;
            case 1: if (n) buf[at] = (uint8_t)(st >> 48); break;
            case 2: if (n > 1) { memmove(buf + at, buf + at + 1, n - at - 1); n--; } break;
            default: n = own(buf, n, cap, at, op, st); break;
            }
        }
        test(buf, n);
        free(buf);
    }
    return r;
}

#endif /* ULMA_TESTS_FUZZ_SEEDS_H */
