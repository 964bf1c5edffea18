"""The correctness corpus against cProfile, through the whole chain
(launcher, hooks, ring, private agent, pstats file).

For corpus.py (recursion, mutual recursion, generators, coroutines,
exceptions, threads, methods, properties, closures, lambdas,
comprehensions, context managers, builtins):
  - fast mode: every Python function row of corpus.py has exactly
    cProfile's ncalls and primitive calls;
  - full mode: the same, and every C function called from corpus.py has
    exactly cProfile's number of calls from there;
  - threads: cProfile 3.11 profiles one thread only, so the reference runs
    one cProfile profiler inside each thread and adds their statistics;
    from 3.12 on, cProfile (on sys.monitoring) sees every thread, and only
    one profiler may be enabled at a time: one profiler for the whole run;
  - time shares: each function's share of the total own time is compared
    with cProfile's for the rows above 2 %, and the largest difference is
    printed (no pass/fail: the two profilers cost different amounts per
    call, which moves shares).

Usage: test_corpus.py   (PYTHONPATH must reach the built ulma package)
"""
import cProfile
import io
import os
import pstats
import runpy
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus.py")
WORKLOAD = os.path.abspath(os.path.join(HERE, "..", "hooks", "workload_calls.py"))
TIMESHARE = os.path.join(HERE, "timeshare.py")
sys.path.insert(0, os.path.join(HERE, ".."))
from pycheck import check, finish  # noqa: E402


def reference(builtins, prog=CORPUS):
    """cProfile's statistics of `prog`, one profiler per thread (3.11), or
    one for the process (3.12+)."""
    profs = []
    per_thread = sys.version_info < (3, 12)
    lock = threading.Lock()
    orig_run = threading.Thread.run

    def run(self):
        p = cProfile.Profile(builtins=builtins)
        with lock:
            profs.append(p)
        p.enable()
        try:
            orig_run(self)
        finally:
            p.disable()

    if per_thread:
        threading.Thread.run = run
    sys.modules.pop("workload_calls", None)  # imported afresh: it runs as it loads
    main = cProfile.Profile(builtins=builtins)
    devnull = open(os.devnull, "w")
    old = sys.stdout
    sys.stdout = devnull
    try:
        main.enable()
        runpy.run_path(prog, run_name="__main__")
        main.disable()
    finally:
        sys.stdout = old
        threading.Thread.run = orig_run
    st = pstats.Stats(main, stream=io.StringIO())
    for p in profs:
        st.add(p)
    return st.stats


def ours(mode, tmp, prog=CORPUS):
    out = os.path.join(tmp, "%s.pstats" % mode)
    env = dict(os.environ, ULMA_DIR=tmp)
    r = subprocess.run([sys.executable, "-m", "ulma", "--mode", mode, "-o", out, prog],
                       env=env, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "%s: exit status %d: %s" % (mode, r.returncode, r.stderr[-1000:]))
    check("records lost" not in r.stdout, "%s: no records lost" % mode)
    return pstats.Stats(out, stream=io.StringIO()).stats


def in_corpus(key):
    return os.path.abspath(key[0]) in (CORPUS, WORKLOAD)


def compare(mode, got, exp):
    # Python rows of the corpus
    keys = {k for k in list(got) + list(exp) if in_corpus(k)}
    check(len(keys) > 20, "%s: the corpus has its functions (%d)" % (mode, len(keys)))
    for k in sorted(keys):
        g, e = got.get(k), exp.get(k)
        gv, ev = (g[1], g[0]) if g else None, (e[1], e[0]) if e else None
        check(gv == ev, "%s: %s:%d(%s) ncalls/primitive ulma %s cProfile %s" % ((mode,) + k + (gv, ev)))
    if mode == "full":
        # C functions: calls made from the corpus's functions
        def from_corpus(stats):
            res = {}
            for k, v in stats.items():
                if k[0] != "~":
                    continue
                n = sum(c[0] for ck, c in v[4].items() if in_corpus(ck))
                if n:
                    res[k[2]] = n
            return res
        gc, ec = from_corpus(got), from_corpus(exp)
        check(len(ec) > 5, "full: builtins seen (%d)" % len(ec))
        for name in sorted(set(gc) | set(ec)):
            if "_lsprof" in name:
                continue
            check(gc.get(name) == ec.get(name),
                  "full: %s called from the corpus: ulma %s cProfile %s"
                  % (name, gc.get(name), ec.get(name)))


def time_shares(mode, got, exp):
    """Largest difference of own-time shares (rows above 2 %) between ulma
    and cProfile for timeshare.py; printed, not asserted (both profilers'
    own costs move the shares)."""
    def shares(stats):
        rows = {k: v[2] for k, v in stats.items() if os.path.abspath(k[0]) == TIMESHARE}
        total = sum(rows.values()) or 1.0
        return {k: t / total for k, t in rows.items()}
    gs, es = shares(got), shares(exp)
    check(len(gs) >= 5, "%s: timeshare rows present" % mode)
    big = sorted(k for k in es if es[k] > 0.02 or gs.get(k, 0) > 0.02)
    worst = 0.0
    for k in big:
        d = abs(gs.get(k, 0) - es.get(k, 0))
        worst = max(worst, d)
        print("  %-8s %-10s ulma %5.1f %%  cProfile %5.1f %%" % (mode, k[2], gs.get(k, 0) * 100,
                                                            es.get(k, 0) * 100))
    print("%s: largest own-time share difference vs cProfile: %.1f points" % (mode, worst * 100))


with tempfile.TemporaryDirectory(prefix="ulma-corpus-") as tmp:
    compare("fast", ours("fast", tmp), reference(False))
    compare("full", ours("full", tmp), reference(True))
    time_shares("fast", ours("fast", tmp, TIMESHARE), reference(False, TIMESHARE))
    time_shares("full", ours("full", tmp, TIMESHARE), reference(True, TIMESHARE))

finish()
