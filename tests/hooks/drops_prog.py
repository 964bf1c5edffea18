"""Makes a known number of calls (test_drops)."""


def f(i):
    return i


for i in range(20000):
    f(i)
print("done")
