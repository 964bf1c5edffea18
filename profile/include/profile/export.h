/*
 * export.h - a whole profile as a file: the JSON profile (schema in
 * profile/README.md), the pstats file, collapsed stacks (flame graph
 * text), speedscope JSON, pprof (profile.proto, gzipped) and a standalone
 * interactive SVG flame graph. Each works on any profile: one process's,
 * or one merged over a job or a cluster.
 */
#ifndef PROFILE_EXPORT_H
#define PROFILE_EXPORT_H

#include <stdint.h>

#include "profile/profile.h"
#include "profile/util.h"

enum profile_format {
    PROFILE_JSON = 0,
    PROFILE_PSTATS,
    PROFILE_COLLAPSED,
    PROFILE_SPEEDSCOPE,
    PROFILE_PPROF,
    PROFILE_SVG,
    PROFILE_NFORMATS
};

/* Format by name ("json", "pstats", "collapsed", "speedscope", "pprof",
 * "svg"), or -1. */
int profile_format_by_name(const char *name);
const char *profile_format_name(int format);
/* Every format name, comma-separated, for messages. */
const char *profile_formats_list(void);

/* Append the export of `p` in `format` to `out`. 0, or -errno (pprof:
 * compression failure; -EINVAL: unknown format). */
int profile_export(const profile_t *p, int format, sbuf_t *out);

/* Pieces of the JSON profile, also used by query answers. */
void profile_process_json(const profile_t *p, jw_t *w);
void profile_drops_json(const profile_t *p, jw_t *w);
/* Threads with at most `max_frames` frames of each stack (0 = all). */
void profile_threads_json(const profile_t *p, uint32_t max_frames, jw_t *w);
/* Types and the `limit` biggest constructing sites (0 = all). */
void profile_objects_json(const profile_t *p, uint32_t limit, jw_t *w);
void profile_mpi_json(const profile_t *p, jw_t *w);
/* The `limit` call paths with the most cumulative time (0 = all), as
 * {"id","parent","row","std","count","tottime","cumtime"}. */
void profile_paths_json(const profile_t *p, uint32_t limit, jw_t *w);

/* The pstats file: Python marshal of {(file, line, name): (cc, nc, tt, ct,
 * {caller: (nc, cc, tt, ct)})}, the dict cProfile's create_stats builds. */
void profile_pstats(const profile_t *p, sbuf_t *out);

#endif /* PROFILE_EXPORT_H */
