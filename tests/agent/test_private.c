/* test_private.c - the private-agent contract of `python3 -m ulma`:
 * ulma-agent --private PID starts before PID's segment exists, drains it
 * (and a forked child's), prints a cProfile-like table, writes the pstats
 * file ({pid} expanded) and the exports, removes the segments, exits 0;
 * and fails clearly when PID ends without a segment. The launcher's
 * protocol (--go-fd, --wait-child): the agent takes the pid of the
 * launcher, lets its child go, reports, and ends as the child ended (its
 * signal re-raised); a bad option kills the waiting child before it made
 * anything. */
#include <fcntl.h>
#include <signal.h>

#include "synth.h"

static pid_t spawn_agent(const char *dir, pid_t target, const char *out, const char *extra)
{
    pid_t a = fork();
    CHECK(a >= 0);
    if (a == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        char pidbuf[32];
        snprintf(pidbuf, sizeof(pidbuf), "%d", (int)target);
        char cmd[8192];
        snprintf(cmd, sizeof(cmd),
                 "exec %s --private %s --dir %s -s calls -o %s/out.{pid}.pstats --json "
                 "%s/out.json --collapsed %s/out.collapsed --speedscope %s/out.speedscope "
                 "--pprof %s/out.pb.gz --svg %s/out.svg --cron-ms 10 --scan-ms 20 %s",
                 AGENT_BIN, pidbuf, dir, dir, dir, dir, dir, dir, dir, extra);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return a;
}

static void test_private_run(void)
{
    char dir[256], out[300], path[400], cmd[4096];
    make_tmpdir(dir, sizeof(dir), "private");
    snprintf(out, sizeof(out), "%s/table.txt", dir);
    int go[2];
    CHECK(pipe(go) == 0);
    pid_t w = fork();
    CHECK(w >= 0);
    if (w == 0) {
        /* the launcher: learn the agent's pid, then create the segment */
        close(go[1]);
        int32_t agent_pid = 0;
        if (read(go[0], &agent_pid, sizeof(agent_pid)) != sizeof(agent_pid))
            _exit(5);
        usleep(100000); /* the agent is waiting for the segment by now */
        pid_t child = fork();
        if (child == 0)
            synth_process(dir, agent_pid, SYNTH_EXIT, 2, 0); /* a forked child, own segment */
        /* like a program that waits for its workers: the child's segment
         * exists before ours ends (a child that outlives the launcher is
         * outside what a private agent can promise to see) */
        waitpid(child, NULL, 0);
        synth_process(dir, agent_pid, SYNTH_EXIT, 4, 0);
    }
    close(go[0]);
    pid_t a = spawn_agent(dir, w, out, "");
    int32_t ap = a;
    CHECK(write(go[1], &ap, sizeof(ap)) == sizeof(ap));
    close(go[1]);
    CHECK(wait_exit(w, 20) == 0);
    CHECK(wait_exit(a, 20) == 0);
    char *table = slurp(out, NULL);
    CHECK(table);
    /* the main process (4 reps) and its child (2 reps), each with a table */
    CHECK(strstr(table, "         13 function calls (5 primitive calls) in 0.000 seconds"));
    CHECK(strstr(table, "         7 function calls (3 primitive calls) in 0.000 seconds"));
    CHECK(strstr(table, "   Ordered by: call count"));
    CHECK(strstr(table, "     12/4    0.000    0.000    0.000    0.000"));
    CHECK(strstr(table, "synth.py:3(f)\n"));
    free(table);
    /* pstats of the main process, read by Python */
    snprintf(path, sizeof(path), "%s/out.%d.pstats", dir, (int)w);
    snprintf(cmd, sizeof(cmd),
             "%s %s/check_pstats.py %s \"{('synth.py',3,'f'):(4,12,120e-6,120e-6,"
             "{('synth.py',3,'f'):(8,4,80e-6,80e-6),('synth.py',1,'<module>'):(4,4,40e-6,120e-6)}),"
             "('synth.py',1,'<module>'):(1,1,5e-6,125e-6,{})}\"",
             PYTHON, SRCDIR, path);
    CHECK(run(cmd) == 0);
    /* the exports exist; the child's got .<pid> (no {pid} in their names) */
    snprintf(cmd, sizeof(cmd),
             "%s -c \"import json,sys; d=json.load(open(sys.argv[1])); "
             "assert d['process']['pid']==%d and d['process']['job']=='job42', d['process']\" "
             "%s/out.json",
             PYTHON, (int)w, dir);
    CHECK(run(cmd) == 0);
    snprintf(cmd, sizeof(cmd),
             "test -s %s/out.collapsed && test -s %s/out.speedscope && test -s %s/out.pb.gz && "
             "test -s %s/out.svg && ls %s/out.json.* >/dev/null",
             dir, dir, dir, dir, dir);
    CHECK(run(cmd) == 0);
    CHECK(count_segments(dir) == 0);
    rm_tree(dir);
}

static void test_private_no_segment(void)
{
    char dir[256], out[300];
    make_tmpdir(dir, sizeof(dir), "private-none");
    snprintf(out, sizeof(out), "%s/table.txt", dir);
    pid_t w = fork();
    CHECK(w >= 0);
    if (w == 0) {
        usleep(200000);
        _exit(0);
    }
    pid_t a = spawn_agent(dir, w, out, "2>/dev/null");
    CHECK(wait_exit(w, 10) == 0);
    CHECK(wait_exit(a, 10) == 1);
    rm_tree(dir);
}

/* What python3 -m ulma does: fork; the child waits for the go byte, then
 * writes a segment reserved for its parent (the agent) and ends as `how`
 * says; the parent executes the agent. Returns the wait status of the
 * "launcher" (the agent). */
static int run_launcher(const char *dir, const char *out, int how, const char *extra)
{
    pid_t l = fork();
    CHECK(l >= 0);
    if (l == 0) {
        int go[2];
        if (pipe(go) != 0)
            _exit(120);
        pid_t c = fork();
        if (c == 0) {
            close(go[1]);
            char b;
            if (read(go[0], &b, 1) != 1)
                _exit(9); /* the agent refused: run nothing */
            synth_process(dir, (int32_t)getppid(), how, 2, 0);
        }
        close(go[0]);
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        char cmd[4096];
        snprintf(cmd, sizeof(cmd), "%s --private %d --go-fd %d --wait-child --dir %s --cron-ms 10 %s",
                 AGENT_BIN, (int)c, go[1], dir, extra);
        /* exec (no shell in between: the agent must be the child's parent) */
        char *argv[32];
        int n = 0;
        for (char *t = strtok(cmd, " "); t && n < 31; t = strtok(NULL, " "))
            argv[n++] = t;
        argv[n] = NULL;
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    CHECK(waitpid(l, &st, 0) == l);
    return st;
}

static void test_wait_child(void)
{
    char dir[256], out[300];
    make_tmpdir(dir, sizeof(dir), "wait-child");
    snprintf(out, sizeof(out), "%s/table.txt", dir);
    /* a normal end: the table is printed before the agent exits, status 0 */
    int st = run_launcher(dir, out, SYNTH_EXIT, "");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *table = slurp(out, NULL);
    CHECK(table && strstr(table, "7 function calls (3 primitive calls)"));
    free(table);
    CHECK(count_segments(dir) == 0);
    /* the child killed (SIGKILL, its segment left LIVE): the report all the
     * same, then the agent ends by the same signal */
    st = run_launcher(dir, out, SYNTH_KILL, "");
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    table = slurp(out, NULL);
    CHECK(table && strstr(table, "7 function calls (3 primitive calls)"));
    free(table);
    CHECK(count_segments(dir) == 0);
    /* bad options: usage error, the child never ran (no segment) */
    const char *bad[] = {"-s cum", "-s badkey", "-o /nonexistent/dir/x.pstats",
                         "--json /nonexistent/x.json"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char extra[128];
        snprintf(extra, sizeof(extra), "%s", bad[i]);
        st = run_launcher(dir, out, SYNTH_EXIT, extra);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
        CHECK(count_segments(dir) == 0);
    }
    /* an output that is a directory: refused before the start (usage
     * error, 2); what cannot be written at the end: tests/hooks/
     * test_output_fault.py */
    char extra[600];
    snprintf(extra, sizeof(extra), "--json %s/isdir", dir);
    char sub[400];
    snprintf(sub, sizeof(sub), "%s/isdir", dir);
    CHECK(mkdir(sub, 0755) == 0);
    st = run_launcher(dir, out, SYNTH_EXIT, extra);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    rmdir(sub);
    rm_tree(dir);
}

int main(void)
{
    test_private_run();
    test_private_no_segment();
    test_wait_child();
    printf("test_private: ok\n");
    return 0;
}
