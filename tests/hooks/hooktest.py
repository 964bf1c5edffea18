"""Helpers shared by the hooks tests: run Python under ulma in a private
segment directory, read what the hooks wrote, compare with cProfile."""
import collections
import glob
import os
import pstats
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = os.environ.get("ULMA_TEST_PYTHON", "/usr/bin/python3")
BUILD = os.environ.get("ULMA_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))

sys.path.insert(0, os.path.join(HERE, ".."))
from pycheck import check, failures, finish  # noqa: E402,F401  (re-exported)
from ulma import _ulma  # noqa: E402  (PYTHONPATH set by CTest)

EV = {"CALL": _ulma.EV_CALL, "RETURN": _ulma.EV_RETURN, "UNWIND": _ulma.EV_UNWIND,
      "C_CALL": _ulma.EV_C_CALL, "C_RETURN": _ulma.EV_C_RETURN, "DROP": _ulma.EV_DROP,
      "MODE": _ulma.EV_MODE, "THREAD_END": _ulma.EV_THREAD_END}

class SegDir:
    """A private segment directory, removed at the end."""

    def __init__(self, tag="hooks"):
        self.path = tempfile.mkdtemp(prefix="ulma-test-%s-" % tag)

    def env(self, **extra):
        e = dict(os.environ)
        e["ULMA_DIR"] = self.path
        e.pop("ULMA_MODE", None)
        e.pop("ULMA_AGENT_PID", None)
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def segments(self):
        return sorted(glob.glob(os.path.join(self.path, "ulma.*.seg")))

    def clear(self):
        for p in self.segments():
            os.unlink(p)

    def close(self):
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


_fake_agent = None


def fake_agent():
    """An executable standing in for ulma-agent: fake_agent.py run by the
    interpreter under test (its #! line names /usr/bin/python3, which cannot
    import a ulma._ulma built for another one). Removed at exit."""
    global _fake_agent
    if _fake_agent is None:
        import atexit
        d = tempfile.mkdtemp(prefix="ulma-test-fake-agent-")
        atexit.register(shutil.rmtree, d, True)
        _fake_agent = os.path.join(d, "fake-agent")
        with open(_fake_agent, "w") as f:
            f.write('#!/bin/sh\nexec "%s" "%s" "$@"\n' % (PYTHON, os.path.join(HERE, "fake_agent.py")))
        os.chmod(_fake_agent, 0o755)
    return _fake_agent


def run(args, env, timeout=60, cwd=None, input=None):
    return subprocess.run([PYTHON] + list(args), env=env, cwd=cwd, input=input,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout)


def read(path):
    return _ulma._read_segment(path)


def short_name(qualname):
    """cProfile's function name: the code object's co_name, which is the last
    component of the qualified name the DEF_CODE record carries."""
    return qualname.rsplit(".", 1)[-1]


def counts(seg, only_file=None, kinds=("CALL",)):
    """{(file, line, name): n} of records of `kinds` in every slot of a read
    segment; C functions as ('~', 0, label) like pstats."""
    want = {EV[k] for k in kinds}
    out = collections.Counter()
    for recs in seg["slots"].values():
        for kind, ident, depth in recs:
            if kind not in want:
                continue
            if kind in (EV["C_CALL"], EV["C_RETURN"]):
                name, where, line = seg["cfuncs"].get(ident, ("?%d" % ident, "?", 0))
                out[("~", 0, name)] += 1
            else:
                name, fname, line = seg["codes"].get(ident, ("?%d" % ident, "?", 0))
                if only_file and fname != only_file:
                    continue
                out[(fname, line, short_name(name))] += 1
    return out


def balance_ok(seg):
    """Every slot's CALL/RETURN(UNWIND) depths pair up like a stack. Frames
    stay open across MODE records, which carry the writer's depth; after a
    DROP record (records lost) the next record's depth restarts the stack,
    with frames of unknown id."""
    calls = (EV["CALL"], EV["C_CALL"])
    rets = (EV["RETURN"], EV["UNWIND"], EV["C_RETURN"])
    for slot, recs in seg["slots"].items():
        stack = []
        lost = False
        for rec in recs:
            kind, ident, depth = rec[:3]
            if lost and kind in calls + rets + (EV["MODE"],):
                stack = [None] * (depth - 1 if kind in calls else depth)
                lost = False
            if kind == EV["MODE"]:
                if depth != len(stack) % 65536:
                    check(False, "slot %s: MODE depth %d, stack %d" % (slot, depth, len(stack)))
                    return False
            elif kind == EV["DROP"]:
                lost = True
            elif kind in calls:
                if depth != (len(stack) + 1) % 65536:
                    check(False, "slot %s: CALL depth %d, stack %d" % (slot, depth, len(stack)))
                    return False
                stack.append(ident)
            elif kind in rets:
                if not stack or stack[-1] not in (ident, None) or depth != len(stack) % 65536:
                    check(False, "slot %s: unbalanced return id %d depth %d (stack %s)"
                          % (slot, ident, depth, stack[-3:]))
                    return False
                stack.pop()
    return True


def cprofile_counts(script, args=(), env=None, only_file=None):
    """ncalls per function of `script` run under `python3 -m cProfile`."""
    fd, out = tempfile.mkstemp(suffix=".pstats")
    os.close(fd)
    try:
        r = run(["-m", "cProfile", "-o", out, script] + list(args), env=env)
        assert r.returncode == 0, r.stderr
        st = pstats.Stats(out).stats
    finally:
        os.unlink(out)
    res = {}
    for (fname, line, name), (cc, nc, tt, ct, callers) in st.items():
        if only_file and fname != only_file and fname != "~":
            continue
        res[(fname, line, name)] = nc
    return res
