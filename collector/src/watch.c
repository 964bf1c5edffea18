/* watch.c - rates at node and rank scope, for the scopes being looked at
 * (watch.h). */
#define _GNU_SOURCE
#include "watch.h"

#include <stdlib.h>
#include <string.h>

#include "profile/util.h"

typedef struct wrow {
    uint32_t gid;
    uint64_t ncalls;
    int64_t tottime_ns;
} wrow_t;

/* One sample: the scope's rows at `wall`, sorted by gid. */
typedef struct wsample {
    uint64_t wall;
    wrow_t *rows;
    uint32_t n;
} wsample_t;

typedef struct watch {
    int level;              /* NODE or RANK */
    char *node;             /* the node's name */
    int32_t pid;            /* RANK: the process */
    uint64_t start_time;
    uint64_t asked;         /* now_ns() of the last query */
    uint64_t sampled_tick;  /* store.ticks of the newest sample */
    wsample_t *s;           /* ring of cap samples, the newest at head - 1 */
    uint32_t cap, n, head;
} watch_t;

typedef struct watches {
    watch_t w[WATCH_MAX];
    uint32_t n;
} watches_t;

static void watch_clear(watch_t *w)
{
    for (uint32_t i = 0; i < w->cap; i++)
        free(w->s[i].rows);
    free(w->s);
    free(w->node);
    memset(w, 0, sizeof(*w));
}

static void watches_free(void *vp)
{
    watches_t *ws = vp;
    if (!ws)
        return;
    for (uint32_t i = 0; i < ws->n; i++)
        watch_clear(&ws->w[i]);
    free(ws);
}

static watches_t *watches_of(store_t *s)
{
    if (!s->watch) {
        s->watch = xcalloc(1, sizeof(watches_t));
        s->watch_free = watches_free;
    }
    return s->watch;
}

static int same_scope(const watch_t *w, const view_scope_t *v)
{
    if (w->level != v->level || !v->node || strcmp(w->node, v->node->name) != 0)
        return 0;
    return v->level != ULMA__WIRE__SCOPE__LEVEL__RANK ||
           (w->pid == v->proc->m.pid && w->start_time == v->proc->m.start_time);
}

/* The scope a watch names now, if it is still held. */
static int watch_resolve(const store_t *s, const watch_t *w, view_scope_t *v)
{
    Ulma__Wire__Scope sc = ULMA__WIRE__SCOPE__INIT;
    sc.level = (Ulma__Wire__Scope__Level)w->level;
    sc.node = w->node;
    sc.pid = w->pid;
    sc.start_time = w->start_time;
    char err[160];
    if (view_resolve(s, &sc, v, err, sizeof(err)) != 0)
        return -1;
    /* a rank scope resolves to the newest process of that pid: it must be ours */
    return v->level == ULMA__WIRE__SCOPE__LEVEL__RANK &&
                   (v->proc->m.pid != w->pid || v->proc->m.start_time != w->start_time)
               ? -1
               : 0;
}

static int wrow_cmp(const void *a, const void *b)
{
    uint32_t x = ((const wrow_t *)a)->gid, y = ((const wrow_t *)b)->gid;
    return x < y ? -1 : x > y;
}

/* Take a sample of the scope's rows from its view `p` (row i is gid[i]). */
static void sample_push(watch_t *w, const profile_t *p, const uint32_t *gid, uint64_t wall)
{
    wsample_t *sm = &w->s[w->head];
    uint32_t n = profile_nfuncs(p);
    sm->rows = xrealloc(sm->rows, sizeof(wrow_t) * (n ? n : 1));
    for (uint32_t i = 0; i < n; i++) {
        const pf_func_t *f = profile_func(p, i);
        sm->rows[i] = (wrow_t){gid[i], f->c.ncalls, f->c.tottime_ns};
    }
    qsort(sm->rows, n, sizeof(wrow_t), wrow_cmp);
    sm->n = n;
    sm->wall = wall;
    w->head = (w->head + 1) % w->cap;
    if (w->n < w->cap)
        w->n++;
}

static void sample_scope(store_t *s, watch_t *w, const view_scope_t *v, uint64_t wall)
{
    uint32_t *gid;
    profile_t *p = view_profile(s, v, 0, 0, &gid);
    sample_push(w, p, gid, wall);
    w->sampled_tick = s->ticks;
    free(gid);
    profile_destroy(&p);
}

/* Room for the samples a window of `window_s` needs (one per interval,
 * and one more at each end), up to the store's rate points. Samples kept
 * stay, oldest first. */
static void watch_fit(const store_t *s, watch_t *w, uint32_t window_s)
{
    double iv = s->cfg.interval_ns ? (double)s->cfg.interval_ns / 1e9 : 1.0;
    uint32_t want = (uint32_t)((double)window_s / iv) + 2;
    if (want > s->cfg.rate_points + 1)
        want = s->cfg.rate_points + 1;
    if (want <= w->cap)
        return;
    /* the live samples, oldest first; a ring not yet full has no others */
    wsample_t *ns = xcalloc(want, sizeof(*ns));
    for (uint32_t i = 0; i < w->n; i++)
        ns[i] = w->s[(w->head + w->cap - w->n + i) % w->cap];
    free(w->s);
    w->s = ns;
    w->head = w->n % want;
    w->cap = want;
}

static watch_t *watch_for(store_t *s, const view_scope_t *v, uint64_t now, int *fresh)
{
    watches_t *ws = watches_of(s);
    *fresh = 0;
    for (uint32_t i = 0; i < ws->n; i++)
        if (same_scope(&ws->w[i], v))
            return &ws->w[i];
    watch_t *w;
    if (ws->n < WATCH_MAX) {
        w = &ws->w[ws->n++];
    } else { /* the one asked least recently gives way */
        w = &ws->w[0];
        for (uint32_t i = 1; i < ws->n; i++)
            if (ws->w[i].asked < w->asked)
                w = &ws->w[i];
        watch_clear(w);
    }
    w->level = v->level;
    w->node = xstrdup(v->node->name);
    if (v->level == ULMA__WIRE__SCOPE__LEVEL__RANK) {
        w->pid = v->proc->m.pid;
        w->start_time = v->proc->m.start_time;
    }
    w->asked = now;
    *fresh = 1;
    return w;
}

static const wrow_t *row_find(const wsample_t *sm, uint32_t gid)
{
    uint32_t lo = 0, hi = sm->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (sm->rows[mid].gid < gid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < sm->n && sm->rows[lo].gid == gid ? &sm->rows[lo] : NULL;
}

void watch_rates(store_t *s, const view_scope_t *v, profile_t *p, const uint32_t *gid,
                 uint32_t window_s, uint64_t now)
{
    if ((v->level != ULMA__WIRE__SCOPE__LEVEL__NODE && v->level != ULMA__WIRE__SCOPE__LEVEL__RANK) ||
        !v->node)
        return;
    int fresh;
    watch_t *w = watch_for(s, v, now, &fresh);
    w->asked = now;
    watch_fit(s, w, window_s);
    if (fresh) { /* rates from the next tick on; unknown (0) until then */
        sample_push(w, p, gid, now); /* the view in hand is the scope's rows */
        w->sampled_tick = s->ticks;
        return;
    }
    /* the newest sample at least `window` old, else the oldest */
    uint64_t want = (uint64_t)window_s * 1000000000ull;
    const wsample_t *best = NULL;
    for (uint32_t i = 0; i < w->n; i++) {
        best = &w->s[(w->head + w->cap - 1 - i) % w->cap];
        if (now - best->wall >= want)
            break;
    }
    if (!best || now <= best->wall)
        return;
    double sec = (double)(now - best->wall) / 1e9;
    for (uint32_t i = 0; i < profile_nfuncs(p); i++) {
        pf_func_t *f = profile_func_w(p, i);
        const wrow_t *r = row_find(best, gid[i]);
        uint64_t c0 = r ? r->ncalls : 0;
        int64_t t0 = r ? r->tottime_ns : 0;
        f->rate_calls = f->c.ncalls > c0 ? (double)(f->c.ncalls - c0) / sec : 0;
        f->rate_tottime = f->c.tottime_ns > t0 ? (double)(f->c.tottime_ns - t0) / 1e9 / sec : 0;
    }
}

void watch_tick(store_t *s, uint64_t now)
{
    watches_t *ws = s->watch;
    if (!ws)
        return;
    for (uint32_t i = 0; i < ws->n;) {
        watch_t *w = &ws->w[i];
        view_scope_t v;
        if (now - w->asked > WATCH_IDLE_NS || watch_resolve(s, w, &v) != 0) {
            watch_clear(w);
            ws->w[i] = ws->w[--ws->n]; /* moved: its pointers go with it */
            memset(&ws->w[ws->n], 0, sizeof(ws->w[ws->n]));
            continue;
        }
        if (w->sampled_tick != s->ticks)
            sample_scope(s, w, &v, now);
        i++;
    }
}

uint32_t watch_count(const store_t *s)
{
    const watches_t *ws = s->watch;
    return ws ? ws->n : 0;
}
