/* ulma_mpi.c - support of the generated PMPI wrappers (see ulma_mpi.h). */
#define _GNU_SOURCE
#include "ulma_mpi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ulma/ring.h"
#include "ulma/segment.h"

/* rt generation in which each call's name was last defined */
static _Atomic uint32_t defined_gen[ULMA_MPI_NCALLS];

void ulma_mpi_emit(uint32_t id, uint64_t t0, uint64_t t1, int64_t bytes, int32_t peer,
                   uint32_t comm_size)
{
    ulma_rt_thread_t *t = ulma_rt_thread();
    if (!t || !t->prod.slot || t->nesting || id >= ULMA_MPI_NCALLS)
        return;
    t->nesting++;
    /* generation + 1 so that the zeroed array means "never defined" */
    uint32_t gen = atomic_load_explicit(&ulma_rt_defgen, memory_order_relaxed) + 1u;
    if (atomic_load_explicit(&defined_gen[id], memory_order_relaxed) != gen) {
        atomic_store_explicit(&defined_gen[id], gen, memory_order_relaxed);
        const char *name = ulma_mpi_names[id];
        if (name)
            ulma_put_payload(&t->prod, t0, ULMA_EV_DEF_MPI, id, 0, name, (uint32_t)strlen(name));
    }
    ulma_mpi_payload_t pl = {t1 - t0, bytes > 0 ? (uint64_t)bytes : 0u, peer, comm_size, 0};
    ulma_put_payload(&t->prod, t0, ULMA_EV_MPI, id, (uint16_t)t->depth, &pl, sizeof(pl));
    t->nesting--;
}

int64_t ulma_mpi_type_size(MPI_Datatype t)
{
    int s = 0;
    if (t == MPI_DATATYPE_NULL || PMPI_Type_size(t, &s) != MPI_SUCCESS || s < 0)
        return 0;
    return s;
}

uint32_t ulma_mpi_comm_size(MPI_Comm c)
{
    int n = 0, inter = 0;
    if (c == MPI_COMM_NULL)
        return 0;
    if (PMPI_Comm_test_inter(c, &inter) == MPI_SUCCESS && inter) {
        if (PMPI_Comm_remote_size(c, &n) != MPI_SUCCESS)
            return 0;
    } else if (PMPI_Comm_size(c, &n) != MPI_SUCCESS) {
        return 0;
    }
    return n > 0 ? (uint32_t)n : 0u;
}

int64_t ulma_mpi_sumv(const int *counts, MPI_Comm c)
{
    if (!counts)
        return 0;
    uint32_t n = ulma_mpi_comm_size(c);
    int64_t s = 0;
    for (uint32_t i = 0; i < n; i++)
        s += counts[i] > 0 ? counts[i] : 0;
    return s;
}

int ulma_mpi_is_root(int root, MPI_Comm c)
{
    int r = -1;
    if (c == MPI_COMM_NULL || PMPI_Comm_rank(c, &r) != MPI_SUCCESS)
        return 0;
    return r == root;
}

static uint32_t env_mode(void)
{
    const char *m = getenv("ULMA_MODE");
    if (!m || !*m)
        return 0;
    if (!strcmp(m, "fast") || !strcmp(m, "on") || !strcmp(m, "1"))
        return ULMA_MODE_FAST;
    if (!strcmp(m, "full"))
        return ULMA_MODE_FULL;
    return 0;
}

void ulma_mpi_after_init(void)
{
    int initialized = 0;
    if (PMPI_Initialized(&initialized) != MPI_SUCCESS || !initialized)
        return;
    /* a C or Fortran program: nobody started the runtime; ULMA_MODE asks */
    if (!ulma_rt_segment()) {
        uint32_t mode = env_mode();
        if (mode && ulma_rt_start_control(program_invocation_name, 0, mode) == 0)
            ulma_rt_applied(mode, 0);
    }
    ulma_segment_t *seg = ulma_rt_segment();
    if (!seg)
        return;
    int rank = -1, size = 0;
    if (PMPI_Comm_rank(MPI_COMM_WORLD, &rank) == MPI_SUCCESS &&
        PMPI_Comm_size(MPI_COMM_WORLD, &size) == MPI_SUCCESS) {
        ulma_seg_header_t *h = ulma_segment_header(seg);
        h->mpi_rank = rank;
        h->mpi_size = size;
    }
}
