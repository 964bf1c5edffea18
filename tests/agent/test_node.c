/* test_node.c - the node agent: one per directory (lock), discovery of new
 * segments, harvesting a SIGKILLed writer's last records and removing its
 * segment, the query endpoint (valid and malformed requests, random bytes),
 * the control round trip (agent writes the control word, the process
 * applies it, the answer says so), and ulma-ctl. */
#include <fcntl.h>
#include <signal.h>
#include <zmq.h>

#include "jreq.h"
#include "wire/wire.h"
#include "synth.h"

static char dir[256];
static void *zctx, *zs;

static void connect_agent(void)
{
    char ep[400];
    snprintf(ep, sizeof(ep), "ipc://%s/ulma-agent.ipc", dir);
    zctx = zmq_ctx_new();
    zs = zmq_socket(zctx, ZMQ_DEALER);
    int t = 5000, zero = 0;
    zmq_setsockopt(zs, ZMQ_RCVTIMEO, &t, sizeof(t));
    zmq_setsockopt(zs, ZMQ_LINGER, &zero, sizeof(zero));
    CHECK(zmq_connect(zs, ep) == 0);
}

static size_t ans_len; /* of the last answer */

/* One request/answer; returns the answer (caller frees). */
static char *ask_n(const void *req, size_t len)
{
    CHECK(zmq_send(zs, "", 0, ZMQ_SNDMORE) == 0);
    CHECK(zmq_send(zs, req, len, 0) == (int)len);
    char *ans = NULL;
    int part = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        CHECK(zmq_msg_recv(&m, zs, 0) >= 0);
        more = zmq_msg_more(&m);
        if (part == 1) {
            ans = malloc(zmq_msg_size(&m) + 1);
            memcpy(ans, zmq_msg_data(&m), zmq_msg_size(&m));
            ans[zmq_msg_size(&m)] = '\0';
            ans_len = zmq_msg_size(&m);
        }
        part++;
        zmq_msg_close(&m);
    }
    CHECK(ans);
    return ans;
}

static char *ask(const char *req) { return ask_n(req, strlen(req)); }

static pid_t start_agent(const char *extra)
{
    pid_t a = fork();
    CHECK(a >= 0);
    if (a == 0) {
        char cmd[4096];
        snprintf(cmd, sizeof(cmd), "exec %s --dir %s --scan-ms 50 --cron-ms 10 --keep 30 %s",
                 AGENT_BIN, dir, extra);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* wait for its socket */
    char path[400];
    snprintf(path, sizeof(path), "%s/ulma-agent.ipc", dir);
    for (int i = 0; i < 500 && access(path, F_OK) != 0; i++)
        usleep(10000);
    CHECK(access(path, F_OK) == 0);
    return a;
}

/* Poll `req` until its answer contains `needle` (5 s). */
static char *await(const char *req, const char *needle)
{
    for (int i = 0; i < 500; i++) {
        char *a = ask(req);
        if (strstr(a, needle))
            return a;
        free(a);
        usleep(10000);
    }
    fprintf(stderr, "timed out waiting for %s in answer to %s\n", needle, req);
    exit(1);
}

static void test_second_agent_refused(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "%s --dir %s --run-for 2 2>%s/second.err", AGENT_BIN, dir, dir);
    CHECK(run(cmd) == 1);
    snprintf(cmd, sizeof(cmd), "grep -q 'another ulma-agent (pid [0-9]*) already serves' %s/second.err",
             dir);
    CHECK(run(cmd) == 0);
}

static void test_killed_writer(void)
{
    pid_t k = fork();
    CHECK(k >= 0);
    if (k == 0)
        synth_process(dir, 0, SYNTH_KILL, 50, 0);
    int st;
    CHECK(waitpid(k, &st, 0) == k && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    char req[200], needle[200];
    snprintf(req, sizeof(req), "{\"cmd\":\"list\"}");
    snprintf(needle, sizeof(needle), "\"pid\":%d,", (int)k);
    free(await(req, needle));
    /* harvested: exited, the last records in, the segment removed */
    snprintf(req, sizeof(req), "{\"cmd\":\"top\",\"pid\":%d,\"sort\":\"calls\",\"limit\":1}", (int)k);
    char *a = await(req, "\"state\":\"exited\"");
    CHECK(strstr(a, "\"ncalls\":150,\"pcalls\":50,"));
    CHECK(strstr(a, "\"total_rows\":2"));
    CHECK(!strstr(a, "<module>")); /* limit 1: only the first row */
    free(a);
    for (int i = 0; i < 300 && count_segments(dir) != 0; i++)
        usleep(10000);
    CHECK(count_segments(dir) == 0);
    /* the other queries on it */
    snprintf(req, sizeof(req), "{\"cmd\":\"callers\",\"pid\":%d,\"func\":\"f\"}", (int)k);
    a = ask(req);
    CHECK(strstr(a, "\"callers\":[") && strstr(a, "synth.py:1(<module>)"));
    free(a);
    snprintf(req, sizeof(req), "{\"cmd\":\"paths\",\"pid\":%d,\"limit\":2}", (int)k);
    a = ask(req);
    CHECK(strstr(a, "\"count\":50"));
    free(a);
    snprintf(req, sizeof(req), "{\"cmd\":\"stacks\",\"pid\":%d}", (int)k);
    a = ask(req);
    CHECK(strstr(a, "\"threads\":[{\"tid\":"));
    free(a);
    /* ulma-ctl: the table and an export */
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "%s --dir %s top %d -s calls > %s/ctl.txt && grep -q '150/50' %s/ctl.txt",
             CTL_BIN, dir, (int)k, dir, dir);
    CHECK(run(cmd) == 0);
    snprintf(cmd, sizeof(cmd),
             "%s --dir %s export %d pstats %s/k.pstats >/dev/null && %s -c \"import pstats,sys,io; "
             "s=pstats.Stats(sys.argv[1],stream=io.StringIO()); sys.exit(0 if s.total_calls==151 else 1)\" "
             "%s/k.pstats",
             CTL_BIN, dir, (int)k, dir, PYTHON, dir);
    CHECK(run(cmd) == 0);
}

static void test_control(void)
{
    pid_t c = fork();
    CHECK(c >= 0);
    if (c == 0)
        synth_process(dir, 0, SYNTH_SERVE, 3, 4000);
    char req[256], needle[64];
    snprintf(needle, sizeof(needle), "\"pid\":%d,", (int)c);
    free(await("{\"cmd\":\"list\"}", needle));
    snprintf(req, sizeof(req), "{\"cmd\":\"control\",\"pid\":%d,\"mode\":\"full\",\"objects\":true}",
             (int)c);
    char *a = ask(req);
    CHECK(strstr(a, "\"applied\":true,\"active_mode\":\"full\""));
    CHECK(strstr(a, "\"requested\":1,\"applied\":1,\"timed_out\":false"));
    free(a);
    /* by job, through ulma-ctl */
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "%s --dir %s --json off --job job42 > %s/ctl2.txt && grep -q "
             "'\"active_mode\":\"off\"' %s/ctl2.txt",
             CTL_BIN, dir, dir, dir);
    CHECK(run(cmd) == 0);
    /* a process that does not apply: the answer says so after wait_ms */
    CHECK(kill(c, SIGSTOP) == 0);
    snprintf(req, sizeof(req), "{\"cmd\":\"control\",\"all\":true,\"mode\":\"fast\",\"wait_ms\":200}");
    a = ask(req);
    CHECK(strstr(a, "\"timed_out\":true"));
    free(a);
    CHECK(kill(c, SIGCONT) == 0);
    CHECK(wait_exit(c, 10) == 0);
}

/* An error answer: JSON for a JSON request (one starting with '{'), a
 * protobuf Reply (query.proto) with ok false for anything else. */
static int is_error(const void *req, size_t len, const char *ans)
{
    if (len && *(const char *)req == '{')
        return strstr(ans, "\"ok\":false,\"error\":") != NULL;
    wire_refusal_t why;
    Ulma__Wire__Reply *r = wire_reply(ans, ans_len, &why);
    int bad = r && !r->ok && r->error && r->error[0];
    if (r)
        protobuf_c_message_free_unpacked(&r->base, NULL);
    return bad;
}

/* Each of the `n` requests is answered with an error. */
static void expect_errors(const char *const *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *a = ask(reqs[i]);
        if (!is_error(reqs[i], strlen(reqs[i]), a)) {
            fprintf(stderr, "request %.80s answered %s\n", reqs[i], a);
            exit(1);
        }
        free(a);
    }
}

static void test_malformed(void)
{
    const char *bad[] = {
        "",
        "{",
        "[1,2]",
        "{\"cmd\":1}",
        "{\"cmd\":\"nope\"}",
        "{\"cmd\":\"top\"}",
        "{\"cmd\":\"top\",\"pid\":\"12\"}",
        "{\"cmd\":\"top\",\"pid\":-1}",
        "{\"cmd\":\"top\",\"pid\":1,\"limit\":1e9}",
        "{\"cmd\":\"list\",\"cmd\":\"list\"}",
        "{\"cmd\":\"list\"} trailing",
        "{\"cmd\":\"list\",\"x\":{\"nested\":1}}",
        "{\"cmd\":\"control\",\"mode\":\"fast\"}",
        "{\"cmd\":\"control\",\"mode\":\"turbo\",\"all\":true}",
        "{\"cmd\":\"export\",\"pid\":1,\"format\":\"xls\"}",
        "{\"cmd\":\"\\ud800\"}",
    };
    expect_errors(bad, sizeof(bad) / sizeof(bad[0]));
    /* the documented bounds (node-agent/src/jreq.h), each just past its limit */
    static char big[9000];
    const char *over[] = {"{\"cmd\":\"list\",\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,"
                          "\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,\"o\":1,\"p\":1}",
                          "{\"cmd\":\"list\",\"k2345678901234567890123456789012\":1}",
                          "{\"cmd\":\"list\",\"x\":[1]}", "{\"cmd\":\"li\\u0000st\"}",
                          "{\"cmd\":\"list\",\"limit\":1,\"limit\":2}", NULL, NULL};
    snprintf(big, sizeof(big), "{\"cmd\":\"list\",\"s\":\"%01025d\"}", 0);
    over[5] = strdup(big);
    memset(big, ' ', sizeof(big) - 1);
    memcpy(big, "{\"cmd\":\"list\"}", 14); /* 8192 bytes of white space after it */
    big[8193] = '\0';
    over[6] = big;
    expect_errors(over, sizeof(over) / sizeof(over[0]));
    free((char *)over[5]);
    /* and at the limits, accepted: 16 fields, a 31-byte key, a 1024-byte string */
    snprintf(big, sizeof(big),
             "{\"cmd\":\"list\",\"k234567890123456789012345678901\":\"%01024d\",\"b\":1,\"c\":1,"
             "\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,"
             "\"o\":null}", 0);
    char *ok = ask(big);
    CHECK(strstr(ok, "\"ok\":true") != NULL);
    free(ok);
    /* random bytes: each gets an error answer, nothing stalls */
    srand(12345);
    unsigned char buf[600];
    for (int i = 0; i < 300; i++) {
        size_t n = (size_t)(rand() % (int)sizeof(buf));
        for (size_t k = 0; k < n; k++)
            buf[k] = (unsigned char)rand();
        if (n && i % 3 == 0)
            buf[0] = '{';
        char *a = ask_n(buf, n);
        CHECK(is_error(buf, n, a));
        free(a);
    }
    /* a peer sending a frame with no delimiter still gets its answer */
    void *raw = zmq_socket(zctx, ZMQ_DEALER);
    char ep[400];
    snprintf(ep, sizeof(ep), "ipc://%s/ulma-agent.ipc", dir);
    int t = 5000, zero = 0;
    zmq_setsockopt(raw, ZMQ_RCVTIMEO, &t, sizeof(t));
    zmq_setsockopt(raw, ZMQ_LINGER, &zero, sizeof(zero));
    CHECK(zmq_connect(raw, ep) == 0);
    CHECK(zmq_send(raw, "{\"cmd\":\"list\"}", 14, 0) == 14);
    char ans[4096];
    int n = zmq_recv(raw, ans, sizeof(ans) - 1, 0);
    CHECK(n > 0);
    ans[n < (int)sizeof(ans) - 1 ? n : (int)sizeof(ans) - 1] = '\0';
    CHECK(strstr(ans, "\"ok\":true"));
    zmq_close(raw);
    /* and the agent counted them */
    char *a = ask("{\"cmd\":\"list\"}");
    const char *p = strstr(a, "\"bad_requests\":");
    CHECK(p && atoi(p + 15) >= 316);
    free(a);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    make_tmpdir(dir, sizeof(dir), "node");
    pid_t agent = start_agent("");
    connect_agent();
    test_second_agent_refused();
    test_killed_writer();
    test_control();
    test_malformed();
    zmq_close(zs);
    zmq_ctx_term(zctx);
    CHECK(kill(agent, SIGTERM) == 0);
    CHECK(wait_exit(agent, 10) == 0);
    /* the lock is free again: a new agent starts and stops by itself */
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "%s --dir %s --run-for 0.2", AGENT_BIN, dir);
    CHECK(run(cmd) == 0);
    rm_tree(dir);
    printf("test_node: ok\n");
    return 0;
}
