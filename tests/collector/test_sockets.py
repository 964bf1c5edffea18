"""ulma-collector over real sockets: simulated agents (separate processes
using the real report sender), a lost report, an agent restart, queries
from DEALER (with and without a delimiter) and REQ peers, forwarding with
its timeout, control routing, malformed queries, the dump, the options."""
import faulthandler
import json
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pycheck import check, finish  # noqa: E402
from colltest import COLLECTOR, Collector, load, rows_by_name, truth_sums, wait_for  # noqa: E402

faulthandler.dump_traceback_later(80, exit=True)
tmp = tempfile.mkdtemp(prefix="ulma-coll-")
dump = os.path.join(tmp, "dump.json")

# ---- options -------------------------------------------------------------------------
p = subprocess.run([COLLECTOR, "--help"], capture_output=True, text=True)
check(p.returncode == 0 and "OPTIONS" in p.stdout and "--keep" in p.stdout and
      "--metrics-top" in p.stdout, "--help documents the options")
p = subprocess.run([COLLECTOR, "--no-such"], capture_output=True, text=True)
check(p.returncode == 2 and "unknown option" in p.stderr, "an unknown option is exit 2")
p = subprocess.run([COLLECTOR, "--interval", "abc"], capture_output=True, text=True)
check(p.returncode == 2 and "--interval" in p.stderr, "a bad value is exit 2")

c = Collector("--interval", "0.3", "--gone", "30", "--keep", "60", "--dump", dump,
              "--forward-ms", "600")

# ---- exact totals: three agent processes, one loses a report, one restarts ------------------
truths = [os.path.join(tmp, "truth%d.json" % i) for i in range(3)]
common = ["--ranks", 3, "--funcs", 60, "--edges", 50, "--paths", 50, "--interval", 0.3,
          "--reports", 10, "--snapshot-every", 4, "--job", "jobA"]
gens = [load(c.agents, "--nodes", 2, "--first", 0, "--truth", truths[0], "--seed", 1, *common),
        load(c.agents, "--nodes", 2, "--first", 2, "--truth", truths[1], "--seed", 2,
             "--drop-at", 2, *common),
        load(c.agents, "--nodes", 1, "--first", 4, "--truth", truths[2], "--seed", 3,
             "--restart-at", 5, *common)]
for g in gens:
    check(g.wait(timeout=40) == 0, "a load generator finished")

want = truth_sums(truths)


def exact(scope):
    r = c.query("TOP", scope=scope, limit=100000)
    got = rows_by_name(r or {})
    bad = [n for n, v in want.items()
           if not got.get(n) or any(got[n].get(k, 0) != v[k] for k in v)]
    return not bad and len(got) == len(want), bad[:3]


ok, bad = wait_for(lambda: exact("cluster")[0] and exact("cluster"), timeout=10) or exact("cluster")
check(ok, "cluster totals equal the agents' exact sums (ncalls, pcalls, tottime, cumtime) %s" % bad)
ok, bad = exact("job:jobA")
check(ok, "job totals equal the exact sums %s" % bad)

s = c.query("SUMMARY")["summary"]
check(s.get("nodes_up", 0) + s.get("nodes_stale", 0) == 5 and s.get("processes") == 15, "summary: 5 nodes, 15 processes: %s" % s)
d = c.query("DROPS")["drops"]
check(d.get("reports_lost", 0) >= 2, "the lost report and the restart are counted: %s" % d)
n = c.query("NODES", limit=2, offset=1, points=3)
check(len(n["nodes"]) == 2 and n["nodes"][0]["name"] == "node00001" and
      len(n["nodes"][0].get("spark", [])) <= 3, "NODES: offset, limit, points")
check(any(x.get("gaps", 0) >= 1 for x in c.query("NODES")["nodes"]), "a node shows its gap")
r = c.query("RANKS", scope="job:jobA", limit=4)
check(len(r["ranks"]) == 4 and r["ranks"][0].get("rank", 0) == 0 and r["ranks"][0]["job"] == "jobA",
      "RANKS of a job, by rank, bounded")
j = c.query("JOBS")["jobs"]
check(len(j) == 1 and j[0]["ranks"] == 15 and j[0]["nodes"] == 5, "JOBS: %s" % j)
t = c.query("TOP", limit=5, sort="tottime", filter="f1")
rows = t["table"]["rows"]
check(len(rows) <= 5 and all("f1" in x["std"] for x in rows) and
      all(rows[i]["tottime_ns"] >= rows[i + 1]["tottime_ns"] for i in range(len(rows) - 1)),
      "TOP: sort key, filter, limit")
check(all(x.get("nranks") == 15 for x in rows), "TOP rows carry the spread over 15 ranks")
f = c.query("FUNCTION", scope="job:jobA", func="f3", limit=3)
check(f.get("ok") and len(f["function"]["ranks"]) == 3 and
      f["function"]["row"]["ncalls"] == want["f3"]["ncalls"], "FUNCTION: totals and ranks")
im = c.query("IMBALANCE", scope="job:jobA", limit=4, ranks=6)["imbalance"]
check(len(im["rows"]) == 4 and len(im["ranks"]) == 6 and len(im.get("cells", [])) == 24,
      "IMBALANCE: rows x ranks cells")
e = c.query("CALLEES", func="f1", limit=5)
check(e.get("ok") and len(e.get("edges", [])) <= 5, "CALLEES from the groups")
pa = c.query("PATHS", scope="job:jobA", limit=7)
check(len(pa.get("paths", [])) == 7, "PATHS from the groups, bounded")
m = c.query("MPI", scope="job:jobA", limit=100)
check(len(m.get("mpi", [])) > 0 and len(m.get("mpi_ranks", [])) == 15 and
      all(x.get("total_ns", 0) >= x.get("mpi_ns", 0) for x in m["mpi_ranks"]), "MPI per rank")
h = c.query("HISTORY", points=4, limit=2)["history"]
check(len(h["cluster"]) <= 4 and len(h["nodes"]) == 2, "HISTORY bounded by points and limit")
pfile = os.path.join(tmp, "cluster.pstats")
x = c.query("EXPORT", format="pstats", out=pfile)
st = pstats.Stats(pfile)
tot_calls = sum(v[1] for v in st.stats.values())
check(x.get("ok") and tot_calls == sum(v["ncalls"] for v in want.values()),
      "EXPORT pstats of the cluster loads with pstats, same calls")
snap = c.query("SNAPSHOT")
doc = json.loads(snap["json"])
check(doc.get("format") == "ulma-profile" and len(doc["nodes"]) == 5 and len(doc["ranks"]) == 15
      and doc["imbalance"] and doc["functions"], "SNAPSHOT: profile JSON + nodes, ranks, imbalance")
check(c.query("TOP", sort="nosuchkey")["ok"] is not True if "ok" in c.query("TOP", sort="nosuchkey")
      else True, "bad sort key is an error")
err = c.query("TOP", scope="node:nope")
check(not err.get("ok") and "no node" in err.get("error", ""), "unknown node is an error answer")

# ---- the three kinds of peer, and malformed queries ---------------------------------------
for sock in ("dealer", "delim", "req"):
    r = c.query("SUMMARY", socket=sock, id=77)
    check(r and r.get("id") == 77 and r.get("ok"), "answered a %s peer" % sock)
r = c.query("SUMMARY", version=9)
check(r and not r.get("ok") and "version" in r.get("error", ""), "another version is refused")
r = c.query("SUMMARY", raw="ffffffff0102")
check(r and not r.get("ok") and "refused" in r.get("error", ""), "garbage is refused, answered")

# ---- forwarding and control: live agents ---------------------------------------------------
live = load(c.agents, "--nodes", 2, "--first", 10, "--ranks", 2, "--funcs", 30,
            "--interval", 0.3, "--duration", 25, "--job", "jobB")
mute = load(c.agents, "--nodes", 1, "--first", 12, "--ranks", 2, "--funcs", 30,
            "--interval", 0.3, "--duration", 25, "--job", "jobB", "--no-answer")


def node_ranks(node):
    r = c.query("RANKS", scope="node:" + node)
    return len(r.get("ranks", [])) if r and r.get("ok") else 0


# the earlier nodes are still up (--gone 30): wait for these three by name
check(wait_for(lambda: all(node_ranks("node%05d" % n) == 2 for n in (10, 11, 12)), timeout=20),
      "the live agents are up")
r = c.query("STACKS", scope="rank:node00010/1000")
check(r.get("ok") and r["threads"][0]["name"] == "MainThread of node00010" and
      r.get("id") == 42, "STACKS forwarded to the node's agent and relayed")
r = c.query("STACKS", scope="job:jobB")
check(not r.get("ok") and "rank scope" in r.get("error", ""), "STACKS needs a rank")
t0 = time.time()
r = c.query("STACKS", scope="rank:node00012/1000")
check(not r.get("ok") and "node node00012 did not answer within 600 ms" in r.get("error", "") and
      time.time() - t0 < 5, "a silent agent: an error after --forward-ms")
r = c.query("CONTROL", scope="job:jobB", mode=2, wait_ms=500)
ca = r.get("control", {})
check(r.get("ok") and ca.get("nodes") == 3 and ca.get("nodes_answered") == 3 and
      ca.get("requested") == 6 and ca.get("applied") == 6, "CONTROL of a job: every rank acked %s" % ca)
r = c.query("CONTROL", scope="rank:node00011/1001", mode=0, wait_ms=500)
ca = r.get("control", {})
check(ca.get("requested") == 1 and ca["targets"][0]["pid"] == 1001 and
      ca["targets"][0]["node"] == "node00011" and ca["targets"][0].get("mode") == "off",
      "CONTROL of one rank on one node acknowledged")


def rank_mode(node, pid):
    r = c.query("RANKS", scope="node:" + node) or {}
    for x in r.get("ranks", []):
        if x["pid"] == pid:
            return x["mode"]


check(wait_for(lambda: rank_mode("node00011", 1001) == "off" and rank_mode("node00011", 1000) == "full"),
      "the rank's new mode shows in the next report")
os.kill(c.proc.pid, signal.SIGUSR1)
check(wait_for(lambda: os.path.exists(dump)), "SIGUSR1 writes the dump")
live.terminate()
mute.terminate()
live.wait()
mute.wait()
os.unlink(dump)
check(c.stop() == 0, "the collector exits 0 on SIGTERM")
doc = json.load(open(dump))
check(len(doc["nodes"]) == 8 and "imbalance" in doc, "the dump is written at exit")
finish()
