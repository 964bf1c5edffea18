#!/usr/bin/python3
"""Stands in for ulma-agent in the tests: records its command line and pid,
waits until the owner's segment says exited (or the owner is gone), then
prints a line where the table would be."""
import glob
import json
import os
import sys
import time

from ulma import _ulma

with open(os.environ["FAKE_AGENT_LOG"], "w") as f:
    json.dump({"argv": sys.argv[1:], "pid": os.getpid()}, f)
owner = int(sys.argv[sys.argv.index("--private") + 1])
directory = sys.argv[sys.argv.index("--dir") + 1]
t0 = time.monotonic()
while time.monotonic() - t0 < 20:
    try:
        os.kill(owner, 0)
    except OSError:
        break
    segs = glob.glob(os.path.join(directory, "ulma.*.%d.*.seg" % owner))
    try:
        if segs and _ulma._header(segs[0])["state"] == _ulma.SEG_EXITED:
            break
    except OSError:
        pass
    time.sleep(0.02)
print("fake-agent-table", flush=True)
