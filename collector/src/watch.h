/*
 * watch.h - rates (calls/s, own seconds/s) at node and rank scope.
 *
 * The store samples the cluster's and every job's rows at each tick
 * (rates_t). A node's or a rank's rows are summed from its processes only
 * when asked, so their samples are kept for the scopes dashboards look at:
 * the first query of a node or rank scope that shows rates starts watching
 * it (its rows sampled then, and at every tick after), a scope nobody asked
 * about for WATCH_IDLE_NS is dropped, and at most WATCH_MAX are watched at
 * once (the one asked least recently gives way). Memory: WATCH_MAX scopes x
 * (window / interval + 2) samples x the scope's rows x 24 bytes.
 */
#ifndef COLLECTOR_WATCH_H
#define COLLECTOR_WATCH_H

#include "view.h"

#define WATCH_MAX 16
#define WATCH_IDLE_NS (60ull * 1000000000ull)

/* Fill the rate columns of `p` (the view of node or rank scope `v`, row i
 * of global id gid[i]) over the last `window_s` seconds before `now`
 * (monotonic ns, as now_ns()), and watch the scope. Other levels: nothing
 * (view_profile fills theirs). */
void watch_rates(store_t *s, const view_scope_t *v, profile_t *p, const uint32_t *gid,
                 uint32_t window_s, uint64_t now);

/* Sample every watched scope at `now` (after store_tick), drop the idle ones. */
void watch_tick(store_t *s, uint64_t now);

/* Scopes watched now. */
uint32_t watch_count(const store_t *s);

#endif /* COLLECTOR_WATCH_H */
