"""The demo's profiled application: an MPI signal-processing pipeline.

Each rank owns a block of sensor channels. Every step it synthesises the
next window of samples, runs each channel through an FIR filter written in
plain Python (the hot function a profile should point at: the 5 % worth
rewriting in C), estimates a few spectral lines with a direct DFT,
exchanges the edge channels with its neighbours (MPI_Sendrecv) and agrees
with every rank on the step's energy (MPI_Allreduce), then prints a
progress line from rank 0. One rank is slower on purpose (more channels),
so the others wait for it in the collective: the imbalance and the MPI
waits a cluster profile must show.

Usage: mpirun -np N python3 demo_app.py [--seconds S] [--slow-rank R]
       [--slow-factor F] [--channels C] [--window W]
"""
import argparse
import cmath
import math
import random
import sys
import time

from mpi4py import MPI


class FIRFilter:
    """A direct-form FIR filter, one sample at a time (the hot spot)."""

    def __init__(self, taps):
        self.taps = taps
        self.history = [0.0] * len(taps)

    def step(self, x):
        self.history.pop()
        self.history.insert(0, x)
        acc = 0.0
        for t, h in zip(self.taps, self.history):
            acc += t * h
        return acc

    def run(self, samples):
        return [self.step(x) for x in samples]


def lowpass_taps(n, cutoff):
    mid = (n - 1) / 2
    taps = []
    for i in range(n):
        x = i - mid
        sinc = 1.0 if x == 0 else math.sin(2 * math.pi * cutoff * x) / (math.pi * x) / (2 * cutoff)
        window = 0.54 - 0.46 * math.cos(2 * math.pi * i / (n - 1))
        taps.append(2 * cutoff * sinc * window)
    return taps


def synthesise(n, start, rate, tones, rng):
    return [sum(a * math.sin(2 * math.pi * f * (start + t) / rate) for f, a in tones)
            + rng.gauss(0, 0.3) for t in range(n)]


def dft_bin(samples, k):
    n = len(samples)
    w = -2j * math.pi * k / n
    return sum(x * cmath.exp(w * i) for i, x in enumerate(samples))


def spectral_lines(samples, bins):
    return [abs(dft_bin(samples, k)) / len(samples) for k in bins]


def exchange_edges(comm, left, right):
    """Send our edge channels' energies to the neighbours, receive theirs."""
    rank, size = comm.Get_rank(), comm.Get_size()
    got_left = comm.sendrecv(left, dest=(rank - 1) % size, source=(rank + 1) % size)
    got_right = comm.sendrecv(right, dest=(rank + 1) % size, source=(rank - 1) % size)
    return got_left, got_right


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="run this long (default 60)")
    ap.add_argument("--slow-rank", type=int, default=-1, help="the slow rank (default: the last)")
    ap.add_argument("--slow-factor", type=float, default=1.6,
                    help="how much more work the slow rank does (default 1.6)")
    ap.add_argument("--channels", type=int, default=4, help="channels per rank (default 4)")
    ap.add_argument("--window", type=int, default=512, help="samples per step (default 512)")
    return ap.parse_args(argv)


def main(argv):
    opts = parse(argv)
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    slow = opts.slow_rank if opts.slow_rank >= 0 else size - 1
    channels = opts.channels
    if rank == slow:
        channels = max(channels + 1, int(round(channels * opts.slow_factor)))
    rate = 4000
    tones = [(50, 1.0), (120, 0.5), (300, 0.25)]
    bins = [round(f * opts.window / rate) for f, _ in tones]
    rng = random.Random(rank)
    filters = [FIRFilter(lowpass_taps(31, 0.05)) for _ in range(channels)]
    hosts = sorted(set(comm.allgather(MPI.Get_processor_name())))
    if rank == 0:
        print(f"demo_app: {size} ranks on {len(hosts)} node(s) ({', '.join(hosts)}); rank {slow} "
              f"is slow ({max(opts.channels + 1, int(round(opts.channels * opts.slow_factor)))} "
              f"channels, the others {opts.channels}); running {opts.seconds:.0f} s", flush=True)
    start = time.monotonic()
    step, last_print = 0, start
    while True:
        energy = 0.0
        edges = []
        for ch in range(channels):
            samples = synthesise(opts.window, step * opts.window, rate, tones, rng)
            filtered = filters[ch].run(samples)
            lines = spectral_lines(filtered, bins)
            energy += sum(lines)
            edges.append(lines[0])
        exchange_edges(comm, edges[0], edges[-1])
        total = comm.allreduce(energy, op=MPI.SUM)
        step += 1
        # everyone stops on the same step: rank 0 decides
        now = time.monotonic()
        done = comm.bcast(now - start >= opts.seconds if rank == 0 else None, root=0)
        if rank == 0 and (now - last_print >= 5 or done):
            print(f"demo_app: step {step:5d}  {now - start:6.1f} s  energy {total:9.3f}",
                  flush=True)
            last_print = now
        if done:
            break
    per_rank = comm.gather(step, root=0)
    if rank == 0:
        print(f"demo_app: done, {per_rank[0]} steps on every rank", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
