"""Turn the hooks on at interpreter start when ULMA_MODE is set.

Imported by the one line of ``ulma-autostart.pth`` (installed next to the
package in a site directory) only when ``ULMA_MODE`` is set, so a process
that does not ask for profiling pays one environment lookup. Meant for
``mpirun -x ULMA_MODE=fast python3 app.py``: the command line stays as it
is. Variables: ULMA_MODE=fast|full|off, ULMA_OUTPUT=FILE (pstats),
ULMA_JSON=FILE, ULMA_SORT=KEY, ULMA_BLOCKING=1, ULMA_NO_AGENT=1, ULMA_DIR.
Never raises: a problem is reported on stderr and the program runs unhooked.
"""
import os
import sys


def _launched_by_ulma():
    argv = getattr(sys, "orig_argv", None) or []
    for i, a in enumerate(argv[:-1]):
        if a == "-m" and argv[i + 1] == "ulma":
            return True
    return False


def _run():
    if os.environ.get("ULMA_AUTOSTARTED") == str(os.getpid()) or _launched_by_ulma():
        return
    from ulma import _launch

    _launch.autostart(os.environ.get("ULMA_MODE", ""))


try:
    _run()
except Exception as e:  # never break the program for its profiler
    sys.stderr.write("ulma: autostart failed, running without profiling: %s\n" % (e,))
