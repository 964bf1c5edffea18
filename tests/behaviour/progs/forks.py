import os, sys
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    print("child", sum(range(1000)))
    sys.stdout.flush()
    os._exit(5)
_, st = os.waitpid(pid, 0)
print("parent saw", os.WEXITSTATUS(st))
