/*
 * reader.h - the consumer side of a segment, for agents and tools.
 *
 * A segment is written by another process and is untrusted input: the
 * reader validates the header (magic, version, sizes, offsets) against the
 * file's real size before using anything, re-reads every shared position
 * once per drain into locals, bounds every record against what was
 * published, and stops draining a slot that breaks the rules (counting it)
 * rather than trusting it. A SIGBUS from a file truncated under the
 * mapping is caught while draining and reported as -EFAULT.
 *
 * Records are handed to the caller in contiguous batches; walk a batch
 * with ulma_iter_next(), which checks every record's size against the
 * batch and copies the header so it cannot change under the caller.
 */
#ifndef ULMA_READER_H
#define ULMA_READER_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "segment.h"

typedef struct ulma_reader ulma_reader_t;

/* Identity of a segment, copied out of its header and sanitised (strings
 * NUL-terminated, numbers as found). */
typedef struct ulma_seg_info {
    int32_t pid;
    uint32_t uid;
    uint64_t start_time;
    uint64_t created_ns;
    char host[ULMA_HOST_MAX];
    char exe[ULMA_EXE_MAX];
    int32_t mpi_rank, mpi_size;
    char job[ULMA_JOB_MAX];
    uint32_t nslots, ring_bytes;
} ulma_seg_info_t;

/* Per-slot counters the reader keeps. */
typedef struct ulma_slot_stats {
    uint64_t units;       /* units delivered (16 bytes each) */
    uint64_t bytes;       /* bytes consumed */
    uint64_t dropped;     /* producer's drop count, last seen */
    uint64_t corrupt;     /* times the slot broke the rules */
    uint32_t generation;  /* claim generation last seen */
    int32_t tid;
    uint32_t state;
} ulma_slot_stats_t;

/* Batch callback: `nunits` units starting at `recs`, whole records of slot
 * `slot`. The memory is the shared ring: read it, do not keep pointers.
 * Return 0, or -1 if the batch was malformed (ulma_iter_t.bad): the reader
 * then counts the slot corrupt and skips what it published. */
typedef int (*ulma_batch_fn)(void *ctx, unsigned slot, const ulma_rec_t *recs, size_t nunits);

/* Open and validate a segment file. Returns 0 and sets *out (caller owns
 * it, free with ulma_reader_destroy), or -errno: -EINVAL bad header,
 * -EPROTONOSUPPORT other version, -ENODATA too short, others from the
 * system. */
int ulma_reader_open(const char *path, ulma_reader_t **out);

/* Close; NULL-safe; nulls *r_p. Does not remove the file. */
void ulma_reader_destroy(ulma_reader_t **r_p);

const ulma_seg_info_t *ulma_reader_info(const ulma_reader_t *r);
const char *ulma_reader_path(const ulma_reader_t *r);

/* Drain every slot: deliver all published records, release them to the
 * producers, and give retired, drained slots back (FREE). `max_units_per_slot`
 * 0 means no bound. Returns the number of units delivered, or -EFAULT
 * if the mapping faulted (segment truncated under us). */
long ulma_reader_drain(ulma_reader_t *r, ulma_batch_fn fn, void *ctx, size_t max_units_per_slot);

/* Counters of slot `i` (< info.nslots), or NULL. */
const ulma_slot_stats_t *ulma_reader_slot_stats(const ulma_reader_t *r, unsigned i);

/* Sum of every slot's drops / corruptions, and units delivered. */
uint64_t ulma_reader_total_dropped(const ulma_reader_t *r);
uint64_t ulma_reader_total_corrupt(const ulma_reader_t *r);
uint64_t ulma_reader_total_units(const ulma_reader_t *r);

/* The clock calibration of the segment (cycles per second), refined from
 * the writer's pairs when they are sane, else its stored figure, else 0. */
uint64_t ulma_reader_hz(const ulma_reader_t *r);

/* Thread name of slot i, copied and terminated into buf. */
void ulma_reader_thread_name(const ulma_reader_t *r, unsigned i, char *buf, size_t len);

/* Live header words (each read once, relaxed): segment state, wanted and
 * applied control, active mode. */
uint32_t ulma_reader_state(const ulma_reader_t *r);
uint32_t ulma_reader_active_mode(const ulma_reader_t *r);
uint32_t ulma_reader_applied_seq(const ulma_reader_t *r);
uint32_t ulma_reader_threads_lost(const ulma_reader_t *r);
uint64_t ulma_reader_problems(const ulma_reader_t *r);
uint32_t ulma_reader_hook_status(const ulma_reader_t *r); /* ULMA_HOOK_* */

/* The readers' bookkeeping (header.records_read, records_reported): what
 * the readers before this one read and had reported, read once at open;
 * 0 and 0 for a segment nobody read before. A reader that takes over
 * counts read - reported as lost (read by a reader that died before it
 * reported them), and publishes its own totals on top of `read`. */
void ulma_reader_handover(const ulma_reader_t *r, uint64_t *read, uint64_t *reported);
/* Publish the totals, absolute (the handover's records included). */
void ulma_reader_set_read(ulma_reader_t *r, uint64_t records);
void ulma_reader_set_reported(ulma_reader_t *r, uint64_t records);

/* Ask the process for a new control word; returns the request's sequence
 * number (compare with ulma_reader_applied_seq). */
uint32_t ulma_reader_request(ulma_reader_t *r, uint32_t control);
/* The control word last asked for (ULMA_CTL_VALID cleared). */
uint32_t ulma_reader_control(const ulma_reader_t *r);

/* 1 if the writer process still runs (same pid and start time), 0 if not. */
int ulma_reader_writer_alive(const ulma_reader_t *r);

/* Remove the segment file. Returns 0 or -errno. */
int ulma_reader_unlink(ulma_reader_t *r);

/* Walk a batch. Returns the next record (header copied into *hdr, payload
 * pointer and length set), or NULL at the end or on a malformed record
 * (then *bad is set to 1). */
typedef struct ulma_iter {
    const ulma_rec_t *p, *end;
    int bad;
} ulma_iter_t;

static inline void ulma_iter_init(ulma_iter_t *it, const ulma_rec_t *recs, size_t nunits)
{
    it->p = recs;
    it->end = recs + nunits;
    it->bad = 0;
}

static inline const ulma_rec_t *ulma_iter_next(ulma_iter_t *it, ulma_rec_t *hdr,
                                               const void **payload, uint32_t *payload_len)
{
    if (it->p >= it->end)
        return NULL;
    *hdr = *(const volatile ulma_rec_t *)it->p; /* one snapshot */
    size_t left = (size_t)(it->end - it->p);
    if (hdr->units == 0 || hdr->units > left) {
        it->bad = 1;
        return NULL;
    }
    const ulma_rec_t *r = it->p;
    *payload = r + 1;
    *payload_len = (uint32_t)(hdr->units - 1u) * ULMA_UNIT;
    it->p += hdr->units;
    return r;
}

#endif /* ULMA_READER_H */
