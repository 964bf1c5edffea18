/* test_tui_app.c - clustertop without a terminal: the model (stable
 * order, a selection that follows its row, the threshold), the columns
 * that drop on a narrow screen, the canvas, and the app driven by actions
 * and keys against a synthetic source (what it asks, what it draws, the
 * drill-down and back, control with its acknowledgement, export, a source
 * that stops answering and comes back), and the curses wrapper on a
 * terminal that is a file (colours, NO_COLOR). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "canvas.h"
#include "check.h"
#include "crt.h"
#include "fmt.h"
#include "keys.h"
#include "model.h"
#include "synth_tui.h"
#include "widgets.h"

/* ---- helpers ------------------------------------------------------------------------- */

static char rowbuf[8192];

static const char *row(const app_t *a, int y)
{
    return canvas_row_text(a->env.cv, y, rowbuf, sizeof(rowbuf));
}

/* The first row containing `s` at or after row `from`, or -1. */
static int find_row(const app_t *a, const char *s, int from)
{
    for (int y = from; y < a->env.cv->h; y++)
        if (strstr(row(a, y), s))
            return y;
    return -1;
}

static void dump(const app_t *a)
{
    canvas_print(a->env.cv, stderr);
}

static int has(const app_t *a, const char *s)
{
    int y = find_row(a, s, 0);
    if (y < 0) {
        fprintf(stderr, "not on screen: '%s'\n", s);
        dump(a);
    }
    return y >= 0;
}

static void frame(app_t *a)
{
    app_fetch(a);
    app_draw(a);
}

static void keys(app_t *a, const char *s)
{
    for (; *s; s++)
        app_prompt_key(a, (unsigned char)*s);
}

static ct_opts_t opts_default(void)
{
    ct_opts_t o;
    char *argv[] = {"clustertop", "-b", NULL};
    CHECK(ct_opts_parse(&o, 2, argv) == 0);
    return o;
}

/* ---- fmt, canvas, widgets, lists --------------------------------------------------------- */

static void test_fmt(void)
{
    char b[64];
    CHECK(strcmp(fmt_sec(b, sizeof(b), 1234567890, 9), "1.235") == 0);
    CHECK(strcmp(fmt_sec(b, sizeof(b), 123456789012345, 9), "123456.79") == 0);
    CHECK(strcmp(fmt_sec(b, sizeof(b), 123456789012345, 6), "123457") == 0);
    CHECK(strcmp(fmt_count(b, sizeof(b), 123456, 9), "123456") == 0);
    CHECK(strcmp(fmt_count(b, sizeof(b), 1234567890, 6), "1.23G") == 0);
    CHECK(strcmp(fmt_calls(b, sizeof(b), 12, 3, 9), "12/3") == 0);
    CHECK(strcmp(fmt_rate(b, sizeof(b), 1500000), "1.50M") == 0);
    CHECK(strcmp(fmt_bytes(b, sizeof(b), 2048), "2.00K") == 0);
    CHECK(strcmp(fmt_age(b, sizeof(b), 185), "3m05s") == 0);
}

static void test_canvas(void)
{
    canvas_t *cv = canvas_new(10, 3, 1);
    CHECK_EQ_I(canvas_put(cv, 0, 0, ROLE_NORMAL, "h\xc3\xa9llo world", -1), 10);
    char b[128];
    CHECK(strcmp(canvas_row_text(cv, 0, b, sizeof(b)), "h\xc3\xa9llo worl") == 0);
    CHECK_EQ_I(canvas_put(cv, 1, 8, ROLE_NORMAL, "abc", -1), 2);       /* clipped at the edge */
    CHECK_EQ_I(canvas_put(cv, 2, 0, ROLE_NORMAL, "a\x01\xff", -1), 3); /* controls, bad bytes */
    CHECK(strcmp(canvas_row_text(cv, 2, b, sizeof(b)), "a??") == 0);
    canvas_destroy(&cv);
    /* ASCII: no UTF-8 glyphs */
    cv = canvas_new(10, 1, 0);
    canvas_bar(cv, 0, 0, 4, 0.5, ROLE_BAR);
    canvas_put(cv, 0, 5, ROLE_NORMAL, "\xc3\xa9", -1);
    CHECK(strcmp(canvas_row_text(cv, 0, b, sizeof(b)), "##   ?") == 0);
    canvas_destroy(&cv);
    CHECK(strcmp(fit_text("abcdefgh", 5, b, sizeof(b)), "abcd~") == 0);
    CHECK(strcmp(fit_text_left("/long/path/file.py:12", 10, b, sizeof(b)), "file.py:12") == 0);
}

static void test_layout(void)
{
    /* columns go in priority order; the flexible ones share what is left */
    tcol_t cols[] = {{"A", 0, 10, 100, 0, 1, 0},
                     {"B", 8, 0, 50, 1, 1, 0},
                     {"C", 8, 0, 90, 1, 1, 0},
                     {"D", 0, 10, 20, 0, 1, 1}};
    int w[4];
    CHECK_EQ_I(table_layout(cols, 4, 80, w), 4);
    CHECK(w[0] > w[3] && w[1] == 8 && w[2] == 8 && w[0] + w[1] + w[2] + w[3] + 3 == 80);
    CHECK_EQ_I(table_layout(cols, 4, 30, w), 3);
    CHECK(w[3] == 0 && w[1] == 8 && w[2] == 8); /* D (prio 20) first */
    CHECK_EQ_I(table_layout(cols, 4, 20, w), 2);
    CHECK(w[1] == 0 && w[0] == 11 && w[2] == 8);       /* then B */
    CHECK_EQ_I(table_next_sort(cols, 4, 0, 1, 20), 2); /* B is hidden at 20 */
}

static int by_value(const void *x, const void *y, int col, const void *ctx)
{
    (void)col, (void)ctx;
    int a = *(const int *)x, b = *(const int *)y;
    return a < b ? 1 : a > b ? -1 : 0;
}

static void test_mlist(void)
{
    int v[4] = {5, 7, 5, 5};
    const char *keys_[4] = {"c", "a", "b", "d"};
    mlist_t l;
    mlist_init(&l, by_value, 0);
    for (int i = 0; i < 4; i++)
        mlist_add(&l, &v[i], keys_[i]);
    mlist_sort(&l);
    /* 7 first, then the three 5s by key: b c d */
    CHECK(strcmp(l.e[0].key, "a") == 0 && strcmp(l.e[1].key, "b") == 0 &&
          strcmp(l.e[2].key, "c") == 0 && strcmp(l.e[3].key, "d") == 0);
    mlist_move(&l, 2); /* on "c" */
    CHECK(strcmp(l.e[l.sel].key, "c") == 0);
    /* next refresh: "c" grows to the top; the selection goes with it */
    v[0] = 9;
    mlist_clear(&l);
    for (int i = 0; i < 4; i++)
        mlist_add(&l, &v[i], keys_[i]);
    mlist_sort(&l);
    CHECK_EQ_I(l.sel, 0);
    CHECK(strcmp(l.e[0].key, "c") == 0);
    /* the selected row is gone: the position stays, bounded */
    mlist_end(&l);
    mlist_clear(&l);
    mlist_add(&l, &v[1], "a");
    mlist_sort(&l);
    CHECK_EQ_I(l.sel, 0);
    mlist_free(&l);
}

/* ---- the app against a synthetic source ------------------------------------------------- */

static void test_cluster_top(void)
{
    synth_t s = {.nodes = 4, .ranks_per_node = 4, .funcs = 30};
    ct_opts_t o = opts_default();
    app_t *a = app_new(&o, synth_ask, &s, 160, 50, 1);
    frame(a);
    CHECK(has(a, "collector")); /* the header */
    CHECK(has(a, "nodes 4 up") && has(a, "ranks 16") && has(a, "lost 0"));
    CHECK(has(a, "30 functions (30 shown)"));
    int y0 = find_row(a, "f000", 0), y1 = find_row(a, "f001", 0), y3 = find_row(a, "f003", 0),
        y4 = find_row(a, "f004", 0);
    CHECK(y0 > 0 && y1 == y0 + 1 && y3 > y1 && y4 == y3 + 1); /* by cumtime, ties by name */
    /* the numbers as answered: f000 cumtime 30 ms, tottime 15 ms, 1000 calls, IMB, slowest */
    const char *r0 = row(a, y0);
    CHECK(strstr(r0, " 1000 ") && strstr(r0, "0.015") && strstr(r0, "0.030") &&
          strstr(r0, "/app/mod0.py:10") && strstr(r0, "r0@node0000"));
    CHECK(strncmp(row(a, find_row(a, "MPI_Call9", 0)), " M MPI_Call9", 12) == 0); /* markers */
    CHECK(strncmp(row(a, find_row(a, "c8>", 0)), " c <built-in method c8>", 23) == 0);
    CHECK(strncmp(row(a, y0), ">  f000", 7) == 0); /* the selection, then the marker */
    CHECK_EQ_I(s.q[ULMA__WIRE__KIND__TOP].level, ULMA__WIRE__SCOPE__LEVEL__CLUSTER);
    CHECK(strcmp(s.q[ULMA__WIRE__KIND__TOP].sort, "cumulative") == 0);
    CHECK_EQ_I(s.q[ULMA__WIRE__KIND__TOP].window, 5);

    /* the selection follows its function when the order changes */
    app_act(a, ACT_DOWN);
    app_act(a, ACT_DOWN); /* on f002 */
    s.swap_ties = 1;      /* f001 and f002 change places */
    frame(a);
    int y2 = find_row(a, "f002", 0);
    CHECK(y2 == y0 + 1 && row(a, y2)[0] == '>' && find_row(a, "f001", 0) == y0 + 2);

    /* sort: < from CUMTIME is TOTTIME, asked of the server */
    app_act(a, ACT_SORT_PREV);
    frame(a);
    CHECK(strcmp(s.q[ULMA__WIRE__KIND__TOP].sort, "tottime") == 0);
    CHECK(has(a, "TOTTIMEv"));
    /* a column only we sort: %CPU (rate_tottime grows with i: f029 first) */
    for (int i = 0; i < 6; i++)
        app_act(a, ACT_SORT_NEXT);
    frame(a);
    CHECK(has(a, "%CPUv"));
    CHECK(strcmp(s.q[ULMA__WIRE__KIND__TOP].sort, "cumulative") == 0);
    CHECK(find_row(a, "MPI_Call29", 0) < find_row(a, "f000", 0));

    /* the filter is asked of the server */
    app_act(a, ACT_FILTER);
    CHECK(a->prompt.kind == PROMPT_FILTER);
    keys(a, "f01");
    app_prompt_key(a, K_ENTER);
    frame(a);
    CHECK(strcmp(s.q[ULMA__WIRE__KIND__TOP].filter, "f01") == 0);
    CHECK(has(a, "filter 'f01'") && find_row(a, "f000", 4) < 0 && has(a, "f012"));
    app_act(a, ACT_FILTER);
    app_prompt_key(a, K_CTRL('u'));
    app_prompt_key(a, K_ENTER);

    /* the threshold hides rows below it: f000 is 100%, f029 3.3% */
    a->env.threshold = 50;
    frame(a);
    CHECK(has(a, "f000") && find_row(a, "f029", 4) < 0);
    a->env.threshold = 0;
    app_destroy(&a);
}

static void test_narrow_and_losses(void)
{
    synth_t s = {.nodes = 2, .ranks_per_node = 2, .funcs = 10, .lost = 12};
    ct_opts_t o = opts_default();
    app_t *a = app_new(&o, synth_ask, &s, 60, 30, 0);
    frame(a);
    CHECK(has(a, "lost 12!"));
    CHECK(has(a, "12 records lost (! = incomplete)"));
    int h = find_row(a, "FUNCTION", 0);
    CHECK(h > 0 && strstr(row(a, h), "CUMTIME") && !strstr(row(a, h), "FILE:LINE") &&
          !strstr(row(a, h), "CALLS/S"));
    CHECK(strstr(row(a, find_row(a, "f000", 0)), "0.010!")); /* numbers marked */
    /* ASCII: the sparkline in plain characters */
    for (int x = 0; x < a->env.cv->w; x++)
        CHECK(canvas_at(a->env.cv, 0, x)->ch < 0x80);
    app_destroy(&a);
}

static void test_drill_down(void)
{
    synth_t s = {.nodes = 3,
                 .ranks_per_node = 2,
                 .funcs = 12,
                 .control_applied = 1,
                 .recent_error = "RECENT: this agent keeps no window of recent objects yet"};
    ct_opts_t o = opts_default();
    app_t *a = app_new(&o, synth_ask, &s, 150, 40, 1);
    frame(a);
    /* a function's detail */
    app_act(a, ACT_ENTER);
    frame(a);
    CHECK_EQ_I(a->depth, 2);
    CHECK(strcmp(s.q[ULMA__WIRE__KIND__FUNCTION].func, "/app/mod0.py:10(f000)") == 0);
    CHECK(has(a, "cluster > function f000") && has(a, "over 6 ranks") && has(a, "max/mean"));
    app_act(a, ACT_TAB_NEXT);
    frame(a);
    CHECK(has(a, "<- /app/main.py:1(main)") && has(a, "-> ~:0(MPI_Call9)"));
    app_act(a, ACT_TAB_NEXT);
    frame(a);
    CHECK(has(a, "main > f000"));
    app_act(a, ACT_BACK);
    frame(a);
    CHECK_EQ_I(a->depth, 1);

    /* nodes, a node's ranks, a rank, its threads */
    app_act(a, ACT_TAB2);
    frame(a);
    CHECK(has(a, "3 nodes") && has(a, "node0002"));
    CHECK(row(a, find_row(a, "node0000", 3))[0] == '>');
    app_act(a, ACT_DOWN);
    app_act(a, ACT_ENTER);
    frame(a);
    CHECK(has(a, "cluster > node node0001"));
    CHECK_EQ_I(s.q[ULMA__WIRE__KIND__RANKS].level, ULMA__WIRE__SCOPE__LEVEL__NODE);
    CHECK(strcmp(s.q[ULMA__WIRE__KIND__RANKS].node, "node0001") == 0);
    CHECK(has(a, "2 processes") && has(a, "1002") && has(a, "1003"));

    /* profiling off for the selected rank: asked, confirmed, acknowledged */
    app_act(a, ACT_CONTROL);
    CHECK(a->prompt.kind == PROMPT_CONTROL_MODE);
    app_prompt_key(a, 'o');
    CHECK(a->prompt.kind == PROMPT_CONTROL_CONFIRM);
    uint32_t before = s.q[ULMA__WIRE__KIND__CONTROL].n;
    app_prompt_key(a, 'n'); /* no: nothing is sent */
    CHECK_EQ_I(s.q[ULMA__WIRE__KIND__CONTROL].n, before);
    app_act(a, ACT_CONTROL);
    app_prompt_key(a, 'o');
    app_prompt_key(a, 'y');
    CHECK_EQ_I(s.q[ULMA__WIRE__KIND__CONTROL].n, before + 1);
    CHECK_EQ_I(s.q[ULMA__WIRE__KIND__CONTROL].level, ULMA__WIRE__SCOPE__LEVEL__RANK);
    CHECK_EQ_I(s.q[ULMA__WIRE__KIND__CONTROL].pid, 1002);
    CHECK_EQ_I(s.q[ULMA__WIRE__KIND__CONTROL].mode, 0);
    frame(a);
    CHECK(has(a, "profiling of rank 2 (node0001 pid 1002) -> off: applied by 1 of 1"));

    app_act(a, ACT_ENTER); /* the rank */
    frame(a);
    CHECK_EQ_I(a->depth, 3);
    CHECK(has(a, "> rank 2 (node0001 pid 1002)"));
    CHECK_EQ_I(s.q[ULMA__WIRE__KIND__TOP].level, ULMA__WIRE__SCOPE__LEVEL__RANK);
    CHECK_EQ_I(s.q[ULMA__WIRE__KIND__TOP].pid, 1002);
    app_act(a, ACT_TAB2);
    frame(a);
    CHECK(has(a, "thread 500 MainThread") && has(a, "thread 501 worker"));
    int yl2 = find_row(a, "(level2)", 0), yl0 = find_row(a, "(level0)", 0);
    CHECK(yl0 > 0 && yl2 > yl0); /* outermost first */
    app_act(a, ACT_ENTER);       /* one thread */
    frame(a);
    CHECK(has(a, "one thread: Esc for all") && find_row(a, "worker", 0) < 0);
    app_act(a, ACT_BACK);
    frame(a);
    CHECK_EQ_I(a->depth, 3);
    CHECK(has(a, "worker"));
    app_act(a, ACT_TAB3);
    frame(a);
    CHECK(has(a, "app.Particle") && has(a, "constructions per constructing function"));
    app_act(a, ACT_TAB4);
    frame(a);
    CHECK(has(a, "MPI_Allreduce"));
    app_act(a, ACT_TAB5);
    frame(a);
    CHECK(has(a, "recent object constructions: not available here") &&
          has(a, "keeps no window of recent objects yet"));
    s.recent_error = NULL;
    frame(a);
    CHECK(has(a, "30 recent object constructions") && has(a, "app.Particle 10"));

    /* export of the rank */
    char path[256];
    snprintf(path, sizeof(path), "/tmp/tui-export-%d.pstats", (int)getpid());
    app_act(a, ACT_EXPORT);
    app_prompt_key(a, 'p');
    CHECK(a->prompt.kind == PROMPT_EXPORT_FILE);
    app_prompt_key(a, K_CTRL('u'));
    keys(a, path);
    app_prompt_key(a, K_ENTER);
    CHECK(strcmp(s.q[ULMA__WIRE__KIND__EXPORT].format, "pstats") == 0);
    CHECK_EQ_I(s.q[ULMA__WIRE__KIND__EXPORT].pid, 1002);
    FILE *f = fopen(path, "r");
    char got[64] = "";
    CHECK(f && fgets(got, sizeof(got), f));
    fclose(f);
    unlink(path);
    CHECK(strcmp(got, "exported-profile\n") == 0);

    app_act(a, ACT_BACK);
    app_act(a, ACT_BACK);
    CHECK_EQ_I(a->depth, 1);
    CHECK(app_act(a, ACT_QUIT) & RX_QUIT);
    app_destroy(&a);
}

static void test_source_gone(void)
{
    synth_t s = {.nodes = 1, .ranks_per_node = 1, .funcs = 5};
    ct_opts_t o = opts_default();
    app_t *a = app_new(&o, synth_ask, &s, 140, 30, 1);
    frame(a);
    CHECK(has(a, "f000"));
    s.fail = 1;
    s.bump = 1000000000;
    frame(a);
    CHECK(has(a, "NO ANSWER") && has(a, "no answer from synth"));
    CHECK(has(a, "f000") && has(a, "0.005")); /* the last data, kept */
    frame(a);
    CHECK(has(a, "(2 tries)"));
    s.fail = 0;
    a->env.batch = 0; /* the status line shows the message */
    frame(a);
    CHECK(find_row(a, "NO ANSWER", 0) < 0 && has(a, "answers again"));
    CHECK(has(a, "1.005")); /* new numbers */
    app_destroy(&a);
}

static void test_views_by_name(void)
{
    synth_t s = {.nodes = 2, .ranks_per_node = 2, .funcs = 8};
    ct_opts_t o = opts_default();
    char err[256];
    app_t *a = app_new(&o, synth_ask, &s, 140, 40, 1);
    CHECK(app_open_view(a, "rank:node0001/1003", "threads", err, sizeof(err)) == 0);
    frame(a);
    CHECK_EQ_I(s.q[ULMA__WIRE__KIND__STACKS].pid, 1003);
    CHECK(strcmp(s.q[ULMA__WIRE__KIND__STACKS].node, "node0001") == 0);
    CHECK(app_open_view(a, "rank:node0001/1003", "bogus", err, sizeof(err)) != 0);
    CHECK(strstr(err, "threads"));
    CHECK(app_open_view(a, "frob", NULL, err, sizeof(err)) != 0);
    app_destroy(&a);
    a = app_new(&o, synth_ask, &s, 140, 40, 1);
    CHECK(app_open_view(a, "imbalance", NULL, err, sizeof(err)) == 0);
    frame(a);
    CHECK(has(a, "8 functions x 4 ranks") && has(a, "scale:"));
    app_destroy(&a);
}

static void test_keys(void)
{
    CHECK(keys_action('q') == ACT_QUIT && keys_action(K_ENTER) == ACT_ENTER &&
          keys_action(K_ESC) == ACT_BACK && keys_action(K_BACKSPACE) == ACT_BACK &&
          keys_action('<') == ACT_SORT_PREV && keys_action(K_F6) == ACT_SORT_NEXT &&
          keys_action('/') == ACT_FILTER && keys_action(' ') == ACT_PAUSE &&
          keys_action('d') == ACT_DELAY && keys_action('h') == ACT_HELP &&
          keys_action('?') == ACT_HELP && keys_action(K_PGDN) == ACT_PGDN &&
          keys_action(K_HOME) == ACT_HOME && keys_action('p') == ACT_CONTROL &&
          keys_action('e') == ACT_EXPORT && keys_action('t') == ACT_THRESHOLD);
    CHECK(keys_action('Z') == ACT_NONE);
    const char *k, *w;
    int n = 0;
    while (keys_help_line(n, &k, &w))
        n++;
    CHECK(n > 15);
}

static void test_crt(void)
{
    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    char err[256];
    unsetenv("NO_COLOR");
    crt_t *c = crt_open("xterm-256color", out, in, 0, err, sizeof(err));
    CHECK(c && crt_has_color(c));
    canvas_t *cv = canvas_new(80, 24, 1);
    canvas_put(cv, 0, 0, ROLE_WARN, "hello \xe2\x96\x88", -1);
    crt_show(c, cv);
    crt_close(&c);
    setenv("NO_COLOR", "1", 1);
    c = crt_open("xterm-256color", out, in, 0, err, sizeof(err));
    CHECK(c && !crt_has_color(c));
    crt_close(&c);
    unsetenv("NO_COLOR");
    c = crt_open("vt100", out, in, 0, err, sizeof(err));
    CHECK(c && !crt_has_color(c)); /* a terminal without colours */
    crt_close(&c);
    c = crt_open("xterm-256color", out, in, 1, err, sizeof(err)); /* --no-color */
    CHECK(c && !crt_has_color(c));
    crt_close(&c);
    canvas_destroy(&cv);
    fclose(out);
    fclose(in);
}

int main(void)
{
    RUN(test_fmt);
    RUN(test_canvas);
    RUN(test_layout);
    RUN(test_mlist);
    RUN(test_keys);
    RUN(test_cluster_top);
    RUN(test_narrow_and_losses);
    RUN(test_drill_down);
    RUN(test_source_gone);
    RUN(test_views_by_name);
    RUN(test_crt);
    fprintf(stderr, "test_tui_app: ok\n");
    return 0;
}
