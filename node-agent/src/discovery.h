/*
 * discovery.h - finding the segments of the agent's directory: inotify
 * (new files at once) backed by a periodic scan, the checks a segment
 * must pass (the name, the header and the file owner agree, an allowed
 * uid), the claim (header.reader_pid, by compare-and-swap), and the paths
 * left alone for a while (another live reader, a bad file).
 *
 * A claimed segment is added to the process table it was given; the
 * discovery owns its inotify descriptor and its list of skipped paths.
 */
#ifndef AGENT_DISCOVERY_H
#define AGENT_DISCOVERY_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "proctab.h"

typedef struct discovery discovery_t;

/* Watch cfg->dir (the periodic scan still finds everything when inotify
 * is not available), claiming for `self` (its pid goes into reader_pid):
 * a node agent claims every segment it may read (cfg->allow_uids), a
 * private one (cfg->private_pid) only what was reserved for it, or a
 * descendant's unclaimed segment. Claimed segments are added to `procs`.
 * `cfg` and `procs` must outlive the discovery. Caller owns the return
 * value. */
discovery_t *discovery_new(const agent_config_t *cfg, pid_t self, proctab_t *procs);
void discovery_destroy(discovery_t **d_p);

/* The inotify descriptor, for poll (-1 if none). */
int discovery_fd(const discovery_t *d);
/* Scan the directory now. */
void discovery_scan(discovery_t *d);
/* Scan if the periodic scan is due at `now` (monotonic ns). */
void discovery_tick(discovery_t *d, uint64_t now);
/* The next tick scans, whenever it comes. */
void discovery_scan_soon(discovery_t *d);
/* Take in what inotify reported (never blocks). */
void discovery_read_events(discovery_t *d);
/* Consider one file name of the directory now (claim it if we may). */
void discovery_consider(discovery_t *d, const char *name);
/* Paths left alone since the start (counted once each). */
uint64_t discovery_skipped(const discovery_t *d);

#endif /* AGENT_DISCOVERY_H */
