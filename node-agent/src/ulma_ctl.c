/* ulma_ctl.c - ulma-ctl: query the node agent and switch processes on,
 * off or between modes through it. A thin client: every command is one
 * JSON request on the agent's ROUTER socket (see node-agent/README.md),
 * its answer printed as a table (or as it came, with --json). Options and
 * commands are tables; --help is made from them. */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "ctl_collector.h"
#include "wire/curve.h"
#include "cli/opts.h"
#include "ulma/segment.h"
#include "profile/util.h"

#define PATH_LEN 4096

typedef struct ctl_cfg {
    char dir[PATH_LEN];
    char endpoint[PATH_LEN + 16];
    uint32_t timeout_ms;
    uint32_t json;
    char sort[32];
    uint32_t rows;
    int32_t pid;
    char job[256];
    uint32_t all, objects, wait_ms, help;
    char collector[PATH_LEN];
    char node[256];
    char curve_dir[PATH_LEN], server_key[PATH_LEN];
    uint32_t plaintext;
} ctl_cfg_t;

#define F(field) offsetof(ctl_cfg_t, field), sizeof(((ctl_cfg_t *)0)->field)

static const opt_t options[] = {
    {"dir", 'd', "DIR", OPT_STR, F(dir), NULL,
     "Directory of the node agent (default: $ULMA_DIR, else /dev/shm). Its endpoint is "
     "ipc://DIR/ulma-agent.ipc; the agent holds DIR/ulma-agent.lock."},
    {"endpoint", 'e', "EP", OPT_STR, F(endpoint), NULL,
     "Endpoint of the agent instead, e.g. tcp://127.0.0.1:5555 (an agent started with "
     "--listen) or ipc://PATH."},
    {"timeout", 't', "MS", OPT_U32, F(timeout_ms), "5000",
     "Wait this long for the answer of an agent whose socket exists. A missing directory, "
     "socket or agent is reported at once."},
    {"json", 'j', NULL, OPT_FLAG, F(json), NULL,
     "Print the agent's answer as it came (one JSON object, schema in node-agent/README.md) "
     "instead of a table: the form for scripts."},
    {"sort", 's', "KEY", OPT_STR, F(sort), NULL,
     "top: sort key, as pstats (calls, cumulative, cumtime, time, tottime, ncalls, pcalls, "
     "name, filename, module, line, nfl, stdname, or a unique prefix). Default: cumulative."},
    {"rows", 'n', "N", OPT_U32, F(rows), NULL,
     "Rows to show (0: all): top 30 by default; callers, callees, paths, objects 50; for "
     "stacks, frames per thread (50); for list, processes (1000)."},
    {"pid", 0, "PID", OPT_PID, F(pid), NULL, "on, off, fast, full: the process to switch."},
    {"job", 0, "JOB", OPT_STR, F(job), NULL,
     "on, off, fast, full: every process of this MPI job (the job id of `list`)."},
    {"all", 0, NULL, OPT_FLAG, F(all), NULL, "on, off, fast, full: every running process."},
    {"objects", 0, NULL, OPT_FLAG, F(objects), NULL,
     "on, fast, full: record object constructions and destructions too."},
    {"wait", 0, "MS", OPT_U32, F(wait_ms), "1500",
     "on, off, fast, full: wait this long for the processes to apply the switch."},
    {"collector", 'c', "EP", OPT_STR, F(collector), NULL,
     "Ask the collector at EP (its --query endpoint, e.g. tcp://head:7711) instead of a node "
     "agent: the commands below under COMMANDS WITH --collector, for the cluster, a node, a "
     "job or a rank."},
    {"node", 0, "NAME", OPT_STR, F(node), NULL,
     "With --collector: the node a --pid is on, or the scope (node:NAME)."},
    {"curve-dir", 0, "DIR", OPT_STR, F(curve_dir), NULL,
     "Over tcp (--collector, or --endpoint tcp://...): encrypt and authenticate with "
     "CurveZMQ, with this user's key pair DIR/id.secret (owner-only, mode 0600: refused "
     "otherwise) and DIR/id.pub, checking the server against DIR/server.pub or --server-key. "
     "The server must hold our id.pub in its allowed keys (its control list to switch "
     "profiling through the collector). Make it with ulma-keys. Default: $ULMA_CURVE_DIR."},
    {"server-key", 0, "FILE", OPT_STR, F(server_key), NULL,
     "The server's public key (its id.pub, or the 40 characters of the key); default "
     "DIR/server.pub."},
    {"plaintext", 0, NULL, OPT_FLAG, F(plaintext), NULL,
     "Talk to a tcp endpoint in plain text (neither encrypted nor authenticated), with a "
     "warning. A tcp endpoint needs --curve-dir or --plaintext; ipc needs neither."},
    {"help", 'h', NULL, OPT_FLAG, F(help), NULL, "Show this text."},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

/* ---- reading answers: lookups that never fail (a missing key or a value
 * of another type gives the default) --------------------------------------- */

static const json_t *js_get(const json_t *obj, const char *key) { return json_object_get(obj, key); }
static const json_t *js_at(const json_t *arr, size_t i) { return json_array_get(arr, i); }
static size_t js_len(const json_t *j) /* elements of an array, members of an object */
{
    return json_is_array(j) ? json_array_size(j) : json_is_object(j) ? json_object_size(j) : 0;
}
static double js_num(const json_t *j, double dflt) { return json_is_number(j) ? json_number_value(j) : dflt; }
static const char *js_str(const json_t *j, const char *dflt)
{
    return json_is_string(j) ? json_string_value(j) : dflt;
}
static int js_bool(const json_t *j, int dflt) { return json_is_boolean(j) ? json_is_true(j) : dflt; }
static double js_getnum(const json_t *obj, const char *key, double dflt)
{
    return js_num(js_get(obj, key), dflt);
}
static const char *js_getstr(const json_t *obj, const char *key, const char *dflt)
{
    return js_str(js_get(obj, key), dflt);
}

/* ---- commands ------------------------------------------------------------------ */

typedef struct ctl {
    ctl_cfg_t cfg;
    uint64_t seen; /* options given (bits of `options`) */
    const char *cmd;
    const char *pos[4]; /* arguments after the command */
    int npos;
    long pid;           /* the PID argument, or -1 */
} ctl_t;

typedef struct command {
    const char *name;
    const char *args;  /* synopsis */
    int pid;           /* 1: needs PID first, 2: PID optional */
    int nargs;         /* further arguments required */
    const char *help;
    void (*request)(const ctl_t *c, sbuf_t *req);
    void (*print)(const ctl_t *c, const json_t *ans, const sbuf_t *data);
} command_t;

static int given(const ctl_t *c, const char *name)
{
    opts_ctx_t o = {options, NOPTIONS, NULL, NULL, NULL};
    int i = opts_index(&o, name);
    return i >= 0 && (c->seen >> i) & 1;
}

static uint32_t rows_or(const ctl_t *c, uint32_t dflt) { return given(c, "rows") ? c->cfg.rows : dflt; }

static void f8(double v) { printf(" %8.3f", v); }

static void ncalls_str(char *out, size_t len, double nc, double cc)
{
    if (nc != cc)
        snprintf(out, len, "%.0f/%.0f", nc, cc);
    else
        snprintf(out, len, "%.0f", nc);
}

/* A request {"cmd":CMD[,"pid":PID]} (no pid when PID < 0), written by
 * the one JSON writer; the object is left open for the command's fields. */
static void req_open(jw_t *w, sbuf_t *req, const char *cmd, long pid)
{
    jw_init(w, req);
    jw_obj(w);
    jw_kstrz(w, "cmd", cmd);
    if (pid >= 0)
        jw_ki64(w, "pid", pid);
}

/* list */
static void req_list(const ctl_t *c, sbuf_t *req)
{
    jw_t w;
    req_open(&w, req, "list", -1);
    jw_ku64(&w, "limit", rows_or(c, 1000));
    jw_obj_end(&w);
}

static void print_list(const ctl_t *c, const json_t *ans, const sbuf_t *data)
{
    (void)c;
    (void)data;
    const json_t *ag = js_get(ans, "agent");
    const json_t *ps = js_get(ans, "processes");
    printf("ulma-agent pid %.0f (%s) on %s: %.0f processes; %.0f requests (%.0f bad), %.0f "
           "segments claimed, %.0f harvested\n",
           js_getnum(ag, "pid", 0), js_bool(js_get(ag, "private"), 0) ? "private" : "node",
           js_getstr(ag, "dir", "?"), js_getnum(ans, "total", 0),
           js_getnum(ag, "requests", 0), js_getnum(ag, "bad_requests", 0),
           js_getnum(ag, "claimed", 0), js_getnum(ag, "harvested", 0));
    if (!js_len(ps))
        return;
    printf("%8s %5s %4s %7s %-5s %-3s %10s %6s %5s %8s %9s  %s\n", "PID", "RANK", "SIZE", "STATE",
           "MODE", "OBJ", "EVENTS", "FUNCS", "THR", "LOST", "SECONDS", "EXE");
    for (size_t i = 0; i < js_len(ps); i++) {
        const json_t *p = js_at(ps, i);
        char rank[16] = "-", size[16] = "-";
        if (js_getnum(p, "rank", -1) >= 0) {
            snprintf(rank, sizeof(rank), "%.0f", js_getnum(p, "rank", 0));
            snprintf(size, sizeof(size), "%.0f", js_getnum(p, "size", 0));
        }
        printf("%8.0f %5s %4s %7s %-5s %-3s %10.0f %6.0f %5.0f %8.0f %9.3f  %s\n",
               js_getnum(p, "pid", 0), rank, size, js_getstr(p, "state", "?"),
               js_getstr(p, "mode", "?"), js_bool(js_get(p, "objects"), 0) ? "yes" : "no",
               js_getnum(p, "events", 0), js_getnum(p, "functions", 0),
               js_getnum(p, "threads", 0), js_getnum(p, "records_lost", 0),
               js_getnum(p, "seconds", 0), js_getstr(p, "exe", ""));
    }
}

/* top */
static void req_top(const ctl_t *c, sbuf_t *req)
{
    jw_t w;
    req_open(&w, req, "top", c->pid);
    jw_ku64(&w, "limit", rows_or(c, 30));
    jw_kbool(&w, "text", 1);
    if (c->cfg.sort[0])
        jw_kstrz(&w, "sort", c->cfg.sort);
    jw_obj_end(&w);
}

static void print_top(const ctl_t *c, const json_t *ans, const sbuf_t *data)
{
    (void)c;
    (void)data;
    fputs(js_getstr(ans, "text", ""), stdout);
}

/* callers, callees: pstats' print_callers / print_callees */
static void req_edges(const ctl_t *c, sbuf_t *req)
{
    jw_t w;
    req_open(&w, req, c->cmd, c->pid);
    jw_ku64(&w, "limit", rows_or(c, 50));
    jw_kstrz(&w, "func", c->pos[0]);
    jw_obj_end(&w);
}

static void print_edges(const ctl_t *c, const json_t *ans, const sbuf_t *data)
{
    (void)data;
    int callees = strcmp(c->cmd, "callees") == 0;
    const json_t *fn = js_get(ans, "function");
    const json_t *es = js_get(ans, callees ? "callees" : "callers");
    const char *name = js_getstr(fn, "std", "?");
    int width = (int)strlen(name) + 1;
    if (width < 40)
        width = 40;
    printf("%-*s%s\n", width, "Function ", callees ? "called..." : "was called by...");
    printf("%*s    ncalls  tottime  cumtime\n", width, "");
    printf("%-*s%s", width, name, callees ? "->" : "<-");
    if (!js_len(es))
        printf("\n");
    for (size_t i = 0; i < js_len(es); i++) {
        const json_t *e = js_at(es, i);
        char nc[48];
        ncalls_str(nc, sizeof(nc), js_getnum(e, "ncalls", 0), js_getnum(e, "pcalls", 0));
        /* as pstats: the first on the arrow's line, the others under it */
        if (i)
            printf("%*s", width + 2, "");
        printf(" %*s", i ? 8 : 7, nc);
        f8(js_getnum(e, "tottime", 0));
        f8(js_getnum(e, "cumtime", 0));
        printf("  %s\n", js_getstr(e, "std", "?"));
    }
}

/* paths, stacks, objects, mpi: {"cmd":..., "pid":P, "limit":N} */
static void req_simple(const ctl_t *c, sbuf_t *req)
{
    jw_t w;
    req_open(&w, req, c->cmd, c->pid);
    jw_ku64(&w, "limit", rows_or(c, 50));
    jw_obj_end(&w);
}

static void print_paths(const ctl_t *c, const json_t *ans, const sbuf_t *data)
{
    (void)c;
    (void)data;
    const json_t *ps = js_get(ans, "paths");
    size_t n = js_len(ps);
    printf("Call paths of pid %.0f, by cumulative time (caller > ... > function)\n\n",
           js_getnum(ans, "pid", 0));
    printf("%10s %8s %8s  %s\n", "count", "tottime", "cumtime", "path");
    for (size_t i = 0; i < n; i++) {
        const json_t *p = js_at(ps, i);
        /* the chain of parents among the paths of this answer, outermost first */
        const json_t *chain[64];
        int depth = 0;
        const json_t *q = p;
        int cut = 0;
        while (q && depth < 64) {
            chain[depth++] = q;
            double parent = js_getnum(q, "parent", 0);
            if (parent == 0)
                break;
            const json_t *up = NULL;
            for (size_t k = 0; k < n && !up; k++)
                if (js_getnum(js_at(ps, k), "id", -1) == parent)
                    up = js_at(ps, k);
            if (!up)
                cut = 1;
            q = up;
        }
        printf("%10.0f", js_getnum(p, "count", 0));
        f8(js_getnum(p, "tottime", 0));
        f8(js_getnum(p, "cumtime", 0));
        printf("  %s", cut || depth == 64 ? "... > " : "");
        for (int k = depth - 1; k >= 0; k--)
            printf("%s%s", js_getstr(chain[k], "std", "?"), k ? " > " : "\n");
    }
}

static void print_stacks(const ctl_t *c, const json_t *ans, const sbuf_t *data)
{
    (void)c;
    (void)data;
    const json_t *ts = js_get(ans, "threads");
    for (size_t i = 0; i < js_len(ts); i++) {
        const json_t *t = js_at(ts, i);
        const json_t *st = js_get(t, "stack");
        double depth = js_getnum(t, "depth", 0);
        printf("%sthread %.0f \"%s\" (slot %.0f)%s: depth %.0f, %.0f events, %.0f records lost, "
               "%.3f s\n",
               i ? "\n" : "", js_getnum(t, "tid", 0), js_getstr(t, "name", ""),
               js_getnum(t, "slot", 0), js_bool(js_get(t, "ended"), 0) ? ", ended" : "",
               depth, js_getnum(t, "events", 0), js_getnum(t, "records_lost", 0),
               js_getnum(t, "time", 0));
        size_t n = js_len(st);
        if (depth > (double)n)
            printf("    ... %.0f outer frames not shown (-n)\n", depth - (double)n);
        /* outermost first, one indent per level; the time spent in each frame */
        for (size_t k = 0; k < n; k++) {
            const json_t *f = js_at(st, n - 1 - k);
            printf("    %*s%9.3f s  %s\n", (int)(k < 30 ? 2 * k : 60), "",
                   js_getnum(f, "for", 0), js_getstr(f, "std", "?"));
        }
    }
}

static void print_objects(const ctl_t *c, const json_t *ans, const sbuf_t *data)
{
    (void)c;
    (void)data;
    const json_t *o = js_get(ans, "objects");
    const json_t *ty = js_get(o, "types"), *si = js_get(o, "sites");
    printf("Objects of pid %.0f by type\n\n", js_getnum(ans, "pid", 0));
    printf("%-24s %12s %12s %12s %14s %14s\n", "type", "new", "freed", "live", "bytes_new",
           "bytes_freed");
    for (size_t i = 0; i < js_len(ty); i++) {
        const json_t *t = js_at(ty, i);
        printf("%-24s %12.0f %12.0f %12.0f %14.0f %14.0f\n", js_getstr(t, "name", "?"),
               js_getnum(t, "new", 0), js_getnum(t, "freed", 0), js_getnum(t, "live", 0),
               js_getnum(t, "bytes_new", 0), js_getnum(t, "bytes_freed", 0));
    }
    printf("\nConstructed by function\n\n%12s %14s  %-24s %s\n", "count", "bytes", "type",
           "function");
    for (size_t i = 0; i < js_len(si); i++) {
        const json_t *s = js_at(si, i);
        printf("%12.0f %14.0f  %-24s %s\n", js_getnum(s, "count", 0), js_getnum(s, "bytes", 0),
               js_getstr(s, "type_name", "?"), js_getstr(s, "std", "?"));
    }
}

static void req_mpi(const ctl_t *c, sbuf_t *req)
{
    jw_t w;
    req_open(&w, req, "mpi", c->pid);
    jw_obj_end(&w);
}

static void print_mpi(const ctl_t *c, const json_t *ans, const sbuf_t *data)
{
    (void)c;
    (void)data;
    const json_t *m = js_get(ans, "mpi");
    printf("MPI calls of pid %.0f\n\n%10s %10s %14s  %s\n", js_getnum(ans, "pid", 0), "calls",
           "time", "bytes", "call");
    for (size_t i = 0; i < js_len(m); i++) {
        const json_t *r = js_at(m, i);
        printf("%10.0f %10.3f %14.0f  %s\n", js_getnum(r, "calls", 0), js_getnum(r, "time", 0),
               js_getnum(r, "bytes", 0), js_getstr(r, "name", "?"));
    }
}

static void req_drops(const ctl_t *c, sbuf_t *req)
{
    jw_t w;
    req_open(&w, req, "drops", c->pid); /* no PID: every process */
    jw_obj_end(&w);
}

static void print_drops(const ctl_t *c, const json_t *ans, const sbuf_t *data)
{
    (void)data;
    if (c->pid >= 0) {
        const json_t *d = js_get(ans, "drops");
        printf("Losses of pid %.0f\n\n", js_getnum(ans, "pid", 0));
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)d, key, v)
            printf("%-20s %14.0f\n", key, js_num(v, 0));
        return;
    }
    const json_t *ps = js_get(ans, "processes");
    printf("%8s %14s %10s\n", "PID", "RECORDS_LOST", "CORRUPT");
    for (size_t i = 0; i < js_len(ps); i++) {
        const json_t *p = js_at(ps, i);
        printf("%8.0f %14.0f %10.0f\n", js_getnum(p, "pid", 0), js_getnum(p, "records_lost", 0),
               js_getnum(p, "corrupt", 0));
    }
    printf("%8s %14.0f\n", "total", js_getnum(ans, "records_lost", 0));
}

static void req_export(const ctl_t *c, sbuf_t *req)
{
    jw_t w;
    req_open(&w, req, "export", c->pid);
    jw_kstrz(&w, "format", c->pos[0]);
    jw_obj_end(&w);
}

static int export_rc;

static void print_export(const ctl_t *c, const json_t *ans, const sbuf_t *data)
{
    (void)ans;
    int err = write_file(c->pos[1], data->data ? data->data : "", data->len);
    if (err) {
        fprintf(stderr, "ulma-ctl: cannot write %s: %s\n", c->pos[1], strerror(-err));
        export_rc = 1;
    } else if (!c->cfg.json) {
        printf("wrote %s (%zu bytes, %s)\n", c->pos[1], data->len, c->pos[0]);
    }
}

static void req_control(const ctl_t *c, sbuf_t *req)
{
    jw_t w;
    req_open(&w, req, "control", -1);
    jw_kstrz(&w, "mode", c->cmd);
    jw_kbool(&w, "objects", c->cfg.objects != 0);
    if (given(c, "pid"))
        jw_ki64(&w, "pid", c->cfg.pid);
    if (c->cfg.job[0])
        jw_kstrz(&w, "job", c->cfg.job);
    if (c->cfg.all)
        jw_kbool(&w, "all", 1);
    if (given(c, "wait"))
        jw_ku64(&w, "wait_ms", c->cfg.wait_ms);
    jw_obj_end(&w);
}

static void print_control(const ctl_t *c, const json_t *ans, const sbuf_t *data)
{
    (void)c;
    (void)data;
    const json_t *ts = js_get(ans, "targets");
    printf("%s%s: applied by %.0f of %.0f processes%s\n", js_getstr(ans, "mode", "?"),
           js_bool(js_get(ans, "objects"), 0) ? " with objects" : "",
           js_getnum(ans, "applied", 0), js_getnum(ans, "requested", 0),
           js_bool(js_get(ans, "timed_out"), 0) ? " (timed out waiting for the others)" : "");
    printf("%8s %5s %6s %-7s %s\n", "PID", "RANK", "SEQ", "APPLIED", "ACTIVE");
    for (size_t i = 0; i < js_len(ts); i++) {
        const json_t *t = js_at(ts, i);
        char rank[16] = "-";
        if (js_getnum(t, "rank", -1) >= 0)
            snprintf(rank, sizeof(rank), "%.0f", js_getnum(t, "rank", 0));
        printf("%8.0f %5s %6.0f %-7s %s\n", js_getnum(t, "pid", 0), rank,
               js_getnum(t, "seq", 0), js_bool(js_get(t, "applied"), 0) ? "yes" : "no",
               js_getstr(t, "active_mode", "?"));
    }
}

static void req_raw(const ctl_t *c, sbuf_t *req) { sbuf_adds(req, c->pos[0]); }

static const command_t commands[] = {
    {"list", "", 0, 0, "The processes the agent profiles, like ps: pid, MPI rank and size, state "
     "(live, exited), mode, object recording, records, functions, threads, records lost, seconds "
     "profiled, executable.", req_list, print_list},
    {"top", "PID [-s KEY] [-n ROWS]", 1, 0, "The top table of PID, as cProfile prints it, with "
     "%, %DESC and %PROC.", req_top, print_top},
    {"callers", "PID FUNC [-n ROWS]", 1, 1, "Who calls FUNC, as pstats' print_callers: ncalls "
     "(total/primitive), tottime and cumtime of each call edge. FUNC is file:line(name) as the "
     "table shows it, a qualified name (Class.method) or a bare name; a name that fits several "
     "functions is an error listing them.", req_edges, print_edges},
    {"callees", "PID FUNC [-n ROWS]", 1, 1, "What FUNC calls, as pstats' print_callees.",
     req_edges, print_edges},
    {"paths", "PID [-n ROWS]", 1, 0, "The call paths with the most cumulative time: count, "
     "tottime, cumtime and the path (caller > ... > function).", req_simple, print_paths},
    {"stacks", "PID [-n FRAMES]", 1, 0, "Each thread's current stack, outermost frame first, "
     "indented by depth, with the time spent in each frame so far.", req_simple, print_stacks},
    {"objects", "PID [-n ROWS]", 1, 0, "Object statistics: per type (new, freed, live, bytes) "
     "and the functions that construct the most.", req_simple, print_objects},
    {"mpi", "PID", 1, 0, "MPI statistics per call: calls, time, bytes.", req_mpi, print_mpi},
    {"drops", "[PID]", 2, 0, "Records lost per process (ring full or agent restart), or every loss counter of "
     "PID.", req_drops, print_drops},
    {"export", "PID FORMAT FILE", 1, 2, "Write PID's profile to FILE; FORMAT is pstats, json, "
     "collapsed, speedscope, pprof or svg.", req_export, print_export},
    {"on", "(--pid PID | --job JOB | --all) [--objects] [--wait MS]", 0, 0,
     "Switch profiling on (fast mode) in the processes named; prints whether each applied it.",
     req_control, print_control},
    {"off", "(--pid PID | --job JOB | --all) [--wait MS]", 0, 0,
     "Switch profiling off: the hooks are removed, the program runs at full speed.",
     req_control, print_control},
    {"fast", "(--pid PID | --job JOB | --all) [--objects] [--wait MS]", 0, 0,
     "Switch to fast mode (Python functions).", req_control, print_control},
    {"full", "(--pid PID | --job JOB | --all) [--objects] [--wait MS]", 0, 0,
     "Switch to full mode (Python and C functions).", req_control, print_control},
    {"raw", "JSON", 0, 1, "Send a request as it is and print the answer (JSON).", req_raw, NULL},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    ulma-ctl - query the ULMA node agent, switch profiling of processes\n\n"
            "SYNOPSIS\n"
            "    ulma-ctl [--dir DIR | --endpoint EP] [--timeout MS] [--json] COMMAND [ARGS]\n\n"
            "DESCRIPTION\n"
            "    Sends one request to a running ulma-agent (see ulma-agent --help) and prints\n"
            "    its answer as a table, or as the agent's JSON with --json. Options may come\n"
            "    before or after the command. With no agent the error is immediate: no\n"
            "    directory, no socket in it, or a socket left by an agent that is gone (no\n"
            "    process holds DIR/ulma-agent.lock); only an agent that does not answer\n"
            "    costs --timeout.\n\n"
            "COMMANDS\n");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        fprintf(out, "    %s%s%s\n", commands[i].name, commands[i].args[0] ? " " : "",
                commands[i].args);
        opts_wrap(out, commands[i].help, 8, 80);
    }
    fprintf(out, "\n");
    ctl_collector_help(out);
    fprintf(out, "\nOPTIONS\n");
    opts_help(out, options, NOPTIONS);
    fprintf(out,
            "\nEXIT STATUS\n"
            "    0 the agent answered ok; 1 it answered an error (an ambiguous function name\n"
            "    lists the candidates), did not answer, or no agent runs; 2 a usage error.\n\n"
            "EXAMPLES\n"
            "    ulma-ctl list\n"
            "    ulma-ctl top 4242 -s tottime -n 20\n"
            "    ulma-ctl callers 4242 'app.py:12(work)'\n"
            "    ulma-ctl --json stacks 4242 | python3 -m json.tool\n"
            "    ulma-ctl off --job 17 && ulma-ctl full --pid 4242 --objects\n"
            "    ulma-ctl --collector tcp://head:7711 top -n 20\n"
            "    ulma-ctl --collector tcp://head:7711 function job:17 'app.py:12(work)'\n"
            "    ulma-ctl --collector tcp://head:7711 off rank:node7/4242\n"
            "    ulma-ctl --collector tcp://head:7711 export job:17 pstats job17.pstats\n\n"
            "SEE ALSO\n"
            "    ulma-agent --help, python3 -m ulma --help, node-agent/README.md (the query\n"
            "    protocol and the JSON schema)\n");
}

/* ---- talking to the agent ---------------------------------------------------------- */

/* The pid holding an flock on `path` (from /proc/locks), 0 if none, -1 if
 * it cannot be told. Read-only: probing by taking the lock could make a
 * starting agent fail. */
static long lock_holder(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return 0;
    FILE *f = fopen("/proc/locks", "r");
    if (!f)
        return -1;
    char line[256];
    long holder = 0;
    while (!holder && fgets(line, sizeof(line), f)) {
        char kind[16];
        long pid;
        unsigned long ino;
        /* "1: FLOCK  ADVISORY  WRITE 1234 00:2a:5678 0 EOF" */
        if (sscanf(line, "%*d: %15s %*s %*s %ld %*x:%*x:%lu", kind, &pid, &ino) == 3 &&
            strcmp(kind, "FLOCK") == 0 && ino == (unsigned long)sb.st_ino)
            holder = pid;
    }
    fclose(f);
    return holder;
}

/* No agent can answer on `ep`: say so at once rather than after the
 * timeout. Returns 0 (try it) or -1 (message printed). */
static int check_agent(const ctl_t *c, const char *ep, int default_ep)
{
    if (strncmp(ep, "ipc://", 6) != 0)
        return 0;
    const char *sock = ep + 6;
    struct stat sb;
    if (default_ep && stat(c->cfg.dir, &sb) != 0) {
        fprintf(stderr, "ulma-ctl: no ulma-agent: %s does not exist (%s)\n", c->cfg.dir,
                strerror(errno));
        return -1;
    }
    if (stat(sock, &sb) != 0 || !S_ISSOCK(sb.st_mode)) {
        fprintf(stderr, "ulma-ctl: no ulma-agent: no socket %s (start one with ulma-agent%s%s)\n",
                sock, default_ep ? " --dir " : "", default_ep ? c->cfg.dir : "");
        return -1;
    }
    if (default_ep) {
        char lock[PATH_LEN + 32];
        snprintf(lock, sizeof(lock), "%s/ulma-agent.lock", c->cfg.dir);
        if (lock_holder(lock) == 0) {
            fprintf(stderr,
                    "ulma-ctl: no ulma-agent: %s is left by an agent that is gone (no process "
                    "holds %s)\n",
                    sock, lock);
            return -1;
        }
    }
    return 0;
}

/* Send `req`, receive [answer, data]. Returns 0 or -1 (message printed). */
static int ask(const char *ep, const wire_curve_t *curve, int timeout_ms, const char *req,
               sbuf_t *ans, sbuf_t *data)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
    int rc = -1;
    if (wire_curve_client(s, curve) != 0 || zmq_connect(s, ep) != 0) {
        fprintf(stderr, "ulma-ctl: cannot connect to %s: %s\n", ep, zmq_strerror(zmq_errno()));
        goto out;
    }
    zmq_send(s, "", 0, ZMQ_SNDMORE);
    zmq_send(s, req, strlen(req), 0);
    int part = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) {
            zmq_msg_close(&m);
            fprintf(stderr, "ulma-ctl: no answer from %s within %d ms (the agent is busy or "
                    "stuck; --timeout)\n", ep, timeout_ms);
            goto out;
        }
        more = zmq_msg_more(&m);
        if (part == 1)
            sbuf_add(ans, zmq_msg_data(&m), zmq_msg_size(&m));
        else if (part == 2)
            sbuf_add(data, zmq_msg_data(&m), zmq_msg_size(&m));
        part++;
        zmq_msg_close(&m);
    }
    rc = part >= 2 ? 0 : -1;
out:
    zmq_close(s);
    zmq_ctx_term(ctx);
    return rc;
}

/* ---- main ---------------------------------------------------------------------------- */

static int parse_args(ctl_t *c, int argc, char **argv)
{
    memset(c, 0, sizeof(*c));
    c->pid = -1;
    opts_ctx_t o = {options, NOPTIONS, &c->cfg, "ulma-ctl", &c->seen};
    if (opts_defaults(&o) != 0)
        return -1;
    snprintf(c->cfg.dir, sizeof(c->cfg.dir), "%s", ulma_default_dir());
    const char *pos[8];
    int npos = 0;
    for (int i = 1; i < argc;) {
        int rc = opts_parse_one(&o, argc, argv, &i);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        /* the request of raw may look like anything but an option */
        if (npos >= (int)(sizeof(pos) / sizeof(pos[0]))) {
            fprintf(stderr, "ulma-ctl: unexpected argument '%s'\n", argv[i]);
            return -1;
        }
        pos[npos++] = argv[i++];
    }
    if (c->cfg.help)
        return 1;
    if (!npos) {
        fprintf(stderr, "ulma-ctl: no command (see --help)\n");
        return -1;
    }
    c->cmd = pos[0];
    for (int k = 1; k < npos; k++)
        c->pos[c->npos++] = pos[k];
    return 0;
}

/* The keys for endpoint `ep`. 0; or -1 with the message printed and
 * k->on set when keys were given but could not be loaded (exit 1), clear
 * for a usage error (exit 2). */
static int curve_of(const ctl_t *c, const char *ep, wire_curve_t *k)
{
    char err[PATH_LEN + 256];
    const char *dir = c->cfg.curve_dir[0] ? c->cfg.curve_dir : getenv("ULMA_CURVE_DIR");
    if (c->cfg.plaintext && c->cfg.curve_dir[0]) {
        fprintf(stderr, "ulma-ctl: --curve-dir and --plaintext: choose one\n");
        memset(k, 0, sizeof(*k));
        return -1;
    }
    int rc = wire_curve_for(k, "ulma-ctl", ep, c->cfg.plaintext ? NULL : dir, c->cfg.server_key,
                            (int)c->cfg.plaintext, 1, err, sizeof(err));
    if (rc == 0)
        return 0;
    fprintf(stderr, "ulma-ctl: %s\n", err);
    k->on = rc == -1;
    return -1;
}

int main(int argc, char **argv)
{
    ctl_t c;
    int rc = parse_args(&c, argc, argv);
    if (rc > 0) {
        usage(stdout);
        return 0;
    }
    if (rc < 0)
        return 2;
    if (c.cfg.collector[0]) {
        wire_curve_t curve;
        if (curve_of(&c, c.cfg.collector, &curve) != 0)
            return curve.on ? 1 : 2;
        ctl_collector_args_t ca = {
            .endpoint = c.cfg.collector,
            .curve = &curve,
            .timeout_ms = (int)c.cfg.timeout_ms,
            .json = (int)c.cfg.json,
            .sort = c.cfg.sort[0] ? c.cfg.sort : NULL,
            .rows = c.cfg.rows,
            .rows_given = given(&c, "rows"),
            .node = c.cfg.node[0] ? c.cfg.node : NULL,
            .job = c.cfg.job[0] ? c.cfg.job : NULL,
            .pid = given(&c, "pid") ? c.cfg.pid : 0,
            .all = (int)c.cfg.all,
            .objects = (int)c.cfg.objects,
            .wait_ms = c.cfg.wait_ms,
            .cmd = c.cmd,
            .pos = c.pos,
            .npos = c.npos,
        };
        return ctl_collector_run(&ca);
    }
    const command_t *cmd = NULL;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, c.cmd) == 0)
            cmd = &commands[i];
    if (!cmd) {
        fprintf(stderr, "ulma-ctl: unknown command '%s' (see --help)\n", c.cmd);
        return 2;
    }
    /* PID first when the command takes one, then its other arguments */
    int k = 0;
    if (cmd->pid && c.npos > 0 && strspn(c.pos[0], "0123456789") == strlen(c.pos[0]) &&
        c.pos[0][0]) {
        c.pid = atol(c.pos[0]);
        k = 1;
    } else if (cmd->pid == 1) {
        fprintf(stderr, "ulma-ctl: %s needs a PID: ulma-ctl %s %s\n", cmd->name, cmd->name,
                cmd->args);
        return 2;
    }
    for (int i = k; i < c.npos; i++)
        c.pos[i - k] = c.pos[i];
    c.npos -= k;
    if (c.npos != cmd->nargs) {
        fprintf(stderr, "ulma-ctl: %s: %s (usage: ulma-ctl %s %s)\n", cmd->name,
                c.npos < cmd->nargs ? "missing arguments" : "too many arguments", cmd->name,
                cmd->args);
        return 2;
    }
    if (cmd->request == req_control) {
        if (given(&c, "pid") + (c.cfg.job[0] != 0) + (c.cfg.all != 0) != 1) {
            fprintf(stderr, "ulma-ctl: %s needs exactly one of --pid PID, --job JOB, --all\n",
                    cmd->name);
            return 2;
        }
        if (c.cfg.wait_ms + 1000 > c.cfg.timeout_ms)
            c.cfg.timeout_ms = c.cfg.wait_ms + 1000;
    }
    char ep[PATH_LEN + 32];
    int default_ep = !c.cfg.endpoint[0];
    if (default_ep)
        snprintf(ep, sizeof(ep), "ipc://%s/ulma-agent.ipc", c.cfg.dir);
    else
        snprintf(ep, sizeof(ep), "%s", c.cfg.endpoint);
    if (check_agent(&c, ep, default_ep) != 0)
        return 1;
    sbuf_t req = {0}, ans = {0}, data = {0};
    cmd->request(&c, &req);
    wire_curve_t curve;
    if (curve_of(&c, ep, &curve) != 0) {
        sbuf_free(&req);
        return curve.on ? 1 : 2;
    }
    rc = ask(ep, &curve, (int)c.cfg.timeout_ms, req.data, &ans, &data);
    memset(&curve, 0, sizeof(curve));
    sbuf_free(&req);
    if (rc != 0)
        return 1;
    json_error_t jerr;
    json_t *j = json_loadb(ans.data ? ans.data : "", ans.len, JSON_DECODE_INT_AS_REAL, &jerr);
    int ok = js_bool(js_get(j, "ok"), 0);
    if (!ok) {
        if (c.cfg.json || !cmd->print)
            printf("%.*s\n", (int)ans.len, ans.data ? ans.data : "");
        fprintf(stderr, "ulma-ctl: agent: %s\n",
                j ? js_getstr(j, "error", "error without a message") : jerr.text);
        const json_t *cand = js_get(j, "candidates");
        if (js_len(cand)) {
            fprintf(stderr, "ulma-ctl: candidates:\n");
            for (size_t i = 0; i < js_len(cand); i++)
                fprintf(stderr, "    %s\n", js_str(js_at(cand, i), "?"));
            if (js_getnum(j, "total_candidates", 0) > (double)js_len(cand))
                fprintf(stderr, "    ... %.0f in all\n", js_getnum(j, "total_candidates", 0));
        }
        rc = 1;
    } else if (cmd->print == print_export) {
        if (c.cfg.json)
            printf("%.*s\n", (int)ans.len, ans.data);
        print_export(&c, j, &data);
        rc = export_rc;
    } else if (c.cfg.json || !cmd->print) {
        printf("%.*s\n", (int)ans.len, ans.data ? ans.data : "");
    } else {
        cmd->print(&c, j, &data);
    }
    json_decref(j);
    sbuf_free(&ans);
    sbuf_free(&data);
    return rc;
}
