/* endpoint.c - the query socket's plumbing. */
#define _GNU_SOURCE
#include "endpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jreq.h"
#include "wire/answer.h"

struct endpoint {
    void *router;
    char ipc_path[AGENT_PATH_MAX]; /* removed at the end, or "" */
    wire_auth_t *auth;             /* the key checker of tcp endpoints, or NULL */
    uint64_t controls_refused;     /* control requests of keys not in control/ */
    int quiet;
};

/* The endpoint of `cfg` besides --listen: "" for none. */
static const char *main_endpoint(const agent_config_t *cfg, char *def, size_t len)
{
    if (strcmp(cfg->endpoint, "none") == 0)
        return "";
    if (!cfg->endpoint[0] && !cfg->private_pid) {
        snprintf(def, len, "ipc://%s/ulma-agent.ipc", cfg->dir);
        return def;
    }
    return cfg->endpoint;
}

int endpoint_wanted(const agent_config_t *cfg)
{
    char def[AGENT_PATH_MAX + 32];
    return main_endpoint(cfg, def, sizeof(def))[0] || cfg->listen[0];
}

/* Bind the endpoints of `eps` that are network ones (`net`) or local. */
static int bind_some(endpoint_t *e, const char *const eps[2], int net, char *err, size_t errlen)
{
    for (int i = 0; i < 2; i++) {
        if (!eps[i][0] || wire_endpoint_is_net(eps[i]) != net)
            continue;
        if (strncmp(eps[i], "ipc://", 6) == 0) {
            /* a stale socket file of a dead agent: we hold the lock, remove it */
            unlink(eps[i] + 6);
            snprintf(e->ipc_path, sizeof(e->ipc_path), "%s", eps[i] + 6);
        }
        if (zmq_bind(e->router, eps[i]) != 0) {
            snprintf(err, errlen, "cannot bind %s: %s", eps[i], zmq_strerror(zmq_errno()));
            return -1;
        }
    }
    return 0;
}

/* CURVE for the network endpoint `net` (or plain text, asked for), and
 * the key checker. */
static int curve_setup(endpoint_t *e, const agent_config_t *cfg, const char *net, void *zctx,
                       char *err, size_t errlen)
{
    wire_curve_t k;
    if (wire_curve_for(&k, "ulma-agent", net, cfg->curve_dir, NULL, (int)cfg->plaintext, 0, err,
                       errlen) != 0)
        return -1;
    int rc = 0;
    if (k.on) {
        int verbosity = cfg->verbose ? 1 : cfg->quiet ? -1 : 0;
        e->auth = wire_auth_new(zctx, &k, "ulma-agent", verbosity, err, errlen);
        if (!e->auth) {
            rc = -1;
        } else if (wire_curve_server(e->router, &k, "query") != 0 ||
                   wire_auth_watch(e->auth, e->router) != 0) {
            snprintf(err, errlen, "cannot set up CURVE: %s", zmq_strerror(zmq_errno()));
            rc = -1;
        }
    }
    memset(&k, 0, sizeof(k));
    return rc;
}

endpoint_t *endpoint_new(const agent_config_t *cfg, void *zctx, char *err, size_t errlen)
{
    char def[AGENT_PATH_MAX + 32];
    const char *eps[2] = {main_endpoint(cfg, def, sizeof(def)), cfg->listen};
    endpoint_t *e = xcalloc(1, sizeof(*e));
    e->quiet = (int)cfg->quiet;
    e->router = zmq_socket(zctx, ZMQ_ROUTER);
    int zero = 0, hwm = 1000;
    zmq_setsockopt(e->router, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(e->router, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(e->router, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    int64_t maxmsg = 1 << 20; /* requests are small: a larger message drops the peer */
    zmq_setsockopt(e->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    /* local endpoints first, in plain text (the socket file's permissions
     * guard them); then CURVE for the network ones: a listener keeps the
     * options of its bind */
    const char *net = wire_endpoint_is_net(eps[0]) ? eps[0] : eps[1];
    if (bind_some(e, eps, 0, err, errlen) != 0 ||
        (wire_endpoint_is_net(net) && (curve_setup(e, cfg, net, zctx, err, errlen) != 0 ||
                                       bind_some(e, eps, 1, err, errlen) != 0)))
        goto fail;
    if (e->auth && wire_auth_start(e->auth) != 0) {
        snprintf(err, errlen, "cannot start the key checker's thread");
        goto fail;
    }
    return e;
fail:
    endpoint_destroy(&e);
    return NULL;
}

void endpoint_auth_stats(const endpoint_t *e, wire_auth_stats_t *out)
{
    wire_auth_stats(e ? e->auth : NULL, out);
}

uint64_t endpoint_controls_refused(const endpoint_t *e)
{
    return e ? e->controls_refused : 0;
}

int endpoint_refuse_control(endpoint_t *e, const request_t *rq)
{
    if (!e->auth || rq->bad || !rq->nparts)
        return 0;
    /* peers of the ipc endpoint have no User-Id (no key checker there) */
    zmq_msg_t *last = (zmq_msg_t *)&rq->part[rq->nparts - 1];
    const char *uid = zmq_msg_gets(last, "User-Id");
    if (!uid || !uid[0] || wire_auth_is_control(last))
        return 0;
    const char *why = "control refused: this key may query but not switch profiling (it is not "
                      "in the agent's control list)";
    sbuf_t ans = {0};
    if (rq->len && *(const char *)rq->body == '{') {
        jreq_t *j = xmalloc(sizeof(*j));
        int control = jreq_parse(j, rq->body, rq->len) == 0 && jreq_str(j, "cmd") &&
                      strcmp(jreq_str(j, "cmd"), "control") == 0;
        free(j);
        if (!control)
            return 0;
        jreq_error(&ans, why);
    } else {
        wire_refusal_t r;
        Ulma__Wire__Query *q = wire_query(rq->body, rq->len, &r);
        int control = q && q->kind == ULMA__WIRE__KIND__CONTROL;
        uint64_t id = q ? q->id : 0;
        if (q)
            protobuf_c_message_free_unpacked(&q->base, NULL);
        if (!control)
            return 0;
        wire_answer_t w;
        wire_answer_init(&w, id);
        wire_answer_error(&w, "%s", why);
        wire_answer_pack(&w, &ans);
        wire_answer_free(&w);
    }
    e->controls_refused++;
    endpoint_send(e, &rq->env, &ans, NULL);
    sbuf_free(&ans);
    return 1;
}

void endpoint_destroy(endpoint_t **e_p)
{
    if (!e_p || !*e_p)
        return;
    endpoint_t *e = *e_p;
    if (e->auth && !e->quiet) {
        wire_auth_stats_t st;
        wire_auth_stats(e->auth, &st);
        fprintf(stderr,
                "ulma-agent: security: %llu peers let in, %llu refused (key not allowed), %llu "
                "handshakes failed, %llu control requests refused\n",
                (unsigned long long)st.accepted, (unsigned long long)st.refused,
                (unsigned long long)st.failed, (unsigned long long)e->controls_refused);
    }
    wire_auth_destroy(&e->auth);
    if (e->router)
        zmq_close(e->router);
    if (e->ipc_path[0])
        unlink(e->ipc_path);
    free(e);
    *e_p = NULL;
}

void *endpoint_socket(const endpoint_t *e) { return e->router; }

int endpoint_recv(endpoint_t *e, request_t *rq)
{
    int overflow = 0, more = 1;
    rq->nparts = 0;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, e->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            if (rq->nparts == 0)
                return 0;
            break;
        }
        more = zmq_msg_more(&m);
        if (rq->nparts < ENVELOPE_MAX_FRAMES + 1) {
            rq->part[rq->nparts++] = m;
        } else {
            overflow = 1;
            zmq_msg_close(&m);
        }
    }
    int n = rq->nparts;
    rq->env.n = n - 1;
    for (int i = 0; i < rq->env.n; i++) {
        rq->env.frame[i] = zmq_msg_data(&rq->part[i]);
        rq->env.len[i] = zmq_msg_size(&rq->part[i]);
    }
    /* an identity and a body at least; the frames beyond ours are lost */
    rq->bad = n < 2 || overflow;
    rq->answerable = n >= 2;
    rq->body = zmq_msg_data(&rq->part[n - 1]);
    rq->len = zmq_msg_size(&rq->part[n - 1]);
    return 1;
}

void endpoint_release(request_t *rq)
{
    for (int i = 0; i < rq->nparts; i++)
        zmq_msg_close(&rq->part[i]);
    rq->nparts = 0;
}

void endpoint_send(endpoint_t *e, const envelope_t *env, const sbuf_t *ans, const sbuf_t *data)
{
    for (int i = 0; i < env->n; i++)
        if (zmq_send(e->router, env->frame[i], env->len[i], ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            return; /* peer gone or over its limit: ROUTER drops, never blocks */
    zmq_send(e->router, ans->data ? ans->data : "", ans->len,
             (data && data->len ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
    if (data && data->len)
        zmq_send(e->router, data->data, data->len, ZMQ_DONTWAIT);
}

envelope_t *envelope_copy(const envelope_t *env)
{
    envelope_t *c = xcalloc(1, sizeof(*c));
    c->n = env->n < ENVELOPE_MAX_FRAMES ? env->n : ENVELOPE_MAX_FRAMES;
    for (int i = 0; i < c->n; i++) {
        c->frame[i] = xmalloc(env->len[i] ? env->len[i] : 1);
        memcpy(c->frame[i], env->frame[i], env->len[i]);
        c->len[i] = env->len[i];
    }
    return c;
}

void envelope_free(envelope_t **env_p)
{
    if (!env_p || !*env_p)
        return;
    for (int i = 0; i < (*env_p)->n; i++)
        free((*env_p)->frame[i]);
    free(*env_p);
    *env_p = NULL;
}
