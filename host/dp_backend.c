// SPDX-License-Identifier: MIT
/* dp_backend.c: data-parallel training over a group of OpenCL devices (a ctx made from a list of
 * selectors) and over MPI ranks (each with one device or a group): one worker trainer per
 * device, each with the whole network and a contiguous share of every batch by its global
 * index. Every update, each worker computes its share's gradient and cost, one all-reduce
 * (comm.h) sums them in the workers' global order, and every worker applies the same update.
 * The stop is decided from the summed cost, so it is exact and every worker stops at the same
 * iteration. With a lookahead (> 0) the step is pipelined: each layer's gradient is summed while
 * the device computes the next one down, and the next step is queued before the host handles the
 * cost (prints, logs); lookahead 0 keeps the plain loop (one sum of everything, then the cost
 * handled, then the next step), which gives the same bits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_backend.h" /* mlpcl__target_for */
#include "comm.h"
#include "dp.h"

typedef struct dp {
    size_t n;          /* workers */
    mlpcl_trainer **w; /* their trainers, one a member device */
    int gathered;      /* mini-batches (workers hold the whole set), else full-batch shares */
    mlpcl_comm *comm;  /* its workers: comm->workers in all, this process's from comm->first */
    /* per worker: its gradients, cost and stop request (n_params + 2 reals), then their sums;
     * the stop request (1 where a stop signal has reached this process) travels with the
     * gradients so that every rank stops after the same iteration, wherever the signal came */
    void **buf;
    void **view;   /* per worker: a place in its buf, for a sum over a slice */
    cl_event *ev;  /* per worker, L + 1 each: the reads of buf (dp_worker.c's order) */
    int by_layer;  /* the run in progress sums layer by layer (a lookahead > 0) */
    int cost_only; /* the step in flight is a run's last head, which no update follows: its cost
                    * alone is computed and summed, as on one device */
    /* for the profile: host seconds waiting for the workers' gradients and in the all-reduce
     * (MPI's included, and with it any wait for a slower rank), and the steps they cover */
    double wait_s, comm_s;
    long steps;
} dp;

static dp *dp_of(const mlpcl_trainer *tr)
{
    return tr->backend;
}

/* Worker w's share of total rows: contiguous, the first total % n workers one row more. */
static void share(size_t total, size_t n, size_t w, size_t *offset, size_t *rows)
{
    size_t q = total / n, r = total % n;
    *offset = w * q + (w < r ? w : r);
    *rows = q + (w < r);
}

/* Frees a worker made by make_worker (as the front frees a trainer, without going through the
 * front, which uses this file). */
static void free_worker(mlpcl_trainer *w)
{
    if (!w) return;
    if (w->net) w->ops->free(w); /* its backend is made only after the network's copy */
    mlpcl_net_free(w->net);
    free(w->set_rows);
    free(w);
}

static void dp_free(mlpcl_trainer *tr)
{
    dp *d = dp_of(tr);
    if (!d) return;
    size_t E = tr->net->L + 1;
    for (size_t i = 0; d->ev && i < d->n * E; ++i)
        if (d->ev[i]) clReleaseEvent(d->ev[i]);
    for (size_t i = 0; i < d->n; ++i) {
        if (d->buf) free(d->buf[i]);
        if (d->w) free_worker(d->w[i]);
    }
    if (d->comm) d->comm->free(d->comm);
    free(d->w);
    free(d->buf);
    free(d->view);
    free(d->ev);
    free(d);
    tr->backend = NULL;
}

/* A worker trainer on member ctx for m rows (X, Y) in batches of batch. */
static mlpcl_status make_worker(mlpcl_trainer *tr, mlpcl_ctx *ctx, const double *X, const double *Y,
                                size_t m, size_t batch, mlpcl_trainer **out)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_trainer *w = calloc(1, sizeof *w);
    *out = w;
    if (!w) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a trainer");
    w->ctx = ctx;
    w->ops = &mlpcl__cl_ops;
    w->worker = 1;
    w->m = m;
    w->batch = batch;
    w->precision = tr->precision;
    w->real = tr->real;
    w->lr = tr->lr;
    w->target = -INFINITY;
    if (tr->ctx->tuning && ctx->tuning != tr->ctx->tuning)
        TRY(mlpcl_ctx_set_tuning(ctx, tr->ctx->tuning));
    TRY(mlpcl_net_clone(tr->net, &w->net));
    TRY(w->ops->create(w, X, Y));
fail:
    return st;
}

static mlpcl_status dp_create(mlpcl_trainer *tr, const double *X, const double *Y)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_ctx *g = tr->ctx;
    dp *d = calloc(1, sizeof *d);
    if (!d) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a trainer");
    tr->backend = d;
    d->n = g->n_members ? g->n_members : 1; /* one device of an MPI rank: the ctx itself */
    size_t m = tr->m, B = tr->batch, n0 = tr->net->width[0], nL = tr->net->width[tr->net->L];
    d->gathered = m && B < m;
    /* First, on every rank alike: the collective that numbers the workers (comm_mpi.c). */
    TRY(mlpcl__comm_create(d->n, &d->comm));
    size_t W = d->comm->workers;
    if (m && !d->gathered && m < W)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "%zu samples cannot be shared by %zu devices: give each at least one", m,
                           W);
    d->w = calloc(d->n, sizeof *d->w);
    d->buf = calloc(d->n, sizeof *d->buf);
    d->view = calloc(d->n, sizeof *d->view);
    d->ev = calloc(d->n * (tr->net->L + 1), sizeof *d->ev);
    if (!d->w || !d->buf || !d->view || !d->ev)
        return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a trainer");
    size_t count = mlpcl_net_n_params(tr->net) + 2;
    for (size_t i = 0; i < d->n; ++i) {
        size_t off = 0, rows = m;
        mlpcl_ctx *mc = g->n_members ? g->members[i] : g;
        if (d->gathered) /* every worker gathers its share of each batch from the whole set */
            TRY(make_worker(tr, mc, X, Y, m, (B + W - 1) / W, &d->w[i]));
        else if (m) {
            share(m, W, d->comm->first + i, &off, &rows);
            TRY(make_worker(tr, mc, X + off * n0, Y + off * nL, rows, rows, &d->w[i]));
        } else
            TRY(make_worker(tr, mc, NULL, NULL, 0, B, &d->w[i]));
        d->buf[i] = calloc(count, tr->real);
        if (!d->buf[i]) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for gradients");
    }
fail:
    return st;
}

/* One call of the loop: heads 0 … heads−1 (cost and gradient) and the updates of tails
 * 0 … tails−1, as cl_loop.c's loop with lookahead 0. */
typedef struct dp_loop {
    long heads, tails;
    double target; /* stop when a cost is below it (−∞: never) */
    int epoch;
    size_t first; /* step j is batch first + j of the epoch */
    void (*on_cost)(void *user, long iter, double cost, size_t rows);
    void *user;
    volatile sig_atomic_t *interrupt;
} dp_loop;

static void put_real(void *buf, size_t i, size_t real, double v)
{
    if (real == sizeof(double))
        ((double *)buf)[i] = v;
    else
        ((float *)buf)[i] = (float)v;
}

static double get_real(const void *buf, size_t i, size_t real)
{
    return real == sizeof(double) ? ((const double *)buf)[i] : ((const float *)buf)[i];
}

static size_t rows_of(const mlpcl_trainer *tr, const dp_loop *lp, long j)
{
    if (!lp->epoch) return tr->m;
    size_t start = (lp->first + (size_t)j) * tr->batch;
    return tr->m - start < tr->batch ? tr->m - start : tr->batch;
}

/* Enqueues step j on every worker: its share's cost and gradients (only the cost where no update
 * will follow, j ≥ tails), read into its buf. */
static mlpcl_status head_enqueue(mlpcl_trainer *tr, const dp_loop *lp, long j)
{
    mlpcl_status st = MLPCL_OK;
    dp *d = dp_of(tr);
    d->cost_only = j >= lp->tails;
    size_t n = mlpcl_net_n_params(tr->net), total = rows_of(tr, lp, j), E = tr->net->L + 1;
    size_t start = lp->epoch ? (lp->first + (size_t)j) * tr->batch : 0;
    for (size_t i = 0; i < d->n; ++i) {
        size_t off = 0, rows = d->w[i]->m;
        if (d->gathered) share(total, d->comm->workers, d->comm->first + i, &off, &rows);
        if (rows)
            TRY(mlpcl__dp_worker_gradient(d->w[i], d->gathered, start + off, rows, total,
                                          d->by_layer, d->cost_only, d->buf[i], &d->ev[i * E]));
        else /* a batch smaller than the group: this worker adds nothing */
            memset(d->buf[i], 0, (n + 2) * tr->real);
    }
fail:
    return st;
}

/* Waits for event e of every worker that has one. */
static mlpcl_status wait_all(mlpcl_trainer *tr, size_t e)
{
    mlpcl_status st = MLPCL_OK;
    dp *d = dp_of(tr);
    size_t E = tr->net->L + 1;
    double t0 = mlpcl__now();
    for (size_t i = 0; i < d->n; ++i) {
        cl_event *ev = &d->ev[i * E + e];
        if (!*ev) continue;
        cl_int err = clWaitForEvents(1, ev);
        clReleaseEvent(*ev);
        *ev = NULL;
        CL_CHECK(err, "clWaitForEvents(gradients)", d->w[i]->ctx->info.name);
    }
fail:
    d->wait_s += mlpcl__now() - t0;
    return st;
}

/* The all-reduce of count reals from element at of every worker's buf. */
static mlpcl_status sum(mlpcl_trainer *tr, size_t at, size_t count)
{
    dp *d = dp_of(tr);
    for (size_t i = 0; i < d->n; ++i) d->view[i] = (char *)d->buf[i] + at * tr->real;
    double t0 = mlpcl__now();
    mlpcl_status st = d->comm->allreduce(d->comm, d->view, d->n, count, tr->real);
    d->comm_s += mlpcl__now() - t0;
    return st;
}

/* Step j's summed gradients and cost, in every worker's buf (enqueued by head_enqueue); the cost
 * as a double, and whether any process asked to stop (its interrupt flag set when its workers'
 * costs were there). Each element is the same left-to-right sum over the workers whether the
 * buffer is summed whole or slice by slice. */
static mlpcl_status head_finish(mlpcl_trainer *tr, const dp_loop *lp, double *cost, int *stop)
{
    mlpcl_status st = MLPCL_OK;
    dp *d = dp_of(tr);
    const mlpcl_net *net = tr->net;
    size_t n = mlpcl_net_n_params(net);
    double wait0 = d->wait_s, comm0 = d->comm_s;
    TRY(wait_all(tr, 0));
    int asked = lp->interrupt && *lp->interrupt;
    for (size_t i = 0; i < d->n; ++i) put_real(d->buf[i], n + 1, tr->real, !i && asked);
    if (d->cost_only)
        TRY(sum(tr, n, 2));
    else if (!d->by_layer)
        TRY(sum(tr, 0, n + 2));
    else {
        TRY(sum(tr, n, 2));
        for (size_t l = net->L; l >= 1; --l) {
            size_t at = net->offset[l], count = (l < net->L ? net->offset[l + 1] : n) - at;
            TRY(wait_all(tr, l));
            TRY(sum(tr, at, count));
        }
    }
    if (d->cost_only) { /* the profile's steps are whole ones: a last head's forward is left out */
        d->wait_s = wait0;
        d->comm_s = comm0;
    } else
        d->steps += 1;
    *cost = get_real(d->buf[0], n, tr->real);
    *stop = get_real(d->buf[0], n + 1, tr->real) > 0;
fail:
    return st;
}

static mlpcl_status update(mlpcl_trainer *tr)
{
    mlpcl_status st = MLPCL_OK;
    dp *d = dp_of(tr);
    for (size_t i = 0; i < d->n; ++i) TRY(mlpcl__dp_worker_update(d->w[i], d->buf[i]));
fail:
    return st;
}

static mlpcl_status run_loop(mlpcl_trainer *tr, dp_loop *lp, mlpcl_train_result *res)
{
    mlpcl_status st = MLPCL_OK;
    dp *d = dp_of(tr);
    const int ahead = d->by_layer; /* the next step queued before the cost is handled */
    long kept = 0;
    int interrupted = 0;
    double last = NAN, t0 = mlpcl__now();
    long *base = malloc(d->n * sizeof *base);
    if (!base) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory");
    for (size_t i = 0; i < d->n; ++i) base[i] = d->w[i]->iter;
    for (long k = 0;; ++k) {
        double cost;
        int asked = 0;
        if (!ahead || k == 0) TRY(head_enqueue(tr, lp, k));
        TRY(head_finish(tr, lp, &cost, &asked));
        if (k == 0) res->start_cost = cost;
        if (asked && !interrupted) {
            /* As the single device's loop with lookahead 0: this step's update still applies,
             * and a run ends with the cost of the weights it keeps. */
            interrupted = 1;
            if (lp->tails > k + 1) lp->tails = k + 1;
            if (lp->heads > lp->tails + !lp->epoch) lp->heads = lp->tails + !lp->epoch;
            if (lp->heads < k + 1) lp->heads = k + 1;
        }
        int diverged = isnan(cost) || isinf(cost), converged = !diverged && cost < lp->target;
        if (ahead && !diverged && !converged) {
            /* The summed cost is known with the gradients: the stop is decided, so the update
             * and the next step go to the devices before the host handles the cost. */
            if (k < lp->tails) TRY(update(tr));
            if (k < lp->heads - 1) TRY(head_enqueue(tr, lp, k + 1));
        }
        if (lp->on_cost) lp->on_cost(lp->user, k, cost, rows_of(tr, lp, k));
        res->iterations = kept = k;
        res->cost = cost;
        if (diverged) {
            res->stop = MLPCL_STOP_DIVERGED;
            res->cost = last;
            kept = k > 0 ? k - 1 : 0;
            break;
        }
        if (converged) {
            res->stop = MLPCL_STOP_CONVERGED;
            break;
        }
        if (!ahead && k < lp->tails) TRY(update(tr));
        if (k >= lp->heads - 1) {
            res->stop = interrupted ? MLPCL_STOP_INTERRUPTED : MLPCL_STOP_MAX_ITER;
            res->iterations = kept = lp->tails;
            break;
        }
        last = cost;
    }
    for (size_t i = 0; i < d->n; ++i)
        CL_CHECK(clFinish(d->w[i]->ctx->queue), "clFinish", d->w[i]->ctx->info.name);
    res->seconds = mlpcl__now() - t0;
    tr->iter += kept;
    for (size_t i = 0; i < d->n; ++i) d->w[i]->iter = base[i] + kept;
fail:
    if (st != MLPCL_OK) { /* nothing of this run may be waited for by the next */
        size_t E = tr->net->L + 1;
        for (size_t i = 0; i < d->n; ++i) clFinish(d->w[i]->ctx->queue);
        for (size_t i = 0; i < d->n * E; ++i)
            if (d->ev[i]) {
                clReleaseEvent(d->ev[i]);
                d->ev[i] = NULL;
            }
    }
    free(base);
    return st;
}

static mlpcl_status prepare(mlpcl_trainer *tr, double lr, double momentum, int lookahead,
                            const int *perm, const mlpcl_epoch_opts *o)
{
    mlpcl_status st = MLPCL_OK;
    dp *d = dp_of(tr);
    /* Every worker steps with the group's optimiser after the all-reduce (dp_worker.c), each
     * keeping its own copy of the velocity and Adam's state: the same steps from the same
     * summed gradients keep the copies equal. */
    for (size_t i = 0; i < d->n; ++i) d->w[i]->optim = tr->optim;
    tr->lr = lr;
    tr->momentum = momentum;
    d->by_layer = lookahead != 0; /* MLPCL_LOOKAHEAD_AUTO too */
    for (size_t i = 0; i < d->n; ++i)
        TRY(mlpcl__dp_worker_prepare(d->w[i], lr, momentum, d->gathered ? perm : NULL, o));
fail:
    return st;
}

static void forward_cost(void *user, long iter, double cost, size_t rows)
{
    const mlpcl_train_opts *o = user;
    (void)rows;
    if (o->on_cost) o->on_cost(o->user, iter, cost);
}

static mlpcl_status dp_run(mlpcl_trainer *tr, const mlpcl_train_opts *o, mlpcl_train_result *res)
{
    mlpcl_status st = MLPCL_OK;
    TRY(prepare(tr, o->lr, o->momentum, o->lookahead, NULL, NULL));
    tr->target = mlpcl__target_for(tr->precision, o->target);
    dp_loop lp = {o->max_iter + 1, o->max_iter, tr->target,  0, 0,
                  forward_cost,    (void *)o,   o->interrupt};
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

static mlpcl_status dp_epoch(mlpcl_trainer *tr, const mlpcl_epoch_opts *o, mlpcl_train_result *res)
{
    mlpcl_status st = MLPCL_OK;
    size_t nb = (tr->m + tr->batch - 1) / tr->batch;
    size_t count = nb - o->first_batch;
    if (o->max_batches && o->max_batches < count) count = o->max_batches;
    /* dropout's mask follows a row's place in the epoch's shuffle, which full-batch shares
     * (each worker its own rows, in their order) do not take */
    if (o->dropout > 0 && !dp_of(tr)->gathered)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "dropout on a group of devices needs mini-batches (a batch below the "
                           "%zu samples), or one device",
                           tr->m);
    int *perm = malloc(tr->m * sizeof *perm);
    if (!perm) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for the shuffle");
    /* Every worker gathers through the same shuffle; full-batch shares need none (the batch is
     * the whole set, whose cost and gradient are sums that only round differently). */
    mlpcl__shuffle(tr->m, o->seed, o->epoch, perm);
    TRY(prepare(tr, o->lr, o->momentum, o->lookahead, perm, o));
    epoch_acc acc = {o, o->first_batch, nb, 0.0, 0};
    dp_loop lp = {(long)count,    (long)count, -INFINITY, 1,
                  o->first_batch, epoch_cost,  &acc,      o->interrupt};
    TRY(run_loop(tr, &lp, res));
    for (size_t i = 0; i < dp_of(tr)->n; ++i) TRY(mlpcl__dp_worker_dropout_end(dp_of(tr)->w[i]));
    if (res->stop != MLPCL_STOP_DIVERGED) res->cost = acc.sum / (double)acc.rows;
fail:
    free(perm);
    return st;
}

static mlpcl_status dp_params(mlpcl_trainer *tr, double *P)
{
    return mlpcl__cl_ops.params(dp_of(tr)->w[0], P);
}

static mlpcl_status dp_velocity(mlpcl_trainer *tr, double *V)
{
    return mlpcl__cl_ops.velocity(dp_of(tr)->w[0], V);
}

static mlpcl_status dp_set_velocity(mlpcl_trainer *tr, const double *V)
{
    mlpcl_status st = MLPCL_OK;
    dp *d = dp_of(tr);
    for (size_t i = 0; i < d->n && st == MLPCL_OK; ++i) st = mlpcl__cl_ops.set_velocity(d->w[i], V);
    return st;
}

static mlpcl_status dp_adam_state(mlpcl_trainer *tr, double *S, long *t)
{
    return mlpcl__cl_ops.adam_state(dp_of(tr)->w[0], S, t);
}

static mlpcl_status dp_set_adam_state(mlpcl_trainer *tr, const double *S, long t)
{
    mlpcl_status st = MLPCL_OK;
    dp *d = dp_of(tr);
    for (size_t i = 0; i < d->n && st == MLPCL_OK; ++i)
        st = mlpcl__cl_ops.set_adam_state(d->w[i], S, t);
    return st;
}

static mlpcl_status dp_set_params(mlpcl_trainer *tr, const double *P)
{
    mlpcl_status st = MLPCL_OK;
    dp *d = dp_of(tr);
    for (size_t i = 0; i < d->n && st == MLPCL_OK; ++i) st = mlpcl__cl_ops.set_params(d->w[i], P);
    return st;
}

/* Predicting sets live on worker 0, which predicts them in chunks of its batch. */
static mlpcl_status dp_add_set(mlpcl_trainer *tr, int id, const double *X, size_t n)
{
    mlpcl_trainer *w = dp_of(tr)->w[0];
    mlpcl_status st = mlpcl__cl_ops.add_set(w, id, X, n);
    if (st == MLPCL_OK) w->n_sets = (size_t)id + 1;
    return st;
}

static mlpcl_status dp_predict(mlpcl_trainer *tr, int id, size_t start, size_t rows, double *out)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_trainer *w = dp_of(tr)->w[0];
    size_t nL = tr->net->width[tr->net->L];
    for (size_t s = 0; s < rows && st == MLPCL_OK; s += w->batch) {
        size_t r = rows - s < w->batch ? rows - s : w->batch;
        st = mlpcl__cl_ops.predict(w, id, start + s, r, out + s * nL);
    }
    return st;
}

static void dp_describe(const mlpcl_trainer *tr, char *buf, size_t size)
{
    const dp *d = dp_of(tr);
    char one[200];
    mlpcl__cl_ops.describe(d->w[0], one, sizeof one);
    if (d->comm->size > 1)
        snprintf(buf, size, "data-parallel over %zu devices in %d MPI ranks, each %s",
                 d->comm->workers, d->comm->size, one);
    else
        snprintf(buf, size, "data-parallel over %zu devices, each %s", d->n, one);
}

/* The profile: worker 0's kernels where its context profiles, and the host's split of each
 * step into waiting for the devices (compute, and the reads) and the all-reduce. */
static mlpcl_status dp_profile_start(mlpcl_trainer *tr)
{
    dp *d = dp_of(tr);
    d->wait_s = d->comm_s = 0;
    d->steps = 0;
    return mlpcl__cl_ops.profile_start(d->w[0]);
}

static mlpcl_status dp_profile(mlpcl_trainer *tr, mlpcl_kernel_time *out, size_t *n)
{
    dp *d = dp_of(tr);
    mlpcl_status st = mlpcl__cl_ops.profile(d->w[0], out, n);
    if (st != MLPCL_OK) return st;
    if (*n + 2 > MLPCL_MAX_KERNELS) *n = MLPCL_MAX_KERNELS - 2;
    out[(*n)++] = (mlpcl_kernel_time){"data-parallel: device wait", d->wait_s, d->steps};
    out[(*n)++] = (mlpcl_kernel_time){"data-parallel: all-reduce", d->comm_s, d->steps};
    return MLPCL_OK;
}

static double dp_build_seconds(const mlpcl_trainer *tr)
{
    const dp *d = dp_of(tr);
    double s = 0;
    for (size_t i = 0; i < d->n; ++i) s += mlpcl__cl_ops.build_seconds(d->w[i]);
    return s;
}

const mlpcl_backend_ops mlpcl__dp_ops = {
    .name = "data-parallel",
    .create = dp_create,
    .free = dp_free,
    .run = dp_run,
    .epoch = dp_epoch,
    .params = dp_params,
    .velocity = dp_velocity,
    .set_velocity = dp_set_velocity,
    .adam_state = dp_adam_state,
    .set_adam_state = dp_set_adam_state,
    .set_params = dp_set_params,
    .add_set = dp_add_set,
    .predict = dp_predict,
    .describe = dp_describe,
    .profile_start = dp_profile_start,
    .profile = dp_profile,
    .build_seconds = dp_build_seconds,
};
