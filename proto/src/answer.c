/* answer.c - Reply parts from a profile. */
#define _GNU_SOURCE
#include "wire/answer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/export.h"
#include "profile/table.h"

void wire_answer_init(wire_answer_t *w, uint64_t id)
{
    ulma__wire__reply__init(&w->r);
    w->a = wire_arena_new();
    w->r.version = WIRE_VERSION;
    w->r.id = id;
    w->r.ok = 1;
}

void wire_answer_free(wire_answer_t *w) { wire_arena_destroy(&w->a); }

void wire_answer_error(wire_answer_t *w, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    uint64_t id = w->r.id;
    ulma__wire__reply__init(&w->r);
    w->r.version = WIRE_VERSION;
    w->r.id = id;
    w->r.ok = 0;
    w->r.error = wire_strdup(w->a, msg);
}

void wire_answer_pack(const wire_answer_t *w, sbuf_t *out) { wire_pack(&w->r.base, out); }

uint32_t wire_query_limit(const Ulma__Wire__Query *q)
{
    if (!q->limit)
        return WIRE_DEFAULT_LIMIT;
    return q->limit > WIRE_MAX_LIMIT ? WIRE_MAX_LIMIT : q->limit;
}

const char *wire_query_sort(const Ulma__Wire__Query *q, wire_answer_t *w)
{
    if (!q->sort || !q->sort[0])
        return "cumulative";
    const char *k = profile_sort_key(q->sort);
    if (!k)
        wire_answer_error(w, "sort: unknown or ambiguous key '%s' (%s)", q->sort,
                          profile_sort_keys_list());
    return k;
}

void wire_row(wire_arena_t *a, Ulma__Wire__Row *row, const profile_t *p, uint32_t func)
{
    const pf_func_t *f = profile_func(p, func);
    ulma__wire__row__init(row);
    row->std = wire_strdup(a, f->std);
    row->name = wire_strndup(a, f->name.s, f->name.len);
    if (f->qualname.s != f->name.s)
        row->qualname = wire_strndup(a, f->qualname.s, f->qualname.len);
    row->file = wire_strndup(a, f->file.s, f->file.len);
    row->line = f->line;
    row->kind = f->kind;
    row->ncalls = f->c.ncalls;
    row->pcalls = f->c.pcalls;
    row->tottime_ns = f->c.tottime_ns;
    row->cumtime_ns = f->c.cumtime_ns;
    row->open_calls = f->open.calls;
    row->open_tottime_ns = f->open.tottime_ns;
    row->open_cumtime_ns = f->open.cumtime_ns;
    row->rate_calls = f->rate_calls;
    row->rate_tottime = f->rate_tottime;
    row->mpi_bytes = f->mpi_bytes;
    row->slowest_rank = -1;
}

void wire_row_spread(wire_arena_t *a, Ulma__Wire__Row *row, const wire_rank_value_t *v,
                     uint32_t n)
{
    row->nranks = n;
    row->slowest_rank = -1;
    if (!n)
        return;
    int64_t mn = v[0].cumtime_ns, mx = v[0].cumtime_ns;
    uint32_t slow = 0;
    double sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t c = v[i].cumtime_ns;
        sum += (double)c;
        if (c < mn)
            mn = c;
        if (c > mx || (c == mx && v[i].rank < v[slow].rank)) {
            mx = c;
            slow = i;
        }
    }
    double mean = sum / n, var = 0;
    for (uint32_t i = 0; i < n; i++) {
        double d = (double)v[i].cumtime_ns - mean;
        var += d * d;
    }
    row->min_ns = mn;
    row->max_ns = mx;
    row->mean_ns = mean;
    row->std_ns = sqrt(var / n);
    row->slowest_rank = v[slow].rank;
    row->slowest_pid = v[slow].pid;
    row->slowest_node = wire_strdup(a, v[slow].node ? v[slow].node : "");
}

const uint32_t *wire_answer_top(wire_answer_t *w, const profile_t *p, const char *sort,
                                const char *filter, uint32_t offset, uint32_t limit)
{
    uint32_t *order = profile_order(p, sort);
    uint32_t n = profile_nfuncs(p), kept = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!filter || !*filter || strstr(profile_func(p, order[i])->std, filter))
            order[kept++] = order[i];
    uint32_t from = offset < kept ? offset : kept;
    uint32_t count = kept - from < limit ? kept - from : limit;
    Ulma__Wire__Table *t = WIRE_MSG(w->a, Ulma__Wire__Table, ulma__wire__table__descriptor);
    t->total_rows = kept;
    t->sort = wire_strdup(w->a, sort);
    pf_totals_t tot;
    profile_totals(p, &tot);
    t->calls = tot.calls;
    t->pcalls = tot.pcalls;
    t->tottime_ns = tot.tottime_ns;
    t->open_tottime_ns = tot.open_tottime_ns;
    t->records_lost = profile_drops(p)->records_lost;
    t->processes = profile_meta_c(p)->nprocs;
    t->n_rows = count;
    t->rows = WIRE_MSGS(w->a, count, Ulma__Wire__Row, ulma__wire__row__descriptor);
    uint32_t *rows = wire_alloc(w->a, sizeof(uint32_t) * (count ? count : 1));
    for (uint32_t i = 0; i < count; i++) {
        rows[i] = order[from + i];
        wire_row(w->a, t->rows[i], p, rows[i]);
    }
    w->r.table = t;
    free(order);
    return rows;
}

uint32_t wire_answer_find(wire_answer_t *w, const profile_t *p, const char *func)
{
    if (!func || !*func) {
        wire_answer_error(w, "func: missing (a name, or file:line(name) as in the table)");
        return UINT32_MAX;
    }
    uint32_t cand[WIRE_MAX_CANDIDATES], n;
    uint32_t row = profile_find(p, func, cand, WIRE_MAX_CANDIDATES, &n);
    if (row != UINT32_MAX)
        return row;
    if (!n) {
        wire_answer_error(w, "func: no function '%s' here", func);
        return UINT32_MAX;
    }
    wire_answer_error(w, "func: ambiguous name '%s', %u functions match; name one as "
                      "file:line(name)", func, n);
    uint32_t k = n < WIRE_MAX_CANDIDATES ? n : WIRE_MAX_CANDIDATES;
    w->r.candidates = wire_alloc(w->a, sizeof(char *) * k);
    for (uint32_t i = 0; i < k; i++)
        w->r.candidates[i] = wire_strdup(w->a, profile_func(p, cand[i])->std);
    w->r.n_candidates = k;
    return UINT32_MAX;
}

static int edge_ct_cmp(const void *x, const void *y)
{
    const pf_edge_sum_t *a = x, *b = y;
    if (a->c.cumtime_ns != b->c.cumtime_ns)
        return a->c.cumtime_ns < b->c.cumtime_ns ? 1 : -1;
    return a->other < b->other ? -1 : a->other > b->other;
}

void wire_edges(wire_answer_t *w, const profile_t *p, uint32_t row, int callees, uint32_t limit,
                Ulma__Wire__Edge ***out, size_t *n)
{
    pf_edge_sum_t *acc = NULL;
    uint32_t k = profile_edge_sums(p, row, callees, &acc);
    qsort(acc, k, sizeof(*acc), edge_ct_cmp);
    if (limit && k > limit)
        k = limit;
    Ulma__Wire__Edge **e = WIRE_MSGS(w->a, k, Ulma__Wire__Edge, ulma__wire__edge__descriptor);
    for (uint32_t i = 0; i < k; i++) {
        e[i]->std = wire_strdup(w->a, profile_func(p, acc[i].other)->std);
        e[i]->ncalls = acc[i].c.ncalls;
        e[i]->pcalls = acc[i].c.pcalls;
        e[i]->tottime_ns = acc[i].c.tottime_ns;
        e[i]->cumtime_ns = acc[i].c.cumtime_ns;
    }
    free(acc);
    *out = e;
    *n = k;
}

void wire_answer_edges(wire_answer_t *w, const profile_t *p, uint32_t row, int callees,
                       uint32_t limit)
{
    Ulma__Wire__Table *t = WIRE_MSG(w->a, Ulma__Wire__Table, ulma__wire__table__descriptor);
    t->n_rows = 1;
    t->rows = WIRE_MSGS(w->a, 1, Ulma__Wire__Row, ulma__wire__row__descriptor);
    t->total_rows = 1;
    wire_row(w->a, t->rows[0], p, row);
    w->r.table = t;
    wire_edges(w, p, row, callees, limit, &w->r.edges, &w->r.n_edges);
}

static int path_cmp(const void *x, const void *y, void *arg)
{
    const profile_t *p = arg;
    const pf_path_t *a = profile_path(p, *(const uint32_t *)x);
    const pf_path_t *b = profile_path(p, *(const uint32_t *)y);
    int64_t ca = pf_sat_add(a->cumtime_ns, a->open.cumtime_ns), cb = pf_sat_add(b->cumtime_ns, b->open.cumtime_ns);
    if (ca != cb)
        return ca < cb ? 1 : -1;
    return *(const uint32_t *)x < *(const uint32_t *)y ? -1 : 1;
}

void wire_answer_paths(wire_answer_t *w, const profile_t *p, uint32_t limit)
{
    uint32_t n = profile_npaths(p) > 1 ? profile_npaths(p) - 1 : 0;
    uint32_t *ix = xmalloc(sizeof(*ix) * (n ? n : 1));
    for (uint32_t i = 0; i < n; i++)
        ix[i] = i + 1;
    qsort_r(ix, n, sizeof(*ix), path_cmp, (void *)p);
    if (limit && n > limit)
        n = limit;
    w->r.paths = WIRE_MSGS(w->a, n, Ulma__Wire__Path, ulma__wire__path__descriptor);
    w->r.n_paths = n;
    for (uint32_t i = 0; i < n; i++) {
        const pf_path_t *pa = profile_path(p, ix[i]);
        Ulma__Wire__Path *o = w->r.paths[i];
        o->id = ix[i];
        o->parent = pa->parent;
        o->std = wire_strdup(w->a, pa->func < profile_nfuncs(p) ? profile_func(p, pa->func)->std
                                                                : "[unknown]");
        o->count = pa->count;
        o->tottime_ns = pf_sat_add(pa->tottime_ns, pa->open.tottime_ns);
        o->cumtime_ns = pf_sat_add(pa->cumtime_ns, pa->open.cumtime_ns);
    }
    free(ix);
}

void wire_answer_threads(wire_answer_t *w, const profile_t *p, uint32_t frames)
{
    uint32_t n = profile_nthreads(p);
    if (!frames)
        frames = 64;
    w->r.threads = WIRE_MSGS(w->a, n, Ulma__Wire__Thread, ulma__wire__thread__descriptor);
    w->r.n_threads = n;
    for (uint32_t i = 0; i < n; i++) {
        const pf_thread_t *t = profile_thread(p, i);
        Ulma__Wire__Thread *o = w->r.threads[i];
        o->tid = t->tid;
        o->name = wire_strndup(w->a, t->name, strnlen(t->name, sizeof(t->name)));
        o->ended = t->ended;
        o->mode = t->mode;
        o->events = t->events;
        o->records_lost = t->records_lost;
        o->depth = t->depth;
        uint32_t k = t->nstack < frames ? t->nstack : frames;
        o->stack = WIRE_MSGS(w->a, k, Ulma__Wire__Frame, ulma__wire__frame__descriptor);
        o->n_stack = k;
        for (uint32_t j = 0; j < k; j++) {
            uint32_t f = t->stack[j].func;
            o->stack[j]->std = wire_strdup(w->a, f < profile_nfuncs(p) ? profile_func(p, f)->std
                                                                      : "[unknown]");
            o->stack[j]->for_ns = t->stack[j].for_ns;
        }
    }
}

static int site_cmp(const void *x, const void *y, void *arg)
{
    const profile_t *p = arg;
    const pf_site_t *a = profile_site(p, *(const uint32_t *)x);
    const pf_site_t *b = profile_site(p, *(const uint32_t *)y);
    if (a->count != b->count)
        return a->count < b->count ? 1 : -1;
    return *(const uint32_t *)x < *(const uint32_t *)y ? -1 : 1;
}

void wire_answer_objects(wire_answer_t *w, const profile_t *p, uint32_t limit)
{
    Ulma__Wire__Objects *o = WIRE_MSG(w->a, Ulma__Wire__Objects, ulma__wire__objects__descriptor);
    uint32_t nt = profile_ntypes(p);
    o->types = WIRE_MSGS(w->a, nt, Ulma__Wire__ObjectType, ulma__wire__object_type__descriptor);
    o->n_types = nt;
    for (uint32_t i = 0; i < nt; i++) {
        const pf_type_t *t = profile_type(p, i);
        Ulma__Wire__ObjectType *d = o->types[i];
        d->name = wire_strndup(w->a, t->name.s, t->name.len);
        d->news = t->news;
        d->frees = t->frees;
        d->live = pf_type_live(t);
        d->frees_unborn = t->frees_unborn;
        d->bytes_new = t->bytes_new;
        d->bytes_freed = t->bytes_freed;
    }
    uint32_t ns = profile_nsites(p);
    uint32_t *ix = xmalloc(sizeof(*ix) * (ns ? ns : 1));
    for (uint32_t i = 0; i < ns; i++)
        ix[i] = i;
    qsort_r(ix, ns, sizeof(*ix), site_cmp, (void *)p);
    if (limit && ns > limit)
        ns = limit;
    o->sites = WIRE_MSGS(w->a, ns, Ulma__Wire__ObjectSite, ulma__wire__object_site__descriptor);
    o->n_sites = ns;
    for (uint32_t i = 0; i < ns; i++) {
        const pf_site_t *s = profile_site(p, ix[i]);
        const pf_type_t *t = profile_type(p, s->type);
        o->sites[i]->std = wire_strdup(w->a, s->func < profile_nfuncs(p)
                                                 ? profile_func(p, s->func)->std : "[unknown]");
        o->sites[i]->type = wire_strndup(w->a, t->name.s, t->name.len);
        o->sites[i]->count = s->count;
        o->sites[i]->bytes = s->bytes;
    }
    free(ix);
    w->r.objects = o;
}

void wire_answer_mpi(wire_answer_t *w, const profile_t *p)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < profile_nfuncs(p); i++)
        n += profile_func(p, i)->kind == PF_KIND_MPI;
    w->r.mpi = WIRE_MSGS(w->a, n, Ulma__Wire__MpiRow, ulma__wire__mpi_row__descriptor);
    w->r.n_mpi = n;
    uint32_t k = 0;
    for (uint32_t i = 0; i < profile_nfuncs(p) && k < n; i++) {
        const pf_func_t *f = profile_func(p, i);
        if (f->kind != PF_KIND_MPI)
            continue;
        Ulma__Wire__MpiRow *m = w->r.mpi[k++];
        m->name = wire_strndup(w->a, f->name.s, f->name.len);
        m->calls = f->c.ncalls;
        m->time_ns = f->c.cumtime_ns;
        m->bytes = f->mpi_bytes;
    }
}

void wire_answer_drops(wire_answer_t *w, const profile_t *p)
{
    const pf_drops_t *d = profile_drops(p);
    Ulma__Wire__DropSummary *o =
        WIRE_MSG(w->a, Ulma__Wire__DropSummary, ulma__wire__drop_summary__descriptor);
    o->records_lost = d->records_lost;
    o->drop_events = d->drop_events;
    o->stack_repairs = d->stack_repairs;
    o->malformed_records = d->malformed_records;
    o->corrupt = d->corrupt;
    o->threads_lost = d->threads_lost;
    w->r.drops = o;
}

void wire_answer_export(wire_answer_t *w, const profile_t *p, const char *format)
{
    int f = profile_format_by_name(format);
    if (f < 0) {
        wire_answer_error(w, "format: '%s' is not one of %s", format ? format : "",
                          profile_formats_list());
        return;
    }
    sbuf_t b = {0};
    if (profile_export(p, f, &b) != 0) {
        sbuf_free(&b);
        wire_answer_error(w, "export %s failed", format);
        return;
    }
    void *d = wire_alloc(w->a, b.len ? b.len : 1);
    memcpy(d, b.data ? b.data : "", b.len);
    w->r.data.data = d;
    w->r.data.len = b.len;
    w->r.format = wire_strdup(w->a, profile_format_name(f));
    sbuf_free(&b);
}
