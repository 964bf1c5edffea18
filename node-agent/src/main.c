/* main.c - ulma-agent: parse the command line, run the agent. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

static agent_t *running;

static void on_signal(int sig)
{
    (void)sig;
    if (running)
        agent_stop(running);
}

int main(int argc, char **argv)
{
    agent_config_t cfg;
    int rc = agent_config_parse(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    char err[512] = "";
    agent_t *a = agent_new(&cfg, err, sizeof(err));
    if (!a) {
        fprintf(stderr, "ulma-agent: %s\n", err);
        return 1;
    }
    running = a;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    /* a private agent shares the terminal of its program: Ctrl-C is for the
     * program, the agent ends when the program does */
    if (cfg.private_pid)
        signal(SIGINT, SIG_IGN);
    else
        sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = agent_run(a);
    running = NULL;
    agent_destroy(&a);
    return rc;
}
