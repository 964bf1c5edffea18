/* segment.c - creating a process's segment (writer side), and naming. */
#define _GNU_SOURCE
#include "ulma/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ulma/barrier.h"
#include "ulma/clock.h"

struct ulma_segment {
    uint8_t *base;
    size_t size;
    /* the layout as made: the writer's own copy, for the header is shared
     * and other processes can write to it */
    uint32_t nslots, ring_bytes;
    char path[4096];
};

const char *ulma_default_dir(void)
{
    const char *d = getenv("ULMA_DIR");
    return (d && *d) ? d : ULMA_DEFAULT_DIR;
}

void ulma_segment_opts_init(ulma_segment_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->mpi_rank = -1;
    o->mpi_size = 0;
}

int ulma_segment_name(char *buf, size_t len, const char *dir, uint32_t uid, int32_t pid,
                      uint64_t start_time)
{
    return snprintf(buf, len, "%s/ulma.%" PRIu32 ".%" PRId32 ".%" PRIu64 ".seg", dir, uid, pid,
                    start_time);
}

int ulma_segment_parse_name(const char *name, uint32_t *uid, int32_t *pid, uint64_t *start_time)
{
    unsigned long long u, st;
    long p;
    int n = 0;
    if (sscanf(name, "ulma.%llu.%ld.%llu.seg%n", &u, &p, &st, &n) != 3 || name[n] != '\0')
        return -EINVAL;
    if (u > UINT32_MAX || p <= 0 || p > INT32_MAX)
        return -EINVAL;
    *uid = (uint32_t)u;
    *pid = (int32_t)p;
    *start_time = st;
    return 0;
}

uint64_t ulma_proc_stat_field(int32_t pid, int field)
{
    char path[64], buf[1024];
    if (field < 3 || field > 52)
        return 0;
    snprintf(path, sizeof(path), "/proc/%" PRId32 "/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* the command name may hold spaces and parentheses: start after the last ')' */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    p++; /* " S ..." : field 3 (state) follows */
    for (int f = 3; f < field; f++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return 0;
    }
    return strtoull(p + 1, NULL, 10);
}

uint64_t ulma_proc_start_time(int32_t pid) { return ulma_proc_stat_field(pid, 22); }

static uint32_t env_u32(const char *name, uint32_t dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    unsigned long long x = strtoull(v, &end, 0);
    if (*end == 'k' || *end == 'K')
        x <<= 10, end++;
    else if (*end == 'm' || *end == 'M')
        x <<= 20, end++;
    if (*end != '\0' || x == 0 || x > UINT32_MAX)
        return dflt;
    return (uint32_t)x;
}

static uint32_t round_pow2(uint32_t x)
{
    uint32_t p = ULMA_MIN_RING_BYTES;
    while (p < x && p < ULMA_MAX_RING_BYTES)
        p <<= 1;
    return p;
}

static void copy_str(char *dst, size_t len, const char *src)
{
    if (!src)
        src = "";
    size_t n = strnlen(src, len - 1);
    memcpy(dst, src, n);
    memset(dst + n, 0, len - n);
}

int ulma_segment_create(const ulma_segment_opts_t *opts, ulma_segment_t **out)
{
    ulma_segment_opts_t dflt;
    if (!opts) {
        ulma_segment_opts_init(&dflt);
        opts = &dflt;
    }
    const char *dir = opts->dir ? opts->dir : ulma_default_dir();
    uint32_t nslots = opts->nslots ? opts->nslots : env_u32("ULMA_SLOTS", ULMA_DEFAULT_SLOTS);
    uint32_t ring = opts->ring_bytes ? opts->ring_bytes
                                     : env_u32("ULMA_RING_SIZE", ULMA_DEFAULT_RING_BYTES);
    if (nslots > ULMA_MAX_SLOTS)
        nslots = ULMA_MAX_SLOTS;
    ring = round_pow2(ring);

    uint64_t slot_size = (uint64_t)ULMA_SLOT_HEADER_BYTES + ring;
    uint64_t size = ULMA_SEG_HEADER_BYTES + slot_size * nslots;

    ulma_segment_t *seg = calloc(1, sizeof(*seg));
    if (!seg)
        return -ENOMEM;
    int32_t pid = (int32_t)getpid();
    uint64_t start = ulma_proc_start_time(pid);
    uint32_t uid = (uint32_t)getuid();
    char tmp[4096];
    int n = ulma_segment_name(seg->path, sizeof(seg->path), dir, uid, pid, start);
    int m = snprintf(tmp, sizeof(tmp), "%s/.ulma-tmp.%" PRId32, dir, pid);
    if (n < 0 || (size_t)n >= sizeof(seg->path) || m < 0 || (size_t)m >= sizeof(tmp)) {
        free(seg);
        return -ENAMETOOLONG;
    }
    int err;
    /* a new file only: never one somebody else made under that name (in a
     * shared sticky directory the unlink of another user's file fails) */
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0) /* ours, left by a killed pid */
        fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err = -errno;
        free(seg);
        return err;
    }
    if (ftruncate(fd, (off_t)size) != 0)
        goto fail;
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED)
        goto fail;
    close(fd);
    fd = -1;
    seg->base = base;
    seg->size = size;
    seg->nslots = nslots;
    seg->ring_bytes = ring;

    ulma_seg_header_t *h = base;
    h->version = ULMA_SEG_VERSION;
    h->header_size = sizeof(*h);
    h->segment_size = size;
    h->slot_offset = ULMA_SEG_HEADER_BYTES;
    h->slot_size = (uint32_t)slot_size;
    h->nslots = nslots;
    h->ring_bytes = ring;
    h->slot_header_size = ULMA_SLOT_HEADER_BYTES;
    h->pid = pid;
    h->uid = uid;
    h->start_time = start;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    h->created_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    copy_str(h->host, sizeof(h->host), host);
    copy_str(h->exe, sizeof(h->exe), opts->exe);
    h->mpi_rank = opts->mpi_rank;
    h->mpi_size = opts->mpi_size;
    copy_str(h->job, sizeof(h->job), opts->job);
    ulma_clock_sample_pair(&h->calib_tsc0, &h->calib_ns0);
    ulma_store_relaxed(&h->cycles_per_sec, ulma_clock_calibrate(opts->calib_window_ns));
    ulma_store_relaxed(&h->heartbeat_ns, ulma_clock_mono_ns());
    ulma_store_relaxed(&h->reader_pid, opts->reader_pid);
    ulma_store_relaxed(&h->state, (uint32_t)ULMA_SEG_LIVE);
    /* the magic last: a reader that sees it sees a complete header */
    atomic_thread_fence(memory_order_release);
    h->magic = ULMA_SEG_MAGIC;
    if (rename(tmp, seg->path) != 0) {
        err = -errno;
        munmap(base, size);
        unlink(tmp);
        free(seg);
        return err;
    }
    *out = seg;
    return 0;
fail:
    err = -errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(seg);
    return err;
}

ulma_seg_header_t *ulma_segment_header(ulma_segment_t *seg) { return (ulma_seg_header_t *)seg->base; }

void ulma_segment_calib_refresh(ulma_seg_header_t *h)
{
    uint64_t n1 = ulma_load_relaxed(&h->calib_ns1);
    if (n1 >= h->calib_ns0 && n1 - h->calib_ns0 >= ULMA_CALIB_REFINE_NS)
        return; /* fixed: a finished function's time never changes afterwards */
    uint64_t c = 0, n = 0;
    ulma_clock_sample_pair(&c, &n);
    ulma_store_relaxed(&h->calib_tsc1, c);
    ulma_store_relaxed(&h->calib_ns1, n);
    /* one word: a reader of the rate never sees half an update */
    uint64_t hz = n - h->calib_ns0 >= ULMA_CALIB_MIN_PAIR_NS
                      ? ulma_clock_rate_from_pairs(h->calib_tsc0, h->calib_ns0, c, n)
                      : 0;
    if (hz)
        ulma_store_relaxed(&h->cycles_per_sec, hz);
}

const char *ulma_segment_path(const ulma_segment_t *seg) { return seg->path; }
uint32_t ulma_segment_nslots(const ulma_segment_t *seg) { return seg->nslots; }
uint32_t ulma_segment_ring_bytes(const ulma_segment_t *seg) { return seg->ring_bytes; }

uint8_t *ulma_segment_slot(ulma_segment_t *seg, uint32_t i)
{
    if (i >= seg->nslots)
        return NULL;
    return seg->base + ULMA_SEG_HEADER_BYTES +
           (uint64_t)i * ((uint64_t)ULMA_SLOT_HEADER_BYTES + seg->ring_bytes);
}

void ulma_segment_destroy(ulma_segment_t **seg_p, int unlink_file)
{
    if (!seg_p || !*seg_p)
        return;
    ulma_segment_t *seg = *seg_p;
    ulma_seg_header_t *h = ulma_segment_header(seg);
    /* everything written before is visible to a reader that sees EXITED */
    ulma_store_release(&h->state, (uint32_t)ULMA_SEG_EXITED);
    munmap(seg->base, seg->size);
    if (unlink_file)
        unlink(seg->path);
    free(seg);
    *seg_p = NULL;
}

void ulma_segment_abandon(ulma_segment_t **seg_p)
{
    if (!seg_p || !*seg_p)
        return;
    munmap((*seg_p)->base, (*seg_p)->size);
    free(*seg_p);
    *seg_p = NULL;
}
