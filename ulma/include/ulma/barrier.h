/*
 * barrier.h - the only memory-ordering vocabulary ULMA uses.
 *
 * Thin names over C11 <stdatomic.h>, so every ordered access in the ring
 * reads as what it is for. On x86-64 a release store and an acquire load
 * compile to plain moves; the names still matter for the compiler and for
 * weaker architectures.
 */
#ifndef ULMA_BARRIER_H
#define ULMA_BARRIER_H

#include <stdatomic.h>
#include <stdint.h>

/* Publish everything written before this store to a reader that loads with
 * ulma_load_acquire(). */
#define ulma_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
/* See everything the other side wrote before its matching release store. */
#define ulma_load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
/* Counters and hints whose readers need no ordering with other data. */
#define ulma_load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define ulma_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)

#if defined(__GNUC__)
#define ULMA_LIKELY(x) __builtin_expect(!!(x), 1)
#define ULMA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define ULMA_LIKELY(x) (x)
#define ULMA_UNLIKELY(x) (x)
#endif

#endif /* ULMA_BARRIER_H */
