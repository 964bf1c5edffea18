"""Mode switches at random (off, fast, full; 300 of them, a few ms apart)
while three threads call Python and C functions, generators and frames that
exit by exception: every thread's records pair up like a stack across the
switches (full mode's frames that left while it was off get their returns,
on 3.12+ where full mode's events leave every thread at once too), the
timestamps of frame and mode records never go back, no problem is counted.
Three seeds."""
import os
import random
import threading
import time

import hooktest as H

d = H.SegDir("toggle-threads")
os.environ["ULMA_DIR"] = d.path
import ulma  # noqa: E402
from ulma import _ulma  # noqa: E402


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def gen(n):
    for i in range(n):
        yield len(str(i))


def boom(k):
    if k == 0:
        raise ValueError("out")
    return boom(k - 1)


def work(stop):
    while not stop.is_set():
        fib(8)
        sum(gen(20))
        sorted([3, 1, 2])
        try:
            boom(5)
        except ValueError:
            pass
        time.sleep(0)


FRAME_KINDS = {H.EV[k] for k in ("CALL", "RETURN", "UNWIND", "C_CALL", "C_RETURN", "MODE")}

ulma.start()
seg = {"slots": {}}
for seed in (1, 2, 3):
    rnd = random.Random(seed)
    stop = threading.Event()
    ts = [threading.Thread(target=work, args=(stop,), name="w%d" % i) for i in range(3)]
    for t in ts:
        t.start()
    for _ in range(300):
        _ulma.set_mode(rnd.choice([_ulma.MODE_OFF, _ulma.MODE_FAST, _ulma.MODE_FULL,
                                   _ulma.MODE_FULL]))
        fib(rnd.randrange(3, 9))
        time.sleep(rnd.random() * 0.003)
    stop.set()
    for t in ts:
        t.join()
    _ulma.set_mode(_ulma.MODE_OFF)
    # a read takes the records written so far: the main thread's frame
    # records of one seed pair up with those of the next (the C call that
    # switched full mode off gets its return when the thread next records)
    part = _ulma._read_segment(ulma.status()["segment"], True)
    for slot, recs in part["slots"].items():
        seg["slots"].setdefault(slot, []).extend(recs)
    seg["problems"] = part["problems"]
    H.check(H.balance_ok(seg), "seed %d: every thread balanced" % seed)
    back = 0
    for recs in seg["slots"].values():
        last = 0
        for r in recs:
            if r[0] in FRAME_KINDS and r[3]:
                back += r[3] < last
                last = max(last, r[3])
    H.check(back == 0, "seed %d: frame and mode records in time order (%d back)" % (seed, back))
    n = sum(len(r) for r in part["slots"].values())
    H.check(n > 10000, "seed %d: recorded (%d records)" % (seed, n))
    H.check(seg["problems"] == 0, "seed %d: no problems (%d)" % (seed, seg["problems"]))
_ulma.stop()
d.close()
H.finish()
