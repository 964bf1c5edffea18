"""`python3 -m ulma --objects --json`: object statistics reach the profile,
per type and per constructing function, through the launcher, the wedges
and the agent."""
import json
import os
import subprocess
import sys
import tempfile

PROG = '''
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

def make():
    return [Point(i, i) for i in range(1000)]

def nest():
    return [[i] for i in range(500)]

a = make()
b = nest()
del a
'''

# A function whose calls sit past byte offset 256: from 3.12 on,
# sys.monitoring hands full mode's callbacks each event's offset as an int,
# which CPython makes anew from 257 on. Those ints are not the program's.
# The loop itself makes no object (a list of None, small ints only).
LONG = "def long():\n    a = 0\n" + "    a += 1\n" * 80 + \
    "    for x in XS:\n        len(x)\n    return a\n" + \
    "XS = [()] * 2000\nlong()\n"

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pycheck import check, finish  # noqa: E402


with tempfile.TemporaryDirectory(prefix="ulma-objlaunch-") as tmp:
    prog = os.path.join(tmp, "prog.py")
    with open(prog, "w") as f:
        f.write(PROG)
    out = os.path.join(tmp, "out.json")
    env = dict(os.environ, ULMA_DIR=tmp)
    r = subprocess.run([sys.executable, "-m", "ulma", "--objects", "--json", out, prog],
                       env=env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "exit status 0 (%s)" % r.stderr[-500:])
    p = json.load(open(out))
    types = {t["name"]: t for t in p["objects"]["types"]}
    pt = types.get("__main__.Point")
    check(pt is not None and pt["new"] == 1000 and pt["freed"] == 1000,
          "1000 Points made and freed (%s)" % pt)
    lst = types.get("builtins.list")
    # 500 inner lists + the two result lists, all alive at exit but `a`
    check(lst is not None and lst["new"] >= 502, "lists counted (%s)" % lst)
    sites = [(s["std"], s["type_name"], s["count"]) for s in p["objects"]["sites"]]
    # 3.11 runs a comprehension as a function of its own; 3.12 and later
    # inline it into the function that holds it (PEP 709)
    inline = sys.version_info >= (3, 12)
    make_site = ":6(make)" if inline else ":7(<listcomp>)"
    nest_site = ":9(nest)" if inline else ":10(<listcomp>)"
    check(any(std.endswith(make_site) and t == "__main__.Point" and n == 1000
              for std, t, n in sites),
          "the Points are attributed to the frame that made them, %s (%s)"
          % (make_site, [s for s in sites if s[1] == "__main__.Point"]))
    # 500 inner lists and the comprehension's own result list
    check(any(t == "builtins.list" and n == 501 for std, t, n in sites
              if std.endswith(nest_site)),
          "501 lists attributed to nest's comprehension, %s (%s)"
          % (nest_site, [s for s in sites if s[1] == "builtins.list"]))
    check(p["drops"]["records_lost"] == 0, "nothing lost")

    # the interpreter's own objects for hook calls: none counted, in either mode
    prog = os.path.join(tmp, "long.py")
    with open(prog, "w") as f:
        f.write(LONG)
    ints = {}
    for mode in ("fast", "full"):
        r = subprocess.run([sys.executable, "-m", "ulma", "--mode", mode, "--objects", "--json",
                            out, prog], env=env, capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "%s: exit status 0 (%s)" % (mode, r.stderr[-500:]))
        p = json.load(open(out))
        ints[mode] = sum(s["count"] for s in p["objects"]["sites"]
                         if s["std"].endswith("(long)") and s["type_name"] == "builtins.int")
        calls = [fn["ncalls"] for fn in p["functions"] if fn["name"] == "long"]
        check(calls == [1], "%s: long() profiled (%s)" % (mode, calls))
    check(ints["fast"] == ints["full"] and ints["full"] < 10,
          "no int counted for the events' offsets: fast %d, full %d" % (ints["fast"], ints["full"]))

finish()
