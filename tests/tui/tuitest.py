"""Helpers of clustertop's Python tests: free ports, node agents, a
collector, hooked programs (alone or under mpirun), direct queries
through collector_query (the wire as it is, without clustertop's client),
and clustertop itself in tmux (send-keys, capture-pane)."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("ULMA_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
AGENT = os.path.join(BUILD, "node-agent", "ulma-agent")
CTL = os.path.join(BUILD, "node-agent", "ulma-ctl")
COLLECTOR = os.path.join(BUILD, "collector", "ulma-collector")
QUERY = os.path.join(BUILD, "tests", "collector", "collector_query")
CLUSTERTOP = os.path.join(BUILD, "dashboard-tui", "clustertop")
PYTHON = os.environ.get("ULMA_TEST_PYTHON", "/usr/bin/python3")
PROG = os.path.join(HERE, "tui_prog.py")

procs = []
# every wait is longer in a sanitizer build (its programs run several
# times slower) or when asked (TUI_TEST_SLOW=factor)
SLOW = float(os.environ.get("TUI_TEST_SLOW") or
             (4 if "asan" in os.environ.get("LD_PRELOAD", "") else 1))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(cmd, **kw):
    p = subprocess.Popen(cmd, **kw)
    procs.append(p)
    return p


def stop_all():
    for p in reversed(procs):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM) if getattr(p, "own_group", False) \
                    else p.terminate()
            except ProcessLookupError:
                pass
    for p in reversed(procs):
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_for(pred, timeout=20.0, step=0.1):
    end = time.time() + timeout * SLOW
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def query(ep, kind, **kw):
    """One Query to ep, the Reply as a dict (None: no answer)."""
    args = [QUERY, ep, kind] + ["%s=%s" % (k, v) for k, v in kw.items()]
    p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout)


class Agent:
    def __init__(self, base, node, collector=None, listen=True):
        self.dir = os.path.join(base, node)
        os.makedirs(self.dir, exist_ok=True)
        self.node = node
        self.ep = "tcp://127.0.0.1:%d" % free_port() if listen else None
        cmd = [AGENT, "--dir", self.dir, "--node", node, "--scan-ms", "50"]
        if listen:
            cmd += ["--listen", self.ep]
        if collector:
            cmd += ["--collector", collector, "--report-interval", "0.5"]
        if listen or collector:
            cmd.append("--plaintext")
        self.proc = start(cmd)
        ipc = os.path.join(self.dir, "ulma-agent.ipc")
        if not wait_for(lambda: os.path.exists(ipc), 10):
            raise RuntimeError("agent %s did not start" % node)

    def ctl_json(self, *args):
        p = subprocess.run([CTL, "--dir", self.dir, "--json"] + list(args), capture_output=True,
                           text=True, timeout=30)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def modes(self):
        """pid -> active mode, from the agent's own (JSON) protocol."""
        j = self.ctl_json("list")
        return {x["pid"]: x["mode"] for x in (j or {}).get("processes", [])}


class Collector:
    def __init__(self, agents_ep=None, query_ep=None):
        self.agents = agents_ep or "tcp://127.0.0.1:%d" % free_port()
        self.query_ep = query_ep or "tcp://127.0.0.1:%d" % free_port()
        self.proc = start([COLLECTOR, "--agents", self.agents, "--query", self.query_ep,
                           "--metrics", "none", "--interval", "0.5", "-q", "--plaintext"])
        if not wait_for(lambda: query(self.query_ep, "SUMMARY", timeout_ms=300), 20):
            raise RuntimeError("collector did not start")

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def env_for(**extra):
    env = dict(os.environ)
    env.pop("ULMA_MODE", None)
    env["PYTHONPATH"] = os.path.join(BUILD, "python")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_prog(agent_dir, ready, steps=0, objects=False):
    """One hooked program under the node agent of agent_dir."""
    cmd = [PYTHON, "-m", "ulma"] + (["--objects"] if objects else []) + [PROG]
    return start(cmd, env=env_for(ULMA_DIR=agent_dir, TUI_READY=ready, TUI_STEPS=steps),
                 stdout=subprocess.DEVNULL)


def run_mpi(dirs, np, ready, steps=0, stop=None):
    """An mpirun job of np hooked ranks, rank r under the agent of
    dirs[r % len(dirs)]."""
    wrapper = os.path.join(os.path.dirname(ready), "rank.sh")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n")
        f.write("set -- %s\n" % " ".join(dirs))
        f.write("i=$((OMPI_COMM_WORLD_RANK %% %d + 1))\n" % len(dirs))
        f.write('eval "export ULMA_DIR=\\${$i}"\n')
        f.write("exec %s -m ulma %s\n" % (PYTHON, PROG))
    os.chmod(wrapper, 0o755)
    env = env_for(TUI_READY=ready, TUI_STEPS=steps, TUI_STOP=stop or "")
    cmd = ["mpirun", "--oversubscribe", "-np", str(np), "-x", "PYTHONPATH", "-x", "TUI_READY",
           "-x", "TUI_STEPS", "-x", "TUI_STOP", wrapper]
    p = start(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
              start_new_session=True)
    p.own_group = True
    return p


def wait_ready(ready, n, timeout=60):
    return wait_for(lambda: all(os.path.exists("%s.%d" % (ready, r)) for r in range(n)), timeout)


class Tmux:
    """clustertop (or anything) in a tmux session on a private server."""

    def __init__(self, cmd, width=160, height=45, env=None):
        self.sock = "ct%d" % os.getpid()
        self.name = "s"
        envs = []
        for k, v in (env or {}).items():
            envs += ["-e", "%s=%s" % (k, v)]
        subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", "new-session", "-d", "-s",
                        self.name, "-x", str(width), "-y", str(height)] + envs + [cmd],
                       check=True)

    def keys(self, *keys):
        subprocess.run(["tmux", "-L", self.sock, "send-keys", "-t", self.name] + list(keys),
                       check=True)

    def text(self, *keys):
        subprocess.run(["tmux", "-L", self.sock, "send-keys", "-l", "-t", self.name] + list(keys),
                       check=True)

    def screen(self):
        p = subprocess.run(["tmux", "-L", self.sock, "capture-pane", "-p", "-t", self.name],
                           capture_output=True, text=True)
        return p.stdout

    def wait(self, pred, timeout=20.0):
        """Wait until pred(screen) is true; returns the screen (or the
        last one seen, with pred false)."""
        end = time.time() + timeout * SLOW
        s = ""
        while time.time() < end:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.1)
        return s

    def alive(self):
        p = subprocess.run(["tmux", "-L", self.sock, "list-panes", "-t", self.name, "-F",
                            "#{pane_dead}"], capture_output=True, text=True)
        return p.returncode == 0 and p.stdout.strip() == "0"

    def kill(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)


def lines_with(screen, word):
    return [l for l in screen.splitlines() if word in l]


def tmpdir():
    return tempfile.TemporaryDirectory(prefix="ulma-tui-")
