/*
 * cli/opts.h - option tables. One row per option gives its names, its
 * argument, how its value is stored (type and offset in the caller's
 * struct), its default and its help text; the command line, a
 * configuration file, the environment, --help and --print-config all read
 * the same table, so an option has one name everywhere:
 *
 *     --report-interval 2            on the command line
 *     report-interval = 2            in a configuration file
 *     ULMA_REPORT_INTERVAL=2         in the environment
 *
 * Precedence, lowest first: the table's defaults, the file, the
 * environment, the command line. Holds no state: tables and the structs
 * they fill are the caller's.
 */
#ifndef ULMA_CLI_OPTS_H
#define ULMA_CLI_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum opt_type {
    OPT_STR,    /* char[size] */
    OPT_U32,    /* uint32_t, decimal */
    OPT_DBL,    /* double >= 0 */
    OPT_SEC,    /* double, seconds: 0 to 1e7 */
    OPT_FLAG,   /* uint32_t: 1 when given (no argument); yes/no in a file */
    OPT_PID,    /* int32_t > 0 */
    OPT_FD,     /* int32_t >= 0 (a file descriptor) */
    OPT_CUSTOM, /* parsed by opt_t.parse */
};

typedef struct opt opt_t;
struct opt {
    const char *name;  /* long name, without "--" */
    char shortc;       /* or 0 */
    const char *arg;   /* argument name, NULL for flags */
    enum opt_type type;
    size_t off;        /* field in the caller's struct */
    size_t size;       /* of that field (strings: the buffer) */
    const char *dflt;  /* default, stored before parsing (NULL: zero / empty) */
    const char *help;  /* one paragraph, wrapped by opts_help */
    /* OPT_CUSTOM: store `val`; 0, or -1 after printing a message */
    int (*parse)(void *base, const opt_t *o, const char *val, const char *prog);
    /* OPT_CUSTOM: the value in force as `parse` reads it (--print-config) */
    void (*show)(const void *base, const opt_t *o, char *buf, size_t len);
};

/* A table and where its values go. `seen` (may be NULL) gets bit i set
 * when option i of the table is given (tables of at most 64 options). */
typedef struct opts_ctx {
    const opt_t *opts;
    size_t n;
    void *base;
    const char *prog; /* prefix of error messages */
    uint64_t *seen;
    /* where configuration comes from besides the command line (all
     * optional); see opts_load */
    const char *file;                /* the default file, read if it exists */
    const char *const *cmdline_only; /* names no file or variable may set */
    const char *const *env_skip;     /* names not read from the environment */
    const char *const *no_sources;   /* names that, given, mean neither is read */
    const char *used;                /* set by opts_load: the file read, or NULL */
} opts_ctx_t;

/* Store every default of the table. 0, or -1 (a bad default: a bug). */
int opts_defaults(const opts_ctx_t *c);

/* Store `val` for option `o`. 0, or -1 with a message on stderr. */
int opts_set(const opts_ctx_t *c, const opt_t *o, const char *val);

/* Consume the option at argv[*i] ("--name", "--name=VALUE", "--name VALUE",
 * "-c", "-c VALUE", "-cVALUE", flags together "-bj"), advancing *i past it and its value.
 * Returns 0 when consumed, 1 when argv[*i] is not an option (a lone "-"
 * included; *i unchanged), -1 on an error (unknown option, missing or bad
 * value: message printed). */
int opts_parse_one(const opts_ctx_t *c, int argc, char **argv, int *i);

/* The configuration of everything but the command line, in order: the
 * table's defaults, then a file, then the environment. The file is the
 * one `--config FILE` names on the command line (it must exist), else
 * c->file if it exists. A file has one `name = value` per line (a value
 * may be in double quotes; flags take yes/no, true/false, on/off or 1/0;
 * blank lines and lines starting with # are skipped); an error names
 * FILE:LINE. The environment: ULMA_NAME for option `name` (upper case, -
 * as _), except names in c->env_skip. Options named in c->cmdline_only are
 * refused in a file and not read from the environment. When argv has one
 * of c->no_sources, neither is read (and --config is an error). The
 * command line then goes through opts_parse_one, after this. 0, or -1
 * with a message on stderr. */
int opts_load(opts_ctx_t *c, int argc, char **argv);

/* The configuration in force as a configuration file: every option but
 * the command-line-only ones, `name = value`, with its help as a comment
 * above it when `comments` (what --print-config prints). */
void opts_print(FILE *out, const opts_ctx_t *c, int comments);

/* --print-config: a first line naming the program (c->prog), `version` and
 * the file read (opts_load's c->used), then opts_print with comments. */
void opts_print_config(FILE *out, const opts_ctx_t *c, const char *version);

/* The help of every program's --print-config row. */
#define OPTS_PRINT_CONFIG_HELP                                                              \
    "Print the configuration in force (the defaults, the file, the environment and the "  \
    "command line) as a configuration file, every option's help as a comment, and exit."

/* Index of option `name` (long name) in the table, or -1. */
int opts_index(const opts_ctx_t *c, const char *name);

/* The OPTIONS entries of the table: names and argument, then the help
 * wrapped at 80 columns and indented 8, with the default when it is not
 * a string. */
void opts_help(FILE *out, const opt_t *opts, size_t n);
/* The same with the names indented `head`, the help `text`, lines up to
 * `width` columns. */
void opts_help_at(FILE *out, const opt_t *opts, size_t n, int head, int text, int width);

/* `text` wrapped at `width` columns, each line indented `indent`. */
void opts_wrap(FILE *out, const char *text, int indent, int width);

#endif /* ULMA_CLI_OPTS_H */
