"""Check a pstats file written by ulma-agent against expected stats.

usage: check_pstats.py FILE EXPECTED
EXPECTED is a Python literal: {(file, line, name): (cc, nc, tt, ct, {caller: (nc, cc, tt, ct)})}
(the dict cProfile's create_stats builds). Times compare within 1e-9 s.
Exit 0 if equal; prints the difference otherwise.
"""
import ast
import io
import math
import pstats
import sys


def near(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def same(got, exp):
    if set(got) != set(exp):
        return "keys differ: got %r expected %r" % (sorted(got), sorted(exp))
    for k in exp:
        g, e = got[k], exp[k]
        if g[0] != e[0] or g[1] != e[1] or not near(g[2], e[2]) or not near(g[3], e[3]):
            return "%r: got %r expected %r" % (k, g[:4], e[:4])
        if set(g[4]) != set(e[4]):
            return "%r callers: got %r expected %r" % (k, g[4], e[4])
        for c in e[4]:
            gc, ec = g[4][c], e[4][c]
            if gc[0] != ec[0] or gc[1] != ec[1] or not near(gc[2], ec[2]) or not near(gc[3], ec[3]):
                return "%r caller %r: got %r expected %r" % (k, c, gc, ec)
    return None


def main():
    st = pstats.Stats(sys.argv[1], stream=io.StringIO())
    exp = ast.literal_eval(sys.argv[2])
    err = same(st.stats, exp)
    if err:
        print("pstats mismatch:", err)
        return 1
    # the standard reports work on it
    st.sort_stats("cumulative").print_stats()
    st.print_callers()
    st.print_callees()
    if st.total_calls != sum(v[1] for v in exp.values()):
        print("total_calls", st.total_calls)
        return 1
    if st.prim_calls != sum(v[0] for v in exp.values()):
        print("prim_calls", st.prim_calls)
        return 1
    return 0


sys.exit(main())
