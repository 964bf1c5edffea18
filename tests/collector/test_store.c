/* test_store.c - the collector's store driven with reports made by the
 * real sender: deltas, snapshots, gaps, duplicates, reordering, collector
 * and agent restarts, exact merged totals, imbalance figures, hostile
 * messages, expiry. */
#include <math.h>

#include "query.h"
#include "profile/table.h"
#include "profile_rows.h"
#include "sim.h"
#include "watch.h"

#define SEC 1000000000ull

#define CHECK_STR(a, b)                                                                     \
    do {                                                                                    \
        const char *a_ = (a), *b_ = (b);                                                    \
        if (strcmp(a_, b_) != 0) {                                                          \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
                    a_, b_);                                                                \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

/* A store of 1 s intervals; snapshot_every as --snapshot-every (0: off). */
static store_t *new_store_every(uint32_t snapshot_every)
{
    store_config_t c;
    memset(&c, 0, sizeof(c));
    c.interval_ns = SEC;
    c.gone_ns = 30 * SEC;
    c.keep_ns = 60 * SEC;
    c.history = 100;
    c.rate_points = 11;
    c.snapshot_every = snapshot_every;
    store_limits_default(&c.lim);
    return store_new(&c);
}

static store_t *new_store(void) { return new_store_every(0); }

static uint64_t clock_ns = 1000 * SEC;

/* Deliver: returns store_report's result; *ask set from the action. */
static int deliver(store_t *s, Ulma__Wire__AgentMsg *m, store_action_t *act)
{
    store_action_t a;
    int rc = store_report(s, m->report, clock_ns, "peer", 4, act ? act : &a);
    msg_free(m);
    return rc;
}

/* The cluster's (or a job's) rows equal the truth summed over the sims,
 * to the nanosecond. */
static void check_totals(store_t *s, sim_node_t **sims, int nsims, const char *job)
{
    view_scope_t v = {.level = ULMA__WIRE__SCOPE__LEVEL__CLUSTER};
    if (job) {
        v.level = ULMA__WIRE__SCOPE__LEVEL__JOB;
        v.job = store_job_find(s, job);
        CHECK(v.job != NULL);
    }
    profile_t *p = view_profile(s, &v, 0, 0, NULL);
    for (uint32_t f = 0; f < SIM_FUNCS; f++) {
        pf_counts_t want = {0};
        for (int k = 0; k < nsims; k++)
            for (int q = 0; q < sims[k]->nprocs; q++) {
                if (job && strcmp(sims[k]->m[q].job, job) != 0)
                    continue;
                const pf_counts_t *t = &sims[k]->truth[q][f];
                want.ncalls += t->ncalls;
                want.pcalls += t->pcalls;
                want.tottime_ns += t->tottime_ns;
                want.cumtime_ns += t->cumtime_ns;
            }
        pf_counts_t got = {0};
        for (uint32_t i = 0; i < profile_nfuncs(p); i++) {
            const pf_func_t *x = profile_func(p, i);
            if (x->name.len == strlen(sim_func_name(f)) &&
                memcmp(x->name.s, sim_func_name(f), x->name.len) == 0)
                got = x->c;
        }
        CHECK_EQ_U(got.ncalls, want.ncalls);
        CHECK_EQ_U(got.pcalls, want.pcalls);
        CHECK_EQ_I(got.tottime_ns, want.tottime_ns);
        CHECK_EQ_I(got.cumtime_ns, want.cumtime_ns);
    }
    profile_destroy(&p);
}

static void work_round(sim_node_t *n, int round)
{
    for (int p = 0; p < n->nprocs; p++)
        for (uint32_t f = 0; n->alive[p] && f < (uint32_t)(3 + round % 5) && f < SIM_FUNCS; f++)
            if ((f + (uint32_t)p + (uint32_t)round) % 3)
                sim_work(n, p, f, 1 + f + (uint64_t)p, 1000 * (int64_t)(f + 1) + p * 7 + round);
}

static void test_deltas_exact(void)
{
    store_t *s = new_store();
    sim_node_t a, b;
    sim_init(&a, "n1", 11, 3, "job1", 0);
    sim_init(&b, "n2", 12, 3, "job1", 3);
    sim_node_t *all[] = {&a, &b};
    for (int r = 0; r < 8; r++) {
        work_round(&a, r);
        work_round(&b, r + 1);
        CHECK_EQ_I(deliver(s, sim_report(&a, r == 0, 0, 1), NULL), 0);
        CHECK_EQ_I(deliver(s, sim_report(&b, 0, 0, 1), NULL), 0);
        check_totals(s, all, 2, NULL);
        check_totals(s, all, 2, "job1");
    }
    CHECK_EQ_U(store_stats(s)->deltas, 15);
    CHECK_EQ_U(store_stats(s)->snapshots, 1);
    /* snapshots in a row replace: nothing counted twice */
    for (int r = 0; r < 3; r++) {
        work_round(&a, r);
        CHECK_EQ_I(deliver(s, sim_report(&a, 1, 0, 1), NULL), 0);
        CHECK_EQ_I(deliver(s, sim_report(&a, 1, r == 1, 1), NULL), 0);
        check_totals(s, all, 2, NULL);
    }
    wire_sender_destroy(&a.s);
    wire_sender_destroy(&b.s);
    store_destroy(&s);
}

static void test_duplicates_and_gaps(void)
{
    store_t *s = new_store();
    sim_node_t a;
    sim_init(&a, "n1", 21, 2, "j", 0);
    sim_node_t *all[] = {&a};
    work_round(&a, 0);
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 0, 1), NULL), 0);
    /* a duplicate: the same report twice */
    work_round(&a, 1);
    Ulma__Wire__AgentMsg *m = sim_report(&a, 0, 0, 1);
    sbuf_t copy = {0};
    wire_pack(&m->base, &copy);
    CHECK_EQ_I(deliver(s, m, NULL), 0);
    wire_refusal_t why;
    CHECK_EQ_I(deliver(s, wire_agent_msg(copy.data, copy.len, &why), NULL), 1);
    sbuf_free(&copy);
    CHECK_EQ_U(store_stats(s)->duplicates, 1);
    check_totals(s, all, 1, NULL);
    /* a lost report with no new names: a gap asks a snapshot, no dictionary */
    sim_work(&a, 0, 1, 5, 500);
    msg_free(sim_report(&a, 0, 0, 1)); /* sent, never arrives */
    sim_work(&a, 1, 2, 6, 600);
    store_action_t act;
    CHECK_EQ_I(deliver(s, sim_report(&a, 0, 0, 1), &act), 1);
    CHECK(act.ask_snapshot && act.session == 21 && !act.full_dictionary);
    CHECK_EQ_U(store_stats(s)->gaps, 1);
    /* deltas are ignored until the snapshot */
    sim_work(&a, 0, 0, 1, 50);
    CHECK_EQ_I(deliver(s, sim_report(&a, 0, 0, 1), NULL), 1);
    CHECK_EQ_U(store_stats(s)->ignored_waiting, 1);
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 0, 1), NULL), 0);
    check_totals(s, all, 1, NULL);
    /* a lost report that carried new names: the dictionary is asked for */
    sim_work(&a, 0, 9, 3, 333);
    msg_free(sim_report(&a, 0, 0, 1));
    sim_work(&a, 1, 10, 2, 222);
    CHECK_EQ_I(deliver(s, sim_report(&a, 0, 0, 1), &act), 1);
    CHECK(act.ask_snapshot && act.full_dictionary);
    /* a snapshot without the dictionary does not match: asked again */
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 0, 1), &act), 1);
    CHECK(act.ask_snapshot && act.full_dictionary);
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 1, 1), NULL), 0);
    check_totals(s, all, 1, NULL);
    /* reordering: k+1 before k */
    work_round(&a, 5);
    Ulma__Wire__AgentMsg *k1 = sim_report(&a, 0, 0, 1);
    work_round(&a, 6);
    Ulma__Wire__AgentMsg *k2 = sim_report(&a, 0, 0, 1);
    CHECK_EQ_I(deliver(s, k2, &act), 1);
    CHECK(act.ask_snapshot);
    CHECK_EQ_I(deliver(s, k1, NULL), 1); /* in order now, but a snapshot is awaited */
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 0, 1), NULL), 0);
    check_totals(s, all, 1, NULL);
    wire_sender_destroy(&a.s);
    store_destroy(&s);
}

static void test_collector_restart(void)
{
    store_t *s = new_store();
    sim_node_t a;
    sim_init(&a, "n1", 31, 2, "j", 0);
    sim_node_t *all[] = {&a};
    for (int r = 0; r < 3; r++) {
        work_round(&a, r);
        deliver(s, sim_report(&a, r == 0, 0, 1), NULL);
    }
    store_destroy(&s);
    s = new_store(); /* a new collector: the next delta has an unknown session */
    work_round(&a, 3);
    store_action_t act;
    CHECK_EQ_I(deliver(s, sim_report(&a, 0, 0, 1), &act), 1);
    CHECK(act.ask_snapshot && act.full_dictionary && act.session == 31);
    CHECK_EQ_U(store_stats(s)->unknown_sessions, 1);
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 1, 1), NULL), 0);
    check_totals(s, all, 1, NULL);
    work_round(&a, 4);
    CHECK_EQ_I(deliver(s, sim_report(&a, 0, 0, 1), NULL), 0);
    check_totals(s, all, 1, NULL);
    wire_sender_destroy(&a.s);
    store_destroy(&s);
}

static void test_agent_restart(void)
{
    store_t *s = new_store();
    sim_node_t a, b;
    sim_init(&a, "n1", 41, 3, "j", 0);
    sim_init(&b, "n2", 42, 2, "j", 3);
    sim_node_t *all[] = {&a, &b};
    for (int r = 0; r < 3; r++) {
        work_round(&a, r);
        work_round(&b, r);
        deliver(s, sim_report(&a, r == 0, 0, 1), NULL);
        deliver(s, sim_report(&b, r == 0, 0, 1), NULL);
    }
    /* n1's agent dies; a new one (new session) finds processes 0 and 1 again;
     * process 2 ended while no agent ran */
    sim_restart(&a, 43);
    a.alive[2] = 0;
    work_round(&a, 7);
    CHECK_EQ_I(deliver(s, sim_report(&a, 0, 0, 1), NULL), 0); /* its first report: seq 1 */
    CHECK_EQ_U(store_stats(s)->restarts, 1);
    check_totals(s, all, 2, NULL);
    work_round(&a, 8);
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 0, 1), NULL), 0);
    check_totals(s, all, 2, NULL);
    node_t *n = store_node_find(s, "n1");
    CHECK(n && n->nprocs == 3);
    proc_t *gone = store_proc_find(s, n, a.m[2].pid, a.m[2].start_time);
    CHECK(gone && gone->exited && !store_proc_live(gone));
    proc_t *p0 = store_proc_find(s, n, a.m[0].pid, a.m[0].start_time);
    CHECK(p0 && store_proc_live(p0) && p0->nbase > 0);
    /* Report.gone_*: final numbers kept */
    wire_sender_begin(b.s, 0, 0);
    wire_sender_gone(b.s, b.m[1].pid, b.m[1].start_time);
    sbuf_t buf = {0};
    wire_sender_end(b.s, NULL, &buf);
    wire_sender_sent(b.s);
    wire_refusal_t why;
    CHECK_EQ_I(deliver(s, wire_agent_msg(buf.data, buf.len, &why), NULL), 0);
    sbuf_free(&buf);
    b.alive[1] = 0;
    check_totals(s, all, 2, NULL);
    proc_t *g = store_proc_find(s, store_node_find(s, "n2"), b.m[1].pid, b.m[1].start_time);
    CHECK(g && g->exited);
    /* expiry after --keep: the numbers leave the views */
    clock_ns += 61 * SEC;
    store_tick(s, clock_ns, 1);
    clock_ns += SEC;
    store_tick(s, clock_ns, 2);
    CHECK(store_proc_find(s, store_node_find(s, "n2"), b.m[1].pid, b.m[1].start_time) == NULL);
    CHECK(store_stats(s)->procs_expired >= 2);
    memset(b.truth[1], 0, sizeof(b.truth[1]));
    memset(a.truth[2], 0, sizeof(a.truth[2]));
    /* the nodes are silent now (gone after 30 s), so keep them fresh */
    check_totals(s, all, 2, NULL);
    wire_sender_destroy(&a.s);
    wire_sender_destroy(&b.s);
    store_destroy(&s);
}

/* A second agent reporting as a node whose agent is up (started before
 * that agent's last report) is refused and counted, never merged: the
 * node's totals stay the first agent's. Once that agent is silent, a new
 * agent under the name is a restart as usual. */
/* --snapshot-every K: a session that sent no snapshot for K + 1 intervals
 * is asked for one (a delta-only dictionary, not a full one); a snapshot
 * starts the count again. */
static void test_snapshot_every(void)
{
    store_t *s = new_store_every(3);
    sim_node_t a;
    sim_init(&a, "n1", 61, 2, "j", 0);
    store_action_t act;
    int asked_at = -1;
    for (int r = 0; r < 8 && asked_at < 0; r++) {
        work_round(&a, r);
        CHECK_EQ_I(deliver(s, sim_report(&a, r == 0, 0, 1), &act), 0);
        if (act.ask_snapshot)
            asked_at = r;
        clock_ns += SEC;
    }
    CHECK_EQ_I(asked_at, 5); /* the snapshot at 0 s, deltas to 5 s: more than 4 intervals */
    CHECK(!act.full_dictionary);
    work_round(&a, 9);
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 0, 1), &act), 0); /* the snapshot asked for */
    clock_ns += SEC;
    work_round(&a, 10);
    CHECK_EQ_I(deliver(s, sim_report(&a, 0, 0, 1), &act), 0);
    CHECK(!act.ask_snapshot);
    sim_node_t *all[] = {&a};
    check_totals(s, all, 1, NULL);
    wire_sender_destroy(&a.s);
    store_destroy(&s);
}

static void test_twin_agent(void)
{
    store_t *s = new_store();
    sim_node_t a, twin;
    sim_init(&a, "n1", 51, 2, "j", 0);
    sim_init(&twin, "n1", 52, 2, "j", 0); /* agent_start_ns 1: long before */
    sim_node_t *all[] = {&a};
    for (int r = 0; r < 3; r++) {
        work_round(&a, r);
        work_round(&twin, r + 10);
        CHECK_EQ_I(deliver(s, sim_report(&a, r == 0, 0, 1), NULL), 0);
        CHECK_EQ_I(deliver(s, sim_report(&twin, r == 0, 0, 1), NULL), -1);
        clock_ns += SEC;
    }
    CHECK_EQ_U(store_stats(s)->bad[BAD_TWIN], 3);
    CHECK_EQ_U(store_stats(s)->restarts, 0);
    check_totals(s, all, 1, NULL);
    node_t *n = store_node_find(s, "n1");
    CHECK(n && n->refused >= 3);
    /* the first agent falls silent: the other one now takes the name over */
    clock_ns += 5 * SEC;
    store_tick(s, clock_ns, 1);
    sim_restart(&twin, 53);
    work_round(&twin, 20);
    CHECK_EQ_I(deliver(s, sim_report(&twin, 1, 0, 1), NULL), 0);
    CHECK_EQ_U(store_stats(s)->restarts, 1);
    wire_sender_destroy(&a.s);
    wire_sender_destroy(&twin.s);
    store_destroy(&s);
}

static void test_imbalance(void)
{
    store_t *s = new_store();
    sim_node_t a, b;
    sim_init(&a, "n1", 51, 3, "jobX", 0);
    sim_init(&b, "n2", 52, 2, "jobX", 3);
    for (int r = 0; r < 4; r++) {
        work_round(&a, r);
        work_round(&b, r + 2);
        deliver(s, sim_report(&a, r == 0, 0, 1), NULL);
        deliver(s, sim_report(&b, r == 0, 0, 1), NULL);
    }
    query_env_t env = {s, 0, 1.0};
    Ulma__Wire__Query q = ULMA__WIRE__QUERY__INIT;
    Ulma__Wire__Scope sc = ULMA__WIRE__SCOPE__INIT;
    sc.level = ULMA__WIRE__SCOPE__LEVEL__JOB;
    sc.job = "jobX";
    q.scope = &sc;
    q.kind = ULMA__WIRE__KIND__IMBALANCE;
    q.limit = 20;
    wire_answer_t w;
    wire_answer_init(&w, 7);
    query_route_t route;
    CHECK(query_run(&env, &q, &w, &route) == QUERY_ANSWERED);
    CHECK(w.r.ok && w.r.imbalance);
    const Ulma__Wire__Imbalance *im = w.r.imbalance;
    CHECK_EQ_U(im->n_ranks, 5);
    CHECK(im->n_rows > 3);
    sim_node_t *nodes[] = {&a, &b};
    for (size_t r = 0; r < im->n_rows; r++) {
        const Ulma__Wire__Row *row = im->rows[r];
        uint32_t f = (uint32_t)atoi(row->name + 1);
        int64_t v[5], mn = INT64_MAX, mx = INT64_MIN;
        double sum = 0, sq = 0;
        int k = 0, slow = -1;
        for (int n = 0; n < 2; n++)
            for (int p = 0; p < nodes[n]->nprocs; p++) {
                v[k] = nodes[n]->truth[p][f].cumtime_ns;
                if (v[k] < mn)
                    mn = v[k];
                if (v[k] > mx)
                    mx = v[k], slow = nodes[n]->m[p].rank;
                sum += (double)v[k];
                k++;
            }
        double mean = sum / k;
        for (int i = 0; i < k; i++)
            sq += ((double)v[i] - mean) * ((double)v[i] - mean);
        CHECK_EQ_U(row->nranks, 5);
        CHECK_EQ_I(row->min_ns, mn);
        CHECK_EQ_I(row->max_ns, mx);
        CHECK(fabs(row->mean_ns - mean) < 1e-6);
        CHECK(fabs(row->std_ns - sqrt(sq / k)) < 1e-6);
        CHECK_EQ_I(row->slowest_rank, slow);
        /* the cells: rows x ranks (ranks in rank order) */
        for (size_t c = 0; c < im->n_ranks; c++)
            CHECK_EQ_I(im->cells[r * im->n_ranks + c], v[im->ranks[c]->rank]);
    }
    wire_answer_free(&w);
    wire_sender_destroy(&a.s);
    wire_sender_destroy(&b.s);
    store_destroy(&s);
}

/* A mutation of a valid report must be refused, counted under `why`, and
 * leave the store as it was. */
typedef void (*mutate_fn)(Ulma__Wire__Report *r);

static void m_index(Ulma__Wire__Report *r) { r->procs[0]->fn_index[0] = 1000000; }
static void m_order(Ulma__Wire__Report *r) { r->procs[0]->fn_index[1] = 0; }
static void m_negative(Ulma__Wire__Report *r) { r->procs[0]->fn_ncalls[0] = -1000000; }
static void m_pcalls(Ulma__Wire__Report *r) { r->procs[0]->fn_rcalls[0] = 1000000; }
static void m_columns(Ulma__Wire__Report *r) { r->procs[0]->n_fn_tottime--; }
static void m_dup(Ulma__Wire__Report *r) { r->procs[1]->pid = r->procs[0]->pid, r->procs[1]->start_time = r->procs[0]->start_time; }
static void m_string(Ulma__Wire__Report *r)
{
    static char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    r->procs[0]->exe = big;
}
static void m_overflow(Ulma__Wire__Report *r) { r->procs[0]->fn_tottime[0] = INT64_MAX; }
static void m_node(Ulma__Wire__Report *r) { r->node->name = ""; }

static void test_hostile(void)
{
    store_t *s = new_store();
    sim_node_t a;
    sim_init(&a, "n1", 61, 2, "j", 0);
    sim_node_t *all[] = {&a};
    work_round(&a, 1);
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 0, 1), NULL), 0);
    pf_counts_t saved[SIM_PROCS][SIM_FUNCS];
    memcpy(saved, a.truth, sizeof(saved));
    struct {
        mutate_fn f;
        store_bad_t why;
    } cases[] = {{m_index, BAD_INDEX},   {m_order, BAD_ORDER},     {m_negative, BAD_NEGATIVE},
                 {m_pcalls, BAD_PCALLS}, {m_columns, BAD_COLUMNS}, {m_dup, BAD_DUPLICATE},
                 {m_string, BAD_STRING}, {m_overflow, BAD_NEGATIVE}, {m_node, BAD_NODE}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int p = 0; p < a.nprocs; p++)
            for (uint32_t f = 0; f < 4; f++)
                sim_work(&a, p, f, 1, 10);
        Ulma__Wire__AgentMsg *m = sim_report(&a, 0, 0, 0); /* not counted as sent */
        CHECK(m->report->n_procs >= 2 && m->report->procs[0]->n_fn_index >= 2);
        uint64_t before = store_stats(s)->bad[cases[i].why];
        int64_t keep_t = m->report->procs[0]->fn_tottime[0];
        char *exe = m->report->procs[0]->exe, *name = m->report->node->name;
        cases[i].f(m->report);
        store_action_t act;
        CHECK_EQ_I(store_report(s, m->report, clock_ns, "p", 1, &act), -1);
        CHECK_EQ_U(store_stats(s)->bad[cases[i].why], before + 1);
        (void)keep_t;
        m->report->procs[0]->exe = exe; /* the unpacked strings, to be freed */
        m->report->node->name = name;
        msg_free(m);
        /* nothing of it was applied: the store holds what it held before */
        pf_counts_t now[SIM_PROCS][SIM_FUNCS];
        memcpy(now, a.truth, sizeof(now));
        memcpy(a.truth, saved, sizeof(saved));
        check_totals(s, all, 1, NULL);
        memcpy(a.truth, now, sizeof(now));
    }
    /* the next valid report is whole again */
    CHECK_EQ_I(deliver(s, sim_report(&a, 0, 0, 1), NULL), 0);
    check_totals(s, all, 1, NULL);
    /* refusals by wire_unpack: version, size, garbage */
    Ulma__Wire__AgentMsg *m = sim_report(&a, 0, 0, 0);
    m->version = 99;
    sbuf_t b = {0};
    wire_pack(&m->base, &b);
    wire_refusal_t why;
    CHECK(wire_agent_msg(b.data, b.len, &why) == NULL && why == WIRE_BAD_VERSION);
    CHECK(wire_agent_msg(b.data, (size_t)WIRE_MAX_MSG + 1, &why) == NULL && why == WIRE_TOO_BIG);
    b.data[0] = (char)0xff;
    b.data[1] = (char)0xff;
    CHECK(wire_agent_msg(b.data, b.len, &why) == NULL && why == WIRE_MALFORMED);
    sbuf_free(&b);
    msg_free(m);
    wire_sender_destroy(&a.s);
    store_destroy(&s);
}

/* The count, tottime and cumtime of the cluster's call path whose function
 * is named `fn` (a root path), or all -1 if it has none. */
static void cluster_path(store_t *s, const char *fn, pathv_t *out)
{
    view_scope_t cl = {.level = ULMA__WIRE__SCOPE__LEVEL__CLUSTER};
    profile_t *p = view_profile(s, &cl, VIEW_EDGES, 0, NULL);
    out->count = (uint64_t)-1;
    out->tottime_ns = out->cumtime_ns = -1;
    for (uint32_t i = 1; i < profile_npaths(p); i++) {
        const pf_path_t *x = profile_path(p, i);
        const pf_func_t *f = profile_func(p, x->func);
        if (f->name.len == strlen(fn) && memcmp(f->name.s, fn, f->name.len) == 0) {
            out->count = x->count;
            out->tottime_ns = x->tottime_ns;
            out->cumtime_ns = x->cumtime_ns;
        }
    }
    profile_destroy(&p);
}

/* A snapshot replaces the rows it is about: a row the agent now has at
 * zero (left out of the snapshot) is zero at the collector too, for a
 * process's functions as for a group's call paths; rows that did not
 * change do not move; nothing is counted twice. */
static void test_snapshot_replaces(void)
{
    store_t *s = new_store();
    sim_node_t a;
    sim_init(&a, "n1", 81, 2, "j", 0);
    sim_node_t *all[] = {&a};
    uint32_t path = sim_group_path(&a, "f1", 11);
    pf_path_t *pp = profile_path_w(a.group, path);
    pp->count = 5;
    pp->tottime_ns = 500;
    pp->cumtime_ns = 700;
    work_round(&a, 2);
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 0, 1), NULL), 0);
    work_round(&a, 3);
    CHECK_EQ_I(deliver(s, sim_report(&a, 0, 0, 1), NULL), 0);
    check_totals(s, all, 1, NULL);
    pathv_t v;
    cluster_path(s, "f1", &v);
    CHECK(v.count == 5 && v.tottime_ns == 500 && v.cumtime_ns == 700);
    /* the agent forgot f2 of process 0 (a row back at zero) and the path */
    CHECK(a.rows[0][2].ncalls > 0);
    memset(&a.rows[0][2], 0, sizeof(a.rows[0][2]));
    memset(&a.truth[0][2], 0, sizeof(a.truth[0][2]));
    pp = profile_path_w(a.group, path);
    pp->count = 0;
    pp->tottime_ns = pp->cumtime_ns = 0;
    sim_work(&a, 1, 4, 3, 90); /* and some work elsewhere */
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 0, 1), NULL), 0);
    check_totals(s, all, 1, NULL);
    check_totals(s, all, 1, "j");
    cluster_path(s, "f1", &v);
    CHECK(v.count == (uint64_t)-1 || (v.count == 0 && v.tottime_ns == 0 && v.cumtime_ns == 0));
    /* the same snapshot again: nothing moves */
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 0, 1), NULL), 0);
    check_totals(s, all, 1, NULL);
    /* and with the whole dictionary again (indices may change meaning) */
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 1, 1), NULL), 0);
    check_totals(s, all, 1, NULL);
    check_totals(s, all, 1, "j");
    profile_destroy(&a.group);
    wire_sender_destroy(&a.s);
    store_destroy(&s);
}

/* The NODES answer's state of one node ("" if absent). */
static const char *node_state(store_t *s, const char *name, char *buf, size_t n)
{
    query_env_t env = {s, 0, 1.0};
    Ulma__Wire__Query q = ULMA__WIRE__QUERY__INIT;
    q.kind = ULMA__WIRE__KIND__NODES;
    q.limit = 1000;
    wire_answer_t w;
    wire_answer_init(&w, 1);
    query_route_t route;
    CHECK(query_run(&env, &q, &w, &route) == QUERY_ANSWERED && w.r.ok);
    buf[0] = '\0';
    for (size_t i = 0; i < w.r.n_nodes; i++)
        if (strcmp(w.r.nodes[i]->name, name) == 0)
            snprintf(buf, n, "%s", w.r.nodes[i]->state);
    wire_answer_free(&w);
    return buf;
}

/* Times a little below zero (the cycle counters of two cores not quite in
 * step) are applied and counted, never a reason to refuse the report; a
 * node whose reports are refused shows it, with the reason, until one is
 * applied again; a node first heard of in a refused report is shown too. */
static void test_negative_times_and_refusals(void)
{
    store_t *s = new_store();
    sim_node_t a;
    sim_init(&a, "n1", 71, 2, "j", 0);
    sim_node_t *all[] = {&a};
    /* a group whose one call path has its own time below zero */
    uint32_t path = sim_group_path(&a, "f0", 10);
    work_round(&a, 1);
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 0, 1), NULL), 0);
    node_t *n = store_node_find(s, "n1");
    CHECK(n && n->negative_times == 0);
    /* one call of f5 whose own time came out 170 ns below zero, and a path too */
    sim_work(&a, 1, 5, 1, 0);
    a.rows[1][5].tottime_ns = a.truth[1][5].tottime_ns = -170;
    a.rows[1][5].cumtime_ns = a.truth[1][5].cumtime_ns = -170;
    pf_path_t *pp = profile_path_w(a.group, path);
    pp->count = 1;
    pp->tottime_ns = -170;
    pp->cumtime_ns = 30;
    store_action_t act;
    CHECK_EQ_I(deliver(s, sim_report(&a, 0, 0, 1), &act), 0);
    CHECK(!act.ask_snapshot);
    check_totals(s, all, 1, NULL);
    CHECK_EQ_U(n->negative_times, 2); /* the row and the path */
    CHECK_EQ_U(store_stats(s)->negative_times, 2);
    CHECK_EQ_U(store_stats(s)->bad[BAD_NEGATIVE], 0);
    view_scope_t cl = {.level = ULMA__WIRE__SCOPE__LEVEL__CLUSTER};
    profile_t *p = view_profile(s, &cl, VIEW_EDGES, 0, NULL);
    int found = 0;
    for (uint32_t i = 1; i < profile_npaths(p); i++) {
        const pf_path_t *x = profile_path(p, i);
        found += x->count == 1 && x->tottime_ns == -170 && x->cumtime_ns == 30;
    }
    CHECK_EQ_I(found, 1);
    profile_destroy(&p);
    /* a snapshot carrying them again: applied (and counted again) */
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 0, 1), NULL), 0);
    check_totals(s, all, 1, NULL);
    CHECK_EQ_U(n->negative_times, 4);
    /* and the node never stopped being up */
    store_tick(s, clock_ns, 1);
    char st[64];
    CHECK_STR(node_state(s, "n1", st, sizeof(st)), "up");

    /* reports that keep being refused (primitive calls above calls): the
     * node shows "refused:pcalls", its numbers stay what they were */
    for (int k = 0; k < 3; k++) {
        clock_ns += SEC;
        for (int q = 0; q < a.nprocs; q++)
            sim_work(&a, q, 1, 2, 100);
        Ulma__Wire__AgentMsg *m = sim_report(&a, 0, 0, 0); /* never counted sent */
        m_pcalls(m->report);
        CHECK_EQ_I(store_report(s, m->report, clock_ns, "peer", 4, &act), -1);
        msg_free(m);
        store_tick(s, clock_ns, 2 + (uint64_t)k);
        CHECK_STR(node_state(s, "n1", st, sizeof(st)), "refused:pcalls");
    }
    CHECK_EQ_U(n->refused, 3);
    CHECK(n->state == NODE_REFUSED && store_proc_live(n->procs[0]));
    /* a refused node counts as stale in the summary */
    {
        query_env_t env = {s, 0, 1.0};
        Ulma__Wire__Query q = ULMA__WIRE__QUERY__INIT;
        q.kind = ULMA__WIRE__KIND__SUMMARY;
        wire_answer_t w;
        wire_answer_init(&w, 1);
        query_route_t route;
        CHECK(query_run(&env, &q, &w, &route) == QUERY_ANSWERED);
        CHECK(w.r.summary && w.r.summary->nodes_stale == 1 && w.r.summary->nodes_up == 0);
        wire_answer_free(&w);
    }
    /* the next good report (it carries the refused ones' changes) heals it */
    CHECK_EQ_I(deliver(s, sim_report(&a, 0, 0, 1), NULL), 0);
    check_totals(s, all, 1, NULL);
    store_tick(s, clock_ns, 9);
    CHECK_STR(node_state(s, "n1", st, sizeof(st)), "up");
    CHECK(!n->refused_pending);
    /* refused, then silent: stale as any silent node */
    pf_counts_t saved[SIM_PROCS][SIM_FUNCS];
    memcpy(saved, a.truth, sizeof(saved));
    sim_work(&a, 0, 1, 2, 100);
    Ulma__Wire__AgentMsg *m = sim_report(&a, 0, 0, 0);
    m_pcalls(m->report);
    CHECK_EQ_I(store_report(s, m->report, clock_ns, "peer", 4, &act), -1);
    msg_free(m);
    memcpy(a.truth, saved, sizeof(saved)); /* never applied */
    clock_ns += 4 * SEC;
    store_tick(s, clock_ns, 10);
    CHECK_STR(node_state(s, "n1", st, sizeof(st)), "stale");

    /* a node whose very first report is refused is shown, empty */
    sim_node_t b;
    sim_init(&b, "n9", 72, 1, "j", 5);
    work_round(&b, 2);
    m = sim_report(&b, 1, 1, 0);
    m->report->procs[0]->fn_index[0] = 1000000;
    CHECK_EQ_I(store_report(s, m->report, clock_ns, "pB", 2, &act), -1);
    msg_free(m);
    node_t *nb = store_node_find(s, "n9");
    CHECK(nb && nb->nprocs == 0 && nb->refused == 1);
    store_tick(s, clock_ns, 11);
    CHECK_STR(node_state(s, "n9", st, sizeof(st)), "refused:index");
    check_totals(s, all, 1, NULL);
    /* then a good one: up, with its numbers */
    CHECK_EQ_I(deliver(s, sim_report(&b, 1, 1, 1), NULL), 0);
    store_tick(s, clock_ns, 12);
    CHECK_STR(node_state(s, "n9", st, sizeof(st)), "up");
    sim_node_t *both[] = {&a, &b};
    check_totals(s, both, 2, NULL);

    /* a message from a known peer that cannot even be decoded */
    store_count_bad_peer(s, BAD_VERSION, "peer", 4, clock_ns);
    store_tick(s, clock_ns, 13);
    CHECK_STR(node_state(s, "n1", st, sizeof(st)), "refused:version");
    CHECK_EQ_U(store_stats(s)->bad[BAD_VERSION], 1);

    profile_destroy(&a.group);
    wire_sender_destroy(&a.s);
    wire_sender_destroy(&b.s);
    store_destroy(&s);
}

/* Rates at node and rank scope (watch.c): nothing known at the first
 * question, then exactly the calls and own time since the sample the
 * window reaches back to, divided by the seconds between; a node's rate
 * is its ranks' summed; at most WATCH_MAX scopes, the idle ones dropped. */
static profile_t *rated(store_t *s, const view_scope_t *v, uint32_t window, uint64_t now)
{
    uint32_t *gid;
    profile_t *p = view_profile(s, v, VIEW_RATES, window, &gid);
    watch_rates(s, v, p, gid, window, now);
    free(gid);
    return p;
}

static void test_scope_rates(void)
{
    store_t *s = new_store();
    sim_node_t a;
    sim_init(&a, "n1", 31, 2, "jr", 0);
    sim_work(&a, 0, 0, 10, 1000);
    sim_work(&a, 1, 0, 10, 1000);
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 1, 1), NULL), 0);
    node_t *n = store_node_find(s, "n1");
    CHECK(n && n->nprocs == 2);
    view_scope_t vn = {ULMA__WIRE__SCOPE__LEVEL__NODE, n, NULL, NULL};
    view_scope_t vr = {ULMA__WIRE__SCOPE__LEVEL__RANK, n, NULL, NULL};
    for (uint32_t i = 0; i < n->nprocs; i++)
        if (n->procs[i]->m.pid == 1000)
            vr.proc = n->procs[i];
    CHECK(vr.proc != NULL);
    vr.job = vr.proc->job;
    const char *f0 = sim_func_name(0);
    uint64_t t0 = 5000 * SEC;
    /* the first question: watched from now, no rate yet */
    profile_t *p = rated(s, &vn, 5, t0);
    CHECK(profile_row_named(p, f0) && profile_row_named(p, f0)->rate_calls == 0);
    profile_destroy(&p);
    p = rated(s, &vr, 5, t0);
    profile_destroy(&p);
    CHECK_EQ_U(watch_count(s), 2);
    /* 2 s later: rank 0 made 300 calls (0.6 s own), rank 1 100 (0.2 s) */
    sim_work(&a, 0, 0, 300, 600000000);
    sim_work(&a, 1, 0, 100, 200000000);
    CHECK_EQ_I(deliver(s, sim_report(&a, 0, 0, 1), NULL), 0);
    store_tick(s, clock_ns + SEC, 1);
    watch_tick(s, t0 + SEC); /* the tick samples both (the counts at +1 s) */
    watch_tick(s, t0 + SEC); /* once per tick */
    p = rated(s, &vn, 5, t0 + 2 * SEC);
    const pf_func_t *f = profile_row_named(p, f0);
    CHECK(f);
    if (f) {
        CHECK(fabs(f->rate_calls - 200.0) < 1e-9);     /* 400 calls / 2 s */
        CHECK(fabs(f->rate_tottime - 0.4) < 1e-9);     /* 0.8 s / 2 s */
    }
    profile_destroy(&p);
    p = rated(s, &vr, 5, t0 + 2 * SEC);
    f = profile_row_named(p, f0);
    CHECK(f && fabs(f->rate_calls - 150.0) < 1e-9 && fabs(f->rate_tottime - 0.3) < 1e-9);
    profile_destroy(&p);
    /* a window of 1 s reaches back to the tick's sample: nothing since */
    p = rated(s, &vn, 1, t0 + 2 * SEC);
    f = profile_row_named(p, f0);
    CHECK(f && f->rate_calls == 0 && f->rate_tottime == 0);
    profile_destroy(&p);
    /* more scopes than WATCH_MAX: the least recently asked give way */
    static sim_node_t many[WATCH_MAX + 2];
    for (int k = 0; k < WATCH_MAX + 2; k++) {
        char name[16];
        snprintf(name, sizeof(name), "m%d", k);
        sim_init(&many[k], name, 100 + (uint64_t)k, 1, "jm", k);
        sim_work(&many[k], 0, 1, 1, 1);
        CHECK_EQ_I(deliver(s, sim_report(&many[k], 1, 1, 1), NULL), 0);
        view_scope_t v = {ULMA__WIRE__SCOPE__LEVEL__NODE, store_node_find(s, name), NULL, NULL};
        p = rated(s, &v, 5, t0 + 3 * SEC + (uint64_t)k);
        profile_destroy(&p);
        CHECK(watch_count(s) <= WATCH_MAX);
    }
    CHECK_EQ_U(watch_count(s), WATCH_MAX);
    /* nobody asks for a minute: every watch goes */
    watch_tick(s, t0 + 3 * SEC + WATCH_IDLE_NS + SEC);
    CHECK_EQ_U(watch_count(s), 0);
    for (int k = 0; k < WATCH_MAX + 2; k++)
        wire_sender_destroy(&many[k].s);
    wire_sender_destroy(&a.s);
    store_destroy(&s);
}

/* A process's clock drift travels with it; a merged view gives the largest
 * in magnitude, and its table warns. */
static void test_clock_drift(void)
{
    store_t *s = new_store();
    sim_node_t a;
    sim_init(&a, "n1", 21, 3, "job1", 0);
    a.m[0].clock_drift_ppm = 40;
    a.m[1].clock_drift_ppm = -212598;
    a.m[2].clock_drift_ppm = 150000;
    work_round(&a, 1);
    CHECK_EQ_I(deliver(s, sim_report(&a, 1, 0, 1), NULL), 0);
    view_scope_t v = {.level = ULMA__WIRE__SCOPE__LEVEL__CLUSTER};
    profile_t *p = view_profile(s, &v, 0, 0, NULL);
    CHECK_EQ_I(profile_meta(p)->clock_drift_ppm, -212598);
    sbuf_t out;
    sbuf_init(&out);
    profile_table(p, NULL, &out);
    sbuf_addc(&out, '\0');
    CHECK(strstr(out.data, "Clock: the cycle counter ran 21.3% slower") != NULL);
    sbuf_free(&out);
    profile_destroy(&p);
    wire_sender_destroy(&a.s);
    store_destroy(&s);
}

int main(void)
{
    RUN(test_deltas_exact);
    RUN(test_duplicates_and_gaps);
    RUN(test_collector_restart);
    RUN(test_agent_restart);
    RUN(test_twin_agent);
    RUN(test_snapshot_every);
    RUN(test_imbalance);
    RUN(test_hostile);
    RUN(test_negative_times_and_refusals);
    RUN(test_snapshot_replaces);
    RUN(test_scope_rates);
    RUN(test_clock_drift);
    fprintf(stderr, "test_collector_store: all passed\n");
    return 0;
}
