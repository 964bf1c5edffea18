/* client.c - a Query out, its Reply back: one DEALER, a monitor of its
 * connection, a new socket after a timeout or a lost peer. */
#define _GNU_SOURCE
#include "wire/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct wire_client {
    void *ctx;
    void *sock; /* the DEALER; NULL until the first question after a reset */
    void *mon;  /* PAIR receiving the DEALER's connection events */
    char *endpoint;
    wire_curve_t curve;
    int auth_failed; /* last handshake: 1 refused key, 2 failed protocol */
    int connected;
    int connect_wait_ms; /* < 0: the whole timeout */
    uint64_t next_id;
    uint32_t generation; /* names each monitor's inproc endpoint */
    wire_client_stats_t st;
};

static void client_close(wire_client_t *c)
{
    if (c->mon) {
        zmq_close(c->mon);
        c->mon = NULL;
    }
    if (c->sock) {
        zmq_socket_monitor(c->sock, NULL, 0);
        zmq_close(c->sock);
        c->sock = NULL;
    }
    c->connected = 0;
}

/* A new DEALER (and its monitor). 0, or -errno. */
static int client_open(wire_client_t *c)
{
    int zero = 0, ivl = 100, ivl_max = 1000, one = 1;
    int64_t maxmsg = WIRE_MAX_MSG;
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    if (!c->sock)
        return -zmq_errno();
    zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(c->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
    zmq_setsockopt(c->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
    zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    /* queue nothing for a peer that is not there: a question sent while
     * disconnected would be answered, late, after a reconnection */
    zmq_setsockopt(c->sock, ZMQ_IMMEDIATE, &one, sizeof(one));
    int rc = wire_curve_client(c->sock, &c->curve);
    if (rc != 0) {
        client_close(c);
        return rc;
    }
    char mon_ep[64];
    snprintf(mon_ep, sizeof(mon_ep), "inproc://wire-client-%p-%u", (void *)c, c->generation++);
    if (zmq_socket_monitor(c->sock, mon_ep,
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED |
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) == 0) {
        c->mon = zmq_socket(c->ctx, ZMQ_PAIR);
        zmq_setsockopt(c->mon, ZMQ_LINGER, &zero, sizeof(zero));
        if (zmq_connect(c->mon, mon_ep) != 0) {
            zmq_close(c->mon);
            c->mon = NULL;
        }
    }
    if (zmq_connect(c->sock, c->endpoint) != 0) {
        int e = zmq_errno();
        client_close(c);
        return -e;
    }
    return 0;
}

wire_client_t *wire_client_new(const char *endpoint, const wire_curve_t *curve, char *err,
                               size_t errlen)
{
    wire_client_t *c = xcalloc(1, sizeof(*c));
    if (curve)
        c->curve = *curve;
    c->ctx = zmq_ctx_new();
    c->endpoint = xstrdup(endpoint);
    c->connect_wait_ms = -1;
    c->next_id = 1;
    int rc = client_open(c);
    if (rc != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", endpoint, zmq_strerror(-rc));
        wire_client_destroy(&c);
        return NULL;
    }
    return c;
}

void wire_client_destroy(wire_client_t **c_p)
{
    if (!c_p || !*c_p)
        return;
    wire_client_t *c = *c_p;
    client_close(c);
    zmq_ctx_term(c->ctx);
    free(c->endpoint);
    memset(&c->curve, 0, sizeof(c->curve));
    free(c);
    *c_p = NULL;
}

const char *wire_client_endpoint(const wire_client_t *c)
{
    return c->endpoint;
}
void wire_client_set_connect_wait(wire_client_t *c, int ms)
{
    c->connect_wait_ms = ms;
}
int wire_client_connected(const wire_client_t *c)
{
    return c->connected;
}
void wire_client_stats(const wire_client_t *c, wire_client_stats_t *out)
{
    *out = c->st;
}

/* Read the monitor's pending events. Returns 1 if the peer went away. */
static int monitor_drain(wire_client_t *c)
{
    int gone = 0;
    while (c->mon) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        uint16_t ev = 0;
        if (zmq_msg_size(&m) >= 2)
            memcpy(&ev, zmq_msg_data(&m), 2);
        int more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        while (more) { /* the endpoint frame */
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, c->mon, 0) < 0)
                more = 0;
            else
                more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            c->connected = 1;
            c->auth_failed = 0;
        } else if (ev == ZMQ_EVENT_CONNECTED) {
            c->connected = 1;
        } else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            c->auth_failed = 1;
            c->st.handshake_failures++;
        } else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                   ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
            c->auth_failed = 2;
            c->st.handshake_failures++;
        } else if (ev == ZMQ_EVENT_DISCONNECTED || ev == ZMQ_EVENT_CLOSED) {
            gone |= c->connected;
            c->connected = 0;
        }
    }
    return gone;
}

/* Start again with a new socket: nothing sent or received before counts. */
static void client_reset(wire_client_t *c)
{
    client_close(c);
    c->st.reconnects++;
}

static int remaining_ms(uint64_t deadline)
{
    uint64_t now = now_ns();
    return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

/* Receive one message; the payload is its last frame (after the
 * delimiter, if the peer sent one). 0, or -1. */
static int recv_payload(void *sock, sbuf_t *out)
{
    out->len = 0;
    int more = 1, got = 0;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return got ? 0 : -1;
        }
        more = zmq_msg_more(&m);
        if (zmq_msg_size(&m) || !more) {
            out->len = 0;
            sbuf_add(out, zmq_msg_data(&m), zmq_msg_size(&m));
        }
        got = 1;
        zmq_msg_close(&m);
    }
    return 0;
}

int wire_client_ask(wire_client_t *c, Ulma__Wire__Query *q, int timeout_ms, Ulma__Wire__Reply **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    c->st.asked++;
    if (timeout_ms < 0)
        timeout_ms = 0;
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    int wait =
        c->connect_wait_ms < 0 || c->connect_wait_ms > timeout_ms ? timeout_ms : c->connect_wait_ms;
    uint64_t connect_deadline = now_ns() + (uint64_t)wait * 1000000u;
    if (!c->sock) {
        int rc = client_open(c);
        if (rc != 0) {
            snprintf(err, errlen, "cannot connect to %s: %s", c->endpoint, zmq_strerror(-rc));
            c->st.refused++;
            return -ENOTCONN;
        }
    }
    monitor_drain(c);
    q->version = WIRE_VERSION;
    q->id = c->next_id++;
    sbuf_t b = {0};
    wire_pack(&q->base, &b);
    int rc;
    /* with ZMQ_IMMEDIATE a send succeeds only once a connection is up */
    for (;;) {
        if (zmq_send(c->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0) {
            zmq_send(c->sock, b.data, b.len, 0);
            break;
        }
        int left = remaining_ms(connect_deadline);
        zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLOUT, 0};
        if (zmq_errno() != EAGAIN || left <= 0 || zmq_poll(&it, 1, left > 50 ? 50 : left) < 0) {
            monitor_drain(c);
            c->st.refused++;
            if (c->auth_failed == 1) {
                snprintf(err, errlen, "%s refused our key (not in its allowed keys)", c->endpoint);
                rc = -EACCES;
            } else if (c->auth_failed == 2) {
                snprintf(err, errlen, "no secure connection to %s: the handshake failed (%s)",
                         c->endpoint,
                         c->curve.on ? "a plain-text server, or another server key"
                                     : "a CURVE server: give --curve-dir");
                rc = -EACCES;
            } else {
                snprintf(err, errlen, "no connection to %s%s", c->endpoint,
                         wait ? " (nothing answers there)" : "");
                rc = -ENOTCONN;
            }
            goto out;
        }
    }
    for (;;) {
        int left = remaining_ms(deadline);
        zmq_pollitem_t it[2] = {{c->sock, 0, ZMQ_POLLIN, 0}, {c->mon, 0, ZMQ_POLLIN, 0}};
        int n = zmq_poll(it, c->mon ? 2 : 1, left);
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "no answer from %s within %d ms", c->endpoint, timeout_ms);
            c->st.timeouts++;
            client_reset(c);
            rc = -ETIMEDOUT;
            goto out;
        }
        if (it[0].revents & ZMQ_POLLIN) {
            sbuf_t in = {0};
            if (recv_payload(c->sock, &in) != 0) {
                sbuf_free(&in);
                continue;
            }
            wire_refusal_t why;
            Ulma__Wire__Reply *r = wire_reply(in.data, in.len, &why);
            sbuf_free(&in);
            if (!r) {
                snprintf(err, errlen, "%s answered something that is not a Reply (%s)", c->endpoint,
                         wire_refusal_name(why));
                client_reset(c);
                rc = -EPROTO;
                goto out;
            }
            if (r->id != q->id) { /* the answer to a question given up on */
                c->st.stale++;
                protobuf_c_message_free_unpacked(&r->base, NULL);
                continue;
            }
            c->st.answered++;
            *out = r;
            rc = 0;
            goto out;
        }
        if (c->mon && (it[1].revents & ZMQ_POLLIN) && monitor_drain(c)) {
            snprintf(err, errlen, "%s went away before answering", c->endpoint);
            c->st.resets++;
            client_reset(c);
            rc = -ECONNRESET;
            goto out;
        }
    }
out:
    sbuf_free(&b);
    return rc;
}
