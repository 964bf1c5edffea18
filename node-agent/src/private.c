/* private.c - private mode: PID's segment, the --wait-child life cycle,
 * the tables and the output files at the end. */
#define _GNU_SOURCE
#include "private.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profile/export.h"
#include "profile/table.h"
#include "ulma/segment.h"

struct private {
    const agent_config_t *cfg;
    proctab_t *procs;
    discovery_t *disc;
    int root_seen;
    uint64_t root_start_time; /* PID's start time (segment name), 0 unknown */
    uint64_t root_gone_ns;    /* when PID was first seen dead without a segment */
    /* --wait-child */
    int sig_fd;               /* signalfd of SIGCHLD and the forwarded signals, or -1 */
    int child_done;           /* PID reaped; child_status is its wait status */
    int child_status;
    int exit_signal;          /* to re-raise after the report */
};

/* --wait-child: the signals the agent takes through its signalfd: the
 * child's end, and those it passes on to the child. */
static const int child_signals[] = {SIGCHLD, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGINT};
#define NCHILD_SIGNALS (sizeof(child_signals) / sizeof(child_signals[0]))

static int watch_child(private_t *pv, char *err, size_t errlen)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < NCHILD_SIGNALS; i++) {
        sigaddset(&set, child_signals[i]);
        signal(child_signals[i], SIG_DFL); /* an ignored signal is lost even when blocked */
    }
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
        (pv->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        snprintf(err, errlen, "signalfd: %s", strerror(errno));
        return -1;
    }
    /* blocked before this check: an end between the two is in the signalfd */
    int st;
    pid_t r = waitpid(pv->cfg->private_pid, &st, WNOHANG);
    if (r < 0) {
        snprintf(err, errlen, "--wait-child: process %d is not a child of this agent",
                 pv->cfg->private_pid);
        return -1;
    }
    if (r == pv->cfg->private_pid) {
        pv->child_done = 1;
        pv->child_status = st;
    }
    return 0;
}

private_t *private_new(const agent_config_t *cfg, proctab_t *procs, discovery_t *disc, char *err,
                       size_t errlen)
{
    private_t *pv = xcalloc(1, sizeof(*pv));
    pv->cfg = cfg;
    pv->procs = procs;
    pv->disc = disc;
    pv->sig_fd = -1;
    if (cfg->wait_child && watch_child(pv, err, errlen) != 0)
        private_destroy(&pv);
    return pv;
}

void private_destroy(private_t **pv_p)
{
    if (!pv_p || !*pv_p)
        return;
    private_t *pv = *pv_p;
    if (pv->sig_fd >= 0)
        close(pv->sig_fd);
    free(pv);
    *pv_p = NULL;
}

int private_fd(const private_t *pv) { return pv->sig_fd; }

int private_root_seen(private_t *pv)
{
    if (!pv->root_seen)
        pv->root_seen = proctab_find(pv->procs, pv->cfg->private_pid) != NULL;
    return pv->root_seen;
}

int private_child_gone(const private_t *pv) { return pv->child_done; }

int private_exit_signal(const private_t *pv) { return pv->exit_signal; }

static void say_no_segment(const private_t *pv)
{
    fprintf(stderr,
            "ulma-agent: process %d ended without creating a segment in %s: "
            "nothing to report\n",
            pv->cfg->private_pid, pv->cfg->dir);
}

/* --wait-child: the child was reaped. Its segment's writer is gone (an
 * os._exit or a kill leaves it LIVE): the next empty drain finishes it.
 * No segment at all after a last look: nothing to report. */
static private_state_t on_child_end(private_t *pv)
{
    if (!private_root_seen(pv))
        discovery_scan(pv->disc);
    for (aproc_t *p = pv->procs->procs; p; p = p->next)
        if (p->info.pid == pv->cfg->private_pid && !p->finished)
            p->writer_gone = 1;
    if (private_root_seen(pv))
        return PRIVATE_RUNNING;
    say_no_segment(pv);
    return PRIVATE_NO_SEGMENT;
}

private_state_t private_start(private_t *pv)
{
    if (pv->cfg->go_fd >= 0) {
        /* every option was checked, the segment directory is watched: let
         * the program start (EPIPE: it is gone already; SIGCHLD tells) */
        ssize_t w = write(pv->cfg->go_fd, "g", 1);
        (void)w;
        close(pv->cfg->go_fd);
    }
    return pv->child_done ? on_child_end(pv) : PRIVATE_RUNNING;
}

/* SIGCHLD reaps; the others go on to the child, except a SIGINT, SIGQUIT
 * or SIGHUP the terminal sent (si_code not SI_USER/SI_QUEUE): it went to
 * the whole foreground process group, and the child has its own. */
private_state_t private_take_signals(private_t *pv)
{
    if (pv->sig_fd < 0)
        return PRIVATE_RUNNING;
    private_state_t state = PRIVATE_RUNNING;
    struct signalfd_siginfo si;
    while (read(pv->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGCHLD) {
            int st;
            pid_t r;
            while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
                if (r == pv->cfg->private_pid && !pv->child_done) {
                    pv->child_done = 1;
                    pv->child_status = st;
                    if (on_child_end(pv) == PRIVATE_NO_SEGMENT)
                        state = PRIVATE_NO_SEGMENT;
                }
            }
            continue;
        }
        int from_process = si.ssi_code == SI_USER || si.ssi_code == SI_QUEUE;
        if ((sig == SIGINT || sig == SIGQUIT || sig == SIGHUP) && !from_process)
            continue;
        if (!pv->child_done)
            kill(pv->cfg->private_pid, sig);
        else if (sig != SIGUSR1 && sig != SIGUSR2 && state == PRIVATE_RUNNING)
            state = PRIVATE_STOP; /* only descendants left: report what we have */
    }
    return state;
}

/* A program writes a full ring in milliseconds: waiting for the next cron
 * or scan loses records. inotify first, then the expected name. */
void private_probe(private_t *pv)
{
    discovery_read_events(pv->disc);
    if (private_root_seen(pv))
        return;
    if (!pv->root_start_time)
        pv->root_start_time = ulma_proc_start_time(pv->cfg->private_pid);
    if (!pv->root_start_time)
        return;
    char path[AGENT_PATH_MAX];
    int n = ulma_segment_name(path, sizeof(path), pv->cfg->dir, (uint32_t)geteuid(),
                              pv->cfg->private_pid, pv->root_start_time);
    struct stat sb;
    if (n > 0 && (size_t)n < sizeof(path) && stat(path, &sb) == 0) {
        const char *base = strrchr(path, '/');
        discovery_consider(pv->disc, base ? base + 1 : path);
    }
}

private_state_t private_cron(private_t *pv, uint64_t now)
{
    /* (--wait-child learns of it from SIGCHLD: see on_child_end) */
    if (pv->cfg->wait_child || private_root_seen(pv) || kill(pv->cfg->private_pid, 0) == 0 ||
        errno == EPERM)
        return PRIVATE_RUNNING; /* PID is alive, or its segment is ours */
    if (!pv->root_gone_ns) {
        pv->root_gone_ns = now; /* one more scan: it may have just been renamed in */
        discovery_scan_soon(pv->disc);
        return PRIVATE_RUNNING;
    }
    if (now - pv->root_gone_ns <= 200000000u)
        return PRIVATE_RUNNING;
    say_no_segment(pv);
    return PRIVATE_NO_SEGMENT;
}

/* Private mode is done once PID was seen, and every process we hold is
 * finished; with --wait-child, once the child was reaped too (its
 * segment says exited before the interpreter's last steps, which can
 * matter: mpi4py finalizes MPI after that, and the MPI launcher watches
 * our pid). */
int private_done(private_t *pv)
{
    if (!private_root_seen(pv) || (pv->cfg->wait_child && !pv->child_done))
        return 0;
    for (aproc_t *p = pv->procs->procs; p; p = p->next)
        if (!p->finished)
            return 0;
    return 1;
}

/* ---- the end: tables and files ------------------------------------------------ */

static void expand_name(char *out, size_t len, const char *tmpl, const ulma_seg_info_t *in)
{
    size_t o = 0;
    for (const char *s = tmpl; *s && o + 1 < len;) {
        char num[32];
        const char *rep = NULL;
        if (strncmp(s, "{pid}", 5) == 0) {
            snprintf(num, sizeof(num), "%d", in->pid);
            rep = num;
            s += 5;
        } else if (strncmp(s, "{rank}", 6) == 0) {
            snprintf(num, sizeof(num), "%d", in->mpi_rank >= 0 ? in->mpi_rank : 0);
            rep = num;
            s += 6;
        }
        if (rep) {
            size_t n = strlen(rep);
            if (o + n >= len)
                break;
            memcpy(out + o, rep, n);
            o += n;
        } else {
            out[o++] = *s++;
        }
    }
    out[o] = '\0';
}

/* The files asked for. Returns 0, or -1 if one failed. */
static int write_outputs(const private_t *pv, aproc_t *p, const profile_t *pr, int several)
{
    const agent_config_t *cfg = pv->cfg;
    struct {
        const char *tmpl;
        int format;
    } outs[] = {
        {cfg->out_pstats, PROFILE_PSTATS},       {cfg->out_json, PROFILE_JSON},
        {cfg->out_collapsed, PROFILE_COLLAPSED}, {cfg->out_speedscope, PROFILE_SPEEDSCOPE},
        {cfg->out_pprof, PROFILE_PPROF},         {cfg->out_svg, PROFILE_SVG},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
        if (!outs[i].tmpl[0])
            continue;
        char path[AGENT_PATH_MAX + 32];
        expand_name(path, AGENT_PATH_MAX, outs[i].tmpl, &p->info);
        /* several processes and no {pid} in the name: the others get .<pid> */
        if (several && !strstr(outs[i].tmpl, "{pid}") && p->info.pid != cfg->private_pid) {
            size_t n = strlen(path);
            snprintf(path + n, sizeof(path) - n, ".%d", p->info.pid);
        }
        sbuf_t b = {0};
        int err = profile_export(pr, outs[i].format, &b);
        if (!err)
            err = write_file(path, b.data ? b.data : "", b.len);
        if (err) {
            fprintf(stderr, "ulma-agent: cannot write %s: %s\n", path, strerror(-err));
            rc = -1;
        } else if (cfg->verbose) {
            fprintf(stderr, "ulma-agent: wrote %s\n", path);
        }
        sbuf_free(&b);
    }
    return rc;
}

/* The table of one process, with a title line when there are several or
 * it is an MPI rank. */
static void print_table(const private_t *pv, const aproc_t *p, const profile_t *pr, int several)
{
    sbuf_t b = {0};
    if (several || p->info.mpi_rank >= 0) {
        sbuf_printf(&b, "ulma: pid %d", p->info.pid);
        if (p->info.mpi_rank >= 0)
            sbuf_printf(&b, ", rank %d of %d", p->info.mpi_rank, p->info.mpi_size);
        sbuf_printf(&b, " (%s)\n", p->info.exe);
    }
    pf_table_opts_t o = {pv->cfg->sort, pv->cfg->rows, 0};
    profile_table(pr, &o, &b);
    fwrite(b.data, 1, b.len, stdout);
    fflush(stdout); /* before the files: one of them may be standard output */
    sbuf_free(&b);
}

/* Reports in MPI rank order, then in the order the processes were claimed. */
static int compare_procs(const void *x, const void *y)
{
    const aproc_t *a = *(aproc_t *const *)x, *b = *(aproc_t *const *)y;
    if (a->info.mpi_rank != b->info.mpi_rank)
        return a->info.mpi_rank < b->info.mpi_rank ? -1 : 1;
    return a->claimed_ns < b->claimed_ns ? -1 : a->claimed_ns > b->claimed_ns;
}

/* --wait-child: the exit status, the child's own whatever the report
 * (a file that could not be written is said on stderr, and leaves the
 * program's status as it was); sets exit_signal for a child killed by a
 * signal. */
static int child_exit_status(private_t *pv)
{
    int st = pv->child_status;
    if (WIFSIGNALED(st)) {
        pv->exit_signal = WTERMSIG(st);
        return 128 + WTERMSIG(st);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int private_report(private_t *pv)
{
    int rc = 0;
    uint32_t n = proctab_count(pv->procs), i = 0;
    aproc_t **list = xmalloc(sizeof(*list) * (n ? n : 1));
    for (aproc_t *p = pv->procs->procs; p; p = p->next)
        list[i++] = p;
    qsort(list, n, sizeof(*list), compare_procs);
    for (i = 0; i < n; i++) {
        aproc_t *p = list[i];
        if (!p->finished)
            proctab_finish(pv->procs, p, now_ns());
        profile_t *pr = proctab_profile(p);
        if (!pv->cfg->no_table)
            print_table(pv, p, pr, n > 1);
        if (write_outputs(pv, p, pr, n > 1) != 0)
            rc = 1;
        profile_destroy(&pr);
    }
    fflush(stdout);
    free(list);
    return pv->cfg->wait_child ? child_exit_status(pv) : rc;
}

int private_no_segment_status(private_t *pv)
{
    return pv->cfg->wait_child ? child_exit_status(pv) : 1;
}

void private_abort_child(const agent_config_t *cfg)
{
    if (!cfg->wait_child || cfg->private_pid <= 0)
        return;
    /* the child may have made its segment while it waited for the go
     * byte (python3 -m ulma does): it ran nothing, so nothing of it stays */
    uint64_t start = ulma_proc_start_time(cfg->private_pid);
    if (kill(cfg->private_pid, SIGKILL) != 0 || waitpid(cfg->private_pid, NULL, 0) < 0)
        return;
    const char *dir = cfg->dir[0] ? cfg->dir : ulma_default_dir();
    char path[AGENT_PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/.ulma-tmp.%d", dir, cfg->private_pid);
    unlink(path);
    int n = ulma_segment_name(path, sizeof(path), dir, (uint32_t)geteuid(), cfg->private_pid,
                              start);
    if (start && n > 0 && (size_t)n < sizeof(path))
        unlink(path);
}
