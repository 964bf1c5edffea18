"""Writes about 10 MB of records into its ring (300,000 calls, fast
mode), waits for the watcher to wake a few times, then prints how many ring
pages the watcher wrote into ahead of it. With the argument "fork", a
fork()ed child does the same in its own segment and prints its count."""
import os
import sys
import time

from ulma import _ulma


def f(n):
    return n


def work():
    for i in range(300000):
        f(i)
    time.sleep(0.3)
    return _ulma.status()["warmed_pages"]


if sys.argv[1:] == ["fork"]:
    before = _ulma.status()["warmed_pages"]
    pid = os.fork()
    if pid == 0:
        print("child", work() - before, flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
else:
    print(work())
