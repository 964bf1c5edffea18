/*
 * agent.h - ulma-agent's reactor: one loop (agent_run) that drains the
 * process table (proctab.h), takes in what the discovery finds
 * (discovery.h), serves the query socket (endpoint.h: query.h, pbquery.h),
 * sends control answers (control.h), talks to the collector (uplink.h),
 * and calls one periodic function (agent_cron in agent.c, its duties
 * listed there). Private mode's life cycle is private.h's.
 *
 * The agent owns every part it makes.
 *
 * Two ways to run:
 *   node agent     one per node and directory, holds <dir>/ulma-agent.lock,
 *                  claims every segment it may read, answers queries on
 *                  ipc://<dir>/ulma-agent.ipc (and --listen tcp://...).
 *   private agent  --private PID: drains the segments of PID and its
 *                  descendants until they are all done, then prints the
 *                  table and writes the files asked for, and exits.
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stddef.h>

#include "config.h"

typedef struct agent agent_t;

/* Create the agent: lock (node mode), inotify, endpoint. On failure returns
 * NULL with a message in err. Caller owns the return value. */
agent_t *agent_new(const agent_config_t *cfg, char *err, size_t errlen);
void agent_destroy(agent_t **a_p);

/* Run until stopped (signal), --run-for elapses, or (private mode) every
 * process is done. Returns the exit status. */
int agent_run(agent_t *a);

/* Ask a running agent_run to return (async-signal-safe). */
void agent_stop(agent_t *a);

/* --wait-child: the signal that ended the child, to be re-raised by the
 * caller once the agent is destroyed (0: none, or not --wait-child). */
int agent_exit_signal(const agent_t *a);

#endif /* AGENT_AGENT_H */
