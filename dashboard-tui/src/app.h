/*
 * app.h - clustertop's state: options, the model, the stack of screens
 * (a screen is a scope and its tabs; each tab is a view), the line
 * editor for prompts, the message line; and the interactive and batch
 * loops.
 *
 * A view is a small class (view_class_t): fetch the answers it shows,
 * draw them into a canvas, act on the actions the key bindings produce
 * (keys.c), each action returning reaction flags that say what must
 * happen next (redraw, fetch again, go back, quit).
 */
#ifndef CT_APP_H
#define CT_APP_H

#include <stdint.h>

#include "canvas.h"
#include "model.h"
#include "opts.h"
#include "profile/util.h"

typedef struct app app_t;
typedef struct view view_t;
typedef struct screen screen_t;

/* What an action asks for next. */
typedef unsigned reaction_t;
#define RX_NONE 0u
#define RX_REDRAW 1u  /* draw again */
#define RX_REFETCH 2u /* ask again now (and draw) */
#define RX_QUIT 4u
#define RX_HANDLED 8u /* a view took the action */

typedef enum action {
    ACT_NONE = 0,
    ACT_QUIT,
    ACT_HELP,
    ACT_UP,
    ACT_DOWN,
    ACT_PGUP,
    ACT_PGDN,
    ACT_HOME,
    ACT_END,
    ACT_LEFT,
    ACT_RIGHT,
    ACT_ENTER,
    ACT_BACK,
    ACT_SORT_PREV,
    ACT_SORT_NEXT,
    ACT_SORT_MENU,
    ACT_SORT_REVERSE,
    ACT_FILTER,
    ACT_PAUSE,
    ACT_DELAY,
    ACT_WINDOW,
    ACT_THRESHOLD,
    ACT_CONTROL,
    ACT_EXPORT,
    ACT_TAB_NEXT,
    ACT_TAB_PREV,
    ACT_TAB1,
    ACT_TAB2,
    ACT_TAB3,
    ACT_TAB4,
    ACT_TAB5,
    ACT_TAB6,
    ACT_REFRESH,
    ACT_REDRAW,
    ACT_COUNT
} action_t;

/* What profiling control and export act on. */
typedef struct target {
    Ulma__Wire__Scope scope; /* strings point into the fields below */
    char node[256], job[256];
    char label[300]; /* "rank 3 (n1/1234)", "node n1", "the cluster" */
    int objects;     /* the target's object wedges are on now (a rank) */
} target_t;

void target_cluster(target_t *t);
void target_node(target_t *t, const char *node);
void target_job(target_t *t, const char *job);
void target_rank(target_t *t, const char *node, int32_t pid, uint64_t start, int32_t rank,
                 const char *job);
/* A copy of t's scope whose strings point into `t` (after a struct copy). */
void target_fix(target_t *t);

typedef struct view_class {
    const char *name;  /* the tab's title */
    const char *batch; /* its name for --tab */
    void (*fetch)(view_t *v, app_t *a);
    void (*draw)(view_t *v, app_t *a, canvas_t *cv, int y, int h);
    reaction_t (*act)(view_t *v, app_t *a, action_t act);
    /* the selection control and export act on; NULL: the screen's scope */
    int (*target)(view_t *v, app_t *a, target_t *t);
    /* the view's answers, for --json */
    void (*json)(view_t *v, app_t *a, jw_t *w);
    void (*destroy)(view_t *v);
} view_class_t;

#define VIEW_FEEDS 4

struct view {
    const view_class_t *cls;
    screen_t *scr;
    feed_t feed[VIEW_FEEDS];
    mlist_t list;
    int visible; /* rows of the list shown at the last draw */
    int inited;  /* set by the class at its first use */
    void *priv;
};

typedef enum screen_kind { SCR_ROOT, SCR_NODE, SCR_JOB, SCR_RANK, SCR_FUNCTION } screen_kind_t;

#define SCREEN_TABS 6

struct screen {
    screen_kind_t kind;
    target_t t;      /* its scope */
    char func[1024]; /* SCR_FUNCTION: the function's standard name */
    char name[512];  /* in the breadcrumb */
    view_t *tab[SCREEN_TABS];
    int ntabs, cur;
};

/* The prompt: one line edited at the bottom. */
typedef enum prompt_kind {
    PROMPT_NONE,
    PROMPT_FILTER,
    PROMPT_DELAY,
    PROMPT_WINDOW,
    PROMPT_THRESHOLD,
    PROMPT_CONTROL_MODE,
    PROMPT_CONTROL_CONFIRM,
    PROMPT_EXPORT_FORMAT,
    PROMPT_EXPORT_FILE,
    PROMPT_SORT,
} prompt_kind_t;

typedef struct prompt {
    prompt_kind_t kind;
    char label[400];
    char text[512];
    int len;
    int choice; /* menus: what was chosen */
} prompt_t;

#define APP_DEPTH 16

struct app {
    const ct_opts_t *o;
    model_t *m;
    screen_t *stack[APP_DEPTH];
    int depth;
    canvas_t *cv;
    char source[600]; /* "collector tcp://..." */
    int agent;        /* talking to one node agent */
    /* what the person set */
    char filter[256];
    double threshold; /* % below which function rows are hidden */
    double delay;
    int paused;
    int help;     /* the help page is shown */
    int help_top; /* its scroll */
    prompt_t prompt;
    target_t pending;      /* control or export target being confirmed */
    uint32_t pending_mode; /* control: mode | objects << 8 */
    char pending_fmt[16];
    char msg[600];
    int msg_role;
    uint64_t msg_until;
    uint64_t frame;
    int batch;
    int quit;
};

/* Screens. */
screen_t *app_push(app_t *a, screen_kind_t kind, const target_t *t, const char *func);
void app_pop(app_t *a);
screen_t *app_screen(const app_t *a);
view_t *app_view(const app_t *a);

/* A message on the status line for a few seconds. */
void app_message(app_t *a, int role, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Draw the whole frame (header, breadcrumb and tabs, the view, the
 * status line) into a->cv. */
void app_draw(app_t *a);
/* Fetch what the frame shows: the summary and the current view. */
void app_fetch(app_t *a);
/* React to one action (the key bindings' output). */
reaction_t app_act(app_t *a, action_t act);
/* A key while a prompt is open. */
reaction_t app_prompt_key(app_t *a, int key);

/* Open the screen --view names (and --tab). 0, or -1 with a message. */
int app_open_view(app_t *a, const char *view, const char *tab, char *err, size_t n);

/* The program: interactive (curses) or batch. Exit status. */
int app_run(const ct_opts_t *o);

/* For tests and the benchmark: an app over any source, drawing into a
 * canvas of w x h. */
app_t *app_new(const ct_opts_t *o, model_ask_fn ask, void *ctx, int w, int h, int utf8);
void app_destroy(app_t **a_p);

#endif /* CT_APP_H */
