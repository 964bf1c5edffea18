/* opts.c - the option table, its parser, --help. */
#define _GNU_SOURCE
#include "opts.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli/opts.h"
#include "wire/wire.h"

#ifndef ULMA_VERSION_STRING
#define ULMA_VERSION_STRING "0"
#endif

#define CT_CONFIG_FILE "/etc/ulma/clustertop.conf"

/* A number from 0 (to 100 for a percentage). */
static int parse_real(void *base, const opt_t *d, const char *val, const char *prog, int pct)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(val, &end);
    if (!*val || *end || errno || !isfinite(v) || v < 0 || (pct && v > 100)) {
        fprintf(stderr, "%s: --%s: '%s' is not %s\n", prog, d->name, val,
                pct ? "a percentage (0 to 100)" : "a number of seconds");
        return -1;
    }
    if (!pct && v < 0.05)
        v = 0.05;
    *(double *)(void *)((char *)base + d->off) = v;
    return 0;
}

/* --delay: seconds, at least 0.05 (less is taken as 0.05). */
static int parse_seconds(void *base, const opt_t *d, const char *val, const char *prog)
{
    return parse_real(base, d, val, prog, 0);
}

/* --threshold: a percentage. */
static int parse_percent(void *base, const opt_t *d, const char *val, const char *prog)
{
    return parse_real(base, d, val, prog, 1);
}

static void show_real(const void *base, const opt_t *d, char *buf, size_t len)
{
    snprintf(buf, len, "%g", *(const double *)(const void *)((const char *)base + d->off));
}

#define F(field) offsetof(ct_opts_t, field), sizeof(((ct_opts_t *)0)->field)

static const opt_t options[] = {
    {"collector", 'c', "ENDPOINT", OPT_STR, F(collector), WIRE_QUERY_ENDPOINT,
     "Ask the collector at ENDPOINT (its --query endpoint: tcp://HOST:PORT or ipc://PATH). "
     "This is the default, with the local collector."},
    {"agent", 'a', "ENDPOINT", OPT_STR, F(agent), NULL,
     "Ask one node agent instead of a collector: its query socket "
     "(ipc://DIR/ulma-agent.ipc) or its --listen endpoint (tcp://HOST:PORT). The views "
     "show that node only; there is no history beyond what clustertop saw itself."},
    {"agent-dir", 'D', "DIR", OPT_STR, F(agent_dir), NULL,
     "The same as --agent ipc://DIR/ulma-agent.ipc."},
    {"batch", 'b', NULL, OPT_FLAG, F(batch), NULL,
     "Batch mode, like top -b: print frames to standard output instead of drawing on the "
     "terminal, for scripts and logs. Needs no terminal."},
    {"iterations", 'n', "COUNT", OPT_U32, F(count), "0",
     "Stop after COUNT frames (batch mode; also ends the interactive mode). 0: until "
     "interrupted."},
    {"delay", 'd', "SECONDS", OPT_CUSTOM, F(delay), "2",
     "Seconds between refreshes (at least 0.05; the 'd' key changes it).", parse_seconds,
     show_real},
    {"json", 'j', NULL, OPT_FLAG, F(json), NULL,
     "Batch mode: print one JSON document per frame (one line each) instead of text: the "
     "answers the frame is made of, each Reply written field by field as query.proto "
     "names them (see README.md in dashboard-tui/)."},
    {"view", 'V', "VIEW", OPT_STR, F(view), "cluster",
     "The view to open: cluster (the cluster-wide function table), nodes, jobs, "
     "imbalance, node:NAME, job:ID, rank:NODE/PID (rank:PID with --agent), function:NAME "
     "(a standard name file:line(name), a qualified name or a name)."},
    {"tab", 't', "TAB", OPT_STR, F(tab), NULL,
     "The tab of that view's screen to show: top, nodes, jobs, imbalance, ranks, threads, "
     "objects, mpi, nova, callers, paths (those the screen has)."},
    {"window", 'w', "SECONDS", OPT_U32, F(window), "5",
     "Rates (calls/s, time/s, events/s) are taken over the last SECONDS seconds "
     "(Query.window; the 'w' key changes it)."},
    {"threshold", 'T', "PERCENT", OPT_CUSTOM, F(threshold), "0",
     "Hide function rows whose % (cumulative time over the program time of the scope) is "
     "below PERCENT (the 't' key changes it).", parse_percent, show_real},
    {"filter", 'f', "TEXT", OPT_STR, F(filter), NULL,
     "Show only functions whose standard name contains TEXT (case-sensitive; the '/' key "
     "changes it)."},
    {"sort", 's', "COLUMN", OPT_STR, F(sort), "cumtime",
     "Sort function tables by COLUMN: function, ncalls, tottime, cumtime, pct, desc, proc, "
     "calls_s, cpu, imbalance, file (the '<' and '>' keys change it)."},
    {"rows", 'r', "N", OPT_U32, F(rows), "0",
     "Batch mode: at most N function rows per table (0: every row the answer has)."},
    {"width", 'W', "COLUMNS", OPT_U32, F(width), "0",
     "Batch mode: the width of a frame (0: $COLUMNS, else 160)."},
    {"curve-dir", 0, "DIR", OPT_STR, F(curve_dir), NULL,
     "Over tcp: encrypt and authenticate with CurveZMQ, with this user's key pair "
     "DIR/id.secret (owner-only, mode 0600: refused otherwise) and DIR/id.pub, checking the "
     "server against DIR/server.pub or --server-key. The collector (or agent) must hold our "
     "id.pub in its allowed keys, and in its control list for the profiling switch. Make it "
     "with ulma-keys. Default: $ULMA_CURVE_DIR."},
    {"server-key", 0, "FILE", OPT_STR, F(server_key), NULL,
     "The server's public key (its id.pub, or the 40 characters of the key); default "
     "DIR/server.pub."},
    {"plaintext", 0, NULL, OPT_FLAG, F(plaintext), NULL,
     "Talk to a tcp endpoint in plain text, neither encrypted nor authenticated, with a "
     "warning. A tcp endpoint needs --curve-dir or --plaintext; ipc needs neither."},
    {"timeout", 0, "MS", OPT_U32, F(timeout_ms), "2000",
     "How long to wait for an answer before saying that the collector (or agent) does not "
     "answer."},
    {"no-color", 0, NULL, OPT_FLAG, F(no_color), NULL,
     "No colours (also when NO_COLOR is set, or the terminal has none): markers, bold, "
     "reverse and underline tell things apart."},
    {"ascii", 0, NULL, OPT_FLAG, F(ascii), NULL,
     "ASCII only: bars, sparklines and heat maps drawn with plain characters (also when the "
     "locale is not UTF-8)."},
    {"config", 0, "FILE", OPT_STR, F(config), NULL,
     "Read the configuration from FILE (default: " CT_CONFIG_FILE " if it exists): one "
     "`name = value` per line, with the long names of these options (flags take yes or "
     "no). Every option but --config, --print-config, --help and --version may also be "
     "given in the environment as ULMA_NAME (upper case, - as _: ULMA_DELAY=1), except "
     "--agent, --json and --sort (ULMA_AGENT, ULMA_JSON and ULMA_SORT are the launcher's). "
     "Lowest first: defaults, the file, the environment, the command line."},
    {"print-config", 0, NULL, OPT_FLAG, F(print_config), NULL,
     OPTS_PRINT_CONFIG_HELP},
    {"help", 'h', NULL, OPT_FLAG, F(help), NULL, "Print this help and exit."},
    {"version", 0, NULL, OPT_FLAG, F(version), NULL, "Print the version and exit."},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static const char *const sort_names[] = {"function", "ncalls",    "tottime", "cumtime",
                                         "pct",      "desc",      "proc",    "calls_s",
                                         "cpu",      "imbalance", "file"};

int ct_opts_parse(ct_opts_t *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    static const char *const cmdline_only[] = {"config", "print-config", "help", "version",
                                               NULL};
    static const char *const env_skip[] = {"agent", "json", "sort", NULL};
    uint64_t seen = 0;
    opts_ctx_t c = {options, NOPTIONS, o, "clustertop", &seen, CT_CONFIG_FILE,
                    cmdline_only, env_skip, NULL, NULL};
    if (opts_load(&c, argc, argv) != 0)
        return -1;
    for (int i = 1; i < argc;) {
        const char *a = argv[i];
        int rc = opts_parse_one(&c, argc, argv, &i);
        if (rc == 1) {
            fprintf(stderr, "clustertop: unexpected argument '%s' (see clustertop --help)\n", a);
            return -1;
        }
        if (rc < 0)
            return -1;
    }
    o->given_collector = (seen >> opts_index(&c, "collector")) & 1;
    o->given_agent =
        ((seen >> opts_index(&c, "agent")) & 1) || ((seen >> opts_index(&c, "agent-dir")) & 1);
    /* the command line's choice of a source wins over the file's */
    if (o->given_collector && !o->given_agent)
        o->agent[0] = o->agent_dir[0] = '\0';
    else if (o->given_agent && !o->given_collector)
        snprintf(o->collector, sizeof(o->collector), "%s", WIRE_QUERY_ENDPOINT);
    if (o->print_config) {
        opts_print_config(stdout, &c, ULMA_VERSION_STRING);
        return 1;
    }
    if (o->help) {
        ct_opts_usage(stdout);
        return 1;
    }
    if (o->version) {
        printf("clustertop %s\n", ULMA_VERSION_STRING);
        return 1;
    }
    if (o->given_collector && o->given_agent) {
        fprintf(stderr, "clustertop: --collector and --agent/--agent-dir: choose one\n");
        return -1;
    }
    if (o->curve_dir[0] && o->plaintext) {
        fprintf(stderr, "clustertop: --curve-dir and --plaintext: choose one\n");
        return -1;
    }
    if (o->agent[0] && o->agent_dir[0]) {
        fprintf(stderr, "clustertop: --agent and --agent-dir: choose one\n");
        return -1;
    }
    if (o->json && !o->batch) {
        fprintf(stderr, "clustertop: --json is for batch mode (-b)\n");
        return -1;
    }
    int known = 0;
    for (size_t k = 0; k < sizeof(sort_names) / sizeof(sort_names[0]); k++)
        known |= strcmp(o->sort, sort_names[k]) == 0;
    if (!known) {
        fprintf(stderr,
                "clustertop: --sort: unknown column '%s' (function, ncalls, tottime, "
                "cumtime, pct, desc, proc, calls_s, cpu, imbalance, file)\n",
                o->sort);
        return -1;
    }
    if (o->window == 0 || o->window > 3600) {
        fprintf(stderr, "clustertop: --window: 1 to 3600 seconds\n");
        return -1;
    }
    if (o->agent_dir[0]) {
        char ep[600];
        snprintf(ep, sizeof(ep), "ipc://%s/ulma-agent.ipc", o->agent_dir);
        if (strlen(ep) >= sizeof(o->agent)) {
            fprintf(stderr, "clustertop: --agent-dir: path too long\n");
            return -1;
        }
        memcpy(o->agent, ep, strlen(ep) + 1);
    }
    if (o->timeout_ms == 0)
        o->timeout_ms = 1;
    return 0;
}

const char *ct_opts_endpoint(const ct_opts_t *o, const char **what)
{
    if (o->agent[0]) {
        *what = "agent";
        return o->agent;
    }
    *what = "collector";
    return o->collector;
}

void ct_opts_usage(FILE *out)
{
    fputs("NAME\n       clustertop - the live, cluster-wide top of profiled Python programs\n\n"
          "SYNOPSIS\n       clustertop [--collector ENDPOINT | --agent ENDPOINT | --agent-dir "
          "DIR] [OPTION...]\n       clustertop -b [-n COUNT] [-d SECONDS] [--json] [--view "
          "VIEW] [OPTION...]\n\nDESCRIPTION\n",
          out);
    opts_wrap(out,
         "clustertop shows what the ULMA node agents measure in every profiled process "
         "of a cluster, as the program runs: one function table for the whole job "
         "(cProfile's ncalls, tottime and cumtime, with %, %DESC and %PROC, and the "
         "imbalance of each function over the ranks: max/mean and the slowest rank), "
         "one row per node, a node's ranks, a rank's table, threads with their live "
         "call stacks, object statistics, MPI time, and a function across the ranks "
         "of its job. It asks the collector (ulma-collector) by default, or one node "
         "agent (--agent) when there is no collector. Python, C and MPI rows are told "
         "apart by colour and by a marker in the first column: blank for Python, "
         "'c' for C functions, 'M' for MPI calls. Numbers from a scope that lost "
         "records are marked '!'; times that include calls still running, '*'.",
         7, 79);
    fputs("\nOPTIONS\n", out);
    opts_help_at(out, options, NOPTIONS, 7, 14, 79);
    fputs("\nKEYS\n", out);
    opts_wrap(out,
         "q quit; h or ? help (every key); arrows, PgUp, PgDn, Home, End move; Enter "
         "drills in (a function, node, job, rank or thread); Esc or Backspace goes "
         "back; Tab, Shift-Tab and 1-6 switch tabs; < and > (or F6) choose the sort "
         "column, r reverses it; / filters function names; space pauses; d sets the "
         "delay, w the rate window, t the % threshold; p switches profiling off, fast "
         "or full for the selection (the cluster, a node, a job or a rank) after a "
         "confirmation and shows the acknowledgement; e exports the current scope's "
         "profile (pstats, JSON, SVG flame graph, collapsed) to a file; F5 or Ctrl-L "
         "asks again now.",
         7, 79);
    fputs("\nENVIRONMENT\n", out);
    opts_wrap(out,
         "NO_COLOR (any value): no colours. TERM: a terminal without colours gets none. "
         "COLUMNS: the width of batch frames. LANG/LC_ALL: a locale without UTF-8 "
         "gets ASCII drawings.",
         7, 79);
    fputs("\nEXIT STATUS\n", out);
    opts_wrap(out,
         "0 on success; 1 when the first answer could not be had in batch mode, or a "
         "view named on the command line does not exist; 2 for a usage error "
         "(including no terminal without -b).",
         7, 79);
    fputs("\nEXAMPLES\n"
          "       clustertop\n"
          "       clustertop --agent-dir /dev/shm\n"
          "       clustertop -b -n 1 --view nodes\n"
          "       clustertop -b -n 3 -d 1 --json --view rank:node7/12345 --tab threads\n",
          out);
}
