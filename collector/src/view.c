/* view.c - profiles of the cluster, a node, a job or a rank, built from the
 * store's aggregates; the spread of a function over ranks. */
#define _GNU_SOURCE
#include "view.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int view_resolve(const store_t *s, const Ulma__Wire__Scope *sc, view_scope_t *out, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof(*out));
    int level = sc ? (int)sc->level : ULMA__WIRE__SCOPE__LEVEL__CLUSTER;
    out->level = level;
    const char *node = sc && sc->node ? sc->node : "", *job = sc && sc->job ? sc->job : "";
    switch (level) {
    case ULMA__WIRE__SCOPE__LEVEL__CLUSTER:
        return 0;
    case ULMA__WIRE__SCOPE__LEVEL__NODE:
        out->node = store_node_find(s, node);
        if (!out->node) {
            snprintf(err, errlen, "no node '%s'", node);
            return -1;
        }
        return 0;
    case ULMA__WIRE__SCOPE__LEVEL__JOB:
        out->job = store_job_find(s, job);
        if (!out->job) {
            snprintf(err, errlen, "no job '%s'", job);
            return -1;
        }
        return 0;
    case ULMA__WIRE__SCOPE__LEVEL__RANK:
        if (*node && sc->pid) {
            node_t *n = store_node_find(s, node);
            if (!n) {
                snprintf(err, errlen, "no node '%s'", node);
                return -1;
            }
            proc_t *best = NULL;
            for (uint32_t i = 0; i < n->nprocs; i++) {
                proc_t *p = n->procs[i];
                if (p->m.pid != sc->pid || (sc->start_time && p->m.start_time != sc->start_time))
                    continue;
                if (!best || store_proc_live(p) || p->m.start_time > best->m.start_time)
                    best = p;
            }
            if (!best) {
                snprintf(err, errlen, "no process %d on node '%s'", sc->pid, node);
                return -1;
            }
            out->proc = best;
        } else if (*job) {
            job_t *j = store_job_find(s, job);
            out->proc = j ? store_proc_by_rank(s, j, sc->rank) : NULL;
            if (!out->proc) {
                snprintf(err, errlen, "no rank %d in job '%s'", sc->rank, job);
                return -1;
            }
        } else {
            snprintf(err, errlen, "a rank scope needs node and pid, or job and rank");
            return -1;
        }
        out->node = out->proc->node;
        out->job = out->proc->job;
        return 0;
    default:
        snprintf(err, errlen, "unknown scope level %d", level);
        return -1;
    }
}

void view_scope_name(const view_scope_t *v, char *buf, size_t n)
{
    switch (v->level) {
    case ULMA__WIRE__SCOPE__LEVEL__NODE: snprintf(buf, n, "node %s", v->node->name); break;
    case ULMA__WIRE__SCOPE__LEVEL__JOB: snprintf(buf, n, "job %s", v->job->name); break;
    case ULMA__WIRE__SCOPE__LEVEL__RANK:
        snprintf(buf, n, "rank %s/%d", v->proc->node->name, v->proc->m.pid);
        break;
    default: snprintf(buf, n, "cluster"); break;
    }
}

/* Sort keys of a process, gathered once: sorting touches these, not the
 * processes (whose fields are spread over several cache lines). */
typedef struct pkey {
    const job_t *job;
    const node_t *node;
    int32_t rank, pid;
    uint64_t start_time;
    proc_t *p;
} pkey_t;

static int pkey_cmp(const void *x, const void *y)
{
    const pkey_t *a = x, *b = y;
    int c;
    if (a->job != b->job && (c = strcmp(a->job->name, b->job->name)))
        return c;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if (a->node != b->node && (c = strcmp(a->node->name, b->node->name)))
        return c;
    if (a->pid != b->pid)
        return a->pid < b->pid ? -1 : 1;
    return a->start_time < b->start_time ? -1 : a->start_time > b->start_time;
}

static void procs_sort(proc_t **procs, uint32_t n)
{
    pkey_t *k = xmalloc(sizeof(*k) * (n + 1));
    for (uint32_t i = 0; i < n; i++) {
        const proc_t *p = procs[i];
        k[i] = (pkey_t){p->job, p->node, p->m.rank, p->m.pid, p->m.start_time, procs[i]};
    }
    qsort(k, n, sizeof(*k), pkey_cmp);
    for (uint32_t i = 0; i < n; i++)
        procs[i] = k[i].p;
    free(k);
}

proc_t **view_procs(const store_t *s, const view_scope_t *v, uint32_t *n)
{
    proc_t **out;
    uint32_t k = 0;
    switch (v->level) {
    case ULMA__WIRE__SCOPE__LEVEL__NODE:
        out = xmalloc(sizeof(*out) * (v->node->nprocs + 1));
        if (v->node->nprocs) /* procs may be NULL then */
            memcpy(out, v->node->procs, sizeof(*out) * v->node->nprocs);
        k = v->node->nprocs;
        break;
    case ULMA__WIRE__SCOPE__LEVEL__JOB:
        out = xmalloc(sizeof(*out) * (v->job->nprocs + 1));
        if (v->job->nprocs)
            memcpy(out, v->job->procs, sizeof(*out) * v->job->nprocs);
        k = v->job->nprocs;
        break;
    case ULMA__WIRE__SCOPE__LEVEL__RANK:
        out = xmalloc(sizeof(*out));
        out[k++] = v->proc;
        break;
    default: {
        uint32_t total = 0;
        for (uint32_t i = 0; i < s->nnodes; i++)
            total += s->nodes[i]->nprocs;
        out = xmalloc(sizeof(*out) * (total + 1));
        for (uint32_t i = 0; i < s->nnodes; i++)
            for (uint32_t j = 0; j < s->nodes[i]->nprocs; j++)
                out[k++] = s->nodes[i]->procs[j];
    }
    }
    procs_sort(out, k);
    *n = k;
    return out;
}

void view_func_std(const store_t *s, uint32_t gid, char *buf, size_t n)
{
    const gfunc_t *g = &s->funcs[gid];
    size_t nl = strlen(g->name);
    if (strcmp(g->file, "~") == 0 && g->line == 0) {
        if (nl >= 2 && g->name[0] == '<' && g->name[nl - 1] == '>')
            snprintf(buf, n, "{%.*s}", (int)(nl - 2), g->name + 1);
        else
            snprintf(buf, n, "%s", g->name);
    } else {
        snprintf(buf, n, "%s:%u(%s)", g->file, g->line, g->name);
    }
}

/* ---- building a profile ------------------------------------------------------------------- */

typedef struct vb {
    const store_t *s;
    profile_t *p;
    uint32_t *row;      /* gid -> row + 1 */
    uint32_t *gid;      /* row -> gid */
    uint32_t gid_cap;
} vb_t;

static uint32_t vb_row(vb_t *b, uint32_t gid)
{
    if (b->row[gid])
        return b->row[gid] - 1;
    const gfunc_t *g = &b->s->funcs[gid];
    const char *q = g->qualname ? g->qualname : g->name;
    uint32_t r = profile_add_func(b->p, g->file, strlen(g->file), g->line, g->name, strlen(g->name),
                                  q, strlen(q), g->kind);
    b->row[gid] = r + 1;
    b->gid = xgrow(b->gid, &b->gid_cap, r + 1, sizeof(uint32_t));
    b->gid[r] = gid;
    return r;
}

static void vb_add(vb_t *b, uint32_t gid, const arow_t *a)
{
    if (!(a->c.ncalls || a->c.tottime_ns || a->c.cumtime_ns || a->open.calls || a->mpi_bytes))
        return;
    pf_func_t *f = profile_func_w(b->p, vb_row(b, gid));
    f->c.ncalls += a->c.ncalls;
    f->c.pcalls += a->c.pcalls;
    f->c.tottime_ns += a->c.tottime_ns;
    f->c.cumtime_ns += a->c.cumtime_ns;
    f->open.calls += a->open.calls;
    f->open.tottime_ns += a->open.tottime_ns;
    f->open.cumtime_ns += a->open.cumtime_ns;
    f->mpi_bytes += a->mpi_bytes;
}

static void vb_proc(vb_t *b, const proc_t *p)
{
    for (uint32_t i = 0; i < p->nbase; i++) {
        arow_t a = {.c = p->base[i].c, .mpi_bytes = p->base[i].mpi_bytes};
        vb_add(b, p->base[i].gid, &a);
    }
    if (!p->sess)
        return;
    for (uint32_t i = 0; i < p->nrows; i++) {
        arow_t a = {.c = p->rows[i]};
        vb_add(b, p->sess->gid[i], &a);
    }
    for (uint32_t i = 0; i < p->nmpi; i++) {
        arow_t a = {.mpi_bytes = p->mpi[i].bytes};
        vb_add(b, p->sess->gid[p->mpi[i].idx], &a);
    }
    for (uint32_t i = 0; i < p->nopen; i++) {
        arow_t a = {.open = p->open[i].o};
        vb_add(b, p->sess->gid[p->open[i].idx], &a);
    }
}

static void vb_edge(vb_t *b, uint32_t geid, const pf_counts_t *c)
{
    if (!(c->ncalls || c->tottime_ns || c->cumtime_ns))
        return;
    uint64_t key = b->s->edge_key[geid];
    uint32_t e = profile_add_edge(b->p, vb_row(b, (uint32_t)(key >> 32)), vb_row(b, (uint32_t)key));
    pf_edge_t *d = profile_edge_w(b->p, e);
    d->c.ncalls += c->ncalls;
    d->c.pcalls += c->pcalls;
    d->c.tottime_ns += c->tottime_ns;
    d->c.cumtime_ns += c->cumtime_ns;
}

/* The view's path of a global path, its ancestors made first. */
static uint32_t vb_path_id(vb_t *b, uint32_t *pmap, uint32_t gpid)
{
    if (!gpid)
        return 0;
    if (pmap[gpid])
        return pmap[gpid];
    uint64_t key = b->s->path_key[gpid];
    uint32_t parent = (uint32_t)(key >> 32);
    uint32_t par = parent < gpid ? vb_path_id(b, pmap, parent) : 0;
    uint32_t r = profile_add_path(b->p, par, vb_row(b, (uint32_t)key));
    pmap[gpid] = r;
    return r;
}

static void vb_path(vb_t *b, uint32_t *pmap, uint32_t gpid, const pathv_t *v)
{
    if (!(v->count || v->tottime_ns || v->cumtime_ns))
        return;
    pf_path_t *d = profile_path_w(b->p, vb_path_id(b, pmap, gpid));
    d->count += v->count;
    d->tottime_ns += v->tottime_ns;
    d->cumtime_ns += v->cumtime_ns;
}

static void vb_group(vb_t *b, uint32_t *pmap, const group_t *g)
{
    for (uint32_t i = 0; i < g->nbedges; i++)
        vb_edge(b, g->bedges[i].id, &g->bedges[i].c);
    for (uint32_t i = 0; i < g->nbpaths; i++)
        vb_path(b, pmap, g->bpaths[i].id, &g->bpaths[i].v);
    if (!g->sess)
        return;
    for (uint32_t i = 0; i < g->nedges; i++)
        vb_edge(b, g->sess->geid[i], &g->edges[i]);
    for (uint32_t i = 0; i < g->npaths; i++)
        vb_path(b, pmap, g->sess->gpid[i], &g->paths[i]);
}

static void drops_add(pf_drops_t *d, const pf_drops_t *x)
{
    const uint64_t *a = (const uint64_t *)x;
    uint64_t *o = (uint64_t *)d;
    for (size_t i = 0; i < sizeof(*d) / sizeof(uint64_t); i++)
        o[i] += a[i];
}

profile_t *view_profile(const store_t *s, const view_scope_t *v, int what, uint32_t window_s,
                        uint32_t **gid_of_row)
{
    vb_t b = {s, profile_new(), xcalloc(s->nfuncs + 1, sizeof(uint32_t)), NULL, 0};
    uint32_t *pmap = (what & VIEW_EDGES) ? xcalloc(s->npaths + 1, sizeof(uint32_t)) : NULL;
    uint32_t np = 0;
    proc_t **procs = view_procs(s, v, &np);
    switch (v->level) {
    case ULMA__WIRE__SCOPE__LEVEL__CLUSTER:
        for (uint32_t g = 0; g < s->nfuncs; g++)
            vb_add(&b, g, &s->cl[g]);
        if (pmap) {
            for (uint32_t e = 0; e < s->nedges; e++)
                vb_edge(&b, e, &s->cl_edges[e]);
            for (uint32_t i = 1; i < s->npaths; i++)
                vb_path(&b, pmap, i, &s->cl_paths[i]);
        }
        break;
    case ULMA__WIRE__SCOPE__LEVEL__JOB: {
        const job_t *j = v->job;
        for (uint32_t k = 0; k < j->fn.n; k++)
            vb_add(&b, j->fn.key[k], (const arow_t *)j->fn.rows + k);
        if (pmap) {
            for (uint32_t k = 0; k < j->edges.n; k++)
                vb_edge(&b, j->edges.key[k], (const pf_counts_t *)j->edges.rows + k);
            for (uint32_t k = 0; k < j->paths.n; k++)
                vb_path(&b, pmap, j->paths.key[k], (const pathv_t *)j->paths.rows + k);
        }
        break;
    }
    case ULMA__WIRE__SCOPE__LEVEL__NODE:
        for (uint32_t i = 0; i < np; i++)
            vb_proc(&b, procs[i]);
        for (uint32_t i = 0; pmap && i < v->node->ngroups; i++)
            vb_group(&b, pmap, v->node->groups[i]);
        break;
    default:
        vb_proc(&b, v->proc);
        break;
    }
    /* who it describes */
    pf_meta_t *m = profile_meta(b.p);
    pf_drops_t *d = profile_drops_w(b.p);
    memset(m, 0, sizeof(*m));
    m->rank = -1;
    for (uint32_t i = 0; i < np; i++) {
        const proc_t *p = procs[i];
        drops_add(d, &p->drops);
        if (i == 0) {
            *m = p->m;
            m->nprocs = 0;
        }
        m->nprocs++;
        if (i) {
            m->events += p->m.events;
            if (p->m.span_ns > m->span_ns)
                m->span_ns = p->m.span_ns;
            if (m->rank != p->m.rank)
                m->rank = -1;
            if (m->pid != p->m.pid)
                m->pid = 0;
            if (strcmp(m->host, p->m.host) != 0)
                m->host[0] = '\0';
            if (strcmp(m->exe, p->m.exe) != 0)
                m->exe[0] = '\0';
            if (strcmp(m->job, p->m.job) != 0)
                m->job[0] = '\0';
            m->active_mode |= p->m.active_mode;
            m->hook_status |= p->m.hook_status;
            m->clock_drift_ppm = pf_clock_drift_merge(m->clock_drift_ppm, p->m.clock_drift_ppm);
        }
        if (store_proc_live(p)) {
            m->state = PF_STATE_LIVE;
            m->live = 1;
        }
        if ((what & VIEW_TYPES))
            for (uint32_t k = 0; k < p->ntypes; k++) {
                const otype_t *t = &p->types[k];
                pf_type_t *ty = profile_type_w(b.p, profile_add_type(b.p, t->name, strlen(t->name)));
                ty->news += t->v[0];
                ty->frees += t->v[1];
                ty->frees_unborn += t->v[2];
                ty->bytes_new += t->v[3];
                ty->bytes_freed += t->v[4];
            }
    }
    if (v->level == ULMA__WIRE__SCOPE__LEVEL__RANK && v->proc->exited)
        m->state = PF_STATE_EXITED, m->live = 0;
    if ((what & VIEW_RATES) && (v->level == ULMA__WIRE__SCOPE__LEVEL__CLUSTER ||
                                v->level == ULMA__WIRE__SCOPE__LEVEL__JOB)) {
        const rates_t *r = v->level == ULMA__WIRE__SCOPE__LEVEL__CLUSTER ? &s->cl_rates
                                                                         : &v->job->rates;
        uint64_t t = now_ns();
        for (uint32_t i = 0; i < profile_nfuncs(b.p); i++) {
            pf_func_t *f = profile_func_w(b.p, i);
            uint32_t row = b.gid[i];
            if (v->level == ULMA__WIRE__SCOPE__LEVEL__JOB) {
                uint64_t k = map_get(&v->job->fn.map, row);
                if (!k)
                    continue;
                row = (uint32_t)(k - 1);
            }
            store_rates_get(r, row, f->c.ncalls, f->c.tottime_ns, t, window_s, &f->rate_calls,
                            &f->rate_tottime);
        }
    }
    free(procs);
    free(pmap);
    free(b.row);
    if (gid_of_row)
        *gid_of_row = b.gid ? b.gid : xcalloc(1, sizeof(uint32_t));
    else
        free(b.gid);
    return b.p;
}

/* The process's base (earlier sessions' numbers) of gid, added to *o. */
static void base_value(const proc_t *p, uint32_t gid, pf_counts_t *o)
{
    uint32_t lo = 0, hi = p->nbase;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (p->base[mid].gid < gid)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < p->nbase && p->base[lo].gid == gid) {
        const pf_counts_t *c = &p->base[lo].c;
        o->ncalls += c->ncalls;
        o->pcalls += c->pcalls;
        o->tottime_ns += c->tottime_ns;
        o->cumtime_ns += c->cumtime_ns;
    }
}

void view_cumtimes(const store_t *s, proc_t *const *procs, uint32_t n, const uint32_t *gids,
                   uint32_t ng, int64_t *out)
{
    if (!ng)
        return;
    /* node position -> its session's name index + 1 of each gid (0: none) */
    uint32_t *idx = xmalloc(sizeof(uint32_t) * ((size_t)s->nnodes * ng + 1));
    unsigned char *seen = xcalloc(s->nnodes + 1, 1);
    enum { AHEAD = 8 }; /* processes: their rows are prefetched this far ahead */
    for (uint32_t i = 0; i < n; i++) {
        const proc_t *p = procs[i];
        if (i + 2 * AHEAD < n)
            __builtin_prefetch(procs[i + 2 * AHEAD]);
        if (i + AHEAD < n) {
            const proc_t *q = procs[i + AHEAD];
            uint32_t qpos = q->node->pos;
            if (q->sess && seen[qpos])
                for (uint32_t k = 0; k < ng; k++) {
                    uint32_t x = idx[(size_t)qpos * ng + k];
                    if (x && x - 1 < q->nrows)
                        __builtin_prefetch(&q->rows[x - 1].cumtime_ns);
                }
        }
        for (uint32_t k = 0; k < ng; k++)
            out[(size_t)k * n + i] = 0;
        if (p->sess) {
            uint32_t pos = p->node->pos;
            uint32_t *ix = &idx[(size_t)pos * ng];
            if (!seen[pos]) {
                seen[pos] = 1;
                for (uint32_t k = 0; k < ng; k++)
                    ix[k] = (uint32_t)map_get(&p->sess->rev, gids[k]);
            }
            for (uint32_t k = 0; k < ng; k++)
                if (ix[k] && ix[k] - 1 < p->nrows)
                    out[(size_t)k * n + i] = p->rows[ix[k] - 1].cumtime_ns;
        }
        for (uint32_t k = 0; p->nbase && k < ng; k++) {
            pf_counts_t b = {0};
            base_value(p, gids[k], &b);
            out[(size_t)k * n + i] += b.cumtime_ns;
        }
    }
    free(idx);
    free(seen);
}

void view_values(const store_t *s, proc_t *const *procs, uint32_t n, uint32_t gid,
                 pf_counts_t *out)
{
    /* node position -> the node's session name index of gid + 1 (0: none),
     * looked up when first needed */
    uint32_t *idx = xcalloc(s->nnodes + 1, sizeof(uint32_t));
    unsigned char *seen = xcalloc(s->nnodes + 1, 1);
    for (uint32_t i = 0; i < n; i++) {
        const proc_t *p = procs[i];
        pf_counts_t *o = &out[i];
        memset(o, 0, sizeof(*o));
        if (p->nbase) {
            uint32_t lo = 0, hi = p->nbase;
            while (lo < hi) {
                uint32_t mid = (lo + hi) / 2;
                if (p->base[mid].gid < gid)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo < p->nbase && p->base[lo].gid == gid)
                *o = p->base[lo].c;
        }
        if (!p->sess)
            continue;
        /* a process's session is its node's current one (store.c retires
         * the others' processes) */
        uint32_t pos = p->node->pos;
        if (!seen[pos]) {
            seen[pos] = 1;
            idx[pos] = (uint32_t)map_get(&p->sess->rev, gid);
        }
        uint32_t k = idx[pos];
        if (k && k - 1 < p->nrows) {
            const pf_counts_t *c = &p->rows[k - 1];
            o->ncalls += c->ncalls;
            o->pcalls += c->pcalls;
            o->tottime_ns += c->tottime_ns;
            o->cumtime_ns += c->cumtime_ns;
        }
    }
    free(idx);
    free(seen);
}

void view_spread_of(proc_t *const *procs, const int64_t *cum, uint32_t n, spread_t *out)
{
    memset(out, 0, sizeof(*out));
    out->n = n;
    if (!n)
        return;
    double sum = 0, sq = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t x = cum[i];
        if (i == 0 || x < out->min)
            out->min = x;
        if (i == 0 || x > out->max) {
            out->max = x;
            out->slowest = procs[i];
        }
        sum += (double)x;
    }
    out->mean = sum / n;
    for (uint32_t i = 0; i < n; i++) {
        double d = (double)cum[i] - out->mean;
        sq += d * d;
    }
    out->std = sqrt(sq / n);
}

void view_spread(const store_t *s, proc_t *const *procs, uint32_t n, uint32_t gid, spread_t *out)
{
    int64_t *v = xmalloc(sizeof(*v) * (n + 1));
    view_cumtimes(s, procs, n, &gid, 1, v);
    view_spread_of(procs, v, n, out);
    free(v);
}

/* ---- spreads kept for the interval ----------------------------------------------------- */

typedef struct spread_entry {
    const void *scope;      /* NULL: the cluster; else the job */
    uint32_t gid;
    spread_t sp;
} spread_entry_t;

typedef struct spread_cache {
    uint64_t tick;          /* store.ticks when filled */
    map_t map;              /* hash(scope, gid) -> entry + 1 (chained by equality below) */
    spread_entry_t *e;
    uint32_t n, cap;
} spread_cache_t;

static void spread_cache_free(void *p)
{
    spread_cache_t *c = p;
    if (!c)
        return;
    map_free(&c->map);
    free(c->e);
    free(c);
}

static uint64_t spread_key(const void *scope, uint32_t gid)
{
    return map_mix((uint64_t)(uintptr_t)scope * 0x9e3779b97f4a7c15ull ^ gid);
}

static spread_entry_t *spread_find(spread_cache_t *c, const void *scope, uint32_t gid)
{
    /* open addressing on the hash; equal hashes of different keys are
     * told apart by a linear look at the entries that share it */
    uint64_t v = map_get(&c->map, spread_key(scope, gid));
    if (v && c->e[v - 1].scope == scope && c->e[v - 1].gid == gid)
        return &c->e[v - 1];
    for (uint32_t i = 0; v && i < c->n; i++)
        if (c->e[i].scope == scope && c->e[i].gid == gid)
            return &c->e[i];
    return NULL;
}

void view_spreads(store_t *s, const view_scope_t *v, proc_t *const *procs, uint32_t n,
                  const uint32_t *gids, uint32_t ng, spread_t *out)
{
    int keep = v->level == ULMA__WIRE__SCOPE__LEVEL__CLUSTER ||
               v->level == ULMA__WIRE__SCOPE__LEVEL__JOB;
    const void *scope = v->level == ULMA__WIRE__SCOPE__LEVEL__JOB ? (const void *)v->job : NULL;
    spread_cache_t *c = s->view_cache;
    if (keep && !c) {
        c = xcalloc(1, sizeof(*c));
        s->view_cache = c;
        s->view_cache_free = spread_cache_free;
    }
    if (keep && c->tick != s->ticks) { /* a new interval: forget the last one's */
        map_free(&c->map);
        c->n = 0;
        c->tick = s->ticks;
    }
    /* the ones not kept, computed together */
    uint32_t *miss = xmalloc(sizeof(uint32_t) * (ng + 1)), nm = 0;
    for (uint32_t k = 0; k < ng; k++) {
        const spread_entry_t *e = keep ? spread_find(c, scope, gids[k]) : NULL;
        if (e && e->sp.n == n) /* (the scope gained or lost a process: again) */
            out[k] = e->sp;
        else
            miss[nm++] = k;
    }
    if (nm) {
        uint32_t *g = xmalloc(sizeof(uint32_t) * nm);
        for (uint32_t i = 0; i < nm; i++)
            g[i] = gids[miss[i]];
        int64_t *cum = xmalloc(sizeof(int64_t) * ((size_t)n * nm + 1));
        view_cumtimes(s, procs, n, g, nm, cum);
        for (uint32_t i = 0; i < nm; i++) {
            spread_t *o = &out[miss[i]];
            view_spread_of(procs, cum + (size_t)i * n, n, o);
            if (!keep)
                continue;
            spread_entry_t *e = spread_find(c, scope, g[i]);
            if (!e) {
                c->e = xgrow(c->e, &c->cap, c->n + 1, sizeof(*c->e));
                e = &c->e[c->n];
                map_put(&c->map, spread_key(scope, g[i]), (uint64_t)c->n + 1);
                c->n++;
            }
            e->scope = scope;
            e->gid = g[i];
            e->sp = *o;
        }
        free(cum);
        free(g);
    }
    free(miss);
}
