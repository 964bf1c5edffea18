"""Program for test_launcher: behaviour chosen by argv[1]."""
import sys


def deep(n):
    if n == 0:
        raise RuntimeError("boom at the bottom")
    return deep(n - 1)


what = sys.argv[1]
print("argv", sys.argv)
print("name", __name__, __file__ == sys.argv[0], sys.path[0], __spec__, __package__)
print("main", sys.modules["__main__"].__dict__ is globals())
sys.stderr.write("to stderr\n")
if what == "exit3":
    sys.exit(3)
if what == "exitmsg":
    sys.exit("bad things")
if what == "raise":
    deep(3)
if what == "status":
    import ulma
    print("reader", ulma.status()["reader_pid"], flush=True)
