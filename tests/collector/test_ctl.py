"""ulma-ctl --collector: the command line of the cluster. Simulated agents
(the real report sender) feed a real collector; ulma-ctl's JSON top of the
cluster equals the agents' own totals, its tables name every node and rank,
an export of the cluster is read by pstats with the same totals, a switch
of a job is acknowledged by every rank, and bad input is a clear error."""
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pycheck import check, finish  # noqa: E402
from colltest import BUILD, Collector, load, wait_for  # noqa: E402

CTL = os.path.join(BUILD, "node-agent", "ulma-ctl")
tmp = tempfile.mkdtemp(prefix="ulma-ctlc-")
c = Collector("--interval", "0.3")


def ctl(*args, ep=None):
    p = subprocess.run([CTL, "--plaintext", "--collector", ep or c.query_ep, "--timeout", "5000"] +
                       [str(a) for a in args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


# ---- exact totals of finished agents --------------------------------------------------
truth = os.path.join(tmp, "truth.json")
g = load(c.agents, "--nodes", 3, "--first", 0, "--ranks", 2, "--funcs", 40, "--edges", 30,
         "--paths", 30, "--interval", 0.3, "--reports", 6, "--snapshot-every", 3,
         "--job", "jobA", "--truth", truth, "--seed", 5)
check(g.wait(timeout=40) == 0, "the load generator finished")
want = {k: v for k, v in json.load(open(truth))["functions"].items() if v["ncalls"] or v["tottime_ns"]}


def top_rows():
    rc, out, _ = ctl("--json", "top", "cluster", "-n", "100000")
    if rc != 0:
        return {}
    return {r["name"]: r for r in json.loads(out).get("table", {}).get("rows", [])}


def exact():
    got = top_rows()
    return all(got.get(n) and got[n].get("ncalls", 0) == v["ncalls"] and
               got[n].get("tottime_ns", 0) == v["tottime_ns"] and
               got[n].get("cumtime_ns", 0) == v["cumtime_ns"] for n, v in want.items())


check(wait_for(exact, timeout=15), "the cluster's top through ulma-ctl equals the agents' totals")

rc, out, _ = ctl("nodes")
check(rc == 0 and all("node%05d" % n in out for n in range(3)) and "STATE" in out,
      "nodes: one row per node")
rc, out, _ = ctl("ranks", "job:jobA")
check(rc == 0 and len([ln for ln in out.splitlines() if ln.startswith("node")]) == 6,
      "ranks of a job: six rows")
rc, out, _ = ctl("top", "--node", "node00001", "-n", "3")
check(rc == 0 and "2 processes" in out and "filename:lineno(function)" in out,
      "top of one node, cProfile's header: %s" % out[:200])
rc, out, _ = ctl("summary")
m = re.search(r"nodes (\d+) up, (\d+) stale", out)  # finished agents go stale after 3 intervals
check(rc == 0 and m and int(m.group(1)) + int(m.group(2)) == 3, "summary: %s" % out.strip())

# ---- an export of the cluster, read by pstats -------------------------------------------
f = os.path.join(tmp, "cluster.pstats")
rc, out, _ = ctl("export", "cluster", "pstats", f)
check(rc == 0 and os.path.getsize(f) > 0, "export cluster pstats")
st = pstats.Stats(f)
calls = sum(v[1] for v in st.stats.values())
check(calls == sum(v["ncalls"] for v in want.values()),
      "pstats reads the cluster's calls: %d" % calls)
for fmt in ("json", "speedscope", "collapsed", "svg", "pprof"):
    f = os.path.join(tmp, "cluster." + fmt)
    rc, _, err = ctl("export", "job:jobA", fmt, f)
    check(rc == 0 and os.path.getsize(f) > 0, "export job %s %s" % (fmt, err.strip()))

# ---- control of a live job --------------------------------------------------------------
live = load(c.agents, "--nodes", 2, "--first", 10, "--ranks", 2, "--funcs", 20,
            "--interval", 0.3, "--duration", 20, "--job", "jobB")
check(wait_for(lambda: ctl("ranks", "job:jobB")[1].count("jobB") == 4, timeout=20),
      "the live job's four ranks are there")
# (the first load has ended: its three nodes fall silent, stale; the live job's two report)
summ = []
check(wait_for(lambda: summ.append(ctl("summary")[1]) or "nodes 2 up" in summ[-1],
               timeout=10), "summary while a job runs: %s" % (summ[-1].strip() if summ else ""))


def cluster_rate():
    r = c.query("TOP", scope="cluster", limit=100) or {}
    return sum(x.get("rate_calls", 0) for x in (r.get("table") or {}).get("rows", []))


check(wait_for(lambda: cluster_rate() > 0, timeout=10),
      "the cluster's TOP has call rates while a job runs: %s calls/s" % cluster_rate())


def scope_rate(scope):
    r = c.query("TOP", scope=scope, limit=100, window=2) or {}
    return sum(x.get("rate_calls", 0) for x in (r.get("table") or {}).get("rows", []))


# a node's and a rank's rates: none at the first question, then sampled at every interval
for scope in ("node:node00010", "rank:node00010/1000"):
    first = scope_rate(scope)
    check(first == 0, "%s: no rates at the first question (%s)" % (scope, first))
    check(wait_for(lambda: scope_rate(scope) > 0, timeout=10),
          "%s: call rates while the job runs: %.0f calls/s" % (scope, scope_rate(scope)))
# the node's rate is its two ranks' (asked together: the same samples, almost the same now)
got = []
for _ in range(5):
    n, r0, r1 = (scope_rate(x) for x in ("node:node00010", "rank:node00010/1000",
                                         "rank:node00010/1001"))
    got.append((n, r0 + r1))
    if n > 0 and abs(n - (r0 + r1)) <= 0.25 * n:
        break
    time.sleep(0.4)  # (the second rank's first question had no rates)
check(got and got[-1][0] > 0 and abs(got[-1][0] - got[-1][1]) <= 0.25 * got[-1][0],
      "node00010's call rate is its ranks' summed (node, ranks): %s" % got)
rc, out, _ = ctl("full", "job:jobB", "--wait", 1000)
check(rc == 0 and "applied by 4 of 4 processes" in out, "full job:jobB acknowledged: %s" % out)
rc, out, _ = ctl("stacks", "rank:node00010/1000")
check(rc == 0 and "MainThread" in out, "stacks of a rank, relayed from its agent")
live.terminate()
live.wait()

# ---- bad input --------------------------------------------------------------------------
rc, _, err = ctl("top", "node:nope")
check(rc == 1 and "no node 'nope'" in err, "an unknown node: exit 1 and says so")
rc, _, err = ctl("frobnicate")
check(rc == 2 and "unknown command" in err, "an unknown command: exit 2")
rc, _, err = ctl("top", "nonsense:scope")
check(rc != 0 and err, "a bad scope is refused: %s" % err.strip())
rc, _, err = ctl("export", "cluster", "nosuchfmt", os.path.join(tmp, "x"))
check(rc == 2 and err, "an unknown format is refused: %s" % err.strip())
rc, _, err = ctl("summary", ep="tcp://127.0.0.1:1")
check(rc == 1 and "nothing answers" in err, "no collector there: exit 1, said")
check(c.stop() == 0, "the collector exits 0")
finish()
