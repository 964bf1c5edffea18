/* app.c - screens, actions, prompts, the frame, the two loops. */
#define _GNU_SOURCE
#include "app.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crt.h"
#include "fmt.h"
#include "keys.h"
#include "views.h"
#include "wire/client.h"

/* A copy of s cut to fit n bytes (at a character boundary). */
static void scopy(char *d, size_t n, const char *s)
{
    size_t l = s ? strnlen(s, n - 1) : 0;
    while (l && l == n - 1 && (s[l] & 0xc0) == 0x80)
        l--;
    memcpy(d, s ? s : "", l);
    d[l] = '\0';
}

/* ---- screens ------------------------------------------------------------------------------ */

screen_t *app_screen(const app_t *a)
{
    return a->depth ? a->stack[a->depth - 1] : NULL;
}

view_t *app_view(const app_t *a)
{
    screen_t *s = app_screen(a);
    return s && s->ntabs ? s->tab[s->cur] : NULL;
}

static void screen_add(screen_t *s, const view_class_t *cls)
{
    if (s->ntabs < SCREEN_TABS)
        s->tab[s->ntabs++] = view_new(cls, s);
}

static void screen_destroy(screen_t **s_p)
{
    screen_t *s = *s_p;
    if (!s)
        return;
    for (int i = 0; i < s->ntabs; i++)
        view_destroy(&s->tab[i]);
    free(s);
    *s_p = NULL;
}

screen_t *app_push(app_t *a, screen_kind_t kind, const target_t *t, const char *func)
{
    if (a->depth == APP_DEPTH) {
        /* the oldest drill-down goes; the root stays */
        screen_destroy(&a->stack[1]);
        memmove(&a->stack[1], &a->stack[2], sizeof(a->stack[0]) * (APP_DEPTH - 2));
        a->depth--;
    }
    screen_t *s = xcalloc(1, sizeof(*s));
    s->kind = kind;
    s->t = *t;
    target_fix(&s->t);
    if (t->scope.level == ULMA__WIRE__SCOPE__LEVEL__RANK && !t->scope.pid)
        s->t.scope.node = s->t.node[0] ? s->t.node : NULL;
    if (func)
        snprintf(s->func, sizeof(s->func), "%s", func);
    switch (kind) {
    case SCR_ROOT:
        snprintf(s->name, sizeof(s->name), "%s", a->env.agent ? "this node" : "cluster");
        screen_add(s, &view_top);
        screen_add(s, &view_nodes);
        screen_add(s, &view_jobs);
        screen_add(s, &view_imbalance);
        break;
    case SCR_NODE:
        snprintf(s->name, sizeof(s->name), "%s", t->label);
        screen_add(s, &view_ranks);
        screen_add(s, &view_top);
        screen_add(s, &view_imbalance);
        break;
    case SCR_JOB:
        snprintf(s->name, sizeof(s->name), "%s", t->label);
        screen_add(s, &view_top);
        screen_add(s, &view_ranks);
        screen_add(s, &view_imbalance);
        screen_add(s, &view_mpi);
        break;
    case SCR_RANK:
        snprintf(s->name, sizeof(s->name), "%s", t->label);
        screen_add(s, &view_top);
        screen_add(s, &view_threads);
        screen_add(s, &view_objects);
        screen_add(s, &view_mpi);
        screen_add(s, &view_nova);
        break;
    case SCR_FUNCTION: {
        /* the breadcrumb names the function short: its name */
        const char *open = strrchr(s->func, '(');
        size_t len = strlen(s->func);
        if (open && len > 2 && s->func[len - 1] == ')' && open[1] != ')')
            snprintf(s->name, sizeof(s->name), "function %.*s",
                     (int)(len - 2 - (size_t)(open - s->func)), open + 1);
        else
            snprintf(s->name, sizeof(s->name), "function %.*s", 400, s->func);
    }
        screen_add(s, &view_franks);
        screen_add(s, &view_edges);
        screen_add(s, &view_paths);
        break;
    }
    a->stack[a->depth++] = s;
    return s;
}

void app_pop(app_t *a)
{
    if (a->depth <= 1)
        return;
    screen_destroy(&a->stack[--a->depth]);
}

/* ---- messages ----------------------------------------------------------------------------- */

void app_message(app_t *a, int role, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->msg, sizeof(a->msg), fmt, ap);
    va_end(ap);
    a->msg_role = role;
    a->msg_until = now_ns() + 8000000000ull;
}

/* ---- app ---------------------------------------------------------------------------------- */

app_t *app_new(const ct_opts_t *o, model_ask_fn ask, void *ctx, int w, int h, int utf8)
{
    app_t *a = xcalloc(1, sizeof(*a));
    a->env.o = o;
    a->env.m = model_new(ask, ctx, (int)o->timeout_ms, o->window);
    a->env.cv = canvas_new(w, h, utf8);
    a->env.threshold = o->threshold;
    a->delay = o->delay;
    snprintf(a->env.filter, sizeof(a->env.filter), "%s", o->filter);
    const char *what;
    const char *ep = ct_opts_endpoint(o, &what);
    a->env.agent = strcmp(what, "agent") == 0;
    snprintf(a->source, sizeof(a->source), "%s %s", what, ep);
    target_t t;
    target_cluster(&t);
    app_push(a, SCR_ROOT, &t, NULL);
    keys_bind();
    return a;
}

void app_destroy(app_t **a_p)
{
    if (!a_p || !*a_p)
        return;
    app_t *a = *a_p;
    while (a->depth)
        screen_destroy(&a->stack[--a->depth]);
    model_destroy(&a->env.m);
    canvas_destroy(&a->env.cv);
    free(a);
    *a_p = NULL;
}

int app_open_view(app_t *a, const char *view, const char *tab, char *err, size_t n)
{
    target_t t;
    if (!view || !*view || strcmp(view, "cluster") == 0 || strcmp(view, "top") == 0) {
        /* the root as it is */
    } else if (strcmp(view, "nodes") == 0) {
        app_screen(a)->cur = 1;
    } else if (strcmp(view, "jobs") == 0) {
        app_screen(a)->cur = 2;
    } else if (strcmp(view, "imbalance") == 0) {
        app_screen(a)->cur = 3;
    } else if (strncmp(view, "function:", 9) == 0 && view[9]) {
        target_cluster(&t);
        app_push(a, SCR_FUNCTION, &t, view + 9);
    } else {
        Ulma__Wire__Scope sc;
        wire_arena_t *ar = wire_arena_new();
        if (wire_scope_parse(view, &sc, ar, err, n) != 0 ||
            sc.level == ULMA__WIRE__SCOPE__LEVEL__CLUSTER) {
            if (sc.level == ULMA__WIRE__SCOPE__LEVEL__CLUSTER)
                snprintf(err, n,
                         "--view '%s': expected cluster, nodes, jobs, imbalance, "
                         "node:NAME, job:ID, rank:NODE/PID or function:NAME",
                         view);
            wire_arena_destroy(&ar);
            return -1;
        }
        if (sc.level == ULMA__WIRE__SCOPE__LEVEL__NODE) {
            target_node(&t, sc.node);
            app_push(a, SCR_NODE, &t, NULL);
        } else if (sc.level == ULMA__WIRE__SCOPE__LEVEL__JOB) {
            target_job(&t, sc.job);
            app_push(a, SCR_JOB, &t, NULL);
        } else {
            target_rank(&t, sc.node, sc.pid, 0, sc.rank, sc.job);
            app_push(a, SCR_RANK, &t, NULL);
        }
        wire_arena_destroy(&ar);
    }
    if (tab && *tab) {
        screen_t *s = app_screen(a);
        int found = -1;
        char names[200] = "";
        for (int i = 0; i < s->ntabs; i++) {
            if (strcmp(s->tab[i]->cls->batch, tab) == 0)
                found = i;
            size_t l = strlen(names);
            snprintf(names + l, sizeof(names) - l, "%s%s", i ? ", " : "", s->tab[i]->cls->batch);
        }
        if (found < 0) {
            snprintf(err, n, "--tab '%s': this view's tabs are %s", tab, names);
            return -1;
        }
        s->cur = found;
    }
    return 0;
}

/* ---- fetching ------------------------------------------------------------------------------ */

void app_fetch(app_t *a)
{
    int was_up = a->env.m->up;
    uint32_t points = (uint32_t)(a->env.cv->w / 4 > 16 ? a->env.cv->w / 4 : 16);
    int rc = model_fetch_summary(a->env.m, points);
    if (rc == 0) {
        view_t *v = app_view(a);
        if (v && v->cls->fetch)
            v->cls->fetch(v, &a->env);
        if (!was_up && a->env.m->up)
            app_message(a, ROLE_GOOD, "%s answers again", a->source);
    }
    a->frame++;
}

/* ---- drawing ------------------------------------------------------------------------------- */

static void draw_header(app_t *a, canvas_t *cv)
{
    const Ulma__Wire__Reply *r = feed_ok(&a->env.m->summary);
    const Ulma__Wire__Summary *s = r ? r->summary : NULL;
    /* narrow: single spaces, short words, the source on the next line */
    int narrow = cv->w < 110;
    const char *sep = narrow ? " " : "  ";
    canvas_fill(cv, 0, 0, cv->w, ROLE_HEADER, ' ');
    int x = canvas_put(cv, 0, 0, ROLE_HEADER, "clustertop", -1);
    if (!narrow)
        x += canvas_printf(cv, 0, x, ROLE_DIM, -1, "  %s", a->source);
    if (s) {
        char ev[32], lost[32];
        fmt_rate(ev, sizeof(ev), a->env.m->events_smooth);
        fmt_count(lost, sizeof(lost), s->records_lost, 14);
        x += canvas_printf(cv, 0, x, ROLE_HEADER, -1, "%snodes ", sep);
        x += canvas_printf(cv, 0, x, ROLE_GOOD, -1, "%u up", s->nodes_up);
        if (s->nodes_stale || s->nodes_gone) {
            x += canvas_printf(cv, 0, x, s->nodes_stale ? ROLE_WARN : ROLE_HEADER, -1, " %u stale",
                               s->nodes_stale);
            x += canvas_printf(cv, 0, x, s->nodes_gone ? ROLE_ERROR : ROLE_HEADER, -1, " %u gone",
                               s->nodes_gone);
        }
        x += canvas_printf(cv, 0, x, ROLE_HEADER, -1, "%sranks %u%sjobs %u%s%s %s", sep, s->ranks,
                           sep, s->jobs, sep, narrow ? "ev/s" : "events/s", ev);
        x += canvas_printf(cv, 0, x, s->records_lost ? ROLE_WARN : ROLE_HEADER, -1, "%slost %s%s",
                           sep, lost, s->records_lost ? "!" : "");
        x += canvas_printf(
            cv, 0, x, s->mode && strcmp(s->mode, "off") == 0 ? ROLE_WARN : ROLE_HEADER, -1,
            "%s%s%s", sep, narrow ? "" : "profiling ", s->mode && *s->mode ? s->mode : "?");
    }
    int sparkw = cv->w - x - 2 > 40 ? 40 : cv->w - x - 2;
    if (sparkw >= 8) {
        uint32_t n;
        const float *h = model_spark(a->env.m, &n);
        canvas_sparkline(cv, 0, cv->w - sparkw, sparkw, h, (int)n, ROLE_SPARK);
    }
    /* line 1: the connection, or the settings */
    if (!a->env.m->up) {
        char since[32], when[64] = "nothing yet";
        fmt_age(since, sizeof(since), (double)(now_ns() - a->env.m->down_since) / 1e9);
        if (a->env.m->last_answer_wall_ns) {
            time_t t = (time_t)(a->env.m->last_answer_wall_ns / 1000000000ull);
            struct tm tm;
            localtime_r(&t, &tm);
            strftime(when, sizeof(when), "the data of %H:%M:%S", &tm);
        }
        canvas_fill(cv, 1, 0, cv->w, ROLE_ERROR, ' ');
        canvas_printf(cv, 1, 0, ROLE_ERROR, -1,
                      "NO ANSWER for %s: %s. Showing %s; asking again every %.1fs (%u tries)",
                      since, a->env.m->error, when, a->delay, a->env.m->failures);
    } else {
        int y = 1;
        x = 0;
        if (narrow)
            x = canvas_printf(cv, y, 0, ROLE_DIM, -1, "%s  ", a->source);
        x += canvas_printf(cv, y, x, ROLE_DIM, -1, "window %us  delay %.1fs  threshold %.1f%%",
                           a->env.m->window, a->delay, a->env.threshold);
        if (a->env.filter[0])
            x += canvas_printf(cv, y, x, ROLE_WARN, -1, "  filter '%s'", a->env.filter);
        if (s && s->bad_messages)
            x += canvas_printf(cv, y, x, ROLE_WARN, -1, "  %llu bad messages refused",
                               (unsigned long long)s->bad_messages);
        if (a->paused)
            canvas_put(cv, y, x + 2, ROLE_WARN, "PAUSED (space resumes)", -1);
    }
    /* line 2: where we are, and the tabs */
    screen_t *sc = app_screen(a);
    x = 0;
    for (int i = 0; i < a->depth; i++) {
        if (i)
            x += canvas_put(cv, 2, x, ROLE_DIM, " > ", -1);
        x += canvas_put(cv, 2, x, i == a->depth - 1 ? ROLE_TITLE : ROLE_DIM, a->stack[i]->name,
                        cv->w / 3);
    }
    x += 2;
    for (int i = 0; i < sc->ntabs && x < cv->w; i++) {
        char tab[64];
        snprintf(tab, sizeof(tab), " %d %s ", i + 1, sc->tab[i]->cls->name);
        if (i == sc->cur)
            tab[0] = '[', tab[strlen(tab) - 1] = ']';
        x += canvas_put(cv, 2, x, i == sc->cur ? ROLE_TAB_ACTIVE : ROLE_TAB, tab, -1) + 1;
    }
}

static void draw_help(app_t *a, canvas_t *cv, int y, int h)
{
    canvas_put(cv, y, 0, ROLE_TITLE, "clustertop keys (Esc, q or h closes this page)", -1);
    int line = 2;
    const char *k, *w;
    for (int i = a->help_top; keys_help_line(i, &k, &w) && line < h; i++, line++) {
        canvas_put(cv, y + line, 2, ROLE_KEY, k, 24);
        canvas_put(cv, y + line, 28, ROLE_NORMAL, w, -1);
    }
    const char *legend[] = {
        "",
        "first column: blank = Python function, c = C function, M = MPI call",
        "! after a number: records lost there (ring full, agent restart): counts incomplete",
        "* after a time: includes calls still running",
        "IMB = max/mean of the function's cumulative time over ranks; SLOWEST = r<rank>@<node>",
        "%CPU and CALLS/S: own time per second and calls per second over the rate window",
    };
    for (size_t i = 0; i < sizeof(legend) / sizeof(legend[0]) && line < h; i++, line++)
        canvas_put(cv, y + line, 2, ROLE_DIM, legend[i], -1);
}

static void draw_status(app_t *a, canvas_t *cv)
{
    int y = cv->h - 1;
    canvas_fill(cv, y, 0, cv->w, ROLE_STATUS, ' ');
    if (a->prompt.kind != PROMPT_NONE) {
        int x = canvas_put(cv, y, 0, ROLE_STATUS, a->prompt.label, -1);
        x += canvas_put(cv, y, x, ROLE_STATUS, a->prompt.text, -1);
        canvas_fill(cv, y, x, 1, ROLE_SELECTED, '_');
        return;
    }
    if (a->msg[0] && now_ns() < a->msg_until) {
        canvas_put(cv, y, 0, a->msg_role, a->msg, -1);
        return;
    }
    canvas_put(cv, y, 0, ROLE_STATUS,
               "q quit  h help  Enter drill in  Esc back  Tab tabs  </> sort  / filter  "
               "space pause  p profiling  e export",
               -1);
}

void app_draw(app_t *a)
{
    canvas_t *cv = a->env.cv;
    canvas_clear(cv);
    draw_header(a, cv);
    int y = 3, h = cv->h - y - (a->env.batch ? 0 : 1);
    view_t *v = app_view(a);
    if (a->help)
        draw_help(a, cv, y, h);
    else if (v)
        v->cls->draw(v, &a->env, cv, y, h);
    if (!a->env.batch)
        draw_status(a, cv);
}

/* ---- actions -------------------------------------------------------------------------------- */

static void prompt_open(app_t *a, prompt_kind_t kind, const char *label, const char *text)
{
    a->prompt.kind = kind;
    scopy(a->prompt.label, sizeof(a->prompt.label), label);
    scopy(a->prompt.text, sizeof(a->prompt.text), text);
    a->prompt.len = (int)strlen(a->prompt.text);
}

static int current_target(app_t *a, target_t *t)
{
    view_t *v = app_view(a);
    if (v && v->cls->target && v->cls->target(v, &a->env, t))
        return 1;
    *t = app_screen(a)->t;
    target_fix(t);
    return 1;
}

static const char *mode_name(uint32_t m)
{
    return m == 0 ? "off" : m == 1 ? "fast" : "full";
}

static reaction_t send_control(app_t *a)
{
    Ulma__Wire__Query q;
    target_fix(&a->pending);
    model_query(&q, ULMA__WIRE__KIND__CONTROL, &a->pending.scope);
    q.mode = a->pending_mode & 0xffu;
    q.objects = (a->pending_mode >> 8) & 1u;
    q.wait_ms = 3000;
    feed_t f = {0};
    model_fetch(a->env.m, &f, &q);
    const Ulma__Wire__Reply *r = feed_ok(&f);
    if (r && r->control) {
        const Ulma__Wire__ControlAnswer *c = r->control;
        int all = c->applied == c->requested && !c->timed_out;
        char nodes[64] = "";
        if (c->nodes)
            snprintf(nodes, sizeof(nodes), ", %u of %u nodes answered", c->nodes_answered,
                     c->nodes);
        app_message(a, all ? ROLE_GOOD : ROLE_WARN,
                    "profiling of %s -> %s%s: applied by %u of %u process%s%s%s", a->pending.label,
                    mode_name(q.mode), q.objects ? "+objects" : "", c->applied, c->requested,
                    c->requested == 1 ? "" : "es", nodes, c->timed_out ? " (timed out)" : "");
    } else {
        app_message(a, ROLE_ERROR, "profiling of %s: %s", a->pending.label,
                    f.error[0] ? f.error : "no answer");
    }
    feed_free(&f);
    return RX_REFETCH;
}

static reaction_t send_export(app_t *a, const char *path)
{
    Ulma__Wire__Query q;
    target_fix(&a->pending);
    model_query(&q, ULMA__WIRE__KIND__EXPORT, &a->pending.scope);
    q.format = a->pending_fmt;
    feed_t f = {0};
    model_fetch(a->env.m, &f, &q);
    const Ulma__Wire__Reply *r = feed_ok(&f);
    if (r) {
        int rc = write_file(path, r->data.data, r->data.len);
        if (rc == 0)
            app_message(a, ROLE_GOOD, "wrote %zu bytes (%s of %s) to %s", r->data.len,
                        a->pending_fmt, a->pending.label, path);
        else
            app_message(a, ROLE_ERROR, "cannot write %s: %s", path, strerror(-rc));
    } else {
        app_message(a, ROLE_ERROR, "export of %s: %s", a->pending.label,
                    f.error[0] ? f.error : "no answer");
    }
    feed_free(&f);
    return RX_REDRAW;
}

static void export_name(app_t *a, char *b, size_t n)
{
    const char *ext = strcmp(a->pending_fmt, "collapsed") == 0 ? "txt" : a->pending_fmt;
    char what[300] = "cluster";
    const Ulma__Wire__Scope *s = &a->pending.scope;
    if (s->level == ULMA__WIRE__SCOPE__LEVEL__NODE)
        snprintf(what, sizeof(what), "node-%s", a->pending.node);
    else if (s->level == ULMA__WIRE__SCOPE__LEVEL__JOB)
        snprintf(what, sizeof(what), "job-%s", a->pending.job);
    else if (s->level == ULMA__WIRE__SCOPE__LEVEL__RANK)
        snprintf(what, sizeof(what), "rank-%s-%d", a->pending.node, s->pid ? s->pid : s->rank);
    for (char *p = what; *p; p++)
        if (*p == '/' || *p == ' ')
            *p = '_';
    snprintf(b, n, "clustertop-%s.%s", what, ext);
}

reaction_t app_prompt_key(app_t *a, int key)
{
    prompt_t *p = &a->prompt;
    prompt_kind_t kind = p->kind;
    if (key == K_ESC) {
        p->kind = PROMPT_NONE;
        app_message(a, ROLE_DIM, "cancelled");
        return RX_REDRAW;
    }
    /* menus: one key chooses */
    if (kind == PROMPT_CONTROL_MODE) {
        int mode = -1, obj = 0;
        switch (key) {
        case 'o': mode = 0; break;
        case 'f': mode = 1; break;
        case 'u': mode = 2; break;
        case 'F': mode = 1, obj = 1; break;
        case 'U': mode = 2, obj = 1; break;
        default: return RX_NONE;
        }
        a->pending_mode = (uint32_t)mode | (uint32_t)obj << 8;
        char label[500];
        snprintf(label, sizeof(label), "switch profiling of %s to %s%s? (y/n) ", a->pending.label,
                 mode_name((uint32_t)mode), obj ? " with objects" : "");
        prompt_open(a, PROMPT_CONTROL_CONFIRM, label, NULL);
        return RX_REDRAW;
    }
    if (kind == PROMPT_CONTROL_CONFIRM) {
        p->kind = PROMPT_NONE;
        if (key == 'y' || key == 'Y')
            return send_control(a);
        app_message(a, ROLE_DIM, "profiling unchanged");
        return RX_REDRAW;
    }
    if (kind == PROMPT_EXPORT_FORMAT) {
        const char *fmt = key == 'p'   ? "pstats"
                          : key == 'j' ? "json"
                          : key == 's' ? "svg"
                          : key == 'c' ? "collapsed"
                                       : NULL;
        if (!fmt)
            return RX_NONE;
        snprintf(a->pending_fmt, sizeof(a->pending_fmt), "%s", fmt);
        char name[600];
        export_name(a, name, sizeof(name));
        prompt_open(a, PROMPT_EXPORT_FILE, "export to file: ", name);
        return RX_REDRAW;
    }
    /* line editing */
    if (key == K_BACKSPACE || key == K_DELETE) {
        while (p->len > 0 && (p->text[p->len - 1] & 0xc0) == 0x80)
            p->len--;
        if (p->len > 0)
            p->len--;
        p->text[p->len] = '\0';
        return RX_REDRAW;
    }
    if (key == K_CTRL('u')) {
        p->len = 0;
        p->text[0] = '\0';
        return RX_REDRAW;
    }
    if (key != K_ENTER) {
        if (key < 0x20 || key > 0x10ffff || key == 0x7f)
            return RX_NONE;
        char u[5];
        int n;
        uint32_t c = (uint32_t)key;
        if (c < 0x80) {
            u[0] = (char)c, n = 1;
        } else if (c < 0x800) {
            u[0] = (char)(0xc0 | (c >> 6)), u[1] = (char)(0x80 | (c & 0x3f)), n = 2;
        } else if (c < 0x10000) {
            u[0] = (char)(0xe0 | (c >> 12)), u[1] = (char)(0x80 | ((c >> 6) & 0x3f));
            u[2] = (char)(0x80 | (c & 0x3f)), n = 3;
        } else {
            u[0] = (char)(0xf0 | (c >> 18)), u[1] = (char)(0x80 | ((c >> 12) & 0x3f));
            u[2] = (char)(0x80 | ((c >> 6) & 0x3f)), u[3] = (char)(0x80 | (c & 0x3f)), n = 4;
        }
        if (p->len + n < (int)sizeof(p->text)) {
            memcpy(p->text + p->len, u, (size_t)n);
            p->len += n;
            p->text[p->len] = '\0';
        }
        return RX_REDRAW;
    }
    /* Enter: accept */
    p->kind = PROMPT_NONE;
    char *end = NULL;
    double v = strtod(p->text, &end);
    int number = p->text[0] && end && !*end && isfinite(v) && v >= 0;
    switch (kind) {
    case PROMPT_FILTER: scopy(a->env.filter, sizeof(a->env.filter), p->text); return RX_REFETCH;
    case PROMPT_DELAY:
        if (!number) {
            app_message(a, ROLE_ERROR, "delay: '%s' is not a number of seconds", p->text);
            return RX_REDRAW;
        }
        a->delay = v < 0.05 ? 0.05 : v;
        return RX_REFETCH;
    case PROMPT_WINDOW:
        if (!number || v < 1 || v > 3600) {
            app_message(a, ROLE_ERROR, "window: 1 to 3600 seconds");
            return RX_REDRAW;
        }
        a->env.m->window = (uint32_t)v;
        return RX_REFETCH;
    case PROMPT_THRESHOLD:
        if (!number || v > 100) {
            app_message(a, ROLE_ERROR, "threshold: a percentage from 0 to 100");
            return RX_REDRAW;
        }
        a->env.threshold = v;
        return RX_REDRAW;
    case PROMPT_EXPORT_FILE:
        if (!p->text[0]) {
            app_message(a, ROLE_DIM, "no file: nothing exported");
            return RX_REDRAW;
        }
        return send_export(a, p->text);
    default: return RX_REDRAW;
    }
}

/* The view's own reaction to `act`, and the screen it asked for opened. */
static reaction_t view_act(app_t *a, view_t *v, action_t act)
{
    a->env.push.set = 0;
    reaction_t r = v->cls->act(v, &a->env, act);
    if (a->env.push.set) {
        a->env.push.set = 0;
        app_push(a, a->env.push.kind, &a->env.push.t,
                 a->env.push.func[0] ? a->env.push.func : NULL);
    }
    return r;
}

reaction_t app_act(app_t *a, action_t act)
{
    screen_t *s = app_screen(a);
    view_t *v = app_view(a);
    char buf[64];
    if (a->help) {
        switch (act) {
        case ACT_QUIT:
        case ACT_HELP:
        case ACT_BACK: a->help = 0; return RX_REDRAW;
        case ACT_DOWN: a->help_top++; return RX_REDRAW;
        case ACT_UP: a->help_top = a->help_top > 0 ? a->help_top - 1 : 0; return RX_REDRAW;
        default: return RX_NONE;
        }
    }
    switch (act) {
    case ACT_NONE: return RX_NONE;
    case ACT_QUIT: return RX_QUIT;
    case ACT_HELP:
        a->help = 1;
        a->help_top = 0;
        return RX_REDRAW;
    case ACT_BACK: {
        reaction_t r = v ? view_act(a, v, act) : RX_NONE;
        if (r & RX_HANDLED)
            return r;
        if (a->depth > 1) {
            app_pop(a);
            return RX_REFETCH;
        }
        return RX_NONE;
    }
    case ACT_TAB_NEXT:
    case ACT_TAB_PREV:
        s->cur = (s->cur + (act == ACT_TAB_NEXT ? 1 : s->ntabs - 1)) % s->ntabs;
        return RX_REFETCH;
    case ACT_TAB1:
    case ACT_TAB2:
    case ACT_TAB3:
    case ACT_TAB4:
    case ACT_TAB5:
    case ACT_TAB6:
        if ((int)(act - ACT_TAB1) >= s->ntabs)
            return RX_NONE;
        s->cur = (int)(act - ACT_TAB1);
        return RX_REFETCH;
    case ACT_FILTER:
        prompt_open(a, PROMPT_FILTER, "filter (part of a function's name): ", a->env.filter);
        return RX_REDRAW;
    case ACT_PAUSE: a->paused = !a->paused; return a->paused ? RX_REDRAW : RX_REFETCH;
    case ACT_DELAY:
        snprintf(buf, sizeof(buf), "%g", a->delay);
        prompt_open(a, PROMPT_DELAY, "delay between refreshes (seconds): ", buf);
        return RX_REDRAW;
    case ACT_WINDOW:
        snprintf(buf, sizeof(buf), "%u", a->env.m->window);
        prompt_open(a, PROMPT_WINDOW, "rates over the last (seconds): ", buf);
        return RX_REDRAW;
    case ACT_THRESHOLD:
        snprintf(buf, sizeof(buf), "%g", a->env.threshold);
        prompt_open(a, PROMPT_THRESHOLD, "hide function rows below (% of program time): ", buf);
        return RX_REDRAW;
    case ACT_CONTROL: {
        current_target(a, &a->pending);
        char label[500];
        snprintf(label, sizeof(label),
                 "profiling of %s: o off, f fast, u full, F fast+objects, U full+objects "
                 "(Esc cancels) ",
                 a->pending.label);
        prompt_open(a, PROMPT_CONTROL_MODE, label, NULL);
        return RX_REDRAW;
    }
    case ACT_EXPORT: {
        a->pending = s->t;
        target_fix(&a->pending);
        char label[500];
        snprintf(label, sizeof(label),
                 "export %s as: p pstats, j JSON, s SVG flame graph, c collapsed (Esc cancels) ",
                 a->pending.label);
        prompt_open(a, PROMPT_EXPORT_FORMAT, label, NULL);
        return RX_REDRAW;
    }
    case ACT_REFRESH:
    case ACT_REDRAW: return RX_REFETCH;
    default: break;
    }
    if (!v)
        return RX_NONE;
    reaction_t r = view_act(a, v, act);
    return r & ~RX_HANDLED;
}

/* ---- the loops --------------------------------------------------------------------------------
 */

static int client_ask(void *ctx, Ulma__Wire__Query *q, int timeout_ms, Ulma__Wire__Reply **out,
                      char *err, size_t n)
{
    return wire_client_ask(ctx, q, timeout_ms, out, err, n);
}

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig)
{
    stop_signal = sig;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (!stop_signal && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void print_json_frame(app_t *a)
{
    sbuf_t b = {0};
    jw_t w;
    jw_init(&w, &b);
    jw_obj(&w);
    jw_ku64(&w, "frame", a->frame);
    jw_ku64(&w, "wall_ns", wall_ns());
    const char *what;
    jw_kstrz(&w, "endpoint", ct_opts_endpoint(a->env.o, &what));
    jw_kstrz(&w, "source", what);
    jw_kbool(&w, "answered", a->env.m->up);
    if (!a->env.m->up)
        jw_kstrz(&w, "error", a->env.m->error);
    screen_t *s = app_screen(a);
    view_t *v = app_view(a);
    jw_kstrz(&w, "view", a->env.o->view[0] ? a->env.o->view : "cluster");
    jw_kstrz(&w, "tab", v ? v->cls->batch : "");
    (void)s;
    jw_key(&w, "SUMMARY");
    if (a->env.m->summary.reply)
        wire_json(&a->env.m->summary.reply->base, &w);
    else
        jw_null(&w);
    if (v && v->cls->json)
        v->cls->json(v, &a->env, &w);
    jw_obj_end(&w);
    fwrite(b.data, 1, b.len, stdout);
    fputc('\n', stdout);
    sbuf_free(&b);
}

static int utf8_locale(const ct_opts_t *o)
{
    if (o->ascii)
        return 0;
    const char *cs = nl_langinfo(CODESET);
    return cs && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
}

static int run_batch(app_t *a)
{
    a->env.batch = 1;
    int status = 0;
    for (uint32_t i = 0; (!a->env.o->count || i < a->env.o->count) && !stop_signal; i++) {
        if (i)
            sleep_s(a->delay);
        if (stop_signal)
            break;
        app_fetch(a);
        if (!a->env.m->up && i == 0) {
            fprintf(stderr, "clustertop: no answer from %s: %s\n", a->source, a->env.m->error);
            status = 1;
        }
        if (a->env.o->json) {
            print_json_frame(a);
        } else {
            app_draw(a);
            canvas_print(a->env.cv, stdout);
            fputc('\n', stdout);
        }
        fflush(stdout);
        if (status)
            break;
    }
    return status;
}

static int run_interactive(app_t *a)
{
    char err[256];
    crt_t *crt = crt_open(NULL, NULL, NULL, (int)a->env.o->no_color, err, sizeof(err));
    if (!crt) {
        fprintf(stderr, "clustertop: %s (use -b for batch mode)\n", err);
        return 2;
    }
    int w, h;
    crt_size(crt, &w, &h);
    canvas_resize(a->env.cv, w, h);
    uint64_t next = 0;
    uint32_t frames = 0;
    int fetch_now = 1;
    while (!stop_signal) {
        uint64_t now = now_ns();
        if (fetch_now || (!a->paused && now >= next)) {
            if (!a->paused || fetch_now)
                app_fetch(a);
            next = now_ns() + (uint64_t)(a->delay * 1e9);
            fetch_now = 0;
            frames++;
        }
        app_draw(a);
        crt_show(crt, a->env.cv);
        if (a->env.o->count && frames >= a->env.o->count)
            break;
        now = now_ns();
        int wait = a->paused ? 1000 : next > now ? (int)((next - now) / 1000000u) + 1 : 0;
        if (a->msg[0] && a->msg_until > now && (int)((a->msg_until - now) / 1000000u) < wait)
            wait = (int)((a->msg_until - now) / 1000000u) + 1;
        int key = crt_key(crt, wait);
        if (key == K_NONE || key == K_INTERRUPT)
            continue;
        if (key == K_RESIZE) {
            crt_size(crt, &w, &h);
            canvas_resize(a->env.cv, w, h);
            continue;
        }
        reaction_t r;
        if (a->prompt.kind != PROMPT_NONE) {
            r = app_prompt_key(a, key);
        } else {
            action_t act = keys_action(key);
            r = app_act(a, act);
            if (act == ACT_REDRAW)
                crt_redraw(crt);
        }
        if (r & RX_QUIT)
            break;
        if (r & RX_REFETCH)
            fetch_now = 1;
    }
    crt_close(&crt);
    return 0;
}

int app_run(const ct_opts_t *o)
{
    setlocale(LC_ALL, "");
    if (!o->batch && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
        fprintf(stderr,
                "clustertop: %s is not a terminal: use -b for batch mode "
                "(clustertop -b -n 1 prints one frame)\n",
                !isatty(STDOUT_FILENO) ? "standard output" : "standard input");
        return 2;
    }
    const char *what;
    const char *ep = ct_opts_endpoint(o, &what);
    char err[1200];
    wire_curve_t curve;
    const char *dir = o->curve_dir[0] ? o->curve_dir : getenv("ULMA_CURVE_DIR");
    int krc = wire_curve_for(&curve, "clustertop", ep, o->plaintext ? NULL : dir, o->server_key,
                             (int)o->plaintext, 1, err, sizeof(err));
    if (krc != 0) {
        fprintf(stderr, "clustertop: %s\n", err);
        return krc == -2 ? 2 : 1;
    }
    wire_client_t *c = wire_client_new(ep, &curve, err, sizeof(err));
    memset(&curve, 0, sizeof(curve));
    if (!c) {
        fprintf(stderr, "clustertop: %s\n", err);
        return 2;
    }
    /* a peer that is down costs a short wait per refresh, not the timeout */
    wire_client_set_connect_wait(c, o->batch ? (int)o->timeout_ms : 250);
    int w = 160;
    const char *cols = getenv("COLUMNS");
    if (o->width)
        w = (int)o->width;
    else if (cols && atoi(cols) > 20)
        w = atoi(cols);
    app_t *a = app_new(o, client_ask, c, w, o->batch ? 4096 : 24, utf8_locale(o));
    int status;
    if (app_open_view(a, o->view, o->tab, err, sizeof(err)) != 0) {
        fprintf(stderr, "clustertop: %s\n", err);
        status = 2;
    } else {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        status = o->batch ? run_batch(a) : run_interactive(a);
    }
    app_destroy(&a);
    wire_client_destroy(&c);
    return status;
}
