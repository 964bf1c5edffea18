/* pbquery.c - the agent's answers to protobuf queries (query.proto): the
 * same questions a dashboard asks the collector, answered from this
 * node's processes (clustertop --agent), and the queries the collector
 * forwards for what it does not hold (stacks, object sites, a rank's
 * paths and edges, exports). Tables and exports are answer.c's. */
#define _GNU_SOURCE
#include "pbquery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profile/export.h"
#include "profile/table.h"
#include "ulma/clock.h"
#include "wire/answer.h"

/* The processes of a query's scope, newest first; `n` of them. */
typedef struct scope_set {
    aproc_t **p;
    uint32_t n;
    int single; /* the scope names one process */
} scope_set_t;

static int in_scope(const agent_view_t *av, const aproc_t *p, const Ulma__Wire__Scope *sc)
{
    if (!sc)
        return 1;
    switch (sc->level) {
    case ULMA__WIRE__SCOPE__LEVEL__NODE:
        return !sc->node || !*sc->node || strcmp(sc->node, av->node) == 0;
    case ULMA__WIRE__SCOPE__LEVEL__JOB: return strcmp(p->info.job, sc->job ? sc->job : "") == 0;
    case ULMA__WIRE__SCOPE__LEVEL__RANK:
        if (sc->node && *sc->node && strcmp(sc->node, av->node) != 0)
            return 0;
        if (sc->pid)
            return p->info.pid == sc->pid &&
                   (!sc->start_time || p->info.start_time == sc->start_time);
        return sc->job && strcmp(p->info.job, sc->job) == 0 && p->info.mpi_rank == sc->rank;
    default: return 1;
    }
}

static void scope_collect(const agent_view_t *av, const proctab_t *t, const Ulma__Wire__Query *q,
                          scope_set_t *s)
{
    uint32_t n = proctab_count(t);
    s->p = xmalloc(sizeof(*s->p) * (n ? n : 1));
    s->n = 0;
    s->single = q->scope && q->scope->level == ULMA__WIRE__SCOPE__LEVEL__RANK;
    for (aproc_t *p = t->procs; p; p = p->next) {
        if (!in_scope(av, p, q->scope))
            continue;
        if (s->single && s->n) {
            if (proctab_prefer(p, s->p[0]))
                s->p[0] = p;
            continue;
        }
        s->p[s->n++] = p;
    }
}

/* The scope's profile: one process's, or the processes' merged. */
static profile_t *scope_profile(const scope_set_t *s, profile_t ***each)
{
    if (s->single && s->n == 1) {
        profile_t *p = proctab_profile(s->p[0]);
        if (each) {
            *each = xmalloc(sizeof(**each));
            (*each)[0] = p;
        }
        return each ? profile_copy(p) : p;
    }
    profile_t *m = profile_new();
    profile_t **v = each ? xmalloc(sizeof(*v) * (s->n ? s->n : 1)) : NULL;
    for (uint32_t i = 0; i < s->n; i++) {
        profile_t *p = proctab_profile(s->p[i]);
        profile_merge(m, p);
        if (v)
            v[i] = p;
        else
            profile_destroy(&p);
    }
    if (each)
        *each = v;
    return m;
}

static void free_each(profile_t **each, uint32_t n)
{
    for (uint32_t i = 0; each && i < n; i++)
        profile_destroy(&each[i]);
    free(each);
}

static const char *proc_state(const aproc_t *p) { return profile_state_name(proctab_state(p)); }

/* The mode of a set of processes: "off", "fast", "full", "mixed" or "none". */
static const char *modes_of(aproc_t *const *p, uint32_t n)
{
    const char *m = NULL;
    for (uint32_t i = 0; i < n; i++) {
        if (p[i]->finished)
            continue;
        const char *x = profile_mode_name(ulma_reader_active_mode(p[i]->rd));
        if (m && strcmp(m, x) != 0)
            return "mixed";
        m = x;
    }
    return m ? m : "none";
}

/* The row of `p` with the same label as `f` of another profile, with its
 * open part, as a spread value. */
static void rank_value(const aproc_t *ap, const profile_t *p, const pf_func_t *f,
                       const char *node, wire_rank_value_t *v)
{
    memset(v, 0, sizeof(*v));
    v->rank = ap->info.mpi_rank;
    v->pid = ap->info.pid;
    v->node = node;
    uint32_t r = profile_lookup_like(p, f);
    if (r == UINT32_MAX)
        return;
    const pf_func_t *g = profile_func(p, r);
    v->ncalls = g->c.ncalls;
    v->tottime_ns = g->c.tottime_ns + g->open.tottime_ns;
    v->cumtime_ns = g->c.cumtime_ns + g->open.cumtime_ns;
}

/* ---- the kinds -------------------------------------------------------------------- */

static void summary(const agent_view_t *av, const proctab_t *t, wire_answer_t *w)
{
    Ulma__Wire__Summary *s = WIRE_MSG(w->a, Ulma__Wire__Summary, ulma__wire__summary__descriptor);
    uint32_t n = 0, live = 0;
    uint64_t lost = 0;
    char jobs[64][64];
    uint32_t njobs = 0;
    aproc_t *all[4096];
    for (aproc_t *p = t->procs; p; p = p->next) {
        if (n < 4096)
            all[n] = p;
        n++;
        live += !p->finished;
        lost += prof_total_dropped(p->prof);
        int seen = 0;
        for (uint32_t j = 0; j < njobs && !seen; j++)
            seen = strcmp(jobs[j], p->info.job) == 0;
        if (!seen && njobs < 64)
            snprintf(jobs[njobs++], sizeof(jobs[0]), "%s", p->info.job);
    }
    s->nodes_up = 1;
    s->ranks = live;
    s->processes = n;
    s->jobs = njobs;
    s->events_per_s = av->events_per_s;
    s->records_lost = lost;
    s->mode = wire_strdup(w->a, modes_of(all, n < 4096 ? n : 4096));
    s->wall_ns = wall_ns();
    s->interval_s = av->interval_ms / 1000.0;
    s->bad_messages = av->bad_requests;
    s->source = wire_strdup(w->a, "agent");
    w->r.summary = s;
}

static void nodes(const agent_view_t *av, const proctab_t *t, wire_answer_t *w)
{
    Ulma__Wire__NodeInfo **v = WIRE_MSGS(w->a, 1, Ulma__Wire__NodeInfo, ulma__wire__node_info__descriptor);
    Ulma__Wire__NodeInfo *ni = v[0];
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    ni->name = wire_strdup(w->a, av->node);
    ni->host = wire_strdup(w->a, host);
    ni->state = wire_strdup(w->a, "up");
    ni->agent_version = wire_strdup(w->a, ULMA_VERSION_STRING);
    ni->cpus = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
    aproc_t *all[4096];
    uint32_t n = 0;
    for (aproc_t *p = t->procs; p; p = p->next) {
        ni->processes++;
        ni->ranks += !p->finished;
        ni->records_lost += prof_total_dropped(p->prof);
        if (n < 4096)
            all[n++] = p;
    }
    ni->events_per_s = av->events_per_s;
    ni->wall_ns = wall_ns();
    ni->mode = wire_strdup(w->a, modes_of(all, n));
    w->r.nodes = v;
    w->r.n_nodes = 1;
}

static void ranks(const agent_view_t *av, const scope_set_t *s, wire_answer_t *w, uint32_t limit)
{
    uint32_t n = s->n < limit ? s->n : limit;
    w->r.ranks = WIRE_MSGS(w->a, n, Ulma__Wire__RankInfo, ulma__wire__rank_info__descriptor);
    w->r.n_ranks = n;
    for (uint32_t i = 0; i < n; i++) {
        aproc_t *p = s->p[i];
        Ulma__Wire__RankInfo *r = w->r.ranks[i];
        uint32_t am = ulma_reader_active_mode(p->rd);
        r->node = wire_strdup(w->a, av->node);
        r->pid = p->info.pid;
        r->start_time = p->info.start_time;
        r->rank = p->info.mpi_rank;
        r->size = p->info.mpi_size;
        r->job = wire_strdup(w->a, p->info.job);
        r->exe = wire_strdup(w->a, p->info.exe);
        r->state = wire_strdup(w->a, proc_state(p));
        r->mode = wire_strdup(w->a, profile_mode_name(am));
        r->objects = (am & ULMA_CTL_OBJECTS) != 0;
        r->events = p->prof->events;
        r->records_lost = prof_total_dropped(p->prof);
        r->threads = p->prof->nthreads;
        profile_t *pr = proctab_profile(p);
        pf_totals_t t;
        profile_totals(pr, &t);
        r->tottime_ns = t.tottime_ns + t.open_tottime_ns;
        uint32_t *order = profile_order(pr, "tottime");
        if (profile_nfuncs(pr))
            r->top_function = wire_strdup(w->a, profile_func(pr, order[0])->std);
        for (uint32_t k = 0; k < profile_nfuncs(pr); k++)
            if (profile_func(pr, k)->kind == PF_KIND_MPI)
                r->mpi_ns += profile_func(pr, k)->c.cumtime_ns;
        r->profile_hook_displaced = (profile_meta_c(pr)->hook_status & PF_HOOK_DISPLACED) != 0;
        free(order);
        profile_destroy(&pr);
    }
}

static void jobs(const proctab_t *t, wire_answer_t *w)
{
    const char *names[256];
    uint32_t nj = 0;
    for (aproc_t *p = t->procs; p; p = p->next) {
        int seen = 0;
        for (uint32_t j = 0; j < nj && !seen; j++)
            seen = strcmp(names[j], p->info.job) == 0;
        if (!seen && nj < 256)
            names[nj++] = p->info.job;
    }
    w->r.jobs = WIRE_MSGS(w->a, nj, Ulma__Wire__JobInfo, ulma__wire__job_info__descriptor);
    w->r.n_jobs = nj;
    for (uint32_t j = 0; j < nj; j++) {
        Ulma__Wire__JobInfo *ji = w->r.jobs[j];
        ji->job = wire_strdup(w->a, names[j]);
        ji->nodes = 1;
        for (aproc_t *p = t->procs; p; p = p->next) {
            if (strcmp(p->info.job, names[j]) != 0)
                continue;
            ji->ranks++;
            ji->live += !p->finished;
            ji->records_lost += prof_total_dropped(p->prof);
        }
    }
}

/* TOP with the spread of each row over the scope's processes. */
static void top(const agent_view_t *av, const Ulma__Wire__Query *q, const scope_set_t *s, wire_answer_t *w)
{
    const char *sort = wire_query_sort(q, w);
    if (!sort)
        return;
    profile_t **each = NULL;
    profile_t *m = scope_profile(s, &each);
    const uint32_t *rows =
        wire_answer_top(w, m, sort, q->filter, q->offset, wire_query_limit(q));
    if (!s->single && s->n > 1) {
        wire_rank_value_t *v = xmalloc(sizeof(*v) * s->n);
        for (size_t i = 0; i < w->r.table->n_rows; i++) {
            const pf_func_t *f = profile_func(m, rows[i]);
            for (uint32_t k = 0; k < s->n; k++)
                rank_value(s->p[k], each[k], f, av->node, &v[k]);
            wire_row_spread(w->a, w->r.table->rows[i], v, s->n);
        }
        free(v);
    }
    free_each(each, s->n);
    profile_destroy(&m);
}

static void function(const agent_view_t *av, const Ulma__Wire__Query *q, const scope_set_t *s,
                     wire_answer_t *w)
{
    profile_t **each = NULL;
    profile_t *m = scope_profile(s, &each);
    uint32_t row = wire_answer_find(w, m, q->func);
    if (row != UINT32_MAX) {
        uint32_t limit = wire_query_limit(q);
        Ulma__Wire__FunctionDetail *fd =
            WIRE_MSG(w->a, Ulma__Wire__FunctionDetail, ulma__wire__function_detail__descriptor);
        fd->row = WIRE_MSG(w->a, Ulma__Wire__Row, ulma__wire__row__descriptor);
        wire_row(w->a, fd->row, m, row);
        const pf_func_t *f = profile_func(m, row);
        wire_rank_value_t *v = xmalloc(sizeof(*v) * (s->n ? s->n : 1));
        for (uint32_t k = 0; k < s->n; k++)
            rank_value(s->p[k], each[k], f, av->node, &v[k]);
        wire_row_spread(w->a, fd->row, v, s->n);
        uint32_t nr = s->n < limit ? s->n : limit;
        fd->ranks = WIRE_MSGS(w->a, nr, Ulma__Wire__RankValue, ulma__wire__rank_value__descriptor);
        fd->n_ranks = nr;
        for (uint32_t k = 0; k < nr; k++) {
            fd->ranks[k]->rank = v[k].rank;
            fd->ranks[k]->node = wire_strdup(w->a, v[k].node);
            fd->ranks[k]->pid = v[k].pid;
            fd->ranks[k]->ncalls = v[k].ncalls;
            fd->ranks[k]->tottime_ns = v[k].tottime_ns;
            fd->ranks[k]->cumtime_ns = v[k].cumtime_ns;
        }
        free(v);
        wire_edges(w, m, row, 0, limit, &fd->callers, &fd->n_callers);
        wire_edges(w, m, row, 1, limit, &fd->callees, &fd->n_callees);
        w->r.function = fd;
    }
    free_each(each, s->n);
    profile_destroy(&m);
}

static int rank_cmp(const void *x, const void *y)
{
    const aproc_t *a = *(aproc_t *const *)x, *b = *(aproc_t *const *)y;
    if (a->info.mpi_rank != b->info.mpi_rank)
        return a->info.mpi_rank < b->info.mpi_rank ? -1 : 1;
    return a->info.pid < b->info.pid ? -1 : a->info.pid > b->info.pid;
}

/* IMBALANCE: the top functions (by cumtime) x the scope's ranks. */
static void imbalance(const agent_view_t *av, const Ulma__Wire__Query *q, scope_set_t *s, wire_answer_t *w)
{
    qsort(s->p, s->n, sizeof(*s->p), rank_cmp);
    uint32_t nr = q->ranks ? q->ranks : 64;
    if (nr > s->n)
        nr = s->n;
    profile_t **each = NULL;
    profile_t *m = scope_profile(s, &each);
    uint32_t *order = profile_order(m, "cumulative");
    uint32_t nf = profile_nfuncs(m) < wire_query_limit(q) ? profile_nfuncs(m) : wire_query_limit(q);
    Ulma__Wire__Imbalance *im = WIRE_MSG(w->a, Ulma__Wire__Imbalance, ulma__wire__imbalance__descriptor);
    im->ranks = WIRE_MSGS(w->a, nr, Ulma__Wire__RankValue, ulma__wire__rank_value__descriptor);
    im->n_ranks = nr;
    for (uint32_t k = 0; k < nr; k++) {
        im->ranks[k]->rank = s->p[k]->info.mpi_rank;
        im->ranks[k]->node = wire_strdup(w->a, av->node);
        im->ranks[k]->pid = s->p[k]->info.pid;
    }
    im->rows = WIRE_MSGS(w->a, nf, Ulma__Wire__Row, ulma__wire__row__descriptor);
    im->n_rows = nf;
    im->cells = wire_alloc(w->a, sizeof(int64_t) * ((size_t)nf * nr + 1));
    im->n_cells = (size_t)nf * nr;
    wire_rank_value_t *v = xmalloc(sizeof(*v) * (s->n ? s->n : 1));
    for (uint32_t i = 0; i < nf; i++) {
        const pf_func_t *f = profile_func(m, order[i]);
        wire_row(w->a, im->rows[i], m, order[i]);
        for (uint32_t k = 0; k < s->n; k++)
            rank_value(s->p[k], each[k], f, av->node, &v[k]);
        wire_row_spread(w->a, im->rows[i], v, s->n);
        for (uint32_t k = 0; k < nr; k++)
            im->cells[(size_t)i * nr + k] = v[k].cumtime_ns;
    }
    free(v);
    free(order);
    w->r.imbalance = im;
    free_each(each, s->n);
    profile_destroy(&m);
}

static void mpi(const agent_view_t *av, const scope_set_t *s, wire_answer_t *w)
{
    profile_t **each = NULL;
    profile_t *m = scope_profile(s, &each);
    wire_answer_mpi(w, m);
    w->r.mpi_ranks = WIRE_MSGS(w->a, s->n, Ulma__Wire__MpiRank, ulma__wire__mpi_rank__descriptor);
    w->r.n_mpi_ranks = s->n;
    for (uint32_t k = 0; k < s->n; k++) {
        Ulma__Wire__MpiRank *r = w->r.mpi_ranks[k];
        r->rank = s->p[k]->info.mpi_rank;
        r->node = wire_strdup(w->a, av->node);
        r->pid = s->p[k]->info.pid;
        pf_totals_t t;
        profile_totals(each[k], &t);
        r->total_ns = t.tottime_ns;
        int64_t best = -1;
        for (uint32_t i = 0; i < profile_nfuncs(each[k]); i++) {
            const pf_func_t *f = profile_func(each[k], i);
            if (f->kind != PF_KIND_MPI)
                continue;
            r->mpi_ns += f->c.cumtime_ns;
            if (f->c.cumtime_ns > best) {
                best = f->c.cumtime_ns;
                r->top_call = wire_strndup(w->a, f->name.s, f->name.len);
            }
        }
    }
    free_each(each, s->n);
    profile_destroy(&m);
}

static void snapshot_json(const scope_set_t *s, wire_answer_t *w)
{
    profile_t *m = scope_profile(s, NULL);
    sbuf_t b = {0};
    profile_export(m, PROFILE_JSON, &b);
    w->r.json = wire_strndup(w->a, b.data ? b.data : "", b.len);
    sbuf_free(&b);
    profile_destroy(&m);
}

/* RECENT: the process's most recent object constructions, newest first:
 * how long ago, type, size, constructing function. */
static void recent_objects(aproc_t *ap, wire_answer_t *w, uint32_t limit)
{
    prof_t *p = ap->prof;
    uint64_t have = p->recent_n < PROF_RECENT ? p->recent_n : PROF_RECENT;
    uint32_t n = have < limit ? (uint32_t)have : limit;
    profile_t *pr = proctab_profile(ap);
    uint64_t now = ap->finished ? p->last_tsc : ulma_clock_read();
    Ulma__Wire__Objects *o = WIRE_MSG(w->a, Ulma__Wire__Objects, ulma__wire__objects__descriptor);
    o->recent = WIRE_MSGS(w->a, n, Ulma__Wire__RecentObject, ulma__wire__recent_object__descriptor);
    o->n_recent = n;
    for (uint32_t k = 0; k < n; k++) {
        const prof_recent_t *e = &p->recent[(p->recent_n - 1 - k) % PROF_RECENT];
        Ulma__Wire__RecentObject *d = o->recent[k];
        d->ago_ns = now > e->tsc ? ulma_cycles_to_ns((int64_t)(now - e->tsc), p->hz) : 0;
        size_t tl;
        const char *tn = prof_type_name(p, e->type_id, &tl);
        d->type = tl ? wire_strndup(w->a, tn, tl) : wire_printf(w->a, "[type %u]", e->type_id);
        d->size = e->size;
        prof_label_t lab;
        prof_func_label(p, e->fidx, &lab);
        uint32_t row = profile_lookup(pr, lab.file, lab.file_len, lab.line, lab.name, lab.name_len);
        d->std = wire_strdup(w->a, row != UINT32_MAX ? profile_func(pr, row)->std : "[unknown]");
    }
    w->r.objects = o;
    profile_destroy(&pr);
}

/* ---- dispatch ------------------------------------------------------------------- */

static int needs_one(const scope_set_t *s, wire_answer_t *w, const char *what)
{
    if (s->single && s->n == 1)
        return 0;
    wire_answer_error(w, "%s: name one process (a rank scope)%s", what,
                      s->single ? ": no such process here" : "");
    return 1;
}

query_rc_t pbquery_handle(const agent_view_t *av, proctab_t *t, control_t *ctl,
                          const Ulma__Wire__Query *q, wire_answer_t *w, ctl_answer_t how,
                          const envelope_t *env)
{
    scope_set_t s;
    scope_collect(av, t, q, &s);
    int deferred = 0;
    if (s.single && !s.n && q->kind != ULMA__WIRE__KIND__SUMMARY &&
        q->kind != ULMA__WIRE__KIND__NODES) {
        wire_answer_error(w, "no profiled process %d here", q->scope->pid);
        goto out;
    }
    switch (q->kind) {
    case ULMA__WIRE__KIND__SUMMARY: summary(av, t, w); break;
    case ULMA__WIRE__KIND__TOP: top(av, q, &s, w); break;
    case ULMA__WIRE__KIND__NODES: nodes(av, t, w); break;
    case ULMA__WIRE__KIND__RANKS: ranks(av, &s, w, wire_query_limit(q)); break;
    case ULMA__WIRE__KIND__JOBS: jobs(t, w); break;
    case ULMA__WIRE__KIND__FUNCTION: function(av, q, &s, w); break;
    case ULMA__WIRE__KIND__CALLERS:
    case ULMA__WIRE__KIND__CALLEES: {
        profile_t *m = scope_profile(&s, NULL);
        uint32_t row = wire_answer_find(w, m, q->func);
        if (row != UINT32_MAX)
            wire_answer_edges(w, m, row, q->kind == ULMA__WIRE__KIND__CALLEES,
                              wire_query_limit(q));
        profile_destroy(&m);
        break;
    }
    case ULMA__WIRE__KIND__PATHS:
    case ULMA__WIRE__KIND__OBJECTS:
    case ULMA__WIRE__KIND__DROPS:
    case ULMA__WIRE__KIND__EXPORT: {
        profile_t *m = scope_profile(&s, NULL);
        if (q->kind == ULMA__WIRE__KIND__PATHS)
            wire_answer_paths(w, m, wire_query_limit(q));
        else if (q->kind == ULMA__WIRE__KIND__OBJECTS)
            wire_answer_objects(w, m, wire_query_limit(q));
        else if (q->kind == ULMA__WIRE__KIND__DROPS)
            wire_answer_drops(w, m);
        else
            wire_answer_export(w, m, q->format);
        profile_destroy(&m);
        break;
    }
    case ULMA__WIRE__KIND__STACKS: {
        if (needs_one(&s, w, "STACKS"))
            break;
        profile_t *m = scope_profile(&s, NULL);
        wire_answer_threads(w, m, q->frames);
        profile_destroy(&m);
        break;
    }
    case ULMA__WIRE__KIND__MPI: mpi(av, &s, w); break;
    case ULMA__WIRE__KIND__IMBALANCE: imbalance(av, q, &s, w); break;
    case ULMA__WIRE__KIND__SNAPSHOT: snapshot_json(&s, w); break;
    case ULMA__WIRE__KIND__HISTORY:
        w->r.history = WIRE_MSG(w->a, Ulma__Wire__History, ulma__wire__history__descriptor);
        break;
    case ULMA__WIRE__KIND__RECENT:
        if (needs_one(&s, w, "RECENT"))
            break;
        recent_objects(s.p[0], w, wire_query_limit(q));
        break;
    case ULMA__WIRE__KIND__CONTROL: {
        if (q->mode > ULMA_MODE_FULL) {
            wire_answer_error(w, "mode: 0 (off), 1 (fast) or 2 (full)");
            break;
        }
        uint32_t ctlw = q->mode | (q->objects ? ULMA_CTL_OBJECTS : 0);
        const Ulma__Wire__Scope *sc = q->scope;
        ctl_match_t m = {0, NULL, -1};
        if (sc && sc->level == ULMA__WIRE__SCOPE__LEVEL__JOB)
            m.job = sc->job ? sc->job : "";
        if (sc && sc->level == ULMA__WIRE__SCOPE__LEVEL__RANK)
            m.pid = s.n ? s.p[0]->info.pid : -1;
        uint32_t wait = q->wait_ms ? (q->wait_ms > 60000 ? 60000 : q->wait_ms) : 1500;
        if (!control_start(ctl, t, ctlw, &m, wait, how, q->id, env))
            wire_answer_error(w, "no running profiled process matches");
        else
            deferred = 1;
        break;
    }
    default: wire_answer_error(w, "unknown query kind %d", (int)q->kind); break;
    }
out:
    free(s.p);
    if (!w->r.ok)
        return QUERY_FAILED;
    return deferred ? QUERY_DEFERRED : QUERY_ANSWERED;
}
