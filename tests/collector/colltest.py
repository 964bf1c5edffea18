"""Helpers of the collector's Python tests: free ports, the collector and
simulated agents as processes, queries through collector_query (JSON)."""
import atexit
import json
import os
import signal
import socket
import subprocess
import time

BUILD = os.environ.get("ULMA_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
COLLECTOR = os.path.join(BUILD, "collector", "ulma-collector")
LOAD = os.path.join(BUILD, "tests", "bench", "collector_load")
QUERY = os.path.join(BUILD, "tests", "collector", "collector_query")


_children = []


@atexit.register
def _reap():
    """A failed check or an exception never leaves a collector or a load
    generator behind (ctest would wait for them until its timeout)."""
    for p in _children:
        if p.poll() is None:
            p.kill()
            p.wait()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fixed_port():
    """A free port outside the ephemeral range, for an endpoint agents keep
    reconnecting to while no one listens (a collector being restarted):
    their own connecting sockets, taking ephemeral ports, can then never
    land on it (a TCP self-connection)."""
    import random
    for _ in range(200):
        port = random.randrange(20000, 30000)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port")


class Collector:
    def __init__(self, *args, metrics=True, agents=None, query=None, **popen_kw):
        self.agents = agents or "tcp://127.0.0.1:%d" % free_port()
        self.query_ep = query or "tcp://127.0.0.1:%d" % free_port()
        self.metrics_port = free_port()
        cmd = [COLLECTOR, "--agents", self.agents, "--query", self.query_ep,
               "--metrics", ("127.0.0.1:%d" % self.metrics_port) if metrics else "none", "-q"]
        cmd += list(args)
        # tests of the security links give their keys; the others ask for plain text
        if "--curve-dir" not in cmd:
            cmd.append("--plaintext")
        self.proc = subprocess.Popen(cmd, **popen_kw)
        _children.append(self.proc)
        # bound when it answers (with keys, collector_query is refused: its
        # /metrics says it is up)
        for _ in range(100):
            r = self.metrics() if "--curve-dir" in cmd else self.query("SUMMARY", timeout_ms=200)
            if r:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("collector did not start")

    def metrics(self):
        """The /metrics text as {name: value} (labels kept in the name), or None."""
        import urllib.request
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                        timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return None
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                try:
                    out[k] = float(v)
                except ValueError:
                    pass
        return out

    def query(self, kind, **kw):
        args = [QUERY, self.query_ep, kind] + ["%s=%s" % (k, v) for k, v in kw.items()]
        p = subprocess.run(args, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)

    def kill(self):
        """SIGKILL: no dump, no goodbye."""
        self.proc.kill()
        self.proc.wait()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def load(ep, *args):
    """A simulated-agents process (collector_load)."""
    p = subprocess.Popen([LOAD, "--ep", ep, "--quiet"] + [str(a) for a in args],
                         stdout=subprocess.PIPE, text=True)
    _children.append(p)
    return p


def wait_for(pred, timeout=15.0, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def truth_sums(paths):
    """The exact totals of several collector_load --truth files, per function
    (ncalls, pcalls, tottime_ns, cumtime_ns), rows at zero left out."""
    want = {}
    for t in paths:
        with open(t) as f:
            funcs = json.load(f)["functions"]
        for name, v in funcs.items():
            w = want.setdefault(name, {"ncalls": 0, "pcalls": 0, "tottime_ns": 0, "cumtime_ns": 0})
            for k in w:
                w[k] += v[k]
    return {k: v for k, v in want.items() if v["ncalls"] or v["tottime_ns"]}


def rows_by_name(reply):
    return {r["name"]: r for r in (reply.get("table") or {}).get("rows", [])}
