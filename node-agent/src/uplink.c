/* uplink.c - reports to the collector and its requests. */
#define _GNU_SOURCE
#include "uplink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "pbquery.h"
#include "profile/profile.h"
#include "wire/answer.h"
#include "wire/curve.h"
#include "wire/sender.h"

#define GONE_MAX 4096

struct uplink {
    const agent_view_t *v;
    proctab_t *t;
    control_t *ctl;
    uint32_t snapshot_every;
    uint32_t bad;             /* bad messages since uplink_serve began */
    void *sock;
    wire_sender_t *snd;
    uint64_t interval_ns, next_ns;
    uint32_t since_snapshot;
    uint32_t phase;           /* reports the first period is shorter by (see uplink_new) */
    int want_snapshot, want_dictionary;
    /* processes forgotten since the last report */
    int32_t gone_pid[GONE_MAX];
    uint64_t gone_st[GONE_MAX];
    uint32_t ngone;
    Ulma__Wire__AgentCounters counters;
};

uplink_t *uplink_new(const agent_config_t *cfg, const agent_view_t *v, proctab_t *t,
                     control_t *ctl, void *zctx, char *err, size_t errlen)
{
    const char *endpoint = cfg->collector;
    uplink_t *u = xcalloc(1, sizeof(*u));
    u->v = v;
    u->t = t;
    u->ctl = ctl;
    u->snapshot_every = cfg->snapshot_every;
    u->sock = zmq_socket(zctx, ZMQ_DEALER);
    if (!u->sock) {
        snprintf(err, errlen, "cannot make a socket: %s", zmq_strerror(zmq_errno()));
        free(u);
        return NULL;
    }
    int zero = 0, one = 1, sndhwm = 4, rcvhwm = 1000;
    int ivl = 100, ivl_max = 5000, hb = 1000, hb_timeout = 5000;
    int64_t maxmsg = WIRE_MAX_MSG;
    zmq_setsockopt(u->sock, ZMQ_LINGER, &zero, sizeof(zero));
    /* a report waits for no one: queue a few, then fold them into the next */
    zmq_setsockopt(u->sock, ZMQ_SNDHWM, &sndhwm, sizeof(sndhwm));
    zmq_setsockopt(u->sock, ZMQ_RCVHWM, &rcvhwm, sizeof(rcvhwm));
    zmq_setsockopt(u->sock, ZMQ_IMMEDIATE, &one, sizeof(one));
    zmq_setsockopt(u->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
    zmq_setsockopt(u->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
    zmq_setsockopt(u->sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb));
    zmq_setsockopt(u->sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof(hb_timeout));
    zmq_setsockopt(u->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    wire_curve_t k;
    err[0] = 0;
    if (wire_curve_for(&k, "ulma-agent", endpoint, cfg->curve_dir, cfg->server_key,
                       (int)cfg->plaintext, 1, err, errlen) != 0 ||
        wire_curve_client(u->sock, &k) != 0) {
        if (!err[0])
            snprintf(err, errlen, "cannot set the CURVE keys: %s", zmq_strerror(zmq_errno()));
        memset(&k, 0, sizeof(k));
        zmq_close(u->sock);
        free(u);
        return NULL;
    }
    memset(&k, 0, sizeof(k));
    if (zmq_connect(u->sock, endpoint) != 0) {
        snprintf(err, errlen, "cannot connect to the collector at %s: %s", endpoint,
                 zmq_strerror(zmq_errno()));
        zmq_close(u->sock);
        free(u);
        return NULL;
    }
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    wire_node_info_t ni = {
        .name = v->node,
        .host = host,
        .agent_version = ULMA_VERSION_STRING,
        .dir = v->dir,
        .cpus = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN),
        .agent_pid = (int32_t)getpid(),
        .agent_start_ns = wall_ns(),
    };
    u->interval_ns = (uint64_t)(cfg->report_s * 1e9);
    u->snd = wire_sender_new(&ni, 0, u->interval_ns);
    u->want_snapshot = u->want_dictionary = 1; /* a new session starts whole */
    /* Agents started together (one command over the nodes, a boot) report
     * in step, and their periodic snapshots, every --snapshot-every reports
     * after the first, would all reach the collector in the same interval,
     * delaying every other report behind them. A phase drawn from the
     * session id (random) spreads them over the period; the first period
     * is at most as long as the others. */
    if (u->snapshot_every > 1)
        u->phase = (uint32_t)(wire_sender_session(u->snd) % u->snapshot_every);
    ulma__wire__agent_counters__init(&u->counters);
    return u;
}

void uplink_destroy(uplink_t **u_p)
{
    if (!u_p || !*u_p)
        return;
    uplink_t *u = *u_p;
    if (u->sock)
        zmq_close(u->sock);
    wire_sender_destroy(&u->snd);
    free(u);
    *u_p = NULL;
}

void *uplink_socket(const uplink_t *u) { return u->sock; }

void uplink_forget(uplink_t *u, const aproc_t *p)
{
    if (!u || u->ngone >= GONE_MAX)
        return;
    u->gone_pid[u->ngone] = p->info.pid;
    u->gone_st[u->ngone] = p->info.start_time;
    u->ngone++;
}

/* ---- reports ------------------------------------------------------------------- */

typedef struct job_group {
    const char *job;
    profile_t *merged;
} job_group_t;

static void report(uplink_t *u)
{
    int snapshot = u->want_snapshot || u->since_snapshot + 1 >= u->snapshot_every;
    wire_sender_begin(u->snd, snapshot, u->want_dictionary);
    job_group_t groups[256];
    uint32_t ng = 0;
    for (aproc_t *p = u->t->procs; p; p = p->next) {
        profile_t *pr = proctab_profile(p);
        wire_sender_process(u->snd, profile_meta_c(pr), pr, p->prof->nthreads);
        /* edges and paths travel summed per job on this node */
        uint32_t g = 0;
        while (g < ng && strcmp(groups[g].job, p->info.job) != 0)
            g++;
        if (g == ng && ng < 256) {
            groups[ng].job = p->info.job;
            groups[ng].merged = profile_new();
            ng++;
        }
        if (g < ng)
            profile_merge(groups[g].merged, pr);
        profile_destroy(&pr);
    }
    for (uint32_t g = 0; g < ng; g++) {
        wire_sender_group(u->snd, groups[g].job, groups[g].merged);
        profile_destroy(&groups[g].merged);
    }
    for (uint32_t i = 0; i < u->ngone; i++)
        wire_sender_gone(u->snd, u->gone_pid[i], u->gone_st[i]);
    u->counters.queries = u->v->requests;
    u->counters.bad_messages = u->v->bad_requests;
    sbuf_t msg = {0};
    wire_sender_end(u->snd, &u->counters, &msg);
    if (wire_send(u->sock, &msg, 0) == 0) {
        wire_sender_sent(u->snd);
        u->counters.reports_sent++;
        u->ngone = 0;
        /* what the collector now holds of each process, for an agent that
         * takes over should this one die before the next report */
        for (aproc_t *p = u->t->procs; p; p = p->next)
            ulma_reader_set_reported(p->rd, p->base_read + p->prof->events);
        if (snapshot) {
            u->counters.snapshots_sent++;
            u->since_snapshot = u->phase; /* the phase once, then whole periods */
            u->phase = 0;
            u->want_snapshot = u->want_dictionary = 0;
        } else {
            u->since_snapshot++;
        }
    } else {
        /* not queued (no collector, or it is slow): the next report carries
         * these changes too */
        wire_sender_unsent(u->snd);
        u->counters.reports_unsent++;
    }
    sbuf_free(&msg);
}

void uplink_tick(uplink_t *u, uint64_t now)
{
    if (now < u->next_ns)
        return;
    u->next_ns = now + u->interval_ns;
    report(u);
}

/* ---- the collector's messages ----------------------------------------------------- */

static void send_msg(uplink_t *u, Ulma__Wire__AgentMsg *m)
{
    sbuf_t b = {0};
    wire_pack(&m->base, &b);
    if (wire_send(u->sock, &b, 0) != 0)
        u->counters.reports_unsent++;
    sbuf_free(&b);
}

void uplink_ack(uplink_t *u, const Ulma__Wire__ControlAck *ack)
{
    if (!u)
        return;
    Ulma__Wire__AgentMsg m = ULMA__WIRE__AGENT_MSG__INIT;
    m.version = WIRE_VERSION;
    m.body_case = ULMA__WIRE__AGENT_MSG__BODY_ACK;
    m.ack = (Ulma__Wire__ControlAck *)ack;
    send_msg(u, &m);
}

static void on_control(uplink_t *u, const Ulma__Wire__Control *c)
{
    if (c->mode > ULMA_MODE_FULL) {
        Ulma__Wire__ControlAck ack = ULMA__WIRE__CONTROL_ACK__INIT;
        ack.request = c->request;
        ack.error = "mode: 0 (off), 1 (fast) or 2 (full)";
        uplink_ack(u, &ack);
        return;
    }
    uint32_t ctl = c->mode | (c->objects ? ULMA_CTL_OBJECTS : 0);
    ctl_match_t m = {c->pid, c->job && *c->job ? c->job : NULL, c->rank};
    uint32_t wait = c->wait_ms ? (c->wait_ms > 60000 ? 60000 : c->wait_ms) : 1500;
    if (!control_start(u->ctl, u->t, ctl, &m, wait, CTL_ANSWER_ACK, c->request, NULL)) {
        Ulma__Wire__ControlAck ack = ULMA__WIRE__CONTROL_ACK__INIT;
        ack.request = c->request;
        ack.error = "no running profiled process matches";
        uplink_ack(u, &ack);
    }
}

static void on_query(uplink_t *u, const Ulma__Wire__Forwarded *f)
{
    wire_refusal_t why;
    Ulma__Wire__Query *q = wire_query(f->message.data, f->message.len, &why);
    wire_answer_t w;
    wire_answer_init(&w, q ? q->id : 0);
    if (!q) {
        u->bad++;
        wire_answer_error(&w, "forwarded query refused: %s", wire_refusal_name(why));
    } else if (q->kind == ULMA__WIRE__KIND__CONTROL) {
        wire_answer_error(&w, "CONTROL goes to agents as a Control message, not a query");
    } else if (pbquery_handle(u->v, u->t, u->ctl, q, &w, CTL_ANSWER_ACK, NULL) == QUERY_FAILED) {
        u->bad++;
    }
    sbuf_t b = {0};
    wire_answer_pack(&w, &b);
    Ulma__Wire__Forwarded out = ULMA__WIRE__FORWARDED__INIT;
    out.id = f->id;
    out.message.data = (uint8_t *)b.data;
    out.message.len = b.len;
    Ulma__Wire__AgentMsg m = ULMA__WIRE__AGENT_MSG__INIT;
    m.version = WIRE_VERSION;
    m.body_case = ULMA__WIRE__AGENT_MSG__BODY_ANSWER;
    m.answer = &out;
    send_msg(u, &m);
    sbuf_free(&b);
    wire_answer_free(&w);
    if (q)
        protobuf_c_message_free_unpacked(&q->base, NULL);
}

uint32_t uplink_serve(uplink_t *u)
{
    u->bad = 0;
    for (int budget = 0; budget < 64; budget++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, u->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        int more = zmq_msg_more(&m);
        wire_refusal_t why;
        Ulma__Wire__CollectorMsg *cm =
            more ? NULL : wire_collector_msg(zmq_msg_data(&m), zmq_msg_size(&m), &why);
        zmq_msg_close(&m);
        while (more) { /* one frame per message: drop the rest */
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, u->sock, ZMQ_DONTWAIT) < 0)
                more = 0;
            else
                more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        if (!cm) {
            u->bad++;
            continue;
        }
        switch (cm->body_case) {
        case ULMA__WIRE__COLLECTOR_MSG__BODY_SNAPSHOT_REQUEST:
            if (cm->snapshot_request->session == wire_sender_session(u->snd) ||
                !cm->snapshot_request->session) {
                u->want_snapshot = 1;
                u->want_dictionary |= cm->snapshot_request->full_dictionary;
                u->next_ns = 0; /* at once: the collector is waiting */
            }
            break;
        case ULMA__WIRE__COLLECTOR_MSG__BODY_CONTROL: on_control(u, cm->control); break;
        case ULMA__WIRE__COLLECTOR_MSG__BODY_QUERY: on_query(u, cm->query); break;
        default: u->bad++; break;
        }
        protobuf_c_message_free_unpacked(&cm->base, NULL);
    }
    return u->bad;
}
