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
    /* appended fields */
    uint32_t hook_epoch;  /* the Python hooks' epoch this thread last synced with */
    int32_t tid;          /* OS thread id, once attached */
    /* C stack (ulma_rt_stack_*): kept across fork() in the forking thread */
    uintptr_t stack_limit; /* below this address, go on on a fresh stack chunk; 0: none */
    void *stack_chunk;     /* the chunk the thread runs on now, NULL: its own stack */
    void *stack_chunks;    /* the first chunk of the thread's chain (runtime-private) */
    uint32_t stack_known;  /* stack_limit was computed (ulma_rt_stack_init) */
    uint32_t stack_pad;
    /* the Python hooks' per-thread state (owned by ulma._ulma): hook_state
     * is kept across fork() in the forking thread, and handed to the
     * thread-end callback (ulma_rt_set_thread_end) when the thread ends */
    void *hook_state;
    void *hook_token;     /* the profile hook's installation this thread last saw */
    uint32_t hook_top;    /* depth of the innermost frame in hook_state, UINT32_MAX: none */
    uint32_t hook_gen;    /* rt generation `depth` counts frames of */
} ulma_rt_thread_t;

/* The calling thread's state, in the static TLS block of libulma-rt
 * (initial-exec: one %fs-relative access, no call). Zeroed in a new
 * thread and in a fork()ed child; use ulma_rt_thread() to attach. */
extern __thread ulma_rt_thread_t ulma_rt_tls __attribute__((tls_model("initial-exec")));

/* Bumped every time the runtime makes a new segment (start, and in a
 * fork()ed child): a thread whose `generation` differs must re-attach, and
 * anything "defined once per process" (code names...) must be defined again
 * in the new segment. */
extern _Atomic uint32_t ulma_rt_generation;

/* Bumped with every new segment and whenever a reader asks for every
 * definition again (ULMA_CTL_REDEFINE: an agent that took over from a dead
 * one, whose definitions it never read): what is defined once per segment
 * (code objects, C functions, types, MPI calls) is defined again at its
 * next use, in the thread that uses it. Threads do not re-attach for it. */
extern _Atomic uint32_t ulma_rt_defgen;

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

/* Like ulma_rt_start() with the initial control word stored in the header
 * (ULMA_CTL_* bits describing what the process was started with; no
 * request is pending: applied_seq == control_seq). */
int ulma_rt_start_control(const char *exe, int32_t reader_pid, uint32_t control);

/*
 * Control requests. The runtime's watcher thread wakes every
 * ULMA_RT_WATCH_MS: it refreshes header.heartbeat_ns (and the clock pair
 * calib_tsc1/calib_ns1 about once a second) and, when header.control_seq
 * differs from header.applied_seq, calls the registered handler with the
 * requested control word and its sequence number. The handler applies the
 * request and then calls ulma_rt_applied(); without a handler the runtime
 * applies the bits itself (ulma_rt_active, blocking) and acknowledges.
 * The handler runs on the watcher thread, never on a hooked thread.
 */
#define ULMA_RT_WATCH_MS 50u
typedef void (*ulma_rt_control_fn)(uint32_t control, uint32_t seq, void *ctx);

/* Register (or with NULL remove) the handler. Removing waits for a call in
 * progress to finish: do not hold a lock the handler needs meanwhile. */
void ulma_rt_set_control_handler(ulma_rt_control_fn fn, void *ctx);

/* Stop the watcher (joined, and no longer counted among the process's
 * threads) until the matching ulma_rt_watcher_resume(); pauses nest. Around
 * a fork: CPython 3.12+ warns when a process forks with other threads, and
 * the watcher, which is fork-safe, is not the program's. A fork()ed child
 * has its own watcher running and nothing to resume. Not with the GIL held
 * (a control handler may be waiting for it). */
void ulma_rt_watcher_pause(void);
void ulma_rt_watcher_resume(void);

/* Pages of the rings the watcher has written into ahead of their writers
 * (their first lap: a first write into a page is a page fault, which the
 * hooked thread then does not pay), since the process started. */
uint64_t ulma_rt_warmed_pages(void);

/* A function the watcher calls on every wake (ULMA_RT_WATCH_MS), after
 * applying a pending control request; NULL removes it (waiting for a call
 * in progress, as for the control handler). */
void ulma_rt_set_tick_handler(void (*fn)(void *ctx), void *ctx);

/* A function called when a thread that used the runtime ends, with its
 * hook_state if not NULL (from the thread's pthread key destructor: no
 * Python thread state any more). */
void ulma_rt_set_thread_end(void (*fn)(void *hook_state));

/* Publish what is in force: ulma_rt_active and header.active_mode = `active`
 * (mode | ULMA_CTL_OBJECTS...); then, if seq != 0, header.applied_seq = seq
 * (release: the agent that sees the sequence sees the mode). */
void ulma_rt_applied(uint32_t active, uint32_t seq);

/* Blocking mode for every thread's producer, present and future. */
void ulma_rt_set_blocking(int on);
int ulma_rt_blocking(void);

/* Name an OS thread (`tid`, or 0 for the calling thread). The name goes
 * into the thread's slot header (now, or when it attaches) and a
 * ULMA_EV_DEF_THREAD record (id = tid) is written into the calling
 * thread's ring. Not for a hot path (takes a lock). */
void ulma_rt_name_thread(int32_t tid, const char *name);

/* Count a hook-side problem in header.problems (never raised). */
void ulma_rt_problem(void);

/* The reader pid the segment was created with (inherited by fork children). */
int32_t ulma_rt_reader_pid(void);

/* Sum of every slot's dropped counter of our own segment. */
uint64_t ulma_rt_dropped(void);

/*
 * C stack segments. A hook that makes every Python call nest a C call (the
 * eval-frame wrapper of fast mode) would overflow a C stack that the same
 * program, unprofiled, never fills (CPython 3.11 runs Python-to-Python
 * calls without C recursion). So such a hook compares the address of a
 * local with stack_limit (one compare per call) and, below it, runs the
 * rest on a fresh chunk of memory through ulma_rt_stack_call(): the
 * thread's depth is then bounded by memory, as unprofiled.
 *
 * ulma_rt_stack_init(): compute the calling thread's stack_limit (its stack
 * bounds, from pthread_getattr_np, plus ULMA_RT_STACK_MARGIN for the C code
 * that runs between two hook calls). Once per thread; not for a hot path.
 *
 * ulma_rt_stack_call(fn, arg): run fn(arg) on the thread's next chunk
 * (kept for reuse, unmapped when the thread ends), with stack_limit set for
 * that chunk; restore both after. Returns 0, or -ENOMEM when no chunk could
 * be had (fn not run). Allocates (mmap) only the first time a depth is
 * reached.
 */
#define ULMA_RT_STACK_MARGIN (256u << 10)
#define ULMA_RT_STACK_CHUNK (8u << 20)
void ulma_rt_stack_init(ulma_rt_thread_t *t);
int ulma_rt_stack_call(void (*fn)(void *), void *arg);

/* Chunks the process's threads have ever mapped (status). */
uint64_t ulma_rt_stack_chunks(void);

#endif /* ULMA_RT_H */
