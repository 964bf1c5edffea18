/* keys.c - the key bindings. */
#include "keys.h"

#include <stddef.h>

#define MAX_BINDINGS 96

typedef struct binding {
    int key;
    action_t act;
} binding_t;

typedef struct help_line {
    const char *keys, *what;
} help_line_t;

static binding_t bindings[MAX_BINDINGS];
static int nbindings;
static help_line_t help[48];
static int nhelp;

static void bind(int key, action_t act)
{
    if (nbindings < MAX_BINDINGS)
        bindings[nbindings++] = (binding_t){key, act};
}

static void describe(const char *keys, const char *what)
{
    if (nhelp < (int)(sizeof(help) / sizeof(help[0])))
        help[nhelp++] = (help_line_t){keys, what};
}

void keys_bind(void)
{
    if (nbindings)
        return;
    bind('q', ACT_QUIT);
    bind(K_F10, ACT_QUIT);
    describe("q F10", "quit");
    bind('h', ACT_HELP);
    bind('?', ACT_HELP);
    bind(K_F1, ACT_HELP);
    describe("h ? F1", "this help (Esc closes it)");
    bind(K_UP, ACT_UP);
    bind('k', ACT_UP);
    bind(K_DOWN, ACT_DOWN);
    bind('j', ACT_DOWN);
    describe("Up Down (k j)", "move the selection");
    bind(K_PGUP, ACT_PGUP);
    bind(K_PGDN, ACT_PGDN);
    describe("PgUp PgDn", "a page up or down");
    bind(K_HOME, ACT_HOME);
    bind(K_END, ACT_END);
    bind('g', ACT_HOME);
    bind('G', ACT_END);
    describe("Home End (g G)", "the first or last row");
    bind(K_ENTER, ACT_ENTER);
    describe("Enter", "drill in: a function's detail, a node, a job, a rank, one thread");
    bind(K_ESC, ACT_BACK);
    bind(K_BACKSPACE, ACT_BACK);
    bind(K_LEFT, ACT_BACK);
    describe("Esc Backspace Left", "back to where you came from");
    bind(K_TAB, ACT_TAB_NEXT);
    bind(K_RIGHT, ACT_TAB_NEXT);
    bind(K_BTAB, ACT_TAB_PREV);
    bind('1', ACT_TAB1);
    bind('2', ACT_TAB2);
    bind('3', ACT_TAB3);
    bind('4', ACT_TAB4);
    bind('5', ACT_TAB5);
    bind('6', ACT_TAB6);
    describe("Tab Shift-Tab Right 1-6", "the next, previous or n-th tab of this screen");
    bind('<', ACT_SORT_PREV);
    bind('>', ACT_SORT_NEXT);
    bind(K_F6, ACT_SORT_NEXT);
    describe("< > F6", "sort by the previous or next column (marked v)");
    bind('r', ACT_SORT_REVERSE);
    describe("r", "reverse the sort order");
    bind('/', ACT_FILTER);
    bind(K_F1 + 3, ACT_FILTER);
    describe("/ F4", "filter functions by name (empty: no filter)");
    bind(' ', ACT_PAUSE);
    describe("space", "pause or resume the refreshes");
    bind('d', ACT_DELAY);
    describe("d", "the delay between refreshes (seconds)");
    bind('w', ACT_WINDOW);
    describe("w", "the window rates are taken over (seconds)");
    bind('t', ACT_THRESHOLD);
    describe("t", "hide function rows below this % of the program time");
    bind('p', ACT_CONTROL);
    describe("p", "profiling off, fast or full for the selection (asks first)");
    bind('e', ACT_EXPORT);
    describe("e", "export this screen's profile: pstats, JSON, SVG flame graph, collapsed");
    bind(K_F5, ACT_REFRESH);
    bind(K_CTRL('l'), ACT_REDRAW);
    describe("F5 Ctrl-L", "ask again now");
}

action_t keys_action(int key)
{
    keys_bind();
    for (int i = 0; i < nbindings; i++)
        if (bindings[i].key == key)
            return bindings[i].act;
    return ACT_NONE;
}

int keys_help_line(int i, const char **keys, const char **what)
{
    keys_bind();
    if (i < 0 || i >= nhelp)
        return 0;
    *keys = help[i].keys;
    *what = help[i].what;
    return 1;
}
