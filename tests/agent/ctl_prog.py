"""Program for test_ctl: three functions named f, objects, then waits
until the file argv[1] disappears."""
import os
import time


class A:
    def f(self):
        return 1


class B:
    def f(self):
        return 2


def f():
    return 3


def g():
    for _ in range(100):
        A().f()
        B().f()
        f()


g()
keep = [dict() for _ in range(50)]
open(os.environ["CTL_READY"], "w").close()
while os.path.exists(os.environ["CTL_READY"]):
    time.sleep(0.01)
