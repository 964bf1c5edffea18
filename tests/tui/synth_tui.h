/*
 * synth_tui.h - a synthetic query source for clustertop's tests and
 * benchmark: Replies of every kind the dashboard asks, for a cluster of
 * `nodes` x `ranks_per_node` processes and `funcs` functions, made with
 * the wire library, packed and unpacked as if they had crossed a socket.
 * It remembers the last question of each kind, so a test can check what
 * the dashboard asked.
 */
#ifndef TUI_SYNTH_H
#define TUI_SYNTH_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/answer.h"
#include "wire/wire.h"

#define SYNTH_KINDS 19

typedef struct synth_question {
    uint32_t n;
    int level;
    char node[256], job[256], filter[256], sort[64], func[1024], format[32];
    int32_t pid, rank;
    uint32_t limit, mode, objects, points, ranks, window, wait_ms;
} synth_question_t;

typedef struct synth {
    uint32_t nodes, ranks_per_node, funcs;
    int fail;      /* answer nothing: -ETIMEDOUT */
    uint64_t lost; /* records lost, everywhere */
    int64_t bump;  /* added to every time: the next refresh's numbers */
    int swap_ties; /* exchange the times of rows 1 and 2 */
    const char *recent_error;
    uint32_t control_applied; /* of the targets */
    synth_question_t q[SYNTH_KINDS];
    /* packed answers kept per kind (the benchmark: built once) */
    int cache;
    sbuf_t packed[SYNTH_KINDS];
} synth_t;

static inline void synth_fn_name(uint32_t i, char *name, size_t n, uint32_t *kind)
{
    *kind = i % 10 == 9 ? 2 : i % 10 == 8 ? 1 : 0;
    if (*kind == 2)
        snprintf(name, n, "MPI_Call%u", i);
    else if (*kind == 1)
        snprintf(name, n, "<built-in method c%u>", i);
    else
        snprintf(name, n, "f%03u", i);
}

/* cumtime of function i: decreasing with i, rows 3 and 4 equal (a tie) */
static inline int64_t synth_cum(const synth_t *s, uint32_t i)
{
    uint32_t k = i == 4 ? 3 : i;
    if (s->swap_ties && (k == 1 || k == 2))
        k = 3 - k;
    return (int64_t)(s->funcs - k) * 1000000 + s->bump;
}

static inline void synth_row(const synth_t *s, wire_arena_t *a, Ulma__Wire__Row *r, uint32_t i)
{
    char name[128];
    uint32_t kind;
    synth_fn_name(i, name, sizeof(name), &kind);
    ulma__wire__row__init(r);
    r->name = wire_strdup(a, name);
    r->kind = kind;
    if (kind == 0) {
        r->file = wire_printf(a, "/app/mod%u.py", i % 7);
        r->line = 10 + i;
        r->std = wire_printf(a, "%s:%u(%s)", r->file, r->line, name);
    } else {
        r->file = wire_strdup(a, "~");
        r->std = wire_printf(a, "~:0(%s)", name);
    }
    r->ncalls = 1000 + i;
    r->pcalls = 1000 + i;
    r->cumtime_ns = synth_cum(s, i);
    r->tottime_ns = r->cumtime_ns / 2;
    r->rate_calls = 10.0 * i;
    r->rate_tottime = 0.001 * i;
    uint32_t nr = s->nodes * s->ranks_per_node;
    if (nr > 1) {
        r->nranks = nr;
        r->mean_ns = (double)r->cumtime_ns / nr;
        r->max_ns = (int64_t)(r->mean_ns * (1.0 + (i % 5) * 0.25));
        r->min_ns = (int64_t)(r->mean_ns * 0.5);
        r->slowest_rank = (int32_t)(i % nr);
        r->slowest_node = wire_printf(a, "node%04u", (i % nr) / s->ranks_per_node);
        r->slowest_pid = 1000 + (int32_t)(i % nr);
    }
}

static inline void synth_remember(synth_t *s, const Ulma__Wire__Query *q)
{
    if ((unsigned)q->kind >= SYNTH_KINDS)
        return;
    synth_question_t *x = &s->q[q->kind];
    x->n++;
    x->level = q->scope ? (int)q->scope->level : 0;
    snprintf(x->node, sizeof(x->node), "%s", q->scope && q->scope->node ? q->scope->node : "");
    snprintf(x->job, sizeof(x->job), "%s", q->scope && q->scope->job ? q->scope->job : "");
    x->pid = q->scope ? q->scope->pid : 0;
    x->rank = q->scope ? q->scope->rank : 0;
    snprintf(x->filter, sizeof(x->filter), "%s", q->filter ? q->filter : "");
    snprintf(x->sort, sizeof(x->sort), "%s", q->sort ? q->sort : "");
    snprintf(x->func, sizeof(x->func), "%s", q->func ? q->func : "");
    snprintf(x->format, sizeof(x->format), "%s", q->format ? q->format : "");
    x->limit = q->limit;
    x->mode = q->mode;
    x->objects = q->objects;
    x->points = q->points;
    x->ranks = q->ranks;
    x->window = q->window;
    x->wait_ms = q->wait_ms;
}

static inline void synth_build(synth_t *s, const Ulma__Wire__Query *q, wire_answer_t *w)
{
    wire_arena_t *a = w->a;
    uint32_t nr = s->nodes * s->ranks_per_node;
    uint32_t limit = wire_query_limit(q);
    switch (q->kind) {
    case ULMA__WIRE__KIND__SUMMARY: {
        Ulma__Wire__Summary *m = WIRE_MSG(a, Ulma__Wire__Summary, ulma__wire__summary__descriptor);
        m->nodes_up = s->nodes;
        m->ranks = nr;
        m->processes = nr;
        m->jobs = 1;
        m->events_per_s = 1.5e6;
        m->records_lost = s->lost;
        m->mode = wire_strdup(a, "fast");
        m->n_spark = q->points ? q->points : 60;
        m->spark = wire_alloc(a, sizeof(float) * m->n_spark);
        for (size_t i = 0; i < m->n_spark; i++)
            m->spark[i] = (float)(i % 17);
        m->source = wire_strdup(a, "collector");
        w->r.summary = m;
        break;
    }
    case ULMA__WIRE__KIND__TOP: {
        Ulma__Wire__Table *t = WIRE_MSG(a, Ulma__Wire__Table, ulma__wire__table__descriptor);
        uint32_t *pick = wire_alloc(a, sizeof(uint32_t) * (s->funcs + 1));
        uint32_t n = 0;
        for (uint32_t i = 0; i < s->funcs; i++) {
            char name[128];
            uint32_t kind;
            synth_fn_name(i, name, sizeof(name), &kind);
            if (!q->filter || !*q->filter || strstr(name, q->filter))
                pick[n++] = i;
        }
        t->total_rows = n;
        uint32_t k = n < limit ? n : limit;
        t->rows = WIRE_MSGS(a, k, Ulma__Wire__Row, ulma__wire__row__descriptor);
        t->n_rows = k;
        for (uint32_t i = 0; i < k; i++) {
            synth_row(s, a, t->rows[i], pick[i]);
            t->calls += t->rows[i]->ncalls;
        }
        for (uint32_t i = 0; i < s->funcs; i++)
            t->tottime_ns += synth_cum(s, i) / 2;
        t->tottime_ns = (int64_t)s->funcs * 1000000; /* % of row 0 ~ 100 */
        t->records_lost = s->lost;
        t->processes = nr;
        t->sort = wire_strdup(a, q->sort && *q->sort ? q->sort : "cumulative");
        w->r.table = t;
        break;
    }
    case ULMA__WIRE__KIND__NODES: {
        uint32_t k = s->nodes < limit ? s->nodes : limit;
        w->r.nodes = WIRE_MSGS(a, k, Ulma__Wire__NodeInfo, ulma__wire__node_info__descriptor);
        w->r.n_nodes = k;
        for (uint32_t i = 0; i < k; i++) {
            Ulma__Wire__NodeInfo *x = w->r.nodes[i];
            x->name = wire_printf(a, "node%04u", i);
            x->host = x->name;
            x->state = wire_strdup(a, i % 97 == 5 ? "stale" : "up");
            x->ranks = s->ranks_per_node;
            x->processes = s->ranks_per_node;
            x->events_per_s = 1000.0 * (i % 13 + 1);
            x->records_lost = i == 7 ? 42 : 0;
            x->age_s = 0.5;
            x->top_function = wire_strdup(a, "/app/mod0.py:10(f000)");
            x->mode = wire_strdup(a, "fast");
            x->n_spark = q->points ? q->points : 20;
            x->spark = wire_alloc(a, sizeof(float) * x->n_spark);
            for (size_t p = 0; p < x->n_spark; p++)
                x->spark[p] = (float)((p + i) % 9);
        }
        break;
    }
    case ULMA__WIRE__KIND__RANKS: {
        uint32_t first = 0, count = nr;
        if (q->scope && q->scope->level == ULMA__WIRE__SCOPE__LEVEL__NODE && q->scope->node) {
            first = (uint32_t)atoi(q->scope->node + 4) * s->ranks_per_node;
            count = s->ranks_per_node;
        }
        uint32_t k = count < limit ? count : limit;
        w->r.ranks = WIRE_MSGS(a, k, Ulma__Wire__RankInfo, ulma__wire__rank_info__descriptor);
        w->r.n_ranks = k;
        for (uint32_t i = 0; i < k; i++) {
            Ulma__Wire__RankInfo *x = w->r.ranks[i];
            uint32_t g = first + i;
            x->node = wire_printf(a, "node%04u", g / s->ranks_per_node);
            x->pid = 1000 + (int32_t)g;
            x->rank = (int32_t)g;
            x->size = (int32_t)nr;
            x->job = wire_strdup(a, "job1");
            x->state = wire_strdup(a, "live");
            x->mode = wire_strdup(a, g == 1 ? "off" : "fast");
            x->events = 100000 + g;
            x->tottime_ns = 1000000000 + g;
            x->mpi_ns = 250000000;
            x->threads = 2;
            x->top_function = wire_strdup(a, "/app/mod0.py:10(f000)");
        }
        break;
    }
    case ULMA__WIRE__KIND__JOBS: {
        w->r.jobs = WIRE_MSGS(a, 1, Ulma__Wire__JobInfo, ulma__wire__job_info__descriptor);
        w->r.n_jobs = 1;
        w->r.jobs[0]->job = wire_strdup(a, "job1");
        w->r.jobs[0]->ranks = nr;
        w->r.jobs[0]->live = nr;
        w->r.jobs[0]->nodes = s->nodes;
        w->r.jobs[0]->tottime_ns = 1000000000ll * nr;
        break;
    }
    case ULMA__WIRE__KIND__FUNCTION: {
        Ulma__Wire__FunctionDetail *fd =
            WIRE_MSG(a, Ulma__Wire__FunctionDetail, ulma__wire__function_detail__descriptor);
        fd->row = WIRE_MSG(a, Ulma__Wire__Row, ulma__wire__row__descriptor);
        synth_row(s, a, fd->row, 0);
        uint32_t k = nr < limit ? nr : limit;
        fd->ranks = WIRE_MSGS(a, k, Ulma__Wire__RankValue, ulma__wire__rank_value__descriptor);
        fd->n_ranks = k;
        for (uint32_t i = 0; i < k; i++) {
            fd->ranks[i]->rank = (int32_t)i;
            fd->ranks[i]->node = wire_printf(a, "node%04u", i / s->ranks_per_node);
            fd->ranks[i]->pid = 1000 + (int32_t)i;
            fd->ranks[i]->ncalls = 10;
            fd->ranks[i]->cumtime_ns = 1000000 * (int64_t)(i % 11 + 1);
            fd->ranks[i]->tottime_ns = fd->ranks[i]->cumtime_ns / 3;
        }
        fd->callers = WIRE_MSGS(a, 1, Ulma__Wire__Edge, ulma__wire__edge__descriptor);
        fd->n_callers = 1;
        fd->callers[0]->std = wire_strdup(a, "/app/main.py:1(main)");
        fd->callers[0]->ncalls = 10;
        fd->callees = WIRE_MSGS(a, 2, Ulma__Wire__Edge, ulma__wire__edge__descriptor);
        fd->n_callees = 2;
        fd->callees[0]->std = wire_strdup(a, "/app/mod1.py:11(f001)");
        fd->callees[1]->std = wire_strdup(a, "~:0(MPI_Call9)");
        w->r.function = fd;
        break;
    }
    case ULMA__WIRE__KIND__PATHS: {
        w->r.paths = WIRE_MSGS(a, 2, Ulma__Wire__Path, ulma__wire__path__descriptor);
        w->r.n_paths = 2;
        w->r.paths[0]->id = 1;
        w->r.paths[0]->std = wire_strdup(a, "/app/main.py:1(main)");
        w->r.paths[1]->id = 2;
        w->r.paths[1]->parent = 1;
        w->r.paths[1]->std = wire_strdup(a, "/app/mod0.py:10(f000)");
        w->r.paths[1]->count = 7;
        break;
    }
    case ULMA__WIRE__KIND__IMBALANCE: {
        Ulma__Wire__Imbalance *im = WIRE_MSG(a, Ulma__Wire__Imbalance, ulma__wire__imbalance__descriptor);
        uint32_t nf = s->funcs < limit ? s->funcs : limit;
        uint32_t nk = q->ranks ? q->ranks : 64;
        if (nk > nr)
            nk = nr;
        im->rows = WIRE_MSGS(a, nf, Ulma__Wire__Row, ulma__wire__row__descriptor);
        im->n_rows = nf;
        for (uint32_t i = 0; i < nf; i++)
            synth_row(s, a, im->rows[i], i);
        im->ranks = WIRE_MSGS(a, nk, Ulma__Wire__RankValue, ulma__wire__rank_value__descriptor);
        im->n_ranks = nk;
        for (uint32_t k = 0; k < nk; k++) {
            im->ranks[k]->rank = (int32_t)k;
            im->ranks[k]->node = wire_printf(a, "node%04u", k / s->ranks_per_node);
            im->ranks[k]->pid = 1000 + (int32_t)k;
        }
        im->cells = wire_alloc(a, sizeof(int64_t) * ((size_t)nf * nk + 1));
        im->n_cells = (size_t)nf * nk;
        for (size_t c = 0; c < im->n_cells; c++)
            im->cells[c] = (int64_t)(c % 7) * 1000000;
        w->r.imbalance = im;
        break;
    }
    case ULMA__WIRE__KIND__STACKS: {
        w->r.threads = WIRE_MSGS(a, 2, Ulma__Wire__Thread, ulma__wire__thread__descriptor);
        w->r.n_threads = 2;
        for (int t = 0; t < 2; t++) {
            Ulma__Wire__Thread *x = w->r.threads[t];
            x->tid = 500 + t;
            x->name = wire_strdup(a, t ? "worker" : "MainThread");
            x->mode = 1;
            x->events = 1000;
            x->depth = 3;
            x->stack = WIRE_MSGS(a, 3, Ulma__Wire__Frame, ulma__wire__frame__descriptor);
            x->n_stack = 3;
            for (int f = 0; f < 3; f++) {
                x->stack[f]->std = wire_printf(a, "/app/mod0.py:%d(level%d)", 10 + f, 2 - f);
                x->stack[f]->for_ns = (int64_t)(f + 1) * 1000000000;
            }
        }
        break;
    }
    case ULMA__WIRE__KIND__OBJECTS: {
        Ulma__Wire__Objects *o = WIRE_MSG(a, Ulma__Wire__Objects, ulma__wire__objects__descriptor);
        o->types = WIRE_MSGS(a, 2, Ulma__Wire__ObjectType, ulma__wire__object_type__descriptor);
        o->n_types = 2;
        o->types[0]->name = wire_strdup(a, "app.Particle");
        o->types[0]->news = 500;
        o->types[0]->frees = 400;
        o->types[0]->live = 100;
        o->types[1]->name = wire_strdup(a, "dict");
        o->types[1]->news = 50;
        o->types[1]->live = 50;
        o->sites = WIRE_MSGS(a, 1, Ulma__Wire__ObjectSite, ulma__wire__object_site__descriptor);
        o->n_sites = 1;
        o->sites[0]->std = wire_strdup(a, "/app/mod0.py:10(f000)");
        o->sites[0]->type = wire_strdup(a, "app.Particle");
        o->sites[0]->count = 500;
        w->r.objects = o;
        break;
    }
    case ULMA__WIRE__KIND__MPI: {
        w->r.mpi = WIRE_MSGS(a, 1, Ulma__Wire__MpiRow, ulma__wire__mpi_row__descriptor);
        w->r.n_mpi = 1;
        w->r.mpi[0]->name = wire_strdup(a, "MPI_Allreduce");
        w->r.mpi[0]->calls = 77;
        w->r.mpi[0]->time_ns = 3000000000;
        break;
    }
    case ULMA__WIRE__KIND__RECENT: {
        if (s->recent_error) {
            wire_answer_error(w, "%s", s->recent_error);
            break;
        }
        Ulma__Wire__Objects *o = WIRE_MSG(a, Ulma__Wire__Objects, ulma__wire__objects__descriptor);
        o->recent = WIRE_MSGS(a, 30, Ulma__Wire__RecentObject, ulma__wire__recent_object__descriptor);
        o->n_recent = 30;
        for (int i = 0; i < 30; i++) {
            o->recent[i]->ago_ns = (int64_t)i * 10000000;
            o->recent[i]->type = wire_strdup(a, i % 3 ? "dict" : "app.Particle");
            o->recent[i]->size = (uint64_t)(16 << (i % 6));
        }
        w->r.objects = o;
        break;
    }
    case ULMA__WIRE__KIND__CONTROL: {
        Ulma__Wire__ControlAnswer *c =
            WIRE_MSG(a, Ulma__Wire__ControlAnswer, ulma__wire__control_answer__descriptor);
        c->requested =
            q->scope && q->scope->level == ULMA__WIRE__SCOPE__LEVEL__RANK ? 1 : s->ranks_per_node;
        c->applied = s->control_applied < c->requested ? s->control_applied : c->requested;
        c->timed_out = c->applied < c->requested;
        c->nodes = 1;
        c->nodes_answered = 1;
        w->r.control = c;
        break;
    }
    case ULMA__WIRE__KIND__EXPORT:
        w->r.format = wire_strdup(a, q->format);
        w->r.data.data = (uint8_t *)wire_strdup(a, "exported-profile\n");
        w->r.data.len = strlen("exported-profile\n");
        break;
    default: wire_answer_error(w, "synth: kind %d not made", (int)q->kind); break;
    }
}

/* A model_ask_fn. */
static inline int synth_ask(void *ctx, Ulma__Wire__Query *q, int timeout_ms,
                            Ulma__Wire__Reply **out, char *err, size_t errlen)
{
    (void)timeout_ms;
    synth_t *s = ctx;
    synth_remember(s, q);
    *out = NULL;
    if (s->fail) {
        snprintf(err, errlen, "no answer from synth within %d ms", timeout_ms);
        return -ETIMEDOUT;
    }
    unsigned k = (unsigned)q->kind < SYNTH_KINDS ? (unsigned)q->kind : 0;
    sbuf_t local = {0};
    sbuf_t *b = s->cache ? &s->packed[k] : &local;
    if (!s->cache || !b->len) {
        wire_answer_t w;
        wire_answer_init(&w, q->id);
        synth_build(s, q, &w);
        b->len = 0;
        wire_answer_pack(&w, b);
        wire_answer_free(&w);
    }
    wire_refusal_t why;
    *out = wire_reply(b->data, b->len, &why);
    sbuf_free(&local);
    if (!*out) {
        snprintf(err, errlen, "synth: %s", wire_refusal_name(why));
        return -EPROTO;
    }
    return 0;
}

static inline void synth_free(synth_t *s)
{
    for (int i = 0; i < SYNTH_KINDS; i++)
        sbuf_free(&s->packed[i]);
}

#endif /* TUI_SYNTH_H */
