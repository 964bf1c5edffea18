/*
 * view.h - the store's contents as profiles (profile.h): the cluster, a
 * node, a job or one rank, so that every table and export of the profile
 * library works on a merged view unchanged; and the spread of a function
 * over the processes of a scope (the imbalance figures).
 */
#ifndef COLLECTOR_VIEW_H
#define COLLECTOR_VIEW_H

#include "store_int.h"

typedef struct view_scope {
    int level;              /* ULMA__WIRE__SCOPE__LEVEL__* */
    node_t *node;
    job_t *job;
    proc_t *proc;
} view_scope_t;

/* The scope a query names; -1 with a message in err. */
int view_resolve(const store_t *s, const Ulma__Wire__Scope *sc, view_scope_t *out, char *err,
                 size_t errlen);
/* A scope's name for messages ("cluster", "node n1", "job 42", "rank n1/123"). */
void view_scope_name(const view_scope_t *v, char *buf, size_t n);

/* The processes of a scope, sorted by (job, rank, node, pid). Caller
 * owns the array. */
proc_t **view_procs(const store_t *s, const view_scope_t *v, uint32_t *n);

enum { VIEW_EDGES = 1, VIEW_TYPES = 2, VIEW_RATES = 4 };

/* The scope's profile: function rows (and, with VIEW_EDGES, edges and
 * paths; VIEW_TYPES, object types; VIEW_RATES, rates over `window_s` for
 * the cluster and jobs; a node's and a rank's come from watch.h). *gid_of_row (caller owns it) maps each row to
 * its global id. Caller owns the return value. */
profile_t *view_profile(const store_t *s, const view_scope_t *v, int what, uint32_t window_s,
                        uint32_t **gid_of_row);

/* Each process's value of global function `gid` (base + current, as
 * store_proc_value) into out[i] for procs[i]: one dictionary lookup per
 * node (its processes share their agent's name index), then one array
 * read per process, so a spread over every rank of a 1,024-node cluster
 * costs microseconds per function, not a hash lookup per process. */
void view_values(const store_t *s, proc_t *const *procs, uint32_t n, uint32_t gid,
                 pf_counts_t *out);
/* The cumulative times of `ng` functions at once, into out[k * n + i]
 * (function k, process i): each process is visited once and its rows for
 * all the functions are read together, so the memory loads overlap instead
 * of waiting one after another (a process's rows are far from the next's). */
void view_cumtimes(const store_t *s, proc_t *const *procs, uint32_t n, const uint32_t *gids,
                   uint32_t ng, int64_t *out);

/* The spread of a function's cumtime over processes: min, max, mean,
 * population standard deviation, the slowest (highest cumtime; ties: the
 * first in `procs`, which view_procs orders by rank). */
typedef struct spread {
    uint32_t n;
    int64_t min, max;
    double mean, std;
    const proc_t *slowest;
} spread_t;
/* From cumulative times already gathered (view_cumtimes). */
void view_spread_of(proc_t *const *procs, const int64_t *cum, uint32_t n, spread_t *out);
/* The same, gathering them. */
void view_spread(const store_t *s, proc_t *const *procs, uint32_t n, uint32_t gid, spread_t *out);
/* The spreads of `ng` functions over the scope's processes (`procs`, as
 * view_procs gives them), into out[k]. For the cluster and a job they are
 * computed once per interval (store_tick) and kept: a dashboard asking
 * every refresh, or several dashboards, cost one pass over the ranks per
 * interval; an answer's spread may be up to one interval older than its
 * totals. */
void view_spreads(store_t *s, const view_scope_t *v, proc_t *const *procs, uint32_t n,
                  const uint32_t *gids, uint32_t ng, spread_t *out);

/* Label of a global function as a person reads it (pstats' standard name). */
void view_func_std(const store_t *s, uint32_t gid, char *buf, size_t n);

#endif /* COLLECTOR_VIEW_H */
