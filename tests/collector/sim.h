/* sim.h - simulated agents for the collector's tests: each node is a real
 * report sender (wire_sender_*) over processes whose cumulative rows the
 * test sets, so the test knows the exact truth. */
#ifndef TEST_COLLECTOR_SIM_H
#define TEST_COLLECTOR_SIM_H

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "store_int.h"
#include "view.h"
#include "wire/sender.h"

#define SIM_FUNCS 12
#define SIM_PROCS 4

typedef struct sim_node {
    wire_sender_t *s;
    char name[32];
    uint32_t idx[SIM_FUNCS];      /* sender dictionary index per function */
    uint32_t nfuncs;              /* functions named so far */
    int nprocs;
    pf_meta_t m[SIM_PROCS];
    pf_counts_t rows[SIM_PROCS][SIM_FUNCS];  /* what the current agent counts */
    pf_counts_t truth[SIM_PROCS][SIM_FUNCS]; /* everything ever done */
    int alive[SIM_PROCS];         /* reported */
    profile_t *group;             /* if set: the node's group (edges, paths) of m[0].job */
} sim_node_t;

static const char *sim_func_name(uint32_t f)
{
    static char buf[SIM_FUNCS][16];
    snprintf(buf[f], sizeof(buf[f]), "f%u", f);
    return buf[f];
}

/* The label of app.py:LINE(NAME); `name` must outlive it. */
static pf_func_t sim_func(const char *name, uint32_t line)
{
    pf_func_t pf;
    memset(&pf, 0, sizeof(pf));
    pf.file.s = "app.py";
    pf.file.len = 6;
    pf.name.s = name;
    pf.name.len = (uint32_t)strlen(name);
    pf.qualname = pf.name;
    pf.line = line;
    return pf;
}

/* The node's group (made here) with one call path, root -> app.py:LINE(NAME). */
static uint32_t sim_group_path(sim_node_t *n, const char *name, uint32_t line)
{
    n->group = profile_new();
    pf_func_t pf = sim_func(name, line);
    return profile_add_path(n->group, 0, profile_add_func_like(n->group, &pf));
}

static void sim_name(sim_node_t *n, uint32_t f)
{
    while (n->nfuncs <= f) {
        uint32_t k = n->nfuncs++;
        pf_func_t pf = sim_func(sim_func_name(k), 10 + k);
        pf.kind = k == SIM_FUNCS - 1 ? PF_KIND_MPI : PF_KIND_PYTHON;
        n->idx[k] = wire_sender_name(n->s, &pf);
    }
}

static void sim_init(sim_node_t *n, const char *name, uint64_t session, int nprocs,
                     const char *job, int rank0)
{
    memset(n, 0, sizeof(*n));
    snprintf(n->name, sizeof(n->name), "%s", name);
    wire_node_info_t ni = {name, name, "test", "/dev/shm", 2, 1000, 1};
    n->s = wire_sender_new(&ni, session, 1000000000ull);
    n->nprocs = nprocs;
    for (int p = 0; p < nprocs; p++) {
        pf_meta_t *m = &n->m[p];
        memset(m, 0, sizeof(*m));
        m->pid = 1000 + p;
        m->start_time = 5000 + (uint64_t)p;
        m->rank = rank0 + p;
        m->size = 8;
        snprintf(m->job, sizeof(m->job), "%s", job);
        snprintf(m->exe, sizeof(m->exe), "python3");
        m->state = PF_STATE_LIVE;
        m->active_mode = 1;
        n->alive[p] = 1;
    }
}

/* A new agent (new session) on the same node: same processes. */
static void sim_restart(sim_node_t *n, uint64_t session)
{
    wire_sender_destroy(&n->s);
    struct timespec ts; /* the new agent starts now: after the old one's last report */
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t start = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    wire_node_info_t ni = {n->name, n->name, "test", "/dev/shm", 2, 1001, start};
    n->s = wire_sender_new(&ni, session, 1000000000ull);
    n->nfuncs = 0;
    memset(n->rows, 0, sizeof(n->rows)); /* the new agent counts from here */
}

/* Calls of f by process p: deterministic, different per process. */
static void sim_work(sim_node_t *n, int p, uint32_t f, uint64_t calls, int64_t ns)
{
    sim_name(n, f);
    pf_counts_t *c = &n->rows[p][f];
    c->ncalls += calls;
    c->pcalls += calls - calls / 4;
    c->tottime_ns += ns;
    c->cumtime_ns += ns + ns / 3;
    pf_counts_t *t = &n->truth[p][f];
    t->ncalls += calls;
    t->pcalls += calls - calls / 4;
    t->tottime_ns += ns;
    t->cumtime_ns += ns + ns / 3;
}

/* The next report as the collector receives it (caller frees it with
 * protobuf_c_message_free_unpacked); `sent`: the sender counts it sent. */
static Ulma__Wire__AgentMsg *sim_report(sim_node_t *n, int snapshot, int full, int sent)
{
    wire_sender_begin(n->s, snapshot, full);
    for (int p = 0; p < n->nprocs; p++) {
        if (!n->alive[p])
            continue;
        uint32_t idx[SIM_FUNCS];
        pf_counts_t c[SIM_FUNCS];
        uint32_t k = 0;
        for (uint32_t f = 0; f < n->nfuncs; f++) {
            idx[k] = n->idx[f];
            c[k++] = n->rows[p][f];
        }
        wire_sender_process_rows(n->s, &n->m[p], NULL, k, idx, c, NULL);
    }
    if (n->group)
        wire_sender_group(n->s, n->m[0].job, n->group);
    sbuf_t b = {0};
    wire_sender_end(n->s, NULL, &b);
    if (sent)
        wire_sender_sent(n->s);
    else
        wire_sender_unsent(n->s);
    wire_refusal_t why;
    Ulma__Wire__AgentMsg *m = wire_agent_msg(b.data, b.len, &why);
    CHECK(m != NULL);
    sbuf_free(&b);
    return m;
}

static void msg_free(Ulma__Wire__AgentMsg *m) { protobuf_c_message_free_unpacked(&m->base, NULL); }

#endif
