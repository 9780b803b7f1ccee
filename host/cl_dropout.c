// SPDX-License-Identifier: MIT
/* cl_dropout.c: dropout on the OpenCL backend: the buffers of the hidden activations before
 * the mask (act' needs them), the dropout.cl launches of each plan, and the arguments they
 * take per epoch (rate, seed, epoch) and per batch (its position in the epoch). Made the first
 * time an epoch drops, so that a trainer that never drops runs exactly the launches it ran
 * before dropout existed. */
#include <stdlib.h>

#include "cl_dropout.h"
#include "philox.h"

#define ARG_UINT(v) ((karg){sizeof(cl_uint), &(cl_uint){(cl_uint)(v)}})

/* One plan's dropout kernel (plans are freed together, with this list emptied first). */
typedef struct drop_kernel {
    const mlpcl_plan *plan;
    cl_kernel k;
} drop_kernel;

typedef struct mlpcl__cl_drop {
    cl_mem *H;          /* L entries, 1 … L−1: the hidden activations before the mask */
    uint32_t threshold; /* mlpcl__dropout_threshold(rate); 0 with rate 0 */
    double scale;       /* 1/(1 − rate) */
    uint64_t seed;
    uint32_t epoch;
    drop_kernel *k;
    size_t n_k;
} mlpcl__cl_drop;

/* Sets the epoch's arguments (both kernels take them at the same places). */
static mlpcl_status set_epoch_args(mlpcl_trainer *tr, cl_kernel k)
{
    mlpcl_status st = MLPCL_OK;
    const mlpcl__cl_drop *d = mlpcl__cl(tr)->drop;
    TRY(mlpcl__cl_set_arg(tr, k, DROPOUT_THRESHOLD, ARG_UINT(d->threshold)));
    TRY(mlpcl__cl_set_arg(tr, k, DROPOUT_SCALE, ARG_REAL(d->scale)));
    TRY(mlpcl__cl_set_arg(tr, k, DROPOUT_SEED_LO, ARG_UINT((uint32_t)d->seed)));
    TRY(mlpcl__cl_set_arg(tr, k, DROPOUT_SEED_HI, ARG_UINT((uint32_t)(d->seed >> 32))));
    TRY(mlpcl__cl_set_arg(tr, k, DROPOUT_EPOCH, ARG_UINT(d->epoch)));
fail:
    return st;
}

static mlpcl_status set_rate(mlpcl_trainer *tr, double rate, uint64_t seed, long epoch)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl__cl_drop *d = mlpcl__cl(tr)->drop;
    d->threshold = mlpcl__dropout_threshold(rate);
    d->scale = 1.0 / (1.0 - rate);
    d->seed = seed;
    d->epoch = (uint32_t)epoch;
    for (size_t i = 0; i < d->n_k; ++i) TRY(set_epoch_args(tr, d->k[i].k));
fail:
    return st;
}

mlpcl_status mlpcl__cl_dropout_begin(mlpcl_trainer *tr, const mlpcl_epoch_opts *o, int *rebuild)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    *rebuild = 0;
    if (!c->drop && o->dropout == 0.0) return MLPCL_OK;
    if (!c->drop) {
        if (!(c->drop = calloc(1, sizeof *c->drop)) ||
            !(c->drop->H = calloc(tr->net->L, sizeof *c->drop->H))) {
            st = mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for dropout");
            goto fail;
        }
        for (size_t l = 1; l < tr->net->L; ++l)
            TRY(mlpcl__cl_buffer(tr, &c->drop->H[l], tr->batch * tr->net->width[l], c->pad,
                                 tr->real, "dropout's activations", l));
        *rebuild = 1; /* the plans made so far have no dropout launches */
    }
    return set_rate(tr, o->dropout, o->seed, o->epoch);
fail:
    mlpcl__cl_dropout_free(tr); /* made whole or not at all */
    return st;
}

mlpcl_status mlpcl__cl_dropout_end(mlpcl_trainer *tr)
{
    return mlpcl__cl(tr)->drop ? set_rate(tr, 0.0, 0, 0) : MLPCL_OK;
}

mlpcl_status mlpcl__cl_dropout_aim(mlpcl_trainer *tr, const mlpcl_plan *p, size_t pos0)
{
    mlpcl_status st = MLPCL_OK;
    const mlpcl__cl_drop *d = mlpcl__cl(tr)->drop;
    for (size_t i = 0; d && i < d->n_k; ++i)
        if (d->k[i].plan == p) TRY(mlpcl__cl_set_arg(tr, d->k[i].k, DROPOUT_POS0, ARG_UINT(pos0)));
fail:
    return st;
}

/* Makes one dropout kernel of plan p for layer l over the stage's rows, on V (and H). */
static mlpcl_status add(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s, size_t l,
                        mlpcl_kernel_id id, cl_mem *V)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl__cl_drop *d = mlpcl__cl(tr)->drop;
    size_t n = tr->net->width[l];
    cl_kernel k;
    drop_kernel *grown = realloc(d->k, (d->n_k + 1) * sizeof *grown);
    if (!grown) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for launch plans");
    d->k = grown;
    karg a[DROPOUT_FORWARD_NARGS] = {[DROPOUT_M] = ARG_INT(s->mb),
                                     [DROPOUT_N] = ARG_INT(n),
                                     [DROPOUT_THRESHOLD] = ARG_UINT(d->threshold),
                                     [DROPOUT_SCALE] = ARG_REAL(d->scale),
                                     [DROPOUT_SEED_LO] = ARG_UINT((uint32_t)d->seed),
                                     [DROPOUT_SEED_HI] = ARG_UINT((uint32_t)(d->seed >> 32)),
                                     [DROPOUT_EPOCH] = ARG_UINT(d->epoch),
                                     [DROPOUT_LAYER] = ARG_UINT(l),
                                     [DROPOUT_POS0] = ARG_UINT(0),
                                     [DROPOUT_W] = ARG_INT(mlpcl__cl_strip_width(tr, l)),
                                     [DROPOUT_CAP] = ARG_INT(tr->batch),
                                     [DROPOUT_V] = ARG_MEM(*V),
                                     [DROPOUT_H] = ARG_MEM(d->H[l])};
    size_t nargs = id == K_DROPOUT_FORWARD ? DROPOUT_FORWARD_NARGS : DROPOUT_BACKWARD_NARGS;
    TRY(mlpcl__cl_make_kernel(tr, id, &k, nargs, a));
    if (k) d->k[d->n_k++] = (drop_kernel){p, k}; /* none while a plan lists its kernels */
    TRY(mlpcl__cl_add_launch(p, tr, k, id, l, 2, n, s->mb));
fail:
    return st;
}

mlpcl_status mlpcl__cl_dropout_forward(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s,
                                       size_t l)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    if (!c->drop || l >= tr->net->L) return MLPCL_OK;
    return add(tr, p, s, l, K_DROPOUT_FORWARD, &c->A[l]);
}

mlpcl_status mlpcl__cl_dropout_backward(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s,
                                        size_t l)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    if (!c->drop || l >= tr->net->L) return MLPCL_OK;
    return add(tr, p, s, l, K_DROPOUT_BACKWARD, &c->D[l]);
}

cl_mem *mlpcl__cl_dropout_act(mlpcl_trainer *tr, size_t l)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    return c->drop ? &c->drop->H[l] : &c->A[l];
}

void mlpcl__cl_dropout_free(mlpcl_trainer *tr)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    if (!c->drop) return;
    for (size_t l = 1; c->drop->H && l < tr->net->L; ++l)
        mlpcl__cl_buffer_release(tr, &c->drop->H[l]);
    free(c->drop->H);
    free(c->drop->k);
    free(c->drop);
    c->drop = NULL;
}
