import os, signal, time
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
os.kill(os.getpid(), signal.SIGUSR1)
t = time.monotonic()
while not got and time.monotonic() - t < 5:
    time.sleep(0.01)
print("got", got == [signal.SIGUSR1])
signal.signal(signal.SIGTERM, signal.SIG_DFL)
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(5)
