"""Object mode where neither mechanism applies (CPython 3.13.0 to 3.13.2,
whose reference tracer misses the interpreter loop's destructions; the wedges
are for 3.11 and 3.12):
ulma._objects builds and imports, install() refuses with ENOTSUP and says
why once on standard error, nothing is wedged (allocator and slots
unchanged); `python -m ulma --objects --json` still profiles the calls and
exits 0, with the same message and no object statistics."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pycheck import check, finish  # noqa: E402

PROG = '''
def f(i):
    return [i]

for i in range(100):
    f(i)
'''

MSG = "ulma: object mode is not supported on CPython %d.%d" % sys.version_info[:2]

with tempfile.TemporaryDirectory(prefix="ulma-objrefused-") as tmp:
    check((3, 13) <= sys.version_info < (3, 13, 3), "run for an interpreter without either")
    env = dict(os.environ, ULMA_DIR=tmp)
    code = ("import errno\n"
            "from ulma import _objects as O\n"
            "a, s = O._allocator(), O._slots(list)\n"
            "for _ in range(2):\n"
            "    try:\n"
            "        O.install(); print('installed')\n"
            "    except OSError as e:\n"
            "        print('refused', e.errno == errno.ENOTSUP)\n"
            "print('wedged', O.installed(), O._allocator() != a, O._slots(list) != s)\n")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0, "in process: exit 0 (%s)" % r.stderr[-500:])
    check(r.stdout.splitlines() == ["refused True", "refused True", "wedged False False False"],
          "install() refuses with ENOTSUP, nothing wedged: %r" % r.stdout)
    check(r.stderr.count(MSG) == 1, "said once on standard error: %r" % r.stderr)

    prog = os.path.join(tmp, "prog.py")
    with open(prog, "w") as f:
        f.write(PROG)
    out = os.path.join(tmp, "out.json")
    r = subprocess.run([sys.executable, "-m", "ulma", "--objects", "--json", out, prog],
                       env=env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "launcher: exit status 0 (%s)" % r.stderr[-500:])
    check(MSG in r.stderr, "launcher: the refusal said (%r)" % r.stderr[-500:])
    p = json.load(open(out)) if os.path.exists(out) else {}
    check(p != {}, "launcher: a profile written")
    objs = p.get("objects") or {}
    check(not objs.get("types") and not objs.get("sites"),
          "launcher: no object statistics (%s)" % str(objs)[:200])
    rows = [(fn["name"], fn["ncalls"]) for fn in p.get("functions", []) if fn.get("file") == prog]
    check(("f", 100) in rows, "launcher: f's 100 calls in the profile (%s)" % rows)

finish()
