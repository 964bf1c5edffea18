import os, re, sys, threading, warnings


def show(message, category, filename, lineno, file=None, line=None):
    # CPython 3.12+ warns about fork() with other threads; the pid differs
    # from run to run, the rest must not
    msg = re.sub(r"pid=\d+", "pid=N", str(message))
    sys.stderr.write("%s:%d: %s: %s\n" % (os.path.basename(filename), lineno, category.__name__, msg))


warnings.showwarning = show
pid, fd = os.forkpty()  # one thread: no warning
if pid == 0:
    os._exit(0)
print("forkpty child", os.WEXITSTATUS(os.waitpid(pid, 0)[1]))
os.close(fd)  # after: the child needs the terminal open to make it its own
go = threading.Event()
t = threading.Thread(target=go.wait)
t.start()
sys.stdout.flush()
pid = os.fork()  # two threads: the warning, this line
if pid == 0:
    os._exit(4)
go.set()
t.join()
print("fork child", os.WEXITSTATUS(os.waitpid(pid, 0)[1]))
