/* test_launcher.c - the agent behind the real launcher (python3 -m ulma):
 *
 *  1. a program that starts a call burst at once (fib(25), about 485,000
 *     records, more than one default ring): the private agent must find the
 *     segment and drain it while the burst runs, so that every Python row
 *     equals cProfile's (ncalls and primitive calls) and nothing is lost;
 *  2. a small ring (ULMA_RING_SIZE=64k) and no agent while the program
 *     runs: the writer drops records and no DROP record follows (the ring
 *     stays full). The node agent that harvests the segment afterwards must
 *     report exactly the writer's count, taken from the slot headers, in
 *     `drops`, in the table header and in the JSON profile. The expected
 *     count is read from a copy of the segment with the reader. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/stat.h>

#include "check.h"
#include "ulma/reader.h"

static char dir[256];

static void write_prog(const char *path, int n)
{
    FILE *f = fopen(path, "w");
    CHECK(f);
    fprintf(f, "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\n\n"
               "def main():\n    return fib(%d)\n\n\nmain()\n", n);
    fclose(f);
}

static void test_burst_at_start(void)
{
    char prog[400], cmd[8192];
    snprintf(prog, sizeof(prog), "%s/burst.py", dir);
    write_prog(prog, 25);
    /* few slots: on a disk-backed directory every slot header the reader
     * touches first is a major fault; the segment directory of a real run
     * is tmpfs */
    snprintf(cmd, sizeof(cmd),
             "cd %s && ULMA_DIR=%s ULMA_SLOTS=4 PYTHONPATH=%s/python %s -m ulma -o %s/out.pstats "
             "--json %s/out.json %s > %s/table.txt 2>&1",
             dir, dir, BUILD_DIR, PYTHON, dir, dir, prog, dir);
    CHECK_EQ_U(run(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s %s/check_cprofile.py %s %s/out.pstats %s/out.json", PYTHON,
             SRCDIR, prog, dir, dir);
    if (run(cmd) != 0) {
        snprintf(cmd, sizeof(cmd), "cat %s/table.txt", dir);
        run(cmd);
        CHECK(!"ulma and cProfile disagree");
    }
    snprintf(cmd, sizeof(cmd), "grep -q 'records lost' %s/table.txt", dir);
    CHECK(run(cmd) != 0);
}

static pid_t start_node_agent(void)
{
    pid_t a = fork();
    CHECK(a >= 0);
    if (a == 0) {
        char cmd[4096];
        snprintf(cmd, sizeof(cmd), "exec %s --dir %s --scan-ms 50 --cron-ms 10 --keep 30", AGENT_BIN,
                 dir);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return a;
}

static int count_batch(void *ctx, unsigned slot, const ulma_rec_t *recs, size_t n)
{
    (void)slot;
    (void)recs;
    *(uint64_t *)ctx += n;
    return 0;
}

static void test_drops_without_drop_record(void)
{
    char prog[400], cmd[8192];
    snprintf(prog, sizeof(prog), "%s/small.py", dir);
    write_prog(prog, 20);
    snprintf(cmd, sizeof(cmd),
             "cd %s && ULMA_DIR=%s ULMA_SLOTS=4 ULMA_RING_SIZE=64k PYTHONPATH=%s/python %s -m ulma "
             "--no-agent %s > /dev/null 2>&1",
             dir, dir, BUILD_DIR, PYTHON, prog);
    CHECK_EQ_U(run(cmd), 0);
    /* the segment stays; read a copy for the expected count */
    char seg[600] = "", copy[600];
    snprintf(cmd, sizeof(cmd), "ls %s | grep '^ulma\\..*\\.seg$' > %s/segs.txt", dir, dir);
    CHECK_EQ_U(run(cmd), 0);
    snprintf(copy, sizeof(copy), "%s/segs.txt", dir);
    char *names = slurp(copy, NULL);
    CHECK(names && names[0]);
    names[strcspn(names, "\n")] = '\0';
    int pid = 0;
    CHECK(sscanf(names, "ulma.%*u.%d.", &pid) == 1);
    snprintf(seg, sizeof(seg), "%s/%s", dir, names);
    free(names);
    snprintf(copy, sizeof(copy), "%s/copy.bin", dir);
    snprintf(cmd, sizeof(cmd), "cp %s %s", seg, copy);
    CHECK_EQ_U(run(cmd), 0);
    ulma_reader_t *rd = NULL;
    CHECK_EQ_U(ulma_reader_open(copy, &rd), 0);
    uint64_t units = 0;
    for (;;) {
        long n = ulma_reader_drain(rd, count_batch, &units, 0);
        CHECK(n >= 0);
        if (n == 0)
            break;
    }
    uint64_t expected = ulma_reader_total_dropped(rd);
    ulma_reader_destroy(&rd);
    unlink(copy);
    CHECK(units > 0);
    CHECK(expected > 1000); /* fib(20): ~44,000 records into a 4,096-record ring */

    pid_t a = start_node_agent();
    /* wait until it harvested the segment (file removed) */
    for (int i = 0; i < 1000 && access(seg, F_OK) == 0; i++)
        usleep(10000);
    CHECK(access(seg, F_OK) != 0);
    char want[128];
    snprintf(want, sizeof(want), "\"records_lost\":%llu", (unsigned long long)expected);
    snprintf(cmd, sizeof(cmd), "%s --dir %s drops %d > %s/drops.txt 2>&1", CTL_BIN, dir, pid, dir);
    CHECK_EQ_U(run(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s --dir %s top %d > %s/top.txt 2>&1", CTL_BIN, dir, pid, dir);
    CHECK_EQ_U(run(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s --dir %s export %d json %s/prof.json", CTL_BIN, dir, pid, dir);
    CHECK_EQ_U(run(cmd), 0);
    kill(a, SIGTERM);
    waitpid(a, NULL, 0);

    snprintf(copy, sizeof(copy), "%s/drops.txt", dir);
    char *d = slurp(copy, NULL);
    CHECK(d);
    char num[64];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)expected);
    if (!strstr(d, num)) {
        fprintf(stderr, "drops answer lacks %s: %s\n", num, d);
        CHECK(0);
    }
    free(d);
    snprintf(copy, sizeof(copy), "%s/top.txt", dir);
    d = slurp(copy, NULL);
    CHECK(d);
    char line[160];
    snprintf(line, sizeof(line), "; %llu records lost (ring full or agent restart): counts are incomplete",
             (unsigned long long)expected);
    if (!strstr(d, line)) {
        fprintf(stderr, "table header lacks \"%s\":\n%s\n", line, d);
        CHECK(0);
    }
    free(d);
    snprintf(copy, sizeof(copy), "%s/prof.json", dir);
    d = slurp(copy, NULL);
    CHECK(d);
    if (!strstr(d, want)) {
        fprintf(stderr, "JSON lacks %s\n", want);
        CHECK(0);
    }
    free(d);
}

int main(void)
{
    make_tmpdir(dir, sizeof(dir), "launcher");
    test_burst_at_start();
    test_drops_without_drop_record();
    rm_tree(dir);
    printf("test_agent_launcher: ok\n");
    return 0;
}
