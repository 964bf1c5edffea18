/*
 * client.h - the asking side of query.proto: one DEALER connected to a
 * collector's or a node agent's query endpoint, one Query out and its
 * Reply back within a timeout.
 *
 * The client notices a peer that went away (the connection closed while
 * it waited) without waiting for the whole timeout, and starts again
 * with a new socket after a timeout or a lost peer, so that an answer
 * to an older question never passes for the answer to a new one (each
 * Query carries an id; a Reply with another id is dropped). ZeroMQ
 * reconnects on its own: a restarted peer is answered again by the next
 * question.
 *
 * No terminal, no printing: clustertop and ulma-ctl --collector share it.
 */
#ifndef WIRE_CLIENT_H
#define WIRE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "wire/curve.h"
#include "wire/wire.h"

typedef struct wire_client wire_client_t;

/* A client of `endpoint` (tcp://HOST:PORT, ipc://PATH), encrypted and
 * authenticated with `curve` (copied; NULL or curve->on == 0: plain
 * text). The connection is made in the background; NULL with a message
 * in err when the endpoint is malformed. Caller owns the return value. */
wire_client_t *wire_client_new(const char *endpoint, const wire_curve_t *curve, char *err,
                               size_t errlen);
/* NULL-safe; nulls the caller's pointer. */
void wire_client_destroy(wire_client_t **c_p);

const char *wire_client_endpoint(const wire_client_t *c);

/* How long ask() waits for a connection before it says there is none
 * (default: its whole timeout). A dashboard passes a short wait so that
 * a peer that is down costs little per refresh. */
void wire_client_set_connect_wait(wire_client_t *c, int ms);

/* Send `q` (its version and id are set here) and wait at most
 * `timeout_ms` for its Reply. Returns 0 with *out set (caller owns it:
 * protobuf_c_message_free_unpacked(&(*out)->base, NULL); a Reply with
 * ok = false is still 0), or
 *   -ENOTCONN    no connection within the connect wait,
 *   -EACCES      the server refused our key, or the handshake failed (a
 *                plain-text client of a CURVE server, a wrong server key),
 *   -ECONNRESET  the peer went away while we waited,
 *   -ETIMEDOUT   no answer in time,
 *   -EPROTO      an answer that is not a Reply of our version,
 * with a sentence in err. */
int wire_client_ask(wire_client_t *c, Ulma__Wire__Query *q, int timeout_ms, Ulma__Wire__Reply **out,
                    char *err, size_t errlen);

/* Whether a connection is up now, as last seen. */
int wire_client_connected(const wire_client_t *c);

/* Counters, for a status line. */
typedef struct wire_client_stats {
    uint64_t asked, answered, timeouts, resets, refused, reconnects, stale;
    uint64_t handshake_failures; /* refused keys and failed handshakes */
} wire_client_stats_t;
void wire_client_stats(const wire_client_t *c, wire_client_stats_t *out);

#endif /* WIRE_CLIENT_H */
