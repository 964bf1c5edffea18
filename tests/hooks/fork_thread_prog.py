"""Full mode: fork while another thread waits. The child's CPython deletes
the parent's other thread states; that is no program taking a profile hook,
and the child's calls are recorded in its own segment."""
import os
import threading


def in_child(i):
    return i + 1


go = threading.Event()
t = threading.Thread(target=go.wait, name="waiter")
t.start()
pid = os.fork()
if pid == 0:
    n = 0
    for i in range(100):
        n = in_child(n)
    os._exit(n - 100)
go.set()
t.join()
print("child", os.WEXITSTATUS(os.waitpid(pid, 0)[1]))
