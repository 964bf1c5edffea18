"""clustertop's batch mode and command line, against a real node agent and
a real collector with hooked Python ranks under mpirun (idle after a fixed
number of steps, so that the numbers hold still): the text table and the
--json frames carry the numbers the endpoint answers when asked directly
(collector_query: the wire as it is), frames repeat with -n/-d, views and
tabs by name, ASCII without a UTF-8 locale; --help documents every
option; bad options, --json without -b, no terminal without -b and a
view that does not exist are clear errors (exit 2); no answer in batch
mode is exit 1."""
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from pycheck import check, finish  # noqa: E402
import tuitest as T  # noqa: E402


def close(x, y):
    """Two answers' times, a moment apart: the same but for the agents'
    refined cycles-to-seconds factor (parts per million, no new events)."""
    x, y = x or 0, y or 0
    return abs(x - y) <= max(abs(x), abs(y)) * 1e-4


def same_rows(got, want, exact, times):
    return all(got.get(k) == want.get(k) for k in exact) and \
        all(close(got.get(k), want.get(k)) for k in times)


def ct(*args, env=None, timeout=60):
    return subprocess.run([T.CLUSTERTOP, "--plaintext"] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=env)


# ---- the command line -----------------------------------------------------------------------
r = ct("--help")
check(r.returncode == 0, "--help: exit 0")
for word in ("--collector", "--agent", "--agent-dir", "--batch", "-b", "--iterations", "-n",
             "--delay", "-d", "--json", "--view", "--tab", "--window", "--threshold", "--filter",
             "--sort", "--rows", "--width", "--timeout", "--no-color", "--ascii", "--help",
             "--version", "KEYS", "EXIT STATUS", "ENVIRONMENT", "NO_COLOR", "EXAMPLES"):
    check(word in r.stdout, "--help documents %s" % word)
for args, what in ((["--bogus"], "unknown option"), (["-n"], "needs a value"),
                   (["-n", "x"], "not a whole number"), (["--json"], "batch mode"),
                   (["--sort", "nope"], "unknown column"), (["-d", "-1"], "number of seconds"),
                   (["--threshold", "200"], "percentage"), (["extra"], "unexpected argument"),
                   (["--agent", "tcp://x:1", "--collector", "tcp://y:2"], "choose one")):
    r = ct(*args)
    check(r.returncode == 2 and what in r.stderr, "%s: exit 2, '%s': %r" % (args, what, r.stderr))
r = ct()  # stdout is a pipe here
check(r.returncode == 2 and "not a terminal" in r.stderr and "-b" in r.stderr,
      "no terminal without -b: exit 2 telling to use -b: %r" % r.stderr)
port = T.free_port()
r = ct("-b", "-n", "1", "--collector", "tcp://127.0.0.1:%d" % port, "--timeout", "300")
check(r.returncode == 1 and "no answer" in r.stderr, "nothing there: exit 1: %r" % r.stderr)

with T.tmpdir() as d:
    try:
        # ---- one node agent, one hooked program (idle after 30 steps) -----------------------
        a = T.Agent(d, "solo")
        ready = os.path.join(d, "ready")
        p = T.run_prog(a.dir, ready, steps=30)
        check(T.wait_ready(ready, 1), "the program ran its steps")
        pid = p.pid
        # the agent drains on its own: wait until it has every step
        T.wait_for(lambda: any(r["name"] == "compute_step" and r["ncalls"] == 30
                               for r in (T.query(a.ep, "TOP", limit=100) or {})
                               .get("table", {}).get("rows", [])), 20)
        direct = T.query(a.ep, "TOP", limit=1000)
        rows = {r["std"]: r for r in direct["table"]["rows"]}
        names = ("compute_step", "leaf_work", "middle_step", "make_particles", "slow_rank_extra")
        mine = {r["name"]: r for r in direct["table"]["rows"] if r["name"] in names}
        check(len(mine) == 5 and mine["compute_step"]["ncalls"] == 30,
              "the direct answer has the program's functions")

        r = ct("-b", "-n", "1", "--json", "--agent", a.ep, "--rows", "1000")
        check(r.returncode == 0, "batch --json: exit 0 %r" % r.stderr)
        frames = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        check(len(frames) == 1 and frames[0]["source"] == "agent" and frames[0]["tab"] == "top",
              "one JSON document per frame")
        f = frames[0]
        check(f["SUMMARY"]["ok"] and f["SUMMARY"]["summary"]["ranks"] == 1, "SUMMARY in the frame")
        got = {x["std"]: x for x in f["TOP"]["table"]["rows"]}
        same = all(same_rows(got[s], rows[s], ("ncalls", "pcalls"), ("tottime_ns", "cumtime_ns"))
                   for s in rows if rows[s]["name"] in names)
        check(same, "--json: the same numbers as asking the agent directly")
        check(f["TOP"]["table"]["total_rows"] == direct["table"]["total_rows"], "same row count")

        r = ct("-b", "-n", "1", "--agent", a.ep, "-W", "220")
        out = r.stdout
        check(r.returncode == 0 and out.startswith("clustertop  agent %s" % a.ep),
              "text frame: the header")
        check("%d functions" % direct["table"]["total_rows"] in out, "text: the function count")
        for name in names:
            row = mine[name]
            line = [l for l in out.splitlines() if re.search(r"\s%s\s" % re.escape(name), l)]
            ok = bool(line)
            if ok:
                cols = line[0].split()
                i = cols.index(name)
                ok = (cols[i + 1] == str(row["ncalls"])
                      and abs(float(cols[i + 2]) - row["tottime_ns"] / 1e9) <= 0.0015
                      and abs(float(cols[i + 3]) - row["cumtime_ns"] / 1e9) <= 0.0015)
            check(ok, "text: %s's ncalls, tottime, cumtime as answered: %r" % (name, line))
        # the sort column and its order
        r = ct("-b", "-n", "1", "--agent", a.ep, "-W", "220", "--sort", "tottime")
        lines = r.stdout.splitlines()
        hdr = [l for l in lines if "TOTTIMEv" in l]
        tt = []
        if hdr:
            end = hdr[0].index("TOTTIMEv") + len("TOTTIMEv")
            for l in lines[lines.index(hdr[0]) + 1:]:
                v = l[end - 9:end].strip().rstrip("*!")
                if re.match(r"^\d+\.\d+$", v):
                    tt.append(float(v))
        check(len(tt) > 10 and tt == sorted(tt, reverse=True),
              "--sort tottime: the rows in decreasing own time %r" % tt[:12])
        check("TOTTIMEv" in r.stdout, "--sort tottime: the column marked")
        # three frames, 0.2 s apart
        r = ct("-b", "-n", "3", "-d", "0.2", "--agent", a.ep, "--rows", "3")
        check(r.stdout.count("clustertop  agent") == 3, "-n 3: three frames")
        r = ct("-b", "-n", "2", "-d", "0.2", "--json", "--agent", a.ep, "--rows", "3")
        fr = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        check([x["frame"] for x in fr] == [1, 2], "-n 2 --json: frames 1 and 2")
        # views and tabs by name
        r = ct("-b", "-n", "1", "--agent", a.ep, "--view", "rank:%d" % pid, "--tab", "threads")
        check("MainThread" in r.stdout and "waiter" in r.stdout and "idle_forever" in r.stdout,
              "--view rank:PID --tab threads: the live stacks %r" % r.stdout[-600:])
        r = ct("-b", "-n", "1", "--agent", a.ep, "--view", "function:compute_step")
        check("over 1 ranks" in r.stdout and "ncalls 30" in r.stdout,
              "--view function:NAME: the function's detail")
        # nova: a program with the object wedges on, its recent constructions
        p2 = T.run_prog(a.dir, os.path.join(d, "objready"), steps=5, objects=True)
        check(T.wait_ready(os.path.join(d, "objready"), 1), "the objects program ran")

        def recent():
            q = T.query(a.ep, "RECENT", scope="rank:%d" % p2.pid, limit=2000)
            return q if q and q.get("ok") and q.get("objects", {}).get("recent") else None
        rq = T.wait_for(recent, 20)
        r = ct("-b", "-n", "1", "--agent", a.ep, "--view", "rank:%d" % p2.pid, "--tab", "nova")
        n = len(rq["objects"]["recent"]) if rq else -1
        check("%d recent object constructions" % n in r.stdout and "builtins.int" in r.stdout,
              "nova: the recent constructions the agent answers, their types %r" % r.stdout)
        r = ct("-b", "-n", "1", "--agent", a.ep, "--view", "rank:%d" % p2.pid, "--tab", "objects")
        check("__main__.Particle" in r.stdout and "(bars: log scale)" in r.stdout,
              "objects: bars per type")
        p2.kill()
        p2.wait()
        r = ct("-b", "-n", "1", "--agent", a.ep, "--view", "rank:%d" % pid, "--tab", "frob")
        check(r.returncode == 2 and "threads" in r.stderr, "unknown tab: exit 2, the tabs listed")
        r = ct("-b", "-n", "1", "--agent", a.ep, "--view", "bogus")
        check(r.returncode == 2, "unknown view: exit 2")
        r = ct("-b", "-n", "1", "--agent-dir", a.dir, "--rows", "3")
        check(r.returncode == 0 and "agent ipc://%s/ulma-agent.ipc" % a.dir in r.stdout,
              "--agent-dir: the agent's ipc socket")
        env = dict(os.environ, LANG="C", LC_ALL="C")
        r = subprocess.run([T.CLUSTERTOP, "--plaintext", "-b", "-n", "1", "--agent", a.ep, "--view", "nodes"],
                           capture_output=True, env=env, timeout=60)
        check(r.returncode == 0 and all(b < 0x80 for b in r.stdout), "C locale: ASCII only")
        p.kill()
        p.wait()

        # ---- a collector, two agents, an mpirun job of 4 ranks ------------------------------
        c = T.Collector()
        a0 = T.Agent(d, "node0", collector=c.agents, listen=False)
        a1 = T.Agent(d, "node1", collector=c.agents, listen=False)
        ready = os.path.join(d, "mready")
        T.run_mpi([a0.dir, a1.dir], 4, ready, steps=25)
        check(T.wait_ready(ready, 4, 90), "the MPI ranks ran their steps")

        last = {}

        def settled():
            """compute_step done on every rank, and the rows compared below
            the same in two answers a report interval apart (a slow build's
            last reports may still be on their way)"""
            q = T.query(c.query_ep, "TOP", limit=1000)
            rows = (q or {}).get("table", {}).get("rows", [])
            mine = {r["std"]: r for r in rows if r["name"] in names}
            stable = mine == last.get("rows")
            last["rows"] = mine
            done = any(r["name"] == "compute_step" and r["ncalls"] == 100 for r in rows)
            if not (done and stable):
                time.sleep(1.0)
                return None
            return q
        direct = T.wait_for(settled, 60)
        check(direct is not None, "the collector holds the four ranks' steps")
        r = ct("-b", "-n", "1", "--json", "--collector", c.query_ep, "--rows", "1000")
        f = json.loads(r.stdout.splitlines()[0])
        got = {x["std"]: x for x in f["TOP"]["table"]["rows"]}
        want = {x["std"]: x for x in direct["table"]["rows"] if x["name"] in names}
        check(want and all(same_rows(got[s], want[s], ("ncalls", "slowest_rank", "nranks"),
                                     ("tottime_ns", "cumtime_ns", "max_ns", "min_ns"))
                           for s in want),
              "collector: --json has the numbers and spreads the collector answers")
        check(f["SUMMARY"]["summary"]["nodes_up"] == 2 and f["SUMMARY"]["summary"]["ranks"] == 4,
              "collector: 2 nodes up, 4 ranks")
        r = ct("-b", "-n", "1", "--collector", c.query_ep, "-W", "200")
        line = [l for l in r.stdout.splitlines() if " compute_step " in l]
        cs = want[[s for s in want if want[s]["name"] == "compute_step"][0]]
        imb = cs["max_ns"] / cs["mean_ns"]
        # the job runs on between the two questions: the figure may have moved a little
        shown = [float(w) for w in line[0].split() if re.fullmatch(r"\d+\.\d\d", w)] if line else []
        check(line and any(abs(x - imb) <= 0.03 for x in shown) and
              "r%d@" % cs["slowest_rank"] in line[0],
              "text: the imbalance column (max/mean, slowest rank) %r" % line)
        check("slow_rank_extra" in r.stdout and "r3@node1" in
              [l for l in r.stdout.splitlines() if "slow_rank_extra" in l][0],
              "text: the slow rank is rank 3 on node1")
        r = ct("-b", "-n", "1", "--collector", c.query_ep, "--view", "nodes")
        check("2 nodes, 2 up, 4 ranks" in r.stdout and "node0" in r.stdout and "node1" in r.stdout,
              "--view nodes: both nodes")
        r = ct("-b", "-n", "1", "--collector", c.query_ep, "--view", "node:node1")
        check("2 processes, 2 live" in r.stdout, "--view node:node1: its ranks")
        job = T.query(c.query_ep, "JOBS")["jobs"][0]["job"]
        r = ct("-b", "-n", "1", "--collector", c.query_ep, "--view", "job:%s" % job, "--tab",
               "ranks")
        check("cluster > job %s" % job in r.stdout and "4 processes, 4 live" in r.stdout,
              "--view job:ID --tab ranks: the job's four ranks")
        r = ct("-b", "-n", "1", "--collector", c.query_ep, "--view", "job:%s" % job, "--tab",
               "mpi")
        check("MPI_Barrier" in r.stdout and "time in MPI per rank" in r.stdout,
              "--view job:ID --tab mpi: MPI calls and each rank's time in MPI")
        r = ct("-b", "-n", "1", "--collector", c.query_ep, "--view", "imbalance", "--filter",
               "tui_prog")
        line = [l for l in r.stdout.splitlines() if l.startswith("slow_rank_extra ")]
        check("x 4 ranks" in r.stdout and line and "r3@node1" in line[0],
              "--view imbalance --filter: the program's functions x 4 ranks %r" % r.stdout)
        r = ct("-b", "-n", "1", "--collector", c.query_ep, "--view", "function:slow_rank_extra")
        check("over 4 ranks" in r.stdout and "slowest r3@node1" in r.stdout,
              "--view function: across the job's ranks, the slowest")
    finally:
        T.stop_all()
finish()
