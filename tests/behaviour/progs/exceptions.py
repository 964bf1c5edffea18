import sys
def inner(x):
    if x > 2:
        raise ValueError("too big: %d" % x)
    return x
try:
    inner(5)
except ValueError as e:
    print("caught", e)
print(sys.argv[1:], __name__, __file__.endswith("exceptions.py"))
inner(7)
