"""Child of test_mode_records: a long outer function calling inner(), with
the mode switched under it.

    mode_prog.py seq M0,M1,...   ulma.enable(M0), then in outer: the modes
                                 M1... in turn (off: ulma.disable()), 500
                                 inner() calls between switches, 0.05 s
                                 asleep while off
    mode_prog.py wait STOPFILE   outer runs until STOPFILE exists (modes
                                 switched from outside, through the control
                                 word); prints its segment first
"""
import os
import sys
import time

import ulma


def inner(x):
    return x + 1


def helper(x):
    return inner(x)


def outer_seq(seq):
    x = 0
    for mode in seq:
        for _ in range(500):
            x = helper(x)
        if mode == "off":
            ulma.disable()
            time.sleep(0.05)
        else:
            ulma.enable(mode)
    for _ in range(500):
        x = helper(x)
    return x


def outer_wait(stop):
    x = 0
    deadline = time.monotonic() + 60
    while not os.path.exists(stop) and time.monotonic() < deadline:
        for _ in range(100):
            x = helper(x)
        time.sleep(0.001)
    return x


if sys.argv[1] == "seq":
    seq = sys.argv[2].split(",")
    ulma.enable(seq[0])
    outer_seq(seq[1:])
    ulma.disable()
    print(ulma.status()["segment"])
else:
    print(ulma.status()["segment"], flush=True)
    outer_wait(sys.argv[2])
