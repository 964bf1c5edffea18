"""Helpers of the object-wedge tests: a private segment directory, the
runtime started through the ulma package, and reading what ulma._objects
wrote (kind, type id, depth, size, address per record)."""
import collections
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pycheck import check, failures, finish  # noqa: E402,F401  (re-exported)

_DIR = tempfile.mkdtemp(prefix="ulma-test-objects-")
os.environ["ULMA_DIR"] = _DIR
os.environ.pop("ULMA_MODE", None)

import atexit  # noqa: E402

import ulma  # noqa: E402
from ulma import _objects as O  # noqa: E402

atexit.register(shutil.rmtree, _DIR, True)
SEG = ulma.start()
NEW, FREE = O.EV_OBJ_NEW, O.EV_OBJ_FREE
BID = O.BUILTIN_IDS  # "int" -> 1 ...


def read(allow_drops=False):
    """Records published since the last read, with the names of types."""
    seg = O._read(SEG)
    check(allow_drops or seg["dropped"] == 0, "no record dropped (%d)" % seg["dropped"])
    if os.environ.get("OBJ_DEBUG"):
        print("read", sum(len(v) for v in seg["slots"].values()), seg["dropped"])
    return seg


def obj_events(seg):
    """[(kind, id, depth, size, addr)] of OBJ records, all slots."""
    out = []
    for recs in seg["slots"].values():
        out.extend(r for r in recs if r[0] in (NEW, FREE))
    return out


def by_addr(events):
    d = collections.defaultdict(list)
    for k, i, dep, size, addr in events:
        d[addr].append((k, i))
    return d
