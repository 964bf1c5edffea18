/*
 * ring.h - the per-thread single-producer / single-consumer event ring.
 *
 * One ring per thread slot of a segment. Positions are byte counts that only
 * grow (head: published by the producer, tail: released by the consumer);
 * the offset in the data area is position & (ring_bytes - 1).
 *
 *   producer (hooked thread)              consumer (agent)
 *   ------------------------              ----------------
 *   t = load_acquire(tail)  [slow path]   h = load_acquire(head)
 *   write record units at head            read records in [tail, h)
 *   store_release(head, head + n)         store_release(tail, h)
 *
 * The producer's release store of head pairs with the consumer's acquire
 * load of head: the consumer sees whole records only. The consumer's release
 * store of tail pairs with the producer's acquire load of tail: the
 * producer never overwrites units the consumer is still reading.
 *
 * The producer keeps a private copy of tail and reloads the shared one only
 * when the copy says the ring is full, so the common path touches no line
 * the consumer writes. A producer killed between writing units and
 * publishing head leaves nothing visible: there is no reservation to wedge
 * the reader.
 *
 * A record never wraps: when one does not fit before the end of the data
 * area, the producer first writes one PAD record covering the rest.
 *
 * Full ring: by default the record is dropped and counted (slot.dropped, and
 * a DROP record in front of the next record that fits, carrying how many
 * were lost and the current depth, so the reader can resynchronise). In
 * blocking mode the producer waits for the consumer, up to a bound, then
 * drops after all: a gone consumer never wedges the application.
 */
#ifndef ULMA_RING_H
#define ULMA_RING_H

#include <stdint.h>
#include <string.h>

#include "barrier.h"
#include "event.h"
#include "segment.h"

/* Process-local producer state, one per thread (e.g. thread-local). */
typedef struct ulma_producer {
    uint8_t *data;          /* ring data (in the segment) */
    ulma_slot_header_t *slot;
    uint64_t mask;          /* ring_bytes - 1 */
    uint64_t head;          /* our position (== slot->head once published) */
    uint64_t limit;         /* fast path while head + 16 <= limit; 0 forces the slow path */
    uint64_t pending_drops; /* records lost since the last DROP record */
    uint32_t blocking;      /* wait instead of dropping (bounded) */
    uint32_t slot_index;
    uint64_t block_wait_ns; /* blocking mode: give up once tail stood still this long */
    uint64_t last_tail;     /* blocking mode: tail when it last moved ... */
    uint64_t last_move_ns;  /* ... and when (ulma_clock_mono_ns) */
} ulma_producer_t;

/* Wait this long for a stalled consumer in blocking mode before dropping. */
#define ULMA_BLOCK_WAIT_NS 200000000ull

/* Claim a free slot of `seg` for the calling thread. Returns 0, or -ENOSPC
 * when every slot is taken (counted in header.threads_lost). */
int ulma_producer_attach(ulma_segment_t *seg, ulma_producer_t *p, int32_t tid, const char *name);

/* Switch blocking mode on or off (wait for the consumer instead of
 * dropping, bounded by ULMA_BLOCK_WAIT_NS of no progress). */
void ulma_producer_set_blocking(ulma_producer_t *p, int on);

/* Write THREAD_END and retire the slot (the reader frees it once drained). */
void ulma_producer_detach(ulma_producer_t *p);

/* Slow path of every put: reload tail, write a pending DROP record, or drop.
 * Returns 1 if `units` units now fit at p->head, 0 if the record was dropped
 * (and counted). */
int ulma_producer_make_room(ulma_producer_t *p, unsigned units, uint16_t depth);

/* Store one lightweight record and publish it. The hot path: no call, no
 * lock, no system call. */
static inline void ulma_put(ulma_producer_t *p, uint64_t tsc, unsigned kind, uint32_t id,
                            uint16_t depth)
{
    uint64_t h = p->head;
    if (ULMA_UNLIKELY(h + ULMA_UNIT > p->limit)) {
        if (!ulma_producer_make_room(p, 1, depth))
            return;
        h = p->head;
    }
    ulma_rec_t *r = (ulma_rec_t *)(void *)(p->data + (h & p->mask));
    r->tsc = tsc;
    r->id = id;
    r->depth = depth;
    r->kind = (uint8_t)kind;
    r->units = 1;
    p->head = h + ULMA_UNIT;
    /* publish the record: pairs with the consumer's acquire load of head */
    ulma_store_release(&p->slot->head, h + ULMA_UNIT);
}

/* Store a record with a payload of `len` bytes (<= ULMA_MAX_PAYLOAD;
 * longer is cut). Not for the per-call path: heavyweight and fixed-payload
 * records. Returns 1 if written, 0 if dropped. */
int ulma_put_payload(ulma_producer_t *p, uint64_t tsc, unsigned kind, uint32_t id,
                     uint16_t depth, const void *payload, uint32_t len);

/* Heavyweight "definition" of a code object or C function. Strings are cut
 * so that the record fits. Returns 1 if written, 0 if dropped. */
int ulma_put_def_code(ulma_producer_t *p, unsigned kind, uint32_t id, uint32_t firstline,
                      const char *name, size_t name_len, const char *file, size_t file_len);

#endif /* ULMA_RING_H */
