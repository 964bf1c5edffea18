"""Child of test_displaced: in full mode, the program installs its own
profile function (sys.setprofile, cProfile, threading.setprofile for a new
thread), calls functions, removes it, calls functions again.

    displaced_prog.py [inprocess]   (inprocess: ulma.enable("full") itself)
"""
import cProfile
import sys
import threading
import time

import ulma
from ulma import _ulma


def f(x):
    return x + 1


def before():
    return [f(i) for i in range(10)]


def under_setprofile():
    return [f(i) for i in range(10)]


def after_setprofile():
    return [f(i) for i in range(10)]


def under_cprofile():
    return [f(i) for i in range(10)]


def after_cprofile():
    return [f(i) for i in range(10)]


def in_thread():
    return [f(i) for i in range(10)]


def in_later_thread():
    return [f(i) for i in range(10)]


def status(what):
    st = _ulma.status()
    print(what, st["hook_status"] & _ulma.HOOK_DISPLACED,
          st["hook_status"] >> _ulma.HOOK_COUNT_SHIFT, flush=True)


def thread(target, name):
    t = threading.Thread(target=target, name=name)
    t.start()
    t.join()


def main():
    if sys.argv[1:] == ["inprocess"]:
        ulma.enable("full")
    before()
    seen = []

    def mine(frame, event, arg):
        seen.append(event)

    sys.setprofile(mine)
    under_setprofile()
    print("getprofile-mine", sys.getprofile() is mine)
    status("setprofile")
    sys.setprofile(None)
    print("getprofile-none", sys.getprofile() is None)
    after_setprofile()
    status("after-setprofile")
    p = cProfile.Profile()
    p.enable()
    under_cprofile()
    p.disable()
    time.sleep(0.3)  # ulma's watcher takes the hook back
    after_cprofile()
    status("after-cprofile")
    threading.setprofile(mine)
    thread(in_thread, "worker-displaced")
    threading.setprofile(None)
    print("threading-getprofile", threading.getprofile())
    thread(in_later_thread, "worker-later")
    time.sleep(0.3)  # the watcher sees that the displaced thread ended
    status("end")
    print("mine-saw-calls", "call" in seen)
    print("segment", ulma.status()["segment"])
    if sys.argv[1:] == ["inprocess"]:
        ulma.disable()


main()
