// SPDX-License-Identifier: MIT
/* cl_dropout.h: the OpenCL backend's dropout (cl_dropout.c): each hidden layer's activations
 * before the mask, the dropout.cl launches that the plans add after a hidden layer's forward
 * product and after its delta, and their arguments: the epoch's rate and key, each batch's
 * position. Not installed. */
#ifndef MLPCL_CL_DROPOUT_H
#define MLPCL_CL_DROPOUT_H

#include "cl_backend.h"

/* dropout.cl: dropout_forward(m, n, threshold, scale, seed_lo, seed_hi, epoch, layer, pos0, w,
 * cap, A, H) and dropout_backward(the same, D in A's place, no H); w and cap: the layer's layout
 * (mlpcl__cl_strip_width) */
enum {
    DROPOUT_M,
    DROPOUT_N,
    DROPOUT_THRESHOLD,
    DROPOUT_SCALE,
    DROPOUT_SEED_LO,
    DROPOUT_SEED_HI,
    DROPOUT_EPOCH,
    DROPOUT_LAYER,
    DROPOUT_POS0,
    DROPOUT_W,
    DROPOUT_CAP,
    DROPOUT_V, /* A (forward) or D (backward) */
    DROPOUT_H,
    DROPOUT_FORWARD_NARGS,
    DROPOUT_BACKWARD_NARGS = DROPOUT_H
};

/* At an epoch's start. The first time the rate is not 0 it makes the buffers and sets
 * *rebuild: the caller then frees the plans, which are rebuilt with dropout's launches. Every
 * plan's dropout kernels take the epoch's rate and key (rate 0: they change nothing). */
mlpcl_status mlpcl__cl_dropout_begin(mlpcl_trainer *tr, const mlpcl_epoch_opts *o, int *rebuild);
/* At an epoch's end: rate 0 everywhere, so that predictions drop nothing. */
mlpcl_status mlpcl__cl_dropout_end(mlpcl_trainer *tr);
/* Before plan p is enqueued for the batch whose first row is at position pos0 of the epoch. */
mlpcl_status mlpcl__cl_dropout_aim(mlpcl_trainer *tr, const mlpcl_plan *p, size_t pos0);
/* Plan builders: the mask after hidden layer l's activations (forward) and on its delta
 * (backward); nothing unless this trainer drops (or l is the output layer). */
mlpcl_status mlpcl__cl_dropout_forward(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s,
                                       size_t l);
mlpcl_status mlpcl__cl_dropout_backward(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s,
                                        size_t l);
/* The activations act' of hidden layer l is taken at: before the mask when dropping, else A_l. */
cl_mem *mlpcl__cl_dropout_act(mlpcl_trainer *tr, size_t l);
void mlpcl__cl_dropout_free(mlpcl_trainer *tr);

#endif
