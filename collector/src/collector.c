/* collector.c - the reactor, the cron function, forwarding, control
 * routing, the dump. */
#define _GNU_SOURCE
#include "collector.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

#include "metrics.h"
#include "query.h"
#include "store_int.h"
#include "view.h"
#include "watch.h"
#include "wire/curve.h"

#define MAX_FRAMES 4
#define AGENT_BATCH 256     /* agent messages per turn before looking at queries, */
#define AGENT_BATCH_MS 20   /* or this long, whichever comes first */
#define AGENTS_BACKLOG 4096 /* pending connections: a whole cluster's agents start at once */
#define TIMER_MS 50         /* timeouts are checked this often */
#define ACK_MARGIN_MS 1000  /* control: the agents' wait plus this */

/* Who asked: the ROUTER envelope to answer through. */
typedef struct asker {
    unsigned char id[256];
    size_t id_len;
    int delim;              /* an empty delimiter frame (REQ, some DEALERs) */
} asker_t;

typedef struct pending {
    int used, control;
    uint64_t id;            /* forward id or control request id */
    uint64_t query_id;      /* the asker's Query.id */
    asker_t who;
    uint64_t deadline;
    char node[256];         /* forward: the node asked */
    uint32_t forward_ms;
    /* control */
    node_t **nodes;         /* asked; NULL once answered */
    uint32_t nnodes, answered, limit;
    wire_answer_t w;        /* the answer being built */
    Ulma__Wire__ControlAnswer *ca;
    Ulma__Wire__ControlAckRow **rows;
    uint32_t nrows, rows_cap;
} pending_t;

struct collector {
    collector_config_t cfg;
    store_t *s;
    void *zctx, *agents, *query;
    wire_auth_t *auth;      /* the key checker, NULL in plain text */
    int query_curve;        /* the query socket checks keys: control needs a control key */
    metrics_t *metrics;
    pending_t *pend;
    uint32_t npend;
    uint64_t next_id;
    metrics_extra_t x;
    volatile sig_atomic_t stop, dump_now;
    uint64_t started;
};

static void logv(const collector_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logv(const collector_t *c, const char *fmt, ...)
{
    if (!c->cfg.verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ulma-collector: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Both ROUTERs. Dead peers are found by TCP keepalive (probes the peer's
 * kernel answers), not by ZMTP heartbeats: with libzmq 4.3.4 a heartbeat
 * that times out on a connection whose input is stopped by its high-water
 * mark (a peer sending faster than we read: a flood, or a slow turn of
 * ours) aborts the whole process in the I/O thread (assertion !_io_error,
 * stream_engine_base.cpp; test_collector_flood made it happen in seconds).
 * A stopped input is what the marks are for, so the heartbeats go. */
static int sock_opts(void *s, const collector_config_t *cfg, uint32_t rcvhwm)
{
    int hwm = (int)cfg->hwm, rhwm = (int)rcvhwm, zero = 0, one = 1;
    int64_t maxmsg = WIRE_MAX_MSG;
    int idle = (int)(3 * cfg->interval_s + 0.5), intvl = 2, cnt = 3;
    if (idle < 5)
        idle = 5;
    return zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)) ||
           zmq_setsockopt(s, ZMQ_RCVHWM, &rhwm, sizeof(rhwm)) ||
           zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero)) ||
           zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) ||
           zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof(one)) ||
           zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE, &one, sizeof(one)) ||
           zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof(idle)) ||
           zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE_INTVL, &intvl, sizeof(intvl)) ||
           zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE_CNT, &cnt, sizeof(cnt));
}

collector_t *collector_new(const collector_config_t *cfg, char *err, size_t errlen)
{
    collector_t *c = xcalloc(1, sizeof(*c));
    c->cfg = *cfg;
    c->x.metrics_top = cfg->metrics_top;
    /* one connection per agent: raise the descriptor limit to what is allowed */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    store_config_t sc;
    memset(&sc, 0, sizeof(sc));
    sc.interval_ns = (uint64_t)(cfg->interval_s * 1e9);
    sc.gone_ns = (uint64_t)(cfg->gone_s * 1e9);
    sc.keep_ns = (uint64_t)(cfg->keep_s * 1e9);
    sc.history = (uint32_t)(cfg->history_s / cfg->interval_s + 0.5);
    if (!sc.history)
        sc.history = 1;
    sc.rate_points = (uint32_t)(cfg->rate_window_s / cfg->interval_s + 1.5);
    sc.snapshot_every = cfg->snapshot_every;
    store_limits_default(&sc.lim);
    sc.lim.functions = cfg->max_functions ? cfg->max_functions : sc.lim.functions;
    sc.lim.nodes = cfg->max_nodes ? cfg->max_nodes : sc.lim.nodes;
    sc.lim.procs_per_node = cfg->max_procs ? cfg->max_procs : sc.lim.procs_per_node;
    c->s = store_new(&sc);
    c->pend = xcalloc(cfg->max_forwards, sizeof(*c->pend));
    c->zctx = zmq_ctx_new();
    int maxs = 4096;
    zmq_ctx_set(c->zctx, ZMQ_MAX_SOCKETS, maxs);
    c->agents = zmq_socket(c->zctx, ZMQ_ROUTER);
    c->query = zmq_socket(c->zctx, ZMQ_ROUTER);
    if (!c->agents || !c->query || sock_opts(c->agents, cfg, cfg->agent_hwm) ||
        sock_opts(c->query, cfg, cfg->hwm)) {
        snprintf(err, errlen, "cannot make sockets: %s", zmq_strerror(errno));
        goto fail;
    }
    int one = 1, backlog = AGENTS_BACKLOG;
    zmq_setsockopt(c->agents, ZMQ_ROUTER_HANDOVER, &one, sizeof(one));
    zmq_setsockopt(c->agents, ZMQ_BACKLOG, &backlog, sizeof(backlog));
    /* CURVE on the network endpoints, before they are bound; the key
     * checker is bound before them too, so that no handshake misses it */
    wire_curve_t ka, kq;
    if (wire_curve_for(&ka, "ulma-collector", cfg->agents, cfg->curve_dir, NULL, cfg->plaintext,
                       0, err, errlen) != 0 ||
        wire_curve_for(&kq, "ulma-collector", cfg->query, cfg->curve_dir, NULL, cfg->plaintext, 0,
                       err, errlen) != 0)
        goto fail;
    if (ka.on || kq.on) {
        c->auth = wire_auth_new(c->zctx, ka.on ? &ka : &kq, "ulma-collector",
                                cfg->verbose ? 1 : cfg->quiet ? -1 : 0, err, errlen);
        if (!c->auth)
            goto fail;
        if ((ka.on && (wire_curve_server(c->agents, &ka, "agents") != 0 ||
                       wire_auth_watch(c->auth, c->agents) != 0)) ||
            (kq.on && (wire_curve_server(c->query, &kq, "query") != 0 ||
                       wire_auth_watch(c->auth, c->query) != 0))) {
            snprintf(err, errlen, "cannot set up CURVE: %s", zmq_strerror(zmq_errno()));
            goto fail;
        }
    }
    c->query_curve = kq.on;
    memset(&ka, 0, sizeof(ka));
    memset(&kq, 0, sizeof(kq));
    if (zmq_bind(c->agents, cfg->agents) != 0) {
        snprintf(err, errlen, "cannot bind --agents %s: %s", cfg->agents, zmq_strerror(errno));
        goto fail;
    }
    if (zmq_bind(c->query, cfg->query) != 0) {
        snprintf(err, errlen, "cannot bind --query %s: %s", cfg->query, zmq_strerror(errno));
        goto fail;
    }
    if (c->auth && wire_auth_start(c->auth) != 0) {
        snprintf(err, errlen, "cannot start the key checker's thread");
        goto fail;
    }
    if (cfg->metrics[0] && strcmp(cfg->metrics, "none") != 0) {
        c->metrics = metrics_new(cfg->metrics, err, errlen);
        if (!c->metrics)
            goto fail;
    }
    c->next_id = 1;
    c->started = now_ns();
    return c;
fail:
    collector_destroy(&c);
    return NULL;
}

static void pending_free(pending_t *p)
{
    if (p->control)
        wire_answer_free(&p->w);
    free(p->nodes);
    memset(p, 0, sizeof(*p));
}

void collector_destroy(collector_t **c_p)
{
    if (!c_p || !*c_p)
        return;
    collector_t *c = *c_p;
    metrics_destroy(&c->metrics);
    for (uint32_t i = 0; c->pend && i < c->cfg.max_forwards; i++)
        if (c->pend[i].used)
            pending_free(&c->pend[i]);
    free(c->pend);
    wire_auth_destroy(&c->auth);
    if (c->agents)
        zmq_close(c->agents);
    if (c->query)
        zmq_close(c->query);
    if (c->zctx)
        zmq_ctx_term(c->zctx);
    store_destroy(&c->s);
    free(c);
    *c_p = NULL;
}

void collector_stop(collector_t *c) { c->stop = 1; }
void collector_dump_soon(collector_t *c) { c->dump_now = 1; }

/* ---- sending ----------------------------------------------------------------------------- */

static int send_to(collector_t *c, void *sock, const void *id, size_t id_len, int delim,
                   const sbuf_t *body)
{
    if (zmq_send(sock, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        goto fail;
    if (delim && zmq_send(sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        goto fail;
    if (wire_send(sock, body, 0) != 0)
        goto fail;
    return 0;
fail:
    c->x.send_failures++;
    return -1;
}

static void send_collector_msg(collector_t *c, const void *id, size_t id_len,
                               Ulma__Wire__CollectorMsg *m)
{
    m->version = WIRE_VERSION;
    sbuf_t b = {0};
    wire_pack(&m->base, &b);
    send_to(c, c->agents, id, id_len, 0, &b);
    sbuf_free(&b);
}

static void answer_to(collector_t *c, const asker_t *who, wire_answer_t *w)
{
    sbuf_t b = {0};
    wire_answer_pack(w, &b);
    send_to(c, c->query, who->id, who->id_len, who->delim, &b);
    sbuf_free(&b);
}

static void answer_error(collector_t *c, const asker_t *who, uint64_t id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void answer_error(collector_t *c, const asker_t *who, uint64_t id, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    wire_answer_t w;
    wire_answer_init(&w, id);
    wire_answer_error(&w, "%s", msg);
    answer_to(c, who, &w);
    wire_answer_free(&w);
}

/* ---- receiving -------------------------------------------------------------------------------- */

typedef struct frames {
    zmq_msg_t m[MAX_FRAMES];
    int n, extra;           /* frames kept, frames beyond MAX_FRAMES */
} frames_t;

/* One whole message; 0, or -1 if nothing was waiting. */
static int recv_frames(void *sock, frames_t *f)
{
    f->n = f->extra = 0;
    for (;;) {
        zmq_msg_t tmp, *m = f->n < MAX_FRAMES ? &f->m[f->n] : &tmp;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            if (f->n == 0)
                return -1;
            return 0;  /* cannot happen: parts arrive together */
        }
        int more = zmq_msg_more(m);
        if (m == &tmp) {
            zmq_msg_close(m);
            f->extra++;
        } else {
            f->n++;
        }
        if (!more)
            return 0;
    }
}

static void frames_close(frames_t *f)
{
    for (int i = 0; i < f->n; i++)
        zmq_msg_close(&f->m[i]);
    f->n = 0;
}

/* The asker and the payload of a ROUTER message: [id] [""] payload. */
static int envelope(frames_t *f, asker_t *who, const void **data, size_t *len)
{
    if (f->extra || f->n < 2 || f->n > 3)
        return -1;
    size_t il = zmq_msg_size(&f->m[0]);
    if (il > sizeof(who->id))
        return -1;
    memcpy(who->id, zmq_msg_data(&f->m[0]), il);
    who->id_len = il;
    who->delim = f->n == 3;
    if (who->delim && zmq_msg_size(&f->m[1]) != 0)
        return -1;
    zmq_msg_t *p = &f->m[f->n - 1];
    *data = zmq_msg_data(p);
    *len = zmq_msg_size(p);
    return 0;
}

static store_bad_t refusal_reason(wire_refusal_t why)
{
    return why == WIRE_TOO_BIG ? BAD_TOO_BIG : why == WIRE_BAD_VERSION ? BAD_VERSION : BAD_MALFORMED;
}

static pending_t *pending_find(collector_t *c, uint64_t id, int control)
{
    for (uint32_t i = 0; i < c->cfg.max_forwards; i++)
        if (c->pend[i].used && c->pend[i].id == id && c->pend[i].control == control)
            return &c->pend[i];
    return NULL;
}

static pending_t *pending_new(collector_t *c)
{
    for (uint32_t i = 0; i < c->cfg.max_forwards; i++)
        if (!c->pend[i].used) {
            memset(&c->pend[i], 0, sizeof(c->pend[i]));
            c->pend[i].used = 1;
            c->npend++;
            return &c->pend[i];
        }
    return NULL;
}

static void pending_done(collector_t *c, pending_t *p)
{
    pending_free(p);
    c->npend--;
}

static void control_finish(collector_t *c, pending_t *p, int timed_out)
{
    Ulma__Wire__ControlAnswer *ca = p->ca;
    ca->nodes_answered = p->answered;
    ca->timed_out = ca->timed_out || timed_out;
    ca->targets = p->rows;
    ca->n_targets = p->nrows;
    p->w.r.control = ca;
    answer_to(c, &p->who, &p->w);
    pending_done(c, p);
}

static void on_ack(collector_t *c, const asker_t *from, const Ulma__Wire__ControlAck *ack)
{
    pending_t *p = pending_find(c, ack->request, 1);
    if (!p)
        return; /* late: already answered */
    int k = -1;
    for (uint32_t i = 0; i < p->nnodes; i++)
        if (p->nodes[i] && p->nodes[i]->peer_len == from->id_len &&
            memcmp(p->nodes[i]->peer, from->id, from->id_len) == 0) {
            k = (int)i;
            break;
        }
    if (k < 0)
        return;
    const char *node = p->nodes[k]->name;
    p->nodes[k] = NULL;
    p->answered++;
    Ulma__Wire__ControlAnswer *ca = p->ca;
    ca->timed_out = ca->timed_out || ack->timed_out;
    for (size_t i = 0; i < ack->n_targets; i++) {
        const Ulma__Wire__ControlTarget *t = ack->targets[i];
        ca->requested++;
        ca->applied += t->applied;
        if (p->nrows >= p->limit)
            continue;
        if (p->nrows == p->rows_cap) {
            uint32_t cap = p->rows_cap ? p->rows_cap * 2 : 16;
            Ulma__Wire__ControlAckRow **r = wire_alloc(p->w.a, sizeof(*r) * cap);
            if (p->nrows) /* rows is NULL before the first */
                memcpy(r, p->rows, sizeof(*r) * p->nrows);
            p->rows = r;
            p->rows_cap = cap;
        }
        Ulma__Wire__ControlAckRow *o =
            WIRE_MSG(p->w.a, Ulma__Wire__ControlAckRow, ulma__wire__control_ack_row__descriptor);
        o->node = wire_strdup(p->w.a, node);
        o->pid = t->pid;
        o->rank = t->rank;
        o->applied = t->applied;
        o->mode = wire_strdup(p->w.a, profile_mode_name(t->active_mode));
        p->rows[p->nrows++] = o;
    }
    if (p->answered == p->nnodes)
        control_finish(c, p, 0);
}

static void on_answer(collector_t *c, const Ulma__Wire__Forwarded *f)
{
    pending_t *p = pending_find(c, f->id, 0);
    if (!p)
        return;
    wire_refusal_t why;
    Ulma__Wire__Reply *r = wire_reply(f->message.data, f->message.len, &why);
    if (!r) {
        answer_error(c, &p->who, p->query_id, "node %s answered with a bad reply (%s)", p->node,
                     wire_refusal_name(why));
    } else {
        r->id = p->query_id;
        r->version = WIRE_VERSION;
        sbuf_t b = {0};
        wire_pack(&r->base, &b);
        send_to(c, c->query, p->who.id, p->who.id_len, p->who.delim, &b);
        sbuf_free(&b);
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    pending_done(c, p);
}

static void on_agent(collector_t *c, frames_t *f)
{
    asker_t from;
    const void *data;
    size_t len;
    if (envelope(f, &from, &data, &len) != 0) {
        store_count_bad(c->s, BAD_ENVELOPE);
        return;
    }
    wire_refusal_t why;
    Ulma__Wire__AgentMsg *m = wire_agent_msg(data, len, &why);
    uint64_t now = now_ns();
    if (!m) {
        store_count_bad_peer(c->s, refusal_reason(why), from.id, from.id_len, now);
        logv(c, "refused a message (%s)", wire_refusal_name(why));
        return;
    }
    switch (m->body_case) {
    case ULMA__WIRE__AGENT_MSG__BODY_REPORT: {
        store_action_t act;
        store_stats_t before = *store_stats(c->s);
        int rc = store_report(c->s, m->report, now, from.id, from.id_len, &act);
        if (rc < 0 && c->cfg.verbose) {
            const store_stats_t *st = store_stats(c->s);
            int b = 0;
            while (b < BAD_NREASONS - 1 && st->bad[b] == before.bad[b])
                b++;
            logv(c, "refused a report of node %s (%s)",
                 m->report->node && m->report->node->name ? m->report->node->name : "?",
                 store_bad_name((store_bad_t)b));
        }
        if (act.ask_snapshot) {
            Ulma__Wire__CollectorMsg out = ULMA__WIRE__COLLECTOR_MSG__INIT;
            Ulma__Wire__SnapshotRequest sr = ULMA__WIRE__SNAPSHOT_REQUEST__INIT;
            sr.session = act.session;
            sr.full_dictionary = act.full_dictionary;
            out.body_case = ULMA__WIRE__COLLECTOR_MSG__BODY_SNAPSHOT_REQUEST;
            out.snapshot_request = &sr;
            send_collector_msg(c, from.id, from.id_len, &out);
            logv(c, "asked %s for a snapshot%s", m->report->node->name,
                 act.full_dictionary ? " with its dictionary" : "");
        }
        break;
    }
    case ULMA__WIRE__AGENT_MSG__BODY_ACK:
        on_ack(c, &from, m->ack);
        break;
    case ULMA__WIRE__AGENT_MSG__BODY_ANSWER:
        on_answer(c, m->answer);
        break;
    default:
        store_count_bad_peer(c->s, BAD_BODY, from.id, from.id_len, now);
    }
    protobuf_c_message_free_unpacked(&m->base, NULL);
}

static query_env_t env_of(collector_t *c)
{
    query_env_t e = {c->s, 0, c->cfg.interval_s};
    const store_stats_t *st = store_stats(c->s);
    for (int i = 0; i < BAD_NREASONS; i++)
        e.bad_messages += st->bad[i];
    return e;
}

static void on_query(collector_t *c, frames_t *f)
{
    asker_t who;
    const void *data;
    size_t len;
    if (envelope(f, &who, &data, &len) != 0) {
        c->x.bad_queries++;
        return;
    }
    wire_refusal_t why;
    Ulma__Wire__Query *q = wire_query(data, len, &why);
    if (!q) {
        c->x.bad_queries++;
        answer_error(c, &who, 0, "query refused: %s", wire_refusal_name(why));
        return;
    }
    c->x.queries++;
    if (q->kind == ULMA__WIRE__KIND__CONTROL && c->query_curve &&
        !wire_auth_is_control(&f->m[f->n - 1])) {
        const char *peer = wire_auth_peer(&f->m[f->n - 1]);
        c->x.controls_refused++;
        c->x.bad_queries++;
        logv(c, "refused a control request of key %s (not in %s/control)", peer ? peer : "?",
             c->cfg.curve_dir);
        answer_error(c, &who, q->id,
                     "control refused: key %s may query but not switch profiling (it is not in "
                     "the collector's control list)",
                     peer ? peer : "?");
        protobuf_c_message_free_unpacked(&q->base, NULL);
        return;
    }
    query_env_t env = env_of(c);
    wire_answer_t w;
    wire_answer_init(&w, q->id);
    query_route_t route;
    query_result_t res = query_run(&env, q, &w, &route);
    uint64_t now = now_ns();
    if (res == QUERY_ANSWERED) {
        if (!w.r.ok)
            c->x.bad_queries++;
        answer_to(c, &who, &w);
    } else if (res == QUERY_FORWARD) {
        pending_t *p = pending_new(c);
        if (!p) {
            c->x.forwards_refused++;
            wire_answer_error(&w, "too many queries waiting for agents (%u); try again",
                              c->cfg.max_forwards);
            answer_to(c, &who, &w);
        } else {
            p->id = c->next_id++;
            p->query_id = q->id;
            p->who = who;
            p->forward_ms = c->cfg.forward_ms;
            p->deadline = now + (uint64_t)c->cfg.forward_ms * 1000000ull;
            snprintf(p->node, sizeof(p->node), "%s", route.node->name);
            Ulma__Wire__CollectorMsg out = ULMA__WIRE__COLLECTOR_MSG__INIT;
            Ulma__Wire__Forwarded fw = ULMA__WIRE__FORWARDED__INIT;
            fw.id = p->id;
            fw.message.data = (uint8_t *)route.fwd.data;
            fw.message.len = route.fwd.len;
            out.body_case = ULMA__WIRE__COLLECTOR_MSG__BODY_QUERY;
            out.query = &fw;
            send_collector_msg(c, route.node->peer, route.node->peer_len, &out);
            c->x.forwarded++;
        }
        sbuf_free(&route.fwd);
    } else {
        pending_t *p = pending_new(c);
        if (!p) {
            c->x.forwards_refused++;
            wire_answer_error(&w, "too many requests waiting for agents (%u); try again",
                              c->cfg.max_forwards);
            answer_to(c, &who, &w);
            free(route.nodes);
        } else {
            c->x.controls++;
            p->control = 1;
            p->id = c->next_id++;
            p->query_id = q->id;
            p->who = who;
            p->nodes = route.nodes;
            p->nnodes = route.nnodes;
            p->limit = route.limit;
            p->deadline = now + ((uint64_t)route.wait_ms + ACK_MARGIN_MS) * 1000000ull;
            wire_answer_init(&p->w, q->id);
            p->ca = WIRE_MSG(p->w.a, Ulma__Wire__ControlAnswer, ulma__wire__control_answer__descriptor);
            p->ca->nodes = route.nnodes;
            Ulma__Wire__Control ctl = ULMA__WIRE__CONTROL__INIT;
            ctl.request = p->id;
            ctl.mode = route.mode;
            ctl.objects = route.objects;
            ctl.job = route.job;
            ctl.pid = route.pid;
            ctl.rank = route.rank;
            ctl.wait_ms = route.wait_ms;
            Ulma__Wire__CollectorMsg out = ULMA__WIRE__COLLECTOR_MSG__INIT;
            out.body_case = ULMA__WIRE__COLLECTOR_MSG__BODY_CONTROL;
            out.control = &ctl;
            for (uint32_t i = 0; i < route.nnodes; i++)
                send_collector_msg(c, route.nodes[i]->peer, route.nodes[i]->peer_len, &out);
        }
    }
    wire_answer_free(&w);
    protobuf_c_message_free_unpacked(&q->base, NULL);
}

/* ---- cron and the reactor --------------------------------------------------------------------- */

static int dump_write(collector_t *c)
{
    if (!c->cfg.dump[0])
        return 0;
    query_env_t env = env_of(c);
    sbuf_t b = {0};
    query_snapshot_json(&env, &b);
    int rc = write_file(c->cfg.dump, b.data ? b.data : "", b.len);
    sbuf_free(&b);
    if (rc != 0) {
        fprintf(stderr, "ulma-collector: cannot write %s: %s\n", c->cfg.dump, strerror(-rc));
        return -1;
    }
    return 0;
}

/* Timeouts of pending forwards and control requests (every TIMER_MS). */
static void expire_pending(collector_t *c, uint64_t now)
{
    for (uint32_t i = 0; c->npend && i < c->cfg.max_forwards; i++) {
        pending_t *p = &c->pend[i];
        if (!p->used || now < p->deadline)
            continue;
        if (p->control) {
            control_finish(c, p, 1);
        } else {
            c->x.forward_timeouts++;
            answer_error(c, &p->who, p->query_id, "node %s did not answer within %u ms", p->node,
                         p->forward_ms);
            pending_done(c, p);
        }
    }
}

static void auth_counters(collector_t *c)
{
    wire_auth_stats_t as;
    wire_auth_stats(c->auth, &as);
    c->x.auth_accepted = as.accepted;
    c->x.auth_refused = as.refused;
    c->x.auth_failed = as.failed;
}

/*
 * Once per interval:
 *   - the store's tick (store_tick: node states, rates, history, expiry);
 *   - pending requests naming nodes that were removed are answered;
 *   - the /metrics text is rebuilt and published (with our RSS and the
 *     key checker's counters);
 *   - a dump asked for by SIGUSR1 is written (also checked every turn).
 */
static void cron(collector_t *c, uint64_t now)
{
    /* nodes about to expire: forget them in pending controls first */
    store_tick(c->s, now, wall_ns());
    watch_tick(c->s, now);
    for (uint32_t i = 0; c->npend && i < c->cfg.max_forwards; i++) {
        pending_t *p = &c->pend[i];
        if (!p->used || !p->control)
            continue;
        for (uint32_t k = 0; k < p->nnodes; k++) {
            if (!p->nodes[k])
                continue;
            int held = 0;
            for (uint32_t n = 0; n < c->s->nnodes && !held; n++)
                held = c->s->nodes[n] == p->nodes[k];
            if (!held)
                p->nodes[k] = NULL;
        }
    }
    c->x.rss_bytes = rss_bytes();
    auth_counters(c);
    if (c->metrics) {
        sbuf_t b = {0};
        metrics_build(c->s, &c->x, &b);
        metrics_publish(c->metrics, b.data ? b.data : "", b.len);
        sbuf_free(&b);
    }
}

int collector_run(collector_t *c)
{
    uint64_t interval = (uint64_t)(c->cfg.interval_s * 1e9);
    uint64_t next_cron = now_ns(), next_timer = next_cron;
    uint64_t end = c->cfg.run_for_s > 0 ? now_ns() + (uint64_t)(c->cfg.run_for_s * 1e9) : 0;
    if (!c->cfg.quiet)
        fprintf(stderr, "ulma-collector: agents on %s, queries on %s, metrics on %s%s%s\n",
                c->cfg.agents, c->cfg.query, c->metrics ? c->cfg.metrics : "none",
                c->auth ? ", CURVE keys of " : "", c->auth ? c->cfg.curve_dir : "");
    while (!c->stop) {
        uint64_t now = now_ns();
        if (end && now >= end)
            break;
        if (now >= next_cron) {
            cron(c, now);
            next_cron += interval;
            if (next_cron < now)
                next_cron = now + interval;
        }
        if (now >= next_timer) {
            expire_pending(c, now);
            next_timer = now + TIMER_MS * 1000000ull;
        }
        if (c->dump_now) {
            c->dump_now = 0;
            dump_write(c);
        }
        uint64_t wake = next_cron < next_timer ? next_cron : next_timer;
        long ms = wake > now ? (long)((wake - now) / 1000000ull) + 1 : 0;
        zmq_pollitem_t it[2] = {{c->agents, 0, ZMQ_POLLIN, 0}, {c->query, 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(it, 2, ms);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "ulma-collector: poll: %s\n", zmq_strerror(errno));
            return 1;
        }
        /* a batch of agents' messages (bounded in number and in time), then
         * every waiting query, so that a flood of reports (a whole cluster's
         * first snapshots) never delays a dashboard for long */
        uint64_t batch_end = now_ns() + AGENT_BATCH_MS * 1000000ull;
        for (int i = 0; i < AGENT_BATCH && (it[0].revents & ZMQ_POLLIN); i++) {
            frames_t f;
            if (recv_frames(c->agents, &f) != 0)
                break;
            on_agent(c, &f);
            frames_close(&f);
            if (now_ns() >= batch_end)
                break;
        }
        for (;;) {
            frames_t f;
            if (recv_frames(c->query, &f) != 0)
                break;
            on_query(c, &f);
            frames_close(&f);
        }
    }
    auth_counters(c);
    if (!c->cfg.quiet && (c->auth || c->x.controls_refused))
        fprintf(stderr,
                "ulma-collector: security: %llu peers let in, %llu refused (key not allowed), "
                "%llu handshakes failed, %llu control requests refused\n",
                (unsigned long long)c->x.auth_accepted, (unsigned long long)c->x.auth_refused,
                (unsigned long long)c->x.auth_failed, (unsigned long long)c->x.controls_refused);
    return dump_write(c) == 0 ? 0 : 1;
}
