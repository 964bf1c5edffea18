/* bench_tui.c - BENCH tui_frame_ms: the time clustertop takes to build
 * and draw one frame for a cluster of 1,024 nodes x 16 ranks: the
 * answers decoded (synthetic Replies of that cluster, packed once, as
 * they come off the socket), the model's lists rebuilt and sorted, the
 * frame drawn into the canvas and copied to a real ncurses screen
 * (newterm on /dev/null). Two sets of answers alternate, so every frame
 * has new numbers to draw. Median of many frames, per view; the figure
 * is the slowest view's median. Target: under 20 ms. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_args.h"
#include "../tui/synth_tui.h"
#include "app.h"
#include "crt.h"
#include "keys.h"

#define FRAMES 101

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct bview {
    const char *name, *view, *tab;
} bview_t;

static const char usage_line[] = "usage: bench_tui [-h]\n";

static void help(void)
{
    fputs("NAME\n"
          "    bench_tui - the time clustertop takes to build and draw one frame of a\n"
          "    cluster of 1,024 nodes x 16 ranks\n\n"
          "SYNOPSIS\n"
          "    bench_tui\n\n"
          "DESCRIPTION\n"
          "    Per frame: the answers decoded (synthetic replies of a cluster of 1,024\n"
          "    nodes x 16 ranks and 2000 functions, packed once, as they come off the\n"
          "    socket), the model's lists rebuilt and sorted, the frame drawn into the\n"
          "    canvas and copied to a real ncurses screen (newterm on /dev/null,\n"
          "    xterm-256color, 200 x 60). Two sets of answers alternate, so that every\n"
          "    frame has new numbers to draw, and the selection moves every frame.\n"
          "    For each view (cluster, nodes, imbalance, node with its ranks tab,\n"
          "    function, rank with its threads tab), 5 frames of warm-up, then the\n"
          "    median of 101; the figure is the slowest view's median. Target: under\n"
          "    20 ms.\n\n"
          "OPTIONS\n"
          "    -h, --help\n"
          "        Show this text and exit.\n\n"
          "ENVIRONMENT\n"
          "    BENCH_TUI_SHOW\n"
          "        When set, each view's last frame is printed on the standard error,\n"
          "        to see what was measured.\n"
          "    NO_COLOR\n"
          "        When set and not empty, the screen is drawn without colours.\n"
          "    clustertop's settings (/etc/ulma/clustertop.conf and its ULMA_*\n"
          "    variables, see clustertop --help) apply as to a clustertop started\n"
          "    with no arguments.\n\n"
          "OUTPUT\n"
          "    A line per view (median, min and max), and:\n"
          "        BENCH tui_frame_ms_VIEW MS ms   each view's median\n"
          "        BENCH tui_frame_ms MS ms        the slowest view's median\n\n"
          "EXIT STATUS\n"
          "    0 success; 1 clustertop's settings, the screen or a view could not be\n"
          "    set up; 2 a usage error.\n\n"
          "SEE ALSO\n"
          "    tests/bench/run tui, clustertop --help\n",
          stdout);
}

int main(int argc, char **argv)
{
    int rc = bench_no_args(argc, argv, "bench_tui", usage_line, help);
    if (rc >= 0)
        return rc;
    static const bview_t views[] = {
        {"cluster", "cluster", NULL},        {"nodes", "nodes", NULL},
        {"imbalance", "imbalance", NULL},    {"node", "node:node0512", "ranks"},
        {"function", "function:f000", NULL}, {"rank", "rank:node0512/9192", "threads"},
    };
    synth_t s[2] = {{.nodes = 1024, .ranks_per_node = 16, .funcs = 2000, .cache = 1},
                    {.nodes = 1024,
                     .ranks_per_node = 16,
                     .funcs = 2000,
                     .cache = 1,
                     .bump = 1000000,
                     .swap_ties = 1}};
    ct_opts_t o;
    char *ct_argv[] = {"clustertop", NULL};
    if (ct_opts_parse(&o, 1, ct_argv) != 0)
        return 1;
    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    char err[256];
    crt_t *crt = crt_open("xterm-256color", out, in, 0, err, sizeof(err));
    if (!crt) {
        fprintf(stderr, "bench_tui: %s\n", err);
        return 1;
    }
    int w = 200, h = 60;
    printf("clustertop frames: 1024 nodes x 16 ranks, 2000 functions, %dx%d, median of %d\n", w, h,
           FRAMES);
    double worst = 0;
    for (size_t v = 0; v < sizeof(views) / sizeof(views[0]); v++) {
        app_t *a = app_new(&o, synth_ask, &s[0], w, h, 1);
        if (app_open_view(a, views[v].view, views[v].tab, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_tui: %s\n", err);
            return 1;
        }
        double t[FRAMES];
        for (int f = -5; f < FRAMES; f++) {
            a->env.m->ctx = &s[(f + 10) & 1];
            uint64_t t0 = now_ns();
            app_fetch(a);
            app_draw(a);
            crt_show(crt, a->env.cv);
            uint64_t t1 = now_ns();
            if (f >= 0)
                t[f] = (double)(t1 - t0) / 1e6;
            app_act(a, (f & 1) ? ACT_DOWN : ACT_UP); /* the selection moves */
        }
        qsort(t, FRAMES, sizeof(t[0]), cmp_d);
        double med = t[FRAMES / 2];
        printf("  %-10s median %7.3f ms  min %7.3f  max %7.3f\n", views[v].name, med, t[0],
               t[FRAMES - 1]);
        printf("BENCH tui_frame_ms_%s %.3f ms\n", views[v].name, med);
        if (med > worst)
            worst = med;
        if (getenv("BENCH_TUI_SHOW")) /* the last frame, to see what was measured */
            canvas_print(a->env.cv, stderr);
        app_destroy(&a);
    }
    printf("BENCH tui_frame_ms %.3f ms\n", worst);
    crt_close(&crt);
    fclose(out);
    fclose(in);
    synth_free(&s[0]);
    synth_free(&s[1]);
    return 0;
}
