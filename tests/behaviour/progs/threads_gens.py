import threading, queue
def gen(n):
    for i in range(n):
        yield i * i
def worker(q, k):
    q.put((k, sum(gen(1000 * k))))
q = queue.Queue()
ts = [threading.Thread(target=worker, args=(q, k), name="w%d" % k) for k in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(sorted(q.get() for _ in ts))
