"""ulma: the in-process side of ULMA clustertop, a live deterministic profiler.

    import ulma
    ulma.enable(mode="fast")       # or "full"
    ...
    ulma.disable()

    with ulma.profile(mode="full"):
        ...

    ulma.status()                  # dict: mode, segment, dropped, ...

Records go into this process's shared-memory segment (one ring per thread)
in $ULMA_DIR (default /dev/shm); a node agent (ulma-agent) drains them.
Modes: "fast" wraps CPython's frame evaluation (Python frames only, the
cheapest); "full" also sees C functions, like cProfile. On CPython 3.11 full
mode is the C profile hook, and only one exists per thread: while the
program's own profile function (sys.setprofile, cProfile...) holds a
thread's hook, full mode is paused on that thread, said once on standard
error and shown in status()["hook_status"]; ulma takes the hook back when
the program removes its function. On 3.12 and 3.13 full mode is a
sys.monitoring tool of its own (id 4, else 3), beside which the program's
profile function and cProfile run, taking nothing. Switching modes never
cuts the frames that stay open.
"""
import contextlib
import os
import sys
import threading

from . import _ulma

__all__ = ["enable", "disable", "profile", "status", "start", "stop", "MODES"]

MODES = {"off": _ulma.MODE_OFF, "fast": _ulma.MODE_FAST, "full": _ulma.MODE_FULL}
_MODE_NAMES = {v: k for k, v in MODES.items()}
_started_pid = None


def _mode_value(mode):
    if isinstance(mode, int) and mode in _MODE_NAMES:
        return mode
    try:
        return MODES[str(mode).lower()]
    except KeyError:
        raise ValueError("ulma: unknown mode %r (use fast, full or off)" % (mode,)) from None


def _after_fork_child():
    if _ulma.status()["mode"]:
        t = threading.current_thread()
        _ulma.name_thread(threading.get_native_id(), t.name)


def start(exe=None, reader_pid=0, control=0):
    """Create this process's segment (once) and return its path.

    `reader_pid`: the agent reserved to drain it (0: any node agent).
    `control`: the initial control word stored in the header."""
    global _started_pid
    if exe is None:
        exe = sys.argv[0] if sys.argv and sys.argv[0] else sys.executable
    path = _ulma.start(exe, int(reader_pid), int(control))
    if _started_pid is None:
        import atexit

        # no control request may take the GIL once the interpreter goes down
        atexit.register(_ulma.detach_handler)
        os.register_at_fork(after_in_child=_after_fork_child)
    _started_pid = os.getpid()
    return path


def stop():
    """Switch the hooks off and mark the segment exited (its records stay
    for the agent)."""
    _ulma.stop()


def enable(mode="fast", blocking=None, objects=None):
    """Turn profiling on for every thread of the process, present and future.

    `blocking`: True makes writers wait (bounded) for the agent instead of
    dropping records when a ring is full. `objects`: True also installs the
    object wedges (construction/destruction events of builtins and class
    instances, see OBJECTS.md), False removes them, None leaves them."""
    m = _mode_value(mode)
    if m != _ulma.MODE_OFF and not _ulma.status()["segment"]:
        start()
    _ulma.set_mode(m, -1 if blocking is None else int(bool(blocking)))
    if objects is not None and m != _ulma.MODE_OFF:
        _ulma.set_objects(bool(objects))


def disable():
    """Uninstall every hook, object wedges included: the program runs at
    full speed again."""
    _ulma.set_mode(_ulma.MODE_OFF)


@contextlib.contextmanager
def profile(mode="fast", blocking=None, objects=None):
    """Profile the body of a with statement, then restore the previous mode."""
    before = _ulma.status()["mode"]
    before_objects = _ulma.status().get("objects", False)
    enable(mode, blocking, objects)
    try:
        yield
    finally:
        _ulma.set_mode(before)
        if objects is not None and before != _ulma.MODE_OFF:
            _ulma.set_objects(bool(before_objects))


def status():
    """State of the hooks: mode, segment path, pid, reader_pid, dropped
    records, problems counted, threads_lost, blocking, ..."""
    d = _ulma.status()
    d["mode"] = _MODE_NAMES.get(d["mode"], str(d["mode"]))
    d.pop("eval_frame", None)
    return d
