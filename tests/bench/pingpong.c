/* pingpong.c - small-message MPI ping-pong latency, for bench_pmpi.
 * Usage (2 ranks): pingpong ITERATIONS BYTES; rank 0 prints the mean
 * round-trip time in ns. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    long iters = argc > 1 ? atol(argv[1]) : 100000;
    int bytes = argc > 2 ? atoi(argv[2]) : 8;
    if (iters < 1 || bytes < 0 || bytes > (1 << 20))
        MPI_Abort(MPI_COMM_WORLD, 2);
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
