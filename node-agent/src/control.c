/* control.c - control requests and their answers. */
#define _GNU_SOURCE
#include "control.h"

#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "profile/profile.h"
#include "uplink.h"
#include "wire/wire.h"

#define CTL_MAX_TARGETS 4096

typedef struct ctl_wait {
    ctl_answer_t how;
    uint64_t id;
    void *env[CTL_MAX_FRAMES]; /* envelope frames (copied) */
    size_t env_len[CTL_MAX_FRAMES];
    int nenv;
    uint64_t deadline_ns;
    uint32_t control;
    uint32_t n;
    struct {
        aproc_t *proc;
        uint32_t seq;
    } t[CTL_MAX_TARGETS];
    struct ctl_wait *next;
} ctl_wait_t;

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

uint32_t control_start(agent_t *a, uint32_t ctl, const ctl_match_t *m, uint32_t wait_ms,
                       ctl_answer_t how, uint64_t id, void *const *env, const size_t *env_len,
                       int nenv)
{
    ctl_wait_t *w = xcalloc(1, sizeof(*w));
    for (aproc_t *p = a->procs; p && w->n < CTL_MAX_TARGETS; p = p->next) {
        if (!matches(p, m))
            continue;
        w->t[w->n].proc = p;
        w->t[w->n].seq = ulma_reader_request(p->rd, ctl);
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
    w->nenv = nenv < CTL_MAX_FRAMES ? nenv : CTL_MAX_FRAMES;
    for (int i = 0; i < w->nenv; i++) {
        w->env[i] = xmalloc(env_len[i] ? env_len[i] : 1);
        memcpy(w->env[i], env[i], env_len[i]);
        w->env_len[i] = env_len[i];
    }
    w->next = a->waits;
    a->waits = w;
    control_check(a, 0); /* answers at once if wait_ms is 0 */
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

static void answer_reply(agent_t *a, const ctl_wait_t *cw, sbuf_t *ans, int timed_out)
{
    wire_arena_t *ar = wire_arena_new();
    Ulma__Wire__Reply r = ULMA__WIRE__REPLY__INIT;
    r.version = WIRE_VERSION;
    r.id = cw->id;
    r.ok = 1;
    Ulma__Wire__ControlAnswer *c =
        WIRE_MSG(ar, Ulma__Wire__ControlAnswer, ulma__wire__control_answer__init);
    c->requested = cw->n;
    c->timed_out = timed_out;
    c->nodes = c->nodes_answered = 1;
    c->targets = WIRE_MSGS(ar, cw->n, Ulma__Wire__ControlAckRow, ulma__wire__control_ack_row__init);
    c->n_targets = cw->n;
    for (uint32_t i = 0; i < cw->n; i++) {
        aproc_t *p = cw->t[i].proc;
        Ulma__Wire__ControlAckRow *t = c->targets[i];
        t->node = wire_strdup(ar, agent_node_name(a));
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

static void answer_ack(agent_t *a, const ctl_wait_t *cw, int timed_out)
{
    wire_arena_t *ar = wire_arena_new();
    Ulma__Wire__ControlAck ack = ULMA__WIRE__CONTROL_ACK__INIT;
    ack.request = cw->id;
    ack.timed_out = timed_out;
    ack.targets = WIRE_MSGS(ar, cw->n, Ulma__Wire__ControlTarget, ulma__wire__control_target__init);
    ack.n_targets = cw->n;
    for (uint32_t i = 0; i < cw->n; i++) {
        aproc_t *p = cw->t[i].proc;
        ack.targets[i]->pid = p->info.pid;
        ack.targets[i]->rank = p->info.mpi_rank;
        ack.targets[i]->applied = applied(cw, i);
        ack.targets[i]->active_mode = ulma_reader_active_mode(p->rd);
    }
    uplink_ack(a->up, &ack);
    wire_arena_destroy(&ar);
}

void control_check(agent_t *a, int force)
{
    uint64_t now = now_ns();
    for (ctl_wait_t **wp = (ctl_wait_t **)&a->waits; *wp;) {
        ctl_wait_t *w = *wp;
        int all = 1;
        for (uint32_t i = 0; i < w->n && all; i++)
            all = applied(w, i);
        if (!all && !force && now < w->deadline_ns) {
            wp = &w->next;
            continue;
        }
        sbuf_t ans = {0};
        if (w->how == CTL_ANSWER_ACK) {
            answer_ack(a, w, !all);
        } else {
            if (w->how == CTL_ANSWER_JSON)
                answer_json(w, &ans, !all);
            else
                answer_reply(a, w, &ans, !all);
            agent_send(a, w->env, w->env_len, w->nenv, &ans, NULL);
        }
        sbuf_free(&ans);
        *wp = w->next;
        for (int i = 0; i < w->nenv; i++)
            free(w->env[i]);
        free(w);
    }
}

int control_busy(const agent_t *a, const aproc_t *p)
{
    for (const ctl_wait_t *w = a->waits; w; w = w->next)
        for (uint32_t i = 0; i < w->n; i++)
            if (w->t[i].proc == p)
                return 1;
    return 0;
}
