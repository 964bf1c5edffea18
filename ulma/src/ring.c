/* ring.c - the producer's slow paths: attach, room, drops, payload records.
 * The pairing of producer and consumer is drawn once, in ring.h. */
#define _GNU_SOURCE
#include "ulma/ring.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "ulma/clock.h"

int ulma_producer_attach(ulma_segment_t *seg, ulma_producer_t *p, int32_t tid, const char *name)
{
    ulma_seg_header_t *h = ulma_segment_header(seg);
    memset(p, 0, sizeof(*p));
    for (uint32_t i = 0; i < ulma_segment_nslots(seg); i++) {
        uint8_t *s = ulma_segment_slot(seg, i);
        ulma_slot_header_t *sh = (ulma_slot_header_t *)(void *)s;
        uint32_t st = ulma_load_relaxed(&sh->state);
        if (st == ULMA_SLOT_ACTIVE)
            continue;
        if (st == ULMA_SLOT_RETIRED) {
            /* reuse a retired slot only once it is fully drained */
            if (ulma_load_acquire(&sh->tail) != ulma_load_relaxed(&sh->head))
                continue;
        }
        /* acquire: the consumer's last tail store happens before our claim */
        if (!atomic_compare_exchange_strong_explicit(&sh->state, &st, (uint32_t)ULMA_SLOT_ACTIVE,
                                                     memory_order_acq_rel,
                                                     memory_order_relaxed))
            continue;
        sh->tid = tid;
        size_t n = name ? strnlen(name, ULMA_THREAD_NAME_MAX - 1) : 0;
        memset(sh->name, 0, sizeof(sh->name));
        if (n)
            memcpy(sh->name, name, n);
        atomic_fetch_add_explicit(&sh->generation, 1, memory_order_relaxed);
        /* raise the high-water mark: a reader scans slots below it only;
         * release: it sees this slot's header once it sees the mark */
        uint32_t used = ulma_load_relaxed(&h->slots_used);
        while (used < i + 1 &&
               !atomic_compare_exchange_weak_explicit(&h->slots_used, &used, i + 1,
                                                      memory_order_release, memory_order_relaxed))
            ;
        p->slot = sh;
        p->data = s + ULMA_SLOT_HEADER_BYTES;
        p->mask = (uint64_t)ulma_segment_ring_bytes(seg) - 1u;
        p->head = ulma_load_relaxed(&sh->head); /* positions go on across owners */
        p->limit = 0;                          /* first put takes the slow path */
        p->slot_index = i;
        p->block_wait_ns = ULMA_BLOCK_WAIT_NS;
        return 0;
    }
    atomic_fetch_add_explicit(&h->threads_lost, 1, memory_order_relaxed);
    return -ENOSPC;
}

void ulma_producer_set_blocking(ulma_producer_t *p, int on)
{
    p->blocking = on ? 1u : 0u;
    p->last_move_ns = 0;
}

void ulma_producer_detach(ulma_producer_t *p)
{
    if (!p->slot)
        return;
    ulma_put(p, ulma_clock_read(), ULMA_EV_THREAD_END, 0, 0);
    /* the records above are published before the slot says retired */
    ulma_store_release(&p->slot->state, (uint32_t)ULMA_SLOT_RETIRED);
    p->slot = NULL;
    p->data = NULL;
    p->limit = 0;
}

static void write_rec(ulma_producer_t *p, unsigned kind, uint32_t id, uint16_t depth,
                      unsigned units, uint64_t tsc)
{
    ulma_rec_t *r = (ulma_rec_t *)(void *)(p->data + (p->head & p->mask));
    r->tsc = tsc;
    r->id = id;
    r->depth = depth;
    r->kind = (uint8_t)kind;
    r->units = (uint8_t)units;
}

static void count_drop(ulma_producer_t *p)
{
    p->pending_drops++;
    /* single writer: a relaxed read-modify-write of our own counter */
    ulma_store_relaxed(&p->slot->dropped, ulma_load_relaxed(&p->slot->dropped) + 1);
    p->limit = 0; /* the next put must come here to write the DROP record */
}

/* Blocking mode: account the time we waited for the consumer. */
static void add_blocked(ulma_producer_t *p, uint64_t since)
{
    uint64_t waited = ulma_clock_mono_ns() - since;
    ulma_store_relaxed(&p->slot->blocked_ns, ulma_load_relaxed(&p->slot->blocked_ns) + waited);
}

int ulma_producer_make_room(ulma_producer_t *p, unsigned units, uint16_t depth)
{
    if (!p->slot)
        return 0;
    const uint64_t cap = p->mask + 1u;
    uint64_t wait_start = 0;
    for (;;) {
        /* pairs with the consumer's release store of tail */
        uint64_t tail = ulma_load_acquire(&p->slot->tail);
        uint64_t h = p->head;
        /* a nonsense tail (the consumer is broken) reads as a full ring */
        uint64_t used = (tail > h || h - tail > cap) ? cap : h - tail;
        uint64_t need = (p->pending_drops ? ULMA_UNIT : 0);
        uint64_t off = (h + need) & p->mask;
        uint64_t pad = (off + (uint64_t)units * ULMA_UNIT > cap) ? cap - off : 0;
        need += pad + (uint64_t)units * ULMA_UNIT;
        if (used + need <= cap) {
            uint64_t tsc = ulma_clock_read();
            if (p->pending_drops) {
                uint32_t n = p->pending_drops > UINT32_MAX ? UINT32_MAX : (uint32_t)p->pending_drops;
                write_rec(p, ULMA_EV_DROP, n, depth, 1, tsc);
                p->head += ULMA_UNIT;
                p->pending_drops = 0;
            }
            if (pad) {
                write_rec(p, ULMA_EV_PAD, 0, 0, (unsigned)(pad / ULMA_UNIT), tsc);
                p->head += pad;
            }
            if (p->head != h) /* publish DROP / PAD now; the record follows */
                ulma_store_release(&p->slot->head, p->head);
            p->limit = tail + cap;
            if (wait_start)
                add_blocked(p, wait_start);
            return 1;
        }
        if (p->blocking) {
            uint64_t now = ulma_clock_mono_ns();
            if (p->last_move_ns == 0 || tail != p->last_tail) {
                p->last_tail = tail;
                p->last_move_ns = now;
            }
            if (!wait_start)
                wait_start = now;
            if (now - p->last_move_ns < p->block_wait_ns) {
                sched_yield();
                continue;
            }
        }
        if (wait_start)
            add_blocked(p, wait_start);
        count_drop(p);
        return 0;
    }
}

int ulma_put_payload(ulma_producer_t *p, uint64_t tsc, unsigned kind, uint32_t id,
                     uint16_t depth, const void *payload, uint32_t len)
{
    if (len > ULMA_MAX_PAYLOAD)
        len = ULMA_MAX_PAYLOAD;
    unsigned units = ulma_rec_units(len);
    uint64_t h = p->head;
    uint64_t off = h & p->mask;
    if (h + (uint64_t)units * ULMA_UNIT > p->limit || off + (uint64_t)units * ULMA_UNIT > p->mask + 1u) {
        if (!ulma_producer_make_room(p, units, depth))
            return 0;
    }
    write_rec(p, kind, id, depth, units, tsc);
    uint8_t *dst = p->data + ((p->head + ULMA_UNIT) & p->mask);
    if (len)
        memcpy(dst, payload, len);
    uint32_t tail_pad = (units - 1u) * ULMA_UNIT - len;
    if (tail_pad)
        memset(dst + len, 0, tail_pad);
    p->head += (uint64_t)units * ULMA_UNIT;
    /* publish the whole record: pairs with the consumer's acquire of head */
    ulma_store_release(&p->slot->head, p->head);
    return 1;
}

int ulma_put_def_code(ulma_producer_t *p, unsigned kind, uint32_t id, uint32_t firstline,
                      const char *name, size_t name_len, const char *file, size_t file_len)
{
    uint8_t buf[ULMA_MAX_PAYLOAD];
    const size_t room = sizeof(buf) - sizeof(ulma_def_code_t);
    if (name_len > room)
        name_len = room;
    if (file_len > room - name_len)
        file_len = room - name_len;
    if (name_len > UINT16_MAX)
        name_len = UINT16_MAX;
    if (file_len > UINT16_MAX)
        file_len = UINT16_MAX;
    ulma_def_code_t d = {firstline, (uint16_t)name_len, (uint16_t)file_len};
    memcpy(buf, &d, sizeof(d));
    if (name_len)
        memcpy(buf + sizeof(d), name, name_len);
    if (file_len)
        memcpy(buf + sizeof(d) + name_len, file, file_len);
    return ulma_put_payload(p, ulma_clock_read(), kind, id, 0, buf,
                            (uint32_t)(sizeof(d) + name_len + file_len));
}
