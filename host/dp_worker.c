// SPDX-License-Identifier: MIT
/* dp_worker.c: what the data-parallel group (dp_backend.c) asks of one OpenCL worker: the cost
 * and gradient of its share of a batch, read back for the all-reduce, and the update with the
 * summed gradient. The worker runs its plan's segments up to the update (the tiled path's own
 * update in the gradient's epilogue is overwritten), then the simple path's update kernel. */
#include <math.h>
#include <stdlib.h>

#include "cl_backend.h"
#include "dp.h"

mlpcl_status mlpcl__dp_worker_prepare(mlpcl_trainer *tr, double lr, double momentum,
                                      const int *perm)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    if (perm)
        CL_CHECK(clEnqueueWriteBuffer(tr->ctx->queue, c->idx, CL_TRUE, 0, tr->m * sizeof *perm,
                                      perm, 0, NULL, NULL),
                 "clEnqueueWriteBuffer(shuffle index)", tr->ctx->info.name);
    /* The group decides the stop from the summed cost; a worker's own never stops it. */
    TRY(mlpcl__trainer_prepare(tr, lr, momentum, -INFINITY));
fail:
    return st;
}

mlpcl_status mlpcl__dp_worker_gradient(mlpcl_trainer *tr, int gathered, size_t offset, size_t rows,
                                       size_t total, void *buf, cl_event *ev)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    const char *dn = tr->ctx->info.name;
    size_t n = mlpcl_net_n_params(tr->net);
    mlpcl_plan *p;
    TRY(mlpcl__plan_get(tr, rows, gathered, 0, &p));
    if (gathered) TRY(mlpcl__cl_aim_gather(tr, p, &c->X, &c->Y, 1, offset));
    TRY(mlpcl__cl_aim_loss(tr, p, total));
    TRY(mlpcl__plan_enqueue(tr, p, SEG_GATHER, SEG_UPDATE));
    CL_CHECK(
        clEnqueueReadBuffer(tr->ctx->queue, c->G, CL_FALSE, 0, n * tr->real, buf, 0, NULL, NULL),
        "clEnqueueReadBuffer(gradients)", dn);
    /* the queue is in order: the cost's read ends after the gradients' */
    CL_CHECK(clEnqueueReadBuffer(tr->ctx->queue, c->costs, CL_FALSE, 0, tr->real,
                                 (char *)buf + n * tr->real, 0, NULL, ev),
             "clEnqueueReadBuffer(cost)", dn);
    CL_CHECK(clFlush(tr->ctx->queue), "clFlush", dn);
fail:
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
                           c->V[parity],
                           c->V[!parity],
                           c->T[parity],
                           c->T[!parity]};
    p->seg[SEG_UPDATE] = p->n_launch;
    TRY(mlpcl__cl_simple.update(tr, p, &s));
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
