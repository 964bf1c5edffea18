/*
 * opts.h - command-line option tables. One row per option gives its names,
 * its argument, how its value is stored (type and offset in the caller's
 * struct), its default and its help text; parsing and the OPTIONS section
 * of --help both read the same table. Used by ulma-agent (config.c) and
 * ulma-ctl. Holds no state: tables and the structs they fill are the
 * caller's.
 */
#ifndef AGENT_OPTS_H
#define AGENT_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum opt_type {
    OPT_STR,    /* char[size] */
    OPT_U32,    /* uint32_t, decimal */
    OPT_DBL,    /* double >= 0 */
    OPT_FLAG,   /* uint32_t set to 1, no argument */
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
};

/* A table and where its values go. `seen` (may be NULL) gets bit i set
 * when option i of the table is given (tables of at most 64 options). */
typedef struct opts_ctx {
    const opt_t *opts;
    size_t n;
    void *base;
    const char *prog; /* prefix of error messages */
    uint64_t *seen;
} opts_ctx_t;

/* Store every default of the table. 0, or -1 (a bad default: a bug). */
int opts_defaults(const opts_ctx_t *c);

/* Store `val` for option `o`. 0, or -1 with a message on stderr. */
int opts_set(const opts_ctx_t *c, const opt_t *o, const char *val);

/* Consume the option at argv[*i] ("--name", "--name=VALUE", "--name VALUE",
 * "-c", "-c VALUE", "-cVALUE"), advancing *i past it and its value.
 * Returns 0 when consumed, 1 when argv[*i] is not an option (a lone "-"
 * included; *i unchanged), -1 on an error (unknown option, missing or bad
 * value: message printed). */
int opts_parse_one(const opts_ctx_t *c, int argc, char **argv, int *i);

/* Index of option `name` (long name) in the table, or -1. */
int opts_index(const opts_ctx_t *c, const char *name);

/* The OPTIONS entries of the table: names and argument, then the help
 * wrapped at 80 columns and indented 8, with the default when it is not
 * a string. */
void opts_help(FILE *out, const opt_t *opts, size_t n);

/* `text` wrapped at `width` columns, each line indented `indent`. */
void opts_wrap(FILE *out, const char *text, int indent, int width);

#endif /* AGENT_OPTS_H */
