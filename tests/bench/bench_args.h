/*
 * bench_args.h - the command line the benchmark programs share: -h or
 * --help prints the program's help on stdout and runs nothing (exit 0); an
 * unknown option, or an argument the program does not take, is one line on
 * stderr followed by the usage line (exit 2).
 */
#ifndef ULMA_BENCH_ARGS_H
#define ULMA_BENCH_ARGS_H

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static inline int bench_is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

/* `a` is an option (a number such as -5 is not): say so and return 2;
 * return 0 for anything else. */
static inline int bench_option_error(const char *prog, const char *a, const char *usage)
{
    if (a[0] != '-' || isdigit((unsigned char)a[1]))
        return 0;
    fprintf(stderr, "%s: unknown option '%s'\n%s", prog, a, usage);
    return 2;
}

/* The arguments of a program that takes none: -1 to run, else the exit
 * status (0 after the help, 2 after a usage error). */
static inline int bench_no_args(int argc, char **argv, const char *prog, const char *usage,
                                void (*help)(void))
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (bench_is_help(a)) {
            help();
            return 0;
        }
        fprintf(stderr, "%s: %s '%s'\n%s", prog,
                a[0] == '-' ? "unknown option" : "unexpected argument", a, usage);
        return 2;
    }
    return -1;
}

#endif /* ULMA_BENCH_ARGS_H */
