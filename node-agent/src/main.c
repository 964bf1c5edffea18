/* main.c - ulma-agent: parse the command line, run the agent. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "private.h"

static agent_t *running;

static void on_signal(int sig)
{
    (void)sig;
    if (running)
        agent_stop(running);
}

/* --wait-child: end as the child ended, so that the shell (or mpirun)
 * sees the same status as without the agent. */
static int reraise(int sig)
{
    fflush(stdout);
    fflush(stderr);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    kill(getpid(), sig);
    return 128 + sig; /* a signal that does not end a process (SIGCHLD, ...) */
}

int main(int argc, char **argv)
{
    agent_config_t cfg;
    int rc = agent_config_parse(&cfg, argc, argv);
    if (rc != 0) {
        if (rc < 0)
            private_abort_child(&cfg); /* it waited for the go byte: it ran nothing */
        return rc > 0 ? 0 : 2;
    }
    char err[512] = "";
    agent_t *a = agent_new(&cfg, err, sizeof(err));
    if (!a) {
        fprintf(stderr, "ulma-agent: %s\n", err);
        private_abort_child(&cfg);
        return cfg.wait_child ? 2 : 1;
    }
    running = a;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    if (!cfg.wait_child) {
        /* a private agent shares the terminal of its program: Ctrl-C is
         * for the program, the agent ends when the program does; with
         * --wait-child, agent_new took these signals into a signalfd */
        if (cfg.private_pid)
            signal(SIGINT, SIG_IGN);
        else
            sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    signal(SIGPIPE, SIG_IGN);
    rc = agent_run(a);
    int sig = agent_exit_signal(a);
    running = NULL;
    agent_destroy(&a);
    return sig ? reraise(sig) : rc;
}
