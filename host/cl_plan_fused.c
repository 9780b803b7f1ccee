// SPDX-License-Identifier: MIT
/* cl_plan_fused.c: the fused path: a small network's whole full-batch iteration as one launch
 * of fused.cl in one work-group (where seven launches would cost more than the arithmetic).
 * Whether a trainer runs fused, the fused work-group's size, and the fused plan, together. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cl_backend.h"

#define FUSED_UPTO 65536 /* multiply-adds of a forward pass up to which fused.cl runs it */
/* The shape buffer must fit in the constant memory every device has (bytes). */
#define FUSED_SHAPE_BYTES 65536

int mlpcl__cl_fused_fits(const mlpcl_trainer *tr)
{
    const mlpcl_cl *c = mlpcl__cl(tr);
    size_t L = tr->net->L, elems = 0;
    /* each layer's region: its rows, the read-past padding, the canary, the alignment */
    for (size_t l = 1; l <= L; ++l)
        elems += tr->m * tr->net->width[l] + c->pad + (MLPCL__CANARY_SIZE + 4096) / tr->real;
    return tr->m && (2 + 4 * L) * sizeof(cl_int) <= FUSED_SHAPE_BYTES && elems <= (size_t)INT32_MAX;
}

int mlpcl__cl_fusable(const mlpcl_trainer *tr)
{
    size_t work = 0;
    for (size_t l = 1; l <= tr->net->L; ++l)
        work += tr->m * (tr->net->width[l - 1] + 1) * tr->net->width[l];
    return work <= FUSED_UPTO && mlpcl__cl_fused_fits(tr);
}

mlpcl_status mlpcl__cl_fused_shape(mlpcl_trainer *tr)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_net *net = tr->net;
    size_t L = net->L, count = 2 + 4 * L;
    cl_int err, *shape = calloc(count, sizeof *shape);
    if (!shape) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a trainer");
    shape[0] = (cl_int)L;
    for (size_t l = 0; l <= L; ++l) shape[1 + l] = (cl_int)net->width[l];
    for (size_t l = 1; l <= L; ++l) {
        size_t bytes = 0;
        shape[1 + L + l] = (cl_int)net->act[l];
        shape[1 + 2 * L + l] = (cl_int)net->offset[l];
        /* A[l] and D[l] are sub-buffers at the same offsets of A[0] and D[0] */
        CL_CHECK(clGetMemObjectInfo(c->A[l], CL_MEM_OFFSET, sizeof bytes, &bytes, NULL),
                 "clGetMemObjectInfo(CL_MEM_OFFSET)", tr->ctx->info.name);
        shape[1 + 3 * L + l] = (cl_int)(bytes / tr->real);
    }
    c->shape = clCreateBuffer(tr->ctx->context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                              count * sizeof *shape, shape, &err);
    CL_CHECK(err, "clCreateBuffer(network shape)", tr->ctx->info.name);
fail:
    free(shape);
    return st;
}

/* The fused kernel's work-group: one work-item on CPUs (mlpcl__fused_one_item), the
 * reductions' size elsewhere. */
size_t mlpcl__cl_fused_size(const mlpcl_trainer *tr)
{
    const mlpcl_cl *c = mlpcl__cl(tr);
    return mlpcl__fused_one_item(tr->ctx) ? 1 : c->wg;
}

/* A full-batch iteration as one launch of fused.cl (with its update), and the same without the
 * update for a run's last cost. A[0] and D[0] are the buffers that hold every layer's. */
mlpcl_status mlpcl__cl_build_fused_plan(mlpcl_trainer *tr, int parity, mlpcl_plan *p)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    mlpcl_status st = MLPCL_OK;
    const mlpcl_net *net = tr->net;
    double scale = mlpcl__loss_scale(net->loss, tr->m);
    p->mb = tr->m;
    p->parity = parity;
    cl_mem *S = c->S[0] ? c->S : c->V; /* V's as placeholders before an Adam run */
    for (int last = 0; last < 2; ++last) {
        karg a[FUSED_NARGS] = {
            [FUSED_M] = ARG_INT(tr->m),
            [FUSED_LOSS] = ARG_INT(net->loss),
            [FUSED_TARGET] = ARG_REAL(tr->target),
            [FUSED_SCALE] = ARG_REAL(scale),
            [FUSED_SHAPE] = ARG_MEM(c->shape),
            [FUSED_X] = ARG_MEM(c->X),
            [FUSED_Y] = ARG_MEM(c->Y),
            [FUSED_P] = ARG_MEM(c->P[parity]),
            [FUSED_P_NEXT] = ARG_MEM(c->P[!parity]),
            [FUSED_G] = ARG_MEM(c->G),
            [FUSED_V] = ARG_MEM(c->V[parity]),
            [FUSED_V_NEXT] = ARG_MEM(c->V[!parity]),
            [FUSED_A] = ARG_MEM(c->A[0]),
            [FUSED_D] = ARG_MEM(c->D[0]),
            [FUSED_COST] = ARG_MEM(c->costs),
            [FUSED_STATE] = ARG_MEM(c->state),
            [FUSED_LR] = ARG_REAL(tr->lr),
            [FUSED_MU] = ARG_REAL(tr->momentum),
            [FUSED_DO_UPDATE] = ARG_INT(!last),
            [FUSED_ITERS] = ARG_INT(1),
            [FUSED_KIND] = ARG_INT(mlpcl__cl_optim_kind(&tr->optim)),
            [FUSED_NESTEROV] = ARG_INT(tr->optim.nesterov),
            [FUSED_HYPER] = ARG_MEM(c->hyper),
            [FUSED_S] = ARG_MEM(S[parity]),
            [FUSED_S_NEXT] = ARG_MEM(S[!parity]),
            [FUSED_T] = ARG_MEM(c->T[parity]),
            [FUSED_T_NEXT] = ARG_MEM(c->T[!parity]),
        };
        cl_kernel k;
        TRY(mlpcl__cl_make_kernel(tr, K_FUSED, &k, N_ARGS(a), a));
        TRY(mlpcl__cl_add_step(p, k, FUSED_LR));
        if (last) {
            p->fused_last = k;
            break;
        }
        p->cost = k;
        p->cost_arg = FUSED_TARGET;
        p->cost_scale = p->cost_slot = -1; /* fixed: its scale, a cost an iteration */
        p->seg[SEG_GATHER] = p->seg[SEG_FORWARD] = p->seg[SEG_LOSS] = p->n_launch;
        TRY(mlpcl__cl_add_launch(p, tr, k, K_FUSED, 0, 1, mlpcl__cl_fused_size(tr), 1));
        p->launch[p->n_launch - 1].local[0] = p->launch[p->n_launch - 1].global[0] =
            mlpcl__cl_fused_size(tr); /* one work-group, of this size */
        p->seg[SEG_BACKWARD] = p->seg[SEG_UPDATE] = p->seg[SEG_COUNT] = p->n_launch;
    }
fail:
    return st;
}
