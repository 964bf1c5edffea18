"""python3 -m ulma runs a program exactly as python3 would: argv, __main__,
sys.path[0], stdout, stderr, exit status (SystemExit, uncaught exception),
-m module; the private agent is started with the documented command line
and the segment is reserved for it; a missing agent only warns."""
import json
import os
import subprocess
import sys

import hooktest as H

PROG = "launch_prog.py"
FAKE = H.fake_agent()


def same(args, what, **env):
    with H.SegDir("launch") as d:
        e = d.env(**env)
        plain = H.run(args, e, cwd=H.HERE)
        ours = H.run(["-m", "ulma", "--no-agent"] + args, e, cwd=H.HERE)
        for attr in ("returncode", "stdout", "stderr"):
            H.check(getattr(plain, attr) == getattr(ours, attr),
                    "%s: %s differs:\n plain %r\n ulma  %r" % (what, attr, getattr(plain, attr),
                                                             getattr(ours, attr)))
        H.check(len(d.segments()) == 1, "%s: one segment" % what)
        return ours


same([PROG, "ok", "x y"], "normal run")
r = same([PROG, "exit3"], "sys.exit(3)")
H.check(r.returncode == 3, "exit status 3")
r = same([PROG, "exitmsg"], "sys.exit(message)")
H.check(r.returncode == 1 and "bad things" in r.stderr, "message exit")
r = same([PROG, "raise"], "uncaught exception")
H.check(r.returncode == 1 and "RuntimeError: boom" in r.stderr and "deep(n - 1)" in r.stderr,
        "traceback printed")
r = same(["-m", "pkg_demo.tool", "4", "--flag"], "-m module")
H.check(r.returncode == 4 and "pkg_demo" in r.stdout, "-m module output and status")
r = same([os.path.join(H.HERE, PROG), "ok"], "absolute script path")

with H.SegDir("launch") as d:
    r = H.run(["-m", "ulma", "nosuch.py"], d.env(), cwd=H.HERE)
    p = H.run(["nosuch.py"], d.env(), cwd=H.HERE)
    H.check(r.returncode == p.returncode == 2 and r.stderr == p.stderr, "missing script")
    r = H.run(["-m", "ulma", "-m", "nosuch_mod"], d.env(), cwd=H.HERE)
    p = H.run(["-m", "nosuch_mod"], d.env(), cwd=H.HERE)
    H.check(r.returncode == p.returncode == 1 and r.stderr == p.stderr, "missing module")
    r = H.run(["-m", "ulma", "--help"], d.env())
    H.check(r.returncode == 0 and "SYNOPSIS" in r.stdout and "--objects" in r.stdout, "--help")
    r = H.run(["-m", "ulma", "--mode", "slow", PROG], d.env(), cwd=H.HERE)
    H.check(r.returncode == 2 and "usage" in r.stderr, "bad option: usage, exit 2")

    # no agent binary: warn, run profiled anyway
    r = H.run(["-m", "ulma", PROG, "ok"], d.env(ULMA_AGENT="/nonexistent/ulma-agent"), cwd=H.HERE)
    H.check(r.returncode == 0 and "warning" in r.stderr and "argv" in r.stdout,
            "missing agent warns: %r" % r.stderr)
    H.check(len(d.segments()) == 1, "missing agent: segment left for a later agent")
    d.clear()

    # a private agent: exact command line, reserved segment; the launcher
    # forks, the child runs the program, the agent takes the launcher's pid
    log = os.path.join(d.path, "agent.json")
    p = subprocess.Popen([H.PYTHON, "-m", "ulma", "--mode", "full", "-s", "tottime", "-o",
                          "out.{rank}.{pid}", "--json", "j.{pid}", PROG, "status"],
                         env=d.env(ULMA_AGENT=FAKE, FAKE_AGENT_LOG=log), cwd=H.HERE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=60)
    H.check(p.returncode == 0, "with agent: exit 0 %s" % err)
    info = json.load(open(log))
    lines = out.splitlines()
    H.check(lines[-1] == "fake-agent-table", "agent's table printed after the program: %r" % lines)
    H.check(info["pid"] == p.pid, "the agent has the launcher's pid")
    reader = [l for l in lines if l.startswith("reader ")]
    H.check(reader == ["reader %d" % info["pid"]], "segment reserved for the agent: %s" % reader)
    child_pid = int(info["argv"][1])
    argv = info["argv"]
    H.check(argv[:5] == ["--private", str(child_pid), "--go-fd", argv[3], "--wait-child"]
            and argv[5:] == ["--dir", d.path, "-s", "tottime", "-o", "out.{rank}.{pid}",
                             "--json", "j.{pid}", "--no-table"],
            "agent command line: %s" % argv)
    seg = H.read(d.segments()[0])
    H.check(seg["pid"] == child_pid, "the launcher's child is profiled")
    H.check(seg["state"] == 2, "segment exited")
    # the program's exit status comes back through the agent
    r = H.run(["-m", "ulma", PROG, "exit3"], d.env(ULMA_AGENT=FAKE, FAKE_AGENT_LOG=log),
              cwd=H.HERE)
    H.check(r.returncode == 3 and r.stdout.endswith("fake-agent-table\n"),
            "exit status through the agent: %d %r" % (r.returncode, r.stdout[-100:]))
    d.clear()
    # no -o/-s and no node agent: a private agent too; a node agent's lock: none
    r = H.run(["-m", "ulma", PROG, "ok"], d.env(ULMA_AGENT=FAKE, FAKE_AGENT_LOG=log), cwd=H.HERE)
    H.check(r.stdout.endswith("fake-agent-table\n"), "private agent when no node agent runs")
    os.unlink(log)
    import fcntl
    lock = open(os.path.join(d.path, "ulma-agent.lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    r = H.run(["-m", "ulma", PROG, "ok"], d.env(ULMA_AGENT=FAKE, FAKE_AGENT_LOG=log), cwd=H.HERE)
    H.check(r.returncode == 0 and not os.path.exists(log), "node agent running: no private agent")
    lock.close()
H.finish()
