/* cl_plan_fused.c: the fused path: a small network's whole full-batch iteration as one launch
 * of fused.cl in one work-group (where seven launches would cost more than the arithmetic).
 * Whether a trainer runs fused, the fused work-group's size, and the fused plan, together. */
#include <string.h>

#include "cl_backend.h"

#define FUSED_UPTO 65536 /* multiply-adds of a forward pass up to which fused.cl runs it */

/* Whether full-batch iterations can run as one fused launch: small (where seven launches cost
 * more than the arithmetic) and at most four layers. */
int mlpcl__cl_fusable(const mlpcl_trainer *tr)
{
    size_t work = 0;
    for (size_t l = 1; l <= tr->net->L; ++l)
        work += tr->m * (tr->net->width[l - 1] + 1) * tr->net->width[l];
    return tr->m && tr->net->L <= 4 && work <= FUSED_UPTO;
}

/* The fused kernel's work-group: one work-item on CPUs (which run a work-group on one core
 * anyway, and then need no synchronisation), the reductions' size elsewhere. */
size_t mlpcl__cl_fused_size(const mlpcl_trainer *tr)
{
    const mlpcl_cl *c = mlpcl__cl(tr);
    return strcmp(tr->ctx->info.type, "cpu") ? c->wg : 1;
}

/* A full-batch iteration as one launch of fused.cl (with its update), and the same without the
 * update for a run's last cost. */
mlpcl_status mlpcl__cl_build_fused_plan(mlpcl_trainer *tr, int parity, mlpcl_plan *p)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    mlpcl_status st = MLPCL_OK;
    const mlpcl_net *net = tr->net;
    double scale = net->loss == MLPCL_CE ? 1.0 / (double)tr->m : 1.0 / (2.0 * (double)tr->m);
    cl_mem A[5] = {NULL}, D[5] = {NULL}; /* layers 1 … 4, NULL past L */
    for (size_t l = 1; l <= net->L; ++l) A[l] = c->A[l], D[l] = c->D[l];
    p->mb = tr->m;
    p->parity = parity;
    for (int last = 0; last < 2; ++last) {
        karg a[FUSED_NARGS] = {ARG_INT(tr->m),    ARG_INT(net->loss),    ARG_REAL(tr->target),
                               ARG_REAL(scale),   ARG_MEM(c->shape),     ARG_MEM(c->X),
                               ARG_MEM(c->Y),     ARG_MEM(c->P[parity]), ARG_MEM(c->P[!parity]),
                               ARG_MEM(c->G),     ARG_MEM(c->V[parity]), ARG_MEM(c->V[!parity]),
                               ARG_MEM(A[1]),     ARG_MEM(A[2]),         ARG_MEM(A[3]),
                               ARG_MEM(A[4]),     ARG_MEM(D[1]),         ARG_MEM(D[2]),
                               ARG_MEM(D[3]),     ARG_MEM(D[4]),         ARG_MEM(c->costs),
                               ARG_MEM(c->state), ARG_REAL(tr->lr),      ARG_REAL(tr->momentum),
                               ARG_INT(!last)};
        cl_kernel k;
        TRY(mlpcl__cl_make_kernel(tr, K_FUSED, &k, N_ARGS(a), a));
        TRY(mlpcl__cl_add_step(p, k, FUSED_LR));
        if (last) {
            p->fused_last = k;
            break;
        }
        p->cost = k;
        p->cost_arg = FUSED_TARGET;
        p->seg[SEG_GATHER] = p->seg[SEG_FORWARD] = p->seg[SEG_LOSS] = p->n_launch;
        TRY(mlpcl__cl_add_launch(p, tr, k, K_FUSED, 0, 1, mlpcl__cl_fused_size(tr), 1));
        p->launch[p->n_launch - 1].local[0] = p->launch[p->n_launch - 1].global[0] =
            mlpcl__cl_fused_size(tr); /* one work-group, of this size */
        p->seg[SEG_BACKWARD] = p->seg[SEG_UPDATE] = p->seg[SEG_COUNT] = p->n_launch;
    }
fail:
    return st;
}
