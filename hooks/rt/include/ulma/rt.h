/*
 * rt.h - the in-process ULMA runtime: one segment per process, one producer
 * per thread, the control-word watcher. Shared library libulma-rt.so, so
 * that the Python extension (ulma._ulma) and the MPI wrappers
 * (libulma-mpi.so, preloaded) write into the same per-thread rings and
 * their records interleave in program order.
 */
#ifndef ULMA_RT_H
#define ULMA_RT_H

#include <stdatomic.h>
#include <stdint.h>

#include "ulma/event.h"
#include "ulma/ring.h"
#include "ulma/segment.h"

/* Per-thread state. Lives in thread-local storage of libulma-rt. */
typedef struct ulma_rt_thread {
    ulma_producer_t prod; /* attached to a slot, or prod.slot == NULL */
    uint32_t depth;       /* Python frames entered and not left, as seen by the hooks */
    uint32_t nesting;     /* re-entrancy guard of the hook path */
    uint32_t attached;    /* 1 once a slot was claimed (or tried: see prod.slot) */
    uint32_t generation;  /* rt generation this thread attached under (fork resets) */
} ulma_rt_thread_t;

/*
 * What is switched on, process-wide: ULMA_CTL_MODE_MASK bits (ulma_mode_t)
 * and ULMA_CTL_OBJECTS. Zero means off: every event source checks this with
 * one relaxed load and one predictable branch before doing anything else.
 */
extern _Atomic uint32_t ulma_rt_active;

/* Start the runtime: create this process's segment (identity from the
 * environment: Open MPI, PMI, Slurm), start the control watcher. Idempotent.
 * Returns 0 or -errno. `exe` may be NULL. `reader_pid`: a private agent
 * reserved to drain this segment (written into the header before the
 * segment becomes visible), or 0. */
int ulma_rt_start(const char *exe, int32_t reader_pid);

/* Mark the segment exited (all threads' records stay for the agent). */
void ulma_rt_stop(void);

/* The segment, or NULL before ulma_rt_start(). */
ulma_segment_t *ulma_rt_segment(void);

/* The calling thread's state, attaching it to a slot on first use.
 * Returns NULL if the runtime is not started or no slot is free. Never
 * allocates after the first call on a thread. */
ulma_rt_thread_t *ulma_rt_thread(void);

/* Call ids of MPI functions are stable small integers; names are written
 * once per process as ULMA_EV_DEF_MPI records by whoever emits the first
 * MPI record for that id. */

#endif /* ULMA_RT_H */
