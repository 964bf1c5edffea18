/* canvas.c - the cell grid every screen draws into. */
#define _GNU_SOURCE
#include "canvas.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "profile/util.h"

canvas_t *canvas_new(int w, int h, int utf8)
{
    canvas_t *cv = xcalloc(1, sizeof(*cv));
    cv->utf8 = utf8;
    canvas_resize(cv, w, h);
    return cv;
}

void canvas_destroy(canvas_t **cv_p)
{
    if (!cv_p || !*cv_p)
        return;
    free((*cv_p)->cells);
    free(*cv_p);
    *cv_p = NULL;
}

void canvas_resize(canvas_t *cv, int w, int h)
{
    cv->w = w > 1 ? w : 1;
    cv->h = h > 1 ? h : 1;
    free(cv->cells);
    cv->cells = xcalloc((size_t)cv->w * (size_t)cv->h, sizeof(ct_cell_t));
    canvas_clear(cv);
}

void canvas_clear(canvas_t *cv)
{
    size_t n = (size_t)cv->w * (size_t)cv->h;
    for (size_t i = 0; i < n; i++) {
        cv->cells[i].ch = ' ';
        cv->cells[i].role = ROLE_NORMAL;
    }
    cv->used = 0;
}

const ct_cell_t *canvas_at(const canvas_t *cv, int y, int x)
{
    if (y < 0 || y >= cv->h || x < 0 || x >= cv->w)
        return NULL;
    return &cv->cells[(size_t)y * (size_t)cv->w + (size_t)x];
}

static ct_cell_t *cell(canvas_t *cv, int y, int x)
{
    return (ct_cell_t *)canvas_at(cv, y, x);
}

static void mark_used(canvas_t *cv, int y)
{
    if (y >= cv->used)
        cv->used = y + 1;
}

/* The next code point of s (advanced), '?' for an invalid sequence. */
static uint32_t next_cp(const char **s)
{
    const unsigned char *p = (const unsigned char *)*s;
    size_t left = strlen(*s);
    size_t k = utf8_seq(p, left);
    if (!k) {
        (*s)++;
        return '?';
    }
    uint32_t c;
    if (k == 1)
        c = p[0];
    else if (k == 2)
        c = ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
    else if (k == 3)
        c = ((uint32_t)(p[0] & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
    else
        c = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
            ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
    *s += k;
    return c;
}

/* Columns of code point c on this canvas, and what is shown instead. */
static int cp_width(const canvas_t *cv, uint32_t *c)
{
    if (*c < 0x20 || *c == 0x7f) {
        *c = '?';
        return 1;
    }
    if (*c < 0x80)
        return 1;
    if (cv && !cv->utf8) {
        *c = '?';
        return 1;
    }
    int w = wcwidth((wchar_t)*c);
    if (w < 0) {
        w = 1; /* a locale without the character: shown as one cell */
    } else if (w == 0) {
        *c = '?'; /* combining marks are not worth their complexity here */
        w = 1;
    }
    return w > 2 ? 2 : w;
}

int canvas_text_width(const char *s)
{
    int w = 0;
    while (s && *s) {
        uint32_t c = next_cp(&s);
        w += cp_width(NULL, &c);
    }
    return w;
}

int canvas_put(canvas_t *cv, int y, int x, int role, const char *s, int maxw)
{
    if (y < 0 || y >= cv->h || !s)
        return 0;
    int limit = cv->w - x;
    if (maxw >= 0 && maxw < limit)
        limit = maxw;
    int col = 0;
    while (*s && col < limit) {
        uint32_t c = next_cp(&s);
        int w = cp_width(cv, &c);
        if (col + w > limit)
            break;
        if (x + col >= 0) {
            ct_cell_t *p = cell(cv, y, x + col);
            p->ch = c;
            p->role = (uint8_t)role;
            if (w == 2 && x + col + 1 < cv->w) {
                ct_cell_t *q = cell(cv, y, x + col + 1);
                q->ch = 0;
                q->role = (uint8_t)role;
            }
        }
        col += w;
    }
    if (col)
        mark_used(cv, y);
    return col;
}

int canvas_printf(canvas_t *cv, int y, int x, int role, int maxw, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return canvas_put(cv, y, x, role, buf, maxw);
}

int canvas_put_right(canvas_t *cv, int y, int x, int w, int role, const char *s)
{
    int tw = canvas_text_width(s);
    if (tw > w)
        tw = w;
    return canvas_put(cv, y, x + w - tw, role, s, w);
}

void canvas_fill(canvas_t *cv, int y, int x, int n, int role, uint32_t ch)
{
    for (int i = 0; i < n; i++) {
        ct_cell_t *p = cell(cv, y, x + i);
        if (!p)
            continue;
        p->ch = ch;
        p->role = (uint8_t)role;
    }
    if (n > 0 && y >= 0 && y < cv->h && ch != ' ')
        mark_used(cv, y);
}

void canvas_set_role(canvas_t *cv, int y, int x, int n, int role)
{
    for (int i = 0; i < n; i++) {
        ct_cell_t *p = cell(cv, y, x + i);
        if (p)
            p->role = (uint8_t)role;
    }
}

uint32_t canvas_glyph(const canvas_t *cv, ct_glyph_t g)
{
    static const uint32_t uni[] = {0x2588, 0x2591, 0x2592, 0x2593, 0x2500,
                                   0x2502, 0x2022, 0x203a, 0x2026};
    static const char ascii[] = "#.:*-|o>~";
    return cv->utf8 ? uni[g] : (uint32_t)ascii[g];
}

uint32_t canvas_spark(const canvas_t *cv, int level)
{
    static const char ascii[] = "_.-:=+*#";
    level = level < 0 ? 0 : level > 7 ? 7 : level;
    return cv->utf8 ? 0x2581u + (uint32_t)level : (uint32_t)ascii[level];
}

uint32_t canvas_eighth(const canvas_t *cv, int eighths)
{
    if (eighths <= 0)
        return ' ';
    if (eighths >= 8)
        return canvas_glyph(cv, GLYPH_BLOCK);
    /* U+258F (one eighth) .. U+2589 (seven eighths) */
    return cv->utf8 ? 0x2590u - (uint32_t)eighths : (eighths >= 4 ? '#' : ' ');
}

void canvas_bar(canvas_t *cv, int y, int x, int w, double frac, int role)
{
    if (w <= 0)
        return;
    if (!(frac > 0))
        frac = 0;
    if (frac > 1)
        frac = 1;
    int eighths = (int)(frac * w * 8 + 0.5);
    int full = eighths / 8, rest = eighths % 8;
    canvas_fill(cv, y, x, full, role, canvas_glyph(cv, GLYPH_BLOCK));
    if (full < w) {
        canvas_fill(cv, y, x + full, 1, role, canvas_eighth(cv, rest));
        canvas_fill(cv, y, x + full + 1, w - full - 1, ROLE_NORMAL, ' ');
    }
    if (frac > 0 && full == 0 && rest == 0)
        canvas_fill(cv, y, x, 1, role, canvas_eighth(cv, 1)); /* not zero: seen */
    mark_used(cv, y);
}

void canvas_sparkline(canvas_t *cv, int y, int x, int w, const float *v, int n, int role)
{
    if (w <= 0 || n <= 0)
        return;
    int from = n > w ? n - w : 0;
    float max = 0;
    for (int i = from; i < n; i++)
        if (v[i] > max)
            max = v[i];
    for (int i = from; i < n; i++) {
        int lvl = max > 0 ? (int)(v[i] / max * 7.0f + 0.5f) : 0;
        uint32_t ch = v[i] > 0 ? canvas_spark(cv, lvl) : (cv->utf8 ? canvas_spark(cv, 0) : ' ');
        canvas_fill(cv, y, x + (i - from), 1, role, ch);
    }
    mark_used(cv, y);
}

/* The UTF-8 bytes of code point c into b; returns their number. */
static int enc_cp(uint32_t c, char b[4])
{
    if (c < 0x80) {
        b[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        b[0] = (char)(0xc0 | (c >> 6));
        b[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        b[0] = (char)(0xe0 | (c >> 12));
        b[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        b[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    b[0] = (char)(0xf0 | (c >> 18));
    b[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    b[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    b[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

static int row_end(const canvas_t *cv, int y)
{
    int end = cv->w;
    while (end > 0 && canvas_at(cv, y, end - 1)->ch == ' ')
        end--;
    return end;
}

void canvas_print(const canvas_t *cv, FILE *out)
{
    for (int y = 0; y < cv->used && y < cv->h; y++) {
        int end = row_end(cv, y);
        for (int x = 0; x < end; x++) {
            uint32_t c = canvas_at(cv, y, x)->ch;
            char b[4];
            if (c)
                fwrite(b, 1, (size_t)enc_cp(c, b), out);
        }
        fputc('\n', out);
    }
}

char *canvas_row_text(const canvas_t *cv, int y, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    if (y < 0 || y >= cv->h || n < 5)
        return buf;
    int end = row_end(cv, y);
    for (int x = 0; x < end && k + 5 < n; x++) {
        uint32_t c = canvas_at(cv, y, x)->ch;
        if (!c)
            continue;
        k += (size_t)enc_cp(c, buf + k);
    }
    buf[k] = '\0';
    return buf;
}
