"""ulma-ctl against a real node agent and a hooked program: every command
prints a readable table (callers/callees as pstats prints them, stacks as
indented frames, list like ps, ...) and --json the agent's answer as it is;
an ambiguous function name is an error listing the candidates (the
agent's answer carries them); no agent is reported at once (no directory,
no socket, a socket nobody serves) without waiting for the timeout; --help
documents every option."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from pycheck import check, finish  # noqa: E402

BUILD = os.environ.get("ULMA_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
AGENT = os.path.join(BUILD, "node-agent", "ulma-agent")
CTL = os.path.join(BUILD, "node-agent", "ulma-ctl")
PYTHON = os.environ.get("ULMA_TEST_PYTHON", "/usr/bin/python3")


def ctl(*args, timeout_ms=20000):
    return subprocess.run([CTL, "--dir", d, "--timeout", str(timeout_ms)] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)


with tempfile.TemporaryDirectory(prefix="ulma-ctl-") as d:
    # no agent: said at once, each case with its own reason (the timeout's
    # message is another one: "no answer ... within")
    r = subprocess.run([CTL, "--dir", os.path.join(d, "nope"), "--timeout", "60000", "list"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    check(r.returncode == 1 and "does not exist" in r.stderr, "no directory: %r" % r.stderr)
    r = ctl("list", timeout_ms=60000)
    check(r.returncode == 1 and "no socket" in r.stderr, "no socket: %r" % r.stderr)
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(d, "ulma-agent.ipc"))
    s.close()
    r = ctl("list", timeout_ms=60000)
    check(r.returncode == 1 and "gone" in r.stderr and "ulma-agent.lock" in r.stderr,
          "a socket nobody serves: %r" % r.stderr)
    os.unlink(os.path.join(d, "ulma-agent.ipc"))

    r = subprocess.run([CTL, "--help"], stdout=subprocess.PIPE, text=True)
    for word in ("--dir", "--endpoint", "--timeout", "--json", "--sort", "--rows", "--pid",
                 "--job", "--all", "--objects", "--wait", "--help", "EXIT STATUS", "callers",
                 "stacks", "export", "raw"):
        check(word in r.stdout, "--help documents %s" % word)
    r = ctl("top")
    check(r.returncode == 2 and "PID" in r.stderr, "top without a PID: usage error")
    r = ctl("frobnicate")
    check(r.returncode == 2, "unknown command: usage error")

    agent = subprocess.Popen([AGENT, "--dir", d, "--scan-ms", "50", "--cron-ms", "10"])
    ready = os.path.join(d, "ready")
    env = dict(os.environ, ULMA_DIR=d, CTL_READY=ready)
    env.pop("ULMA_MODE", None)
    prog = os.path.join(HERE, "ctl_prog.py")
    try:
        for _ in range(500):
            if os.path.exists(os.path.join(d, "ulma-agent.ipc")):
                break
            time.sleep(0.01)
        p = subprocess.Popen([PYTHON, "-m", "ulma", "--objects", prog], env=env)
        for _ in range(3000):
            if os.path.exists(ready):
                break
            time.sleep(0.01)
        pid = str(p.pid)
        # the agent drains on its own: wait until it has the calls of g
        for _ in range(500):
            r = ctl("--json", "callees", pid, "g")
            if r.returncode == 0 and len(json.loads(r.stdout)["callees"]) == 3:
                break
            time.sleep(0.02)

        r = ctl("list")
        lines = r.stdout.splitlines()
        check(r.returncode == 0 and lines[1].split()[:3] == ["PID", "RANK", "SIZE"]
              and any(l.split()[0] == pid for l in lines[2:]), "list: a process table %r"
              % r.stdout)
        j = json.loads(ctl("--json", "list").stdout)
        check(j["ok"] and any(str(x["pid"]) == pid for x in j["processes"]),
              "list --json: the answer as it is")

        r = ctl("callers", pid, "f")
        check(r.returncode == 1 and "ambiguous" in r.stderr, "bare name of 3 functions: error")
        for line in (":8(f)", ":13(f)", ":17(f)"):
            check(line in r.stderr, "candidate %s listed: %r" % (line, r.stderr))
        j = json.loads(ctl("--json", "callers", pid, "f").stdout)
        check(not j["ok"] and j["error"].startswith("func: ambiguous name")
              and len(j["candidates"]) == 3 and all("(f)" in c for c in j["candidates"]),
              "the agent's answer lists the candidates: %s" % j)
        r = ctl("callers", pid, "A.f")
        out = r.stdout.splitlines()
        check(r.returncode == 0 and out[0].startswith("Function ")
              and out[0].rstrip().endswith("was called by...")
              and out[1].split() == ["ncalls", "tottime", "cumtime"]
              and ":8(f)" in out[2] and "<-" in out[2] and out[2].split()[2] == "100"
              and out[2].rstrip().endswith(":21(g)"), "callers as pstats: %r" % r.stdout)
        r = ctl("callees", pid, "g")
        out = r.stdout.splitlines()
        check(r.returncode == 0 and out[0].rstrip().endswith("called...") and "->" in out[2]
              and len(out) == 5 and all(l.split()[-4] == "100" for l in out[2:]),
              "callees as pstats: %r" % r.stdout)
        r = ctl("callers", pid, os.path.join(HERE, "ctl_prog.py") + ":17(f)")
        check(r.returncode == 0 and "<-" in r.stdout, "file:line(name) names one function")

        r = ctl("stacks", pid)
        out = r.stdout.splitlines()
        check(r.returncode == 0 and out[0].startswith("thread ") and "MainThread" in out[0]
              and "(<module>)" in out[1] and " s " in out[1], "stacks: %r" % r.stdout)
        r = ctl("paths", pid, "-n", "5")
        check(r.returncode == 0 and "cumtime  path" in r.stdout and len(r.stdout.splitlines())
              == 8, "paths: a table %r" % r.stdout)
        r = ctl("objects", pid)
        check(r.returncode == 0 and "__main__.A" in r.stdout and "bytes_new" in r.stdout,
              "objects: columns %r" % r.stdout)
        r = ctl("mpi", pid)
        check(r.returncode == 0 and "calls" in r.stdout.splitlines()[2], "mpi: columns")
        r = ctl("drops")
        check(r.returncode == 0 and r.stdout.split()[:3] == ["PID", "RECORDS_LOST", "CORRUPT"],
              "drops: a table %r" % r.stdout)
        r = ctl("drops", pid)
        check(r.returncode == 0 and "records_lost" in r.stdout and "stack_repairs" in r.stdout,
              "drops PID: every counter")
        r = ctl("top", pid, "-n", "3", "-s", "tottime")
        check(r.returncode == 0 and "Ordered by: internal time" in r.stdout, "top")
        r = ctl("full", "--pid", pid)
        check(r.returncode == 0 and "applied by 1 of 1" in r.stdout
              and r.stdout.splitlines()[2].split()[0] == pid, "control: a table %r" % r.stdout)
        out = os.path.join(d, "x.pstats")
        r = ctl("export", pid, "pstats", out)
        check(r.returncode == 0 and os.path.getsize(out) > 0 and "wrote" in r.stdout, "export")
        os.unlink(ready)
        p.wait(timeout=60)
    finally:
        agent.terminate()
        agent.wait(timeout=30)
finish()
