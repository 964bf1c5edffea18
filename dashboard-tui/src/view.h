/*
 * view.h - what clustertop's views (views_*.c) and the app that shows them
 * (app.c) share: actions and the reactions to them, targets, screens, the
 * view class, and the view's environment (view_env_t). The views call
 * nothing of the app: a drill-down is asked for with view_push and done by
 * the app after the action.
 */
#ifndef CT_VIEW_H
#define CT_VIEW_H

#include <stdint.h>

#include "canvas.h"
#include "model.h"
#include "opts.h"
#include "profile/util.h"

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

typedef enum screen_kind { SCR_ROOT, SCR_NODE, SCR_JOB, SCR_RANK, SCR_FUNCTION } screen_kind_t;

/* What a view sees of the program: the options, the model, the canvas,
 * what the person set; and where it leaves a drill-down it asks for. */
typedef struct view_env {
    const ct_opts_t *o;
    model_t *m;
    canvas_t *cv;
    int agent;        /* talking to one node agent */
    int batch;        /* batch mode (no terminal) */
    char filter[256]; /* what the person set */
    double threshold; /* % below which function rows are hidden */
    /* a screen to open once the action is done (view_push) */
    struct {
        int set;
        screen_kind_t kind;
        target_t t;
        char func[1024];
    } push;
} view_env_t;

/* Ask for screen `kind` of target `t` (copied; for SCR_FUNCTION, of
 * function `func`, copied) to be opened once the current action is done:
 * the app opens it, the view returns its reaction as usual. */
void view_push(view_env_t *e, screen_kind_t kind, const target_t *t, const char *func);

typedef struct view_class {
    const char *name;  /* the tab's title */
    const char *batch; /* its name for --tab */
    void (*fetch)(view_t *v, view_env_t *a);
    void (*draw)(view_t *v, view_env_t *a, canvas_t *cv, int y, int h);
    reaction_t (*act)(view_t *v, view_env_t *a, action_t act);
    /* the selection control and export act on; NULL: the screen's scope */
    int (*target)(view_t *v, view_env_t *a, target_t *t);
    /* the view's answers, for --json */
    void (*json)(view_t *v, view_env_t *a, jw_t *w);
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

#define SCREEN_TABS 6

struct screen {
    screen_kind_t kind;
    target_t t;      /* its scope */
    char func[1024]; /* SCR_FUNCTION: the function's standard name */
    char name[512];  /* in the breadcrumb */
    view_t *tab[SCREEN_TABS];
    int ntabs, cur;
};

#endif /* CT_VIEW_H */
