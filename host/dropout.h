// SPDX-License-Identifier: MIT
/* dropout.h: inverted dropout on the hidden layers while training, as the host reference does
 * it (ref_dropout.c): which units one batch keeps (philox.h), the forward pass that drops them
 * and the hidden deltas that follow the same mask. The OpenCL backend's side is cl_dropout.h.
 * Not installed. */
#ifndef MLPCL_DROPOUT_H
#define MLPCL_DROPOUT_H

#include "internal.h"

/* One batch's dropout: the units of hidden layer l, row i of the batch are kept when
 * mlpcl__dropout_keep(seed, epoch, l, pos0 + i, unit, threshold), and those kept are scaled by
 * `scale` = 1/(1 − rate). rate 0: no dropout (the plain reference maths, bit for bit). */
typedef struct mlpcl__dropout {
    double rate;        /* the probability of dropping a unit, in [0, 1) */
    uint32_t threshold; /* mlpcl__dropout_threshold(rate) */
    double scale;       /* 1/(1 − rate) */
    uint64_t seed;
    uint32_t epoch;
    uint32_t pos0; /* the position of the batch's first row in the epoch: batch · batch size */
} mlpcl__dropout;

/* Sets d for an epoch with this rate, seed and epoch (pos0 0). */
void mlpcl__dropout_set(mlpcl__dropout *d, double rate, uint64_t seed, long epoch);

/* As mlpcl__ref_forward, with each hidden layer's activations kept before the mask in H[l]
 * (m×n_l, l = 1 … L−1) and then masked and scaled in A[l]. With d->rate 0 (or d NULL) exactly
 * mlpcl__ref_forward, H untouched. */
void mlpcl__ref_forward_dropout(const mlpcl_net *net, const double *P, const double *X, size_t m,
                                double **A, double **H, const mlpcl__dropout *d);
/* As mlpcl__ref_hidden_deltas with the forward pass's mask: act' taken at the activations
 * before the mask (H), then D_l masked and scaled as A_l was. */
void mlpcl__ref_hidden_deltas_dropout(const mlpcl_net *net, const double *P, double **A, double **H,
                                      size_t m, double **D, const mlpcl__dropout *d);
/* An epoch's start on the host: sets d from the options and, the first time the rate is not 0,
 * makes *H (L entries, 1 … L−1 of batch×n_l each, freed by mlpcl__dropout_free). */
mlpcl_status mlpcl__dropout_begin(const mlpcl_net *net, size_t batch, const mlpcl_epoch_opts *o,
                                  mlpcl__dropout *d, double ***H);
void mlpcl__dropout_free(const mlpcl_net *net, double **H);
/* Applies the mask of hidden layer l (m×n values at V, rows pos0 …): dropped ones become 0,
 * kept ones are multiplied by the scale. */
void mlpcl__dropout_mask(const mlpcl__dropout *d, size_t l, size_t m, size_t n, double *V);

#endif
