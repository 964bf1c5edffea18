/* profile.c - shadow stacks and cProfile-exact aggregation of one process.
 *
 * The counting is _lsprof's (CPython Modules/_lsprof.c), per thread:
 *
 *   on entry:  level[f]++; level[caller->f edge]++; remember t0, subt = 0
 *   on exit:   tt = now - t0; it = tt - subt; caller.subt += tt
 *              if (--level[f] == 0) f.tt += tt  else f.reccallcount++
 *              f.it += it; f.callcount++
 *              the caller->f edge: the same, with its own level
 *
 * so a call is primitive when the function was not already active on this
 * thread's stack, and cumulative time is added only when the outermost
 * activation returns. */
#include "profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ulma/clock.h"
#include "util.h"

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
}

static uint32_t new_node(prof_t *p, uint32_t parent, uint32_t fidx, uint32_t sub)
{
    if (p->nnodes == p->nodes_cap) {
        uint32_t cap = p->nodes_cap;
        grow_zero((void **)&p->nodes, &cap, p->nnodes, sizeof(*p->nodes));
        p->nodes_cap = cap;
    }
    uint32_t n = p->nnodes++;
    prof_node_t *nd = &p->nodes[n];
    memset(nd, 0, sizeof(*nd));
    nd->fidx = fidx;
    nd->parent = parent;
    nd->sub = sub;
    if (n != parent) {
        nd->next_sibling = p->nodes[parent].first_child;
        p->nodes[parent].first_child = n;
    }
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
    new_node(p, 0, PROF_FIDX_UNKNOWN, 0);
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
    hmap_free(&p->node_map);
    free(p->types);
    free(p->sites);
    hmap_free(&p->site_map);
    prof_thread_t *t = p->threads;
    while (t) {
        prof_thread_t *n = t->next;
        free(t->stack);
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
static uint32_t func_of(prof_t *p, unsigned ns, uint32_t id)
{
    if (__builtin_expect(id < p->map_cap[ns], 1)) {
        uint32_t f = p->map[ns][id];
        if (__builtin_expect(f != 0, 1))
            return f;
    } else if (id >= p->lim.max_id) {
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

/* CCT child of `parent` for `fidx`, created on first sight. */
static uint32_t cct_child(prof_t *p, uint32_t parent, uint32_t fidx)
{
    uint32_t c = p->nodes[parent].cache;
    if (__builtin_expect(c != 0 && p->nodes[c].fidx == fidx && p->nodes[c].parent == parent, 1))
        return c;
    uint64_t key = (uint64_t)parent << 32 | fidx;
    c = hmap_get(&p->node_map, key);
    if (!c) {
        if (p->nnodes >= p->lim.max_cct_nodes) {
            p->cct_overflows++;
            if (!p->overflow_node)
                p->overflow_node = new_node(p, 0, PROF_FIDX_UNKNOWN, 0);
            return p->overflow_node;
        }
        uint32_t sub = sub_of(p, p->nodes[parent].fidx, fidx);
        c = new_node(p, parent, fidx, sub);
        hmap_put(&p->node_map, key, c);
    }
    p->nodes[parent].cache = c;
    return c;
}

/* ---- threads ------------------------------------------------------------------ */

static prof_thread_t *thread_new(prof_t *p, unsigned slot)
{
    prof_thread_t *t = xcalloc(1, sizeof(*t));
    t->slot = slot;
    t->cap = 64;
    t->stack = xmalloc(sizeof(*t->stack) * t->cap);
    t->next = p->threads;
    p->threads = t;
    p->nthreads++;
    return t;
}

void prof_slot_identity(prof_t *p, unsigned slot, int32_t tid, const char *name)
{
    if (slot >= p->nslots)
        return;
    prof_thread_t *t = p->slot_thread[slot];
    if (!t || t->ended) {
        t = thread_new(p, slot);
        p->slot_thread[slot] = t;
    }
    if (t->tid == 0)
        t->tid = tid;
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

static int stack_fit(prof_t *p, prof_thread_t *t)
{
    if (__builtin_expect(t->depth < t->cap, 1))
        return 1;
    if (t->cap >= p->lim.max_stack) {
        p->stack_overflows++;
        return 0;
    }
    uint32_t ncap = t->cap * 2;
    if (ncap > p->lim.max_stack)
        ncap = p->lim.max_stack;
    t->stack = xrealloc(t->stack, sizeof(*t->stack) * ncap);
    t->cap = ncap;
    return 1;
}

/* Cycle sums wrap instead of overflowing: records with nonsense clocks
 * from a broken writer make nonsense times, never undefined behaviour. */
#define WADD(x, v) ((x) = (int64_t)((uint64_t)(x) + (uint64_t)(v)))
#define WSUB(a, b) ((int64_t)((uint64_t)(a) - (uint64_t)(b)))

/* ---- the shadow stack ------------------------------------------------------------ */

static inline void push(prof_t *p, prof_thread_t *t, uint32_t fidx, uint64_t tsc, uint32_t flags)
{
    if (__builtin_expect(!stack_fit(p, t), 0))
        return;
    uint32_t parent = t->depth ? t->stack[t->depth - 1].node : 0;
    uint32_t node = cct_child(p, parent, fidx);
    uint32_t sub = p->nodes[node].sub;
    if (__builtin_expect(node == p->overflow_node && node != 0, 0))
        sub = sub_of(p, t->depth ? t->stack[t->depth - 1].fidx : 0, fidx);
    prof_frame_t *f = &t->stack[t->depth++];
    f->fidx = fidx;
    f->node = node;
    f->sub = sub;
    f->flags = flags;
    f->t0 = tsc;
    f->subt = 0;
    if (flags & PROF_FRAME_PLACEHOLDER)
        return; /* identity and levels come with the RETURN that closes it */
    if (__builtin_expect(fidx >= t->flevel_cap || sub >= t->slevel_cap, 0))
        levels_fit(t, fidx, sub);
    t->flevel[fidx]++;
    if (sub)
        t->slevel[sub]++;
}

/* Pop the top frame and account it as returning at `tsc`. */
static inline void pop_account(prof_t *p, prof_thread_t *t, uint64_t tsc)
{
    prof_frame_t *f = &t->stack[--t->depth];
    int64_t tt = (int64_t)(tsc - f->t0);
    int64_t it = WSUB(tt, f->subt);
    if (t->depth)
        WADD(t->stack[t->depth - 1].subt, tt);
    prof_func_t *fn = &p->funcs[f->fidx];
    if (--t->flevel[f->fidx] == 0)
        WADD(fn->tt, tt);
    else
        fn->reccallcount++;
    WADD(fn->it, it);
    fn->callcount++;
    if (f->sub) {
        prof_sub_t *s = &p->subs[f->sub];
        if (--t->slevel[f->sub] == 0)
            WADD(s->tt, tt);
        else
            s->reccallcount++;
        WADD(s->it, it);
        s->callcount++;
    }
    prof_node_t *n = &p->nodes[f->node];
    n->count++;
    WADD(n->it, it);
    WADD(n->ct, tt);
}

/* Give a placeholder frame (top of stack) its identity, so that it can be
 * accounted like any other. */
static void resolve_top(prof_t *p, prof_thread_t *t, uint32_t fidx, uint32_t flags)
{
    prof_frame_t *f = &t->stack[t->depth - 1];
    uint32_t parent = t->depth > 1 ? t->stack[t->depth - 2].node : 0;
    uint32_t caller = t->depth > 1 ? t->stack[t->depth - 2].fidx : PROF_FIDX_UNKNOWN;
    f->fidx = fidx;
    f->node = cct_child(p, parent, fidx);
    f->sub = f->node == p->overflow_node ? sub_of(p, caller, fidx) : p->nodes[f->node].sub;
    f->flags = flags;
    levels_fit(t, fidx, f->sub);
    t->flevel[fidx]++;
    if (f->sub)
        t->slevel[f->sub]++;
}

/* Pop the top frame without accounting it (its end was lost). */
static void pop_discard(prof_thread_t *t)
{
    prof_frame_t *f = &t->stack[--t->depth];
    t->discarded++;
    if (f->flags & PROF_FRAME_PLACEHOLDER)
        return;
    t->flevel[f->fidx]--;
    if (f->sub)
        t->slevel[f->sub]--;
}

/* Make the shadow stack `want` frames deep (the writer's depth): drop
 * frames above it, or pad with placeholders entered at `tsc`. */
static void resync(prof_t *p, prof_thread_t *t, uint32_t want, uint64_t tsc)
{
    t->resyncs++;
    while (t->depth > want)
        pop_discard(t);
    while (t->depth < want && t->depth < p->lim.max_stack)
        push(p, t, PROF_FIDX_UNKNOWN, tsc, PROF_FRAME_PLACEHOLDER);
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
            pop_discard(t);
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

static void obj_event(prof_t *p, prof_thread_t *t, unsigned kind, uint32_t type_id,
                      const uint8_t *pl, uint32_t len)
{
    ulma_obj_payload_t op;
    if (len < sizeof(op) || type_id >= p->lim.max_id) {
        p->bad_records++;
        return;
    }
    memcpy(&op, pl, sizeof(op));
    grow_zero((void **)&p->types, &p->types_cap, type_id, sizeof(*p->types));
    prof_type_t *ty = &p->types[type_id];
    if (kind == ULMA_EV_OBJ_FREE) {
        ty->frees++;
        ty->bytes_free += op.size;
        return;
    }
    ty->news++;
    ty->bytes_new += op.size;
    uint32_t fidx = PROF_FIDX_UNKNOWN;
    for (uint32_t i = t->depth; i > 0; i--) {
        if (!(t->stack[i - 1].flags & PROF_FRAME_PLACEHOLDER)) {
            fidx = t->stack[i - 1].fidx;
            break;
        }
    }
    uint64_t key = (uint64_t)fidx << 32 | type_id;
    uint32_t s = hmap_get(&p->site_map, key);
    if (!s) {
        if (p->nsites == p->sites_cap) {
            uint32_t cap = p->sites_cap;
            grow_zero((void **)&p->sites, &cap, p->nsites, sizeof(*p->sites));
            p->sites_cap = cap;
        }
        s = p->nsites++;
        p->sites[s].fidx = fidx;
        p->sites[s].type_id = type_id;
        hmap_put(&p->site_map, key, s);
    }
    p->sites[s].count++;
    p->sites[s].bytes += op.size;
}

/* ---- the hot path ------------------------------------------------------------- */

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

static void on_return(prof_t *p, prof_thread_t *t, unsigned ns, const ulma_rec_t *r)
{
    uint32_t d = unwrap_depth(t->depth, r->depth);
    if (__builtin_expect(d != t->depth, 0)) {
        if (d == 0 && t->depth == 0)
            return; /* a frame entered before profiling started */
        resync(p, t, d, r->tsc);
    }
    if (__builtin_expect(t->depth == 0, 0))
        return;
    prof_frame_t *top = &t->stack[t->depth - 1];
    uint32_t cflag = ns == PROF_NS_CODE ? 0u : PROF_FRAME_C;
    if (__builtin_expect(top->flags & PROF_FRAME_PLACEHOLDER, 0)) {
        resolve_top(p, t, func_of(p, ns, r->id), cflag);
    } else if (__builtin_expect(p->funcs[top->fidx].id != r->id ||
                                    (top->flags & PROF_FRAME_C) != cflag, 0)) {
        /* the record names another function: ours ended in lost records and
         * this one was entered then. Replace it, entered no earlier than
         * the last loss, keeping the time of callees seen since. */
        t->mismatches++;
        uint64_t t0 = top->t0 > t->last_drop_tsc ? top->t0 : t->last_drop_tsc;
        int64_t subt = top->subt;
        pop_discard(t);
        push(p, t, PROF_FIDX_UNKNOWN, t0, PROF_FRAME_PLACEHOLDER);
        if (t->depth) {
            int64_t span = (int64_t)(r->tsc - t0);
            t->stack[t->depth - 1].subt = subt < span ? subt : span;
            resolve_top(p, t, func_of(p, ns, r->id), cflag);
        }
    }
    pop_account(p, t, r->tsc);
}

static inline void on_call(prof_t *p, prof_thread_t *t, unsigned ns, const ulma_rec_t *r)
{
    uint32_t d = unwrap_depth(t->depth + 1, r->depth);
    if (__builtin_expect(d != t->depth + 1, 0))
        resync(p, t, d ? d - 1 : 0, r->tsc);
    push(p, t, func_of(p, ns, r->id), r->tsc, ns == PROF_NS_CODE ? 0u : PROF_FRAME_C);
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
        ulma_rec_t r = *(const volatile ulma_rec_t *)cur;
        if (__builtin_expect(r.units == 0 || r.units > (size_t)(end - cur), 0)) {
            rc = -1;
            break;
        }
        const uint8_t *pl = (const uint8_t *)(cur + 1);
        uint32_t len = (uint32_t)(r.units - 1u) * ULMA_UNIT;
        cur += r.units;
        events++;
        switch (r.kind) {
        case ULMA_EV_CALL:
            on_call(p, t, PROF_NS_CODE, &r);
            break;
        case ULMA_EV_RETURN:
        case ULMA_EV_UNWIND:
            on_return(p, t, PROF_NS_CODE, &r);
            break;
        case ULMA_EV_C_CALL:
            on_call(p, t, PROF_NS_CFUNC, &r);
            break;
        case ULMA_EV_C_RETURN:
            on_return(p, t, PROF_NS_CFUNC, &r);
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
        case ULMA_EV_MODE:
            flush(p, t, r.tsc);
            t->mode = r.id;
            if (r.depth)
                resync(p, t, r.depth, r.tsc);
            break;
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
            obj_event(p, t, r.kind, r.id, pl, len);
            break;
        case ULMA_EV_MPI: {
            ulma_mpi_payload_t mp;
            if (len < sizeof(mp)) {
                p->bad_records++;
                break;
            }
            memcpy(&mp, pl, sizeof(mp));
            uint32_t f = func_of(p, PROF_NS_MPI, r.id);
            push(p, t, f, r.tsc, PROF_FRAME_C);
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
}

void prof_mark(prof_t *p, uint64_t now_ns)
{
    double dt = p->mark_ns && now_ns > p->mark_ns ? (double)(now_ns - p->mark_ns) / 1e9 : 0.0;
    for (uint32_t f = 0; f < p->nfuncs; f++) {
        prof_func_t *fn = &p->funcs[f];
        if (dt > 0) {
            fn->rate_calls = (double)(fn->callcount - fn->mark_calls) / dt;
            fn->rate_it = prof_sec(p, WSUB(fn->it, fn->mark_it)) / dt;
        }
        fn->mark_calls = fn->callcount;
        fn->mark_it = fn->it;
        fn->mark_tt = fn->tt;
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

int64_t prof_total_tt(const prof_t *p)
{
    int64_t s = 0;
    for (uint32_t f = 0; f < p->nfuncs; f++)
        WADD(s, p->funcs[f].it);
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
    return s > p->writer_dropped ? s : p->writer_dropped;
}

uint64_t prof_total_resyncs(const prof_t *p)
{
    uint64_t s = 0;
    for (const prof_thread_t *t = p->threads; t; t = t->next)
        s += t->resyncs;
    return s;
}
