"""Faults of a rank, seen end to end: a real node agent reporting to a
real collector, hooked programs (python3 -m ulma --no-agent) on its node.

  - Ring overflow with the agent stopped (SIGSTOP): the program finishes
    with its own output; its lost records are counted exactly: the records
    the agent read plus those it counts as lost equal the records of the
    same program run with a ring big enough (and nothing lost), and the
    same count is what the agent, the collector (RANKS, DROPS at rank,
    node and cluster scope), ulma-ctl --collector and clustertop's batch
    JSON say.
  - A rank killed with SIGKILL mid-run: the agent reports it exited and
    keeps its data, its segment is removed; the collector shows it exited,
    with its final numbers: its table at rank scope equals the agent's,
    exactly.
  - The agent killed (SIGKILL) between two reports while a rank works, and
    another started: what the dead one had read and not reported is
    counted lost (records_lost_handover, from the segment header's
    records_read - records_reported), the same at the collector, and the
    process writes its definitions again for the new agent (REDEFINE).
"""
import atexit
import decimal
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
from colltest import BUILD, Collector, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT = os.path.join(BUILD, "node-agent", "ulma-agent")
CTL = os.path.join(BUILD, "node-agent", "ulma-ctl")
TOP = os.path.join(BUILD, "dashboard-tui", "clustertop")
PYTHON = os.environ.get("ULMA_TEST_PYTHON", "/usr/bin/python3")
DROPS_PROG = os.path.join(HERE, "..", "hooks", "drops_prog.py")
D = decimal.Decimal

tmp = tempfile.mkdtemp(prefix="ulma-rank-faults-")
seg_dir = os.path.join(tmp, "node")
os.mkdir(seg_dir)
procs = []


@atexit.register
def _cleanup():
    for p in procs:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGCONT)
            except ProcessLookupError:
                pass
            p.kill()
            p.wait()
    shutil.rmtree(tmp, ignore_errors=True)


def env(**extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("ULMA_")}
    e.update(ULMA_DIR=seg_dir, PYTHONPATH=os.path.join(BUILD, "python"))
    e.update({k: str(v) for k, v in extra.items()})
    return e


c = Collector("--interval", "0.2", "--gone", "60")
agent = subprocess.Popen([AGENT, "--dir", seg_dir, "--node", "nodeF", "--plaintext",
                          "--collector", c.agents, "--report-interval", "0.2",
                          "--scan-ms", "50", "--keep", "300", "--quiet"])
procs.append(agent)


def ask(req):
    p = subprocess.run([CTL, "--dir", seg_dir, "--timeout", "5000", "raw", json.dumps(req)],
                       capture_output=True, text=True, timeout=30)
    r = json.loads(p.stdout, parse_float=D) if p.returncode == 0 else None
    return r if r and r.get("ok") else None


def agent_proc(pid):
    for x in (ask({"cmd": "list", "limit": 0}) or {}).get("processes", []):
        if x["pid"] == pid:
            return x
    return None


def collector_rank(pid):
    for x in (c.query("RANKS", scope="node:nodeF", limit=1000) or {}).get("ranks", []):
        if x.get("pid") == pid:
            return x
    return None


def ns(x):
    return int(D(x) * 1000000000)


check(wait_for(lambda: ask({"cmd": "list"}), timeout=10), "the agent answers")
check(wait_for(lambda: any(n["name"] == "nodeF" and n["state"] == "up"
                           for n in (c.query("NODES") or {}).get("nodes", [])), timeout=10),
      "the agent reports to the collector")


def run_drops(ring, stop_agent):
    if stop_agent:
        agent.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        p = subprocess.run([PYTHON, "-m", "ulma", "--no-agent", "--mode", "fast", DROPS_PROG],
                           env=env(ULMA_RING_SIZE=ring), capture_output=True, text=True,
                           timeout=60)
        wall = time.monotonic() - t0
    finally:
        if stop_agent:
            agent.send_signal(signal.SIGCONT)
    check(p.returncode == 0 and p.stdout == "done\n",
          "ring %d: the program finishes with its output (%r)" % (ring, p.stderr[-300:]))
    pid = None
    # the program's pid: the one process of the agent's that is new
    got = wait_for(lambda: [x for x in ask({"cmd": "list", "limit": 0})["processes"]
                            if x["pid"] not in seen and x["state"] == "exited"], timeout=15)
    if check(got and len(got) == 1, "ring %d: the agent has the ended program" % ring):
        pid = got[0]["pid"]
        seen.add(pid)
    return pid, wall


# ---- ring overflow with the agent stopped, end to end --------------------------------------
seen = set()
big, wall_big = run_drops(16 << 20, False)
small, wall_small = run_drops(4096, True)
if big and small:
    a_big, a_small = agent_proc(big), agent_proc(small)
    check(a_big["records_lost"] == 0, "big ring: nothing lost (%d)" % a_big["records_lost"])
    lost = a_small["records_lost"]
    check(lost > 0, "small ring, agent stopped: records lost (%d)" % lost)
    check(a_small["events"] + lost == a_big["events"],
          "read %d + lost %d == the records of the whole run %d"
          % (a_small["events"], lost, a_big["events"]))
    r = wait_for(lambda: (collector_rank(small) or {}).get("records_lost") == lost, timeout=10)
    check(r, "collector RANKS: the rank's records_lost is the agent's %d: %s"
          % (lost, collector_rank(small)))
    rank_drops = (c.query("DROPS", scope="rank:nodeF/%d" % small) or {}).get("drops", {})
    check(rank_drops.get("records_lost") == lost,
          "collector DROPS at rank scope: %s (want %d)" % (rank_drops, lost))
    for scope in ("node:nodeF", "cluster"):
        d = (c.query("DROPS", scope=scope) or {}).get("drops", {})
        check(d.get("records_lost") == lost, "collector DROPS at %s: %s (want %d)"
              % (scope, d, lost))
    p = subprocess.run([CTL, "--collector", c.query_ep, "--plaintext", "--json", "drops"],
                       capture_output=True, text=True, timeout=30)
    j = json.loads(p.stdout) if p.returncode == 0 else {}
    check(json.dumps(j).count('"records_lost": %d' % lost) >= 1,
          "ulma-ctl --collector drops says %d: %s" % (lost, p.stdout[:300]))
    p = subprocess.run([TOP, "--collector", c.query_ep, "--plaintext", "-b", "-n", "1", "--json"],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 0 and '"records_lost":%d' % lost in p.stdout.replace(" ", ""),
          "clustertop's batch JSON says %d lost: %s" % (lost, p.stdout[:300]))
    print("BENCH drops_lost_records %d" % lost)
    print("BENCH drops_wall_s_big_ring_agent_running %.3f" % wall_big)
    print("BENCH drops_wall_s_small_ring_agent_stopped %.3f" % wall_small)

# ---- a rank killed with SIGKILL mid-run ----------------------------------------------------
prog = os.path.join(tmp, "loop.py")
with open(prog, "w") as f:
    f.write("import time\n\ndef leaf(i):\n    return i + 1\n\n"
            "end = time.monotonic() + 120\nwhile time.monotonic() < end:\n"
            "    for i in range(2000):\n        leaf(i)\n    time.sleep(0.005)\n")
p = subprocess.Popen([PYTHON, "-m", "ulma", "--no-agent", prog], env=env())
procs.append(p)
live = wait_for(lambda: (collector_rank(p.pid) or {}).get("state") == "live" and
                (collector_rank(p.pid) or {}).get("events", 0) > 10000, timeout=20)
check(live, "the running rank is live at the collector: %s" % collector_rank(p.pid))
p.kill()
p.wait()
ended = wait_for(lambda: (agent_proc(p.pid) or {}).get("state") == "exited", timeout=10)
check(ended, "the agent reports the killed rank exited: %s" % agent_proc(p.pid))
check(wait_for(lambda: not [n for n in os.listdir(seg_dir) if str(p.pid) in n], timeout=10),
      "the killed rank's segment is removed: %s" % os.listdir(seg_dir))
check(wait_for(lambda: (collector_rank(p.pid) or {}).get("state") == "exited", timeout=10),
      "the collector shows the killed rank exited: %s" % collector_rank(p.pid))


def agent_table(pid):
    r = ask({"cmd": "top", "pid": pid, "limit": 0})
    return {x["std"]: (int(x["ncalls"]), int(x["pcalls"]), ns(x["tottime"]), ns(x["cumtime"]))
            for x in r["rows"]} if r else None


def collector_table(pid):
    r = c.query("TOP", scope="rank:nodeF/%d" % pid, limit=100000)
    return {x["std"]: (x.get("ncalls", 0), x.get("pcalls", 0), x.get("tottime_ns", 0),
                       x.get("cumtime_ns", 0)) for x in (r or {}).get("table", {}).get("rows", [])
            if any((x.get("ncalls", 0), x.get("tottime_ns", 0), x.get("cumtime_ns", 0)))}


mine = agent_table(p.pid)
mine = {k: v for k, v in (mine or {}).items() if any(v)}
check(any(k.endswith("(leaf)") and v[0] > 0 for k, v in mine.items()),
      "the agent kept the killed rank's numbers: %s" % list(mine)[:5])
same = wait_for(lambda: collector_table(p.pid) == mine, timeout=10)
if not check(same, "the collector's table of the killed rank is its agent's final one"):
    theirs = collector_table(p.pid)
    print("differ:", sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))[:5])

# ---- the agent killed (SIGKILL) between two reports while a rank works ---------------------
# What it had read since its last report is nobody's any more: the agent
# that takes over counts it lost (read - reported, from the segment's
# header), so that for a deterministic program the collector's records
# plus its lost records are the whole run's, exactly.
steady = os.path.join(tmp, "steady.py")
with open(steady, "w") as f:
    f.write("import time\n\ndef leaf(i):\n    return i + 1\n\n"
            "for step in range(200):\n    for i in range(1000):\n        leaf(i)\n"
            "    time.sleep(0.05)\nprint('steady done')\n")


def start_agent(interval):
    a = subprocess.Popen([AGENT, "--dir", seg_dir, "--node", "nodeF", "--plaintext",
                          "--collector", c.agents, "--report-interval", str(interval),
                          "--scan-ms", "50", "--keep", "300", "--quiet"])
    procs.append(a)
    check(wait_for(lambda: ask({"cmd": "list"}), timeout=10), "an agent answers")
    return a


def run_steady():
    p = subprocess.Popen([PYTHON, "-m", "ulma", "--no-agent", steady], env=env(),
                         stdout=subprocess.PIPE, text=True)
    procs.append(p)
    return p


ref = run_steady()
check(ref.communicate(timeout=60)[0] == "steady done\n", "the reference run ends well")
check(wait_for(lambda: (agent_proc(ref.pid) or {}).get("state") == "exited", timeout=10),
      "the reference run is harvested")
e_ref = agent_proc(ref.pid)["events"]

agent.send_signal(signal.SIGTERM)
agent.wait()
agent = start_agent(2.0)  # long between reports: much is read and not yet reported
run = run_steady()
check(wait_for(lambda: (agent_proc(run.pid) or {}).get("events", 0) > 2000, timeout=20),
      "the rank runs under the first agent")
check(wait_for(lambda: (collector_rank(run.pid) or {}).get("events", 0) > 0, timeout=10),
      "a first report reached the collector")
time.sleep(1.2)  # between two reports
before = agent_proc(run.pid)["events"]
agent.kill()
agent.wait()
agent = start_agent(0.2)
out = run.communicate(timeout=60)[0]
check(out == "steady done\n", "the rank ran on through the agent's death: %r" % out)
if not check(wait_for(lambda: (agent_proc(run.pid) or {}).get("state") == "exited", timeout=10),
             "the new agent harvested the rank"):
    print("list:", ask({"cmd": "list", "limit": 0}), os.listdir(seg_dir))
mine = agent_proc(run.pid)
handover = mine.get("records_lost_handover", 0)
check(0 < handover <= before, "the new agent counts what the dead one read and never "
      "reported: %d lost (the dead one had read %d)" % (handover, before))
check(mine["records_lost"] == handover, "no other loss: %s" % mine)
time.sleep(1)  # the last reports
rk = collector_rank(run.pid) or {}
check(rk.get("records_lost") == handover,
      "the collector shows the same loss for the rank: %s (want %d)" % (rk, handover))
names = [k for k in (agent_table(run.pid) or {}) if k.endswith("(leaf)")]
check(names, "the process wrote its definitions again for the new agent (leaf named): %s"
      % list(agent_table(run.pid) or {}))
print("BENCH agent_killed_records_lost %d of %d" % (handover, e_ref))

c.stop()
finish()
