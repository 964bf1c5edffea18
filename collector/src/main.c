/* main.c - ulma-collector: parse the command line, run the collector. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "collector.h"
#include "profile/util.h"

static collector_t *running;

static void on_signal(int sig)
{
    if (!running)
        return;
    if (sig == SIGUSR1)
        collector_dump_soon(running);
    else
        collector_stop(running);
}

int main(int argc, char **argv)
{
    util_progname = "ulma-collector";
    collector_config_t cfg;
    int rc = collector_config_parse(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    char err[512] = "";
    collector_t *c = collector_new(&cfg, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "ulma-collector: %s\n", err);
        return 1;
    }
    running = c;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = collector_run(c);
    running = NULL;
    collector_destroy(&c);
    return rc;
}
