"""Finding, starting and waiting for ulma-agent (private agent contract).

A node agent holds an exclusive flock on <dir>/ulma-agent.lock while it
runs. When there is none, or when the user asked for output files or a
printed table, the program gets a private agent, which checks its options
and writes one byte on the pipe given by --go-fd before the program may run
(end of file: it refused, and said why on stderr). The segment is reserved
for it (header.reader_pid = the agent's pid).

python3 -m ulma forks: the child runs the program, the parent executes

    ulma-agent --private <child> --go-fd <fd> --wait-child --dir <dir> [...]

and the agent exits as the child did (see _launch._fork_under_agent).
Under ULMA_MODE (no launcher) the agent is started beside the program,

    ulma-agent --private <pid> --go-fd <fd> --dir <dir> [...]

and the program waits for it at exit.
"""
import fcntl
import os
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


def find_agent(directory):
    """The agent's path, or None after a warning if there is none."""
    path = agent_path()
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    sys.stderr.write(
        "ulma: warning: no agent at %s; profiling without one (the segment stays in %s "
        "for a later agent; no table or files will be written)\n" % (path, directory))
    sys.stderr.flush()
    return None


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


def agent_env():
    """The agent's environment: the program's, without what would profile
    the agent itself or make it start agents of its own, and without the
    MPI wrappers the launcher preloaded for the program."""
    env = {k: v for k, v in os.environ.items() if k not in ("ULMA_MODE", "ULMA_AGENT_PID")}
    lib = mpi_lib_path()
    if lib and env.get("ULMA_MPI_PRELOADED") == "1" and "LD_PRELOAD" in env:
        keep = [p for p in env["LD_PRELOAD"].replace(":", " ").split() if p != lib]
        if keep:
            env["LD_PRELOAD"] = ":".join(keep)
        else:
            del env["LD_PRELOAD"]
    return env


def private_command(directory, owner_pid, sort=None, output=None, json_file=None, exports=None,
                    go_fd=None, wait_child=False, no_table=False):
    """The command line of a private agent (file names passed unexpanded).
    `exports`: {"--svg": FILE, ...} passed through as they are. --private,
    --go-fd and --wait-child come first: the agent can then kill the
    waiting child even when a later option is bad."""
    cmd = [agent_path(), "--private", str(owner_pid)]
    if go_fd is not None:
        cmd += ["--go-fd", str(go_fd)]
    if wait_child:
        cmd.append("--wait-child")
    cmd += ["--dir", directory]
    for opt, path in sorted((exports or {}).items()):
        cmd += [opt, path]
    if sort:
        cmd += ["-s", sort]
    if output:
        cmd += ["-o", output]
    if json_file:
        cmd += ["--json", json_file]
    if no_table:
        cmd.append("--no-table")
    return cmd


def spawn_private(directory, owner_pid, sort=None, output=None, json_file=None, exports=None,
                  no_table=False):
    """Start a private agent beside this process and wait until it is ready
    (its go byte). Returns the process; None (after a warning) if there is
    no agent; False if the agent refused its options (it said why)."""
    import subprocess  # here: the launcher's path does not need it

    if find_agent(directory) is None:
        return None
    rfd, wfd = os.pipe()
    cmd = private_command(directory, owner_pid, sort, output, json_file, exports, go_fd=wfd,
                          no_table=no_table)
    try:
        # its own session: a Ctrl-C aimed at the program leaves the agent to
        # finish the table; it ends by itself when the segment is done
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True,
                                env=agent_env(), pass_fds=(wfd,))
    except OSError as e:
        sys.stderr.write("ulma: warning: cannot start %s: %s; profiling without an agent\n"
                         % (cmd[0], e))
        sys.stderr.flush()
        return None
    finally:
        os.close(wfd)
    try:
        go = os.read(rfd, 1)
    finally:
        os.close(rfd)
    if not go:
        proc.wait()
        return False
    return proc


def _exited_within(pid, timeout):
    """True once `pid` has ended, False after `timeout` s; None if this
    kernel cannot tell through a pidfd. Woken by the end itself: no
    polling (Popen.wait with a timeout sleeps and looks again)."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None
    import select

    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        return bool(p.poll(timeout * 1000.0))
    finally:
        os.close(fd)


def wait(proc, timeout=WAIT_SECONDS):
    """Wait for the private agent to finish; give up after `timeout` s."""
    import subprocess

    if proc is None:
        return None
    try:
        if _exited_within(proc.pid, timeout) is not False:
            return proc.wait(timeout)
        raise subprocess.TimeoutExpired(proc.args, timeout)
    except subprocess.TimeoutExpired:
        sys.stderr.write("ulma: the agent (pid %d) did not finish within %.0f s; "
                         "not waiting for it\n" % (proc.pid, timeout))
        sys.stderr.flush()
        return None
