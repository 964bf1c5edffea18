/*
 * agent_int.h - what agent.c shares with query.c (not installed, not for
 * other programs): the agent's state, its processes, pending control
 * answers.
 */
#ifndef AGENT_AGENT_INT_H
#define AGENT_AGENT_INT_H

#include "agent.h"
#include "control.h"

/* One monitored process (one segment). */
struct aproc {
    char *path;
    ulma_reader_t *rd;
    prof_t *prof;
    ulma_seg_info_t info;
    int finished;            /* writer gone and drained (file removed) */
    int faulted;             /* the mapping faulted: results kept as they were */
    int writer_gone;         /* exited or dead: next empty drain finishes it */
    int outputs_written;
    uint64_t claimed_ns, finished_ns;
    struct aproc *next;
};

/* A path we saw and left alone (another live reader, not ours, bad file). */
typedef struct askip {
    char *path;
    uint64_t until_ns;       /* look again after this */
    struct askip *next;
} askip_t;

struct agent {
    agent_config_t cfg;
    int private_mode;
    pid_t self;
    int lock_fd;
    int inotify_fd;
    void *zctx, *router;
    char ipc_path[AGENT_PATH_MAX];
    aproc_t *procs;
    askip_t *skips;
    struct ctl_wait *waits;   /* control answers waiting (control.c) */
    struct uplink *up;        /* the collector connection, or NULL (uplink.c) */
    char node_name[128];      /* --node, else the host name */
    volatile sig_atomic_t stop;
    uint64_t start_ns, next_scan_ns, next_cron_ns, next_mark_ns;
    /* private mode */
    int root_seen;
    uint64_t root_start_time; /* PID's start time (segment name), 0 unknown */
    uint64_t root_gone_ns;   /* when PID was first seen dead without a segment */
    /* --wait-child */
    int sig_fd;               /* signalfd of SIGCHLD and the forwarded signals, or -1 */
    int child_done;           /* PID reaped; child_status is its wait status */
    int child_status;
    int exit_signal;          /* to re-raise after the report (agent_exit_signal) */
    /* counters */
    uint64_t requests, bad_requests, segments_claimed, segments_finished, segments_skipped;
    uint64_t loops, idle_loops;
    int pace_ok;              /* the last drain pass found every ring under 1/16 full */
    /* the node's event rate (cron, every --interval-ms) */
    uint64_t events_gone;     /* events of processes forgotten */
    uint64_t mark_ns, mark_events;
    double events_per_s;
};

aproc_t *agent_find_proc(agent_t *a, int32_t pid);

/* Scan the directory now (also done periodically). */
void agent_scan(agent_t *a);
/* Drain every claimed segment once; returns units delivered. */
long agent_drain_all(agent_t *a);

/* Handle one request body; append the answer JSON to `ans` and an optional
 * binary second frame to `data`. Returns 0 to answer now, 1 if the answer
 * was deferred (a ctl_wait was queued with a copy of `env`). */
int query_handle(agent_t *a, const char *body, size_t len, void *const *env,
                 const size_t *env_len, int nenv, sbuf_t *ans, sbuf_t *data);

/* The node's name (--node, else the host name). */
const char *agent_node_name(const agent_t *a);

/* Send [env..., ans, (data)] on the router, never blocking. */
void agent_send(agent_t *a, void *const *env, const size_t *env_len, int nenv, const sbuf_t *ans,
                const sbuf_t *data);

#endif /* AGENT_AGENT_INT_H */
