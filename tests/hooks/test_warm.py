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

    # a fork()ed child: its own segment, its own rings, warmed too
    d.clear()
    r = H.run(["-m", "ulma", "--no-agent", "--mode", "fast", PROG, "fork"],
              d.env(ULMA_RING_SIZE=RING))
    words = r.stdout.split()
    H.check(r.returncode == 0 and words[:1] == ["child"], "fork: the child ran (%r %s)"
            % (r.stdout, r.stderr.strip()[-300:]))
    child = int(words[1]) if len(words) > 1 else -1
    H.check(0 < child <= RING // 4096, "fork: %d pages of the child's ring warmed" % child)
    segs = [H.read(p) for p in d.segments()]
    H.check(len(segs) == 2, "fork: two segments (%d)" % len(segs))
    n = max((sum(v for (f, line, name), v in H.counts(s, only_file=PROG).items() if name == "f")
             for s in segs), default=0)
    H.check(n == CALLS, "fork: the child's %d calls of f recorded" % n)

    # hooks loaded, off: nothing written, nothing warmed
    d.clear()
    r = H.run(["-m", "ulma", "--no-agent", "--off", PROG], d.env(ULMA_RING_SIZE=RING))
    H.check(r.returncode == 0, "off: the program ran (%s)" % r.stderr.strip()[-300:])
    H.check(r.stdout.split()[-1:] == ["0"], "off: no page warmed (%r)" % r.stdout)
H.finish()
