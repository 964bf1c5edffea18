/* opts.c - option tables: the command line, configuration files, the
 * environment, --help and --print-config from one table (cli/opts.h). */
#define _GNU_SOURCE
#include "cli/opts.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int opts_set(const opts_ctx_t *c, const opt_t *o, const char *val)
{
    char *base = (char *)c->base + o->off;
    char *end;
    switch (o->type) {
    case OPT_STR:
        if (strlen(val) >= o->size) {
            fprintf(stderr, "%s: --%s: too long (at most %zu bytes)\n", c->prog, o->name,
                    o->size - 1);
            return -1;
        }
        strcpy(base, val);
        return 0;
    case OPT_U32: {
        errno = 0;
        unsigned long v = strtoul(val, &end, 10);
        if (errno || *end || end == val || v > UINT32_MAX || val[0] == '-') {
            fprintf(stderr, "%s: --%s: '%s' is not a whole number\n", c->prog, o->name, val);
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
    case OPT_SEC: {
        errno = 0;
        double v = strtod(val, &end);
        if (errno || *end || end == val || !(v >= 0) || v > 1e7) {
            fprintf(stderr, "%s: --%s: '%s' is not a number of seconds\n", c->prog, o->name,
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
    case OPT_FLAG: {
        static const char *const yes[] = {"1", "yes", "true", "on"};
        static const char *const no[] = {"0", "no", "false", "off"};
        for (size_t k = 0; k < 4; k++)
            if (strcasecmp(val, yes[k]) == 0 || strcasecmp(val, no[k]) == 0) {
                *(uint32_t *)(void *)base = strcasecmp(val, yes[k]) == 0;
                return 0;
            }
        fprintf(stderr, "%s: --%s: '%s' is not yes or no\n", c->prog, o->name, val);
        return -1;
    }
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

static const opt_t *short_option(const opts_ctx_t *c, char ch)
{
    for (size_t k = 0; k < c->n; k++)
        if (c->opts[k].shortc && c->opts[k].shortc == ch)
            return &c->opts[k];
    return NULL;
}

/* Flags given together, -bj: each must be a flag. */
static int short_flags(const opts_ctx_t *c, const char *a, int *i)
{
    for (const char *p = a + 1; *p; p++) {
        const opt_t *g = short_option(c, *p);
        if (!g || g->type != OPT_FLAG) {
            fprintf(stderr, "%s: '-%c' in '%s': %s\n", c->prog, *p, a,
                    g ? "takes a value: give it alone" : "unknown option");
            return -1;
        }
        if (opts_set(c, g, "1") != 0)
            return -1;
        if (c->seen && g - c->opts < 64)
            *c->seen |= UINT64_C(1) << (g - c->opts);
    }
    ++*i;
    return 0;
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
        o = short_option(c, a[1]);
        if (o && a[2] && o->type == OPT_FLAG)
            return short_flags(c, a, i);
        if (o && a[2])
            val = a + 2;
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
            fprintf(stderr, "%s: --%s needs a value (%s)\n", c->prog, o->name, o->arg);
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

void opts_help_at(FILE *out, const opt_t *opts, size_t n, int head, int text, int width)
{
    for (size_t i = 0; i < n; i++) {
        const opt_t *o = &opts[i];
        if (o->shortc)
            fprintf(out, "%*s-%c, --%s%s%s\n", head, "", o->shortc, o->name, o->arg ? " " : "",
                    o->arg ? o->arg : "");
        else
            fprintf(out, "%*s--%s%s%s\n", head, "", o->name, o->arg ? " " : "",
                    o->arg ? o->arg : "");
        char buf[1536];
        if (o->dflt && o->dflt[0] && o->type != OPT_FLAG)
            snprintf(buf, sizeof(buf), "%s Default: %s.", o->help, o->dflt);
        else
            snprintf(buf, sizeof(buf), "%s", o->help);
        opts_wrap(out, buf, text, width);
    }
}

void opts_help(FILE *out, const opt_t *opts, size_t n)
{
    opts_help_at(out, opts, n, 4, 8, 80);
}

/* ---- configuration files and the environment ---------------------------------------- */

static int named(const char *const *list, const char *name)
{
    for (; list && *list; list++)
        if (strcmp(*list, name) == 0)
            return 1;
    return 0;
}

/* The option argv[i] names (long, --name=VALUE, or short), or NULL. */
static const opt_t *arg_option(const opts_ctx_t *c, const char *a, int *inline_val)
{
    *inline_val = 0;
    if (a[0] != '-' || !a[1])
        return NULL;
    if (a[1] == '-') {
        const char *eq = strchr(a + 2, '=');
        size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        *inline_val = eq != NULL;
        for (size_t k = 0; k < c->n; k++)
            if (strlen(c->opts[k].name) == n && strncmp(c->opts[k].name, a + 2, n) == 0)
                return &c->opts[k];
        return NULL;
    }
    for (size_t k = 0; k < c->n; k++)
        if (c->opts[k].shortc == a[1]) {
            *inline_val = a[2] != 0;
            return &c->opts[k];
        }
    return NULL;
}

/* A look at the command line before it is parsed: the value of --config,
 * and whether an option of c->no_sources is there. Stops at "--". */
static const char *scan_argv(const opts_ctx_t *c, int argc, char **argv, const char **none)
{
    const char *config = NULL;
    *none = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        int inl;
        const opt_t *o = arg_option(c, a, &inl);
        if (!o)
            continue;
        if (named(c->no_sources, o->name))
            *none = o->name;
        const char *val = NULL;
        if (o->type != OPT_FLAG) {
            if (inl)
                val = a[1] == '-' ? strchr(a, '=') + 1 : a + 2;
            else if (i + 1 < argc)
                val = argv[++i];
        }
        if (strcmp(o->name, "config") == 0 && val)
            config = val;
    }
    return config;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int read_file(const opts_ctx_t *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", c->prog, path, strerror(errno));
        return -1;
    }
    char line[4096], where[1300];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        snprintf(where, sizeof(where), "%s: %s:%d", c->prog, path, lineno);
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            fprintf(stderr, "%s: line too long\n", where);
            rc = -1;
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "%s: expected 'name = value', got '%s'\n", where, s);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *name = trim(s), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = '\0';
            val++;
        }
        int k = opts_index(c, name);
        if (k < 0) {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", where, name);
            rc = -1;
        } else if (named(c->cmdline_only, name)) {
            fprintf(stderr, "%s: '%s' is for the command line only\n", where, name);
            rc = -1;
        } else {
            opts_ctx_t at = *c;
            at.prog = where;
            rc = opts_set(&at, &c->opts[k], val);
        }
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "%s: %s: %s\n", c->prog, path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    return rc;
}

static void env_name(const char *name, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "ULMA_");
    for (; *name && o + 1 < len; name++)
        buf[o++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
    buf[o] = '\0';
}

static int read_env(const opts_ctx_t *c)
{
    for (size_t k = 0; k < c->n; k++) {
        const opt_t *o = &c->opts[k];
        if (named(c->cmdline_only, o->name) || named(c->env_skip, o->name))
            continue;
        char var[80];
        env_name(o->name, var, sizeof(var));
        const char *val = getenv(var);
        if (!val)
            continue;
        char where[120];
        snprintf(where, sizeof(where), "%s: environment %s", c->prog, var);
        opts_ctx_t at = *c;
        at.prog = where;
        if (opts_set(&at, o, val) != 0)
            return -1;
    }
    return 0;
}

int opts_load(opts_ctx_t *c, int argc, char **argv)
{
    c->used = NULL;
    if (opts_defaults(c) != 0)
        return -1;
    const char *none;
    const char *config = scan_argv(c, argc, argv, &none);
    if (none && config) {
        fprintf(stderr, "%s: --config does not go with --%s (which reads no configuration)\n",
                c->prog, none);
        return -1;
    }
    if (none)
        return 0;
    if (config || (c->file && access(c->file, F_OK) == 0)) {
        c->used = config ? config : c->file;
        if (read_file(c, c->used) != 0)
            return -1;
    }
    return read_env(c);
}

/* A string value as a file holds it: quoted when it has spaces at its
 * ends, a # or nothing. */
static void print_value(FILE *out, const char *v)
{
    size_t n = strlen(v);
    if (!n || strchr(v, '#') || isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]))
        fprintf(out, "\"%s\"\n", v);
    else
        fprintf(out, "%s\n", v);
}

void opts_print_config(FILE *out, const opts_ctx_t *c, const char *version)
{
    fprintf(out, "# %s %s configuration (%s), as `%s --print-config` prints it\n", c->prog,
            version, c->used ? c->used : "no file read", c->prog);
    opts_print(out, c, 1);
}

void opts_print(FILE *out, const opts_ctx_t *c, int comments)
{
    for (size_t k = 0; k < c->n; k++) {
        const opt_t *o = &c->opts[k];
        if (named(c->cmdline_only, o->name))
            continue;
        if (comments) {
            char var[80];
            env_name(o->name, var, sizeof(var));
            fprintf(out, "\n");
            char buf[1700];
            snprintf(buf, sizeof(buf), "%s (--%s%s%s%s%s)", o->help, o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "", named(c->env_skip, o->name) ? "" : ", ",
                     named(c->env_skip, o->name) ? "" : var);
            /* the help as comment lines */
            FILE *mem = NULL;
            char *text = NULL;
            size_t tlen = 0;
            mem = open_memstream(&text, &tlen);
            if (mem) {
                opts_wrap(mem, buf, 0, 76);
                fclose(mem);
                for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
                    nl = strchr(line, '\n');
                    fprintf(out, "# %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
                }
                free(text);
            }
        }
        const char *base = (const char *)c->base + o->off;
        fprintf(out, "%s = ", o->name);
        switch (o->type) {
        case OPT_STR: print_value(out, base); break;
        case OPT_U32: fprintf(out, "%u\n", *(const uint32_t *)(const void *)base); break;
        case OPT_DBL:
        case OPT_SEC: fprintf(out, "%g\n", *(const double *)(const void *)base); break;
        case OPT_FLAG:
            fprintf(out, "%s\n", *(const uint32_t *)(const void *)base ? "yes" : "no");
            break;
        case OPT_PID:
        case OPT_FD: fprintf(out, "%d\n", *(const int32_t *)(const void *)base); break;
        case OPT_CUSTOM: {
            char v[4096] = "";
            if (o->show)
                o->show(c->base, o, v, sizeof(v));
            print_value(out, v);
            break;
        }
        }
    }
}
