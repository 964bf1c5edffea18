"""Child of test_fork: the runtime's watcher thread (ulma-watcher) around
os.fork(): one before, one in the child, one in the parent after (on
CPython 3.12+ it is paused across the call, then started again)."""
import os


def watchers():
    n = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/comm" % tid) as f:
                n += f.read().strip() == "ulma-watcher"
        except OSError:  # a thread that ended meanwhile
            pass
    return n


print("before", watchers(), flush=True)
pid = os.fork()
if pid == 0:
    print("child", watchers(), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
print("after", watchers(), flush=True)
