"""The main job of the README's quick start, as CI runs it (no terminal):
deploy/demo.sh in batch mode, a cluster of two nodes in network namespaces,
collector and prometheus on the head, an agent per node, an mpirun job of
four hooked ranks. Checks what a user reads: both nodes report, the final
cluster table names the slow rank (the job's last) as the slowest of the
hot function, the exports are written and pstats reads them, Prometheus's
query API has the nodes' series, and at the end nothing the demo made is
left (namespaces, segments, processes)."""
import os
import pstats
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pycheck import check, finish  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "../.."))
BUILD = os.environ.get("ULMA_BUILD_DIR", os.path.join(SRC, "build"))
TAG = "d%d" % (os.getpid() % 100000)
OUT = os.path.join(BUILD, "demo-" + TAG)

env = dict(os.environ, ULMA_CLUSTER_TAG=TAG)
p = subprocess.Popen(["bash", os.path.join(SRC, "deploy", "demo.sh"), BUILD, "--batch",
                      "--seconds", "12", "--nodes", "2", "--ranks", "2"],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
try:
    out = p.communicate(timeout=200)[0]
except subprocess.TimeoutExpired:
    # as a user's Ctrl-C: the demo removes what it made (a SIGKILL would leave it)
    p.send_signal(signal.SIGINT)
    try:
        out = p.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        p.kill()
        out = p.communicate()[0]
    check(False, "the demo ended within 200 s")
finally:
    if p.poll() is None:
        p.kill()
        p.wait()
    # whatever happened above: no namespace, agent or collector of this test outlives it
    left = subprocess.run(["pgrep", "-f", "%s|/dev/shm/ulma-%s/" % (OUT, TAG)],
                          capture_output=True, text=True).stdout.split()
    ns_left = TAG in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
sys.stdout.write(out[-6000:] if p.returncode else "")
check(p.returncode == 0, "the demo exits 0 (status %d)" % p.returncode)
check("2 node(s) report to the collector" in out, "both nodes report to the collector")
check("a cluster of 2 nodes in network namespaces" in out, "a cluster in namespaces, not the fallback")

final = out.split("== the cluster's top table at the end", 1)[-1].split("== the nodes", 1)[0]
# (which functions make the 15 rows depends on the machine's load: MPI waits grow with it)
slowest = [ln for ln in final.splitlines() if re.search(r" r\d@node\d ", ln)]
check(len(slowest) >= 5, "the final table names each function's slowest rank: %s" % slowest[:3])
# the slow rank does 1.5 times the others' work: its calls say so whatever the machine's load
fn = out.split("== the hot function across the ranks", 1)[-1]
per = {}
for ln in fn.splitlines():
    w = ln.lstrip(">").split()
    if len(w) >= 4 and w[0].isdigit() and w[1].startswith("node") and w[3].isdigit():
        per[int(w[0])] = (w[1], int(w[3]))
most = max(per, key=lambda r: per[r][1]) if per else None
check(len(per) == 4 and most == 3 and per[3][0] == "node2" and
      all(2 * per[3][1] == 3 * per[r][1] for r in (0, 1, 2)),
      "the function view: rank 3 on node2 makes 1.5 times the calls of each other rank: %s" % per)
m = re.search(r"(\d+) calls in ([\d.]+) s\s+4 processes", final)
check(m and int(m.group(1)) > 100000, "the final table covers the four ranks: %s" % (m and m.group(0)))

f = os.path.join(OUT, "cluster.pstats")
check(os.path.exists(f), "the pstats export is written")
if os.path.exists(f):
    st = pstats.Stats(f)
    fir = [v for k, v in st.stats.items() if k[2] == "step" and k[0].endswith("demo_app.py")]
    check(fir and fir[0][1] > 1000, "pstats reads it: FIRFilter.step with its calls")
for ext in ("svg", "json"):
    g = os.path.join(OUT, "cluster." + ext)
    check(os.path.exists(g) and os.path.getsize(g) > 1000, "the %s export is written" % ext)

prom = out.split("Prometheus's query API", 1)[-1]
up = [ln for ln in prom.splitlines() if ln.strip().startswith("ulma_node_up")]
check(up and "node=node1" in up[0] and "node=node2" in up[0],
      "Prometheus's query API has both nodes' ulma_node_up: %s" % up)

check(not ns_left, "no namespace of the demo is left")
check(not os.path.exists("/dev/shm/ulma-" + TAG), "no segment directory is left")
check(not left, "no process of the demo is left: %s" % left)
for pid in left:  # (said above; gone anyway)
    subprocess.run(["kill", "-9", pid])
if ns_left:
    subprocess.run(["bash", os.path.join(SRC, "deploy", "cluster.sh"), "down"], env=env)
finish()
