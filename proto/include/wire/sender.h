/*
 * sender.h - the sending side of the report protocol (report.proto): one
 * session's dictionaries, sequence number and what each process's and
 * group's rows were when last sent, so that a report carries only what
 * changed (or everything, for a snapshot).
 *
 * A report is made in three steps: wire_sender_begin(), then one call per
 * process (and per group, and per process that is gone), then
 * wire_sender_end() encodes it. After trying to send it the caller says
 * whether it was queued: wire_sender_sent() makes the new values the base
 * of the next delta and advances the sequence; wire_sender_unsent() keeps
 * the old base, so the next report carries this one's changes too and
 * nothing is lost when a report cannot be sent.
 *
 * Used by the node agent and by the collector's load generator.
 */
#ifndef WIRE_SENDER_H
#define WIRE_SENDER_H

#include <stdint.h>

#include "profile/profile.h"
#include "wire/wire.h"

typedef struct wire_sender wire_sender_t;

typedef struct wire_node_info {
    const char *name, *host, *agent_version, *dir;
    uint32_t cpus;
    int32_t agent_pid;
    uint64_t agent_start_ns;
} wire_node_info_t;

/* A new session (id drawn from the kernel's random numbers when
 * `session` is 0). Strings are copied. Caller owns the return value. */
wire_sender_t *wire_sender_new(const wire_node_info_t *node, uint64_t session,
                               uint64_t interval_ns);
void wire_sender_destroy(wire_sender_t **s_p);
uint64_t wire_sender_session(const wire_sender_t *s);
uint64_t wire_sender_seq(const wire_sender_t *s); /* of the last report sent */

/* Dictionary index of a function label, of an edge (two name indices) and
 * of a path (parent: 0 for a root path, else a path index + 1). */
uint32_t wire_sender_name(wire_sender_t *s, const pf_func_t *f);
uint32_t wire_sender_edge(wire_sender_t *s, uint32_t caller, uint32_t callee);
uint32_t wire_sender_path(wire_sender_t *s, uint32_t parent, uint32_t func);
uint32_t wire_sender_nnames(const wire_sender_t *s);

/* Start a report: a snapshot (every row absolute) or a delta; with
 * `full_dictionary` every dictionary entry is repeated (after the
 * collector asked, having lost them). */
void wire_sender_begin(wire_sender_t *s, int snapshot, int full_dictionary);

/* A process's current cumulative numbers: its identity and state in
 * `m`, its rows in `p` (any order; rows with equal labels are summed).
 * `threads` is its thread count. */
void wire_sender_process(wire_sender_t *s, const pf_meta_t *m, const profile_t *p,
                         uint32_t threads);

/* The same from plain arrays (the load generator): n rows, their name
 * indices and cumulative counts; mpi_bytes may be NULL. */
void wire_sender_process_rows(wire_sender_t *s, const pf_meta_t *m, const pf_drops_t *d,
                              uint32_t n, const uint32_t *name, const pf_counts_t *c,
                              const uint64_t *mpi_bytes);

/* The summed edges and call paths of one job's processes on this node. */
void wire_sender_group(wire_sender_t *s, const char *job, const profile_t *p);

/* A process the agent no longer holds. */
void wire_sender_gone(wire_sender_t *s, int32_t pid, uint64_t start_time);

/* Encode the report (an AgentMsg) into `out`; `counters` may be NULL. */
void wire_sender_end(wire_sender_t *s, const Ulma__Wire__AgentCounters *counters, sbuf_t *out);
void wire_sender_sent(wire_sender_t *s);
void wire_sender_unsent(wire_sender_t *s);

#endif /* WIRE_SENDER_H */
