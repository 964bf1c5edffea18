"""A node cut off from the head for 30 s, then joined again (three node
namespaces and a head made by deploy/cluster.sh; node2's link taken down
at the bridge while a hooked program runs on every node):

  - the cut node is "stale" at the collector within a second or two, and
    never "gone" during the cut, its numbers kept; the other nodes stay "up" and their
    report counts keep growing;
  - the program on the cut node goes on and ends well;
  - joined again, the node is "up" within 20 s;
  - at the end, every process's table at the collector equals its agent's
    own table, exactly (ncalls, pcalls, tottime and cumtime in ns), and each
    node's table is the sum of its processes': what was sent into the cut
    is never counted twice nor left out (sequence gaps are healed by a
    snapshot).
Prints the figures (time to stale, time to up, gaps healed).
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import test_multinode as M  # noqa: E402  (the cluster helpers)
from pycheck import check, finish  # noqa: E402

CUT_NODE = 2
CUT_S = 30
RUN_S = CUT_S + 25


def nodes():
    d = M.query("NODES")
    return {n["name"]: n for n in (d or {}).get("nodes", [])}


def wait_for(what, cond, timeout):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = cond()
        if v:
            return time.monotonic() - t0
        time.sleep(0.1)
    return None


def main():
    M.clean_stale()
    procs, progs = [], []
    ok = subprocess.run([M.CLUSTER, "check"], env=M.ENV).returncode == 0
    if not check(ok, "network namespaces can be made (root, iproute2, util-linux)"):
        finish()
    subprocess.run([M.CLUSTER, "up", str(M.NODES)], env=M.ENV, check=True)
    veth = "uv-%s-%d" % (M.TAG, CUT_NODE)
    try:
        procs.append(subprocess.Popen(M.on("head", M.COLLECTOR, "--agents",
                                           "tcp://10.77.0.1:7710", "--query",
                                           "tcp://127.0.0.1:7711", "--metrics", "none",
                                           "--interval", "0.2", "--gone", "120", "-q",
                                           "--plaintext"), env=M.ENV))
        for i in range(1, M.NODES + 1):
            procs.append(subprocess.Popen(M.on(i, M.AGENT, "--dir", "%s/node%d" % (M.SHM, i),
                                               "--node", "node%d" % i, "--collector",
                                               "tcp://10.77.0.1:7710", "--report-interval",
                                               "0.2", "--keep", "600", "-q", "--plaintext"),
                                          env=M.ENV))
        up = wait_for("all up", lambda: sum(n["state"] == "up" for n in nodes().values())
                      == M.NODES, 20)
        check(up is not None, "every node agent reports: %s" % nodes())
        for i in range(1, M.NODES + 1):
            progs.append(subprocess.Popen(M.on(i, M.PY, "-m", "ulma", "--no-agent",
                                               os.path.join(M.HERE, "cut_prog.py"), RUN_S),
                                          env=M.ENV, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True))
        seen = wait_for("processes", lambda: all(n.get("ranks", 0) == 1
                                                 for n in nodes().values()), 30)
        check(seen is not None, "each node's program is seen at the collector: %s" % nodes())
        time.sleep(2)  # a few reports of the running programs
        before = nodes()

        # the cut
        subprocess.run(["ip", "link", "set", veth, "down"], check=True)
        t_cut = time.monotonic()
        stale = wait_for("stale", lambda: nodes().get("node%d" % CUT_NODE, {}).get("state")
                         == "stale", 10)
        check(stale is not None and stale < 5,
              "node%d stale within 5 s of the cut (%s s)" % (CUT_NODE, stale))
        print("BENCH node_cut_stale_s %.2f" % (stale if stale is not None else -1))
        states = set()
        while time.monotonic() - t_cut < CUT_S:
            n = nodes().get("node%d" % CUT_NODE, {})
            states.add(n.get("state"))
            time.sleep(0.5)
        check("gone" not in states and None not in states,
              "node%d stale, never gone nor forgotten, during the cut: %s" % (CUT_NODE, states))
        during = nodes()
        kept = M.table_of_collector("node:node%d" % CUT_NODE) or {}
        check(any(k.endswith("(leaf)") and v[0] > 0 for k, v in kept.items()),
              "node%d's numbers are kept at the collector while it is cut off" % CUT_NODE)
        for i in range(1, M.NODES + 1):
            if i == CUT_NODE:
                continue
            a, b = before.get("node%d" % i, {}), during.get("node%d" % i, {})
            check(b.get("state") == "up" and b.get("reports", 0) > a.get("reports", 0) + 50,
                  "node%d up and reporting during the cut: %s -> %s reports"
                  % (i, a.get("reports"), b.get("reports")))
        check(procs[0].poll() is None,
              "the collector is alive after the cut")

        # joined again
        subprocess.run(["ip", "link", "set", veth, "up"], check=True)
        back = wait_for("up", lambda: nodes().get("node%d" % CUT_NODE, {}).get("state")
                        == "up", 20)
        check(back is not None, "node%d up within 20 s of the link's return (%s s)"
              % (CUT_NODE, back))
        print("BENCH node_cut_back_up_s %.2f" % (back if back is not None else -1))

        for i, p in enumerate(progs, 1):
            out, _ = p.communicate(timeout=RUN_S + 60)
            check(p.returncode == 0 and "cut_prog: done" in out,
                  "node%d's program ends well with its output: %r" % (i, out[-500:]))
        time.sleep(1.5)  # the last reports

        gaps = nodes().get("node%d" % CUT_NODE, {}).get("gaps", 0)
        print("BENCH node_cut_gaps_healed %d" % gaps)
        for i in range(1, M.NODES + 1):
            lst = M.agent_json(i, ["list"])
            pids = [p["pid"] for p in (lst or {}).get("processes", [])]
            check(len(pids) == 1, "node%d's agent held its program: %s" % (i, pids))
            node_sum = {}
            for pid in pids:
                mine = M.table_of_agent(i, pid)
                theirs = M.table_of_collector("rank:node%d/%d" % (i, pid))
                if check(mine is not None and theirs is not None,
                         "tables of pid %d on node%d" % (pid, i)):
                    d = M.diff(mine, theirs)
                    check(not d, "node%d pid %d: the collector's table is the agent's after the "
                          "cut (differ: %s)" % (i, pid, d[:5]))
                    check(any(k.endswith("(leaf)") and v[0] > 0 for k, v in mine.items()),
                          "node%d pid %d: the program's rows are there" % (i, pid))
                    M.add(node_sum, mine)
            coll_node = M.table_of_collector("node:node%d" % i)
            d = M.diff(node_sum, coll_node or {})
            check(coll_node and not d, "node%d: the node's table is its process's (differ: %s)"
                  % (i, d[:5]))
    finally:
        subprocess.run(["ip", "link", "set", veth, "up"], check=False)
        for p in progs:
            if p.poll() is None:
                p.kill()
        M.stop_all(procs)
        subprocess.run([M.CLUSTER, "down"], env=M.ENV)
    check(not os.path.exists(M.SHM), "the cluster left nothing in /dev/shm")
    finish()


if __name__ == "__main__":
    main()
