/*
 * maps.h - the one hash map of the collector: 64-bit keys to non-zero
 * 64-bit values (an index + 1, or a pointer), open addressing with linear
 * probing and deletion by backward shift, so it never fills with
 * tombstones. String keys are hashed to 64 bits by the caller, who keeps
 * its own chain of items with equal hashes (a hostile peer can make two
 * names collide; it must never make them the same thing).
 */
#ifndef COLLECTOR_MAPS_H
#define COLLECTOR_MAPS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profile/util.h"

typedef struct map {
    uint64_t *k, *v; /* v == 0: empty */
    uint32_t cap, n; /* cap: power of two or 0 */
} map_t;

static inline uint64_t map_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static inline uint64_t map_hash_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *s = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

static inline uint64_t map_hash_str(const char *s) { return map_hash_bytes(0xcbf29ce484222325ull, s, strlen(s)); }

static inline void map_free(map_t *m)
{
    free(m->k);
    free(m->v);
    memset(m, 0, sizeof(*m));
}

static inline uint64_t map_get(const map_t *m, uint64_t key)
{
    if (!m->cap)
        return 0;
    uint32_t mask = m->cap - 1;
    for (uint32_t j = (uint32_t)map_mix(key) & mask;; j = (j + 1) & mask) {
        if (!m->v[j])
            return 0;
        if (m->k[j] == key)
            return m->v[j];
    }
}

static inline void map_grow(map_t *m)
{
    uint32_t cap = m->cap ? m->cap * 2 : 64;
    uint64_t *k = xcalloc(cap, sizeof(*k)), *v = xcalloc(cap, sizeof(*v));
    for (uint32_t i = 0; i < m->cap; i++) {
        if (!m->v[i])
            continue;
        uint32_t j = (uint32_t)map_mix(m->k[i]) & (cap - 1);
        while (v[j])
            j = (j + 1) & (cap - 1);
        k[j] = m->k[i];
        v[j] = m->v[i];
    }
    free(m->k);
    free(m->v);
    m->k = k;
    m->v = v;
    m->cap = cap;
}

/* Set key -> val (val != 0), replacing any value. */
static inline void map_put(map_t *m, uint64_t key, uint64_t val)
{
    if ((uint64_t)(m->n + 1) * 4 > (uint64_t)m->cap * 3)
        map_grow(m);
    uint32_t mask = m->cap - 1;
    uint32_t j = (uint32_t)map_mix(key) & mask;
    while (m->v[j] && m->k[j] != key)
        j = (j + 1) & mask;
    if (!m->v[j])
        m->n++;
    m->k[j] = key;
    m->v[j] = val;
}

static inline void map_del(map_t *m, uint64_t key)
{
    if (!m->cap)
        return;
    uint32_t mask = m->cap - 1;
    uint32_t j = (uint32_t)map_mix(key) & mask;
    while (m->v[j] && m->k[j] != key)
        j = (j + 1) & mask;
    if (!m->v[j])
        return;
    m->v[j] = 0;
    m->n--;
    /* backward shift: move later members of the run into the hole */
    for (uint32_t i = (j + 1) & mask; m->v[i]; i = (i + 1) & mask) {
        uint32_t home = (uint32_t)map_mix(m->k[i]) & mask;
        /* i may move to j if home is not cyclically in (j, i] */
        int stays = (j < i) ? (home > j && home <= i) : (home > j || home <= i);
        if (stays)
            continue;
        m->k[j] = m->k[i];
        m->v[j] = m->v[i];
        m->v[i] = 0;
        j = i;
    }
}

#endif /* COLLECTOR_MAPS_H */
