"""Debian's real Prometheus server scrapes ulma-collector's /metrics on
loopback (its own config and storage in a temp dir, a free port, scrape
interval 1 s); a value is read back through Prometheus's HTTP query API
and equals what the collector holds."""
import faulthandler
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pycheck import check, finish  # noqa: E402
from colltest import Collector, free_port, load, wait_for  # noqa: E402

faulthandler.dump_traceback_later(80, exit=True)
PROM = shutil.which("prometheus") or "/usr/bin/prometheus"
check(os.path.exists(PROM), "Debian's prometheus is installed (deploy/setup.sh)")

tmp = tempfile.mkdtemp(prefix="ulma-prom-")
c = Collector("--interval", "0.5", "--metrics-top", "3")
gen = load(c.agents, "--nodes", 3, "--ranks", 2, "--funcs", 40, "--interval", 0.5,
           "--duration", 40, "--job", "jobP")

# the endpoint itself
url = "http://127.0.0.1:%d/metrics" % c.metrics_port


def scrape():
    try:
        return urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError:
        return ""


text = wait_for(lambda: "ulma_cluster_ranks 6" in scrape() and scrape(), timeout=10)
check("ulma_cluster_ranks 6" in text, "/metrics shows the 6 ranks")
fn_lines = [ln for ln in text.splitlines() if ln.startswith("ulma_job_function_seconds{")]
check(len(fn_lines) == 3 and all('job_id="jobP"' in ln for ln in fn_lines),
      "--metrics-top bounds the function series per job: %d" % len(fn_lines))
check('ulma_collector_bad_messages_total{reason="malformed"} 0' in text and
      "ulma_collector_rss_bytes " in text, "the collector's own counters")
try:
    urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="POST"), timeout=5)
    check(False, "POST is refused")
except urllib.error.HTTPError as e:
    check(e.code == 405, "POST is refused (405)")
try:
    urllib.request.urlopen(url.replace("/metrics", "/other"), timeout=5)
    check(False, "another path is 404")
except urllib.error.HTTPError as e:
    check(e.code == 404, "another path is 404")

# Prometheus scraping it
port = free_port()
cfg = os.path.join(tmp, "prometheus.yml")
with open(cfg, "w") as f:
    f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: ulma\n    static_configs:\n"
            "      - targets: ['127.0.0.1:%d']\n" % c.metrics_port)
prom = subprocess.Popen([PROM, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                         "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                        stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "prom.log"), "w"))


def prom_query(q):
    try:
        u = "http://127.0.0.1:%d/api/v1/query?query=%s" % (port, urllib.parse.quote(q))
        d = json.loads(urllib.request.urlopen(u, timeout=5).read())
        return d["data"]["result"] if d.get("status") == "success" else []
    except (OSError, ValueError, KeyError):
        return []


res = wait_for(lambda: prom_query("ulma_cluster_ranks"), timeout=40, step=0.5)
check(res and float(res[0]["value"][1]) == 6, "Prometheus read ulma_cluster_ranks = 6: %s" % res)
res = wait_for(lambda: prom_query('ulma_node_ranks{node="node00001"}'), timeout=10, step=0.5)
check(res and float(res[0]["value"][1]) == 2, "per-node series through Prometheus: %s" % res)
res = prom_query('count(ulma_job_function_seconds{job_id="jobP"})')
n = float(res[0]["value"][1]) if res else 0
check(1 <= n <= 3, "at most 3 function series of the job in Prometheus: %s" % res)
prom.terminate()
prom.wait(timeout=20)
gen.terminate()
gen.wait()
check(c.stop() == 0, "the collector exits 0")
shutil.rmtree(tmp, ignore_errors=True)
finish()
