"""An mpi4py program whose MPI calls are known in advance (2 ranks)."""
from array import array

from mpi4py import MPI


class Envelope:
    """Built a known number of times per rank (object statistics)."""

    def __init__(self, n):
        self.n = n


def exchange(comm):
    buf = bytearray(800)
    envelopes = [Envelope(i) for i in range(7 + comm.rank)]
    assert len(envelopes) == 7 + comm.rank
    for _ in range(10):
        if comm.rank == 0:
            comm.Send(buf, dest=1, tag=3)
        else:
            comm.Recv(buf, source=0, tag=3)


def collectives(comm):
    b = bytearray(400)
    for _ in range(4):
        comm.Bcast(b, root=0)
    src = array("d", [1.0] * 10)
    dst = array("d", [0.0] * 10)
    for _ in range(3):
        comm.Allreduce(src, dst, op=MPI.SUM)
    comm.Barrier()
    comm.Barrier()
    return dst[0]


def main():
    comm = MPI.COMM_WORLD
    exchange(comm)
    total = collectives(comm)
    assert total == comm.size, total


main()
