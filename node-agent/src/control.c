/* control.c - control requests and their answers. */
#define _GNU_SOURCE
#include "control.h"

#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"

#define CTL_MAX_TARGETS 4096

typedef struct ctl_wait {
    ctl_answer_t how;
    uint64_t id;
    envelope_t *env;           /* copied; NULL for the collector */
    uint64_t deadline_ns;
    uint32_t control;
    uint32_t n;
    struct {
        aproc_t *proc;
        uint32_t seq;
    } t[CTL_MAX_TARGETS];
    struct ctl_wait *next;
} ctl_wait_t;

struct control {
    char *node;
    ctl_wait_t *waits;
    uint64_t started;   /* requests queued, ever */
    /* the answer control_next handed out last, freed at the next call */
    ctl_wait_t *done;
    wire_arena_t *arena;
    sbuf_t bytes;
};

control_t *control_new(const char *node)
{
    control_t *c = xcalloc(1, sizeof(*c));
    c->node = xstrdup(node);
    return c;
}

/* Unpin the targets of `w` and free it. */
static void wait_free(ctl_wait_t *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < w->n; i++)
        w->t[i].proc->pins--;
    envelope_free(&w->env);
    free(w);
}

/* Free what the last control_next handed out. */
static void release_done(control_t *c)
{
    wait_free(c->done);
    c->done = NULL;
    wire_arena_destroy(&c->arena);
    sbuf_free(&c->bytes);
}

void control_destroy(control_t **c_p)
{
    if (!c_p || !*c_p)
        return;
    control_t *c = *c_p;
    release_done(c);
    while (c->waits) {
        ctl_wait_t *w = c->waits;
        c->waits = w->next;
        wait_free(w);
    }
    free(c->node);
    free(c);
    *c_p = NULL;
}

uint64_t control_started(const control_t *c) { return c->started; }

int control_mode(const char *name)
{
    if (!name)
        return -1;
    if (strcmp(name, "off") == 0)
        return ULMA_MODE_OFF;
    if (strcmp(name, "on") == 0 || strcmp(name, "fast") == 0)
        return ULMA_MODE_FAST;
    if (strcmp(name, "full") == 0)
        return ULMA_MODE_FULL;
    return -1;
}

static int matches(const aproc_t *p, const ctl_match_t *m)
{
    if (p->finished)
        return 0;
    if (m->pid && p->info.pid != m->pid)
        return 0;
    if (m->job && strcmp(p->info.job, m->job) != 0)
        return 0;
    if (m->rank >= 0 && p->info.mpi_rank != m->rank)
        return 0;
    return 1;
}

uint32_t control_start(control_t *c, proctab_t *t, uint32_t ctl, const ctl_match_t *m,
                       uint32_t wait_ms, ctl_answer_t how, uint64_t id, const envelope_t *env)
{
    ctl_wait_t *w = xcalloc(1, sizeof(*w));
    for (aproc_t *p = t->procs; p && w->n < CTL_MAX_TARGETS; p = p->next) {
        if (!matches(p, m))
            continue;
        w->t[w->n].proc = p;
        w->t[w->n].seq = ulma_reader_request(p->rd, ctl);
        p->pins++;
        w->n++;
    }
    uint32_t n = w->n;
    if (!n) {
        free(w);
        return 0;
    }
    w->how = how;
    w->id = id;
    w->control = ctl;
    w->deadline_ns = now_ns() + (uint64_t)wait_ms * 1000000u;
    w->env = env ? envelope_copy(env) : NULL;
    w->next = c->waits;
    c->waits = w;
    c->started++;
    return n;
}

static int applied(const ctl_wait_t *w, uint32_t i)
{
    return (int32_t)(ulma_reader_applied_seq(w->t[i].proc->rd) - w->t[i].seq) >= 0;
}

static void answer_json(const ctl_wait_t *cw, sbuf_t *ans, int timed_out)
{
    uint32_t n_applied = 0;
    jw_t w;
    jw_init(&w, ans);
    jw_obj(&w);
    jw_kbool(&w, "ok", 1);
    jw_kstrz(&w, "mode", profile_mode_name(cw->control));
    jw_kbool(&w, "objects", (cw->control & ULMA_CTL_OBJECTS) != 0);
    jw_key(&w, "targets");
    jw_arr(&w);
    for (uint32_t i = 0; i < cw->n; i++) {
        aproc_t *p = cw->t[i].proc;
        int ok = applied(cw, i);
        n_applied += (uint32_t)ok;
        jw_obj(&w);
        jw_ki64(&w, "pid", p->info.pid);
        jw_ki64(&w, "rank", p->info.mpi_rank);
        jw_ku64(&w, "seq", cw->t[i].seq);
        jw_kbool(&w, "applied", ok);
        jw_kstrz(&w, "active_mode", profile_mode_name(ulma_reader_active_mode(p->rd)));
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_ku64(&w, "requested", cw->n);
    jw_ku64(&w, "applied", n_applied);
    jw_kbool(&w, "timed_out", timed_out);
    jw_obj_end(&w);
}

static void answer_reply(const control_t *ctl, const ctl_wait_t *cw, sbuf_t *ans, int timed_out)
{
    wire_arena_t *ar = wire_arena_new();
    Ulma__Wire__Reply r = ULMA__WIRE__REPLY__INIT;
    r.version = WIRE_VERSION;
    r.id = cw->id;
    r.ok = 1;
    Ulma__Wire__ControlAnswer *c =
        WIRE_MSG(ar, Ulma__Wire__ControlAnswer, ulma__wire__control_answer__descriptor);
    c->requested = cw->n;
    c->timed_out = timed_out;
    c->nodes = c->nodes_answered = 1;
    c->targets = WIRE_MSGS(ar, cw->n, Ulma__Wire__ControlAckRow, ulma__wire__control_ack_row__descriptor);
    c->n_targets = cw->n;
    for (uint32_t i = 0; i < cw->n; i++) {
        aproc_t *p = cw->t[i].proc;
        Ulma__Wire__ControlAckRow *t = c->targets[i];
        t->node = wire_strdup(ar, ctl->node);
        t->pid = p->info.pid;
        t->rank = p->info.mpi_rank;
        t->applied = applied(cw, i);
        t->mode = wire_strdup(ar, profile_mode_name(ulma_reader_active_mode(p->rd)));
        c->applied += t->applied;
    }
    r.control = c;
    wire_pack(&r.base, ans);
    wire_arena_destroy(&ar);
}

/* The acknowledgement, allocated in `ar`. */
static const Ulma__Wire__ControlAck *answer_ack(wire_arena_t *ar, const ctl_wait_t *cw,
                                                int timed_out)
{
    Ulma__Wire__ControlAck *ack =
        WIRE_MSG(ar, Ulma__Wire__ControlAck, ulma__wire__control_ack__descriptor);
    ack->request = cw->id;
    ack->timed_out = timed_out;
    ack->targets = WIRE_MSGS(ar, cw->n, Ulma__Wire__ControlTarget, ulma__wire__control_target__descriptor);
    ack->n_targets = cw->n;
    for (uint32_t i = 0; i < cw->n; i++) {
        aproc_t *p = cw->t[i].proc;
        ack->targets[i]->pid = p->info.pid;
        ack->targets[i]->rank = p->info.mpi_rank;
        ack->targets[i]->applied = applied(cw, i);
        ack->targets[i]->active_mode = ulma_reader_active_mode(p->rd);
    }
    return ack;
}

int control_next(control_t *c, int force, ctl_done_t *out)
{
    release_done(c);
    if (!c->waits)
        return 0;
    uint64_t now = now_ns();
    for (ctl_wait_t **wp = &c->waits; *wp; wp = &(*wp)->next) {
        ctl_wait_t *w = *wp;
        int all = 1;
        for (uint32_t i = 0; i < w->n && all; i++)
            all = applied(w, i);
        if (!all && !force && now < w->deadline_ns)
            continue;
        *wp = w->next;
        c->done = w;
        memset(out, 0, sizeof(*out));
        out->how = w->how;
        out->env = w->env;
        if (w->how == CTL_ANSWER_ACK) {
            c->arena = wire_arena_new();
            out->ack = answer_ack(c->arena, w, !all);
        } else if (w->how == CTL_ANSWER_JSON) {
            answer_json(w, &c->bytes, !all);
        } else {
            answer_reply(c, w, &c->bytes, !all);
        }
        out->bytes = c->bytes;
        return 1;
    }
    return 0;
}
