"""clustertop as a person uses it, in tmux (send-keys, capture-pane),
against a real collector with two node agents (node0, node1) and an
mpirun job of four hooked Python ranks, then against one agent alone
(--agent):
  - the header and the cluster table show the nodes, ranks and functions
    the collector holds; the imbalance column names the slow rank;
  - sort keys and the filter change the table; a narrow terminal drops
    columns; NO_COLOR leaves no colour on the screen;
  - drill-down: a function across its ranks, the nodes, a node's ranks,
    a rank, its threads' live stacks, one thread, back out with Esc;
  - p switches a rank off (confirmed, the acknowledgement shown, the list
    shows it, and the process's active mode really is off per its agent)
    and back to fast, through the collector and through an agent; with
    the object wedges on, its objects as bars and its recent constructions
    (nova);
  - a killed collector is reported (the last data stays) and, restarted on
    the same endpoints, answered again; q quits.
TUI_CAPTURE_DIR=DIR keeps each screen checked as DIR/NAME.txt."""
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

CAPTURE = os.environ.get("TUI_CAPTURE_DIR")


def keep(name, screen):
    if CAPTURE:
        os.makedirs(CAPTURE, exist_ok=True)
        with open(os.path.join(CAPTURE, name + ".txt"), "w") as f:
            f.write(screen)


def table_rows(screen):
    """The function table's rows: the lines after the column titles."""
    lines = screen.splitlines()
    for i, l in enumerate(lines):
        if "FUNCTION" in l and "NCALLS" in l:
            return [x for x in lines[i + 1:-1] if x.strip()]
    return []


def toggle(tm, agent, pid, label, tag):
    """p on the selected rank: off (confirmed), acknowledged, shown, and
    really applied per the rank's agent; then back to fast. The answer
    says applied by 1 of 1; on a machine so loaded that the process did
    not apply it within the wait, it says that it timed out (shown too),
    and the mode must still change."""
    tm.keys("p")
    see(tm, tag + "control_menu", lambda s: "profiling of %s: o off" % label in s,
        "p: the profiling menu for the selected rank (%s)" % label)
    tm.keys("o")
    see(tm, tag + "control_confirm", lambda s: "to off? (y/n)" in s, "a confirmation is asked")
    tm.keys("y")
    ack = r"-> %s: applied by (1 of 1|0 of 1 process.*\(timed out\))"
    see(tm, tag + "control_off", lambda s: re.search(ack % "off", s) is not None,
        "the acknowledgement shown", 30)
    see(tm, tag + "rank_off", lambda s: any(str(pid) in l and " off " in l
                                            for l in s.splitlines()),
        "the ranks list shows the rank off")
    check(T.wait_for(lambda: agent.modes().get(pid) == "off", 10),
          "the process's active mode is off (its agent says)")
    tm.keys("p", "f", "y")
    see(tm, tag + "control_fast", lambda s: re.search(ack % "fast", s) is not None,
        "back to fast, acknowledged", 30)
    check(T.wait_for(lambda: agent.modes().get(pid) == "fast", 10),
          "the process's active mode is fast again")


def see(t, name, pred, what, timeout=20):
    s = t.wait(pred, timeout)
    ok = pred(s)
    check(ok, "%s%s" % (what, "" if ok else ":\n" + s))
    keep(name, s)
    return s


with T.tmpdir() as d:
    tm = None
    try:
        c = T.Collector()
        a0 = T.Agent(d, "node0", collector=c.agents)
        a1 = T.Agent(d, "node1", collector=c.agents)
        ready = os.path.join(d, "ready")
        stop = os.path.join(d, "stop")
        open(stop, "w").close()
        T.run_mpi([a0.dir, a1.dir], 4, ready, stop=stop)
        check(T.wait_ready(ready, 4, 90), "the four ranks run")
        T.wait_for(lambda: (T.query(c.query_ep, "SUMMARY") or {}).get("summary", {})
                   .get("ranks") == 4, 20)
        ranks = T.query(c.query_ep, "RANKS", scope="node:node1")["ranks"]
        r1 = [r for r in ranks if r.get("rank", 0) == 1][0]
        pid1 = r1["pid"]
        pid3 = [r for r in ranks if r.get("rank", 0) == 3][0]["pid"]

        tm = T.Tmux("%s --plaintext --collector %s -d 0.5" % (T.CLUSTERTOP, c.query_ep), 160, 45)
        see(tm, "cluster_top", lambda s: "nodes 2 up" in s and "ranks 4" in s
            and " compute_step " in s and "slow_rank_extra" in s,
            "the cluster table: 2 nodes, 4 ranks, the program's functions")
        s = tm.screen()
        line = [l for l in s.splitlines() if " slow_rank_extra " in l]
        check(line and "r3@node1" in line[0], "the imbalance column: rank 3 on node1 is slowest")
        esc = subprocess.run(["tmux", "-L", tm.sock, "capture-pane", "-e", "-p", "-t", tm.name],
                             capture_output=True, text=True).stdout
        check(re.search(r"\x1b\[[0-9;]*3[0-7]m|\x1b\[[0-9;]*38;5", esc) is not None,
              "colours on a colour terminal")

        # sort and filter
        tm.keys("<")
        see(tm, "sort_tottime", lambda s: "TOTTIMEv" in s, "< : sorted by TOTTIME")
        tm.keys(">")
        see(tm, "sort_cumtime", lambda s: "CUMTIMEv" in s, "> : back to CUMTIME")
        tm.keys("/")
        see(tm, "filter_prompt", lambda s: "filter (part of a function's name):" in s,
            "/ opens the filter prompt")
        tm.text("leaf")
        tm.keys("Enter")
        s = see(tm, "filter_leaf", lambda s: "filter 'leaf'" in s and
                all("leaf" in r for r in table_rows(s)) and " leaf_work " in s,
                "the filter: only leaf_work")
        tm.keys("/", "C-u", "Enter")
        see(tm, "filter_off", lambda s: "filter '" not in s and " compute_step " in s,
            "the filter cleared")
        # narrow
        subprocess.run(["tmux", "-L", tm.sock, "resize-window", "-t", tm.name, "-x", "72", "-y",
                        "30"], check=True)
        see(tm, "narrow", lambda s: any("FUNCTION" in l and "CUMTIME" in l and "FILE:LINE"
                                        not in l for l in s.splitlines())
            and max(len(l) for l in s.splitlines()) <= 72,
            "72 columns: FILE:LINE and other columns dropped, CUMTIME kept")
        subprocess.run(["tmux", "-L", tm.sock, "resize-window", "-t", tm.name, "-x", "160", "-y",
                        "45"], check=True)
        see(tm, "wide", lambda s: "FILE:LINE" in s, "160 columns again: every column")

        # imbalance
        tm.keys("4")
        see(tm, "imbalance", lambda s: "x 4 ranks" in s and "slow_rank_extra" in s,
            "the imbalance heat map: functions x 4 ranks")
        # a function across its ranks
        tm.keys("1")
        tm.wait(lambda s: "[1 Top]" in s)
        tm.keys("/")
        tm.text("slow_rank")
        tm.keys("Enter")
        tm.wait(lambda s: "filter 'slow_rank'" in s and " slow_rank_extra " in s)
        tm.keys("Enter")
        see(tm, "function", lambda s: "cluster > function slow_rank_extra" in s
            and "over 4 ranks" in s and "slowest r3@node1" in s,
            "Enter: slow_rank_extra across the 4 ranks, the slowest named")
        tm.keys("Tab")
        see(tm, "callers", lambda s: "called by (callers):" in s and "compute_step" in s,
            "its callers")
        tm.keys("Escape")
        tm.keys("/", "C-u", "Enter")
        see(tm, "back_top", lambda s: "[1 Top]" in s and "function" not in s.splitlines()[2],
            "Esc: back to the cluster table")

        # nodes, node1, its ranks
        tm.keys("2")
        see(tm, "nodes", lambda s: "2 nodes, 2 up, 4 ranks" in s and "node0" in s
            and "node1" in s, "the nodes")
        tm.keys("Down", "Enter")
        s = see(tm, "node1", lambda s: "cluster > node node1" in s and "2 processes" in s
                and str(pid1) in s, "node1: its two ranks")
        # a rank, its threads, one thread, back out
        tm.keys("Down", "Enter")
        see(tm, "rank", lambda s: "> rank 3 (node1 pid %d)" % pid3 in s and " compute_step " in s
            and " slow_rank_extra " in s, "Enter: the rank's own table")
        tm.keys("2")
        see(tm, "threads", lambda s: "thread " in s and "MainThread" in s and "waiter" in s
            and "background_waiter" in s, "its threads and their live stacks")
        tm.keys("Enter")
        see(tm, "thread", lambda s: "one thread: Esc for all" in s, "Enter: one thread")
        tm.keys("Escape")
        see(tm, "threads_again", lambda s: "Enter: one thread's whole stack" in s,
            "Esc: all threads")
        tm.keys("3")
        see(tm, "objects", lambda s: "[3 Objects]" in s and "objects" in s.lower(),
            "the objects tab")
        tm.keys("4")
        see(tm, "mpi", lambda s: "MPI_Barrier" in s and "MPI calls" in s,
            "its MPI calls")
        tm.keys("5")
        see(tm, "nova", lambda s: "[5 Nova]" in s, "the nova tab")
        # export the rank's profile as pstats (forwarded to its agent)
        out = os.path.join(d, "rank3.pstats")
        tm.keys("e")
        see(tm, "export_menu", lambda s: "export rank 3 (node1 pid %d) as: p pstats" % pid3 in s,
            "e: the export menu")
        tm.keys("p", "C-u")
        tm.text(out)
        tm.keys("Enter")
        see(tm, "export_done", lambda s: "(pstats of rank 3 (node1 pid %d)) to %s" % (pid3, out)
            in s, "the export written, said so", 30)
        body = open(out, "rb").read() if os.path.exists(out) else b""
        paths = T.query(c.query_ep, "PATHS", scope="rank:node1/%d" % pid3, limit=1000)
        print("paths of rank 3 through the collector:", len((paths or {}).get("paths", [])))
        check(b"compute_step" in body and b"slow_rank_extra" in body,
              "the file is the rank's pstats profile")
        tm.keys("Escape")
        see(tm, "back_node", lambda s: "[1 Ranks]" in s and "cluster > node node1" in s,
            "Esc: back to the node")
        tm.keys("Escape")
        see(tm, "back_cluster", lambda s: "[2 Nodes]" in s and "node1" not in s.splitlines()[2],
            "Esc: back to the cluster")
        tm.keys("1")

        # the collector goes away, and comes back
        c.kill()
        see(tm, "collector_gone", lambda s: "NO ANSWER" in s and " compute_step " in s,
            "a killed collector is reported; the last data stays")
        c2 = T.Collector(c.agents, c.query_ep)
        see(tm, "collector_back", lambda s: "NO ANSWER" not in s and "nodes 2 up" in s
            and " compute_step " in s, "the collector restarted: answered again", 40)
        tm.keys("h")
        see(tm, "help", lambda s: "clustertop keys" in s and "PgUp PgDn" in s, "h: the help")
        tm.keys("Escape")
        # switching rank 1 off and on through the collector (last: the
        # switch closes the rank's open frames, as cProfile's disable() does)
        tm.keys("2")
        tm.wait(lambda s: "[2 Nodes]" in s and "node1" in s)
        tm.keys("End", "Enter")
        see(tm, "node1_again", lambda s: "cluster > node node1" in s and str(pid1) in s,
            "node1 again")
        toggle(tm, a1, pid1, "rank 1 (node1 pid %d)" % pid1, "")
        tm.keys("q")
        check(T.wait_for(lambda: not tm.alive(), 10), "q quits")
        tm.kill()

        # ---- one agent, no collector; no colours ---------------------------------------
        tm = T.Tmux("%s --plaintext --agent %s -d 0.5" % (T.CLUSTERTOP, a0.ep), 150, 40,
                    env={"NO_COLOR": "1"})
        see(tm, "agent_top", lambda s: "agent %s" % a0.ep in s and "ranks 2" in s
            and " compute_step " in s, "--agent: the node's table")
        esc = subprocess.run(["tmux", "-L", tm.sock, "capture-pane", "-e", "-p", "-t", tm.name],
                             capture_output=True, text=True).stdout
        check(re.search(r"\x1b\[[0-9;]*3[0-7]m|\x1b\[[0-9;]*38;5", esc) is None,
              "NO_COLOR: no colour on the screen")
        tm.keys("2")
        see(tm, "agent_nodes", lambda s: "node0" in s and "1 nodes" in s, "--agent: its node")
        tm.keys("Enter")
        see(tm, "agent_node", lambda s: "2 processes" in s, "--agent: the node's two ranks")
        ranks0 = T.query(a0.ep, "RANKS")["ranks"]
        first = sorted(ranks0, key=lambda r: (r.get("rank", 0), r["pid"]))[0]
        toggle(tm, a0, first["pid"], "rank %d (node0 pid %d)" % (first.get("rank", 0),
                                                               first["pid"]), "agent_")
        # the object wedges on for rank 0: its objects and recent constructions
        tm.keys("p", "F", "y")
        see(tm, "agent_objects_on", lambda s: re.search(
            r"-> fast\+objects: applied by (1 of 1|0 of 1 process.*\(timed out\))", s),
            "p F: fast with objects, acknowledged", 30)
        tm.keys("Enter", "5")
        see(tm, "agent_nova", lambda s: "recent object constructions: one mark" in s
            and "__main__.Particle" in s and " 0 recent" not in s,
            "--agent: nova, the rank's recent constructions by type", 30)
        tm.keys("3")
        see(tm, "agent_objects", lambda s: "__main__.Particle" in s and "NEW" in s
            and "constructions per constructing function" in s, "--agent: objects as bars")
        tm.keys("2")
        see(tm, "agent_threads", lambda s: "MainThread" in s, "--agent: a rank's threads")
        tm.keys("Escape", "Escape", "q")
        check(T.wait_for(lambda: not tm.alive(), 10), "q quits")
    finally:
        if tm:
            tm.kill()
        if os.path.exists(os.path.join(d, "stop")):
            os.unlink(os.path.join(d, "stop"))
        time.sleep(0.5)
        T.stop_all()
finish()
