"""A program for the clustertop tests: known functions, a second thread,
objects, and (under mpirun) MPI with a deliberately slow last rank. It
runs until the file named by TUI_STOP disappears (or TUI_SECONDS pass),
after writing TUI_READY.<rank>; with TUI_STEPS=N it does N steps, writes
TUI_READY.<rank> and then waits, blocked, until it is killed."""
import os
import threading
import time

try:
    if "OMPI_COMM_WORLD_SIZE" in os.environ or "PMI_SIZE" in os.environ:
        from mpi4py import MPI
    else:
        MPI = None
except ImportError:
    MPI = None

comm = MPI.COMM_WORLD if MPI else None
rank = comm.Get_rank() if comm else 0
size = comm.Get_size() if comm else 1


class Particle:
    def __init__(self, x):
        self.x = x


def leaf_work(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def middle_step(n):
    return leaf_work(n) + leaf_work(n // 2)


def make_particles(n):
    return [Particle(i) for i in range(n)]


def slow_rank_extra():
    # only the last rank calls this much: the imbalance to see
    return leaf_work(20000)


def compute_step(step):
    middle_step(2000)
    keep = make_particles(50)
    if rank == size - 1:
        slow_rank_extra()
    return len(keep)


def background_waiter(stop):
    while not stop.is_set():
        time.sleep(0.02)


def idle_forever(ev, t):
    # the waiter ends, then this thread blocks in C: no more events, so
    # every function's numbers stay as they are while a test compares two
    # ways of asking for them
    ev.set()
    t.join()
    r, w = os.pipe()
    os.read(r, 1)


def main():
    stop_file = os.environ.get("TUI_STOP")
    steps = int(os.environ.get("TUI_STEPS", "0"))
    seconds = float(os.environ.get("TUI_SECONDS", "600"))
    ev = threading.Event()
    t = threading.Thread(target=background_waiter, args=(ev,), name="waiter")
    t.start()
    ready = os.environ.get("TUI_READY")
    step = 0
    end = time.time() + seconds
    wrote = False
    while time.time() < end:
        compute_step(step)
        if comm:
            comm.Barrier()
            comm.allreduce(step)
        step += 1
        if steps and step >= steps:
            if comm:
                comm.Barrier()
            if ready:
                open("%s.%d" % (ready, rank), "w").close()
            idle_forever(ev, t)
        if ready and not wrote and not steps and step >= 20:
            open("%s.%d" % (ready, rank), "w").close()
            wrote = True
        stopping = stop_file and not os.path.exists(stop_file)
        if comm:
            stopping = comm.allreduce(1 if stopping else 0) > 0
        if stopping:
            break
        time.sleep(0.005)
    ev.set()
    t.join()


main()
