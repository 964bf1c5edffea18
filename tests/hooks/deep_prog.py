"""Child of test_deep: recursion as deep as unprofiled CPython 3.11 goes
(its Python-to-Python calls use no C stack), in the main thread and in
threads with the default, a 256 KiB and a 64 KiB stack; then the depth at
which RecursionError comes.

    deep_prog.py [fast|full]    with ulma.enable(mode) around it (in process)
"""
import sys
import threading
import traceback

DEPTH = 30000


def down(n):
    return 0 if n == 0 else 1 + down(n - 1)


def endless(n):
    return endless(n + 1)


def recursion_error_depth():
    try:
        endless(0)
    except RecursionError as e:
        return len(traceback.extract_tb(e.__traceback__))
    return -1


def main(argv):
    mode = argv[1] if len(argv) > 1 else None
    if mode:
        import ulma
        ulma.enable(mode)
    sys.setrecursionlimit(100000)
    out = {"main": down(DEPTH)}

    def work(name):
        out[name] = down(DEPTH)

    for name, size in (("default", 0), ("256k", 256 << 10), ("64k", 64 << 10)):
        threading.stack_size(size)
        t = threading.Thread(target=work, args=(name,), name="deep-" + name)
        t.start()
        t.join()
    threading.stack_size(0)
    sys.setrecursionlimit(50000)
    err = recursion_error_depth()
    if mode:
        import ulma
        ulma.disable()
        print("segment", ulma.status()["segment"])
    print("depths", *("%s=%d" % kv for kv in sorted(out.items())))
    print("recursion_error", err)


main(sys.argv)
