/*
 * report.h - the top table of one process: rows merged by cProfile label,
 * sorted by a pstats key, printed like cProfile, or encoded as a pstats
 * file (Python marshal) or JSON.
 *
 * A report is a snapshot: build it, use it, destroy it. It reads the
 * profile (never changes it) and converts cycles to seconds with
 * prof_sec(), the one conversion.
 */
#ifndef AGENT_REPORT_H
#define AGENT_REPORT_H

#include <stdint.h>

#include "profile.h"
#include "util.h"

typedef struct rep_row {
    prof_label_t lab;     /* cProfile label (file, line, co_name) */
    uint32_t fidx;        /* first function of the row (rows merge same labels) */
    uint32_t kind;        /* PROF_NS_* of that function */
    uint64_t nc, cc;      /* ncalls, primitive calls */
    double tt, ct;        /* tottime, cumtime in seconds */
    double rate_calls, rate_tt; /* over the last interval */
    uint64_t mpi_bytes;
    char std[512];        /* pstats func_std_string, cut at 511 bytes */
} rep_row_t;

typedef struct rep {
    const prof_t *p;
    rep_row_t *rows;
    uint32_t n;
    uint32_t *row_of;     /* fidx -> row index (UINT32_MAX: no row) */
    uint32_t *order;      /* rows in sorted order */
    uint32_t *in_start, *in_subs;   /* edges by callee row (CSR) */
    uint32_t *out_start, *out_subs; /* edges by caller row (CSR) */
    uint64_t total_calls, prim_calls;
    double total_tt;      /* sum of tottime: the "in X seconds" figure */
} rep_t;

/* Snapshot of `p`'s function table (derives it first: prof_derive).
 * Caller owns the return value. */
rep_t *rep_new(prof_t *p);
void rep_destroy(rep_t **r_p);

/* Canonical pstats sort key for `key` (exact, or a unique prefix like
 * pstats accepts), or NULL if invalid. */
const char *rep_sort_key(const char *key);
/* pstats' description of a canonical key ("standard name", ...). */
const char *rep_sort_desc(const char *key);
/* Sort the rows (r->order) by a canonical key. */
void rep_sort(rep_t *r, const char *key);

/* The cProfile-style table (header, column titles, `limit` rows, 0 = all),
 * plus %, %DESC and %PROC columns and a drops line when records were lost. */
void rep_table(const rep_t *r, const char *key, uint32_t limit, sbuf_t *out);

/* One row as a JSON object. */
void rep_row_json(const rep_t *r, const rep_row_t *row, sbuf_t *out);

/* The pstats file: Python marshal of {(file, line, name): (cc, nc, tt, ct,
 * {caller: (nc, cc, tt, ct)})}, the dict cProfile's create_stats builds. */
void rep_pstats(const rep_t *r, sbuf_t *out);

/* Callers or callees of row `row` as a JSON array (at most `limit`,
 * 0 = all), each with the edge's ncalls, pcalls, tottime, cumtime. */
void rep_edges_json(const rep_t *r, uint32_t row, int callees, uint32_t limit, sbuf_t *out);

/* The row `what` names: its std string ("file:line(name)", as in the
 * table), else the one row whose qualified name or bare name (co_name) is
 * `what`. Returns the row, UINT32_MAX if none, or REP_AMBIGUOUS if the
 * name fits several rows. The rows that fit go into `cand` (at most `max`
 * of them, in row order; `cand` may be NULL) and their number into
 * *nmatch (may be NULL). */
#define REP_AMBIGUOUS (UINT32_MAX - 1)
uint32_t rep_find_all(const rep_t *r, const char *what, uint32_t *cand, uint32_t max,
                      uint32_t *nmatch);
static inline uint32_t rep_find(const rep_t *r, const char *what)
{
    return rep_find_all(r, what, NULL, 0, NULL);
}

#endif /* AGENT_REPORT_H */
