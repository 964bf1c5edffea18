/*
 * pbquery.h - answers to protobuf queries (query.proto) from this node's
 * processes: asked directly on the query socket (clustertop --agent,
 * ulma-ctl) or forwarded by the collector. Holds no state: the answer is
 * built in the caller's wire_answer_t.
 */
#ifndef AGENT_PBQUERY_H
#define AGENT_PBQUERY_H

#include "control.h"
#include "endpoint.h"
#include "proctab.h"
#include "view.h"
#include "wire/answer.h"

/* Answer `q` into `w` from the processes of `t`. CONTROL is queued in
 * `ctl` and answered later, `how` (to `env`, copied, or to the collector),
 * once the processes applied it: QUERY_DEFERRED. */
query_rc_t pbquery_handle(const agent_view_t *v, proctab_t *t, control_t *ctl,
                          const Ulma__Wire__Query *q, wire_answer_t *w, ctl_answer_t how,
                          const envelope_t *env);

#endif /* AGENT_PBQUERY_H */
