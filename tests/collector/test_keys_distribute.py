"""ulma-keys distribute: every node's keys made and exchanged from the head
through a remote shell, with the real ulma-keys on both sides. The remote
shell is a script that behaves like ssh to localhost (ssh's options
dropped, HOST, then the command line run by /bin/sh -c), and every "host"
has its own key directory (--remote-dir TMP/%h).

  - --help documents distribute and its options;
  - usage errors exit 2 before any remote shell runs (no host, a host
    name with shell characters, options of other commands); a head
    directory without a key pair exits 1;
  - each node gets a key pair (id.secret 0600, id.pub), the head allows
    it as allowed/HOST.pub (control/ with --control), the node gets the
    head's key as server.pub; a node's existing key pair is kept;
  - a second run succeeds and changes no key file; an allowed file with
    another key is not overwritten (exit 1);
  - a host whose remote shell fails (exit 255) or answers something that
    is not one key makes the exit 1, the other hosts are still done;
  - a remote directory with a quote and a space in it (single-quote
    escaping); allow - reads the key on the standard input.
"""
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pycheck import check, finish  # noqa: E402

BUILD = os.environ.get("ULMA_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
KEYS = os.path.abspath(os.path.join(BUILD, "proto", "ulma-keys"))

tmp = tempfile.mkdtemp(prefix="ulma-dist-")
HEAD = os.path.join(tmp, "head")
LOG = os.path.join(tmp, "rsh.log")
RSH = os.path.join(tmp, "rsh")
# a 40-character name that is also a valid Z85 key: a node answering it
# must not make the head read this file
TRAP = "x" * 40

with open(RSH, "w") as f:
    f.write(r"""#!/bin/sh
# ssh to localhost: ssh's options dropped, HOST, the rest run by /bin/sh -c
echo "$*" >>'%s'
while [ $# -gt 0 ]; do
    case "$1" in
    -[bcDEeFIiJLlmOopQRSWw]) shift 2 ;;
    -*) shift ;;
    *) break ;;
    esac
done
host=$1
shift
case "$host" in
bad) echo "rsh: $host: no route to host" >&2; exit 255 ;;
liar) echo "not a key"; exit 0 ;;
liar2) echo '%s'; exit 0 ;;
esac
exec /bin/sh -c "$*"
""" % (LOG, TRAP))
os.chmod(RSH, 0o755)


def run(*args, stdin=None):
    p = subprocess.run([KEYS] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=60, input=stdin, cwd=tmp)
    return p.returncode, p.stdout, p.stderr


def dist(*args):
    return run("distribute", HEAD, *args, "--rsh", RSH + " -o BatchMode=yes -x",
               "--remote-dir", os.path.join(tmp, "%h"), "--remote-keys", KEYS)


def key_of(path):
    """The key line of a key file, or None."""
    try:
        lines = [ln.strip() for ln in open(path) if ln.strip() and not ln.startswith("#")]
    except OSError:
        return None
    return lines[0] if len(lines) == 1 else None


def node(host, name=""):
    return os.path.join(tmp, host, name)


def log_lines():
    return open(LOG).read().splitlines() if os.path.exists(LOG) else []


def snapshot():
    """Every key file under tmp: content, inode and mtime."""
    snap = {}
    for root, _, files in os.walk(tmp):
        for fn in files:
            if fn.endswith((".pub", ".secret")):
                p = os.path.join(root, fn)
                st = os.stat(p)
                snap[p] = (hashlib.sha256(open(p, "rb").read()).hexdigest(), st.st_ino,
                           st.st_mtime_ns)
    return snap


# ---- help, usage errors, no head key -----------------------------------------------------------
rc, out, err = run("--help")
check(rc == 0, "--help: exit 0")
for word in ("distribute DIR HOST...", "--rsh CMD", "--remote-dir RDIR", "--remote-keys PATH",
             "%h", "allowed/HOST.pub", "server.pub", "BatchMode", "KEY|FILE|-"):
    check(word in out, "--help documents %s" % word)

rc, out, err = dist("n1")
check(rc == 1 and "ulma-keys new" in err, "no key pair in the head's DIR: exit 1, says how: %r" % err)
check(log_lines() == [], "no key pair: no remote shell run")
rc, out, err = run("new", HEAD, "--name", "collector@test")
check(rc == 0, "the head's key pair")
head_pub = out.strip()

for args, what in ((["distribute", HEAD], "usage"),
                   (["distribute", HEAD, "a;b"], "not a host name"),
                   (["distribute", HEAD, "n1", "a b"], "not a host name"),
                   (["distribute", HEAD, "$(id)"], "not a host name"),
                   (["distribute", HEAD, ".n1"], "not a host name"),
                   (["distribute", HEAD, "n1", "--server"], "not for"),
                   (["distribute", HEAD, "n1", "--as", "x"], "not for"),
                   (["allow", HEAD, head_pub, "--rsh", "ssh"], "not for"),
                   (["show", HEAD, "--remote-dir", "/x"], "not for"),
                   (["distribute", HEAD, "n1", "--rsh"], "needs CMD"),
                   (["distribute", HEAD, "n1", "--rsh", " "], "--rsh")):
    if args[0] == "distribute" and "--rsh" not in args:
        args = args + ["--rsh", RSH]  # were a name let through, the log would show it
    rc, out, err = run(*args)
    check(rc == 2 and what in err, "%s: exit 2, '%s': %r" % (args[2:], what, err))
check(log_lines() == [], "usage errors: no remote shell run: %r" % log_lines())
rc, out, err = dist("n1", "a;b")
check(rc == 2 and not os.path.exists(node("n1")), "a bad host among good ones: nothing done")

# ---- three nodes ----------------------------------------------------------------------------
rc, out, err = dist("n1", "n2", "n3")
check(rc == 0, "distribute n1 n2 n3: exit 0: %r" % err)
check(any("-o BatchMode=yes -x n1 sh -c" in ln for ln in log_lines()),
      "--rsh split on spaces, called as CMD HOST COMMAND-LINE: %r" % log_lines()[:1])
check(out.strip().splitlines()[-1] == "3 hosts: 3 done, 0 failed", "the summary: %r" % out)
node_pubs = {}
for h in ("n1", "n2", "n3"):
    allowed = os.path.join(HEAD, "allowed", h + ".pub")
    check("%s: allowed as %s, server key given" % (h, allowed) in out, "a line for %s" % h)
    sec, pub = node(h, "id.secret"), node(h, "id.pub")
    check(os.path.exists(sec) and stat.S_IMODE(os.stat(sec).st_mode) == 0o600,
          "%s: id.secret, mode 0600" % h)
    check(os.path.exists(pub) and "ulma-agent@" + h in open(pub).read(),
          "%s: id.pub named ulma-agent@%s" % (h, h))
    node_pubs[h] = key_of(pub)
    check(node_pubs[h] is not None and len(node_pubs[h]) == 40, "%s: id.pub holds a key" % h)
    check(key_of(allowed) == node_pubs[h], "%s: the head's allowed/%s.pub is its key" % (h, h))
    check(key_of(node(h, "server.pub")) == head_pub, "%s: server.pub is the head's key" % h)
    check(not os.path.exists(os.path.join(HEAD, "control", h + ".pub")), "%s: not in control/" % h)
check(len(set(node_pubs.values())) == 3, "three different node keys")
# the secret keys work: show derives the same public key
check(run("show", node("n2"))[1].strip() == node_pubs["n2"], "n2: show gives its id.pub's key")

# ---- a second run changes nothing ----------------------------------------------------------------
before = snapshot()
rc, out, err = dist("n1", "n2", "n3")
check(rc == 0 and "3 hosts: 3 done, 0 failed" in out, "second run: exit 0: %r %r" % (out, err))
check(snapshot() == before, "second run: no key file changed")
check(out.count(": already allowed as ") == 3, "second run: each host already allowed: %r" % out)

# ---- --control, an existing node key, a quoted directory --------------------------------------
rc, out, err = dist("n4", "--control")
check(rc == 0 and key_of(os.path.join(HEAD, "control", "n4.pub")) == key_of(node("n4", "id.pub")),
      "--control: the key in control/: %r" % err)
check(not os.path.exists(os.path.join(HEAD, "allowed", "n4.pub")), "--control: not in allowed/")
rc, out, err = run("new", node("n7"), "--name", "mine@n7")
n7 = out.strip()
rc, out, err = dist("n7")
check(rc == 0 and key_of(node("n7", "id.pub")) == n7 and "mine@n7" in open(node("n7", "id.pub")).read(),
      "a node's existing key pair is kept")
check(key_of(os.path.join(HEAD, "allowed", "n7.pub")) == n7, "and it is the one allowed")
qdir = os.path.join(tmp, "it's a %h")
rc, out, err = run("distribute", HEAD, "q1", "--rsh", RSH, "--remote-dir", qdir, "--remote-keys",
                   KEYS)
q1 = os.path.join(tmp, "it's a q1")
check(rc == 0 and key_of(os.path.join(q1, "server.pub")) == head_pub and
      key_of(os.path.join(HEAD, "allowed", "q1.pub")) == key_of(os.path.join(q1, "id.pub")),
      "a remote directory with a quote and a space: %r" % err)

# ---- failing hosts ---------------------------------------------------------------------------
with open(os.path.join(tmp, TRAP), "w") as f:  # a valid key the liar would like allowed
    f.write(run("new", node("other"))[1])
rc, out, err = dist("n5", "bad", "liar", "liar2", "n6")
check(rc == 1, "a failing host: exit 1: %r" % rc)
check("bad" in err and "255" in err, "the unreachable host is reported: %r" % err)
check("liar" in err and "not one public key" in err, "a node's answer that is not a key: refused")
check("5 hosts: 2 done, 3 failed" in out, "the summary counts them: %r" % out)
check("failed: bad liar liar2" in err, "the failed hosts listed: %r" % err)
for h in ("n5", "n6"):
    check(key_of(os.path.join(HEAD, "allowed", h + ".pub")) == key_of(node(h, "id.pub")) and
          key_of(node(h, "server.pub")) == head_pub, "%s done despite the failing hosts" % h)
for h in ("bad", "liar", "liar2"):
    check(not os.path.exists(os.path.join(HEAD, "allowed", h + ".pub")), "%s: nothing allowed" % h)

# an allowed file holding another key is never overwritten
allowed1 = os.path.join(HEAD, "allowed", "n1.pub")
os.unlink(allowed1)
check(run("allow", HEAD, node("other", "id.pub"), "--as", "n1")[0] == 0, "n1.pub replaced by hand")
rc, out, err = dist("n1", "n2")
check(rc == 1 and "not overwritten" in err and "n2: already allowed as" in out,
      "an allowed file with another key: n1 fails, n2 done: %r" % err)
check(key_of(allowed1) == key_of(node("other", "id.pub")), "the other key is still there")

# ---- allow: -, and the same key twice ---------------------------------------------------------
rc, out, err = run("allow", HEAD, "-", "--as", "stdin", stdin="# a comment\n%s\n" % node_pubs["n3"])
check(rc == 0 and key_of(os.path.join(HEAD, "allowed", "stdin.pub")) == node_pubs["n3"],
      "allow -: the key from the standard input: %r" % err)
rc, out, err = run("allow", HEAD, "-", "--as", "junk", stdin="junk\n")
check(rc == 1 and "standard input" in err, "allow - of junk: exit 1: %r" % err)
rc, out, err = run("allow", HEAD, node_pubs["n3"], "--as", "stdin")
check(rc == 0 and out.strip().endswith("allowed/stdin.pub"),
      "allow of the same key again: exit 0: %r %r" % (out, err))
dash = "-" + "0" * 39  # Z85 has '-': a key may look like an option
rc, out, err = run("allow", HEAD, dash, "--as", "dash")
check(rc == 0 and key_of(os.path.join(HEAD, "allowed", "dash.pub")) == dash,
      "allow of a key starting with '-': %r" % err)

shutil.rmtree(tmp, ignore_errors=True)
finish()
