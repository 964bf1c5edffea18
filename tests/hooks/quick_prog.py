"""Program for test_launch_quick: output on both streams, some calls, an
exit status of its own."""
import sys


def work(n):
    return n if n < 2 else work(n - 1) + work(n - 2)


print("first line")
sys.stderr.write("to stderr\n")
print("work", work(12))
sys.stdout.write("no newline at the end")
sys.exit(5)
