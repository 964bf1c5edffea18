/* config.c - the collector's configuration: one table gives every option
 * its name, argument, default, field and help text; parsing and --help
 * both read it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/opts.h"
#include "collector.h"
#include "wire/curve.h"
#include "wire/wire.h"

#ifndef ULMA_VERSION_STRING
#define ULMA_VERSION_STRING "0.1.0"
#endif
#define COLLECTOR_CONFIG_FILE "/etc/ulma/collector.conf"

#define F(field) offsetof(collector_config_t, field), sizeof(((collector_config_t *)0)->field)

static const opt_t opts[] = {
    {"agents", 'a', "EP", OPT_STR, F(agents), WIRE_AGENTS_ENDPOINT,
     "ZeroMQ endpoint the node agents connect to (a ROUTER socket the collector binds; agents "
     "run `ulma-agent --collector tcp://HEAD:7710`)."},
    {"query", 'Q', "EP", OPT_STR, F(query), WIRE_QUERY_ENDPOINT,
     "ZeroMQ endpoint of the query socket for dashboards (a ROUTER: DEALER peers with or "
     "without an empty delimiter frame, and REQ peers, are answered). Protobuf messages of "
     "proto/query.proto."},
    {"metrics", 'm', "HOST:PORT", OPT_STR, F(metrics), WIRE_METRICS_ADDR,
     "Serve Prometheus/OpenMetrics text at http://HOST:PORT/metrics (read-only, GET only); "
     "\"none\" disables it."},
    {"curve-dir", 0, "DIR", OPT_STR, F(curve_dir), NULL,
     "Encrypt and authenticate both sockets with CurveZMQ: the collector's key pair is "
     "DIR/id.secret (owner-only, mode 0600: refused otherwise) and DIR/id.pub; an agent or "
     "dashboard is let in only if its public key is a file in DIR/allowed/ or DIR/control/ "
     "(read at every connection), and only keys in DIR/control/ may send control requests "
     "(the others get an error answer). Refusals are counted (/metrics, the summary at "
     "exit). Make the directory with ulma-keys. A tcp endpoint needs --curve-dir or "
     "--plaintext."},
    {"plaintext", 0, NULL, OPT_FLAG, F(plaintext), NULL,
     "Ask for plain text: no encryption, no authentication, every peer may query and "
     "control. A warning is printed at every start. Endpoints ipc:// never use CURVE (the "
     "socket file's permissions guard them)."},
    {"interval", 'i', "S", OPT_SEC, F(interval_s), "1",
     "The agents' report interval: a node silent for 3 intervals is stale; history points and "
     "rate samples are taken once per interval."},
    {"gone", 0, "S", OPT_SEC, F(gone_s), "30",
     "A node silent this long is gone: its processes are no longer live."},
    {"keep", 'k', "S", OPT_SEC, F(keep_s), "300",
     "Keep what departed this long: a gone node and its processes, a process its agent no "
     "longer holds, a job with no process left. Then its numbers leave every view (memory "
     "stays bounded)."},
    {"history", 0, "S", OPT_SEC, F(history_s), "600",
     "History kept per node and for the cluster (HISTORY, sparklines): one point per interval."},
    {"rate-window", 0, "S", OPT_SEC, F(rate_window_s), "60",
     "The longest window rates can be smoothed over (Query.window, default 5 s): one sample of "
     "every function's cumulative calls and time per interval is kept for the cluster and for "
     "each job, 16 bytes per function per sample."},
    {"dump", 'd', "FILE", OPT_STR, F(dump), NULL,
     "Write the merged view as JSON (schema: collector/README.md) to FILE at exit and on "
     "SIGUSR1."},
    {"metrics-top", 0, "N", OPT_U32, F(metrics_top), "10",
     "Functions per job in /metrics (the N with most own time): bounds label cardinality."},
    {"snapshot-every", 0, "K", OPT_U32, F(snapshot_every), "10",
     "Ask an agent for a full snapshot when it has sent none for K intervals (agents send one "
     "every K intervals of their own, ulma-agent --snapshot-every, and whenever asked): a total "
     "is whole again at most K intervals after a lost report or a restart. 0: only when a "
     "delta cannot be applied."},
    {"forward-ms", 0, "MS", OPT_U32, F(forward_ms), "2000",
     "A query forwarded to a node's agent (STACKS, RECENT, a rank's callers, callees, paths, "
     "objects, export) is answered with an error after this long without an answer."},
    {"max-pending", 0, "N", OPT_U32, F(max_forwards), "256",
     "Forwarded queries and control requests waiting for agents at once; more are refused "
     "with an error (and counted)."},
    {"hwm", 0, "N", OPT_U32, F(hwm), "10000",
     "ZeroMQ high-water mark (messages) of both sockets, each way. Sends never block: a "
     "message to a peer over its mark is dropped and counted."},
    {"agent-hwm", 0, "N", OPT_U32, F(agent_hwm), "10",
     "Reports queued per agent connection before TCP holds that agent back (its next "
     "reports then carry what the held ones would have: nothing is lost). Bounds the "
     "collector's memory at agents x N reports however slow it is."},
    {"max-functions", 0, "N", OPT_U32, F(max_functions), "4194304",
     "Distinct function labels held (whole cluster); a report that would exceed it is refused."},
    {"max-nodes", 0, "N", OPT_U32, F(max_nodes), "65536", "Nodes held."},
    {"max-processes", 0, "N", OPT_U32, F(max_procs), "65536", "Processes held per node."},
    {"run-for", 0, "S", OPT_SEC, F(run_for_s), "0", "Stop after this long (0: until SIGINT/SIGTERM)."},
    {"quiet", 'q', NULL, OPT_FLAG, F(quiet), NULL, "Print only errors on standard error."},
    {"verbose", 'v', NULL, OPT_FLAG, F(verbose), NULL,
     "Log nodes appearing, agent restarts, snapshots asked for and refused messages."},
    {"config", 0, "FILE", OPT_STR, F(config), NULL,
     "Read the configuration from FILE (default: " COLLECTOR_CONFIG_FILE " if it exists): "
     "one `name = value` per line, with the long names of these options (flags take yes or "
     "no). Every option but --config, --print-config, --help and --version may also be "
     "given in the environment as ULMA_NAME (upper case, - as _: ULMA_RATE_WINDOW=120). "
     "Lowest first: defaults, the file, the environment, the command line."},
    {"print-config", 0, NULL, OPT_FLAG, F(print_config), NULL,
     OPTS_PRINT_CONFIG_HELP},
    {"help", 'h', NULL, OPT_FLAG, F(help), NULL, "Show this text."},
    {"version", 'V', NULL, OPT_FLAG, F(version), NULL, "Show the version."},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void collector_config_help(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    ulma-collector - merge every node agent's reports into cluster-wide views\n\n"
            "SYNOPSIS\n"
            "    ulma-collector --curve-dir DIR | --plaintext\n"
            "                   [--agents tcp://*:7710] [--query tcp://127.0.0.1:7711]\n"
            "                   [--metrics 127.0.0.1:9464] [--interval S] [--keep S]\n"
            "                   [--dump FILE] [options]\n\n"
            "DESCRIPTION\n"
            "    Runs on the head node. Node agents (ulma-agent --collector EP) connect to\n"
            "    it and send a report every interval: per process the cProfile-exact\n"
            "    function rows as deltas against the report before, a snapshot every few\n"
            "    reports and whenever the collector asks (after a gap, a restart of either\n"
            "    side, or a lost dictionary). The collector checks every message (bounds,\n"
            "    dictionary indices, columns, order, values never negative, pcalls <=\n"
            "    ncalls, string sizes), counts and drops what breaks a rule, and merges the\n"
            "    rest into one profile per cluster, node, job and rank, in integer\n"
            "    nanoseconds: a job's total is the sum of its ranks' to the nanosecond.\n\n"
            "    Dashboards (clustertop) ask it on the query socket for the summary, the\n"
            "    top table of any scope by any pstats key, nodes and their health, ranks,\n"
            "    jobs, one function across ranks with its spread (min, mean, max,\n"
            "    standard deviation, the slowest rank), the imbalance matrix, MPI time per\n"
            "    rank, history for sparklines, exports of any scope (pstats, JSON,\n"
            "    collapsed, speedscope, pprof, SVG) and a JSON snapshot. What it does not\n"
            "    hold (a rank's live stacks, object sites, recent objects, its own callers,\n"
            "    paths or export) it forwards to that node's agent over the agent's own\n"
            "    connection, and relays the answer. Control requests (profiling off, fast,\n"
            "    full, objects) for the cluster, a node, a job or a rank go to every agent\n"
            "    concerned, and their acknowledgements come back as one answer.\n\n"
            "    Sends never block: a slow or absent peer only loses its own messages.\n\n"
            "    Both sockets are encrypted and authenticated with CurveZMQ (--curve-dir):\n"
            "    only agents and dashboards whose public key is allowed get in, and only\n"
            "    keys of the control list may switch profiling. --plaintext asks for\n"
            "    neither, with a warning at every start.\n\n"
            "OPTIONS\n");
    opts_help(out, opts, NOPTS);
    fprintf(out,
            "\n"
            "SIGNALS\n"
            "    SIGINT, SIGTERM   stop (writing --dump first)\n"
            "    SIGUSR1           write --dump now\n\n"
            "NOTES\n"
            "    How often agents send snapshots is the agents' choice (ulma-agent\n"
            "    --snapshot-every); the collector needs no such setting: it asks for a\n"
            "    snapshot whenever it cannot apply a delta.\n\n"
            "EXIT STATUS\n"
            "    0 success; 1 a runtime error (an endpoint could not be bound, the dump\n"
            "    could not be written); 2 a usage error.\n\n"
            "SEE ALSO\n"
            "    ulma-agent --help, collector/README.md, proto/report.proto, proto/query.proto\n");
}

int collector_config_parse(collector_config_t *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof(*cfg));
    static const char *const cmdline_only[] = {"config", "print-config", "help", "version",
                                               NULL};
    opts_ctx_t c = {opts, NOPTS, cfg, "ulma-collector", NULL, COLLECTOR_CONFIG_FILE,
                    cmdline_only, NULL, NULL, NULL};
    if (opts_load(&c, argc, argv) != 0)
        return -1;
    for (int i = 1; i < argc;) {
        const char *a = argv[i];
        int rc = opts_parse_one(&c, argc, argv, &i);
        if (rc == 1) {
            fprintf(stderr, "ulma-collector: unexpected argument '%s' (see --help)\n", a);
            return -1;
        }
        if (rc < 0)
            return -1;
        if (cfg->help) {
            collector_config_help(stdout);
            return 1;
        }
        if (cfg->version) {
            printf("ulma-collector %s\n", ULMA_VERSION_STRING);
            return 1;
        }
    }
    if (cfg->print_config) {
        opts_print_config(stdout, &c, ULMA_VERSION_STRING);
        return 1;
    }
    if (cfg->interval_s < 0.01) {
        fprintf(stderr, "ulma-collector: --interval: at least 0.01 seconds\n");
        return -1;
    }
    if (!cfg->agents[0] || !cfg->query[0]) {
        fprintf(stderr, "ulma-collector: --agents and --query need an endpoint\n");
        return -1;
    }
    if ((wire_endpoint_is_net(cfg->agents) || wire_endpoint_is_net(cfg->query)) &&
        !cfg->curve_dir[0] && !cfg->plaintext) {
        fprintf(stderr,
                "ulma-collector: %s is a network endpoint: give --curve-dir DIR (keys made by "
                "ulma-keys) to encrypt and authenticate it, or --plaintext to ask for neither\n",
                wire_endpoint_is_net(cfg->agents) ? cfg->agents : cfg->query);
        return -1;
    }
    if (cfg->curve_dir[0] && cfg->plaintext) {
        fprintf(stderr, "ulma-collector: --curve-dir and --plaintext: choose one\n");
        return -1;
    }
    if (strcmp(cfg->metrics, "none") != 0 && cfg->metrics[0] && !strrchr(cfg->metrics, ':')) {
        fprintf(stderr, "ulma-collector: --metrics: '%s' is not HOST:PORT (or none)\n",
                cfg->metrics);
        return -1;
    }
    if (!cfg->max_forwards)
        cfg->max_forwards = 1;
    if (!cfg->hwm)
        cfg->hwm = 1000;
    if (!cfg->agent_hwm)
        cfg->agent_hwm = 1;
    return 0;
}
