/*
 * proctab.h - the process table: one entry per monitored process (one
 * segment claimed), its reader and its aggregates (profile.h), from the
 * claim to the harvest (drained to the last record, segment file removed)
 * and until it is forgotten (--keep).
 *
 * The table owns its processes, their readers and their aggregates. A
 * process a pending control answer names is pinned (`pins` > 0) and is
 * never expired while pinned.
 */
#ifndef AGENT_PROCTAB_H
#define AGENT_PROCTAB_H

#include <stdint.h>

#include "profile.h"
#include "profile/profile.h"
#include "profile/util.h"
#include "ulma/reader.h"

/* One monitored process (one segment). */
typedef struct aproc {
    char *path;
    ulma_reader_t *rd;
    prof_t *prof;
    ulma_seg_info_t info;
    int finished;            /* writer gone and drained (file removed) */
    int faulted;             /* the mapping faulted: results kept as they were */
    int writer_gone;         /* exited or dead: next empty drain finishes it */
    uint32_t pins;           /* pending control answers that name it */
    uint64_t base_read;      /* records the readers before us read (their
                              * handover: our totals in the header add to it) */
    uint64_t claimed_ns, finished_ns;
    uint64_t seen_tsc, seen_ns; /* our (cycles, ns) pair when we found it */
    struct aproc *next;
} aproc_t;

typedef struct proctab {
    aproc_t *procs;          /* newest first */
    prof_limits_t lim;       /* of every new process's aggregates */
    int verbose;             /* log harvests on stderr */
    uint64_t claimed, finished;
    uint64_t events_gone;    /* events of processes forgotten */
} proctab_t;

/* An empty table whose processes get limits `lim`. Caller owns the return
 * value. */
proctab_t *proctab_new(const prof_limits_t *lim, int verbose);
/* Frees every process. NULL-safe; nulls the caller's pointer. */
void proctab_destroy(proctab_t **t_p);

/* The process with pid `pid` (a reused pid: the live one, else the
 * newest), or NULL. */
aproc_t *proctab_find(const proctab_t *t, int32_t pid);
/* The process read from `path`, or NULL. */
aproc_t *proctab_find_path(const proctab_t *t, const char *path);
/* True if `p` is a better answer than `best` for a pid both have (see
 * proctab_find); true when `best` is NULL. */
int proctab_prefer(const aproc_t *p, const aproc_t *best);
/* How many processes the table holds. */
uint32_t proctab_count(const proctab_t *t);

/* Add the process whose segment `rd` reads (claimed for us, at `path`).
 * Takes ownership of `rd`. Returns the new entry (owned by the table). */
aproc_t *proctab_add(proctab_t *t, const char *path, ulma_reader_t *rd, uint64_t now);

/* Drain every unfinished process once; harvest those whose writer is gone
 * and whose rings stayed empty. Returns the units delivered; *pace_ok
 * says whether every ring was found under 1/16 full (the next pass can
 * wait a little). */
long proctab_drain(proctab_t *t, int *pace_ok);

/* Harvest `p` now (its last records are in): close its open frames,
 * remove its segment file (unless the mapping faulted). */
void proctab_finish(proctab_t *t, aproc_t *p, uint64_t now);

/* The cron part of the table: notice writers that died without marking
 * their segment (SIGKILL), refresh each clock calibration, and, when
 * `mark`, start a new rate interval at `now`. Returns the events of every
 * process, forgotten ones included. */
uint64_t proctab_refresh(proctab_t *t, uint64_t now, int mark);

/* Unlink and return one process finished more than `keep_ns` before
 * `now` and not pinned, or NULL. Caller owns the return value (free it
 * with proctab_free). */
aproc_t *proctab_expire(proctab_t *t, uint64_t now, uint64_t keep_ns);
/* Free a process that is no longer in a table. NULL-safe. */
void proctab_free(aproc_t **p_p);

/* The profile of `p` now (snapshot_process). Caller owns the return value. */
profile_t *proctab_profile(aproc_t *p);
/* The state of `p`: PF_STATE_EXITED once finished, else its segment's. */
uint32_t proctab_state(const aproc_t *p);

#endif /* AGENT_PROCTAB_H */
