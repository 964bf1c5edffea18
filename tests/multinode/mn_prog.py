"""The multi-node test's program: deterministic work per rank, MPI, about
SECONDS of running (argv[1]) so that a rank can be switched while it runs."""
import sys
import time

from mpi4py import MPI


def leaf(x):
    return x * 2 + 1


def work(n):
    s = 0
    for i in range(n):
        s += leaf(i)
    return s


def main():
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    end = time.monotonic() + float(sys.argv[1])
    steps = 0
    while True:
        work(2000 * (rank + 1))
        steps += 1
        done = comm.bcast(time.monotonic() >= end if rank == 0 else None, root=0)
        if done:
            break
        time.sleep(0.01)
    total = comm.allreduce(steps)
    if rank == 0:
        print("mn_prog: done, %d steps in all" % total, flush=True)


main()
