"""A flood at the collector, bounded and on loopback: reports from 128
simulated nodes at 100 reports/s each (collector_load, the real report
sender), and three hostile clients sending cluster TOP queries as fast as
their sockets take them and never reading an answer, for FLOOD_S seconds;
meanwhile a dashboard asks SUMMARY and cluster TOP on one connection, as
clustertop does.

Checks:
  - every dashboard query is answered (none waits past its 5 s timeout),
    and the collector is alive and answering after the flood;
  - the answers the flooders never read are counted (send_failures), not
    queued without bound: the collector's memory stays bounded;
  - nothing is lost: once the flood is over, the cluster's totals equal the
    generators' exact sums (ncalls, pcalls, tottime, cumtime of every
    function), the reports that could not be sent at once (the senders'
    high-water mark) folded into later ones;
Prints BENCH lines: the dashboard's round trips (median, p99, max), the
reports the collector took in, the answers dropped, its peak RSS.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pycheck import check, finish  # noqa: E402
from colltest import QUERY, Collector, load, rows_by_name, truth_sums, wait_for  # noqa: E402

FLOOD_S = 8
tmp = tempfile.mkdtemp(prefix="ulma-flood-")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def times(stderr):
    """collector_query repeat=N's TIMES line as a dict."""
    for line in stderr.splitlines():
        if line.startswith("TIMES"):
            w = line.split()
            return {w[i]: float(w[i + 1]) for i in range(1, len(w) - 1, 2)}
    return None


c = Collector("--interval", "0.5", "--hwm", "200", "--snapshot-every", "10")
s0 = c.query("SUMMARY")
check(s0 is not None, "the collector answers before the flood")

truths = [os.path.join(tmp, "truth%d.json" % i) for i in range(2)]
common = ["--nodes", 64, "--ranks", 4, "--funcs", 300, "--edges", 50, "--paths", 50,
          "--interval", 0.01, "--snapshot-every", 20, "--duration", FLOOD_S, "--job", "floodJ",
          "--final", 2]
gens = [load(c.agents, "--first", 0, "--truth", truths[0], "--seed", 7, *common),
        load(c.agents, "--first", 64, "--truth", truths[1], "--seed", 8, *common)]
flooders = [subprocess.Popen([QUERY, c.query_ep, "TOP", "scope=cluster", "limit=50",
                              "flood=%d" % FLOOD_S], stdout=subprocess.PIPE, text=True)
            for _ in range(3)]

# the dashboard, while the flood lasts: rounds of SUMMARY and TOP, each
# round 20 questions on one connection
t0 = time.monotonic()
rounds, unanswered, trips = 0, 0, []
while time.monotonic() - t0 < FLOOD_S:
    for kind, extra in (("SUMMARY", []), ("TOP", ["scope=cluster", "limit=50"])):
        p = subprocess.run([QUERY, c.query_ep, kind, "repeat=20", "timeout_ms=5000"] + extra,
                           capture_output=True, text=True, timeout=120)
        rounds += 1
        t = times(p.stderr)
        if p.returncode != 0 or not t or t["n"] != 19:
            unanswered += 1
        else:
            trips.append(t)
check(rounds >= 4, "the dashboard asked during the flood (%d rounds)" % rounds)
check(unanswered == 0, "every dashboard question answered within 5 s during the flood "
      "(%d rounds of 20 unanswered)" % unanswered)

flood_sent = 0
for f in flooders:
    out = f.communicate(timeout=60)[0]
    check(f.returncode == 0 and out.startswith("FLOOD sent"), "a flooder ran: %r" % out)
    flood_sent += int(out.split()[2]) if out.startswith("FLOOD sent") else 0
for g in gens:
    check(g.wait(timeout=60) == 0, "a report generator finished")
check(c.proc.poll() is None, "the collector survived the flood")

# nothing lost: the totals are whole again within a snapshot interval
want = truth_sums(truths)


def exact():
    got = rows_by_name(c.query("TOP", scope="cluster", limit=100000) or {})
    bad = [n for n, v in want.items()
           if not got.get(n) or any(got[n].get(k, 0) != v[k] for k in v)]
    return (not bad and len(got) == len(want)), bad[:3]


ok = wait_for(lambda: exact()[0], timeout=20)
check(ok, "after the flood the cluster's totals are the generators' exact sums %s"
      % (exact()[1],))

m = c.metrics() or {}
sends_failed = m.get("ulma_collector_send_failures_total", 0)
queries = m.get("ulma_collector_queries_total", 0)
reports = m.get("ulma_collector_reports_total", 0)
check(sends_failed > 0, "the answers nobody read are counted (send_failures %d)" % sends_failed)
check(queries > 0 and reports > 0, "queries and reports counted: %d, %d" % (queries, reports))
rss = rss_kib(c.proc.pid)
check(0 < rss < 1024 * 1024, "the collector's memory stays bounded (%d KiB peak)" % rss)

med = sorted(t["median_ms"] for t in trips)
p99 = sorted(t["p99_ms"] for t in trips)
mx = max((t["max_ms"] for t in trips), default=-1)
if med:
    print("BENCH flood_dashboard_median_ms %.2f" % med[len(med) // 2])
    print("BENCH flood_dashboard_p99_ms %.2f" % p99[len(p99) // 2])
    print("BENCH flood_dashboard_max_ms %.2f" % mx)
print("BENCH flood_reports_taken %d" % reports)
print("BENCH flood_queries_sent %d" % flood_sent)
print("BENCH flood_answers_dropped %d" % sends_failed)
print("BENCH flood_collector_rss_mib %.1f" % (rss / 1024.0))
c.stop()
finish()
