// SPDX-License-Identifier: MIT
/* cl_plan.c: launch plans, the kernel launches of one iteration with their arguments set, built
 * once per (rows, gathered, parity) and reused. A plan is made stage by stage: the gather, the
 * forward pass (by the path's builder, then the softmax), the loss and cost (cl_loss.c), then the
 * path's backward, gradient and update builders (cl_plan_simple.c, cl_plan_tiled.c); small
 * full-batch networks take the fused plan (cl_plan_fused.c) instead. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cl_backend.h"
#include "cl_dropout.h"

/* Elements of a row one gather work-item copies (gather.cl): on CPUs a run of 64 (one
 * work-group per 4 rows of 784 inputs instead of 49), elsewhere one. */
static size_t gather_chunk(const mlpcl_trainer *tr)
{
    return mlpcl__ctx_is_cpu(tr->ctx) ? 64 : 1;
}

/* A batch's rows of the inputs and, when training, of the targets, through the shuffle, in one
 * launch; the sources and the offset are set for each batch (mlpcl__cl_aim_rows). */
static mlpcl_status build_gather(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    size_t n0 = tr->net->width[0], nL = tr->m ? tr->net->width[tr->net->L] : 0;
    size_t ch = gather_chunk(tr);
    cl_mem none = NULL;
    karg a[GATHER_NARGS] = {[GATHER_MB] = ARG_INT(s->mb),  [GATHER_WIDTH] = ARG_INT(n0),
                            [GATHER_SRC] = ARG_MEM(c->Xb), [GATHER_IDX] = ARG_MEM(c->idx),
                            [GATHER_USE_IDX] = ARG_INT(0), [GATHER_OFFSET] = ARG_INT(0),
                            [GATHER_DST] = ARG_MEM(c->Xb), [GATHER_CHUNK] = ARG_INT(ch),
                            [GATHER_WIDTH2] = ARG_INT(nL), [GATHER_SRC2] = ARG_MEM(none),
                            [GATHER_DST2] = ARG_MEM(c->Yb)};
    TRY(mlpcl__cl_make_kernel(tr, K_GATHER, &p->gather, N_ARGS(a), a));
    TRY(mlpcl__cl_add_launch(p, tr, p->gather, K_GATHER, 0, 2,
                             (n0 + ch - 1) / ch + (nL + ch - 1) / ch, s->mb));
fail:
    return st;
}

/* The output layer's row-wise softmax (cross-entropy), after either path's forward pass. */
static mlpcl_status build_softmax(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    size_t L = tr->net->L;
    cl_kernel k;
    karg a[SOFTMAX_NARGS] = {[SOFTMAX_M] = ARG_INT(s->mb),
                             [SOFTMAX_N] = ARG_INT(tr->net->width[L]),
                             [SOFTMAX_Z] = ARG_MEM(c->A[L])};
    TRY(mlpcl__cl_make_kernel(tr, K_SOFTMAX, &k, N_ARGS(a), a));
    TRY(mlpcl__cl_add_launch(p, tr, k, K_SOFTMAX, L, 1, s->mb, 1));
fail:
    return st;
}

/* Builds the launches of one iteration over mb rows with the parameters in P[parity]: each
 * stage in its segment, the path's builders for the products; a prediction's, the forward pass
 * alone. The output layer may be one launch of the path's output: a training plan's with its
 * loss, in the loss segment (the forward segment stops below it); a prediction's without, as
 * the forward segment's last launch. */
static mlpcl_status build_plan(mlpcl_trainer *tr, size_t mb, int gathered, int parity,
                               int predicting, mlpcl_plan *p)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    size_t L = tr->net->L;
    const mlpcl_cl_path *path =
        c->tune.path == MLPCL_PATH_TILED ? &mlpcl__cl_tiled : &mlpcl__cl_simple;
    int in_place = gathered && mlpcl__cl_gathers_in_forward(tr);
    const mlpcl_stage s = {mb,
                           parity,
                           gathered ? c->Xb : c->X,
                           gathered ? c->Yb : c->Y,
                           c->P[parity],
                           c->P[!parity],
                           c->V[parity],
                           c->V[!parity],
                           c->S[0] ? c->S[parity] : c->V[parity],
                           c->S[0] ? c->S[!parity] : c->V[!parity],
                           c->T[parity],
                           c->T[!parity],
                           in_place};
    p->mb = mb;
    p->gathered = gathered;
    p->parity = parity;
    p->predicting = predicting;
    int trains = tr->m && !predicting;
    /* the output layer in one launch with its loss (a prediction's: without) */
    int fused_out = path->fuses_output && path->fuses_output(tr, mb);

    if (!gathered && c->fused) return mlpcl__cl_build_fused_plan(tr, parity, p);

    p->seg[SEG_PACK] = p->n_launch;
    for (size_t l = 1; path->pack && l <= L; ++l) TRY(path->pack(tr, p, &s, l));

    p->seg[SEG_GATHER] = p->n_launch;
    if (gathered && !in_place) TRY(build_gather(tr, p, &s));

    p->seg[SEG_FORWARD] = p->n_launch;
    for (size_t l = 1; l <= L - (size_t)fused_out; ++l) {
        TRY(path->forward(tr, p, &s, l));
        TRY(mlpcl__cl_dropout_forward(tr, p, &s, l)); /* hidden layers, when dropping */
    }
    if (tr->net->loss == MLPCL_LOSS_CE && !fused_out) TRY(build_softmax(tr, p, &s));
    if (fused_out && !trains) TRY(path->output(tr, p, &s)); /* a prediction's, in its forward */

    p->seg[SEG_LOSS] = p->n_launch;
    if (fused_out && trains)
        TRY(path->output(tr, p, &s));
    else if (trains)
        TRY(mlpcl__cl_build_loss(tr, p, &s));

    /* From the last layer down, each layer's gradient (the last reader of A_{l-1}) before the
     * deltas D_{l-1} that overwrite it (mlpcl__cl_delta_buffers). */
    p->seg[SEG_BACKWARD] = p->n_launch;
    int fused_back = trains && path->fuses_output_backward && path->fuses_output_backward(tr, mb);
    for (size_t l = L; trains && l >= 1; --l) {
        if (l == L && fused_back) { /* the output layer's gradient and the deltas below it */
            TRY(path->output_backward(tr, p, &s));
        } else {
            TRY(path->gradient(tr, p, &s, l));
            if (l == 1) break;
            TRY(path->backward(tr, p, &s, l - 1));
        }
        TRY(mlpcl__cl_dropout_backward(tr, p, &s, l - 1));
    }

    /* Plain SGD as the path does it; any other optimiser by update.cl's optim over the flat
     * parameters (the tiled epilogues then step by 0: cl_plan_tiled.c). */
    p->seg[SEG_UPDATE] = p->n_launch;
    if (trains && !mlpcl__optim_plain(&tr->optim))
        TRY(mlpcl__cl_optim_update(tr, p, &s));
    else if (trains && path->update)
        TRY(path->update(tr, p, &s));
    p->seg[SEG_COUNT] = p->n_launch;
fail:
    return st;
}

/* Empties p, as calloc made it. */
static void plan_clear(mlpcl_plan *p)
{
    free(p->launch);
    free(p->step);
    free(p->step_arg);
    memset(p, 0, sizeof *p);
}

static void plan_free(mlpcl_plan *p)
{
    plan_clear(p);
    free(p);
}

static mlpcl_status plan_get(mlpcl_trainer *tr, size_t mb, int gathered, long iter, int predicting,
                             mlpcl_plan **out)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    int parity = (int)((tr->iter + iter) & 1);
    for (mlpcl_plan *p = c->plans; p; p = p->next)
        if (p->mb == mb && p->gathered == gathered && p->parity == parity &&
            p->predicting == predicting) {
            *out = p;
            return MLPCL_OK;
        }
    mlpcl_status st = MLPCL_OK;
    size_t n0 = tr->net->width[0], nL = tr->net->width[tr->net->L];
    if (gathered && !c->Xb)
        TRY(mlpcl__cl_buffer(tr, &c->Xb, tr->batch * n0, c->pad, tr->real, "batch inputs", 0));
    if (gathered && tr->m && !c->Yb)
        TRY(mlpcl__cl_buffer(tr, &c->Yb, tr->batch * nL, 0, tr->real, "batch targets", 0));
    mlpcl_plan *p = calloc(1, sizeof *p);
    if (!p) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a launch plan");
    if (c->lazy) { /* the plan built once to list its kernels, then one program of those */
        uint32_t kernels = 0;
        c->collect = &kernels;
        st = build_plan(tr, mb, gathered, parity, predicting, p);
        c->collect = NULL;
        plan_clear(p);
        if (st == MLPCL_OK) st = mlpcl__cl_kernels_ready(tr, kernels);
    }
    if (st == MLPCL_OK) st = build_plan(tr, mb, gathered, parity, predicting, p);
    if (st != MLPCL_OK) { /* not kept, so that a retry builds it again (its kernels are in
                             c->kernels, released with the trainer) */
        plan_free(p);
        return st;
    }
    p->next = c->plans;
    c->plans = p;
    *out = p;
fail:
    return st;
}

mlpcl_status mlpcl__plan_get(mlpcl_trainer *tr, size_t mb, int gathered, long iter,
                             mlpcl_plan **out)
{
    return plan_get(tr, mb, gathered, iter, 0, out);
}

mlpcl_status mlpcl__plan_predict(mlpcl_trainer *tr, size_t mb, mlpcl_plan **out)
{
    return plan_get(tr, mb, 1, 0, 1, out);
}

void mlpcl__cl_plans_free(mlpcl_cl *c)
{
    while (c->plans) {
        mlpcl_plan *next = c->plans->next;
        plan_free(c->plans);
        c->plans = next;
    }
}

mlpcl_status mlpcl__cl_aim_rows(mlpcl_trainer *tr, mlpcl_plan *p, cl_mem *X, cl_mem *Y, int use_idx,
                                size_t offset)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    cl_mem none = NULL;
    if (p->first) { /* the product reads X's rows; with targets (training) it gathers them too */
        cl_kernel k = p->first;
        TRY(mlpcl__cl_set_arg(tr, k, GEMM_FORWARD_A, ARG_MEM(*X)));
        TRY(mlpcl__cl_set_arg(tr, k, GEMM_FORWARD_IDX, ARG_MEM(*(use_idx ? &c->idx : &none))));
        TRY(mlpcl__cl_set_arg(tr, k, GEMM_FORWARD_ROW0, ARG_INT(offset)));
        TRY(mlpcl__cl_set_arg(tr, k, GEMM_FORWARD_XB, ARG_MEM(*(Y ? &c->Xb : &none))));
        TRY(mlpcl__cl_set_arg(tr, k, GEMM_FORWARD_Y, ARG_MEM(*(Y ? Y : &none))));
        return MLPCL_OK;
    }
    TRY(mlpcl__cl_set_arg(tr, p->gather, GATHER_SRC, ARG_MEM(*X)));
    TRY(mlpcl__cl_set_arg(tr, p->gather, GATHER_SRC2, ARG_MEM(*(Y ? Y : &none))));
    TRY(mlpcl__cl_set_arg(tr, p->gather, GATHER_USE_IDX, ARG_INT(use_idx)));
    TRY(mlpcl__cl_set_arg(tr, p->gather, GATHER_OFFSET, ARG_INT(offset)));
fail:
    return st;
}

mlpcl_status mlpcl__cl_aim_loss(mlpcl_trainer *tr, mlpcl_plan *p, size_t rows)
{
    mlpcl_status st = MLPCL_OK;
    TRY(mlpcl__cl_set_arg(tr, p->delta, (cl_uint)p->delta_m, ARG_INT(rows)));
    TRY(mlpcl__cl_set_arg(tr, p->cost, (cl_uint)p->cost_scale,
                          ARG_REAL(mlpcl__loss_scale(tr->net->loss, rows))));
fail:
    return st;
}

double mlpcl__target_for(mlpcl_precision p, double target)
{
    if (p == MLPCL_PRECISION_DOUBLE || isnan(target) || isinf(target)) return target;
    float t = (float)target;
    if ((double)t < target) t = nextafterf(t, INFINITY);
    return t;
}

void mlpcl__trainer_keep_gradients(mlpcl_trainer *tr)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    c->keep_gradients = 1;
    mlpcl__cl_plans_free(c);
}

mlpcl_status mlpcl__trainer_prepare(mlpcl_trainer *tr, double lr, double momentum, double target)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    TRY(mlpcl__cl_fill_pending(tr)); /* the layers' rows, zeroed before any launch */
    tr->lr = lr;
    tr->momentum = momentum;
    tr->target = mlpcl__target_for(tr->precision, target);
    const mlpcl_optim *o = &tr->optim;
    if (mlpcl__cl_optim_kind(o) != mlpcl__cl_optim_kind(&c->built) ||
        o->nesterov != c->built.nesterov || (o->kind != MLPCL_OPT_SGD && !c->S[0])) {
        /* (the kernels of launches still queued live on in c->kernels) */
        if (o->kind != MLPCL_OPT_SGD) TRY(mlpcl__cl_make_adam(tr));
        mlpcl__cl_plans_free(c);
        c->built = *o;
    }
    if (!mlpcl__optim_plain(o)) {
        double hyper[4] = {o->beta1, o->beta2, o->eps, o->wd}; /* ops.cl's HYPER_* */
        TRY(mlpcl__cl_upload(tr, c->hyper, hyper, 4));
    }
    for (mlpcl_plan *p = c->plans; p; p = p->next) {
        if (p->cost)
            TRY(mlpcl__cl_set_arg(tr, p->cost, (cl_uint)p->cost_arg, ARG_REAL(tr->target)));
        if (p->fused_last)
            TRY(mlpcl__cl_set_arg(tr, p->fused_last, FUSED_TARGET, ARG_REAL(tr->target)));
        for (size_t i = 0; i < p->n_step; ++i) {
            TRY(mlpcl__cl_set_arg(tr, p->step[i], (cl_uint)p->step_arg[i], ARG_REAL(lr)));
            TRY(mlpcl__cl_set_arg(tr, p->step[i], (cl_uint)p->step_arg[i] + 1, ARG_REAL(momentum)));
        }
    }
    static const cl_int zero = 0;
    CL_CHECK(clEnqueueWriteBuffer(tr->ctx->queue, c->state, CL_TRUE, 0, sizeof zero, &zero, 0, NULL,
                                  NULL),
             "clEnqueueWriteBuffer(stop flag)", tr->ctx->info.name);
fail:
    return st;
}
