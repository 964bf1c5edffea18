/*
 * ctl_collector.h - `ulma-ctl --collector EP`: the same questions asked of
 * the collector (query.proto through wire/client.h), answered for the
 * whole cluster, a node, a job or a rank, printed as tables or as JSON.
 */
#ifndef AGENT_CTL_COLLECTOR_H
#define AGENT_CTL_COLLECTOR_H

#include <stdint.h>
#include <stdio.h>

#include "wire/curve.h"

/* What the command line said, for the collector's commands. */
typedef struct ctl_collector_args {
    const char *endpoint;
    const wire_curve_t *curve; /* CURVE keys, or NULL / curve->on == 0: plain text */
    int timeout_ms;
    int json;
    const char *sort;      /* NULL: cumulative */
    uint32_t rows;         /* 0: the command's default */
    int rows_given;
    const char *node;      /* --node, or NULL */
    const char *job;       /* --job, or NULL */
    int32_t pid;           /* --pid, or 0 */
    int all;               /* --all */
    int objects;           /* --objects */
    uint32_t wait_ms;      /* --wait */
    const char *cmd;
    const char *const *pos; /* the command's arguments */
    int npos;
} ctl_collector_args_t;

/* Run one command against the collector. Returns the exit status: 0 ok,
 * 1 an error answer or no answer, 2 a usage error (message printed). */
int ctl_collector_run(const ctl_collector_args_t *a);

/* The collector's commands, for --help. */
void ctl_collector_help(FILE *out);

#endif /* AGENT_CTL_COLLECTOR_H */
