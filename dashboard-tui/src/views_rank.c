/* views_rank.c - one process seen closely: its threads and their live
 * call stacks (the "algae" view), object statistics as bars ("barmem"),
 * MPI time, and its most recent object constructions ("nova"). */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "views.h"

/* ---- STACKS ------------------------------------------------------------------------------ */

typedef struct threads_priv {
    int zoom; /* one thread's whole stack */
} threads_priv_t;

static void threads_fetch(view_t *v, view_env_t *a)
{
    (void)a;
    Ulma__Wire__Query q;
    model_query(&q, ULMA__WIRE__KIND__STACKS, &v->scr->t.scope);
    q.frames = 256;
    model_fetch(a->m, &v->feed[0], &q);
}

/* Draw one thread's header and stack from line y; returns lines used. */
static int thread_draw(canvas_t *cv, const Ulma__Wire__Thread *t, int y, int h, int selected,
                       int all)
{
    if (h <= 0)
        return 0;
    char ev[32], lost[32];
    fmt_count(ev, sizeof(ev), t->events, 12);
    fmt_count(lost, sizeof(lost), t->records_lost, 12);
    int x = canvas_printf(cv, y, 0, selected ? ROLE_SELECTED : ROLE_TITLE, -1, "thread %d %s",
                          t->tid, t->name ? t->name : "");
    x += canvas_printf(cv, y, x, ROLE_DIM, -1, "  %s  %s events  depth %u%s",
                       t->ended       ? "ended"
                       : t->mode == 0 ? "off"
                       : t->mode == 2 ? "full"
                                      : "fast",
                       ev, t->depth, t->n_stack < t->depth ? " (innermost shown)" : "");
    if (t->records_lost)
        canvas_printf(cv, y, x, ROLE_WARN, -1, "  %s records lost!", lost);
    if (selected)
        canvas_set_role(cv, y, 0, x, ROLE_SELECTED);
    int used = 1;
    size_t n = t->n_stack;
    if (!n) {
        if (h > 1)
            canvas_put(cv, y + 1, 4, ROLE_DIM, t->ended ? "(ended)" : "(no frame: idle or off)",
                       -1);
        return h > 1 ? 2 : 1;
    }
    /* outermost first, innermost last and deepest; a bar of time in frame
     * against the outermost frame's */
    int64_t max = 1;
    for (size_t i = 0; i < n; i++)
        if (t->stack[i]->for_ns > max)
            max = t->stack[i]->for_ns;
    size_t rows = (size_t)(h - 1);
    size_t from = 0; /* index into outermost-first order */
    if (!all && n > rows)
        from = n - rows; /* the innermost frames matter most */
    else if (n > rows)
        from = n - rows;
    int barw = cv->w / 6 > 20 ? 20 : cv->w / 6;
    for (size_t k = from; k < n && used < h; k++) {
        const Ulma__Wire__Frame *f = t->stack[n - 1 - k];
        char s[32];
        fmt_sec(s, sizeof(s), f->for_ns, 9);
        int yy = y + used;
        canvas_printf(cv, yy, 2, ROLE_NORMAL, -1, "%9s ", s);
        canvas_bar(cv, yy, 12, barw, (double)f->for_ns / (double)max, ROLE_BAR);
        int indent = (int)(k - from) * 2;
        if (indent > cv->w / 3)
            indent = cv->w / 3;
        canvas_printf(cv, yy, 13 + barw + indent, k + 1 == n ? ROLE_TITLE : ROLE_NORMAL, -1, "%s",
                      f->std ? f->std : "?");
        used++;
    }
    return used;
}

static void threads_draw(view_t *v, view_env_t *a, canvas_t *cv, int y, int h)
{
    (void)a;
    if (view_no_answer(&v->feed[0], cv, y, h, "threads"))
        return;
    if (!v->priv)
        v->priv = xcalloc(1, sizeof(threads_priv_t));
    threads_priv_t *p = v->priv;
    const Ulma__Wire__Reply *r = v->feed[0].reply;
    mlist_clear(&v->list);
    for (size_t i = 0; i < r->n_threads; i++) {
        char key[32];
        snprintf(key, sizeof(key), "%012d", r->threads[i]->tid);
        mlist_add(&v->list, r->threads[i], key);
    }
    mlist_sort(&v->list);
    canvas_printf(cv, y, 0, ROLE_TITLE, -1, "%zu threads: live call stacks%s", r->n_threads,
                  p->zoom ? " (one thread: Esc for all)" : " (Enter: one thread's whole stack)");
    view_stale_note(&v->feed[0], cv, y);
    int line = 1;
    if (p->zoom) {
        const Ulma__Wire__Thread *t = mlist_selected(&v->list);
        if (t)
            thread_draw(cv, t, y + 1, h - 1, 0, 1);
        v->visible = 1;
        return;
    }
    /* every thread from the selected one on (the others above it scroll off) */
    uint32_t first = v->list.sel;
    uint32_t nt = v->list.n;
    int share = nt ? (h - 1) / (int)(nt - first > 0 ? nt - first : 1) : h - 1;
    if (share < 3)
        share = 3;
    for (uint32_t i = first; i < nt && line < h; i++) {
        int room = h - line;
        int lim = i + 1 == nt ? room : (share < room ? share : room);
        line += thread_draw(cv, v->list.e[i].item, y + line, lim, i == v->list.sel, 0);
    }
    v->visible = 1;
}

static reaction_t threads_act(view_t *v, view_env_t *a, action_t act)
{
    (void)a;
    threads_priv_t *p = v->priv;
    if (act == ACT_ENTER && p && !p->zoom && v->list.n) {
        p->zoom = 1;
        return RX_HANDLED | RX_REDRAW;
    }
    if (act == ACT_BACK && p && p->zoom) {
        p->zoom = 0;
        return RX_HANDLED | RX_REDRAW;
    }
    return view_list_act(v, act, NULL, 0, 0);
}

static void threads_json(view_t *v, view_env_t *a, jw_t *w)
{
    (void)a;
    static const char *const names[] = {"STACKS", NULL};
    view_json_feeds(v, w, names);
}

const view_class_t view_threads = {"Threads",   "threads", threads_fetch, threads_draw,
                                   threads_act, NULL,      threads_json,  NULL};

/* ---- OBJECTS ------------------------------------------------------------------------------- */

/* v against max on a log scale: counts of types differ by orders of
 * magnitude (ints against a program's own classes) */
static double logf_(uint64_t v, uint64_t max)
{
    return max > 0 && v > 0 ? log1p((double)v) / log1p((double)max) : 0.0;
}

static void objects_fetch(view_t *v, view_env_t *a)
{
    Ulma__Wire__Query q;
    model_query(&q, ULMA__WIRE__KIND__OBJECTS, &v->scr->t.scope);
    q.limit = a->batch ? 1000 : 200;
    model_fetch(a->m, &v->feed[0], &q);
}

static void objects_draw(view_t *v, view_env_t *a, canvas_t *cv, int y, int h)
{
    (void)a;
    if (view_no_answer(&v->feed[0], cv, y, h, "objects"))
        return;
    const Ulma__Wire__Objects *o = v->feed[0].reply->objects;
    size_t nt = o ? o->n_types : 0, ns = o ? o->n_sites : 0;
    if (!nt && !ns) {
        canvas_put(cv, y, 1, ROLE_DIM,
                   "no object statistics: the object wedges are off (p, then F or U, switches "
                   "them on for a rank)",
                   -1);
        return;
    }
    uint64_t max = 1;
    for (size_t i = 0; i < nt; i++) {
        if (o->types[i]->news > max)
            max = o->types[i]->news;
        if (o->types[i]->live > max)
            max = o->types[i]->live;
    }
    int namew = cv->w / 4 > 30 ? 30 : cv->w / 4 < 10 ? 10 : cv->w / 4;
    int barw = (cv->w - namew - 3 * 9 - 4) / 3;
    if (barw < 4)
        barw = 4;
    canvas_printf(cv, y, 0, ROLE_TITLE, -1,
                  "%zu object types: constructions, destructions, live (bars: log scale)", nt);
    view_stale_note(&v->feed[0], cv, y);
    int hy = y + 1;
    canvas_fill(cv, hy, 0, cv->w, ROLE_COLHEAD, ' ');
    canvas_put(cv, hy, 0, ROLE_COLHEAD, "TYPE", namew);
    int c1 = namew + 1, c2 = c1 + 9 + barw + 1, c3 = c2 + 9 + barw + 1;
    canvas_put(cv, hy, c1, ROLE_COLHEAD, "NEW", -1);
    canvas_put(cv, hy, c2, ROLE_COLHEAD, "FREED", -1);
    canvas_put(cv, hy, c3, ROLE_COLHEAD, "LIVE", -1);
    int typerows = ns ? (h - 3) / 2 : h - 2;
    if (typerows < 1)
        typerows = 1;
    int line = 0;
    for (size_t i = 0; i < nt && line < typerows; i++, line++) {
        const Ulma__Wire__ObjectType *t = o->types[i];
        int yy = hy + 1 + line;
        char cut[256], num[32];
        canvas_put(cv, yy, 0, type_role(t->name), fit_text(t->name, namew, cut, sizeof(cut)),
                   namew);
        fmt_count(num, sizeof(num), t->news, 8);
        canvas_put_right(cv, yy, c1, 8, ROLE_NORMAL, num);
        canvas_bar(cv, yy, c1 + 9, barw, logf_(t->news, max), ROLE_BAR);
        fmt_count(num, sizeof(num), t->frees, 8);
        canvas_put_right(cv, yy, c2, 8, ROLE_NORMAL, num);
        canvas_bar(cv, yy, c2 + 9, barw, logf_(t->frees, max), ROLE_BAR2);
        fmt_count(num, sizeof(num), t->live, 8);
        canvas_put_right(cv, yy, c3, 8, ROLE_NORMAL, num);
        canvas_bar(cv, yy, c3 + 9, barw, logf_(t->live, max), ROLE_BAR3);
    }
    if (!ns)
        return;
    int sy = hy + 2 + line;
    if (sy >= y + h)
        return;
    uint64_t smax = 1;
    for (size_t i = 0; i < ns; i++)
        if (o->sites[i]->count > smax)
            smax = o->sites[i]->count;
    canvas_printf(cv, sy, 0, ROLE_TITLE, -1, "constructions per constructing function");
    canvas_fill(cv, sy + 1, 0, cv->w, ROLE_COLHEAD, ' ');
    canvas_put(cv, sy + 1, 0, ROLE_COLHEAD, "    COUNT     BYTES  TYPE", -1);
    int fx = 27 + namew;
    canvas_put(cv, sy + 1, fx, ROLE_COLHEAD, "FUNCTION", -1);
    int rows = y + h - (sy + 2);
    for (int k = 0; k < rows && (size_t)k < ns; k++) {
        const Ulma__Wire__ObjectSite *s = o->sites[k];
        int yy = sy + 2 + k;
        char num[32], by[32], cut[256];
        fmt_count(num, sizeof(num), s->count, 9);
        fmt_bytes(by, sizeof(by), s->bytes);
        canvas_printf(cv, yy, 0, ROLE_NORMAL, -1, "%9s %9s  ", num, by);
        canvas_put(cv, yy, 21, type_role(s->type), fit_text(s->type, namew, cut, sizeof(cut)),
                   namew);
        int bw = 5;
        canvas_bar(cv, yy, 21 + namew, bw, logf_(s->count, smax), type_role(s->type));
        canvas_put(cv, yy, fx, ROLE_DIM, s->std ? s->std : "", -1);
    }
}

static reaction_t objects_act(view_t *v, view_env_t *a, action_t act)
{
    (void)v, (void)a, (void)act;
    return RX_NONE;
}

static void objects_json(view_t *v, view_env_t *a, jw_t *w)
{
    (void)a;
    static const char *const names[] = {"OBJECTS", NULL};
    view_json_feeds(v, w, names);
}

const view_class_t view_objects = {"Objects",   "objects", objects_fetch, objects_draw,
                                   objects_act, NULL,      objects_json,  NULL};

/* ---- MPI ---------------------------------------------------------------------------------- */

static void mpi_fetch(view_t *v, view_env_t *a)
{
    Ulma__Wire__Query q;
    model_query(&q, ULMA__WIRE__KIND__MPI, &v->scr->t.scope);
    q.limit = 100000;
    model_fetch(a->m, &v->feed[0], &q);
}

static void mpi_draw(view_t *v, view_env_t *a, canvas_t *cv, int y, int h)
{
    (void)a;
    if (view_no_answer(&v->feed[0], cv, y, h, "MPI"))
        return;
    const Ulma__Wire__Reply *r = v->feed[0].reply;
    int64_t total = 0, max = 1;
    for (size_t i = 0; i < r->n_mpi; i++) {
        total += r->mpi[i]->time_ns;
        if (r->mpi[i]->time_ns > max)
            max = r->mpi[i]->time_ns;
    }
    char tt[32];
    fmt_sec(tt, sizeof(tt), total, 12);
    canvas_printf(cv, y, 0, ROLE_TITLE, -1, "%zu MPI calls, %s s in MPI", r->n_mpi, tt);
    view_stale_note(&v->feed[0], cv, y);
    if (!r->n_mpi) {
        canvas_put(cv, y + 1, 2, ROLE_DIM,
                   "no MPI call recorded (not an MPI program, or its "
                   "MPI library is not the one wrapped)",
                   -1);
    }
    int line = 1;
    if (r->n_mpi) {
        canvas_fill(cv, y + line, 0, cv->w, ROLE_COLHEAD, ' ');
        canvas_put(cv, y + line++, 0, ROLE_COLHEAD,
                   "CALL                       CALLS      TIME     BYTES  SHARE", -1);
    }
    int barw = cv->w - 60 > 40 ? 40 : cv->w - 60;
    int half = r->n_mpi_ranks ? (h - 2) / 2 : h - 2;
    for (size_t i = 0; i < r->n_mpi && line < half + 1; i++, line++) {
        const Ulma__Wire__MpiRow *m = r->mpi[i];
        char c[32], t[32], b[32];
        fmt_count(c, sizeof(c), m->calls, 9);
        fmt_sec(t, sizeof(t), m->time_ns, 9);
        fmt_bytes(b, sizeof(b), m->bytes);
        canvas_printf(cv, y + line, 0, ROLE_MPI, 24, "%s", m->name ? m->name : "");
        canvas_printf(cv, y + line, 24, ROLE_NORMAL, -1, "%10s %9s %9s  ", c, t, b);
        if (barw > 2)
            canvas_bar(cv, y + line, 60, barw, (double)m->time_ns / (double)max, ROLE_MPI);
    }
    if (!r->n_mpi_ranks || line + 2 >= h || v->scr->t.scope.level == ULMA__WIRE__SCOPE__LEVEL__RANK)
        return;
    line++;
    canvas_put(cv, y + line++, 0, ROLE_TITLE, "time in MPI per rank", -1);
    canvas_fill(cv, y + line, 0, cv->w, ROLE_COLHEAD, ' ');
    canvas_put(cv, y + line++, 0, ROLE_COLHEAD, " RANK NODE             PID   %MPI  TOP CALL", -1);
    for (size_t i = 0; i < r->n_mpi_ranks && line < h; i++, line++) {
        const Ulma__Wire__MpiRank *k = r->mpi_ranks[i];
        double pct = k->total_ns > 0 ? 100.0 * (double)k->mpi_ns / (double)k->total_ns : 0;
        char rk[16];
        snprintf(rk, sizeof(rk), k->rank >= 0 ? "%d" : "-", k->rank);
        canvas_printf(cv, y + line, 0, ROLE_NORMAL, -1, "%5s %-12.12s %8d %6.1f  %-16.16s", rk,
                      k->node ? k->node : "", k->pid, pct, k->top_call ? k->top_call : "");
        if (barw > 2)
            canvas_bar(cv, y + line, 60, barw, pct / 100.0, ROLE_MPI);
    }
}

static reaction_t mpi_act(view_t *v, view_env_t *a, action_t act)
{
    (void)v, (void)a, (void)act;
    return RX_NONE;
}

static void mpi_json(view_t *v, view_env_t *a, jw_t *w)
{
    (void)a;
    static const char *const names[] = {"MPI", NULL};
    view_json_feeds(v, w, names);
}

const view_class_t view_mpi = {"MPI", "mpi", mpi_fetch, mpi_draw, mpi_act, NULL, mpi_json, NULL};

/* ---- RECENT (nova) --------------------------------------------------------------------------- */

static void nova_fetch(view_t *v, view_env_t *a)
{
    Ulma__Wire__Query q;
    model_query(&q, ULMA__WIRE__KIND__RECENT, &v->scr->t.scope);
    q.limit = 2000;
    model_fetch(a->m, &v->feed[0], &q);
}

static void nova_draw(view_t *v, view_env_t *a, canvas_t *cv, int y, int h)
{
    (void)a;
    const feed_t *f = &v->feed[0];
    if (!feed_ok(f)) {
        if (f->reply && !f->reply->ok) {
            canvas_put(cv, y, 1, ROLE_TITLE, "recent object constructions: not available here", -1);
            canvas_printf(cv, y + 1, 3, ROLE_DIM, -1, "the source answered: %s", f->error);
            canvas_put(cv, y + 3, 3, ROLE_DIM,
                       "(the object counts are in the Objects tab; this view needs a source "
                       "that keeps a window of recent constructions)",
                       -1);
            return;
        }
        view_no_answer(f, cv, y, h, "recent objects");
        return;
    }
    const Ulma__Wire__Objects *o = f->reply->objects;
    size_t n = o ? o->n_recent : 0;
    canvas_printf(cv, y, 0, ROLE_TITLE, -1,
                  "%zu recent object constructions: one mark per object, oldest at the left, "
                  "newest at the right, height by size",
                  n);
    view_stale_note(f, cv, y);
    if (!n || h < 4)
        return;
    /* the strip spans the constructions answered: the oldest at the left,
     * the newest at the right (a program that made nothing lately still
     * shows its last ones spread out) */
    int64_t oldest = o->recent[0]->ago_ns, newest = o->recent[0]->ago_ns;
    uint64_t maxsize = 1;
    for (size_t i = 0; i < n; i++) {
        if (o->recent[i]->ago_ns > oldest)
            oldest = o->recent[i]->ago_ns;
        if (o->recent[i]->ago_ns < newest)
            newest = o->recent[i]->ago_ns;
        if (o->recent[i]->size > maxsize)
            maxsize = o->recent[i]->size;
    }
    int64_t span = oldest - newest > 0 ? oldest - newest : 1;
    int strip = h - 6 > 12 ? 12 : h - 6;
    if (strip < 2)
        strip = 2;
    int w = cv->w - 2;
    int base = y + 1 + strip; /* the bottom line of the strip */
    double lmax = log2((double)maxsize + 1);
    for (size_t i = 0; i < n; i++) {
        const Ulma__Wire__RecentObject *e = o->recent[i];
        int x = 1 + (int)((double)(oldest - e->ago_ns) / (double)span * (w - 1));
        int len = 1 + (int)(log2((double)e->size + 1) / (lmax > 0 ? lmax : 1) * (strip - 1));
        int role = type_role(e->type);
        for (int k = 0; k < len; k++)
            canvas_fill(cv, base - k, x, 1, role, canvas_glyph(cv, GLYPH_BLOCK));
        /* without colours the type shows as its initial at the top */
        char ini[2] = {e->type && e->type[0] ? e->type[0] : '?', 0};
        canvas_put(cv, base - len + 1, x, role, ini, 1);
    }
    canvas_fill(cv, base + 1, 1, w, ROLE_DIM, canvas_glyph(cv, GLYPH_HLINE));
    /* the strip's span: objects come fast, so it is often milliseconds */
    char ago[32], last[64];
    if (span < 1000000000)
        snprintf(ago, sizeof(ago), "%.3g ms", (double)span / 1e6);
    else
        fmt_age(ago, sizeof(ago), (double)span / 1e9);
    canvas_printf(cv, base + 2, 1, ROLE_DIM, -1, "<- %s ->", ago);
    fmt_age(ago, sizeof(ago), (double)newest / 1e9);
    snprintf(last, sizeof(last), "newest %s ago", ago);
    canvas_put_right(cv, base + 2, 1, w, ROLE_DIM, last);
    /* legend: the types seen, with their counts */
    int ly = base + 3, lx = 1;
    const char *seen[64];
    int counts[64], ns = 0;
    for (size_t i = 0; i < n; i++) {
        int k = 0;
        while (k < ns && strcmp(seen[k], o->recent[i]->type ? o->recent[i]->type : "") != 0)
            k++;
        if (k == ns && ns < 64) {
            seen[ns] = o->recent[i]->type ? o->recent[i]->type : "";
            counts[ns++] = 0;
        }
        if (k < 64)
            counts[k]++;
    }
    for (int k = 0; k < ns && ly < y + h; k++) {
        char item[300];
        snprintf(item, sizeof(item), "%s %d", seen[k], counts[k]);
        int iw = canvas_text_width(item) + 3;
        if (lx + iw >= cv->w) {
            ly++;
            lx = 1;
            if (ly >= y + h)
                break;
        }
        canvas_fill(cv, ly, lx, 1, type_role(seen[k]), canvas_glyph(cv, GLYPH_BLOCK));
        canvas_put(cv, ly, lx + 2, ROLE_NORMAL, item, -1);
        lx += iw;
    }
}

static reaction_t nova_act(view_t *v, view_env_t *a, action_t act)
{
    (void)v, (void)a, (void)act;
    return RX_NONE;
}

static void nova_json(view_t *v, view_env_t *a, jw_t *w)
{
    (void)a;
    static const char *const names[] = {"RECENT", NULL};
    view_json_feeds(v, w, names);
}

const view_class_t view_nova = {"Nova",   "nova", nova_fetch, nova_draw,
                                nova_act, NULL,   nova_json,  NULL};
