/* profile.c - the profile type: rows keyed by label, building, merging. */
#include "profile/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/util.h"

/* ---- strings: an arena of chunks that never move ----------------------------- */

#define ARENA_CHUNK (64u * 1024u)

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
} arena_chunk_t;

/* ---- index tables: open addressing over row indices ---------------------------- */

/* Slots hold row index + 1 (0 = empty). The caller compares candidates. */
typedef struct pf_index {
    uint32_t *slot;
    uint32_t cap; /* power of two, or 0 */
    uint32_t n;
} pf_index_t;

struct profile {
    pf_meta_t meta;
    pf_drops_t drops;
    pf_func_t *funcs;
    uint32_t nfuncs, funcs_cap;
    pf_edge_t *edges;
    uint32_t nedges, edges_cap;
    pf_path_t *paths;
    uint32_t npaths, paths_cap;
    pf_thread_t *threads;
    uint32_t nthreads, threads_cap;
    pf_type_t *types;
    uint32_t ntypes, types_cap;
    pf_site_t *sites;
    uint32_t nsites, sites_cap;
    pf_index_t func_ix, edge_ix, path_ix, type_ix, site_ix;
    arena_chunk_t *arena;
    /* callers/callees by function (CSR), built on demand */
    uint32_t csr_edges;       /* nedges when built; UINT32_MAX: never */
    uint32_t *in_start, *in_list, *out_start, *out_list;
};

static const char *arena_copy(profile_t *p, const char *s, size_t n)
{
    arena_chunk_t *c = p->arena;
    if (!c || c->cap - c->used < n + 1) {
        size_t cap = n + 1 > ARENA_CHUNK ? n + 1 : ARENA_CHUNK;
        c = xmalloc(sizeof(*c) + cap);
        c->cap = cap;
        c->used = 0;
        c->next = p->arena;
        p->arena = c;
    }
    char *d = c->data + c->used;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    c->used += n + 1;
    return d;
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *s = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Grow `ix` to hold one more entry, re-inserting with hashes from `rehash`. */
typedef uint64_t (*ix_hash_fn)(const profile_t *p, uint32_t row);

static void ix_reserve(profile_t *p, pf_index_t *ix, ix_hash_fn h)
{
    if ((uint64_t)(ix->n + 1) * 4 <= (uint64_t)ix->cap * 3)
        return;
    uint32_t cap = ix->cap ? ix->cap * 2 : 64;
    uint32_t *slot = xcalloc(cap, sizeof(*slot));
    for (uint32_t i = 0; i < ix->cap; i++) {
        if (!ix->slot[i])
            continue;
        uint32_t k = (uint32_t)h(p, ix->slot[i] - 1) & (cap - 1);
        while (slot[k])
            k = (k + 1) & (cap - 1);
        slot[k] = ix->slot[i];
    }
    free(ix->slot);
    ix->slot = slot;
    ix->cap = cap;
}

/* ---- labels ----------------------------------------------------------------------- */

static uint64_t label_hash(const char *file, size_t fl, uint32_t line, const char *name, size_t nl)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = hash_bytes(h, file, fl);
    h = hash_bytes(h, &line, sizeof(line));
    h = hash_bytes(h, "\0", 1);
    return hash_bytes(h, name, nl);
}

static uint64_t func_hash(const profile_t *p, uint32_t row)
{
    const pf_func_t *f = &p->funcs[row];
    return label_hash(f->file.s, f->file.len, f->line, f->name.s, f->name.len);
}

static int func_is(const pf_func_t *f, const char *file, size_t fl, uint32_t line,
                   const char *name, size_t nl)
{
    return f->line == line && f->file.len == fl && f->name.len == nl &&
           memcmp(f->file.s, file, fl) == 0 && memcmp(f->name.s, name, nl) == 0;
}

/* pstats.func_std_string */
static char *std_string(const pf_func_t *f)
{
    sbuf_t b = {0};
    if (f->file.len == 1 && f->file.s[0] == '~' && f->line == 0) {
        if (f->name.len >= 2 && f->name.s[0] == '<' && f->name.s[f->name.len - 1] == '>')
            sbuf_printf(&b, "{%.*s}", (int)(f->name.len - 2), f->name.s + 1);
        else
            sbuf_add(&b, f->name.s, f->name.len);
    } else {
        sbuf_printf(&b, "%.*s:%u(%.*s)", (int)f->file.len, f->file.s, f->line, (int)f->name.len,
                    f->name.s);
    }
    if (!b.data)
        return xstrdup("");
    return b.data; /* the buffer itself: NUL-terminated, owned by the row */
}

/* ---- life cycle ------------------------------------------------------------------- */

profile_t *profile_new(void)
{
    profile_t *p = xcalloc(1, sizeof(*p));
    p->meta.rank = -1;
    p->csr_edges = UINT32_MAX;
    /* the root path */
    p->paths = xgrow(NULL, &p->paths_cap, 1, sizeof(*p->paths));
    p->npaths = 1;
    p->paths[0].func = UINT32_MAX;
    return p;
}

static void csr_free(profile_t *p)
{
    free(p->in_start);
    free(p->in_list);
    free(p->out_start);
    free(p->out_list);
    p->in_start = p->in_list = p->out_start = p->out_list = NULL;
    p->csr_edges = UINT32_MAX;
}

void profile_destroy(profile_t **p_p)
{
    if (!p_p || !*p_p)
        return;
    profile_t *p = *p_p;
    for (uint32_t i = 0; i < p->nfuncs; i++)
        free(p->funcs[i].std);
    for (uint32_t i = 0; i < p->nthreads; i++)
        free(p->threads[i].stack);
    free(p->funcs);
    free(p->edges);
    free(p->paths);
    free(p->threads);
    free(p->types);
    free(p->sites);
    free(p->func_ix.slot);
    free(p->edge_ix.slot);
    free(p->path_ix.slot);
    free(p->type_ix.slot);
    free(p->site_ix.slot);
    csr_free(p);
    while (p->arena) {
        arena_chunk_t *c = p->arena;
        p->arena = c->next;
        free(c);
    }
    free(p);
    *p_p = NULL;
}

/* ---- reading ------------------------------------------------------------------------ */

pf_meta_t *profile_meta(profile_t *p) { return &p->meta; }
const pf_meta_t *profile_meta_c(const profile_t *p) { return &p->meta; }
const pf_drops_t *profile_drops(const profile_t *p) { return &p->drops; }
pf_drops_t *profile_drops_w(profile_t *p) { return &p->drops; }

uint32_t profile_nfuncs(const profile_t *p) { return p->nfuncs; }
const pf_func_t *profile_func(const profile_t *p, uint32_t i) { return &p->funcs[i]; }
pf_func_t *profile_func_w(profile_t *p, uint32_t i) { return &p->funcs[i]; }
uint32_t profile_nedges(const profile_t *p) { return p->nedges; }
const pf_edge_t *profile_edge(const profile_t *p, uint32_t i) { return &p->edges[i]; }
pf_edge_t *profile_edge_w(profile_t *p, uint32_t i) { return &p->edges[i]; }
uint32_t profile_npaths(const profile_t *p) { return p->npaths; }
const pf_path_t *profile_path(const profile_t *p, uint32_t i) { return &p->paths[i]; }
pf_path_t *profile_path_w(profile_t *p, uint32_t i) { return &p->paths[i]; }
uint32_t profile_nthreads(const profile_t *p) { return p->nthreads; }
const pf_thread_t *profile_thread(const profile_t *p, uint32_t i) { return &p->threads[i]; }
uint32_t profile_ntypes(const profile_t *p) { return p->ntypes; }
const pf_type_t *profile_type(const profile_t *p, uint32_t i) { return &p->types[i]; }
pf_type_t *profile_type_w(profile_t *p, uint32_t i) { return &p->types[i]; }
uint32_t profile_nsites(const profile_t *p) { return p->nsites; }
const pf_site_t *profile_site(const profile_t *p, uint32_t i) { return &p->sites[i]; }
pf_site_t *profile_site_w(profile_t *p, uint32_t i) { return &p->sites[i]; }

static void csr_build(profile_t *p)
{
    if (p->csr_edges == p->nedges)
        return;
    csr_free(p);
    uint32_t n = p->nfuncs;
    p->in_start = xcalloc((size_t)n + 2, sizeof(uint32_t));
    p->out_start = xcalloc((size_t)n + 2, sizeof(uint32_t));
    p->in_list = xmalloc(sizeof(uint32_t) * (p->nedges ? p->nedges : 1));
    p->out_list = xmalloc(sizeof(uint32_t) * (p->nedges ? p->nedges : 1));
    for (uint32_t e = 0; e < p->nedges; e++) {
        p->in_start[p->edges[e].callee + 2]++;
        p->out_start[p->edges[e].caller + 2]++;
    }
    for (uint32_t i = 2; i < n + 2; i++) {
        p->in_start[i] += p->in_start[i - 1];
        p->out_start[i] += p->out_start[i - 1];
    }
    for (uint32_t e = 0; e < p->nedges; e++) {
        p->in_list[p->in_start[p->edges[e].callee + 1]++] = e;
        p->out_list[p->out_start[p->edges[e].caller + 1]++] = e;
    }
    p->csr_edges = p->nedges;
}

const uint32_t *profile_callers(const profile_t *cp, uint32_t func, uint32_t *n)
{
    profile_t *p = (profile_t *)cp; /* the cache only */
    *n = 0;
    if (func >= p->nfuncs)
        return NULL;
    csr_build(p);
    *n = p->in_start[func + 1] - p->in_start[func];
    return p->in_list + p->in_start[func];
}

const uint32_t *profile_callees(const profile_t *cp, uint32_t func, uint32_t *n)
{
    profile_t *p = (profile_t *)cp;
    *n = 0;
    if (func >= p->nfuncs)
        return NULL;
    csr_build(p);
    *n = p->out_start[func + 1] - p->out_start[func];
    return p->out_list + p->out_start[func];
}

void profile_totals(const profile_t *p, pf_totals_t *t)
{
    memset(t, 0, sizeof(*t));
    for (uint32_t i = 0; i < p->nfuncs; i++) {
        t->calls = pf_sat_addu(t->calls, p->funcs[i].c.ncalls);
        t->pcalls = pf_sat_addu(t->pcalls, p->funcs[i].c.pcalls);
        t->tottime_ns = pf_sat_add(t->tottime_ns, p->funcs[i].c.tottime_ns);
        t->open_tottime_ns = pf_sat_add(t->open_tottime_ns, p->funcs[i].open.tottime_ns);
    }
}

/* ---- building ------------------------------------------------------------------------ */

uint32_t profile_add_func(profile_t *p, const char *file, size_t file_len, uint32_t line,
                          const char *name, size_t name_len, const char *qualname,
                          size_t qualname_len, uint32_t kind)
{
    if (file_len > UINT32_MAX / 2)
        file_len = UINT32_MAX / 2;
    if (name_len > UINT32_MAX / 2)
        name_len = UINT32_MAX / 2;
    ix_reserve(p, &p->func_ix, func_hash);
    uint32_t m = p->func_ix.cap - 1;
    uint32_t k = (uint32_t)label_hash(file, file_len, line, name, name_len) & m;
    for (; p->func_ix.slot[k]; k = (k + 1) & m) {
        uint32_t row = p->func_ix.slot[k] - 1;
        if (func_is(&p->funcs[row], file, file_len, line, name, name_len))
            return row;
    }
    p->funcs = xgrow(p->funcs, &p->funcs_cap, p->nfuncs + 1, sizeof(*p->funcs));
    uint32_t row = p->nfuncs++;
    pf_func_t *f = &p->funcs[row];
    memset(f, 0, sizeof(*f));
    f->file.s = arena_copy(p, file, file_len);
    f->file.len = (uint32_t)file_len;
    f->name.s = arena_copy(p, name, name_len);
    f->name.len = (uint32_t)name_len;
    if (!qualname || (qualname_len == name_len && memcmp(qualname, name, name_len) == 0)) {
        f->qualname = f->name;
    } else {
        if (qualname_len > UINT32_MAX / 2)
            qualname_len = UINT32_MAX / 2;
        f->qualname.s = arena_copy(p, qualname, qualname_len);
        f->qualname.len = (uint32_t)qualname_len;
    }
    f->line = line;
    f->kind = kind <= PF_KIND_UNKNOWN ? kind : PF_KIND_UNKNOWN;
    f->std = std_string(f);
    p->func_ix.slot[k] = row + 1;
    p->func_ix.n++;
    return row;
}

uint32_t profile_lookup(const profile_t *p, const char *file, size_t file_len, uint32_t line,
                        const char *name, size_t name_len)
{
    if (!p->func_ix.cap)
        return UINT32_MAX;
    uint32_t m = p->func_ix.cap - 1;
    uint32_t k = (uint32_t)label_hash(file, file_len, line, name, name_len) & m;
    for (; p->func_ix.slot[k]; k = (k + 1) & m) {
        uint32_t row = p->func_ix.slot[k] - 1;
        if (func_is(&p->funcs[row], file, file_len, line, name, name_len))
            return row;
    }
    return UINT32_MAX;
}

uint32_t profile_lookup_like(const profile_t *p, const pf_func_t *f)
{
    return profile_lookup(p, f->file.s, f->file.len, f->line, f->name.s, f->name.len);
}

uint32_t profile_add_func_like(profile_t *p, const pf_func_t *f)
{
    return profile_add_func(p, f->file.s, f->file.len, f->line, f->name.s, f->name.len,
                            f->qualname.s, f->qualname.len, f->kind);
}

/* Rows keyed by a pair of u32: edges (caller, callee), paths (parent,
 * func), sites (func, type). */
static uint64_t edge_hash(const profile_t *p, uint32_t row)
{
    return hash_u64((uint64_t)p->edges[row].caller << 32 | p->edges[row].callee);
}
static uint64_t path_hash(const profile_t *p, uint32_t row)
{
    return hash_u64((uint64_t)p->paths[row].parent << 32 | p->paths[row].func);
}
static uint64_t site_hash(const profile_t *p, uint32_t row)
{
    return hash_u64((uint64_t)p->sites[row].func << 32 | p->sites[row].type);
}

uint32_t profile_add_edge(profile_t *p, uint32_t caller, uint32_t callee)
{
    ix_reserve(p, &p->edge_ix, edge_hash);
    uint32_t m = p->edge_ix.cap - 1;
    uint32_t k = (uint32_t)hash_u64((uint64_t)caller << 32 | callee) & m;
    for (; p->edge_ix.slot[k]; k = (k + 1) & m) {
        uint32_t row = p->edge_ix.slot[k] - 1;
        if (p->edges[row].caller == caller && p->edges[row].callee == callee)
            return row;
    }
    p->edges = xgrow(p->edges, &p->edges_cap, p->nedges + 1, sizeof(*p->edges));
    uint32_t row = p->nedges++;
    memset(&p->edges[row], 0, sizeof(p->edges[row]));
    p->edges[row].caller = caller;
    p->edges[row].callee = callee;
    p->edge_ix.slot[k] = row + 1;
    p->edge_ix.n++;
    return row;
}

uint32_t profile_add_path(profile_t *p, uint32_t parent, uint32_t func)
{
    ix_reserve(p, &p->path_ix, path_hash);
    uint32_t m = p->path_ix.cap - 1;
    uint32_t k = (uint32_t)hash_u64((uint64_t)parent << 32 | func) & m;
    for (; p->path_ix.slot[k]; k = (k + 1) & m) {
        uint32_t row = p->path_ix.slot[k] - 1;
        if (p->paths[row].parent == parent && p->paths[row].func == func)
            return row;
    }
    p->paths = xgrow(p->paths, &p->paths_cap, p->npaths + 1, sizeof(*p->paths));
    uint32_t row = p->npaths++;
    memset(&p->paths[row], 0, sizeof(p->paths[row]));
    p->paths[row].parent = parent;
    p->paths[row].func = func;
    p->path_ix.slot[k] = row + 1;
    p->path_ix.n++;
    return row;
}

pf_thread_t *profile_add_thread(profile_t *p, uint32_t nstack)
{
    p->threads = xgrow(p->threads, &p->threads_cap, p->nthreads + 1, sizeof(*p->threads));
    pf_thread_t *t = &p->threads[p->nthreads++];
    memset(t, 0, sizeof(*t));
    t->stack = nstack ? xcalloc(nstack, sizeof(*t->stack)) : NULL;
    return t;
}

static uint64_t type_hash(const profile_t *p, uint32_t row)
{
    return hash_bytes(0xcbf29ce484222325ull, p->types[row].name.s, p->types[row].name.len);
}

uint32_t profile_add_type(profile_t *p, const char *name, size_t len)
{
    if (len > UINT32_MAX / 2)
        len = UINT32_MAX / 2;
    ix_reserve(p, &p->type_ix, type_hash);
    uint32_t m = p->type_ix.cap - 1;
    uint32_t k = (uint32_t)hash_bytes(0xcbf29ce484222325ull, name, len) & m;
    for (; p->type_ix.slot[k]; k = (k + 1) & m) {
        uint32_t row = p->type_ix.slot[k] - 1;
        if (p->types[row].name.len == len && memcmp(p->types[row].name.s, name, len) == 0)
            return row;
    }
    p->types = xgrow(p->types, &p->types_cap, p->ntypes + 1, sizeof(*p->types));
    uint32_t row = p->ntypes++;
    memset(&p->types[row], 0, sizeof(p->types[row]));
    p->types[row].name.s = arena_copy(p, name, len);
    p->types[row].name.len = (uint32_t)len;
    p->type_ix.slot[k] = row + 1;
    p->type_ix.n++;
    return row;
}

uint32_t profile_add_site(profile_t *p, uint32_t func, uint32_t type)
{
    ix_reserve(p, &p->site_ix, site_hash);
    uint32_t m = p->site_ix.cap - 1;
    uint32_t k = (uint32_t)hash_u64((uint64_t)func << 32 | type) & m;
    for (; p->site_ix.slot[k]; k = (k + 1) & m) {
        uint32_t row = p->site_ix.slot[k] - 1;
        if (p->sites[row].func == func && p->sites[row].type == type)
            return row;
    }
    p->sites = xgrow(p->sites, &p->sites_cap, p->nsites + 1, sizeof(*p->sites));
    uint32_t row = p->nsites++;
    memset(&p->sites[row], 0, sizeof(p->sites[row]));
    p->sites[row].func = func;
    p->sites[row].type = type;
    p->site_ix.slot[k] = row + 1;
    p->site_ix.n++;
    return row;
}

/* ---- merging ---------------------------------------------------------------------- */

static void open_add(pf_open_t *d, const pf_open_t *s)
{
    d->calls = pf_sat_addu(d->calls, s->calls);
    d->tottime_ns = pf_sat_add(d->tottime_ns, s->tottime_ns);
    d->cumtime_ns = pf_sat_add(d->cumtime_ns, s->cumtime_ns);
}

static void drops_add(pf_drops_t *d, const pf_drops_t *s)
{
    d->records_lost += s->records_lost;
    d->drop_events += s->drop_events;
    d->stack_repairs += s->stack_repairs;
    d->frames_discarded += s->frames_discarded;
    d->return_mismatches += s->return_mismatches;
    d->malformed_records += s->malformed_records;
    d->ids_out_of_range += s->ids_out_of_range;
    d->cct_overflows += s->cct_overflows;
    d->stack_overflows += s->stack_overflows;
    d->threads_dropped += s->threads_dropped;
    d->threads_unended += s->threads_unended;
    d->corrupt += s->corrupt;
    d->threads_lost += s->threads_lost;
    d->objects_untracked += s->objects_untracked;
}

static void meta_merge(pf_meta_t *d, const pf_meta_t *s)
{
    if (d->nprocs == 0) {
        uint32_t n = d->nprocs;
        *d = *s;
        d->nprocs = n + (s->nprocs ? s->nprocs : 1);
        return;
    }
    d->nprocs += s->nprocs ? s->nprocs : 1;
    d->events += s->events;
    if (s->span_ns > d->span_ns)
        d->span_ns = s->span_ns;
    if (s->state == PF_STATE_LIVE || d->state == PF_STATE_LIVE)
        d->state = PF_STATE_LIVE;
    d->live |= s->live;
    d->hook_status |= s->hook_status;
    d->clock_drift_ppm = pf_clock_drift_merge(d->clock_drift_ppm, s->clock_drift_ppm);
    d->active_mode |= s->active_mode;
    if (d->rank != s->rank)
        d->rank = -1;
    if (d->pid != s->pid)
        d->pid = 0;
    if (strcmp(d->host, s->host) != 0)
        d->host[0] = '\0';
    if (strcmp(d->exe, s->exe) != 0)
        d->exe[0] = '\0';
}

void profile_merge(profile_t *dst, const profile_t *src)
{
    uint32_t *fmap = xmalloc(sizeof(*fmap) * (src->nfuncs ? src->nfuncs : 1));
    for (uint32_t i = 0; i < src->nfuncs; i++) {
        const pf_func_t *s = &src->funcs[i];
        uint32_t j = profile_add_func_like(dst, s);
        pf_func_t *d = &dst->funcs[j];
        fmap[i] = j;
        pf_counts_add(&d->c, &s->c);
        open_add(&d->open, &s->open);
        d->mpi_bytes += s->mpi_bytes;
        d->rate_calls += s->rate_calls;
        d->rate_tottime += s->rate_tottime;
    }
    for (uint32_t e = 0; e < src->nedges; e++) {
        const pf_edge_t *s = &src->edges[e];
        uint32_t j = profile_add_edge(dst, fmap[s->caller], fmap[s->callee]);
        pf_counts_add(&dst->edges[j].c, &s->c);
    }
    /* paths: parents come before their children in every profile */
    uint32_t *pmap = xmalloc(sizeof(*pmap) * src->npaths);
    pmap[0] = 0;
    for (uint32_t i = 1; i < src->npaths; i++) {
        const pf_path_t *s = &src->paths[i];
        uint32_t f = s->func < src->nfuncs ? fmap[s->func] : UINT32_MAX;
        uint32_t par = s->parent < i ? pmap[s->parent] : 0;
        uint32_t j = profile_add_path(dst, par, f);
        pf_path_t *d = &dst->paths[j];
        pmap[i] = j;
        d->count = pf_sat_addu(d->count, s->count);
        d->tottime_ns = pf_sat_add(d->tottime_ns, s->tottime_ns);
        d->cumtime_ns = pf_sat_add(d->cumtime_ns, s->cumtime_ns);
        open_add(&d->open, &s->open);
    }
    uint32_t *tmap = xmalloc(sizeof(*tmap) * (src->ntypes ? src->ntypes : 1));
    for (uint32_t i = 0; i < src->ntypes; i++) {
        const pf_type_t *s = &src->types[i];
        uint32_t j = profile_add_type(dst, s->name.s, s->name.len);
        pf_type_t *d = &dst->types[j];
        tmap[i] = j;
        d->news += s->news;
        d->frees += s->frees;
        d->frees_unborn += s->frees_unborn;
        d->lost += s->lost;
        d->bytes_new += s->bytes_new;
        d->bytes_freed += s->bytes_freed;
        d->bytes_live += s->bytes_live;
    }
    for (uint32_t i = 0; i < src->nsites; i++) {
        const pf_site_t *s = &src->sites[i];
        uint32_t f = s->func < src->nfuncs ? fmap[s->func] : UINT32_MAX;
        uint32_t j = profile_add_site(dst, f, s->type < src->ntypes ? tmap[s->type] : 0);
        dst->sites[j].count += s->count;
        dst->sites[j].bytes += s->bytes;
        dst->sites[j].live += s->live;
        dst->sites[j].bytes_live += s->bytes_live;
    }
    drops_add(&dst->drops, &src->drops);
    meta_merge(&dst->meta, &src->meta);
    free(fmap);
    free(pmap);
    free(tmap);
}

profile_t *profile_copy(const profile_t *src)
{
    profile_t *p = profile_new();
    profile_merge(p, src);
    p->meta = src->meta;
    for (uint32_t i = 0; i < src->nthreads; i++) {
        const pf_thread_t *s = &src->threads[i];
        pf_thread_t *t = profile_add_thread(p, s->nstack);
        pf_frame_t *stack = t->stack;
        *t = *s;
        t->stack = stack;
        if (s->nstack)
            memcpy(t->stack, s->stack, sizeof(*s->stack) * s->nstack);
    }
    return p;
}

/* ---- names ------------------------------------------------------------------------- */

const char *profile_kind_name(uint32_t kind)
{
    static const char *names[] = {"python", "c", "mpi", "unknown"};
    return names[kind <= PF_KIND_UNKNOWN ? kind : PF_KIND_UNKNOWN];
}

const char *profile_mode_name(uint32_t active_mode)
{
    switch (active_mode & 0x3u) {
    case 0: return "off";
    case 1: return "fast";
    case 2: return "full";
    default: return "unknown";
    }
}

const char *profile_state_name(uint32_t state)
{
    return state == PF_STATE_EXITED ? "exited" : state == PF_STATE_LIVE ? "live" : "init";
}

const char *profile_func_std(const profile_t *p, uint32_t func)
{
    return func < profile_nfuncs(p) ? profile_func(p, func)->std : "[unknown]";
}

uint32_t profile_path_chain(const profile_t *p, uint32_t path, uint32_t *out, uint32_t cap)
{
    uint32_t n = 0;
    while (path != 0 && path < profile_npaths(p) && n < cap) {
        out[n++] = path;
        uint32_t parent = profile_path(p, path)->parent;
        if (parent >= path)
            break; /* parents come first: anything else is not a chain */
        path = parent;
    }
    for (uint32_t i = 0; i < n / 2; i++) {
        uint32_t t = out[i];
        out[i] = out[n - 1 - i];
        out[n - 1 - i] = t;
    }
    return n;
}
