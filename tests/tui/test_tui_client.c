/* test_tui_client.c - the query client (proto/src/client.c) against a
 * ROUTER in a thread of its own, over real sockets: an answer, a stale
 * answer dropped, a timeout and the late answer to it not taken for the
 * next one, a peer that goes away while we wait (told as such, not as a
 * timeout), the same peer back on the same endpoint, nothing listening,
 * an answer that is not a Reply, an ipc endpoint. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "wire/answer.h"
#include "wire/client.h"

typedef enum mode { ANSWER, STALE_FIRST, SILENT, LATE, CLOSE, GARBAGE } mode_t_;

typedef struct server {
    char ep[256];
    _Atomic int mode;
    _Atomic int stop, closed, ready;
    pthread_t th;
} server_t;

static void answer(void *s, zmq_msg_t *id, uint64_t qid, int delim)
{
    wire_answer_t w;
    wire_answer_init(&w, qid);
    w.r.summary = WIRE_MSG(w.a, Ulma__Wire__Summary, ulma__wire__summary__descriptor);
    w.r.summary->nodes_up = (uint32_t)qid;
    sbuf_t b = {0};
    wire_answer_pack(&w, &b);
    zmq_send(s, zmq_msg_data(id), zmq_msg_size(id), ZMQ_SNDMORE);
    if (delim)
        zmq_send(s, "", 0, ZMQ_SNDMORE);
    zmq_send(s, b.data, b.len, 0);
    sbuf_free(&b);
    wire_answer_free(&w);
}

static void *serve(void *arg)
{
    server_t *sv = arg;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    CHECK(zmq_bind(s, sv->ep) == 0);
    size_t n = sizeof(sv->ep);
    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, sv->ep, &n);
    atomic_store(&sv->ready, 1);
    zmq_msg_t held_id;
    uint64_t held = 0;
    int held_delim = 0;
    while (!atomic_load(&sv->stop)) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 10) <= 0)
            continue;
        zmq_msg_t f[3];
        int nf = 0, more = 1;
        while (more && nf < 3) {
            zmq_msg_init(&f[nf]);
            zmq_msg_recv(&f[nf], s, 0);
            more = zmq_msg_more(&f[nf]);
            nf++;
        }
        int delim = nf == 3;
        wire_refusal_t why;
        Ulma__Wire__Query *q = wire_query(zmq_msg_data(&f[nf - 1]), zmq_msg_size(&f[nf - 1]), &why);
        CHECK(q);
        switch (atomic_load(&sv->mode)) {
        case ANSWER: answer(s, &f[0], q->id, delim); break;
        case STALE_FIRST:
            answer(s, &f[0], q->id + 1000, delim);
            answer(s, &f[0], q->id, delim);
            break;
        case SILENT: break;
        case LATE:
            /* the first question is held and answered just before the second */
            if (!held) {
                zmq_msg_init(&held_id);
                zmq_msg_copy(&held_id, &f[0]);
                held = q->id;
                held_delim = delim;
            } else {
                answer(s, &held_id, held, held_delim);
                zmq_msg_close(&held_id);
                held = 0;
                answer(s, &f[0], q->id, delim);
            }
            break;
        case CLOSE: atomic_store(&sv->stop, 1); break;
        case GARBAGE:
            zmq_send(s, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), ZMQ_SNDMORE);
            if (delim)
                zmq_send(s, "", 0, ZMQ_SNDMORE);
            zmq_send(s, "\xff\xff\xff", 3, 0);
            break;
        }
        protobuf_c_message_free_unpacked(&q->base, NULL);
        for (int i = 0; i < nf; i++)
            zmq_msg_close(&f[i]);
    }
    if (held)
        zmq_msg_close(&held_id);
    zmq_close(s);
    zmq_ctx_term(ctx);
    atomic_store(&sv->closed, 1);
    return NULL;
}

static void server_start(server_t *sv, const char *ep, int mode)
{
    snprintf(sv->ep, sizeof(sv->ep), "%s", ep);
    atomic_store(&sv->mode, mode);
    atomic_store(&sv->stop, 0);
    atomic_store(&sv->closed, 0);
    atomic_store(&sv->ready, 0);
    pthread_create(&sv->th, NULL, serve, sv);
    while (!atomic_load(&sv->ready))
        usleep(1000);
}

static void server_stop(server_t *sv)
{
    atomic_store(&sv->stop, 1);
    pthread_join(sv->th, NULL);
}

static int ask(wire_client_t *c, int timeout, uint64_t *id_out, char *err, size_t n)
{
    Ulma__Wire__Query q = ULMA__WIRE__QUERY__INIT;
    Ulma__Wire__Reply *r = NULL;
    int rc = wire_client_ask(c, &q, timeout, &r, err, n);
    if (rc == 0) {
        CHECK(r && r->id == q.id && r->summary && r->summary->nodes_up == (uint32_t)q.id);
        if (id_out)
            *id_out = r->id;
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    return rc;
}

static void scenarios(const char *bind_ep)
{
    server_t sv;
    char err[256];
    server_start(&sv, bind_ep, ANSWER);
    char ep[256];
    snprintf(ep, sizeof(ep), "%s", sv.ep);
    fprintf(stderr, "   at %s\n", ep);
    wire_client_t *c = wire_client_new(ep, NULL, err, sizeof(err));
    CHECK(c);
    CHECK_EQ_I(ask(c, 10000, NULL, err, sizeof(err)), 0);
    CHECK(wire_client_connected(c));

    /* an answer with another id first: dropped */
    atomic_store(&sv.mode, STALE_FIRST);
    CHECK_EQ_I(ask(c, 10000, NULL, err, sizeof(err)), 0);
    wire_client_stats_t st;
    wire_client_stats(c, &st);
    CHECK_EQ_U(st.stale, 1);

    /* no answer: a timeout; the late answer to it is not the next one's */
    atomic_store(&sv.mode, LATE);
    CHECK_EQ_I(ask(c, 300, NULL, err, sizeof(err)), -ETIMEDOUT);
    CHECK(strstr(err, "no answer from") && strstr(err, "300 ms"));
    CHECK_EQ_I(ask(c, 10000, NULL, err, sizeof(err)), 0);
    atomic_store(&sv.mode, SILENT);
    CHECK_EQ_I(ask(c, 200, NULL, err, sizeof(err)), -ETIMEDOUT);

    /* not a Reply */
    atomic_store(&sv.mode, GARBAGE);
    CHECK_EQ_I(ask(c, 10000, NULL, err, sizeof(err)), -EPROTO);

    /* the peer goes away while we wait: said so, long before the timeout
     * (20 s here: a -ETIMEDOUT would mean it was not noticed) */
    atomic_store(&sv.mode, ANSWER);
    CHECK_EQ_I(ask(c, 10000, NULL, err, sizeof(err)), 0);
    atomic_store(&sv.mode, CLOSE);
    int rc = ask(c, 20000, NULL, err, sizeof(err));
    CHECK_EQ_I(rc, -ECONNRESET);
    CHECK(strstr(err, "went away"));
    pthread_join(sv.th, NULL);
    CHECK(atomic_load(&sv.closed));

    /* nothing there: no connection within the connect wait */
    wire_client_set_connect_wait(c, 200);
    rc = ask(c, 20000, NULL, err, sizeof(err));
    CHECK_EQ_I(rc, -ENOTCONN);
    CHECK(strstr(err, "no connection"));

    /* back on the same endpoint: answered again */
    server_start(&sv, ep, ANSWER);
    wire_client_set_connect_wait(c, 10000);
    CHECK_EQ_I(ask(c, 10000, NULL, err, sizeof(err)), 0);
    wire_client_stats(c, &st);
    CHECK(st.reconnects >= 3 && st.timeouts == 2 && st.resets == 1);
    server_stop(&sv);
    wire_client_destroy(&c);
    CHECK(c == NULL);
    wire_client_destroy(&c); /* NULL-safe */
}

int main(void)
{
    char err[256];
    CHECK(wire_client_new("bogus://x", NULL, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "cannot connect to bogus://x"));
    fprintf(stderr, "-- tcp\n");
    scenarios("tcp://127.0.0.1:*");
    fprintf(stderr, "-- ipc\n");
    char ep[128];
    snprintf(ep, sizeof(ep), "ipc:///tmp/tui-client-%d.ipc", (int)getpid());
    scenarios(ep);
    unlink(ep + 6);
    fprintf(stderr, "test_tui_client: ok\n");
    return 0;
}
