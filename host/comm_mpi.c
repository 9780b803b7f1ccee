// SPDX-License-Identifier: MIT
/* comm_mpi.c: the all-reduce across MPI ranks (mpirun -np N mlpcl train): every rank's workers'
 * buffers gathered on every rank (MPI_Iallgatherv, waited for without a busy core) and summed
 * there left to right in the workers' global order, so that every rank holds the bit-identical sum
 * a single process with as many workers would, and reruns repeat it. Without MPI (MLPCL_HAVE_MPI
 * undefined) or outside mpirun, the communicator is one process's (comm_local.c). */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comm.h"

int mlpcl__comm_local_rank(void)
{
    /* The launchers' own words for it (Open MPI, MPICH's Hydra, Slurm); no collective call,
     * since contexts are made at different points on different ranks. */
    static const char *const vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                       "SLURM_LOCALID"};
    if (mlpcl__comm_world_size() <= 1) return 0;
    for (size_t i = 0; i < sizeof vars / sizeof *vars; ++i) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v);
    }
    return 0;
}

#ifndef MLPCL_HAVE_MPI

int mlpcl__comm_world_size(void)
{
    return 1;
}

mlpcl_status mlpcl__comm_create(size_t n, mlpcl_comm **out)
{
    return mlpcl__comm_local(n, out);
}

#else
#include <mpi.h>

typedef struct comm_mpi {
    mlpcl_comm c;
    int *held;            /* per rank: its workers */
    int *counts, *displs; /* per rank, for the call in progress: its reals gathered, and where */
    void *send, *all;     /* this rank's workers' buffers packed; every worker's, in order */
    size_t cap;           /* bytes of one worker's buffer that send and all have room for */
} comm_mpi;

int mlpcl__comm_world_size(void)
{
    int init = 0, done = 0, size = 1;
    MPI_Initialized(&init);
    if (init) MPI_Finalized(&done);
    if (init && !done) MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}

static void mpi_free(mlpcl_comm *c)
{
    comm_mpi *m = (comm_mpi *)c;
    free(m->held);
    free(m->counts);
    free(m->displs);
    free(m->send);
    free(m->all);
    free(m);
}

static mlpcl_status mpi_fail(int err, const char *call)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, msg, &len) != MPI_SUCCESS) len = 0;
    msg[len] = '\0';
    return mlpcl__fail(MLPCL_ERR_IO, "%s failed: %s", call, msg);
}

/* Sizes the staging buffers for n local workers of count reals (grown, never shrunk: the
 * data-parallel loop sums the whole buffer, or one layer's slice of it at a time) and sets
 * every rank's count and displacement for this call. */
static mlpcl_status mpi_size(comm_mpi *m, size_t n, size_t count, size_t real)
{
    if (count > (size_t)INT_MAX / (m->c.workers ? m->c.workers : 1))
        return mlpcl__fail(MLPCL_ERR_TOO_BIG,
                           "%zu reals from each of %zu workers are too many for one MPI "
                           "gather (at most %d in all)",
                           count, m->c.workers, INT_MAX);
    if (count * real > m->cap) {
        free(m->send);
        free(m->all);
        m->send = malloc(n * count * real);
        m->all = malloc(m->c.workers * count * real);
        m->cap = m->send && m->all ? count * real : 0;
        if (!m->cap) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for MPI");
    }
    size_t at = 0;
    for (int r = 0; r < m->c.size; ++r) {
        m->displs[r] = (int)at;
        m->counts[r] = (int)((size_t)m->held[r] * count);
        at += (size_t)m->counts[r];
    }
    return MLPCL_OK;
}

/* Waits for req without taking a core from the devices: a blocking MPI call polls at full
 * speed (Open MPI's default, and its sched_yield when oversubscribed still competes), which on a
 * CPU device steals the core the other rank's kernels, or this rank's next layer, run on. Polls
 * freely for about 50 µs (a tutorial-sized step's partner is there by then), then sleeps between
 * polls, 20 µs growing to 100 µs. The cap is short because a non-blocking collective advances
 * only inside MPI calls: over many ranks its rounds each wait for a poll, so a longer sleep would
 * add up round by round. Ten wake-ups a millisecond cost the core next to nothing. */
static int wait_politely(MPI_Request *req)
{
    int done = 0, err;
    double t0 = MPI_Wtime();
    long nap = 20000; /* ns */
    while ((err = MPI_Test(req, &done, MPI_STATUS_IGNORE)) == MPI_SUCCESS && !done) {
        if (MPI_Wtime() - t0 < 50e-6) continue;
        struct timespec ts = {0, nap};
        nanosleep(&ts, NULL);
        nap = nap * 2 < 100000 ? nap * 2 : 100000;
    }
    return err;
}

static mlpcl_status mpi_allreduce(mlpcl_comm *c, void *const *bufs, size_t n, size_t count,
                                  size_t real)
{
    comm_mpi *m = (comm_mpi *)c;
    mlpcl_status st = mpi_size(m, n, count, real);
    if (st != MLPCL_OK) return st;
    size_t bytes = count * real;
    for (size_t w = 0; w < n; ++w) memcpy((char *)m->send + w * bytes, bufs[w], bytes);
    MPI_Datatype t = real == sizeof(double) ? MPI_DOUBLE : MPI_FLOAT;
    MPI_Request req;
    int err = MPI_Iallgatherv(m->send, (int)(n * count), t, m->all, m->counts, m->displs, t,
                              MPI_COMM_WORLD, &req);
    if (err != MPI_SUCCESS) return mpi_fail(err, "MPI_Iallgatherv(gradients)");
    if ((err = wait_politely(&req)) != MPI_SUCCESS) return mpi_fail(err, "MPI_Test(gradients)");
    /* The sum comm_local.c forms with as many workers: worker 0's, plus 1's, plus 2's, … */
    memcpy(bufs[0], m->all, bytes);
    for (size_t g = 1; g < c->workers; ++g)
        mlpcl__comm_add(bufs[0], (char *)m->all + g * bytes, count, real);
    for (size_t w = 1; w < n; ++w) memcpy(bufs[w], bufs[0], bytes);
    return MLPCL_OK;
}

mlpcl_status mlpcl__comm_create(size_t n, mlpcl_comm **out)
{
    *out = NULL;
    int size = mlpcl__comm_world_size();
    if (size <= 1) return mlpcl__comm_local(n, out);
    comm_mpi *m = calloc(1, sizeof *m);
    if (!m) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for MPI");
    m->c.allreduce = mpi_allreduce;
    m->c.free = mpi_free;
    m->c.size = size;
    *out = &m->c;
    MPI_Comm_rank(MPI_COMM_WORLD, &m->c.rank);
    m->held = calloc((size_t)size, sizeof *m->held);
    m->counts = calloc((size_t)size, sizeof *m->counts);
    m->displs = calloc((size_t)size, sizeof *m->displs);
    if (!m->held || !m->counts || !m->displs)
        return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for MPI");
    int mine = (int)n;
    int err = MPI_Allgather(&mine, 1, MPI_INT, m->held, 1, MPI_INT, MPI_COMM_WORLD);
    if (err != MPI_SUCCESS) return mpi_fail(err, "MPI_Allgather(workers)");
    for (int r = 0; r < size; ++r) {
        if (r == m->c.rank) m->c.first = m->c.workers;
        m->c.workers += (size_t)m->held[r];
    }
    return MLPCL_OK;
}

#endif
