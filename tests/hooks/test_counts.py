"""Call counts and names per Python function (fast and full mode, through
the launcher) and per C function (full mode, in process) equal cProfile's;
every thread's CALL/RETURN records pair up like a stack."""
import cProfile
import os
import pstats
import sys

import hooktest as H

W = os.path.join(H.HERE, "workload_calls.py")


def launcher_counts(mode, d):
    d.clear()
    r = H.run(["-m", "ulma", "--no-agent", "--mode", mode, W], d.env())
    H.check(r.returncode == 0, "%s: exit %d %s" % (mode, r.returncode, r.stderr))
    segs = d.segments()
    H.check(len(segs) == 1, "%s: one segment, got %d" % (mode, len(segs)))
    seg = H.read(segs[0])
    H.check(H.balance_ok(seg), "%s: records balanced" % mode)
    H.check(seg["dropped"] == 0 and seg["corrupt"] == 0, "%s: no drops" % mode)
    H.check(seg["state"] == _ulma.SEG_EXITED, "%s: segment marked exited" % mode)
    return H.counts(seg, only_file=W, kinds=("CALL",)), seg


from ulma import _ulma  # noqa: E402

with H.SegDir("counts") as d:
    ref = H.cprofile_counts(W, env=d.env(), only_file=W)
    ref = {k: v for k, v in ref.items() if k[0] == W}
    # 3.12 runs list/dict/set comprehensions inline (PEP 709): no frames
    H.check(len(ref) > (25 if sys.version_info < (3, 12) else 20),
            "cProfile saw the workload (%d functions)" % len(ref))
    for mode in ("fast", "full"):
        ours, seg = launcher_counts(mode, d)
        for key in sorted(set(ref) | set(ours)):
            H.check(ours.get(key) == ref.get(key),
                    "%s: %s:%d %s ulma %s cProfile %s" % (mode, os.path.basename(key[0]),
                                                          key[1], key[2], ours.get(key),
                                                          ref.get(key)))
        # exits by exception are UNWIND records: thrower raises 3 times from 5 frames
        unwinds = H.counts(seg, only_file=W, kinds=("UNWIND",))
        thrower = [v for k, v in unwinds.items() if k[2] == "thrower"]
        H.check(thrower == [15], "%s: 15 UNWIND of thrower, got %s" % (mode, thrower))
        # qualified names travel in DEF_CODE
        names = {v[0] for v in seg["codes"].values()}
        if sys.version_info < (3, 12):
            comps = ("main.<locals>.<dictcomp>.<lambda>", "main.<locals>.<listcomp>")
        else:
            comps = ("main.<locals>.<lambda>",)
        for q in ("Shape.area", "make_adder.<locals>.add", "gather_all") + comps:
            H.check(q in names, "%s: qualified name %s defined" % (mode, q))
        if mode == "fast":
            H.check(not any(k == H.EV["C_CALL"] for recs in seg["slots"].values()
                            for k, _, _ in recs), "fast mode writes no C_CALL")

    # full mode C functions, in one warm process: cProfile, then ulma
    sys.path.insert(0, H.HERE)
    import ulma

    ns = {"__name__": "workload"}
    src = open(W).read().replace("\nmain()\n", "\n")
    exec(compile(src, W, "exec"), ns)
    os.environ["ULMA_DIR"] = d.path
    d.clear()
    ns["main"]()  # warm every cache first
    prof = cProfile.Profile()
    prof.enable()
    ns["main"]()
    prof.disable()
    prof.create_stats()
    cref = {k[2]: v[1] for k, v in prof.stats.items() if k[0] == "~" and "lsprof" not in k[2]}
    ulma.enable("full")
    ns["main"]()
    ulma.disable()
    seg = H.read(ulma.status()["segment"])
    cours = {k[2]: v for k, v in H.counts(seg, kinds=("C_CALL",)).items()
             if "ulma" not in k[2]}
    for want in ("<built-in method builtins.len>", "<method 'append' of 'list' objects>",
                 "<built-in method math.sqrt>", "<built-in method builtins.isinstance>",
                 "<built-in method builtins.sorted>"):
        H.check(want in cours, "full mode names %s like cProfile" % want)
    for key in sorted(set(cref) | set(cours)):
        H.check(cours.get(key) == cref.get(key),
                "full: %s ulma %s cProfile %s" % (key, cours.get(key), cref.get(key)))
    H.check(H.balance_ok(seg), "full in-process: records balanced")
H.finish()
