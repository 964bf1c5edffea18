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
#include "view.h"

typedef struct app app_t;

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
    view_env_t env; /* what the views see: options, model, canvas, filter, ... */
    screen_t *stack[APP_DEPTH];
    int depth;
    char source[600]; /* "collector tcp://..." */
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
