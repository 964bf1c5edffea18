/*
 * private.h - private mode (--private PID): the launcher contract of
 * node-agent/README.md. PID's segment is looked for on every loop until it
 * is claimed; the agent is done once every process it holds is finished
 * (with --wait-child: and the child was reaped); then one table per
 * process on standard output and the files asked for (-o, --json, ...,
 * {pid} and {rank} expanded).
 *
 * --wait-child: PID is the agent's child. The agent takes SIGCHLD and the
 * signals it passes on through a signalfd, learns of the child's end at
 * once, and ends with the child's status (a signal to re-raise once the
 * agent is destroyed: private_exit_signal).
 *
 * The private state owns its signalfd; it reads and finishes the
 * processes of the table it was given and asks the discovery to look.
 */
#ifndef AGENT_PRIVATE_H
#define AGENT_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "discovery.h"
#include "proctab.h"

typedef struct private private_t;

/* What private mode asks of the reactor. */
typedef enum private_state {
    PRIVATE_RUNNING = 0, /* go on */
    PRIVATE_STOP,        /* a signal once the child is gone: report what we have */
    PRIVATE_NO_SEGMENT,  /* PID ended without a segment: nothing to report */
} private_state_t;

/* Private mode for cfg->private_pid. With cfg->wait_child, take the
 * signals into a signalfd and check that PID is our child: NULL with a
 * message in err otherwise. `cfg`, `procs` and `disc` must outlive it.
 * Caller owns the return value. */
private_t *private_new(const agent_config_t *cfg, proctab_t *procs, discovery_t *disc, char *err,
                       size_t errlen);
void private_destroy(private_t **pv_p);

/* The signalfd, for poll (-1 without --wait-child). */
int private_fd(const private_t *pv);

/* Every option was checked and the directory is watched: write the go
 * byte (--go-fd), and take in a child that is already gone. */
private_state_t private_start(private_t *pv);
/* --wait-child: read the signalfd (SIGCHLD reaps; others go on to the
 * child). */
private_state_t private_take_signals(private_t *pv);
/* Until PID's segment is claimed: look for it now. */
void private_probe(private_t *pv);
/* The cron duty: without --wait-child, give up once PID is gone without a
 * segment (after one more scan). */
private_state_t private_cron(private_t *pv, uint64_t now);

/* True once PID's segment was claimed. */
int private_root_seen(private_t *pv);
/* True once the child was reaped (--wait-child). */
int private_child_gone(const private_t *pv);
/* True once PID was seen and every process is finished (with
 * --wait-child, and the child reaped). */
int private_done(private_t *pv);

/* The end: finish what is left, print the tables, write the files. Returns
 * the exit status (--wait-child: the child's; 1 when a file could not be
 * written and the child's status was 0). */
int private_report(private_t *pv);
/* The exit status when PID ended without a segment: 1, or with
 * --wait-child the child's own. */
int private_no_segment_status(private_t *pv);
/* --wait-child: the signal that ended the child, to be re-raised by the
 * caller once the agent is destroyed (0: none). */
int private_exit_signal(const private_t *pv);

/* --wait-child: a setup failure; kill the child (it never ran anything,
 * it was waiting for the go byte) and reap it. */
void private_abort_child(const agent_config_t *cfg);

#endif /* AGENT_PRIVATE_H */
