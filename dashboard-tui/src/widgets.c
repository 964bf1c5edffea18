/* widgets.c - tables, heat levels. */
#define _GNU_SOURCE
#include "widgets.h"

#include <stdio.h>
#include <string.h>

int table_layout(const tcol_t *cols, int n, int w, int *widths)
{
    int shown[64];
    int m = n < 64 ? n : 64;
    for (int i = 0; i < m; i++)
        shown[i] = 1;
    for (;;) {
        int need = 0, k = 0;
        for (int i = 0; i < m; i++)
            if (shown[i]) {
                need += (cols[i].width ? cols[i].width : cols[i].minw) + (k ? 1 : 0);
                k++;
            }
        if (need <= w || k <= 1)
            break;
        int drop = -1;
        for (int i = 0; i < m; i++)
            if (shown[i] && (drop < 0 || cols[i].prio < cols[drop].prio))
                drop = i;
        shown[drop] = 0;
    }
    int used = 0, k = 0, nflex = 0;
    for (int i = 0; i < m; i++) {
        widths[i] = 0;
        if (!shown[i])
            continue;
        widths[i] = cols[i].width ? cols[i].width : cols[i].minw;
        used += widths[i] + (k ? 1 : 0);
        k++;
        nflex += !cols[i].width;
    }
    /* what is left goes to the flexible columns: the first gets half
     * more than the others */
    int left = w - used;
    if (left > 0 && nflex) {
        int shares = nflex + 1;
        int first = 1;
        for (int i = 0; i < m; i++) {
            if (!shown[i] || cols[i].width)
                continue;
            int add = left / shares * (first ? 2 : 1);
            if (first)
                add += left % shares;
            widths[i] += add;
            first = 0;
        }
    }
    return k;
}

char *fit_text(const char *s, int w, char *buf, size_t n)
{
    if (w <= 0) {
        buf[0] = '\0';
        return buf;
    }
    if (canvas_text_width(s) <= w) {
        snprintf(buf, n, "%s", s);
        return buf;
    }
    /* cut at a code point boundary, leave one column for '~' */
    size_t k = 0;
    int col = 0;
    while (s[k] && col < w - 1) {
        size_t len = 1;
        while ((s[k + len] & 0xc0) == 0x80)
            len++;
        char tmp[8];
        memcpy(tmp, s + k, len < 7 ? len : 7);
        tmp[len < 7 ? len : 7] = '\0';
        int cw = canvas_text_width(tmp);
        if (col + cw > w - 1)
            break;
        col += cw;
        k += len;
    }
    if (k + 2 > n)
        k = n - 2;
    memcpy(buf, s, k);
    buf[k] = '~';
    buf[k + 1] = '\0';
    return buf;
}

char *fit_text_left(const char *s, int w, char *buf, size_t n)
{
    if (w <= 0) {
        buf[0] = '\0';
        return buf;
    }
    while (*s && canvas_text_width(s) > w) {
        s++;
        while ((*s & 0xc0) == 0x80)
            s++;
    }
    snprintf(buf, n, "%s", s);
    return buf;
}

void mark_selected(canvas_t *cv, int y, int x, int w)
{
    canvas_set_role(cv, y, x, w, ROLE_SELECTED);
    const ct_cell_t *c = canvas_at(cv, y, x);
    if (c && c->ch == ' ')
        canvas_fill(cv, y, x, 1, ROLE_SELECTED, '>');
}

int table_draw(canvas_t *cv, int y, int x, int w, int h, const table_spec_t *t, mlist_t *l)
{
    int widths[64];
    /* a gutter for the selection's '>': it shows without attributes too */
    int x_sel = x;
    x++;
    w--;
    table_layout(t->cols, t->ncols, w, widths);
    int cx = x;
    canvas_fill(cv, y, x_sel, w + 1, ROLE_COLHEAD, ' ');
    for (int i = 0; i < t->ncols && i < 64; i++) {
        if (!widths[i])
            continue;
        char title[64];
        snprintf(title, sizeof(title), "%s%s", t->cols[i].title,
                 i == t->sort_col ? (t->reverse ? "^" : "v") : "");
        int role = i == t->sort_col ? ROLE_SORTCOL : ROLE_COLHEAD;
        if (t->cols[i].right)
            canvas_put_right(cv, y, cx, widths[i], role, title);
        else
            canvas_put(cv, y, cx, role, title, widths[i]);
        cx += widths[i] + 1;
    }
    int rows = h - 1;
    if (rows < 1)
        return 0;
    mlist_scroll(l, (uint32_t)rows);
    int shown = 0;
    for (uint32_t k = l->top; k < l->n && shown < rows; k++, shown++) {
        int yy = y + 1 + shown;
        cx = x;
        for (int i = 0; i < t->ncols && i < 64; i++) {
            if (!widths[i])
                continue;
            char buf[1200], cut[1200];
            buf[0] = '\0';
            int role = t->cell(l->e[k].item, i, buf, sizeof(buf), widths[i], t->ctx);
            if (t->cols[i].cut_left && canvas_text_width(buf) > widths[i]) {
                cut[0] = '~';
                fit_text_left(buf, widths[i] - 1, cut + 1, sizeof(cut) - 1);
            } else {
                fit_text(buf, widths[i], cut, sizeof(cut));
            }
            if (t->cols[i].right)
                canvas_put_right(cv, yy, cx, widths[i], role, cut);
            else
                canvas_put(cv, yy, cx, role, cut, widths[i]);
            cx += widths[i] + 1;
        }
        if (k == l->sel)
            mark_selected(cv, yy, x_sel, w + 1);
    }
    return rows;
}

int table_next_sort(const tcol_t *cols, int n, int cur, int dir, int w)
{
    int widths[64];
    if (w > 0)
        table_layout(cols, n, w, widths);
    for (int step = 1; step <= n; step++) {
        int i = ((cur + dir * step) % n + n) % n;
        if (cols[i].sortable && (w <= 0 || widths[i]))
            return i;
    }
    return cur;
}

int heat_role(double v, double max)
{
    if (!(max > 0) || !(v > 0))
        return ROLE_HEAT0;
    int lvl = (int)(v / max * 4.0 + 0.5);
    if (lvl < 1)
        lvl = 1;
    return ROLE_HEAT0 + (lvl > 4 ? 4 : lvl);
}

uint32_t heat_glyph(const canvas_t *cv, double v, double max)
{
    int lvl = heat_role(v, max) - ROLE_HEAT0;
    switch (lvl) {
    case 0: return cv->utf8 ? 0x00b7 : ' ';
    case 1: return canvas_glyph(cv, GLYPH_LIGHT);
    case 2: return canvas_glyph(cv, GLYPH_MEDIUM);
    case 3: return canvas_glyph(cv, GLYPH_DARK);
    default: return canvas_glyph(cv, GLYPH_BLOCK);
    }
}
