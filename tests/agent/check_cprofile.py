"""Compare a pstats file written through `python3 -m ulma -o` with cProfile.

usage: check_cprofile.py PROG.py ULMA.pstats ULMA.json

Runs PROG.py under cProfile in this interpreter, then compares every
Python function row of PROG.py (the rows whose file is PROG.py): ncalls and
primitive calls must be equal exactly; and the JSON profile must report no
lost records. Exit 0 if so; prints the differences otherwise.
"""
import cProfile
import io
import json
import os
import pstats
import runpy
import sys


def rows(stats, prog):
    return {k: v[:2] for k, v in stats.stats.items() if os.path.abspath(k[0]) == prog}


def main():
    prog, got_file, json_file = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
    pr = cProfile.Profile()
    pr.enable()
    runpy.run_path(prog, run_name="__main__")
    pr.disable()
    exp = rows(pstats.Stats(pr, stream=io.StringIO()), prog)
    got = rows(pstats.Stats(got_file, stream=io.StringIO()), prog)
    bad = 0
    if not exp:
        print("cProfile saw no function of", prog)
        bad = 1
    for k in sorted(set(exp) | set(got)):
        e, g = exp.get(k), got.get(k)
        if e != g:
            print("%s:%d(%s): ulma (cc, nc) %r, cProfile %r" % (k + (g, e)))
            bad = 1
    with open(json_file) as f:
        lost = json.load(f)["drops"]["records_lost"]
    if lost:
        print("records lost:", lost)
        bad = 1
    if not bad:
        for k in sorted(exp):
            print("%s:%d(%s) %d/%d" % (k + (exp[k][1], exp[k][0])))
    return bad


sys.exit(main())
