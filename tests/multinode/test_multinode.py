"""Several nodes for real: three node namespaces and a head namespace made
by deploy/cluster.sh, a node agent on each node reporting to the collector
on the head over the namespaces' own network, and an mpirun job of hooked
Python ranks launched from the head through deploy/netns-rsh.

Checks, all exact (integer nanoseconds):
  - each rank's table at the collector equals that rank's agent table;
  - each node's table at the collector equals the sum of its agent's ranks;
  - the cluster table equals the sum of every node's;
  - control asked of the collector (profiling off for one rank on the
    third node) reaches that rank, is acknowledged, and really switches it.
"""
import json
import os
import re
import subprocess
import sys
import time
from decimal import Decimal

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pycheck import check, finish  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "../.."))
BUILD = os.environ.get("ULMA_BUILD_DIR", os.path.join(SRC, "build"))
CLUSTER = os.path.join(SRC, "deploy", "cluster.sh")
RSH = os.path.join(SRC, "deploy", "netns-rsh")
AGENT = os.path.join(BUILD, "node-agent", "ulma-agent")
CTL = os.path.join(BUILD, "node-agent", "ulma-ctl")
COLLECTOR = os.path.join(BUILD, "collector", "ulma-collector")
QUERY = os.path.join(BUILD, "tests", "collector", "collector_query")
PY = os.environ.get("ULMA_TEST_PYTHON", "/usr/bin/python3")
NODES = 3
RANKS = 6

TAG = "t%d" % (os.getpid() % 100000)
ENV = dict(os.environ, ULMA_CLUSTER_TAG=TAG, OMPI_ALLOW_RUN_AS_ROOT="1",
           OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", PYTHONPATH=os.path.join(BUILD, "python"))
SHM = "/dev/shm/ulma-%s" % TAG


def on(node, *cmd, **kw):
    return [CLUSTER, "exec", str(node)] + [str(c) for c in cmd]


def query(kind, **kw):
    args = on("head", QUERY, "tcp://127.0.0.1:7711", kind, *["%s=%s" % kv for kv in kw.items()])
    p = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout)


def agent_json(node, req):
    p = subprocess.run(on(node, CTL, "--dir", "%s/node%d" % (SHM, node), "--json", *req),
                       env=ENV, capture_output=True, text=True, timeout=30)
    return json.loads(p.stdout, parse_float=Decimal) if p.returncode == 0 else None


def ns(sec):
    return int(Decimal(sec) * 10**9)


def table_of_agent(node, pid):
    """{std: (ncalls, pcalls, tottime_ns, cumtime_ns)} from the agent itself."""
    d = agent_json(node, ["top", str(pid), "-n", "0"])
    if not d or not d.get("ok"):
        return None
    return {r["std"]: (r["ncalls"], r["pcalls"], ns(r["tottime"]), ns(r["cumtime"]))
            for r in d["rows"]}


def table_of_collector(scope):
    d = query("TOP", scope=scope, limit=100000)
    if not d or not d.get("ok"):
        return None
    return {r["std"]: (r.get("ncalls", 0), r.get("pcalls", 0), r.get("tottime_ns", 0),
                       r.get("cumtime_ns", 0)) for r in d["table"].get("rows", [])}


def add(into, t):
    for k, v in t.items():
        old = into.get(k, (0, 0, 0, 0))
        into[k] = tuple(a + b for a, b in zip(old, v))


def diff(a, b):
    keys = set(a) | set(b)
    return sorted(k for k in keys if a.get(k, (0, 0, 0, 0)) != b.get(k, (0, 0, 0, 0)))


def stop_all(procs):
    """SIGTERM to every process started, newest first; SIGKILL to those
    still there after 10 s."""
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def clean_stale():
    """Clusters of earlier runs whose test process is gone (killed at a
    timeout, before its own clean-up) are taken down."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for tag in sorted(set(re.findall(r"^ulma-(t\d+)-head", out, re.M))):
        try:
            os.kill(int(tag[1:]), 0)
            continue
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        subprocess.run([CLUSTER, "down"], env=dict(ENV, ULMA_CLUSTER_TAG=tag))


def main():
    clean_stale()
    procs = []
    ok = subprocess.run([CLUSTER, "check"], env=ENV).returncode == 0
    if not check(ok, "network namespaces can be made (root, iproute2, util-linux)"):
        finish()
    subprocess.run([CLUSTER, "up", str(NODES)], env=ENV, check=True)
    try:
        procs.append(subprocess.Popen(on("head", COLLECTOR, "--agents", "tcp://10.77.0.1:7710",
                                         "--query", "tcp://127.0.0.1:7711", "--metrics", "none",
                                         "--interval", "0.2", "-q", "--plaintext"), env=ENV))
        for i in range(1, NODES + 1):
            procs.append(subprocess.Popen(on(i, AGENT, "--dir", "%s/node%d" % (SHM, i),
                                             "--node", "node%d" % i, "--collector",
                                             "tcp://10.77.0.1:7710", "--report-interval", "0.2",
                                             "--keep", "600", "-q", "--plaintext"), env=ENV))
        for _ in range(100):
            s = query("SUMMARY")
            if s and s["summary"].get("nodes_up", 0) == NODES:
                break
            time.sleep(0.1)
        check(s and s["summary"].get("nodes_up") == NODES, "every node agent reports: %s" % s)
        job = subprocess.Popen(on("head", "mpirun", "--host",
                                  subprocess.run([CLUSTER, "hosts"], env=ENV, capture_output=True,
                                                 text=True).stdout.strip(),
                                  "--mca", "plm_rsh_agent", RSH,
                                  "--mca", "btl_tcp_if_include", "10.77.0.0/24",
                                  "--mca", "oob_tcp_if_include", "10.77.0.0/24",
                                  "--mca", "btl", "self,vader,tcp", "-x", "PYTHONPATH",
                                  "-np", RANKS, PY, "-m", "ulma", os.path.join(HERE, "mn_prog.py"),
                                  "8"),
                               env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
        # while the job runs: switch off one rank of node3 through the collector
        target = None
        for _ in range(150):
            r = query("RANKS", scope="node:node3")
            live = [x for x in (r or {}).get("ranks", []) if x.get("state") == "live"]
            if len(live) == RANKS // NODES:
                target = live[0]
                break
            time.sleep(0.1)
        if check(target is not None, "node3's ranks appear at the collector"):
            a = query("CONTROL", scope="rank:node3/%d" % target["pid"], mode=0, wait_ms=5000)
            c = (a or {}).get("control", {})
            check(a and a.get("ok") and c.get("requested") == 1 and c.get("applied") == 1,
                  "control of rank %d on node3 acknowledged: %s" % (target.get("rank", -1), a))
            lst = agent_json(3, ["list"])
            modes = {p["pid"]: p["mode"] for p in (lst or {}).get("processes", [])}
            check(modes.get(target["pid"]) == "off",
                  "the rank on node3 is really off, says its agent: %s" % modes)
        out, _ = job.communicate(timeout=120)
        check(job.returncode == 0, "the job ends well: %s" % out[-2000:])
        check("mn_prog: done" in out, "the program's output comes back")
        time.sleep(1.5)  # the last reports
        # every rank: the collector's table is its agent's
        cluster_sum = {}
        ranks_seen = 0
        for i in range(1, NODES + 1):
            lst = agent_json(i, ["list"])
            pids = [p["pid"] for p in (lst or {}).get("processes", [])]
            check(len(pids) == RANKS // NODES, "node%d's agent held its ranks: %s" % (i, pids))
            node_sum = {}
            for pid in pids:
                mine = table_of_agent(i, pid)
                theirs = table_of_collector("rank:node%d/%d" % (i, pid))
                if check(mine is not None and theirs is not None,
                         "tables of rank pid %d on node%d" % (pid, i)):
                    d = diff(mine, theirs)
                    check(not d, "rank %d on node%d: the collector's table is the agent's "
                          "(differ: %s)" % (pid, i, d[:5]))
                    add(node_sum, mine)
                    ranks_seen += 1
            coll_node = table_of_collector("node:node%d" % i)
            d = diff(node_sum, coll_node or {})
            check(coll_node and not d, "node%d: the collector's node table is the sum of its "
                  "agent's ranks (differ: %s)" % (i, d[:5]))
            add(cluster_sum, node_sum)
        check(ranks_seen == RANKS, "all %d ranks compared (%d)" % (RANKS, ranks_seen))
        coll = table_of_collector("cluster")
        d = diff(cluster_sum, coll or {})
        check(coll and not d, "the cluster table is the sum of every node's (differ: %s)" % d[:5])
        work = [k for k in cluster_sum if k.endswith("(work)")]
        check(work and cluster_sum[work[0]][0] > 0, "the program's rows are there: %s" % work)
    finally:
        stop_all(procs)
        subprocess.run([CLUSTER, "down"], env=ENV)
    check(not os.path.exists(SHM), "the cluster left nothing in /dev/shm")
    finish()


if __name__ == "__main__":
    main()
