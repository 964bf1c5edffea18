/*
 * answer.h - a Reply (query.proto) made from a profile (profile.h): the
 * answers that the collector (from its merged views) and a node agent
 * (from its processes) give alike, written once.
 */
#ifndef WIRE_ANSWER_H
#define WIRE_ANSWER_H

#include <stdint.h>

#include "profile/profile.h"
#include "wire/wire.h"

#define WIRE_DEFAULT_LIMIT 50u
#define WIRE_MAX_LIMIT 100000u
#define WIRE_MAX_CANDIDATES 20u

/* A Reply being built; its parts live in `a`. */
typedef struct wire_answer {
    Ulma__Wire__Reply r;
    wire_arena_t *a;
} wire_answer_t;

/* ok, version and id set. Free with wire_answer_free. */
void wire_answer_init(wire_answer_t *w, uint64_t id);
void wire_answer_free(wire_answer_t *w);
/* ok = false with the message (replaces anything answered so far). */
void wire_answer_error(wire_answer_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wire_answer_pack(const wire_answer_t *w, sbuf_t *out);

/* The query's row limit: 0 means WIRE_DEFAULT_LIMIT; at most WIRE_MAX_LIMIT. */
uint32_t wire_query_limit(const Ulma__Wire__Query *q);
/* The query's canonical sort key (default cumulative), or NULL after
 * answering an error. */
const char *wire_query_sort(const Ulma__Wire__Query *q, wire_answer_t *w);

/* A function row of `p`. */
void wire_row(wire_arena_t *a, Ulma__Wire__Row *row, const profile_t *p, uint32_t func);

/* One process's value of a function (for spreads over ranks). */
typedef struct wire_rank_value {
    int32_t rank, pid;
    const char *node;
    uint64_t ncalls;
    int64_t tottime_ns, cumtime_ns; /* open part included */
} wire_rank_value_t;

/* The spread of cumtime over `n` processes into the row: nranks, min,
 * max, mean, standard deviation, the slowest (highest cumtime; ties: the
 * lowest rank). */
void wire_row_spread(wire_arena_t *a, Ulma__Wire__Row *row, const wire_rank_value_t *v,
                     uint32_t n);

/* TOP: the table, sorted, rows whose standard name contains `filter`
 * (NULL or "": all), from `offset`, at most `limit`. Returns the rows it
 * wrote, in order, as function indices (array in the arena) so a caller
 * can add to them (spread over ranks). */
const uint32_t *wire_answer_top(wire_answer_t *w, const profile_t *p, const char *sort,
                                const char *filter, uint32_t offset, uint32_t limit);

/* The row `func` names in `p`; UINT32_MAX after answering an error (no
 * such function, or an ambiguous name: the candidates are in the Reply). */
uint32_t wire_answer_find(wire_answer_t *w, const profile_t *p, const char *func);

/* Callers or callees of `row` (merged per function, the most cumulative
 * time first), at most `limit`. */
void wire_edges(wire_answer_t *w, const profile_t *p, uint32_t row, int callees, uint32_t limit,
                Ulma__Wire__Edge ***out, size_t *n);
void wire_answer_edges(wire_answer_t *w, const profile_t *p, uint32_t row, int callees,
                       uint32_t limit);
void wire_answer_paths(wire_answer_t *w, const profile_t *p, uint32_t limit);
void wire_answer_threads(wire_answer_t *w, const profile_t *p, uint32_t frames);
void wire_answer_objects(wire_answer_t *w, const profile_t *p, uint32_t limit);
void wire_answer_mpi(wire_answer_t *w, const profile_t *p);
void wire_answer_drops(wire_answer_t *w, const profile_t *p);
/* EXPORT in `format` (its name); an unknown format is an error answer. */
void wire_answer_export(wire_answer_t *w, const profile_t *p, const char *format);

#endif /* WIRE_ANSWER_H */
