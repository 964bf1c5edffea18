/*
 * profile.h - one profiled process's aggregates, rebuilt from its records.
 *
 * prof_consume() is the agent's hot path: it walks a batch of records of
 * one thread slot, keeps that thread's shadow stack, and adds every
 * completed call into
 *
 *   - the function table (one row per code object / C function / MPI call,
 *     indexed by a dense "fidx"), with exactly cProfile's (_lsprof's)
 *     counting: ncalls, primitive calls, tottime, cumtime;
 *   - the caller -> callee edges ("subentries"), same rules on their own;
 *   - the calling context tree (CCT: one node per distinct call path);
 *   - object statistics per type and per constructing function, frees
 *     paired with constructions by address (a bounded set of the live
 *     objects born while recording);
 *   - drop / resynchronisation counters.
 *
 * Everything is a cumulative sum of integers (counts, cycles), so two
 * profiles of the same program are merged by adding rows that share a
 * name (file, line, function) and paths that share their sequence of names.
 * Cycles become seconds in one place, prof_sec(), with the segment's
 * calibration.
 *
 * The hot path touches only the shadow stack and the CCT: a call finds
 * the child node of the caller's node (inline children first), a return
 * adds count and cycles to its node. The function table and the edges are
 * derived from the CCT at report time (prof_derive). When the CCT is full
 * (prof_limits_t.max_cct_nodes), frames beyond it are accounted "flat",
 * exactly, with per-thread activation levels. Steady state allocates
 * nothing: ids map to rows through arrays indexed by id, and every table
 * only grows when a new function / path / edge is seen for the first
 * time. All ids come from an untrusted process and are bounded
 * (prof_limits_t); anything out of bounds is counted, never trusted.
 *
 * Frames still open (on a shadow stack) are not completed calls: the
 * derived numbers leave them out, exactly like cProfile's until they
 * return. Their part as of a given time (prof_derive_open) is kept
 * apart (prof_func_open, prof_sub_open, prof_node_open), so that a live
 * view can show cumulative time including the open frames, marked as
 * such, while the completed numbers stay cProfile's.
 *
 * The structures below are readable by the reporting code (report.c,
 * export.c); only profile.c changes them.
 */
#ifndef AGENT_PROFILE_H
#define AGENT_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "ulma/event.h"
#include "ulma/segment.h"

/* Namespaces of ids: each has its own id space in the records. */
enum { PROF_NS_CODE = 0, PROF_NS_CFUNC = 1, PROF_NS_MPI = 2, PROF_NS_COUNT = 3 };

/* fidx 0 is "[unknown]": frames whose identity was lost, and the CCT root. */
#define PROF_FIDX_UNKNOWN 0u

typedef struct prof_func {
    uint32_t ns, id;          /* identity in the records */
    /* cProfile's numbers, derived from the CCT (prof_derive) plus the
     * frames accounted flat after the CCT filled up */
    uint64_t callcount;       /* ncalls */
    uint64_t reccallcount;    /* ncalls - primitive calls */
    int64_t cum;              /* cumtime: cycles of outermost activations */
    int64_t own;              /* tottime: cycles in its own body */
    uint64_t mpi_bytes;       /* MPI rows: bytes moved */
    uint32_t first_sub;       /* first edge where this function is the caller */
    uint32_t pad;
    uint64_t flat_calls, flat_rec; /* the flat part (frames beyond the CCT) */
    int64_t flat_cum, flat_own;
    /* interval rates (prof_mark) */
    uint64_t mark_calls;
    int64_t mark_own, mark_cum;
    double rate_calls;        /* calls per second over the last interval */
    double rate_own;          /* tottime seconds per second over the last interval */
} prof_func_t;

typedef struct prof_sub {     /* caller -> callee edge (_lsprof subentry) */
    uint32_t caller, callee;  /* fidx */
    uint32_t next_of_caller;  /* next edge with the same caller, 0 ends */
    uint32_t pad;
    uint64_t callcount, reccallcount; /* derived, like prof_func_t */
    int64_t cum, own;
    uint64_t flat_calls, flat_rec;
    int64_t flat_cum, flat_own;
} prof_sub_t;

/* The open part of a function or an edge (prof_derive_open): its frames
 * still on a shadow stack, what closing them at `now` would add. Not part
 * of the completed numbers above. */
typedef struct prof_open {
    uint64_t calls;           /* activations open (on every thread's stack) */
    uint64_t rec;             /* ... of which are not the outermost of the
                               * function (the edge) on their thread: what
                               * closing them would add to reccallcount */
    int64_t cum;              /* cycles of the outermost open activation per
                               * thread, entry to `now` (adds to cumtime) */
    int64_t own;              /* cycles in the bodies of the open activations
                               * (adds to tottime) */
} prof_open_t;

/* Children kept inline in a node, looked up linearly before the map. */
#define PROF_KIDS 4

typedef struct prof_node {    /* calling context tree node: one cache line */
    uint32_t fidx, parent;
    uint64_t count;           /* completed calls on this path */
    int64_t own;              /* cycles in the function's body on this path */
    int64_t cum;              /* cycles including callees on this path */
    uint32_t kid_fidx[PROF_KIDS]; /* first children: function ... */
    uint32_t kid_node[PROF_KIDS]; /* ... and node (0: free) */
} prof_node_t;

enum { PROF_FRAME_C = 1u, PROF_FRAME_PLACEHOLDER = 2u, PROF_FRAME_FLAT = 4u };

typedef struct prof_frame {   /* shadow-stack entry, 32 bytes */
    uint32_t fidx;
    uint32_t node;            /* CCT node; FLAT frames: the caller->callee edge */
    uint32_t id;              /* the record's id (checked by the RETURN) */
    uint32_t flags;
    uint64_t t0;              /* cycle count at entry */
    int64_t subt;             /* cycles spent in completed callees */
} prof_frame_t;

typedef struct prof_thread {
    unsigned slot;
    int32_t tid;
    char name[ULMA_THREAD_NAME_MAX];
    prof_frame_t *stack;      /* stack[-1] is a sentinel for the root */
    uint32_t depth, cap;      /* frames on the shadow stack: the writer's depth
                               * (Python and C frames alike) */
    uint32_t mode;            /* last MODE record */
    /* activations per fidx / edge on this thread, kept only while FLAT
     * frames (beyond a full CCT) are on the stack */
    uint32_t *flevel;
    uint32_t flevel_cap;
    uint32_t *slevel;
    uint32_t slevel_cap;
    uint64_t first_tsc, last_tsc;
    uint64_t clock_tsc;       /* the latest frame record's time: later frame
                               * records are never taken as earlier */
    uint64_t last_drop_tsc;   /* time of the last DROP record */
    uint64_t events;          /* records consumed */
    uint64_t drop_events;     /* DROP records seen */
    uint64_t dropped;         /* records the writer lost (sum of DROP ids) */
    uint64_t resyncs;         /* times the shadow stack was repaired */
    uint64_t discarded;       /* frames thrown away unaccounted by a repair */
    uint64_t mismatches;      /* RETURNs whose id differed from the stack's */
    int ended;
    uint32_t claim;           /* the slot's claim generation it writes under */
    struct prof_thread *next; /* all threads of the process, newest first */
} prof_thread_t;

/* The open part of one call path (prof_derive_open): the frames on that
 * CCT node still on a stack (flat frames: on the overflow node). */
typedef struct prof_open_node {
    uint32_t node;
    uint32_t count;           /* frames open on this path (one per thread at most,
                               * except on the overflow node) */
    int64_t own;              /* cycles in their bodies */
    int64_t cum;              /* cycles from their entries to `now` */
} prof_open_node_t;

/* Object statistics per type id. Frees are paired with constructions by
 * address: for every type, news = frees + lost + untracked + live. */
typedef struct prof_type {
    uint64_t news;            /* constructions recorded */
    uint64_t frees;           /* frees of objects whose construction was
                               * recorded (born while recording) */
    uint64_t bytes_new, bytes_free; /* sizes of those news and frees */
    uint64_t frees_unborn;    /* frees of objects whose construction was not
                               * recorded (born before recording, while off,
                               * or beyond the live-object limit) */
    uint64_t bytes_free_unborn;
    uint64_t live;            /* born while recording, not freed: in the set */
    uint64_t bytes_live;      /* their sizes at construction */
    uint64_t lost;            /* born while recording, death not recorded:
                               * known dead because a new object of this or
                               * another type took its address, or a free of
                               * another type was recorded there */
    uint64_t untracked;       /* constructions not kept in the set (it was
                               * full: prof_limits_t.max_live_objects, or a
                               * null address); their frees count as unborn */
} prof_type_t;

typedef struct prof_objsite { /* constructions per (function, type) */
    uint32_t fidx, type_id;
    uint64_t count, bytes;
    uint64_t frees;           /* frees paired with constructions of this site */
    uint64_t live;            /* constructions of this site still live */
    uint64_t bytes_live;      /* their sizes at construction */
} prof_objsite_t;

/* The live objects born while recording, per process: open addressing
 * (linear probing, deletion by backward shift, a hash seeded per process)
 * from address to site. An entry with PROF_OBJ_PENDING set is not a live
 * object but a free that found no construction, kept a short while in
 * case the construction arrives later from another thread's ring: its
 * details are in the ring pend[] at its sequence number; once the ring
 * has gone round (pend_seq - seq > pend_cap) the entry is stale: free for
 * reuse, removed when the set fills. */
#define PROF_OBJ_PENDING 0x80000000u
typedef struct prof_objent {  /* one slot, 16 bytes: one cache access */
    uint64_t addr;            /* 0: empty (a null address is never kept) */
    uint32_t val;             /* site, or PROF_OBJ_PENDING */
    uint32_t size;            /* bytes at construction (saturated); pending
                               * frees: their sequence number */
} prof_objent_t;
typedef struct prof_pending_free {
    uint64_t addr, size, tsc;
    uint32_t type_id, pad;
} prof_pending_free_t;

typedef struct prof_objset {
    prof_objent_t *ents;
    uint64_t seed;            /* of the hash, so that addresses cannot be
                               * chosen to collide */
    uint32_t cap, n;          /* slots (a power of two), occupied (live
                               * objects, pending frees, stale entries) */
    uint32_t nlive;           /* live objects */
    prof_pending_free_t *pend; /* ring of pending frees, by sequence number
                               * modulo pend_cap (a power of two) */
    uint32_t pend_cap;
    uint32_t pend_seq;        /* pending frees so far (wraps) */
} prof_objset_t;

typedef struct prof_name {    /* a definition record, stored */
    uint32_t name_off, file_off; /* into prof_t.strings; 0 = not defined */
    uint32_t name_len, file_len;
    uint32_t line;
    uint32_t defined;
} prof_name_t;

/* One of the latest object constructions, kept in a window per process. */
#define PROF_RECENT 512
typedef struct prof_recent {
    uint64_t tsc;
    uint64_t size;
    uint32_t type_id, fidx;
} prof_recent_t;

typedef struct prof_limits {
    uint32_t max_id;          /* ids >= this are counted as out of range */
    uint32_t max_cct_nodes;   /* beyond: new paths share one overflow node */
    uint32_t max_stack;       /* shadow-stack depth bound per thread */
    uint32_t max_threads;     /* thread records kept per process */
    uint32_t max_live_objects; /* live objects paired per process; beyond,
                               * constructions are counted as untracked (the
                               * set takes at most 16 bytes x the power of
                               * two >= 2 x (this + max_pending_frees)) */
    uint32_t max_pending_frees; /* frees awaiting a construction from another
                               * thread's ring, per process (rounded down
                               * to a power of two) */
    uint32_t max_sites;       /* (function, type) construction sites per
                               * process; beyond, a new site's constructions
                               * go to the type's [unknown] site */
    uint32_t max_type_id;     /* object records of type ids >= this are
                               * counted as out of range (types[] is indexed
                               * by type id) */
} prof_limits_t;

typedef struct prof_hmap {    /* open addressing, u64 key -> u32 value */
    uint64_t *keys;
    uint32_t *vals;
    uint32_t cap, n;
} prof_hmap_t;

typedef struct prof {
    prof_limits_t lim;
    uint64_t hz;              /* cycles per second (segment calibration) */
    int32_t clock_drift_ppm;  /* the clock against CLOCK_MONOTONIC_RAW over
                               * the agent's watch of it (proctab.c) */
    /* id -> fidx, per namespace (0 = not seen yet) */
    uint32_t *map[PROF_NS_COUNT];
    uint32_t map_cap[PROF_NS_COUNT];
    /* definitions per namespace, indexed by id */
    prof_name_t *names[PROF_NS_COUNT];
    uint32_t names_cap[PROF_NS_COUNT];
    prof_name_t *type_names;
    uint32_t type_names_cap;
    char *strings;
    size_t strings_len, strings_cap;
    /* tables */
    prof_func_t *funcs;
    uint32_t nfuncs, funcs_cap;
    prof_sub_t *subs;
    uint32_t nsubs, subs_cap;
    prof_hmap_t sub_map;      /* caller<<32|callee -> sub */
    prof_node_t *nodes;       /* 64-byte aligned */
    uint32_t nnodes, nodes_cap;
    uint32_t *node_sub;       /* edge parent->node per node (0: none) */
    prof_hmap_t node_map;     /* parent<<32|fidx -> node, beyond PROF_KIDS */
    uint32_t overflow_node;   /* 0 until the CCT is full; then the path of
                               * every frame accounted flat */
    uint64_t gen, derived_gen; /* changes consumed / last derived */
    prof_type_t *types;
    uint32_t types_cap;
    prof_objsite_t *sites;
    uint32_t nsites, sites_cap;
    prof_hmap_t site_map;     /* fidx<<32|type -> site */
    prof_objset_t objs;       /* live objects by address */
    uint64_t obj_untracked;   /* constructions beyond max_live_objects */
    uint64_t obj_site_overflows; /* constructions beyond max_sites */
    uint64_t obj_paired_late; /* frees paired with a construction read after
                               * them (another thread's ring) */
    /* the open part (prof_derive_open): per function and edge (allocated
     * at the first derivation), and of call paths, sorted by node */
    prof_open_t *open_funcs, *open_subs;
    uint32_t open_nfuncs, open_funcs_cap, open_nsubs, open_subs_cap;
    prof_open_node_t *open_nodes;
    uint32_t nopen_nodes, open_nodes_cap;
    uint64_t open_gen;        /* gen when the open part was derived */
    uint64_t open_now;        /* its `now` (0: each thread's last record) */
    /* threads by slot (current owner) and all of them */
    prof_thread_t **slot_thread;
    unsigned nslots;
    prof_thread_t *threads;
    uint32_t nthreads;
    /* counters */
    uint64_t events;
    uint64_t bad_records;     /* malformed payloads, unknown kinds */
    uint64_t ids_out_of_range;
    uint64_t cct_overflows;
    uint64_t stack_overflows;
    uint64_t threads_dropped; /* beyond max_threads */
    uint64_t threads_unended; /* ended without a THREAD_END (slot claimed again) */
    uint64_t writer_dropped;  /* records the writer dropped, from the slot
                               * headers' counters (set by whoever reads the
                               * segment; exact even when no DROP record
                               * followed the loss) */
    uint64_t handover_lost;   /* records a reader before us read from the
                               * rings and died before reporting (set at
                               * the claim, proctab_add) */
    uint64_t first_tsc, last_tsc;
    uint64_t mark_ns;         /* time of the last prof_mark */
    /* the latest PROF_RECENT constructions: recent[(recent_n - k) % PROF_RECENT]
     * is the k-th latest, for k = 1 .. min(recent_n, PROF_RECENT) */
    prof_recent_t recent[PROF_RECENT];
    uint64_t recent_n;
} prof_t;

/* Defaults for prof_new(NULL limits). */
void prof_limits_default(prof_limits_t *l);

/* A new empty profile for a segment of `nslots` thread slots. Caller owns
 * the return value (free with prof_destroy). Aborts on OOM. */
prof_t *prof_new(const prof_limits_t *lim, unsigned nslots);
void prof_destroy(prof_t **p_p);

/* Consume a batch of records of slot `slot` (an ulma_batch_fn). `tid` and
 * `name` identify the slot's current thread when a new one starts there
 * (may be 0 / NULL). Returns 0, or -1 if the batch was malformed (records
 * before the bad one are consumed). */
int prof_consume(prof_t *p, unsigned slot, const ulma_rec_t *recs, size_t nunits);

/* Give the slot's thread its OS identity (from the slot header) and the
 * slot's claim generation it writes under. */
void prof_slot_identity(prof_t *p, unsigned slot, int32_t tid, const char *name, uint32_t claim);

/* The slot was claimed again (its generation moved) while its thread had
 * not ended: that thread's THREAD_END was lost. End it where its records
 * end, so that the new claim's records start a thread of their own. */
void prof_slot_reclaimed(prof_t *p, unsigned slot);

/* The process ended: close every open frame at its thread's last record,
 * like cProfile closes unmatched frames when it is disabled. */
void prof_finish(prof_t *p);

/* Fill the function table and the edges (callcount, reccallcount, cum, own)
 * from the CCT, with _lsprof's rules: a node's calls are recursive when an
 * ancestor has the same function (the same edge, for edges), cumulative
 * time counts the outermost activations only; plus the flat part. Cached:
 * does nothing if nothing was consumed since. */
void prof_derive(prof_t *p);

/* Fill the open part of every function, edge and call path (prof_func_open,
 * prof_sub_open, prof_node_open) from the frames still on the shadow stacks, as
 * of cycle count `now` (ulma_clock_read() of this node, the writers'
 * clock; 0: each thread's last record, as for a process that ended). A
 * thread whose last record is later than `now` is taken at its last
 * record. The rules are _lsprof's for frames that would return at `now`
 * (what closing them then, like cProfile's disable(), would add): open_cum
 * counts the outermost open activation of a function (an edge) per thread
 * from its entry, open_own the body time of every open frame, open_calls
 * the activations open. The completed numbers (prof_derive) are not
 * changed. Frames whose CALL was lost (placeholders) are left out, as
 * closing does. Not cached: O(frames on the stacks + functions + edges);
 * the values are those of this call until the next one. */
void prof_derive_open(prof_t *p, uint64_t now);

/* The open part of function `fidx` / edge `sub` as of the last
 * prof_derive_open (all zero before it, and for functions and edges seen
 * since). Pointer into p (or to a constant), valid until the next
 * prof_derive_open. Never NULL. */
const prof_open_t *prof_func_open(const prof_t *p, uint32_t fidx);
const prof_open_t *prof_sub_open(const prof_t *p, uint32_t sub);

/* The open part of call path `node` as of the last prof_derive_open, or
 * NULL if no frame was open on it. Pointer into p, valid until the next
 * prof_derive_open. */
const prof_open_node_t *prof_node_open(const prof_t *p, uint32_t node);

/* Start a new rate interval at `now_ns` (monotonic): rates become the
 * change since the previous mark divided by the time between marks. */
void prof_mark(prof_t *p, uint64_t now_ns);

/* Seconds from cycles: the one conversion (ulma_cycles_to_sec, p->hz). */
double prof_sec(const prof_t *p, int64_t cycles);

/* Name, file and line of a row, as cProfile labels it: Python functions
 * (file, firstline, co_name), C functions ("~", 0, name). `qualname` gets the
 * full qualified name. Pointers into p, valid until the next consume. */
typedef struct prof_label {
    const char *file;
    size_t file_len;
    const char *name;      /* co_name: last component of the qualified name */
    size_t name_len;
    const char *qualname;
    size_t qualname_len;
    uint32_t line;
    int defined;
    char buf[48];          /* holds the name of an undefined id */
} prof_label_t;
void prof_func_label(const prof_t *p, uint32_t fidx, prof_label_t *out);

/* Name of an object type / MPI call; "" if undefined. */
const char *prof_type_name(const prof_t *p, uint32_t type_id, size_t *len);

/* Totals in the cProfile sense (as of the last prof_derive). */
uint64_t prof_total_calls(const prof_t *p);
uint64_t prof_prim_calls(const prof_t *p);
int64_t prof_total_own(const prof_t *p);       /* sum of tottime cycles */
/* Sum of the functions' open `own` (as of the last prof_derive_open): add
 * to prof_total_own for the time including open frames. */
int64_t prof_total_open_own(const prof_t *p);
int64_t prof_span(const prof_t *p);            /* last - first record, cycles */
/* Records lost: by the writer, the slot counters (writer_dropped) when
 * known, never less than what the DROP records said; plus those a dead
 * reader before us had read and never reported (handover_lost). */
uint64_t prof_total_dropped(const prof_t *p);
uint64_t prof_total_resyncs(const prof_t *p);

#endif /* AGENT_PROFILE_H */
