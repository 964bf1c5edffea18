"""A live top shows the time of functions still running: a program whose
main loop runs for seconds, asked while it runs. <module> and the loop have
no completed call yet (ncalls 0, as cProfile would say), but their time so
far is there (open_cumtime, open_calls) and the table marks it; a mode
switch off and on again does not end them. The JSON names the mode."""
import json
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from pycheck import check, finish  # noqa: E402

BUILD = os.environ.get("ULMA_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
AGENT = os.path.join(BUILD, "node-agent", "ulma-agent")
CTL = os.path.join(BUILD, "node-agent", "ulma-ctl")
PYTHON = os.environ.get("ULMA_TEST_PYTHON", "/usr/bin/python3")
SLOW = 3 if os.environ.get("LD_PRELOAD", "").find("asan") >= 0 else 1

PROG = """
import sys, time
def leaf(i):
    return i + 1
def main_loop(seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n = leaf(n)
    return n
main_loop(float(sys.argv[1]))
"""


def ctl(d, *args):
    r = subprocess.run([CTL, "--dir", d, "--timeout", "20000", "--json"] + list(args),
                       capture_output=True, text=True, timeout=60)
    return json.loads(r.stdout, parse_float=Decimal) if r.returncode == 0 else None


def row(top, name):
    for r in (top or {}).get("rows", []):
        if r["name"] == name:
            return r
    return None


with tempfile.TemporaryDirectory(prefix="ulma-live-") as d:
    prog = os.path.join(d, "prog.py")
    with open(prog, "w") as f:
        f.write(PROG)
    agent = subprocess.Popen([AGENT, "--dir", d, "--scan-ms", "50", "--cron-ms", "10", "-q"])
    env = dict(os.environ, ULMA_DIR=d)
    env.pop("ULMA_MODE", None)
    for _ in range(200):
        if os.path.exists(os.path.join(d, "ulma-agent.ipc")):
            break
        time.sleep(0.02)
    p = subprocess.Popen([PYTHON, "-m", "ulma", prog, str(6 * SLOW)], env=env)
    pid = p.pid
    top = None
    for _ in range(200):
        top = ctl(d, "top", str(pid), "-n", "0")
        if top and top.get("ok") and row(top, "main_loop"):
            break
        time.sleep(0.05)
    time.sleep(1.0 * SLOW)
    top = ctl(d, "top", str(pid), "-n", "0")
    loop, mod, leaf = row(top, "main_loop"), row(top, "<module>"), row(top, "leaf")
    check(loop is not None and mod is not None and leaf is not None,
          "the running program's rows are there: %s" % [r["name"] for r in (top or {}).get("rows", [])])
    if loop and mod and leaf:
        check(loop["ncalls"] == 0 and mod["ncalls"] == 0,
              "no completed call of main_loop or <module> yet (cProfile's counting)")
        check(loop.get("open_calls") == 1 and loop.get("open_cumtime", 0) > Decimal("0.8") * SLOW,
              "main_loop's time so far is shown: %s s" % loop.get("open_cumtime"))
        check(mod.get("open_cumtime", 0) >= loop.get("open_cumtime", 0),
              "<module> includes it: %s s" % mod.get("open_cumtime"))
        # the snapshot may catch the program inside leaf: at most that one call open
        check(leaf["ncalls"] > 1000 and leaf.get("open_calls", 0) <= 1,
              "leaf's completed calls are counted: %s (open %s)"
              % (leaf["ncalls"], leaf.get("open_calls", 0)))
        check(top["process"]["active_mode"] == "fast" and top["process"]["state"] == "live",
              "the JSON names the mode and state: %s %s" % (top["process"]["active_mode"],
                                                             top["process"]["state"]))
    text = subprocess.run([CTL, "--dir", d, "top", str(pid), "-n", "5"], capture_output=True,
                          text=True).stdout
    check("* times include frames still running" in text, "the table says what * means")
    check(any(l.endswith("(main_loop)") and "*" in l for l in text.splitlines()),
          "main_loop's row is marked:\n%s" % text)
    # off and on again: the open frames stay open, their time keeps growing
    before = loop.get("open_cumtime", 0) if loop else 0
    for mode in ("off", "fast"):
        r = subprocess.run([CTL, "--dir", d, mode, "--pid", str(pid)], capture_output=True,
                           text=True)
        check(r.returncode == 0, "ulma-ctl %s: %s" % (mode, r.stdout + r.stderr))
    time.sleep(0.5 * SLOW)
    top = ctl(d, "top", str(pid), "-n", "0")
    loop = row(top, "main_loop")
    check(loop and loop["ncalls"] == 0 and loop.get("open_cumtime", 0) > before,
          "after off and on, main_loop is still open and its time grew: %s > %s"
          % (loop and loop.get("open_cumtime"), before))
    p.wait(timeout=60 * SLOW)
    time.sleep(0.3)
    top = ctl(d, "top", str(pid), "-n", "0")
    loop = row(top, "main_loop")
    # the agent compares the cycle counter with the monotonic clock over its
    # watch of the process: a virtual machine paused or migrated meanwhile
    # makes every time off by that much, and the agent says so (JSON and
    # table); corrected by what it said, main_loop still has all its time
    drift = (top or {}).get("process", {}).get("clock_drift_ppm")
    check(isinstance(drift, int), "the JSON gives the clock's drift: %r" % drift)
    drift = drift if isinstance(drift, int) else 0
    text = subprocess.run([CTL, "--dir", d, "top", str(pid), "-n", "5"], capture_output=True,
                          text=True).stdout
    check(("Clock: the cycle counter ran" in text) == (abs(drift) >= 10000),
          "the table warns of a clock drift of 1%% or more (%d ppm):\n%s" % (drift, text))
    corrected = loop["cumtime"] / (1 + Decimal(drift) / 1000000) if loop else 0
    check(loop and loop["ncalls"] == 1 and "open_calls" not in loop
          and corrected > Decimal(5.5) * SLOW,
          "at the end main_loop has its one call and all its time: %s (clock drift %d ppm)"
          % (loop, drift))
    agent.terminate()
    agent.wait(timeout=20)
finish()
