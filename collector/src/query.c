/* query.c - answers from the store; forwarding and control decisions. */
#define _GNU_SOURCE
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/export.h"
#include "profile/table.h"
#include "view.h"
#include "watch.h"

#define DEFAULT_RANKS 64u
#define DEFAULT_WINDOW 5u
#define MAX_WINDOW 3600u

static const char *mode_of(uint32_t active_mode) { return profile_mode_name(active_mode); }

/* Profiling state of a set of processes: off, fast, full, mixed or none. */
static const char *mode_summary(proc_t *const *p, uint32_t n)
{
    int seen = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (!store_proc_live(p[i]))
            continue;
        int m = (int)(p[i]->m.active_mode & 3u);
        if (seen < 0)
            seen = m;
        else if (seen != m)
            return "mixed";
    }
    return seen < 0 ? "none" : mode_of((uint32_t)seen);
}

static float *spark(wire_arena_t *a, const history_t *h, uint32_t points, size_t *n)
{
    hpoint_t *pt = xmalloc(sizeof(*pt) * (h->n + 1));
    uint32_t k = store_history_points(h, points, pt);
    float *out = wire_alloc(a, sizeof(float) * (k ? k : 1));
    for (uint32_t i = 0; i < k; i++)
        out[i] = pt[i].events_per_s;
    free(pt);
    *n = k;
    return out;
}

static void std_of(const store_t *s, uint32_t gid, char *buf, size_t n)
{
    if (gid == UINT32_MAX)
        buf[0] = '\0';
    else
        view_func_std(s, gid, buf, n);
}

/* The function with the most own time among processes. */
static uint32_t top_function(const store_t *s, proc_t *const *p, uint32_t n)
{
    int64_t *acc = xcalloc(s->nfuncs + 1, sizeof(int64_t));
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < n; i++) {
        const proc_t *x = p[i];
        for (uint32_t k = 0; k < x->nbase; k++)
            acc[x->base[k].gid] += x->base[k].c.tottime_ns;
        for (uint32_t k = 0; x->sess && k < x->nrows; k++)
            acc[x->sess->gid[k]] += x->rows[k].tottime_ns;
    }
    for (uint32_t g = 0; g < s->nfuncs; g++)
        if (acc[g] > 0 && (best == UINT32_MAX || acc[g] > acc[best]))
            best = g;
    free(acc);
    return best;
}

static void set_spread(Ulma__Wire__Row *row, const spread_t *spp, wire_arena_t *a)
{
    spread_t sp = *spp;
    row->nranks = sp.n;
    row->min_ns = sp.min;
    row->max_ns = sp.max;
    row->mean_ns = sp.mean;
    row->std_ns = sp.std;
    if (sp.slowest) {
        row->slowest_rank = sp.slowest->m.rank;
        row->slowest_node = wire_strdup(a, sp.slowest->node->name);
        row->slowest_pid = sp.slowest->m.pid;
    }
}

/* The row's spread over procs from their cumulative times (view_cumtimes). */
static void fill_spread(Ulma__Wire__Row *row, proc_t *const *procs, uint32_t n,
                        const int64_t *cum, wire_arena_t *a)
{
    spread_t sp;
    view_spread_of(procs, cum, n, &sp);
    set_spread(row, &sp, a);
}

/* The spreads of the table's rows (gid of each: gid[rows[i]]). */
static void table_spreads(const query_env_t *env, const view_scope_t *v, proc_t *const *procs,
                          uint32_t n, const uint32_t *gid, const uint32_t *rows, wire_answer_t *w)
{
    uint32_t nr = (uint32_t)w->r.table->n_rows;
    if (!nr)
        return;
    uint32_t *g = xmalloc(sizeof(uint32_t) * nr);
    for (uint32_t i = 0; i < nr; i++)
        g[i] = gid[rows[i]];
    spread_t *sp = xmalloc(sizeof(*sp) * nr);
    view_spreads(env->s, v, procs, n, g, nr, sp);
    for (uint32_t i = 0; i < nr; i++)
        set_spread(w->r.table->rows[i], &sp[i], w->a);
    free(sp);
    free(g);
}

/* ---- the kinds ------------------------------------------------------------------------------ */

static void answer_summary(const query_env_t *env, const Ulma__Wire__Query *q, wire_answer_t *w)
{
    const store_t *s = env->s;
    Ulma__Wire__Summary *o = WIRE_MSG(w->a, Ulma__Wire__Summary, ulma__wire__summary__descriptor);
    uint32_t np = 0, live = 0;
    uint64_t lost = 0;
    for (uint32_t i = 0; i < s->nnodes; i++) {
        const node_t *n = s->nodes[i];
        if (n->state == NODE_UP)
            o->nodes_up++;
        else if (n->state == NODE_STALE || n->state == NODE_REFUSED) /* its numbers are old */
            o->nodes_stale++;
        else
            o->nodes_gone++;
        for (uint32_t k = 0; k < n->nprocs; k++) {
            np++;
            live += store_proc_live(n->procs[k]);
            lost += n->procs[k]->drops.records_lost;
        }
    }
    o->ranks = live;
    o->processes = np;
    for (uint32_t i = 0; i < s->njobs; i++)
        o->jobs += s->jobs[i]->nprocs > 0 && s->jobs[i]->name[0];
    o->events_per_s = s->events_per_s;
    o->records_lost = lost;
    const char *mode = "none";
    for (uint32_t i = 0; i < s->nnodes; i++) {
        const char *m = mode_summary(s->nodes[i]->procs, s->nodes[i]->nprocs);
        if (strcmp(m, "none") == 0)
            continue;
        if (strcmp(mode, "none") == 0)
            mode = m;
        else if (strcmp(mode, m) != 0)
            mode = "mixed";
    }
    o->mode = wire_strdup(w->a, mode);
    o->spark = spark(w->a, &s->hist, q->points, &o->n_spark);
    o->wall_ns = wall_ns();
    o->interval_s = env->interval_s;
    o->bad_messages = env->bad_messages;
    o->source = wire_strdup(w->a, "collector");
    w->r.summary = o;
}

static int node_cmp(const void *x, const void *y)
{
    return strcmp((*(node_t *const *)x)->name, (*(node_t *const *)y)->name);
}

static node_t **sorted_nodes(const store_t *s)
{
    node_t **n = xmalloc(sizeof(*n) * (s->nnodes + 1));
    if (s->nnodes)
        memcpy(n, s->nodes, sizeof(*n) * s->nnodes);
    qsort(n, s->nnodes, sizeof(*n), node_cmp);
    return n;
}

static void answer_nodes(const query_env_t *env, const Ulma__Wire__Query *q, wire_answer_t *w)
{
    const store_t *s = env->s;
    node_t **nodes = sorted_nodes(s);
    uint32_t from = q->offset < s->nnodes ? q->offset : s->nnodes;
    uint32_t k = s->nnodes - from, lim = wire_query_limit(q);
    if (k > lim)
        k = lim;
    w->r.nodes = WIRE_MSGS(w->a, k, Ulma__Wire__NodeInfo, ulma__wire__node_info__descriptor);
    w->r.n_nodes = k;
    uint64_t now = now_ns();
    for (uint32_t i = 0; i < k; i++) {
        const node_t *n = nodes[from + i];
        Ulma__Wire__NodeInfo *o = w->r.nodes[i];
        o->name = wire_strdup(w->a, n->name);
        o->host = wire_strdup(w->a, n->host);
        o->state = wire_strdup(w->a, store_node_state_name(n));
        o->agent_version = wire_strdup(w->a, n->agent_version);
        o->cpus = n->cpus;
        for (uint32_t j = 0; j < n->nprocs; j++) {
            o->ranks += store_proc_live(n->procs[j]);
            o->records_lost += n->procs[j]->drops.records_lost;
        }
        o->processes = n->nprocs;
        o->events_per_s = n->events_per_s;
        o->age_s = (double)(now - n->last_ns) / 1e9;
        o->wall_ns = n->wall_ns;
        char buf[1200];
        std_of(s, top_function(s, n->procs, n->nprocs), buf, sizeof(buf));
        o->top_function = wire_strdup(w->a, buf);
        o->mode = wire_strdup(w->a, mode_summary(n->procs, n->nprocs));
        o->spark = spark(w->a, &n->hist, q->points, &o->n_spark);
        o->reports = n->reports;
        o->gaps = n->gaps;
    }
    free(nodes);
}

static void rank_info(const store_t *s, wire_arena_t *a, Ulma__Wire__RankInfo *o, proc_t *p)
{
    o->node = wire_strdup(a, p->node->name);
    o->pid = p->m.pid;
    o->start_time = p->m.start_time;
    o->rank = p->m.rank;
    o->size = p->m.size;
    o->job = wire_strdup(a, p->m.job);
    o->exe = wire_strdup(a, p->m.exe);
    o->state = wire_strdup(a, p->exited ? "exited" : profile_state_name(p->m.state));
    o->mode = wire_strdup(a, mode_of(p->m.active_mode));
    o->objects = (p->m.active_mode & 0x4u) != 0;
    o->events = p->m.events;
    o->events_per_s = p->events_per_s;
    o->records_lost = p->drops.records_lost;
    pf_counts_t tot;
    uint32_t top_mpi;
    store_proc_totals(s, p, &tot, &o->mpi_ns, &top_mpi);
    o->tottime_ns = tot.tottime_ns;
    o->threads = p->threads;
    char buf[1200];
    std_of(s, top_function(s, &p, 1), buf, sizeof(buf));
    o->top_function = wire_strdup(a, buf);
    o->profile_hook_displaced = (p->m.hook_status & PF_HOOK_DISPLACED) != 0;
}

static void answer_ranks(const query_env_t *env, const Ulma__Wire__Query *q, const view_scope_t *v,
                         wire_answer_t *w)
{
    uint32_t n;
    proc_t **procs = view_procs(env->s, v, &n);
    uint32_t from = q->offset < n ? q->offset : n, k = n - from, lim = wire_query_limit(q);
    if (k > lim)
        k = lim;
    w->r.ranks = WIRE_MSGS(w->a, k, Ulma__Wire__RankInfo, ulma__wire__rank_info__descriptor);
    w->r.n_ranks = k;
    for (uint32_t i = 0; i < k; i++)
        rank_info(env->s, w->a, w->r.ranks[i], procs[from + i]);
    free(procs);
}

static int job_cmp(const void *x, const void *y)
{
    return strcmp((*(job_t *const *)x)->name, (*(job_t *const *)y)->name);
}

static void answer_jobs(const query_env_t *env, const Ulma__Wire__Query *q, wire_answer_t *w)
{
    const store_t *s = env->s;
    job_t **jobs = xmalloc(sizeof(*jobs) * (s->njobs + 1));
    uint32_t nj = 0;
    for (uint32_t i = 0; i < s->njobs; i++)
        if (s->jobs[i]->nprocs)
            jobs[nj++] = s->jobs[i];
    qsort(jobs, nj, sizeof(*jobs), job_cmp);
    uint32_t from = q->offset < nj ? q->offset : nj, k = nj - from, lim = wire_query_limit(q);
    if (k > lim)
        k = lim;
    w->r.jobs = WIRE_MSGS(w->a, k, Ulma__Wire__JobInfo, ulma__wire__job_info__descriptor);
    w->r.n_jobs = k;
    for (uint32_t i = 0; i < k; i++) {
        const job_t *j = jobs[from + i];
        Ulma__Wire__JobInfo *o = w->r.jobs[i];
        o->job = wire_strdup(w->a, j->name);
        o->ranks = j->nprocs;
        map_t seen = {0};
        for (uint32_t p = 0; p < j->nprocs; p++) {
            const proc_t *x = j->procs[p];
            o->live += store_proc_live(x);
            o->tottime_ns += x->tot.tottime_ns;
            o->records_lost += x->drops.records_lost;
            if (!map_get(&seen, (uint64_t)(uintptr_t)x->node)) {
                map_put(&seen, (uint64_t)(uintptr_t)x->node, 1);
                o->nodes++;
            }
        }
        map_free(&seen);
    }
    free(jobs);
}

static uint32_t window_of(const Ulma__Wire__Query *q)
{
    uint32_t win = q->window ? q->window : DEFAULT_WINDOW;
    return win > MAX_WINDOW ? MAX_WINDOW : win;
}

/* The scope's profile with its rates (view_profile's for the cluster and
 * jobs, the watched scopes' for a node and a rank). */
static profile_t *rated_profile(const query_env_t *env, const view_scope_t *v, int what,
                                uint32_t window_s, uint32_t **gid)
{
    profile_t *p = view_profile(env->s, v, what | VIEW_RATES, window_s, gid);
    watch_rates(env->s, v, p, *gid, window_s, now_ns());
    return p;
}

static void answer_top(const query_env_t *env, const Ulma__Wire__Query *q, const view_scope_t *v,
                       wire_answer_t *w)
{
    const char *sort = wire_query_sort(q, w);
    if (!sort)
        return;
    uint32_t *gid;
    profile_t *p = rated_profile(env, v, 0, window_of(q), &gid);
    const uint32_t *rows = wire_answer_top(w, p, sort, q->filter, q->offset, wire_query_limit(q));
    uint32_t n;
    proc_t **procs = view_procs(env->s, v, &n);
    if (n > 1)
        table_spreads(env, v, procs, n, gid, rows, w);
    free(procs);
    free(gid);
    profile_destroy(&p);
}

/* A process's value of a function, for FUNCTION's per-rank list. */
typedef struct rv {
    proc_t *p;
    pf_counts_t c;
    uint32_t order;
} rv_t;

static int rv_cmp(const void *x, const void *y)
{
    const rv_t *a = x, *b = y;
    if (a->c.cumtime_ns != b->c.cumtime_ns)
        return a->c.cumtime_ns > b->c.cumtime_ns ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

static void answer_function(const query_env_t *env, const Ulma__Wire__Query *q,
                            const view_scope_t *v, wire_answer_t *w)
{
    uint32_t *gid;
    profile_t *p = rated_profile(env, v, VIEW_EDGES, window_of(q), &gid);
    uint32_t row = wire_answer_find(w, p, q->func);
    if (row == UINT32_MAX) {
        free(gid);
        profile_destroy(&p);
        return;
    }
    uint32_t lim = wire_query_limit(q);
    Ulma__Wire__FunctionDetail *fd =
        WIRE_MSG(w->a, Ulma__Wire__FunctionDetail, ulma__wire__function_detail__descriptor);
    fd->row = WIRE_MSG(w->a, Ulma__Wire__Row, ulma__wire__row__descriptor);
    wire_row(w->a, fd->row, p, row);
    uint32_t n;
    proc_t **procs = view_procs(env->s, v, &n);
    pf_counts_t *vals = xmalloc(sizeof(*vals) * (n + 1));
    view_values(env->s, procs, n, gid[row], vals);
    int64_t *cum = xmalloc(sizeof(*cum) * (n + 1));
    for (uint32_t i = 0; i < n; i++)
        cum[i] = vals[i].cumtime_ns;
    fill_spread(fd->row, procs, n, cum, w->a);
    free(cum);
    /* per rank, the most cumulative time first */
    rv_t *r = xmalloc(sizeof(*r) * (n + 1));
    for (uint32_t i = 0; i < n; i++) {
        r[i].p = procs[i];
        r[i].c = vals[i];
    }
    free(vals);
    for (uint32_t i = 0; i < n; i++)
        r[i].order = i;
    qsort(r, n, sizeof(*r), rv_cmp); /* ties keep the ranks' order */
    uint32_t k = n < lim ? n : lim;
    fd->ranks = WIRE_MSGS(w->a, k, Ulma__Wire__RankValue, ulma__wire__rank_value__descriptor);
    fd->n_ranks = k;
    for (uint32_t i = 0; i < k; i++) {
        Ulma__Wire__RankValue *o = fd->ranks[i];
        o->rank = r[i].p->m.rank;
        o->node = wire_strdup(w->a, r[i].p->node->name);
        o->pid = r[i].p->m.pid;
        o->ncalls = r[i].c.ncalls;
        o->tottime_ns = r[i].c.tottime_ns;
        o->cumtime_ns = r[i].c.cumtime_ns;
    }
    wire_edges(w, p, row, 0, lim, &fd->callers, &fd->n_callers);
    wire_edges(w, p, row, 1, lim, &fd->callees, &fd->n_callees);
    w->r.function = fd;
    free(r);
    free(procs);
    free(gid);
    profile_destroy(&p);
}

static void answer_mpi(const query_env_t *env, const Ulma__Wire__Query *q, const view_scope_t *v,
                       wire_answer_t *w)
{
    profile_t *p = view_profile(env->s, v, 0, 0, NULL);
    wire_answer_mpi(w, p);
    profile_destroy(&p);
    if (v->level != ULMA__WIRE__SCOPE__LEVEL__JOB)
        return;
    uint32_t n;
    proc_t **procs = view_procs(env->s, v, &n);
    uint32_t from = q->offset < n ? q->offset : n, k = n - from, lim = wire_query_limit(q);
    if (k > lim)
        k = lim;
    w->r.mpi_ranks = WIRE_MSGS(w->a, k, Ulma__Wire__MpiRank, ulma__wire__mpi_rank__descriptor);
    w->r.n_mpi_ranks = k;
    for (uint32_t i = 0; i < k; i++) {
        proc_t *x = procs[from + i];
        Ulma__Wire__MpiRank *o = w->r.mpi_ranks[i];
        pf_counts_t tot;
        uint32_t top;
        store_proc_totals(env->s, x, &tot, &o->mpi_ns, &top);
        o->rank = x->m.rank;
        o->node = wire_strdup(w->a, x->node->name);
        o->pid = x->m.pid;
        o->total_ns = tot.tottime_ns;
        char buf[1200];
        std_of(env->s, top, buf, sizeof(buf));
        o->top_call = wire_strdup(w->a, top == UINT32_MAX ? "" : env->s->funcs[top].name);
    }
    free(procs);
}

static void answer_drops(const query_env_t *env, const view_scope_t *v, wire_answer_t *w)
{
    profile_t *p = view_profile(env->s, v, 0, 0, NULL);
    wire_answer_drops(w, p);
    profile_destroy(&p);
    if (v->level == ULMA__WIRE__SCOPE__LEVEL__CLUSTER)
        w->r.drops->reports_lost = env->s->st.reports_lost;
    else if (v->level == ULMA__WIRE__SCOPE__LEVEL__NODE)
        w->r.drops->reports_lost = v->node->gaps;
}

static Ulma__Wire__HistoryPoint **hist_points(wire_arena_t *a, const history_t *h, uint32_t points,
                                              size_t *n)
{
    hpoint_t *pt = xmalloc(sizeof(*pt) * (h->n + 1));
    uint32_t k = store_history_points(h, points, pt);
    Ulma__Wire__HistoryPoint **o =
        WIRE_MSGS(a, k, Ulma__Wire__HistoryPoint, ulma__wire__history_point__descriptor);
    for (uint32_t i = 0; i < k; i++) {
        o[i]->wall_ns = pt[i].wall_ns;
        o[i]->events_per_s = pt[i].events_per_s;
        o[i]->calls_per_s = pt[i].calls_per_s;
        o[i]->cpu_per_s = pt[i].cpu_per_s;
        o[i]->records_lost = pt[i].records_lost;
    }
    free(pt);
    *n = k;
    return o;
}

static void answer_history(const query_env_t *env, const Ulma__Wire__Query *q,
                           const view_scope_t *v, wire_answer_t *w)
{
    const store_t *s = env->s;
    Ulma__Wire__History *h = WIRE_MSG(w->a, Ulma__Wire__History, ulma__wire__history__descriptor);
    h->cluster = hist_points(w->a, &s->hist, q->points, &h->n_cluster);
    node_t **nodes;
    uint32_t nn;
    if (v->level == ULMA__WIRE__SCOPE__LEVEL__NODE) {
        nodes = xmalloc(sizeof(*nodes));
        nodes[0] = v->node;
        nn = 1;
    } else {
        nodes = sorted_nodes(s);
        nn = s->nnodes;
    }
    uint32_t from = q->offset < nn ? q->offset : nn, k = nn - from, lim = wire_query_limit(q);
    if (k > lim)
        k = lim;
    h->nodes = WIRE_MSGS(w->a, k, Ulma__Wire__NodeHistory, ulma__wire__node_history__descriptor);
    h->n_nodes = k;
    for (uint32_t i = 0; i < k; i++) {
        h->nodes[i]->node = wire_strdup(w->a, nodes[from + i]->name);
        h->nodes[i]->points = hist_points(w->a, &nodes[from + i]->hist, q->points,
                                          &h->nodes[i]->n_points);
    }
    free(nodes);
    w->r.history = h;
}

static void answer_imbalance(const query_env_t *env, const Ulma__Wire__Query *q,
                             const view_scope_t *v, wire_answer_t *w)
{
    const char *sort = wire_query_sort(q, w);
    if (!sort)
        return;
    uint32_t *gid;
    profile_t *p = rated_profile(env, v, 0, window_of(q), &gid);
    const uint32_t *rows = wire_answer_top(w, p, sort, q->filter, q->offset, wire_query_limit(q));
    uint32_t n;
    proc_t **procs = view_procs(env->s, v, &n);
    Ulma__Wire__Imbalance *im = WIRE_MSG(w->a, Ulma__Wire__Imbalance, ulma__wire__imbalance__descriptor);
    size_t nr = w->r.table->n_rows;
    uint32_t nk = q->ranks ? q->ranks : DEFAULT_RANKS;
    if (nk > n)
        nk = n;
    if (nk > WIRE_MAX_LIMIT)
        nk = WIRE_MAX_LIMIT;
    im->cells = wire_alloc(w->a, sizeof(int64_t) * (nr * nk + 1));
    im->n_cells = nr * nk;
    table_spreads(env, v, procs, n, gid, rows, w);
    /* the cells: the first nk ranks' values */
    uint32_t *g = xmalloc(sizeof(uint32_t) * (nr + 1));
    for (size_t i = 0; i < nr; i++)
        g[i] = gid[rows[i]];
    int64_t *vals = xmalloc(sizeof(*vals) * ((size_t)nk * nr + 1));
    view_cumtimes(env->s, procs, nk, g, (uint32_t)nr, vals);
    for (size_t i = 0; i < nr; i++)
        for (uint32_t k = 0; k < nk; k++)
            im->cells[i * nk + k] = vals[i * nk + k];
    free(vals);
    free(g);
    im->rows = w->r.table->rows;
    im->n_rows = nr;
    im->ranks = WIRE_MSGS(w->a, nk, Ulma__Wire__RankValue, ulma__wire__rank_value__descriptor);
    im->n_ranks = nk;
    for (uint32_t k = 0; k < nk; k++) {
        Ulma__Wire__RankValue *o = im->ranks[k];
        o->rank = procs[k]->m.rank;
        o->node = wire_strdup(w->a, procs[k]->node->name);
        o->pid = procs[k]->m.pid;
        o->tottime_ns = procs[k]->tot.tottime_ns;
        o->ncalls = procs[k]->tot.ncalls;
    }
    w->r.imbalance = im;
    free(procs);
    free(gid);
    profile_destroy(&p);
}

/* ---- forwarding and control ------------------------------------------------------------------- */

static query_result_t forward(const Ulma__Wire__Query *q, const view_scope_t *v, wire_answer_t *w,
                              query_route_t *route)
{
    if (v->level != ULMA__WIRE__SCOPE__LEVEL__RANK) {
        wire_answer_error(w, "%s needs a rank scope (node and pid, or job and rank)",
                          wire_kind_name(q->kind));
        return QUERY_ANSWERED;
    }
    if (!v->node->peer_len || v->node->state == NODE_GONE) {
        wire_answer_error(w, "node %s is not connected", v->node->name);
        return QUERY_ANSWERED;
    }
    /* the agent's own query: the process named exactly */
    Ulma__Wire__Query fq = *q;
    Ulma__Wire__Scope sc = ULMA__WIRE__SCOPE__INIT;
    sc.level = ULMA__WIRE__SCOPE__LEVEL__RANK;
    sc.node = v->node->name;
    sc.pid = v->proc->m.pid;
    sc.start_time = v->proc->m.start_time;
    sc.rank = v->proc->m.rank;
    sc.job = v->proc->m.job;
    fq.scope = &sc;
    fq.version = WIRE_VERSION;
    route->node = v->node;
    sbuf_init(&route->fwd);
    wire_pack(&fq.base, &route->fwd);
    return QUERY_FORWARD;
}

static query_result_t control(const query_env_t *env, const Ulma__Wire__Query *q,
                              const view_scope_t *v, wire_answer_t *w, query_route_t *route)
{
    const store_t *s = env->s;
    if (q->mode > 2) {
        wire_answer_error(w, "mode: %u is not 0 (off), 1 (fast) or 2 (full)", q->mode);
        return QUERY_ANSWERED;
    }
    route->mode = q->mode;
    route->objects = q->objects;
    route->wait_ms = q->wait_ms ? q->wait_ms : 1500;
    route->limit = wire_query_limit(q);
    route->pid = 0;
    route->rank = -1;
    route->job[0] = '\0';
    route->nodes = xmalloc(sizeof(node_t *) * (s->nnodes + 1));
    route->nnodes = 0;
    switch (v->level) {
    case ULMA__WIRE__SCOPE__LEVEL__CLUSTER:
        for (uint32_t i = 0; i < s->nnodes; i++)
            if (s->nodes[i]->state != NODE_GONE && s->nodes[i]->peer_len)
                route->nodes[route->nnodes++] = s->nodes[i];
        break;
    case ULMA__WIRE__SCOPE__LEVEL__NODE:
        route->nodes[route->nnodes++] = v->node;
        break;
    case ULMA__WIRE__SCOPE__LEVEL__JOB: {
        snprintf(route->job, sizeof(route->job), "%s", v->job->name);
        map_t seen = {0};
        for (uint32_t i = 0; i < v->job->nprocs; i++) {
            node_t *n = v->job->procs[i]->node;
            if (store_proc_live(v->job->procs[i]) && !map_get(&seen, (uint64_t)(uintptr_t)n)) {
                map_put(&seen, (uint64_t)(uintptr_t)n, 1);
                route->nodes[route->nnodes++] = n;
            }
        }
        map_free(&seen);
        break;
    }
    default:
        route->pid = v->proc->m.pid;
        route->nodes[route->nnodes++] = v->node;
        break;
    }
    if (!route->nnodes) {
        free(route->nodes);
        route->nodes = NULL;
        char name[300];
        view_scope_name(v, name, sizeof(name));
        wire_answer_error(w, "no connected node holds a live process of %s", name);
        return QUERY_ANSWERED;
    }
    return QUERY_CONTROL;
}

static const char *kind_needs_rank(Ulma__Wire__Kind k)
{
    return k == ULMA__WIRE__KIND__STACKS || k == ULMA__WIRE__KIND__RECENT ? "" : NULL;
}

query_result_t query_run(const query_env_t *env, const Ulma__Wire__Query *q, wire_answer_t *w,
                         query_route_t *route)
{
    memset(route, 0, sizeof(*route));
    view_scope_t v;
    char err[512];
    if (view_resolve(env->s, q->scope, &v, err, sizeof(err)) != 0) {
        wire_answer_error(w, "%s", err);
        return QUERY_ANSWERED;
    }
    int rank = v.level == ULMA__WIRE__SCOPE__LEVEL__RANK;
    if (kind_needs_rank(q->kind))
        return forward(q, &v, w, route);
    switch (q->kind) {
    case ULMA__WIRE__KIND__SUMMARY: answer_summary(env, q, w); break;
    case ULMA__WIRE__KIND__TOP: answer_top(env, q, &v, w); break;
    case ULMA__WIRE__KIND__NODES: answer_nodes(env, q, w); break;
    case ULMA__WIRE__KIND__RANKS: answer_ranks(env, q, &v, w); break;
    case ULMA__WIRE__KIND__JOBS: answer_jobs(env, q, w); break;
    case ULMA__WIRE__KIND__FUNCTION:
        if (rank)
            return forward(q, &v, w, route);
        answer_function(env, q, &v, w);
        break;
    case ULMA__WIRE__KIND__CALLERS:
    case ULMA__WIRE__KIND__CALLEES:
    case ULMA__WIRE__KIND__PATHS:
    case ULMA__WIRE__KIND__EXPORT: {
        if (rank)
            return forward(q, &v, w, route);
        profile_t *p = view_profile(env->s, &v, VIEW_EDGES | VIEW_TYPES, 0, NULL);
        if (q->kind == ULMA__WIRE__KIND__PATHS) {
            wire_answer_paths(w, p, wire_query_limit(q));
        } else if (q->kind == ULMA__WIRE__KIND__EXPORT) {
            wire_answer_export(w, p, q->format && *q->format ? q->format : "json");
        } else {
            uint32_t row = wire_answer_find(w, p, q->func);
            if (row != UINT32_MAX)
                wire_answer_edges(w, p, row, q->kind == ULMA__WIRE__KIND__CALLEES,
                                  wire_query_limit(q));
        }
        profile_destroy(&p);
        break;
    }
    case ULMA__WIRE__KIND__OBJECTS: {
        if (rank)
            return forward(q, &v, w, route);
        profile_t *p = view_profile(env->s, &v, VIEW_TYPES, 0, NULL);
        wire_answer_objects(w, p, wire_query_limit(q));
        profile_destroy(&p);
        break;
    }
    case ULMA__WIRE__KIND__MPI: answer_mpi(env, q, &v, w); break;
    case ULMA__WIRE__KIND__DROPS: answer_drops(env, &v, w); break;
    case ULMA__WIRE__KIND__HISTORY: answer_history(env, q, &v, w); break;
    case ULMA__WIRE__KIND__IMBALANCE: answer_imbalance(env, q, &v, w); break;
    case ULMA__WIRE__KIND__CONTROL: return control(env, q, &v, w, route);
    case ULMA__WIRE__KIND__SNAPSHOT: {
        sbuf_t b = {0};
        query_snapshot_json(env, &b);
        w->r.json = wire_strndup(w->a, b.data ? b.data : "", b.len);
        sbuf_free(&b);
        break;
    }
    default:
        wire_answer_error(w, "unknown query kind %d", (int)q->kind);
        break;
    }
    return QUERY_ANSWERED;
}

/* ---- the JSON snapshot ---------------------------------------------------------------------- */

void query_snapshot_json(const query_env_t *env, sbuf_t *out)
{
    const store_t *s = env->s;
    view_scope_t cl = {.level = ULMA__WIRE__SCOPE__LEVEL__CLUSTER};
    profile_t *p = view_profile(s, &cl, VIEW_EDGES | VIEW_TYPES, 0, NULL);
    size_t start = out->len;
    profile_export(p, PROFILE_JSON, out);
    profile_destroy(&p);
    /* reopen the document: drop its closing brace */
    while (out->len > start && out->data[out->len - 1] != '}')
        out->len--;
    if (out->len > start)
        out->len--;
    out->data[out->len] = '\0';
    jw_t w;
    uint64_t now = now_ns();
    sbuf_adds(out, ",\"scope\":\"cluster\",\"collector\":");
    jw_init(&w, out);
    jw_obj(&w);
    jw_ku64(&w, "wall_ns", wall_ns());
    jw_knum(&w, "interval", env->interval_s);
    const store_stats_t *st = &s->st;
    jw_ku64(&w, "reports", st->reports);
    jw_ku64(&w, "snapshots", st->snapshots);
    jw_ku64(&w, "gaps", st->gaps);
    jw_ku64(&w, "snapshot_requests", st->snapshot_requests);
    jw_ku64(&w, "restarts", st->restarts);
    jw_ku64(&w, "reports_lost", st->reports_lost);
    jw_ku64(&w, "bad_messages", env->bad_messages);
    jw_ku64(&w, "negative_times", st->negative_times);
    jw_obj_end(&w);
    sbuf_adds(out, ",\"nodes\":");
    jw_init(&w, out);
    jw_arr(&w);
    node_t **nodes = sorted_nodes(s);
    for (uint32_t i = 0; i < s->nnodes; i++) {
        const node_t *n = nodes[i];
        jw_obj(&w);
        jw_kstrz(&w, "name", n->name);
        jw_kstrz(&w, "host", n->host);
        jw_kstrz(&w, "state", store_node_state_name(n));
        jw_kstrz(&w, "agent_version", n->agent_version);
        jw_ku64(&w, "cpus", n->cpus);
        uint32_t live = 0;
        uint64_t lost = 0;
        for (uint32_t k = 0; k < n->nprocs; k++) {
            live += store_proc_live(n->procs[k]);
            lost += n->procs[k]->drops.records_lost;
        }
        jw_ku64(&w, "ranks", live);
        jw_ku64(&w, "processes", n->nprocs);
        jw_knum(&w, "events_per_s", n->events_per_s);
        jw_ku64(&w, "records_lost", lost);
        jw_knum(&w, "age", (double)(now - n->last_ns) / 1e9);
        jw_ku64(&w, "wall_ns", n->wall_ns);
        jw_ku64(&w, "reports", n->reports);
        jw_ku64(&w, "gaps", n->gaps);
        jw_ku64(&w, "negative_times", n->negative_times);
        jw_ku64(&w, "refused", n->refused);
        if (n->refused)
            jw_kstrz(&w, "last_refusal", store_bad_name(n->refused_why));
        jw_kstrz(&w, "mode", mode_summary(n->procs, n->nprocs));
        jw_key(&w, "tottime");
        jw_sec(&w, n->tot.tottime_ns);
        jw_obj_end(&w);
    }
    free(nodes);
    jw_arr_end(&w);
    sbuf_adds(out, ",\"ranks\":");
    jw_init(&w, out);
    jw_arr(&w);
    uint32_t np;
    proc_t **procs = view_procs(s, &cl, &np);
    for (uint32_t i = 0; i < np; i++) {
        proc_t *x = procs[i];
        pf_counts_t tot;
        int64_t mpi;
        uint32_t top;
        store_proc_totals(s, x, &tot, &mpi, &top);
        jw_obj(&w);
        jw_kstrz(&w, "node", x->node->name);
        jw_ki64(&w, "pid", x->m.pid);
        jw_ku64(&w, "start_time", x->m.start_time);
        jw_ki64(&w, "rank", x->m.rank);
        jw_ki64(&w, "size", x->m.size);
        jw_kstrz(&w, "job", x->m.job);
        jw_kstrz(&w, "exe", x->m.exe);
        jw_kstrz(&w, "state", x->exited ? "exited" : profile_state_name(x->m.state));
        jw_kstrz(&w, "mode", mode_of(x->m.active_mode));
        jw_ku64(&w, "events", x->m.events);
        jw_ku64(&w, "records_lost", x->drops.records_lost);
        jw_ku64(&w, "ncalls", tot.ncalls);
        jw_ku64(&w, "pcalls", tot.pcalls);
        jw_ksec(&w, "tottime", tot.tottime_ns);
        jw_ksec(&w, "mpi_time", mpi);
        jw_obj_end(&w);
    }
    free(procs);
    jw_arr_end(&w);
    /* imbalance: per job, the 20 functions with most cumulative time */
    sbuf_adds(out, ",\"imbalance\":");
    jw_init(&w, out);
    jw_arr(&w);
    for (uint32_t i = 0; i < s->njobs; i++) {
        job_t *j = s->jobs[i];
        if (!j->nprocs)
            continue;
        view_scope_t v = {.level = ULMA__WIRE__SCOPE__LEVEL__JOB, .job = j};
        uint32_t *gid, n;
        profile_t *jp = view_profile(s, &v, 0, 0, &gid);
        uint32_t *order = profile_order(jp, "cumulative");
        proc_t **jprocs = view_procs(s, &v, &n);
        jw_obj(&w);
        jw_kstrz(&w, "job", j->name);
        jw_ku64(&w, "ranks", n);
        jw_key(&w, "functions");
        jw_arr(&w);
        uint32_t k = profile_nfuncs(jp) < 20 ? profile_nfuncs(jp) : 20;
        uint32_t g[20];
        for (uint32_t r = 0; r < k; r++)
            g[r] = gid[order[r]];
        spread_t sps[20];
        view_spreads(env->s, &v, jprocs, n, g, k, sps);
        for (uint32_t r = 0; r < k; r++) {
            spread_t sp = sps[r];
            jw_obj(&w);
            jw_kstrz(&w, "function", profile_func(jp, order[r])->std);
            jw_ksec(&w, "cumtime", profile_func(jp, order[r])->c.cumtime_ns);
            jw_ksec(&w, "min", sp.min);
            jw_ksec(&w, "max", sp.max);
            jw_knum(&w, "mean", sp.mean / 1e9);
            jw_knum(&w, "std", sp.std / 1e9);
            jw_knum(&w, "max_over_mean", sp.mean > 0 ? (double)sp.max / sp.mean : 0);
            if (sp.slowest) {
                jw_ki64(&w, "slowest_rank", sp.slowest->m.rank);
                jw_kstrz(&w, "slowest_node", sp.slowest->node->name);
                jw_ki64(&w, "slowest_pid", sp.slowest->m.pid);
            }
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
        jw_obj_end(&w);
        free(order);
        free(jprocs);
        free(gid);
        profile_destroy(&jp);
    }
    jw_arr_end(&w);
    sbuf_adds(out, "}\n");
}
