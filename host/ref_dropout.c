// SPDX-License-Identifier: MIT
/* ref_dropout.c: the host reference's inverted dropout. It reuses ref.c's maths a layer at a
 * time, through views of the network (one layer for the forward pass, two for a hidden delta),
 * and applies philox.c's mask between the layers: the oracle the device's dropout.cl is
 * compared with. */
#include <stdlib.h>
#include <string.h>

#include "dropout.h"
#include "philox.h"
#include "ref.h"

void mlpcl__dropout_set(mlpcl__dropout *d, double rate, uint64_t seed, long epoch)
{
    d->rate = rate;
    d->threshold = mlpcl__dropout_threshold(rate);
    d->scale = 1.0 / (1.0 - rate);
    d->seed = seed;
    d->epoch = (uint32_t)epoch;
    d->pos0 = 0;
}

void mlpcl__dropout_mask(const mlpcl__dropout *d, size_t l, size_t m, size_t n, double *V)
{
    for (size_t i = 0; i < m; ++i)
        for (size_t j = 0; j < n; ++j) {
            double *v = &mlpcl_at(V, n, i, j);
            *v = mlpcl__dropout_keep(d->seed, d->epoch, (uint32_t)l, d->pos0 + (uint32_t)i,
                                     (uint32_t)j, d->threshold)
                     ? *v * d->scale
                     : 0.0;
        }
}

/* Layers first … first + count − 1 of net as a network of their own (its layer 1 is net's
 * layer first); A and D views are then &A[first − 1]. Only a view of the output layer keeps
 * the loss's softmax. */
static mlpcl_net view(const mlpcl_net *net, size_t first, size_t count)
{
    mlpcl_net v = *net;
    v.L = count;
    v.width = net->width + first - 1;
    v.act = net->act + first - 1;
    v.offset = net->offset + first - 1;
    if (first + count - 1 < net->L) v.loss = MLPCL_LOSS_MSE;
    return v;
}

void mlpcl__ref_forward_dropout(const mlpcl_net *net, const double *P, const double *X, size_t m,
                                double **A, double **H, const mlpcl__dropout *d)
{
    if (!d || d->rate == 0.0) {
        mlpcl__ref_forward(net, P, X, m, A);
        return;
    }
    for (size_t l = 1; l <= net->L; ++l) {
        mlpcl_net v = view(net, l, 1);
        mlpcl__ref_forward(&v, P, l == 1 ? X : A[l - 1], m, A + l - 1);
        if (l == net->L) break;
        memcpy(H[l], A[l], m * net->width[l] * sizeof(double));
        mlpcl__dropout_mask(d, l, m, net->width[l], A[l]);
    }
}

void mlpcl__ref_hidden_deltas_dropout(const mlpcl_net *net, const double *P, double **A, double **H,
                                      size_t m, double **D, const mlpcl__dropout *d)
{
    if (!d || d->rate == 0.0) {
        mlpcl__ref_hidden_deltas(net, P, A, m, D);
        return;
    }
    for (size_t l = net->L - 1; l >= 1; --l) {
        mlpcl_net v = view(net, l, 2);
        mlpcl__ref_hidden_deltas(&v, P, H + l - 1, m, D + l - 1);
        mlpcl__dropout_mask(d, l, m, net->width[l], D[l]);
    }
}

mlpcl_status mlpcl__dropout_begin(const mlpcl_net *net, size_t batch, const mlpcl_epoch_opts *o,
                                  mlpcl__dropout *d, double ***H)
{
    mlpcl__dropout_set(d, o->dropout, o->seed, o->epoch);
    if (o->dropout == 0.0 || *H) return MLPCL_OK;
    if (!(*H = calloc(net->L, sizeof **H))) goto nomem;
    for (size_t l = 1; l < net->L; ++l)
        if (!((*H)[l] = malloc(batch * net->width[l] * sizeof(double)))) goto nomem;
    return MLPCL_OK;
nomem:
    return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for dropout's activations");
}

void mlpcl__dropout_free(const mlpcl_net *net, double **H)
{
    for (size_t l = 1; H && l < net->L; ++l) free(H[l]);
    free(H);
}
