/*
 * query.h - the answers to dashboards' queries (query.proto) from the
 * store, and the decisions the reactor carries out for what the store
 * does not hold: forwarding a query to a node's agent, routing a control
 * request to the agents concerned.
 */
#ifndef COLLECTOR_QUERY_H
#define COLLECTOR_QUERY_H

#include "store_int.h"
#include "wire/answer.h"

typedef struct query_env {
    store_t *s;
    uint64_t bad_messages;  /* refused by the collector, every reason */
    double interval_s;
} query_env_t;

typedef enum query_result {
    QUERY_ANSWERED = 0,     /* the Reply in w is complete */
    QUERY_FORWARD,          /* send route->fwd to route->node's agent */
    QUERY_CONTROL,          /* send route->ctl to each of route->nodes */
} query_result_t;

typedef struct query_route {
    node_t *node;           /* FORWARD */
    sbuf_t fwd;             /* FORWARD: the encoded Query for the agent */
    node_t **nodes;         /* CONTROL: caller frees */
    uint32_t nnodes;
    uint32_t mode, wait_ms, limit;
    int objects;
    char job[64];
    int32_t pid, rank;
} query_route_t;

/* Answer `q` into `w` (initialised by the caller), or say what to do. */
query_result_t query_run(const query_env_t *env, const Ulma__Wire__Query *q, wire_answer_t *w,
                         query_route_t *route);

/* The merged view as one JSON document (SNAPSHOT, --dump): the profile
 * JSON schema of the cluster profile plus "nodes", "ranks", "imbalance"
 * and "collector". */
void query_snapshot_json(const query_env_t *env, sbuf_t *out);

#endif /* COLLECTOR_QUERY_H */
