"""Child of test_toggle: spins in Python until told, then sleeps in C."""
import os
import sys
import time

import ulma
from ulma import _ulma

stop = sys.argv[1]
print(ulma.status()["segment"], flush=True)


def tick(x):
    return x + 1


x = 0
deadline = time.monotonic() + 20
while not os.path.exists(stop) and time.monotonic() < deadline:
    x = tick(x)
print("spin-done", _ulma.status()["mode"], int(_ulma._eval_frame_is_default()),
      int(sys.getprofile() is None), flush=True)
time.sleep(float(sys.argv[2]))  # blocked in C
for _ in range(100):
    tick(0)
print("sleep-done", _ulma.status()["mode"], flush=True)
