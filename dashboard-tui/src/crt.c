/* crt.c - curses, wrapped. */
#define _GNU_SOURCE
#define NCURSES_WIDECHAR 1
#include "crt.h"

#include <curses.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "keys.h"
#include "profile/util.h"

struct crt {
    SCREEN *scr;
    int color;
    attr_t attr[ROLE_COUNT];
};

/* Roles as colours (foreground, background, extra attributes). */
static void roles_color(crt_t *c)
{
    static const struct {
        int role;
        short fg, bg;
        attr_t extra;
    } map[] = {
        {ROLE_HEADER, COLOR_WHITE, -1, A_BOLD},
        {ROLE_TITLE, COLOR_CYAN, -1, A_BOLD},
        {ROLE_TAB, COLOR_WHITE, COLOR_BLUE, 0},
        {ROLE_TAB_ACTIVE, COLOR_BLACK, COLOR_CYAN, A_BOLD},
        {ROLE_COLHEAD, COLOR_BLACK, COLOR_GREEN, 0},
        {ROLE_SORTCOL, COLOR_BLACK, COLOR_CYAN, A_BOLD},
        {ROLE_SELECTED, COLOR_BLACK, COLOR_CYAN, 0},
        {ROLE_DIM, COLOR_BLUE, -1, A_BOLD},
        {ROLE_WARN, COLOR_YELLOW, -1, A_BOLD},
        {ROLE_ERROR, COLOR_RED, -1, A_BOLD},
        {ROLE_GOOD, COLOR_GREEN, -1, 0},
        {ROLE_PY, -1, -1, 0},
        {ROLE_C, COLOR_CYAN, -1, 0},
        {ROLE_MPI, COLOR_MAGENTA, -1, A_BOLD},
        {ROLE_BAR, COLOR_GREEN, -1, 0},
        {ROLE_BAR2, COLOR_RED, -1, 0},
        {ROLE_BAR3, COLOR_YELLOW, -1, 0},
        {ROLE_SPARK, COLOR_GREEN, -1, 0},
        {ROLE_HEAT0, COLOR_BLUE, -1, 0},
        {ROLE_HEAT1, COLOR_CYAN, -1, 0},
        {ROLE_HEAT2, COLOR_GREEN, -1, 0},
        {ROLE_HEAT3, COLOR_YELLOW, -1, A_BOLD},
        {ROLE_HEAT4, COLOR_RED, -1, A_BOLD},
        {ROLE_TYPE0 + 0, COLOR_RED, -1, 0},
        {ROLE_TYPE0 + 1, COLOR_GREEN, -1, 0},
        {ROLE_TYPE0 + 2, COLOR_YELLOW, -1, 0},
        {ROLE_TYPE0 + 3, COLOR_BLUE, -1, A_BOLD},
        {ROLE_TYPE0 + 4, COLOR_MAGENTA, -1, 0},
        {ROLE_TYPE0 + 5, COLOR_CYAN, -1, 0},
        {ROLE_TYPE0 + 6, COLOR_WHITE, -1, A_BOLD},
        {ROLE_TYPE0 + 7, COLOR_RED, -1, A_BOLD},
        {ROLE_STATUS, COLOR_BLACK, COLOR_CYAN, 0},
        {ROLE_KEY, COLOR_WHITE, -1, A_BOLD},
    };
    start_color();
    use_default_colors();
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        short pair = (short)(i + 1);
        init_pair(pair, map[i].fg, map[i].bg);
        c->attr[map[i].role] = COLOR_PAIR(pair) | map[i].extra;
    }
}

/* Roles without colour: what still tells them apart. */
static void roles_mono(crt_t *c)
{
    c->attr[ROLE_HEADER] = A_BOLD;
    c->attr[ROLE_TITLE] = A_BOLD;
    c->attr[ROLE_TAB] = A_NORMAL;
    c->attr[ROLE_TAB_ACTIVE] = A_REVERSE | A_BOLD;
    c->attr[ROLE_COLHEAD] = A_UNDERLINE;
    c->attr[ROLE_SORTCOL] = A_UNDERLINE | A_BOLD;
    c->attr[ROLE_SELECTED] = A_REVERSE;
    c->attr[ROLE_DIM] = A_DIM;
    c->attr[ROLE_WARN] = A_BOLD;
    c->attr[ROLE_ERROR] = A_BOLD | A_REVERSE;
    c->attr[ROLE_MPI] = A_BOLD;
    c->attr[ROLE_HEAT4] = A_BOLD;
    c->attr[ROLE_STATUS] = A_REVERSE;
    c->attr[ROLE_KEY] = A_BOLD;
}

crt_t *crt_open(const char *term, FILE *out, FILE *in, int no_color, char *err, size_t n)
{
    crt_t *c = xcalloc(1, sizeof(*c));
    c->scr = newterm(term, out ? out : stdout, in ? in : stdin);
    if (!c->scr) {
        snprintf(err, n, "cannot use the terminal (TERM=%s)",
                 term             ? term
                 : getenv("TERM") ? getenv("TERM")
                                  : "");
        free(c);
        return NULL;
    }
    set_term(c->scr);
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    curs_set(0);
    set_escdelay(25);
    const char *nc = getenv("NO_COLOR");
    c->color = !no_color && !(nc && *nc) && has_colors();
    if (c->color)
        roles_color(c);
    else
        roles_mono(c);
    return c;
}

void crt_close(crt_t **c_p)
{
    if (!c_p || !*c_p)
        return;
    crt_t *c = *c_p;
    set_term(c->scr);
    endwin();
    delscreen(c->scr);
    free(c);
    *c_p = NULL;
}

void crt_size(const crt_t *c, int *w, int *h)
{
    set_term(c->scr);
    getmaxyx(stdscr, *h, *w);
}

int crt_has_color(const crt_t *c)
{
    return c->color;
}

void crt_show(crt_t *c, const canvas_t *cv)
{
    set_term(c->scr);
    int h, w;
    getmaxyx(stdscr, h, w);
    wchar_t run[1024];
    for (int y = 0; y < h && y < cv->h; y++) {
        int x = 0;
        while (x < w && x < cv->w) {
            const ct_cell_t *s = canvas_at(cv, y, x);
            int role = s->role;
            int start = x, k = 0;
            while (x < w && x < cv->w && k < 1023) {
                const ct_cell_t *p = canvas_at(cv, y, x);
                if (p->role != role)
                    break;
                if (p->ch)
                    run[k++] = (wchar_t)p->ch;
                x++;
            }
            run[k] = 0;
            attrset(c->attr[role]);
            /* the last cell of the screen cannot be written without
             * scrolling: leave it */
            if (y == h - 1 && x >= w && k > 0)
                run[--k] = 0;
            mvaddnwstr(y, start, run, k);
        }
    }
    attrset(A_NORMAL);
    refresh();
}

void crt_redraw(crt_t *c)
{
    set_term(c->scr);
    clearok(curscr, TRUE);
}

int crt_key(crt_t *c, int timeout_ms)
{
    set_term(c->scr);
    timeout(timeout_ms);
    wint_t ch;
    int rc = get_wch(&ch);
    if (rc == ERR)
        return errno == EINTR ? K_INTERRUPT : K_NONE;
    if (rc == KEY_CODE_YES) {
        switch (ch) {
        case KEY_UP: return K_UP;
        case KEY_DOWN: return K_DOWN;
        case KEY_LEFT: return K_LEFT;
        case KEY_RIGHT: return K_RIGHT;
        case KEY_PPAGE: return K_PGUP;
        case KEY_NPAGE: return K_PGDN;
        case KEY_HOME: return K_HOME;
        case KEY_END: return K_END;
        case KEY_ENTER: return K_ENTER;
        case KEY_BACKSPACE: return K_BACKSPACE;
        case KEY_DC: return K_DELETE;
        case KEY_BTAB: return K_BTAB;
        case KEY_RESIZE: return K_RESIZE;
        default:
            if (ch >= KEY_F(1) && ch <= KEY_F(10))
                return K_F1 + (int)(ch - KEY_F(1));
            return K_NONE;
        }
    }
    switch (ch) {
    case '\r':
    case '\n': return K_ENTER;
    case 27: return K_ESC;
    case 127:
    case 8: return K_BACKSPACE;
    case '\t': return K_TAB;
    default: return (int)ch;
    }
}
