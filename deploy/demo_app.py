"""A small MPI signal-processing job, the demo's profiled application.

Each rank synthesises a noisy signal, filters it with an FIR filter,
estimates a few spectral lines with a direct DFT, and the ranks combine
their estimates with MPI. All of it pure Python, the way an application
looks before anyone decides which 5 % to rewrite in C. Rank r does a little
more work than rank r-1, so the ranks are visibly imbalanced.

Usage: mpirun -np N python3 demo_app.py [SECONDS_OF_SIGNAL]
"""
import cmath
import math
import random
import sys

from mpi4py import MPI


class FIRFilter:
    def __init__(self, taps):
        self.taps = taps
        self.history = [0.0] * len(taps)

    def step(self, x):
        self.history.pop()
        self.history.insert(0, x)
        return sum(t * h for t, h in zip(self.taps, self.history))

    def run(self, signal):
        return [self.step(x) for x in signal]


def lowpass_taps(n, cutoff):
    mid = (n - 1) / 2
    taps = []
    for i in range(n):
        x = i - mid
        sinc = 1.0 if x == 0 else math.sin(2 * math.pi * cutoff * x) / (math.pi * x) / (2 * cutoff)
        window = 0.54 - 0.46 * math.cos(2 * math.pi * i / (n - 1))
        taps.append(2 * cutoff * sinc * window)
    return taps


def synthesise(n, rate, tones, rng):
    return [sum(a * math.sin(2 * math.pi * f * t / rate) for f, a in tones) + rng.gauss(0, 0.3)
            for t in range(n)]


def dft_bin(signal, k):
    n = len(signal)
    w = -2j * math.pi * k / n
    return sum(x * cmath.exp(w * i) for i, x in enumerate(signal))


def spectral_lines(signal, bins):
    return {k: abs(dft_bin(signal, k)) / len(signal) for k in bins}


def main():
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    rate = 4000
    n = int(rate * seconds * (1 + 0.25 * rank))  # imbalance on purpose
    rng = random.Random(rank)
    tones = [(50, 1.0), (120, 0.5), (300, 0.25)]
    signal = synthesise(n, rate, tones, rng)
    filtered = FIRFilter(lowpass_taps(31, 0.05)).run(signal)
    bins = [round(f * n / rate) for f, _ in tones]
    lines = spectral_lines(filtered, bins)
    mags = [lines[k] for k in bins]
    total = comm.allreduce(sum(mags), op=MPI.SUM)
    everyone = comm.gather(mags, root=0)
    comm.Barrier()
    if rank == 0:
        print(f"demo_app: {size} ranks, mean line magnitude {total / size / len(bins):.4f}")
        for r, m in enumerate(everyone):
            print(f"  rank {r}: " + "  ".join(f"{x:.3f}" for x in m))


if __name__ == "__main__":
    main()
