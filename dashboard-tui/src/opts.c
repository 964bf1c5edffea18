/* opts.c - the option table, its parser, --help. */
#define _GNU_SOURCE
#include "opts.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

#ifndef ULMA_VERSION_STRING
#define ULMA_VERSION_STRING "0"
#endif

typedef enum otype { O_STR, O_U32, O_SEC, O_PCT, O_FLAG } otype_t;

typedef struct ct_opt {
    const char *name;
    char shortc;
    const char *arg;
    otype_t type;
    size_t off, size;
    const char *dflt;
    const char *help;
} ct_opt_t;

#define F(field) offsetof(ct_opts_t, field), sizeof(((ct_opts_t *)0)->field)

static const ct_opt_t options[] = {
    {"collector", 'c', "ENDPOINT", O_STR, F(collector), WIRE_QUERY_ENDPOINT,
     "Ask the collector at ENDPOINT (its --query endpoint: tcp://HOST:PORT or ipc://PATH). "
     "This is the default, with the local collector."},
    {"agent", 'a', "ENDPOINT", O_STR, F(agent), NULL,
     "Ask one node agent instead of a collector: its query socket "
     "(ipc://DIR/ulma-agent.ipc) or its --listen endpoint (tcp://HOST:PORT). The views "
     "show that node only; there is no history beyond what clustertop saw itself."},
    {"agent-dir", 'D', "DIR", O_STR, F(agent_dir), NULL,
     "The same as --agent ipc://DIR/ulma-agent.ipc."},
    {"batch", 'b', NULL, O_FLAG, F(batch), NULL,
     "Batch mode, like top -b: print frames to standard output instead of drawing on the "
     "terminal, for scripts and logs. Needs no terminal."},
    {"iterations", 'n', "COUNT", O_U32, F(count), "0",
     "Stop after COUNT frames (batch mode; also ends the interactive mode). 0: until "
     "interrupted."},
    {"delay", 'd', "SECONDS", O_SEC, F(delay), "2",
     "Seconds between refreshes (at least 0.05; the 'd' key changes it)."},
    {"json", 'j', NULL, O_FLAG, F(json), NULL,
     "Batch mode: print one JSON document per frame (one line each) instead of text: the "
     "answers the frame is made of, each Reply written field by field as query.proto "
     "names them (see README.md in dashboard-tui/)."},
    {"view", 'V', "VIEW", O_STR, F(view), "cluster",
     "The view to open: cluster (the cluster-wide function table), nodes, jobs, "
     "imbalance, node:NAME, job:ID, rank:NODE/PID (rank:PID with --agent), function:NAME "
     "(a standard name file:line(name), a qualified name or a name)."},
    {"tab", 't', "TAB", O_STR, F(tab), NULL,
     "The tab of that view's screen to show: top, nodes, jobs, imbalance, ranks, threads, "
     "objects, mpi, nova, callers, paths (those the screen has)."},
    {"window", 'w', "SECONDS", O_U32, F(window), "5",
     "Rates (calls/s, time/s, events/s) are taken over the last SECONDS seconds "
     "(Query.window; the 'w' key changes it)."},
    {"threshold", 'T', "PERCENT", O_PCT, F(threshold), "0",
     "Hide function rows whose % (cumulative time over the program time of the scope) is "
     "below PERCENT (the 't' key changes it)."},
    {"filter", 'f', "TEXT", O_STR, F(filter), NULL,
     "Show only functions whose standard name contains TEXT (case-sensitive; the '/' key "
     "changes it)."},
    {"sort", 's', "COLUMN", O_STR, F(sort), "cumtime",
     "Sort function tables by COLUMN: function, ncalls, tottime, cumtime, pct, desc, proc, "
     "calls_s, cpu, imbalance, file (the '<' and '>' keys change it)."},
    {"rows", 'r', "N", O_U32, F(rows), "0",
     "Batch mode: at most N function rows per table (0: every row the answer has)."},
    {"width", 'W', "COLUMNS", O_U32, F(width), "0",
     "Batch mode: the width of a frame (0: $COLUMNS, else 160)."},
    {"curve-dir", 0, "DIR", O_STR, F(curve_dir), NULL,
     "Over tcp: encrypt and authenticate with CurveZMQ, with this user's key pair "
     "DIR/id.secret (owner-only, mode 0600: refused otherwise) and DIR/id.pub, checking the "
     "server against DIR/server.pub or --server-key. The collector (or agent) must hold our "
     "id.pub in its allowed keys, and in its control list for the profiling switch. Make it "
     "with ulma-keys. Default: $ULMA_CURVE_DIR."},
    {"server-key", 0, "FILE", O_STR, F(server_key), NULL,
     "The server's public key (its id.pub, or the 40 characters of the key); default "
     "DIR/server.pub."},
    {"plaintext", 0, NULL, O_FLAG, F(plaintext), NULL,
     "Talk to a tcp endpoint in plain text, neither encrypted nor authenticated, with a "
     "warning. A tcp endpoint needs --curve-dir or --plaintext; ipc needs neither."},
    {"timeout", 0, "MS", O_U32, F(timeout_ms), "2000",
     "How long to wait for an answer before saying that the collector (or agent) does not "
     "answer."},
    {"no-color", 0, NULL, O_FLAG, F(no_color), NULL,
     "No colours (also when NO_COLOR is set, or the terminal has none): markers, bold, "
     "reverse and underline tell things apart."},
    {"ascii", 0, NULL, O_FLAG, F(ascii), NULL,
     "ASCII only: bars, sparklines and heat maps drawn with plain characters (also when the "
     "locale is not UTF-8)."},
    {"help", 'h', NULL, O_FLAG, F(help), NULL, "Print this help and exit."},
    {"version", 0, NULL, O_FLAG, F(version), NULL, "Print the version and exit."},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static int store(ct_opts_t *o, const ct_opt_t *d, const char *val)
{
    char *base = (char *)o + d->off;
    char *end = NULL;
    switch (d->type) {
    case O_STR:
        if (strlen(val) >= d->size) {
            fprintf(stderr, "clustertop: --%s: too long (at most %zu bytes)\n", d->name,
                    d->size - 1);
            return -1;
        }
        memcpy(base, val, strlen(val) + 1);
        return 0;
    case O_U32: {
        errno = 0;
        unsigned long v = strtoul(val, &end, 10);
        if (!*val || *end || errno || v > UINT32_MAX || val[0] == '-') {
            fprintf(stderr, "clustertop: --%s: '%s' is not a whole number\n", d->name, val);
            return -1;
        }
        *(uint32_t *)(void *)base = (uint32_t)v;
        return 0;
    }
    case O_SEC:
    case O_PCT: {
        errno = 0;
        double v = strtod(val, &end);
        if (!*val || *end || errno || !isfinite(v) || v < 0 || (d->type == O_PCT && v > 100)) {
            fprintf(stderr, "clustertop: --%s: '%s' is not %s\n", d->name, val,
                    d->type == O_PCT ? "a percentage (0 to 100)" : "a number of seconds");
            return -1;
        }
        if (d->type == O_SEC && v < 0.05)
            v = 0.05;
        *(double *)(void *)base = v;
        return 0;
    }
    case O_FLAG: *(uint32_t *)(void *)base = 1; return 0;
    }
    return -1;
}

static const char *const sort_names[] = {"function", "ncalls",    "tottime", "cumtime",
                                         "pct",      "desc",      "proc",    "calls_s",
                                         "cpu",      "imbalance", "file"};

int ct_opts_parse(ct_opts_t *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    for (size_t i = 0; i < NOPTIONS; i++)
        if (options[i].dflt && store(o, &options[i], options[i].dflt) != 0)
            return -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const ct_opt_t *d = NULL;
        const char *val = NULL;
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t nl = eq ? (size_t)(eq - name) : strlen(name);
            for (size_t k = 0; k < NOPTIONS; k++)
                if (strlen(options[k].name) == nl && strncmp(options[k].name, name, nl) == 0)
                    d = &options[k];
            if (!d) {
                fprintf(stderr, "clustertop: unknown option '%s' (see clustertop --help)\n", a);
                return -1;
            }
            if (eq) {
                if (!d->arg) {
                    fprintf(stderr, "clustertop: --%s takes no value\n", d->name);
                    return -1;
                }
                val = eq + 1;
            }
        } else if (a[0] == '-' && a[1] && a[1] != '-') {
            for (size_t k = 0; k < NOPTIONS; k++)
                if (options[k].shortc && options[k].shortc == a[1])
                    d = &options[k];
            if (!d) {
                fprintf(stderr, "clustertop: unknown option '%s' (see clustertop --help)\n", a);
                return -1;
            }
            if (a[2]) {
                if (!d->arg) {
                    /* grouped flags: -bj */
                    for (const char *p = a + 1; *p; p++) {
                        const ct_opt_t *g = NULL;
                        for (size_t k = 0; k < NOPTIONS; k++)
                            if (options[k].shortc == *p)
                                g = &options[k];
                        if (!g || g->arg) {
                            fprintf(stderr, "clustertop: '-%c' in '%s': %s\n", *p, a,
                                    g ? "takes a value: give it alone" : "unknown option");
                            return -1;
                        }
                        store(o, g, "1");
                        if (g->type == O_FLAG && strcmp(g->name, "help") == 0)
                            o->help = 1;
                    }
                    continue;
                }
                val = a + 2;
            }
        } else {
            fprintf(stderr, "clustertop: unexpected argument '%s' (see clustertop --help)\n", a);
            return -1;
        }
        if (d->arg && !val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "clustertop: --%s needs a value (%s)\n", d->name, d->arg);
                return -1;
            }
            val = argv[++i];
        }
        if (store(o, d, d->arg ? val : "1") != 0)
            return -1;
        if (strcmp(d->name, "collector") == 0)
            o->given_collector = 1;
        if (strcmp(d->name, "agent") == 0 || strcmp(d->name, "agent-dir") == 0)
            o->given_agent = 1;
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

static void wrap(FILE *out, const char *text, int indent, int width)
{
    int col = 0;
    const char *p = text;
    while (*p) {
        const char *w = p;
        while (*w && *w != ' ')
            w++;
        int len = (int)(w - p);
        if (col == 0) {
            fprintf(out, "%*s", indent, "");
            col = indent;
        } else if (col + 1 + len > width) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, (size_t)len, out);
        col += len;
        p = *w ? w + 1 : w;
    }
    fputc('\n', out);
}

void ct_opts_usage(FILE *out)
{
    fputs("NAME\n       clustertop - the live, cluster-wide top of profiled Python programs\n\n"
          "SYNOPSIS\n       clustertop [--collector ENDPOINT | --agent ENDPOINT | --agent-dir "
          "DIR] [OPTION...]\n       clustertop -b [-n COUNT] [-d SECONDS] [--json] [--view "
          "VIEW] [OPTION...]\n\nDESCRIPTION\n",
          out);
    wrap(out,
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
    for (size_t i = 0; i < NOPTIONS; i++) {
        const ct_opt_t *d = &options[i];
        char head[128];
        int n = 0;
        if (d->shortc)
            n = snprintf(head, sizeof(head), "-%c%s%s, ", d->shortc, d->arg ? " " : "",
                         d->arg ? d->arg : "");
        snprintf(head + n, sizeof(head) - (size_t)n, "--%s%s%s", d->name, d->arg ? " " : "",
                 d->arg ? d->arg : "");
        fprintf(out, "       %s\n", head);
        char text[1024];
        if (d->dflt && d->type != O_FLAG && d->dflt[0])
            snprintf(text, sizeof(text), "%s Default: %s.", d->help, d->dflt);
        else
            snprintf(text, sizeof(text), "%s", d->help);
        wrap(out, text, 14, 79);
    }
    fputs("\nKEYS\n", out);
    wrap(out,
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
    wrap(out,
         "NO_COLOR (any value): no colours. TERM: a terminal without colours gets none. "
         "COLUMNS: the width of batch frames. LANG/LC_ALL: a locale without UTF-8 "
         "gets ASCII drawings.",
         7, 79);
    fputs("\nEXIT STATUS\n", out);
    wrap(out,
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
