/*
 * store.h - everything the collector knows: nodes, their agents' sessions,
 * processes, jobs, the global interning of function labels, edges and call
 * paths, and the aggregates kept up to date as reports arrive (cluster and
 * per job, by global id). No ZeroMQ here: the reactor hands it decoded
 * messages, and unit tests and the fuzz target drive it directly.
 *
 * Semantics (report.proto's header): a delta applies only on top of
 * seq - 1 of the same session; duplicates and older reports are ignored;
 * a gap, an unknown session or a dictionary base that does not match asks
 * for a snapshot (STORE_ASK_SNAPSHOT) and deltas are ignored until it
 * arrives; a snapshot replaces the session's state (aggregates adjusted,
 * nothing counted twice); processes absent from a snapshot, and
 * Report.gone_* ones, keep their final numbers as exited. A new session
 * with a known node name is a restarted agent: the processes it reports
 * again (same pid and start time) continue from the old session's numbers.
 *
 * Every message is validated completely before any of it is applied: a
 * refused report changes nothing but counters and its node's state (which
 * reads "refused:<reason>" until a report of that node is applied again;
 * a node first heard of in a refused report is created, empty, to show
 * it). Times (tottime, cumtime, their open parts, spans) may be negative:
 * an agent on a machine whose cores' cycle counters are not quite in step
 * can measure a frame's own time a little below zero. They are applied as
 * they are and counted (store_stats.negative_times, node_t.negative_times);
 * counts driven negative, primitive calls above calls and overflows are
 * protocol violations and refused.
 */
#ifndef COLLECTOR_STORE_H
#define COLLECTOR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

/* Why a message was refused (counted per reason). */
typedef enum store_bad {
    BAD_TOO_BIG = 0, /* over WIRE_MAX_MSG */
    BAD_MALFORMED,   /* protobuf could not parse it */
    BAD_VERSION,     /* another WIRE_VERSION */
    BAD_BODY,        /* no body, or a body this side does not take */
    BAD_NODE,        /* no node name, or a session that changed node */
    BAD_STRING,      /* a string over its bound */
    BAD_COLUMNS,     /* parallel columns of unequal lengths */
    BAD_INDEX,       /* a dictionary index out of range */
    BAD_ORDER,       /* indices not strictly ascending */
    BAD_NEGATIVE,    /* a count driven negative, or an overflow (times may be
                      * negative: see store_report) */
    BAD_PCALLS,      /* primitive calls above calls */
    BAD_DUPLICATE,   /* the same process or group twice in one report */
    BAD_LIMIT,       /* over a size limit (names, processes, ...) */
    BAD_ENVELOPE,    /* ZeroMQ frames not as expected */
    BAD_TWIN,        /* a second agent reporting as a node whose agent is up (it
                      * started before that agent's last report: no restart) */
    BAD_NREASONS
} store_bad_t;
const char *store_bad_name(store_bad_t b);

/* Bounds on what one peer can make the collector hold. */
typedef struct store_limits {
    uint32_t names_per_session;   /* dictionary entries per session */
    uint32_t functions;           /* global function labels */
    uint32_t edges, paths;        /* global edges and call paths */
    uint32_t procs_per_node;
    uint32_t nodes;
    uint32_t types_per_proc;
} store_limits_t;
void store_limits_default(store_limits_t *l);

typedef struct store_config {
    uint64_t interval_ns;  /* expected report interval */
    uint64_t gone_ns;      /* silent this long: gone */
    uint64_t keep_ns;      /* gone nodes, finished jobs, exited processes: kept this long */
    uint32_t history;      /* history points kept (per node and the cluster) */
    uint32_t rate_points;  /* samples kept for rates (window/interval + 1) */
    uint32_t snapshot_every; /* ask a session for a snapshot when it sent none
                              * for this many intervals (0: never) */
    store_limits_t lim;
} store_config_t;

/* The collector's own counters (also metrics). */
typedef struct store_stats {
    uint64_t reports, snapshots, deltas, duplicates, gaps, unknown_sessions;
    uint64_t dict_mismatches, ignored_waiting, snapshot_requests, restarts;
    uint64_t reports_lost;     /* deltas never applied + unclean agent ends */
    uint64_t negative_times;   /* rows accepted with a negative time */
    uint64_t procs_expired, nodes_expired, jobs_expired;
    uint64_t bad[BAD_NREASONS];
} store_stats_t;

typedef struct store store_t;

/* Caller owns the return value. */
store_t *store_new(const store_config_t *cfg);
void store_destroy(store_t **s_p);
const store_stats_t *store_stats(const store_t *s);
void store_count_bad(store_t *s, store_bad_t why);
/* The same for a message from `peer` that could not even be decoded: the
 * node that peer is (if known) shows the refusal. `now` is monotonic ns. */
void store_count_bad_peer(store_t *s, store_bad_t why, const void *peer, size_t peer_len,
                          uint64_t now);

/* What the reactor must do after a report. */
typedef struct store_action {
    int ask_snapshot;        /* send SnapshotRequest{session, full_dictionary} */
    uint64_t session;
    int full_dictionary;
} store_action_t;

/* Apply one report received from `peer` (the agent's routing id, kept to
 * send to it later; may be NULL). Returns 0 if applied, 1 if ignored
 * (duplicate, waiting for a snapshot, needs a snapshot: see *act), -1 if
 * refused (counted by reason). `now` is CLOCK_MONOTONIC ns. */
int store_report(store_t *s, const Ulma__Wire__Report *r, uint64_t now, const void *peer,
                 size_t peer_len, store_action_t *act);

/* The periodic duties (see store.c): node states, history and rate
 * samples, expiry. Call once per interval. */
void store_tick(store_t *s, uint64_t now, uint64_t wall);

#endif /* COLLECTOR_STORE_H */
