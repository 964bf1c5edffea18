"""Finding, starting and waiting for ulma-agent (private agent contract).

A node agent holds an exclusive flock on <dir>/ulma-agent.lock while it
runs. When there is none, or when the user asked for output files or a
printed table, the launcher starts a private agent before it creates the
segment:

    ulma-agent --private <launcher pid> --dir <dir> [-s KEY] [-o FILE] [--json FILE]

and reserves the segment for it (header.reader_pid = the agent's pid). At
the end the launcher marks the segment exited and waits for the agent to
print its table and exit.
"""
import fcntl
import os
import subprocess
import sys

LOCK_NAME = "ulma-agent.lock"
WAIT_SECONDS = 60.0


def agent_path():
    """$ULMA_AGENT, else the agent next to this copy of ulma."""
    env = os.environ.get("ULMA_AGENT")
    if env:
        return env
    try:
        from . import _build_config

        return _build_config.AGENT
    except ImportError:
        return "ulma-agent"


def mpi_lib_path():
    """$ULMA_MPI_LIB, else libulma-mpi.so next to this copy of ulma, or None."""
    env = os.environ.get("ULMA_MPI_LIB")
    if env:
        return env
    try:
        from . import _build_config

        return getattr(_build_config, "MPI_LIB", None)
    except ImportError:
        return None


def node_agent_running(directory):
    """True if a node agent holds the lock of `directory`."""
    path = os.path.join(directory, LOCK_NAME)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def private_command(directory, owner_pid, sort=None, output=None, json_file=None, exports=None):
    """The command line of a private agent (file names passed unexpanded).
    `exports`: {"--svg": FILE, ...} passed through as they are."""
    cmd = [agent_path(), "--private", str(owner_pid), "--dir", directory]
    for opt, path in sorted((exports or {}).items()):
        cmd += [opt, path]
    if sort:
        cmd += ["-s", sort]
    if output:
        cmd += ["-o", output]
    if json_file:
        cmd += ["--json", json_file]
    return cmd


def spawn_private(directory, owner_pid, sort=None, output=None, json_file=None, exports=None):
    """Start a private agent; None (after a warning) if there is no agent."""
    cmd = private_command(directory, owner_pid, sort, output, json_file, exports)
    if not os.path.isfile(cmd[0]) or not os.access(cmd[0], os.X_OK):
        sys.stderr.write(
            "ulma: warning: no agent at %s; profiling without one (the segment stays in %s "
            "for a later agent; no table or files will be written)\n" % (cmd[0], directory))
        sys.stderr.flush()
        return None
    try:
        # its own session: a Ctrl-C aimed at the program leaves the agent to
        # finish the table; it ends by itself when the segment is done
        # never profile the agent itself (nor let it start agents of its own)
        env = {k: v for k, v in os.environ.items() if k not in ("ULMA_MODE", "ULMA_AGENT_PID")}
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    except OSError as e:
        sys.stderr.write("ulma: warning: cannot start %s: %s; profiling without an agent\n"
                         % (cmd[0], e))
        sys.stderr.flush()
        return None


def wait(proc, timeout=WAIT_SECONDS):
    """Wait for the private agent to finish; give up after `timeout` s."""
    if proc is None:
        return None
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        sys.stderr.write("ulma: the agent (pid %d) did not finish within %.0f s; "
                         "not waiting for it\n" % (proc.pid, timeout))
        sys.stderr.flush()
        return None
