"""The correctness corpus: a deterministic program whose per-function call
counts through `python3 -m ulma` must equal cProfile's (test_corpus.py).

It runs the hooks' workload (tests/hooks/workload_calls.py: recursion,
generators, coroutines, exceptions, methods, properties, closures, lambdas,
comprehensions, context managers, builtins) and adds mutual recursion,
recursion through a generator, and threads."""
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hooks"))
import workload_calls  # noqa: E402  (runs its main() as it is imported)


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


def tree_sum(node):
    return node[0] + sum(tree_sum(c) for c in node[1])


def thread_work(n, out):
    # (two generator expressions on one line would share cProfile's row key)
    a = sum(workload_calls.fib(k) for k in range(n))
    out.append(a + sum(x * 2 for x in range(n)))


def in_threads():
    out = []
    threads = [threading.Thread(target=thread_work, args=(8 + i, out), name="worker-%d" % i)
               for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(out)


def main():
    assert is_even(10) and is_odd(7)
    assert tree_sum((1, [(2, []), (3, [(4, [])])])) == 10
    in_threads()


main()
