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

int main(void)
{
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
    char *argv[] = {"clustertop", NULL};
    if (ct_opts_parse(&o, 1, argv) != 0)
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
