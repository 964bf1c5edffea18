/*
 * crt.h - the terminal: the only module that calls curses. Opens the
 * screen (on the process's terminal, or on any pair of streams with
 * newterm), turns roles into colours or, without colours (a terminal
 * that has none, NO_COLOR, --no-color), into bold, reverse, underline
 * and dim; copies a canvas to the screen; reads keys with a timeout.
 */
#ifndef CT_CRT_H
#define CT_CRT_H

#include <stddef.h>
#include <stdio.h>

#include "canvas.h"

typedef struct crt crt_t;

/* Open the screen on `out`/`in` (NULL: stdout/stdin) for terminal type
 * `term` (NULL: $TERM). NULL with a message in err. Caller owns the
 * return value; crt_close gives the terminal back. */
crt_t *crt_open(const char *term, FILE *out, FILE *in, int no_color, char *err, size_t n);
void crt_close(crt_t **c_p);

void crt_size(const crt_t *c, int *w, int *h);
int crt_has_color(const crt_t *c);
/* Copy the canvas to the screen and show it. */
void crt_show(crt_t *c, const canvas_t *cv);
/* The next key (keys.h) within timeout_ms (< 0: wait), K_NONE if none,
 * K_RESIZE after the terminal changed size (crt_size has the new one). */
int crt_key(crt_t *c, int timeout_ms);
/* Forget what the terminal shows: the next crt_show draws everything. */
void crt_redraw(crt_t *c);

#endif /* CT_CRT_H */
