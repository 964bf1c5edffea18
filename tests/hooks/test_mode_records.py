"""Mode switches do not cut the frames that stay open. A long outer
function runs while the mode is switched under it (ulma.disable()/enable()
in process, and the control word from outside, as an agent does): its CALL
is the thread's first call record and its RETURN the last return, after
every MODE record; MODE records carry the writer's depth and frames stay
open across them; every return pairs with a call (also for frames that left
while full mode's hook was off, and in mixed fast / full sequences); the
records' timestamps never go back."""
import os
import subprocess
import time

import hooktest as H
from ulma import _ulma

PROG = os.path.join(H.HERE, "mode_prog.py")
KIND = {v: k for k, v in H.EV.items()}


def check_run(what, path, switches):
    """The outer function's pair holds `switches` MODE records of the main
    thread; returns (records of the main thread, code names)."""
    seg = _ulma._read_segment(path, True)
    H.check(H.balance_ok(seg), "%s: balanced" % what)
    H.check(seg["dropped"] == 0 and seg["problems"] == 0, "%s: no drops, no problems" % what)
    slot = [s for s, n in seg["names"].items() if n == "MainThread"]
    if not H.check(len(slot) == 1, "%s: the main thread's slot" % what):
        return None
    recs = seg["slots"].get(slot[0], [])
    name = {i: v[0] for i, v in seg["codes"].items()}
    where = [n for n, r in enumerate(recs) if r[0] in (H.EV["CALL"], H.EV["RETURN"])
             and name.get(r[1], "").startswith("outer")]
    if not H.check(len(where) == 2, "%s: one CALL and one RETURN of outer (%d)"
                   % (what, len(where))):
        return None
    call, ret = recs[where[0]], recs[where[1]]
    H.check(call[0] == H.EV["CALL"] and ret[0] == H.EV["RETURN"] and call[2] == ret[2],
            "%s: outer's pair at one depth (%s, %s)" % (what, call[:3], ret[:3]))
    inside = [r for r in recs[where[0]:where[1]] if r[0] == H.EV["MODE"]]
    H.check(len(inside) == switches, "%s: outer's pair holds every switch (%d MODE records, "
            "want %d)" % (what, len(inside), switches))
    H.check(all(r[2] >= call[2] for r in inside), "%s: outer open at every MODE record" % what)
    stamps = [r[3] for r in recs if r[0] in (H.EV["CALL"], H.EV["RETURN"], H.EV["UNWIND"],
                                               H.EV["C_CALL"], H.EV["C_RETURN"], H.EV["MODE"])]
    H.check(all(x <= y for x, y in zip(stamps, stamps[1:])), "%s: timestamps in order" % what)
    return recs, name


with H.SegDir("modes") as d:
    # in process, through ulma.disable() / ulma.enable()
    for seq in ("fast,off,fast,off,fast", "full,off,full,off,full", "fast,full,off,fast",
                "full,fast,off,full", "fast,full,fast,off,full,fast"):
        d.clear()
        r = H.run([PROG, "seq", seq], d.env())
        if not H.check(r.returncode == 0, "%s: exit %d %s" % (seq, r.returncode, r.stderr)):
            continue
        # the main thread writes a MODE record at each switch: at once for
        # off (its own ulma.disable()), at its next event otherwise
        res = check_run(seq, r.stdout.strip(), len(seq.split(",")) - 1)
        if res:
            recs, name = res
            want = 500 * sum(1 for m in seq.split(",") if m != "off")
            got = sum(1 for k, i, dd, t in recs if k == H.EV["CALL"] and name.get(i) == "inner")
            H.check(got == want, "%s: inner calls while on: %d, want %d" % (seq, got, want))

    # from outside, through the control word, as an agent switches modes
    stop = os.path.join(d.path, "stop")
    d.clear()
    p = subprocess.Popen([H.PYTHON, "-m", "ulma", "--no-agent", "--mode", "fast", PROG, "wait",
                          stop], env=d.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    path = p.stdout.readline().strip()
    switches = [_ulma.MODE_OFF, _ulma.MODE_FAST, _ulma.MODE_FULL, _ulma.MODE_OFF,
                _ulma.MODE_FULL, _ulma.MODE_FAST]
    for mode in switches:
        time.sleep(0.1)
        seq = _ulma._request(path, mode | _ulma.CTL_VALID)
        t0 = time.monotonic()
        while _ulma._header(path)["applied_seq"] != seq and time.monotonic() - t0 < 5:
            time.sleep(0.01)
        H.check(_ulma._header(path)["applied_seq"] == seq, "control word %d applied" % mode)
    time.sleep(0.1)
    open(stop, "w").close()
    out, err = p.communicate(timeout=60)
    H.check(p.returncode == 0, "control-word child exit %d %s" % (p.returncode, err))
    # switched by the watcher: the main thread says so at its next event,
    # which is after the next switch when off
    check_run("control word", path, sum(1 for m in switches if m != _ulma.MODE_OFF))
H.finish()
