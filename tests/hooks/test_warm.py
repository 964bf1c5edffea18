"""The watcher writes into the pages of a ring ahead of its thread during
the ring's first lap (rt.c, warm_rings), so that the thread does not take
the page faults: it must do so for a thread that writes, never change a
record (an atomic add of zero), stay within the ring, and touch nothing of
a ring nobody writes into."""
import os

import hooktest as H

PROG = os.path.join(H.HERE, "warm_prog.py")
RING = 16 << 20
CALLS = 300000

with H.SegDir("warm") as d:
    r = H.run(["-m", "ulma", "--no-agent", "--mode", "fast", PROG], d.env(ULMA_RING_SIZE=RING))
    H.check(r.returncode == 0, "fast: the program ran (%s)" % r.stderr.strip()[-300:])
    warmed = int(r.stdout.split()[-1]) if r.stdout.split() else -1
    H.check(0 < warmed <= RING // 4096, "fast: %d pages warmed ahead, of %d" % (warmed, RING // 4096))
    seg = H.read(d.segments()[0])
    H.check(seg["dropped"] == 0, "fast: nothing dropped")
    H.check(H.balance_ok(seg), "fast: every slot's records pair up")
    counts = H.counts(seg, only_file=PROG)
    n = sum(v for (f, line, name), v in counts.items() if name == "f")
    H.check(n == CALLS, "fast: %d calls of f recorded, %d made" % (n, CALLS))

    # hooks loaded, off: nothing written, nothing warmed
    d.clear()
    r = H.run(["-m", "ulma", "--no-agent", "--off", PROG], d.env(ULMA_RING_SIZE=RING))
    H.check(r.returncode == 0, "off: the program ran (%s)" % r.stderr.strip()[-300:])
    H.check(r.stdout.split()[-1:] == ["0"], "off: no page warmed (%r)" % r.stdout)
H.finish()
