"""A full ring with nobody draining: the program finishes, and every lost
record is counted: records present + dropped == records written with a
ring big enough for everything."""
import os

import hooktest as H

PROG = os.path.join(H.HERE, "drops_prog.py")


def run(d, ring, mode):
    d.clear()
    r = H.run(["-m", "ulma", "--no-agent", "--mode", mode, PROG], d.env(ULMA_RING_SIZE=ring))
    H.check(r.returncode == 0 and r.stdout == "done\n", "ring %s: program finished" % ring)
    seg = H.read(d.segments()[0])
    n = sum(1 for recs in seg["slots"].values() for k, _, _ in recs if k != H.EV["DROP"])
    drops = sum(i for recs in seg["slots"].values() for k, i, _ in recs if k == H.EV["DROP"])
    return n, seg["dropped"], drops, seg


with H.SegDir("drops") as d:
    for mode in ("fast", "full"):
        full_n, full_dropped, _, seg = run(d, 16 << 20, mode)
        H.check(full_dropped == 0, "%s: big ring drops nothing" % mode)
        H.check(full_n > 40000, "%s: %d records" % (mode, full_n))
        n, dropped, drop_recs, seg = run(d, 4096, mode)
        H.check(dropped > 0, "%s: small ring dropped (%d)" % (mode, dropped))
        H.check(n + dropped == full_n,
                "%s: present %d + dropped %d == %d" % (mode, n, dropped, full_n))
        H.check(drop_recs <= dropped, "%s: DROP records carry the counts" % mode)
H.finish()
