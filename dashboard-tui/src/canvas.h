/*
 * canvas.h - the screen as a grid of cells (a character and a role),
 * drawn by every widget and screen, then copied to the terminal by crt
 * (crt.h) or printed as text (batch mode, tests). No curses here: what a
 * frame shows can be built, measured and checked without a terminal.
 *
 * A role says what a cell is (a heading, a C function, a warning, heat
 * level 3, ...); crt.c turns roles into colours, or into bold, reverse
 * and underline when there are no colours. Characters are Unicode code
 * points; a canvas made for a terminal without UTF-8 gets ASCII glyphs
 * from canvas_glyph() and shows '?' for what it cannot print.
 */
#ifndef CT_CANVAS_H
#define CT_CANVAS_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

typedef enum ct_role {
    ROLE_NORMAL = 0,
    ROLE_HEADER,     /* the header lines */
    ROLE_TITLE,      /* a section title */
    ROLE_TAB,        /* a tab's name */
    ROLE_TAB_ACTIVE, /* the tab shown */
    ROLE_COLHEAD,    /* table column titles */
    ROLE_SORTCOL,    /* the title of the sort column */
    ROLE_SELECTED,   /* the selected row */
    ROLE_DIM,        /* less important text */
    ROLE_WARN,       /* records lost, stale nodes, paused */
    ROLE_ERROR,      /* error answers, a peer gone */
    ROLE_GOOD,       /* acknowledgements, nodes up */
    ROLE_PY,         /* a Python function */
    ROLE_C,          /* a C function */
    ROLE_MPI,        /* an MPI call */
    ROLE_BAR,        /* bars: first series */
    ROLE_BAR2,       /* second series */
    ROLE_BAR3,       /* third series */
    ROLE_SPARK,      /* sparklines */
    ROLE_HEAT0,      /* heat map, coolest */
    ROLE_HEAT1,
    ROLE_HEAT2,
    ROLE_HEAT3,
    ROLE_HEAT4, /* hottest */
    ROLE_TYPE0, /* object types: eight distinct colours */
    ROLE_TYPE7 = ROLE_TYPE0 + 7,
    ROLE_STATUS, /* the bottom line */
    ROLE_KEY,    /* a key's name in help and hints */
    ROLE_COUNT
} ct_role_t;

typedef struct ct_cell {
    uint32_t ch; /* code point; 0: the right half of a wide character */
    uint8_t role;
} ct_cell_t;

typedef struct canvas {
    int w, h;
    int utf8; /* the terminal shows UTF-8 (else ASCII glyphs) */
    int used; /* rows below this one are empty (for printing) */
    ct_cell_t *cells;
} canvas_t;

/* Caller owns the return value. */
canvas_t *canvas_new(int w, int h, int utf8);
void canvas_destroy(canvas_t **cv_p);
/* New size; the content is cleared. */
void canvas_resize(canvas_t *cv, int w, int h);
void canvas_clear(canvas_t *cv);

/* Write UTF-8 text at (y, x), at most `maxw` columns (< 0: to the right
 * edge). Control characters and invalid bytes become '?'. Returns the
 * columns written. */
int canvas_put(canvas_t *cv, int y, int x, int role, const char *s, int maxw);
int canvas_printf(canvas_t *cv, int y, int x, int role, int maxw, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Right-aligned in `w` columns ending at x + w. */
int canvas_put_right(canvas_t *cv, int y, int x, int w, int role, const char *s);
/* Columns of UTF-8 text as canvas_put would write it. */
int canvas_text_width(const char *s);
/* `n` cells of character `ch` (a code point). */
void canvas_fill(canvas_t *cv, int y, int x, int n, int role, uint32_t ch);
/* Give `n` cells a role, their characters kept (the selected row). */
void canvas_set_role(canvas_t *cv, int y, int x, int n, int role);
const ct_cell_t *canvas_at(const canvas_t *cv, int y, int x);

/* Glyphs with ASCII stand-ins. */
typedef enum ct_glyph {
    GLYPH_BLOCK,  /* a full cell of a bar */
    GLYPH_LIGHT,  /* a light shade (the rest of a bar, heat level 1) */
    GLYPH_MEDIUM, /* heat level 2 */
    GLYPH_DARK,   /* heat level 3 */
    GLYPH_HLINE,  /* a rule */
    GLYPH_VLINE,
    GLYPH_DOT,      /* one event (nova) */
    GLYPH_ARROW,    /* "->" in a breadcrumb: one cell */
    GLYPH_ELLIPSIS, /* text cut short */
} ct_glyph_t;
uint32_t canvas_glyph(const canvas_t *cv, ct_glyph_t g);
/* Level 0..7 of a sparkline; a bar's fractional end (eighths 1..7). */
uint32_t canvas_spark(const canvas_t *cv, int level);
uint32_t canvas_eighth(const canvas_t *cv, int eighths);

/* A horizontal bar of `frac` (0..1) of `w` cells: full cells of `role`,
 * a fractional last cell (UTF-8), the rest blank. */
void canvas_bar(canvas_t *cv, int y, int x, int w, double frac, int role);
/* A sparkline of `n` values scaled to their maximum, the newest at the
 * right, in at most `w` cells. */
void canvas_sparkline(canvas_t *cv, int y, int x, int w, const float *v, int n, int role);

/* Rows 0 .. used-1 as text (UTF-8, or ASCII), trailing blanks cut. */
void canvas_print(const canvas_t *cv, FILE *out);
/* One row as text into buf (for tests): returns buf. */
char *canvas_row_text(const canvas_t *cv, int y, char *buf, size_t n);

#endif /* CT_CANVAS_H */
