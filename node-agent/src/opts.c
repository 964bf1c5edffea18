/* opts.c - option tables: parsing and --help from one table (opts.h). */
#include "opts.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

int opts_set(const opts_ctx_t *c, const opt_t *o, const char *val)
{
    char *base = (char *)c->base + o->off;
    char *end;
    switch (o->type) {
    case OPT_STR:
        if (strlen(val) >= o->size) {
            fprintf(stderr, "%s: --%s: value too long\n", c->prog, o->name);
            return -1;
        }
        strcpy(base, val);
        return 0;
    case OPT_U32: {
        errno = 0;
        unsigned long v = strtoul(val, &end, 10);
        if (errno || *end || end == val || v > UINT32_MAX || val[0] == '-') {
            fprintf(stderr, "%s: --%s: '%s' is not a number\n", c->prog, o->name, val);
            return -1;
        }
        *(uint32_t *)(void *)base = (uint32_t)v;
        return 0;
    }
    case OPT_DBL: {
        errno = 0;
        double v = strtod(val, &end);
        if (errno || *end || end == val || v < 0) {
            fprintf(stderr, "%s: --%s: '%s' is not a non-negative number\n", c->prog, o->name,
                    val);
            return -1;
        }
        *(double *)(void *)base = v;
        return 0;
    }
    case OPT_PID:
    case OPT_FD: {
        errno = 0;
        long v = strtol(val, &end, 10);
        long min = o->type == OPT_PID ? 1 : 0;
        if (errno || *end || end == val || v < min || v > INT32_MAX) {
            fprintf(stderr, "%s: --%s: '%s' is not a %s\n", c->prog, o->name, val,
                    o->type == OPT_PID ? "process id" : "file descriptor");
            return -1;
        }
        *(int32_t *)(void *)base = (int32_t)v;
        return 0;
    }
    case OPT_FLAG:
        *(uint32_t *)(void *)base = 1;
        return 0;
    case OPT_CUSTOM:
        return o->parse ? o->parse(c->base, o, val, c->prog) : -1;
    }
    return -1;
}

int opts_defaults(const opts_ctx_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->opts[i].dflt && opts_set(c, &c->opts[i], c->opts[i].dflt) != 0)
            return -1;
    return 0;
}

int opts_index(const opts_ctx_t *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->opts[i].name, name) == 0)
            return (int)i;
    return -1;
}

int opts_parse_one(const opts_ctx_t *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (a[0] != '-' || !a[1])
        return 1;
    const opt_t *o = NULL;
    const char *val = NULL;
    if (a[1] == '-') {
        const char *eq = strchr(a + 2, '=');
        size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        for (size_t k = 0; k < c->n; k++)
            if (strlen(c->opts[k].name) == n && strncmp(c->opts[k].name, a + 2, n) == 0)
                o = &c->opts[k];
        if (o && eq)
            val = eq + 1;
    } else {
        for (size_t k = 0; k < c->n; k++)
            if (c->opts[k].shortc == a[1])
                o = &c->opts[k];
        if (o && a[2]) {
            if (o->type == OPT_FLAG)
                o = NULL; /* no bundling of flags */
            else
                val = a + 2;
        }
    }
    if (!o) {
        fprintf(stderr, "%s: unknown option '%s' (see --help)\n", c->prog, a);
        return -1;
    }
    if (o->type == OPT_FLAG) {
        if (val) {
            fprintf(stderr, "%s: --%s takes no value\n", c->prog, o->name);
            return -1;
        }
        val = "1";
    } else if (!val) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "%s: --%s needs %s\n", c->prog, o->name, o->arg);
            return -1;
        }
        val = argv[++*i];
    }
    if (opts_set(c, o, val) != 0)
        return -1;
    if (c->seen && o - c->opts < 64)
        *c->seen |= UINT64_C(1) << (o - c->opts);
    ++*i;
    return 0;
}

void opts_wrap(FILE *out, const char *text, int indent, int width)
{
    int col = indent;
    const char *p = text;
    fprintf(out, "%*s", indent, "");
    while (*p) {
        const char *w = p;
        while (*w && *w != ' ')
            w++;
        int len = (int)(w - p);
        if (col > indent && col + 1 + len > width) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, (size_t)len, out);
        col += len;
        p = *w ? w + 1 : w;
    }
    fputc('\n', out);
}

void opts_help(FILE *out, const opt_t *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const opt_t *o = &opts[i];
        if (o->shortc)
            fprintf(out, "    -%c, --%s%s%s\n", o->shortc, o->name, o->arg ? " " : "",
                    o->arg ? o->arg : "");
        else
            fprintf(out, "    --%s%s%s\n", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        char buf[1536];
        if (o->dflt && o->type != OPT_STR && o->type != OPT_FLAG)
            snprintf(buf, sizeof(buf), "%s Default: %s.", o->help, o->dflt);
        else
            snprintf(buf, sizeof(buf), "%s", o->help);
        opts_wrap(out, buf, 8, 80);
    }
}
