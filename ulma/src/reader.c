/* reader.c - draining a segment written by another, untrusted, process.
 * The pairing of producer and consumer is drawn once, in ring.h. */
#define _GNU_SOURCE
#include "ulma/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ulma/barrier.h"
#include "ulma/clock.h"

struct ulma_reader {
    char *path;
    int fd;
    uint8_t *base;
    size_t map_len;
    ulma_seg_header_t *hdr; /* live, untrusted: read single words only */
    ulma_seg_info_t info;
    /* geometry validated at open; never re-read from the header */
    uint64_t slot_offset;
    uint32_t slot_size, ring_bytes, nslots;
    uint64_t *tail; /* our position per slot */
    uint32_t seen;  /* slots [0, seen) known to us (below the writer's mark) */
    ulma_slot_stats_t *stats;
    int broken;     /* faulted once: never touch the mapping again */
    uint64_t to_store; /* the value a guarded header store writes */
};

/* ---- SIGBUS guard: a segment truncated under our mapping ---------------- */

static __thread sigjmp_buf *bus_guard;
static struct sigaction old_bus;
static pthread_once_t bus_once = PTHREAD_ONCE_INIT;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    if (bus_guard)
        siglongjmp(*bus_guard, 1);
    /* not ours: behave as before we were installed */
    if (old_bus.sa_flags & SA_SIGINFO) {
        if (old_bus.sa_sigaction) {
            old_bus.sa_sigaction(sig, si, uc);
            return;
        }
    } else if (old_bus.sa_handler != SIG_DFL && old_bus.sa_handler != SIG_IGN) {
        old_bus.sa_handler(sig);
        return;
    }
    signal(SIGBUS, SIG_DFL);
    raise(SIGBUS);
}

static void install_bus_guard(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old_bus);
}

/* ---- open / validate ------------------------------------------------------ */

static void copy_field(char *dst, const char *src, size_t len)
{
    memcpy(dst, src, len);
    dst[len - 1] = '\0';
}

static int validate(const ulma_seg_header_t *h, uint64_t file_size)
{
    if (h->magic != ULMA_SEG_MAGIC)
        return -EINVAL;
    if (h->version != ULMA_SEG_VERSION)
        return -EPROTONOSUPPORT;
    if (h->header_size < sizeof(ulma_seg_header_t) || h->header_size > ULMA_SEG_HEADER_BYTES)
        return -EINVAL;
    if (h->ring_bytes < ULMA_MIN_RING_BYTES || h->ring_bytes > ULMA_MAX_RING_BYTES ||
        (h->ring_bytes & (h->ring_bytes - 1u)) != 0)
        return -EINVAL;
    if (h->slot_header_size != ULMA_SLOT_HEADER_BYTES ||
        (uint64_t)h->slot_size != (uint64_t)ULMA_SLOT_HEADER_BYTES + h->ring_bytes)
        return -EINVAL;
    if (h->nslots == 0 || h->nslots > ULMA_MAX_SLOTS)
        return -EINVAL;
    if (h->slot_offset < ULMA_SEG_HEADER_BYTES || h->slot_offset % 64 != 0 ||
        h->slot_offset > file_size)
        return -EINVAL;
    /* nslots <= 4096 and slot_size <= 2^30 + 256: no overflow in 64 bits */
    uint64_t end = h->slot_offset + (uint64_t)h->nslots * h->slot_size;
    if (end > h->segment_size || h->segment_size > file_size)
        return -ENODATA;
    return 0;
}

int ulma_reader_open(const char *path, ulma_reader_t **out)
{
    pthread_once(&bus_once, install_bus_guard);
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    int err;
    struct stat st;
    ulma_seg_header_t h;
    if (fstat(fd, &st) != 0) {
        err = -errno;
        goto fail_fd;
    }
    if (!S_ISREG(st.st_mode)) {
        err = -EINVAL;
        goto fail_fd;
    }
    if ((uint64_t)st.st_size < ULMA_SEG_HEADER_BYTES) {
        err = -ENODATA;
        goto fail_fd;
    }
    /* validate a private copy before mapping anything */
    if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
        err = -ENODATA;
        goto fail_fd;
    }
    err = validate(&h, (uint64_t)st.st_size);
    if (err)
        goto fail_fd;

    ulma_reader_t *r = calloc(1, sizeof(*r));
    if (!r) {
        err = -ENOMEM;
        goto fail_fd;
    }
    r->fd = fd;
    r->path = strdup(path);
    r->tail = calloc(h.nslots, sizeof(*r->tail));
    r->stats = calloc(h.nslots, sizeof(*r->stats));
    if (!r->path || !r->tail || !r->stats) {
        err = -ENOMEM;
        goto fail_r;
    }
    r->map_len = (size_t)h.segment_size;
    void *base = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        err = -errno;
        goto fail_r;
    }
    r->base = base;
    r->hdr = base;
    r->slot_offset = h.slot_offset;
    r->slot_size = h.slot_size;
    r->ring_bytes = h.ring_bytes;
    r->nslots = h.nslots;

    ulma_seg_info_t *in = &r->info;
    in->pid = h.pid;
    in->uid = h.uid;
    in->start_time = h.start_time;
    in->created_ns = h.created_ns;
    copy_field(in->host, h.host, sizeof(in->host));
    copy_field(in->exe, h.exe, sizeof(in->exe));
    copy_field(in->job, h.job, sizeof(in->job));
    in->mpi_rank = h.mpi_rank;
    in->mpi_size = h.mpi_size;
    in->nslots = h.nslots;
    in->ring_bytes = h.ring_bytes;

    /* slots are looked at lazily, up to the writer's high-water mark: a
     * sparse segment on a disk-backed file system costs a page fault per
     * slot header touched */
    *out = r;
    return 0;
fail_r:
    free(r->path);
    free(r->tail);
    free(r->stats);
    free(r);
fail_fd:
    close(fd);
    return err;
}

void ulma_reader_destroy(ulma_reader_t **r_p)
{
    if (!r_p || !*r_p)
        return;
    ulma_reader_t *r = *r_p;
    if (r->base)
        munmap(r->base, r->map_len);
    if (r->fd >= 0)
        close(r->fd);
    free(r->path);
    free(r->tail);
    free(r->stats);
    free(r);
    *r_p = NULL;
}

const ulma_seg_info_t *ulma_reader_info(const ulma_reader_t *r) { return &r->info; }
const char *ulma_reader_path(const ulma_reader_t *r) { return r->path; }

const ulma_slot_stats_t *ulma_reader_slot_stats(const ulma_reader_t *r, unsigned i)
{
    return i < r->nslots ? &r->stats[i] : NULL;
}

/* ---- draining ----------------------------------------------------------- */

static ulma_slot_header_t *slot_hdr(const ulma_reader_t *r, uint32_t i)
{
    return (ulma_slot_header_t *)(void *)(r->base + r->slot_offset + (uint64_t)i * r->slot_size);
}

static long drain_slot(ulma_reader_t *r, uint32_t i, ulma_batch_fn fn, void *ctx, size_t max_units)
{
    ulma_slot_header_t *sh = slot_hdr(r, i);
    ulma_slot_stats_t *st = &r->stats[i];
    const uint64_t cap = r->ring_bytes;
    const uint8_t *data = (const uint8_t *)sh + ULMA_SLOT_HEADER_BYTES;

    uint32_t state = ulma_load_relaxed(&sh->state);
    st->state = state;
    st->dropped = ulma_load_relaxed(&sh->dropped);
    /* pairs with the producer's release store: records below h are whole */
    uint64_t h = ulma_load_acquire(&sh->head);
    /* read after head: a claim bumps the generation before its first
     * record, and cannot happen before this pass stores its tail, so the
     * records below h are all of the claim read here */
    uint32_t gen = ulma_load_relaxed(&sh->generation);
    if (gen != st->generation) {
        st->generation = gen;
        st->tid = sh->tid;
    }
    uint64_t t = r->tail[i];
    if (h == t) {
        if (state == ULMA_SLOT_RETIRED) {
            uint32_t expect = ULMA_SLOT_RETIRED;
            atomic_compare_exchange_strong_explicit(&sh->state, &expect, (uint32_t)ULMA_SLOT_FREE,
                                                    memory_order_acq_rel, memory_order_relaxed);
        }
        return 0;
    }
    if (h < t || h - t > cap || (h - t) % ULMA_UNIT != 0 || t % ULMA_UNIT != 0) {
        /* the producer broke the rules: skip to what it claims, if that is
         * a position at all, and count it */
        st->corrupt++;
        r->tail[i] = (h % ULMA_UNIT == 0) ? h : t;
        ulma_store_release(&sh->tail, r->tail[i]);
        return 0;
    }
    uint64_t end = h;
    if (max_units && (end - t) / ULMA_UNIT > max_units)
        end = t + (uint64_t)max_units * ULMA_UNIT;
    long units = 0;
    while (t < end) {
        uint64_t off = t & (cap - 1u);
        uint64_t n = end - t;
        if (n > cap - off)
            n = cap - off; /* records never wrap: the batch ends at the ring's end */
        if (fn(ctx, i, (const ulma_rec_t *)(const void *)(data + off), (size_t)(n / ULMA_UNIT)) != 0) {
            st->corrupt++;
            t = h; /* we cannot find record boundaries in what is left */
            break;
        }
        t += n;
        units += (long)(n / ULMA_UNIT);
    }
    st->units += (uint64_t)units;
    st->bytes += (uint64_t)units * ULMA_UNIT;
    r->tail[i] = t;
    /* hand the space back: pairs with the producer's acquire load of tail */
    ulma_store_release(&sh->tail, t);
    return units;
}

/* Take in slots the writer started using since the last drain: resume
 * where an earlier reader stopped (a nonsense tail is fixed at the first
 * drain). Called under the SIGBUS guard. */
static void admit_slots(ulma_reader_t *r)
{
    /* pairs with the writer's release when it raised the mark */
    uint32_t used = ulma_load_acquire(&r->hdr->slots_used);
    if (used > r->nslots)
        used = r->nslots; /* a hostile mark only makes us scan everything */
    for (; r->seen < used; r->seen++)
        r->tail[r->seen] = ulma_load_acquire(&slot_hdr(r, r->seen)->tail);
}

long ulma_reader_drain(ulma_reader_t *r, ulma_batch_fn fn, void *ctx, size_t max_units_per_slot)
{
    if (r->broken || !r->base)
        return -EFAULT;
    sigjmp_buf jb;
    volatile long total = 0;
    if (sigsetjmp(jb, 1) != 0) {
        bus_guard = NULL;
        r->broken = 1;
        return -EFAULT;
    }
    bus_guard = &jb;
    admit_slots(r);
    for (uint32_t i = 0; i < r->seen; i++)
        total += drain_slot(r, i, fn, ctx, max_units_per_slot);
    bus_guard = NULL;
    return total;
}

uint64_t ulma_reader_total_dropped(const ulma_reader_t *r)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < r->nslots; i++)
        s += r->stats[i].dropped;
    return s;
}

uint64_t ulma_reader_total_corrupt(const ulma_reader_t *r)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < r->nslots; i++)
        s += r->stats[i].corrupt;
    return s;
}

uint64_t ulma_reader_total_units(const ulma_reader_t *r)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < r->nslots; i++)
        s += r->stats[i].units;
    return s;
}

/* ---- header words --------------------------------------------------------- */

/* A read of the live header, run under the SIGBUS guard. */
typedef uint64_t (*header_read_fn)(ulma_reader_t *r, uint32_t arg);

/* Run `fn` under the SIGBUS guard. `dflt` if the mapping faults, now or
 * before: a fault marks the reader broken, as a faulted drain does, so
 * that nothing touches the mapping again. `broken` is a fact about the
 * file, not about the reader the caller holds, hence the cast. */
static uint64_t guarded_read(const ulma_reader_t *cr, header_read_fn fn, uint32_t arg,
                             uint64_t dflt)
{
    ulma_reader_t *r = (ulma_reader_t *)cr;
    if (r->broken || !r->base)
        return dflt;
    sigjmp_buf jb;
    if (sigsetjmp(jb, 1) != 0) {
        bus_guard = NULL;
        r->broken = 1;
        return dflt;
    }
    bus_guard = &jb;
    uint64_t v = fn(r, arg);
    bus_guard = NULL;
    return v;
}

static uint64_t read_hz(ulma_reader_t *r, uint32_t unused)
{
    (void)unused;
    ulma_seg_header_t *h = r->hdr;
    uint64_t t1 = ulma_load_relaxed(&h->calib_tsc1), n1 = ulma_load_relaxed(&h->calib_ns1);
    /* the writer stores the two words one after the other: a pair read
     * twice alike is not half of one update and half of the next */
    int same = t1 == ulma_load_relaxed(&h->calib_tsc1) && n1 == ulma_load_relaxed(&h->calib_ns1);
    if (same && n1 > h->calib_ns0 && n1 - h->calib_ns0 >= 100000000u) {
        uint64_t hz = ulma_clock_rate_from_pairs(h->calib_tsc0, h->calib_ns0, t1, n1);
        if (hz)
            return hz;
    }
    uint64_t hz = ulma_load_relaxed(&h->cycles_per_sec);
    return (hz >= 1000000u && hz <= 100000000000ull) ? hz : 0;
}

/* The live header words the reader reads one at a time. */
enum header_word {
    HW_STATE,
    HW_ACTIVE_MODE,
    HW_APPLIED_SEQ,
    HW_THREADS_LOST,
    HW_PROBLEMS,
    HW_HOOK_STATUS,
    HW_CONTROL,
};

static uint64_t read_word(ulma_reader_t *r, uint32_t which)
{
    ulma_seg_header_t *h = r->hdr;
    switch (which) {
    /* acquire: what the writer did before it said it exited or applied */
    case HW_STATE: return ulma_load_acquire(&h->state);
    case HW_APPLIED_SEQ: return ulma_load_acquire(&h->applied_seq);
    /* counters and the mode shown: no ordering needed */
    case HW_ACTIVE_MODE: return ulma_load_relaxed(&h->active_mode);
    case HW_THREADS_LOST: return ulma_load_relaxed(&h->threads_lost);
    case HW_HOOK_STATUS: return ulma_load_relaxed(&h->hook_status);
    case HW_CONTROL: return ulma_load_relaxed(&h->control);
    default: return ulma_load_relaxed(&h->problems);
    }
}


static uint64_t do_request(ulma_reader_t *r, uint32_t control)
{
    ulma_store_relaxed(&r->hdr->control, control | ULMA_CTL_VALID);
    /* the new control word is visible before the bumped sequence number */
    uint32_t seq = atomic_fetch_add_explicit(&r->hdr->control_seq, 1, memory_order_release) + 1;
    return seq;
}

uint64_t ulma_reader_hz(const ulma_reader_t *r) { return guarded_read(r, read_hz, 0, 0); }
uint32_t ulma_reader_state(const ulma_reader_t *r)
{
    return (uint32_t)guarded_read(r, read_word, HW_STATE, ULMA_SEG_EXITED);
}
uint32_t ulma_reader_active_mode(const ulma_reader_t *r)
{
    return (uint32_t)guarded_read(r, read_word, HW_ACTIVE_MODE, 0);
}
uint32_t ulma_reader_applied_seq(const ulma_reader_t *r)
{
    return (uint32_t)guarded_read(r, read_word, HW_APPLIED_SEQ, 0);
}
uint32_t ulma_reader_threads_lost(const ulma_reader_t *r)
{
    return (uint32_t)guarded_read(r, read_word, HW_THREADS_LOST, 0);
}
uint64_t ulma_reader_problems(const ulma_reader_t *r)
{
    return guarded_read(r, read_word, HW_PROBLEMS, 0);
}

uint32_t ulma_reader_hook_status(const ulma_reader_t *r)
{
    return (uint32_t)guarded_read(r, read_word, HW_HOOK_STATUS, 0);
}

static uint64_t read_handover(ulma_reader_t *r, uint32_t which)
{
    return which ? ulma_load_relaxed(&r->hdr->records_reported)
                 : ulma_load_relaxed(&r->hdr->records_read);
}

void ulma_reader_handover(const ulma_reader_t *r, uint64_t *read, uint64_t *reported)
{
    uint64_t rd = guarded_read(r, read_handover, 0, 0), rp = guarded_read(r, read_handover, 1, 0);
    /* untrusted words: never more reported than read */
    *read = rd;
    *reported = rp <= rd ? rp : rd;
}

static uint64_t write_handover(ulma_reader_t *r, uint32_t which)
{
    if (which)
        ulma_store_relaxed(&r->hdr->records_reported, r->to_store);
    else
        ulma_store_relaxed(&r->hdr->records_read, r->to_store);
    return 0;
}

void ulma_reader_set_read(ulma_reader_t *r, uint64_t records)
{
    r->to_store = records;
    guarded_read(r, write_handover, 0, 0);
}

void ulma_reader_set_reported(ulma_reader_t *r, uint64_t records)
{
    r->to_store = records;
    guarded_read(r, write_handover, 1, 0);
}

uint32_t ulma_reader_control(const ulma_reader_t *r)
{
    return (uint32_t)guarded_read(r, read_word, HW_CONTROL, 0) & ~ULMA_CTL_VALID;
}

uint32_t ulma_reader_request(ulma_reader_t *r, uint32_t control)
{
    return (uint32_t)guarded_read(r, do_request, control, 0);
}

void ulma_reader_thread_name(const ulma_reader_t *r, unsigned i, char *buf, size_t len)
{
    if (!len)
        return;
    buf[0] = '\0';
    if (i >= r->nslots || r->broken || !r->base)
        return;
    sigjmp_buf jb;
    if (sigsetjmp(jb, 1) != 0) {
        bus_guard = NULL;
        buf[0] = '\0';
        return;
    }
    bus_guard = &jb;
    char tmp[ULMA_THREAD_NAME_MAX];
    memcpy(tmp, slot_hdr(r, i)->name, sizeof(tmp));
    bus_guard = NULL;
    tmp[sizeof(tmp) - 1] = '\0';
    size_t n = strnlen(tmp, len - 1);
    memcpy(buf, tmp, n);
    buf[n] = '\0';
}

int ulma_reader_writer_alive(const ulma_reader_t *r)
{
    if (r->info.pid <= 0)
        return 0;
    if (kill(r->info.pid, 0) != 0 && errno != EPERM)
        return 0;
    uint64_t st = ulma_proc_start_time(r->info.pid);
    return st != 0 && st == r->info.start_time;
}

int ulma_reader_unlink(ulma_reader_t *r) { return unlink(r->path) == 0 ? 0 : -errno; }
