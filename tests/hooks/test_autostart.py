"""ULMA_MODE autostart through ulma-autostart.pth (installed here into a
temporary user site directory): nothing happens without ULMA_MODE; with it
the process is profiled without changing its command line, a private agent
is started when no node agent runs, spawned children report to the same
agent; mpirun -np 2, with the launcher and with -x ULMA_MODE, gives two
segments with rank 0/1, size 2 and one job id."""
import json
import os
import shutil
import sys

import hooktest as H

PROG = os.path.join(H.HERE, "mp_prog.py")
LAUNCH = os.path.join(H.HERE, "launch_prog.py")
FAKE = H.fake_agent()
PTH = os.path.join(H.HERE, "..", "..", "hooks", "python", "ulma-autostart.pth")

with H.SegDir("autostart") as d:
    userbase = os.path.join(d.path, "userbase")
    site = os.path.join(userbase, "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
    os.makedirs(site)
    shutil.copy(PTH, site)
    segdir = os.path.join(d.path, "segs")
    os.mkdir(segdir)
    base = dict(PYTHONUSERBASE=userbase, ULMA_DIR=segdir)

    def segments():
        return sorted(os.path.join(segdir, f) for f in os.listdir(segdir) if f.endswith(".seg"))

    def clear():
        for p in segments():
            os.unlink(p)

    r = H.run(["-c", "import sys; print('ulma' in sys.modules)"], d.env(**base))
    H.check(r.stdout.strip() == "False" and not segments(), "no ULMA_MODE: ulma not even imported")

    r = H.run([LAUNCH, "exit3"], d.env(ULMA_MODE="full", ULMA_NO_AGENT=1, **base))
    H.check(r.returncode == 3 and "argv" in r.stdout, "autostart keeps the exit status")
    segs = segments()
    H.check(len(segs) == 1, "autostart made a segment")
    if segs:
        seg = H.read(segs[0])
        calls = H.counts(seg, only_file=LAUNCH, kinds=("CALL",))
        H.check(any(k[2] == "<module>" for k in calls), "the program's module frame recorded")
        H.check(seg["state"] == 2, "segment exited")
        H.check(any(k[0] == "~" for k in H.counts(seg, kinds=("C_CALL",))), "full mode: C calls")
    clear()

    r = H.run([LAUNCH, "ok"], d.env(ULMA_MODE="bogus", **base))
    H.check(r.returncode == 0 and "autostart failed" in r.stderr, "bad ULMA_MODE only warns")

    # a private agent, shared by spawned children
    log = os.path.join(d.path, "agent.json")
    r = H.run([PROG, "spawn"], d.env(ULMA_MODE="fast", ULMA_AGENT=FAKE, FAKE_AGENT_LOG=log,
                                     ULMA_OUTPUT="o.{pid}", **base))
    H.check(r.returncode == 0 and r.stdout.startswith("2470\n"), "spawn pool under ULMA_MODE")
    H.check(r.stdout.endswith("fake-agent-table\n"), "agent table at the end: %r" % r.stdout)
    info = json.load(open(log))
    H.check(info["argv"][-3:] == ["-o", "o.{pid}", "--no-table"] and "--go-fd" in info["argv"],
            "ULMA_OUTPUT passed as -o (no table, as cProfile): %s" % info["argv"])
    segs = [H.read(p) for p in segments()]
    H.check(len(segs) >= 3, "parent and spawned workers have segments (%d)" % len(segs))
    sq = sum(v for s in segs for k, v in H.counts(s, only_file=PROG).items() if k[2] == "square")
    H.check(sq == 20, "square() calls in the workers recorded (%d)" % sq)
    clear()

    # mpirun: launcher and autostart
    mpi = ["mpirun", "--oversubscribe", "-np", "2"]
    for k in ("PYTHONPATH", "PYTHONUSERBASE", "ULMA_DIR", "ULMA_NO_AGENT"):
        mpi += ["-x", k]
    for how, cmd, extra in (("launcher", mpi + [H.PYTHON, "-m", "ulma", "--no-agent", LAUNCH, "ok"], {}),
                            ("ULMA_MODE", mpi + ["-x", "ULMA_MODE", H.PYTHON, LAUNCH, "ok"],
                             {"ULMA_MODE": "fast"})):
        import subprocess
        env = d.env(ULMA_NO_AGENT=1, **base, **extra)
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60)
        H.check(p.returncode == 0, "mpirun %s: exit 0 %s" % (how, p.stderr[-400:]))
        segs = [H.read(s) for s in segments()]
        H.check(len(segs) == 2, "mpirun %s: two segments (%d)" % (how, len(segs)))
        H.check(sorted(s["rank"] for s in segs) == [0, 1], "mpirun %s: ranks 0 and 1" % how)
        H.check({s["size"] for s in segs} == {2}, "mpirun %s: size 2" % how)
        jobs = {s["job"] for s in segs}
        H.check(len(jobs) == 1 and "" not in jobs, "mpirun %s: one job id %s" % (how, jobs))
        H.check(all(H.counts(s, only_file=LAUNCH) for s in segs), "mpirun %s: calls recorded" % how)
        clear()
H.finish()
