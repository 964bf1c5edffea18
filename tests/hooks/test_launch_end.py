"""python3 -m ulma with its private agent: every option is checked before
the program starts (a bad sort key or output path is a usage error, the
program never runs, no segment is left); -o prints no table, like
cProfile; the report is complete before the launcher's process ends,
whatever way the program ended (os._exit, a signal of its own, a signal
sent to the launcher, which is passed on), and the exit status is the
program's; a file that cannot be written at the end still leaves the table
printed, is said on stderr and leaves the program's status; a syntax error, an uncaught exception
and a missing script look as with python3; no fork when a node agent runs
and nothing is to be printed."""
import fcntl
import os
import pstats
import pty
import signal
import subprocess
import tempfile
import time

import hooktest as H

PROG = os.path.join(H.HERE, "end_prog.py")
TABLE = "function calls"


def launch(d, args, **kw):
    return H.run(["-m", "ulma"] + args, d.env(), cwd=d.path, **kw)


def no_segments(d, what):
    H.check(not d.segments(), "%s: no segment left: %s" % (what, d.segments()))


with H.SegDir("launch-end") as d:
    # 3. options checked before the program starts
    for args, what in ((["-s", "badkey"], "unknown sort key"), (["-s", "cum"], "ambiguous key"),
                       (["-o", "/nonexistent/x"], "-o in a missing directory"),
                       (["--svg", "/nonexistent/x.svg"], "--svg in a missing directory")):
        r = launch(d, args + [PROG, "ok"])
        H.check(r.returncode == 2, "%s: usage error, status 2 (%d)" % (what, r.returncode))
        H.check("pid" not in r.stdout and TABLE not in r.stdout,
                "%s: the program did not run: %r" % (what, r.stdout))
        H.check("ulma-agent:" in r.stderr and args[1] in r.stderr,
                "%s: said why: %r" % (what, r.stderr))
        no_segments(d, what)
    for opts in ([], ["--no-agent"]):
        r = launch(d, opts + ["--dir", "/nonexistent", PROG, "ok"])
        H.check(r.returncode == 2 and "pid" not in r.stdout and "Traceback" not in r.stderr
                and "/nonexistent" in r.stderr, "--dir missing %s: usage error %r"
                % (opts, r.stderr))
    r = launch(d, ["--no-agent", "-o", "x.pstats", PROG, "ok"])
    H.check(r.returncode == 2 and "--no-agent" in r.stderr, "--no-agent with -o: usage error")

    # 4. -o: the program's output only, as with cProfile (also with -s)
    plain = H.run([PROG, "ok"], d.env(), cwd=d.path)
    for extra in ([], ["-s", "tottime"]):
        out = os.path.join(d.path, "o.pstats")
        r = launch(d, ["-o", out] + extra + [PROG, "ok"])
        H.check(r.returncode == 0 and TABLE not in r.stdout and r.stdout.endswith("done\n")
                and r.stdout.count("\n") == plain.stdout.count("\n"),
                "-o %s: no table: %r" % (extra, r.stdout))
        st = pstats.Stats(out).stats
        H.check(any(k[2] == "work" for k in st), "-o %s: pstats written" % extra)
        os.unlink(out)
        no_segments(d, "-o")
    r = launch(d, ["-s", "tottime", PROG, "ok"])
    H.check(TABLE in r.stdout and "Ordered by: internal time" in r.stdout, "-s alone: a table")

    # 9. the report before the launcher's process ends, the program's status
    def ended(args, what):
        """Run; read the output the moment the launcher's process is gone."""
        with tempfile.TemporaryFile("w+") as f:
            p = subprocess.Popen([H.PYTHON, "-m", "ulma"] + args, env=d.env(), cwd=d.path,
                                 stdout=f, stderr=subprocess.PIPE, text=True)
            err = p.communicate(timeout=60)[1]
            f.seek(0)
            out = f.read()
        H.check(TABLE in out and "end_prog.py" in out,
                "%s: the table is out when the launcher ends: %r" % (what, out[-300:]))
        no_segments(d, what)
        return p.returncode, out, err

    rc, out, _ = ended([PROG, "exit"], "os._exit(3)")
    H.check(rc == 3, "os._exit(3): status 3 (%d)" % rc)
    H.check(":8(work)" in out, "os._exit: the program's calls are in the table")
    rc, out, _ = ended([PROG, "selfkill"], "SIGTERM of its own")
    H.check(rc == -signal.SIGTERM, "killed by SIGTERM: the same status (%d)" % rc)
    rc, out, _ = ended([PROG, "fork"], "a forked child")
    H.check(rc == 0 and out.count("ulma: pid") == 2, "fork: both processes reported: %r"
            % out[:400])

    # signals sent to the launcher's pid go to the program
    for sig in (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT):
        flag = os.path.join(d.path, "started")
        with tempfile.TemporaryFile("w+") as f:
            p = subprocess.Popen([H.PYTHON, "-m", "ulma", PROG, "wait", flag], env=d.env(),
                                 cwd=d.path, stdout=f, stderr=subprocess.PIPE, text=True)
            for _ in range(3000):
                if os.path.exists(flag):
                    break
                time.sleep(0.01)
            os.kill(p.pid, sig)
            err = p.communicate(timeout=60)[1]
            f.seek(0)
            out = f.read()
        os.unlink(flag)
        H.check(p.returncode == -sig, "%s sent to the launcher: the program's death by it (%d)"
                % (sig.name, p.returncode))
        H.check(TABLE in out, "%s: the report" % sig.name)
        if sig == signal.SIGINT:
            H.check("KeyboardInterrupt" in err, "SIGINT: KeyboardInterrupt in the program")
        lines = out.splitlines()
        H.check(lines[0].startswith("pid ") and int(lines[0].split()[3]) == p.pid,
                "%s: the program is the launcher's child: %r" % (sig.name, lines[0]))
        no_segments(d, sig.name)

    # Ctrl-C on the terminal: the program gets it from the process group
    # (the agent does not pass on a terminal's SIGINT: one KeyboardInterrupt)
    flag = os.path.join(d.path, "started")
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(d.path)
        os.execve(H.PYTHON, [H.PYTHON, "-m", "ulma", PROG, "wait", flag], d.env())
    for _ in range(3000):
        if os.path.exists(flag):
            break
        time.sleep(0.01)
    os.write(fd, b"\x03")
    out = b""
    while True:
        try:
            b = os.read(fd, 4096)
        except OSError:
            break
        if not b:
            break
        out += b
    _, st = os.waitpid(pid, 0)
    out = out.decode(errors="replace")
    H.check(os.waitstatus_to_exitcode(st) == -signal.SIGINT and out.count("KeyboardInterrupt") == 1
            and TABLE in out, "terminal Ctrl-C: one KeyboardInterrupt, the report, death by "
            "SIGINT (%d): %r" % (os.waitstatus_to_exitcode(st), out[-600:]))
    os.unlink(flag)
    no_segments(d, "Ctrl-C")

    # a file that cannot be written at the end: table printed, message, the
    # program's status (test_output_fault tries more ways)
    target = os.path.join(d.path, "late.json")
    r = launch(d, ["--json", target, PROG, "mkdir", target])
    H.check(r.returncode == 0 and TABLE in r.stdout and "cannot write" in r.stderr,
            "unwritable at the end: table, message, status 0 (%d %r)" % (r.returncode, r.stderr))
    os.rmdir(target)
    no_segments(d, "late failure")

    # 10. compile errors, exceptions, missing files: as python3 shows them
    bad = os.path.join(d.path, "bad.py")
    with open(bad, "w") as f:
        f.write("x = 1\ndef (\n")
    exc = os.path.join(d.path, "exc.py")
    with open(exc, "w") as f:
        f.write("def f():\n    raise ValueError('v')\n\n\nf()\n")
    for script, what in ((bad, "syntax error"), (exc, "uncaught exception"),
                         (os.path.join(d.path, "missing.py"), "missing file")):
        p = H.run([script], d.env(), cwd=d.path)
        for opts in ([], ["--no-agent"]):
            r = launch(d, opts + [script])
            H.check(r.returncode == p.returncode and r.stderr == p.stderr,
                    "%s %s: stderr and status as python3's:\n%r\n%r"
                    % (what, opts, p.stderr, r.stderr))
            if what != "uncaught exception":
                H.check(r.stdout == p.stdout == "", "%s: nothing printed" % what)
        d.clear()

    # no node agent needed to print or write: no fork, the program has the
    # launcher's pid
    lock = open(os.path.join(d.path, "ulma-agent.lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    p = subprocess.Popen([H.PYTHON, "-m", "ulma", PROG, "ok"], env=d.env(), cwd=d.path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=60)
    H.check(p.returncode == 0 and out.split()[1] == str(p.pid) and TABLE not in out,
            "node agent, no output asked: the program runs in the launcher's process %r" % out)
    lock.close()
    d.clear()
H.finish()
