/* views_fn.c - function tables and a function's detail: the top table,
 * the imbalance heat map, a function across ranks, its callers and
 * callees, its call paths; and what every view shares. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "views.h"

/* ---- shared ----------------------------------------------------------------------- */

view_t *view_new(const view_class_t *cls, screen_t *scr)
{
    view_t *v = xcalloc(1, sizeof(*v));
    v->cls = cls;
    v->scr = scr;
    mlist_init(&v->list, NULL, 0);
    return v;
}

void view_destroy(view_t **v_p)
{
    if (!v_p || !*v_p)
        return;
    view_t *v = *v_p;
    if (v->cls->destroy)
        v->cls->destroy(v);
    for (int i = 0; i < VIEW_FEEDS; i++)
        feed_free(&v->feed[i]);
    mlist_free(&v->list);
    free(v->priv);
    free(v);
    *v_p = NULL;
}

reaction_t view_list_act(view_t *v, action_t act, const tcol_t *cols, int ncols, int width)
{
    mlist_t *l = &v->list;
    int page = v->visible > 1 ? v->visible - 1 : 1;
    switch (act) {
    case ACT_UP: mlist_move(l, -1); break;
    case ACT_DOWN: mlist_move(l, 1); break;
    case ACT_PGUP: mlist_move(l, -page); break;
    case ACT_PGDN: mlist_move(l, page); break;
    case ACT_HOME: mlist_home(l); break;
    case ACT_END: mlist_end(l); return RX_HANDLED | RX_REFETCH; /* rows beyond the answer */
    case ACT_SORT_PREV:
    case ACT_SORT_NEXT:
        if (!cols)
            return RX_NONE;
        l->col = table_next_sort(cols, ncols, l->col, act == ACT_SORT_NEXT ? 1 : -1, width - 1);
        l->reverse = 0;
        return RX_HANDLED | RX_REFETCH;
    case ACT_SORT_REVERSE:
        if (!cols)
            return RX_NONE;
        l->reverse = !l->reverse;
        return RX_HANDLED | RX_REDRAW;
    default: return RX_NONE;
    }
    if (act == ACT_PGDN && l->sel + 1 >= l->n)
        return RX_HANDLED | RX_REFETCH;
    return RX_HANDLED | RX_REDRAW;
}

int view_no_answer(const feed_t *f, canvas_t *cv, int y, int h, const char *what)
{
    if (feed_ok(f))
        return 0;
    if (h < 1)
        return 1;
    if (f->reply && !f->reply->ok) {
        canvas_printf(cv, y, 1, ROLE_TITLE, -1, "%s: not available", what);
        if (h > 1)
            canvas_printf(cv, y + 1, 3, ROLE_ERROR, -1, "%s", f->error);
        for (size_t i = 0; i < f->reply->n_candidates && (int)i + 3 < h; i++)
            canvas_printf(cv, y + 3 + (int)i, 5, ROLE_NORMAL, -1, "%s", f->reply->candidates[i]);
    } else {
        canvas_printf(cv, y, 1, ROLE_DIM, -1, "%s: %s", what,
                      f->error[0] ? f->error : "waiting for the first answer");
    }
    return 1;
}

uint32_t view_want_rows(const view_t *v, const view_env_t *a)
{
    if (a->batch)
        return a->o->rows ? a->o->rows : 100000;
    uint32_t vis = v->visible > 0 ? (uint32_t)v->visible : (uint32_t)a->cv->h;
    uint32_t want = v->list.top + 3 * vis;
    if (v->list.sel + 1 >= v->list.n && v->list.n)
        want = v->list.n + 3 * vis; /* End, PgDn at the bottom: more */
    return want < 200 ? 200 : want;
}

void view_stale_note(const feed_t *f, canvas_t *cv, int y)
{
    if (!f->failed || !f->reply)
        return;
    char age[32];
    fmt_age(age, sizeof(age), (double)(now_ns() - f->at_ns) / 1e9);
    canvas_printf(cv, y, cv->w - 24 > 0 ? cv->w - 24 : 0, ROLE_WARN, 24, "[data %s old]", age);
}

void view_json_feeds(view_t *v, jw_t *w, const char *const *names)
{
    for (int i = 0; i < VIEW_FEEDS && names[i]; i++) {
        jw_key(w, names[i]);
        if (v->feed[i].reply) {
            wire_json(&v->feed[i].reply->base, w);
        } else {
            jw_obj(w);
            jw_kbool(w, "ok", 0);
            jw_kstrz(w, "error", v->feed[i].error[0] ? v->feed[i].error : "no answer");
            jw_obj_end(w);
        }
    }
}

int type_role(const char *name)
{
    uint32_t h = 2166136261u;
    for (const char *p = name; p && *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return ROLE_TYPE0 + (int)(h % 8);
}

static int kind_role(uint32_t kind)
{
    return kind == 1 ? ROLE_C : kind == 2 ? ROLE_MPI : ROLE_PY;
}

static char kind_mark(uint32_t kind)
{
    return kind == 0 ? ' ' : kind == 1 ? 'c' : kind == 2 ? 'M' : '?';
}

/* What a row's function is called on screen. */
static const char *row_label(const Ulma__Wire__Row *r)
{
    if (r->kind == 0 && r->qualname && *r->qualname)
        return r->qualname;
    if (r->name && *r->name)
        return r->name;
    return r->std ? r->std : "?";
}

static int64_t shown_tottime(const Ulma__Wire__Row *r)
{
    return r->tottime_ns + r->open_tottime_ns;
}
static int64_t shown_cumtime(const Ulma__Wire__Row *r)
{
    return r->cumtime_ns + r->open_cumtime_ns;
}

static double row_proc(const Ulma__Wire__Row *r)
{
    double cum = (double)shown_cumtime(r);
    double p = cum > 0 ? 100.0 * (double)shown_tottime(r) / cum : 0.0;
    return p > 100.0 ? 100.0 : p;
}

static double row_imb(const Ulma__Wire__Row *r)
{
    return r->nranks > 1 && r->mean_ns > 0 ? (double)r->max_ns / r->mean_ns : 0.0;
}

static void slowest_text(const Ulma__Wire__Row *r, char *b, size_t n)
{
    if (r->nranks < 2 || r->max_ns <= 0) { /* no spread: nobody is slowest */
        b[0] = '\0';
        return;
    }
    if (r->slowest_rank >= 0)
        snprintf(b, n, "r%d@%s", r->slowest_rank, r->slowest_node ? r->slowest_node : "");
    else
        snprintf(b, n, "%s/%d", r->slowest_node ? r->slowest_node : "", r->slowest_pid);
}

/* ---- function table columns ----------------------------------------------------------- */

enum {
    FC_KIND,
    FC_FUNC,
    FC_NCALLS,
    FC_TOT,
    FC_CUM,
    FC_PCT,
    FC_DESC,
    FC_PROC,
    FC_CALLS_S,
    FC_CPU,
    FC_IMB,
    FC_SLOW,
    FC_FILE,
    FC_N
};

static const tcol_t fcols[FC_N] = {
    [FC_KIND] = {"", 1, 0, 98, 0, 0},
    [FC_FUNC] = {"FUNCTION", 0, 14, 100, 0, 1},
    [FC_NCALLS] = {"NCALLS", 11, 0, 80, 1, 1},
    [FC_TOT] = {"TOTTIME", 9, 0, 88, 1, 1},
    [FC_CUM] = {"CUMTIME", 9, 0, 96, 1, 1},
    [FC_PCT] = {"%", 6, 0, 92, 1, 1},
    [FC_DESC] = {"%DESC", 6, 0, 50, 1, 1},
    [FC_PROC] = {"%PROC", 6, 0, 55, 1, 1},
    [FC_CALLS_S] = {"CALLS/S", 7, 0, 30, 1, 1},
    [FC_CPU] = {"%CPU", 6, 0, 40, 1, 1},
    [FC_IMB] = {"IMB", 5, 0, 70, 1, 1},
    [FC_SLOW] = {"SLOWEST", 12, 0, 60, 0, 0},
    [FC_FILE] = {"FILE:LINE", 0, 14, 20, 0, 1, 1},
};

typedef struct fctx {
    int64_t total_ns; /* the % column's divisor */
    int lost;         /* the scope lost records: numbers marked */
} fctx_t;

static int fcell(const void *item, int col, char *b, size_t n, int width, const void *ctx)
{
    const Ulma__Wire__Row *r = item;
    const fctx_t *c = ctx;
    char tmp[64];
    const char *mark = c->lost ? "!" : "";
    const char *open = r->open_calls ? "*" : "";
    switch (col) {
    case FC_KIND: snprintf(b, n, "%c", kind_mark(r->kind)); return kind_role(r->kind);
    case FC_FUNC: snprintf(b, n, "%s", row_label(r)); return kind_role(r->kind);
    case FC_NCALLS:
        fmt_calls(tmp, sizeof(tmp), r->ncalls, r->pcalls, width - (int)strlen(mark));
        snprintf(b, n, "%s%s", tmp, mark);
        return c->lost ? ROLE_WARN : ROLE_NORMAL;
    case FC_TOT:
    case FC_CUM: {
        int64_t ns = col == FC_TOT ? shown_tottime(r) : shown_cumtime(r);
        int extra = (int)strlen(mark) + (int)strlen(open);
        fmt_sec(tmp, sizeof(tmp), ns, width - extra);
        snprintf(b, n, "%s%s%s", tmp, open, mark);
        return c->lost ? ROLE_WARN : ROLE_NORMAL;
    }
    case FC_PCT:
        fmt_pct(b, n, c->total_ns > 0 ? 100.0 * (double)shown_cumtime(r) / (double)c->total_ns : 0);
        return ROLE_NORMAL;
    case FC_DESC: fmt_pct(b, n, shown_cumtime(r) > 0 ? 100.0 - row_proc(r) : 0); return ROLE_NORMAL;
    case FC_PROC: fmt_pct(b, n, row_proc(r)); return ROLE_NORMAL;
    case FC_CALLS_S: fmt_rate(b, n, r->rate_calls); return ROLE_NORMAL;
    case FC_CPU: fmt_pct(b, n, 100.0 * r->rate_tottime); return ROLE_NORMAL;
    case FC_IMB: {
        double x = row_imb(r);
        if (x > 0)
            snprintf(b, n, "%.2f", x);
        return x >= 1.5 ? ROLE_WARN : ROLE_NORMAL;
    }
    case FC_SLOW: slowest_text(r, b, n); return ROLE_DIM;
    case FC_FILE:
        if (r->kind == 0)
            snprintf(b, n, "%s:%u", r->file ? r->file : "", r->line);
        else
            snprintf(b, n, "%s", r->kind == 2 ? "(MPI)" : "(C)");
        return ROLE_DIM;
    }
    return ROLE_NORMAL;
}

#define CMPD(x, y) ((x) < (y) ? 1 : (x) > (y) ? -1 : 0)

static int fcmp(const void *x, const void *y, int col, const void *ctx)
{
    (void)ctx;
    const Ulma__Wire__Row *a = x, *b = y;
    switch (col) {
    case FC_FUNC: return strcmp(row_label(a), row_label(b));
    case FC_NCALLS: return CMPD(a->ncalls, b->ncalls);
    case FC_TOT: return CMPD(shown_tottime(a), shown_tottime(b));
    case FC_CUM:
    case FC_PCT: return CMPD(shown_cumtime(a), shown_cumtime(b));
    case FC_DESC: return CMPD(100.0 - row_proc(a), 100.0 - row_proc(b));
    case FC_PROC: return CMPD(row_proc(a), row_proc(b));
    case FC_CALLS_S: return CMPD(a->rate_calls, b->rate_calls);
    case FC_CPU: return CMPD(a->rate_tottime, b->rate_tottime);
    case FC_IMB: return CMPD(row_imb(a), row_imb(b));
    case FC_FILE: {
        int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");
        return c ? c : (a->line < b->line ? -1 : a->line > b->line);
    }
    }
    return 0;
}

/* The server's sort key for a column: the rows asked for are the top of
 * the same order (or of cumulative time, for columns only we compute). */
static const char *server_sort(int col)
{
    switch (col) {
    case FC_FUNC: return "name";
    case FC_NCALLS: return "ncalls";
    case FC_TOT: return "tottime";
    case FC_FILE: return "filename";
    default: return "cumulative";
    }
}

static int sort_col_of(const char *name)
{
    static const char *const names[] = {"function", "ncalls",    "tottime", "cumtime",
                                        "pct",      "desc",      "proc",    "calls_s",
                                        "cpu",      "imbalance", "file"};
    static const int cols[] = {FC_FUNC, FC_NCALLS,  FC_TOT, FC_CUM, FC_PCT, FC_DESC,
                               FC_PROC, FC_CALLS_S, FC_CPU, FC_IMB, FC_FILE};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (name && strcmp(name, names[i]) == 0)
            return cols[i];
    return FC_CUM;
}

/* ---- TOP ------------------------------------------------------------------------------ */

typedef struct top_priv {
    int init;
} top_priv_t;

static void top_init(view_t *v, view_env_t *a)
{
    if (!v->priv) {
        v->priv = xcalloc(1, sizeof(top_priv_t));
        v->list.cmp = fcmp;
        v->list.col = sort_col_of(a->o->sort);
    }
}

static void top_fetch(view_t *v, view_env_t *a)
{
    top_init(v, a);
    Ulma__Wire__Query q;
    model_query(&q, ULMA__WIRE__KIND__TOP, &v->scr->t.scope);
    q.sort = (char *)server_sort(v->list.col);
    q.filter = a->filter;
    q.limit = view_want_rows(v, a);
    model_fetch(a->m, &v->feed[0], &q);
}

/* The rows shown: the answer's, the threshold applied, in the list's order. */
static void top_rebuild(view_t *v, view_env_t *a, fctx_t *c)
{
    const Ulma__Wire__Reply *r = feed_ok(&v->feed[0]);
    mlist_clear(&v->list);
    memset(c, 0, sizeof(*c));
    if (!r || !r->table)
        return;
    const Ulma__Wire__Table *t = r->table;
    c->total_ns = t->tottime_ns + t->open_tottime_ns;
    c->lost = t->records_lost > 0;
    for (size_t i = 0; i < t->n_rows; i++) {
        const Ulma__Wire__Row *row = t->rows[i];
        double pct = c->total_ns > 0 ? 100.0 * (double)shown_cumtime(row) / (double)c->total_ns : 0;
        if (a->threshold > 0 && pct < a->threshold)
            continue;
        mlist_add(&v->list, row, row->std);
    }
    mlist_sort(&v->list);
}

static void top_draw(view_t *v, view_env_t *a, canvas_t *cv, int y, int h)
{
    top_init(v, a);
    if (view_no_answer(&v->feed[0], cv, y, h, "functions"))
        return;
    fctx_t c;
    top_rebuild(v, a, &c);
    const Ulma__Wire__Table *t = v->feed[0].reply->table;
    char calls[32], tot[32];
    fmt_count(calls, sizeof(calls), t->calls, 14);
    fmt_sec(tot, sizeof(tot), t->tottime_ns + t->open_tottime_ns, 14);
    int x = canvas_printf(cv, y, 0, ROLE_TITLE, -1, "%u functions", t->total_rows);
    x += canvas_printf(cv, y, x, ROLE_NORMAL, -1, " (%u shown)", v->list.n);
    if (t->records_lost) {
        /* before the rest: it must show on a narrow screen too */
        char lost[32];
        fmt_count(lost, sizeof(lost), t->records_lost, 14);
        x += canvas_printf(cv, y, x, ROLE_WARN, -1, "  %s records lost (! = incomplete)", lost);
    }
    canvas_printf(cv, y, x, ROLE_NORMAL, -1, "  %s calls in %s s  %u process%s", calls, tot,
                  t->processes, t->processes == 1 ? "" : "es");
    view_stale_note(&v->feed[0], cv, y);
    table_spec_t spec = {fcols, FC_N, fcell, &c, v->list.col, v->list.reverse};
    v->visible = table_draw(cv, y + 1, 0, cv->w, h - 1, &spec, &v->list);
    if (!v->list.n && h > 2)
        canvas_put(cv, y + 2, 2, ROLE_DIM,
                   a->filter[0] || a->threshold > 0 ? "no function matches the filter and threshold"
                                                    : "no function profiled yet",
                   -1);
}

static reaction_t top_act(view_t *v, view_env_t *a, action_t act)
{
    top_init(v, a);
    if (act == ACT_ENTER) {
        const Ulma__Wire__Row *r = mlist_selected(&v->list);
        if (!r)
            return RX_NONE;
        view_push(a, SCR_FUNCTION, &v->scr->t, r->std);
        return RX_HANDLED | RX_REFETCH;
    }
    return view_list_act(v, act, fcols, FC_N, a->cv->w);
}

static void top_json(view_t *v, view_env_t *a, jw_t *w)
{
    (void)a;
    static const char *const names[] = {"TOP", NULL};
    view_json_feeds(v, w, names);
}

const view_class_t view_top = {"Top", "top", top_fetch, top_draw, top_act, NULL, top_json, NULL};

/* ---- IMBALANCE -------------------------------------------------------------------------- */

static int imb_cmp(const void *x, const void *y, int col, const void *ctx)
{
    (void)col, (void)ctx;
    return CMPD(shown_cumtime((const Ulma__Wire__Row *)x),
                shown_cumtime((const Ulma__Wire__Row *)y));
}

static void imb_fetch(view_t *v, view_env_t *a)
{
    v->list.cmp = imb_cmp;
    Ulma__Wire__Query q;
    model_query(&q, ULMA__WIRE__KIND__IMBALANCE, &v->scr->t.scope);
    q.filter = a->filter;
    q.limit = a->batch ? (a->o->rows ? a->o->rows : 50) : (uint32_t)(a->cv->h > 8 ? a->cv->h : 8);
    int cells = a->cv->w - 50;
    q.ranks = a->batch ? 64 : (uint32_t)(cells > 8 ? cells : 8);
    model_fetch(a->m, &v->feed[0], &q);
}

static void imb_draw(view_t *v, view_env_t *a, canvas_t *cv, int y, int h)
{
    (void)a;
    v->list.cmp = imb_cmp;
    if (view_no_answer(&v->feed[0], cv, y, h, "imbalance"))
        return;
    const Ulma__Wire__Imbalance *im = v->feed[0].reply->imbalance;
    if (!im) {
        canvas_put(cv, y, 1, ROLE_DIM, "no imbalance in this answer", -1);
        return;
    }
    size_t nr = im->n_ranks;
    mlist_clear(&v->list);
    for (size_t i = 0; i < im->n_rows; i++)
        mlist_add(&v->list, im->rows[i], im->rows[i]->std);
    mlist_sort(&v->list);
    int namew = cv->w / 3 > 40 ? 40 : cv->w / 3 < 12 ? 12 : cv->w / 3;
    int x0 = namew + 1 + 6 + 1 + 12 + 1;
    /* cells as wide as the room allows, up to 4 columns a rank */
    int cellw = 1;
    while (cellw < 4 && nr && (size_t)(cv->w - x0) >= nr * (size_t)(cellw + 1))
        cellw++;
    size_t shown = cv->w > x0 ? (size_t)(cv->w - x0) / (size_t)cellw : 0;
    if (shown > nr)
        shown = nr;
    canvas_printf(cv, y, 0, ROLE_TITLE, -1,
                  "%zu functions x %zu ranks: cumulative time per "
                  "rank, shaded against the function's slowest rank",
                  im->n_rows, nr);
    view_stale_note(&v->feed[0], cv, y);
    int hy = y + 1;
    canvas_fill(cv, hy, 0, cv->w, ROLE_COLHEAD, ' ');
    canvas_put(cv, hy, 0, ROLE_COLHEAD, "FUNCTION", namew);
    canvas_put_right(cv, hy, namew + 1, 6, ROLE_COLHEAD, "IMB");
    canvas_put(cv, hy, namew + 8, ROLE_COLHEAD, "SLOWEST", 12);
    /* rank numbers every few columns */
    for (size_t k = 0; k < shown;) {
        char num[16];
        int len = snprintf(num, sizeof(num), "%d", im->ranks[k]->rank);
        canvas_put(cv, hy, x0 + (int)k * cellw, ROLE_COLHEAD, num, -1);
        size_t step = (size_t)((len + cellw) / cellw);
        k += step;
    }
    int rows = h - 3;
    if (rows < 1)
        return;
    mlist_scroll(&v->list, (uint32_t)rows);
    v->visible = rows;
    int line = 0;
    for (uint32_t i = v->list.top; i < v->list.n && line < rows; i++, line++) {
        const Ulma__Wire__Row *r = v->list.e[i].item;
        size_t ri = 0;
        while (ri < im->n_rows && im->rows[ri] != r)
            ri++;
        int yy = hy + 1 + line;
        char cut[256], buf[64];
        canvas_put(cv, yy, 0, kind_role(r->kind), fit_text(row_label(r), namew, cut, sizeof(cut)),
                   namew);
        double x = row_imb(r);
        snprintf(buf, sizeof(buf), x > 0 ? "%.2f" : "", x);
        canvas_put_right(cv, yy, namew + 1, 6, x >= 1.5 ? ROLE_WARN : ROLE_NORMAL, buf);
        slowest_text(r, buf, sizeof(buf));
        canvas_put(cv, yy, namew + 8, ROLE_DIM, buf, 12);
        int64_t max = 0;
        for (size_t k = 0; k < nr && ri < im->n_rows; k++)
            if (im->cells[ri * nr + k] > max)
                max = im->cells[ri * nr + k];
        for (size_t k = 0; k < shown && ri < im->n_rows; k++) {
            size_t idx = ri * nr + k;
            double val = idx < im->n_cells ? (double)im->cells[idx] : 0;
            uint32_t g = heat_glyph(cv, val, (double)max);
            canvas_fill(cv, yy, x0 + (int)k * cellw, cellw, heat_role(val, (double)max), g);
        }
        if (i == v->list.sel)
            mark_selected(cv, yy, 0, x0 - 1);
    }
    if (line + 3 < h) {
        int ly = hy + 2 + line;
        int lx = canvas_put(cv, ly, 0, ROLE_DIM, "scale: ", -1);
        for (int k = 0; k <= 4; k++) {
            canvas_fill(cv, ly, lx, 2, ROLE_HEAT0 + k, heat_glyph(cv, k, 4));
            lx += 2;
        }
        canvas_put(cv, ly, lx + 1, ROLE_DIM, "0 .. the function's max over ranks", -1);
    }
}

static reaction_t imb_act(view_t *v, view_env_t *a, action_t act)
{
    if (act == ACT_ENTER) {
        const Ulma__Wire__Row *r = mlist_selected(&v->list);
        if (!r)
            return RX_NONE;
        view_push(a, SCR_FUNCTION, &v->scr->t, r->std);
        return RX_HANDLED | RX_REFETCH;
    }
    return view_list_act(v, act, NULL, 0, 0);
}

static void imb_json(view_t *v, view_env_t *a, jw_t *w)
{
    (void)a;
    static const char *const names[] = {"IMBALANCE", NULL};
    view_json_feeds(v, w, names);
}

const view_class_t view_imbalance = {"Imbalance", "imbalance", imb_fetch, imb_draw,
                                     imb_act,     NULL,        imb_json,  NULL};

/* ---- FUNCTION: across ranks --------------------------------------------------------------- */

enum { RC_RANK, RC_NODE, RC_PID, RC_NCALLS, RC_TOT, RC_CUM, RC_BAR, RC_N };
static const tcol_t rcols[RC_N] = {
    [RC_RANK] = {"RANK", 5, 0, 100, 1, 1},
    [RC_NODE] = {"NODE", 0, 6, 60, 0, 1},
    [RC_PID] = {"PID", 8, 0, 70, 1, 1},
    [RC_NCALLS] = {"NCALLS", 11, 0, 50, 1, 1},
    [RC_TOT] = {"TOTTIME", 9, 0, 80, 1, 1},
    [RC_CUM] = {"CUMTIME", 9, 0, 90, 1, 1},
    [RC_BAR] = {"CUMTIME OF THE SLOWEST", 0, 10, 85, 0, 0},
};

typedef struct rctx {
    int64_t max;
    const canvas_t *cv;
} rctx_t;

static int rvcell(const void *item, int col, char *b, size_t n, int width, const void *ctx)
{
    const Ulma__Wire__RankValue *r = item;
    const rctx_t *c = ctx;
    switch (col) {
    case RC_RANK:
        if (r->rank >= 0)
            snprintf(b, n, "%d", r->rank);
        else
            snprintf(b, n, "-");
        break;
    case RC_NODE: snprintf(b, n, "%s", r->node ? r->node : ""); break;
    case RC_PID: snprintf(b, n, "%d", r->pid); break;
    case RC_NCALLS: fmt_count(b, n, r->ncalls, width); break;
    case RC_TOT: fmt_sec(b, n, r->tottime_ns, width); break;
    case RC_CUM: fmt_sec(b, n, r->cumtime_ns, width); break;
    case RC_BAR: {
        /* the bar as text: full blocks, a fractional end */
        double f = c->max > 0 ? (double)r->cumtime_ns / (double)c->max : 0;
        int e = (int)(f * width * 8 + 0.5), k = 0;
        size_t o = 0;
        for (; k < e / 8 && o + 4 < n; k++)
            o += (size_t)snprintf(b + o, n - o, "%s", c->cv->utf8 ? "\xe2\x96\x88" : "#");
        if (e % 8 && o + 4 < n && c->cv->utf8) {
            uint32_t g = 0x2590u - (uint32_t)(e % 8);
            b[o++] = (char)(0xe0 | (g >> 12));
            b[o++] = (char)(0x80 | ((g >> 6) & 0x3f));
            b[o++] = (char)(0x80 | (g & 0x3f));
            b[o] = '\0';
        }
        return ROLE_BAR;
    }
    }
    return ROLE_NORMAL;
}

static int rvcmp(const void *x, const void *y, int col, const void *ctx)
{
    (void)ctx;
    const Ulma__Wire__RankValue *a = x, *b = y;
    switch (col) {
    case RC_RANK: return a->rank < b->rank ? -1 : a->rank > b->rank;
    case RC_NODE: return strcmp(a->node ? a->node : "", b->node ? b->node : "");
    case RC_PID: return a->pid < b->pid ? -1 : a->pid > b->pid;
    case RC_NCALLS: return CMPD(a->ncalls, b->ncalls);
    case RC_TOT: return CMPD(a->tottime_ns, b->tottime_ns);
    default: return CMPD(a->cumtime_ns, b->cumtime_ns);
    }
}

static void function_fetch(view_t *v, view_env_t *a)
{
    Ulma__Wire__Query q;
    model_query(&q, ULMA__WIRE__KIND__FUNCTION, &v->scr->t.scope);
    q.func = v->scr->func;
    q.limit = a->batch ? 100000 : 2000;
    model_fetch(a->m, &v->feed[0], &q);
}

static int rank_key(char *b, size_t n, const char *node, int32_t pid)
{
    return snprintf(b, n, "%s/%010d", node ? node : "", pid);
}

static void franks_draw(view_t *v, view_env_t *a, canvas_t *cv, int y, int h)
{
    (void)a;
    v->list.cmp = rvcmp;
    if (!v->inited) {
        v->list.col = RC_CUM;
        v->inited = 1;
    }
    if (view_no_answer(&v->feed[0], cv, y, h, "function"))
        return;
    const Ulma__Wire__FunctionDetail *fd = v->feed[0].reply->function;
    if (!fd || !fd->row)
        return;
    const Ulma__Wire__Row *r = fd->row;
    char a1[32], a2[32], a3[32], a4[32], a5[32];
    canvas_printf(cv, y, 0, kind_role(r->kind), -1, "%s", r->std);
    view_stale_note(&v->feed[0], cv, y);
    fmt_calls(a1, sizeof(a1), r->ncalls, r->pcalls, 20);
    fmt_sec(a2, sizeof(a2), shown_tottime(r), 14);
    fmt_sec(a3, sizeof(a3), shown_cumtime(r), 14);
    canvas_printf(cv, y + 1, 2, ROLE_NORMAL, -1, "ncalls %s   tottime %s s   cumtime %s s%s", a1,
                  a2, a3, r->open_calls ? "   (* calls still running included)" : "");
    if (r->nranks > 0) {
        fmt_sec(a1, sizeof(a1), r->min_ns, 14);
        fmt_sec(a2, sizeof(a2), (int64_t)r->mean_ns, 14);
        fmt_sec(a3, sizeof(a3), r->max_ns, 14);
        fmt_sec(a4, sizeof(a4), (int64_t)r->std_ns, 14);
        slowest_text(r, a5, sizeof(a5));
        int x = canvas_printf(cv, y + 2, 2, ROLE_NORMAL, -1,
                              "over %u ranks: min %s  mean %s  max %s  std %s s", r->nranks, a1, a2,
                              a3, a4);
        double imb = row_imb(r);
        if (imb > 0)
            canvas_printf(cv, y + 2, 2 + x + 2, imb >= 1.5 ? ROLE_WARN : ROLE_NORMAL, -1,
                          "max/mean %.2f  slowest %s (pid %d)", imb, a5, r->slowest_pid);
    }
    /* the heat strip: one cell per rank, in rank order */
    size_t n = fd->n_ranks;
    int64_t max = 0;
    for (size_t i = 0; i < n; i++)
        if (fd->ranks[i]->cumtime_ns > max)
            max = fd->ranks[i]->cumtime_ns;
    const Ulma__Wire__RankValue **byrank = xmalloc(sizeof(*byrank) * (n + 1));
    for (size_t i = 0; i < n; i++)
        byrank[i] = fd->ranks[i];
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && rvcmp(byrank[j - 1], byrank[j], RC_RANK, NULL) > 0; j--) {
            const Ulma__Wire__RankValue *t = byrank[j];
            byrank[j] = byrank[j - 1];
            byrank[j - 1] = t;
        }
    int sx = canvas_put(cv, y + 3, 2, ROLE_DIM, "ranks: ", -1) + 2;
    for (size_t i = 0; i < n && sx < cv->w; i++, sx++)
        canvas_fill(cv, y + 3, sx, 1, heat_role((double)byrank[i]->cumtime_ns, (double)max),
                    heat_glyph(cv, (double)byrank[i]->cumtime_ns, (double)max));
    free(byrank);
    mlist_clear(&v->list);
    for (size_t i = 0; i < n; i++) {
        char key[300];
        rank_key(key, sizeof(key), fd->ranks[i]->node, fd->ranks[i]->pid);
        mlist_add(&v->list, fd->ranks[i], key);
    }
    mlist_sort(&v->list);
    rctx_t c = {max, cv};
    table_spec_t spec = {rcols, RC_N, rvcell, &c, v->list.col, v->list.reverse};
    v->visible = table_draw(cv, y + 5, 0, cv->w, h - 5, &spec, &v->list);
}

static int franks_target(view_t *v, view_env_t *a, target_t *t)
{
    (void)a;
    const Ulma__Wire__RankValue *r = mlist_selected(&v->list);
    if (!r)
        return 0;
    target_rank(t, r->node, r->pid, 0, r->rank, NULL);
    return 1;
}

static reaction_t franks_act(view_t *v, view_env_t *a, action_t act)
{
    if (act == ACT_ENTER) {
        target_t t;
        if (!franks_target(v, a, &t))
            return RX_NONE;
        view_push(a, SCR_RANK, &t, NULL);
        return RX_HANDLED | RX_REFETCH;
    }
    return view_list_act(v, act, rcols, RC_N, a->cv->w);
}

static void function_json(view_t *v, view_env_t *a, jw_t *w)
{
    (void)a;
    static const char *const names[] = {"FUNCTION", NULL};
    view_json_feeds(v, w, names);
}

const view_class_t view_franks = {"Ranks",    "ranks",       function_fetch, franks_draw,
                                  franks_act, franks_target, function_json,  NULL};

/* ---- FUNCTION: callers and callees ------------------------------------------------------ */

typedef struct edge_item {
    const Ulma__Wire__Edge *e;
    int callee;
} edge_item_t;

typedef struct edges_priv {
    edge_item_t *items;
    size_t n;
} edges_priv_t;

static void edges_destroy(view_t *v)
{
    edges_priv_t *p = v->priv;
    if (p)
        free(p->items);
}

static void edges_draw(view_t *v, view_env_t *a, canvas_t *cv, int y, int h)
{
    (void)a;
    if (view_no_answer(&v->feed[0], cv, y, h, "function"))
        return;
    const Ulma__Wire__FunctionDetail *fd = v->feed[0].reply->function;
    if (!fd)
        return;
    if (!v->priv)
        v->priv = xcalloc(1, sizeof(edges_priv_t));
    edges_priv_t *p = v->priv;
    free(p->items);
    p->n = fd->n_callers + fd->n_callees;
    p->items = xcalloc(p->n + 1, sizeof(*p->items));
    mlist_clear(&v->list);
    size_t k = 0;
    for (size_t i = 0; i < fd->n_callers; i++, k++) {
        p->items[k].e = fd->callers[i];
        char key[1200];
        snprintf(key, sizeof(key), "0 %s", fd->callers[i]->std);
        mlist_add(&v->list, &p->items[k], key);
    }
    for (size_t i = 0; i < fd->n_callees; i++, k++) {
        p->items[k].e = fd->callees[i];
        p->items[k].callee = 1;
        char key[1200];
        snprintf(key, sizeof(key), "1 %s", fd->callees[i]->std);
        mlist_add(&v->list, &p->items[k], key);
    }
    /* no sort: callers first, then callees, each the most cumulative time
     * first as answered (a stable insertion order) */
    if (v->list.sel_key)
        mlist_select_key(&v->list, v->list.sel_key);
    if (v->list.sel >= v->list.n)
        v->list.sel = v->list.n ? v->list.n - 1 : 0;
    canvas_printf(cv, y, 0, kind_role(fd->row ? fd->row->kind : 0), -1, "%s",
                  fd->row ? fd->row->std : v->scr->func);
    view_stale_note(&v->feed[0], cv, y);
    canvas_fill(cv, y + 1, 0, cv->w, ROLE_COLHEAD, ' ');
    canvas_put(cv, y + 1, 0, ROLE_COLHEAD, "     NCALLS   TOTTIME   CUMTIME  FUNCTION", -1);
    int rows = h - 2;
    if (rows < 1)
        return;
    /* lines: a title line before each side */
    int line = 0, yy = y + 2;
    v->visible = rows - 2;
    mlist_scroll(&v->list, (uint32_t)(rows > 2 ? rows - 2 : 1));
    int side = -1;
    for (uint32_t i = v->list.top; i < v->list.n && line < rows; i++) {
        const edge_item_t *it = v->list.e[i].item;
        if (it->callee != side) {
            side = it->callee;
            canvas_printf(cv, yy + line++, 0, ROLE_TITLE, -1, "%s",
                          side ? "calls (callees):" : "called by (callers):");
            if (line >= rows)
                break;
        }
        char c[32], t1[32], t2[32];
        fmt_calls(c, sizeof(c), it->e->ncalls, it->e->pcalls, 11);
        fmt_sec(t1, sizeof(t1), it->e->tottime_ns, 9);
        fmt_sec(t2, sizeof(t2), it->e->cumtime_ns, 9);
        canvas_printf(cv, yy + line, 0, ROLE_NORMAL, -1, "%11s %9s %9s  %s %s", c, t1, t2,
                      side ? "->" : "<-", it->e->std);
        if (i == v->list.sel)
            mark_selected(cv, yy + line, 0, cv->w);
        line++;
    }
    if (!fd->n_callers && !fd->n_callees)
        canvas_put(cv, yy, 2, ROLE_DIM, "no callers or callees recorded", -1);
}

static reaction_t edges_act(view_t *v, view_env_t *a, action_t act)
{
    if (act == ACT_ENTER) {
        const edge_item_t *it = mlist_selected(&v->list);
        if (!it)
            return RX_NONE;
        view_push(a, SCR_FUNCTION, &v->scr->t, it->e->std);
        return RX_HANDLED | RX_REFETCH;
    }
    return view_list_act(v, act, NULL, 0, 0);
}

const view_class_t view_edges = {"Callers/callees", "callers", function_fetch, edges_draw,
                                 edges_act,         NULL,      function_json,  edges_destroy};

/* ---- PATHS ------------------------------------------------------------------------------ */

typedef struct path_item {
    const Ulma__Wire__Path *p;
    char *text; /* root -> ... -> this */
    int contains;
} path_item_t;

typedef struct paths_priv {
    path_item_t *items;
    size_t n;
} paths_priv_t;

static void paths_destroy(view_t *v)
{
    paths_priv_t *p = v->priv;
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].text);
    free(p->items);
}

static void paths_fetch(view_t *v, view_env_t *a)
{
    Ulma__Wire__Query q;
    model_query(&q, ULMA__WIRE__KIND__PATHS, &v->scr->t.scope);
    q.limit = a->batch ? 100000 : 5000;
    model_fetch(a->m, &v->feed[0], &q);
}

static int path_cmp(const void *x, const void *y, int col, const void *ctx)
{
    (void)col, (void)ctx;
    const path_item_t *a = x, *b = y;
    return CMPD(a->p->cumtime_ns, b->p->cumtime_ns);
}

/* Short label of a standard name: its function name. */
static const char *std_short(const char *std, char *b, size_t n)
{
    const char *open = strrchr(std, '(');
    if (open && std[strlen(std) - 1] == ')' && open[1] != ')') {
        snprintf(b, n, "%.*s", (int)(strlen(open) - 2), open + 1);
        return b;
    }
    snprintf(b, n, "%s", std);
    return b;
}

static void paths_draw(view_t *v, view_env_t *a, canvas_t *cv, int y, int h)
{
    (void)a;
    v->list.cmp = path_cmp;
    if (view_no_answer(&v->feed[0], cv, y, h, "call paths"))
        return;
    const Ulma__Wire__Reply *r = v->feed[0].reply;
    if (!v->priv)
        v->priv = xcalloc(1, sizeof(paths_priv_t));
    paths_priv_t *pp = v->priv;
    paths_destroy(v);
    pp->items = xcalloc(r->n_paths + 1, sizeof(*pp->items));
    pp->n = r->n_paths;
    mlist_clear(&v->list);
    for (size_t i = 0; i < r->n_paths; i++) {
        const Ulma__Wire__Path *p = r->paths[i];
        pp->items[i].p = p;
        /* walk to the root through parents (bounded: a malformed answer
         * must not loop) */
        const Ulma__Wire__Path *chain[64];
        int depth = 0;
        const Ulma__Wire__Path *cur = p;
        while (cur && depth < 64) {
            chain[depth++] = cur;
            const Ulma__Wire__Path *par = NULL;
            for (size_t k = 0; cur->parent && k < r->n_paths; k++)
                if (r->paths[k]->id == cur->parent) {
                    par = r->paths[k];
                    break;
                }
            cur = par;
        }
        if (strcmp(p->std, v->scr->func) != 0)
            continue; /* the paths that end in the function */
        sbuf_t b = {0};
        if (cur)
            sbuf_adds(&b, "... ");
        for (int k = depth - 1; k >= 0; k--) {
            char s[512];
            sbuf_printf(&b, "%s%s", std_short(chain[k]->std, s, sizeof(s)), k ? " > " : "");
        }
        pp->items[i].text = b.data ? b.data : xstrdup("");
        char key[32];
        snprintf(key, sizeof(key), "%010u", p->id);
        mlist_add(&v->list, &pp->items[i], key);
    }
    mlist_sort(&v->list);
    canvas_printf(cv, y, 0, ROLE_TITLE, -1, "%u call paths end in %s (of %zu paths answered)",
                  v->list.n, v->scr->func, r->n_paths);
    view_stale_note(&v->feed[0], cv, y);
    canvas_fill(cv, y + 1, 0, cv->w, ROLE_COLHEAD, ' ');
    canvas_put(cv, y + 1, 0, ROLE_COLHEAD, "      COUNT   TOTTIME   CUMTIME  PATH", -1);
    int rows = h - 2;
    if (rows < 1)
        return;
    mlist_scroll(&v->list, (uint32_t)rows);
    v->visible = rows;
    for (int line = 0; line < rows && v->list.top + (uint32_t)line < v->list.n; line++) {
        uint32_t i = v->list.top + (uint32_t)line;
        const path_item_t *it = v->list.e[i].item;
        char c[32], t1[32], t2[32];
        fmt_count(c, sizeof(c), it->p->count, 11);
        fmt_sec(t1, sizeof(t1), it->p->tottime_ns, 9);
        fmt_sec(t2, sizeof(t2), it->p->cumtime_ns, 9);
        int x = canvas_printf(cv, y + 2 + line, 0, ROLE_NORMAL, -1, "%11s %9s %9s  ", c, t1, t2);
        /* a long path is cut on the left: its end is the interesting part */
        const char *t = it->text;
        int tw = canvas_text_width(t), room = cv->w - x;
        while (tw > room && *t) {
            t++;
            while ((*t & 0xc0) == 0x80)
                t++;
            tw = canvas_text_width(t);
        }
        canvas_put(cv, y + 2 + line, x, ROLE_NORMAL, t, -1);
        if (i == v->list.sel)
            mark_selected(cv, y + 2 + line, 0, cv->w);
    }
}

static reaction_t paths_act(view_t *v, view_env_t *a, action_t act)
{
    (void)a;
    return view_list_act(v, act, NULL, 0, 0);
}

static void paths_json(view_t *v, view_env_t *a, jw_t *w)
{
    (void)a;
    static const char *const names[] = {"PATHS", NULL};
    view_json_feeds(v, w, names);
}

const view_class_t view_paths = {"Paths",   "paths", paths_fetch, paths_draw,
                                 paths_act, NULL,    paths_json,  paths_destroy};
