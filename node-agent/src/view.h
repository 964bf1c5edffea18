/*
 * view.h - what the answering modules (query.c, pbquery.c, uplink.c) may
 * know of the agent: a small read-only description kept up to date by
 * the reactor (agent.c), which owns it, and how a request was answered.
 */
#ifndef AGENT_VIEW_H
#define AGENT_VIEW_H

#include <stdint.h>

typedef struct agent_view {
    int32_t pid;               /* the agent's */
    const char *dir;           /* segment directory */
    const char *node;          /* --node, else the host name */
    int private_mode;          /* --private */
    uint32_t interval_ms;      /* rate interval */
    uint64_t requests, bad_requests;
    uint64_t claimed, harvested, skipped; /* segments */
    /* the tcp endpoint's CURVE: peers let in, keys refused, handshakes
     * failed, control requests of keys not in the control list */
    uint64_t auth_accepted, auth_refused, auth_failed, controls_refused;
    double events_per_s;       /* the node's event rate, last interval */
} agent_view_t;

/* How a request was answered. */
typedef enum query_rc {
    QUERY_ANSWERED = 0, /* the answer is ready */
    QUERY_FAILED,       /* the answer is an error (a bad request, counted) */
    QUERY_DEFERRED,     /* control: answered once the processes applied it */
} query_rc_t;

#endif /* AGENT_VIEW_H */
