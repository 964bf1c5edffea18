"""python3 -m ulma with its private agent, at its start and its end: the
program's output (both streams) and exit status are python3's, the table
comes after the program's last byte; no sleep anywhere on the way (no
nanosleep or clock_nanosleep system call by any thread of the launcher,
the program or the agent: the clock is calibrated without sleeping, the
agent learns of the program's end from its signal and never pauses on a
timer); the same with -s and --mode full; with -o, nothing but the
program's output."""
import os
import pstats
import shutil
import subprocess

import hooktest as H

PROG = os.path.join(H.HERE, "quick_prog.py")
TABLE = "function calls"
STRACE = shutil.which("strace") or "/usr/bin/strace"

with H.SegDir("launch-quick") as d:
    plain = H.run([PROG], d.env(), cwd=d.path)
    H.check(plain.returncode == 5 and plain.stdout.endswith("at the end"), "plain run: %r"
            % (plain.stdout,))
    for opts in ([], ["-s", "tottime"], ["--mode", "full"]):
        r = H.run(["-m", "ulma"] + opts + [PROG], d.env(), cwd=d.path)
        H.check(r.returncode == plain.returncode, "%s: the program's status (%d)"
                % (opts, r.returncode))
        H.check(r.stderr == plain.stderr, "%s: stderr untouched: %r" % (opts, r.stderr))
        H.check(r.stdout.startswith(plain.stdout), "%s: stdout untouched: %r"
                % (opts, r.stdout[:200]))
        table = r.stdout[len(plain.stdout):]
        H.check(TABLE in table and "quick_prog.py:6(work)" in table,
                "%s: the table after the program's last byte: %r" % (opts, table[:300]))
        H.check(TABLE not in r.stdout[:len(plain.stdout)], "%s: no table before" % opts)
        H.check(not d.segments(), "%s: no segment left" % opts)
    out = os.path.join(d.path, "q.pstats")
    r = H.run(["-m", "ulma", "-o", out, PROG], d.env(), cwd=d.path)
    H.check(r.returncode == 5 and r.stdout == plain.stdout and r.stderr == plain.stderr,
            "-o: the program's output only: %r" % (r.stdout,))
    H.check(any(k[2] == "work" for k in pstats.Stats(out).stats), "-o: pstats written")

    # no sleep: every thread of every process of the run, traced
    log = os.path.join(d.path, "strace.log")
    p = subprocess.run([STRACE, "-f", "-qq", "-o", log, "-e", "trace=nanosleep,clock_nanosleep",
                        H.PYTHON, "-m", "ulma", PROG], env=d.env(), cwd=d.path,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    H.check(p.returncode == 5 and TABLE in p.stdout, "traced run: status and table (%d %r)"
            % (p.returncode, p.stderr[-300:]))
    sleeps = [l for l in open(log) if "nanosleep(" in l]
    H.check(not sleeps, "no sleep from start to end: %s" % sleeps[:5])
    H.check(not d.segments(), "traced run: no segment left")
H.finish()
