"""Call-bound: recursive fib(27) .. fib(30) (about 0.25 s plain)."""


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


for n in range(27, 31):
    fib(n)
