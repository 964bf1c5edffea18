/* config.c - the agent's configuration: one table gives every option its
 * name, argument, default, field and help text; parsing and --help both
 * read it. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "profile/table.h"
#include "ulma/segment.h"

#ifndef ULMA_VERSION_STRING
#define ULMA_VERSION_STRING "0.1.0"
#endif

enum opt_type { OPT_STR, OPT_U32, OPT_DBL, OPT_FLAG, OPT_PID, OPT_UIDS, OPT_LIM };

typedef struct opt {
    const char *name;  /* long name, without "--" */
    char shortc;       /* or 0 */
    const char *arg;   /* argument name, NULL for flags */
    enum opt_type type;
    size_t off;        /* field in agent_config_t */
    size_t size;       /* for strings */
    const char *dflt;  /* default (NULL: empty / 0) */
    const char *help;
} opt_t;

#define F(field) offsetof(agent_config_t, field), sizeof(((agent_config_t *)0)->field)
#define L(field) offsetof(agent_config_t, lim.field), sizeof(uint32_t)

static const opt_t opts[] = {
    {"dir", 'd', "DIR", OPT_STR, F(dir), NULL,
     "Directory of the segments (default: $ULMA_DIR, else /dev/shm)."},
    {"private", 'p', "PID", OPT_PID, F(private_pid), NULL,
     "Private agent of process PID and its descendants: no lock, no endpoint unless "
     "--endpoint/--listen is given; exit after they all ended and were drained, printing "
     "the table and writing the files asked for."},
    {"sort", 's', "KEY", OPT_STR, F(sort), "stdname",
     "Sort key of the table, as pstats: calls, cumulative, cumtime, time, tottime, ncalls, "
     "pcalls, name, filename, module, line, nfl, stdname (default, like cProfile), or a unique "
     "prefix."},
    {"outfile", 'o', "FILE", OPT_STR, F(out_pstats), NULL,
     "Write a pstats file (readable by pstats.Stats, snakeviz, ...). {pid} and {rank} in FILE "
     "are replaced by the process's pid and MPI rank (0 when not under MPI)."},
    {"json", 0, "FILE", OPT_STR, F(out_json), NULL,
     "Write the whole profile as JSON (schema: node-agent/README.md). {pid}, {rank} as for -o."},
    {"collapsed", 0, "FILE", OPT_STR, F(out_collapsed), NULL,
     "Write collapsed stacks (flame graph text: frames;...;frame microseconds)."},
    {"speedscope", 0, "FILE", OPT_STR, F(out_speedscope), NULL,
     "Write a speedscope JSON file (https://www.speedscope.app)."},
    {"pprof", 0, "FILE", OPT_STR, F(out_pprof), NULL,
     "Write a gzipped pprof profile.proto (go tool pprof, ...)."},
    {"svg", 0, "FILE", OPT_STR, F(out_svg), NULL,
     "Write a standalone SVG flame graph (open it in a web browser)."},
    {"rows", 'n', "N", OPT_U32, F(rows), "0", "Rows of the printed table (0: all)."},
    {"no-table", 0, NULL, OPT_FLAG, F(no_table), NULL,
     "Private mode: do not print the table on standard output."},
    {"endpoint", 'e', "EP", OPT_STR, F(endpoint), NULL,
     "ZeroMQ endpoint of the query socket (default: ipc://DIR/ulma-agent.ipc for a node "
     "agent, none for a private agent; \"none\" disables it)."},
    {"listen", 'l', "EP", OPT_STR, F(listen), NULL,
     "Also answer queries on this endpoint, e.g. tcp://127.0.0.1:5555 (a bare port number "
     "means tcp://127.0.0.1:PORT)."},
    {"collector", 'c', "EP", OPT_STR, F(collector), NULL,
     "Report to the collector at this endpoint (e.g. tcp://head:7710): every "
     "--report-interval, the changes since the last report, and a full snapshot every "
     "--snapshot-every reports or when the collector asks. The agent keeps profiling and "
     "answering local queries whether or not a collector is there."},
    {"node", 0, "NAME", OPT_STR, F(node), NULL,
     "This node's name in the collector's views (default: the host name). Several agents on "
     "one machine with different --dir and --node are several nodes."},
    {"report-interval", 0, "SECONDS", OPT_DBL, F(report_s), "1",
     "Seconds between two reports to the collector."},
    {"snapshot-every", 0, "K", OPT_U32, F(snapshot_every), "10",
     "Send a full snapshot every K reports (the others carry only changes)."},
    {"allow-uid", 'u', "UID[,UID...]", OPT_UIDS, F(allow_uids), NULL,
     "Read only segments of these users (root only: default all users; others always read "
     "only their own)."},
    {"keep", 'k', "SECONDS", OPT_DBL, F(keep_s), "60",
     "Keep the results of an ended process this long before forgetting them (its segment "
     "file is removed as soon as it is drained)."},
    {"scan-ms", 0, "MS", OPT_U32, F(scan_ms), "1000",
     "Period of the directory scan that backs up inotify."},
    {"cron-ms", 0, "MS", OPT_U32, F(cron_ms), "100",
     "Period of the housekeeping function (liveness of writers, expiry, calibration)."},
    {"interval-ms", 0, "MS", OPT_U32, F(interval_ms), "1000", "Interval of the rates shown."},
    {"idle-us", 0, "US", OPT_U32, F(idle_us), "500",
     "Sleep this long when every ring is empty (at most; a request wakes the agent), "
     "and between drain passes that found every ring under 1/16 full."},
    {"run-for", 0, "SECONDS", OPT_DBL, F(run_for_s), "0",
     "Stop after this long (0: run until SIGINT/SIGTERM)."},
    {"max-functions", 0, "N", OPT_LIM, L(max_id), "4194304",
     "Largest function/type id accepted per process (bounds memory per process)."},
    {"max-paths", 0, "N", OPT_LIM, L(max_cct_nodes), "4194304",
     "Call paths kept per process; further paths are counted as overflow."},
    {"max-depth", 0, "N", OPT_LIM, L(max_stack), "65536", "Shadow-stack depth per thread."},
    {"quiet", 'q', NULL, OPT_FLAG, F(quiet), NULL, "Print only errors on standard error."},
    {"verbose", 'v', NULL, OPT_FLAG, F(verbose), NULL, "Log segments claimed and harvested."},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static int set_opt(agent_config_t *cfg, const opt_t *o, const char *val)
{
    char *base = (char *)cfg + o->off;
    char *end;
    switch (o->type) {
    case OPT_STR:
        if (strlen(val) >= o->size) {
            fprintf(stderr, "ulma-agent: --%s: value too long\n", o->name);
            return -1;
        }
        strcpy(base, val);
        return 0;
    case OPT_U32:
    case OPT_LIM: {
        errno = 0;
        unsigned long v = strtoul(val, &end, 10);
        if (errno || *end || end == val || v > UINT32_MAX || val[0] == '-') {
            fprintf(stderr, "ulma-agent: --%s: '%s' is not a number\n", o->name, val);
            return -1;
        }
        *(uint32_t *)(void *)base = (uint32_t)v;
        return 0;
    }
    case OPT_DBL: {
        errno = 0;
        double v = strtod(val, &end);
        if (errno || *end || end == val || v < 0) {
            fprintf(stderr, "ulma-agent: --%s: '%s' is not a non-negative number\n", o->name, val);
            return -1;
        }
        *(double *)(void *)base = v;
        return 0;
    }
    case OPT_PID: {
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || *end || end == val || v <= 0 || v > INT32_MAX) {
            fprintf(stderr, "ulma-agent: --%s: '%s' is not a process id\n", o->name, val);
            return -1;
        }
        *(int32_t *)(void *)base = (int32_t)v;
        return 0;
    }
    case OPT_UIDS: {
        const char *s = val;
        while (*s) {
            errno = 0;
            unsigned long v = strtoul(s, &end, 10);
            if (errno || end == s || v > UINT32_MAX || (*end && *end != ',') ||
                cfg->n_allow_uids >= AGENT_MAX_UIDS) {
                fprintf(stderr, "ulma-agent: --%s: bad uid list '%s'\n", o->name, val);
                return -1;
            }
            cfg->allow_uids[cfg->n_allow_uids++] = (uint32_t)v;
            s = *end ? end + 1 : end;
        }
        return 0;
    }
    case OPT_FLAG:
        *(uint32_t *)(void *)base = 1;
        return 0;
    }
    return -1;
}

static void wrap(FILE *out, const char *text, int indent, int width)
{
    int col = indent;
    const char *p = text;
    fprintf(out, "%*s", indent, "");
    while (*p) {
        const char *w = p;
        while (*w && *w != ' ')
            w++;
        int len = (int)(w - p);
        if (col > indent && col + 1 + len > width) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, (size_t)len, out);
        col += len;
        p = *w ? w + 1 : w;
    }
    fputc('\n', out);
}

void agent_config_help(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    ulma-agent - drain ULMA event rings into cProfile-exact tables, call paths,\n"
            "    object and MPI statistics\n\n"
            "SYNOPSIS\n"
            "    ulma-agent [--dir DIR] [--listen EP] [--allow-uid UIDS] [options]\n"
            "    ulma-agent --private PID [--dir DIR] [-s KEY] [-o FILE] [--json FILE]\n"
            "               [--collapsed FILE] [--speedscope FILE] [--pprof FILE] [--svg FILE]\n\n"
            "DESCRIPTION\n"
            "    A node agent (the first form) runs once per node and directory. It finds\n"
            "    the segments of hooked processes as they appear in DIR (inotify plus a\n"
            "    periodic scan), claims those it may read (header.reader_pid, by\n"
            "    compare-and-swap), drains every thread ring and keeps per process: the\n"
            "    function table with cProfile's ncalls, primitive calls, tottime and\n"
            "    cumtime (recursion included), %%, %%DESC and %%PROC, rates over the last\n"
            "    interval, callers and callees, the calling context tree, each thread's\n"
            "    current stack, object statistics and MPI statistics. Processes that\n"
            "    exit, or are killed, are drained to their last record; their segment\n"
            "    file is removed and their results are kept for --keep seconds.\n\n"
            "    It holds an exclusive lock on DIR/ulma-agent.lock (which holds its pid):\n"
            "    a second agent on the same directory refuses to start. It answers JSON\n"
            "    queries on a ZeroMQ ROUTER socket, ipc://DIR/ulma-agent.ipc by default;\n"
            "    ulma-ctl(1) is its command-line client (tables, stacks, exports, and\n"
            "    switching processes on, off, or between modes).\n\n"
            "    A private agent (--private PID) is what `python3 -m ulma script.py`\n"
            "    starts when no node agent runs. It waits for PID's segment, drains it and\n"
            "    those of PID's descendants until all ended, then prints a table like\n"
            "    cProfile's on standard output and writes the files asked for. It gives\n"
            "    up with an error if PID ends without creating a segment.\n\n"
            "OPTIONS\n");
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_t *o = &opts[i];
        if (o->shortc)
            fprintf(out, "    -%c, --%s%s%s\n", o->shortc, o->name, o->arg ? " " : "",
                    o->arg ? o->arg : "");
        else
            fprintf(out, "    --%s%s%s\n", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        char buf[1024];
        if (o->dflt && o->type != OPT_STR)
            snprintf(buf, sizeof(buf), "%s Default: %s.", o->help, o->dflt);
        else
            snprintf(buf, sizeof(buf), "%s", o->help);
        wrap(out, buf, 8, 80);
    }
    fprintf(out,
            "    -h, --help\n        Show this text.\n"
            "    -V, --version\n        Show the version.\n\n"
            "OUTPUT\n"
            "    The table has cProfile's columns (ncalls as total/primitive when they\n"
            "    differ, tottime, percall, cumtime, percall) plus %% (cumtime share of the\n"
            "    profile's total time), %%DESC (share of the function's cumtime spent in\n"
            "    its callees) and %%PROC (share spent in its own body). Records the\n"
            "    program lost because its ring was full are counted and shown in a\n"
            "    \"Dropped:\" line; the tables stay consistent.\n\n"
            "FILES\n"
            "    DIR/ulma.<uid>.<pid>.<starttime>.seg   segments of hooked processes\n"
            "    DIR/ulma-agent.lock                    held by the node agent; its pid\n"
            "    DIR/ulma-agent.ipc                     the node agent's query socket\n\n"
            "EXIT STATUS\n"
            "    0 success; 1 a runtime error (another agent holds the lock, the private\n"
            "    process ended without a segment, an output file could not be written);\n"
            "    2 a usage error.\n\n"
            "SEE ALSO\n"
            "    ulma-ctl --help, python3 -m ulma --help, node-agent/README.md\n");
}

int agent_config_parse(agent_config_t *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof(*cfg));
    prof_limits_default(&cfg->lim);
    for (size_t i = 0; i < NOPTS; i++)
        if (opts[i].dflt && set_opt(cfg, &opts[i], opts[i].dflt) != 0)
            return -1;
    snprintf(cfg->dir, sizeof(cfg->dir), "%s", ulma_default_dir());
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            agent_config_help(stdout);
            return 1;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("ulma-agent %s\n", ULMA_VERSION_STRING);
            return 1;
        }
        const opt_t *o = NULL;
        const char *val = NULL;
        if (a[0] == '-' && a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            for (size_t k = 0; k < NOPTS; k++)
                if (strlen(opts[k].name) == n && strncmp(opts[k].name, a + 2, n) == 0)
                    o = &opts[k];
            if (o && eq)
                val = eq + 1;
        } else if (a[0] == '-' && a[1] && !a[2]) {
            for (size_t k = 0; k < NOPTS; k++)
                if (opts[k].shortc == a[1])
                    o = &opts[k];
        }
        if (!o) {
            fprintf(stderr, "ulma-agent: unknown option '%s' (see --help)\n", a);
            return -1;
        }
        if (o->type == OPT_FLAG) {
            if (val) {
                fprintf(stderr, "ulma-agent: --%s takes no value\n", o->name);
                return -1;
            }
            set_opt(cfg, o, "1");
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ulma-agent: --%s needs %s\n", o->name, o->arg);
                return -1;
            }
            val = argv[++i];
        }
        if (set_opt(cfg, o, val) != 0)
            return -1;
    }
    if (!profile_sort_key(cfg->sort)) {
        fprintf(stderr, "ulma-agent: unknown sort key '%s' (see --help)\n", cfg->sort);
        return -1;
    }
    snprintf(cfg->sort, sizeof(cfg->sort), "%s", profile_sort_key(cfg->sort));
    if (cfg->listen[0] && strspn(cfg->listen, "0123456789") == strlen(cfg->listen)) {
        char port[16];
        snprintf(port, sizeof(port), "%.10s", cfg->listen);
        snprintf(cfg->listen, sizeof(cfg->listen), "tcp://127.0.0.1:%s", port);
    }
    if (cfg->collector[0] && cfg->private_pid) {
        fprintf(stderr, "ulma-agent: --collector is for a node agent, not with --private\n");
        return -1;
    }
    if (cfg->report_s < 0.05 || cfg->report_s > 3600) {
        fprintf(stderr, "ulma-agent: --report-interval: from 0.05 to 3600 seconds\n");
        return -1;
    }
    if (!cfg->snapshot_every) {
        fprintf(stderr, "ulma-agent: --snapshot-every: at least 1\n");
        return -1;
    }
    if (!cfg->cron_ms)
        cfg->cron_ms = 100;
    if (!cfg->scan_ms)
        cfg->scan_ms = 1000;
    if (!cfg->interval_ms)
        cfg->interval_ms = 1000;
    return 0;
}
