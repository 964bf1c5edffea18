/*
 * pbquery.h - answers to protobuf queries (query.proto) from this node's
 * processes: asked directly on the query socket (clustertop --agent,
 * ulma-ctl) or forwarded by the collector.
 */
#ifndef AGENT_PBQUERY_H
#define AGENT_PBQUERY_H

#include <stddef.h>

#include "control.h"
#include "wire/answer.h"

typedef struct agent agent_t;

/* Answer `q` into `w`. Returns 0 when answered, 1 when the answer was
 * deferred (CONTROL: it goes back `how`, to `env` or to the collector,
 * once the processes applied it). */
int pbquery_handle(agent_t *a, const Ulma__Wire__Query *q, wire_answer_t *w, ctl_answer_t how,
                   void *const *env, const size_t *env_len, int nenv);

#endif /* AGENT_PBQUERY_H */
