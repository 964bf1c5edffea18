/*
 * endpoint.h - the query socket: a ZeroMQ ROUTER bound to
 * ipc://DIR/ulma-agent.ipc (a node agent's default) and --listen
 * tcp://...; requests in (the peer's envelope, then one body frame),
 * answers out, never blocking (a peer gone or over its limit is dropped,
 * as ROUTER does). What a body means is query.c's and pbquery.c's.
 *
 * A tcp endpoint is encrypted and authenticated with CurveZMQ
 * (--curve-dir: only allowed keys get in, the others are counted) unless
 * --plaintext; ipc endpoints stay plain (filesystem permissions).
 *
 * The endpoint owns its socket, its key checker, and removes its ipc
 * socket file.
 */
#ifndef AGENT_ENDPOINT_H
#define AGENT_ENDPOINT_H

#include <stddef.h>
#include <zmq.h>

#include "config.h"
#include "profile/util.h"
#include "wire/curve.h"

#define ENVELOPE_MAX_FRAMES 8

/* The routing frames before a request's body: where its answer goes. */
typedef struct envelope {
    void *frame[ENVELOPE_MAX_FRAMES];
    size_t len[ENVELOPE_MAX_FRAMES];
    int n;
} envelope_t;

/* One request. `env` and `body` point into the message: valid until
 * endpoint_release. */
typedef struct request {
    envelope_t env;
    const void *body;
    size_t len;
    int bad;                 /* no envelope and body, or too many frames */
    int answerable;          /* bad, but `env` says where an error goes */
    zmq_msg_t part[ENVELOPE_MAX_FRAMES + 1];
    int nparts;
} request_t;

typedef struct endpoint endpoint_t;

/* True if `cfg` asks for a query socket (a node agent has one unless
 * --endpoint none; a private agent only with --endpoint or --listen). */
int endpoint_wanted(const agent_config_t *cfg);

/* Bind the endpoints of `cfg` on context `zctx` (a stale ipc socket file
 * of a dead agent is removed: the caller holds the directory's lock).
 * NULL with a message in err. Caller owns the return value. */
endpoint_t *endpoint_new(const agent_config_t *cfg, void *zctx, char *err, size_t errlen);
void endpoint_destroy(endpoint_t **e_p);
/* The socket, for zmq_poll. */
void *endpoint_socket(const endpoint_t *e);

/* The key checker's counters of the tcp endpoints (zero without CURVE),
 * and the control requests refused. NULL-safe. */
void endpoint_auth_stats(const endpoint_t *e, wire_auth_stats_t *out);
uint64_t endpoint_controls_refused(const endpoint_t *e);

/* A control request (JSON "control", protobuf CONTROL) of a tcp peer
 * whose key is not in the control list (DIR/control/): answered here with
 * an error and counted; returns 1 (the caller does nothing more with it),
 * else 0. Peers of the ipc endpoint, and plain text, may always control. */
int endpoint_refuse_control(endpoint_t *e, const request_t *rq);

/* The next request waiting: 1 and `rq` filled (release it), 0 if none. */
int endpoint_recv(endpoint_t *e, request_t *rq);
void endpoint_release(request_t *rq);

/* Send [env..., ans, (data)], never blocking; `data` may be NULL or empty. */
void endpoint_send(endpoint_t *e, const envelope_t *env, const sbuf_t *ans, const sbuf_t *data);

/* A copy of `env` that owns its frames. Caller owns the return value. */
envelope_t *envelope_copy(const envelope_t *env);
/* NULL-safe; nulls the caller's pointer. */
void envelope_free(envelope_t **env_p);

#endif /* AGENT_ENDPOINT_H */
