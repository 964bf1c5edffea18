"""check() and finish() for the Python tests (the twin of tests/unit/check.h).

A failed check is printed and counted, and the test goes on so that it
reports every failure; finish() prints `N passed, N failed` and exits with
the status (1 if anything failed). Tests put this folder on sys.path:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
"""
import sys

failures = []
_passed = 0


def check(cond, what):
    """Record one assertion; returns `cond` so that callers can branch on it."""
    global _passed
    if cond:
        _passed += 1
    else:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def finish():
    print("%d passed, %d failed" % (_passed, len(failures)))
    sys.exit(1 if failures else 0)
