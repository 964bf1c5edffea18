"""Run-time toggle through the control word: applied within 1 s while the
program spins in Python and while it sleeps in C; off really uninstalls the
hooks (default eval frame, no profile function)."""
import os
import subprocess
import time

import hooktest as H
from ulma import _ulma

CHILD = os.path.join(H.HERE, "toggle_child.py")


kinds = []
codes = {}


def drain(path):
    """Read what the child wrote so far (its ring must not fill up)."""
    seg = H.read(path)
    codes.update(seg["codes"])
    seg["codes"] = codes
    for recs in seg["slots"].values():
        kinds.extend(k for k, _, _ in recs)
    return seg


def request(path, control, what):
    seq = _ulma._request(path, control | _ulma.CTL_VALID)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3:
        h = _ulma._header(path)
        if h["applied_seq"] == seq:
            dt = time.monotonic() - t0
            H.check(dt <= 1.0, "%s applied within 1 s (%.3f s)" % (what, dt))
            H.check(h["active_mode"] & 3 == control & 3,
                    "%s: active_mode %d" % (what, h["active_mode"]))
            return dt
        time.sleep(0.01)
    H.check(False, "%s never applied" % what)
    return None


with H.SegDir("toggle") as d:
    stop = os.path.join(d.path, "stop")
    p = subprocess.Popen([H.PYTHON, "-m", "ulma", "--no-agent", "--off", CHILD, stop, "1.5"],
                         env=d.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    path = p.stdout.readline().strip()
    H.check(path.startswith(d.path), "child reports its segment")
    H.check(_ulma._header(path)["active_mode"] == 0, "started off")
    time.sleep(0.2)
    request(path, _ulma.MODE_FAST, "fast while spinning")
    drain(path)
    time.sleep(0.1)
    drain(path)
    request(path, _ulma.MODE_FULL, "full while spinning")
    drain(path)
    time.sleep(0.1)
    drain(path)
    request(path, _ulma.MODE_OFF, "off while spinning")
    drain(path)
    open(stop, "w").close()
    line = p.stdout.readline().split()
    H.check(line == ["spin-done", "0", "1", "1"], "off uninstalled everything: %s" % line)
    time.sleep(0.3)  # now blocked in time.sleep
    request(path, _ulma.MODE_FAST | _ulma.CTL_BLOCKING, "fast while sleeping in C")
    line = p.stdout.readline().split()
    H.check(line == ["sleep-done", "1"], "fast in force after the sleep: %s" % line)
    out, err = p.communicate(timeout=30)
    H.check(p.returncode == 0, "child exit 0 (%s)" % err)
    seg = drain(path)
    H.check(H.EV["C_CALL"] in kinds, "full phase wrote C calls")
    H.check(kinds.count(H.EV["MODE"]) >= 3, "MODE records written")
    ticks = [v for k, v in H.counts(seg, only_file=CHILD).items() if k[2] == "tick"]
    H.check(ticks and ticks[0] >= 100, "tick calls recorded (%s)" % ticks)
H.finish()
