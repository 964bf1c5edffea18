/*
 * profile.h - "a profile": the one data type of every table and export,
 * whether it describes one process, one node's job, one MPI job or the
 * whole cluster.
 *
 * A profile holds rows keyed by cProfile's label (file, line, co_name):
 * functions, caller -> callee edges, call paths (a tree of rows), object
 * statistics per type name and per constructing function, what was lost,
 * and who it describes. Every number is a cumulative sum of integers
 * (counts, nanoseconds), so profiles merge by adding rows with the same
 * label (profile_merge) and the sums are exact: a job's total is the sum
 * of its ranks' totals to the nanosecond.
 *
 * Names of the time fields, everywhere: `tottime` is the time in the
 * function's own body, `cumtime` the time including its callees, both as
 * pstats means them (cumtime counts the outermost activation of a
 * recursive function only). The `open_*` fields are the part of frames
 * still running when the profile was taken (a live process): not included
 * in ncalls/tottime/cumtime, shown next to them and marked.
 *
 * Indices: funcs, edges, paths, types and sites are arrays; a row is named
 * by its index. Index 0 of paths is the root (no function). Strings are
 * owned by the profile and stay valid until it is destroyed.
 */
#ifndef PROFILE_PROFILE_H
#define PROFILE_PROFILE_H

#include <stddef.h>
#include <stdint.h>

/* What a row is; the same numbers as the agent's namespaces. */
typedef enum pf_kind {
    PF_KIND_PYTHON = 0,
    PF_KIND_C = 1,
    PF_KIND_MPI = 2,
    PF_KIND_UNKNOWN = 3,
} pf_kind_t;

typedef struct pf_str {
    const char *s; /* not NUL-terminated in general; never NULL */
    uint32_t len;
} pf_str_t;

/* The numbers pstats keeps per function and per edge. */
typedef struct pf_counts {
    uint64_t ncalls;     /* all calls */
    uint64_t pcalls;     /* primitive calls (not recursive) */
    int64_t tottime_ns;  /* own time */
    int64_t cumtime_ns;  /* time including callees, outermost activations */
} pf_counts_t;

/* Sums of counts and times saturate instead of overflowing: the numbers
 * come from other processes and may be absurd, never undefined. */
static inline int64_t pf_sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static inline uint64_t pf_sat_addu(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* The part of frames still open: how many activations, and their time. */
typedef struct pf_open {
    uint64_t calls;
    int64_t tottime_ns, cumtime_ns;
} pf_open_t;

typedef struct pf_func {
    pf_str_t file;       /* co_filename; "~" for C functions and MPI calls */
    pf_str_t name;       /* co_name: what pstats labels the row with */
    pf_str_t qualname;   /* the full qualified name */
    uint32_t line;       /* co_firstlineno; 0 for C functions */
    uint32_t kind;       /* pf_kind_t */
    pf_counts_t c;
    pf_open_t open;
    uint64_t mpi_bytes;  /* MPI rows: bytes moved */
    double rate_calls;   /* calls per second over the last interval */
    double rate_tottime; /* own seconds per second over the last interval */
    char *std;           /* pstats func_std_string */
} pf_func_t;

typedef struct pf_edge {
    uint32_t caller, callee; /* funcs */
    pf_counts_t c;
} pf_edge_t;

typedef struct pf_path {
    uint32_t parent;     /* paths; 0 = a root path */
    uint32_t func;       /* funcs */
    uint64_t count;      /* completed calls on this path */
    int64_t tottime_ns, cumtime_ns;
    pf_open_t open;
} pf_path_t;

typedef struct pf_frame {
    uint32_t func;       /* funcs, or UINT32_MAX: identity unknown */
    int64_t for_ns;      /* time since the frame was entered */
} pf_frame_t;

typedef struct pf_thread {
    int32_t tid;
    uint32_t slot;
    char name[32];
    int ended;
    uint32_t mode;       /* mode of its last MODE record (ulma_mode_t) */
    uint64_t events, records_lost, stack_repairs;
    uint32_t depth;      /* frames open now */
    int64_t time_ns;     /* first to last record */
    pf_frame_t *stack;   /* innermost first; nstack <= depth */
    uint32_t nstack;
} pf_thread_t;

typedef struct pf_type {
    pf_str_t name;
    uint64_t news, frees;   /* frees: of objects made while recording */
    uint64_t frees_unborn;  /* frees of objects made before recording */
    uint64_t lost;          /* made while recording, their end not seen (the
                             * address was reused, or they were not tracked):
                             * news = frees + lost + live */
    uint64_t bytes_new, bytes_freed;
    uint64_t bytes_live;    /* sizes of the live ones, at construction */
} pf_type_t;

/* Objects of a type made while recording and not freed. */
static inline uint64_t pf_type_live(const pf_type_t *t)
{
    uint64_t gone = t->frees + t->lost;
    return t->news > gone ? t->news - gone : 0;
}

typedef struct pf_site {
    uint32_t func, type;    /* funcs (UINT32_MAX: unknown), types */
    uint64_t count, bytes;  /* constructions */
    uint64_t live, bytes_live; /* of them, still live */
} pf_site_t;

/* d += s, saturating. */
static inline void pf_counts_add(pf_counts_t *d, const pf_counts_t *s)
{
    d->ncalls = pf_sat_addu(d->ncalls, s->ncalls);
    d->pcalls = pf_sat_addu(d->pcalls, s->pcalls);
    d->tottime_ns = pf_sat_add(d->tottime_ns, s->tottime_ns);
    d->cumtime_ns = pf_sat_add(d->cumtime_ns, s->cumtime_ns);
}

/* What the table header says records were lost to: a full ring, or
 * records an agent read but died before reporting (taken over). */
#define PF_LOST_WHY "ring full or agent restart"

/* Everything counted as lost or repaired. */
typedef struct pf_drops {
    uint64_t records_lost;      /* records the writer could not store */
    uint64_t drop_events;       /* DROP records seen */
    uint64_t stack_repairs;
    uint64_t frames_discarded;
    uint64_t return_mismatches;
    uint64_t malformed_records;
    uint64_t ids_out_of_range;
    uint64_t cct_overflows;
    uint64_t stack_overflows;
    uint64_t threads_dropped;
    uint64_t threads_unended;   /* ended without their THREAD_END (ring full) */
    uint64_t corrupt;           /* batches / slots the reader rejected */
    uint64_t threads_lost;      /* threads that found no slot */
    uint64_t objects_untracked; /* frees unmatched because the live set was full */
} pf_drops_t;

/* pf_meta_t.hook_status bits, as the process says (ULMA_HOOK_*). */
#define PF_HOOK_DISPLACED 0x1u /* its own profile function displaces ours now */
#define PF_HOOK_COUNT_SHIFT 16 /* bits 16-31: times it did (saturating) */
static inline uint32_t pf_hook_displacements(uint32_t hook_status)
{
    return hook_status >> PF_HOOK_COUNT_SHIFT;
}

/* Process states, as the segment says (ULMA_SEG_*). */
enum { PF_STATE_INIT = 0, PF_STATE_LIVE = 1, PF_STATE_EXITED = 2 };

/* Who the profile describes. For a merged profile: the processes merged
 * (nprocs), the ranks' job, and sums; pid etc. of the first. */
typedef struct pf_meta {
    int32_t pid;
    uint32_t uid;
    char host[64];
    char exe[256];
    int32_t rank, size;         /* -1 / 0 if unknown */
    char job[64];
    uint64_t start_time;        /* /proc stat field 22 */
    uint64_t created_ns;        /* CLOCK_REALTIME at segment creation */
    uint32_t state;             /* PF_STATE_*; merged: LIVE if any is live */
    uint32_t active_mode;       /* ulma_mode_t | ULMA_CTL_OBJECTS bits */
    uint32_t hook_status;       /* ULMA_HOOK_* bits of the process */
    uint64_t hz;                /* cycles per second of its clock */
    int32_t clock_drift_ppm;    /* the clock's rate over the run against
                                 * CLOCK_MONOTONIC_RAW, minus the calibration
                                 * (ppm; merged: the largest in magnitude) */
    uint64_t events;            /* records consumed */
    int64_t span_ns;            /* first to last record; merged: the longest */
    uint32_t nprocs;            /* processes in this profile */
    int live;                   /* taken while the process ran: open_* are set */
} pf_meta_t;

/* |clock_drift_ppm| from which a table warns that its times are off. */
#define PF_CLOCK_DRIFT_WARN_PPM 10000

/* Of two processes' clock drifts, the one a merged profile keeps: the
 * larger in magnitude. */
static inline int32_t pf_clock_drift_merge(int32_t a, int32_t b)
{
    return (int64_t)b * b > (int64_t)a * a ? b : a;
}

typedef struct profile profile_t;

/* A new empty profile. Caller owns the return value. Aborts on OOM. */
profile_t *profile_new(void);
/* NULL-safe; nulls *p_p. */
void profile_destroy(profile_t **p_p);

/* ---- reading ------------------------------------------------------------------ */

pf_meta_t *profile_meta(profile_t *p);
const pf_meta_t *profile_meta_c(const profile_t *p);
const pf_drops_t *profile_drops(const profile_t *p);
pf_drops_t *profile_drops_w(profile_t *p);

uint32_t profile_nfuncs(const profile_t *p);
const pf_func_t *profile_func(const profile_t *p, uint32_t i);
uint32_t profile_nedges(const profile_t *p);
const pf_edge_t *profile_edge(const profile_t *p, uint32_t i);
uint32_t profile_npaths(const profile_t *p); /* includes the root, index 0 */
const pf_path_t *profile_path(const profile_t *p, uint32_t i);
/* Paths from a root to `path` into out[] (at most cap), root first;
 * returns the count. */
uint32_t profile_path_chain(const profile_t *p, uint32_t path, uint32_t *out, uint32_t cap);
/* The standard name of function row `func`, "[unknown]" if there is none. */
const char *profile_func_std(const profile_t *p, uint32_t func);
uint32_t profile_nthreads(const profile_t *p);
const pf_thread_t *profile_thread(const profile_t *p, uint32_t i);
uint32_t profile_ntypes(const profile_t *p);
const pf_type_t *profile_type(const profile_t *p, uint32_t i);
uint32_t profile_nsites(const profile_t *p);
const pf_site_t *profile_site(const profile_t *p, uint32_t i);

/* Edges into `func` (callers) or out of it (callees): a list of edge
 * indices, valid until the profile changes. */
const uint32_t *profile_callers(const profile_t *p, uint32_t func, uint32_t *n);
const uint32_t *profile_callees(const profile_t *p, uint32_t func, uint32_t *n);

/* Totals in the cProfile sense: every row summed. */
typedef struct pf_totals {
    uint64_t calls, pcalls;
    int64_t tottime_ns;     /* the "in X seconds" figure */
    int64_t open_tottime_ns;
} pf_totals_t;
void profile_totals(const profile_t *p, pf_totals_t *t);

/* ---- building ----------------------------------------------------------------- */

/* The row labelled (file, line, name): found, or added with zero counts.
 * `qualname` (may be NULL: = name) and `kind` are taken from the first
 * caller that adds the row. Strings are copied. Returns its index. */
uint32_t profile_add_func(profile_t *p, const char *file, size_t file_len, uint32_t line,
                          const char *name, size_t name_len, const char *qualname,
                          size_t qualname_len, uint32_t kind);
/* The row labelled (file, line, name), or UINT32_MAX: a lookup that adds
 * nothing. */
uint32_t profile_lookup(const profile_t *p, const char *file, size_t file_len, uint32_t line,
                        const char *name, size_t name_len);
/* The row with the same label as `f` of another profile, or UINT32_MAX. */
uint32_t profile_lookup_like(const profile_t *p, const pf_func_t *f);
/* Row with the same label as `f` of another profile. */
uint32_t profile_add_func_like(profile_t *p, const pf_func_t *f);
pf_func_t *profile_func_w(profile_t *p, uint32_t i);

uint32_t profile_add_edge(profile_t *p, uint32_t caller, uint32_t callee);
pf_edge_t *profile_edge_w(profile_t *p, uint32_t i);

/* The path `func` under path `parent` (0: a root path). */
uint32_t profile_add_path(profile_t *p, uint32_t parent, uint32_t func);
pf_path_t *profile_path_w(profile_t *p, uint32_t i);

/* A thread (single-process profiles); its stack has room for `nstack`
 * frames. */
pf_thread_t *profile_add_thread(profile_t *p, uint32_t nstack);

uint32_t profile_add_type(profile_t *p, const char *name, size_t len);
pf_type_t *profile_type_w(profile_t *p, uint32_t i);
uint32_t profile_add_site(profile_t *p, uint32_t func, uint32_t type);
pf_site_t *profile_site_w(profile_t *p, uint32_t i);

/* Add `src` into `dst`: rows by label, edges by their rows' labels, paths
 * by their sequence of labels, types by name, sites by (function, type);
 * drops and events summed; meta merged (nprocs summed, the longest span,
 * live if either is live). Threads are not merged (they belong to one
 * process). `src` is unchanged. */
void profile_merge(profile_t *dst, const profile_t *src);

/* Exactly `src`'s rows, in its order (threads included). Caller owns the
 * return value. */
profile_t *profile_copy(const profile_t *src);

/* Name of a kind ("python", "c", "mpi", "unknown"), of a mode ("off",
 * "fast", "full"), of a state ("init", "live", "exited"). */
const char *profile_kind_name(uint32_t kind);
const char *profile_mode_name(uint32_t active_mode);
const char *profile_state_name(uint32_t state);

#endif /* PROFILE_PROFILE_H */
