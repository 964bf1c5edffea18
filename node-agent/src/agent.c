/* agent.c - the reactor: discovery, claiming, draining, harvesting,
 * private-mode reports, and the socket plumbing of the query endpoint. */
#define _GNU_SOURCE
#include "agent_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "pbquery.h"
#include "profile/export.h"
#include "profile/table.h"
#include "snapshot.h"
#include "uplink.h"
#include "ulma/segment.h"

#define LOG(a, ...)                                                                        \
    do {                                                                                   \
        if ((a)->cfg.verbose)                                                              \
            fprintf(stderr, "ulma-agent: " __VA_ARGS__);                                   \
    } while (0)

/* ---- processes ---------------------------------------------------------------- */

static int pid_alive(int32_t pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* Parent pid of `pid` from /proc, or 0. */
static int32_t parent_of(int32_t pid) { return (int32_t)ulma_proc_stat_field(pid, 4); }

static int is_descendant(int32_t pid, int32_t root)
{
    for (int hops = 0; pid > 1 && hops < 64; hops++) {
        if (pid == root)
            return 1;
        pid = parent_of(pid);
    }
    return 0;
}

aproc_t *agent_find_proc(agent_t *a, int32_t pid)
{
    aproc_t *best = NULL;
    for (aproc_t *p = a->procs; p; p = p->next) {
        if (p->info.pid != pid)
            continue;
        /* a reused pid: prefer the live one, then the newest */
        if (!best || (best->finished && !p->finished) ||
            (best->finished == p->finished && p->info.start_time > best->info.start_time))
            best = p;
    }
    return best;
}

static int uid_allowed(const agent_t *a, uint32_t uid)
{
    if (a->cfg.n_allow_uids) {
        for (uint32_t i = 0; i < a->cfg.n_allow_uids; i++)
            if (a->cfg.allow_uids[i] == uid)
                return 1;
        return 0;
    }
    return geteuid() == 0 || uid == geteuid();
}

/* Claim the segment for us through header.reader_pid. Returns 1 if it is
 * ours now, 0 if another live reader has it (or it is not for us). */
static int claim(agent_t *a, int fd, int32_t seg_pid)
{
    void *m = mmap(NULL, ULMA_SEG_HEADER_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return 0;
    ulma_seg_header_t *h = m;
    int ok = 0;
    int32_t cur = atomic_load_explicit(&h->reader_pid, memory_order_acquire);
    if (cur == a->self) {
        ok = 1;
    } else if (a->private_mode) {
        /* a private agent takes only what was reserved for it, or a
         * descendant's unclaimed segment */
        if (cur == 0 && is_descendant(seg_pid, a->cfg.private_pid))
            ok = atomic_compare_exchange_strong(&h->reader_pid, &cur, a->self);
    } else if (cur == 0 || !pid_alive(cur)) {
        ok = atomic_compare_exchange_strong(&h->reader_pid, &cur, a->self);
    }
    munmap(m, ULMA_SEG_HEADER_BYTES);
    return ok;
}

static int known(agent_t *a, const char *path, uint64_t now)
{
    for (aproc_t *p = a->procs; p; p = p->next)
        if (strcmp(p->path, path) == 0)
            return 1;
    for (askip_t *s = a->skips; s; s = s->next)
        if (strcmp(s->path, path) == 0)
            return now < s->until_ns;
    return 0;
}

static void skip(agent_t *a, const char *path, uint64_t now, uint64_t for_ns)
{
    for (askip_t *s = a->skips; s; s = s->next) {
        if (strcmp(s->path, path) == 0) {
            s->until_ns = now + for_ns;
            return;
        }
    }
    askip_t *s = xcalloc(1, sizeof(*s));
    s->path = xstrdup(path);
    s->until_ns = now + for_ns;
    s->next = a->skips;
    a->skips = s;
    a->segments_skipped++;
}

static void unskip(agent_t *a, const char *path)
{
    for (askip_t **sp = &a->skips; *sp; sp = &(*sp)->next) {
        if (strcmp((*sp)->path, path) == 0) {
            askip_t *s = *sp;
            *sp = s->next;
            free(s->path);
            free(s);
            return;
        }
    }
}

/* Consider one directory entry. */
static void consider(agent_t *a, const char *name)
{
    uint32_t uid;
    int32_t pid;
    uint64_t st_time;
    if (ulma_segment_parse_name(name, &uid, &pid, &st_time) != 0)
        return;
    if (a->private_mode && pid != a->cfg.private_pid && !is_descendant(pid, a->cfg.private_pid)) {
        /* not PID or a live descendant; a dead child may still be ours
         * through reader_pid: checked below only for PID's known children */
    }
    char path[AGENT_PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", a->cfg.dir, name) >= (int)sizeof(path))
        return;
    uint64_t now = now_ns();
    if (known(a, path, now))
        return;
    uint64_t retry = (uint64_t)a->cfg.scan_ms * 1000000u;
    if (!uid_allowed(a, uid)) {
        skip(a, path, now, UINT64_MAX / 2);
        return;
    }
    ulma_reader_t *rd = NULL;
    int rc = ulma_reader_open(path, &rd);
    if (rc != 0) {
        /* -ENOENT: gone meanwhile; a bad file: look again later, quietly */
        if (rc != -ENOENT)
            skip(a, path, now, retry * 5);
        return;
    }
    const ulma_seg_info_t *in = ulma_reader_info(rd);
    struct stat sb;
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_uid != in->uid || in->uid != uid ||
        in->pid != pid) {
        /* the name, the header and the owner must agree */
        if (fd >= 0)
            close(fd);
        ulma_reader_destroy(&rd);
        skip(a, path, now, retry * 5);
        return;
    }
    int mine = claim(a, fd, pid);
    close(fd);
    if (!mine) {
        ulma_reader_destroy(&rd);
        skip(a, path, now, retry);
        return;
    }
    unskip(a, path);
    aproc_t *p = xcalloc(1, sizeof(*p));
    p->path = xstrdup(path);
    p->rd = rd;
    p->info = *in;
    p->prof = prof_new(&a->cfg.lim, in->nslots);
    p->prof->hz = ulma_reader_hz(rd);
    p->claimed_ns = now;
    p->next = a->procs;
    a->procs = p;
    a->segments_claimed++;
    if (a->private_mode && pid == a->cfg.private_pid)
        a->root_seen = 1;
    LOG(a, "claimed %s (pid %d, rank %d)\n", path, pid, in->mpi_rank);
}

void agent_scan(agent_t *a)
{
    DIR *d = opendir(a->cfg.dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "ulma.", 5) == 0)
            consider(a, e->d_name);
    closedir(d);
}

static void read_inotify(agent_t *a)
{
    if (a->inotify_fd < 0)
        return;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(a->inotify_fd, buf, sizeof(buf));
        if (n <= 0)
            return;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)(void *)p;
            if (ev->mask & IN_Q_OVERFLOW)
                a->next_scan_ns = 0; /* events lost: scan now */
            else if (ev->len && strncmp(ev->name, "ulma.", 5) == 0)
                consider(a, ev->name);
            p += sizeof(*ev) + ev->len;
        }
    }
}

/* ---- draining --------------------------------------------------------------- */

static int on_batch(void *ctx, unsigned slot, const ulma_rec_t *recs, size_t nunits)
{
    aproc_t *p = ctx;
    prof_thread_t *t = slot < p->prof->nslots ? p->prof->slot_thread[slot] : NULL;
    if (!t || t->ended || !t->tid) {
        const ulma_slot_stats_t *st = ulma_reader_slot_stats(p->rd, slot);
        char name[ULMA_THREAD_NAME_MAX];
        ulma_reader_thread_name(p->rd, slot, name, sizeof(name));
        prof_slot_identity(p->prof, slot, st ? st->tid : 0, name);
    }
    return prof_consume(p->prof, slot, recs, nunits);
}

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

/* Private mode: the files asked for. Returns 0, or -1 if one failed. */
static int write_outputs(agent_t *a, aproc_t *p, int several)
{
    struct {
        const char *tmpl;
        int format;
    } outs[] = {
        {a->cfg.out_pstats, PROFILE_PSTATS},       {a->cfg.out_json, PROFILE_JSON},
        {a->cfg.out_collapsed, PROFILE_COLLAPSED}, {a->cfg.out_speedscope, PROFILE_SPEEDSCOPE},
        {a->cfg.out_pprof, PROFILE_PPROF},         {a->cfg.out_svg, PROFILE_SVG},
    };
    int rc = 0;
    profile_t *pr = snapshot_process(p->prof, p->rd, &p->info, p->finished);
    for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
        if (!outs[i].tmpl[0])
            continue;
        char path[AGENT_PATH_MAX + 32];
        expand_name(path, AGENT_PATH_MAX, outs[i].tmpl, &p->info);
        /* several processes and no {pid} in the name: the others get .<pid> */
        if (several && !strstr(outs[i].tmpl, "{pid}") && p->info.pid != a->cfg.private_pid) {
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
        } else if (a->cfg.verbose) {
            fprintf(stderr, "ulma-agent: wrote %s\n", path);
        }
        sbuf_free(&b);
    }
    profile_destroy(&pr);
    return rc;
}

static void finish_proc(agent_t *a, aproc_t *p, uint64_t now)
{
    p->prof->hz = ulma_reader_hz(p->rd);
    p->prof->writer_dropped = ulma_reader_total_dropped(p->rd);
    prof_finish(p->prof);
    p->finished = 1;
    p->finished_ns = now;
    a->segments_finished++;
    if (!p->faulted)
        ulma_reader_unlink(p->rd);
    LOG(a, "harvested pid %d: %" PRIu64 " records, %" PRIu64 " lost\n", p->info.pid,
        p->prof->events, prof_total_dropped(p->prof));
}

long agent_drain_all(agent_t *a)
{
    long total = 0;
    uint64_t now = 0;
    a->pace_ok = 1;
    for (aproc_t *p = a->procs; p; p = p->next) {
        if (p->finished)
            continue;
        long n = ulma_reader_drain(p->rd, on_batch, p, 0);
        if (n < 0) {
            p->faulted = 1;
            if (!now)
                now = now_ns();
            finish_proc(a, p, now);
            continue;
        }
        total += n;
        /* this pass found the process's rings less than 1/16 full: the
         * next pass can wait a little (see agent_run) */
        if ((uint64_t)n * 16u * ULMA_UNIT >= (uint64_t)ulma_reader_info(p->rd)->ring_bytes)
            a->pace_ok = 0;
        /* the exact loss: every drop is counted in the slot headers, also
         * the ones no DROP record reports (the ring stayed full) */
        p->prof->writer_dropped = ulma_reader_total_dropped(p->rd);
        if (n == 0 && !p->writer_gone && ulma_reader_state(p->rd) == ULMA_SEG_EXITED)
            p->writer_gone = 1;
        if (n == 0 && p->writer_gone) {
            /* one more pass: records published between our drain and the exit */
            if (ulma_reader_drain(p->rd, on_batch, p, 0) == 0) {
                if (!now)
                    now = now_ns();
                finish_proc(a, p, now);
            }
        }
    }
    return total;
}

/* ---- cron ------------------------------------------------------------------ */

static void free_proc(aproc_t *p)
{
    ulma_reader_destroy(&p->rd);
    prof_destroy(&p->prof);
    free(p->path);
    free(p);
}

/*
 * The periodic function. Its duties:
 *   1. scan the directory (backs up inotify; retries segments left alone);
 *   2. notice writers that died without marking their segment (SIGKILL) so
 *      that the next empty drain harvests them;
 *   3. refresh each process's clock calibration;
 *   4. start a new rate interval every --interval-ms;
 *   5. forget ended processes after --keep seconds;
 *   6. answer control requests whose processes applied them or timed out;
 *   7. private mode: give up if PID ended without a segment.
 */
static void agent_cron(agent_t *a, uint64_t now)
{
    if (now >= a->next_scan_ns) {
        agent_scan(a);
        a->next_scan_ns = now + (uint64_t)a->cfg.scan_ms * 1000000u;
    }
    int mark = now >= a->next_mark_ns;
    if (mark) {
        uint64_t events = a->events_gone;
        for (aproc_t *p = a->procs; p; p = p->next)
            events += p->prof->events;
        if (a->mark_ns && now > a->mark_ns && events >= a->mark_events)
            a->events_per_s = (double)(events - a->mark_events) * 1e9 / (double)(now - a->mark_ns);
        a->mark_ns = now;
        a->mark_events = events;
        a->next_mark_ns = now + (uint64_t)a->cfg.interval_ms * 1000000u;
    }
    for (aproc_t **pp = &a->procs; *pp;) {
        aproc_t *p = *pp;
        if (!p->finished) {
            if (!p->writer_gone && !ulma_reader_writer_alive(p->rd))
                p->writer_gone = 1;
            p->prof->hz = ulma_reader_hz(p->rd);
            if (mark)
                prof_mark(p->prof, now);
        } else if (!a->private_mode && now - p->finished_ns > (uint64_t)(a->cfg.keep_s * 1e9)) {
            /* a pending control answer may still point at it */
            if (!control_busy(a, p)) {
                uplink_forget(a->up, p);
                a->events_gone += p->prof->events;
                *pp = p->next;
                free_proc(p);
                continue;
            }
        }
        pp = &p->next;
    }
    control_check(a, 0);
    if (a->up)
        uplink_tick(a->up, now);
    /* (--wait-child learns of it from SIGCHLD: see on_child_end) */
    if (a->private_mode && !a->cfg.wait_child && !a->root_seen &&
        !pid_alive(a->cfg.private_pid)) {
        if (!a->root_gone_ns) {
            a->root_gone_ns = now; /* one more scan: it may have just been renamed in */
            a->next_scan_ns = 0;
        } else if (now - a->root_gone_ns > 200000000u) {
            fprintf(stderr,
                    "ulma-agent: process %d ended without creating a segment in %s: "
                    "nothing to report\n",
                    a->cfg.private_pid, a->cfg.dir);
            a->stop = 2;
        }
    }
}

/* ---- socket plumbing --------------------------------------------------------------- */

void agent_send(agent_t *a, void *const *env, const size_t *env_len, int nenv, const sbuf_t *ans,
                const sbuf_t *data)
{
    for (int i = 0; i < nenv; i++)
        if (zmq_send(a->router, env[i], env_len[i], ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            return; /* peer gone or over its limit: ROUTER drops, never blocks */
    zmq_send(a->router, ans->data ? ans->data : "", ans->len,
             (data && data->len ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
    if (data && data->len)
        zmq_send(a->router, data->data, data->len, ZMQ_DONTWAIT);
}

/* A protobuf Query (query.proto): answered as a Reply, or later (CONTROL). */
static void serve_protobuf(agent_t *a, const void *body, size_t len, void *const *env,
                           const size_t *env_len, int nenv)
{
    wire_refusal_t why;
    Ulma__Wire__Query *q = wire_query(body, len, &why);
    wire_answer_t w;
    wire_answer_init(&w, q ? q->id : 0);
    int deferred = 0;
    if (!q) {
        a->bad_requests++;
        wire_answer_error(&w, "query refused: %s (a JSON request starts with '{'; a protobuf "
                          "Query of version %u otherwise)", wire_refusal_name(why), WIRE_VERSION);
    } else {
        deferred = pbquery_handle(a, q, &w, CTL_ANSWER_REPLY, env, env_len, nenv);
    }
    if (!deferred) {
        sbuf_t ans = {0};
        wire_answer_pack(&w, &ans);
        agent_send(a, env, env_len, nenv, &ans, NULL);
        sbuf_free(&ans);
    }
    wire_answer_free(&w);
    if (q)
        protobuf_c_message_free_unpacked(&q->base, NULL);
}

static void serve(agent_t *a)
{
    for (int budget = 0; budget < 64; budget++) {
        zmq_msg_t parts[CTL_MAX_FRAMES + 1];
        int n = 0, more = 1, overflow = 0;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, a->router, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                if (n == 0)
                    return;
                break;
            }
            more = zmq_msg_more(&m);
            if (n < CTL_MAX_FRAMES + 1)
                parts[n++] = m;
            else {
                overflow = 1;
                zmq_msg_close(&m);
            }
        }
        sbuf_t ans = {0}, data = {0};
        void *env[CTL_MAX_FRAMES];
        size_t env_len[CTL_MAX_FRAMES];
        int nenv = n - 1;
        for (int i = 0; i < nenv && i < CTL_MAX_FRAMES; i++) {
            env[i] = zmq_msg_data(&parts[i]);
            env_len[i] = zmq_msg_size(&parts[i]);
        }
        a->requests++;
        if (n < 2 || overflow || nenv > CTL_MAX_FRAMES) {
            /* no identity + body, or too many frames: answer if we can */
            a->bad_requests++;
            if (n >= 2 && nenv <= CTL_MAX_FRAMES) {
                jw_t w;
                jw_init(&w, &ans);
                jw_obj(&w);
                jw_kbool(&w, "ok", 0);
                jw_kstrz(&w, "error", "too many frames");
                jw_obj_end(&w);
                agent_send(a, env, env_len, nenv, &ans, NULL);
            }
        } else if (zmq_msg_size(&parts[n - 1]) && *(char *)zmq_msg_data(&parts[n - 1]) == '{') {
            /* JSON: one flat object (node-agent/README.md) */
            if (query_handle(a, zmq_msg_data(&parts[n - 1]), zmq_msg_size(&parts[n - 1]), env,
                             env_len, nenv, &ans, &data) == 0)
                agent_send(a, env, env_len, nenv, &ans, &data);
        } else {
            serve_protobuf(a, zmq_msg_data(&parts[n - 1]), zmq_msg_size(&parts[n - 1]), env,
                           env_len, nenv);
        }
        sbuf_free(&ans);
        sbuf_free(&data);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&parts[i]);
    }
}

/* ---- life cycle ----------------------------------------------------------------- */

/* --wait-child: the signals the agent takes through its signalfd: the
 * child's end, and those it passes on to the child. */
static const int child_signals[] = {SIGCHLD, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGINT};
#define NCHILD_SIGNALS (sizeof(child_signals) / sizeof(child_signals[0]))

static int watch_child(agent_t *a, char *err, size_t errlen)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < NCHILD_SIGNALS; i++) {
        sigaddset(&set, child_signals[i]);
        signal(child_signals[i], SIG_DFL); /* an ignored signal is lost even when blocked */
    }
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
        (a->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        snprintf(err, errlen, "signalfd: %s", strerror(errno));
        return -1;
    }
    /* blocked before this check: an end between the two is in the signalfd */
    int st;
    pid_t r = waitpid(a->cfg.private_pid, &st, WNOHANG);
    if (r < 0) {
        snprintf(err, errlen, "--wait-child: process %d is not a child of this agent",
                 a->cfg.private_pid);
        return -1;
    }
    if (r == a->cfg.private_pid) {
        a->child_done = 1;
        a->child_status = st;
    }
    return 0;
}

void agent_abort_child(const agent_config_t *cfg)
{
    if (!cfg->wait_child || cfg->private_pid <= 0)
        return;
    if (kill(cfg->private_pid, SIGKILL) == 0)
        waitpid(cfg->private_pid, NULL, 0);
}

int agent_exit_signal(const agent_t *a) { return a->exit_signal; }

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
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)a->self);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    a->lock_fd = fd;
    return 0;
}

static int open_endpoint(agent_t *a, char *err, size_t errlen)
{
    const char *ep = a->cfg.endpoint;
    char def[AGENT_PATH_MAX + 32];
    if (strcmp(ep, "none") == 0)
        ep = "";
    else if (!ep[0] && !a->private_mode) {
        snprintf(def, sizeof(def), "ipc://%s/ulma-agent.ipc", a->cfg.dir);
        ep = def;
    }
    if (!ep[0] && !a->cfg.listen[0])
        return 0;
    a->zctx = zmq_ctx_new();
    a->router = zmq_socket(a->zctx, ZMQ_ROUTER);
    int zero = 0, hwm = 1000;
    zmq_setsockopt(a->router, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(a->router, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(a->router, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    int64_t maxmsg = 1 << 20; /* requests are small: a larger message drops the peer */
    zmq_setsockopt(a->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    const char *eps[2] = {ep, a->cfg.listen};
    for (int i = 0; i < 2; i++) {
        if (!eps[i][0])
            continue;
        if (strncmp(eps[i], "ipc://", 6) == 0) {
            /* a stale socket file of a dead agent: we hold the lock, remove it */
            unlink(eps[i] + 6);
            snprintf(a->ipc_path, sizeof(a->ipc_path), "%s", eps[i] + 6);
        }
        if (zmq_bind(a->router, eps[i]) != 0) {
            snprintf(err, errlen, "cannot bind %s: %s", eps[i], zmq_strerror(zmq_errno()));
            return -1;
        }
    }
    return 0;
}

agent_t *agent_new(const agent_config_t *cfg, char *err, size_t errlen)
{
    agent_t *a = xcalloc(1, sizeof(*a));
    a->cfg = *cfg;
    a->lock_fd = -1;
    a->inotify_fd = -1;
    a->sig_fd = -1;
    a->self = getpid();
    a->private_mode = cfg->private_pid != 0;
    a->start_ns = now_ns();
    struct stat sb;
    if (stat(cfg->dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", cfg->dir);
        goto fail;
    }
    if (!a->private_mode && take_lock(a, err, errlen) != 0)
        goto fail;
    a->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (a->inotify_fd >= 0 &&
        inotify_add_watch(a->inotify_fd, cfg->dir, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
        close(a->inotify_fd);
        a->inotify_fd = -1; /* the periodic scan still finds everything */
    }
    if (open_endpoint(a, err, errlen) != 0)
        goto fail;
    if (cfg->wait_child && watch_child(a, err, errlen) != 0)
        goto fail;
    if (cfg->node[0]) {
        snprintf(a->node_name, sizeof(a->node_name), "%s", cfg->node);
    } else if (gethostname(a->node_name, sizeof(a->node_name) - 1) != 0) {
        snprintf(a->node_name, sizeof(a->node_name), "localhost");
    }
    if (cfg->collector[0]) {
        if (!a->zctx)
            a->zctx = zmq_ctx_new();
        a->up = uplink_new(a, a->zctx, cfg->collector, err, errlen);
        if (!a->up)
            goto fail;
    }
    return a;
fail:
    agent_destroy(&a);
    return NULL;
}

void agent_destroy(agent_t **a_p)
{
    if (!a_p || !*a_p)
        return;
    agent_t *a = *a_p;
    control_check(a, 1);
    while (a->procs) {
        aproc_t *p = a->procs;
        a->procs = p->next;
        free_proc(p);
    }
    while (a->skips) {
        askip_t *s = a->skips;
        a->skips = s->next;
        free(s->path);
        free(s);
    }
    uplink_destroy(&a->up);
    if (a->router)
        zmq_close(a->router);
    if (a->zctx)
        zmq_ctx_term(a->zctx);
    if (a->ipc_path[0])
        unlink(a->ipc_path);
    if (a->inotify_fd >= 0)
        close(a->inotify_fd);
    if (a->sig_fd >= 0)
        close(a->sig_fd);
    if (a->lock_fd >= 0)
        close(a->lock_fd);
    free(a);
    *a_p = NULL;
}

void agent_stop(agent_t *a) { a->stop = 1; }

const char *agent_node_name(const agent_t *a) { return a->node_name; }

/* Private mode is done once PID was seen, and every process we hold is
 * finished; with --wait-child, once the child was reaped too (its
 * segment says exited before the interpreter's last steps, which can
 * matter: mpi4py finalizes MPI after that, and the MPI launcher watches
 * our pid). */
static int private_done(agent_t *a)
{
    if (!a->root_seen || (a->cfg.wait_child && !a->child_done))
        return 0;
    for (aproc_t *p = a->procs; p; p = p->next)
        if (!p->finished)
            return 0;
    return 1;
}

static int compare_procs(const void *x, const void *y)
{
    const aproc_t *a = *(aproc_t *const *)x, *b = *(aproc_t *const *)y;
    if (a->info.mpi_rank != b->info.mpi_rank)
        return a->info.mpi_rank < b->info.mpi_rank ? -1 : 1;
    return a->claimed_ns < b->claimed_ns ? -1 : a->claimed_ns > b->claimed_ns;
}

static int private_report(agent_t *a)
{
    int rc = 0, n = 0;
    for (aproc_t *p = a->procs; p; p = p->next)
        n++;
    aproc_t **list = xmalloc(sizeof(*list) * (size_t)(n ? n : 1));
    int i = 0;
    for (aproc_t *p = a->procs; p; p = p->next)
        list[i++] = p;
    qsort(list, (size_t)n, sizeof(*list), compare_procs);
    for (i = 0; i < n; i++) {
        aproc_t *p = list[i];
        if (!p->finished)
            finish_proc(a, p, now_ns());
        if (!a->cfg.no_table) {
            profile_t *pr = snapshot_process(p->prof, p->rd, &p->info, p->finished);
            sbuf_t b = {0};
            if (n > 1 || p->info.mpi_rank >= 0) {
                sbuf_printf(&b, "ulma: pid %d", p->info.pid);
                if (p->info.mpi_rank >= 0)
                    sbuf_printf(&b, ", rank %d of %d", p->info.mpi_rank, p->info.mpi_size);
                sbuf_printf(&b, " (%s)\n", p->info.exe);
            }
            pf_table_opts_t o = {a->cfg.sort, a->cfg.rows, 0};
            profile_table(pr, &o, &b);
            fwrite(b.data, 1, b.len, stdout);
            sbuf_free(&b);
            profile_destroy(&pr);
        }
        if (write_outputs(a, p, n > 1) != 0)
            rc = 1;
    }
    fflush(stdout);
    free(list);
    return rc;
}

/* Private mode, until PID's segment is claimed: look for it on every loop
 * (a program writes a full ring in milliseconds; waiting for the next
 * cron or scan loses records). inotify first, then the expected name. */
static void private_probe(agent_t *a)
{
    read_inotify(a);
    if (a->root_seen)
        return;
    if (!a->root_start_time)
        a->root_start_time = ulma_proc_start_time(a->cfg.private_pid);
    if (!a->root_start_time)
        return;
    char path[AGENT_PATH_MAX];
    int n = ulma_segment_name(path, sizeof(path), a->cfg.dir, (uint32_t)geteuid(),
                              a->cfg.private_pid, a->root_start_time);
    struct stat sb;
    if (n > 0 && (size_t)n < sizeof(path) && stat(path, &sb) == 0) {
        const char *base = strrchr(path, '/');
        consider(a, base ? base + 1 : path);
    }
}

/* --wait-child: the child was reaped. Its segment's writer is gone (an
 * os._exit or a kill leaves it LIVE): the next empty drain finishes it.
 * No segment at all after a last look: nothing to report. */
static void on_child_end(agent_t *a)
{
    if (!a->root_seen)
        agent_scan(a);
    for (aproc_t *p = a->procs; p; p = p->next)
        if (p->info.pid == a->cfg.private_pid && !p->finished)
            p->writer_gone = 1;
    if (!a->root_seen) {
        fprintf(stderr,
                "ulma-agent: process %d ended without creating a segment in %s: "
                "nothing to report\n",
                a->cfg.private_pid, a->cfg.dir);
        a->stop = 3;
    }
}

/* --wait-child: read the signalfd. SIGCHLD reaps; the others go on to the
 * child, except a SIGINT, SIGQUIT or SIGHUP the terminal sent (si_code not
 * SI_USER/SI_QUEUE): it went to the whole foreground process group, and
 * the child has its own. */
static void take_signals(agent_t *a)
{
    struct signalfd_siginfo si;
    while (read(a->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGCHLD) {
            int st;
            pid_t r;
            while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
                if (r == a->cfg.private_pid && !a->child_done) {
                    a->child_done = 1;
                    a->child_status = st;
                    on_child_end(a);
                }
            }
            continue;
        }
        int from_process = si.ssi_code == SI_USER || si.ssi_code == SI_QUEUE;
        if ((sig == SIGINT || sig == SIGQUIT || sig == SIGHUP) && !from_process)
            continue;
        if (!a->child_done)
            kill(a->cfg.private_pid, sig);
        else if (sig != SIGUSR1 && sig != SIGUSR2)
            a->stop = 1; /* only descendants left: report what we have */
    }
}

/* --wait-child: the exit status, as the child's own; sets exit_signal for
 * a child killed by a signal. `report_rc` is private_report's. */
static int child_exit_status(agent_t *a, int report_rc)
{
    int st = a->child_status;
    if (WIFSIGNALED(st)) {
        a->exit_signal = WTERMSIG(st);
        return 128 + WTERMSIG(st);
    }
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    return code == 0 && report_rc != 0 ? 1 : code;
}

/* Sleep at most `us` microseconds, waking for inotify or a signal. */
static void idle_wait(agent_t *a, long us)
{
    struct pollfd pfd[2];
    nfds_t n = 0;
    if (a->inotify_fd >= 0)
        pfd[n++] = (struct pollfd){a->inotify_fd, POLLIN, 0};
    if (a->sig_fd >= 0)
        pfd[n++] = (struct pollfd){a->sig_fd, POLLIN, 0};
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    if (ppoll(pfd, n, &ts, NULL) > 0 && a->inotify_fd >= 0 && (pfd[0].revents & POLLIN))
        read_inotify(a);
}

int agent_run(agent_t *a)
{
    if (a->cfg.go_fd >= 0) {
        /* every option was checked, the segment directory is watched: let
         * the program start (EPIPE: it is gone already; SIGCHLD tells) */
        ssize_t w = write(a->cfg.go_fd, "g", 1);
        (void)w;
        close(a->cfg.go_fd);
        a->cfg.go_fd = -1;
    }
    if (a->child_done)
        on_child_end(a);
    a->next_scan_ns = 0;
    agent_scan(a);
    uint64_t end_ns = a->cfg.run_for_s > 0 ? a->start_ns + (uint64_t)(a->cfg.run_for_s * 1e9) : 0;
    int idle_streak = 0;
    while (!a->stop) {
        if (a->sig_fd >= 0)
            take_signals(a);
        if (a->stop)
            break;
        if (a->private_mode && !a->root_seen)
            private_probe(a);
        long n = agent_drain_all(a);
        a->loops++;
        /* the child is gone: done as soon as the last records are in (a
         * final look at the directory for a descendant's late segment) */
        if (a->child_done && private_done(a)) {
            agent_scan(a);
            if (private_done(a))
                break;
        }
        uint64_t now = now_ns();
        if (now >= a->next_cron_ns) {
            read_inotify(a);
            agent_cron(a, now);
            a->next_cron_ns = now + (uint64_t)a->cfg.cron_ms * 1000000u;
            if (a->private_mode && private_done(a))
                break;
            if (end_ns && now >= end_ns)
                break;
        }
        if (a->router)
            serve(a);
        if (a->up)
            uplink_serve(a->up);
        if (n > 0) {
            idle_streak = 0;
            /* Records came, but few: wait a little before the next pass
             * instead of spinning. A reader polling a ring's head moves
             * that cache line away from the writer on every poll, which
             * the profiled program pays for; a pause of idle_us lets a
             * saturated writer fill well under a sixteenth of its ring. */
            if (a->pace_ok)
                usleep(a->cfg.idle_us);
            continue;
        }
        a->idle_loops++;
        /* idle: new files first (non-blocking), then sleep a little, but
         * wake at once for a request or a new file */
        read_inotify(a);
        idle_streak++;
        int timeout_ms = idle_streak > 100 ? 1 : 0;
        if (a->router || a->up) {
            zmq_pollitem_t items[4];
            int ni = 0, ino = -1;
            if (a->router)
                items[ni++] = (zmq_pollitem_t){a->router, 0, ZMQ_POLLIN, 0};
            if (a->up)
                items[ni++] = (zmq_pollitem_t){uplink_socket(a->up), 0, ZMQ_POLLIN, 0};
            if (a->inotify_fd >= 0) {
                ino = ni;
                items[ni++] = (zmq_pollitem_t){NULL, a->inotify_fd, ZMQ_POLLIN, 0};
            }
            if (a->sig_fd >= 0)
                items[ni++] = (zmq_pollitem_t){NULL, a->sig_fd, ZMQ_POLLIN, 0};
            if (timeout_ms)
                zmq_poll(items, ni, timeout_ms);
            else if (a->sig_fd >= 0)
                idle_wait(a, a->cfg.idle_us);
            else
                usleep(a->cfg.idle_us);
            if (ino >= 0 && (items[ino].revents & ZMQ_POLLIN))
                read_inotify(a);
        } else if (a->sig_fd >= 0 || (a->inotify_fd >= 0 && timeout_ms)) {
            idle_wait(a, timeout_ms ? timeout_ms * 1000L : (long)a->cfg.idle_us);
        } else {
            usleep(a->cfg.idle_us);
        }
    }
    if (a->stop == 2)
        return 1;
    if (a->stop == 3) /* --wait-child, no segment: the child's status all the same */
        return child_exit_status(a, 0);
    /* stopped or done: a last drain of what was published, a last report */
    agent_drain_all(a);
    if (a->up)
        uplink_tick(a->up, UINT64_MAX / 2);
    if (!a->private_mode)
        return 0;
    int rc = private_report(a);
    return a->cfg.wait_child ? child_exit_status(a, rc) : rc;
}
