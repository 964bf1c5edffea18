"""multiprocessing program for test_fork: a Pool with the start method
given in argv[1]; prints the results."""
import multiprocessing as mp
import os
import sys


def square(x):
    return x * x


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    with ctx.Pool(2) as pool:
        print(sum(pool.map(square, range(20))))
    if len(sys.argv) > 2:
        pid = os.fork()
        if pid == 0:
            print("child", sum(square(i) for i in range(5)), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
