"""A rank of test_collector_agents: mpi4py, hooked (python3 -m ulma --no-agent,
a node agent drains it). Its phases follow files in the control directory
(argv[1]), so that the test can look at a quiet job:

  phase 1: work (fib, rank + 1 calls of fib(12) per round) until "quiet1"
           exists; then "idle1.<rank>" is written and the rank waits, in C
           calls only (os.access, time.sleep: nothing recorded in fast
           mode), for "go2";
  phase 2: work until "end" exists; a barrier; exit.
"""
import os
import sys
import time

from mpi4py import MPI

CTL = sys.argv[1]


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def work(k):
    for _ in range(k):
        fib(12)


def wait_for(path):
    while not os.access(path, os.F_OK):
        time.sleep(0.02)


def phase(rank, stop):
    while not os.access(stop, os.F_OK):
        work(rank + 1)


def main():
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    quiet1, idle1 = CTL + "/quiet1", CTL + "/idle1.%d" % rank
    go2, end = CTL + "/go2", CTL + "/end"
    comm.Barrier()
    phase(rank, quiet1)
    open(idle1, "w").close()
    wait_for(go2)
    phase(rank, end)
    comm.Barrier()


main()
