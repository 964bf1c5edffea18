/*
 * config.h - the agent's configuration: every option of ulma-agent in one
 * struct, filled from the option table in config.c (opts.h), and the
 * checks a private agent makes before it lets its program start. The
 * struct is the caller's; the agent keeps its own copy (agent_new).
 */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "profile.h"

#define AGENT_MAX_UIDS 64
#define AGENT_PATH_MAX 4096

/* The whole configuration; filled from the option table in config.c. */
typedef struct agent_config {
    char dir[AGENT_PATH_MAX];      /* segment directory */
    int32_t private_pid;           /* 0: node agent */
    char sort[32];                 /* table sort key */
    char out_pstats[AGENT_PATH_MAX], out_json[AGENT_PATH_MAX];
    char out_collapsed[AGENT_PATH_MAX], out_speedscope[AGENT_PATH_MAX];
    char out_pprof[AGENT_PATH_MAX], out_svg[AGENT_PATH_MAX];
    char endpoint[AGENT_PATH_MAX]; /* "" default ipc, "none": no endpoint */
    char listen[256];              /* extra tcp endpoint or "" */
    uint32_t allow_uids[AGENT_MAX_UIDS];
    uint32_t n_allow_uids;
    double keep_s;                 /* keep results of ended processes */
    uint32_t scan_ms;              /* periodic directory scan */
    uint32_t cron_ms;              /* cron period */
    uint32_t interval_ms;          /* rate interval */
    uint32_t idle_us;              /* sleep when every ring is empty */
    uint32_t rows;                 /* table rows (0 = all) */
    double run_for_s;              /* node agent: stop after this long (0 = never) */
    uint32_t no_table;             /* private: print no table */
    int32_t go_fd;                 /* private: write the go byte here once ready (-1: none) */
    uint32_t wait_child;           /* private: PID is our child; end with its status */
    uint32_t quiet, verbose;
    uint32_t help, version;        /* -h, -V: print, exit 0 */
    char config[1024];             /* --config FILE (read by opts_load) */
    uint32_t print_config;         /* --print-config: print, exit 0 */
    char collector[256];           /* report to this endpoint, "" = none */
    char node[128];                /* node name, "" = the host name */
    double report_s;               /* report interval */
    uint32_t snapshot_every;       /* full snapshot every K reports */
    char curve_dir[AGENT_PATH_MAX];  /* CURVE keys of tcp links, or "" */
    char server_key[AGENT_PATH_MAX]; /* the collector's public key, "": DIR/server.pub */
    uint32_t plaintext;            /* tcp links in plain text, asked for */
    prof_limits_t lim;
} agent_config_t;

/* Parse argv into `cfg` (defaults first) and validate it: the sort key, the
 * --wait-child combination, and that every output file can be written
 * later (its directory exists and is writable; nothing is created). Returns
 * 0 to run, 1 if it printed help/version (exit 0), -1 on a usage error
 * (message printed). On -1, the options before the bad one are set (so
 * that main can still deal with a --private --wait-child PID given first). */
int agent_config_parse(agent_config_t *cfg, int argc, char **argv);
void agent_config_help(FILE *out);

#endif /* AGENT_CONFIG_H */
