"""Ground truth: objects of each tracked type made by several routes
(literals, constructors, comprehensions, copies, specialised arithmetic,
resizes, user classes before/after install, subclasses of builtins) each have
exactly one OBJ_NEW of their type at their address, and one OBJ_FREE after
they die; every address alternates NEW/FREE; sizes are plausible; the depth
of a construction is the depth the frame hooks give the constructing frame."""
import collections
import sys

from objtest import BID, FREE, NEW, O, by_addr, check, finish, obj_events, read

N = 50


class Before:
    pass


class BeforeList(list):
    pass


def make_all(k):
    """Returns {type name: [objects]}, every object a fresh construction."""
    got = {t: [] for t in ("int", "float", "str", "bytes", "list", "dict", "tuple", "set")}
    got["class"] = []
    src = list(range(1000, 1000 + k))
    x = 1.0
    acc = 10 ** 30
    for i in src:
        # int: arithmetic (specialised BINARY_OP_*_INT once warm), parsing, big
        got["int"] += [i * 100003, int("7%d" % i), i + acc]
        # float: constructor, specialised float arithmetic, division
        x = x * 1.000001
        got["float"] += [float(i), x, i / 7]
        # str: str(), concatenation, f-string (unicode writer: resized), join, method
        s = str(i)
        got["str"] += [s, s + "ab", f"<{i}>", "-".join((s, s)), s.upper() * 2]
        # bytes: encode, constructor, repetition, concatenation
        b = s.encode()
        got["bytes"] += [b, bytes(range(i % 50, i % 50 + 3)), b * 3, b + b"zz"]
        # list: literal, constructor, comprehension, copy, slice
        lst = [i, i + 1]
        got["list"] += [lst, list(range(3)), [j for j in range(2)], lst.copy(), lst[:]]
        # dict: literal, constructor, comprehension, copy
        d = {"a": i}
        got["dict"] += [d, dict(b=i), {j: j for j in range(2)}, d.copy()]
        # tuple: literal (not constant-folded), from a list, from a generator
        # (resized in place), slice
        t = (i, i + 1, i + 2)
        got["tuple"] += [t, tuple(lst), tuple(j for j in range(40)), t[1:]]
        # set: literal, constructor, comprehension, copy
        st = {i, i + 1}
        got["set"] += [st, set(lst), {j for j in range(3)}, st.copy()]
        got["class"] += [Before(), BeforeList(), After(), AfterDict()]
    return got


O.install()
check(O.installed(), "installed() after install()")


class After:
    __slots__ = ("a",)


class AfterDict(dict):
    pass


objs = make_all(N)
O.flush()
seg1 = read()
# what the checks need, taken before the objects die (little traffic: the
# analysis itself runs once the wedges are off)
want = [(id(o), tname if tname != "class" else type(o).__qualname__, tname)
        for tname, lst in objs.items() for o in lst]
tuple_sizes = [(id(o), sys.getsizeof(o) - 16) for o in objs["tuple"][::4][:10]]
del objs
seg2 = read()

# attribution: the depth of a construction is the hooks' depth at that time
import ulma  # noqa: E402

ulma.enable("fast")


def level2():
    return [Before() for _ in range(3)]


def level1():
    return level2()


keep = level1()
O.flush()
ulma.disable()
seg3 = read()
O.uninstall()
check(not O.installed(), "installed() false after uninstall()")
ev1 = obj_events(seg1)
ev2 = obj_events(seg2)
types = seg1["types"]
names = {v: k for k, v in types.items()}
for name in ("__main__.Before", "__main__.BeforeList", "__main__.After", "__main__.AfterDict"):
    check(name in names, "DEF_TYPE for %s" % name)
check(all(BID[t] in types for t in BID), "DEF_TYPE for every builtin")
last1 = by_addr(ev1)
first2 = by_addr(ev2)
bad_new = collections.Counter()
bad_free = collections.Counter()
total = collections.Counter()
for addr, tname, group in want:
    tid = BID.get(tname) or names.get("__main__." + tname)
    total[group] += 1
    seq = last1.get(addr, [])
    # the last event at its address in this window: its construction
    if not seq or seq[-1] != (NEW, tid):
        bad_new[group] += 1
    seq = first2.get(addr, [])
    if not seq or seq[0] != (FREE, tid):
        bad_free[group] += 1
for group in total:
    check(bad_new[group] == 0, "%s: %d of %d constructions have a NEW of their type at their "
          "address" % (group, total[group] - bad_new[group], total[group]))
    check(bad_free[group] == 0, "%s: %d of %d destructions have a FREE at their address"
          % (group, total[group] - bad_free[group], total[group]))
fl = [s for k, i, d, s, a in ev1 if k == NEW and i == BID["float"]]
check(fl and all(s == sys.getsizeof(1.0) for s in fl), "float sizes")
for addr, size in tuple_sizes:
    sz = [s for k, i, d, s, a in ev1 if a == addr and k == NEW]
    check(sz and sz[-1] == size, "tuple size %s vs %d" % (sz[-1:], size))
seq = by_addr(ev1 + ev2)
dup = collections.Counter()
for a, evs in seq.items():
    prev = None
    for k, i in evs:
        if k == prev == NEW:
            dup[names.get(i, i)] += 1
        prev = k
check(not dup, "no address constructed twice without a FREE (%d: %s)"
      % (sum(dup.values()), dup.most_common(5)))
rec = None
for recs in seg3["slots"].values():
    for n, r in enumerate(recs):
        if r[0] == NEW and r[4] == id(keep[0]):
            rec = (r[2], recs[:n])
check(rec is not None, "NEW of an instance made under fast mode")
if rec:
    d, before = rec
    calls = [r for r in before if r[0] == 1]  # EV_CALL
    check(calls and calls[-1][2] == d, "construction depth %d == depth of the last CALL %s"
          % (d, calls[-1][2] if calls else None))
st = O.status()
check(st["pending_lost"] == 0 and st["problems"] == 0, "no lost deferrals/problems: %s" % st)
finish()
