// SPDX-License-Identifier: MIT
/* cl_loop.c: the OpenCL backend's training loop, shared by full-batch runs and mini-batch
 * epochs. It reads the cost every iteration without stalling the device: the host waits for
 * iteration k's cost while k+1 … k+lookahead are already queued, and the parameters are
 * double-buffered with a device-side stop flag so that stopping at k is exact (DESIGN.md §3). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cl_backend.h"
#include "cl_dropout.h"

/* What one call of the loop below runs: heads 0 … heads−1 (gather, forward, cost) and tails
 * 0 … tails−1 (backward, update), tail j right after head j. Their costs are read bulk at a
 * time, each iteration writing its own element of the cost buffer. Fused full-batch runs also
 * launch them in bulk: up to bulk iterations a launch of fused.cl, the first that meets the
 * target (or diverges) stopping the launch on the device, so that the stop, the weights and
 * every cost are those of one at a time. Epochs read the costs of bulk batches at once: the
 * host then wakes once for them, not for each (their only stop, divergence, stops the updates
 * on the device as the target does). */
typedef struct loop {
    long heads, tails;
    int lookahead;
    long bulk;     /* iterations a read of costs (and a launch, fused): 1, or up to lookahead + 1 */
    double target; /* stop when a cost is below it (−∞: never) */
    int epoch;     /* mini-batches through the shuffle, else the whole training set */
    size_t first;  /* step j is batch first + j of the epoch */
    void (*on_cost)(void *user, long iter, double cost, size_t rows);
    void *user;
    volatile sig_atomic_t *interrupt;
} loop;

/* MLPCL_LOOKAHEAD_AUTO's choice (mlpcl.h): fused runs, whose iterations take microseconds, run
 * a launch of 64 at a time; others keep 4 in flight, so that an interrupt of a large network
 * waits for few of its (long) iterations. */
static int resolve_lookahead(int lookahead, int fused)
{
    if (lookahead != MLPCL_LOOKAHEAD_AUTO) return lookahead;
    return fused ? MLPCL__MAX_LOOKAHEAD - 1 : 4;
}

/* An epoch's: 15 batches when a batch's iteration is short (at most 2·10⁸ flops, about a
 * millisecond on a CPU: 784-256-10 in batches of up to 160), read 8 at a time, so that an
 * interrupt still ends within milliseconds; else resolve_lookahead's 4. */
static int epoch_lookahead(const mlpcl_trainer *tr, int lookahead)
{
    if (lookahead != MLPCL_LOOKAHEAD_AUTO) return lookahead;
    double flops = 0;
    for (size_t l = 1; l <= tr->net->L; ++l)
        flops +=
            6.0 * (double)tr->batch * (double)tr->net->width[l - 1] * (double)tr->net->width[l];
    return flops <= 2e8 ? 15 : resolve_lookahead(lookahead, 0);
}

/* Waits for a non-blocking read of costs. */
static mlpcl_status wait_costs(mlpcl_trainer *tr, cl_event *ev)
{
    mlpcl_status st = MLPCL_OK;
    CL_CHECK(clWaitForEvents(1, ev), "clWaitForEvents(cost read)", tr->ctx->info.name);
fail:
    clReleaseEvent(*ev);
    *ev = NULL;
    return st;
}

/* The i-th cost of a read's destination, as a double. */
static double cost_at(const mlpcl_trainer *tr, const unsigned char *slot, long i)
{
    if (tr->precision == MLPCL_PRECISION_DOUBLE) {
        double d;
        memcpy(&d, slot + i * (long)sizeof d, sizeof d);
        return d;
    }
    float f;
    memcpy(&f, slot + i * (long)sizeof f, sizeof f);
    return f;
}

static size_t rows_of(const mlpcl_trainer *tr, const loop *lp, long j)
{
    if (!lp->epoch) return tr->m;
    size_t start = (lp->first + (size_t)j) * tr->batch;
    return tr->m - start < tr->batch ? tr->m - start : tr->batch;
}

/* One launch of fused.cl for iterations j … j+n−1, the last with its update unless it is the
 * run's last head. Its iteration count is an argument of the plan's kernel, set for this
 * launch (the queue takes the arguments as they are when enqueued) and put back to one. */
static mlpcl_status enqueue_fused(mlpcl_trainer *tr, const loop *lp, const mlpcl_plan *p, long j,
                                  long n)
{
    mlpcl_status st = MLPCL_OK;
    cl_kernel k = j + n <= lp->tails ? p->cost : p->fused_last;
    size_t size = mlpcl__cl_fused_size(tr);
    if (n != 1) TRY(mlpcl__cl_set_arg(tr, k, FUSED_ITERS, ARG_INT(n)));
    mlpcl__cl(tr)->panels_current = 0; /* it steps the weights, not their panels */
    TRY(mlpcl__cl_enqueue(tr, &(mlpcl_launch){k, K_FUSED, 0, 1, {size, 1}, {size, 1}}));
    if (n != 1) TRY(mlpcl__cl_set_arg(tr, k, FUSED_ITERS, ARG_INT(1)));
fail:
    return st;
}

/* Enqueues head j, its cost written to element i of the cost buffer (the cost kernel's slot,
 * put back to 0 once enqueued, as the plan's other users expect), and its tail unless the loop
 * has none or the caller enqueues it (tail 0: after the read of the costs). */
static mlpcl_status enqueue_head(mlpcl_trainer *tr, const loop *lp, long j, long i, int tail,
                                 mlpcl_plan **out)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    mlpcl_status st = MLPCL_OK;
    mlpcl_plan *p;
    TRY(mlpcl__plan_get(tr, rows_of(tr, lp, j), lp->epoch, j, &p));
    if (lp->epoch) {
        TRY(mlpcl__cl_aim_rows(tr, p, &c->X, &c->Y, 1, (lp->first + (size_t)j) * tr->batch));
        TRY(mlpcl__cl_dropout_aim(tr, p, (lp->first + (size_t)j) * tr->batch));
    }
    if (i) TRY(mlpcl__cl_set_arg(tr, p->cost, (cl_uint)p->cost_slot, ARG_INT(i)));
    TRY(mlpcl__plan_enqueue(tr, p, SEG_GATHER, SEG_BACKWARD));
    if (i) TRY(mlpcl__cl_set_arg(tr, p->cost, (cl_uint)p->cost_slot, ARG_INT(0)));
    if (tail && j < lp->tails) TRY(mlpcl__plan_enqueue(tr, p, SEG_BACKWARD, SEG_COUNT));
    *out = p;
fail:
    return st;
}

/* Enqueues heads j … j+n−1 (and their tails where the loop has them) and the read of their
 * costs: one launch of the fused kernel, or n iterations of a plan, the last one's tail after
 * the read. */
static mlpcl_status enqueue_step(mlpcl_trainer *tr, const loop *lp, long j, long n,
                                 unsigned char *slot, cl_event *ev)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    mlpcl_status st = MLPCL_OK;
    mlpcl_plan *p;
    TRY(mlpcl__plan_get(tr, rows_of(tr, lp, j), lp->epoch, j, &p));
    int fused = p->fused_last && (n > 1 || j >= lp->tails); /* it updates, unless last */
    if (fused)
        TRY(enqueue_fused(tr, lp, p, j, n));
    else
        for (long i = 0; i < n; ++i) TRY(enqueue_head(tr, lp, j + i, i, i + 1 < n, &p));
    CL_CHECK(clEnqueueReadBuffer(tr->ctx->queue, c->costs, CL_FALSE, 0, (size_t)n * tr->real, slot,
                                 0, NULL, ev),
             "clEnqueueReadBuffer(cost)", tr->ctx->info.name);
    if (!fused && j + n - 1 < lp->tails) TRY(mlpcl__plan_enqueue(tr, p, SEG_BACKWARD, SEG_COUNT));
fail:
    return st;
}

static mlpcl_status run_loop(mlpcl_trainer *tr, loop *lp, mlpcl_train_result *res)
{
    mlpcl_status st = MLPCL_OK;
    const char *dn = tr->ctx->info.name;
    const long D = lp->lookahead, K = lp->bulk;
    cl_command_queue q = tr->ctx->queue;
    /* One read in flight a launch: launch c (iterations cK … cK+K−1) in ring entry c mod (D+1). */
    cl_event events[MLPCL__MAX_LOOKAHEAD + 1] = {0};
    unsigned char *slots = malloc((size_t)(D + 1) * (size_t)K * tr->real); /* their costs */
    if (!slots) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for the costs");
    long next = 0, kept = 0;
    int interrupted = 0;
    double last = NAN, t0 = mlpcl__now();
    for (long k = 0;; ++k) {
        /* Keep the device up to D iterations ahead of the cost the host waits for, K a launch
         * (every launch starts at a multiple of K: only the run's last is shorter). */
        while (next < lp->heads) {
            long n = lp->heads - next < K ? lp->heads - next : K;
            if (next + n - 1 > k + D) break;
            long r = (next / K) % (D + 1);
            TRY(enqueue_step(tr, lp, next, n, slots + r * K * tr->real, &events[r]));
            next += n;
        }
        CL_CHECK(clFlush(q), "clFlush", dn);
        long r = (k / K) % (D + 1);
        if (k % K == 0) TRY(wait_costs(tr, &events[r]));
        double cost = cost_at(tr, slots + r * K * tr->real, k % K);
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
    /* diverged: the weights kept are a step behind the last ones stepped, and packed */
    if (res->stop == MLPCL_STOP_DIVERGED) mlpcl__cl(tr)->panels_current = 0;
fail:
    if (st != MLPCL_OK) {
        clFinish(q);
        mlpcl__cl(tr)->panels_current = 0; /* where the device stopped is not known */
    }
    for (int i = 0; i <= MLPCL__MAX_LOOKAHEAD; ++i)
        if (events[i]) clReleaseEvent(events[i]);
    free(slots);
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
    mlpcl_cl *c = mlpcl__cl(tr);
    /* Bulk launches of lookahead + 1 iterations keep the device at most lookahead ahead (one
     * launch in flight). Not when profiling, whose figures are per launch of one iteration. */
    int fused = c->fused && !c->profiling, ahead = resolve_lookahead(opts->lookahead, fused);
    long bulk = fused ? ahead + 1L : 1;
    loop lp = {opts->max_iter + 1, opts->max_iter, ahead,          bulk, opts->target, 0, 0,
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
    int rebuild;
    TRY(mlpcl__cl_dropout_begin(tr, opts, &rebuild));
    if (rebuild) mlpcl__cl_plans_free(c); /* rebuilt with dropout's launches */
    TRY(mlpcl__trainer_prepare(tr, opts->lr, opts->momentum, -INFINITY));
    epoch_acc acc = {opts, opts->first_batch, nb, 0.0, 0};
    int ahead = epoch_lookahead(tr, opts->lookahead);
    loop lp = {(long)count,
               (long)count,
               ahead,
               ahead > 1 ? (ahead + 1) / 2 : 1,
               -INFINITY,
               1,
               opts->first_batch,
               epoch_cost,
               &acc,
               opts->interrupt};
    TRY(run_loop(tr, &lp, res));
    TRY(mlpcl__cl_dropout_end(tr));
    if (res->stop != MLPCL_STOP_DIVERGED) res->cost = acc.sum / (double)acc.rows;
fail:
    free(perm);
    return st;
}
