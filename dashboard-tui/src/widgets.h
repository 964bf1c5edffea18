/*
 * widgets.h - the pieces screens are drawn with: a table of columns over
 * a sortable list (columns drop in priority order when the width is
 * short), and a heat level for a value. Draws into a canvas; no curses.
 */
#ifndef CT_WIDGETS_H
#define CT_WIDGETS_H

#include <stddef.h>

#include "canvas.h"
#include "model.h"

typedef struct tcol {
    const char *title;
    int width; /* fixed width; 0: flexible (shares what is left) */
    int minw;  /* a flexible column's least width */
    int prio;  /* columns with the lowest priority go first when narrow */
    int right; /* right-aligned */
    int sortable;
    int cut_left; /* text too long loses its start (file paths) */
} tcol_t;

/* A cell's text (into buf) for `width` columns; returns its role
 * (ROLE_NORMAL for the row's own). */
typedef int (*tcell_fn)(const void *item, int col, char *buf, size_t n, int width, const void *ctx);

typedef struct table_spec {
    const tcol_t *cols;
    int ncols;
    tcell_fn cell;
    const void *ctx;
    int sort_col, reverse;
} table_spec_t;

/* Widths of the columns that fit in `w` (0: hidden). Returns how many show. */
int table_layout(const tcol_t *cols, int n, int w, int *widths);
/* Draw the column titles at y and the list's rows below, at most h - 1
 * of them, the selection highlighted. Returns the rows shown (for
 * mlist_scroll). */
int table_draw(canvas_t *cv, int y, int x, int w, int h, const table_spec_t *t, mlist_t *l);
/* The next sortable column in direction dir (+1 / -1) that is shown at
 * width w (w <= 0: any). */
int table_next_sort(const tcol_t *cols, int n, int cur, int dir, int w);

/* The heat role of v in [0, max]. */
int heat_role(double v, double max);
/* A heat character (shade) for the same level, for terminals without colour. */
uint32_t heat_glyph(const canvas_t *cv, double v, double max);

/* Mark row y as the selection: its role, and '>' in its first cell when
 * that is blank (so that the selection shows without attributes too). */
void mark_selected(canvas_t *cv, int y, int x, int w);
/* Text cut to `w` columns with '~' at the end, into buf. */
char *fit_text(const char *s, int w, char *buf, size_t n);
/* The same, cut at the start ('~' first). */
char *fit_text_left(const char *s, int w, char *buf, size_t n);

#endif /* CT_WIDGETS_H */
