/*
 * collector.h - ulma-collector: one reactor (collector_run: zmq_poll over
 * the agents' and the dashboards' sockets, with a timer) plus one
 * periodic function (cron, in collector.c), around the store (store.h),
 * the queries (query.h) and the metrics endpoint (metrics.h).
 */
#ifndef COLLECTOR_COLLECTOR_H
#define COLLECTOR_COLLECTOR_H

#include <stdint.h>
#include <stdio.h>

#define COLLECTOR_EP_MAX 512

/* The whole configuration; filled from the option table in config.c. */
typedef struct collector_config {
    char agents[COLLECTOR_EP_MAX];   /* ROUTER the agents connect to */
    char query[COLLECTOR_EP_MAX];    /* ROUTER the dashboards connect to */
    char metrics[COLLECTOR_EP_MAX];  /* host:port of /metrics, or "none" */
    double interval_s;               /* expected report interval */
    double keep_s;                   /* gone nodes, finished jobs, ended processes */
    double gone_s;                   /* silent this long: gone */
    double history_s;                /* history kept */
    double rate_window_s;            /* longest rate window */
    char dump[4096];                 /* JSON snapshot file, or "" */
    uint32_t metrics_top;            /* top functions per job in /metrics */
    uint32_t forward_ms;             /* forwarded query timeout */
    uint32_t snapshot_every;         /* intervals without a snapshot before one is asked */
    uint32_t max_forwards;           /* forwarded queries and controls pending at once */
    uint32_t hwm;                    /* ZeroMQ high-water marks */
    uint32_t agent_hwm;              /* receive mark per agent connection */
    uint32_t max_functions, max_nodes, max_procs;
    double run_for_s;
    char curve_dir[4096];            /* own key, allowed/ and control/ keys, or "" */
    uint32_t plaintext;              /* network endpoints without CURVE, asked for */
    uint32_t quiet, verbose;
    char config[4096];               /* --config FILE (read by opts_load) */
    uint32_t print_config, help, version;
} collector_config_t;

typedef struct collector collector_t;

/* Parse argv into `cfg` (defaults first). Returns 0 to run, 1 if it
 * printed help/version (exit 0), -1 on a usage error (message printed). */
int collector_config_parse(collector_config_t *cfg, int argc, char **argv);
void collector_config_help(FILE *out);

/* Bind the sockets, start the metrics server. NULL with a message in err
 * on failure. Caller owns the return value. */
collector_t *collector_new(const collector_config_t *cfg, char *err, size_t errlen);
void collector_destroy(collector_t **c_p);
/* Run until stopped or --run-for elapsed; writes --dump at the end.
 * Returns the exit status. */
int collector_run(collector_t *c);
/* Async-signal-safe: stop, or write the dump at the next turn. */
void collector_stop(collector_t *c);
void collector_dump_soon(collector_t *c);

#endif /* COLLECTOR_COLLECTOR_H */
