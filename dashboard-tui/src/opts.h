/*
 * opts.h - clustertop's options: one table (cli/opts.h) gives every
 * option's names, argument, where its value goes, its default and its
 * help; the command line, /etc/ulma/clustertop.conf (or --config), the
 * environment, --help and --print-config all read it.
 */
#ifndef CT_OPTS_H
#define CT_OPTS_H

#include <stdint.h>
#include <stdio.h>

typedef struct ct_opts {
    char collector[512]; /* the collector's query endpoint */
    char agent[512];     /* or one node agent's */
    char agent_dir[512]; /* or a node agent's directory (its ipc socket) */
    uint32_t batch;
    uint32_t count; /* -n: frames (0: until interrupted) */
    double delay;   /* -d: seconds between frames */
    uint32_t json;
    char view[1200];
    char tab[32];
    uint32_t window;  /* Query.window, seconds */
    double threshold; /* % */
    char filter[256];
    char sort[32];
    uint32_t rows;  /* batch: function rows (0: all) */
    uint32_t width; /* batch: columns */
    uint32_t timeout_ms;
    uint32_t no_color;
    uint32_t ascii;
    char curve_dir[512];  /* CURVE keys of a tcp endpoint, "": $ULMA_CURVE_DIR */
    char server_key[512]; /* the server's public key, "": DIR/server.pub */
    uint32_t plaintext;   /* a tcp endpoint in plain text, asked for */
    uint32_t help;
    uint32_t version;
    char config[1024];     /* --config FILE (read by opts_load) */
    uint32_t print_config; /* --print-config: print, exit 0 */
    /* which of --collector, --agent, --agent-dir were given */
    uint32_t given_collector, given_agent;
} ct_opts_t;

/* Parse argv into o (defaults first). 0: run; 1: --help or --version
 * printed, exit 0; -1: a usage error was printed, exit 2. */
int ct_opts_parse(ct_opts_t *o, int argc, char **argv);
void ct_opts_usage(FILE *out);

/* The endpoint to ask and what it is ("collector" or "agent"). */
const char *ct_opts_endpoint(const ct_opts_t *o, const char **what);

#endif /* CT_OPTS_H */
