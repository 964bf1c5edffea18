/*
 * ulma_mpi.h - what the generated PMPI wrappers of libulma-mpi use.
 *
 * Each wrapped MPI call becomes one ULMA_EV_MPI record (start time,
 * duration, bytes, peer, communicator size) in the calling thread's ring,
 * so a reader sees it as a callee of the Python function that called
 * mpi4py. With profiling off a wrapper costs one relaxed load and one
 * predictable branch before the PMPI call.
 */
#ifndef ULMA_MPI_H
#define ULMA_MPI_H

#include <mpi.h>
#include <stdatomic.h>
#include <stdint.h>

#include "ulma/barrier.h"
#include "ulma/clock.h"
#include "ulma/rt.h"
#include "ulma_mpi_calls.h"

#define ULMA_MPI_ON() (atomic_load_explicit(&ulma_rt_active, memory_order_relaxed) != 0)

/* Write one MPI record (and, once per process, the call's name). */
void ulma_mpi_emit(uint32_t id, uint64_t t0, uint64_t t1, int64_t bytes, int32_t peer,
                   uint32_t comm_size);

/* After MPI_Init*: start the runtime for programs that are not Python
 * (ULMA_MODE set, no segment yet) and learn rank and size from MPI. */
void ulma_mpi_after_init(void);

/* Helpers of the table's byte expressions; all tolerate nonsense (0). */
int64_t ulma_mpi_type_size(MPI_Datatype t);
uint32_t ulma_mpi_comm_size(MPI_Comm c);
int64_t ulma_mpi_sumv(const int *counts, MPI_Comm c);
int ulma_mpi_is_root(int root, MPI_Comm c);

#define TSZ(t) ulma_mpi_type_size(t)
#define CSZ(c) ulma_mpi_comm_size(c)
#define SUMV(v, c) ulma_mpi_sumv((v), (c))
#define ROOT(r, c) ulma_mpi_is_root((r), (c))

#endif
