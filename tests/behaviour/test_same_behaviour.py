"""Hooked programs behave exactly as unhooked ones. Every program of the
corpus (progs/: exceptions, exit codes, threads and generators, async,
signals, fork and forkpty (alone, and with a thread: CPython 3.12+ warns),
deep recursion with sys.setrecursionlimit, os._exit, a program with its
own profile and trace functions, sys.argv / __file__ / __main__, a syntax
error) runs as `python3 prog.py` and as
`python3 -m ulma -o FILE prog.py` in fast, full, objects and off modes; its
standard output, standard error and exit status must be the same. The one
allowed difference: lines ulma itself writes on standard error start with
`ulma: ` (e.g. that full mode is paused while the program's own profile
function holds the hook) and are left out of the comparison."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from pycheck import check, finish  # noqa: E402

PY = os.environ.get("ULMA_TEST_PYTHON", "/usr/bin/python3")
PROGS = os.path.join(HERE, "progs")
CASES = [  # program, arguments
    ("exceptions.py", ["a", "b"]),
    ("exits.py", ["0"]),
    ("exits.py", ["3"]),
    ("exits.py", ["str"]),
    ("threads_gens.py", []),
    ("async_prog.py", []),
    ("signals.py", []),
    ("forks.py", []),
    ("forks_threads.py", []),
    ("deep.py", []),
    ("osexit.py", []),
    ("own_profiler.py", []),
    ("main_checks.py", ["x", "--y"]),
    ("syntax_error.py", []),
]
MODES = [("fast", []), ("full", ["--mode", "full"]), ("objects", ["--objects"]),
         ("off", ["--off"])]


def run(cmd, env):
    p = subprocess.run(cmd, cwd=PROGS, env=env, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def ours(err):
    return "\n".join(l for l in err.split("\n") if not l.startswith("ulma: "))


env = dict(os.environ)
env.pop("ULMA_MODE", None)
with tempfile.TemporaryDirectory(prefix="ulma-same-") as d:
    env["ULMA_DIR"] = d
    for prog, args in CASES:
        want = run([PY, prog] + args, env)
        for mode, opts in MODES:
            out = os.path.join(d, "%s.%s.pstats" % (prog, mode))
            got = run([PY, "-m", "ulma", "-o", out] + opts + [prog] + args, env)
            what = "%s %s (%s)" % (prog, " ".join(args), mode)
            check(got[0] == want[0], "%s: exit status %s, plain %s" % (what, got[0], want[0]))
            check(got[1] == want[1], "%s: stdout\n%r\nplain\n%r" % (what, got[1], want[1]))
            check(ours(got[2]) == want[2], "%s: stderr\n%s\nplain\n%s" % (what, got[2], want[2]))
            # and it was profiled: the agent wrote its file (a program that
            # never starts, the syntax error, has none)
            check(os.path.exists(out) == (prog != "syntax_error.py"),
                  "%s: the pstats file %s" % (what, "written" if os.path.exists(out) else "missing"))
    left = [f for f in os.listdir(d) if f.endswith(".seg")]
    check(not left, "no segment left behind: %s" % left)
finish()
