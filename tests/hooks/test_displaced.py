"""Full mode and the program's own profile function.

CPython 3.11: only one profile hook exists per thread. When the program
installs one (sys.setprofile, cProfile, threading.setprofile for a new
thread), full mode says so once per thread on standard error, naming the
thread, sets ULMA_HOOK_DISPLACED in the segment's hook_status while it holds
and counts it; the program sees its own function (sys.getprofile) and
nothing of ulma's; when the program removes it, ulma takes the hook back (at
once through sys.setprofile, within a watcher period after cProfile) and
records again; calls meanwhile are not recorded; the records stay balanced.

CPython 3.12+: full mode is a sys.monitoring tool of its own; the program's
profile functions and cProfile run beside it and take nothing: every call is
recorded, nothing is said, hook_status stays 0, and the program still sees
only its own functions. When the tool ids full mode may take are all in use,
it says so once and runs fast mode instead.

In process and through the launcher."""
import os
import sys

import hooktest as H
from ulma import _ulma

PROG = os.path.join(H.HERE, "displaced_prog.py")
MONITORING = sys.version_info >= (3, 12)  # full mode on sys.monitoring
CPROFILE_DISPLACES = not MONITORING


def child(what, args, d):
    """Run a child in a cleared segment directory; (its result, its
    "key value" output lines as a dict); a non-zero exit fails."""
    d.clear()
    r = H.run(args, d.env())
    H.check(r.returncode == 0, "%s: exit %d %s" % (what, r.returncode, r.stderr[-1000:]))
    return r, dict((ln.split(" ", 1) + [""])[:2] for ln in r.stdout.splitlines())


def run(what, args, d):
    r, out = child(what, args, d)
    H.check(out.get("getprofile-mine") == "True" and out.get("getprofile-none") == "True"
            and out.get("threading-getprofile") == "None" and out.get("mine-saw-calls") == "True",
            "%s: the program sees its own profile functions only: %s" % (what, out))
    path = out.get("segment", "")
    seg = H.read(path)
    H.check(H.balance_ok(seg), "%s: balanced" % what)
    calls = {k[2]: v for k, v in H.counts(seg, only_file=PROG).items()}
    warn = [ln for ln in r.stderr.splitlines() if "full-mode profiling is paused" in ln]
    if MONITORING:
        for k in ("setprofile", "after-setprofile", "after-cprofile", "end"):
            H.check(out.get(k) == "0 0", "%s: %s: nothing displaced: %s" % (what, k, out.get(k)))
        H.check(not warn and "ulma:" not in r.stderr, "%s: nothing said: %s"
                % (what, r.stderr[-1000:]))
        H.check(_ulma._header(path)["hook_status"] == 0, "%s: the header's hook_status" % what)
        recorded = ["before", "under_setprofile", "after_setprofile", "under_cprofile",
                    "after_cprofile", "in_thread", "in_later_thread"]
        unrecorded = []
    else:
        # hook_status: DISPLACED bit, then the count
        H.check(out.get("setprofile") == "1 1", "%s: displaced by sys.setprofile: %s"
                % (what, out.get("setprofile")))
        H.check(out.get("after-setprofile") == "0 1", "%s: back after sys.setprofile(None): %s"
                % (what, out.get("after-setprofile")))
        n = 3 if CPROFILE_DISPLACES else 2  # displacements in all
        H.check(out.get("after-cprofile") == "0 %d" % (n - 1), "%s: back after cProfile: %s"
                % (what, out.get("after-cprofile")))
        H.check(out.get("end") == "0 %d" % n, "%s: a thread started under threading.setprofile: %s"
                % (what, out.get("end")))
        H.check(len(warn) == 2 and "'MainThread'" in warn[0] and "'worker-displaced'" in warn[1],
                "%s: said once per thread, naming it: %s" % (what, warn))
        H.check(_ulma._header(path)["hook_status"] == n << _ulma.HOOK_COUNT_SHIFT,
                "%s: the header's hook_status" % what)
        recorded = ["before", "after_setprofile", "after_cprofile", "in_later_thread"]
        unrecorded = ["under_setprofile", "in_thread"]
        (unrecorded if CPROFILE_DISPLACES else recorded).append("under_cprofile")
    for fn in recorded:
        H.check(calls.get(fn) == 1, "%s: %s recorded (%s)" % (what, fn, calls.get(fn)))
    for fn in unrecorded:
        H.check(fn not in calls, "%s: %s not recorded (%s)" % (what, fn, calls.get(fn)))
    H.check(calls.get("f") == 10 * len(recorded),
            "%s: f's calls while recorded (%s)" % (what, calls.get("f")))
    names = {seg["names"].get(s) for s in seg["slots"]}
    H.check("worker-later" in names, "%s: the later thread profiled" % what)


TOOLS_TAKEN = r"""
import sys
for i in (3, 4):
    sys.monitoring.use_tool_id(i, "mine")
import ulma
from ulma import _ulma
def g(x):
    return x * 2
ulma.enable("full")
print("mode", _ulma.status()["mode"])
[g(i) for i in range(7)]
print("segment", ulma.status()["segment"])
ulma.disable()
"""


def tools_taken(d):
    """3.12+: tool ids 3 and 4 held by the program: said, fast mode."""
    r, out = child("tools taken", ["-c", TOOLS_TAKEN], d)
    H.check(out.get("mode") == str(_ulma.MODE_FAST), "tools taken: fast mode: %s" % out)
    said = [ln for ln in r.stderr.splitlines() if "full mode is not available" in ln]
    H.check(len(said) == 1 and "tool ids 4 and 3" in said[0], "tools taken: said once: %s"
            % r.stderr[-1000:])
    seg = H.read(out.get("segment", ""))
    calls = {k[2]: v for k, v in H.counts(seg).items()}
    H.check(calls.get("g") == 7 and H.balance_ok(seg), "tools taken: recorded in fast mode: %s"
            % calls.get("g"))


TOOL_FREED = r"""
import sys
import ulma
from ulma import _ulma
def g(x):
    return x * 2
ulma.enable("full")
first = [t for t in range(6) if sys.monitoring.get_tool(t) == "ulma"]
_ulma.set_mode(_ulma.MODE_OFF)
sys.monitoring.free_tool_id(first[0])  # the program takes ulma's tool id
sys.monitoring.use_tool_id(first[0], "mine")
_ulma.set_mode(_ulma.MODE_FULL)
print("tools", first[0], sys.monitoring.get_tool(first[0]),
      [t for t in range(6) if sys.monitoring.get_tool(t) == "ulma"])
print("mode", _ulma.status()["mode"])
[g(i) for i in range(5)]
print("segment", ulma.status()["segment"])
ulma.disable()
"""


def tool_freed(d):
    """3.12+: the program frees ulma's tool id and takes it: full mode takes
    the next one when it comes on again, and records."""
    _, out = child("tool freed", ["-c", TOOL_FREED], d)
    H.check(out.get("tools") == "4 mine [3]", "tool freed: ulma on tool 3: %s" % out)
    H.check(out.get("mode") == str(_ulma.MODE_FULL), "tool freed: full mode: %s" % out)
    seg = H.read(out.get("segment", ""))
    calls = {k[2]: v for k, v in H.counts(seg).items()}
    H.check(calls.get("g") == 5 and H.balance_ok(seg), "tool freed: recorded: %s"
            % calls.get("g"))


with H.SegDir("displaced") as d:
    run("in process", [PROG, "inprocess"], d)
    run("launcher", ["-m", "ulma", "--no-agent", "--mode", "full", PROG], d)
    if MONITORING:
        tools_taken(d)
        tool_freed(d)
H.finish()
