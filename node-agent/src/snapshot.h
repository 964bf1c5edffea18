/*
 * snapshot.h - a profile (profile/profile.h) of one process, taken from
 * the agent's aggregates (profile.h's prof_t): rows labelled and merged as
 * cProfile labels them, cycles converted to nanoseconds once per
 * cumulative value (ulma_cycles_to_ns), so that every sum made from
 * snapshots (a job, a node, the cluster) is exact. Holds no state: each
 * snapshot is a new profile the caller owns.
 */
#ifndef AGENT_SNAPSHOT_H
#define AGENT_SNAPSHOT_H

#include <stdint.h>

#include "profile.h"
#include "profile/profile.h"
#include "ulma/reader.h"

/* A snapshot of `p` (derived first: prof_derive). `meta` describes the
 * process (copied; events, hz and span are filled from `p`); `corrupt` and
 * `threads_lost` are what the reader counted. `now_tsc` is the clock now
 * for a live process (frames still open are measured up to it), 0 for a
 * finished one (up to each thread's last record). Caller owns the return
 * value. */
profile_t *snapshot_take(prof_t *p, const pf_meta_t *meta, uint64_t corrupt,
                         uint64_t threads_lost, uint64_t now_tsc);

/* The snapshot of one monitored process: `p` aggregated from the segment
 * read by `rd`, whose identity is `info`; `finished` when its writer is
 * gone and it was drained. The one place that says who a process is. */
profile_t *snapshot_process(prof_t *p, const ulma_reader_t *rd, const ulma_seg_info_t *info,
                            int finished);

#endif /* AGENT_SNAPSHOT_H */
