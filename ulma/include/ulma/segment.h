/*
 * segment.h - a process's ULMA shared-memory segment.
 *
 * One file per monitored process, in ULMA's directory (default /dev/shm,
 * overridden by $ULMA_DIR or by the caller), named
 *
 *     ulma.<uid>.<pid>.<starttime>.seg
 *
 * so that an agent can find it, tell whose it is, and tell a live writer
 * from a dead one whose pid was reused. The file is sparse: slot pages no
 * thread touched cost nothing.
 *
 * Layout (offsets, never pointers; everything a reader needs to bound-check
 * is in the header, which it must treat as untrusted):
 *
 *     0                        ulma_seg_header_t (ULMA_SEG_HEADER_BYTES)
 *     slot_offset + i*slot_size   ulma_slot_header_t (ULMA_SLOT_HEADER_BYTES)
 *                                 ring data (ring_bytes, a power of two)
 *
 * The segment outlives its process: the writer never removes it at exit,
 * it marks it ULMA_SEG_EXITED; the reader that drained it removes it.
 */
#ifndef ULMA_SEGMENT_H
#define ULMA_SEGMENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ULMA_SEG_MAGIC 0x31474553414d4c55ull /* "ULMASEG1", little-endian */
#define ULMA_SEG_VERSION 1u
#define ULMA_SEG_HEADER_BYTES 4096u
#define ULMA_SLOT_HEADER_BYTES 256u
#define ULMA_HOST_MAX 64
#define ULMA_JOB_MAX 64
#define ULMA_EXE_MAX 256
#define ULMA_THREAD_NAME_MAX 32
/* The clock rate of a process is refined from its start for this long (a
 * pair of clock readings now and then, and one at exit), then fixed: its
 * error is then a few parts in 10^8, and times converted with it never
 * change again. */
#define ULMA_CALIB_REFINE_NS 8000000000ull
/* The writer turns its two pairs into cycles_per_sec once they are this far
 * apart (a few parts in 10^5); before, the header holds the estimate made
 * without sleeping at creation. */
#define ULMA_CALIB_MIN_PAIR_NS 1000000ull

#define ULMA_DEFAULT_DIR "/dev/shm"
#define ULMA_DEFAULT_SLOTS 64u
/* 1,048,576 records per thread: 35 ms of a saturated call-bound Python
 * thread (about 30 M records/s), so an agent delayed that long loses
 * nothing. Pages are touched only as a thread writes. */
#define ULMA_DEFAULT_RING_BYTES (16u << 20)
#define ULMA_MIN_RING_BYTES 4096u
#define ULMA_MAX_RING_BYTES (1u << 30)
#define ULMA_MAX_SLOTS 4096u

/* Control word, written by an agent, read by the process. */
#define ULMA_CTL_MODE_MASK 0x3u     /* ulma_mode_t wanted */
#define ULMA_CTL_OBJECTS 0x4u       /* object wedges wanted */
#define ULMA_CTL_BLOCKING 0x8u      /* writers wait instead of dropping */
#define ULMA_CTL_REDEFINE 0x10u     /* write every definition again (a reader
                                     * that took over from a dead one) */
#define ULMA_CTL_VALID 0x80000000u  /* set by whoever wrote a request */

/* Hook status (header.hook_status), written by the process. */
#define ULMA_HOOK_DISPLACED 0x1u   /* full mode: the program's own profile function
                                    * (sys.setprofile, cProfile...) holds the profile
                                    * hook of at least one thread now, whose calls
                                    * are not recorded meanwhile */
#define ULMA_HOOK_COUNT_SHIFT 16   /* bits 16-31: how many times a thread's hook was
                                    * taken so, saturating at 0xffff */

/* Segment states (header.state), written by the process. */
enum { ULMA_SEG_INIT = 0, ULMA_SEG_LIVE = 1, ULMA_SEG_EXITED = 2 };

/* Slot states (slot.state). */
enum {
    ULMA_SLOT_FREE = 0,    /* never used, or drained and given back */
    ULMA_SLOT_ACTIVE = 1,  /* a thread writes here */
    ULMA_SLOT_RETIRED = 2, /* its thread ended; drain, then free */
};

typedef struct ulma_seg_header {
    /* identity: a reader checks these first */
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;    /* sizeof(ulma_seg_header_t) of the writer */
    uint64_t segment_size;   /* bytes of the whole file */
    uint64_t slot_offset;    /* offset of slot 0 */
    uint32_t slot_size;      /* bytes per slot: slot header + ring */
    uint32_t nslots;
    uint32_t ring_bytes;     /* ring capacity per slot, power of two */
    uint32_t slot_header_size;
    /* who */
    int32_t pid;
    uint32_t uid;
    uint64_t start_time;     /* /proc/<pid>/stat field 22, clock ticks since boot */
    uint64_t created_ns;     /* CLOCK_REALTIME at creation */
    char host[ULMA_HOST_MAX];
    char exe[ULMA_EXE_MAX];  /* argv[0] or script, for people */
    int32_t mpi_rank;        /* -1 if unknown */
    int32_t mpi_size;        /* 0 if unknown */
    char job[ULMA_JOB_MAX];  /* MPI/batch job id, "" if unknown */
    /* the clock: cycles = hz * seconds; pairs let a reader refine hz.
     * cycles_per_sec: an estimate made at creation without sleeping, then
     * the rate of the two pairs (ulma_segment_calib_refresh) */
    _Atomic uint64_t cycles_per_sec;
    uint64_t calib_tsc0, calib_ns0;        /* taken at creation */
    _Atomic uint64_t calib_tsc1, calib_ns1; /* refreshed by the process (its
                                              * watcher, its exit) for
                                              * ULMA_CALIB_REFINE_NS */
    /* control: agent -> process */
    _Atomic uint32_t control;     /* ULMA_CTL_* */
    _Atomic uint32_t control_seq; /* bumped by the agent after each request */
    /* status: process -> agent */
    _Atomic uint32_t state;       /* ULMA_SEG_* */
    _Atomic uint32_t active_mode; /* ulma_mode_t | ULMA_CTL_OBJECTS... in force */
    _Atomic uint32_t applied_seq; /* last control_seq the process applied */
    _Atomic uint32_t threads_lost;/* threads that found no free slot */
    _Atomic uint64_t heartbeat_ns;/* ulma_clock_mono_ns() at the process's last sign */
    _Atomic uint64_t problems;    /* hook-side problems counted (never raised) */
    _Atomic int32_t reader_pid;   /* the agent draining it, 0 if none. Set by the
                                   * writer at creation when a private agent is
                                   * reserved for it; otherwise an agent claims
                                   * it by CAS from 0 (or from a dead pid). An
                                   * agent leaves alone a segment whose
                                   * reader_pid is another live process. */
    _Atomic uint32_t slots_used;  /* high-water mark of claimed slots (process):
                                   * a reader need not touch slots above it */
    /* appended fields */
    _Atomic uint32_t hook_status; /* ULMA_HOOK_* (process -> agent) */
    /* the readers' bookkeeping, reader -> the reader after it (an agent
     * restarted, or another taking over from a dead one): records read
     * from the rings by every reader so far, and how many of those a
     * report to the collector holds. What lies between them was read by a
     * reader that died before reporting it: the next one counts it lost. */
    _Atomic uint64_t records_read;
    _Atomic uint64_t records_reported;
} ulma_seg_header_t;

_Static_assert(sizeof(ulma_seg_header_t) <= ULMA_SEG_HEADER_BYTES, "header fits");

/*
 * A slot header. Producer-written and consumer-written words live on
 * separate cache lines.
 */
typedef struct ulma_slot_header {
    _Atomic uint32_t state;   /* ULMA_SLOT_*; claimed by CAS FREE->ACTIVE */
    int32_t tid;              /* OS thread id of the writer */
    _Atomic uint32_t generation; /* bumped each time the slot is claimed */
    uint32_t pad0;
    char name[ULMA_THREAD_NAME_MAX];
    uint8_t pad1[64 - 16 - ULMA_THREAD_NAME_MAX];
    /* producer line */
    _Atomic uint64_t head;    /* bytes ever published (producer) */
    _Atomic uint64_t dropped; /* records dropped because the ring was full */
    _Atomic uint64_t blocked_ns; /* time spent waiting in blocking mode */
    uint8_t pad2[64 - 24];
    /* consumer line */
    _Atomic uint64_t tail;    /* bytes ever consumed (consumer) */
    uint8_t pad3[64 - 8];
} ulma_slot_header_t;

_Static_assert(sizeof(ulma_slot_header_t) <= ULMA_SLOT_HEADER_BYTES, "slot header fits");

/* Process-local handle on a segment the caller created (writer side). */
typedef struct ulma_segment ulma_segment_t;

typedef struct ulma_segment_opts {
    const char *dir;     /* NULL: $ULMA_DIR, else ULMA_DEFAULT_DIR */
    uint32_t nslots;     /* 0: $ULMA_SLOTS or ULMA_DEFAULT_SLOTS */
    uint32_t ring_bytes; /* 0: $ULMA_RING_SIZE or ULMA_DEFAULT_RING_BYTES; rounded up to 2^n */
    const char *exe;     /* shown to people; may be NULL */
    int32_t mpi_rank, mpi_size; /* -1 / 0 if unknown */
    const char *job;     /* may be NULL */
    uint64_t calib_window_ns; /* 0: no sleep (ulma_clock_calibrate) */
    int32_t reader_pid;  /* agent reserved to drain it (a private agent), 0: any */
} ulma_segment_opts_t;

/* Fill `o` with defaults (everything unknown, environment consulted at
 * create time). */
void ulma_segment_opts_init(ulma_segment_opts_t *o);

/* Directory ULMA uses when the caller names none: $ULMA_DIR or /dev/shm. */
const char *ulma_default_dir(void);

/* Create this process's segment. Returns 0 and sets *out (caller owns it),
 * or -errno. Never leaves a half-made file behind. */
int ulma_segment_create(const ulma_segment_opts_t *opts, ulma_segment_t **out);

/* The mapped header (for the control word, identity updates). */
ulma_seg_header_t *ulma_segment_header(ulma_segment_t *seg);

/* Writer side: take a second (cycles, ns) pair and, once the pairs are
 * ULMA_CALIB_MIN_PAIR_NS apart, store their rate as cycles_per_sec; does
 * nothing after ULMA_CALIB_REFINE_NS (the rate is fixed then). Cheap (a
 * few clock reads, no system call): called by the process's watcher and at
 * its exit, one caller at a time. */
void ulma_segment_calib_refresh(ulma_seg_header_t *h);

/* Path of the segment file. Owned by seg. */
const char *ulma_segment_path(const ulma_segment_t *seg);

/* The layout the writer made: its slots, each ring's bytes, and slot i
 * (its ulma_slot_header_t, the ring data after it), or NULL past the last.
 * From the writer's own copy, never from the header, which other processes
 * can write to. */
uint32_t ulma_segment_nslots(const ulma_segment_t *seg);
uint32_t ulma_segment_ring_bytes(const ulma_segment_t *seg);
uint8_t *ulma_segment_slot(ulma_segment_t *seg, uint32_t i);

/* Mark the segment exited and unmap it. The file stays for the agent to
 * drain unless `unlink_file`. NULL-safe; nulls *seg_p. */
void ulma_segment_destroy(ulma_segment_t **seg_p, int unlink_file);

/* Forget the mapping without touching the file: for a fork()ed child,
 * which must make its own segment. NULL-safe; nulls *seg_p. */
void ulma_segment_abandon(ulma_segment_t **seg_p);

/* Build the file name of a segment; returns snprintf's result. */
int ulma_segment_name(char *buf, size_t len, const char *dir, uint32_t uid, int32_t pid,
                      uint64_t start_time);

/* Parse a segment file name (no directory). Returns 0 on success. */
int ulma_segment_parse_name(const char *name, uint32_t *uid, int32_t *pid, uint64_t *start_time);

/* Start time (clock ticks since boot, /proc/<pid>/stat field 22) of a
 * process, or 0 if it does not exist. */
uint64_t ulma_proc_start_time(int32_t pid);

/* Numeric field `field` (3..52, numbered as in proc(5)) of /proc/<pid>/stat,
 * or 0 if the process does not exist: 4 is the parent pid, 22 the start
 * time. */
uint64_t ulma_proc_stat_field(int32_t pid, int field);

#endif /* ULMA_SEGMENT_H */
