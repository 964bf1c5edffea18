"""The launcher (python3 -m ulma) and the autostart session behind ULMA_MODE."""
import atexit
import builtins
import io
import os
import sys
import types

import ulma
from ulma import _agent, _ulma

HELP = """\
NAME
    python3 -m ulma - run a Python program under the ULMA profiler

SYNOPSIS
    python3 -m ulma [options] script.py [args ...]
    python3 -m ulma [options] -m module [args ...]

DESCRIPTION
    Runs the program as `python3 script.py args` (or `python3 -m module args`)
    would: same sys.argv, __main__ module, sys.path[0], output and exit
    status, including SystemExit codes and the traceback of an uncaught
    exception. Every Python thread of the program writes cycle-stamped
    call and return records into its own ring of a shared-memory segment
    (<dir>/ulma.<uid>.<pid>.<starttime>.seg); an agent (ulma-agent) drains
    it on another CPU and builds the cProfile-compatible top table.

    If no node agent runs (one holds an exclusive lock on
    <dir>/ulma-agent.lock), or if -o, --json, -s or an export option is
    given, the program gets a private agent. Every option is checked first,
    and the script compiled (a usage error, an unknown or ambiguous sort key,
    an output file whose directory does not exist or is not writable: exit 2,
    nothing runs; a syntax error: python3's message and status). Then the
    launcher forks: the program runs in the child, in the interpreter already
    started, and the launcher's own process becomes the agent (ulma-agent
    --private CHILD --wait-child), so that the pid the shell or mpirun waits
    for ends only after the report: the table is printed when the program
    ends, whatever the way (return, sys.exit, an uncaught exception,
    os._exit, a signal), then the files are written. Signals sent to that
    pid (SIGTERM, SIGUSR1, SIGUSR2; SIGINT, SIGQUIT, SIGHUP when sent with
    kill) are passed on to the program; Ctrl-C on the terminal reaches the
    program directly. A SIGKILL cannot be passed on: it ends the agent, and
    the program runs on unreported. Processes the program forks or spawns are reported by
    the same agent, each with its own table. Seen from the program, the only
    difference is os.getppid(), the agent's pid.

    With a node agent running and nothing to print or write, the program
    runs in the launcher's own process, and the node agent profiles it.
    With no ulma-agent installed, the program still runs profiled and a
    warning says that nothing will be printed.

    Under MPI: mpirun -np 4 python3 -m ulma app.py. Without changing the
    command line: mpirun -x ULMA_MODE=fast python3 app.py (see ENVIRONMENT).

OPTIONS
    --mode fast|full
        fast (default): wrap CPython's frame evaluation; every Python
        function call, generator/coroutine resume, return, suspension and
        exit by exception is recorded, C functions are not.
        full: adds calls of C functions (builtins, extension methods),
        named as cProfile names them. Slower: on CPython 3.11 it is the
        C profile hook on every thread, for which CPython makes a frame
        object per call; on 3.12 and 3.13 a sys.monitoring tool of its own.
    -o FILE
        Write pstats data to FILE (readable with pstats.Stats). As with
        python3 -m cProfile, no table is printed then (-s included).
    --json FILE
        Write the whole profile as JSON to FILE (schema: node-agent/README.md).
    -s KEY
        Sort the printed table by KEY: calls, cumulative, cumtime,
        filename, line, module, name, ncalls, nfl, pcalls, stdname
        (default), time, tottime, or a unique prefix of one of them.
        FILE names may contain {rank} and {pid}, expanded by the agent; a
        process forked by the program gets .<pid> appended to a name
        without {pid}.
    --collapsed FILE, --speedscope FILE, --pprof FILE, --svg FILE
        Also write the call paths as collapsed stacks (flame graph text),
        a speedscope JSON file, a gzipped pprof profile, or a standalone
        SVG flame graph. {rank} and {pid} are expanded as for -o.
    --objects
        Also record object constructions and destructions (int, float,
        str, bytes, list, dict, tuple, set and instances of classes, with
        their sizes), attributed to the function that made them; see
        hooks/objects/OBJECTS.md for what is exact. Costs nothing while off.
    --blocking
        Never drop records: a writer whose ring is full waits for the agent
        (giving up after 0.2 s without progress, so a stuck agent cannot
        hang the program).
    --off
        Load the hooks but leave them off: the program runs at full speed
        until an agent switches profiling on through the control word.
    --no-agent
        Never start an agent: no fork, the program runs in this process and
        its segment is left for a node agent. Prints no table and writes no
        file, so -o, -s, --json and the export options are usage errors.
    --dir DIR
        Segment directory (default: $ULMA_DIR, else /dev/shm).
    -h, --help
        Show this text and exit.

ENVIRONMENT
    ULMA_DIR      segment directory when --dir is not given
    ULMA_AGENT    path of the ulma-agent binary to start
    ULMA_MODE     fast|full|off: with ulma-autostart.pth installed, turns the
                  hooks on at interpreter start without `-m ulma`; then also
                  ULMA_OUTPUT=FILE (as -o), ULMA_JSON=FILE (as --json),
                  ULMA_SORT=KEY (as -s), ULMA_BLOCKING=1, ULMA_NO_AGENT=1.
                  Its private agent runs beside the program, which waits
                  for it at exit; a bad option only warns (the program runs
                  unprofiled). An os._exit() or a kill skips that wait: the
                  report still comes, but after the program ended.
    ULMA_SLOTS, ULMA_RING_SIZE
                  threads per process and bytes per thread ring
    ULMA_NO_MPI_PRELOAD=1
                  under mpirun (Open MPI, PMI, Slurm rank variables set) the
                  launcher re-executes the interpreter once with
                  libulma-mpi.so in LD_PRELOAD, so that MPI calls are
                  recorded; this turns that off

EXIT STATUS
    The program's own: 0, its SystemExit code, 1 after an uncaught
    exception or a syntax error, its os._exit() code, or the signal that
    killed it (re-raised once the report is out, so the shell sees the same
    death); 2 for a usage error of this launcher (nothing runs) or a missing
    script. 1 when the program ended with 0 but a file could not be
    written at the end (the table is printed all the same, the message says
    which file).

EXAMPLES
    python3 -m ulma -s cumulative app.py --size 10
    python3 -m ulma --mode full -o app.{pid}.pstats -m mypkg.tool
    mpirun -np 4 python3 -m ulma --json prof.{rank}.json app.py
"""

USAGE = ("usage: python3 -m ulma [--mode fast|full] [-o FILE] [--json FILE] [-s KEY] "
         "[--collapsed FILE] [--speedscope FILE] [--pprof FILE] [--svg FILE] "
         "[--objects] [--blocking] [--off] [--no-agent] [--dir DIR] "
         "(script.py | -m module) [args ...]\n")


class UsageError(Exception):
    pass


class Options:
    def __init__(self):
        self.mode = "fast"
        self.output = None
        self.json = None
        self.exports = {}
        self.sort = None
        self.objects = False
        self.blocking = False
        self.off = False
        self.no_agent = False
        self.dir = None
        self.module = None
        self.script = None
        self.args = []


_WITH_VALUE = {"--mode": "mode", "-o": "output", "--json": "json", "-s": "sort", "--dir": "dir"}
_EXPORTS = ("--collapsed", "--speedscope", "--pprof", "--svg")
_FLAGS = {"--objects": "objects", "--blocking": "blocking", "--off": "off",
          "--no-agent": "no_agent"}


def parse(argv):
    """Options up to the script or -m module; everything after belongs to
    the program."""
    o = Options()
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            sys.stdout.write(HELP)
            raise SystemExit(0)
        if a == "-m":
            if i + 1 >= len(argv):
                raise UsageError("-m needs a module name")
            o.module, o.args = argv[i + 1], argv[i + 2:]
            break
        if a == "--":
            if i + 1 >= len(argv):
                raise UsageError("no script given")
            o.script, o.args = argv[i + 1], argv[i + 2:]
            break
        key, val = a, None
        if a.startswith("--") and "=" in a:
            key, val = a.split("=", 1)
        elif a[:2] in ("-o", "-s") and len(a) > 2:
            key, val = a[:2], a[2:]
        if key in _WITH_VALUE or key in _EXPORTS:
            if val is None:
                if i + 1 >= len(argv):
                    raise UsageError("%s needs a value" % key)
                i += 1
                val = argv[i]
            if key in _EXPORTS:
                o.exports[key] = val
            else:
                setattr(o, _WITH_VALUE[key], val)
        elif key in _FLAGS and val is None:
            setattr(o, _FLAGS[key], True)
        elif a.startswith("-") and a != "-":
            raise UsageError("unknown option %s" % a)
        else:
            o.script, o.args = a, argv[i + 1:]
            break
        i += 1
    if o.mode not in ("fast", "full"):
        raise UsageError("--mode must be fast or full")
    if o.no_agent and (o.output or o.json or o.sort or o.exports):
        raise UsageError("--no-agent prints no table and writes no file: drop -o, -s, --json, "
                         "--collapsed, --speedscope, --pprof and --svg, or --no-agent")
    if o.script is None and o.module is None:
        raise UsageError("no script or -m module given")
    return o


class Session:
    """One profiled process: segment, hooks, and the end of it all.

    `reader`: the pid of the agent the segment is reserved for (0: any
    node agent). `agent`: a private agent process this process started and
    waits for at exit (the ULMA_MODE path), or None."""

    def __init__(self, mode, directory, reader=0, objects=False, blocking=False, off=False,
                 exe=None, deferred=False, agent=None):
        self.owner = os.getpid()
        self.agent = agent
        self.interrupted = False
        self.directory = directory
        os.environ["ULMA_DIR"] = directory  # the runtime and our children agree
        if reader:
            # children (fork, spawn) report to the same agent
            os.environ["ULMA_AGENT_PID"] = str(reader)
        m = ulma.MODES[mode]
        control = ((0 if off else m) | (_ulma.CTL_OBJECTS if objects else 0)
                   | (_ulma.CTL_BLOCKING if blocking else 0))
        self.path = ulma.start(exe, reader, control)
        atexit.register(self.finish)
        self.mode, self.objects, self.blocking, self.off = m, objects, blocking, off
        if not deferred:
            self.begin()

    def prepare(self):
        """What turning the hooks on costs once per process, done ahead
        (while the agent starts): fast mode on and off again at once (on
        CPython 3.11 before 3.11.4 its first start re-versions functions,
        tens of ms); no frame runs in between, so nothing is recorded."""
        if self.off:
            return
        if self.mode == _ulma.MODE_FAST:
            _ulma.set_mode(_ulma.MODE_FAST, 1 if self.blocking else 0)
            _ulma.set_mode(_ulma.MODE_OFF)
        if self.objects:
            import ulma._objects  # noqa: F401 (loaded here, installed by begin)

    def discard(self):
        """The program will not run: hooks off, the segment removed."""
        try:
            _ulma.stop()
            os.unlink(self.path)
        except (OSError, RuntimeError):
            pass

    def begin(self):
        """Hooks on (unless started off)."""
        if not self.off:
            _ulma.set_mode(self.mode, 1 if self.blocking else 0)
            if self.objects:
                _ulma.set_objects(True)

    def finish(self):
        """At exit: hooks off, segment exited, output flushed, agent done."""
        try:
            _ulma.stop()
        except Exception:
            pass
        for f in (sys.stdout, sys.stderr):
            try:
                f.flush()
            except Exception:
                pass
        if os.getpid() == self.owner and self.agent is not None:
            _agent.wait(self.agent)
        if self.interrupted:
            import signal  # here: the launcher's path does not need it

            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)


def _inherited_agent():
    """The private agent of a parent process, if it still runs."""
    try:
        pid = int(os.environ.get("ULMA_AGENT_PID", "0"))
        if pid > 0:
            os.kill(pid, 0)
            return pid
    except (ValueError, OSError):
        pass
    return 0


def _exit_status(e):
    """What the interpreter does with an uncaught SystemExit."""
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    try:
        sys.stderr.write(str(code) + "\n")
    except Exception:
        pass
    return 1


def _main_module(name="__main__"):
    mod = types.ModuleType(name)
    mod.__dict__.update(__builtins__=builtins, __annotations__={}, __package__=None,
                        __spec__=None, __loader__=None)
    return mod


def _prepare_script(path):
    """Compile a script and give it a fresh __main__ module. Returns (code,
    module) or an exit status."""
    try:
        with io.open_code(path) as f:
            source = f.read()
    except OSError as e:
        sys.stderr.write("%s: can't open file %r: [Errno %d] %s\n"
                         % (sys.executable, os.path.abspath(path), e.errno, e.strerror))
        return 2
    from importlib.machinery import SourceFileLoader

    mod = _main_module()
    full = os.path.abspath(path)
    mod.__file__ = full
    mod.__cached__ = None
    mod.__loader__ = SourceFileLoader("__main__", full)
    sys.argv[:] = [path]
    sys.path[0] = os.path.dirname(os.path.realpath(path))
    try:
        code = compile(source, full, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        return _compile_error(e)
    return code, mod


def _compile_error(e):
    """A script that does not compile: the message python3 prints (no
    frames of ours), and its status."""
    e.__traceback__ = None  # our compile() call, which python3 does not show
    sys.excepthook(type(e), e, None)
    return 1


def _prepare_module(name):
    import runpy

    try:
        mod_name, spec, code = runpy._get_module_details(name, runpy._Error)
    except runpy._Error as e:
        sys.stderr.write("%s: %s\n" % (sys.executable, e))
        return 1
    except (SyntaxError, ValueError) as e:
        return _compile_error(e)
    mod = _main_module()
    mod.__dict__.update(__file__=spec.origin, __cached__=spec.cached, __loader__=spec.loader,
                        __package__=spec.parent, __spec__=spec)
    sys.argv[:] = [spec.origin]
    return code, mod


def _run(code, mod, session):
    """Run the program's code as __main__; return its exit status. The hooks
    go on just before the program's first line and off right after its
    last, so that the launcher's own frames are not in the profile (as with
    cProfile)."""
    sys.modules["__main__"] = mod
    try:
        session.begin()
        try:
            exec(code, mod.__dict__)
        finally:
            _ulma.set_mode(_ulma.MODE_OFF)  # a C call: no frame of ours recorded
    except SystemExit as e:
        return _exit_status(e)
    except BaseException as e:
        tb = e.__traceback__.tb_next if e.__traceback__ else None  # our own frame
        e.__traceback__ = tb
        sys.excepthook(type(e), e, tb)
        if isinstance(e, KeyboardInterrupt):
            session.interrupted = True
        return 1
    return 0


_MPI_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID")


def preload_mpi():
    """Under an MPI launcher, re-execute this interpreter once with
    libulma-mpi.so preloaded, so that the program's MPI calls are recorded.
    Returns only if no re-execution is needed or possible."""
    env = os.environ
    if env.get("ULMA_NO_MPI_PRELOAD") == "1" or env.get("ULMA_MPI_PRELOADED") == "1":
        return
    if not any(v in env for v in _MPI_RANK_VARS):
        return
    lib = _agent.mpi_lib_path()
    if not lib or not os.path.isfile(lib):
        return
    if lib in env.get("LD_PRELOAD", "").replace(":", " ").split():
        return
    argv = list(getattr(sys, "orig_argv", []))
    if not argv:
        return
    new = dict(env)
    # appended: a sanitizer runtime already there must stay first
    new["LD_PRELOAD"] = (env["LD_PRELOAD"] + ":" if env.get("LD_PRELOAD") else "") + lib
    new["ULMA_MPI_PRELOADED"] = "1"
    for f in (sys.stdout, sys.stderr):
        f.flush()
    try:
        os.execve(sys.executable, argv, new)
    except OSError as e:
        sys.stderr.write("ulma: warning: cannot preload %s (%s); MPI calls are not recorded\n"
                         % (lib, e))


def _needs_private_agent(o, directory):
    """A private agent is started for the program unless told not to, or a
    node agent runs and no output (table or file) is asked for."""
    if o.no_agent or _inherited_agent():
        return False
    return bool(o.output or o.json or o.sort or o.exports
                or not _agent.node_agent_running(directory))


def _fork_under_agent(o, directory, agent, exe):
    """The launcher's protocol with its private agent (--go-fd,
    --wait-child). Fork; the parent executes the agent, which keeps this
    pid (the one the shell or mpirun waits for), checks its options, writes
    one byte on the pipe, drains, reports and exits with the child's status.
    The child makes its segment (reserved for that pid) and does fast
    mode's one-time preparation while the agent starts, then waits for the
    byte and returns its Session to run the program; end of file means the
    agent refused (its message said why): the child removes its segment
    and leaves without running anything. Returns in the child only; None if
    the agent could not be executed (the program then runs here without
    one)."""
    rfd, wfd = os.pipe()
    os.set_inheritable(wfd, True)
    # everything the parent needs is ready before the fork: it only execs
    cmd = _agent.private_command(directory, 0, o.sort, o.output, o.json, o.exports,
                                 go_fd=wfd, wait_child=True, no_table=bool(o.output))
    cmd[0] = agent
    env = _agent.agent_env()
    for f in (sys.stdout, sys.stderr):
        f.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(wfd)
        session = Session(o.mode, directory, parent, o.objects, o.blocking, o.off, exe=exe,
                          deferred=True)
        session.prepare()
        try:
            go = os.read(rfd, 1)
        except KeyboardInterrupt:
            session.discard()
            import signal

            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
            go = b""
        os.close(rfd)
        if not go:
            session.discard()
            os._exit(2)
        return session
    os.close(rfd)
    cmd[2] = str(pid)  # ["ulma-agent", "--private", PID, ...]
    try:
        os.execve(agent, cmd, env)
    except OSError as e:
        sys.stderr.write("ulma: warning: cannot start %s: %s; profiling without an agent\n"
                         % (agent, e))
    os.close(wfd)  # the child leaves on end of file
    os.waitpid(pid, 0)
    return None


def main(argv):
    try:
        o = parse(argv)
    except UsageError as e:
        sys.stderr.write(USAGE + "python3 -m ulma: error: %s\n" % e)
        return 2
    preload_mpi()
    directory = o.dir or os.environ.get("ULMA_DIR") or "/dev/shm"
    if not os.path.isdir(directory):
        sys.stderr.write(USAGE + "python3 -m ulma: error: segment directory %s is not a directory "
                         "(--dir, $ULMA_DIR)\n" % directory)
        return 2
    if o.script is not None:
        prep = _prepare_script(o.script)
        exe = o.script
    else:
        prep = _prepare_module(o.module)
        exe = o.module
    if isinstance(prep, int):
        return prep
    code, mod = prep
    sys.argv.extend(o.args)
    session = None
    if _needs_private_agent(o, directory):
        agent = _agent.find_agent(directory)
        if agent is not None:
            session = _fork_under_agent(o, directory, agent, exe)
    if session is None:
        session = Session(o.mode, directory, _inherited_agent(), o.objects, o.blocking, o.off,
                          exe=exe, deferred=True)
    return _run(code, mod, session)


def autostart(mode):
    """ULMA_MODE at interpreter start (see _autostart.py). The program
    started without the launcher, so nothing waits for the agent but this
    process's own exit: a private agent is started beside it (in its own
    session) and waited for at exit. An os._exit() or a kill skips that
    wait: the agent still reports, but after the process ended (and after
    the shell's prompt is back)."""
    mode = mode.strip().lower()
    if mode not in ulma.MODES:
        raise ValueError("ULMA_MODE=%r: use fast, full or off" % mode)
    preload_mpi()
    os.environ["ULMA_AUTOSTARTED"] = str(os.getpid())
    env = os.environ.get
    directory = env("ULMA_DIR") or "/dev/shm"
    output, json_file, sort = env("ULMA_OUTPUT") or None, env("ULMA_JSON") or None, \
        env("ULMA_SORT") or None
    reader, proc = _inherited_agent(), None
    if not reader and env("ULMA_NO_AGENT") != "1" and (
            output or json_file or sort or not _agent.node_agent_running(directory)):
        proc = _agent.spawn_private(directory, os.getpid(), sort, output, json_file,
                                    no_table=bool(output))
        if proc is False:
            # the agent refused (a bad option; it said which): no segment
            sys.stderr.write("ulma: autostart: running without profiling\n")
            return
        if proc is not None:
            reader = proc.pid
    Session("fast" if mode == "off" else mode, directory, reader,
            blocking=env("ULMA_BLOCKING") == "1", off=(mode == "off"), exe=None, agent=proc)
