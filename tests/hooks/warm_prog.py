"""Writes about 10 MB of records into its ring (300,000 calls, fast
mode), waits for the watcher to wake a few times, then prints how many ring
pages the watcher wrote into ahead of it."""
import time

from ulma import _ulma


def f(n):
    return n


for i in range(300000):
    f(i)
time.sleep(0.3)
print(_ulma.status()["warmed_pages"])
