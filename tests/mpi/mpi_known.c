/* mpi_known.c - an MPI program whose calls are known in advance; run on
 * exactly 2 ranks by test_mpi_counts, which checks what libulma-mpi
 * recorded against the numbers below. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        fprintf(stderr, "mpi_known: run me on 2 ranks\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    int peer = 1 - rank;
    double d[1000];
    int iv[100];
    memset(d, 0, sizeof(d));
    memset(iv, 0, sizeof(iv));
    /* 10 x Send 1000 doubles 0 -> 1, 10 x Recv on rank 1 */
    for (int i = 0; i < 10; i++) {
        if (rank == 0)
            MPI_Send(d, 1000, MPI_DOUBLE, 1, 7, MPI_COMM_WORLD);
        else
            MPI_Recv(d, 1000, MPI_DOUBLE, 0, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
    /* 5 x (Isend 100 ints + Irecv 100 ints + Waitall) on both ranks */
    for (int i = 0; i < 5; i++) {
        MPI_Request rq[2];
        int in[100];
        MPI_Isend(iv, 100, MPI_INT, peer, 8, MPI_COMM_WORLD, &rq[0]);
        MPI_Irecv(in, 100, MPI_INT, peer, 8, MPI_COMM_WORLD, &rq[1]);
        MPI_Waitall(2, rq, MPI_STATUSES_IGNORE);
    }
    /* 4 x Bcast 100 ints from 0; 3 x Allreduce 10 doubles; 2 x Barrier */
    for (int i = 0; i < 4; i++)
        MPI_Bcast(iv, 100, MPI_INT, 0, MPI_COMM_WORLD);
    for (int i = 0; i < 3; i++) {
        double out[10];
        MPI_Allreduce(d, out, 10, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    /* 1 x Gather 4 ints to root 0 */
    int g[8];
    MPI_Gather(iv, 4, MPI_INT, g, 4, MPI_INT, 0, MPI_COMM_WORLD);
    /* communicator management */
    MPI_Comm dup;
    MPI_Comm_dup(MPI_COMM_WORLD, &dup);
    MPI_Comm_free(&dup);
    /* one-sided: rank 0 puts 16 ints into rank 1's window */
    int winbuf[16];
    MPI_Win win;
    MPI_Win_create(winbuf, sizeof(winbuf), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD, &win);
    MPI_Win_fence(0, win);
    if (rank == 0)
        MPI_Put(iv, 16, MPI_INT, 1, 0, 16, MPI_INT, win);
    MPI_Win_fence(0, win);
    MPI_Win_free(&win);
    MPI_Finalize();
    return 0;
}
