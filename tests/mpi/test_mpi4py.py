"""Hooked mpi4py ranks under `mpirun python3 -m ulma`: the launcher preloads
libulma-mpi, and every MPI call the program makes is in each rank's profile
with the right count and bytes, as a callee of the Python function that
called mpi4py.

Usage: PYTHON test_mpi4py.py BUILD_DIR MPIEXEC (the ranks run PYTHON, the
interpreter under test)
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

build, mpiexec = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, ".."))
from pycheck import check, finish  # noqa: E402


with tempfile.TemporaryDirectory(prefix="ulma-mpi4py-") as tmp:
    # no LD_PRELOAD here: the launcher preloads libulma-mpi under mpirun
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               ULMA_DIR=tmp, PYTHONPATH=os.path.join(build, "python"))
    # (an LD_PRELOAD already set, e.g. a sanitizer runtime, is kept: the
    # launcher appends to it)
    out = os.path.join(tmp, "out.{rank}.json")
    cmd = [mpiexec, "-np", "2", "--oversubscribe", "--mca", "btl", "self,vader",
           "-x", "ULMA_DIR", "-x", "PYTHONPATH"] + (["-x", "LD_PRELOAD", "-x", "ASAN_OPTIONS"]
           if "LD_PRELOAD" in env else []) + [
           sys.executable, "-m", "ulma", "--objects", "--json", out, os.path.join(here, "mpi4py_known.py")]
    print("+", " ".join(cmd))
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"mpirun exit status 0 (got {r.returncode}: {r.stderr[-2000:]})")
    files = sorted(glob.glob(os.path.join(tmp, "out.*.json")))
    check(len(files) == 2, f"one profile per rank ({files})")
    for f in files:
        prof = json.load(open(f))
        rank = prof["process"]["rank"]
        check(prof["process"]["size"] == 2, f"rank {rank}: size 2")
        check(prof["drops"]["records_lost"] == 0, f"rank {rank}: nothing lost")
        funcs = prof["functions"]
        mpi = {m["name"]: m for m in prof["mpi"]}

        def expect(name, calls, nbytes, caller):
            m = mpi.get(name)
            check(m is not None and m["calls"] == calls and m["bytes"] == nbytes,
                  f"rank {rank}: {name} {calls} calls {nbytes} bytes (got {m})")
            if m is None:
                return
            row = funcs[m["row"]]
            callers = [c["std"] for c in row["callers"]]
            check(any(caller in c for c in callers),
                  f"rank {rank}: {name} called from {caller} (callers {callers})")

        if rank == 0:
            expect("MPI_Send", 10, 10 * 800, "(exchange)")
        else:
            expect("MPI_Recv", 10, 10 * 800, "(exchange)")
        expect("MPI_Bcast", 4, 4 * 400, "(collectives)")
        expect("MPI_Allreduce", 3, 3 * 2 * 10 * 8, "(collectives)")
        expect("MPI_Barrier", 2, 0, "(collectives)")
        # object statistics under mpirun too: Envelopes per rank, by constructor
        env_t = [t for t in prof["objects"]["types"] if t["name"] == "__main__.Envelope"]
        check(len(env_t) == 1 and env_t[0]["new"] == 7 + rank,
              f"rank {rank}: {7 + rank} Envelopes built ({env_t})")

finish()
