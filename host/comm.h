// SPDX-License-Identifier: MIT
/* comm.h: the one piece of data-parallel training that moves data between workers: an
 * all-reduce (a sum, always in the same order) over a flat buffer of the device's reals. In
 * one process (comm_local.c), or across MPI ranks (comm_mpi.c); either implements the same
 * table. Not installed. */
#ifndef MLPCL_COMM_H
#define MLPCL_COMM_H

#include "internal.h"

typedef struct mlpcl_comm mlpcl_comm;

struct mlpcl_comm {
    /* Sums the n buffers of this process's workers, and those of every other process's, each
     * count reals of real bytes (4 or 8), element-wise in the workers' global order (rank 0's
     * workers first, each process's in the order given): one left-to-right sum, the same on
     * every rank, and leaves the sum in every one of them. */
    mlpcl_status (*allreduce)(mlpcl_comm *c, void *const *bufs, size_t n, size_t count,
                              size_t real);
    void (*free)(mlpcl_comm *c);
    int rank, size; /* this process among those that train together (0 and 1 in one process) */
    size_t first;   /* the global index of this process's first worker */
    size_t workers; /* workers of every process together */
};

/* The communicator of one process of n workers: its workers' buffers only. */
mlpcl_status mlpcl__comm_local(size_t n, mlpcl_comm **out);

/* The communicator across MPI ranks, this one with n workers: where MPI is initialised (by the
 * command, under mpirun) with more than one rank; else (and in a build without MPI) that of
 * one process. Collective: every rank calls it at the same point. */
mlpcl_status mlpcl__comm_create(size_t n, mlpcl_comm **out);

/* The ranks that train together: 1 unless MPI is initialised with more (comm_mpi.c). */
int mlpcl__comm_world_size(void);

/* This process's rank among the ranks on its machine (the launcher's local rank; 0 outside
 * MPI): the index of the device it takes among those its selector matches. */
int mlpcl__comm_local_rank(void);

/* dst[i] += src[i] for count reals of real bytes, in the reals' own type (so that float sums
 * round as the device would). */
void mlpcl__comm_add(void *dst, const void *src, size_t count, size_t real);

#endif
