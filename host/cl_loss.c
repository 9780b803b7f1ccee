// SPDX-License-Identifier: MIT
/* cl_loss.c: a training plan's loss stage, the output delta D_L with the loss's partial sums,
 * and the cost kernel that adds them into the cost and sets the stop flag: cl_plan.c's, and the
 * tiled path's output layer's (cl_plan_tiled.c) sums. */
#include "cl_backend.h"

/* Work-groups of the output delta, a partial sum each: one per wg outputs, and on CPUs at most
 * four a compute unit, each walking its share, since POCL runs each group's barriers (the sum's)
 * as passes over its work-items: a full batch of 784-256-10's 600,000 outputs took 2.9-3.9 ms in
 * 9375 groups, 1.8-2.0 ms in two (2-core AVX-512 EPYC). Four, not one, so that a core another
 * process holds delays a quarter of its share, not all of it. */
size_t mlpcl__cl_partial_count(const mlpcl_trainer *tr, size_t mb)
{
    size_t wg = mlpcl__cl(tr)->wg, groups = (mb * tr->net->width[tr->net->L] + wg - 1) / wg;
    size_t most = 4 * (size_t)(tr->ctx->info.compute_units ? tr->ctx->info.compute_units : 1);
    if (mlpcl__ctx_is_cpu(tr->ctx) && groups > most) groups = most;
    return groups;
}

/* D_L with the loss's partial sums, then the cost and the stop flag; for at most
 * WHOLE_LOSS_ITEMS work-items' worth of outputs, one work-group of the output delta does it all:
 * a batch-64 epoch of 784-256-10 (640 outputs) saves a launch a batch. */
#define WHOLE_LOSS_ITEMS 64
mlpcl_status mlpcl__cl_build_loss(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_net *net = tr->net;
    size_t L = net->L, nL = net->width[L], mb = s->mb;
    int whole = mb * nL <= WHOLE_LOSS_ITEMS * c->wg;
    size_t groups = whole ? 1 : mlpcl__cl_partial_count(tr, mb);
    double scale = mlpcl__loss_scale(net->loss, mb);
    cl_kernel k;
    karg a[OUTPUT_DELTA_NARGS] = {
        [OUTPUT_DELTA_MN] = ARG_INT(mb * nL),      [OUTPUT_DELTA_M] = ARG_INT(mb),
        [OUTPUT_DELTA_ACT] = ARG_INT(net->act[L]), [OUTPUT_DELTA_LOSS] = ARG_INT(net->loss),
        [OUTPUT_DELTA_A] = ARG_MEM(c->A[L]),       [OUTPUT_DELTA_Y] = ARG_MEM(s->y),
        [OUTPUT_DELTA_D] = ARG_MEM(c->D[L]),       [OUTPUT_DELTA_PARTIALS] = ARG_MEM(c->partials),
        [OUTPUT_DELTA_SCALE] = ARG_REAL(scale),    [OUTPUT_DELTA_TARGET] = ARG_REAL(tr->target),
        [OUTPUT_DELTA_COST] = ARG_MEM(c->costs),   [OUTPUT_DELTA_STATE] = ARG_MEM(c->state),
        [OUTPUT_DELTA_SLOT] = ARG_INT(0)};
    TRY(mlpcl__cl_make_kernel(tr, K_OUTPUT_DELTA, &k, N_ARGS(a), a));
    p->delta = k;
    p->delta_m = OUTPUT_DELTA_M;
    TRY(mlpcl__cl_add_launch(p, tr, k, K_OUTPUT_DELTA, L, 1, groups * c->wg, 1));
    if (whole) {
        p->cost = k;
        p->cost_arg = OUTPUT_DELTA_TARGET;
        p->cost_scale = OUTPUT_DELTA_SCALE;
        p->cost_slot = OUTPUT_DELTA_SLOT;
        return MLPCL_OK;
    }
    return mlpcl__cl_build_cost(tr, p, groups, scale);
fail:
    return st;
}

mlpcl_status mlpcl__cl_build_cost(mlpcl_trainer *tr, mlpcl_plan *p, size_t n_partials, double scale)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    karg cost[COST_NARGS] = {[COST_N_PARTIALS] = ARG_INT(n_partials),
                             [COST_SCALE] = ARG_REAL(scale),
                             [COST_TARGET] = ARG_REAL(tr->target),
                             [COST_PARTIALS] = ARG_MEM(c->partials),
                             [COST_COST] = ARG_MEM(c->costs),
                             [COST_STATE] = ARG_MEM(c->state),
                             [COST_SLOT] = ARG_INT(0)};
    TRY(mlpcl__cl_make_kernel(tr, K_COST, &p->cost, N_ARGS(cost), cost));
    p->cost_arg = COST_TARGET;
    p->cost_scale = COST_SCALE;
    p->cost_slot = COST_SLOT;
    TRY(mlpcl__cl_add_launch(p, tr, p->cost, K_COST, 0, 1, c->wg, 1));
fail:
    return st;
}
