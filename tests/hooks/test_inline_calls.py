"""Every Python function's call count equals cProfile's, also for calls
CPython 3.11 before 3.11.4 makes without calling the eval-frame function
(a Python __getitem__ behind a specialised subscript: BINARY_SUBSCR_GETITEM),
and for the other ways Python calls Python (dunder methods called from C,
properties, iterators, generators, callbacks, recursion through
__getitem__). inline_prog.py runs its workload once to warm the
specialisations, then once measured:
  - in process, ulma.enable("fast") / ("full") around the measured run
    (subscripts specialised before profiling started), against cProfile
    around the same run;
  - through the launcher, profiled from the start (classes and functions
    made while fast mode is on), records read from the segment and, end to
    end, the private agent's pstats file, against python3 -m cProfile.
"""
import io
import os
import pstats
import tempfile

import hooktest as H
from ulma import _ulma

PROG = os.path.join(H.HERE, "inline_prog.py")


def pstats_counts(path):
    st = pstats.Stats(path, stream=io.StringIO()).stats
    return {k: v[1] for k, v in st.items() if k[0] == PROG}


def compare(what, ours, ref):
    H.check(len(ref) > 25, "%s: cProfile saw the program (%d functions)" % (what, len(ref)))
    getitem = [k for k in ref if k[2] == "__getitem__"]
    H.check(len(getitem) == 4, "%s: the four __getitem__ (%s)" % (what, getitem))
    for key in sorted(set(ref) | set(ours)):
        H.check(ours.get(key) == ref.get(key),
                "%s: %s:%d %s ulma %s cProfile %s"
                % (what, os.path.basename(key[0]), key[1], key[2], ours.get(key), ref.get(key)))


with H.SegDir("inline") as d:
    tmp = tempfile.mkdtemp(dir=d.path)
    # in process: specialised before profiling started
    out = os.path.join(tmp, "ref.pstats")
    r = H.run([PROG, "cprofile", out], d.env())
    H.check(r.returncode == 0, "cProfile run: %s" % r.stderr[-2000:])
    ref = pstats_counts(out)
    for mode in ("fast", "full"):
        d.clear()
        r = H.run([PROG, mode], d.env())
        H.check(r.returncode == 0, "enable(%s) run: %s" % (mode, r.stderr[-2000:]))
        seg = H.read(r.stdout.strip())
        H.check(H.balance_ok(seg), "enable(%s): balanced" % mode)
        H.check(seg["problems"] == 0, "enable(%s): no problems" % mode)
        compare("enable(%s)" % mode, H.counts(seg, only_file=PROG), ref)

    # through the launcher: made while profiled
    ref = {k: v for k, v in H.cprofile_counts(PROG, ["launched"], env=d.env()).items()
           if k[0] == PROG}
    for mode in ("fast", "full"):
        d.clear()
        r = H.run(["-m", "ulma", "--no-agent", "--mode", mode, PROG, "launched"], d.env())
        H.check(r.returncode == 0, "launcher %s: %s" % (mode, r.stderr[-2000:]))
        segs = d.segments()
        H.check(len(segs) == 1, "launcher %s: one segment" % mode)
        seg = H.read(segs[0])
        H.check(H.balance_ok(seg), "launcher %s: balanced" % mode)
        compare("launcher %s" % mode, H.counts(seg, only_file=PROG), ref)
        # end to end: launcher, ring, private agent, pstats file
        d.clear()
        out = os.path.join(tmp, "%s.pstats" % mode)
        r = H.run(["-m", "ulma", "--mode", mode, "-o", out, PROG, "launched"], d.env())
        H.check(r.returncode == 0 and os.path.exists(out),
                "agent %s: %s" % (mode, r.stderr[-2000:]))
        if os.path.exists(out):
            compare("agent %s" % mode, pstats_counts(out), ref)
H.finish()
