"""The node-cut test's program: deterministic work for about SECONDS
(argv[1]), one process per node, no MPI (each node must go on alone while
its link is down)."""
import sys
import time


def leaf(x):
    return x * 2 + 1


def work(n):
    s = 0
    for i in range(n):
        s += leaf(i)
    return s


end = time.monotonic() + float(sys.argv[1])
steps = 0
while time.monotonic() < end:
    work(3000)
    steps += 1
    time.sleep(0.01)
print("cut_prog: done, %d steps" % steps, flush=True)
