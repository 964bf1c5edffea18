"""Program for test_output_fault: exits with argv[1]; 'rmdir DIR' removes
DIR (where the profiler means to write) before it ends."""
import os
import sys


def work(n):
    return sum(i * i for i in range(n))


print("work", work(2000), flush=True)
if len(sys.argv) > 3 and sys.argv[2] == "rmdir":
    os.rmdir(sys.argv[3])
print("done", flush=True)
sys.exit(int(sys.argv[1]))
