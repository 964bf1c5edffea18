/* model.c - feeds, the connection's state, the header's figures, lists. */
#define _GNU_SOURCE
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/util.h"

void feed_free(feed_t *f)
{
    if (f->reply)
        protobuf_c_message_free_unpacked(&f->reply->base, NULL);
    memset(f, 0, sizeof(*f));
}

const Ulma__Wire__Reply *feed_ok(const feed_t *f)
{
    return f->reply && f->reply->ok ? f->reply : NULL;
}

model_t *model_new(model_ask_fn ask, void *ctx, int timeout_ms, uint32_t window)
{
    model_t *m = xcalloc(1, sizeof(*m));
    m->ask = ask;
    m->ctx = ctx;
    m->timeout_ms = timeout_ms;
    m->window = window;
    m->up = 1;
    return m;
}

void model_destroy(model_t **m_p)
{
    if (!m_p || !*m_p)
        return;
    feed_free(&(*m_p)->summary);
    free(*m_p);
    *m_p = NULL;
}

void model_query(Ulma__Wire__Query *q, Ulma__Wire__Kind kind, Ulma__Wire__Scope *scope)
{
    ulma__wire__query__init(q);
    q->kind = kind;
    q->scope = scope;
}

int model_fetch(model_t *m, feed_t *f, Ulma__Wire__Query *q)
{
    if (!q->window)
        q->window = m->window;
    Ulma__Wire__Reply *r = NULL;
    char err[512] = "";
    int timeout = m->timeout_ms;
    if (q->kind == ULMA__WIRE__KIND__CONTROL)
        timeout += (int)q->wait_ms; /* the answer waits for the processes */
    m->questions++;
    int rc = m->ask(m->ctx, q, timeout, &r, err, sizeof(err));
    uint64_t now = now_ns();
    if (rc != 0 || !r) {
        if (m->up || !m->failures)
            m->down_since = now;
        m->up = 0;
        m->failures++;
        snprintf(m->error, sizeof(m->error), "%s", err[0] ? err : "no answer");
        snprintf(f->error, sizeof(f->error), "%s", m->error);
        f->failed = 1;
        return -1;
    }
    m->answers++;
    m->up = 1;
    m->failures = 0;
    m->error[0] = '\0';
    m->last_answer_wall_ns = wall_ns();
    if (f->reply)
        protobuf_c_message_free_unpacked(&f->reply->base, NULL);
    f->reply = r;
    f->at_ns = now;
    f->at_wall_ns = m->last_answer_wall_ns;
    f->failed = 0;
    if (r->ok)
        f->error[0] = '\0';
    else
        snprintf(f->error, sizeof(f->error), "%s", r->error && *r->error ? r->error : "error");
    return 0;
}

int model_fetch_summary(model_t *m, uint32_t points)
{
    Ulma__Wire__Query q;
    Ulma__Wire__Scope sc = ULMA__WIRE__SCOPE__INIT;
    model_query(&q, ULMA__WIRE__KIND__SUMMARY, &sc);
    q.points = points;
    if (model_fetch(m, &m->summary, &q) != 0)
        return -1;
    const Ulma__Wire__Reply *r = feed_ok(&m->summary);
    if (!r || !r->summary)
        return 0;
    /* exponential smoothing with the window as time constant: a rate
     * that does not jump with every report */
    double v = r->summary->events_per_s;
    uint64_t now = m->summary.at_ns;
    if (!m->events_at_ns) {
        m->events_smooth = v;
    } else {
        double dt = (double)(now - m->events_at_ns) / 1e9;
        double tau = m->window ? m->window : 5;
        double a = 1.0 - exp(-dt / tau);
        m->events_smooth += a * (v - m->events_smooth);
    }
    m->events_at_ns = now;
    if (m->nhist == MODEL_HISTORY) {
        memmove(m->hist, m->hist + 1, sizeof(float) * (MODEL_HISTORY - 1));
        m->nhist--;
    }
    m->hist[m->nhist++] = (float)v;
    return 0;
}

const float *model_spark(const model_t *m, uint32_t *n)
{
    const Ulma__Wire__Reply *r = feed_ok(&m->summary);
    if (r && r->summary && r->summary->n_spark) {
        *n = (uint32_t)r->summary->n_spark;
        return r->summary->spark;
    }
    *n = m->nhist;
    return m->hist;
}

/* ---- lists ----------------------------------------------------------------------------- */

void mlist_init(mlist_t *l, mlist_cmp_fn cmp, int col)
{
    memset(l, 0, sizeof(*l));
    l->cmp = cmp;
    l->col = col;
}

static void entries_free(mlist_t *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        free(l->e[i].key);
    l->n = 0;
}

void mlist_free(mlist_t *l)
{
    entries_free(l);
    free(l->e);
    free(l->sel_key);
    memset(l, 0, sizeof(*l));
}

void mlist_clear(mlist_t *l)
{
    if (l->n && l->sel < l->n) {
        free(l->sel_key);
        l->sel_key = xstrdup(l->e[l->sel].key);
    }
    entries_free(l);
}

void mlist_add(mlist_t *l, const void *item, const char *key)
{
    l->e = xgrow(l->e, &l->cap, l->n + 1, sizeof(*l->e));
    l->e[l->n].item = item;
    l->e[l->n].key = xstrdup(key ? key : "");
    l->n++;
}

static int entry_cmp(const void *x, const void *y, void *arg)
{
    const mlist_t *l = arg;
    const mlist_entry_t *a = x, *b = y;
    int c = l->cmp ? l->cmp(a->item, b->item, l->col, l->ctx) : 0;
    if (l->reverse)
        c = -c;
    if (!c)
        c = strcmp(a->key, b->key);
    return c;
}

void mlist_sort(mlist_t *l)
{
    if (l->n > 1)
        qsort_r(l->e, l->n, sizeof(*l->e), entry_cmp, l);
    if (l->sel_key)
        mlist_select_key(l, l->sel_key);
    if (l->n && l->sel >= l->n)
        l->sel = l->n - 1;
    if (!l->n)
        l->sel = 0;
}

void mlist_select_key(mlist_t *l, const char *key)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (strcmp(l->e[i].key, key) == 0) {
            l->sel = i;
            break;
        }
    if (l->sel_key != key) {
        free(l->sel_key);
        l->sel_key = xstrdup(key);
    }
}

static void remember(mlist_t *l)
{
    if (l->sel < l->n) {
        free(l->sel_key);
        l->sel_key = xstrdup(l->e[l->sel].key);
    }
}

void mlist_move(mlist_t *l, int delta)
{
    if (!l->n)
        return;
    long s = (long)l->sel + delta;
    if (s < 0)
        s = 0;
    if (s >= (long)l->n)
        s = (long)l->n - 1;
    l->sel = (uint32_t)s;
    remember(l);
}

void mlist_home(mlist_t *l)
{
    l->sel = 0;
    l->top = 0;
    remember(l);
}

void mlist_end(mlist_t *l)
{
    l->sel = l->n ? l->n - 1 : 0;
    remember(l);
}

void mlist_scroll(mlist_t *l, uint32_t visible)
{
    if (!visible)
        visible = 1;
    if (l->sel < l->top)
        l->top = l->sel;
    if (l->sel >= l->top + visible)
        l->top = l->sel - visible + 1;
    if (l->n <= visible)
        l->top = 0;
    else if (l->top > l->n - visible)
        l->top = l->n - visible;
}

const void *mlist_selected(const mlist_t *l)
{
    return l->sel < l->n ? l->e[l->sel].item : NULL;
}
