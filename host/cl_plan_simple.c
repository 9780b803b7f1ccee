// SPDX-License-Identifier: MIT
/* cl_plan_simple.c: the simple path's stage builders: one output element a work-item, one
 * operation a kernel (forward.cl, delta.cl's hidden delta, gradient.cl, update.cl). The
 * readable baseline the other paths are measured and tested against. */
#include "cl_backend.h"
#include "cl_dropout.h"

/* A_l = act(A_{l-1} W_l + b_l), with mlpcl__cl_forward_act's activation (build_softmax follows
 * a softmax network's). */
static mlpcl_status simple_forward(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s, size_t l)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_net *net = tr->net;
    cl_mem in = l == 1 ? s->in0 : c->A[l - 1];
    cl_kernel k;
    karg a[FORWARD_NARGS] = {[FORWARD_M] = ARG_INT(s->mb),
                             [FORWARD_N_IN] = ARG_INT(net->width[l - 1]),
                             [FORWARD_N_OUT] = ARG_INT(net->width[l]),
                             [FORWARD_ACT] = ARG_INT(mlpcl__cl_forward_act(net, l)),
                             [FORWARD_A_IN] = ARG_MEM(in),
                             [FORWARD_P] = ARG_MEM(s->P),
                             [FORWARD_OFF] = ARG_INT(net->offset[l]),
                             [FORWARD_A_OUT] = ARG_MEM(c->A[l])};
    TRY(mlpcl__cl_make_kernel(tr, K_FORWARD, &k, N_ARGS(a), a));
    TRY(mlpcl__cl_add_launch(p, tr, k, K_FORWARD, l, 2, net->width[l], s->mb));
fail:
    return st;
}

/* D_l = (D_{l+1} W_{l+1}ᵀ) ⊙ act'(A_l). */
static mlpcl_status simple_backward(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s,
                                    size_t l)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_net *net = tr->net;
    size_t n_l = net->width[l], n_next = net->width[l + 1];
    cl_kernel k;
    karg a[HIDDEN_DELTA_NARGS] = {[HIDDEN_DELTA_M] = ARG_INT(s->mb),
                                  [HIDDEN_DELTA_N] = ARG_INT(n_l),
                                  [HIDDEN_DELTA_N_NEXT] = ARG_INT(n_next),
                                  [HIDDEN_DELTA_ACT] = ARG_INT(net->act[l]),
                                  [HIDDEN_DELTA_D_NEXT] = ARG_MEM(c->D[l + 1]),
                                  [HIDDEN_DELTA_P] = ARG_MEM(s->P),
                                  [HIDDEN_DELTA_OFF_NEXT] = ARG_INT(net->offset[l + 1]),
                                  [HIDDEN_DELTA_A] = ARG_MEM(*mlpcl__cl_dropout_act(tr, l)),
                                  [HIDDEN_DELTA_D] = ARG_MEM(c->D[l])};
    TRY(mlpcl__cl_make_kernel(tr, K_HIDDEN_DELTA, &k, N_ARGS(a), a));
    TRY(mlpcl__cl_add_launch(p, tr, k, K_HIDDEN_DELTA, l, 2, n_l, s->mb));
fail:
    return st;
}

/* [dW_l; db_l] = [A_{l-1} 1]ᵀ D_l into the flat gradient. */
static mlpcl_status simple_gradient(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s,
                                    size_t l)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_net *net = tr->net;
    size_t n_in = net->width[l - 1], n_out = net->width[l];
    cl_mem in = l == 1 ? s->in0 : c->A[l - 1];
    cl_kernel k;
    karg a[GRADIENT_NARGS] = {
        [GRADIENT_M] = ARG_INT(s->mb),           [GRADIENT_N_IN] = ARG_INT(n_in),
        [GRADIENT_N_OUT] = ARG_INT(n_out),       [GRADIENT_A_IN] = ARG_MEM(in),
        [GRADIENT_D] = ARG_MEM(c->D[l]),         [GRADIENT_G] = ARG_MEM(c->G),
        [GRADIENT_OFF] = ARG_INT(net->offset[l])};
    TRY(mlpcl__cl_make_kernel(tr, K_GRADIENT, &k, N_ARGS(a), a));
    TRY(mlpcl__cl_add_launch(p, tr, k, K_GRADIENT, l, 2, n_out, n_in + 1));
fail:
    return st;
}

/* The SGD step over the whole flat parameter array, unless the stop flag is set (and the other
 * optimisers' step, mlpcl__cl_optim_update, which every path uses). */
static mlpcl_status simple_update(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    size_t n = mlpcl_net_n_params(tr->net);
    cl_kernel k;
    karg a[UPDATE_NARGS] = {[UPDATE_N] = ARG_INT(n),
                            [UPDATE_LR] = ARG_REAL(tr->lr),
                            [UPDATE_MU] = ARG_REAL(tr->momentum),
                            [UPDATE_P] = ARG_MEM(s->P),
                            [UPDATE_G] = ARG_MEM(c->G),
                            [UPDATE_V] = ARG_MEM(s->V),
                            [UPDATE_V_NEXT] = ARG_MEM(s->V_next),
                            [UPDATE_P_NEXT] = ARG_MEM(s->P_next),
                            [UPDATE_STATE] = ARG_MEM(c->state)};
    TRY(mlpcl__cl_make_kernel(tr, K_UPDATE, &k, N_ARGS(a), a));
    TRY(mlpcl__cl_add_step(p, k, UPDATE_LR));
    TRY(mlpcl__cl_add_launch(p, tr, k, K_UPDATE, 0, 1, n, 1));
fail:
    return st;
}

mlpcl_status mlpcl__cl_optim_update(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    size_t n = mlpcl_net_n_params(tr->net);
    cl_kernel k;
    karg a[OPTIM_NARGS] = {[OPTIM_N] = ARG_INT(n),
                           [OPTIM_LR] = ARG_REAL(tr->lr),
                           [OPTIM_MU] = ARG_REAL(tr->momentum),
                           [OPTIM_P] = ARG_MEM(s->P),
                           [OPTIM_G] = ARG_MEM(c->G),
                           [OPTIM_V] = ARG_MEM(s->V),
                           [OPTIM_V_NEXT] = ARG_MEM(s->V_next),
                           [OPTIM_P_NEXT] = ARG_MEM(s->P_next),
                           [OPTIM_STATE] = ARG_MEM(c->state),
                           [OPTIM_KIND] = ARG_INT(tr->optim.kind),
                           [OPTIM_NESTEROV] = ARG_INT(tr->optim.nesterov),
                           [OPTIM_HYPER] = ARG_MEM(c->hyper),
                           [OPTIM_S] = ARG_MEM(s->S),
                           [OPTIM_S_NEXT] = ARG_MEM(s->S_next),
                           [OPTIM_T] = ARG_MEM(s->T),
                           [OPTIM_T_NEXT] = ARG_MEM(s->T_next)};
    TRY(mlpcl__cl_make_kernel(tr, K_OPTIM, &k, N_ARGS(a), a));
    TRY(mlpcl__cl_add_step(p, k, OPTIM_LR));
    TRY(mlpcl__cl_add_launch(p, tr, k, K_OPTIM, 0, 1, n, 1));
fail:
    return st;
}

const mlpcl_cl_path mlpcl__cl_simple = {
    NULL, simple_forward, simple_backward, simple_gradient, simple_update, NULL, NULL, NULL, NULL};
