/* cl_loop.c: the OpenCL backend's training loop, shared by full-batch runs and mini-batch
 * epochs. It reads the cost every iteration without stalling the device: the host waits for
 * iteration k's cost while k+1 … k+lookahead are already queued, and the parameters are
 * double-buffered with a device-side stop flag so that stopping at k is exact (DESIGN.md §3). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cl_backend.h"

/* What one call of the loop below runs: heads 0 … heads−1 (gather, forward, cost) and tails
 * 0 … tails−1 (backward, update), tail j right after head j. */
typedef struct loop {
    long heads, tails;
    int lookahead;
    double target; /* stop when a cost is below it (−∞: never) */
    int epoch;     /* mini-batches through the shuffle, else the whole training set */
    size_t first;  /* step j is batch first + j of the epoch */
    void (*on_cost)(void *user, long iter, double cost, size_t rows);
    void *user;
    volatile sig_atomic_t *interrupt;
} loop;

/* Waits for a non-blocking cost read and returns the value as a double. */
static mlpcl_status take_cost(mlpcl_trainer *tr, cl_event *ev, const unsigned char *slot,
                              double *cost)
{
    mlpcl_status st = MLPCL_OK;
    CL_CHECK(clWaitForEvents(1, ev), "clWaitForEvents(cost read)", tr->ctx->info.name);
    if (tr->precision == MLPCL_DOUBLE) {
        memcpy(cost, slot, sizeof *cost);
    } else {
        float f;
        memcpy(&f, slot, sizeof f);
        *cost = f;
    }
fail:
    clReleaseEvent(*ev);
    *ev = NULL;
    return st;
}

static size_t rows_of(const mlpcl_trainer *tr, const loop *lp, long j)
{
    if (!lp->epoch) return tr->m;
    size_t start = (lp->first + (size_t)j) * tr->batch;
    return tr->m - start < tr->batch ? tr->m - start : tr->batch;
}

/* Enqueues head j (and tail j when the loop has one) and the read of its cost. */
static mlpcl_status enqueue_step(mlpcl_trainer *tr, const loop *lp, long j, unsigned char *slot,
                                 cl_event *ev)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    mlpcl_status st = MLPCL_OK;
    mlpcl_plan *p;
    TRY(mlpcl__plan_get(tr, rows_of(tr, lp, j), lp->epoch, j, &p));
    if (lp->epoch)
        TRY(mlpcl__cl_aim_gather(tr, p, &c->X, &c->Y, 1, (lp->first + (size_t)j) * tr->batch));
    if (p->fused_last && j >= lp->tails) /* the fused launch updates, unless it is the last */
        TRY(mlpcl__cl_enqueue(tr, &(mlpcl_launch){p->fused_last,
                                                  K_FUSED,
                                                  0,
                                                  1,
                                                  {mlpcl__cl_fused_size(tr), 1},
                                                  {mlpcl__cl_fused_size(tr), 1}}));
    else
        TRY(mlpcl__plan_enqueue(tr, p, SEG_GATHER, SEG_BACKWARD));
    CL_CHECK(
        clEnqueueReadBuffer(tr->ctx->queue, c->costs, CL_FALSE, 0, tr->real, slot, 0, NULL, ev),
        "clEnqueueReadBuffer(cost)", tr->ctx->info.name);
    if (j < lp->tails) TRY(mlpcl__plan_enqueue(tr, p, SEG_BACKWARD, SEG_COUNT));
fail:
    return st;
}

static mlpcl_status run_loop(mlpcl_trainer *tr, loop *lp, mlpcl_train_result *res)
{
    mlpcl_status st = MLPCL_OK;
    const char *dn = tr->ctx->info.name;
    const long D = lp->lookahead;
    cl_command_queue q = tr->ctx->queue;
    cl_event events[MLPCL__MAX_LOOKAHEAD + 1] = {0};
    unsigned char slots[MLPCL__MAX_LOOKAHEAD + 1]
                       [8]; /* cost read destinations, one a step in flight */
    long next = 0, kept = 0;
    int interrupted = 0;
    double last = NAN, t0 = mlpcl__now();
    for (long k = 0;; ++k) {
        /* Keep the device up to D steps ahead of the cost the host waits for. */
        for (long until = k + D < lp->heads - 1 ? k + D : lp->heads - 1; next <= until; ++next)
            TRY(enqueue_step(tr, lp, next, slots[next % (D + 1)], &events[next % (D + 1)]));
        CL_CHECK(clFlush(q), "clFlush", dn);
        double cost;
        TRY(take_cost(tr, &events[k % (D + 1)], slots[k % (D + 1)], &cost));
        if (k == 0) res->start_cost = cost;
        if (lp->on_cost) lp->on_cost(lp->user, k, cost, rows_of(tr, lp, k));
        res->iterations = kept = k;
        res->cost = cost;
        if (lp->interrupt && *lp->interrupt && !interrupted) {
            /* Queue nothing more: the steps in flight finish, and a run without a tail on its
             * last head ends with the cost of the weights it keeps. */
            interrupted = 1;
            if (lp->tails > next) lp->tails = next;
            if (lp->heads > lp->tails + !lp->epoch) lp->heads = lp->tails + !lp->epoch;
            if (lp->heads < k + 1) lp->heads = k + 1;
        }
        if (isnan(cost) || isinf(cost)) {
            res->stop = MLPCL_STOP_DIVERGED;
            res->cost = last;
            kept = k > 0 ? k - 1 : 0;
            break;
        }
        if (cost < lp->target) {
            res->stop = MLPCL_STOP_CONVERGED;
            break;
        }
        if (k >= lp->heads - 1) {
            res->stop = interrupted ? MLPCL_STOP_INTERRUPTED : MLPCL_STOP_MAX_ITER;
            res->iterations = kept = lp->tails;
            break;
        }
        last = cost;
    }
    CL_CHECK(clFinish(q), "clFinish", dn);
    res->seconds = mlpcl__now() - t0;
    tr->iter += kept;
fail:
    if (st != MLPCL_OK) clFinish(q);
    for (int i = 0; i <= MLPCL__MAX_LOOKAHEAD; ++i)
        if (events[i]) clReleaseEvent(events[i]);
    return st;
}

static void forward_cost(void *user, long iter, double cost, size_t rows)
{
    const mlpcl_train_opts *o = user;
    (void)rows;
    if (o->on_cost) o->on_cost(o->user, iter, cost);
}

mlpcl_status mlpcl__cl_run(mlpcl_trainer *tr, const mlpcl_train_opts *opts, mlpcl_train_result *res)
{
    mlpcl_status st = MLPCL_OK;
    TRY(mlpcl__trainer_prepare(tr, opts->lr, opts->momentum, opts->target));
    loop lp = {opts->max_iter + 1, opts->max_iter, opts->lookahead, opts->target, 0, 0,
               forward_cost,       (void *)opts,   opts->interrupt};
    TRY(run_loop(tr, &lp, res));
fail:
    return st;
}

typedef struct epoch_acc {
    const mlpcl_epoch_opts *o;
    size_t first, total;
    double sum; /* Σ rows · cost over the batches read */
    size_t rows;
} epoch_acc;

static void epoch_cost(void *user, long iter, double cost, size_t rows)
{
    epoch_acc *a = user;
    a->sum += (double)rows * cost;
    a->rows += rows;
    if (a->o->on_batch) a->o->on_batch(a->o->user, a->first + (size_t)iter + 1, a->total, cost);
}

mlpcl_status mlpcl__cl_epoch(mlpcl_trainer *tr, const mlpcl_epoch_opts *opts,
                             mlpcl_train_result *res)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    int *perm = NULL;
    size_t nb = (tr->m + tr->batch - 1) / tr->batch;
    size_t count = nb - opts->first_batch;
    if (opts->max_batches && opts->max_batches < count) count = opts->max_batches;
    perm = malloc(tr->m * sizeof *perm);
    if (!perm) {
        st = mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for the shuffle");
        goto fail;
    }
    mlpcl__shuffle(tr->m, opts->seed, opts->epoch, perm);
    CL_CHECK(clEnqueueWriteBuffer(tr->ctx->queue, c->idx, CL_TRUE, 0, tr->m * sizeof *perm, perm, 0,
                                  NULL, NULL),
             "clEnqueueWriteBuffer(shuffle index)", tr->ctx->info.name);
    TRY(mlpcl__trainer_prepare(tr, opts->lr, opts->momentum, -INFINITY));
    epoch_acc acc = {opts, opts->first_batch, nb, 0.0, 0};
    loop lp = {(long)count, (long)count, opts->lookahead, -INFINITY, 1, opts->first_batch,
               epoch_cost,  &acc,        opts->interrupt};
    TRY(run_loop(tr, &lp, res));
    if (res->stop != MLPCL_STOP_DIVERGED) res->cost = acc.sum / (double)acc.rows;
fail:
    free(perm);
    return st;
}
