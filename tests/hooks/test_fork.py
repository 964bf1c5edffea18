"""fork() gives the child its own segment (with its own code definitions)
and its own watcher, the parent keeps its watcher; multiprocessing Pools
work under the launcher with fork and spawn."""
import os

import hooktest as H

PROG = os.path.join(H.HERE, "mp_prog.py")

with H.SegDir("fork") as d:
    # a plain fork, fast mode: the child's calls land in the child's segment
    r = H.run(["-m", "ulma", "--no-agent", PROG, "fork", "plain-fork"], d.env(), timeout=60)
    H.check(r.returncode == 0, "fork run exit 0: %s" % r.stderr)
    H.check(r.stdout.split("\n")[:2] == ["2470", "child 30"], "fork output: %r" % r.stdout)
    segs = [H.read(p) for p in d.segments()]
    H.check(len(segs) >= 4, "parent, two pool workers and a child: %d segments" % len(segs))
    pids = {s["pid"] for s in segs}
    H.check(len(pids) == len(segs), "one segment per process")
    per_pid = {s["pid"]: H.counts(s, only_file=PROG) for s in segs}
    squares = {pid: sum(v for k, v in c.items() if k[2] == "square") for pid, c in per_pid.items()}
    H.check(sum(squares.values()) == 25, "every square() call recorded once: %s" % squares)
    H.check(sum(1 for v in squares.values() if v) >= 2, "calls in several processes")
    for s in segs:
        H.check(H.balance_ok(s), "pid %d balanced" % s["pid"])
        names = {v[0] for v in s["codes"].values()}
        if squares.get(s["pid"]):
            H.check("square" in names, "pid %d defines square in its own segment" % s["pid"])
    d.clear()
    # the runtime's watcher runs on in the parent and in the child
    r = H.run(["-m", "ulma", "--no-agent", os.path.join(H.HERE, "watcher_prog.py")], d.env(),
              timeout=60)
    H.check(r.returncode == 0 and r.stdout.split("\n")[:3] == ["before 1", "child 1", "after 1"],
            "one watcher before the fork, in the child, after it: %r %s" % (r.stdout, r.stderr))
    d.clear()
    # full mode, a fork while another thread waits: no "paused on thread"
    prog = os.path.join(H.HERE, "fork_thread_prog.py")
    r = H.run(["-m", "ulma", "--no-agent", "--mode", "full", prog], d.env(), timeout=60)
    H.check(r.returncode == 0 and r.stdout.strip() == "child 0",
            "fork with a thread, full mode: %r %s" % (r.stdout, r.stderr[-500:]))
    H.check("paused on thread" not in r.stderr,
            "the parent's threads, gone in the child, are not taken for displaced "
            "hooks: %s" % r.stderr[-500:])
    counts = [sum(v for k, v in H.counts(H.read(p), only_file=prog).items()
                  if k[2] == "in_child") for p in d.segments()]
    H.check(sorted(counts)[-1:] == [100], "the child's 100 calls in one segment: %s" % counts)
    d.clear()
    for method in ("spawn", "forkserver"):
        r = H.run(["-m", "ulma", "--no-agent", "--mode", "full", PROG, method], d.env(),
                  timeout=60)
        H.check(r.returncode == 0 and r.stdout.strip() == "2470",
                "%s pool under the launcher: %r %s" % (method, r.stdout, r.stderr[-500:]))
        H.check(len(d.segments()) >= 1, "%s: parent segment" % method)
        d.clear()
H.finish()
