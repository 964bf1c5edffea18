#!/usr/bin/python3
"""Stands in for ulma-agent in the tests: records its command line and pid,
writes the go byte (--go-fd), waits until the owner's segment says exited
(or the owner is gone; with --wait-child: until the child is reaped), then
prints a line where the table would be; with --wait-child it exits with the
child's status."""
import glob
import json
import os
import sys
import time

from ulma import _ulma

argv = sys.argv[1:]
with open(os.environ["FAKE_AGENT_LOG"], "w") as f:
    json.dump({"argv": argv, "pid": os.getpid()}, f)
owner = int(argv[argv.index("--private") + 1])
directory = argv[argv.index("--dir") + 1]
if "--go-fd" in argv:
    fd = int(argv[argv.index("--go-fd") + 1])
    os.write(fd, b"g")
    os.close(fd)
if "--wait-child" in argv:
    _, st = os.waitpid(owner, 0)
    print("fake-agent-table", flush=True)
    sys.exit(os.waitstatus_to_exitcode(st) & 0xFF)
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
