"""A program recursing as deep as it does unprofiled behaves the same under
ulma: 30,000 Python calls deep (recursion limit 100,000) in the main thread
and in threads with the default, a 256 KiB and a 64 KiB stack, in fast mode
(whose eval-frame wrapper nests a C call per Python call) and full mode,
through the launcher and with ulma.enable(); the RecursionError of an
endless recursion comes at the same depth as unprofiled; every call is
recorded, the records balanced, nothing counted as a problem."""
import os

import hooktest as H

PROG = os.path.join(H.HERE, "deep_prog.py")


def lines(out):
    return [ln for ln in out.splitlines() if ln.startswith(("depths", "recursion_error"))]


def check_segment(what, path):
    seg = H.read(path)
    H.check(H.balance_ok(seg), "%s: records balanced" % what)
    H.check(seg["problems"] == 0 and seg["dropped"] == 0, "%s: no problems, no drops" % what)
    downs = [v for k, v in H.counts(seg, only_file=PROG).items() if k[2] == "down"]
    H.check(downs == [4 * 30001], "%s: every call of down recorded (%s)" % (what, downs))


with H.SegDir("deep") as d:
    env = d.env(ULMA_RING_SIZE=64 << 20)  # nothing drains the rings while it runs
    r = H.run([PROG], env, timeout=120)
    H.check(r.returncode == 0, "plain: exit %d %s" % (r.returncode, r.stderr[-500:]))
    plain = lines(r.stdout)
    H.check(plain and plain[0] == "depths 256k=30000 64k=30000 default=30000 main=30000",
            "plain run reaches 30,000 everywhere: %s" % plain)
    for mode in ("fast", "full"):
        d.clear()
        r = H.run([PROG, mode], env, timeout=120)
        H.check(r.returncode == 0, "enable(%s): exit %d %s" % (mode, r.returncode, r.stderr[-500:]))
        H.check(lines(r.stdout) == plain, "enable(%s) behaves as plain: %s" % (mode, lines(r.stdout)))
        seg = [ln.split()[1] for ln in r.stdout.splitlines() if ln.startswith("segment")]
        if H.check(len(seg) == 1, "enable(%s): segment named" % mode):
            check_segment("enable(%s)" % mode, seg[0])
        d.clear()
        r = H.run(["-m", "ulma", "--no-agent", "--mode", mode, PROG], env, timeout=120)
        H.check(r.returncode == 0, "launcher %s: exit %d %s" % (mode, r.returncode, r.stderr[-500:]))
        got = lines(r.stdout)
        # the launcher's own frames count towards the recursion limit
        H.check(got[:1] == plain[:1], "launcher %s: depths as plain: %s" % (mode, got))
        segs = d.segments()
        if H.check(len(segs) == 1, "launcher %s: one segment" % mode):
            check_segment("launcher %s" % mode, segs[0])
H.finish()
