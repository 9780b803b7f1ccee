// SPDX-License-Identifier: MIT
/* host_backend.c: the host reference backend (`--device host`): trains with ref.c's plain C,
 * double-precision maths on the host, one iteration after another, and keeps the previous
 * parameters so that a divergence leaves the last good ones. Reached through trainer.c's table
 * of backend operations, like the OpenCL backend. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dropout.h"
#include "ref.h"
#include "trainer.h"

/* The host backend's state; the parameters are the trainer's own copy of the network. */
typedef struct host_backend {
    double *X, *Y;           /* copies of the training set, m rows */
    double *Xb, *Yb;         /* one batch, gathered through the shuffle */
    double **A, **D;         /* L + 1 entries, 1 … L used: activations and deltas, batch rows */
    double *G, *V;           /* gradients, momentum velocity */
    double *P_prev, *V_prev; /* the previous parameters and velocity (for a divergence) */
    double *S, *S_prev;      /* Adam's second moments, and the previous ones */
    long t, t_prev;          /* Adam's step count, and the previous one */
    double **sets;           /* predicting sets, by id, n×n_0 each */
    size_t n_sets;
    double **H;          /* dropout: hidden activations before the mask (ref_dropout.c) */
    mlpcl__dropout drop; /* dropout: this batch's mask; rate 0 outside epochs */
} host_backend;

/* The cost of the current parameters on rows X, Y (mb of them); leaves A and D_L for an update. */
static double ref_head(mlpcl_trainer *tr, const double *X, const double *Y, size_t mb)
{
    host_backend *h = tr->backend;
    const mlpcl_net *net = tr->net;
    mlpcl__ref_forward_dropout(net, net->params, X, mb, h->A, h->H, &h->drop);
    return mlpcl__ref_output_delta(net, h->A[net->L], Y, mb, h->D[net->L]);
}

/* Backward and update after ref_head: V = mu·V + G, P −= lr·V (plain P −= lr·G when mu = 0,
 * as the device does), or the trainer's other optimiser (ref.c). Keeps the previous parameters
 * and optimiser state for a divergence. */
static void ref_tail(mlpcl_trainer *tr, const double *X, size_t mb, double lr, double mu)
{
    host_backend *h = tr->backend;
    const mlpcl_net *net = tr->net;
    double *P = net->params;
    size_t n = mlpcl_net_n_params(net);
    mlpcl__ref_hidden_deltas_dropout(net, P, h->A, h->H, mb, h->D, &h->drop);
    mlpcl__ref_gradients(net, X, h->A, h->D, mb, h->G);
    memcpy(h->P_prev, P, n * sizeof *P);
    memcpy(h->V_prev, h->V, n * sizeof *P);
    const mlpcl_optim *o = &tr->optim;
    if (!mlpcl__optim_plain(o)) {
        memcpy(h->S_prev, h->S, n * sizeof *P);
        h->t_prev = h->t;
        if (o->kind != MLPCL_OPT_SGD) ++h->t;
        mlpcl__ref_optim_step((int)o->kind, o->nesterov, o->beta1, o->beta2, o->eps, o->wd, lr, mu,
                              h->t, n, h->G, P, h->V, h->S);
        return;
    }
    for (size_t i = 0; i < n; ++i) {
        double g = h->G[i];
        if (mu != 0.0) g = h->V[i] = mu * h->V[i] + g;
        P[i] = P[i] - lr * g;
    }
}

/* Back to the optimiser's state before the last ref_tail (a divergence keeps the last good). */
static void restore_optim(mlpcl_trainer *tr)
{
    host_backend *h = tr->backend;
    size_t n = mlpcl_net_n_params(tr->net);
    memcpy(h->V, h->V_prev, n * sizeof(double));
    if (mlpcl__optim_plain(&tr->optim)) return;
    memcpy(h->S, h->S_prev, n * sizeof(double));
    h->t = h->t_prev;
}

static mlpcl_status host_run(mlpcl_trainer *tr, const mlpcl_train_opts *opts,
                             mlpcl_train_result *res)
{
    host_backend *h = tr->backend;
    size_t n = mlpcl_net_n_params(tr->net);
    double t0 = mlpcl__now(), last = NAN;
    for (long k = 0;; ++k) {
        double cost = ref_head(tr, h->X, h->Y, tr->m);
        if (k == 0) res->start_cost = cost;
        if (opts->on_cost) opts->on_cost(opts->user, k, cost);
        res->iterations = k;
        res->cost = cost;
        if (!isfinite(cost)) {
            res->stop = MLPCL_STOP_DIVERGED;
            res->cost = last;
            if (k > 0) memcpy(tr->net->params, h->P_prev, n * sizeof(double));
            if (k > 0) restore_optim(tr);
            res->iterations = k;
            break;
        }
        if (cost < opts->target) {
            res->stop = MLPCL_STOP_CONVERGED;
            break;
        }
        if (k >= opts->max_iter) {
            res->stop = MLPCL_STOP_MAX_ITER;
            break;
        }
        if (opts->interrupt && *opts->interrupt) {
            res->stop = MLPCL_STOP_INTERRUPTED;
            break;
        }
        last = cost;
        ref_tail(tr, h->X, tr->m, opts->lr, opts->momentum);
    }
    res->seconds = mlpcl__now() - t0;
    return MLPCL_OK;
}

static mlpcl_status host_epoch(mlpcl_trainer *tr, const mlpcl_epoch_opts *opts,
                               mlpcl_train_result *res)
{
    host_backend *h = tr->backend;
    const mlpcl_net *net = tr->net;
    size_t n0 = net->width[0], nL = net->width[net->L], B = tr->batch, m = tr->m;
    size_t nb = (m + B - 1) / B, n = mlpcl_net_n_params(net), rows = 0;
    int *perm = malloc(m * sizeof *perm);
    if (!perm) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for the shuffle");
    mlpcl__shuffle(m, opts->seed, opts->epoch, perm);
    mlpcl_status st = mlpcl__dropout_begin(net, B, opts, &h->drop, &h->H);
    if (st != MLPCL_OK) {
        free(perm);
        return st;
    }
    double t0 = mlpcl__now(), last = NAN, sum = 0.0;
    size_t first = opts->first_batch, end = nb;
    if (opts->max_batches && opts->max_batches < nb - first) end = first + opts->max_batches;
    res->stop = MLPCL_STOP_MAX_ITER;
    res->iterations = (long)(end - first);
    for (size_t b = first; b < end; ++b) {
        size_t start = b * B, mb = m - start < B ? m - start : B;
        h->drop.pos0 = (uint32_t)start;
        for (size_t i = 0; i < mb; ++i) {
            memcpy(h->Xb + i * n0, h->X + (size_t)perm[start + i] * n0, n0 * sizeof(double));
            memcpy(h->Yb + i * nL, h->Y + (size_t)perm[start + i] * nL, nL * sizeof(double));
        }
        double cost = ref_head(tr, h->Xb, h->Yb, mb);
        if (b == first) res->start_cost = cost;
        if (opts->on_batch) opts->on_batch(opts->user, b + 1, nb, cost);
        if (!isfinite(cost)) {
            res->stop = MLPCL_STOP_DIVERGED;
            res->iterations = (long)(b - first);
            if (b > first) memcpy(tr->net->params, h->P_prev, n * sizeof(double));
            if (b > first) restore_optim(tr);
            break;
        }
        last = cost;
        sum += (double)mb * cost;
        rows += mb;
        ref_tail(tr, h->Xb, mb, opts->lr, opts->momentum);
        if (opts->interrupt && *opts->interrupt && b + 1 < end) {
            res->stop = MLPCL_STOP_INTERRUPTED;
            res->iterations = (long)(b + 1 - first);
            break;
        }
    }
    res->cost = res->stop == MLPCL_STOP_DIVERGED ? last : sum / (double)rows;
    res->seconds = mlpcl__now() - t0;
    h->drop.rate = 0.0; /* runs and predictions do not drop */
    free(perm);
    return MLPCL_OK;
}

static void host_free(mlpcl_trainer *tr)
{
    host_backend *h = tr->backend;
    if (!h) return;
    free(h->X);
    free(h->Y);
    free(h->Xb);
    free(h->Yb);
    free(h->G);
    free(h->V);
    free(h->P_prev);
    free(h->V_prev);
    free(h->S);
    free(h->S_prev);
    mlpcl__ref_layers_free(tr->net->L, h->A, h->D);
    mlpcl__dropout_free(tr->net, h->H);
    for (size_t i = 0; i < h->n_sets; ++i) free(h->sets[i]);
    free(h->sets);
    free(h);
    tr->backend = NULL;
}

/* Workspace: copies of X and Y, one batch, activations, gradients, velocity. */
static mlpcl_status host_create(mlpcl_trainer *tr, const double *X, const double *Y)
{
    const mlpcl_net *net = tr->net;
    size_t n0 = net->width[0], nL = net->width[net->L], B = tr->batch, m = tr->m;
    size_t n = mlpcl_net_n_params(net);
    host_backend *h = calloc(1, sizeof *h);
    if (!h) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a trainer");
    tr->backend = h;
    h->X = malloc(m * n0 * sizeof(double) + 1);
    h->Y = malloc(m * nL * sizeof(double) + 1);
    h->Xb = malloc(B * n0 * sizeof(double));
    h->Yb = malloc(B * nL * sizeof(double));
    h->G = malloc(n * sizeof(double));
    h->V = calloc(n, sizeof(double));
    h->P_prev = malloc(n * sizeof(double));
    h->V_prev = calloc(n, sizeof(double));
    h->S = calloc(n, sizeof(double));
    h->S_prev = calloc(n, sizeof(double));
    if (!h->X || !h->Y || !h->Xb || !h->Yb || !h->G || !h->V || !h->P_prev || !h->V_prev || !h->S ||
        !h->S_prev)
        return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for the training data");
    if (m) {
        memcpy(h->X, X, m * n0 * sizeof(double));
        memcpy(h->Y, Y, m * nL * sizeof(double));
    }
    return mlpcl__ref_layers_alloc(net, B, &h->A, &h->D);
}

static mlpcl_status host_params(mlpcl_trainer *tr, double *P)
{
    memcpy(P, tr->net->params, mlpcl_net_n_params(tr->net) * sizeof *P);
    return MLPCL_OK;
}

static mlpcl_status host_velocity(mlpcl_trainer *tr, double *V)
{
    host_backend *h = tr->backend;
    memcpy(V, h->V, mlpcl_net_n_params(tr->net) * sizeof *V);
    return MLPCL_OK;
}

static mlpcl_status host_set_velocity(mlpcl_trainer *tr, const double *V)
{
    host_backend *h = tr->backend;
    memcpy(h->V, V, mlpcl_net_n_params(tr->net) * sizeof *V);
    return MLPCL_OK;
}

static mlpcl_status host_set_params(mlpcl_trainer *tr, const double *P)
{
    memcpy(tr->net->params, P, mlpcl_net_n_params(tr->net) * sizeof *P);
    return MLPCL_OK;
}

static mlpcl_status host_adam_state(mlpcl_trainer *tr, double *S, long *t)
{
    host_backend *h = tr->backend;
    if (S) memcpy(S, h->S, mlpcl_net_n_params(tr->net) * sizeof *S);
    *t = h->t;
    return MLPCL_OK;
}

static mlpcl_status host_set_adam_state(mlpcl_trainer *tr, const double *S, long t)
{
    host_backend *h = tr->backend;
    if (S) memcpy(h->S, S, mlpcl_net_n_params(tr->net) * sizeof *S);
    h->t = t;
    return MLPCL_OK;
}

static mlpcl_status host_add_set(mlpcl_trainer *tr, int id, const double *X, size_t n)
{
    host_backend *h = tr->backend;
    size_t n0 = tr->net->width[0];
    double **grown = realloc(h->sets, ((size_t)id + 1) * sizeof *grown);
    if (!grown) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a data set");
    h->sets = grown;
    h->sets[id] = malloc(n * n0 * sizeof(double) + 1);
    if (!h->sets[id]) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a data set");
    memcpy(h->sets[id], X, n * n0 * sizeof *X);
    h->n_sets = (size_t)id + 1;
    return MLPCL_OK;
}

static mlpcl_status host_predict(mlpcl_trainer *tr, int id, size_t start, size_t rows, double *out)
{
    host_backend *h = tr->backend;
    size_t L = tr->net->L, nL = tr->net->width[L], n0 = tr->net->width[0];
    mlpcl__ref_forward(tr->net, tr->net->params, h->sets[id] + start * n0, rows, h->A);
    memcpy(out, h->A[L], rows * nL * sizeof *out);
    return MLPCL_OK;
}

static void host_describe(const mlpcl_trainer *tr, char *buf, size_t size)
{
    (void)tr;
    snprintf(buf, size, "host reference (plain C, double)");
}

const mlpcl_backend_ops mlpcl__host_ops = {
    .name = "host",
    .create = host_create,
    .free = host_free,
    .run = host_run,
    .epoch = host_epoch,
    .params = host_params,
    .velocity = host_velocity,
    .set_velocity = host_set_velocity,
    .adam_state = host_adam_state,
    .set_adam_state = host_set_adam_state,
    .add_set = host_add_set,
    .predict = host_predict,
    .describe = host_describe,
    .set_params = host_set_params,
};
