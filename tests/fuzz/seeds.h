/*
 * fuzz/seeds.h - the committed seed inputs of a fuzz driver (the *.bin
 * files of its seed directory), read into memory for its CTest rounds.
 */
#ifndef ULMA_TESTS_FUZZ_SEEDS_H
#define ULMA_TESTS_FUZZ_SEEDS_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#endif /* ULMA_TESTS_FUZZ_SEEDS_H */
