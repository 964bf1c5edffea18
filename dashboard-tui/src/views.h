/*
 * views.h - every tab clustertop shows, each a view class (app.h), and
 * what they share: the list actions (move, sort), an answer's error
 * drawn in place of the view, the function-row columns.
 */
#ifndef CT_VIEWS_H
#define CT_VIEWS_H

#include "view.h"
#include "widgets.h"

extern const view_class_t view_top;       /* a scope's function table (TOP) */
extern const view_class_t view_nodes;     /* one row per node (NODES) */
extern const view_class_t view_jobs;      /* one row per job (JOBS) */
extern const view_class_t view_ranks;     /* a node's or a job's processes (RANKS) */
extern const view_class_t view_imbalance; /* functions x ranks heat map (IMBALANCE) */
extern const view_class_t view_threads;   /* a rank's threads and live stacks (STACKS) */
extern const view_class_t view_objects;   /* object statistics as bars (OBJECTS) */
extern const view_class_t view_mpi;       /* MPI calls, time in MPI per rank (MPI) */
extern const view_class_t view_nova;      /* recent object constructions (RECENT) */
extern const view_class_t view_franks;    /* a function across ranks (FUNCTION) */
extern const view_class_t view_edges;     /* its callers and callees (FUNCTION) */
extern const view_class_t view_paths;     /* its call paths (PATHS) */

/* Caller owns the return value. */
view_t *view_new(const view_class_t *cls, screen_t *scr);
void view_destroy(view_t **v_p);

/* ---- shared by the views ------------------------------------------------------------- */

/* Moves and sorting of v->list with columns `cols`: RX_HANDLED|RX_REDRAW
 * when the action was one of them, else RX_NONE. */
reaction_t view_list_act(view_t *v, action_t act, const tcol_t *cols, int ncols, int width);

/* If the feed has no good answer, draw why (the error answer, or that
 * nothing came yet) and return 1. */
int view_no_answer(const feed_t *f, canvas_t *cv, int y, int h, const char *what);

/* The rows the view may show at height h, for a fetch's limit. */
uint32_t view_want_rows(const view_t *v, const view_env_t *a);

/* A line of the answer's age when it is older than the last attempt. */
void view_stale_note(const feed_t *f, canvas_t *cv, int y);

/* Each Reply the view holds, as {"KIND": Reply} members of an open
 * object (--json). */
void view_json_feeds(view_t *v, jw_t *w, const char *const *names);

/* A hash of a type name into ROLE_TYPE0..7. */
int type_role(const char *name);

#endif /* CT_VIEWS_H */
