/* config.c - the agent's configuration: one table (opts.h) gives every
 * option its name, argument, default, field and help text; parsing and
 * --help both read it. Then the checks that must pass before a private
 * agent lets its program start. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "cli/opts.h"
#include "profile/table.h"
#include "ulma/segment.h"
#include "wire/curve.h"

#ifndef ULMA_VERSION_STRING
#define ULMA_VERSION_STRING "0.1.0"
#endif
#define AGENT_CONFIG_FILE "/etc/ulma/agent.conf"

static int parse_uids(void *base, const opt_t *o, const char *val, const char *prog)
{
    agent_config_t *cfg = base;
    const char *s = val;
    char *end;
    cfg->n_allow_uids = 0; /* a later value replaces an earlier one */
    while (*s) {
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || end == s || v > UINT32_MAX || (*end && *end != ',') ||
            cfg->n_allow_uids >= AGENT_MAX_UIDS) {
            fprintf(stderr, "%s: --%s: bad uid list '%s'\n", prog, o->name, val);
            return -1;
        }
        cfg->allow_uids[cfg->n_allow_uids++] = (uint32_t)v;
        s = *end ? end + 1 : end;
    }
    return 0;
}

static void show_uids(const void *base, const opt_t *o, char *buf, size_t len)
{
    (void)o;
    const agent_config_t *cfg = base;
    size_t n = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < cfg->n_allow_uids && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%u", i ? "," : "", cfg->allow_uids[i]);
}

#define F(field) offsetof(agent_config_t, field), sizeof(((agent_config_t *)0)->field)
#define L(field) offsetof(agent_config_t, lim.field), sizeof(uint32_t)
#define NOF 0, 0

static const opt_t opts[] = {
    {"dir", 'd', "DIR", OPT_STR, F(dir), NULL,
     "Directory of the segments (default: $ULMA_DIR, else /dev/shm)."},
    {"private", 'p', "PID", OPT_PID, F(private_pid), NULL,
     "Private agent of process PID and its descendants: no lock, no endpoint unless "
     "--endpoint/--listen is given; exit after they all ended and were drained, printing "
     "the table and writing the files asked for. Give it first (with --go-fd and "
     "--wait-child next), so that a usage error in a later option still kills a waiting "
     "child."},
    {"go-fd", 0, "FD", OPT_FD, F(go_fd), NULL,
     "Private mode: once every option is checked (sort key, output directories) and the "
     "agent is ready to drain, write one byte to FD and close it. A program waiting on the "
     "other end of the pipe runs on that byte; end of file instead means the agent "
     "refused (its message is on standard error) and the program must not run."},
    {"wait-child", 0, NULL, OPT_FLAG, F(wait_child), NULL,
     "Private mode, PID being a child of this process (the launcher forked it, then "
     "executed the agent in its own process): the agent learns of the child's end at once "
     "(SIGCHLD), reports, and exits with the child's exit status; a child killed by a "
     "signal makes the agent kill itself with the same signal after the report. SIGTERM, "
     "SIGUSR1 and SIGUSR2 sent to the agent are passed on to the child, and so are SIGINT, "
     "SIGQUIT and SIGHUP when a process sent them (the terminal's reach the child directly, "
     "through the process group). A usage error kills the child, which was waiting for "
     "--go-fd's byte and ran nothing. With --wait-child, a file that cannot be written at "
     "the end is reported on stderr and the exit status stays the child's."},
    {"sort", 's', "KEY", OPT_STR, F(sort), "stdname",
     "Sort key of the table, as pstats: calls, cumulative, cumtime, time, tottime, ncalls, "
     "pcalls, name, filename, module, line, nfl, stdname (default, like cProfile), or a unique "
     "prefix."},
    {"outfile", 'o', "FILE", OPT_STR, F(out_pstats), NULL,
     "Write a pstats file (readable by pstats.Stats, snakeviz, ...). {pid} and {rank} in FILE "
     "are replaced by the process's pid and MPI rank (0 when not under MPI)."},
    {"json", 0, "FILE", OPT_STR, F(out_json), NULL,
     "Write the whole profile as JSON (schema: profile/README.md). {pid}, {rank} as for -o."},
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
     "Private mode: do not print the table on standard output (python3 -m ulma passes it "
     "with -o, as cProfile prints nothing then)."},
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
    {"curve-dir", 0, "DIR", OPT_STR, F(curve_dir), NULL,
     "Encrypt and authenticate the tcp links with CurveZMQ: this node's key pair is "
     "DIR/id.secret (owner-only, mode 0600: refused otherwise) and DIR/id.pub. Reports to "
     "--collector check the collector against --server-key (default DIR/server.pub); a tcp "
     "--listen or --endpoint lets in only the keys in DIR/allowed/ and DIR/control/ (read at "
     "every connection), and counts the refused. Make the directory with ulma-keys. A tcp "
     "endpoint needs --curve-dir or --plaintext; ipc:// never uses CURVE."},
    {"server-key", 0, "FILE", OPT_STR, F(server_key), NULL,
     "The collector's public key: its id.pub, or the 40 characters of the key (default: "
     "DIR/server.pub)."},
    {"plaintext", 0, NULL, OPT_FLAG, F(plaintext), NULL,
     "Use the tcp links in plain text, neither encrypted nor authenticated (anyone who "
     "reaches them may read, report and query); a warning is printed at every start."},
    {"allow-uid", 'u', "UID[,UID...]", OPT_CUSTOM, NOF, NULL,
     "Read only segments of these users (root only: default all users; others always read "
     "only their own).",
     parse_uids, show_uids},
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
    {"max-functions", 0, "N", OPT_U32, L(max_id), "4194304",
     "Largest function/type id accepted per process (bounds memory per process)."},
    {"max-paths", 0, "N", OPT_U32, L(max_cct_nodes), "4194304",
     "Call paths kept per process; further paths are counted as overflow."},
    {"max-depth", 0, "N", OPT_U32, L(max_stack), "65536", "Shadow-stack depth per thread."},
    {"quiet", 'q', NULL, OPT_FLAG, F(quiet), NULL, "Print only errors on standard error."},
    {"verbose", 'v', NULL, OPT_FLAG, F(verbose), NULL, "Log segments claimed and harvested."},
    {"config", 0, "FILE", OPT_STR, F(config), NULL,
     "Read the configuration from FILE (default: " AGENT_CONFIG_FILE " if it exists): one "
     "`name = value` per line, with the long names of these options (flags take yes or "
     "no). Every option but the command-line-only ones (--config, --print-config, --private, "
     "--go-fd, --wait-child, --help, --version) may also be given in the environment as "
     "ULMA_NAME (upper case, - as _: ULMA_REPORT_INTERVAL=2), except --sort and --json. "
     "Lowest first: defaults, the file, the environment, the command line. A private agent "
     "(--private) reads neither file nor environment."},
    {"print-config", 0, NULL, OPT_FLAG, F(print_config), NULL,
     OPTS_PRINT_CONFIG_HELP},
    {"help", 'h', NULL, OPT_FLAG, F(help), NULL, "Show this text."},
    {"version", 'V', NULL, OPT_FLAG, F(version), NULL, "Show the version."},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void agent_config_help(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    ulma-agent - drain ULMA event rings into cProfile-exact tables, call paths,\n"
            "    object and MPI statistics\n\n"
            "SYNOPSIS\n"
            "    ulma-agent [--dir DIR] [--listen EP] [--allow-uid UIDS] [options]\n"
            "    ulma-agent --private PID [--go-fd FD] [--wait-child] [--dir DIR] [-s KEY]\n"
            "               [-o FILE] [--json FILE] [--collapsed FILE] [--speedscope FILE]\n"
            "               [--pprof FILE] [--svg FILE] [--no-table] [-n ROWS]\n\n"
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
            "    up with an error if PID ends without creating a segment. Every option is\n"
            "    checked before PID is let go (--go-fd): an unknown or ambiguous sort key,\n"
            "    or an output file whose directory does not exist or is not writable, is\n"
            "    a usage error (exit 2) and the program never runs.\n\n"
            "    The launcher's protocol (--go-fd with --wait-child): python3 -m ulma\n"
            "    checks its own options and compiles the script, creates a pipe and\n"
            "    forks; the child waits on the pipe, the parent executes\n"
            "      ulma-agent --private CHILD --go-fd W --wait-child --dir DIR ...\n"
            "    so that the agent keeps the pid the shell (or mpirun) waits for. The\n"
            "    agent checks its options, writes the go byte, drains the child's\n"
            "    segment (reserved for it: reader_pid = the agent's pid) and those of\n"
            "    the child's descendants, reports when they are all done, and exits as\n"
            "    the child did (see --wait-child).\n\n"
            "OPTIONS\n");
    opts_help(out, opts, NOPTS);
    fprintf(out,
            "\n"
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
            "    2 a usage error. With --wait-child: the child's exit status (or its\n"
            "    signal, re-raised), also when an output file could not be written (the\n"
            "    message is on stderr, the table printed all the same), and 2 for a\n"
            "    usage error (the child never ran).\n\n"
            "SEE ALSO\n"
            "    ulma-ctl --help, python3 -m ulma --help, node-agent/README.md\n");
}

/* The MPI rank this process would get, from the launcher's variables (the
 * agent inherits the program's environment), or 0: for checking output
 * names before the segment tells the real one. */
static int env_rank(void)
{
    static const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return atoi(v);
    }
    return 0;
}

/* Can `tmpl` (with {pid} and {rank}) be written at the end, as
 * write_file writes it? A regular file or a new name: the directory of the
 * file (of the one a symbolic link points to) must exist and be writable,
 * for a temporary file renamed over it. An existing file of another kind
 * (/dev/stdout, a pipe): writable itself. Never a directory. Nothing is
 * created. 0, or -1 with a message. */
static int check_output(const agent_config_t *cfg, const char *opt, const char *tmpl)
{
    char path[AGENT_PATH_MAX];
    size_t o = 0;
    for (const char *s = tmpl; *s && o + 24 < sizeof(path);) {
        if (strncmp(s, "{pid}", 5) == 0) {
            o += (size_t)snprintf(path + o, sizeof(path) - o, "%d", cfg->private_pid);
            s += 5;
        } else if (strncmp(s, "{rank}", 6) == 0) {
            o += (size_t)snprintf(path + o, sizeof(path) - o, "%d", env_rank());
            s += 6;
        } else {
            path[o++] = *s++;
        }
    }
    path[o] = '\0';
    struct stat sb;
    const char *why = NULL;
    if (path[0] && stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        if (S_ISDIR(sb.st_mode))
            why = "Is a directory";
        else if (access(path, W_OK) != 0)
            why = strerror(errno);
        if (!why)
            return 0;
        fprintf(stderr, "ulma-agent: %s %s: cannot write %s: %s\n", opt, tmpl, path, why);
        return -1;
    }
    char real[PATH_MAX];
    if (path[0] && realpath(path, real) && strlen(real) < sizeof(path))
        snprintf(path, sizeof(path), "%s", real);
    char dir[AGENT_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (!path[0] || (slash && !slash[1]))
        why = "not a file name";
    else if (stat(dir, &sb) != 0)
        why = strerror(errno);
    else if (!S_ISDIR(sb.st_mode))
        why = "Not a directory";
    else if (access(dir, W_OK | X_OK) != 0)
        why = strerror(errno);
    if (!why)
        return 0;
    fprintf(stderr, "ulma-agent: %s %s: cannot write %s: %s\n", opt, tmpl, path, why);
    return -1;
}

int agent_config_parse(agent_config_t *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->go_fd = -1;
    prof_limits_default(&cfg->lim);
    snprintf(cfg->dir, sizeof(cfg->dir), "%s", ulma_default_dir());
    static const char *const cmdline_only[] = {"config", "print-config", "private", "go-fd",
                                               "wait-child", "help", "version", NULL};
    /* ULMA_SORT and ULMA_JSON are the launcher's (python3 -m ulma) */
    static const char *const env_skip[] = {"sort", "json", NULL};
    static const char *const no_sources[] = {"private", NULL};
    opts_ctx_t c = {opts, NOPTS, cfg, "ulma-agent", NULL, AGENT_CONFIG_FILE,
                    cmdline_only, env_skip, no_sources, NULL};
    if (opts_load(&c, argc, argv) != 0)
        return -1;
    for (int i = 1; i < argc;) {
        const char *a = argv[i];
        int rc = opts_parse_one(&c, argc, argv, &i);
        if (rc == 1) {
            fprintf(stderr, "ulma-agent: unexpected argument '%s' (see --help)\n", a);
            return -1;
        }
        if (rc < 0)
            return -1;
        /* at once, whatever follows, as the options before them were read */
        if (cfg->help) {
            agent_config_help(stdout);
            return 1;
        }
        if (cfg->version) {
            printf("ulma-agent %s\n", ULMA_VERSION_STRING);
            return 1;
        }
    }
    if (cfg->print_config) {
        opts_print_config(stdout, &c, ULMA_VERSION_STRING);
        return 1;
    }
    if (!profile_sort_key(cfg->sort)) {
        fprintf(stderr, "ulma-agent: -s: unknown or ambiguous sort key '%s' (%s, or a unique "
                "prefix)\n", cfg->sort, profile_sort_keys_list());
        return -1;
    }
    snprintf(cfg->sort, sizeof(cfg->sort), "%s", profile_sort_key(cfg->sort));
    if ((cfg->wait_child || cfg->go_fd >= 0) && !cfg->private_pid) {
        fprintf(stderr, "ulma-agent: --go-fd and --wait-child need --private PID\n");
        return -1;
    }
    const struct {
        const char *opt, *tmpl;
    } outs[] = {{"-o", cfg->out_pstats},          {"--json", cfg->out_json},
                {"--collapsed", cfg->out_collapsed}, {"--speedscope", cfg->out_speedscope},
                {"--pprof", cfg->out_pprof},      {"--svg", cfg->out_svg}};
    for (size_t k = 0; k < sizeof(outs) / sizeof(outs[0]); k++)
        if (outs[k].tmpl[0] && check_output(cfg, outs[k].opt, outs[k].tmpl) != 0)
            return -1;
    if (cfg->listen[0] && strspn(cfg->listen, "0123456789") == strlen(cfg->listen)) {
        char port[16];
        snprintf(port, sizeof(port), "%.10s", cfg->listen);
        snprintf(cfg->listen, sizeof(cfg->listen), "tcp://127.0.0.1:%s", port);
    }
    if (cfg->collector[0] && cfg->private_pid) {
        fprintf(stderr, "ulma-agent: --collector is for a node agent, not with --private\n");
        return -1;
    }
    const char *net = wire_endpoint_is_net(cfg->collector) ? cfg->collector
                      : wire_endpoint_is_net(cfg->listen) ? cfg->listen
                      : strcmp(cfg->endpoint, "none") != 0 && wire_endpoint_is_net(cfg->endpoint)
                          ? cfg->endpoint
                          : NULL;
    if (net && !cfg->curve_dir[0] && !cfg->plaintext) {
        fprintf(stderr,
                "ulma-agent: %s is a network endpoint: give --curve-dir DIR (keys made by "
                "ulma-keys) to encrypt and authenticate it, or --plaintext to ask for neither\n",
                net);
        return -1;
    }
    if (cfg->curve_dir[0] && cfg->plaintext) {
        fprintf(stderr, "ulma-agent: --curve-dir and --plaintext: choose one\n");
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
