/*
 * export.h - whole-profile exports of one process: the JSON profile
 * (schema in node-agent/README.md), collapsed stacks (flame graph text),
 * speedscope JSON, pprof (profile.proto, gzipped) and a standalone SVG
 * flame graph. All read a report snapshot (report.h) and append to `out`.
 */
#ifndef AGENT_EXPORT_H
#define AGENT_EXPORT_H

#include <stdint.h>

#include "report.h"
#include "ulma/reader.h"
#include "util.h"

/* What the profile cannot tell: who the process is, what the reader saw. */
typedef struct export_meta {
    const ulma_seg_info_t *info; /* may be NULL */
    uint64_t corrupt;            /* batches / slots the reader rejected */
    uint32_t threads_lost;       /* threads that found no slot */
    uint32_t state;              /* segment state (ULMA_SEG_*) */
    uint32_t active_mode;
} export_meta_t;

enum export_format {
    EXPORT_JSON = 0,
    EXPORT_PSTATS,
    EXPORT_COLLAPSED,
    EXPORT_SPEEDSCOPE,
    EXPORT_PPROF,
    EXPORT_SVG,
};

/* Format by name ("json", "pstats", "collapsed", "speedscope", "pprof",
 * "svg"), or -1. */
int export_format_by_name(const char *name);

/* Append the export of `r` in `format` to `out`. 0, or -errno (pprof:
 * compression failure). */
int export_write(const rep_t *r, const export_meta_t *m, int format, sbuf_t *out);

/* Pieces of the JSON profile, also used by the query endpoint. */
void export_process_json(const rep_t *r, const export_meta_t *m, sbuf_t *out);
void export_drops_json(const rep_t *r, const export_meta_t *m, sbuf_t *out);
void export_threads_json(const rep_t *r, uint32_t max_frames, sbuf_t *out);
void export_objects_json(const rep_t *r, uint32_t limit, sbuf_t *out);
void export_mpi_json(const rep_t *r, sbuf_t *out);
/* The `limit` call paths with the most cumulative time (0 = all), as
 * {"id","parent","row","std","count","tottime","cumtime"} objects. */
void export_paths_json(const rep_t *r, uint32_t limit, sbuf_t *out);

#endif /* AGENT_EXPORT_H */
