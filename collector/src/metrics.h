/*
 * metrics.h - the Prometheus/OpenMetrics text endpoint (/metrics over
 * HTTP, libmicrohttpd). The text is built in the collector's main loop
 * once per interval (metrics_build) and handed over (metrics_publish);
 * MHD's own thread serves the cached copy under a mutex, so a scrape
 * never touches the store.
 */
#ifndef COLLECTOR_METRICS_H
#define COLLECTOR_METRICS_H

#include <stdint.h>

#include "store_int.h"

typedef struct metrics metrics_t;

/* The collector's own counters beyond the store's. */
typedef struct metrics_extra {
    uint64_t queries, bad_queries, forwarded, forward_timeouts, forwards_refused;
    uint64_t controls, send_failures;
    /* CURVE: peers let in, keys refused, handshakes failed, control
     * requests refused (a key not in the control list) */
    uint64_t auth_accepted, auth_refused, auth_failed, controls_refused;
    uint64_t rss_bytes;
    uint32_t metrics_top;
} metrics_extra_t;

/* Serve on "host:port". NULL with a message in err. Caller owns it. */
metrics_t *metrics_new(const char *addr, char *err, size_t errlen);
void metrics_destroy(metrics_t **m_p);
/* Replace the served text (copied). */
void metrics_publish(metrics_t *m, const char *text, size_t len);
uint64_t metrics_scrapes(metrics_t *m);

/* The text of everything: per node and cluster events/s, records lost,
 * ranks, profiling state; the top functions per job; the collector's own
 * counters. */
void metrics_build(const store_t *s, const metrics_extra_t *x, sbuf_t *out);

#endif /* COLLECTOR_METRICS_H */
