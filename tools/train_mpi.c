// SPDX-License-Identifier: MIT
/* train_mpi.c: `mpirun -np N mlpcl train …`: MPI started only under a launcher that says there
 * are several ranks, rank 0 alone prints (the others' stdout is /dev/null), logs and saves, and
 * the end: ranks that agree on the outcome (converged, not, diverged, stopped by a signal: all
 * decided from the summed cost and stop request) finish together; any other failure is one
 * rank's, which ends every rank at once (MPI_Abort) after its message, never a hang. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "train.h"
#include "train_mpi.h"

#ifdef MLPCL_HAVE_MPI
#include <mpi.h>
#endif

static int rank, size = 1; /* this process's, and the ranks' (0 and 1 outside MPI) */

/* The ranks a launcher started, from its environment (Open MPI, then PMI: MPICH, Slurm). */
static long launcher_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; ++i) {
        const char *v = getenv(vars[i]);
        if (v && *v) return strtol(v, NULL, 10);
    }
    return 1;
}

int train_mpi_rank(void)
{
    return rank;
}

int train_mpi_size(void)
{
    return size;
}

#ifndef MLPCL_HAVE_MPI

int train_mpi_start(void)
{
    long n = launcher_size();
    if (n > 1)
        return failf(EXIT_USAGE,
                     "train: started as one of %ld MPI ranks, but this mlpcl was built without "
                     "MPI: each rank would train alone. Rebuild with MPI (Debian: apt-get install "
                     "libopenmpi-dev; cmake -DMLPCL_MPI=ON), or train on several devices in one "
                     "process with --device 0:0,0:1",
                     n);
    return 0;
}

int train_mpi_end(int rc)
{
    return rc;
}

#else

static int active; /* MPI was started */

int train_mpi_start(void)
{
    if (launcher_size() <= 1) return 0;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) return failf(EXIT_DEVICE, "train: MPI_Init failed");
    active = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank != 0 && !freopen("/dev/null", "w", stdout))
        return failf(EXIT_DEVICE, "train: rank %d cannot silence its output", rank);
    return 0;
}

int train_mpi_end(int rc)
{
    if (!active) return rc;
    if (rc != 0 && rc != EXIT_NOT_CONVERGED && rc != EXIT_DIVERGED && rc != EXIT_INTERRUPTED) {
        /* This rank's own failure (bad data, a device error, a file it cannot write): its
         * message is out; the other ranks may wait in a sum for it, so end them all now. */
        fprintf(stderr, "mlpcl: rank %d failed (exit status %d): ending every rank\n", rank, rc);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, rc);
    }
    /* An outcome every rank reached together. Stopped by a signal before training began, a
     * rank may be alone, the others still in a sum: they are given a while to come, then
     * ended. */
    fflush(stdout);
    MPI_Request req;
    int done = 0;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    struct timespec nap = {0, 1000000}; /* 1 ms */
    for (long waited = 0; !done && waited < 30000; ++waited) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (!done) nanosleep(&nap, NULL);
    }
    if (!done) {
        fprintf(stderr,
                "mlpcl: rank %d: the other ranks did not finish within 30 s: ending "
                "every rank\n",
                rank);
        MPI_Abort(MPI_COMM_WORLD, rc ? rc : EXIT_DEVICE);
    }
    MPI_Finalize();
    return rc;
}

#endif
