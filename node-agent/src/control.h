/*
 * control.h - switching profiling of the agent's processes (their control
 * words), and the answers that wait until the processes applied it.
 *
 * A request names its targets (a pid, a job, a rank, or all), is written
 * into each target's segment (ulma_reader_request), and waits, bounded by
 * its wait_ms, for every target's applied_seq. Finished answers are handed
 * back to the reactor (control_next), which sends them the way the request
 * came: a JSON answer or a protobuf Reply on the query socket, or a
 * ControlAck to the collector.
 *
 * The control state owns its pending answers and their envelopes; the
 * processes they name are pinned in the table (aproc_t.pins) until
 * answered.
 */
#ifndef AGENT_CONTROL_H
#define AGENT_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "proctab.h"
#include "wire/wire.h"

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

/* A finished answer, valid until the next control_next or control_destroy. */
typedef struct ctl_done {
    ctl_answer_t how;
    const envelope_t *env;             /* JSON, REPLY: where it goes */
    sbuf_t bytes;                      /* JSON, REPLY: the answer */
    const Ulma__Wire__ControlAck *ack; /* ACK: the acknowledgement */
} ctl_done_t;

typedef struct control control_t;

/* `node` (copied) names this node in Reply rows. Caller owns the return
 * value. */
control_t *control_new(const char *node);
/* Drops the answers still pending (and unpins their processes).
 * NULL-safe; nulls the caller's pointer. */
void control_destroy(control_t **c_p);

/* Write `ctl` (ULMA_CTL_* mode | objects) into every running process of
 * `t` that matches and queue the answer. Returns the number of targets; 0
 * queues nothing. `env` (the requester's envelope, copied; NULL for the
 * collector) and `id` (the request's id) say where the answer goes. */
uint32_t control_start(control_t *c, proctab_t *t, uint32_t ctl, const ctl_match_t *m,
                       uint32_t wait_ms, ctl_answer_t how, uint64_t id, const envelope_t *env);

/* The next answer whose processes all applied or whose time is up (with
 * `force`: any pending answer): 1 with *out filled, 0 when none is due. */
int control_next(control_t *c, int force, ctl_done_t *out);

/* How many requests were queued since the start: a new one may be
 * answered at once (wait_ms 0, or applied already). */
uint64_t control_started(const control_t *c);

/* Control word of a mode name ("off", "on", "fast", "full"), or -1. */
int control_mode(const char *name);

#endif /* AGENT_CONTROL_H */
