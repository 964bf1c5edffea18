/*
 * store_int.h - the store's structures, shared by the collector's own
 * modules (store.c builds them; view.c, query.c, metrics.c and dump.c
 * read them). Nothing outside collector/ includes this.
 *
 * Memory per process row: 32 bytes (pf_counts_t: ncalls, pcalls, tottime,
 * cumtime), dense by the session's name index; a session holds 4 bytes
 * per name (its global id) and a reverse map for lookups by global id.
 * Aggregates are 64 bytes per function (counts, open part, MPI bytes) in
 * the cluster (dense by global id) and in each job (by slot).
 */
#ifndef COLLECTOR_STORE_INT_H
#define COLLECTOR_STORE_INT_H

#include "maps.h"
#include "profile/profile.h"
#include "store.h"

#define STORE_NAME_MAX 255u     /* node, host, version, job, exe strings */
#define STORE_PATH_MAX 4096u    /* file names, dirs */
#define STORE_FUNC_MAX 1024u    /* function names */

/* A function label, interned once for the whole collector. */
typedef struct gfunc {
    char *file, *name, *qualname; /* qualname NULL: = name */
    uint32_t line, kind;
    uint32_t next;                /* same hash: next gid + 1 */
} gfunc_t;

/* Aggregate row (cluster, job). */
typedef struct arow {
    pf_counts_t c;
    pf_open_t open;
    uint64_t mpi_bytes;
} arow_t;

typedef struct pathv {
    uint64_t count;
    int64_t tottime_ns, cumtime_ns;
} pathv_t;

/* A sparse row by global id: a retired session's numbers. */
typedef struct srow {
    uint32_t gid;
    pf_counts_t c;
    uint64_t mpi_bytes;
} srow_t;

typedef struct sedge {
    uint32_t id;
    pf_counts_t c;
} sedge_t;

typedef struct spath {
    uint32_t id;
    pathv_t v;
} spath_t;

/* Rows of a sparse aggregate by key (job functions, edges, paths). */
typedef struct sagg {
    map_t map;      /* key -> slot + 1 */
    uint32_t *key;  /* slot -> key */
    void *rows;     /* slot -> row */
    uint32_t n, cap;
    size_t rsize;
} sagg_t;

typedef struct openrow {
    uint32_t idx;   /* session name index */
    pf_open_t o;
} openrow_t;

typedef struct mpirow {
    uint32_t idx;
    uint64_t bytes;
} mpirow_t;

typedef struct otype {
    char *name;
    uint64_t v[5]; /* news, frees, frees_unborn, bytes_new, bytes_freed */
} otype_t;

typedef struct node node_t;
typedef struct session session_t;
typedef struct job job_t;

typedef struct proc {
    /* what a scan over every process reads first: one cache line */
    node_t *node;
    session_t *sess;        /* NULL: detached (its agent no longer holds it) */
    pf_counts_t *rows;      /* by sess name index */
    srow_t *base;           /* by gid, ascending: numbers of earlier sessions */
    uint32_t nrows, nbase;
    job_t *job;
    uint32_t node_pos, job_pos;
    pf_meta_t m;
    uint32_t threads;
    pf_drops_t drops;
    pf_counts_t tot;        /* every row summed (base + current) */
    openrow_t *open;
    uint32_t nopen;
    mpirow_t *mpi;          /* ascending idx */
    uint32_t nmpi;
    otype_t *types;
    uint32_t ntypes;
    int exited;             /* final: detached or said exited */
    uint64_t exited_ns;     /* when it became final (monotonic) */
    uint64_t events_prev;   /* for events/s */
    double events_per_s;
    struct proc *hnext;     /* same (node, pid, start) hash */
} proc_t;

/* Edges and paths of one job's processes on one node. */
typedef struct group {
    node_t *node;
    job_t *job;
    session_t *sess;        /* the session its cur rows belong to, or NULL */
    pf_counts_t *edges;     /* by sess edge index */
    uint32_t nedges;
    pathv_t *paths;         /* by sess path index */
    uint32_t npaths;
    uint32_t *eslot, *pslot; /* sess edge / path index -> the job aggregate's slot (UINT32_MAX: not yet) */
    uint32_t eslot_cap, pslot_cap;
    sedge_t *bedges;        /* base, by global edge id */
    uint32_t nbedges;
    spath_t *bpaths;
    uint32_t nbpaths;
} group_t;

/* Per (session, job): the job aggregate's slot for each session name. */
typedef struct jcache {
    job_t *job;
    uint32_t *slot;         /* by name index; UINT32_MAX: not yet */
    uint32_t cap;
} jcache_t;

struct session {
    uint64_t id;
    node_t *node;
    uint64_t seq;           /* last applied */
    int waiting;            /* a snapshot was asked for */
    int waiting_full;
    uint64_t asked_ns;
    uint64_t snapshot_ns;   /* the last snapshot applied */
    uint32_t *gid;          /* name index -> global function id */
    uint32_t nnames, names_cap;
    map_t rev;              /* gid -> name index + 1 */
    uint32_t *geid;         /* edge index -> global edge id */
    uint32_t nedges, edges_cap;
    uint32_t *gpid;         /* path index -> global path id */
    uint32_t npaths, paths_cap;
    jcache_t *jc;
    uint32_t njc, jc_cap;
    uint64_t interval_ns;
};

/* REFUSED: reports keep arriving but none could be applied since a refusal
 * (its numbers are frozen at the last report applied; the reason is in
 * node_t.refused_why). */
enum { NODE_UP = 0, NODE_STALE = 1, NODE_GONE = 2, NODE_REFUSED = 3 };

typedef struct hpoint {
    uint64_t wall_ns;
    float events_per_s, calls_per_s, cpu_per_s;
    uint64_t records_lost;
} hpoint_t;

typedef struct history {
    hpoint_t *p;
    uint32_t cap, n, head; /* ring: oldest at (head - n) */
} history_t;

struct node {
    char *name, *host, *agent_version, *dir;
    uint32_t cpus;
    int32_t agent_pid;
    uint64_t agent_start_ns;
    session_t *sess;
    proc_t **procs;
    uint32_t nprocs, procs_cap;
    group_t **groups;
    uint32_t ngroups, groups_cap;
    unsigned char peer[256];
    size_t peer_len;
    uint64_t last_ns, first_ns, wall_ns, interval_ns;
    uint64_t reports, gaps, snapshots_asked;
    uint64_t negative_times;  /* rows received with a negative time (accepted) */
    uint64_t refused;         /* its reports refused (every reason) */
    int refused_pending;      /* a report was refused since the last one applied */
    store_bad_t refused_why;  /* the last refusal's reason */
    uint64_t refused_ns;      /* when (monotonic) */
    int state;
    uint64_t state_ns;       /* when it became gone */
    Ulma__Wire__AgentCounters counters;
    pf_counts_t tot;         /* its processes' rows summed */
    /* per tick */
    uint64_t events_prev, calls_prev;
    int64_t cpu_prev;
    double events_per_s, calls_per_s, cpu_per_s;
    history_t hist;
    uint32_t pos;            /* in store->nodes */
    node_t *hnext;
};

/* Rates over a window: cumulative (ncalls, tottime) sampled each tick. */
typedef struct rates {
    uint64_t *wall;          /* per sample */
    struct rsample { uint64_t ncalls; int64_t tottime_ns; } **s; /* per sample, by row */
    uint32_t *len;           /* rows in each sample */
    uint32_t cap, n, head;
} rates_t;

struct job {
    char *name;
    proc_t **procs;
    uint32_t nprocs, procs_cap, nlive;
    sagg_t fn;               /* gid -> arow_t */
    sagg_t edges;            /* global edge id -> pf_counts_t */
    sagg_t paths;            /* global path id -> pathv_t */
    uint64_t ended_ns;       /* no live process since (0: live) */
    rates_t rates;           /* by slot of fn */
    uint32_t pos;
    job_t *hnext;
};

struct store {
    store_config_t cfg;
    store_stats_t st;
    /* global interning */
    gfunc_t *funcs;
    uint32_t nfuncs, funcs_cap;
    map_t fmap;              /* label hash -> gid + 1 (chained by gfunc.next) */
    uint64_t *edge_key;      /* global edge id -> caller << 32 | callee */
    uint32_t nedges, edges_cap;
    map_t emap;
    uint64_t *path_key;      /* global path id -> parent << 32 | func (0: the root) */
    uint32_t npaths, paths_cap;
    map_t pmap;
    /* the cluster aggregate */
    arow_t *cl;              /* by gid */
    uint32_t cl_cap;
    pf_counts_t *cl_edges;   /* by global edge id */
    uint32_t cl_edges_cap;
    pathv_t *cl_paths;       /* by global path id */
    uint32_t cl_paths_cap;
    rates_t cl_rates;        /* by gid */
    /* nodes, sessions, jobs, processes */
    node_t **nodes;
    uint32_t nnodes, nodes_cap;
    map_t node_map;          /* name hash -> node_t * */
    map_t sess_map;          /* session id -> session_t * */
    job_t **jobs;
    uint32_t njobs, jobs_cap;
    map_t job_map;           /* name hash -> job_t * */
    map_t proc_map;          /* hash(node, pid, start) -> proc_t * (chained) */
    history_t hist;          /* the cluster's */
    uint64_t last_tick_ns, last_tick_wall;
    uint64_t ticks;          /* store_tick calls: what was computed in this interval */
    /* the views' cache of spreads for this interval (view.c owns it) */
    void *view_cache;
    void (*view_cache_free)(void *);
    /* the node and rank scopes whose rates are sampled (watch.c owns it) */
    void *watch;
    void (*watch_free)(void *);
    uint64_t events_prev, calls_prev;
    int64_t cpu_prev;
    double events_per_s, calls_per_s, cpu_per_s;
};

/* ---- helpers shared by the collector's modules ------------------------------------ */

node_t *store_node_find(const store_t *s, const char *name);
job_t *store_job_find(const store_t *s, const char *name);
proc_t *store_proc_find(const store_t *s, const node_t *n, int32_t pid, uint64_t start_time);
/* A process of a job by rank (the first found; NULL: none). */
proc_t *store_proc_by_rank(const store_t *s, const job_t *j, int32_t rank);

/* The process's value of global function `gid` (base + current). */
void store_proc_value(const store_t *s, const proc_t *p, uint32_t gid, pf_counts_t *out);
/* Add the process's rows (base + current) into a dense array by gid
 * (nfuncs long); with `open`, also its open part into open[gid]. */
void store_proc_accumulate(const store_t *s, const proc_t *p, arow_t *acc);
/* The process's program time (sum of tottime) and its time in MPI. */
void store_proc_totals(const store_t *s, const proc_t *p, pf_counts_t *tot, int64_t *mpi_ns,
                       uint32_t *top_mpi_gid);

const arow_t *store_job_row(const job_t *j, uint32_t gid); /* NULL: none */
/* "up", "stale", "gone" or "refused:<reason>" (store_bad_name). */
const char *store_node_state_name(const node_t *n);
int store_proc_live(const proc_t *p);
/* Rates of gid over the last `window_s` seconds from the samples; 0/0 if unknown. */
void store_rates_get(const rates_t *r, uint32_t row, uint64_t ncalls, int64_t tottime,
                     uint64_t wall, uint32_t window_s, double *calls, double *tottime_s);
/* The points of a history ring, oldest first, at most `max` (0: all), the
 * newest ones. Returns how many written to out (caller allocates h->n). */
uint32_t store_history_points(const history_t *h, uint32_t max, hpoint_t *out);

#endif /* COLLECTOR_STORE_INT_H */
