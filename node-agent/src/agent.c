/* agent.c - the reactor: one loop that drains, takes in new segments,
 * serves requests and sends control answers, and the cron function. */
#define _GNU_SOURCE
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "control.h"
#include "discovery.h"
#include "endpoint.h"
#include "pbquery.h"
#include "private.h"
#include "proctab.h"
#include "jreq.h"
#include "query.h"
#include "uplink.h"
#include "view.h"

/* Why agent_run's loop ended. */
typedef enum agent_end {
    AGENT_RUNNING = 0,
    AGENT_STOPPED,    /* agent_stop (a signal), or private mode's: report what we have */
    AGENT_DONE,       /* every process done (private), or --run-for elapsed */
    AGENT_NO_SEGMENT, /* private: PID ended without a segment, nothing to report */
} agent_end_t;

struct agent {
    agent_config_t cfg;
    agent_view_t view;        /* what the answering modules read */
    char node_name[128];      /* --node, else the host name */
    int lock_fd;
    void *zctx;
    proctab_t *procs;
    discovery_t *disc;
    endpoint_t *ep;           /* the query socket, or NULL */
    control_t *ctl;
    uplink_t *up;             /* the collector connection, or NULL */
    private_t *pv;            /* private mode, or NULL */
    volatile sig_atomic_t stop; /* agent_stop */
    agent_end_t end;
    uint64_t start_ns, next_cron_ns, next_mark_ns;
    uint64_t loops, idle_loops;
    int pace_ok;              /* the last drain pass found every ring under 1/16 full */
    uint64_t mark_ns, mark_events; /* the node's event rate (cron, every --interval-ms) */
    uint64_t ctl_started;     /* control_started() when answers were last looked at */
};

/* ---- life cycle ----------------------------------------------------------------- */

static int take_lock(agent_t *a, char *err, size_t errlen)
{
    char path[AGENT_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/ulma-agent.lock", a->cfg.dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {0};
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        long other = n > 0 ? strtol(buf, NULL, 10) : 0;
        snprintf(err, errlen,
                 "another ulma-agent (pid %ld) already serves %s (it holds %s); "
                 "query it with ulma-ctl",
                 other, a->cfg.dir, path);
        close(fd);
        return -1;
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)a->view.pid);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    a->lock_fd = fd;
    return 0;
}

agent_t *agent_new(const agent_config_t *cfg, char *err, size_t errlen)
{
    agent_t *a = xcalloc(1, sizeof(*a));
    a->cfg = *cfg;
    a->lock_fd = -1;
    a->start_ns = now_ns();
    if (cfg->node[0]) {
        snprintf(a->node_name, sizeof(a->node_name), "%s", cfg->node);
    } else if (gethostname(a->node_name, sizeof(a->node_name) - 1) != 0) {
        snprintf(a->node_name, sizeof(a->node_name), "localhost");
    }
    a->view = (agent_view_t){
        .pid = (int32_t)getpid(),
        .dir = a->cfg.dir,
        .node = a->node_name,
        .private_mode = cfg->private_pid != 0,
        .interval_ms = cfg->interval_ms,
    };
    struct stat sb;
    if (stat(cfg->dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", cfg->dir);
        goto fail;
    }
    if (!a->view.private_mode && take_lock(a, err, errlen) != 0)
        goto fail;
    a->procs = proctab_new(&cfg->lim, (int)cfg->verbose);
    a->disc = discovery_new(&a->cfg, (pid_t)a->view.pid, a->procs);
    a->ctl = control_new(a->node_name);
    if (endpoint_wanted(&a->cfg)) {
        a->zctx = zmq_ctx_new();
        if (!(a->ep = endpoint_new(&a->cfg, a->zctx, err, errlen)))
            goto fail;
    }
    if (a->view.private_mode && !(a->pv = private_new(&a->cfg, a->procs, a->disc, err, errlen)))
        goto fail;
    if (cfg->collector[0]) {
        if (!a->zctx)
            a->zctx = zmq_ctx_new();
        if (!(a->up = uplink_new(&a->cfg, &a->view, a->procs, a->ctl, a->zctx, err, errlen)))
            goto fail;
    }
    return a;
fail:
    agent_destroy(&a);
    return NULL;
}

/* Send the control answers that are due (`force`: all of them) the way
 * their requests came. Looked at by the cron, and when a request came. */
static void send_control_answers(agent_t *a, int force)
{
    ctl_done_t d;
    a->ctl_started = control_started(a->ctl);
    while (control_next(a->ctl, force, &d)) {
        if (d.how == CTL_ANSWER_ACK)
            uplink_ack(a->up, d.ack);
        else if (a->ep)
            endpoint_send(a->ep, d.env, &d.bytes, NULL);
    }
}

void agent_destroy(agent_t **a_p)
{
    if (!a_p || !*a_p)
        return;
    agent_t *a = *a_p;
    if (a->ctl)
        send_control_answers(a, 1);
    control_destroy(&a->ctl);
    uplink_destroy(&a->up);
    private_destroy(&a->pv);
    endpoint_destroy(&a->ep);
    discovery_destroy(&a->disc);
    proctab_destroy(&a->procs);
    if (a->zctx)
        zmq_ctx_term(a->zctx);
    if (a->lock_fd >= 0)
        close(a->lock_fd);
    free(a);
    *a_p = NULL;
}

void agent_stop(agent_t *a) { a->stop = 1; }

int agent_exit_signal(const agent_t *a) { return a->pv ? private_exit_signal(a->pv) : 0; }

/* ---- requests ------------------------------------------------------------------- */

/* The view the answering modules read, with the counters of now. */
static const agent_view_t *view(agent_t *a)
{
    a->view.claimed = a->procs->claimed;
    a->view.harvested = a->procs->finished;
    a->view.skipped = discovery_skipped(a->disc);
    wire_auth_stats_t as;
    endpoint_auth_stats(a->ep, &as);
    a->view.auth_accepted = as.accepted;
    a->view.auth_refused = as.refused;
    a->view.auth_failed = as.failed;
    a->view.controls_refused = endpoint_controls_refused(a->ep);
    return &a->view;
}

/* A protobuf Query (query.proto): answered as a Reply, or later (CONTROL). */
static void serve_protobuf(agent_t *a, const request_t *rq)
{
    wire_refusal_t why;
    Ulma__Wire__Query *q = wire_query(rq->body, rq->len, &why);
    wire_answer_t w;
    wire_answer_init(&w, q ? q->id : 0);
    query_rc_t rc = QUERY_FAILED;
    if (!q)
        wire_answer_error(&w, "query refused: %s (a JSON request starts with '{'; a protobuf "
                          "Query of version %u otherwise)", wire_refusal_name(why), WIRE_VERSION);
    else
        rc = pbquery_handle(view(a), a->procs, a->ctl, q, &w, CTL_ANSWER_REPLY, &rq->env);
    if (rc == QUERY_FAILED)
        a->view.bad_requests++;
    if (rc != QUERY_DEFERRED) {
        sbuf_t ans = {0};
        wire_answer_pack(&w, &ans);
        endpoint_send(a->ep, &rq->env, &ans, NULL);
        sbuf_free(&ans);
    }
    wire_answer_free(&w);
    if (q)
        protobuf_c_message_free_unpacked(&q->base, NULL);
}

/* The requests waiting on the query socket, at most 64 a call. */
static void serve(agent_t *a)
{
    request_t rq;
    for (int budget = 0; budget < 64 && endpoint_recv(a->ep, &rq); budget++) {
        a->view.requests++;
        sbuf_t ans = {0}, data = {0};
        if (rq.bad) {
            /* no identity + body, or too many frames: answer if we can */
            a->view.bad_requests++;
            if (rq.answerable) {
                jreq_error(&ans, "too many frames");
                endpoint_send(a->ep, &rq.env, &ans, NULL);
            }
        } else if (endpoint_refuse_control(a->ep, &rq)) {
            a->view.bad_requests++; /* a key that may query, not control */
        } else if (rq.len && *(const char *)rq.body == '{') {
            /* JSON: one flat object (node-agent/README.md) */
            query_rc_t rc = query_handle(view(a), a->procs, a->ctl, rq.body, rq.len, &rq.env,
                                         &ans, &data);
            if (rc == QUERY_FAILED)
                a->view.bad_requests++;
            if (rc != QUERY_DEFERRED)
                endpoint_send(a->ep, &rq.env, &ans, &data);
        } else {
            serve_protobuf(a, &rq);
        }
        sbuf_free(&ans);
        sbuf_free(&data);
        endpoint_release(&rq);
    }
}

/* ---- cron ------------------------------------------------------------------ */

/*
 * The periodic function. Its duties:
 *   1. scan the directory (backs up inotify; retries segments left alone);
 *   2. notice writers that died without marking their segment (SIGKILL) so
 *      that the next empty drain harvests them;
 *   3. refresh each process's clock calibration;
 *   4. start a new rate interval every --interval-ms;
 *   5. forget ended processes after --keep seconds (node agent);
 *   6. answer control requests whose processes applied them or timed out;
 *   7. report to the collector when a report is due;
 *   8. private mode: give up if PID ended without a segment.
 */
static void agent_cron(agent_t *a, uint64_t now)
{
    discovery_tick(a->disc, now);
    int mark = now >= a->next_mark_ns;
    uint64_t events = proctab_refresh(a->procs, now, mark);
    if (mark) {
        if (a->mark_ns && now > a->mark_ns && events >= a->mark_events)
            a->view.events_per_s =
                (double)(events - a->mark_events) * 1e9 / (double)(now - a->mark_ns);
        a->mark_ns = now;
        a->mark_events = events;
        a->next_mark_ns = now + (uint64_t)a->cfg.interval_ms * 1000000u;
    }
    if (!a->pv) {
        aproc_t *p;
        while ((p = proctab_expire(a->procs, now, (uint64_t)(a->cfg.keep_s * 1e9))) != NULL) {
            uplink_forget(a->up, p);
            proctab_free(&p);
        }
    }
    send_control_answers(a, 0);
    if (a->up)
        uplink_tick(a->up, now);
    if (a->pv && private_cron(a->pv, now) == PRIVATE_NO_SEGMENT)
        a->end = AGENT_NO_SEGMENT;
}

/* ---- the loop ----------------------------------------------------------------- */

/* Sleep at most `us` microseconds, waking for inotify or a signal. */
static void idle_wait(agent_t *a, long us)
{
    struct pollfd pfd[2];
    nfds_t n = 0;
    int ino = discovery_fd(a->disc), sig = a->pv ? private_fd(a->pv) : -1;
    if (ino >= 0)
        pfd[n++] = (struct pollfd){ino, POLLIN, 0};
    if (sig >= 0)
        pfd[n++] = (struct pollfd){sig, POLLIN, 0};
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    if (ppoll(pfd, n, &ts, NULL) > 0 && ino >= 0 && (pfd[0].revents & POLLIN))
        discovery_read_events(a->disc);
}

/* Nothing came: new files first (non-blocking), then sleep a little, but
 * wake at once for a request, a new file or a signal. */
static void idle(agent_t *a, int idle_streak)
{
    discovery_read_events(a->disc);
    int timeout_ms = idle_streak > 100 ? 1 : 0;
    int ino = discovery_fd(a->disc), sig = a->pv ? private_fd(a->pv) : -1;
    if (a->ep || a->up) {
        zmq_pollitem_t items[4];
        int ni = 0, ino_item = -1;
        if (a->ep)
            items[ni++] = (zmq_pollitem_t){endpoint_socket(a->ep), 0, ZMQ_POLLIN, 0};
        if (a->up)
            items[ni++] = (zmq_pollitem_t){uplink_socket(a->up), 0, ZMQ_POLLIN, 0};
        if (ino >= 0) {
            ino_item = ni;
            items[ni++] = (zmq_pollitem_t){NULL, ino, ZMQ_POLLIN, 0};
        }
        if (sig >= 0)
            items[ni++] = (zmq_pollitem_t){NULL, sig, ZMQ_POLLIN, 0};
        if (timeout_ms)
            zmq_poll(items, ni, timeout_ms);
        else if (sig >= 0)
            idle_wait(a, a->cfg.idle_us);
        else
            usleep(a->cfg.idle_us);
        if (ino_item >= 0 && (items[ino_item].revents & ZMQ_POLLIN))
            discovery_read_events(a->disc);
    } else if (sig >= 0 || (ino >= 0 && timeout_ms)) {
        idle_wait(a, timeout_ms ? timeout_ms * 1000L : (long)a->cfg.idle_us);
    } else {
        usleep(a->cfg.idle_us);
    }
}

/* True once the loop is to end (agent_stop counts from here). */
static int ending(agent_t *a)
{
    if (a->stop && a->end == AGENT_RUNNING)
        a->end = AGENT_STOPPED;
    return a->end != AGENT_RUNNING;
}

/* Private mode's word, as the loop's end. */
static void private_says(agent_t *a, private_state_t s)
{
    if (s == PRIVATE_STOP && a->end == AGENT_RUNNING)
        a->end = AGENT_STOPPED;
    else if (s == PRIVATE_NO_SEGMENT)
        a->end = AGENT_NO_SEGMENT;
}

int agent_run(agent_t *a)
{
    if (a->pv)
        private_says(a, private_start(a->pv));
    discovery_scan(a->disc);
    uint64_t end_ns = a->cfg.run_for_s > 0 ? a->start_ns + (uint64_t)(a->cfg.run_for_s * 1e9) : 0;
    int idle_streak = 0;
    while (!ending(a)) {
        if (a->pv) {
            private_says(a, private_take_signals(a->pv));
            if (ending(a))
                break;
            if (!private_root_seen(a->pv))
                private_probe(a->pv);
        }
        long n = proctab_drain(a->procs, &a->pace_ok);
        a->loops++;
        /* the child is gone: done as soon as the last records are in (a
         * final look at the directory for a descendant's late segment) */
        if (a->pv && private_child_gone(a->pv) && private_done(a->pv)) {
            discovery_scan(a->disc);
            if (private_done(a->pv)) {
                a->end = AGENT_DONE;
                break;
            }
        }
        uint64_t now = now_ns();
        if (now >= a->next_cron_ns) {
            discovery_read_events(a->disc);
            agent_cron(a, now);
            a->next_cron_ns = now + (uint64_t)a->cfg.cron_ms * 1000000u;
            if (a->end == AGENT_RUNNING &&
                ((a->pv && private_done(a->pv)) || (end_ns && now >= end_ns)))
                a->end = AGENT_DONE;
            if (ending(a))
                break;
        }
        if (a->ep)
            serve(a);
        if (a->up)
            a->view.bad_requests += uplink_serve(a->up);
        if (control_started(a->ctl) != a->ctl_started)
            send_control_answers(a, 0);
        if (n > 0) {
            idle_streak = 0;
            /* Records came, but few: wait a little before the next pass
             * instead of spinning. A reader polling a ring's head moves
             * that cache line away from the writer on every poll, which
             * the profiled program pays for; a pause of idle_us lets a
             * saturated writer fill well under a sixteenth of its ring. */
            if (a->pace_ok) {
                /* private mode: the child's end (its signal) cuts the
                 * pause short, so that it never delays the report */
                if (a->pv && private_fd(a->pv) >= 0)
                    idle_wait(a, a->cfg.idle_us);
                else
                    usleep(a->cfg.idle_us);
            }
            continue;
        }
        a->idle_loops++;
        idle_streak++;
        idle(a, idle_streak);
    }
    if (a->end == AGENT_NO_SEGMENT)
        return private_no_segment_status(a->pv);
    /* stopped or done: a last drain of what was published, a last report */
    proctab_drain(a->procs, &a->pace_ok);
    if (a->up)
        uplink_tick(a->up, UINT64_MAX / 2);
    return a->pv ? private_report(a->pv) : 0;
}
