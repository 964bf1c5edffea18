import sys
sys.setrecursionlimit(100000)
def down(n):
    return 0 if n == 0 else 1 + down(n - 1)
print(down(30000))
try:
    down(200000)
except RecursionError as e:
    print("RecursionError", type(e).__name__)
