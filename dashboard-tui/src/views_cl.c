/* views_cl.c - the cluster's parts: nodes, jobs, a node's or a job's ranks. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "views.h"

#define CMPD(x, y) ((x) < (y) ? 1 : (x) > (y) ? -1 : 0)

/* A sparkline as UTF-8 (or ASCII) text of at most `width` cells. */
static void spark_text(const float *v, size_t n, int width, int utf8, char *b, size_t bn)
{
    static const char ascii[] = "_.-:=+*#";
    size_t from = n > (size_t)width ? n - (size_t)width : 0;
    float max = 0;
    for (size_t i = from; i < n; i++)
        if (v[i] > max)
            max = v[i];
    size_t o = 0;
    for (size_t i = from; i < n && o + 4 < bn; i++) {
        int lvl = max > 0 ? (int)(v[i] / max * 7.0f + 0.5f) : 0;
        if (utf8) {
            uint32_t g = 0x2581u + (uint32_t)lvl;
            b[o++] = (char)(0xe0 | (g >> 12));
            b[o++] = (char)(0x80 | ((g >> 6) & 0x3f));
            b[o++] = (char)(0x80 | (g & 0x3f));
        } else {
            b[o++] = v[i] > 0 ? ascii[lvl] : ' ';
        }
    }
    b[o] = '\0';
}

/* ---- NODES ------------------------------------------------------------------------------ */

enum { NC_NODE, NC_STATE, NC_RANKS, NC_EVS, NC_LOST, NC_MODE, NC_AGE, NC_TOP, NC_SPARK, NC_N };
static const tcol_t ncols[NC_N] = {
    [NC_NODE] = {"NODE", 0, 8, 100, 0, 1},      [NC_STATE] = {"STATE", 5, 0, 90, 0, 1},
    [NC_RANKS] = {"RANKS", 5, 0, 85, 1, 1},     [NC_EVS] = {"EVENTS/S", 8, 0, 80, 1, 1},
    [NC_LOST] = {"LOST", 7, 0, 75, 1, 1},       [NC_MODE] = {"MODE", 5, 0, 60, 0, 1},
    [NC_AGE] = {"AGE", 6, 0, 70, 1, 1},         [NC_TOP] = {"TOP FUNCTION", 0, 12, 40, 0, 1},
    [NC_SPARK] = {"ACTIVITY", 20, 0, 50, 0, 0},
};

typedef struct nctx {
    const view_env_t *a;
} nctx_t;

static int ncell(const void *item, int col, char *b, size_t n, int width, const void *ctx)
{
    const Ulma__Wire__NodeInfo *x = item;
    const nctx_t *c = ctx;
    switch (col) {
    case NC_NODE: snprintf(b, n, "%s", x->name ? x->name : ""); return ROLE_NORMAL;
    case NC_STATE:
        snprintf(b, n, "%s", x->state ? x->state : "");
        return x->state && strcmp(x->state, "up") == 0      ? ROLE_GOOD
               : x->state && strcmp(x->state, "stale") == 0 ? ROLE_WARN
                                                            : ROLE_ERROR;
    case NC_RANKS: snprintf(b, n, "%u", x->ranks); return ROLE_NORMAL;
    case NC_EVS: fmt_rate(b, n, x->events_per_s); return ROLE_NORMAL;
    case NC_LOST:
        fmt_count(b, n, x->records_lost, width - 1);
        if (x->records_lost)
            strncat(b, "!", n - strlen(b) - 1);
        return x->records_lost ? ROLE_WARN : ROLE_NORMAL;
    case NC_MODE: snprintf(b, n, "%s", x->mode ? x->mode : ""); return ROLE_NORMAL;
    case NC_AGE:
        if (c->a->agent)
            snprintf(b, n, "-");
        else
            fmt_age(b, n, x->age_s);
        return x->age_s > 10 ? ROLE_WARN : ROLE_NORMAL;
    case NC_TOP: snprintf(b, n, "%s", x->top_function ? x->top_function : ""); return ROLE_DIM;
    case NC_SPARK: {
        if (x->n_spark) {
            spark_text(x->spark, x->n_spark, width, c->a->cv->utf8, b, n);
        } else {
            uint32_t k;
            const float *h = model_spark(c->a->m, &k);
            spark_text(h, k, width, c->a->cv->utf8, b, n);
        }
        return ROLE_SPARK;
    }
    }
    return ROLE_NORMAL;
}

static int ncmp(const void *x, const void *y, int col, const void *ctx)
{
    (void)ctx;
    const Ulma__Wire__NodeInfo *a = x, *b = y;
    switch (col) {
    case NC_STATE: return strcmp(a->state ? a->state : "", b->state ? b->state : "");
    case NC_RANKS: return CMPD(a->ranks, b->ranks);
    case NC_EVS: return CMPD(a->events_per_s, b->events_per_s);
    case NC_LOST: return CMPD(a->records_lost, b->records_lost);
    case NC_MODE: return strcmp(a->mode ? a->mode : "", b->mode ? b->mode : "");
    case NC_AGE: return CMPD(a->age_s, b->age_s);
    case NC_TOP:
        return strcmp(a->top_function ? a->top_function : "",
                      b->top_function ? b->top_function : "");
    default: return 0; /* by name: the key */
    }
}

static void nodes_fetch(view_t *v, view_env_t *a)
{
    Ulma__Wire__Query q;
    model_query(&q, ULMA__WIRE__KIND__NODES, &v->scr->t.scope);
    q.limit = 100000;
    q.points = 20;
    model_fetch(a->m, &v->feed[0], &q);
}

static void nodes_draw(view_t *v, view_env_t *a, canvas_t *cv, int y, int h)
{
    v->list.cmp = ncmp;
    if (view_no_answer(&v->feed[0], cv, y, h, "nodes"))
        return;
    const Ulma__Wire__Reply *r = v->feed[0].reply;
    mlist_clear(&v->list);
    uint32_t up = 0, ranks = 0;
    for (size_t i = 0; i < r->n_nodes; i++) {
        mlist_add(&v->list, r->nodes[i], r->nodes[i]->name);
        up += r->nodes[i]->state && strcmp(r->nodes[i]->state, "up") == 0;
        ranks += r->nodes[i]->ranks;
    }
    mlist_sort(&v->list);
    canvas_printf(cv, y, 0, ROLE_TITLE, -1, "%zu nodes, %u up, %u ranks", r->n_nodes, up, ranks);
    view_stale_note(&v->feed[0], cv, y);
    nctx_t c = {a};
    table_spec_t spec = {ncols, NC_N, ncell, &c, v->list.col, v->list.reverse};
    v->visible = table_draw(cv, y + 1, 0, cv->w, h - 1, &spec, &v->list);
}

static int nodes_target(view_t *v, view_env_t *a, target_t *t)
{
    (void)a;
    const Ulma__Wire__NodeInfo *x = mlist_selected(&v->list);
    if (!x)
        return 0;
    target_node(t, x->name);
    return 1;
}

static reaction_t nodes_act(view_t *v, view_env_t *a, action_t act)
{
    if (act == ACT_ENTER) {
        target_t t;
        if (!nodes_target(v, a, &t))
            return RX_NONE;
        view_push(a, SCR_NODE, &t, NULL);
        return RX_HANDLED | RX_REFETCH;
    }
    return view_list_act(v, act, ncols, NC_N, a->cv->w);
}

static void nodes_json(view_t *v, view_env_t *a, jw_t *w)
{
    (void)a;
    static const char *const names[] = {"NODES", NULL};
    view_json_feeds(v, w, names);
}

const view_class_t view_nodes = {"Nodes",   "nodes",      nodes_fetch, nodes_draw,
                                 nodes_act, nodes_target, nodes_json,  NULL};

/* ---- JOBS ------------------------------------------------------------------------------- */

enum { JC_JOB, JC_RANKS, JC_LIVE, JC_NODES, JC_TIME, JC_LOST, JC_N };
static const tcol_t jcols[JC_N] = {
    [JC_JOB] = {"JOB", 0, 10, 100, 0, 1},          [JC_RANKS] = {"RANKS", 6, 0, 90, 1, 1},
    [JC_LIVE] = {"LIVE", 6, 0, 85, 1, 1},          [JC_NODES] = {"NODES", 6, 0, 80, 1, 1},
    [JC_TIME] = {"PROGRAM TIME", 12, 0, 70, 1, 1}, [JC_LOST] = {"LOST", 8, 0, 60, 1, 1},
};

static int jcell(const void *item, int col, char *b, size_t n, int width, const void *ctx)
{
    (void)ctx;
    const Ulma__Wire__JobInfo *j = item;
    switch (col) {
    case JC_JOB: snprintf(b, n, "%s", j->job && *j->job ? j->job : "(no job)"); break;
    case JC_RANKS: snprintf(b, n, "%u", j->ranks); break;
    case JC_LIVE: snprintf(b, n, "%u", j->live); break;
    case JC_NODES: snprintf(b, n, "%u", j->nodes); break;
    case JC_TIME: fmt_sec(b, n, j->tottime_ns, width); break;
    case JC_LOST:
        fmt_count(b, n, j->records_lost, width - 1);
        if (j->records_lost)
            strncat(b, "!", n - strlen(b) - 1);
        return j->records_lost ? ROLE_WARN : ROLE_NORMAL;
    }
    return ROLE_NORMAL;
}

static int jcmp(const void *x, const void *y, int col, const void *ctx)
{
    (void)ctx;
    const Ulma__Wire__JobInfo *a = x, *b = y;
    switch (col) {
    case JC_RANKS: return CMPD(a->ranks, b->ranks);
    case JC_LIVE: return CMPD(a->live, b->live);
    case JC_NODES: return CMPD(a->nodes, b->nodes);
    case JC_TIME: return CMPD(a->tottime_ns, b->tottime_ns);
    case JC_LOST: return CMPD(a->records_lost, b->records_lost);
    default: return 0;
    }
}

static void jobs_fetch(view_t *v, view_env_t *a)
{
    Ulma__Wire__Query q;
    model_query(&q, ULMA__WIRE__KIND__JOBS, &v->scr->t.scope);
    q.limit = 100000;
    model_fetch(a->m, &v->feed[0], &q);
}

static void jobs_draw(view_t *v, view_env_t *a, canvas_t *cv, int y, int h)
{
    (void)a;
    v->list.cmp = jcmp;
    if (view_no_answer(&v->feed[0], cv, y, h, "jobs"))
        return;
    const Ulma__Wire__Reply *r = v->feed[0].reply;
    mlist_clear(&v->list);
    for (size_t i = 0; i < r->n_jobs; i++)
        mlist_add(&v->list, r->jobs[i], r->jobs[i]->job);
    mlist_sort(&v->list);
    canvas_printf(cv, y, 0, ROLE_TITLE, -1, "%zu jobs", r->n_jobs);
    view_stale_note(&v->feed[0], cv, y);
    table_spec_t spec = {jcols, JC_N, jcell, NULL, v->list.col, v->list.reverse};
    v->visible = table_draw(cv, y + 1, 0, cv->w, h - 1, &spec, &v->list);
}

static int jobs_target(view_t *v, view_env_t *a, target_t *t)
{
    (void)a;
    const Ulma__Wire__JobInfo *j = mlist_selected(&v->list);
    if (!j)
        return 0;
    target_job(t, j->job ? j->job : "");
    return 1;
}

static reaction_t jobs_act(view_t *v, view_env_t *a, action_t act)
{
    if (act == ACT_ENTER) {
        target_t t;
        if (!jobs_target(v, a, &t))
            return RX_NONE;
        view_push(a, SCR_JOB, &t, NULL);
        return RX_HANDLED | RX_REFETCH;
    }
    return view_list_act(v, act, jcols, JC_N, a->cv->w);
}

static void jobs_json(view_t *v, view_env_t *a, jw_t *w)
{
    (void)a;
    static const char *const names[] = {"JOBS", NULL};
    view_json_feeds(v, w, names);
}

const view_class_t view_jobs = {"Jobs",   "jobs",      jobs_fetch, jobs_draw,
                                jobs_act, jobs_target, jobs_json,  NULL};

/* ---- RANKS ------------------------------------------------------------------------------ */

enum {
    KC_RANK,
    KC_NODE,
    KC_PID,
    KC_JOB,
    KC_STATE,
    KC_MODE,
    KC_EVS,
    KC_LOST,
    KC_THR,
    KC_TIME,
    KC_MPI,
    KC_TOP,
    KC_N
};
static const tcol_t kcols[KC_N] = {
    [KC_RANK] = {"RANK", 5, 0, 95, 1, 1},    [KC_NODE] = {"NODE", 0, 6, 70, 0, 1},
    [KC_PID] = {"PID", 8, 0, 100, 1, 1},     [KC_JOB] = {"JOB", 12, 0, 30, 0, 1},
    [KC_STATE] = {"STATE", 6, 0, 80, 0, 1},  [KC_MODE] = {"MODE", 8, 0, 90, 0, 1},
    [KC_EVS] = {"EVENTS/S", 8, 0, 75, 1, 1}, [KC_LOST] = {"LOST", 7, 0, 65, 1, 1},
    [KC_THR] = {"THR", 3, 0, 40, 1, 1},      [KC_TIME] = {"TIME", 9, 0, 85, 1, 1},
    [KC_MPI] = {"%MPI", 5, 0, 55, 1, 1},     [KC_TOP] = {"TOP FUNCTION", 0, 12, 35, 0, 1},
};

static int kcell(const void *item, int col, char *b, size_t n, int width, const void *ctx)
{
    (void)ctx;
    const Ulma__Wire__RankInfo *r = item;
    switch (col) {
    case KC_RANK:
        if (r->rank >= 0 && r->size > 0)
            snprintf(b, n, "%d", r->rank);
        else
            snprintf(b, n, "-");
        break;
    case KC_NODE: snprintf(b, n, "%s", r->node ? r->node : ""); break;
    case KC_PID: snprintf(b, n, "%d", r->pid); break;
    case KC_JOB: snprintf(b, n, "%s", r->job ? r->job : ""); return ROLE_DIM;
    case KC_STATE:
        snprintf(b, n, "%s", r->state ? r->state : "");
        return r->state && strcmp(r->state, "live") == 0 ? ROLE_GOOD : ROLE_DIM;
    case KC_MODE:
        snprintf(b, n, "%s%s%s", r->mode ? r->mode : "", r->objects ? "+obj" : "",
                 r->profile_hook_displaced ? "!" : "");
        return r->mode && strcmp(r->mode, "off") == 0 ? ROLE_WARN : ROLE_NORMAL;
    case KC_EVS: fmt_rate(b, n, r->events_per_s); break;
    case KC_LOST:
        fmt_count(b, n, r->records_lost, width - 1);
        if (r->records_lost)
            strncat(b, "!", n - strlen(b) - 1);
        return r->records_lost ? ROLE_WARN : ROLE_NORMAL;
    case KC_THR: snprintf(b, n, "%u", r->threads); break;
    case KC_TIME: fmt_sec(b, n, r->tottime_ns, width); break;
    case KC_MPI:
        fmt_pct(b, n, r->tottime_ns > 0 ? 100.0 * (double)r->mpi_ns / (double)r->tottime_ns : 0);
        break;
    case KC_TOP: snprintf(b, n, "%s", r->top_function ? r->top_function : ""); return ROLE_DIM;
    }
    return ROLE_NORMAL;
}

static int kcmp(const void *x, const void *y, int col, const void *ctx)
{
    (void)ctx;
    const Ulma__Wire__RankInfo *a = x, *b = y;
    switch (col) {
    case KC_RANK: return a->rank < b->rank ? -1 : a->rank > b->rank;
    case KC_PID: return a->pid < b->pid ? -1 : a->pid > b->pid;
    case KC_JOB: return strcmp(a->job ? a->job : "", b->job ? b->job : "");
    case KC_STATE: return strcmp(a->state ? a->state : "", b->state ? b->state : "");
    case KC_MODE: return strcmp(a->mode ? a->mode : "", b->mode ? b->mode : "");
    case KC_EVS: return CMPD(a->events_per_s, b->events_per_s);
    case KC_LOST: return CMPD(a->records_lost, b->records_lost);
    case KC_THR: return CMPD(a->threads, b->threads);
    case KC_TIME: return CMPD(a->tottime_ns, b->tottime_ns);
    case KC_MPI: return CMPD(a->mpi_ns, b->mpi_ns);
    case KC_TOP:
        return strcmp(a->top_function ? a->top_function : "",
                      b->top_function ? b->top_function : "");
    default: return 0;
    }
}

static void ranks_fetch(view_t *v, view_env_t *a)
{
    Ulma__Wire__Query q;
    model_query(&q, ULMA__WIRE__KIND__RANKS, &v->scr->t.scope);
    q.limit = 100000;
    model_fetch(a->m, &v->feed[0], &q);
}

static void ranks_draw(view_t *v, view_env_t *a, canvas_t *cv, int y, int h)
{
    (void)a;
    v->list.cmp = kcmp;
    if (view_no_answer(&v->feed[0], cv, y, h, "ranks"))
        return;
    const Ulma__Wire__Reply *r = v->feed[0].reply;
    mlist_clear(&v->list);
    uint32_t live = 0;
    for (size_t i = 0; i < r->n_ranks; i++) {
        char key[320];
        snprintf(key, sizeof(key), "%s/%010d", r->ranks[i]->node ? r->ranks[i]->node : "",
                 r->ranks[i]->pid);
        mlist_add(&v->list, r->ranks[i], key);
        live += r->ranks[i]->state && strcmp(r->ranks[i]->state, "live") == 0;
    }
    mlist_sort(&v->list);
    canvas_printf(cv, y, 0, ROLE_TITLE, -1, "%zu processes, %u live", r->n_ranks, live);
    view_stale_note(&v->feed[0], cv, y);
    table_spec_t spec = {kcols, KC_N, kcell, NULL, v->list.col, v->list.reverse};
    v->visible = table_draw(cv, y + 1, 0, cv->w, h - 1, &spec, &v->list);
}

static int ranks_target(view_t *v, view_env_t *a, target_t *t)
{
    (void)a;
    const Ulma__Wire__RankInfo *r = mlist_selected(&v->list);
    if (!r)
        return 0;
    target_rank(t, r->node, r->pid, r->start_time, r->size > 0 ? r->rank : -1, r->job);
    t->objects = r->objects;
    return 1;
}

static reaction_t ranks_act(view_t *v, view_env_t *a, action_t act)
{
    if (act == ACT_ENTER) {
        target_t t;
        if (!ranks_target(v, a, &t))
            return RX_NONE;
        view_push(a, SCR_RANK, &t, NULL);
        return RX_HANDLED | RX_REFETCH;
    }
    return view_list_act(v, act, kcols, KC_N, a->cv->w);
}

static void ranks_json(view_t *v, view_env_t *a, jw_t *w)
{
    (void)a;
    static const char *const names[] = {"RANKS", NULL};
    view_json_feeds(v, w, names);
}

const view_class_t view_ranks = {"Ranks",   "ranks",      ranks_fetch, ranks_draw,
                                 ranks_act, ranks_target, ranks_json,  NULL};
