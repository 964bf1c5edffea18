/* test_uplink.c - the node agent's reports to a collector (report.proto),
 * seen from the collector's side of a real socket: the first report of a
 * session is a snapshot with the whole dictionary; deltas follow in
 * sequence and rebuild exactly the agent's own numbers; snapshots come
 * every --snapshot-every reports and when asked; a control request is
 * applied and acknowledged; a forwarded query is answered; processes the
 * agent forgets are reported gone; an agent that cannot send (no
 * collector yet) folds its reports into the next one. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <zmq.h>

#include "synth.h"
#include "wire/wire.h"

static char dir[256];
static void *zctx, *router;
static char ident[256];
static size_t ident_len;

/* What a collector would hold for the one session: names and rows. */
#define MAXN 64
typedef struct mproc {
    int32_t pid;
    uint64_t start_time;
    int64_t v[MAXN][4]; /* ncalls, rcalls, tottime, subtime */
    int seen;
} mproc_t;

static struct {
    uint64_t session, seq;
    char names[MAXN][64];
    uint32_t nnames;
    uint32_t nedges, npaths;
    mproc_t procs[8];
    uint32_t nprocs;
    int32_t gone[8];
    uint32_t ngone;
    uint64_t snapshots, deltas;
    uint64_t last_snap_seq, max_snap_gap, snap_gaps; /* periodic snapshots' spacing */
    int64_t group_path_count;
} model;

static mproc_t *mproc(int32_t pid, uint64_t st)
{
    for (uint32_t i = 0; i < model.nprocs; i++)
        if (model.procs[i].pid == pid && model.procs[i].start_time == st)
            return &model.procs[i];
    CHECK(model.nprocs < 8);
    mproc_t *p = &model.procs[model.nprocs++];
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    p->start_time = st;
    return p;
}

static void apply(const Ulma__Wire__Report *r)
{
    if (r->snapshot) {
        if (model.snapshots && r->session == model.session) {
            uint64_t gap = r->seq - model.last_snap_seq;
            model.max_snap_gap = gap > model.max_snap_gap ? gap : model.max_snap_gap;
            model.snap_gaps++;
        }
        model.last_snap_seq = r->seq;
        model.snapshots++;
        if (r->name_base == 0)
            model.nnames = 0;
    } else {
        model.deltas++;
        CHECK(r->session == model.session);
        CHECK_EQ_U(r->seq, model.seq + 1);
    }
    model.session = r->session;
    model.seq = r->seq;
    CHECK_EQ_U(r->name_base, model.nnames);
    for (size_t i = 0; i < r->n_names; i++) {
        CHECK(model.nnames < MAXN);
        snprintf(model.names[model.nnames++], 64, "%s:%u(%s)", r->names[i]->file,
                 r->names[i]->line, r->names[i]->name);
    }
    if (r->edge_base == 0)
        model.nedges = 0;
    CHECK_EQ_U(r->edge_base, model.nedges);
    model.nedges += (uint32_t)r->n_edge_names;
    if (r->path_base == 0)
        model.npaths = 0;
    CHECK_EQ_U(r->path_base, model.npaths);
    model.npaths += (uint32_t)r->n_path_names;
    for (size_t k = 0; k < r->n_procs; k++) {
        const Ulma__Wire__Process *pr = r->procs[k];
        mproc_t *p = mproc(pr->pid, pr->start_time);
        p->seen = 1;
        if (r->snapshot)
            memset(p->v, 0, sizeof(p->v));
        CHECK(pr->n_fn_index == pr->n_fn_ncalls && pr->n_fn_index == pr->n_fn_tottime);
        uint32_t idx = 0;
        for (size_t i = 0; i < pr->n_fn_index; i++) {
            idx = i ? idx + pr->fn_index[i] : pr->fn_index[i];
            CHECK(idx < model.nnames);
            p->v[idx][0] += pr->fn_ncalls[i];
            p->v[idx][1] += pr->fn_rcalls[i];
            p->v[idx][2] += pr->fn_tottime[i];
            p->v[idx][3] += pr->fn_subtime[i];
        }
    }
    for (size_t g = 0; g < r->n_groups; g++) {
        const Ulma__Wire__Group *gr = r->groups[g];
        CHECK(strcmp(gr->job, "job42") == 0);
        if (r->snapshot)
            model.group_path_count = 0;
        for (size_t i = 0; i < gr->n_path_count; i++)
            model.group_path_count += gr->path_count[i];
    }
    for (size_t i = 0; i < r->n_gone_pid; i++)
        if (model.ngone < 8)
            model.gone[model.ngone++] = r->gone_pid[i];
}

/* Receive one AgentMsg (blocking up to 5 s). Caller frees. */
static Ulma__Wire__AgentMsg *recv_msg(void)
{
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    CHECK(zmq_msg_recv(&id, router, 0) >= 0);
    CHECK(zmq_msg_more(&id));
    CHECK(zmq_msg_recv(&body, router, 0) >= 0);
    ident_len = zmq_msg_size(&id) < sizeof(ident) ? zmq_msg_size(&id) : sizeof(ident);
    memcpy(ident, zmq_msg_data(&id), ident_len);
    wire_refusal_t why;
    Ulma__Wire__AgentMsg *m = wire_agent_msg(zmq_msg_data(&body), zmq_msg_size(&body), &why);
    CHECK(m);
    zmq_msg_close(&id);
    zmq_msg_close(&body);
    return m;
}

/* The next report (other messages are returned through *other). */
static Ulma__Wire__AgentMsg *next_of(int body_case)
{
    for (int i = 0; i < 200; i++) {
        Ulma__Wire__AgentMsg *m = recv_msg();
        if ((int)m->body_case == body_case)
            return m;
        if (m->body_case == ULMA__WIRE__AGENT_MSG__BODY_REPORT)
            apply(m->report);
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
    CHECK(!"no message of the expected kind");
    return NULL;
}

static void send_cmsg(Ulma__Wire__CollectorMsg *c)
{
    c->version = WIRE_VERSION;
    sbuf_t b = {0};
    wire_pack(&c->base, &b);
    CHECK(zmq_send(router, ident, ident_len, ZMQ_SNDMORE) >= 0);
    CHECK(zmq_send(router, b.data, b.len, 0) >= 0);
    sbuf_free(&b);
}

static uint32_t name_index(const char *std)
{
    for (uint32_t i = 0; i < model.nnames; i++)
        if (strcmp(model.names[i], std) == 0)
            return i;
    return UINT32_MAX;
}

static pid_t kids[2], agent;

/* A failed CHECK exits: take the processes we started with us. */
static void kill_all(void)
{
    for (int i = 0; i < 2; i++)
        if (kids[i] > 0)
            kill(kids[i], SIGKILL);
    if (agent > 0)
        kill(agent, SIGKILL);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    atexit(kill_all);
    make_tmpdir(dir, sizeof(dir), "uplink");
    zctx = zmq_ctx_new();
    router = zmq_socket(zctx, ZMQ_ROUTER);
    int t = 5000, zero = 0;
    zmq_setsockopt(router, ZMQ_RCVTIMEO, &t, sizeof(t));
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof(zero));
    /* a free port, chosen now and bound only later: the agent starts first,
     * with no collector there (its reports are folded, nothing is lost).
     * Outside the ephemeral range, so that the agent's own reconnecting
     * socket can never take it (a TCP self-connection). */
    char ep[256];
    srand((unsigned)getpid());
    for (int i = 0;; i++) {
        CHECK(i < 100);
        int port = 20000 + rand() % 10000;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        int ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        if (ok) {
            snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port);
            break;
        }
    }

    /* two synthetic ranks of job42 that stay alive and apply control */
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        CHECK(kids[i] >= 0);
        if (kids[i] == 0)
            synth_process(dir, 0, SYNTH_SERVE, 100 * (uint32_t)(i + 1), 30000);
    }
    agent = fork();
    CHECK(agent >= 0);
    if (agent == 0) {
        execl(AGENT_BIN, AGENT_BIN, "--dir", dir, "--scan-ms", "50", "--cron-ms", "10",
              "--keep", "0.3", "--collector", ep, "--node", "node-a", "--report-interval", "0.1",
              "--snapshot-every", "5", "--quiet", "--plaintext", (char *)NULL);
        _exit(127);
    }
    usleep(600000); /* several report intervals without a collector */
    int bound = -1; /* the unbind completes in ZeroMQ's own thread: try again */
    for (int i = 0; i < 200 && bound != 0; i++) {
        bound = zmq_bind(router, ep);
        if (bound != 0)
            usleep(10000);
    }
    if (bound != 0)
        fprintf(stderr, "bind %s: %s\n", ep, zmq_strerror(zmq_errno()));
    CHECK(bound == 0);

    /* 1. the first report: a snapshot with the whole dictionary */
    Ulma__Wire__AgentMsg *m = next_of(ULMA__WIRE__AGENT_MSG__BODY_REPORT);
    const Ulma__Wire__Report *r = m->report;
    CHECK(r->snapshot && r->name_base == 0 && r->n_names > 0);
    CHECK(strcmp(r->node->name, "node-a") == 0);
    CHECK(r->counters && r->counters->reports_unsent > 0);
    apply(r);
    protobuf_c_message_free_unpacked(&m->base, NULL);

    /* 2. deltas in sequence until both streams arrived whole: the rows the
     * model rebuilt are the agent's exact numbers (1 tick = 1 us) */
    uint32_t f = UINT32_MAX;
    for (int i = 0; i < 100; i++) {
        f = name_index("synth.py:3(f)");
        int whole = f != UINT32_MAX && model.nprocs == 2;
        for (uint32_t k = 0; whole && k < 2; k++)
            whole = model.procs[k].v[f][0] == 300 || model.procs[k].v[f][0] == 600;
        if (whole && model.procs[0].v[f][0] != model.procs[1].v[f][0])
            break;
        m = next_of(ULMA__WIRE__AGENT_MSG__BODY_REPORT);
        apply(m->report);
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
    CHECK(f != UINT32_MAX);
    for (uint32_t k = 0; k < 2; k++) {
        const mproc_t *p = &model.procs[k];
        uint64_t reps = (uint64_t)p->v[f][0] / 3;
        CHECK(reps == 100 || reps == 200);
        CHECK_EQ_U(p->v[f][0] - p->v[f][1], reps);    /* primitive calls */
        CHECK_EQ_U(p->v[f][2], 30 * reps * 1000);     /* tottime, ns */
        CHECK_EQ_U(p->v[f][2] + p->v[f][3], 30 * reps * 1000); /* cumtime */
        uint32_t mod = name_index("synth.py:1(<module>)");
        CHECK(mod != UINT32_MAX);
        CHECK_EQ_U(p->v[mod][2], 5000);
        CHECK_EQ_U(p->v[mod][2] + p->v[mod][3], (30 * reps + 5) * 1000);
    }
    /* the job's summed call paths: <module> twice, f (3 + 3) * reps ... */
    CHECK_EQ_U(model.group_path_count, 2 + 3 * 300);

    /* 3. periodic snapshots, and deltas between them */
    uint64_t s0 = model.snapshots;
    for (int i = 0; i < 12; i++) {
        m = next_of(ULMA__WIRE__AGENT_MSG__BODY_REPORT);
        apply(m->report);
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
    CHECK(model.snapshots >= s0 + 2);
    CHECK(model.deltas >= 6);
    /* every period at most --snapshot-every reports (the first one shorter
     * by the session's phase) */
    CHECK(model.snap_gaps >= 2);
    CHECK(model.max_snap_gap <= 5);

    /* 4. a snapshot when asked, with the whole dictionary */
    Ulma__Wire__CollectorMsg c = ULMA__WIRE__COLLECTOR_MSG__INIT;
    Ulma__Wire__SnapshotRequest sr = ULMA__WIRE__SNAPSHOT_REQUEST__INIT;
    sr.session = model.session;
    sr.full_dictionary = 1;
    c.body_case = ULMA__WIRE__COLLECTOR_MSG__BODY_SNAPSHOT_REQUEST;
    c.snapshot_request = &sr;
    send_cmsg(&c);
    for (int i = 0;; i++) {
        CHECK(i < 20);
        m = next_of(ULMA__WIRE__AGENT_MSG__BODY_REPORT);
        int full = m->report->snapshot && m->report->name_base == 0;
        apply(m->report);
        protobuf_c_message_free_unpacked(&m->base, NULL);
        if (full)
            break;
    }

    /* 5. control: rank 0's... both processes of job42 off, acknowledged */
    Ulma__Wire__Control ctl = ULMA__WIRE__CONTROL__INIT;
    ctl.request = 77;
    ctl.mode = 0;
    ctl.job = "job42";
    ctl.rank = -1;
    ctl.wait_ms = 3000;
    Ulma__Wire__CollectorMsg c2 = ULMA__WIRE__COLLECTOR_MSG__INIT;
    c2.body_case = ULMA__WIRE__COLLECTOR_MSG__BODY_CONTROL;
    c2.control = &ctl;
    send_cmsg(&c2);
    m = next_of(ULMA__WIRE__AGENT_MSG__BODY_ACK);
    CHECK_EQ_U(m->ack->request, 77);
    CHECK_EQ_U(m->ack->n_targets, 2);
    CHECK(!m->ack->timed_out);
    for (size_t i = 0; i < m->ack->n_targets; i++)
        CHECK(m->ack->targets[i]->applied && m->ack->targets[i]->active_mode == 0);
    protobuf_c_message_free_unpacked(&m->base, NULL);

    /* 6. a forwarded query: the rank's table from the agent */
    Ulma__Wire__Query q = ULMA__WIRE__QUERY__INIT;
    Ulma__Wire__Scope sc = ULMA__WIRE__SCOPE__INIT;
    q.version = WIRE_VERSION;
    q.id = 4242;
    q.kind = ULMA__WIRE__KIND__TOP;
    sc.level = ULMA__WIRE__SCOPE__LEVEL__RANK;
    sc.pid = kids[1];
    sc.rank = -1;
    q.scope = &sc;
    q.sort = "ncalls";
    sbuf_t qb = {0};
    wire_pack(&q.base, &qb);
    Ulma__Wire__Forwarded fw = ULMA__WIRE__FORWARDED__INIT;
    fw.id = 9;
    fw.message.data = (uint8_t *)qb.data;
    fw.message.len = qb.len;
    Ulma__Wire__CollectorMsg c3 = ULMA__WIRE__COLLECTOR_MSG__INIT;
    c3.body_case = ULMA__WIRE__COLLECTOR_MSG__BODY_QUERY;
    c3.query = &fw;
    send_cmsg(&c3);
    sbuf_free(&qb);
    m = next_of(ULMA__WIRE__AGENT_MSG__BODY_ANSWER);
    CHECK_EQ_U(m->answer->id, 9);
    wire_refusal_t why;
    Ulma__Wire__Reply *rep = wire_reply(m->answer->message.data, m->answer->message.len, &why);
    CHECK(rep && rep->ok && rep->id == 4242 && rep->table);
    CHECK(rep->table->n_rows >= 2);
    CHECK(strcmp(rep->table->rows[0]->std, "synth.py:3(f)") == 0);
    CHECK_EQ_U(rep->table->rows[0]->ncalls, 600);
    CHECK_EQ_U(rep->table->rows[0]->tottime_ns, 30 * 200 * 1000);
    protobuf_c_message_free_unpacked(&rep->base, NULL);
    protobuf_c_message_free_unpacked(&m->base, NULL);

    /* 7. the processes end; the agent forgets them after --keep and says so */
    for (int i = 0; i < 2; i++)
        kill(kids[i], SIGKILL);
    for (int i = 0; i < 2; i++)
        waitpid(kids[i], NULL, 0);
    for (int i = 0; i < 100 && model.ngone < 2; i++) {
        m = next_of(ULMA__WIRE__AGENT_MSG__BODY_REPORT);
        apply(m->report);
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
    CHECK_EQ_U(model.ngone, 2);
    CHECK((model.gone[0] == kids[0] && model.gone[1] == kids[1]) ||
          (model.gone[0] == kids[1] && model.gone[1] == kids[0]));

    CHECK(kill(agent, SIGTERM) == 0);
    int st;
    CHECK(waitpid(agent, &st, 0) == agent && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    agent = kids[0] = kids[1] = 0;
    zmq_close(router);
    zmq_ctx_term(zctx);
    rm_tree(dir);
    printf("test_uplink: ok (%llu snapshots, %llu deltas)\n", (unsigned long long)model.snapshots,
           (unsigned long long)model.deltas);
    return 0;
}
