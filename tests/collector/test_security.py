"""CurveZMQ on the tcp links, with real keys made by ulma-keys: a real
collector, simulated agents (collector_load) and a real node agent
reporting to it, ulma-ctl and clustertop asking it, ulma-ctl asking an
agent's tcp --listen endpoint.

  - ulma-keys: --help, usage errors (exit 2), files and modes, never
    overwriting, allow/--control/--server;
  - no keys and no --plaintext on tcp: refused at start (exit 2); with
    --plaintext: a warning on every start;
  - a secret key of mode 0644, or owned by another user: refused with the
    reason (collector, agent, ulma-ctl);
  - an allowed key is answered, its reports are merged; an unknown key
    (client or agent) is refused, gets nothing, and is counted; a
    plain-text client of a CURVE server gets nothing and is counted; a
    client expecting another server key gets nothing;
  - a key allowed later is let in without a restart;
  - control from a query-only key is refused with an error and counted;
    from a control key it is applied;
  - an agent's tcp --listen endpoint: allowed key answered, unknown key
    and plain text not, control only from its control list (ipc: always),
    refusals in the agent's summary at exit.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pycheck import check, finish  # noqa: E402
from colltest import BUILD, COLLECTOR, QUERY, Collector, free_port, load, wait_for  # noqa: E402

KEYS = os.path.join(BUILD, "proto", "ulma-keys")
CTL = os.path.join(BUILD, "node-agent", "ulma-ctl")
AGENT = os.path.join(BUILD, "node-agent", "ulma-agent")
TOP = os.path.join(BUILD, "dashboard-tui", "clustertop")

tmp = tempfile.mkdtemp(prefix="ulma-sec-")


def run(*args, timeout=60, env=None):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                       env=env)
    return p.returncode, p.stdout, p.stderr


def keys(*args):
    return run(KEYS, *args)


def kd(name):
    return os.path.join(tmp, name)


# ---- ulma-keys -------------------------------------------------------------------------------
rc, out, err = keys("--help")
check(rc == 0, "ulma-keys --help: exit 0")
for word in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "EXAMPLES", "EXIT STATUS",
             "new DIR", "show DIR", "allow DIR", "--control", "--server", "--as", "--name",
             "0600", "allowed/", "control/", "server.pub", "--curve-dir"):
    check(word in out, "ulma-keys --help documents %s" % word)
for args, what in (([], "no command"), (["bogus"], "unknown command"), (["new"], "usage"),
                   (["new", kd("x"), "extra"], "usage"), (["--bogus"], "unknown option"),
                   (["allow", kd("x")], "usage"), (["show", kd("x"), "--control"], "not for"),
                   (["allow", kd("x"), "k", "--control", "--server"], "not for"),
                   (["new", kd("x"), "--name"], "needs NAME")):
    rc, out, err = keys(*args)
    check(rc == 2 and what in err, "ulma-keys %s: exit 2, '%s': %r" % (args, what, err))

pubs = {}
for who in ("srv", "node", "alice", "bob", "eve", "stranger"):
    rc, out, err = keys("new", kd(who), "--name", who + "@test")
    check(rc == 0 and len(out.strip()) == 40, "ulma-keys new %s: the public key printed" % who)
    pubs[who] = out.strip()
st = os.stat(os.path.join(kd("srv"), "id.secret"))
check(st.st_mode & 0o777 == 0o600, "id.secret is 0600: %o" % (st.st_mode & 0o777))
check(os.stat(os.path.join(kd("srv"), "id.pub")).st_mode & 0o777 == 0o644, "id.pub is 0644")
check(os.path.isdir(os.path.join(kd("srv"), "allowed")) and
      os.path.isdir(os.path.join(kd("srv"), "control")), "new makes allowed/ and control/")
check(pubs["srv"] in open(os.path.join(kd("srv"), "id.pub")).read(), "id.pub holds the key printed")
check("srv@test" in open(os.path.join(kd("srv"), "id.pub")).read(), "--name is in the file")
rc, out, err = keys("new", kd("srv"))
check(rc == 1 and "exists" in err, "new never overwrites a key pair: %r" % err)
check(pubs["srv"] in open(os.path.join(kd("srv"), "id.pub")).read(), "the old key is still there")
rc, out, err = keys("show", kd("srv"))
check(rc == 0 and out.strip() == pubs["srv"], "show: the same public key")
rc, out, err = keys("allow", kd("srv"), os.path.join(tmp, "nothing.pub"))
check(rc == 1 and "cannot read" in err, "allow of a missing file: exit 1: %r" % err)
bad = os.path.join(tmp, "bad.pub")
open(bad, "w").write("not a key\n")
rc, out, err = keys("allow", kd("srv"), bad)
check(rc == 1 and "no public key" in err, "allow of a file without a key: exit 1: %r" % err)

# the collector lets in node and alice (queries), bob (control); eve is unknown
rc, out, _ = keys("allow", kd("srv"), os.path.join(kd("node"), "id.pub"), "--as", "node")
check(rc == 0 and out.strip().endswith("allowed/node.pub"), "allow: the file written: %r" % out)
check(keys("allow", kd("srv"), pubs["alice"], "--as", "alice")[0] == 0, "allow a bare key")
check(keys("allow", kd("srv"), os.path.join(kd("bob"), "id.pub"), "--control")[0] == 0,
      "allow --control")
check(os.path.exists(os.path.join(kd("srv"), "control", "id.pub")),
      "--control without --as: named after the file")
for who in ("node", "alice", "bob", "eve"):
    check(keys("allow", kd(who), os.path.join(kd("srv"), "id.pub"), "--server")[0] == 0,
          "allow --server into %s" % who)
check(open(os.path.join(kd("alice"), "server.pub")).read().count(pubs["srv"]) == 1,
      "server.pub holds the collector's key")
# the node agent's own endpoint lets alice in (queries) and bob (control)
check(keys("allow", kd("node"), pubs["alice"], "--as", "alice")[0] == 0, "allow alice at the node")
check(keys("allow", kd("node"), pubs["bob"], "--as", "bob", "--control")[0] == 0,
      "allow bob at the node, with control")

# ---- start-up: keys or --plaintext -----------------------------------------------------------
agents_ep = "tcp://127.0.0.1:%d" % free_port()
query_ep = "tcp://127.0.0.1:%d" % free_port()
rc, out, err = run(COLLECTOR, "--agents", agents_ep, "--query", query_ep, "--metrics", "none",
                   "--run-for", "0.2")
check(rc == 2 and "--curve-dir" in err and "--plaintext" in err,
      "collector on tcp without keys: exit 2 naming --curve-dir and --plaintext: %r" % err)
rc, out, err = run(COLLECTOR, "--agents", agents_ep, "--query", query_ep, "--metrics", "none",
                   "--run-for", "0.2", "--plaintext", "-q")
check(rc == 0 and err.count("warning: --plaintext") == 2,
      "collector --plaintext: a warning for each endpoint, even with -q: %r" % err)
rc, out, err = run(COLLECTOR, "--agents", "ipc://%s/a.ipc" % tmp, "--query",
                   "ipc://%s/q.ipc" % tmp, "--metrics", "none", "--run-for", "0.2", "-q")
check(rc == 0 and not err, "collector on ipc only: no keys needed, no warning: %r" % err)
rc, out, err = run(COLLECTOR, "--curve-dir", kd("srv"), "--plaintext", "--run-for", "0.1")
check(rc == 2 and "choose one" in err, "--curve-dir and --plaintext: exit 2")
rc, out, err = run(AGENT, "--dir", tmp, "--collector", agents_ep, "--run-for", "0.2")
check(rc == 2 and "--curve-dir" in err, "agent --collector tcp without keys: exit 2: %r" % err)
rc, out, err = run(AGENT, "--dir", tmp, "--listen", "tcp://127.0.0.1:%d" % free_port(),
                   "--run-for", "0.2")
check(rc == 2 and "--plaintext" in err, "agent --listen tcp without keys: exit 2: %r" % err)
rc, out, err = run(CTL, "--collector", query_ep, "summary")
check(rc == 2 and "--curve-dir" in err, "ulma-ctl --collector tcp without keys: exit 2: %r" % err)
rc, out, err = run(TOP, "-b", "-n", "1", "--collector", query_ep)
check(rc == 2 and "--curve-dir" in err, "clustertop on tcp without keys: exit 2: %r" % err)
for prog in (COLLECTOR, AGENT, CTL, TOP):
    rc, out, err = run(prog, "--help")
    check(rc == 0 and all(w in out for w in ("--curve-dir", "--plaintext")),
          "%s --help documents --curve-dir and --plaintext" % os.path.basename(prog))
for prog in (AGENT, CTL, TOP):
    check("--server-key" in run(prog, "--help")[1],
          "%s --help documents --server-key" % os.path.basename(prog))

# ---- secret keys: owner-only, the user's own ---------------------------------------------------
secret = os.path.join(kd("srv"), "id.secret")
os.chmod(secret, 0o644)
rc, out, err = run(COLLECTOR, "--curve-dir", kd("srv"), "--agents", agents_ep, "--query",
                   query_ep, "--metrics", "none", "--run-for", "0.2")
check(rc == 1 and "mode 0644" in err and "chmod 600" in err and "refused" in err,
      "collector: a secret key of mode 0644 is refused, saying why: %r" % err)
os.chmod(secret, 0o640)
rc, out, err = keys("show", kd("srv"))
check(rc == 1 and "mode 0640" in err, "ulma-keys show: 0640 refused too: %r" % err)
os.chmod(secret, 0o600)
nsecret = os.path.join(kd("node"), "id.secret")
os.chmod(nsecret, 0o604)
rc, out, err = run(AGENT, "--dir", tmp, "--curve-dir", kd("node"), "--collector", agents_ep,
                   "--run-for", "0.2")
check(rc != 0 and "mode 0604" in err, "agent: a secret key others may read is refused: %r" % err)
os.chmod(nsecret, 0o600)
asecret = os.path.join(kd("alice"), "id.secret")
os.chmod(asecret, 0o660)
rc, out, err = run(CTL, "--collector", query_ep, "--curve-dir", kd("alice"), "summary")
check(rc == 1 and "mode 0660" in err, "ulma-ctl: a group-readable secret key is refused: %r" % err)
os.chmod(asecret, 0o600)
if os.geteuid() == 0:
    os.chown(asecret, 65534, 65534)
    rc, out, err = run(CTL, "--collector", query_ep, "--curve-dir", kd("alice"), "summary")
    check(rc == 1 and "owned by uid 65534" in err,
          "a secret key owned by another user is refused: %r" % err)
    os.chown(asecret, 0, 0)
link = os.path.join(kd("stranger"), "id.secret")
os.rename(link, link + ".real")
os.symlink(link + ".real", link)
rc, out, err = run(CTL, "--collector", query_ep, "--curve-dir", kd("stranger"), "summary")
check(rc == 1 and "symbolic link" in err, "a secret key that is a symlink is refused: %r" % err)

# ---- a collector with keys ---------------------------------------------------------------------
c = Collector("--curve-dir", kd("srv"), "--interval", "0.2", agents=agents_ep, query=query_ep)


def metric(name):
    m = c.metrics() or {}
    return m.get("ulma_collector_%s_total" % name, -1)


def ctl(who, *args, extra=()):
    return run(CTL, "--collector", query_ep, "--curve-dir", kd(who), "--timeout", "3000",
               *extra, *args)


rc, out, err = ctl("alice", "summary")
check(rc == 0 and "nodes 0 up" in out, "an allowed key is answered: %r %r" % (out, err))
check(wait_for(lambda: metric("auth_accepted") >= 1, timeout=5), "the handshake is counted")

good = load(agents_ep, "--curve-dir", kd("node"), "--nodes", 2, "--first", 0, "--ranks", 2,
            "--funcs", 20, "--interval", 0.2, "--duration", 60)
evil = load(agents_ep, "--curve-dir", kd("eve"), "--nodes", 1, "--first", 7, "--ranks", 2,
            "--funcs", 20, "--interval", 0.2, "--duration", 60)
check(wait_for(lambda: "nodes 2 up" in ctl("alice", "summary")[1], timeout=20),
      "agents with an allowed key report over CURVE: %r" % (ctl("alice", "summary"),))
time.sleep(1.0)
rc, out, err = ctl("alice", "nodes")
check(rc == 0 and "node00000" in out and "node00001" in out and "node00007" not in out,
      "the unknown key's node never appears: %r" % out)
check(wait_for(lambda: metric("auth_refused") >= 1, timeout=5),
      "the unknown agent's key is counted as refused: %s" % metric("auth_refused"))
evil.terminate()
evil.wait()

before = metric("auth_refused")
rc, out, err = ctl("eve", "summary")
check(rc == 1 and "refused our key" in err and not out,
      "an unknown client key gets no answer: %r %r" % (out, err))
check(wait_for(lambda: metric("auth_refused") > before, timeout=5),
      "... and is counted: %s -> %s" % (before, metric("auth_refused")))

before = metric("auth_failed")
rc, out, err = run(CTL, "--collector", query_ep, "--plaintext", "--timeout", "1500", "summary")
check(rc == 1 and not out and "warning: --plaintext" in err,
      "a plain-text client of a CURVE collector gets nothing: %r %r" % (out, err))
rc, out, err = run(QUERY, query_ep, "SUMMARY", "timeout_ms=1000")
check(rc != 0 and '"summary"' not in out, "collector_query (raw plain text) gets nothing: %r" % out)
check(wait_for(lambda: metric("auth_failed") > before, timeout=5),
      "plain-text handshakes are counted as failed: %s -> %s" % (before, metric("auth_failed")))

rc, out, err = ctl("alice", "summary", extra=("--server-key", os.path.join(kd("eve"), "id.pub")))
check(rc == 1 and not out, "a client expecting another server key gets nothing: %r" % err)

rc, out, err = run(TOP, "-b", "-n", "1", "--curve-dir", kd("alice"), "--collector", query_ep,
                   "--view", "nodes")
check(rc == 0 and "node00000" in out, "clustertop with an allowed key: %r" % err)
rc, out, err = run(TOP, "-b", "-n", "1", "--curve-dir", kd("eve"), "--collector", query_ep,
                   "--timeout", "1000")
check(rc == 1 and "node00000" not in out and "refused our key" in err,
      "clustertop with an unknown key: nothing shown: %r" % err)
env = dict(os.environ, ULMA_CURVE_DIR=kd("alice"))
rc, out, err = run(TOP, "-b", "-n", "1", "--collector", query_ep, "--view", "nodes", env=env)
check(rc == 0 and "node00000" in out, "clustertop: $ULMA_CURVE_DIR as --curve-dir")

# allowed later: no restart
check(keys("allow", kd("srv"), os.path.join(kd("eve"), "id.pub"), "--as", "eve")[0] == 0,
      "allow eve now")
rc, out, err = ctl("eve", "summary")
check(rc == 0 and "nodes" in out, "a key allowed while the collector runs is let in: %r" % err)
os.unlink(os.path.join(kd("srv"), "allowed", "eve.pub"))
rc, out, err = ctl("eve", "summary")
check(rc == 1 and not out, "a key removed is refused at its next connection: %r" % err)

# ---- control: only keys of the control list ----------------------------------------------------
before_refused = metric("controls_refused")
rc, out, err = ctl("alice", "off", "--all", "--wait", "1000")
check(rc == 1 and "control refused" in err and "alice" in err and "applied" not in out,
      "control from a query-only key: refused with an error: %r %r" % (out, err))
check(wait_for(lambda: metric("controls_refused") == before_refused + 1, timeout=5),
      "... and counted: %s" % metric("controls_refused"))
check(metric("controls") == 0, "nothing was routed to the agents: %s" % metric("controls"))
rc, out, err = ctl("bob", "off", "--all", "--wait", "1000")
check(rc == 0 and "applied by 4 of 4 processes" in out,
      "control from a key of the control list: applied: %r %r" % (out, err))
check(wait_for(lambda: metric("controls") == 1, timeout=5), "the control is routed and counted")
rc, out, err = ctl("bob", "summary")
check(rc == 0, "a control key may query too")

good.terminate()
good.wait()

# ---- a real agent: reports over CURVE, its tcp --listen endpoint ----------------------------
adir = os.path.join(tmp, "agentdir")
os.makedirs(adir)
listen = "tcp://127.0.0.1:%d" % free_port()
agent = subprocess.Popen([AGENT, "--dir", adir, "--node", "realnode", "--curve-dir", kd("node"),
                          "--collector", agents_ep, "--listen", listen, "--report-interval",
                          "0.2"], stderr=subprocess.PIPE, text=True)
check(wait_for(lambda: "realnode" in ctl("alice", "nodes")[1], timeout=20),
      "a real agent reports to the collector over CURVE")


def actl(who, *args, extra=()):
    return run(CTL, "--endpoint", listen, "--curve-dir", kd(who), "--server-key",
               os.path.join(kd("node"), "id.pub"), "--timeout", "1500", *extra, *args)


rc, out, err = actl("alice", "--json", "list")
check(rc == 0 and '"processes"' in out, "the agent's tcp endpoint answers an allowed key: %r"
      % err)
rc, out, err = actl("eve", "--json", "list")
check(rc == 1 and not out, "... not an unknown key: %r" % err)
rc, out, err = run(CTL, "--endpoint", listen, "--plaintext", "--timeout", "1000", "--json", "list")
check(rc == 1 and not out and "warning: --plaintext" in err,
      "... nor a plain-text client: %r" % err)
rc, out, err = run(CTL, "--dir", adir, "--json", "list")
check(rc == 0 and '"processes"' in out, "its ipc endpoint stays plain (no keys needed)")
rc, out, err = actl("alice", "off", "--all", "--wait", "200")
check(rc == 1 and "control refused" in err,
      "control at the agent's tcp endpoint from a query-only key: refused: %r %r" % (out, err))
rc, out, err = actl("bob", "off", "--all", "--wait", "200")
# no process runs there: an accepted request gets the agent's own answer
check("control refused" not in err and "no running profiled process" in err,
      "... from a key of its control list: accepted: %r %r" % (out, err))
rc, out, err = run(TOP, "-b", "-n", "1", "--curve-dir", kd("alice"), "--server-key",
                   os.path.join(kd("node"), "id.pub"), "--agent", listen)
check(rc == 0 and "agent %s" % listen in out and "nodes 1 up" in out,
      "clustertop --agent over CURVE: %r" % err)
rc, out, err = run(CTL, "--dir", adir, "off", "--all", "--wait", "200")
check("control refused" not in err and "no running profiled process" in err,
      "control over ipc needs no key: %r" % err)
rc, out, err = run(CTL, "--dir", adir, "--json", "list")
ag = json.loads(out).get("agent", {}) if rc == 0 else {}
check(ag.get("auth_accepted") == 4 and ag.get("auth_refused", 0) >= 1 and
      ag.get("auth_failed", 0) >= 1 and ag.get("controls_refused") == 1,
      "the agent's list answer has its security counters: %r" % ag)
agent.terminate()
_, aerr = agent.communicate(timeout=20)
m = re.search(r"security: (\d+) peers let in, (\d+) refused \(key not allowed\), (\d+) "
              r"handshakes failed, (\d+) control requests refused", aerr)
check(m and int(m.group(1)) == 4 and int(m.group(2)) >= 1 and int(m.group(3)) >= 1 and
      int(m.group(4)) == 1,
      "the agent counts who it let in and refused: %r" % aerr)
check(pubs["eve"] in aerr and "is in neither" in aerr, "the agent logs the refused key: %r" % aerr)

check(c.stop() == 0, "the collector stops cleanly")
shutil.rmtree(tmp, ignore_errors=True)
finish()
