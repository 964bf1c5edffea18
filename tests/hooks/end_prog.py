"""Program for test_launch_end: behaviour chosen by argv[1]."""
import os
import signal
import sys
import time


def work(n):
    return sum(i * i for i in range(n))


what = sys.argv[1]
print("pid", os.getpid(), "ppid", os.getppid(), flush=True)
work(1000)
if what == "exit":
    os._exit(3)
if what == "selfkill":
    os.kill(os.getpid(), signal.SIGTERM)
if what == "wait":
    # until the test signals us; then as the signal says
    open(sys.argv[2], "w").close()
    for _ in range(2000):
        time.sleep(0.01)
    sys.exit(9)
if what == "mkdir":
    os.mkdir(sys.argv[2])  # where the agent will want to write a file
if what == "fork":
    pid = os.fork()
    if pid == 0:
        work(500)
        os._exit(0)
    os.waitpid(pid, 0)
print("done", flush=True)
