/*
 * table.h - pstats sort keys, the cProfile-style table, rows and edges as
 * JSON, finding a row by the name a person types.
 *
 * Everything here reads a profile (profile.h) and never changes it. Times
 * are printed in seconds from the profile's integer nanoseconds.
 */
#ifndef PROFILE_TABLE_H
#define PROFILE_TABLE_H

#include <stdint.h>

#include "profile/profile.h"
#include "profile/util.h"

/* Canonical pstats sort key for `key` (exact, or a unique prefix as pstats
 * accepts), or NULL if invalid or ambiguous. */
const char *profile_sort_key(const char *key);
/* pstats' description of a canonical key ("cumulative time", ...). */
const char *profile_sort_desc(const char *key);
/* Every canonical key, comma-separated, for messages. */
const char *profile_sort_keys_list(void);

/* Row indices sorted by a canonical key (ties by standard name, so the
 * order is stable). Caller owns the return value (profile_nfuncs entries). */
uint32_t *profile_order(const profile_t *p, const char *key);

/* Options of the printed table. */
typedef struct pf_table_opts {
    const char *sort;     /* pstats key; NULL: cumulative */
    uint32_t limit;       /* rows (0 = all) */
    uint32_t objects;     /* object rows shown (0 = the section is left out
                           * when there are no objects; else at most this) */
} pf_table_opts_t;

/* The cProfile-style table (header, column titles, rows), with the %,
 * %DESC and %PROC columns, a drops line when records were lost, a note
 * when the process's own profile function displaced ours, the part of
 * frames still open (marked), and an objects section when there are
 * objects. */
void profile_table(const profile_t *p, const pf_table_opts_t *o, sbuf_t *out);

/* The program time the % column divides by: every row's tottime, open
 * part included. */
int64_t profile_shown_total_ns(const profile_t *p);
/* One function row as a JSON object ({"row", "kind", "name", ...});
 * `total_ns` is profile_shown_total_ns(p). */
void profile_func_json(const profile_t *p, uint32_t row, int64_t total_ns, jw_t *w);
/* The same fields, into an object the caller opened (to add its own). */
void profile_func_fields(const profile_t *p, uint32_t row, int64_t total_ns, jw_t *w);
/* Callers or callees of `row` as a JSON array (at most `limit`, 0 = all),
 * each {"row","std","ncalls","pcalls","tottime","cumtime"}. */
void profile_edges_json(const profile_t *p, uint32_t row, int callees, uint32_t limit, jw_t *w);

/* The edges of `row` merged per other row (callers, or callees),
 * sorted by the other row. Caller owns *out. Returns the count. */
typedef struct pf_edge_sum {
    uint32_t other;
    pf_counts_t c;
} pf_edge_sum_t;
uint32_t profile_edge_sums(const profile_t *p, uint32_t row, int callees, pf_edge_sum_t **out);

/* The row a person means by `what`: its standard name ("file:line(name)"
 * or "{built-in method ...}"), else the one row whose qualified name or
 * name is `what`.
 * Returns the row, or UINT32_MAX with *nmatch = 0 (none) or the number of
 * rows that match equally well (ambiguous; the first min(nmatch, cap) are
 * in cand[]). */
uint32_t profile_find(const profile_t *p, const char *what, uint32_t *cand, uint32_t cap,
                      uint32_t *nmatch);

/* Seconds of integer nanoseconds (the one conversion for people). */
static inline double pf_sec(int64_t ns) { return (double)ns / 1e9; }

#endif /* PROFILE_TABLE_H */
