"""ulma-collector with real node agents: two `ulma-agent --collector`
(directories d0, d1, nodes n0, n1) and four hooked mpi4py ranks under
mpirun (`python3 -m ulma --no-agent`, even ranks in d0, odd ones in d1),
one collector. Against the agents' own tables (their JSON `top`, times
exact decimal seconds of integer nanoseconds) it checks, exactly:

  - the collector's cluster totals (ncalls, pcalls, tottime, cumtime, per
    function) equal the sum of the agents' tables, and a rank's table (TOP
    at rank scope) its agent's table, while the job is quiet and after it
    ended;
  - the imbalance figures (FUNCTION at job scope: min, max, mean, std,
    slowest rank; TOP at job scope: every row's spread) equal those
    computed from the per-rank tables;
  - control from the collector (CONTROL at rank scope, mode off for one
    rank on n1 while the job runs) reaches that rank and is acknowledged;
    the rank's active mode changes (RANKS and the agent's list), it records
    nothing while off, and it is switched on again the same way;
  - the collector killed (SIGKILL) and restarted: its totals are right
    again within one snapshot interval (plus reconnection);
  - n0's agent killed (SIGKILL) and restarted while the ranks run: the
    totals are exactly what they were (nothing lost, nothing counted
    twice); then, while the ranks work on, every sample of the cluster's
    totals is monotonic and never above the final sums, and after the end
    they equal them: the old agent's last numbers plus the new agent's.

Usage: test_agents.py [MPIEXEC]
"""
import atexit
import decimal
import faulthandler
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pycheck import check, finish  # noqa: E402
from colltest import BUILD, Collector, fixed_port, wait_for  # noqa: E402

faulthandler.dump_traceback_later(150, exit=True)
HERE = os.path.dirname(os.path.abspath(__file__))
AGENT = os.path.join(BUILD, "node-agent", "ulma-agent")
CTL = os.path.join(BUILD, "node-agent", "ulma-ctl")
PYTHON = os.environ.get("ULMA_TEST_PYTHON", "/usr/bin/python3")
MPIEXEC = sys.argv[1] if len(sys.argv) > 1 else "mpirun"
REPORT_S, SNAPSHOT_EVERY = 0.2, 5
SNAPSHOT_S = REPORT_S * SNAPSHOT_EVERY
D = decimal.Decimal
KEYS = ("ncalls", "pcalls", "tottime_ns", "cumtime_ns")
T0 = time.time()

tmp = tempfile.mkdtemp(prefix="ulma-coll-agents-")
dirs = [os.path.join(tmp, "d0"), os.path.join(tmp, "d1")]
ctl = os.path.join(tmp, "ctl")
for d in dirs + [ctl]:
    os.mkdir(d)
agents_ep = "tcp://127.0.0.1:%d" % fixed_port()
query_ep = "tcp://127.0.0.1:%d" % fixed_port()
procs = []  # everything started, killed if a check fails on the way


@atexit.register
def _cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(tmp, ignore_errors=True)


def log(msg):
    print("[%5.1f s] %s" % (time.time() - T0, msg), flush=True)


def ns(x):
    """Exact nanoseconds from the agent's exact decimal seconds."""
    v = D(x) * 1000000000
    assert v == v.to_integral_value(), x
    return int(v)


class Agent:
    def __init__(self, i):
        self.dir, self.node = dirs[i], "n%d" % i
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [AGENT, "--dir", self.dir, "--node", self.node, "--plaintext", "--collector", agents_ep,
             "--report-interval", str(REPORT_S), "--snapshot-every", str(SNAPSHOT_EVERY),
             "--scan-ms", "50", "--keep", "300", "--quiet"])
        procs.append(self.proc)
        check(wait_for(lambda: self.ask({"cmd": "list"}, timeout=500), timeout=10),
              "agent %s answers" % self.node)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def ask(self, req, timeout=5000):
        p = subprocess.run([CTL, "--dir", self.dir, "--timeout", str(timeout), "raw",
                            json.dumps(req)], capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            return None
        r = json.loads(p.stdout, parse_float=D)
        return r if r.get("ok") else None

    def list(self):
        return self.ask({"cmd": "list", "limit": 0})["processes"]

    def table(self, pid):
        """pid's rows: std -> (ncalls, pcalls, tottime_ns, cumtime_ns)."""
        r = self.ask({"cmd": "top", "pid": pid, "limit": 0})
        return {x["std"]: (int(x["ncalls"]), int(x["pcalls"]), ns(x["tottime"]), ns(x["cumtime"]))
                for x in r["rows"]} if r else None


def add(*tables):
    """Tables summed row by row (rows at zero left out)."""
    out = {}
    for t in tables:
        for k, v in t.items():
            o = out.get(k, (0, 0, 0, 0))
            out[k] = tuple(a + b for a, b in zip(o, v))
    return {k: v for k, v in out.items() if any(v)}


def rows_of(reply):
    if not reply or not reply.get("ok"):
        return None
    return {r["std"]: tuple(r.get(k, 0) for k in KEYS)
            for r in (reply.get("table") or {}).get("rows", [])}


def coll_table(scope="cluster"):
    t = rows_of(c.query("TOP", scope=scope, limit=100000, timeout_ms=10000))
    return None if t is None else {k: v for k, v in t.items() if any(v)}


def diff(got, want):
    """The rows that differ, a few, for messages."""
    if got is None:
        return ["no answer"]
    keys = sorted(set(got) | set(want))
    return [(k, got.get(k), want.get(k)) for k in keys if got.get(k) != want.get(k)][:3]


def rank_pids():
    """rank -> (agent index, pid), from the agents."""
    out = {}
    for i, a in enumerate(agents):
        for p in a.list():
            if p.get("rank", -1) >= 0:
                out[p["rank"]] = (i, p["pid"])
    return out


def rank_tables():
    return {r: agents[i].table(pid) for r, (i, pid) in ranks.items()}


def spread(values):
    """min, max, mean, std (population), slowest rank (ties: the lowest) of
    {rank: cumtime}, exactly (fractions), the mean and std as floats."""
    from fractions import Fraction
    vs = [values[r] for r in sorted(values)]
    n = len(vs)
    mean = Fraction(sum(vs), n)
    var = sum((Fraction(v) - mean) ** 2 for v in vs) / n
    slow = min(sorted(values), key=lambda r: (-values[r], r))
    return min(vs), max(vs), float(mean), float(var) ** 0.5, slow


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def check_exact(what, truth_by_rank, retry=6.0):
    """The collector's cluster table and every rank's table equal the
    truth (per rank tables); waits for it for at most `retry` s."""
    want = add(*truth_by_rank.values())
    got = wait_for(lambda: (lambda t: t if t == want else None)(coll_table()), timeout=retry)
    check(got == want, "%s: the cluster's totals equal the sum of the agents' tables, exactly "
          "(%d functions) %s" % (what, len(want), "" if got else diff(coll_table(), want)))
    bad = []
    for r, (i, pid) in sorted(ranks.items()):
        t = coll_table("rank:%s/%d" % (agents[i].node, pid))
        w = {k: v for k, v in truth_by_rank[r].items() if any(v)}
        if t != w:
            bad.append((r, diff(t, w)))
    check(not bad, "%s: each rank's table (TOP at rank scope) equals its agent's table %s"
          % (what, bad))
    return want


def check_imbalance(what, truth_by_rank, retry=4.0):
    """FUNCTION (fib) and every TOP row's spread at job scope equal the
    figures computed from the per-rank tables."""
    fib = [k for k in add(*truth_by_rank.values()) if k.endswith("(fib)")][0]

    def cum(fn):
        return {r: t.get(fn, (0, 0, 0, 0))[3] for r, t in truth_by_rank.items()}

    def function_ok():
        f = c.query("FUNCTION", scope="job:" + job, func=fib, limit=100)
        if not f or not f.get("ok"):
            return None
        row = f["function"]["row"]
        mn, mx, mean, std, slow = spread(cum(fib))
        per = {x.get("rank", 0): x.get("cumtime_ns", 0) for x in f["function"]["ranks"]}
        ok = (row.get("nranks") == 4 and row.get("min_ns", 0) == mn and row.get("max_ns", 0) == mx
              and close(row.get("mean_ns", 0), mean) and close(row.get("std_ns", 0), std)
              and row.get("slowest_rank", 0) == slow and per == cum(fib)
              and row.get("slowest_node") == agents[ranks[slow][0]].node
              and row.get("slowest_pid") == ranks[slow][1])
        flast[:] = [row, per]
        return (row, per) if ok else None

    flast = []
    got = wait_for(function_ok, timeout=retry)
    check(got, "%s: FUNCTION %s at job scope: min, max, mean, std, slowest rank and each rank's "
          "value equal the per-rank tables' (%s vs %s, %s)" % (what, fib, got or flast,
                                                               spread(cum(fib)), cum(fib)))

    def top_ok():
        r = c.query("TOP", scope="job:" + job, limit=100000)
        if not r or not r.get("ok"):
            return None
        bad = []
        for row in r["table"]["rows"]:
            mn, mx, mean, std, slow = spread(cum(row["std"]))
            if not (row.get("nranks") == 4 and row.get("min_ns", 0) == mn and
                    row.get("max_ns", 0) == mx and close(row.get("mean_ns", 0), mean) and
                    close(row.get("std_ns", 0), std) and row.get("slowest_rank", 0) == slow):
                bad.append((row["std"], [row.get(k) for k in ("nranks", "min_ns", "max_ns",
                            "mean_ns", "std_ns", "slowest_rank")], (mn, mx, mean, std, slow)))
        last[:] = bad[:3]
        return (len(r["table"]["rows"]), bad) if not bad else None

    last = []
    got = wait_for(top_ok, timeout=retry)
    check(got, "%s: every row of the job's TOP carries the spread the per-rank tables give (%s)"
          % (what, got or last))


def quiet(tables_fn, settle=0.6, timeout=10.0):
    """The agents' tables once they stop changing (the ranks are idle)."""
    last, end = None, time.time() + timeout
    while time.time() < end:
        t = tables_fn()
        if t == last and all(v is not None for v in t.values()):
            return t
        last = t
        time.sleep(settle)
    return last


# ---- the cluster --------------------------------------------------------------------------
c = Collector("--interval", str(REPORT_S), "--gone", "30", "--keep", "300", agents=agents_ep,
              query=query_ep)
procs.append(c.proc)
agents = [Agent(0), Agent(1)]
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           PYTHONPATH=os.path.join(BUILD, "python"))
rank_cmd = ("ULMA_DIR=%s/d$((OMPI_COMM_WORLD_RANK %% 2)) exec %s -m ulma --no-agent %s %s"
            % (tmp, PYTHON, os.path.join(HERE, "agents_prog.py"), ctl))
mpi = [MPIEXEC, "-np", "4", "--oversubscribe", "--mca", "btl", "self,vader", "-x", "PYTHONPATH"]
if "LD_PRELOAD" in env:  # a sanitizer runtime, kept for the ranks
    mpi += ["-x", "LD_PRELOAD", "-x", "ASAN_OPTIONS"]
job_proc = subprocess.Popen(mpi + ["sh", "-c", rank_cmd], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
procs.append(job_proc)

ranks = wait_for(lambda: (lambda r: r if len(r) == 4 else None)(rank_pids()), timeout=30) or {}
check(sorted(ranks) == [0, 1, 2, 3] and all(ranks[r][0] == r % 2 for r in ranks),
      "four ranks, even ones on n0, odd ones on n1: %s" % ranks)
if len(ranks) != 4:
    finish()
def whole_job():
    """The JOBS answer once both nodes' reports of the job are in."""
    j = (c.query("JOBS") or {}).get("jobs") or []
    return j if len(j) == 1 and j[0].get("ranks") == 4 and j[0].get("nodes") == 2 else None


jobs = wait_for(whole_job, timeout=10) or (c.query("JOBS") or {}).get("jobs") or []
job = jobs[0]["job"] if jobs else ""
check(len(jobs) == 1 and jobs[0].get("ranks") == 4 and jobs[0].get("nodes") == 2,
      "the collector holds one job of 4 ranks on 2 nodes: %s" % jobs)
job_started = time.time()
log("job %s running, ranks %s" % (job, ranks))

# ---- control from the collector while the job runs ------------------------------------------
node1, pid1 = agents[1].node, ranks[1][1]


def modes():
    got = {}
    for x in (c.query("RANKS", scope="node:" + node1) or {}).get("ranks", []):
        got[x["pid"]] = x.get("mode")
    return got


def agent_mode(pid):
    return next((p["mode"] for p in agents[1].list() if p["pid"] == pid), None)


def calls_of(pid):
    return next((p["events"] for p in agents[1].list() if p["pid"] == pid), None)


time.sleep(0.8)
r = c.query("CONTROL", scope="rank:%s/%d" % (node1, pid1), mode=0, wait_ms=3000)
ca = (r or {}).get("control", {})
check(r and r.get("ok") and ca.get("nodes") == 1 and ca.get("nodes_answered") == 1 and
      ca.get("requested") == 1 and ca.get("applied") == 1 and not ca.get("timed_out") and
      ca["targets"][0].get("pid") == pid1 and ca["targets"][0].get("node") == node1 and
      ca["targets"][0].get("mode") == "off",
      "CONTROL mode off at rank scope (n1, rank 1) reaches the rank and is acknowledged: %s" % r)
check(wait_for(lambda: modes().get(pid1) == "off" and agent_mode(pid1) == "off", timeout=5),
      "the rank's active mode is off (RANKS from the collector, and the agent's list): %s %s"
      % (modes(), agent_mode(pid1)))
other = ranks[3][1]
e0, o0 = calls_of(pid1), calls_of(other)
time.sleep(0.6)
e1, o1 = calls_of(pid1), calls_of(other)
check(e0 == e1 and o1 > o0, "switched off, the rank records nothing (events %s -> %s) while "
      "rank 3 does (%s -> %s)" % (e0, e1, o0, o1))
r = c.query("CONTROL", scope="rank:%s/%d" % (node1, pid1), mode=1, wait_ms=3000)
ca = (r or {}).get("control", {})
check(r and r.get("ok") and ca.get("applied") == 1 and ca["targets"][0].get("mode") == "fast",
      "CONTROL mode fast at rank scope: acknowledged %s" % r)
check(wait_for(lambda: modes().get(pid1) == "fast" and agent_mode(pid1) == "fast", timeout=5),
      "the rank is profiled again (fast): %s" % modes())
check(all(m == "fast" for p, m in modes().items() if p != pid1),
      "the other rank of n1 was never touched: %s" % modes())
time.sleep(0.5)

# ---- a quiet job: exact equality, the collector restarted -----------------------------------
# a rank's clock rate is refined for its first 8 s (ULMA_CALIB_REFINE_NS), then fixed: the
# quiet tables, compared again later, are taken after that
while time.time() - job_started < 9.0:
    time.sleep(0.1)
open(os.path.join(ctl, "quiet1"), "w").close()
check(wait_for(lambda: all(os.path.exists(os.path.join(ctl, "idle1.%d" % r)) for r in range(4)),
               timeout=20), "the ranks went quiet")
t1 = quiet(rank_tables)
log("quiet: %d functions" % len(add(*t1.values())))
check_exact("quiet job", t1)
check_imbalance("quiet job", t1)

c.kill()
t_kill = time.time()
c = Collector("--interval", str(REPORT_S), "--gone", "30", "--keep", "300", agents=agents_ep,
              query=query_ep)
procs.append(c.proc)
t_up = time.time()
want1 = add(*t1.values())
back = wait_for(lambda: coll_table() == want1, timeout=10, step=0.05)
t_back = time.time()
log("collector restarted: up %.2f s after the kill, totals right %.2f s later"
    % (t_up - t_kill, t_back - t_up))
check(back and t_back - t_up <= SNAPSHOT_S + 1.5,
      "a restarted collector has the exact totals again within one snapshot interval (%.1f s) "
      "plus reconnection: %.2f s" % (SNAPSHOT_S, t_back - t_up))
check_exact("restarted collector", t1)

# ---- n0's agent killed and restarted while the ranks run --------------------------------------
old0 = {r: t1[r] for r in ranks if ranks[r][0] == 0}
agents[0].kill()
agents[0].start()


def restarts():
    s = c.query("SNAPSHOT", timeout_ms=10000)
    return json.loads(s["json"])["collector"]["restarts"] if s and s.get("ok") else -1


check(wait_for(lambda: restarts() == 1, timeout=10), "the collector saw n0's new agent (a restart)")
check(wait_for(lambda: sorted(p["pid"] for p in agents[0].list()) ==
               sorted(ranks[r][1] for r in old0), timeout=10),
      "the new agent took over n0's ranks")
t_new0 = quiet(lambda: {r: agents[0].table(ranks[r][1]) for r in old0})
check(all(not add(t) for t in t_new0.values()),
      "the new agent has counted nothing of the quiet ranks yet: %s" % t_new0)
check_exact("n0's agent restarted", t1)

# ---- phase 2: monotonic, never above the final sums ---------------------------------------------
open(os.path.join(ctl, "go2"), "w").close()
samples = []
t_start = time.time()
# 2.5 s of samples, and at least 8 of them however loaded the machine is
while (time.time() < t_start + 2.5 or len(samples) < 8) and time.time() < t_start + 60:
    t = coll_table()
    if t is not None:
        samples.append(t)
    time.sleep(0.1)
open(os.path.join(ctl, "end"), "w").close()
try:
    out, err = job_proc.communicate(timeout=60)
except subprocess.TimeoutExpired:
    job_proc.kill()
    out, err = job_proc.communicate()
check(job_proc.returncode == 0, "mpirun exit status 0 (%s: %s)" % (job_proc.returncode, err[-1500:]))
final_new = quiet(rank_tables)
truth = {r: add(old0[r], final_new[r]) if r in old0 else final_new[r] for r in ranks}
want = check_exact("after the end", truth)
check_imbalance("after the end", truth)
mono, above = [], []
for a, b in zip(samples, samples[1:]):
    for k, v in a.items():
        w = b.get(k, (0, 0, 0, 0))
        if w[0] < v[0] or w[1] < v[1]:
            mono.append((k, v, w))
for s in samples:
    for k, v in s.items():
        f = want.get(k, (0, 0, 0, 0))
        if v[0] > f[0] or v[1] > f[1] or v[3] > f[3]:
            above.append((k, v, f))
grow = [sum(v[0] for v in s.values()) for s in samples]
check(len(samples) >= 8 and grow[-1] > grow[0],
      "the totals were sampled while the ranks worked (%d samples, calls %s -> %s)"
      % (len(samples), grow[0] if grow else None, grow[-1] if grow else None))
check(not mono, "every function's calls and primitive calls only grew, sample after sample %s"
      % mono[:3])
check(not above, "no sample was ever above the final sums (nothing counted twice) %s" % above[:3])
s = json.loads(c.query("SNAPSHOT")["json"])["collector"]
check(s.get("bad_messages", 0) == 0, "no message refused: %s" % s)
log("done: %d functions, %d samples" % (len(want), len(samples)))
for a in agents:
    a.proc.send_signal(signal.SIGTERM)
    a.proc.wait(timeout=20)
check(c.stop() == 0, "the collector exits 0")
finish()
