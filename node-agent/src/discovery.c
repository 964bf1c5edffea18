/* discovery.c - scan, inotify, the claim, the paths left alone. */
#define _GNU_SOURCE
#include "discovery.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ulma/segment.h"

/* A path we saw and left alone (another live reader, not ours, bad file). */
typedef struct askip {
    char *path;
    uint64_t until_ns;       /* look again after this */
    struct askip *next;
} askip_t;

struct discovery {
    const agent_config_t *cfg;
    pid_t self;
    proctab_t *procs;
    int inotify_fd;
    askip_t *skips;
    uint64_t skipped;
    uint64_t next_scan_ns;
};

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

discovery_t *discovery_new(const agent_config_t *cfg, pid_t self, proctab_t *procs)
{
    discovery_t *d = xcalloc(1, sizeof(*d));
    d->cfg = cfg;
    d->self = self;
    d->procs = procs;
    d->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (d->inotify_fd >= 0 &&
        inotify_add_watch(d->inotify_fd, d->cfg->dir, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
        close(d->inotify_fd);
        d->inotify_fd = -1; /* the periodic scan still finds everything */
    }
    return d;
}

void discovery_destroy(discovery_t **d_p)
{
    if (!d_p || !*d_p)
        return;
    discovery_t *d = *d_p;
    while (d->skips) {
        askip_t *s = d->skips;
        d->skips = s->next;
        free(s->path);
        free(s);
    }
    if (d->inotify_fd >= 0)
        close(d->inotify_fd);
    free(d);
    *d_p = NULL;
}

int discovery_fd(const discovery_t *d) { return d->inotify_fd; }

uint64_t discovery_skipped(const discovery_t *d) { return d->skipped; }

static int uid_allowed(const discovery_t *d, uint32_t uid)
{
    if (d->cfg->n_allow_uids) {
        for (uint32_t i = 0; i < d->cfg->n_allow_uids; i++)
            if (d->cfg->allow_uids[i] == uid)
                return 1;
        return 0;
    }
    return geteuid() == 0 || uid == geteuid();
}

/* Claim the segment for us through header.reader_pid. Returns 1 if it is
 * ours now, 0 if another live reader has it (or it is not for us). */
static int claim(const discovery_t *d, int fd, int32_t seg_pid)
{
    void *m = mmap(NULL, ULMA_SEG_HEADER_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return 0;
    ulma_seg_header_t *h = m;
    int ok = 0;
    int32_t cur = atomic_load_explicit(&h->reader_pid, memory_order_acquire);
    if (cur == d->self) {
        ok = 1;
    } else if (d->cfg->private_pid) {
        /* a private agent takes only what was reserved for it, or a
         * descendant's unclaimed segment */
        if (cur == 0 && is_descendant(seg_pid, d->cfg->private_pid))
            ok = atomic_compare_exchange_strong(&h->reader_pid, &cur, d->self);
    } else if (cur == 0 || !pid_alive(cur)) {
        ok = atomic_compare_exchange_strong(&h->reader_pid, &cur, d->self);
    }
    munmap(m, ULMA_SEG_HEADER_BYTES);
    return ok;
}

static int known(const discovery_t *d, const char *path, uint64_t now)
{
    if (proctab_find_path(d->procs, path))
        return 1;
    for (askip_t *s = d->skips; s; s = s->next)
        if (strcmp(s->path, path) == 0)
            return now < s->until_ns;
    return 0;
}

static void skip(discovery_t *d, const char *path, uint64_t now, uint64_t for_ns)
{
    for (askip_t *s = d->skips; s; s = s->next) {
        if (strcmp(s->path, path) == 0) {
            s->until_ns = now + for_ns;
            return;
        }
    }
    askip_t *s = xcalloc(1, sizeof(*s));
    s->path = xstrdup(path);
    s->until_ns = now + for_ns;
    s->next = d->skips;
    d->skips = s;
    d->skipped++;
}

static void unskip(discovery_t *d, const char *path)
{
    for (askip_t **sp = &d->skips; *sp; sp = &(*sp)->next) {
        if (strcmp((*sp)->path, path) == 0) {
            askip_t *s = *sp;
            *sp = s->next;
            free(s->path);
            free(s);
            return;
        }
    }
}

/* A private agent considers every name too: a segment that is not PID's
 * or a live descendant's may still have been reserved for it (reader_pid)
 * by a child that is already gone; claim() decides. */
void discovery_consider(discovery_t *d, const char *name)
{
    uint32_t uid;
    int32_t pid;
    uint64_t st_time;
    if (ulma_segment_parse_name(name, &uid, &pid, &st_time) != 0)
        return;
    char path[AGENT_PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", d->cfg->dir, name) >= (int)sizeof(path))
        return;
    uint64_t now = now_ns();
    if (known(d, path, now))
        return;
    uint64_t retry = (uint64_t)d->cfg->scan_ms * 1000000u;
    if (!uid_allowed(d, uid)) {
        skip(d, path, now, UINT64_MAX / 2);
        return;
    }
    ulma_reader_t *rd = NULL;
    int rc = ulma_reader_open(path, &rd);
    if (rc != 0) {
        /* -ENOENT: gone meanwhile; a bad file: look again later, quietly */
        if (rc != -ENOENT)
            skip(d, path, now, retry * 5);
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
        skip(d, path, now, retry * 5);
        return;
    }
    int mine = claim(d, fd, pid);
    close(fd);
    if (!mine) {
        ulma_reader_destroy(&rd);
        skip(d, path, now, retry);
        return;
    }
    unskip(d, path);
    int rank = in->mpi_rank;
    proctab_add(d->procs, path, rd, now);
    if (d->cfg->verbose)
        fprintf(stderr, "ulma-agent: claimed %s (pid %d, rank %d)\n", path, pid, rank);
}

void discovery_scan(discovery_t *d)
{
    DIR *dir = opendir(d->cfg->dir);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
        if (strncmp(e->d_name, "ulma.", 5) == 0)
            discovery_consider(d, e->d_name);
    closedir(dir);
}

void discovery_tick(discovery_t *d, uint64_t now)
{
    if (now < d->next_scan_ns)
        return;
    discovery_scan(d);
    d->next_scan_ns = now + (uint64_t)d->cfg->scan_ms * 1000000u;
}

void discovery_scan_soon(discovery_t *d) { d->next_scan_ns = 0; }

void discovery_read_events(discovery_t *d)
{
    if (d->inotify_fd < 0)
        return;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(d->inotify_fd, buf, sizeof(buf));
        if (n <= 0)
            return;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)(void *)p;
            if (ev->mask & IN_Q_OVERFLOW)
                d->next_scan_ns = 0; /* events lost: scan now */
            else if (ev->len && strncmp(ev->name, "ulma.", 5) == 0)
                discovery_consider(d, ev->name);
            p += sizeof(*ev) + ev->len;
        }
    }
}
