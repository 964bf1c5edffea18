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
 *
 * --final S: at the end, a last snapshot of every node queued whatever the
 * high-water mark (retried), and snapshots answered for S seconds, as an
 * agent ends: the collector then holds exactly what --truth says.
 *
 * --pool K: the benchmark's cheap mode (see "pooled mode" below): the same
 * kind of messages for a fraction of the CPU, so that a thousand simulated
 * nodes leave the collector being measured most of the machine.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "profile/profile.h"
#include "profile/util.h"
#include "wire/curve.h"
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

typedef struct pnode pnode_t;

typedef struct node {
    pnode_t *pn;          /* pooled mode */
    char name[64];
    void *sock;
    wire_sender_t *s;
    rank_t *ranks;
    uint32_t nranks;
    uint32_t *idx;        /* sender index per function */
    profile_t *group;     /* edges and paths of the node's job */
    uint32_t reports;
    uint32_t phase;       /* --stagger: periodic snapshots shifted by this many reports */
    int want_snapshot, want_full;
    uint64_t next_ns;
    int32_t next_pid;
    uint64_t bytes, rows;
} node_t;

static struct {
    char ep[256], job[64], prefix[32], truth[256], latency[256];
    char curve_dir[256], server_key[256]; /* CURVE keys of every simulated node, or "" */
    uint32_t nodes, first, ranks, funcs, edges, paths, snapshot_every, reports;
    double change, zipf, churn, duration, interval, latency_skip, final;
    int no_answer, quiet, stagger;
    uint32_t drop_at, restart_at, seed, pool;
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

/* Pooled mode: every rank's rows from one block, in huge pages where the
 * kernel gives them, touched once at the start (on some virtual machines a
 * page fault costs tens of microseconds: faulting 4 KiB pages in as the
 * ranks start would be the generator's main work). */
static char *slab;
static size_t slab_used, slab_size;

static void *slab_get(size_t n)
{
    n = (n + 63) & ~(size_t)63;
    if (!slab) {
        slab_size = ((size_t)cfg.nodes * cfg.ranks * cfg.funcs *
                     (sizeof(pf_counts_t) + sizeof(uint64_t)) + ((size_t)4 << 20)) & ~(((size_t)2 << 20) - 1);
        slab = mmap(NULL, slab_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (slab == MAP_FAILED) {
            fprintf(stderr, "collector_load: cannot map %zu bytes\n", slab_size);
            exit(1);
        }
        madvise(slab, slab_size, MADV_HUGEPAGE);
        memset(slab, 0, slab_size);
    }
    if (slab_used + n > slab_size) {
        fprintf(stderr, "collector_load: slab exhausted\n");
        exit(1);
    }
    void *p = slab + slab_used;
    slab_used += n;
    return p;
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
    if (!r->rows && cfg.pool) {
        r->rows = slab_get(sizeof(*r->rows) * cfg.funcs);
        r->mpi = slab_get(sizeof(*r->mpi) * cfg.funcs);
    } else if (!r->rows) {
        r->rows = xcalloc(cfg.funcs, sizeof(*r->rows));
        r->mpi = xcalloc(cfg.funcs, sizeof(*r->mpi));
        if (!cfg.pool) {
            r->truth = xcalloc(cfg.funcs, sizeof(*r->truth));
            r->touched = xcalloc(cfg.funcs, sizeof(*r->touched));
        }
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
static int no_work; /* --final: reports say what was done, do nothing new */

static void node_report(node_t *n)
{
    n->reports++;
    if (no_work)
        goto send;
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
send:;
    int snap = n->want_snapshot || (cfg.snapshot_every && (n->reports + n->phase) % cfg.snapshot_every == 0);
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

/* ---- pooled mode (--pool K) --------------------------------------------------------------
 *
 * At a thousand simulated nodes the exact mode's sender (every row of every
 * rank compared with its last value at each report, then encoded) costs
 * more CPU than the collector it loads. The pooled mode sends the same kind
 * of messages for much less:
 *   - every node runs the same program: one dictionary of names, one call
 *     graph (edges and paths), made once and shared (as the ranks of one
 *     MPI job are);
 *   - a rank's delta is one of K row sets drawn once (the --change share of
 *     rows, Zipf-picked, with fresh values), encoded once exactly as the
 *     sender encodes (delta-coded ascending indices, zigzag columns) and
 *     added to that rank's cumulative rows; the same for the node's group;
 *   - snapshots are encoded from the cumulative rows every time, so they
 *     always agree with the deltas sent before them;
 *   - ranks end and start (--churn), exited, then gone, as in exact mode.
 * So the collector decodes, validates and applies the messages it would get
 * from agents; only the values repeat (K sets per node) and the per-report
 * work of the generator is a few copies. No --restart-at, --drop-at or
 * --latency here; --truth only without --churn.
 */

typedef struct enc {
    uint8_t *d;
    size_t n, cap;
} enc_t;

static void enc_room(enc_t *e, size_t k)
{
    if (e->n + k > e->cap) {
        e->cap = (e->n + k) * 2 + 64;
        e->d = xrealloc(e->d, e->cap);
    }
}

static void enc_varint(enc_t *e, uint64_t v)
{
    enc_room(e, 10);
    while (v >= 0x80) {
        e->d[e->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    e->d[e->n++] = (uint8_t)v;
}

static void enc_zz(enc_t *e, int64_t v) { enc_varint(e, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }

/* One packed column as an unknown field of its message: protobuf-c packs
 * unknown fields as tag + data, so `data` holds the length and the values. */
typedef struct pcol {
    enc_t v;                       /* the values */
    enc_t f;                       /* length + values */
} pcol_t;

static void pcol_reset(pcol_t *c) { c->v.n = c->f.n = 0; }

static void pcol_field(pcol_t *c, uint32_t tag, ProtobufCMessageUnknownField *uf, unsigned *nuf)
{
    if (!c->v.n)
        return;
    c->f.n = 0;
    enc_varint(&c->f, c->v.n);
    enc_room(&c->f, c->v.n);
    memcpy(c->f.d + c->f.n, c->v.d, c->v.n);
    c->f.n += c->v.n;
    ProtobufCMessageUnknownField *u = &uf[(*nuf)++];
    u->tag = tag;
    u->wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
    u->len = c->f.n;
    u->data = c->f.d;
}

enum { PC_IDX, PC_N, PC_R, PC_T, PC_S, PC_MIDX, PC_MB, PC_NCOLS };
enum { GC_EIDX, GC_EN, GC_ER, GC_ET, GC_ES, GC_PIDX, GC_PC, GC_PT, GC_PS, GC_NCOLS };

typedef struct prow {
    uint32_t f;
    uint64_t dn, dr;
    int64_t dt, ds;
} prow_t;

/* One pre-encoded delta of a rank. */
typedef struct pvar {
    prow_t *rows;
    uint32_t n;
    uint64_t events;
    pcol_t col[PC_NCOLS];
    ProtobufCMessageUnknownField uf[PC_NCOLS];
    unsigned nuf;
} pvar_t;

typedef struct grow_ {
    uint32_t i;                    /* edge index, or path index */
    int path;
    pf_counts_t d;                 /* edges: counts; paths: ncalls = count */
} growd_t;

/* One pre-encoded delta of a node's group. */
typedef struct gvar {
    growd_t *rows;
    uint32_t n;
    pcol_t col[GC_NCOLS];
    ProtobufCMessageUnknownField uf[GC_NCOLS];
    unsigned nuf;
} gvar_t;

typedef struct pathc {
    uint64_t count;
    int64_t tottime, subtime;
} pathc_t;

struct pnode {
    uint64_t session, seq;
    Ulma__Wire__Node nm;
    pf_counts_t *edges;            /* cumulative group rows */
    pathc_t *paths;
    Ulma__Wire__Process *procs, **procp;
    pcol_t *snap;                  /* per rank: snapshot columns */
    ProtobufCMessageUnknownField *snap_uf;   /* per rank PC_NCOLS */
    pcol_t gsnap[GC_NCOLS];
    ProtobufCMessageUnknownField guf[GC_NCOLS];
    int32_t *gone_pid;
    uint64_t *gone_st;
};

static struct {
    Ulma__Wire__Name *names, **namep;
    Ulma__Wire__EdgeName *edges, **edgep;
    Ulma__Wire__PathName *paths, **pathp;
    uint32_t nedges, npaths;       /* paths: dictionary entries (path ids 1..npaths) */
    pvar_t *var;
    gvar_t *gvar;
} pool;

static int prow_cmp(const void *a, const void *b)
{
    const prow_t *x = a, *y = b;
    return x->f < y->f ? -1 : x->f > y->f;
}

static int growd_cmp(const void *a, const void *b)
{
    const growd_t *x = a, *y = b;
    if (x->path != y->path)
        return x->path - y->path;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int is_mpi(uint32_t f) { return f >= cfg.funcs - (cfg.funcs >= 20 ? 10 : 1); }

static void pool_init(void)
{
    uint32_t nf = cfg.funcs;
    pool.names = xcalloc(nf, sizeof(*pool.names));
    pool.namep = xcalloc(nf, sizeof(*pool.namep));
    for (uint32_t f = 0; f < nf; f++) {
        pf_func_t pf;
        func_label(f, &pf);
        Ulma__Wire__Name *x = &pool.names[f];
        ulma__wire__name__init(x);
        x->file = (char *)pf.file.s;
        x->line = pf.line;
        x->name = fname[f];
        x->kind = pf.kind;
        pool.namep[f] = x;
    }
    /* the call graph: distinct caller -> callee pairs, and paths */
    uint32_t ne = cfg.edges, np = cfg.paths;
    pool.edges = xcalloc(ne + 1, sizeof(*pool.edges));
    pool.edgep = xcalloc(ne + 1, sizeof(*pool.edgep));
    uint32_t cap = 1;
    while (cap < 4 * (ne + np + 1))
        cap *= 2;
    uint64_t *set = xcalloc(cap, sizeof(uint64_t));
    for (uint32_t e = 0; e < ne;) {
        uint32_t a = (uint32_t)(rnd() % nf), b = (uint32_t)(rnd() % nf);
        uint64_t key = ((uint64_t)a << 32 | b) + 1;
        uint32_t j = (uint32_t)(key * 0x9e3779b97f4a7c15ull >> 40) & (cap - 1);
        while (set[j] && set[j] != key)
            j = (j + 1) & (cap - 1);
        if (set[j])
            continue;
        set[j] = key;
        ulma__wire__edge_name__init(&pool.edges[e]);
        pool.edges[e].caller = a;
        pool.edges[e].callee = b;
        pool.edgep[e] = &pool.edges[e];
        e++;
    }
    free(set);
    pool.nedges = ne;
    pool.paths = xcalloc(np + 1, sizeof(*pool.paths));
    pool.pathp = xcalloc(np + 1, sizeof(*pool.pathp));
    for (uint32_t p = 0; p < np; p++) {
        ulma__wire__path_name__init(&pool.paths[p]);
        pool.paths[p].parent = p && rnd() % 4 ? (uint32_t)(rnd() % p) + 1 : 0;
        pool.paths[p].func = (uint32_t)(rnd() % nf);
        pool.pathp[p] = &pool.paths[p];
    }
    pool.npaths = np;
    /* the deltas */
    uint32_t changes = (uint32_t)(cfg.change * nf + 0.5);
    pool.var = xcalloc(cfg.pool, sizeof(*pool.var));
    pool.gvar = xcalloc(cfg.pool, sizeof(*pool.gvar));
    for (uint32_t k = 0; k < cfg.pool; k++) {
        pvar_t *v = &pool.var[k];
        v->rows = xcalloc(changes + 1, sizeof(*v->rows));
        for (uint32_t i = 0; i < changes; i++) {
            uint32_t f = zipf_pick();
            uint64_t calls = 1 + rnd() % 20;
            prow_t *r = &v->rows[v->n++];
            r->f = f;
            r->dn = calls;
            r->dr = f % 7 == 0 ? calls / 3 : 0;
            r->dt = (int64_t)(calls * (200 + rnd() % 5000));
            r->ds = f % 3 ? (int64_t)(rnd() % 20000) : 0;
            v->events += 2 * calls;
        }
        qsort(v->rows, v->n, sizeof(*v->rows), prow_cmp);
        uint32_t m = 0; /* one row per function, summed */
        for (uint32_t i = 0; i < v->n; i++) {
            if (m && v->rows[m - 1].f == v->rows[i].f) {
                prow_t *d = &v->rows[m - 1];
                d->dn += v->rows[i].dn;
                d->dr += v->rows[i].dr;
                d->dt += v->rows[i].dt;
                d->ds += v->rows[i].ds;
            } else {
                v->rows[m++] = v->rows[i];
            }
        }
        v->n = m;
        uint32_t prev = 0, mprev = 0;
        int first_m = 1;
        for (uint32_t i = 0; i < v->n; i++) {
            const prow_t *r = &v->rows[i];
            enc_varint(&v->col[PC_IDX].v, i ? r->f - prev : r->f);
            prev = r->f;
            enc_zz(&v->col[PC_N].v, (int64_t)r->dn);
            enc_zz(&v->col[PC_R].v, (int64_t)r->dr);
            enc_zz(&v->col[PC_T].v, r->dt);
            enc_zz(&v->col[PC_S].v, r->ds);
            if (is_mpi(r->f)) {
                enc_varint(&v->col[PC_MIDX].v, first_m ? r->f : r->f - mprev);
                mprev = r->f;
                first_m = 0;
                enc_zz(&v->col[PC_MB].v, (int64_t)(r->dn * 4096));
            }
        }
        static const uint32_t tags[PC_NCOLS] = {20, 21, 22, 23, 24, 25, 26};
        for (int c = 0; c < PC_NCOLS; c++)
            pcol_field(&v->col[c], tags[c], v->uf, &v->nuf);
        /* the group's delta */
        gvar_t *g = &pool.gvar[k];
        uint32_t gk = (uint32_t)(cfg.change * (ne + np));
        g->rows = xcalloc(gk + 1, sizeof(*g->rows));
        for (uint32_t i = 0; i < gk; i++) {
            uint32_t z = zipf_pick();
            growd_t *r = &g->rows[g->n];
            memset(r, 0, sizeof(*r));
            if (ne && (i & 1)) {
                r->i = z % ne;
                r->d.ncalls = r->d.pcalls = 3;
                r->d.tottime_ns = 1500;
                r->d.cumtime_ns = 2500;
                g->n++;
            } else if (np) {
                r->path = 1;
                r->i = z % np;
                r->d.ncalls = 2;
                r->d.tottime_ns = 1000;
                r->d.cumtime_ns = 1800;
                g->n++;
            }
        }
        qsort(g->rows, g->n, sizeof(*g->rows), growd_cmp);
        m = 0;
        for (uint32_t i = 0; i < g->n; i++) {
            if (m && g->rows[m - 1].path == g->rows[i].path && g->rows[m - 1].i == g->rows[i].i) {
                pf_counts_t *d = &g->rows[m - 1].d;
                d->ncalls += g->rows[i].d.ncalls;
                d->pcalls += g->rows[i].d.pcalls;
                d->tottime_ns += g->rows[i].d.tottime_ns;
                d->cumtime_ns += g->rows[i].d.cumtime_ns;
            } else {
                g->rows[m++] = g->rows[i];
            }
        }
        g->n = m;
        int fe = 1, fp = 1;
        uint32_t pe = 0, pp = 0;
        for (uint32_t i = 0; i < g->n; i++) {
            const growd_t *r = &g->rows[i];
            const pf_counts_t *d = &r->d;
            if (!r->path) {
                enc_varint(&g->col[GC_EIDX].v, fe ? r->i : r->i - pe);
                pe = r->i;
                fe = 0;
                enc_zz(&g->col[GC_EN].v, (int64_t)d->ncalls);
                enc_zz(&g->col[GC_ER].v, (int64_t)(d->ncalls - d->pcalls));
                enc_zz(&g->col[GC_ET].v, d->tottime_ns);
                enc_zz(&g->col[GC_ES].v, d->cumtime_ns - d->tottime_ns);
            } else {
                enc_varint(&g->col[GC_PIDX].v, fp ? r->i : r->i - pp);
                pp = r->i;
                fp = 0;
                enc_zz(&g->col[GC_PC].v, (int64_t)d->ncalls);
                enc_zz(&g->col[GC_PT].v, d->tottime_ns);
                enc_zz(&g->col[GC_PS].v, d->cumtime_ns - d->tottime_ns);
            }
        }
        static const uint32_t gtags[GC_NCOLS] = {2, 3, 4, 5, 6, 7, 8, 9, 10};
        for (int c = 0; c < GC_NCOLS; c++)
            pcol_field(&g->col[c], gtags[c], g->uf, &g->nuf);
    }
}

static void pnode_init(node_t *n)
{
    pnode_t *pn = xcalloc(1, sizeof(*pn));
    n->pn = pn;
    do
        pn->session = rnd();
    while (!pn->session);
    ulma__wire__node__init(&pn->nm);
    pn->nm.name = n->name;
    pn->nm.host = n->name;
    pn->nm.agent_version = "load-0.1";
    pn->nm.cpus = 16;
    pn->nm.agent_pid = (int32_t)getpid();
    pn->nm.dir = "/dev/shm";
    pn->nm.agent_start_ns = wall_ns();
    pn->edges = xcalloc(pool.nedges + 1, sizeof(*pn->edges));
    pn->paths = xcalloc(pool.npaths + 1, sizeof(*pn->paths));
    pn->procs = xcalloc(n->nranks, sizeof(*pn->procs));
    pn->procp = xcalloc(n->nranks, sizeof(*pn->procp));
    pn->snap = xcalloc((size_t)n->nranks * PC_NCOLS, sizeof(*pn->snap));
    pn->snap_uf = xcalloc((size_t)n->nranks * PC_NCOLS, sizeof(*pn->snap_uf));
    pn->gone_pid = xcalloc(n->nranks, sizeof(*pn->gone_pid));
    pn->gone_st = xcalloc(n->nranks, sizeof(*pn->gone_st));
    n->want_snapshot = n->want_full = 1;
}

/* A rank's whole cumulative rows, encoded into its snapshot columns. */
static unsigned snap_rank(pnode_t *pn, uint32_t k, const rank_t *r, uint64_t *rows)
{
    pcol_t *col = &pn->snap[(size_t)k * PC_NCOLS];
    ProtobufCMessageUnknownField *uf = &pn->snap_uf[(size_t)k * PC_NCOLS];
    for (int c = 0; c < PC_NCOLS; c++)
        pcol_reset(&col[c]);
    uint32_t prev = 0, mprev = 0, nr = 0, nm = 0;
    for (uint32_t f = 0; f < cfg.funcs; f++) {
        const pf_counts_t *c = &r->rows[f];
        if (c->ncalls || c->tottime_ns || c->cumtime_ns) {
            enc_varint(&col[PC_IDX].v, nr ? f - prev : f);
            prev = f;
            nr++;
            enc_zz(&col[PC_N].v, (int64_t)c->ncalls);
            enc_zz(&col[PC_R].v, (int64_t)(c->ncalls - c->pcalls));
            enc_zz(&col[PC_T].v, c->tottime_ns);
            enc_zz(&col[PC_S].v, c->cumtime_ns - c->tottime_ns);
        }
        if (r->mpi[f]) {
            enc_varint(&col[PC_MIDX].v, nm ? f - mprev : f);
            mprev = f;
            nm++;
            enc_zz(&col[PC_MB].v, (int64_t)r->mpi[f]);
        }
    }
    *rows += nr;
    static const uint32_t tags[PC_NCOLS] = {20, 21, 22, 23, 24, 25, 26};
    unsigned nuf = 0;
    for (int c = 0; c < PC_NCOLS; c++)
        pcol_field(&col[c], tags[c], uf, &nuf);
    return nuf;
}

static void pnode_report(node_t *n)
{
    pnode_t *pn = n->pn;
    n->reports++;
    uint32_t ngone = 0;
    for (uint32_t k = 0; k < n->nranks; k++) {
        rank_t *r = &n->ranks[k];
        if (r->gone_pending && n->reports - r->exited_at >= 3)
            r->gone_pending = 2;
    }
    if (cfg.churn > 0 && (double)(rnd() % 1000000) / 1e6 < cfg.churn * cfg.interval / 60.0) {
        rank_t *r = &n->ranks[rnd() % n->nranks];
        if (!r->gone_pending) {
            r->m.state = PF_STATE_EXITED;
            r->gone_pending = 1;
            r->exited_at = n->reports;
        }
    }
    int snap = n->want_snapshot || (cfg.snapshot_every && (n->reports + n->phase) % cfg.snapshot_every == 0);
    int full = snap && n->want_full;
    uint32_t np = 0;
    for (uint32_t k = 0; k < n->nranks; k++) {
        rank_t *r = &n->ranks[k];
        if (r->gone_pending == 2) { /* gone; a new process takes its place */
            pn->gone_pid[ngone] = r->m.pid;
            pn->gone_st[ngone++] = r->m.start_time;
            int32_t rk = r->m.rank;
            rank_start(n, r, k);
            r->m.rank = rk;
        }
        const pvar_t *v = NULL;
        if (!r->gone_pending) { /* its work this interval */
            v = &pool.var[rnd() % cfg.pool];
            for (uint32_t i = 0; i < v->n; i++) {
                const prow_t *d = &v->rows[i];
                pf_counts_t *c = &r->rows[d->f];
                c->ncalls += d->dn;
                c->pcalls += d->dn - d->dr;
                c->tottime_ns += d->dt;
                c->cumtime_ns += d->dt + d->ds;
                if (is_mpi(d->f))
                    r->mpi[d->f] += d->dn * 4096;
            }
            r->m.events += v->events;
            n->rows += v->n;
        } else if (!snap && r->gone_pending == 1 && n->reports != r->exited_at) {
            continue; /* exited and said so: unchanged */
        }
        Ulma__Wire__Process *pr = &pn->procs[np];
        ulma__wire__process__init(pr);
        pr->pid = r->m.pid;
        pr->start_time = r->m.start_time;
        pr->rank = r->m.rank;
        pr->size = r->m.size;
        pr->job = r->m.job;
        pr->exe = r->m.exe;
        pr->state = r->m.state;
        pr->active_mode = r->m.active_mode;
        pr->events = r->m.events;
        pr->hz = r->m.hz;
        pr->threads = 1;
        if (snap) {
            pr->base.n_unknown_fields = snap_rank(pn, k, r, &n->rows);
            pr->base.unknown_fields = &pn->snap_uf[(size_t)k * PC_NCOLS];
        } else if (v) {
            pr->base.n_unknown_fields = v->nuf;
            pr->base.unknown_fields = (ProtobufCMessageUnknownField *)v->uf;
        }
        pn->procp[np++] = pr;
    }
    /* the node's group */
    Ulma__Wire__Group g = ULMA__WIRE__GROUP__INIT, *gp = &g;
    g.job = cfg.job;
    if (pool.nedges || pool.npaths) {
        const gvar_t *gv = &pool.gvar[rnd() % cfg.pool];
        for (uint32_t i = 0; i < gv->n; i++) {
            const growd_t *d = &gv->rows[i];
            if (!d->path) {
                pf_counts_t *c = &pn->edges[d->i];
                c->ncalls += d->d.ncalls;
                c->pcalls += d->d.pcalls;
                c->tottime_ns += d->d.tottime_ns;
                c->cumtime_ns += d->d.cumtime_ns;
            } else {
                pathc_t *c = &pn->paths[d->i];
                c->count += d->d.ncalls;
                c->tottime += d->d.tottime_ns;
                c->subtime += d->d.cumtime_ns - d->d.tottime_ns;
            }
        }
        if (!snap) {
            g.base.n_unknown_fields = gv->nuf;
            g.base.unknown_fields = (ProtobufCMessageUnknownField *)gv->uf;
        } else {
            for (int c = 0; c < GC_NCOLS; c++)
                pcol_reset(&pn->gsnap[c]);
            uint32_t ke = 0, kp = 0, pe = 0, pp = 0;
            for (uint32_t e = 0; e < pool.nedges; e++) {
                const pf_counts_t *c = &pn->edges[e];
                if (!c->ncalls)
                    continue;
                enc_varint(&pn->gsnap[GC_EIDX].v, ke++ ? e - pe : e);
                pe = e;
                enc_zz(&pn->gsnap[GC_EN].v, (int64_t)c->ncalls);
                enc_zz(&pn->gsnap[GC_ER].v, (int64_t)(c->ncalls - c->pcalls));
                enc_zz(&pn->gsnap[GC_ET].v, c->tottime_ns);
                enc_zz(&pn->gsnap[GC_ES].v, c->cumtime_ns - c->tottime_ns);
            }
            for (uint32_t i = 0; i < pool.npaths; i++) {
                const pathc_t *c = &pn->paths[i];
                if (!(c->count || c->tottime))
                    continue;
                enc_varint(&pn->gsnap[GC_PIDX].v, kp++ ? i - pp : i);
                pp = i;
                enc_zz(&pn->gsnap[GC_PC].v, (int64_t)c->count);
                enc_zz(&pn->gsnap[GC_PT].v, c->tottime);
                enc_zz(&pn->gsnap[GC_PS].v, c->subtime);
            }
            static const uint32_t gtags[GC_NCOLS] = {2, 3, 4, 5, 6, 7, 8, 9, 10};
            unsigned nuf = 0;
            for (int c = 0; c < GC_NCOLS; c++)
                pcol_field(&pn->gsnap[c], gtags[c], pn->guf, &nuf);
            g.base.n_unknown_fields = nuf;
            g.base.unknown_fields = pn->guf;
        }
    }
    Ulma__Wire__Report rp = ULMA__WIRE__REPORT__INIT;
    rp.session = pn->session;
    rp.seq = pn->seq + 1;
    rp.snapshot = snap;
    rp.node = &pn->nm;
    rp.wall_ns = wall_ns();
    rp.interval_ns = (uint64_t)(cfg.interval * 1e9);
    if (full) {
        rp.n_names = cfg.funcs;
        rp.names = pool.namep;
        rp.n_edge_names = pool.nedges;
        rp.edge_names = pool.edgep;
        rp.n_path_names = pool.npaths;
        rp.path_names = pool.pathp;
    } else {
        rp.name_base = cfg.funcs;
        rp.edge_base = pool.nedges;
        rp.path_base = pool.npaths;
    }
    rp.n_procs = np;
    rp.procs = pn->procp;
    if (pool.nedges || pool.npaths) {
        rp.n_groups = 1;
        rp.groups = &gp;
    }
    rp.n_gone_pid = rp.n_gone_start_time = ngone;
    rp.gone_pid = pn->gone_pid;
    rp.gone_start_time = pn->gone_st;
    Ulma__Wire__AgentCounters ac = ULMA__WIRE__AGENT_COUNTERS__INIT;
    ac.reports_sent = n->reports;
    rp.counters = &ac;
    Ulma__Wire__AgentMsg msg = ULMA__WIRE__AGENT_MSG__INIT;
    msg.version = WIRE_VERSION;
    msg.body_case = ULMA__WIRE__AGENT_MSG__BODY_REPORT;
    msg.report = &rp;
    sbuf_t b = {0};
    wire_pack(&msg.base, &b);
    if (wire_send(n->sock, &b, 0) == 0) {
        pn->seq++;
        n->bytes += b.len;
        if (snap)
            n->want_snapshot = n->want_full = 0;
    } else {
        n->want_snapshot = 1; /* not queued: the next report says it all */
    }
    sbuf_free(&b);
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
                w.r.threads = WIRE_MSGS(w.a, 1, Ulma__Wire__Thread, ulma__wire__thread__descriptor);
                w.r.n_threads = 1;
                Ulma__Wire__Thread *t = w.r.threads[0];
                t->tid = q->scope ? q->scope->pid : 0;
                t->name = wire_printf(w.a, "MainThread of %s", n->name);
                t->depth = 3;
                t->stack = WIRE_MSGS(w.a, 3, Ulma__Wire__Frame, ulma__wire__frame__descriptor);
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
static uint64_t started_ns;
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
            double ms = (double)(now_ns() - sent_ns) / 1e6;
            if (!cfg.quiet)
                printf("LAT t %.3f ms %.3f\n", (double)(sent_ns - started_ns) / 1e9, ms);
            if (sent_ns - started_ns >= (uint64_t)(cfg.latency_skip * 1e9)) {
                lat = xgrow(lat, &lat_cap, nlat + 1, sizeof(*lat));
                lat[nlat++] = ms;
            }
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

static const char usage_line[] =
    "usage: collector_load [-h] [--ep EP] [--nodes N] [--ranks R] [--funcs F] [OPTION...]\n";

static void help(void)
{
    fputs("NAME\n"
          "    collector_load - simulated node agents for ulma-collector's tests and\n"
          "    benchmark\n\n"
          "SYNOPSIS\n"
          "    collector_load [--ep EP] [--nodes N] [--first K] [--prefix P] [--ranks R]\n"
          "                   [--funcs F] [--edges E] [--paths P] [--change X] [--zipf S]\n"
          "                   [--interval S] [--snapshot-every K [--stagger]]\n"
          "                   [--churn PER_NODE_PER_MIN] [--duration S] [--reports N]\n"
          "                   [--job J] [--truth FILE] [--latency QUERY_EP\n"
          "                   [--latency-skip S]] [--no-answer] [--drop-at N]\n"
          "                   [--restart-at N] [--seed N] [--pool K] [--quiet] [--final S]\n"
          "                   [--curve-dir DIR [--server-key FILE]]\n\n"
          "DESCRIPTION\n"
          "    Each simulated node is one report sender (libulma-wire's wire_sender_*,\n"
          "    as ulma-agent uses it) on its own DEALER socket connected to the\n"
          "    collector's agent endpoint: per rank a table of F function rows, a share\n"
          "    X of them changing per report (Zipf-like hot rows), a snapshot every K\n"
          "    reports and whenever the collector asks, one group of edges and call\n"
          "    paths per node, processes ending and starting (--churn). Like an agent,\n"
          "    it acknowledges control requests (the ranks they name take the mode) and\n"
          "    answers forwarded queries (a made-up thread and stack) unless\n"
          "    --no-answer. The nodes' reports are spread over the interval, as agents\n"
          "    are not in step. It runs until --duration or --reports, or until SIGINT\n"
          "    or SIGTERM, then prints its totals.\n\n"
          "    The pooled mode (--pool K) is the benchmark's cheap mode: every node\n"
          "    runs the same program (one dictionary of names, one call graph, made\n"
          "    once); a rank's delta is one of K row sets drawn and encoded once, as the\n"
          "    sender encodes them, and added to that rank's cumulative rows; snapshots\n"
          "    are encoded from the cumulative rows every time. The collector decodes,\n"
          "    validates and applies the messages it would get from agents, for a\n"
          "    fraction of the generator's CPU. It goes with none of --restart-at,\n"
          "    --drop-at and --latency, and with --truth only without --churn.\n\n"
          "OPTIONS\n"
          "    --ep EP\n"
          "        The collector's agent endpoint (default tcp://127.0.0.1:7710).\n"
          "    --nodes N\n"
          "        Simulated nodes, at least 1 (default 4).\n"
          "    --first K\n"
          "        The number of the first node (default 0): the nodes are named PREFIX\n"
          "        and K, K + 1, ... in 5 digits, node i's ranks numbered from\n"
          "        (K + i) x R; it also shifts the random numbers.\n"
          "    --prefix P\n"
          "        The start of the node names (default node).\n"
          "    --ranks R\n"
          "        Ranks (processes) per node, at least 1 (default 4).\n"
          "    --funcs F\n"
          "        Functions per rank, at least 2 (default 100): f0, f1, ...; the last\n"
          "        10 (the last one when F < 20) are MPI calls, MPI_CallN.\n"
          "    --edges E, --paths P\n"
          "        Caller-callee edges and call paths of each node's group, its job's\n"
          "        call graph (default 0 and 0: no group); the share X of them changes\n"
          "        per report.\n"
          "    --change X\n"
          "        The share of a rank's rows that change per report (default 0.1).\n"
          "    --zipf S\n"
          "        How hot the hot rows are: function f is picked with weight\n"
          "        1 / (f + 1)^S (default 1).\n"
          "    --interval S\n"
          "        Seconds between two reports of a node (default 1).\n"
          "    --snapshot-every K\n"
          "        A snapshot every K reports (default 10; 0: only when the collector\n"
          "        asks).\n"
          "    --stagger\n"
          "        Each node's periodic snapshots at its own phase of the K reports, as\n"
          "        agents do, not all at once.\n"
          "    --churn PER_NODE_PER_MIN\n"
          "        Processes ending per node per minute (default 0): a rank is reported\n"
          "        exited, then gone 3 reports later, and a new process takes its place.\n"
          "    --duration S\n"
          "        Stop after S seconds (default 0: no limit).\n"
          "    --reports N\n"
          "        Stop after N reports per node (default 0: no limit), answering\n"
          "        snapshot requests and queries for one more interval first.\n"
          "    --job J\n"
          "        The job of every rank (default job1).\n"
          "    --truth FILE\n"
          "        At the end, write every function's exact totals over the simulated\n"
          "        ranks as JSON: {\"functions\": {NAME: {\"ncalls\": ..., \"pcalls\": ...,\n"
          "        \"tottime_ns\": ..., \"cumtime_ns\": ...}}}.\n"
          "    --latency QUERY_EP\n"
          "        Measure report-to-view latency: function f0 is named marker, and\n"
          "        its count of calls on each node's first rank is the node's report\n"
          "        number; after each report of the first node, QUERY_EP (the\n"
          "        collector's query endpoint, asked without CURVE) is asked for the\n"
          "        marker at node scope every 2 ms until the new count shows (5 s at\n"
          "        most).\n"
          "    --latency-skip S\n"
          "        Leave the latencies of the first S seconds out of the summary\n"
          "        (default 0).\n"
          "    --no-answer\n"
          "        Do not answer forwarded queries.\n"
          "    --drop-at N\n"
          "        Each node's report N is lost on the way: counted as sent, never sent.\n"
          "    --restart-at N\n"
          "        After report N, each node restarts as an agent does: a new session,\n"
          "        its counts from zero, its first report a delta from zero.\n"
          "    --seed N\n"
          "        The random seed (default 1).\n"
          "    --pool K\n"
          "        The pooled mode, with K pre-encoded deltas (default 0: exact mode).\n"
          "    --quiet\n"
          "        No LAT line per latency measured.\n"
          "    --final S\n"
          "        At the end (exact mode, not after a signal), a last snapshot of\n"
          "        every node queued whatever the high-water mark (retried), and\n"
          "        snapshots answered for S seconds, as an agent ends: the collector\n"
          "        then holds exactly what --truth says.\n"
          "    --curve-dir DIR\n"
          "        Encrypt and authenticate every node's connection with CurveZMQ, all\n"
          "        with DIR's key pair.\n"
          "    --server-key FILE\n"
          "        With --curve-dir: the collector's public key, a file or the key\n"
          "        itself (default: DIR/server.pub).\n"
          "    -h, --help\n"
          "        Show this text and exit.\n\n"
          "ENVIRONMENT\n"
          "    None.\n\n"
          "OUTPUT\n"
          "    READY\n"
          "        Once every node is set up (memory touched, sockets made); the clock\n"
          "        starts then.\n"
          "    LAT t T ms MS\n"
          "        Per latency measured (--latency, without --quiet): the report sent T\n"
          "        seconds after the start showed after MS ms.\n"
          "    LOAD nodes N reports R bytes B rows W seconds S\n"
          "        At the end: the reports sent, their bytes, the rows they carried,\n"
          "        the seconds run.\n"
          "    LATENCY n N median_ms MS p99_ms MS\n"
          "        At the end, with --latency: over the N latencies kept.\n\n"
          "EXIT STATUS\n"
          "    0 success; 1 memory could not be mapped, a CURVE key could not be read\n"
          "    or a connection could not be made; 2 a usage error.\n\n"
          "EXAMPLES\n"
          "    collector_load --ep tcp://127.0.0.1:7710 --nodes 64 --ranks 16 --funcs 2000\n\n"
          "SEE ALSO\n"
          "    bench_collector --help, ulma-collector --help\n",
          stdout);
}

/* A usage error: what is wrong, the usage line, exit 2. */
__attribute__((format(printf, 1, 2), noreturn)) static void usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("collector_load: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage_line);
    exit(2);
}

/* The value `v` (the next argument) of option `a`: there at all; a whole
 * number up to UINT32_MAX; a number of at least 0. Else a usage error. */
static const char *arg_str(const char *a, const char *v)
{
    if (!v)
        usage_error("%s needs a value", a);
    return v;
}

static uint32_t arg_u32(const char *a, const char *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(arg_str(a, v), &end, 10);
    if (!isdigit((unsigned char)v[0]) || *end || errno || x > UINT32_MAX)
        usage_error("%s takes a whole number, not '%s'", a, v);
    return (uint32_t)x;
}

static double arg_dbl(const char *a, const char *v)
{
    char *end;
    double x = strtod(arg_str(a, v), &end);
    if (end == v || *end || !isfinite(x) || x < 0)
        usage_error("%s takes a number of at least 0, not '%s'", a, v);
    return x;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define STR(name, field) if (!strcmp(a, name)) { snprintf(field, sizeof(field), "%s", arg_str(a, v)); i++; continue; }
#define U32(name, field) if (!strcmp(a, name)) { field = arg_u32(a, v); i++; continue; }
#define DBL(name, field) if (!strcmp(a, name)) { field = arg_dbl(a, v); i++; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            return 0;
        }
        STR("--ep", cfg.ep) STR("--job", cfg.job) STR("--prefix", cfg.prefix)
        STR("--truth", cfg.truth) STR("--latency", cfg.latency)
        STR("--curve-dir", cfg.curve_dir) STR("--server-key", cfg.server_key)
        U32("--nodes", cfg.nodes) U32("--first", cfg.first) U32("--ranks", cfg.ranks)
        U32("--funcs", cfg.funcs) U32("--edges", cfg.edges) U32("--paths", cfg.paths)
        U32("--snapshot-every", cfg.snapshot_every) U32("--reports", cfg.reports)
        U32("--drop-at", cfg.drop_at) U32("--restart-at", cfg.restart_at) U32("--seed", cfg.seed)
        U32("--pool", cfg.pool)
        DBL("--change", cfg.change) DBL("--zipf", cfg.zipf) DBL("--churn", cfg.churn)
        DBL("--duration", cfg.duration) DBL("--interval", cfg.interval)
        DBL("--latency-skip", cfg.latency_skip) DBL("--final", cfg.final)
        if (!strcmp(a, "--no-answer")) { cfg.no_answer = 1; continue; }
        if (!strcmp(a, "--quiet")) { cfg.quiet = 1; continue; }
        if (!strcmp(a, "--stagger")) { cfg.stagger = 1; continue; }
        usage_error(a[0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'", a);
    }
    if (!cfg.nodes || !cfg.ranks || cfg.funcs < 2)
        usage_error("--nodes and --ranks are at least 1, --funcs at least 2");
    if (cfg.pool && (cfg.restart_at || cfg.drop_at || cfg.latency[0] ||
                     (cfg.truth[0] && cfg.churn > 0)))
        usage_error("--pool goes with none of --restart-at, --drop-at, --latency, and with "
                    "--truth only without --churn");
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
    if (cfg.pool) {
        for (uint32_t f = 0; f < cfg.funcs; f++) {
            pf_func_t pf;
            func_label(f, &pf); /* names fname[] */
        }
        pool_init();
    }
    wire_curve_t curve = {0};
    if (cfg.curve_dir[0]) {
        char err[1024];
        if (wire_curve_load(&curve, cfg.curve_dir, cfg.server_key, 1, err, sizeof(err)) != 0) {
            fprintf(stderr, "collector_load: %s\n", err);
            return 1;
        }
    }
    void *ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, (int)cfg.nodes + 64);
    zmq_ctx_set(ctx, ZMQ_IO_THREADS, 1);
    node_t *nodes = xcalloc(cfg.nodes, sizeof(*nodes));
    uint64_t t0 = now_ns(), ivl = (uint64_t)(cfg.interval * 1e9);
    started_ns = t0;
    for (uint32_t i = 0; i < cfg.nodes; i++) {
        node_t *n = &nodes[i];
        snprintf(n->name, sizeof(n->name), "%s%05u", cfg.prefix, cfg.first + i);
        n->sock = zmq_socket(ctx, ZMQ_DEALER);
        int hwm = 100, zero = 0;
        zmq_setsockopt(n->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
        zmq_setsockopt(n->sock, ZMQ_LINGER, &zero, sizeof(zero));
        wire_curve_client(n->sock, &curve);
        if (zmq_connect(n->sock, cfg.ep) != 0) {
            fprintf(stderr, "collector_load: connect %s: %s\n", cfg.ep, zmq_strerror(errno));
            return 1;
        }
        n->idx = xcalloc(cfg.funcs, sizeof(uint32_t));
        n->nranks = cfg.ranks;
        n->ranks = xcalloc(cfg.ranks, sizeof(rank_t));
        n->next_pid = 1000;
        /* as agents do (node-agent/src/uplink.c): each node's periodic
         * snapshots at its own phase of the period, not all at once */
        if (cfg.stagger && cfg.snapshot_every > 1)
            n->phase = (cfg.first + i) % cfg.snapshot_every;
        for (uint32_t k = 0; k < cfg.ranks; k++) {
            rank_start(n, &n->ranks[k], k);
            n->ranks[k].m.rank = (int32_t)((cfg.first + i) * cfg.ranks + k);
        }
        if (cfg.pool) {
            pnode_init(n);
        } else {
            node_session(n);
            group_init(n);
        }
    }
    /* ready: memory touched, sockets made (the benchmark waits for this
     * line before its warm-up); the clock starts now */
    printf("READY\n");
    fflush(stdout);
    t0 = now_ns();
    started_ns = t0;
    for (uint32_t i = 0; i < cfg.nodes; i++) /* agents are not in step: spread over the interval */
        nodes[i].next_ns = t0 + 200000000ull + ivl * i / cfg.nodes;
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
                if (n->pn)
                    pnode_report(n);
                else
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
                        if (nodes[i].pn)
                            pnode_report(&nodes[i]);
                        else
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
    if (cfg.final > 0 && !cfg.pool && !stop) {
        /* as an agent at its end: a last snapshot of every node, queued
         * whatever the mark (retried), then snapshots for those asked for,
         * for --final seconds: what the collector holds is all that was
         * done (--truth) */
        no_work = 1;
        uint64_t until = now_ns() + (uint64_t)(cfg.final * 1e9);
        for (uint32_t i = 0; i < cfg.nodes; i++)
            nodes[i].want_snapshot = 1;
        while (!stop && now_ns() < until) {
            for (uint32_t i = 0; i < cfg.nodes; i++)
                if (nodes[i].want_snapshot) {
                    nodes[i].reports--; /* not a report of its own */
                    node_report(&nodes[i]);
                }
            zmq_poll(it, (int)cfg.nodes, 20);
            for (uint32_t i = 0; i < cfg.nodes; i++)
                if (it[i].revents & ZMQ_POLLIN)
                    node_incoming(&nodes[i]);
        }
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
                    const rank_t *rk = &nodes[i].ranks[k];
                    const pf_counts_t *x = rk->truth ? &rk->truth[f] : &rk->rows[f];
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
