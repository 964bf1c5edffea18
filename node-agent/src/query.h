/*
 * query.h - the JSON requests of the query endpoint (node-agent/README.md,
 * "Query endpoint"): one flat object, parsed strictly (jreq.h), answered
 * from the process table, bounded by what was asked. Holds no state: the
 * answer is appended to the caller's buffers.
 */
#ifndef AGENT_QUERY_H
#define AGENT_QUERY_H

#include <stddef.h>

#include "control.h"
#include "endpoint.h"
#include "proctab.h"
#include "view.h"

/* Answer the request `body` (`len` bytes): the answer JSON appended to
 * `ans`, an optional binary second frame (export) to `data`. A control
 * request is queued in `ctl` with a copy of `env`, and answered later
 * (QUERY_DEFERRED). */
query_rc_t query_handle(const agent_view_t *v, proctab_t *t, control_t *ctl, const char *body,
                        size_t len, const envelope_t *env, sbuf_t *ans, sbuf_t *data);

#endif /* AGENT_QUERY_H */
