"""Child of test_inline_calls: Python functions CPython 3.11 may call without
a C call of the eval-frame function (a Python __getitem__ behind a
specialised subscript), and the other ways Python calls Python (dunder
methods called from C, properties, iterators, generators, callbacks),
run once to warm the interpreter's specialisations, then once measured.

    inline_prog.py launched          the whole program, profiled from the start
    inline_prog.py cprofile OUT      warm, then cProfile around the measured run
    inline_prog.py fast|full         warm, then ulma.enable(mode) around it
"""
import sys


class Seq:
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        if i >= self.n:
            raise IndexError(i)
        return i

    def __len__(self):
        return self.n


class Sub(Seq):
    pass


class Rec:
    def __getitem__(self, n):
        return 0 if n == 0 else self[n - 1] + 1


class Box:
    def __getitem__(self, k):
        return k

    def __setitem__(self, k, v):
        pass

    def __delitem__(self, k):
        pass

    def __contains__(self, k):
        return True

    def __iter__(self):
        return iter((1, 2, 3))


class Obj:
    @property
    def prop(self):
        return 1

    def __getattr__(self, name):
        return 2

    def __call__(self, x):
        return x

    def __eq__(self, other):
        return True

    def __hash__(self):
        return 1

    def __add__(self, other):
        return self

    def __bool__(self):
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class Count:
    def __init__(self, n):
        self.i, self.n = 0, n

    def __iter__(self):
        return self

    def __next__(self):
        self.i += 1
        if self.i > self.n:
            raise StopIteration
        return self.i


class Defaults(dict):
    def __missing__(self, key):
        return 0


def gen(n):
    yield from range(n)


def site(c, i, flag):
    if flag:
        return c[i]
    return 0


def fresh_class():
    class Late:
        def __getitem__(self, i):
            return i

    return Late()


def phase(n, measured):
    total = 0
    s = Seq(n)
    for i in range(n):
        total += s[i]
    for x in s:  # the old iteration protocol: __getitem__ until IndexError
        total += x
    sub = Sub(n)
    for i in range(n):
        total += sub[i]
    total += Rec()[200]
    b = Box()
    for i in range(n):
        total += b[i]
        b[i] = i
        del b[i]
        total += i in b
    total += sum(b)
    o = Obj()
    for i in range(n):
        total += o.prop + o.missing + o(i)
        total += (o == o) + len({o: 1})
        o = o + o
        if o:
            total += 1
        with o:
            total += 1
    total += sum(Count(n))
    d = Defaults()
    for i in range(n):
        total += d[i]
    total += sum(sorted(range(n), key=lambda v: -v))
    total += sum(map(lambda v: v + 1, range(n)))
    total += sum(gen(n))
    # a subscript first executed, after its function was quickened, with a
    # class whose __getitem__ was never called
    late = fresh_class()
    for i in range(n):
        total += site(late, i, measured)
    return total


def main(argv):
    how = argv[1]
    if how == "launched":
        phase(300, False)
        phase(300, True)
        return
    phase(300, False)
    if how == "cprofile":
        import cProfile
        p = cProfile.Profile()
        p.enable()
        phase(300, True)
        p.disable()
        p.dump_stats(argv[2])
    else:
        import ulma
        ulma.enable(how)
        phase(300, True)
        ulma.disable()
        print(ulma.status()["segment"])


main(sys.argv)
