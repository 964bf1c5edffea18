"""Configuration by file, environment and flags, with the same names
(libulma-cli), for ulma-agent, ulma-collector and clustertop, run as a user
runs them:

  - precedence: defaults < the file < ULMA_NAME < the command line, seen in
    --print-config and in what a running agent and collector do (where
    their sockets are), and clustertop taking its source and batch mode
    from a file;
  - --print-config is a configuration file: read back, it prints the same;
  - errors name FILE:LINE (unknown name, bad value, a command-line-only
    option, no '='), a bad variable names it, a missing --config file is an
    error; exit status 2 for each;
  - the variables the launcher owns (ULMA_SORT, ULMA_JSON, ULMA_AGENT) are
    not read; a private agent reads neither file nor environment;
  - flags given together (-bj) work and a flag taking a value among them
    is refused.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pycheck import check, finish  # noqa: E402

BUILD = os.environ.get("ULMA_BUILD_DIR",
                       os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build"))
AGENT = os.path.join(BUILD, "node-agent", "ulma-agent")
COLLECTOR = os.path.join(BUILD, "collector", "ulma-collector")
TOP = os.path.join(BUILD, "dashboard-tui", "clustertop")
tmp = tempfile.mkdtemp(prefix="ulma-config-")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ULMA_")}
    env.update(extra)
    return env


def run(args, env=None, timeout=30):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, env=env if env is not None else clean_env())


def write(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def settings(text):
    """name -> value of a --print-config output."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and " = " in line:
            k, v = line.split(" = ", 1)
            out[k] = v
    return out


def printed(prog, *args, env=None):
    p = run([prog, *args, "--print-config"], env=env)
    check(p.returncode == 0, "%s %s --print-config exits 0 (%d: %s)"
          % (os.path.basename(prog), " ".join(args), p.returncode, p.stderr.strip()))
    return settings(p.stdout), p.stdout


# ---- precedence, seen in --print-config
conf = write("agent.conf", "# a comment\n\nkeep = 11\nreport-interval = 2.5\n"
                           "plaintext = yes\nnode = \"from the file\"\nscan-ms=700\n")
s, _ = printed(AGENT, "--config", conf)
check(s.get("keep") == "11" and s.get("report-interval") == "2.5", "agent: the file's values")
check(s.get("plaintext") == "yes" and s.get("node") == "from the file",
      "agent: a flag and a quoted value from the file")
check(s.get("scan-ms") == "700", "agent: name=value without spaces")
s, _ = printed(AGENT, "--config", conf, env=clean_env(ULMA_KEEP="22", ULMA_SCAN_MS="800"))
check(s.get("keep") == "22" and s.get("scan-ms") == "800", "agent: the environment over the file")
check(s.get("report-interval") == "2.5", "agent: the file where the environment says nothing")
s, _ = printed(AGENT, "--config", conf, "--keep", "33", env=clean_env(ULMA_KEEP="22"))
check(s.get("keep") == "33", "agent: the command line over the environment")
s, _ = printed(AGENT)
check(s.get("keep") == "60" and s.get("plaintext") == "no", "agent: the defaults without a file")
s, _ = printed(COLLECTOR, "--config", write("c.conf", "rate-window = 120\nhwm = 5\n"),
               env=clean_env(ULMA_HWM="6"))
check(s.get("rate-window") == "120" and s.get("hwm") == "6", "collector: file, then environment")
s, _ = printed(TOP, "--config", write("t.conf", "delay = 0.5\nthreshold = 2\n"), "-T", "3")
check(s.get("delay") == "0.5" and s.get("threshold") == "3", "clustertop: file, then flags")

# ---- --print-config is a configuration file
for prog, args in ((AGENT, ["--keep", "7", "--allow-uid", "0,1", "--plaintext"]),
                   (COLLECTOR, ["--interval", "2", "--dump", os.path.join(tmp, "d.json")]),
                   (TOP, ["-d", "3", "--filter", "a b"])):
    s1, text = printed(prog, *args)
    again = write(os.path.basename(prog) + ".printed", text)
    s2, _ = printed(prog, "--config", again)
    check(s1 == s2 and s1, "%s: its --print-config read back prints the same"
          % os.path.basename(prog))
s, _ = printed(AGENT, "--config", write("uids.conf", "allow-uid = 5,6\n"), "--allow-uid", "7")
check(s.get("allow-uid") == "7", "agent: a list on the command line replaces the file's")

# ---- errors
for prog in (AGENT, COLLECTOR, TOP):
    name = os.path.basename(prog)
    for text, what in (("keep = 1\nbogus = 3\n", ":2: unknown option 'bogus'"),
                       ("help = yes\n", ":1: 'help' is for the command line only"),
                       ("just words\n", ":1: expected 'name = value'")):
        if name == "clustertop" and text.startswith("keep"):
            text = "delay = 1\nbogus = 3\n"
        f = write(name + ".bad", text)
        p = run([prog, "--config", f])
        check(p.returncode == 2 and (f + what) in p.stderr,
              "%s: %r is refused at FILE:LINE (%d: %s)" % (name, text, p.returncode,
                                                         p.stderr.strip()))
    p = run([prog, "--config", os.path.join(tmp, "missing.conf")])
    check(p.returncode == 2 and "missing.conf" in p.stderr and "No such file" in p.stderr,
          "%s: a missing --config file is an error (%s)" % (name, p.stderr.strip()))
f = write("badval.conf", "\n\nkeep = soon\n")
p = run([AGENT, "--config", f])
check(p.returncode == 2 and f + ":3: --keep: 'soon'" in p.stderr,
      "agent: a bad value names FILE:LINE (%s)" % p.stderr.strip())
p = run([COLLECTOR, "--print-config"], env=clean_env(ULMA_INTERVAL="1e9"))
check(p.returncode == 2 and "environment ULMA_INTERVAL" in p.stderr,
      "collector: a bad variable is named (%s)" % p.stderr.strip())
p = run([TOP, "--print-config"], env=clean_env(ULMA_THRESHOLD="200"))
check(p.returncode == 2 and "ULMA_THRESHOLD" in p.stderr and "percentage" in p.stderr,
      "clustertop: a bad percentage in the environment (%s)" % p.stderr.strip())

# ---- variables that are not read, and the private agent
s, _ = printed(TOP, env=clean_env(ULMA_SORT="tottime", ULMA_JSON="/tmp/x.json",
                                  ULMA_AGENT="/usr/bin/ulma-agent", ULMA_DELAY="4"))
check(s.get("sort") == "cumtime" and s.get("json") == "no" and s.get("agent") == '""',
      "clustertop: ULMA_SORT, ULMA_JSON and ULMA_AGENT are the launcher's, not read")
check(s.get("delay") == "4", "clustertop: ULMA_DELAY is read")
s, _ = printed(AGENT, "--private", "1", env=clean_env(ULMA_KEEP="5", ULMA_SORT="tottime"))
check(s.get("keep") == "60" and s.get("sort") == "stdname",
      "agent: a private agent reads no variable")
p = run([AGENT, "--private", "1", "--config", conf, "--print-config"])
check(p.returncode == 2 and "--config does not go with --private" in p.stderr,
      "agent: --config with --private is refused (%s)" % p.stderr.strip())

# ---- flags together
s, _ = printed(TOP, "-bj")
check(s.get("batch") == "yes" and s.get("json") == "yes", "clustertop: -bj sets both")
p = run([TOP, "-bn", "3"])
check(p.returncode == 2 and "takes a value" in p.stderr, "clustertop: -bn is refused")
s, _ = printed(AGENT, "-qv")
check(s.get("quiet") == "yes" and s.get("verbose") == "yes", "agent: -qv sets both")

# ---- what the running programs do
d_file, d_env, d_flag = (os.path.join(tmp, n) for n in ("d-file", "d-env", "d-flag"))
for d in (d_file, d_env, d_flag):
    os.mkdir(d)
f = write("run.conf", "dir = %s\nendpoint = ipc://%s/ulma-agent.ipc\nrun-for = 30\n"
          % (d_file, d_file))


def agent_socket_in(args, env, where):
    a = subprocess.Popen([AGENT, *args], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    sock = os.path.join(where, "ulma-agent.ipc")
    t0 = time.monotonic()
    while not os.path.exists(sock) and time.monotonic() - t0 < 10 and a.poll() is None:
        time.sleep(0.05)
    ok = os.path.exists(sock)
    return a, ok


a, ok = agent_socket_in(["--config", f], clean_env(), d_file)
check(ok, "agent: the file's dir and endpoint are where it listens")
if ok:
    p = run([TOP, "--config", write("top.conf", "agent-dir = %s\nbatch = yes\n"
                                                "iterations = 1\nview = nodes\n" % d_file)])
    check(p.returncode == 0 and p.stdout.strip(),
          "clustertop: source, batch mode and view from a file (%d: %s)"
          % (p.returncode, p.stderr.strip()[-300:]))
a.terminate()
a.wait(timeout=10)
a, ok = agent_socket_in(["--endpoint", "ipc://%s/ulma-agent.ipc" % d_flag, "--run-for", "30"],
                        clean_env(ULMA_DIR=d_env), d_flag)
check(ok, "agent: the command line's endpoint over the file's absence")
a.terminate()
a.wait(timeout=10)
check(os.listdir(d_env) == [] or all(not n.endswith(".ipc") for n in os.listdir(d_env)),
      "agent: ULMA_DIR is its directory, the flag its endpoint")
q = os.path.join(tmp, "q.ipc")
f = write("coll.conf", "agents = ipc://%s/a.ipc\nquery = ipc://%s\nmetrics = none\n"
          "run-for = 30\nquiet = yes\n" % (tmp, q))
c = subprocess.Popen([COLLECTOR, "--config", f], env=clean_env(), stdout=subprocess.DEVNULL,
                     stderr=subprocess.PIPE, text=True)
t0 = time.monotonic()
while not os.path.exists(q) and time.monotonic() - t0 < 10 and c.poll() is None:
    time.sleep(0.05)
check(os.path.exists(q), "collector: its sockets where the file says")
c.terminate()
c.wait(timeout=10)
check(c.returncode == 0, "collector: stops cleanly (%s)" % c.returncode)

finish()
