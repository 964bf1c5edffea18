/* store.c - nodes, sessions, processes, jobs, global interning and the
 * aggregates; validation and application of reports; the periodic tick. */
#define _GNU_SOURCE
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *bad_names[BAD_NREASONS] = {
    "too_big", "malformed", "version", "body", "node", "string", "columns",
    "index", "order", "negative", "pcalls", "duplicate", "limit", "envelope",
    "twin"};

const char *store_bad_name(store_bad_t b) { return b < BAD_NREASONS ? bad_names[b] : "?"; }

void store_limits_default(store_limits_t *l)
{
    l->names_per_session = 1u << 22;
    l->functions = 1u << 22;
    l->edges = 1u << 24;
    l->paths = 1u << 24;
    l->procs_per_node = 1u << 16;
    l->nodes = 1u << 16;
    l->types_per_proc = 4096;
}

store_t *store_new(const store_config_t *cfg)
{
    store_t *s = xcalloc(1, sizeof(*s));
    s->cfg = *cfg;
    if (!s->cfg.interval_ns)
        s->cfg.interval_ns = 1000000000ull;
    if (!s->cfg.history)
        s->cfg.history = 600;
    if (!s->cfg.rate_points)
        s->cfg.rate_points = 61;
    if (!s->cfg.lim.names_per_session)
        store_limits_default(&s->cfg.lim);
    s->npaths = 1; /* global path 0: the root */
    s->path_key = xgrow(NULL, &s->paths_cap, 1, sizeof(uint64_t));
    s->path_key[0] = 0;
    s->hist.cap = s->cfg.history;
    s->hist.p = xcalloc(s->hist.cap, sizeof(hpoint_t));
    s->cl_rates.cap = s->cfg.rate_points; /* the cluster's rates, like each job's */
    return s;
}

const store_stats_t *store_stats(const store_t *s) { return &s->st; }
void store_count_bad(store_t *s, store_bad_t why)
{
    if (why < BAD_NREASONS)
        s->st.bad[why]++;
}

/* The node shows that its reports are being refused, and why. */
static void node_refused(node_t *n, store_bad_t why, uint64_t now)
{
    n->refused++;
    n->refused_pending = 1;
    n->refused_why = why;
    n->refused_ns = now;
    n->state = NODE_REFUSED; /* until a report is applied, or it falls silent (store_tick) */
}

void store_count_bad_peer(store_t *s, store_bad_t why, const void *peer, size_t peer_len,
                          uint64_t now)
{
    store_count_bad(s, why);
    if (!peer || !peer_len || why >= BAD_NREASONS)
        return;
    /* rare (a refusal), so a scan is fine */
    for (uint32_t i = 0; i < s->nnodes; i++) {
        node_t *n = s->nodes[i];
        if (n->peer_len == peer_len && memcmp(n->peer, peer, peer_len) == 0) {
            node_refused(n, why, now);
            return;
        }
    }
}

/* ---- sparse aggregates -------------------------------------------------------------- */

static void sagg_init(sagg_t *a, size_t rsize)
{
    memset(a, 0, sizeof(*a));
    a->rsize = rsize;
}

static void sagg_free(sagg_t *a)
{
    map_free(&a->map);
    free(a->key);
    free(a->rows);
    size_t rs = a->rsize;
    memset(a, 0, sizeof(*a));
    a->rsize = rs;
}

static uint32_t sagg_find(const sagg_t *a, uint32_t key)
{
    uint64_t v = map_get(&a->map, key);
    return v ? (uint32_t)(v - 1) : UINT32_MAX;
}

static uint32_t sagg_slot(sagg_t *a, uint32_t key)
{
    uint32_t s = sagg_find(a, key);
    if (s != UINT32_MAX)
        return s;
    if (a->n == a->cap) {
        uint32_t cap = a->cap ? a->cap * 2 : 64;
        a->key = xrealloc(a->key, sizeof(uint32_t) * cap);
        a->rows = xrealloc(a->rows, a->rsize * cap);
        a->cap = cap;
    }
    s = a->n++;
    a->key[s] = key;
    memset((char *)a->rows + (size_t)s * a->rsize, 0, a->rsize);
    map_put(&a->map, key, (uint64_t)s + 1);
    return s;
}

static void *sagg_row(sagg_t *a, uint32_t slot) { return (char *)a->rows + (size_t)slot * a->rsize; }

/* ---- arithmetic ----------------------------------------------------------------------- */

static void counts_add(pf_counts_t *d, const pf_counts_t *x, int sign)
{
    if (sign > 0) {
        d->ncalls += x->ncalls;
        d->pcalls += x->pcalls;
        d->tottime_ns += x->tottime_ns;
        d->cumtime_ns += x->cumtime_ns;
    } else {
        d->ncalls -= x->ncalls;
        d->pcalls -= x->pcalls;
        d->tottime_ns -= x->tottime_ns;
        d->cumtime_ns -= x->cumtime_ns;
    }
}

/* A signed change of a row (deltas may be negative when an agent forgets). */
typedef struct dcounts {
    int64_t ncalls, pcalls, tottime, cumtime;
} dcounts_t;

static void counts_addd(pf_counts_t *d, const dcounts_t *x)
{
    d->ncalls += (uint64_t)x->ncalls;
    d->pcalls += (uint64_t)x->pcalls;
    d->tottime_ns += x->tottime;
    d->cumtime_ns += x->cumtime;
}

static int dcounts_zero(const dcounts_t *x) { return !x->ncalls && !x->pcalls && !x->tottime && !x->cumtime; }

/* old + delta (delta columns as on the wire) into *out, checked: counts
 * stay >= 0 with pcalls <= ncalls, nothing overflows. Times may end up
 * negative (see store.h); the caller counts them. A delta refused leaves
 * *out the old row: apply() uses rows validate() accepted, but *out is
 * never left undefined. */
static store_bad_t row_next(const pf_counts_t *o, int64_t dn, int64_t dr, int64_t dt, int64_t ds,
                            pf_counts_t *out)
{
    *out = *o;
    int64_t on = (int64_t)o->ncalls, orr = (int64_t)(o->ncalls - o->pcalls);
    int64_t ot = o->tottime_ns, os = o->cumtime_ns - o->tottime_ns;
    int64_t n, r, t, su, c;
    if (__builtin_add_overflow(on, dn, &n) || __builtin_add_overflow(orr, dr, &r) ||
        __builtin_add_overflow(ot, dt, &t) || __builtin_add_overflow(os, ds, &su) ||
        __builtin_add_overflow(t, su, &c))
        return BAD_NEGATIVE;
    if (n < 0 || r < 0)
        return BAD_NEGATIVE;
    if (r > n)
        return BAD_PCALLS;
    out->ncalls = (uint64_t)n;
    out->pcalls = (uint64_t)(n - r);
    out->tottime_ns = t;
    out->cumtime_ns = c;
    return 0;
}

/* ---- global interning -------------------------------------------------------------- */

static uint64_t label_hash(const char *file, uint32_t line, const char *name)
{
    uint64_t h = map_hash_bytes(0xcbf29ce484222325ull, file, strlen(file));
    h = map_hash_bytes(h, &line, sizeof(line));
    h = map_hash_bytes(h, "\0", 1);
    return map_hash_bytes(h, name, strlen(name));
}

static void cluster_reserve(store_t *s)
{
    if (s->nfuncs > s->cl_cap) {
        uint32_t old = s->cl_cap;
        s->cl = xgrow(s->cl, &s->cl_cap, s->nfuncs, sizeof(*s->cl));
        memset(s->cl + old, 0, sizeof(*s->cl) * (s->cl_cap - old));
    }
    if (s->nedges > s->cl_edges_cap) {
        uint32_t old = s->cl_edges_cap;
        s->cl_edges = xgrow(s->cl_edges, &s->cl_edges_cap, s->nedges, sizeof(*s->cl_edges));
        memset(s->cl_edges + old, 0, sizeof(*s->cl_edges) * (s->cl_edges_cap - old));
    }
    if (s->npaths > s->cl_paths_cap) {
        uint32_t old = s->cl_paths_cap;
        s->cl_paths = xgrow(s->cl_paths, &s->cl_paths_cap, s->npaths, sizeof(*s->cl_paths));
        memset(s->cl_paths + old, 0, sizeof(*s->cl_paths) * (s->cl_paths_cap - old));
    }
}

static uint32_t intern_func(store_t *s, const Ulma__Wire__Name *n)
{
    const char *file = n->file ? n->file : "", *name = n->name ? n->name : "";
    uint64_t h = label_hash(file, n->line, name);
    uint64_t head = map_get(&s->fmap, h);
    for (uint32_t i = (uint32_t)head; i; i = s->funcs[i - 1].next) {
        const gfunc_t *g = &s->funcs[i - 1];
        if (g->line == n->line && strcmp(g->file, file) == 0 && strcmp(g->name, name) == 0)
            return i - 1;
    }
    if (s->nfuncs >= s->cfg.lim.functions)
        return UINT32_MAX;
    s->funcs = xgrow(s->funcs, &s->funcs_cap, s->nfuncs + 1, sizeof(*s->funcs));
    uint32_t gid = s->nfuncs++;
    gfunc_t *g = &s->funcs[gid];
    g->file = xstrdup(file);
    g->name = xstrdup(name);
    g->qualname = n->qualname && *n->qualname && strcmp(n->qualname, name) != 0
                      ? xstrdup(n->qualname) : NULL;
    g->line = n->line;
    g->kind = n->kind <= PF_KIND_UNKNOWN ? n->kind : PF_KIND_UNKNOWN;
    g->next = (uint32_t)head;
    map_put(&s->fmap, h, (uint64_t)gid + 1);
    cluster_reserve(s);
    return gid;
}

static uint32_t intern_edge(store_t *s, uint32_t caller, uint32_t callee)
{
    uint64_t key = (uint64_t)caller << 32 | callee;
    uint64_t v = map_get(&s->emap, key);
    if (v)
        return (uint32_t)(v - 1);
    if (s->nedges >= s->cfg.lim.edges)
        return UINT32_MAX;
    s->edge_key = xgrow(s->edge_key, &s->edges_cap, s->nedges + 1, sizeof(uint64_t));
    s->edge_key[s->nedges] = key;
    map_put(&s->emap, key, (uint64_t)s->nedges + 1);
    s->nedges++;
    cluster_reserve(s);
    return s->nedges - 1;
}

static uint32_t intern_path(store_t *s, uint32_t parent, uint32_t func)
{
    uint64_t key = (uint64_t)parent << 32 | func;
    uint64_t v = map_get(&s->pmap, key);
    if (v)
        return (uint32_t)(v - 1);
    if (s->npaths >= s->cfg.lim.paths)
        return UINT32_MAX;
    s->path_key = xgrow(s->path_key, &s->paths_cap, s->npaths + 1, sizeof(uint64_t));
    s->path_key[s->npaths] = key;
    map_put(&s->pmap, key, (uint64_t)s->npaths + 1);
    s->npaths++;
    cluster_reserve(s);
    return s->npaths - 1;
}

/* ---- lookups ----------------------------------------------------------------------------- */

node_t *store_node_find(const store_t *s, const char *name)
{
    for (node_t *n = (node_t *)(uintptr_t)map_get(&s->node_map, map_hash_str(name)); n;
         n = n->hnext)
        if (strcmp(n->name, name) == 0)
            return n;
    return NULL;
}

job_t *store_job_find(const store_t *s, const char *name)
{
    for (job_t *j = (job_t *)(uintptr_t)map_get(&s->job_map, map_hash_str(name)); j; j = j->hnext)
        if (strcmp(j->name, name) == 0)
            return j;
    return NULL;
}

static uint64_t proc_hash(const node_t *n, int32_t pid, uint64_t st)
{
    return map_mix((uint64_t)(uintptr_t)n ^ map_mix((uint64_t)(uint32_t)pid << 32 ^ st));
}

proc_t *store_proc_find(const store_t *s, const node_t *n, int32_t pid, uint64_t start_time)
{
    for (proc_t *p = (proc_t *)(uintptr_t)map_get(&s->proc_map, proc_hash(n, pid, start_time)); p;
         p = p->hnext)
        if (p->node == n && p->m.pid == pid && p->m.start_time == start_time)
            return p;
    return NULL;
}

proc_t *store_proc_by_rank(const store_t *s, const job_t *j, int32_t rank)
{
    (void)s;
    proc_t *best = NULL;
    for (uint32_t i = 0; j && i < j->nprocs; i++)
        if (j->procs[i]->m.rank == rank && (!best || store_proc_live(j->procs[i])))
            best = j->procs[i];
    return best;
}

int store_proc_live(const proc_t *p)
{
    return !p->exited && p->m.state != PF_STATE_EXITED && p->node->state != NODE_GONE;
}

const char *store_node_state_name(const node_t *n)
{
    static const char *refused[BAD_NREASONS] = {
        "refused:too_big", "refused:malformed", "refused:version", "refused:body",
        "refused:node",    "refused:string",    "refused:columns", "refused:index",
        "refused:order",   "refused:negative",  "refused:pcalls",  "refused:duplicate",
        "refused:limit",   "refused:envelope"};
    switch (n->state) {
    case NODE_UP: return "up";
    case NODE_STALE: return "stale";
    case NODE_REFUSED: return n->refused_why < BAD_NREASONS ? refused[n->refused_why] : "refused";
    default: return "gone";
    }
}

const arow_t *store_job_row(const job_t *j, uint32_t gid)
{
    uint32_t k = sagg_find(&j->fn, gid);
    return k == UINT32_MAX ? NULL : (const arow_t *)sagg_row((sagg_t *)&j->fn, k);
}

/* ---- jobs ---------------------------------------------------------------------------------- */

static job_t *job_get(store_t *s, const char *name)
{
    job_t *j = store_job_find(s, name);
    if (j)
        return j;
    j = xcalloc(1, sizeof(*j));
    j->name = xstrdup(name);
    sagg_init(&j->fn, sizeof(arow_t));
    sagg_init(&j->edges, sizeof(pf_counts_t));
    sagg_init(&j->paths, sizeof(pathv_t));
    j->rates.cap = s->cfg.rate_points;
    uint64_t h = map_hash_str(name);
    j->hnext = (job_t *)(uintptr_t)map_get(&s->job_map, h);
    map_put(&s->job_map, h, (uint64_t)(uintptr_t)j);
    s->jobs = xgrow(s->jobs, &s->jobs_cap, s->njobs + 1, sizeof(*s->jobs));
    j->pos = s->njobs;
    s->jobs[s->njobs++] = j;
    return j;
}

static void rates_free(rates_t *r)
{
    for (uint32_t i = 0; r->s && i < r->cap; i++)
        free(r->s[i]);
    free(r->s);
    free(r->wall);
    free(r->len);
    r->s = NULL;
    r->wall = NULL;
    r->len = NULL;
    r->n = r->head = 0;
}

static void job_free(store_t *s, job_t *j)
{
    uint64_t h = map_hash_str(j->name);
    job_t *head = (job_t *)(uintptr_t)map_get(&s->job_map, h);
    if (head == j) {
        if (j->hnext)
            map_put(&s->job_map, h, (uint64_t)(uintptr_t)j->hnext);
        else
            map_del(&s->job_map, h);
    } else {
        for (job_t *x = head; x; x = x->hnext)
            if (x->hnext == j) {
                x->hnext = j->hnext;
                break;
            }
    }
    s->jobs[j->pos] = s->jobs[--s->njobs];
    s->jobs[j->pos]->pos = j->pos;
    /* caches of sessions naming it */
    for (uint32_t i = 0; i < s->nnodes; i++) {
        session_t *se = s->nodes[i]->sess;
        for (uint32_t k = 0; se && k < se->njc; k++)
            if (se->jc[k].job == j) {
                free(se->jc[k].slot);
                se->jc[k] = se->jc[--se->njc];
                break;
            }
    }
    sagg_free(&j->fn);
    sagg_free(&j->edges);
    sagg_free(&j->paths);
    rates_free(&j->rates);
    free(j->procs);
    free(j->name);
    free(j);
}

/* The job aggregate row of session name `idx`, through the session's cache. */
static arow_t *job_row_cached(session_t *se, job_t *j, uint32_t idx)
{
    jcache_t *c = NULL;
    for (uint32_t k = 0; k < se->njc; k++)
        if (se->jc[k].job == j) {
            c = &se->jc[k];
            break;
        }
    if (!c) {
        se->jc = xgrow(se->jc, &se->jc_cap, se->njc + 1, sizeof(*se->jc));
        c = &se->jc[se->njc++];
        memset(c, 0, sizeof(*c));
        c->job = j;
    }
    if (idx >= c->cap) {
        uint32_t old = c->cap;
        c->slot = xgrow(c->slot, &c->cap, idx + 1, sizeof(uint32_t));
        memset(c->slot + old, 0xff, sizeof(uint32_t) * (c->cap - old));
    }
    if (c->slot[idx] == UINT32_MAX)
        c->slot[idx] = sagg_slot(&j->fn, se->gid[idx]);
    return sagg_row(&j->fn, c->slot[idx]);
}

/* ---- aggregate updates ----------------------------------------------------------------- */

/* Add (sign > 0) or remove a function row of gid to the cluster and a job. */
static void agg_counts(store_t *s, job_t *j, uint32_t gid, const pf_counts_t *c, uint64_t mpi,
                       int sign)
{
    arow_t *r = &s->cl[gid];
    arow_t *jr = sagg_row(&j->fn, sagg_slot(&j->fn, gid));
    counts_add(&r->c, c, sign);
    counts_add(&jr->c, c, sign);
    if (sign > 0) {
        r->mpi_bytes += mpi;
        jr->mpi_bytes += mpi;
    } else {
        r->mpi_bytes -= mpi;
        jr->mpi_bytes -= mpi;
    }
}

static void agg_open(store_t *s, job_t *j, uint32_t gid, const pf_open_t *o, int sign)
{
    arow_t *r = &s->cl[gid];
    arow_t *jr = sagg_row(&j->fn, sagg_slot(&j->fn, gid));
    int64_t k = sign;
    r->open.calls += (uint64_t)k * o->calls;
    r->open.tottime_ns += k * o->tottime_ns;
    r->open.cumtime_ns += k * o->cumtime_ns;
    jr->open.calls += (uint64_t)k * o->calls;
    jr->open.tottime_ns += k * o->tottime_ns;
    jr->open.cumtime_ns += k * o->cumtime_ns;
}

static uint64_t proc_mpi_at(const proc_t *p, uint32_t idx)
{
    uint32_t lo = 0, hi = p->nmpi;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (p->mpi[mid].idx < idx)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->nmpi && p->mpi[lo].idx == idx ? p->mpi[lo].bytes : 0;
}

/* Everything the process contributes (base + current + open), added to or
 * removed from its job's and the cluster's aggregates. */
static void proc_contribute(store_t *s, proc_t *p, int sign)
{
    for (uint32_t i = 0; i < p->nbase; i++)
        agg_counts(s, p->job, p->base[i].gid, &p->base[i].c, p->base[i].mpi_bytes, sign);
    if (p->sess) {
        for (uint32_t i = 0; i < p->nrows; i++) {
            const pf_counts_t *c = &p->rows[i];
            if (c->ncalls || c->tottime_ns || c->cumtime_ns)
                agg_counts(s, p->job, p->sess->gid[i], c, 0, sign);
        }
        for (uint32_t i = 0; i < p->nmpi; i++)
            agg_counts(s, p->job, p->sess->gid[p->mpi[i].idx], &(pf_counts_t){0},
                       p->mpi[i].bytes, sign);
        for (uint32_t i = 0; i < p->nopen; i++)
            agg_open(s, p->job, p->sess->gid[p->open[i].idx], &p->open[i].o, sign);
    }
}

/* ---- processes ------------------------------------------------------------------------------ */

static int srow_cmp(const void *x, const void *y)
{
    const srow_t *a = x, *b = y;
    return a->gid < b->gid ? -1 : a->gid > b->gid;
}

/* Move the current rows (session space) into the base (gid space); the
 * aggregates do not change. Open frames are dropped (a final process has
 * none) and leave the aggregates. */
static void proc_fold(store_t *s, proc_t *p)
{
    if (!p->sess)
        return;
    for (uint32_t i = 0; i < p->nopen; i++)
        agg_open(s, p->job, p->sess->gid[p->open[i].idx], &p->open[i].o, -1);
    p->nopen = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < p->nrows; i++)
        n += p->rows[i].ncalls || p->rows[i].tottime_ns || p->rows[i].cumtime_ns;
    n += p->nmpi;
    if (n) {
        srow_t *t = xmalloc(sizeof(*t) * (n + p->nbase));
        uint32_t k = 0;
        for (uint32_t i = 0; i < p->nrows; i++) {
            const pf_counts_t *c = &p->rows[i];
            if (!(c->ncalls || c->tottime_ns || c->cumtime_ns))
                continue;
            t[k].gid = p->sess->gid[i];
            t[k].c = *c;
            t[k].mpi_bytes = 0;
            k++;
        }
        for (uint32_t i = 0; i < p->nmpi; i++) {
            t[k].gid = p->sess->gid[p->mpi[i].idx];
            memset(&t[k].c, 0, sizeof(t[k].c));
            t[k].mpi_bytes = p->mpi[i].bytes;
            k++;
        }
        if (p->nbase)
            memcpy(t + k, p->base, sizeof(*t) * p->nbase);
        k += p->nbase;
        qsort(t, k, sizeof(*t), srow_cmp);
        uint32_t m = 0;
        for (uint32_t i = 0; i < k; i++) {
            if (m && t[m - 1].gid == t[i].gid) {
                counts_add(&t[m - 1].c, &t[i].c, 1);
                t[m - 1].mpi_bytes += t[i].mpi_bytes;
            } else {
                t[m++] = t[i];
            }
        }
        free(p->base);
        p->base = t;
        p->nbase = m;
    }
    free(p->rows);
    p->rows = NULL;
    p->nrows = 0;
    free(p->mpi);
    p->mpi = NULL;
    p->nmpi = 0;
    p->sess = NULL;
}

static void proc_finalize(store_t *s, proc_t *p, uint64_t now)
{
    proc_fold(s, p);
    if (!p->exited) {
        p->exited = 1;
        p->exited_ns = now;
    }
}

static void types_free(proc_t *p)
{
    for (uint32_t i = 0; i < p->ntypes; i++)
        free(p->types[i].name);
    free(p->types);
    p->types = NULL;
    p->ntypes = 0;
}

static void job_remove_proc(job_t *j, proc_t *p)
{
    j->procs[p->job_pos] = j->procs[--j->nprocs];
    j->procs[p->job_pos]->job_pos = p->job_pos;
}

static void job_add_proc(job_t *j, proc_t *p)
{
    j->procs = xgrow(j->procs, &j->procs_cap, j->nprocs + 1, sizeof(*j->procs));
    p->job = j;
    p->job_pos = j->nprocs;
    j->procs[j->nprocs++] = p;
    j->ended_ns = 0;
}

/* Remove the process entirely: its numbers leave every aggregate. */
static void proc_remove(store_t *s, proc_t *p)
{
    proc_contribute(s, p, -1);
    node_t *n = p->node;
    counts_add(&n->tot, &p->tot, -1);
    n->procs[p->node_pos] = n->procs[--n->nprocs];
    n->procs[p->node_pos]->node_pos = p->node_pos;
    job_remove_proc(p->job, p);
    uint64_t h = proc_hash(n, p->m.pid, p->m.start_time);
    proc_t *head = (proc_t *)(uintptr_t)map_get(&s->proc_map, h);
    if (head == p) {
        if (p->hnext)
            map_put(&s->proc_map, h, (uint64_t)(uintptr_t)p->hnext);
        else
            map_del(&s->proc_map, h);
    } else {
        for (proc_t *x = head; x; x = x->hnext)
            if (x->hnext == p) {
                x->hnext = p->hnext;
                break;
            }
    }
    free(p->rows);
    free(p->base);
    free(p->open);
    free(p->mpi);
    types_free(p);
    free(p);
}

/* Subtract the current rows from everything and zero them (a snapshot
 * replaces them next). */
static void proc_unapply(store_t *s, proc_t *p)
{
    if (!p->sess)
        return;
    pf_counts_t acc = {0};
    for (uint32_t i = 0; i < p->nrows; i++) {
        pf_counts_t *c = &p->rows[i];
        if (!(c->ncalls || c->tottime_ns || c->cumtime_ns))
            continue;
        agg_counts(s, p->job, p->sess->gid[i], c, 0, -1);
        counts_add(&acc, c, 1);
        memset(c, 0, sizeof(*c));
    }
    for (uint32_t i = 0; i < p->nmpi; i++)
        agg_counts(s, p->job, p->sess->gid[p->mpi[i].idx], &(pf_counts_t){0}, p->mpi[i].bytes, -1);
    p->nmpi = 0;
    for (uint32_t i = 0; i < p->nopen; i++)
        agg_open(s, p->job, p->sess->gid[p->open[i].idx], &p->open[i].o, -1);
    p->nopen = 0;
    counts_add(&p->tot, &acc, -1);
    counts_add(&p->node->tot, &acc, -1);
}

/* ---- groups ------------------------------------------------------------------------------- */

static group_t *group_get(node_t *n, job_t *j)
{
    for (uint32_t i = 0; i < n->ngroups; i++)
        if (n->groups[i]->job == j)
            return n->groups[i];
    group_t *g = xcalloc(1, sizeof(*g));
    g->node = n;
    g->job = j;
    n->groups = xgrow(n->groups, &n->groups_cap, n->ngroups + 1, sizeof(*n->groups));
    n->groups[n->ngroups++] = g;
    return g;
}

static void edge_agg(store_t *s, job_t *j, uint32_t geid, const pf_counts_t *c, int sign)
{
    counts_add(&s->cl_edges[geid], c, sign);
    counts_add(sagg_row(&j->edges, sagg_slot(&j->edges, geid)), c, sign);
}

static void path_agg(store_t *s, job_t *j, uint32_t gpid, const pathv_t *v, int sign)
{
    pathv_t *a = &s->cl_paths[gpid], *b = sagg_row(&j->paths, sagg_slot(&j->paths, gpid));
    int64_t k = sign;
    a->count += (uint64_t)k * v->count;
    a->tottime_ns += k * v->tottime_ns;
    a->cumtime_ns += k * v->cumtime_ns;
    b->count += (uint64_t)k * v->count;
    b->tottime_ns += k * v->tottime_ns;
    b->cumtime_ns += k * v->cumtime_ns;
}

static void group_contribute(store_t *s, group_t *g, int sign)
{
    for (uint32_t i = 0; i < g->nbedges; i++)
        edge_agg(s, g->job, g->bedges[i].id, &g->bedges[i].c, sign);
    for (uint32_t i = 0; i < g->nbpaths; i++)
        path_agg(s, g->job, g->bpaths[i].id, &g->bpaths[i].v, sign);
    if (!g->sess)
        return;
    for (uint32_t i = 0; i < g->nedges; i++)
        if (g->edges[i].ncalls || g->edges[i].tottime_ns || g->edges[i].cumtime_ns)
            edge_agg(s, g->job, g->sess->geid[i], &g->edges[i], sign);
    for (uint32_t i = 0; i < g->npaths; i++)
        if (g->paths[i].count || g->paths[i].tottime_ns || g->paths[i].cumtime_ns)
            path_agg(s, g->job, g->sess->gpid[i], &g->paths[i], sign);
}

static void group_unapply(store_t *s, group_t *g)
{
    if (!g->sess)
        return;
    for (uint32_t i = 0; i < g->nedges; i++) {
        if (g->edges[i].ncalls || g->edges[i].tottime_ns || g->edges[i].cumtime_ns)
            edge_agg(s, g->job, g->sess->geid[i], &g->edges[i], -1);
        memset(&g->edges[i], 0, sizeof(g->edges[i]));
    }
    for (uint32_t i = 0; i < g->npaths; i++) {
        if (g->paths[i].count || g->paths[i].tottime_ns || g->paths[i].cumtime_ns)
            path_agg(s, g->job, g->sess->gpid[i], &g->paths[i], -1);
        memset(&g->paths[i], 0, sizeof(g->paths[i]));
    }
}

static int sedge_cmp(const void *x, const void *y)
{
    const sedge_t *a = x, *b = y;
    return a->id < b->id ? -1 : a->id > b->id;
}
static int spath_cmp(const void *x, const void *y)
{
    const spath_t *a = x, *b = y;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* Current rows into the base (global ids); aggregates unchanged. */
static void group_fold(group_t *g)
{
    if (!g->sess)
        return;
    sedge_t *e = xmalloc(sizeof(*e) * (g->nedges + g->nbedges + 1));
    uint32_t k = 0;
    for (uint32_t i = 0; i < g->nedges; i++)
        if (g->edges[i].ncalls || g->edges[i].tottime_ns || g->edges[i].cumtime_ns) {
            e[k].id = g->sess->geid[i];
            e[k++].c = g->edges[i];
        }
    if (g->nbedges)
        memcpy(e + k, g->bedges, sizeof(*e) * g->nbedges);
    k += g->nbedges;
    qsort(e, k, sizeof(*e), sedge_cmp);
    uint32_t m = 0;
    for (uint32_t i = 0; i < k; i++) {
        if (m && e[m - 1].id == e[i].id)
            counts_add(&e[m - 1].c, &e[i].c, 1);
        else
            e[m++] = e[i];
    }
    free(g->bedges);
    g->bedges = e;
    g->nbedges = m;
    spath_t *p = xmalloc(sizeof(*p) * (g->npaths + g->nbpaths + 1));
    k = 0;
    for (uint32_t i = 0; i < g->npaths; i++)
        if (g->paths[i].count || g->paths[i].tottime_ns || g->paths[i].cumtime_ns) {
            p[k].id = g->sess->gpid[i];
            p[k++].v = g->paths[i];
        }
    if (g->nbpaths)
        memcpy(p + k, g->bpaths, sizeof(*p) * g->nbpaths);
    k += g->nbpaths;
    qsort(p, k, sizeof(*p), spath_cmp);
    m = 0;
    for (uint32_t i = 0; i < k; i++) {
        if (m && p[m - 1].id == p[i].id) {
            p[m - 1].v.count += p[i].v.count;
            p[m - 1].v.tottime_ns += p[i].v.tottime_ns;
            p[m - 1].v.cumtime_ns += p[i].v.cumtime_ns;
        } else {
            p[m++] = p[i];
        }
    }
    free(g->bpaths);
    g->bpaths = p;
    g->nbpaths = m;
    free(g->edges);
    free(g->paths);
    free(g->eslot);
    free(g->pslot);
    g->edges = NULL;
    g->paths = NULL;
    g->eslot = g->pslot = NULL;
    g->nedges = g->npaths = g->eslot_cap = g->pslot_cap = 0;
    g->sess = NULL;
}

static void group_remove(store_t *s, group_t *g)
{
    group_contribute(s, g, -1);
    node_t *n = g->node;
    for (uint32_t i = 0; i < n->ngroups; i++)
        if (n->groups[i] == g) {
            n->groups[i] = n->groups[--n->ngroups];
            break;
        }
    free(g->edges);
    free(g->paths);
    free(g->eslot);
    free(g->pslot);
    free(g->bedges);
    free(g->bpaths);
    free(g);
}

/* ---- sessions and nodes --------------------------------------------------------------------- */

static void session_reset_dict(session_t *se)
{
    se->nnames = se->nedges = se->npaths = 0;
    map_free(&se->rev);
    for (uint32_t k = 0; k < se->njc; k++)
        free(se->jc[k].slot);
    se->njc = 0;
}

static void session_free(store_t *s, session_t *se)
{
    map_del(&s->sess_map, se->id);
    session_reset_dict(se);
    free(se->gid);
    free(se->geid);
    free(se->gpid);
    free(se->jc);
    free(se);
}

/* The agent of this session is gone or replaced: its processes and groups
 * keep their numbers (as base), detached. */
static void session_retire(store_t *s, session_t *se)
{
    node_t *n = se->node;
    for (uint32_t i = 0; i < n->nprocs; i++)
        if (n->procs[i]->sess == se)
            proc_fold(s, n->procs[i]);
    for (uint32_t i = 0; i < n->ngroups; i++)
        if (n->groups[i]->sess == se)
            group_fold(n->groups[i]);
    if (n->sess == se)
        n->sess = NULL;
    session_free(s, se);
}

static void str_set(char **dst, const char *src)
{
    if (*dst && src && strcmp(*dst, src) == 0)
        return;
    free(*dst);
    *dst = xstrdup(src ? src : "");
}

static node_t *node_get(store_t *s, const char *name, uint64_t now)
{
    node_t *n = store_node_find(s, name);
    if (n)
        return n;
    n = xcalloc(1, sizeof(*n));
    n->name = xstrdup(name);
    n->first_ns = now;
    n->hist.cap = s->cfg.history;
    n->hist.p = xcalloc(n->hist.cap, sizeof(hpoint_t));
    uint64_t h = map_hash_str(name);
    n->hnext = (node_t *)(uintptr_t)map_get(&s->node_map, h);
    map_put(&s->node_map, h, (uint64_t)(uintptr_t)n);
    s->nodes = xgrow(s->nodes, &s->nodes_cap, s->nnodes + 1, sizeof(*s->nodes));
    n->pos = s->nnodes;
    s->nodes[s->nnodes++] = n;
    return n;
}

static void node_remove(store_t *s, node_t *n)
{
    if (n->sess)
        session_retire(s, n->sess);
    while (n->nprocs)
        proc_remove(s, n->procs[n->nprocs - 1]);
    while (n->ngroups)
        group_remove(s, n->groups[n->ngroups - 1]);
    uint64_t h = map_hash_str(n->name);
    node_t *head = (node_t *)(uintptr_t)map_get(&s->node_map, h);
    if (head == n) {
        if (n->hnext)
            map_put(&s->node_map, h, (uint64_t)(uintptr_t)n->hnext);
        else
            map_del(&s->node_map, h);
    } else {
        for (node_t *x = head; x; x = x->hnext)
            if (x->hnext == n) {
                x->hnext = n->hnext;
                break;
            }
    }
    s->nodes[n->pos] = s->nodes[--s->nnodes];
    s->nodes[n->pos]->pos = n->pos;
    free(n->procs);
    free(n->groups);
    free(n->hist.p);
    free(n->name);
    free(n->host);
    free(n->agent_version);
    free(n->dir);
    free(n);
}

void store_destroy(store_t **s_p)
{
    if (!s_p || !*s_p)
        return;
    store_t *s = *s_p;
    if (s->view_cache_free)
        s->view_cache_free(s->view_cache);
    if (s->watch_free)
        s->watch_free(s->watch);
    while (s->nnodes)
        node_remove(s, s->nodes[s->nnodes - 1]);
    while (s->njobs)
        job_free(s, s->jobs[s->njobs - 1]);
    for (uint32_t i = 0; i < s->nfuncs; i++) {
        free(s->funcs[i].file);
        free(s->funcs[i].name);
        free(s->funcs[i].qualname);
    }
    free(s->funcs);
    map_free(&s->fmap);
    free(s->edge_key);
    map_free(&s->emap);
    free(s->path_key);
    map_free(&s->pmap);
    free(s->cl);
    free(s->cl_edges);
    free(s->cl_paths);
    rates_free(&s->cl_rates);
    map_free(&s->node_map);
    map_free(&s->sess_map);
    map_free(&s->job_map);
    map_free(&s->proc_map);
    free(s->nodes);
    free(s->jobs);
    free(s->hist.p);
    free(s);
    *s_p = NULL;
}

/* ---- validation ---------------------------------------------------------------------------- */

static int str_ok(const char *x, size_t max) { return !x || strnlen(x, max + 1) <= max; }

typedef struct pkey {
    int32_t pid;
    uint64_t st;
    uint32_t i;
} pkey_t;

static int pkey_cmp(const void *x, const void *y)
{
    const pkey_t *a = x, *b = y;
    if (a->pid != b->pid)
        return a->pid < b->pid ? -1 : 1;
    if (a->st != b->st)
        return a->st < b->st ? -1 : 1;
    return 0;
}

static int pkeys_has(const pkey_t *k, uint32_t n, int32_t pid, uint64_t st)
{
    pkey_t key = {pid, st, 0};
    return bsearch(&key, k, n, sizeof(*k), pkey_cmp) != NULL;
}

static int gjob_cmp(const void *x, const void *y)
{
    const Ulma__Wire__Group *a = *(Ulma__Wire__Group *const *)x,
                            *b = *(Ulma__Wire__Group *const *)y;
    return strcmp(a->job ? a->job : "", b->job ? b->job : "");
}

/* Decode delta-coded indices, strictly ascending, each < bound. */
static store_bad_t check_index(const uint32_t *d, size_t n, uint32_t bound)
{
    uint64_t cur = 0;
    for (size_t k = 0; k < n; k++) {
        if (k && d[k] == 0)
            return BAD_ORDER;
        cur = k ? cur + d[k] : d[k];
        if (cur >= bound)
            return BAD_INDEX;
    }
    return 0;
}

/* The dictionary sizes a report makes and whether it replaces the session's. */
typedef struct dict_next {
    uint32_t names, edges, paths;
    int full;
} dict_next_t;

static store_bad_t validate_proc(const store_t *s, const session_t *se, const node_t *n,
                                 const Ulma__Wire__Process *pr, int absolute, const dict_next_t *dn)
{
    if (!str_ok(pr->job, 63) || !str_ok(pr->exe, STORE_NAME_MAX))
        return BAD_STRING;
    size_t k = pr->n_fn_index;
    if (pr->n_fn_ncalls != k || pr->n_fn_rcalls != k || pr->n_fn_tottime != k ||
        pr->n_fn_subtime != k || pr->n_mpi_bytes != pr->n_mpi_index ||
        pr->n_open_calls != pr->n_open_index || pr->n_open_tottime != pr->n_open_index ||
        pr->n_open_cumtime != pr->n_open_index)
        return BAD_COLUMNS;
    store_bad_t b;
    if ((b = check_index(pr->fn_index, k, dn->names)) ||
        (b = check_index(pr->mpi_index, pr->n_mpi_index, dn->names)) ||
        (b = check_index(pr->open_index, pr->n_open_index, dn->names)))
        return b;
    if (pr->n_types > s->cfg.lim.types_per_proc)
        return BAD_LIMIT;
    for (size_t i = 0; i < pr->n_types; i++)
        if (!pr->types[i] || !str_ok(pr->types[i]->name, STORE_NAME_MAX))
            return BAD_STRING;
    const proc_t *p = n ? store_proc_find(s, n, pr->pid, pr->start_time) : NULL;
    /* the values rows start from: the process's current ones in this session */
    int have = p && se && p->sess == se && !absolute;
    static const pf_counts_t zero;
    uint32_t idx = 0;
    for (size_t i = 0; i < k; i++) {
        idx = i ? idx + pr->fn_index[i] : pr->fn_index[i];
        const pf_counts_t *o = have && idx < p->nrows ? &p->rows[idx] : &zero;
        pf_counts_t nx;
        if ((b = row_next(o, pr->fn_ncalls[i], pr->fn_rcalls[i], pr->fn_tottime[i],
                          pr->fn_subtime[i], &nx)))
            return b;
    }
    idx = 0;
    for (size_t i = 0; i < pr->n_mpi_index; i++) {
        idx = i ? idx + pr->mpi_index[i] : pr->mpi_index[i];
        int64_t o = have ? (int64_t)proc_mpi_at(p, idx) : 0, nx;
        if (__builtin_add_overflow(o, pr->mpi_bytes[i], &nx) || nx < 0)
            return BAD_NEGATIVE;
    }
    for (size_t i = 0; i < pr->n_open_index; i++)
        if (pr->open_calls[i] > (uint64_t)INT64_MAX)
            return BAD_NEGATIVE;
    return 0;
}

static const group_t *group_find(const node_t *n, const char *job)
{
    for (uint32_t i = 0; n && i < n->ngroups; i++)
        if (strcmp(n->groups[i]->job->name, job) == 0)
            return n->groups[i];
    return NULL;
}

static store_bad_t validate_group(const session_t *se, const node_t *n, const Ulma__Wire__Group *g,
                                  int absolute, const dict_next_t *dn)
{
    if (!str_ok(g->job, 63))
        return BAD_STRING;
    size_t k = g->n_edge_index;
    if (g->n_edge_ncalls != k || g->n_edge_rcalls != k || g->n_edge_tottime != k ||
        g->n_edge_subtime != k || g->n_path_count != g->n_path_index ||
        g->n_path_tottime != g->n_path_index || g->n_path_subtime != g->n_path_index)
        return BAD_COLUMNS;
    store_bad_t b;
    if ((b = check_index(g->edge_index, k, dn->edges)) ||
        (b = check_index(g->path_index, g->n_path_index, dn->paths)))
        return b;
    const group_t *gr = group_find(n, g->job ? g->job : "");
    int have = gr && se && gr->sess == se && !absolute;
    static const pf_counts_t zero;
    static const pathv_t zp;
    uint32_t idx = 0;
    for (size_t i = 0; i < k; i++) {
        idx = i ? idx + g->edge_index[i] : g->edge_index[i];
        const pf_counts_t *o = have && idx < gr->nedges ? &gr->edges[idx] : &zero;
        pf_counts_t nx;
        if ((b = row_next(o, g->edge_ncalls[i], g->edge_rcalls[i], g->edge_tottime[i],
                          g->edge_subtime[i], &nx)))
            return b;
    }
    idx = 0;
    for (size_t i = 0; i < g->n_path_index; i++) {
        idx = i ? idx + g->path_index[i] : g->path_index[i];
        const pathv_t *o = have && idx < gr->npaths ? &gr->paths[idx] : &zp;
        int64_t c, t, su, oc = (int64_t)o->count, os = o->cumtime_ns - o->tottime_ns, cu;
        if (__builtin_add_overflow(oc, g->path_count[i], &c) ||
            __builtin_add_overflow(o->tottime_ns, g->path_tottime[i], &t) ||
            __builtin_add_overflow(os, g->path_subtime[i], &su) ||
            __builtin_add_overflow(t, su, &cu) || c < 0)
            return BAD_NEGATIVE;
    }
    return 0;
}

static store_bad_t validate(const store_t *s, const session_t *se, const node_t *n,
                            const Ulma__Wire__Report *r, int absolute, dict_next_t *dn,
                            pkey_t **keys_out)
{
    const Ulma__Wire__Node *nd = r->node;
    if (!str_ok(nd->host, STORE_NAME_MAX) || !str_ok(nd->agent_version, STORE_NAME_MAX) ||
        !str_ok(nd->dir, STORE_PATH_MAX))
        return BAD_STRING;
    const store_limits_t *l = &s->cfg.lim;
    uint32_t nb = dn->full ? 0 : se ? se->nnames : 0;
    uint32_t eb = dn->full ? 0 : se ? se->nedges : 0;
    uint32_t pb = dn->full ? 0 : se ? se->npaths : 0;
    if (r->n_names > l->names_per_session || nb + r->n_names > l->names_per_session ||
        r->n_edge_names > l->edges || r->n_path_names > l->paths ||
        (uint64_t)s->nfuncs + r->n_names > l->functions ||
        (uint64_t)s->nedges + r->n_edge_names > l->edges ||
        (uint64_t)s->npaths + r->n_path_names > l->paths || r->n_procs > l->procs_per_node)
        return BAD_LIMIT;
    dn->names = nb + (uint32_t)r->n_names;
    dn->edges = eb + (uint32_t)r->n_edge_names;
    dn->paths = pb + (uint32_t)r->n_path_names;
    for (size_t i = 0; i < r->n_names; i++) {
        const Ulma__Wire__Name *x = r->names[i];
        if (!str_ok(x->file, STORE_PATH_MAX) || !str_ok(x->name, STORE_FUNC_MAX) ||
            !str_ok(x->qualname, STORE_FUNC_MAX))
            return BAD_STRING;
    }
    for (size_t i = 0; i < r->n_edge_names; i++)
        if (r->edge_names[i]->caller >= dn->names || r->edge_names[i]->callee >= dn->names)
            return BAD_INDEX;
    for (size_t i = 0; i < r->n_path_names; i++) {
        const Ulma__Wire__PathName *x = r->path_names[i];
        /* parent: 0 (root) or an earlier path's index + 1 */
        if (x->func >= dn->names || x->parent > pb + i)
            return BAD_INDEX;
    }
    if (r->n_gone_pid != r->n_gone_start_time)
        return BAD_COLUMNS;
    /* processes: each once */
    pkey_t *keys = xmalloc(sizeof(*keys) * (r->n_procs + 1));
    for (size_t i = 0; i < r->n_procs; i++) {
        keys[i].pid = r->procs[i]->pid;
        keys[i].st = r->procs[i]->start_time;
        keys[i].i = (uint32_t)i;
    }
    qsort(keys, r->n_procs, sizeof(*keys), pkey_cmp);
    store_bad_t b = 0;
    for (size_t i = 1; i < r->n_procs && !b; i++)
        if (pkey_cmp(&keys[i - 1], &keys[i]) == 0)
            b = BAD_DUPLICATE;
    if (!b && n && (uint64_t)n->nprocs + r->n_procs > (uint64_t)l->procs_per_node * 2)
        b = BAD_LIMIT;
    for (size_t i = 0; i < r->n_procs && !b; i++)
        b = validate_proc(s, se, n, r->procs[i], absolute, dn);
    if (!b && r->n_groups) {
        Ulma__Wire__Group **g = xmalloc(sizeof(*g) * r->n_groups);
        memcpy(g, r->groups, sizeof(*g) * r->n_groups);
        qsort(g, r->n_groups, sizeof(*g), gjob_cmp);
        for (size_t i = 1; i < r->n_groups && !b; i++)
            if (gjob_cmp(&g[i - 1], &g[i]) == 0)
                b = BAD_DUPLICATE;
        free(g);
        for (size_t i = 0; i < r->n_groups && !b; i++)
            b = validate_group(se, n, r->groups[i], absolute, dn);
    }
    if (b) {
        free(keys);
        return b;
    }
    *keys_out = keys;
    return 0;
}

/* ---- application --------------------------------------------------------------------------- */

static void meta_set(pf_meta_t *m, const Ulma__Wire__Process *pr, const node_t *n)
{
    m->pid = pr->pid;
    m->uid = pr->uid;
    snprintf(m->host, sizeof(m->host), "%s", n->host ? n->host : "");
    snprintf(m->exe, sizeof(m->exe), "%s", pr->exe ? pr->exe : "");
    m->rank = pr->rank;
    m->size = pr->size;
    snprintf(m->job, sizeof(m->job), "%s", pr->job ? pr->job : "");
    m->start_time = pr->start_time;
    m->created_ns = pr->created_ns;
    m->state = pr->state <= PF_STATE_EXITED ? pr->state : PF_STATE_LIVE;
    m->active_mode = pr->active_mode;
    m->hook_status = pr->hook_status;
    m->hz = pr->hz;
    m->clock_drift_ppm = pr->clock_drift_ppm;
    m->events = pr->events;
    m->span_ns = pr->span_ns;
    m->nprocs = 1;
    m->live = m->state != PF_STATE_EXITED;
}

static proc_t *proc_new(store_t *s, node_t *n, int32_t pid, uint64_t st, job_t *j)
{
    proc_t *p = xcalloc(1, sizeof(*p));
    p->node = n;
    p->m.pid = pid;
    p->m.start_time = st;
    p->m.rank = -1;
    n->procs = xgrow(n->procs, &n->procs_cap, n->nprocs + 1, sizeof(*n->procs));
    p->node_pos = n->nprocs;
    n->procs[n->nprocs++] = p;
    job_add_proc(j, p);
    uint64_t h = proc_hash(n, pid, st);
    p->hnext = (proc_t *)(uintptr_t)map_get(&s->proc_map, h);
    map_put(&s->proc_map, h, (uint64_t)(uintptr_t)p);
    return p;
}

static void mpi_set(proc_t *p, uint32_t idx, uint64_t v)
{
    uint32_t lo = 0, hi = p->nmpi;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (p->mpi[mid].idx < idx)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < p->nmpi && p->mpi[lo].idx == idx) {
        p->mpi[lo].bytes = v;
        return;
    }
    p->mpi = xrealloc(p->mpi, sizeof(*p->mpi) * (p->nmpi + 1));
    memmove(p->mpi + lo + 1, p->mpi + lo, sizeof(*p->mpi) * (p->nmpi - lo));
    p->mpi[lo].idx = idx;
    p->mpi[lo].bytes = v;
    p->nmpi++;
}

/* A row arrived with a negative time: applied as it is, counted. */
static void note_negative(store_t *s, node_t *n, int64_t a, int64_t b)
{
    if (a < 0 || b < 0) {
        n->negative_times++;
        s->st.negative_times++;
    }
}

/* Row `idx` of process p (session se, job j) becomes *nx: the change goes
 * into the cluster's and the job's aggregates and into *acc. */
static void row_set(store_t *s, session_t *se, job_t *j, uint32_t idx, pf_counts_t *o,
                    const pf_counts_t *nx, dcounts_t *acc)
{
    dcounts_t d = {(int64_t)(nx->ncalls - o->ncalls), (int64_t)(nx->pcalls - o->pcalls),
                   nx->tottime_ns - o->tottime_ns, nx->cumtime_ns - o->cumtime_ns};
    *o = *nx;
    if (dcounts_zero(&d))
        return;
    counts_addd(&s->cl[se->gid[idx]].c, &d);
    counts_addd(&job_row_cached(se, j, idx)->c, &d);
    acc->ncalls += d.ncalls;
    acc->pcalls += d.pcalls;
    acc->tottime += d.tottime;
    acc->cumtime += d.cumtime;
}

/* `replace` (with `snapshot`): a snapshot in the session's dictionary,
 * whose rows replace the process's (rows it leaves out are zero); only the
 * differences move the aggregates. Otherwise the rows are a delta, or a
 * snapshot onto rows zeroed before (a new dictionary). */
static void apply_proc(store_t *s, session_t *se, const Ulma__Wire__Process *pr, int snapshot,
                       int replace)
{
    node_t *n = se->node;
    const char *jname = pr->job ? pr->job : "";
    proc_t *p = store_proc_find(s, n, pr->pid, pr->start_time);
    if (!p)
        p = proc_new(s, n, pr->pid, pr->start_time, job_get(s, jname));
    if (p->sess != se) {
        proc_fold(s, p); /* (another session's rows: none is current) */
        p->sess = se;
        p->exited = 0;
    }
    if (strcmp(p->job->name, jname) != 0) { /* its job became known */
        proc_contribute(s, p, -1);
        job_remove_proc(p->job, p);
        job_add_proc(job_get(s, jname), p);
        proc_contribute(s, p, 1);
    }
    meta_set(&p->m, pr, n);
    p->threads = pr->threads;
    if (pr->drops) {
        const Ulma__Wire__Drops *d = pr->drops;
        pf_drops_t *o = &p->drops;
        o->records_lost = d->records_lost;
        o->drop_events = d->drop_events;
        o->stack_repairs = d->stack_repairs;
        o->frames_discarded = d->frames_discarded;
        o->return_mismatches = d->return_mismatches;
        o->malformed_records = d->malformed_records;
        o->ids_out_of_range = d->ids_out_of_range;
        o->cct_overflows = d->cct_overflows;
        o->stack_overflows = d->stack_overflows;
        o->threads_dropped = d->threads_dropped;
        o->threads_unended = d->threads_unended;
        o->corrupt = d->corrupt;
        o->threads_lost = d->threads_lost;
        o->objects_untracked = d->objects_untracked;
    }
    if (p->nrows < se->nnames) {
        p->rows = xrealloc(p->rows, sizeof(*p->rows) * se->nnames);
        memset(p->rows + p->nrows, 0, sizeof(*p->rows) * (se->nnames - p->nrows));
        p->nrows = se->nnames;
    }
    job_t *j = p->job;
    dcounts_t acc = {0};
    uint32_t idx = 0;
    static const pf_counts_t zero;
    if (replace) {
        /* one pass over the process's rows, the snapshot's merged in */
        size_t k = 0;
        uint32_t next = pr->n_fn_index ? pr->fn_index[0] : UINT32_MAX;
        for (idx = 0; idx < p->nrows; idx++) {
            pf_counts_t *o = &p->rows[idx], nx = {0};
            if (idx == next) {
                row_next(&zero, pr->fn_ncalls[k], pr->fn_rcalls[k], pr->fn_tottime[k],
                         pr->fn_subtime[k], &nx);
                note_negative(s, n, nx.tottime_ns, nx.cumtime_ns);
                k++;
                next = k < pr->n_fn_index ? next + pr->fn_index[k] : UINT32_MAX;
            } else if (!(o->ncalls || o->pcalls || o->tottime_ns || o->cumtime_ns)) {
                continue;
            }
            row_set(s, se, j, idx, o, &nx, &acc);
        }
        /* MPI bytes: the old ones out, the snapshot's in */
        for (uint32_t i = 0; i < p->nmpi; i++) {
            s->cl[se->gid[p->mpi[i].idx]].mpi_bytes -= p->mpi[i].bytes;
            job_row_cached(se, j, p->mpi[i].idx)->mpi_bytes -= p->mpi[i].bytes;
        }
        p->nmpi = 0;
    } else {
        for (size_t i = 0; i < pr->n_fn_index; i++) {
            idx = i ? idx + pr->fn_index[i] : pr->fn_index[i];
            pf_counts_t *o = &p->rows[idx], nx;
            row_next(o, pr->fn_ncalls[i], pr->fn_rcalls[i], pr->fn_tottime[i], pr->fn_subtime[i],
                     &nx);
            note_negative(s, n, nx.tottime_ns, nx.cumtime_ns);
            row_set(s, se, j, idx, o, &nx, &acc);
        }
    }
    if (!dcounts_zero(&acc)) {
        counts_addd(&p->tot, &acc);
        counts_addd(&n->tot, &acc);
    }
    idx = 0;
    for (size_t i = 0; i < pr->n_mpi_index; i++) {
        idx = i ? idx + pr->mpi_index[i] : pr->mpi_index[i];
        uint64_t o = proc_mpi_at(p, idx);
        mpi_set(p, idx, o + (uint64_t)pr->mpi_bytes[i]);
        s->cl[se->gid[idx]].mpi_bytes += (uint64_t)pr->mpi_bytes[i];
        job_row_cached(se, j, idx)->mpi_bytes += (uint64_t)pr->mpi_bytes[i];
    }
    /* open frames: absolute, replaced */
    for (uint32_t i = 0; i < p->nopen; i++)
        agg_open(s, j, se->gid[p->open[i].idx], &p->open[i].o, -1);
    p->open = xrealloc(p->open, sizeof(*p->open) * (pr->n_open_index + 1));
    p->nopen = (uint32_t)pr->n_open_index;
    idx = 0;
    for (size_t i = 0; i < pr->n_open_index; i++) {
        idx = i ? idx + pr->open_index[i] : pr->open_index[i];
        p->open[i].idx = idx;
        p->open[i].o.calls = pr->open_calls[i];
        p->open[i].o.tottime_ns = pr->open_tottime[i];
        p->open[i].o.cumtime_ns = pr->open_cumtime[i];
        note_negative(s, n, pr->open_tottime[i], pr->open_cumtime[i]);
        agg_open(s, j, se->gid[idx], &p->open[i].o, 1);
    }
    note_negative(s, n, pr->span_ns, 0);
    /* object types: absolute; a snapshot has them all */
    if (snapshot)
        types_free(p);
    for (size_t i = 0; i < pr->n_types; i++) {
        const Ulma__Wire__ObjType *t = pr->types[i];
        const char *name = t->name ? t->name : "";
        otype_t *o = NULL;
        for (uint32_t k = 0; k < p->ntypes && !o; k++)
            if (strcmp(p->types[k].name, name) == 0)
                o = &p->types[k];
        if (!o) {
            if (p->ntypes >= s->cfg.lim.types_per_proc)
                break;
            p->types = xrealloc(p->types, sizeof(*p->types) * (p->ntypes + 1));
            o = &p->types[p->ntypes++];
            o->name = xstrdup(name);
        }
        o->v[0] = t->news;
        o->v[1] = t->frees;
        o->v[2] = t->frees_unborn;
        o->v[3] = t->bytes_new;
        o->v[4] = t->bytes_freed;
    }
}

/* The job aggregate's slot of the group's session edge (path) `idx`. */
static uint32_t group_slot(uint32_t **slot, uint32_t *cap, sagg_t *a, uint32_t idx, uint32_t key)
{
    if (idx >= *cap) {
        uint32_t old = *cap;
        *slot = xgrow(*slot, cap, idx + 1, sizeof(uint32_t));
        memset(*slot + old, 0xff, sizeof(uint32_t) * (*cap - old));
    }
    if ((*slot)[idx] == UINT32_MAX)
        (*slot)[idx] = sagg_slot(a, key);
    return (*slot)[idx];
}

static void edge_change(store_t *s, group_t *g, uint32_t idx, pf_counts_t *o, const pf_counts_t *nx)
{
    if (memcmp(o, nx, sizeof(*o)) == 0)
        return;
    uint32_t geid = g->sess->geid[idx];
    pf_counts_t *c = &s->cl_edges[geid];
    pf_counts_t *jr = sagg_row(&g->job->edges,
                               group_slot(&g->eslot, &g->eslot_cap, &g->job->edges, idx, geid));
    counts_add(c, o, -1);
    counts_add(c, nx, 1);
    counts_add(jr, o, -1);
    counts_add(jr, nx, 1);
    *o = *nx;
}

static void path_change(store_t *s, group_t *g, uint32_t idx, pathv_t *o, const pathv_t *nx)
{
    if (memcmp(o, nx, sizeof(*o)) == 0)
        return;
    uint32_t gpid = g->sess->gpid[idx];
    pathv_t *a = &s->cl_paths[gpid];
    pathv_t *b = sagg_row(&g->job->paths,
                          group_slot(&g->pslot, &g->pslot_cap, &g->job->paths, idx, gpid));
    uint64_t dc = nx->count - o->count;
    int64_t dt = nx->tottime_ns - o->tottime_ns, dcu = nx->cumtime_ns - o->cumtime_ns;
    a->count += dc;
    a->tottime_ns += dt;
    a->cumtime_ns += dcu;
    b->count += dc;
    b->tottime_ns += dt;
    b->cumtime_ns += dcu;
    *o = *nx;
}

/* `replace`: a snapshot in the session's dictionaries (rows it leaves out
 * are zero), as for processes. */
static void apply_group(store_t *s, session_t *se, const Ulma__Wire__Group *gr, int replace)
{
    job_t *j = job_get(s, gr->job ? gr->job : "");
    group_t *g = group_get(se->node, j);
    if (g->sess != se) {
        group_fold(g);
        g->sess = se;
    }
    if (g->nedges < se->nedges) {
        g->edges = xrealloc(g->edges, sizeof(*g->edges) * se->nedges);
        memset(g->edges + g->nedges, 0, sizeof(*g->edges) * (se->nedges - g->nedges));
        g->nedges = se->nedges;
    }
    if (g->npaths < se->npaths) {
        g->paths = xrealloc(g->paths, sizeof(*g->paths) * se->npaths);
        memset(g->paths + g->npaths, 0, sizeof(*g->paths) * (se->npaths - g->npaths));
        g->npaths = se->npaths;
    }
    static const pf_counts_t zc;
    static const pathv_t zp;
    size_t k = 0;
    uint32_t idx = 0, next = gr->n_edge_index ? gr->edge_index[0] : UINT32_MAX;
    for (uint32_t e = replace ? 0 : UINT32_MAX; replace && e < g->nedges; e++) {
        pf_counts_t nx = {0};
        if (e == next) {
            row_next(&zc, gr->edge_ncalls[k], gr->edge_rcalls[k], gr->edge_tottime[k],
                     gr->edge_subtime[k], &nx);
            note_negative(s, se->node, nx.tottime_ns, nx.cumtime_ns);
            k++;
            next = k < gr->n_edge_index ? next + gr->edge_index[k] : UINT32_MAX;
        }
        edge_change(s, g, e, &g->edges[e], &nx);
    }
    for (size_t i = 0; !replace && i < gr->n_edge_index; i++) {
        idx = i ? idx + gr->edge_index[i] : gr->edge_index[i];
        pf_counts_t nx;
        row_next(&g->edges[idx], gr->edge_ncalls[i], gr->edge_rcalls[i], gr->edge_tottime[i],
                 gr->edge_subtime[i], &nx);
        note_negative(s, se->node, nx.tottime_ns, nx.cumtime_ns);
        edge_change(s, g, idx, &g->edges[idx], &nx);
    }
    k = 0;
    next = gr->n_path_index ? gr->path_index[0] : UINT32_MAX;
    for (uint32_t p = 0; replace && p < g->npaths; p++) {
        const pathv_t *o = p == next ? &zp : NULL;
        pathv_t nx = {0, 0, 0};
        if (o) {
            nx.count = (uint64_t)gr->path_count[k];
            nx.tottime_ns = gr->path_tottime[k];
            nx.cumtime_ns = nx.tottime_ns + gr->path_subtime[k];
            note_negative(s, se->node, nx.tottime_ns, nx.cumtime_ns);
            k++;
            next = k < gr->n_path_index ? next + gr->path_index[k] : UINT32_MAX;
        }
        path_change(s, g, p, &g->paths[p], &nx);
    }
    idx = 0;
    for (size_t i = 0; !replace && i < gr->n_path_index; i++) {
        idx = i ? idx + gr->path_index[i] : gr->path_index[i];
        pathv_t *o = &g->paths[idx];
        pathv_t nx = {o->count + (uint64_t)gr->path_count[i], o->tottime_ns + gr->path_tottime[i],
                      0};
        nx.cumtime_ns = nx.tottime_ns + (o->cumtime_ns - o->tottime_ns) + gr->path_subtime[i];
        note_negative(s, se->node, nx.tottime_ns, nx.cumtime_ns);
        path_change(s, g, idx, o, &nx);
    }
}

static void dict_grow(session_t *se, uint32_t names, uint32_t edges, uint32_t paths)
{
    se->gid = xgrow(se->gid, &se->names_cap, names ? names : 1, sizeof(uint32_t));
    se->geid = xgrow(se->geid, &se->edges_cap, edges ? edges : 1, sizeof(uint32_t));
    se->gpid = xgrow(se->gpid, &se->paths_cap, paths ? paths : 1, sizeof(uint32_t));
}

static void apply(store_t *s, session_t *se, const Ulma__Wire__Report *r, int absolute,
                  const dict_next_t *dn, const pkey_t *keys, uint64_t now)
{
    node_t *n = se->node;
    if (absolute) {
        /* held processes and groups not in the snapshot are no longer the
         * agent's: they keep their final numbers. The snapshot's values
         * replace the others': in place (the differences applied) when the
         * dictionary stays, else zeroed first (indices change meaning). */
        for (uint32_t i = 0; i < n->nprocs; i++) {
            proc_t *p = n->procs[i];
            if (p->sess != se && (p->sess || p->exited))
                continue;
            if (!pkeys_has(keys, (uint32_t)r->n_procs, p->m.pid, p->m.start_time))
                proc_finalize(s, p, now);
            else if (dn->full)
                proc_unapply(s, p);
        }
        for (uint32_t i = 0; i < n->ngroups; i++) {
            group_t *g = n->groups[i];
            if (g->sess != se)
                continue;
            int in = 0;
            for (size_t k = 0; k < r->n_groups && !in; k++)
                in = strcmp(r->groups[k]->job ? r->groups[k]->job : "", g->job->name) == 0;
            if (!in)
                group_fold(g);
            else if (dn->full)
                group_unapply(s, g);
        }
        if (dn->full) {
            for (uint32_t i = 0; i < n->nprocs; i++)
                if (n->procs[i]->sess == se) {
                    n->procs[i]->nrows = 0;
                    n->procs[i]->nmpi = 0;
                    n->procs[i]->nopen = 0;
                }
            for (uint32_t i = 0; i < n->ngroups; i++)
                if (n->groups[i]->sess == se) {
                    group_t *g = n->groups[i];
                    g->nedges = g->npaths = 0;
                    g->eslot_cap = g->pslot_cap = 0; /* indices change meaning */
                    free(g->eslot);
                    free(g->pslot);
                    g->eslot = g->pslot = NULL;
                }
            session_reset_dict(se);
        }
    }
    dict_grow(se, dn->names, dn->edges, dn->paths);
    for (size_t i = 0; i < r->n_names; i++) {
        uint32_t gid = intern_func(s, r->names[i]);
        se->gid[se->nnames] = gid;
        map_put(&se->rev, gid, (uint64_t)se->nnames + 1);
        se->nnames++;
    }
    for (size_t i = 0; i < r->n_edge_names; i++)
        se->geid[se->nedges++] = intern_edge(s, se->gid[r->edge_names[i]->caller],
                                             se->gid[r->edge_names[i]->callee]);
    for (size_t i = 0; i < r->n_path_names; i++) {
        const Ulma__Wire__PathName *x = r->path_names[i];
        uint32_t parent = x->parent ? se->gpid[x->parent - 1] : 0;
        se->gpid[se->npaths++] = intern_path(s, parent, se->gid[x->func]);
    }
    int replace = absolute && !dn->full;
    for (size_t i = 0; i < r->n_procs; i++)
        apply_proc(s, se, r->procs[i], absolute, replace);
    for (size_t i = 0; i < r->n_groups; i++)
        apply_group(s, se, r->groups[i], replace);
    for (size_t i = 0; i < r->n_gone_pid; i++) {
        proc_t *p = store_proc_find(s, n, r->gone_pid[i], r->gone_start_time[i]);
        if (p && (p->sess == se || !p->sess))
            proc_finalize(s, p, now);
    }
    se->seq = r->seq;
    se->waiting = 0;
    se->interval_ns = r->interval_ns;
}

static void ask(store_t *s, session_t *se, uint64_t id, int full, uint64_t now, store_action_t *act)
{
    act->ask_snapshot = 1;
    act->session = id;
    act->full_dictionary = full;
    s->st.snapshot_requests++;
    if (se) {
        se->waiting = 1;
        se->waiting_full = full;
        se->asked_ns = now;
        se->node->snapshots_asked++;
    }
}

int store_report(store_t *s, const Ulma__Wire__Report *r, uint64_t now, const void *peer,
                 size_t peer_len, store_action_t *act)
{
    memset(act, 0, sizeof(*act));
    if (!r->node || !r->node->name || !r->node->name[0] || !str_ok(r->node->name, STORE_NAME_MAX) ||
        !r->session) {
        s->st.bad[BAD_NODE]++;
        return -1;
    }
    s->st.reports++;
    session_t *se = (session_t *)(uintptr_t)map_get(&s->sess_map, r->session);
    if (se && strcmp(se->node->name, r->node->name) != 0) {
        s->st.bad[BAD_NODE]++;
        return -1;
    }
    int absolute = r->snapshot;
    dict_next_t dn = {0};
    dn.full = absolute && r->name_base == 0;
    if (!se) {
        /* a new session of a node whose agent is up: a restarted agent
         * started after that agent's last report; one that started before
         * is a second agent under the same name (a misconfiguration):
         * taking both would count the node's processes again and again */
        node_t *cur = store_node_find(s, r->node->name);
        if (cur && cur->sess && cur->state == NODE_UP &&
            now - cur->last_ns <= 3 * s->cfg.interval_ns && r->node->agent_start_ns &&
            r->node->agent_start_ns < cur->wall_ns) {
            s->st.bad[BAD_TWIN]++;
            node_refused(cur, BAD_TWIN, now);
            return -1;
        }
        /* a new session: a snapshot from base 0, or the first delta */
        int from_zero = r->name_base == 0 && r->edge_base == 0 && r->path_base == 0;
        if (!from_zero || (!absolute && r->seq != 1)) {
            s->st.unknown_sessions++;
            s->st.reports_lost++;
            ask(s, NULL, r->session, 1, now, act);
            return 1;
        }
        dn.full = 1;
    } else {
        if (r->seq <= se->seq) {
            s->st.duplicates++;
            return 1;
        }
        int match = r->name_base == se->nnames && r->edge_base == se->nedges &&
                    r->path_base == se->npaths;
        int full_ok = dn.full && r->edge_base == 0 && r->path_base == 0;
        if (absolute) {
            if (!match && !full_ok) {
                s->st.dict_mismatches++;
                ask(s, se, r->session, 1, now, act);
                return 1;
            }
            if (match && !full_ok)
                dn.full = 0;
        } else {
            if (se->waiting) {
                s->st.ignored_waiting++;
                s->st.reports_lost++;
                if (now - se->asked_ns >= 2 * s->cfg.interval_ns) /* the request may be lost */
                    ask(s, se, r->session, se->waiting_full || !match, now, act);
                return 1;
            }
            if (r->seq != se->seq + 1) {
                s->st.gaps++;
                s->st.reports_lost++;
                se->node->gaps++;
                ask(s, se, r->session, !match, now, act);
                return 1;
            }
            if (!match) {
                s->st.dict_mismatches++;
                s->st.reports_lost++;
                ask(s, se, r->session, 1, now, act);
                return 1;
            }
        }
    }
    node_t *n = store_node_find(s, r->node->name);
    if (!n && s->nnodes >= s->cfg.lim.nodes) {
        s->st.bad[BAD_LIMIT]++;
        return -1;
    }
    pkey_t *keys = NULL;
    store_bad_t b = validate(s, se, n, r, absolute, &dn, &keys);
    if (b) {
        s->st.bad[b]++;
        /* never silent: the node shows it (made, empty, if it is new) */
        if (!n && s->nnodes < s->cfg.lim.nodes) {
            n = node_get(s, r->node->name, now);
            n->last_ns = now; /* its age: since it was first heard of */
        }
        if (n)
            node_refused(n, b, now);
        return -1;
    }
    if (!se) {
        if (!n)
            n = node_get(s, r->node->name, now);
        if (n->sess) { /* the node's agent restarted */
            s->st.restarts++;
            s->st.reports_lost++; /* what the old agent drained after its last report */
            session_retire(s, n->sess);
        }
        se = xcalloc(1, sizeof(*se));
        se->id = r->session;
        se->node = n;
        se->snapshot_ns = now; /* a session begins whole: a snapshot, or a delta from zero */
        n->sess = se;
        map_put(&s->sess_map, se->id, (uint64_t)(uintptr_t)se);
    }
    const Ulma__Wire__Node *nd = r->node;
    str_set(&n->host, nd->host);
    str_set(&n->agent_version, nd->agent_version);
    str_set(&n->dir, nd->dir);
    n->cpus = nd->cpus;
    n->agent_pid = nd->agent_pid;
    n->agent_start_ns = nd->agent_start_ns;
    if (peer && peer_len <= sizeof(n->peer)) {
        memcpy(n->peer, peer, peer_len);
        n->peer_len = peer_len;
    }
    apply(s, se, r, absolute, &dn, keys, now);
    free(keys);
    n->last_ns = now;
    n->wall_ns = r->wall_ns;
    n->interval_ns = r->interval_ns;
    n->reports++;
    n->refused_pending = 0;
    if (n->state != NODE_UP)
        n->state = NODE_UP;
    if (r->counters) {
        const Ulma__Wire__AgentCounters *c = r->counters;
        ulma__wire__agent_counters__init(&n->counters);
        n->counters.reports_sent = c->reports_sent;
        n->counters.reports_unsent = c->reports_unsent;
        n->counters.snapshots_sent = c->snapshots_sent;
        n->counters.queries = c->queries;
        n->counters.bad_messages = c->bad_messages;
        n->counters.processes_forgotten = c->processes_forgotten;
    }
    if (absolute) {
        s->st.snapshots++;
        se->snapshot_ns = now;
    } else {
        s->st.deltas++;
        /* an agent whose own --snapshot-every is longer than ours (or a
         * collector started after its last snapshot): ask, so that any
         * total is whole again within our interval */
        if (s->cfg.snapshot_every && !se->waiting &&
            now - se->snapshot_ns > (uint64_t)(s->cfg.snapshot_every + 1) * s->cfg.interval_ns)
            ask(s, se, r->session, 0, now, act);
    }
    return 0;
}

/* ---- the periodic tick ------------------------------------------------------------------------ */

static void hist_push(history_t *h, const hpoint_t *pt)
{
    if (!h->cap)
        return;
    h->p[h->head] = *pt;
    h->head = (h->head + 1) % h->cap;
    if (h->n < h->cap)
        h->n++;
}

uint32_t store_history_points(const history_t *h, uint32_t max, hpoint_t *out)
{
    uint32_t n = max && max < h->n ? max : h->n;
    for (uint32_t i = 0; i < n; i++)
        out[i] = h->p[(h->head + h->cap - n + i) % h->cap];
    return n;
}

/* Sample the cumulative counts of `len` rows; the oldest sample is reused. */
static struct rsample *rates_push(rates_t *r, uint64_t t, uint32_t len)
{
    if (!r->cap)
        return NULL;
    if (!r->s) {
        r->s = xcalloc(r->cap, sizeof(*r->s));
        r->wall = xcalloc(r->cap, sizeof(*r->wall));
        r->len = xcalloc(r->cap, sizeof(*r->len));
    }
    uint32_t k = r->head;
    r->s[k] = xrealloc(r->s[k], sizeof(struct rsample) * (len ? len : 1));
    r->len[k] = len;
    r->wall[k] = t;
    r->head = (r->head + 1) % r->cap;
    if (r->n < r->cap)
        r->n++;
    return r->s[k];
}

void store_rates_get(const rates_t *r, uint32_t row, uint64_t ncalls, int64_t tottime,
                     uint64_t t, uint32_t window_s, double *calls, double *tottime_s)
{
    *calls = *tottime_s = 0;
    if (!r->n)
        return;
    uint64_t want = (uint64_t)window_s * 1000000000ull;
    /* the newest sample at least `window` old, else the oldest */
    int best = -1;
    for (uint32_t i = 0; i < r->n; i++) {
        uint32_t k = (r->head + r->cap - 1 - i) % r->cap;
        best = (int)k;
        if (t - r->wall[k] >= want)
            break;
    }
    uint64_t dt = t - r->wall[best];
    if (!dt)
        return;
    uint64_t c0 = row < r->len[best] ? r->s[best][row].ncalls : 0;
    int64_t t0 = row < r->len[best] ? r->s[best][row].tottime_ns : 0;
    double sec = (double)dt / 1e9;
    *calls = ncalls > c0 ? (double)(ncalls - c0) / sec : 0;
    *tottime_s = tottime > t0 ? (double)(tottime - t0) / 1e9 / sec : 0;
}

/*
 * Once per interval:
 *   - node states: up, stale (silent for 3 intervals), gone (silent for --gone);
 *   - events/s, calls/s and program seconds/s per process, node and cluster,
 *     and a history point for each node and the cluster;
 *   - a rate sample (cumulative calls and tottime per function) for the
 *     cluster and each job;
 *   - expiry: gone nodes after --keep, processes their agent let go after
 *     --keep, jobs with no process left after --keep.
 */
void store_tick(store_t *s, uint64_t now, uint64_t wall)
{
    s->ticks++; /* first: what the views cached may name what expires below */
    double dt = s->last_tick_ns && now > s->last_tick_ns ? (double)(now - s->last_tick_ns) / 1e9 : 0;
    uint64_t stale_ns = 3 * s->cfg.interval_ns;
    uint64_t cl_events = 0, cl_lost = 0;
    pf_counts_t cl_tot = {0};
    for (uint32_t i = 0; i < s->nnodes; i++) {
        node_t *n = s->nodes[i];
        uint64_t age = now - n->last_ns;
        int st = age > s->cfg.gone_ns ? NODE_GONE : age > stale_ns ? NODE_STALE : NODE_UP;
        /* refused and still talking: connected, numbers frozen */
        if (n->refused_pending && now - n->refused_ns <= stale_ns)
            st = NODE_REFUSED;
        if (st == NODE_GONE && n->state != NODE_GONE)
            n->state_ns = now;
        n->state = st;
        uint64_t events = 0, lost = 0;
        for (uint32_t k = 0; k < n->nprocs; k++) {
            proc_t *p = n->procs[k];
            events += p->m.events;
            lost += p->drops.records_lost;
            if (dt > 0)
                p->events_per_s = p->m.events >= p->events_prev
                                      ? (double)(p->m.events - p->events_prev) / dt : 0;
            p->events_prev = p->m.events;
        }
        if (dt > 0) {
            n->events_per_s = events >= n->events_prev ? (double)(events - n->events_prev) / dt : 0;
            n->calls_per_s = n->tot.ncalls >= n->calls_prev
                                 ? (double)(n->tot.ncalls - n->calls_prev) / dt : 0;
            n->cpu_per_s = n->tot.tottime_ns >= n->cpu_prev
                               ? (double)(n->tot.tottime_ns - n->cpu_prev) / 1e9 / dt : 0;
            hpoint_t pt = {wall, (float)n->events_per_s, (float)n->calls_per_s,
                           (float)n->cpu_per_s, lost};
            hist_push(&n->hist, &pt);
        }
        n->events_prev = events;
        n->calls_prev = n->tot.ncalls;
        n->cpu_prev = n->tot.tottime_ns;
        cl_events += events;
        cl_lost += lost;
        counts_add(&cl_tot, &n->tot, 1);
    }
    if (dt > 0) {
        s->events_per_s = cl_events >= s->events_prev ? (double)(cl_events - s->events_prev) / dt : 0;
        s->calls_per_s = cl_tot.ncalls >= s->calls_prev ? (double)(cl_tot.ncalls - s->calls_prev) / dt : 0;
        s->cpu_per_s = cl_tot.tottime_ns >= s->cpu_prev
                           ? (double)(cl_tot.tottime_ns - s->cpu_prev) / 1e9 / dt : 0;
        hpoint_t pt = {wall, (float)s->events_per_s, (float)s->calls_per_s, (float)s->cpu_per_s,
                       cl_lost};
        hist_push(&s->hist, &pt);
    }
    s->events_prev = cl_events;
    s->calls_prev = cl_tot.ncalls;
    s->cpu_prev = cl_tot.tottime_ns;
    /* rate samples */
    struct rsample *rs = rates_push(&s->cl_rates, now, s->nfuncs);
    for (uint32_t g = 0; rs && g < s->nfuncs; g++) {
        rs[g].ncalls = s->cl[g].c.ncalls;
        rs[g].tottime_ns = s->cl[g].c.tottime_ns;
    }
    for (uint32_t i = 0; i < s->njobs; i++) {
        job_t *j = s->jobs[i];
        rs = rates_push(&j->rates, now, j->fn.n);
        for (uint32_t k = 0; rs && k < j->fn.n; k++) {
            const arow_t *a = sagg_row(&j->fn, k);
            rs[k].ncalls = a->c.ncalls;
            rs[k].tottime_ns = a->c.tottime_ns;
        }
    }
    /* expiry */
    for (uint32_t i = s->nnodes; i-- > 0;) {
        node_t *n = s->nodes[i];
        if (n->state == NODE_GONE && now - n->state_ns > s->cfg.keep_ns) {
            s->st.nodes_expired++;
            s->st.procs_expired += n->nprocs;
            node_remove(s, n);
            continue;
        }
        for (uint32_t k = n->nprocs; k-- > 0;) {
            proc_t *p = n->procs[k];
            if (p->exited && !p->sess && now - p->exited_ns > s->cfg.keep_ns) {
                s->st.procs_expired++;
                proc_remove(s, p);
            }
        }
    }
    for (uint32_t i = s->njobs; i-- > 0;) {
        job_t *j = s->jobs[i];
        uint32_t live = 0;
        for (uint32_t k = 0; k < j->nprocs; k++)
            live += store_proc_live(j->procs[k]);
        j->nlive = live;
        if (live) {
            j->ended_ns = 0;
            continue;
        }
        if (!j->ended_ns)
            j->ended_ns = now;
        if (j->nprocs == 0 && now - j->ended_ns > s->cfg.keep_ns) {
            for (uint32_t k = 0; k < s->nnodes; k++) {
                node_t *n = s->nodes[k];
                for (uint32_t g = n->ngroups; g-- > 0;)
                    if (n->groups[g]->job == j)
                        group_remove(s, n->groups[g]);
            }
            s->st.jobs_expired++;
            job_free(s, j);
        }
    }
    s->last_tick_ns = now;
    s->last_tick_wall = wall;
}

/* ---- readers ----------------------------------------------------------------------------------- */

void store_proc_value(const store_t *s, const proc_t *p, uint32_t gid, pf_counts_t *out)
{
    (void)s;
    memset(out, 0, sizeof(*out));
    uint32_t lo = 0, hi = p->nbase;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (p->base[mid].gid < gid)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < p->nbase && p->base[lo].gid == gid)
        *out = p->base[lo].c;
    if (p->sess) {
        uint64_t v = map_get(&p->sess->rev, gid);
        if (v && v - 1 < p->nrows)
            counts_add(out, &p->rows[v - 1], 1);
    }
}

void store_proc_accumulate(const store_t *s, const proc_t *p, arow_t *acc)
{
    (void)s;
    for (uint32_t i = 0; i < p->nbase; i++) {
        counts_add(&acc[p->base[i].gid].c, &p->base[i].c, 1);
        acc[p->base[i].gid].mpi_bytes += p->base[i].mpi_bytes;
    }
    if (!p->sess)
        return;
    for (uint32_t i = 0; i < p->nrows; i++)
        if (p->rows[i].ncalls || p->rows[i].tottime_ns || p->rows[i].cumtime_ns)
            counts_add(&acc[p->sess->gid[i]].c, &p->rows[i], 1);
    for (uint32_t i = 0; i < p->nmpi; i++)
        acc[p->sess->gid[p->mpi[i].idx]].mpi_bytes += p->mpi[i].bytes;
    for (uint32_t i = 0; i < p->nopen; i++) {
        pf_open_t *o = &acc[p->sess->gid[p->open[i].idx]].open;
        o->calls += p->open[i].o.calls;
        o->tottime_ns += p->open[i].o.tottime_ns;
        o->cumtime_ns += p->open[i].o.cumtime_ns;
    }
}

void store_proc_totals(const store_t *s, const proc_t *p, pf_counts_t *tot, int64_t *mpi_ns,
                       uint32_t *top_mpi_gid)
{
    *tot = p->tot;
    *mpi_ns = 0;
    *top_mpi_gid = UINT32_MAX;
    int64_t best = -1;
    for (uint32_t i = 0; i < p->nbase; i++) {
        const srow_t *r = &p->base[i];
        if (s->funcs[r->gid].kind != PF_KIND_MPI)
            continue;
        pf_counts_t v;
        store_proc_value(s, p, r->gid, &v);
        if (v.cumtime_ns > best) {
            best = v.cumtime_ns;
            *top_mpi_gid = r->gid;
        }
    }
    for (uint32_t i = 0; p->sess && i < p->nrows; i++) {
        uint32_t gid = p->sess->gid[i];
        if (s->funcs[gid].kind != PF_KIND_MPI || !p->rows[i].ncalls)
            continue;
        pf_counts_t v;
        store_proc_value(s, p, gid, &v);
        if (v.cumtime_ns > best) {
            best = v.cumtime_ns;
            *top_mpi_gid = gid;
        }
    }
    /* the sum: every MPI row once (base and current may name the same gid) */
    for (uint32_t i = 0; i < p->nbase; i++)
        if (s->funcs[p->base[i].gid].kind == PF_KIND_MPI)
            *mpi_ns += p->base[i].c.cumtime_ns;
    for (uint32_t i = 0; p->sess && i < p->nrows; i++)
        if (s->funcs[p->sess->gid[i]].kind == PF_KIND_MPI)
            *mpi_ns += p->rows[i].cumtime_ns;
}
