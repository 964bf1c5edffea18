/* snapshot.c - prof_t (the agent's hot-path aggregates) -> profile_t. */
#define _GNU_SOURCE
#include "snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/util.h"
#include "ulma/clock.h"

static int label_cmp(const prof_label_t *a, const prof_label_t *b)
{
    size_t n = a->file_len < b->file_len ? a->file_len : b->file_len;
    int c = memcmp(a->file, b->file, n);
    if (c || a->file_len != b->file_len)
        return c ? c : (a->file_len < b->file_len ? -1 : 1);
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    n = a->name_len < b->name_len ? a->name_len : b->name_len;
    c = memcmp(a->name, b->name, n);
    if (c || a->name_len != b->name_len)
        return c ? c : (a->name_len < b->name_len ? -1 : 1);
    return 0;
}

static int fidx_label_cmp(const void *x, const void *y, void *arg)
{
    const prof_t *p = arg;
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    prof_label_t la, lb;
    prof_func_label(p, a, &la);
    prof_func_label(p, b, &lb);
    int c = label_cmp(&la, &lb);
    return c ? c : (a < b ? -1 : a > b);
}

static int64_t ns(const prof_t *p, int64_t cycles) { return ulma_cycles_to_ns(cycles, p->hz); }

/* Rows, in label order (the order of the JSON profile's "functions"). */
static uint32_t *add_funcs(prof_t *p, profile_t *out)
{
    uint32_t *row_of = xmalloc(sizeof(*row_of) * (p->nfuncs ? p->nfuncs : 1));
    uint32_t *fl = xmalloc(sizeof(*fl) * (p->nfuncs ? p->nfuncs : 1));
    uint32_t nf = 0;
    for (uint32_t f = 0; f < p->nfuncs; f++) {
        row_of[f] = UINT32_MAX;
        if (p->funcs[f].callcount || f != PROF_FIDX_UNKNOWN)
            fl[nf++] = f;
    }
    qsort_r(fl, nf, sizeof(*fl), fidx_label_cmp, p);
    for (uint32_t i = 0; i < nf; i++) {
        uint32_t f = fl[i];
        const prof_func_t *fn = &p->funcs[f];
        prof_label_t lab;
        prof_func_label(p, f, &lab);
        uint32_t row = profile_add_func(out, lab.file, lab.file_len, lab.line, lab.name,
                                        lab.name_len, lab.qualname, lab.qualname_len, fn->ns);
        pf_func_t *r = profile_func_w(out, row);
        r->c.ncalls += fn->callcount;
        r->c.pcalls += fn->callcount - fn->reccallcount;
        r->c.tottime_ns = pf_sat_add(r->c.tottime_ns, ns(p, fn->own));
        r->c.cumtime_ns = pf_sat_add(r->c.cumtime_ns, ns(p, fn->cum));
        r->rate_calls += fn->rate_calls;
        r->rate_tottime += fn->rate_own;
        r->mpi_bytes += fn->mpi_bytes;
        const prof_open_t *o = prof_func_open(p, f);
        r->open.calls += o->calls;
        r->open.tottime_ns = pf_sat_add(r->open.tottime_ns, ns(p, o->own));
        r->open.cumtime_ns = pf_sat_add(r->open.cumtime_ns, ns(p, o->cum));
        row_of[f] = row;
    }
    free(fl);
    return row_of;
}

static void add_edges(const prof_t *p, const uint32_t *row_of, profile_t *out)
{
    for (uint32_t s = 1; s < p->nsubs; s++) {
        const prof_sub_t *e = &p->subs[s];
        uint32_t a = row_of[e->caller], b = row_of[e->callee];
        if (a == UINT32_MAX || b == UINT32_MAX)
            continue;
        pf_edge_t *d = profile_edge_w(out, profile_add_edge(out, a, b));
        d->c.ncalls += e->callcount;
        d->c.pcalls += e->callcount - e->reccallcount;
        d->c.tottime_ns = pf_sat_add(d->c.tottime_ns, ns(p, e->own));
        d->c.cumtime_ns = pf_sat_add(d->c.cumtime_ns, ns(p, e->cum));
    }
}

/* CCT nodes -> paths; nodes are made after their parents, so are paths. */
static void add_paths(const prof_t *p, const uint32_t *row_of, profile_t *out)
{
    uint32_t *path_of = xcalloc(p->nnodes ? p->nnodes : 1, sizeof(*path_of));
    for (uint32_t nd = 1; nd < p->nnodes; nd++) {
        const prof_node_t *n = &p->nodes[nd];
        uint32_t parent = n->parent < nd ? path_of[n->parent] : 0;
        uint32_t func = n->fidx < p->nfuncs ? row_of[n->fidx] : UINT32_MAX;
        uint32_t k = profile_add_path(out, parent, func);
        pf_path_t *d = profile_path_w(out, k);
        d->count += n->count;
        d->tottime_ns = pf_sat_add(d->tottime_ns, ns(p, n->own));
        d->cumtime_ns = pf_sat_add(d->cumtime_ns, ns(p, n->cum));
        const prof_open_node_t *o = prof_node_open(p, nd);
        if (o) {
            d->open.calls += o->count;
            d->open.tottime_ns = pf_sat_add(d->open.tottime_ns, ns(p, o->own));
            d->open.cumtime_ns = pf_sat_add(d->open.cumtime_ns, ns(p, o->cum));
        }
        path_of[nd] = k;
    }
    free(path_of);
}

static void add_threads(const prof_t *p, const uint32_t *row_of, profile_t *out,
                        uint64_t now_tsc)
{
    for (const prof_thread_t *t = p->threads; t; t = t->next) {
        pf_thread_t *d = profile_add_thread(out, t->depth);
        d->tid = t->tid;
        d->slot = t->slot;
        memcpy(d->name, t->name, sizeof(d->name) < sizeof(t->name) ? sizeof(d->name)
                                                                    : sizeof(t->name));
        d->name[sizeof(d->name) - 1] = '\0';
        d->ended = t->ended;
        d->mode = t->mode;
        d->events = t->events;
        d->records_lost = t->dropped;
        d->stack_repairs = t->resyncs;
        d->depth = t->depth;
        d->time_ns = t->last_tsc > t->first_tsc ? ns(p, (int64_t)(t->last_tsc - t->first_tsc)) : 0;
        uint64_t until = now_tsc && !t->ended && now_tsc > t->last_tsc ? now_tsc : t->last_tsc;
        for (uint32_t i = t->depth; i > 0; i--) {
            const prof_frame_t *f = &t->stack[i - 1];
            pf_frame_t *o = &d->stack[d->nstack++];
            o->func = (f->flags & PROF_FRAME_PLACEHOLDER) || f->fidx >= p->nfuncs
                          ? UINT32_MAX : row_of[f->fidx];
            o->for_ns = until > f->t0 ? ns(p, (int64_t)(until - f->t0)) : 0;
        }
    }
}

static void add_objects(const prof_t *p, const uint32_t *row_of, profile_t *out)
{
    uint32_t *type_of = xmalloc(sizeof(*type_of) * (p->types_cap ? p->types_cap : 1));
    for (uint32_t i = 0; i < p->types_cap; i++) {
        type_of[i] = UINT32_MAX;
        const prof_type_t *ty = &p->types[i];
        if (!ty->news && !ty->frees && !ty->frees_unborn)
            continue;
        size_t nl;
        const char *nm = prof_type_name(p, i, &nl);
        char buf[32];
        if (!nl) {
            nl = (size_t)snprintf(buf, sizeof(buf), "[type %u]", i);
            nm = buf;
        }
        uint32_t k = profile_add_type(out, nm, nl);
        pf_type_t *d = profile_type_w(out, k);
        d->news += ty->news;
        d->frees += ty->frees;
        d->frees_unborn += ty->frees_unborn;
        d->lost += ty->lost + ty->untracked;
        d->bytes_new += ty->bytes_new;
        d->bytes_freed += ty->bytes_free;
        d->bytes_live += ty->bytes_live;
        type_of[i] = k;
    }
    for (uint32_t s = 1; s < p->nsites; s++) {
        const prof_objsite_t *site = &p->sites[s];
        if (site->type_id >= p->types_cap || type_of[site->type_id] == UINT32_MAX)
            continue;
        uint32_t func = site->fidx < p->nfuncs ? row_of[site->fidx] : UINT32_MAX;
        pf_site_t *d = profile_site_w(out, profile_add_site(out, func, type_of[site->type_id]));
        d->count += site->count;
        d->bytes += site->bytes;
        d->live += site->live;
        d->bytes_live += site->bytes_live;
    }
    free(type_of);
}

static void add_drops(const prof_t *p, profile_t *out, uint64_t corrupt, uint64_t threads_lost)
{
    pf_drops_t *d = profile_drops_w(out);
    for (const prof_thread_t *t = p->threads; t; t = t->next) {
        d->drop_events += t->drop_events;
        d->frames_discarded += t->discarded;
        d->return_mismatches += t->mismatches;
    }
    d->records_lost = prof_total_dropped(p);
    d->stack_repairs = prof_total_resyncs(p);
    d->malformed_records = p->bad_records;
    d->ids_out_of_range = p->ids_out_of_range;
    d->cct_overflows = p->cct_overflows;
    d->stack_overflows = p->stack_overflows;
    d->threads_dropped = p->threads_dropped;
    d->threads_unended = p->threads_unended;
    d->corrupt = corrupt;
    d->threads_lost = threads_lost;
    d->objects_untracked = p->obj_untracked;
}

profile_t *snapshot_take(prof_t *p, const pf_meta_t *meta, uint64_t corrupt,
                         uint64_t threads_lost, uint64_t now_tsc)
{
    prof_derive(p);
    prof_derive_open(p, now_tsc); /* 0: nothing open once finished */
    profile_t *out = profile_new();
    pf_meta_t *m = profile_meta(out);
    *m = *meta;
    m->hz = p->hz;
    m->clock_drift_ppm = p->clock_drift_ppm;
    m->events = p->events;
    m->span_ns = ns(p, prof_span(p));
    m->nprocs = 1;
    m->live = now_tsc != 0;
    uint32_t *row_of = add_funcs(p, out);
    add_edges(p, row_of, out);
    add_paths(p, row_of, out);
    add_threads(p, row_of, out, now_tsc);
    add_objects(p, row_of, out);
    add_drops(p, out, corrupt, threads_lost);
    free(row_of);
    return out;
}

profile_t *snapshot_process(prof_t *p, const ulma_reader_t *rd, const ulma_seg_info_t *info,
                            int finished)
{
    pf_meta_t m;
    memset(&m, 0, sizeof(m));
    m.pid = info->pid;
    m.uid = info->uid;
    snprintf(m.host, sizeof(m.host), "%s", info->host);
    snprintf(m.exe, sizeof(m.exe), "%s", info->exe);
    m.rank = info->mpi_rank;
    m.size = info->mpi_size;
    snprintf(m.job, sizeof(m.job), "%s", info->job);
    m.start_time = info->start_time;
    m.created_ns = info->created_ns;
    m.state = finished ? PF_STATE_EXITED : ulma_reader_state(rd);
    m.active_mode = ulma_reader_active_mode(rd);
    m.hook_status = ulma_reader_hook_status(rd);
    uint64_t now = finished ? 0 : ulma_clock_read();
    return snapshot_take(p, &m, ulma_reader_total_corrupt(rd), ulma_reader_threads_lost(rd), now);
}
