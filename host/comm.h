// SPDX-License-Identifier: MIT
/* comm.h: the one piece of data-parallel training that moves data between workers: an
 * all-reduce (a sum, always in the same order) over a flat buffer of the device's reals. In
 * one process (comm_local.c); another transport (MPI ranks) implements the same table. Not
 * installed. */
#ifndef MLPCL_COMM_H
#define MLPCL_COMM_H

#include "internal.h"

typedef struct mlpcl_comm mlpcl_comm;

struct mlpcl_comm {
    /* Sums the n buffers of this process's workers, and those of every other process's, each
     * count reals of real bytes (4 or 8), element-wise in the workers' order (this process's
     * in the order given), and leaves the sum in every one of them. */
    mlpcl_status (*allreduce)(mlpcl_comm *c, void *const *bufs, size_t n, size_t count,
                              size_t real);
    void (*free)(mlpcl_comm *c);
    int rank, size; /* this process among those that train together (0 and 1 in one process) */
};

/* The communicator of one process: its workers' buffers only. */
mlpcl_status mlpcl__comm_local(mlpcl_comm **out);

/* dst[i] += src[i] for count reals of real bytes, in the reals' own type (so that float sums
 * round as the device would). */
void mlpcl__comm_add(void *dst, const void *src, size_t count, size_t real);

#endif
