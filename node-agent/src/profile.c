/* profile.c - shadow stacks and cProfile-exact aggregation of one process.
 *
 * The counting is _lsprof's (CPython Modules/_lsprof.c), per thread:
 *
 *   on entry:  level[f]++; level[caller->f edge]++; remember t0, subt = 0
 *   on exit:   cum = now - t0; own = cum - subt; caller.subt += cum
 *              if (--level[f] == 0) f.cum += cum  else f.reccallcount++
 *              f.own += own; f.callcount++
 *              the caller->f edge: the same, with its own level
 *
 * so a call is primitive when the function was not already active on this
 * thread's stack, and cumulative time is added only when the outermost
 * activation returns.
 *
 * The hot path does not keep those levels. It keeps the calling context
 * tree (CCT), where the stack at a call is the node's path: so "f already
 * active" is "f on an ancestor node", and prof_derive() computes the
 * function table and the edges from the tree, by one depth-first walk with
 * per-function and per-edge activation counters, at report time. Per
 * record the drain touches the record, the top frames of the shadow stack
 * and one node (64 bytes, its first children inline). Frames that find the
 * CCT full are accounted "flat" with the levels above (exact, slower).
 *
 * Frames still open are not in the tree's numbers; prof_derive_open()
 * computes, from the shadow stacks, what closing them at a given time
 * would add, without closing them. A MODE record does not close frames:
 * the writer records the RETURN of every frame whose CALL it recorded,
 * whatever the mode then, and its depth in the MODE record only
 * resynchronises the stack. */
#include "profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ulma/clock.h"
#include "profile/util.h"

/* The header unit as two words, each read once from the untrusted ring:
 * tsc, then id | depth << 32 | kind << 48 | units << 56 (little endian). */
typedef uint64_t __attribute__((may_alias)) prof_word_t;
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "record words are little endian");

/* ---- small open-addressing map -------------------------------------------- */

#define HMAP_EMPTY UINT64_MAX

static uint64_t hmap_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

static void hmap_grow(prof_hmap_t *m)
{
    uint32_t ncap = m->cap ? m->cap * 2 : 256;
    uint64_t *nk = xmalloc(sizeof(*nk) * ncap);
    uint32_t *nv = xmalloc(sizeof(*nv) * ncap);
    for (uint32_t i = 0; i < ncap; i++)
        nk[i] = HMAP_EMPTY;
    for (uint32_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == HMAP_EMPTY)
            continue;
        uint32_t j = (uint32_t)hmap_hash(m->keys[i]) & (ncap - 1);
        while (nk[j] != HMAP_EMPTY)
            j = (j + 1) & (ncap - 1);
        nk[j] = m->keys[i];
        nv[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
}

/* Value of `key`, or 0 if absent. */
static uint32_t hmap_get(const prof_hmap_t *m, uint64_t key)
{
    if (!m->cap)
        return 0;
    uint32_t j = (uint32_t)hmap_hash(key) & (m->cap - 1);
    while (m->keys[j] != HMAP_EMPTY) {
        if (m->keys[j] == key)
            return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}

static void hmap_put(prof_hmap_t *m, uint64_t key, uint32_t val)
{
    if ((m->n + 1) * 4 >= m->cap * 3)
        hmap_grow(m);
    uint32_t j = (uint32_t)hmap_hash(key) & (m->cap - 1);
    while (m->keys[j] != HMAP_EMPTY && m->keys[j] != key)
        j = (j + 1) & (m->cap - 1);
    if (m->keys[j] == HMAP_EMPTY)
        m->n++;
    m->keys[j] = key;
    m->vals[j] = val;
}

static void hmap_free(prof_hmap_t *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* Grow `*arr` (elements of `size` bytes, `*cap` of them, zero-filled) to
 * hold index `need`. */
static void grow_zero(void **arr, uint32_t *cap, uint32_t need, size_t size)
{
    if (need < *cap)
        return;
    uint32_t ncap = *cap ? *cap : 16;
    while (ncap <= need)
        ncap *= 2;
    char *n = xrealloc(*arr, size * ncap);
    memset(n + size * *cap, 0, size * (ncap - *cap));
    *arr = n;
    *cap = ncap;
}

/* ---- life cycle ------------------------------------------------------------- */

void prof_limits_default(prof_limits_t *l)
{
    l->max_id = 1u << 22;
    l->max_cct_nodes = 1u << 22;
    l->max_stack = 1u << 16;
    l->max_threads = 4096;
    /* the set then stays within 2^22 slots of 16 bytes: 64 MiB */
    l->max_live_objects = 2000000;
    l->max_pending_frees = 1u << 14;
    l->max_sites = 1u << 20;
    l->max_type_id = 1u << 20;
}

static uint32_t sub_of(prof_t *p, uint32_t caller, uint32_t callee);

/* A node, not linked into its parent's children (the caller does that). */
static uint32_t new_node(prof_t *p, uint32_t parent, uint32_t fidx)
{
    if (p->nnodes == p->nodes_cap) {
        uint32_t ncap = p->nodes_cap ? p->nodes_cap * 2 : 256;
        prof_node_t *n = aligned_alloc(64, sizeof(*n) * ncap);
        if (!n)
            abort();
        if (p->nnodes)
            memcpy(n, p->nodes, sizeof(*n) * p->nnodes);
        free(p->nodes);
        p->nodes = n;
        p->node_sub = xrealloc(p->node_sub, sizeof(*p->node_sub) * ncap);
        p->nodes_cap = ncap;
    }
    uint32_t n = p->nnodes++;
    prof_node_t *nd = &p->nodes[n];
    memset(nd, 0, sizeof(*nd));
    nd->fidx = fidx;
    nd->parent = parent;
    p->node_sub[n] = n == parent ? 0 : sub_of(p, p->nodes[parent].fidx, fidx);
    return n;
}

prof_t *prof_new(const prof_limits_t *lim, unsigned nslots)
{
    prof_t *p = xcalloc(1, sizeof(*p));
    if (lim)
        p->lim = *lim;
    else
        prof_limits_default(&p->lim);
    if (p->lim.max_cct_nodes < 16)
        p->lim.max_cct_nodes = 16;
    if (p->lim.max_stack < 16)
        p->lim.max_stack = 16;
    /* the object set: at least a few objects, values below PROF_OBJ_PENDING */
    if (p->lim.max_live_objects < 16)
        p->lim.max_live_objects = 16;
    if (p->lim.max_live_objects > 1u << 30)
        p->lim.max_live_objects = 1u << 30;
    if (p->lim.max_pending_frees > 1u << 24)
        p->lim.max_pending_frees = 1u << 24;
    while (p->lim.max_pending_frees & (p->lim.max_pending_frees - 1))
        p->lim.max_pending_frees &= p->lim.max_pending_frees - 1; /* a power of two */
    if (p->lim.max_sites < 16)
        p->lim.max_sites = 16;
    if (p->lim.max_sites > 1u << 30)
        p->lim.max_sites = 1u << 30;
    if (p->lim.max_type_id < 16)
        p->lim.max_type_id = 16;
    p->nslots = nslots;
    p->slot_thread = xcalloc(nslots ? nslots : 1, sizeof(*p->slot_thread));
    /* row 0: [unknown]; node 0: the root; edge 0 and site 0: none */
    grow_zero((void **)&p->funcs, &p->funcs_cap, 0, sizeof(*p->funcs));
    p->nfuncs = 1;
    p->funcs[0].ns = PROF_NS_COUNT;
    grow_zero((void **)&p->subs, &p->subs_cap, 0, sizeof(*p->subs));
    p->nsubs = 1;
    grow_zero((void **)&p->sites, &p->sites_cap, 0, sizeof(*p->sites));
    p->nsites = 1;
    new_node(p, 0, PROF_FIDX_UNKNOWN);
    p->strings_cap = 4096;
    p->strings = xmalloc(p->strings_cap);
    p->strings_len = 1; /* offset 0 means "none" */
    p->strings[0] = '\0';
    return p;
}

void prof_destroy(prof_t **p_p)
{
    if (!p_p || !*p_p)
        return;
    prof_t *p = *p_p;
    for (int ns = 0; ns < PROF_NS_COUNT; ns++) {
        free(p->map[ns]);
        free(p->names[ns]);
    }
    free(p->type_names);
    free(p->strings);
    free(p->funcs);
    free(p->subs);
    hmap_free(&p->sub_map);
    free(p->nodes);
    free(p->node_sub);
    hmap_free(&p->node_map);
    free(p->types);
    free(p->sites);
    hmap_free(&p->site_map);
    free(p->objs.ents);
    free(p->objs.pend);
    free(p->open_funcs);
    free(p->open_subs);
    free(p->open_nodes);
    prof_thread_t *t = p->threads;
    while (t) {
        prof_thread_t *n = t->next;
        free(t->stack - 1);
        free(t->flevel);
        free(t->slevel);
        free(t);
        t = n;
    }
    free(p->slot_thread);
    free(p);
    *p_p = NULL;
}

/* ---- identities --------------------------------------------------------------- */

/* Row of (ns, id), created on first sight. Out-of-range ids share row 0. */
static uint32_t func_of_slow(prof_t *p, unsigned ns, uint32_t id)
{
    if (id >= p->lim.max_id) {
        p->ids_out_of_range++;
        return PROF_FIDX_UNKNOWN;
    }
    grow_zero((void **)&p->map[ns], &p->map_cap[ns], id, sizeof(uint32_t));
    if (p->nfuncs == p->funcs_cap) {
        uint32_t cap = p->funcs_cap;
        grow_zero((void **)&p->funcs, &cap, p->nfuncs, sizeof(*p->funcs));
        p->funcs_cap = cap;
    }
    uint32_t f = p->nfuncs++;
    p->funcs[f].ns = ns;
    p->funcs[f].id = id;
    p->map[ns][id] = f;
    return f;
}

static inline __attribute__((always_inline)) uint32_t func_of(prof_t *p, unsigned ns, uint32_t id)
{
    if (__builtin_expect(id < p->map_cap[ns], 1)) {
        uint32_t f = p->map[ns][id];
        if (__builtin_expect(f != 0, 1))
            return f;
    }
    return func_of_slow(p, ns, id);
}

/* Edge caller->callee, created on first sight; 0 if either is unknown. */
static uint32_t sub_of(prof_t *p, uint32_t caller, uint32_t callee)
{
    if (caller == PROF_FIDX_UNKNOWN || callee == PROF_FIDX_UNKNOWN)
        return 0;
    uint64_t key = (uint64_t)caller << 32 | callee;
    uint32_t s = hmap_get(&p->sub_map, key);
    if (s)
        return s;
    if (p->nsubs == p->subs_cap) {
        uint32_t cap = p->subs_cap;
        grow_zero((void **)&p->subs, &cap, p->nsubs, sizeof(*p->subs));
        p->subs_cap = cap;
    }
    s = p->nsubs++;
    prof_sub_t *e = &p->subs[s];
    e->caller = caller;
    e->callee = callee;
    e->next_of_caller = p->funcs[caller].first_sub;
    p->funcs[caller].first_sub = s;
    hmap_put(&p->sub_map, key, s);
    return s;
}

/* CCT child of `parent` for `fidx` beyond the inline ones: from the map,
 * or created; 0 when the tree is full. */
static uint32_t cct_child_slow(prof_t *p, uint32_t parent, uint32_t fidx)
{
    prof_node_t *pn = &p->nodes[parent];
    int free_kid = -1;
    for (int i = 0; i < PROF_KIDS; i++) {
        if (!pn->kid_node[i]) {
            free_kid = i;
            break;
        }
    }
    uint64_t key = (uint64_t)parent << 32 | fidx;
    if (free_kid < 0) {
        uint32_t c = hmap_get(&p->node_map, key);
        if (c)
            return c;
    }
    if (p->nnodes >= p->lim.max_cct_nodes) {
        p->cct_overflows++;
        return 0;
    }
    uint32_t c = new_node(p, parent, fidx);
    pn = &p->nodes[parent]; /* moved */
    if (free_kid >= 0) {
        pn->kid_fidx[free_kid] = fidx;
        pn->kid_node[free_kid] = c;
    } else {
        hmap_put(&p->node_map, key, c);
    }
    return c;
}

/* CCT child of `parent` for `fidx`, created on first sight; 0 when the
 * tree is full. */
static inline __attribute__((always_inline)) uint32_t cct_child(prof_t *p, uint32_t parent,
                                                                uint32_t fidx)
{
    const prof_node_t *pn = &p->nodes[parent];
    for (int i = 0; i < PROF_KIDS; i++)
        if (pn->kid_fidx[i] == fidx && pn->kid_node[i])
            return pn->kid_node[i];
    return cct_child_slow(p, parent, fidx);
}

/* ---- threads ------------------------------------------------------------------ */

static prof_thread_t *thread_new(prof_t *p, unsigned slot)
{
    prof_thread_t *t = xcalloc(1, sizeof(*t));
    t->slot = slot;
    t->cap = 64;
    /* one more in front: the root's sentinel frame, so that the top frame
     * always has a caller */
    t->stack = (prof_frame_t *)xcalloc(t->cap + 1, sizeof(*t->stack)) + 1;
    t->next = p->threads;
    p->threads = t;
    p->nthreads++;
    return t;
}

void prof_slot_identity(prof_t *p, unsigned slot, int32_t tid, const char *name, uint32_t claim)
{
    if (slot >= p->nslots)
        return;
    prof_thread_t *t = p->slot_thread[slot];
    if (!t || t->ended) {
        t = thread_new(p, slot);
        p->slot_thread[slot] = t;
    }
    if (t->tid == 0) {
        t->tid = tid;
        t->claim = claim;
    }
    if (name && name[0] && !t->name[0]) {
        strncpy(t->name, name, sizeof(t->name) - 1);
        t->name[sizeof(t->name) - 1] = '\0';
    }
}

static void levels_fit(prof_thread_t *t, uint32_t fidx, uint32_t sub)
{
    if (fidx >= t->flevel_cap)
        grow_zero((void **)&t->flevel, &t->flevel_cap, fidx, sizeof(uint32_t));
    if (sub >= t->slevel_cap)
        grow_zero((void **)&t->slevel, &t->slevel_cap, sub, sizeof(uint32_t));
}

static int stack_grow(prof_t *p, prof_thread_t *t)
{
    if (t->cap >= p->lim.max_stack) {
        p->stack_overflows++;
        return 0;
    }
    uint32_t ncap = t->cap * 2;
    if (ncap > p->lim.max_stack)
        ncap = p->lim.max_stack;
    t->stack = (prof_frame_t *)xrealloc(t->stack - 1, sizeof(*t->stack) * (ncap + 1)) + 1;
    t->cap = ncap;
    return 1;
}

/* Cycle sums wrap instead of overflowing: records with nonsense clocks
 * from a broken writer make nonsense times, never undefined behaviour. */
#define WADD(x, v) ((x) = (int64_t)((uint64_t)(x) + (uint64_t)(v)))
#define WSUB(a, b) ((int64_t)((uint64_t)(a) - (uint64_t)(b)))

/* ---- flat accounting (beyond a full CCT) --------------------------------------- */

/* Add `dir` to the levels of the first `n` frames (all in the CCT): done
 * when the first flat frame is pushed (+1) and when the last one leaves
 * (-1), so that flat frames see every activation below them. */
static void seed_levels(prof_t *p, prof_thread_t *t, uint32_t n, int dir)
{
    for (uint32_t i = 0; i < n; i++) {
        const prof_frame_t *f = &t->stack[i];
        if (f->flags & PROF_FRAME_PLACEHOLDER)
            continue;
        uint32_t sub = sub_of(p, t->stack[(int)i - 1].fidx, f->fidx);
        levels_fit(t, f->fidx, sub);
        t->flevel[f->fidx] += (uint32_t)dir;
        if (sub)
            t->slevel[sub] += (uint32_t)dir;
    }
}

/* Make the top frame `f` (identity known unless a placeholder) flat. */
static void make_flat(prof_t *p, prof_thread_t *t, prof_frame_t *f)
{
    if (!(f[-1].flags & PROF_FRAME_FLAT))
        seed_levels(p, t, (uint32_t)(f - t->stack), +1);
    if (!p->overflow_node)
        p->overflow_node = new_node(p, 0, PROF_FIDX_UNKNOWN);
    f->flags |= PROF_FRAME_FLAT;
    f->node = 0;
    if (f->flags & PROF_FRAME_PLACEHOLDER)
        return; /* identity and levels come with the RETURN that closes it */
    uint32_t sub = sub_of(p, f[-1].fidx, f->fidx);
    f->node = sub;
    levels_fit(t, f->fidx, sub);
    t->flevel[f->fidx]++;
    if (sub)
        t->slevel[sub]++;
}

/* The last flat frame left: the levels of the CCT frames go back to 0. */
static inline void flat_left(prof_t *p, prof_thread_t *t)
{
    if (!(t->stack[(int)t->depth - 1].flags & PROF_FRAME_FLAT))
        seed_levels(p, t, t->depth, -1);
}

static void pop_flat(prof_t *p, prof_thread_t *t, const prof_frame_t *f, int64_t cum, int64_t own)
{
    prof_func_t *fn = &p->funcs[f->fidx];
    if (--t->flevel[f->fidx] == 0)
        WADD(fn->flat_cum, cum);
    else
        fn->flat_rec++;
    WADD(fn->flat_own, own);
    fn->flat_calls++;
    if (f->node) {
        prof_sub_t *s = &p->subs[f->node];
        if (--t->slevel[f->node] == 0)
            WADD(s->flat_cum, cum);
        else
            s->flat_rec++;
        WADD(s->flat_own, own);
        s->flat_calls++;
    }
    prof_node_t *n = &p->nodes[p->overflow_node];
    n->count++;
    WADD(n->own, own);
    WADD(n->cum, cum);
    flat_left(p, t);
}

/* ---- the shadow stack ------------------------------------------------------------ */

static inline __attribute__((always_inline)) void push(prof_t *p, prof_thread_t *t,
                                                       uint32_t fidx, uint32_t id, uint64_t tsc,
                                                       uint32_t flags)
{
    if (__builtin_expect(t->depth >= t->cap, 0) && !stack_grow(p, t))
        return;
    prof_frame_t *f = &t->stack[t->depth++];
    f->fidx = fidx;
    f->id = id;
    f->flags = flags;
    f->t0 = tsc;
    f->subt = 0;
    uint32_t node = 0;
    if (__builtin_expect(!(f[-1].flags & PROF_FRAME_FLAT), 1))
        node = cct_child(p, f[-1].node, fidx);
    f->node = node;
    if (__builtin_expect(!node, 0))
        make_flat(p, t, f);
}

/* Pop the top frame and account it as returning at `tsc`. */
static inline __attribute__((always_inline)) void pop_account(prof_t *p, prof_thread_t *t,
                                                              uint64_t tsc)
{
    prof_frame_t *f = &t->stack[--t->depth];
    int64_t cum = (int64_t)(tsc - f->t0);
    int64_t own = WSUB(cum, f->subt);
    WADD(f[-1].subt, cum);
    if (__builtin_expect(f->flags & PROF_FRAME_FLAT, 0)) {
        pop_flat(p, t, f, cum, own);
        return;
    }
    prof_node_t *n = &p->nodes[f->node];
    n->count++;
    WADD(n->own, own);
    WADD(n->cum, cum);
}

/* Give a placeholder frame (top of stack) its identity, so that it can be
 * accounted like any other. */
static void resolve_top(prof_t *p, prof_thread_t *t, uint32_t fidx, uint32_t id, uint32_t flags)
{
    prof_frame_t *f = &t->stack[t->depth - 1];
    f->fidx = fidx;
    f->id = id;
    if (!(f->flags & PROF_FRAME_FLAT)) {
        f->flags = flags;
        f->node = cct_child(p, f[-1].node, fidx);
        if (!f->node)
            make_flat(p, t, f);
        return;
    }
    f->flags = flags | PROF_FRAME_FLAT;
    uint32_t sub = sub_of(p, f[-1].fidx, fidx);
    f->node = sub;
    levels_fit(t, fidx, sub);
    t->flevel[fidx]++;
    if (sub)
        t->slevel[sub]++;
}

/* Pop the top frame without accounting it (its end was lost). */
static void pop_discard(prof_t *p, prof_thread_t *t)
{
    prof_frame_t *f = &t->stack[--t->depth];
    t->discarded++;
    if (!(f->flags & PROF_FRAME_FLAT))
        return;
    if (!(f->flags & PROF_FRAME_PLACEHOLDER)) {
        t->flevel[f->fidx]--;
        if (f->node)
            t->slevel[f->node]--;
    }
    flat_left(p, t);
}

/* Make the shadow stack `want` frames deep (the writer's depth): drop
 * frames above it, or pad with placeholders entered at `tsc`. */
static void resync(prof_t *p, prof_thread_t *t, uint32_t want, uint64_t tsc)
{
    t->resyncs++;
    while (t->depth > want)
        pop_discard(p, t);
    while (t->depth < want && t->depth < p->lim.max_stack)
        push(p, t, PROF_FIDX_UNKNOWN, 0, tsc, PROF_FRAME_PLACEHOLDER);
    if (t->depth < want)
        p->stack_overflows++;
}

/* The writer's 16-bit depth `d` as a full depth near our own. */
static inline uint32_t unwrap_depth(uint32_t ours, uint16_t d)
{
    uint32_t base = ours & ~0xffffu;
    uint32_t full = base | d;
    if (full > ours + 0x8000u && full >= 0x10000u)
        full -= 0x10000u;
    else if (full + 0x8000u < ours)
        full += 0x10000u;
    return full;
}

static void flush(prof_t *p, prof_thread_t *t, uint64_t tsc)
{
    while (t->depth) {
        if (t->stack[t->depth - 1].flags & PROF_FRAME_PLACEHOLDER)
            pop_discard(p, t);
        else
            pop_account(p, t, tsc);
    }
}

/* ---- definitions ----------------------------------------------------------------- */

static uint32_t store_string(prof_t *p, const char *s, size_t n)
{
    if (p->strings_len + n + 1 > UINT32_MAX)
        return 0;
    if (p->strings_len + n + 1 > p->strings_cap) {
        while (p->strings_len + n + 1 > p->strings_cap)
            p->strings_cap *= 2;
        p->strings = xrealloc(p->strings, p->strings_cap);
    }
    uint32_t off = (uint32_t)p->strings_len;
    memcpy(p->strings + off, s, n);
    p->strings[off + n] = '\0';
    p->strings_len += n + 1;
    return off;
}

static void define(prof_t *p, prof_name_t **arr, uint32_t *cap, uint32_t id, const char *name,
                   size_t name_len, const char *file, size_t file_len, uint32_t line)
{
    if (id >= p->lim.max_id) {
        p->ids_out_of_range++;
        return;
    }
    grow_zero((void **)arr, cap, id, sizeof(prof_name_t));
    prof_name_t *d = &(*arr)[id];
    /* the same definition again (another thread's ring): keep the stored one */
    if (d->defined && d->name_len == name_len && d->file_len == file_len && d->line == line &&
        memcmp(p->strings + d->name_off, name, name_len) == 0 &&
        (!file_len || memcmp(p->strings + d->file_off, file, file_len) == 0))
        return;
    d->name_off = store_string(p, name, name_len);
    d->name_len = (uint32_t)name_len;
    d->file_off = file_len ? store_string(p, file, file_len) : 0;
    d->file_len = (uint32_t)file_len;
    d->line = line;
    d->defined = 1;
}

static int def_code(prof_t *p, unsigned ns, uint32_t id, const uint8_t *pl, uint32_t len)
{
    ulma_def_code_t dc;
    if (len < sizeof(dc))
        return -1;
    memcpy(&dc, pl, sizeof(dc));
    if ((uint64_t)sizeof(dc) + dc.name_len + dc.file_len > len)
        return -1;
    const char *name = (const char *)pl + sizeof(dc);
    define(p, &p->names[ns], &p->names_cap[ns], id, name, dc.name_len, name + dc.name_len,
           dc.file_len, dc.firstline);
    return 0;
}

/* Payload strings are padded with NULs to a whole unit. */
static size_t text_len(const uint8_t *pl, uint32_t len)
{
    size_t n = len;
    while (n && pl[n - 1] == '\0')
        n--;
    return n;
}

/* ---- objects ------------------------------------------------------------------- */

/*
 * Frees are paired with constructions by address, per process (an object
 * may die on another thread than the one that built it): a construction
 * puts its address in the set with its site, a free of that address
 * (and type) takes it out. A free that finds nothing is an object born
 * while nothing was recorded: counted apart (frees_unborn), so that
 * news - frees never counts it. An address reused without a recorded free
 * means the object there died unseen (lost).
 *
 * Rings are drained one after the other, so a free read from one thread's
 * ring may precede, in our reading, the construction still unread in
 * another's. When the process has more than one thread, such a free is
 * counted unborn at once and kept "pending" (bounded ring, oldest out
 * first); a construction at its address with an earlier cycle count, read
 * later, takes the free back: both are counted as a paired life.
 */

#define OSET_MIN_CAP 1024u

static inline uint32_t oset_home(const prof_objset_t *s, uint64_t addr)
{
    return (uint32_t)hmap_hash(addr ^ s->seed) & (s->cap - 1);
}

/* The slot of `addr`, or the empty slot where it would go (cap > 0). */
static inline uint32_t oset_find(const prof_objset_t *s, uint64_t addr)
{
    uint32_t m = s->cap - 1, j = oset_home(s, addr);
    while (s->ents[j].addr && s->ents[j].addr != addr)
        j = (j + 1) & m;
    return j;
}

/* A pending free's entry is stale once the ring has gone round since it
 * was put there: the slot then holds nothing, it is reused in place or
 * removed when the set fills. So evicting the oldest pending free costs
 * nothing, and telling a stale entry needs no look at the ring. */
static inline int oset_stale(const prof_objset_t *s, const prof_objent_t *e)
{
    return (e->val & PROF_OBJ_PENDING) && (uint32_t)(s->pend_seq - e->size) > s->pend_cap;
}

/* The pending free of entry `e` (PROF_OBJ_PENDING), or NULL if stale. */
static inline prof_pending_free_t *pend_of(const prof_objset_t *s, const prof_objent_t *e)
{
    if (oset_stale(s, e))
        return NULL;
    prof_pending_free_t *f = &s->pend[e->size & (s->pend_cap - 1)];
    /* the sequence numbers wrap: an entry 2^32 frees old looks new */
    return f->addr == e->addr ? f : NULL;
}

/* Remove slot `j`: shift back the entries after it that probed past it. */
static void oset_del(prof_objset_t *s, uint32_t j)
{
    uint32_t m = s->cap - 1, k = j;
    s->n--;
    for (;;) {
        k = (k + 1) & m;
        if (!s->ents[k].addr)
            break;
        uint32_t h = oset_home(s, s->ents[k].addr);
        /* the entry at k may fill the hole at j unless its home lies
         * cyclically in (j, k] */
        if (j <= k ? (j < h && h <= k) : (j < h || h <= k))
            continue;
        s->ents[j] = s->ents[k];
        j = k;
    }
    s->ents[j].addr = 0;
}

/* Room for one more entry; slots may move. At 3/4 full the set is
 * rebuilt without its stale entries: in place (the same memory: fresh
 * pages are costly) when at most half remains, else twice as large. At
 * most max_live_objects + max_pending_frees entries are not stale, so the
 * set never exceeds the power of two >= twice that many slots. */
static void oset_reserve(prof_objset_t *s)
{
    if ((uint64_t)(s->n + 1) * 4 <= (uint64_t)s->cap * 3)
        return;
    /* what remains: the live objects and at most a ring of pending frees;
     * counted when that bound says to grow */
    uint64_t keep = (uint64_t)s->nlive + (s->pend_seq < s->pend_cap ? s->pend_seq : s->pend_cap);
    if (s->cap && (keep + 1) * 2 > s->cap) {
        keep = 0;
        for (uint32_t i = 0; i < s->cap; i++)
            keep += s->ents[i].addr && !oset_stale(s, &s->ents[i]);
    }
    uint32_t ocap = s->cap;
    prof_objent_t *old;
    if (ocap && (keep + 1) * 2 <= ocap) {
        old = xmalloc(sizeof(*old) * (keep ? keep : 1));
        uint32_t k = 0;
        for (uint32_t i = 0; i < ocap; i++)
            if (s->ents[i].addr && !oset_stale(s, &s->ents[i]))
                old[k++] = s->ents[i];
        memset(s->ents, 0, sizeof(*s->ents) * ocap);
        ocap = k;
    } else {
        if (!s->seed) {
            /* unpredictable enough: where this profile lives and when */
            s->seed = hmap_hash((uint64_t)(uintptr_t)s ^ ulma_clock_read()) | 1;
        }
        old = s->ents;
        s->cap = ocap ? ocap * 2 : OSET_MIN_CAP;
        s->ents = xcalloc(s->cap, sizeof(*s->ents));
    }
    s->n = 0;
    for (uint32_t i = 0; i < ocap; i++) {
        if (old[i].addr && !oset_stale(s, &old[i])) {
            s->ents[oset_find(s, old[i].addr)] = old[i];
            s->n++;
        }
    }
    free(old);
}

/* Keep a free that found no construction (already counted unborn) in
 * the ring, over the oldest; returns its sequence number. */
static uint32_t pend_push(prof_t *p, uint64_t addr, uint64_t size, uint64_t tsc, uint32_t type_id)
{
    prof_objset_t *s = &p->objs;
    if (!s->pend) {
        /* untouched pages cost nothing until used */
        s->pend_cap = p->lim.max_pending_frees;
        s->pend = xcalloc(s->pend_cap, sizeof(*s->pend));
    }
    uint32_t seq = s->pend_seq++;
    s->pend[seq & (s->pend_cap - 1)] = (prof_pending_free_t){addr, size, tsc, type_id, 0};
    return seq;
}

/* The live object of entry `e` died unseen (the caller reuses or deletes
 * the slot). */
static void obj_lost(prof_t *p, const prof_objent_t *e)
{
    prof_objsite_t *site = &p->sites[e->val];
    prof_type_t *ty = &p->types[site->type_id];
    ty->live--;
    ty->bytes_live -= e->size;
    ty->lost++;
    site->live--;
    site->bytes_live -= e->size;
    p->objs.nlive--;
}

/* Construction site of `type_id` in `fidx`, created on first sight; beyond
 * max_sites, the type's site in [unknown] (bounded by the type ids). */
static uint32_t site_of(prof_t *p, uint32_t fidx, uint32_t type_id)
{
    uint64_t key = (uint64_t)fidx << 32 | type_id;
    uint32_t s = hmap_get(&p->site_map, key);
    if (s)
        return s;
    if (p->nsites >= p->lim.max_sites && fidx != PROF_FIDX_UNKNOWN) {
        p->obj_site_overflows++;
        return site_of(p, PROF_FIDX_UNKNOWN, type_id);
    }
    if (p->nsites == p->sites_cap) {
        uint32_t cap = p->sites_cap;
        grow_zero((void **)&p->sites, &cap, p->nsites, sizeof(*p->sites));
        p->sites_cap = cap;
    }
    s = p->nsites++;
    p->sites[s].fidx = fidx;
    p->sites[s].type_id = type_id;
    hmap_put(&p->site_map, key, s);
    return s;
}

static void obj_free(prof_t *p, uint32_t type_id, const ulma_obj_payload_t *op, uint64_t tsc)
{
    prof_objset_t *s = &p->objs;
    uint32_t j = 0;
    int have = 0; /* slot j holds an entry of this address, to be reused */
    if (op->addr && s->n) {
        j = oset_find(s, op->addr);
        prof_objent_t *e = &s->ents[j];
        if (e->addr == op->addr) {
            have = 1;
            if (e->val & PROF_OBJ_PENDING) {
                /* freed twice without a construction between: the first
                 * free stays unborn, this one waits instead */
            } else if (p->sites[e->val].type_id == type_id) {
                prof_objsite_t *site = &p->sites[e->val];
                prof_type_t *ty = &p->types[type_id];
                ty->frees++;
                ty->bytes_free += op->size;
                ty->live--;
                ty->bytes_live -= e->size;
                site->frees++;
                site->live--;
                site->bytes_live -= e->size;
                s->nlive--;
                oset_del(s, j);
                return;
            } else {
                /* an object of another type is freed there: ours died unseen */
                obj_lost(p, e);
            }
        }
    }
    prof_type_t *ty = &p->types[type_id];
    ty->frees_unborn++;
    ty->bytes_free_unborn += op->size;
    /* only another thread's ring can hold an earlier construction */
    if (!op->addr || p->nthreads < 2 || !p->lim.max_pending_frees) {
        if (have)
            oset_del(s, j);
        return;
    }
    if (!have) {
        oset_reserve(s);
        j = oset_find(s, op->addr);
        s->n++;
    }
    uint32_t seq = pend_push(p, op->addr, op->size, tsc, type_id);
    s->ents[j] = (prof_objent_t){op->addr, PROF_OBJ_PENDING, seq};
}

static void obj_new(prof_t *p, uint32_t type_id, uint32_t site, const ulma_obj_payload_t *op,
                    uint64_t tsc)
{
    prof_objset_t *s = &p->objs;
    prof_type_t *ty = &p->types[type_id];
    if (!op->addr) {
        ty->untracked++;
        return;
    }
    uint32_t j = 0;
    int have = 0; /* slot j holds an entry of this address, to be reused */
    if (s->n) {
        j = oset_find(s, op->addr);
        prof_objent_t *e = &s->ents[j];
        if (e->addr == op->addr) {
            have = 1;
            if (!(e->val & PROF_OBJ_PENDING)) {
                obj_lost(p, e); /* a new object there: the old one died unseen */
            } else {
                const prof_pending_free_t *pf = pend_of(s, e);
                if (pf && pf->type_id == type_id && tsc < pf->tsc) {
                    /* that free, read before, ended this very object */
                    ty->frees_unborn--;
                    ty->bytes_free_unborn -= pf->size;
                    ty->frees++;
                    ty->bytes_free += pf->size;
                    p->sites[site].frees++;
                    p->obj_paired_late++;
                    oset_del(s, j);
                    return;
                }
                /* else stale, or an older object's free: settled unborn */
            }
        }
    }
    if (s->nlive >= p->lim.max_live_objects) {
        ty->untracked++;
        p->obj_untracked++;
        if (have)
            oset_del(s, j);
        return;
    }
    if (!have) {
        oset_reserve(s);
        j = oset_find(s, op->addr);
        s->n++;
    }
    uint32_t size = op->size > UINT32_MAX ? UINT32_MAX : (uint32_t)op->size;
    s->ents[j] = (prof_objent_t){op->addr, site, size};
    s->nlive++;
    ty->live++;
    ty->bytes_live += size;
    p->sites[site].live++;
    p->sites[site].bytes_live += size;
}

/* Object records come in runs, each a likely cache miss in a big set:
 * start loading the slot of the one OBJ_AHEAD units ahead (if that unit
 * is an object record's header; a payload that looks like one costs a
 * useless prefetch, nothing else). A set of up to OBJ_PREFETCH_MIN slots
 * (1 MiB) stays in cache: no prefetch, whose hash would cost more. */
#define OBJ_AHEAD 16
#define OBJ_PREFETCH_MIN 65536u
static inline void obj_prefetch(const prof_t *p, const ulma_rec_t *ahead, const ulma_rec_t *end)
{
    const prof_objset_t *s = &p->objs;
    if (s->cap <= OBJ_PREFETCH_MIN || ahead + 1 >= end)
        return;
    const volatile prof_word_t *w = (const volatile prof_word_t *)(const void *)ahead;
    uint32_t ku = (uint32_t)(w[1] >> 48);
    if (ku != (2u << 8 | ULMA_EV_OBJ_NEW) && ku != (2u << 8 | ULMA_EV_OBJ_FREE))
        return;
    uint64_t addr = w[3]; /* ulma_obj_payload_t.addr */
    __builtin_prefetch(&s->ents[oset_home(s, addr)], 1);
}

/* Not inlined: the object code stays out of the record loop's registers. */
static __attribute__((noinline)) void obj_event(prof_t *p, prof_thread_t *t, const ulma_rec_t *r,
                                                const uint8_t *pl, uint32_t len)
{
    ulma_obj_payload_t op;
    uint32_t type_id = r->id;
    if (len < sizeof(op)) {
        p->bad_records++;
        return;
    }
    if (type_id >= p->lim.max_id || type_id >= p->lim.max_type_id) {
        p->ids_out_of_range++;
        return;
    }
    memcpy(&op, pl, sizeof(op));
    grow_zero((void **)&p->types, &p->types_cap, type_id, sizeof(*p->types));
    if (r->kind == ULMA_EV_OBJ_FREE) {
        obj_free(p, type_id, &op, r->tsc);
        return;
    }
    prof_type_t *ty = &p->types[type_id];
    ty->news++;
    ty->bytes_new += op.size;
    uint32_t fidx = PROF_FIDX_UNKNOWN;
    for (uint32_t i = t->depth; i > 0; i--) {
        if (!(t->stack[i - 1].flags & PROF_FRAME_PLACEHOLDER)) {
            fidx = t->stack[i - 1].fidx;
            break;
        }
    }
    uint32_t s = site_of(p, fidx, type_id);
    p->sites[s].count++;
    p->sites[s].bytes += op.size;
    obj_new(p, type_id, s, &op, r->tsc);
    /* the window of the latest constructions (the "nova" view) */
    prof_recent_t *w = &p->recent[p->recent_n++ % PROF_RECENT];
    w->tsc = r->tsc;
    w->type_id = type_id;
    w->fidx = fidx;
    w->size = op.size;
}

/* ---- the hot path ------------------------------------------------------------- */

void prof_slot_reclaimed(prof_t *p, unsigned slot)
{
    prof_thread_t *t = slot < p->nslots ? p->slot_thread[slot] : NULL;
    if (!t || t->ended)
        return;
    flush(p, t, t->last_tsc);
    t->ended = 1;
    p->threads_unended++;
    p->gen++;
}

static prof_thread_t *slot_thread(prof_t *p, unsigned slot)
{
    prof_thread_t *t = p->slot_thread[slot];
    if (__builtin_expect(t != NULL && !t->ended, 1))
        return t;
    if (p->nthreads >= p->lim.max_threads) {
        /* keep consuming into the last thread record of this slot */
        p->threads_dropped++;
        if (t) {
            t->ended = 0;
            return t;
        }
    }
    t = thread_new(p, slot);
    p->slot_thread[slot] = t;
    return t;
}

/* A RETURN whose depth or identity does not match the stack: repair it,
 * then account. */
static __attribute__((noinline)) void on_return_slow(prof_t *p, prof_thread_t *t, uint32_t cflag,
                                                     const ulma_rec_t *r)
{
    uint32_t d = unwrap_depth(t->depth, r->depth);
    if (d != t->depth) {
        if (d == 0 && t->depth == 0)
            return; /* a frame entered before profiling started */
        resync(p, t, d, r->tsc);
    }
    if (t->depth == 0)
        return;
    unsigned ns = cflag ? PROF_NS_CFUNC : PROF_NS_CODE;
    prof_frame_t *top = &t->stack[t->depth - 1];
    if (top->flags & PROF_FRAME_PLACEHOLDER) {
        resolve_top(p, t, func_of(p, ns, r->id), r->id, cflag);
    } else if (top->id != r->id || (top->flags & PROF_FRAME_C) != cflag) {
        /* the record names another function: ours ended in lost records and
         * this one was entered then. Replace it, entered no earlier than
         * the last loss, keeping the time of callees seen since. */
        t->mismatches++;
        uint64_t t0 = top->t0 > t->last_drop_tsc ? top->t0 : t->last_drop_tsc;
        int64_t subt = top->subt;
        pop_discard(p, t);
        push(p, t, PROF_FIDX_UNKNOWN, 0, t0, PROF_FRAME_PLACEHOLDER);
        if (t->depth) {
            int64_t span = (int64_t)(r->tsc - t0);
            t->stack[t->depth - 1].subt = subt < span ? subt : span;
            resolve_top(p, t, func_of(p, ns, r->id), r->id, cflag);
        }
    }
    pop_account(p, t, r->tsc);
}

static inline __attribute__((always_inline)) void on_return(prof_t *p, prof_thread_t *t,
                                                            uint32_t cflag, const ulma_rec_t *r)
{
    uint32_t d = t->depth;
    if (__builtin_expect(d != 0 && r->depth == (uint16_t)d, 1)) {
        const prof_frame_t *top = &t->stack[d - 1];
        if (__builtin_expect(top->id == r->id &&
                                 (top->flags & (PROF_FRAME_C | PROF_FRAME_PLACEHOLDER)) == cflag,
                             1)) {
            pop_account(p, t, r->tsc);
            return;
        }
    }
    on_return_slow(p, t, cflag, r);
}

static inline __attribute__((always_inline)) void on_call(prof_t *p, prof_thread_t *t,
                                                          unsigned ns, uint32_t cflag,
                                                          const ulma_rec_t *r)
{
    if (__builtin_expect(r->depth != (uint16_t)(t->depth + 1), 0)) {
        uint32_t d = unwrap_depth(t->depth + 1, r->depth);
        resync(p, t, d ? d - 1 : 0, r->tsc);
    }
    push(p, t, func_of(p, ns, r->id), r->id, r->tsc, cflag);
}


#define KU(kind) (1u << 8 | (kind)) /* one-unit record of `kind`, as hdr >> 48 */

/* The common case in bulk: one-unit CALL / RETURN records that agree with
 * the shadow stack and find their CCT node among the inline children of
 * the caller's node. The thread's stack top, the node array and the id
 * maps stay in registers; anything else (a record of another kind, a
 * depth or identity mismatch, a new path, a flat frame, a full stack)
 * stops the run and is handled record by record by the caller. Returns
 * the first record not consumed. Accounting is exactly pop_account's. */
static inline __attribute__((always_inline)) const ulma_rec_t *
fast_run(prof_t *restrict p, prof_thread_t *restrict t, const ulma_rec_t *cur,
         const ulma_rec_t *end)
{
    prof_frame_t *const base = t->stack;
    prof_frame_t *const lim = base + t->cap;
    prof_frame_t *sp = base + t->depth; /* the first free frame */
    prof_node_t *const nodes = p->nodes;
    const uint32_t *const map0 = p->map[PROF_NS_CODE], *const map1 = p->map[PROF_NS_CFUNC];
    const uint32_t cap0 = p->map_cap[PROF_NS_CODE], cap1 = p->map_cap[PROF_NS_CFUNC];
    const ulma_rec_t *c = cur;
    uint64_t tsc = t->clock_tsc, last = t->clock_tsc;
    for (; c < end; c++, last = tsc) {
        const volatile prof_word_t *w = (const volatile prof_word_t *)(const void *)c;
        uint64_t hdr = w[1];
        tsc = w[0];
        /* one thread's clock never goes back (see prof_consume) */
        tsc = tsc < last ? last : tsc;
        uint32_t id = (uint32_t)hdr;
        uint16_t rd = (uint16_t)(hdr >> 32);
        uint32_t ku = (uint32_t)(hdr >> 48);
        if (ku == KU(ULMA_EV_CALL) || ku == KU(ULMA_EV_C_CALL)) {
            uint32_t cflag = ku == KU(ULMA_EV_C_CALL) ? PROF_FRAME_C : 0;
            if (__builtin_expect(rd != (uint16_t)(sp - base + 1) || sp == lim, 0))
                break;
            const uint32_t *map = cflag ? map1 : map0;
            uint32_t mcap = cflag ? cap1 : cap0;
            if (__builtin_expect(id >= mcap, 0))
                break;
            uint32_t fidx = map[id];
            const prof_frame_t *par = sp - 1; /* stack[-1]: the root sentinel */
            if (__builtin_expect(!fidx || (par->flags & PROF_FRAME_FLAT), 0))
                break;
            /* children have distinct functions, and fidx != 0 never
             * matches a free entry's 0 (placeholder children, fidx 0, are
             * never looked up here): at most one term is not 0 */
            const prof_node_t *pn = &nodes[par->node];
            uint32_t ch = 0;
            for (int i = 0; i < PROF_KIDS; i++) /* masks: no branch to mispredict */
                ch |= pn->kid_node[i] & (0u - (uint32_t)(pn->kid_fidx[i] == fidx));
            if (__builtin_expect(!ch, 0))
                break;
            /* its children are looked up at its first call, it is
             * updated at its return */
            __builtin_prefetch(&nodes[ch], 1);
            sp->fidx = fidx;
            sp->node = ch;
            sp->id = id;
            sp->flags = cflag;
            sp->t0 = tsc;
            sp->subt = 0;
            sp++;
        } else if (ku == KU(ULMA_EV_RETURN) || ku == KU(ULMA_EV_UNWIND) ||
                   ku == KU(ULMA_EV_C_RETURN)) {
            uint32_t cflag = ku == KU(ULMA_EV_C_RETURN) ? PROF_FRAME_C : 0;
            prof_frame_t *f = sp - 1;
            if (__builtin_expect(sp == base || rd != (uint16_t)(sp - base) || f->id != id ||
                                     (f->flags & (PROF_FRAME_C | PROF_FRAME_PLACEHOLDER |
                                                  PROF_FRAME_FLAT)) != cflag,
                                 0))
                break;
            int64_t cum = (int64_t)(tsc - f->t0);
            int64_t own = WSUB(cum, f->subt);
            WADD(f[-1].subt, cum);
            prof_node_t *n = &nodes[f->node];
            n->count++;
            WADD(n->own, own);
            WADD(n->cum, cum);
            sp = f;
        } else {
            break;
        }
    }
    if (c != cur) {
        t->depth = (uint32_t)(sp - base);
        t->last_tsc = last;
        t->clock_tsc = last;
    }
    return c;
}

int prof_consume(prof_t *p, unsigned slot, const ulma_rec_t *recs, size_t nunits)
{
    if (slot >= p->nslots)
        return -1;
    prof_thread_t *t = slot_thread(p, slot);
    const ulma_rec_t *cur = recs, *end = recs + nunits;
    if (cur < end && !t->first_tsc)
        t->first_tsc = cur->tsc;
    uint64_t events = 0;
    int rc = 0;
    while (cur < end) {
        const ulma_rec_t *run = cur;
        cur = fast_run(p, t, cur, end);
        events += (uint64_t)(cur - run);
        if (cur == end)
            break;
        ulma_rec_t r = *(const volatile ulma_rec_t *)cur;
        if (__builtin_expect(r.units == 0 || r.units > (size_t)(end - cur), 0)) {
            rc = -1;
            break;
        }
        /* A thread that moved to another CPU may read a counter a little
         * behind the one it read before (the TSCs of virtual CPUs are not
         * always in step): a frame record is never earlier than the frame
         * record before it on its thread, so no frame's time, nor its own,
         * is negative. (Definitions and objects are not frame records.) */
        if (r.kind <= ULMA_EV_THREAD_END || r.kind == ULMA_EV_MPI) {
            if (r.tsc < t->clock_tsc)
                r.tsc = t->clock_tsc;
            t->clock_tsc = r.tsc;
        }
        const uint8_t *pl = (const uint8_t *)(cur + 1);
        uint32_t len = (uint32_t)(r.units - 1u) * ULMA_UNIT;
        cur += r.units;
        events++;
        switch (r.kind) {
        case ULMA_EV_CALL:
            on_call(p, t, PROF_NS_CODE, 0, &r);
            break;
        case ULMA_EV_RETURN:
        case ULMA_EV_UNWIND:
            on_return(p, t, 0, &r);
            break;
        case ULMA_EV_C_CALL:
            on_call(p, t, PROF_NS_CFUNC, PROF_FRAME_C, &r);
            break;
        case ULMA_EV_C_RETURN:
            on_return(p, t, PROF_FRAME_C, &r);
            break;
        case ULMA_EV_PAD:
            events--;
            break;
        case ULMA_EV_DROP:
            t->drop_events++;
            t->dropped += r.id;
            t->last_drop_tsc = r.tsc;
            resync(p, t, unwrap_depth(t->depth, r.depth), r.tsc);
            break;
        case ULMA_EV_MODE: {
            /* frames stay open across a mode change (their RETURNs come,
             * also while off); the writer's depth is a resynchronisation
             * point, repaired only if it disagrees */
            t->mode = r.id;
            uint32_t d = unwrap_depth(t->depth, r.depth);
            if (d != t->depth)
                resync(p, t, d, r.tsc);
            break;
        }
        case ULMA_EV_THREAD_END:
            flush(p, t, r.tsc);
            t->last_tsc = r.tsc;
            t->events += events;
            p->events += events;
            events = 0;
            t->ended = 1;
            if (cur < end) {
                t = slot_thread(p, slot);
                if (!t->first_tsc)
                    t->first_tsc = cur->tsc;
            }
            continue;
        case ULMA_EV_OBJ_NEW:
        case ULMA_EV_OBJ_FREE:
            obj_prefetch(p, cur + OBJ_AHEAD, end);
            obj_event(p, t, &r, pl, len);
            break;
        case ULMA_EV_MPI: {
            ulma_mpi_payload_t mp;
            if (len < sizeof(mp)) {
                p->bad_records++;
                break;
            }
            memcpy(&mp, pl, sizeof(mp));
            uint32_t f = func_of(p, PROF_NS_MPI, r.id);
            push(p, t, f, r.id, r.tsc, PROF_FRAME_C);
            if (t->depth && t->stack[t->depth - 1].fidx == f) {
                pop_account(p, t, r.tsc + mp.duration);
                p->funcs[f].mpi_bytes += mp.bytes;
            }
            break;
        }
        case ULMA_EV_DEF_CODE:
            if (def_code(p, PROF_NS_CODE, r.id, pl, len))
                p->bad_records++;
            break;
        case ULMA_EV_DEF_CFUNC:
            if (def_code(p, PROF_NS_CFUNC, r.id, pl, len))
                p->bad_records++;
            break;
        case ULMA_EV_DEF_MPI:
            define(p, &p->names[PROF_NS_MPI], &p->names_cap[PROF_NS_MPI], r.id, (const char *)pl,
                   text_len(pl, len), "", 0, 0);
            break;
        case ULMA_EV_DEF_TYPE:
            define(p, &p->type_names, &p->type_names_cap, r.id, (const char *)pl,
                   text_len(pl, len), "", 0, 0);
            break;
        case ULMA_EV_DEF_THREAD: {
            size_t n = text_len(pl, len);
            if (n >= sizeof(t->name))
                n = sizeof(t->name) - 1;
            memcpy(t->name, pl, n);
            t->name[n] = '\0';
            t->tid = (int32_t)r.id;
            break;
        }
        default:
            p->bad_records++;
            break;
        }
        t->last_tsc = r.tsc;
    }
    t->events += events;
    p->events += events;
    p->gen++;
    if (t->last_tsc) {
        if (!p->first_tsc || t->first_tsc < p->first_tsc)
            p->first_tsc = t->first_tsc;
        if (t->last_tsc > p->last_tsc)
            p->last_tsc = t->last_tsc;
    }
    return rc;
}

void prof_finish(prof_t *p)
{
    for (prof_thread_t *t = p->threads; t; t = t->next)
        flush(p, t, t->last_tsc);
    p->gen++;
}

/* ---- the function table and the edges, from the CCT ------------------------------ */

void prof_derive(prof_t *p)
{
    if (p->derived_gen == p->gen && p->gen)
        return;
    p->derived_gen = p->gen;
    for (uint32_t f = 0; f < p->nfuncs; f++) {
        prof_func_t *fn = &p->funcs[f];
        fn->callcount = fn->flat_calls;
        fn->reccallcount = fn->flat_rec;
        fn->cum = fn->flat_cum;
        fn->own = fn->flat_own;
    }
    for (uint32_t e = 0; e < p->nsubs; e++) {
        prof_sub_t *sb = &p->subs[e];
        sb->callcount = sb->flat_calls;
        sb->reccallcount = sb->flat_rec;
        sb->cum = sb->flat_cum;
        sb->own = sb->flat_own;
    }
    uint32_t nn = p->nnodes;
    /* children of every node, from the parent links (parent < child) */
    uint32_t *start = xcalloc((size_t)nn + 1, sizeof(uint32_t));
    uint32_t *kids = xmalloc(sizeof(uint32_t) * (nn ? nn : 1));
    for (uint32_t n = 1; n < nn; n++)
        start[p->nodes[n].parent + 1]++;
    for (uint32_t n = 0; n < nn; n++)
        start[n + 1] += start[n];
    uint32_t *fill = xmalloc(sizeof(uint32_t) * (nn ? nn : 1));
    memcpy(fill, start, sizeof(uint32_t) * nn);
    for (uint32_t n = 1; n < nn; n++)
        kids[fill[p->nodes[n].parent]++] = n;
    /* depth-first: entering a node activates its function and its edge */
    uint32_t *flev = xcalloc(p->nfuncs ? p->nfuncs : 1, sizeof(uint32_t));
    uint32_t *slev = xcalloc(p->nsubs ? p->nsubs : 1, sizeof(uint32_t));
    uint32_t *stk = fill; /* reused: a path is at most nn nodes */
    uint32_t *next = xmalloc(sizeof(uint32_t) * (nn ? nn : 1));
    uint32_t sp = 0;
    stk[sp] = 0;
    next[sp++] = start[0];
    while (sp) {
        uint32_t n = stk[sp - 1];
        if (next[sp - 1] == start[n + 1]) {
            sp--; /* leave n */
            if (n) {
                flev[p->nodes[n].fidx]--;
                if (p->node_sub[n])
                    slev[p->node_sub[n]]--;
            }
            continue;
        }
        uint32_t c = kids[next[sp - 1]++];
        if (c == p->overflow_node)
            continue; /* flat frames: accounted flat */
        const prof_node_t *nd = &p->nodes[c];
        prof_func_t *fn = &p->funcs[nd->fidx];
        fn->callcount += nd->count;
        WADD(fn->own, nd->own);
        if (flev[nd->fidx]++)
            fn->reccallcount += nd->count;
        else
            WADD(fn->cum, nd->cum);
        uint32_t e = p->node_sub[c];
        if (e) {
            prof_sub_t *sb = &p->subs[e];
            sb->callcount += nd->count;
            WADD(sb->own, nd->own);
            if (slev[e]++)
                sb->reccallcount += nd->count;
            else
                WADD(sb->cum, nd->cum);
        }
        stk[sp] = c;
        next[sp++] = start[c];
    }
    free(start);
    free(kids);
    free(fill);
    free(next);
    free(flev);
    free(slev);
}

/* ---- the open part, from the shadow stacks ------------------------------------ */

static int open_node_cmp(const void *x, const void *y)
{
    const prof_open_node_t *a = x, *b = y;
    return a->node < b->node ? -1 : a->node > b->node;
}

/* Each thread's frames from the bottom up, with what flush() at `now`
 * would account: a frame's body time is its time less its completed
 * callees' and less the open callee above it (unless that one is a
 * placeholder, which flush discards without charging its caller), and a
 * function (an edge) adds cumulative time at its outermost frame, the one
 * whose level would reach 0. Outermost is "not seen lower on this
 * thread's stack": a stamp per function and per edge, one per thread. */
void prof_derive_open(prof_t *p, uint64_t now)
{
    /* allocated by the first derivation only: no cost for a profile that
     * no live view asks about */
    if (p->nfuncs > p->open_funcs_cap) {
        p->open_funcs_cap = p->funcs_cap;
        p->open_funcs = xrealloc(p->open_funcs, sizeof(*p->open_funcs) * p->open_funcs_cap);
    }
    if (p->nsubs > p->open_subs_cap) {
        p->open_subs_cap = p->subs_cap;
        p->open_subs = xrealloc(p->open_subs, sizeof(*p->open_subs) * p->open_subs_cap);
    }
    p->open_nfuncs = p->nfuncs;
    p->open_nsubs = p->nsubs;
    memset(p->open_funcs, 0, sizeof(*p->open_funcs) * p->nfuncs);
    memset(p->open_subs, 0, sizeof(*p->open_subs) * p->nsubs);
    p->nopen_nodes = 0;
    p->open_gen = p->gen;
    p->open_now = now;
    uint32_t *fseen = NULL, *sseen = NULL;
    uint32_t stamp = 0;
    for (const prof_thread_t *t = p->threads; t; t = t->next) {
        if (!t->depth)
            continue;
        if (!fseen) {
            fseen = xcalloc(p->nfuncs ? p->nfuncs : 1, sizeof(uint32_t));
            sseen = xcalloc(p->nsubs ? p->nsubs : 1, sizeof(uint32_t));
        }
        stamp++;
        uint64_t end = now > t->last_tsc ? now : t->last_tsc;
        /* a placeholder in the tree is an activation of row 0 for the
         * frames above it (its node is on their path), not for flat ones */
        int ph_below = 0;
        for (uint32_t i = 0; i < t->depth; i++) {
            const prof_frame_t *f = &t->stack[i];
            int flat = (f->flags & PROF_FRAME_FLAT) != 0;
            if (f->flags & PROF_FRAME_PLACEHOLDER) {
                if (!flat)
                    ph_below = 1;
                continue;
            }
            int64_t cum = WSUB(end, f->t0);
            int64_t own = WSUB(cum, f->subt);
            if (i + 1 < t->depth && !(f[1].flags & PROF_FRAME_PLACEHOLDER))
                own = WSUB(own, WSUB(end, f[1].t0));
            prof_open_t *fo = &p->open_funcs[f->fidx];
            fo->calls++;
            WADD(fo->own, own);
            if (fseen[f->fidx] == stamp || (f->fidx == PROF_FIDX_UNKNOWN && ph_below && !flat)) {
                fo->rec++;
            } else {
                fseen[f->fidx] = stamp;
                WADD(fo->cum, cum);
            }
            uint32_t e = flat ? f->node : p->node_sub[f->node];
            if (e) {
                prof_open_t *so = &p->open_subs[e];
                so->calls++;
                WADD(so->own, own);
                if (sseen[e] == stamp) {
                    so->rec++;
                } else {
                    sseen[e] = stamp;
                    WADD(so->cum, cum);
                }
            }
            if (p->nopen_nodes == p->open_nodes_cap) {
                uint32_t cap = p->open_nodes_cap;
                grow_zero((void **)&p->open_nodes, &cap, p->nopen_nodes,
                          sizeof(*p->open_nodes));
                p->open_nodes_cap = cap;
            }
            prof_open_node_t *on = &p->open_nodes[p->nopen_nodes++];
            on->node = flat ? p->overflow_node : f->node;
            on->count = 1;
            on->own = own;
            on->cum = cum;
        }
    }
    free(fseen);
    free(sseen);
    /* one entry per node: several threads may be on the same path */
    if (p->nopen_nodes > 1) {
        qsort(p->open_nodes, p->nopen_nodes, sizeof(*p->open_nodes), open_node_cmp);
        uint32_t m = 0;
        for (uint32_t i = 0; i < p->nopen_nodes; i++) {
            prof_open_node_t *a = &p->open_nodes[i];
            if (m && p->open_nodes[m - 1].node == a->node) {
                prof_open_node_t *b = &p->open_nodes[m - 1];
                b->count += a->count;
                WADD(b->own, a->own);
                WADD(b->cum, a->cum);
            } else {
                p->open_nodes[m++] = *a;
            }
        }
        p->nopen_nodes = m;
    }
}

static const prof_open_t open_none;

const prof_open_t *prof_func_open(const prof_t *p, uint32_t fidx)
{
    return fidx < p->open_nfuncs ? &p->open_funcs[fidx] : &open_none;
}

const prof_open_t *prof_sub_open(const prof_t *p, uint32_t sub)
{
    return sub < p->open_nsubs ? &p->open_subs[sub] : &open_none;
}

const prof_open_node_t *prof_node_open(const prof_t *p, uint32_t node)
{
    uint32_t lo = 0, hi = p->nopen_nodes;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->open_nodes[mid].node < node)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->nopen_nodes && p->open_nodes[lo].node == node ? &p->open_nodes[lo] : NULL;
}

void prof_mark(prof_t *p, uint64_t now_ns)
{
    prof_derive(p);
    double dt = p->mark_ns && now_ns > p->mark_ns ? (double)(now_ns - p->mark_ns) / 1e9 : 0.0;
    for (uint32_t f = 0; f < p->nfuncs; f++) {
        prof_func_t *fn = &p->funcs[f];
        if (dt > 0) {
            fn->rate_calls = (double)(fn->callcount - fn->mark_calls) / dt;
            fn->rate_own = prof_sec(p, WSUB(fn->own, fn->mark_own)) / dt;
        }
        fn->mark_calls = fn->callcount;
        fn->mark_own = fn->own;
        fn->mark_cum = fn->cum;
    }
    p->mark_ns = now_ns;
}

double prof_sec(const prof_t *p, int64_t cycles)
{
    if (cycles < 0)
        return -ulma_cycles_to_sec((uint64_t)0 - (uint64_t)cycles, p->hz);
    return ulma_cycles_to_sec((uint64_t)cycles, p->hz);
}

/* ---- names --------------------------------------------------------------------- */

void prof_func_label(const prof_t *p, uint32_t fidx, prof_label_t *out)
{
    memset(out, 0, sizeof(*out));
    const prof_func_t *fn = &p->funcs[fidx < p->nfuncs ? fidx : 0];
    const prof_name_t *d = NULL;
    if (fn->ns < PROF_NS_COUNT && fn->id < p->names_cap[fn->ns] && p->names[fn->ns][fn->id].defined)
        d = &p->names[fn->ns][fn->id];
    if (d) {
        out->defined = 1;
        out->qualname = p->strings + d->name_off;
        out->qualname_len = d->name_len;
        out->line = d->line;
        if (fn->ns == PROF_NS_CODE) {
            out->file = d->file_off ? p->strings + d->file_off : "";
            out->file_len = d->file_len;
            /* co_name: the last component of the qualified name */
            size_t i = d->name_len;
            while (i > 0 && out->qualname[i - 1] != '.')
                i--;
            /* a dot inside <...> (never in practice) keeps the whole name */
            out->name = out->qualname + i;
            out->name_len = d->name_len - i;
        } else {
            /* C functions and MPI calls are labelled like cProfile's built-ins */
            out->file = "~";
            out->file_len = 1;
            out->line = 0;
            out->name = out->qualname;
            out->name_len = out->qualname_len;
        }
        return;
    }
    char *b = out->buf;
    if (fn->ns == PROF_NS_CODE)
        snprintf(b, sizeof(out->buf), "<code %u>", fn->id);
    else if (fn->ns == PROF_NS_CFUNC)
        snprintf(b, sizeof(out->buf), "<cfunc %u>", fn->id);
    else if (fn->ns == PROF_NS_MPI)
        snprintf(b, sizeof(out->buf), "<MPI call %u>", fn->id);
    else
        snprintf(b, sizeof(out->buf), "[unknown]");
    out->file = "~";
    out->file_len = 1;
    out->name = out->qualname = b;
    out->name_len = out->qualname_len = strlen(b);
}

const char *prof_type_name(const prof_t *p, uint32_t type_id, size_t *len)
{
    if (type_id < p->type_names_cap && p->type_names[type_id].defined) {
        *len = p->type_names[type_id].name_len;
        return p->strings + p->type_names[type_id].name_off;
    }
    *len = 0;
    return "";
}

uint64_t prof_total_calls(const prof_t *p)
{
    uint64_t s = 0;
    for (uint32_t f = 0; f < p->nfuncs; f++)
        s += p->funcs[f].callcount;
    return s;
}

uint64_t prof_prim_calls(const prof_t *p)
{
    uint64_t s = 0;
    for (uint32_t f = 0; f < p->nfuncs; f++)
        s += p->funcs[f].callcount - p->funcs[f].reccallcount;
    return s;
}

int64_t prof_total_own(const prof_t *p)
{
    int64_t s = 0;
    for (uint32_t f = 0; f < p->nfuncs; f++)
        WADD(s, p->funcs[f].own);
    return s;
}

int64_t prof_total_open_own(const prof_t *p)
{
    int64_t s = 0;
    for (uint32_t f = 0; f < p->open_nfuncs; f++)
        WADD(s, p->open_funcs[f].own);
    return s;
}

int64_t prof_span(const prof_t *p)
{
    return p->last_tsc > p->first_tsc ? (int64_t)(p->last_tsc - p->first_tsc) : 0;
}

uint64_t prof_total_dropped(const prof_t *p)
{
    uint64_t s = 0;
    for (const prof_thread_t *t = p->threads; t; t = t->next)
        s += t->dropped;
    return (s > p->writer_dropped ? s : p->writer_dropped) + p->handover_lost;
}

uint64_t prof_total_resyncs(const prof_t *p)
{
    uint64_t s = 0;
    for (const prof_thread_t *t = p->threads; t; t = t->next)
        s += t->resyncs;
    return s;
}
