// SPDX-License-Identifier: MIT
/* dp_worker.c: what the data-parallel group (dp_backend.c) asks of one OpenCL worker: the cost
 * and gradient of its share of a batch, read back for the all-reduce, and the update with the
 * summed gradient. The worker runs its plan's segments up to the update (the tiled path's own
 * update in the gradient's epilogue is overwritten), then the simple path's update kernel, or
 * update.cl's optim for the other optimisers (Nesterov, weight decay, Adam, AdamW). */
#include <math.h>
#include <stdlib.h>

#include "cl_backend.h"
#include "cl_dropout.h"
#include "dp.h"

mlpcl_status mlpcl__dp_worker_prepare(mlpcl_trainer *tr, double lr, double momentum,
                                      const int *perm, const mlpcl_epoch_opts *o)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    int rebuild = 0;
    if (o) TRY(mlpcl__cl_dropout_begin(tr, o, &rebuild));
    if (rebuild) mlpcl__cl_plans_free(c); /* rebuilt with dropout's launches */
    if (perm)
        CL_CHECK(clEnqueueWriteBuffer(tr->ctx->queue, c->idx, CL_TRUE, 0, tr->m * sizeof *perm,
                                      perm, 0, NULL, NULL),
                 "clEnqueueWriteBuffer(shuffle index)", tr->ctx->info.name);
    /* The group decides the stop from the summed cost; a worker's own never stops it. */
    TRY(mlpcl__trainer_prepare(tr, lr, momentum, -INFINITY));
fail:
    return st;
}

mlpcl_status mlpcl__dp_worker_dropout_end(mlpcl_trainer *tr)
{
    return mlpcl__cl_dropout_end(tr);
}

/* Whether a launch of the backward segment is part of a layer's gradient (the rest: the hidden
 * deltas and dropout masks). */
static int is_gradient(mlpcl_kernel_id id)
{
    return id == K_GRADIENT || id == K_GEMM_GRADIENT || id == K_GEMM_GRADIENT_N ||
           id == K_GEMM_GRADIENT_S || id == K_GEMM_GRADIENT_NS || id == K_GRADIENT_REDUCE ||
           id == K_OUTPUT_BACKWARD || id == K_OUTPUT_BACKWARD_S;
}

/* Reads count reals of a buffer from element at into buf's same place, without waiting. */
static mlpcl_status read_at(mlpcl_trainer *tr, cl_mem mem, size_t from, size_t at, size_t count,
                            void *buf, cl_event *ev, const char *what)
{
    mlpcl_status st = MLPCL_OK;
    CL_CHECK(clEnqueueReadBuffer(tr->ctx->queue, mem, CL_FALSE, from * tr->real, count * tr->real,
                                 (char *)buf + at * tr->real, 0, NULL, ev),
             what, tr->ctx->info.name);
fail:
    return st;
}

mlpcl_status mlpcl__dp_worker_gradient(mlpcl_trainer *tr, int gathered, size_t offset, size_t rows,
                                       size_t total, int by_layer, int cost_only, void *buf,
                                       cl_event *ev)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_net *net = tr->net;
    size_t n = mlpcl_net_n_params(net), L = net->L;
    mlpcl_plan *p;
    TRY(mlpcl__plan_get(tr, rows, gathered, 0, &p));
    if (gathered) {
        TRY(mlpcl__cl_aim_rows(tr, p, &c->X, &c->Y, 1, offset));
        TRY(mlpcl__cl_dropout_aim(tr, p, offset));
    }
    TRY(mlpcl__cl_aim_loss(tr, p, total));
    if (cost_only) {
        TRY(mlpcl__plan_enqueue(tr, p, SEG_GATHER, SEG_BACKWARD));
        TRY(read_at(tr, c->costs, 0, n, 1, buf, &ev[0], "clEnqueueReadBuffer(cost)"));
    } else if (!by_layer) {
        TRY(mlpcl__plan_enqueue(tr, p, SEG_GATHER, SEG_UPDATE));
        TRY(read_at(tr, c->G, 0, 0, n, buf, NULL, "clEnqueueReadBuffer(gradients)"));
        /* the queue is in order: the cost's read ends after the gradients' */
        TRY(read_at(tr, c->costs, 0, n, 1, buf, &ev[0], "clEnqueueReadBuffer(cost)"));
    } else {
        /* The cost first, then the backward pass in its order (each layer's gradient from the
         * last layer down, cl_plan.c), each layer's gradient read as soon as its launches are
         * done: the group sums layer l while the device computes layer l − 1's. */
        TRY(mlpcl__plan_enqueue(tr, p, SEG_GATHER, SEG_BACKWARD));
        TRY(read_at(tr, c->costs, 0, n, 1, buf, &ev[0], "clEnqueueReadBuffer(cost)"));
        CL_CHECK(clFlush(tr->ctx->queue), "clFlush", tr->ctx->info.name);
        for (size_t i = p->seg[SEG_BACKWARD]; i < p->seg[SEG_UPDATE]; ++i) {
            const mlpcl_launch *x = &p->launch[i];
            TRY(mlpcl__cl_enqueue(tr, x));
            int more = i + 1 < p->seg[SEG_UPDATE] && is_gradient(p->launch[i + 1].id) &&
                       p->launch[i + 1].layer == x->layer;
            if (!is_gradient(x->id) || more) continue;
            size_t l = x->layer, at = net->offset[l], count = (l < L ? net->offset[l + 1] : n) - at;
            TRY(read_at(tr, c->G, at, at, count, buf, &ev[l], "clEnqueueReadBuffer(gradients)"));
            CL_CHECK(clFlush(tr->ctx->queue), "clFlush", tr->ctx->info.name);
        }
    }
    CL_CHECK(clFlush(tr->ctx->queue), "clFlush", tr->ctx->info.name);
fail:
    /* the group's update, or a rewind when the group diverged, comes next: the next head packs
     * the weights' panels afresh (the tails enqueued by layer here do not say so) */
    mlpcl__cl(tr)->panels_current = 0;
    return st;
}

/* The update of the parameters of parity `parity` as a plan of its own (rows 0, which no
 * iteration's plan has), kept in the worker's list so that runs set its step. */
static mlpcl_status update_plan(mlpcl_trainer *tr, int parity, mlpcl_plan **out)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    for (mlpcl_plan *p = c->plans; p; p = p->next)
        if (p->mb == 0 && p->parity == parity) {
            *out = p;
            return MLPCL_OK;
        }
    mlpcl_plan *p = calloc(1, sizeof *p);
    if (!p) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a launch plan");
    p->parity = parity;
    p->next = c->plans;
    c->plans = p;
    const mlpcl_stage s = {0,
                           parity,
                           c->X,
                           c->Y,
                           c->P[parity],
                           c->P[!parity],
                           c->V[parity],
                           c->V[!parity],
                           c->S[0] ? c->S[parity] : c->V[parity],
                           c->S[0] ? c->S[!parity] : c->V[!parity],
                           c->T[parity],
                           c->T[!parity],
                           0};
    p->seg[SEG_UPDATE] = p->n_launch;
    if (mlpcl__optim_plain(&tr->optim))
        TRY(mlpcl__cl_simple.update(tr, p, &s));
    else
        TRY(mlpcl__cl_optim_update(tr, p, &s));
    p->seg[SEG_COUNT] = p->n_launch;
    *out = p;
fail:
    return st;
}

mlpcl_status mlpcl__dp_worker_update(mlpcl_trainer *tr, const void *sum)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    mlpcl_plan *p = NULL;
    TRY(update_plan(tr, (int)(tr->iter & 1), &p));
    CL_CHECK(clEnqueueWriteBuffer(tr->ctx->queue, c->G, CL_FALSE, 0,
                                  mlpcl_net_n_params(tr->net) * tr->real, sum, 0, NULL, NULL),
             "clEnqueueWriteBuffer(summed gradients)", tr->ctx->info.name);
    TRY(mlpcl__plan_enqueue(tr, p, SEG_UPDATE, SEG_COUNT));
    tr->iter += 1;
fail:
    return st;
}
