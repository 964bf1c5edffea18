/*
 * curve.h - CurveZMQ on every network link: key files, the socket options
 * of a client and of a server, and the ZAP handler that lets in only the
 * public keys of an allowed-keys directory.
 *
 * A key directory (--curve-dir DIR) holds
 *   DIR/id.secret       this host's or user's secret key (Z85; mode 0600,
 *                       owned by the user running the program: anything
 *                       else is refused);
 *   DIR/id.pub          its public key (what a peer puts in its allowed/);
 *   DIR/server.pub      a client's default --server-key (the public key of
 *                       the collector or agent it connects to);
 *   DIR/allowed/NAME.pub  public keys let in by a server (one file a peer);
 *   DIR/control/NAME.pub  keys also allowed to switch profiling (CONTROL);
 *                         a key there is let in even if not in allowed/.
 * ulma-keys makes and fills such a directory. A key file holds one line of
 * 40 Z85 characters; lines starting with '#' are comments.
 *
 * IPC and inproc endpoints carry no CURVE (the socket file's permissions
 * guard them); wire_endpoint_is_net() tells the two kinds apart.
 */
#ifndef WIRE_CURVE_H
#define WIRE_CURVE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_Z85_KEY 41 /* 40 characters and the NUL */
#define WIRE_CURVE_PATH 4096

/* What a program knows of its keys. `on` is 0 for plain text. */
typedef struct wire_curve {
    int on;
    char dir[WIRE_CURVE_PATH];
    char pub[WIRE_Z85_KEY], sec[WIRE_Z85_KEY];
    char server[WIRE_Z85_KEY]; /* a client's: the server's public key, or "" */
} wire_curve_t;

/* True unless `ep` is ipc:// or inproc:// (tcp, and anything else that
 * crosses a network). */
int wire_endpoint_is_net(const char *ep);

/* Read a public key: from the file `path`, or `path` itself when it is 40
 * Z85 characters. 0, or -1 with a sentence in err. */
int wire_key_read_public(const char *path, char key[WIRE_Z85_KEY], char *err, size_t errlen);

/* Read a secret key file, refusing one that is not a regular file, not
 * owned by the effective user, or readable or writable by group or others
 * (the message says which and how to fix it). Its public key is derived.
 * 0, or -1 with a sentence in err. */
int wire_key_read_secret(const char *path, char pub[WIRE_Z85_KEY], char sec[WIRE_Z85_KEY],
                         char *err, size_t errlen);

/* Write a new key pair: DIR/NAME.secret (0600, made with O_EXCL: never
 * overwrites) and DIR/NAME.pub (0644), `comment` on the first line of both.
 * 0, or -1 with a sentence in err. */
int wire_key_pair_write(const char *dir, const char *name, const char *comment,
                        char pub[WIRE_Z85_KEY], char *err, size_t errlen);

/* Load DIR/id.secret into `k` (k->on = 1), and for a client the server's
 * key: `server_key` (a file or a Z85 key), or DIR/server.pub when
 * server_key is NULL or "". `need_server`: a missing server key is an
 * error. 0, or -1 with a sentence in err. */
int wire_curve_load(wire_curve_t *k, const char *dir, const char *server_key, int need_server,
                    char *err, size_t errlen);

/* The security a program's options ask for on endpoint `ep`:
 *   ep not a network endpoint           -> k->on = 0, returns 0;
 *   `plaintext`                         -> k->on = 0, a warning on stderr
 *                                          (every start), returns 0;
 *   `dir` given                         -> wire_curve_load();
 *   neither                             -> -2 (a usage error) with an
 *                                          "EP needs keys" sentence in err.
 * `client`: the server's key is needed too. `prog` prefixes the warning.
 * 0, -1 (keys that cannot be loaded: the sentence says why) or -2. */
int wire_curve_for(wire_curve_t *k, const char *prog, const char *ep, const char *dir,
                   const char *server_key, int plaintext, int client, char *err, size_t errlen);

/* Socket options of a CURVE client (before zmq_connect) or server (before
 * zmq_bind: listeners keep the options of their bind, so an ipc endpoint
 * bound earlier stays plain). Nothing when k is NULL or k->on is 0.
 * `domain` is the ZAP domain the handler sees. 0, or -errno. */
int wire_curve_client(void *sock, const wire_curve_t *k);
int wire_curve_server(void *sock, const wire_curve_t *k, const char *domain);

/* ---- the ZAP handler ------------------------------------------------------------- */

typedef struct wire_auth wire_auth_t;

typedef struct wire_auth_stats {
    uint64_t accepted;         /* handshakes let in (query and control keys) */
    uint64_t accepted_control; /* of which keys of the control list */
    uint64_t refused;          /* CURVE peers whose key is in no list */
    uint64_t failed;           /* handshakes that failed before ZAP: plain-text
                                * peers, a wrong server key, garbage */
} wire_auth_stats_t;

/* The ZAP handler of context `zctx` (inproc://zeromq.zap.01, one a
 * context), checking keys against k->dir's allowed/ and control/ (read
 * again at every handshake: a key added or removed counts at once). Bind
 * it before the server sockets; then wire_auth_watch() each of them, then
 * wire_auth_start(). `prog` names refusals logged when `verbose`. NULL
 * with a sentence in err. Caller owns the return value. */
wire_auth_t *wire_auth_new(void *zctx, const wire_curve_t *k, const char *prog, int verbose,
                           char *err, size_t errlen);
/* Count the handshake failures of server socket `sock`. 0, or -errno. */
int wire_auth_watch(wire_auth_t *a, void *sock);
/* Start the handler's thread (it owns the handler's sockets from then). */
int wire_auth_start(wire_auth_t *a);
/* Stop and free; before the context is terminated. NULL-safe; nulls the
 * caller's pointer. */
void wire_auth_destroy(wire_auth_t **a_p);
void wire_auth_stats(const wire_auth_t *a, wire_auth_stats_t *out);

/* What the handler said of the peer a message came from (any frame of
 * it): 1 if its key is in the control list, else 0 (plain-text sockets
 * have no handler: the caller decides). */
int wire_auth_is_control(void *msg /* zmq_msg_t * */);
/* The peer's key name ("NAME" of its file), or NULL for a peer without. */
const char *wire_auth_peer(void *msg /* zmq_msg_t * */);

#endif /* WIRE_CURVE_H */
