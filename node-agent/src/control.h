/*
 * control.h - switching profiling of the agent's processes (their control
 * words), and the answers that wait until the processes applied it.
 *
 * A request names its targets (a pid, a job, a rank, or all), is written
 * into each target's segment (ulma_reader_request), and waits, bounded by
 * its wait_ms, for every target's applied_seq. The answer goes back the
 * way the request came: a JSON answer or a protobuf Reply on the query
 * socket, or a ControlAck to the collector.
 */
#ifndef AGENT_CONTROL_H
#define AGENT_CONTROL_H

#include <stddef.h>
#include <stdint.h>

typedef struct agent agent_t;
typedef struct aproc aproc_t;

typedef enum ctl_answer {
    CTL_ANSWER_JSON = 0,  /* {"ok":true,"targets":[...]} on the query socket */
    CTL_ANSWER_REPLY = 1, /* a Reply with a ControlAnswer on the query socket */
    CTL_ANSWER_ACK = 2,   /* a ControlAck to the collector */
} ctl_answer_t;

/* Which processes: every field that is set must match. */
typedef struct ctl_match {
    int32_t pid;          /* 0: any */
    const char *job;      /* NULL: any */
    int32_t rank;         /* -1: any */
} ctl_match_t;

#define CTL_MAX_FRAMES 8

/* Write `ctl` (ULMA_CTL_* mode | objects) into every running process
 * that matches and queue the answer. Returns the number of targets; 0
 * queues nothing. `env` (the requester's envelope, copied) and `id` (the
 * request's id) say where the answer goes. */
uint32_t control_start(agent_t *a, uint32_t ctl, const ctl_match_t *m, uint32_t wait_ms,
                       ctl_answer_t how, uint64_t id, void *const *env, const size_t *env_len,
                       int nenv);

/* Send the answers whose processes all applied or whose time is up;
 * `force` sends them all now. */
void control_check(agent_t *a, int force);

/* True if a pending answer names `p` (it must not be freed yet). */
int control_busy(const agent_t *a, const aproc_t *p);

/* Control word of a mode name ("off", "on", "fast", "full"), or -1. */
int control_mode(const char *name);

#endif /* AGENT_CONTROL_H */
