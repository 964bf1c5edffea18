/* pingpong.c - small-message MPI ping-pong latency, for bench_pmpi.
 * Usage (2 ranks): pingpong ITERATIONS BYTES; rank 0 prints the mean
 * round-trip time in ns. */
#include <errno.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_args.h"

static const char usage_line[] = "usage: mpiexec -np 2 pingpong [-h] [ITERATIONS [BYTES]]\n";

static void help(void)
{
    fputs("NAME\n"
          "    pingpong - small-message MPI ping-pong latency, for bench_pmpi\n\n"
          "SYNOPSIS\n"
          "    mpiexec -np 2 pingpong [ITERATIONS [BYTES]]\n\n"
          "DESCRIPTION\n"
          "    Rank 0 sends a message of BYTES bytes to rank 1 (MPI_Send, MPI_Recv)\n"
          "    and rank 1 sends it back; ITERATIONS / 10 such round trips warm up,\n"
          "    then ITERATIONS are timed with MPI_Wtime, after a barrier. Ranks\n"
          "    beyond the first two only join the barriers. bench_pmpi runs it with\n"
          "    and without libulma-mpi.so preloaded.\n\n"
          "ARGUMENTS\n"
          "    ITERATIONS\n"
          "        Round trips timed, at least 1 (default 100000).\n"
          "    BYTES\n"
          "        Bytes per message, 0 to 1048576 (default 8).\n\n"
          "OPTIONS\n"
          "    -h, --help\n"
          "        Show this text and exit (without MPI).\n\n"
          "ENVIRONMENT\n"
          "    None of its own; MPI's and, with libulma-mpi.so preloaded, ULMA's.\n\n"
          "OUTPUT\n"
          "    Rank 0 prints one line: the mean round-trip time in ns.\n\n"
          "EXIT STATUS\n"
          "    0 success; 2 a usage error; otherwise MPI's.\n\n"
          "SEE ALSO\n"
          "    bench_pmpi --help\n",
          stdout);
}

/* A whole number from lo to hi in `a`, or exit 2 saying what `what` is. */
static long number(const char *a, const char *what, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(a, &end, 10);
    if (end == a || *end || errno || v < lo || v > hi) {
        if (hi == LONG_MAX)
            fprintf(stderr, "pingpong: %s is a number of at least %ld, not '%s'\n%s", what, lo, a,
                    usage_line);
        else
            fprintf(stderr, "pingpong: %s is a number from %ld to %ld, not '%s'\n%s", what, lo, hi,
                    a, usage_line);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    /* the arguments before MPI: --help and usage errors need no MPI */
    long iters = 100000;
    int bytes = 8, nargs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (bench_is_help(a)) {
            help();
            return 0;
        }
        if (bench_option_error("pingpong", a, usage_line))
            return 2;
        if (nargs == 2) {
            fprintf(stderr, "pingpong: unexpected argument '%s'\n%s", a, usage_line);
            return 2;
        }
        if (nargs++ == 0)
            iters = number(a, "ITERATIONS", 1, LONG_MAX);
        else
            bytes = (int)number(a, "BYTES", 0, 1 << 20);
    }
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char *buf = calloc(1, (size_t)bytes + 1);
    for (int phase = 0; phase < 2; phase++) { /* warm-up, then measured */
        long n = phase ? iters : iters / 10;
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (long i = 0; i < n; i++) {
            if (rank == 0) {
                MPI_Send(buf, bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
                MPI_Recv(buf, bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else if (rank == 1) {
                MPI_Recv(buf, bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(buf, bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
            }
        }
        double t1 = MPI_Wtime();
        if (phase && rank == 0)
            printf("%.1f\n", (t1 - t0) * 1e9 / (double)n);
    }
    free(buf);
    MPI_Finalize();
    return 0;
}
