"""The correctness corpus: a deterministic program whose per-function call
counts through `python3 -m ulma` must equal cProfile's (test_corpus.py)."""
import asyncio
import threading
import contextlib
import math


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def countdown(n):
    while n > 0:
        yield n
        n -= 1


def delegating(n):
    yield from countdown(n)
    yield -1


def half_consumed():
    g = countdown(10)
    next(g)
    next(g)
    g.close()


class Shape:
    def __init__(self, size):
        self.size = size

    def area(self):
        return self.size * self.size

    @property
    def double(self):
        return self.area() * 2

    @staticmethod
    def unit():
        return Shape(1)

    @classmethod
    def make(cls, n):
        return [cls(i) for i in range(n)]


def make_adder(k):
    def add(x):
        return x + k
    return add


def thrower(depth):
    if depth == 0:
        raise KeyError("deep")
    return thrower(depth - 1)


def catcher():
    caught = 0
    for _ in range(3):
        try:
            thrower(4)
        except KeyError:
            caught += 1
    return caught


async def leaf(i):
    await asyncio.sleep(0)
    return i


async def gather_all(n):
    total = 0
    for i in range(n):
        total += await leaf(i)
    results = await asyncio.gather(*(leaf(i) for i in range(n)))
    return total + sum(results)


@contextlib.contextmanager
def managed(log):
    log.append("in")
    yield len(log)
    log.append("out")


def uses_builtins(n):
    data = []
    for i in range(n):
        data.append(math.sqrt(i))
        if isinstance(i, int):
            data.append(len(data))
    return sorted(data)


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


def tree_sum(node):
    return node[0] + sum(tree_sum(c) for c in node[1])


def thread_work(n, out):
    # (two generator expressions on one line would share cProfile's row key)
    a = sum(fib(k) for k in range(n))
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
    fib(12)
    assert is_even(10) and is_odd(7)
    assert tree_sum((1, [(2, []), (3, [(4, [])])])) == 10
    in_threads()
    assert sum(countdown(5)) == 15
    assert list(delegating(3)) == [3, 2, 1, -1]
    half_consumed()
    squares = [x * x for x in range(5)]
    evens = {x for x in squares if x % 2 == 0}
    mapping = {x: (lambda y: y + 1)(x) for x in range(4)}
    gen_total = sum(x for x in range(6))
    shapes = Shape.make(4) + [Shape.unit()]
    areas = [s.area() for s in shapes]
    areas += [s.double for s in shapes]
    add3 = make_adder(3)
    added = list(map(add3, range(5)))
    assert catcher() == 3
    assert asyncio.run(gather_all(4)) == 12
    log = []
    for _ in range(2):
        with managed(log):
            pass
    uses_builtins(50)
    print(len(squares), len(evens), len(mapping), gen_total, sum(areas), added[-1])


main()
