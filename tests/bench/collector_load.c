/*
 * collector_load.c - simulated node agents for ulma-collector's tests and
 * benchmark. Each simulated node is one report sender (libulma-wire's
 * wire_sender_*, as the agent uses) on its own DEALER socket: per rank a
 * table of --funcs rows, --change of them changing per report with
 * Zipf-like hot rows, a snapshot every --snapshot-every reports and when
 * asked, one group of edges and paths per node, processes ending and
 * starting (--churn). It acknowledges control requests and answers
 * forwarded queries (unless --no-answer), like an agent.
 *
 *   collector_load --ep tcp://127.0.0.1:7710 --nodes 64 --ranks 16 --funcs 2000
 *
 * --truth FILE writes, at the end, every function's exact totals over the
 * simulated ranks (JSON); --latency EP measures report-to-view latency
 * with a marker function (see below); --reports N stops after N reports.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "profile/profile.h"
#include "profile/util.h"
#include "wire/answer.h"
#include "wire/sender.h"
#include "wire/wire.h"

typedef struct rank {
    pf_meta_t m;
    pf_counts_t *rows;    /* by function, what the current agent counts */
    pf_counts_t *truth;   /* everything ever done */
    uint64_t *mpi;
    uint32_t *touched;    /* report number of the last change */
    int gone_pending;     /* exited: reported gone after a while */
    uint32_t exited_at;
} rank_t;

typedef struct node {
    char name[64];
    void *sock;
    wire_sender_t *s;
    rank_t *ranks;
    uint32_t nranks;
    uint32_t *idx;        /* sender index per function */
    profile_t *group;     /* edges and paths of the node's job */
    uint32_t reports;
    int want_snapshot, want_full;
    uint64_t next_ns;
    int32_t next_pid;
    uint64_t bytes, rows;
} node_t;

static struct {
    char ep[256], job[64], prefix[32], truth[256], latency[256];
    uint32_t nodes, first, ranks, funcs, edges, paths, snapshot_every, reports;
    double change, zipf, churn, duration, interval;
    int no_answer, quiet;
    uint32_t drop_at, restart_at, seed;
} cfg = {.ep = "tcp://127.0.0.1:7710", .job = "job1", .prefix = "node", .nodes = 4,
         .ranks = 4, .funcs = 100, .edges = 0, .paths = 0, .snapshot_every = 10,
         .change = 0.1, .zipf = 1.0, .interval = 1.0, .seed = 1};

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double *zipf_cdf;
static uint32_t zipf_pick(void)
{
    double u = (double)(rnd() >> 11) / 9007199254740992.0;
    uint32_t lo = 0, hi = cfg.funcs - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (zipf_cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static char (*fname)[24];

static void func_label(uint32_t f, pf_func_t *pf)
{
    memset(pf, 0, sizeof(*pf));
    int mpi = f >= cfg.funcs - (cfg.funcs >= 20 ? 10 : 1);
    if (!fname[f][0])
        snprintf(fname[f], sizeof(fname[f]), mpi ? "MPI_Call%u" : "f%u", f);
    if (f == 0 && cfg.latency[0])
        snprintf(fname[f], sizeof(fname[f]), "marker");
    pf->file.s = mpi ? "~" : "/app/model.py";
    pf->file.len = (uint32_t)strlen(pf->file.s);
    pf->name.s = fname[f];
    pf->name.len = (uint32_t)strlen(fname[f]);
    pf->qualname = pf->name;
    pf->line = mpi ? 0 : 10 + f;
    pf->kind = mpi ? PF_KIND_MPI : PF_KIND_PYTHON;
}

static void node_session(node_t *n)
{
    wire_node_info_t ni = {n->name, n->name, "load-0.1", "/dev/shm", 16, (int32_t)getpid(),
                           wall_ns()};
    wire_sender_destroy(&n->s);
    n->s = wire_sender_new(&ni, 0, (uint64_t)(cfg.interval * 1e9));
    for (uint32_t f = 0; f < cfg.funcs; f++) {
        pf_func_t pf;
        func_label(f, &pf);
        n->idx[f] = wire_sender_name(n->s, &pf);
    }
    n->want_snapshot = 1;
}

static void rank_start(node_t *n, rank_t *r, uint32_t k)
{
    memset(&r->m, 0, sizeof(r->m));
    r->m.pid = n->next_pid++;
    r->m.start_time = 100000 + (uint64_t)r->m.pid;
    r->m.rank = (int32_t)k; /* the caller sets the global rank */
    r->m.size = (int32_t)(cfg.nodes * cfg.ranks);
    snprintf(r->m.job, sizeof(r->m.job), "%s", cfg.job);
    snprintf(r->m.exe, sizeof(r->m.exe), "/usr/bin/python3");
    r->m.state = PF_STATE_LIVE;
    r->m.active_mode = 1;
    r->m.hz = 2000000000ull;
    if (!r->rows) {
        r->rows = xcalloc(cfg.funcs, sizeof(*r->rows));
        r->truth = xcalloc(cfg.funcs, sizeof(*r->truth));
        r->mpi = xcalloc(cfg.funcs, sizeof(*r->mpi));
        r->touched = xcalloc(cfg.funcs, sizeof(*r->touched));
    } else {
        memset(r->rows, 0, sizeof(*r->rows) * cfg.funcs);
        memset(r->mpi, 0, sizeof(*r->mpi) * cfg.funcs);
    }
    r->gone_pending = 0;
}

static void work(rank_t *r, uint32_t f, uint64_t calls)
{
    int64_t ns = (int64_t)(calls * (200 + rnd() % 5000));
    int64_t sub = f % 3 ? (int64_t)(rnd() % 20000) : 0;
    pf_counts_t *c[2] = {&r->rows[f], &r->truth[f]};
    uint64_t rec = f % 7 == 0 ? calls / 3 : 0;
    for (int i = 0; i < 2; i++) {
        c[i]->ncalls += calls;
        c[i]->pcalls += calls - rec;
        c[i]->tottime_ns += ns;
        c[i]->cumtime_ns += ns + sub;
    }
    if (f >= cfg.funcs - 10)
        r->mpi[f] += calls * 4096;
    r->m.events += 2 * calls;
}

static void group_init(node_t *n)
{
    if (!cfg.edges && !cfg.paths)
        return;
    n->group = profile_new();
    for (uint32_t f = 0; f < cfg.funcs; f++) {
        pf_func_t pf;
        func_label(f, &pf);
        profile_add_func_like(n->group, &pf);
    }
    for (uint32_t e = 0; e < cfg.edges; e++) {
        uint32_t a = (uint32_t)(rnd() % cfg.funcs), b = (uint32_t)(rnd() % cfg.funcs);
        profile_add_edge(n->group, a, b);
    }
    for (uint32_t p = 0; p < cfg.paths; p++) {
        uint32_t np = profile_npaths(n->group);
        uint32_t parent = np > 1 && rnd() % 4 ? (uint32_t)(rnd() % np) : 0;
        profile_add_path(n->group, parent, (uint32_t)(rnd() % cfg.funcs));
    }
}

static void group_work(node_t *n)
{
    if (!n->group)
        return;
    uint32_t ne = profile_nedges(n->group), np = profile_npaths(n->group);
    uint32_t k = (uint32_t)(cfg.change * (ne + np));
    for (uint32_t i = 0; i < k; i++) {
        uint32_t z = zipf_pick();
        if (ne && (i & 1)) {
            pf_edge_t *e = profile_edge_w(n->group, z % ne);
            e->c.ncalls += 3;
            e->c.pcalls += 3;
            e->c.tottime_ns += 1500;
            e->c.cumtime_ns += 2500;
        } else if (np > 1) {
            pf_path_t *p = profile_path_w(n->group, 1 + z % (np - 1));
            p->count += 2;
            p->tottime_ns += 1000;
            p->cumtime_ns += 1800;
        }
    }
}

static uint64_t marker_value;

static void node_report(node_t *n)
{
    n->reports++;
    /* churn: a rank ends, reported exited, then gone; a new one starts */
    for (uint32_t k = 0; k < n->nranks; k++) {
        rank_t *r = &n->ranks[k];
        if (r->gone_pending && n->reports - r->exited_at >= 3) {
            r->gone_pending = 2;
        }
    }
    if (cfg.churn > 0 && (double)(rnd() % 1000000) / 1e6 < cfg.churn * cfg.interval / 60.0) {
        rank_t *r = &n->ranks[rnd() % n->nranks];
        if (!r->gone_pending) {
            r->m.state = PF_STATE_EXITED;
            r->gone_pending = 1;
            r->exited_at = n->reports;
        }
    }
    uint32_t changes = (uint32_t)(cfg.change * cfg.funcs + 0.5);
    for (uint32_t k = 0; k < n->nranks; k++) {
        rank_t *r = &n->ranks[k];
        if (r->gone_pending)
            continue;
        for (uint32_t i = 0; i < changes; i++) {
            uint32_t f = zipf_pick();
            if (cfg.latency[0] && f == 0)
                continue;
            work(r, f, 1 + rnd() % 20);
            if (r->touched[f] != n->reports) {
                r->touched[f] = n->reports;
                n->rows++;
            }
        }
    }
    if (cfg.latency[0]) { /* the marker: calls = its report number */
        marker_value = n->reports;
        rank_t *r = &n->ranks[0];
        r->rows[0].ncalls = r->rows[0].pcalls = marker_value;
        r->truth[0] = r->rows[0];
    }
    group_work(n);
    int snap = n->want_snapshot || (cfg.snapshot_every && n->reports % cfg.snapshot_every == 0);
    if (snap)
        n->rows += (uint64_t)n->nranks * cfg.funcs;
    wire_sender_begin(n->s, snap, n->want_full);
    for (uint32_t k = 0; k < n->nranks; k++) {
        rank_t *r = &n->ranks[k];
        if (r->gone_pending == 2) {
            wire_sender_gone(n->s, r->m.pid, r->m.start_time);
            int32_t rk = r->m.rank;
            rank_start(n, r, k);
            r->m.rank = rk;
        }
        wire_sender_process_rows(n->s, &r->m, NULL, cfg.funcs, n->idx, r->rows, r->mpi);
    }
    if (n->group)
        wire_sender_group(n->s, cfg.job, n->group);
    Ulma__Wire__AgentCounters ac = ULMA__WIRE__AGENT_COUNTERS__INIT;
    ac.reports_sent = n->reports;
    sbuf_t b = {0};
    wire_sender_end(n->s, &ac, &b);
    if (cfg.drop_at && n->reports == cfg.drop_at) {
        wire_sender_sent(n->s); /* "sent", but lost on the way */
    } else if (wire_send(n->sock, &b, 0) == 0) {
        wire_sender_sent(n->s);
        n->bytes += b.len;
        n->want_snapshot = n->want_full = 0;
    } else {
        wire_sender_unsent(n->s);
    }
    sbuf_free(&b);
    if (cfg.restart_at && n->reports == cfg.restart_at) { /* the agent restarts */
        for (uint32_t k = 0; k < n->nranks; k++) {
            memset(n->ranks[k].rows, 0, sizeof(pf_counts_t) * cfg.funcs);
            memset(n->ranks[k].mpi, 0, sizeof(uint64_t) * cfg.funcs);
        }
        node_session(n);
        n->want_snapshot = 0; /* its first report is a delta from zero */
    }
}

/* A forwarded query or a control request from the collector. */
static void node_incoming(node_t *n)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, n->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        wire_refusal_t why;
        Ulma__Wire__CollectorMsg *cm = wire_collector_msg(zmq_msg_data(&m), zmq_msg_size(&m), &why);
        zmq_msg_close(&m);
        if (!cm)
            continue;
        Ulma__Wire__AgentMsg out = ULMA__WIRE__AGENT_MSG__INIT;
        out.version = WIRE_VERSION;
        sbuf_t b = {0};
        if (cm->body_case == ULMA__WIRE__COLLECTOR_MSG__BODY_SNAPSHOT_REQUEST) {
            n->want_snapshot = 1;
            n->want_full |= cm->snapshot_request->full_dictionary;
        } else if (cm->body_case == ULMA__WIRE__COLLECTOR_MSG__BODY_CONTROL) {
            const Ulma__Wire__Control *c = cm->control;
            Ulma__Wire__ControlAck ack = ULMA__WIRE__CONTROL_ACK__INIT;
            ack.request = c->request;
            Ulma__Wire__ControlTarget *t = xcalloc(n->nranks, sizeof(*t));
            Ulma__Wire__ControlTarget **tp = xcalloc(n->nranks, sizeof(*tp));
            for (uint32_t k = 0; k < n->nranks; k++) {
                rank_t *r = &n->ranks[k];
                if ((c->job && *c->job && strcmp(c->job, r->m.job)) || (c->pid && c->pid != r->m.pid) ||
                    (c->rank >= 0 && c->rank != r->m.rank) || r->gone_pending)
                    continue;
                r->m.active_mode = c->mode | (c->objects ? 4u : 0);
                ulma__wire__control_target__init(&t[ack.n_targets]);
                t[ack.n_targets].pid = r->m.pid;
                t[ack.n_targets].rank = r->m.rank;
                t[ack.n_targets].applied = 1;
                t[ack.n_targets].active_mode = r->m.active_mode;
                tp[ack.n_targets] = &t[ack.n_targets];
                ack.n_targets++;
            }
            ack.targets = tp;
            if (!ack.n_targets)
                ack.error = "no process matched";
            out.body_case = ULMA__WIRE__AGENT_MSG__BODY_ACK;
            out.ack = &ack;
            wire_pack(&out.base, &b);
            wire_send(n->sock, &b, 0);
            free(t);
            free(tp);
        } else if (cm->body_case == ULMA__WIRE__COLLECTOR_MSG__BODY_QUERY && !cfg.no_answer) {
            Ulma__Wire__Query *q = wire_query(cm->query->message.data, cm->query->message.len, &why);
            wire_answer_t w;
            wire_answer_init(&w, q ? q->id : 0);
            if (!q) {
                wire_answer_error(&w, "bad query");
            } else {
                /* a thread of the process asked, its stack the first functions */
                w.r.threads = WIRE_MSGS(w.a, 1, Ulma__Wire__Thread, ulma__wire__thread__init);
                w.r.n_threads = 1;
                Ulma__Wire__Thread *t = w.r.threads[0];
                t->tid = q->scope ? q->scope->pid : 0;
                t->name = wire_printf(w.a, "MainThread of %s", n->name);
                t->depth = 3;
                t->stack = WIRE_MSGS(w.a, 3, Ulma__Wire__Frame, ulma__wire__frame__init);
                t->n_stack = 3;
                for (int i = 0; i < 3; i++) {
                    t->stack[i]->std = wire_printf(w.a, "/app/model.py:%d(f%d)", 10 + i, i);
                    t->stack[i]->for_ns = 1000 * (i + 1);
                }
                protobuf_c_message_free_unpacked(&q->base, NULL);
            }
            sbuf_t rb = {0};
            wire_answer_pack(&w, &rb);
            Ulma__Wire__Forwarded fw = ULMA__WIRE__FORWARDED__INIT;
            fw.id = cm->query->id;
            fw.message.data = (uint8_t *)rb.data;
            fw.message.len = rb.len;
            out.body_case = ULMA__WIRE__AGENT_MSG__BODY_ANSWER;
            out.answer = &fw;
            wire_pack(&out.base, &b);
            wire_send(n->sock, &b, 0);
            sbuf_free(&rb);
            wire_answer_free(&w);
        }
        sbuf_free(&b);
        protobuf_c_message_free_unpacked(&cm->base, NULL);
    }
}

/* ---- the latency probe -------------------------------------------------------------------- */

static void *probe;
static double *lat;
static uint32_t nlat, lat_cap;

/* Ask the collector for the marker's calls (node scope) until it shows `want`. */
static void probe_wait(const char *node, uint64_t want, uint64_t sent_ns)
{
    uint64_t deadline = sent_ns + 5000000000ull;
    while (!stop && now_ns() < deadline) {
        Ulma__Wire__Query q = ULMA__WIRE__QUERY__INIT;
        Ulma__Wire__Scope sc = ULMA__WIRE__SCOPE__INIT;
        q.version = WIRE_VERSION;
        q.kind = ULMA__WIRE__KIND__TOP;
        sc.level = ULMA__WIRE__SCOPE__LEVEL__NODE;
        sc.node = (char *)node;
        q.scope = &sc;
        q.filter = "(marker)";
        q.limit = 1;
        sbuf_t b = {0};
        wire_pack(&q.base, &b);
        zmq_send(probe, b.data, b.len, 0);
        sbuf_free(&b);
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_pollitem_t it = {probe, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 2000) <= 0 || zmq_msg_recv(&m, probe, 0) < 0) {
            zmq_msg_close(&m);
            return;
        }
        wire_refusal_t why;
        Ulma__Wire__Reply *r = wire_reply(zmq_msg_data(&m), zmq_msg_size(&m), &why);
        zmq_msg_close(&m);
        uint64_t got = r && r->table && r->table->n_rows ? r->table->rows[0]->ncalls : 0;
        if (r)
            protobuf_c_message_free_unpacked(&r->base, NULL);
        if (got >= want) {
            lat = xgrow(lat, &lat_cap, nlat + 1, sizeof(*lat));
            lat[nlat++] = (double)(now_ns() - sent_ns) / 1e6;
            return;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- main --------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: collector_load [--ep EP] [--nodes N] [--first K] [--prefix P] [--ranks R]\n"
            "  [--funcs F] [--edges E] [--paths P] [--change X] [--zipf S] [--interval S]\n"
            "  [--snapshot-every K] [--churn PER_NODE_PER_MIN] [--duration S] [--reports N]\n"
            "  [--job J] [--truth FILE] [--latency QUERY_EP] [--no-answer] [--drop-at N]\n"
            "  [--restart-at N] [--seed N] [--quiet]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define STR(name, field) if (!strcmp(a, name) && v) { snprintf(field, sizeof(field), "%s", v); i++; continue; }
#define U32(name, field) if (!strcmp(a, name) && v) { field = (uint32_t)strtoul(v, NULL, 10); i++; continue; }
#define DBL(name, field) if (!strcmp(a, name) && v) { field = strtod(v, NULL); i++; continue; }
        STR("--ep", cfg.ep) STR("--job", cfg.job) STR("--prefix", cfg.prefix)
        STR("--truth", cfg.truth) STR("--latency", cfg.latency)
        U32("--nodes", cfg.nodes) U32("--first", cfg.first) U32("--ranks", cfg.ranks)
        U32("--funcs", cfg.funcs) U32("--edges", cfg.edges) U32("--paths", cfg.paths)
        U32("--snapshot-every", cfg.snapshot_every) U32("--reports", cfg.reports)
        U32("--drop-at", cfg.drop_at) U32("--restart-at", cfg.restart_at) U32("--seed", cfg.seed)
        DBL("--change", cfg.change) DBL("--zipf", cfg.zipf) DBL("--churn", cfg.churn)
        DBL("--duration", cfg.duration) DBL("--interval", cfg.interval)
        if (!strcmp(a, "--no-answer")) { cfg.no_answer = 1; continue; }
        if (!strcmp(a, "--quiet")) { cfg.quiet = 1; continue; }
        usage();
    }
    if (!cfg.nodes || !cfg.ranks || cfg.funcs < 2)
        usage();
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    rng_state = 0x9e3779b97f4a7c15ull ^ ((uint64_t)cfg.seed * 0x100000001b3ull) ^ cfg.first;
    zipf_cdf = xmalloc(sizeof(double) * cfg.funcs);
    double sum = 0;
    for (uint32_t f = 0; f < cfg.funcs; f++)
        sum += 1.0 / pow(f + 1, cfg.zipf);
    double acc = 0;
    for (uint32_t f = 0; f < cfg.funcs; f++) {
        acc += 1.0 / pow(f + 1, cfg.zipf) / sum;
        zipf_cdf[f] = acc;
    }
    fname = xcalloc(cfg.funcs, sizeof(*fname));
    void *ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, (int)cfg.nodes + 64);
    zmq_ctx_set(ctx, ZMQ_IO_THREADS, 1);
    node_t *nodes = xcalloc(cfg.nodes, sizeof(*nodes));
    uint64_t t0 = now_ns(), ivl = (uint64_t)(cfg.interval * 1e9);
    for (uint32_t i = 0; i < cfg.nodes; i++) {
        node_t *n = &nodes[i];
        snprintf(n->name, sizeof(n->name), "%s%05u", cfg.prefix, cfg.first + i);
        n->sock = zmq_socket(ctx, ZMQ_DEALER);
        int hwm = 100, zero = 0;
        zmq_setsockopt(n->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
        zmq_setsockopt(n->sock, ZMQ_LINGER, &zero, sizeof(zero));
        if (zmq_connect(n->sock, cfg.ep) != 0) {
            fprintf(stderr, "collector_load: connect %s: %s\n", cfg.ep, zmq_strerror(errno));
            return 1;
        }
        n->idx = xcalloc(cfg.funcs, sizeof(uint32_t));
        n->nranks = cfg.ranks;
        n->ranks = xcalloc(cfg.ranks, sizeof(rank_t));
        n->next_pid = 1000;
        for (uint32_t k = 0; k < cfg.ranks; k++) {
            rank_start(n, &n->ranks[k], k);
            n->ranks[k].m.rank = (int32_t)((cfg.first + i) * cfg.ranks + k);
        }
        node_session(n);
        group_init(n);
        /* agents are not in step: spread the nodes over the interval */
        n->next_ns = t0 + 200000000ull + ivl * i / cfg.nodes;
    }
    if (cfg.latency[0]) {
        probe = zmq_socket(ctx, ZMQ_DEALER);
        int zero = 0;
        zmq_setsockopt(probe, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_connect(probe, cfg.latency);
    }
    zmq_pollitem_t *it = xcalloc(cfg.nodes, sizeof(*it));
    for (uint32_t i = 0; i < cfg.nodes; i++) {
        it[i].socket = nodes[i].sock;
        it[i].events = ZMQ_POLLIN;
    }
    uint64_t end = cfg.duration > 0 ? t0 + (uint64_t)(cfg.duration * 1e9) : 0;
    uint32_t done = 0;
    while (!stop) {
        uint64_t now = now_ns();
        if (end && now >= end)
            break;
        uint64_t wake = UINT64_MAX;
        for (uint32_t i = 0; i < cfg.nodes; i++) {
            node_t *n = &nodes[i];
            if (cfg.reports && n->reports >= cfg.reports)
                continue;
            if (now >= n->next_ns) {
                node_report(n);
                n->next_ns += ivl;
                if (n->next_ns < now)
                    n->next_ns = now + ivl;
                if (cfg.reports && n->reports >= cfg.reports)
                    done++;
                if (cfg.latency[0] && i == 0)
                    probe_wait(n->name, marker_value, now);
            }
            if (n->next_ns < wake)
                wake = n->next_ns;
        }
        if (cfg.reports && done >= cfg.nodes) {
            /* linger one interval to answer snapshot requests and queries */
            uint64_t until = now_ns() + ivl;
            while (!stop && now_ns() < until) {
                zmq_poll(it, (int)cfg.nodes, 50);
                for (uint32_t i = 0; i < cfg.nodes; i++)
                    if (it[i].revents & ZMQ_POLLIN)
                        node_incoming(&nodes[i]);
                for (uint32_t i = 0; i < cfg.nodes; i++)
                    if (nodes[i].want_snapshot) {
                        nodes[i].reports--; /* a snapshot as an extra report */
                        node_report(&nodes[i]);
                    }
            }
            break;
        }
        now = now_ns();
        long ms = wake == UINT64_MAX ? 100 : wake > now ? (long)((wake - now) / 1000000) : 0;
        if (ms > 100)
            ms = 100;
        zmq_poll(it, (int)cfg.nodes, ms);
        for (uint32_t i = 0; i < cfg.nodes; i++)
            if (it[i].revents & ZMQ_POLLIN)
                node_incoming(&nodes[i]);
    }
    uint64_t bytes = 0, reports = 0, rows = 0;
    for (uint32_t i = 0; i < cfg.nodes; i++) {
        bytes += nodes[i].bytes;
        rows += nodes[i].rows;
        reports += nodes[i].reports;
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    printf("LOAD nodes %u reports %llu bytes %llu rows %llu seconds %.3f\n", cfg.nodes,
           (unsigned long long)reports, (unsigned long long)bytes, (unsigned long long)rows, secs);
    if (nlat) {
        qsort(lat, nlat, sizeof(*lat), dcmp);
        printf("LATENCY n %u median_ms %.3f p99_ms %.3f\n", nlat, lat[nlat / 2],
               lat[(uint32_t)(nlat * 0.99) < nlat ? (uint32_t)(nlat * 0.99) : nlat - 1]);
    }
    if (cfg.truth[0]) {
        sbuf_t b = {0};
        jw_t w;
        jw_init(&w, &b);
        jw_obj(&w);
        jw_key(&w, "functions");
        jw_obj(&w);
        for (uint32_t f = 0; f < cfg.funcs; f++) {
            pf_counts_t t = {0};
            for (uint32_t i = 0; i < cfg.nodes; i++)
                for (uint32_t k = 0; k < nodes[i].nranks; k++) {
                    const pf_counts_t *x = &nodes[i].ranks[k].truth[f];
                    t.ncalls += x->ncalls;
                    t.pcalls += x->pcalls;
                    t.tottime_ns += x->tottime_ns;
                    t.cumtime_ns += x->cumtime_ns;
                }
            jw_key(&w, fname[f]);
            jw_obj(&w);
            jw_ku64(&w, "ncalls", t.ncalls);
            jw_ku64(&w, "pcalls", t.pcalls);
            jw_ki64(&w, "tottime_ns", t.tottime_ns);
            jw_ki64(&w, "cumtime_ns", t.cumtime_ns);
            jw_obj_end(&w);
        }
        jw_obj_end(&w);
        jw_obj_end(&w);
        write_file(cfg.truth, b.data, b.len);
        sbuf_free(&b);
    }
    fflush(stdout);
    for (uint32_t i = 0; i < cfg.nodes; i++)
        zmq_close(nodes[i].sock);
    if (probe)
        zmq_close(probe);
    zmq_ctx_term(ctx);
    return 0;
}
