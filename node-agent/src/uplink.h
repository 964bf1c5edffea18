/*
 * uplink.h - the node agent's connection to the collector (--collector):
 * a ZeroMQ DEALER that connects (and reconnects, with back-off) to the
 * collector's ROUTER; every --report-interval a report of this node's
 * processes (report.proto: changes since the last report, a snapshot every
 * --snapshot-every reports or when asked); the collector's messages:
 * snapshot requests, control requests (answered with a ControlAck once
 * the processes applied them), forwarded queries (answered like the
 * agent's own protobuf queries).
 *
 * Never blocks: a report the socket cannot take now is folded into the
 * next (counted as unsent), so the agent keeps profiling and answering
 * local queries whether or not a collector is there.
 *
 * The uplink owns its socket, its report sender and the list of processes
 * forgotten since the last report; it reads the process table and the
 * agent's view it was given.
 */
#ifndef AGENT_UPLINK_H
#define AGENT_UPLINK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "control.h"
#include "proctab.h"
#include "view.h"
#include "wire/wire.h"

typedef struct uplink uplink_t;

/* Connect to cfg->collector on context `zctx`; reports every
 * cfg->report_s of the processes of `t`, with the counters of `v`;
 * control requests go to `ctl` (answered through uplink_ack). `v`, `t`
 * and `ctl` must outlive the uplink. NULL with a message in err. Caller
 * owns the return value. */
uplink_t *uplink_new(const agent_config_t *cfg, const agent_view_t *v, proctab_t *t,
                     control_t *ctl, void *zctx, char *err, size_t errlen);
void uplink_destroy(uplink_t **u_p);
/* The socket, for zmq_poll. */
void *uplink_socket(const uplink_t *u);

/* The report duty: sends a report if one is due at `now` (monotonic ns). */
void uplink_tick(uplink_t *u, uint64_t now);
/* Handle what the collector sent (never blocks). Returns how many of its
 * messages were bad (refused, or answered with an error). */
uint32_t uplink_serve(uplink_t *u);
/* The agent forgets `p`: the next report says it is gone. NULL-safe. */
void uplink_forget(uplink_t *u, const aproc_t *p);
/* Send a control acknowledgement. NULL-safe. */
void uplink_ack(uplink_t *u, const Ulma__Wire__ControlAck *ack);

#endif /* AGENT_UPLINK_H */
