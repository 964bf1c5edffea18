"""CPU-bound functions of different weights, for comparing time shares
with cProfile (test_corpus.py)."""


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def strings(n):
    return len("".join(str(i) * 3 for i in range(n)).upper())


def sorting(n):
    data = [(i * 7919) % 10007 for i in range(n)]
    return sorted(data)[n // 2]


def dicts(n):
    d = {}
    for i in range(n):
        d[i % 1000] = d.get(i % 1000, 0) + i
    return len(d)


def main():
    for _ in range(3):
        fib(20)
        strings(60000)
        sorting(150000)
        dicts(200000)


main()
