"""Several threads building and dropping objects while the wedges are
installed and removed over and over: no crash, no object record after the
last uninstall, and every thread's NEW/FREE records are well formed. (Nothing drains the rings meanwhile: drops are expected.)"""
import threading
import time

from objtest import FREE, NEW, O, check, finish, obj_events, read


class Item:
    def __init__(self, i):
        self.v = [i, str(i) * 2, {"i": i}, (i, i * 1.5)]


stop = threading.Event()
errors = []


def worker(k):
    try:
        n = 0
        while not stop.is_set():
            keep = [Item(i) for i in range(200)]
            keep = [tuple(o.v) for o in keep]

            class Local(Item):
                pass

            keep.append(Local(k))
            n += 1
    except Exception as e:  # pragma: no cover
        errors.append(repr(e))


threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
end = time.time() + 3.0
cycles = 0
while time.time() < end:
    O.install()
    time.sleep(0.02)
    O.uninstall()
    time.sleep(0.01)
    cycles += 1
stop.set()
for t in threads:
    t.join()
check(not errors, "workers ran without error: %s" % errors[:3])
check(cycles > 10, "install/uninstall cycles: %d" % cycles)
seg = read(True)
ev = obj_events(seg)
check(len(ev) > 0, "records written while installed (%d)" % len(ev))
check(all(r[3] > 0 and r[4] != 0 for r in ev), "every record has a size and an address")
n_after = len(obj_events(read(True)))
x = [Item(i) for i in range(100)]
del x
n_after = len(obj_events(read(True)))
check(n_after == 0, "no object record once uninstalled (%d)" % n_after)
finish()
