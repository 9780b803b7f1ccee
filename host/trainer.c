// SPDX-License-Identifier: MIT
/* trainer.c: the public trainer calls. Each checks its arguments and then dispatches through
 * the trainer's table of backend operations (trainer.h): the OpenCL backend (cl_*.c) or the
 * host reference (host_backend.c). Nothing here knows how a backend computes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "trainer.h"

#define PREDICT_ROWS 1024 /* rows a predicting trainer handles at once, by default */

void mlpcl_train_opts_default(mlpcl_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->lr = 0.01;
    o->target = 0.1;
    o->max_iter = 10000000;
    o->lookahead = MLPCL_LOOKAHEAD_AUTO;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
}

void mlpcl_epoch_opts_default(mlpcl_epoch_opts *o)
{
    memset(o, 0, sizeof *o);
    o->lr = 0.1;
    o->seed = 1;
    o->lookahead = MLPCL_LOOKAHEAD_AUTO;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
}

mlpcl_status mlpcl_trainer_create(mlpcl_ctx *ctx, const mlpcl_net *net, const double *X,
                                  const double *Y, size_t m, mlpcl_precision precision,
                                  size_t batch, mlpcl_trainer **out)
{
    mlpcl_status st = MLPCL_OK;
    *out = NULL;
    if (m && (!X || !Y)) return mlpcl__fail(MLPCL_ERR_ARG, "training data missing");
    if (precision != MLPCL_PRECISION_FLOAT && precision != MLPCL_PRECISION_DOUBLE)
        return mlpcl__fail(MLPCL_ERR_ARG, "precision must be float or double");
    if (ctx->is_host && precision != MLPCL_PRECISION_DOUBLE)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "the host reference trainer computes in double precision only");
    if (m > (size_t)INT32_MAX)
        return mlpcl__fail(MLPCL_ERR_TOO_BIG, "%zu samples: at most %d", m, INT32_MAX);
    int ranks = mlpcl__comm_world_size(); /* > 1: MPI ranks train together (comm_mpi.c) */
    if (ctx->is_host && ranks > 1)
        return mlpcl__fail(MLPCL_ERR_ARG, "the host reference trainer cannot train across MPI "
                                          "ranks: give an OpenCL --device");
    mlpcl_trainer *tr = calloc(1, sizeof *tr);
    if (!tr) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a trainer");
    tr->ctx = ctx;
    tr->ops = ctx->is_host                  ? &mlpcl__host_ops
              : ctx->n_members || ranks > 1 ? &mlpcl__dp_ops
                                            : &mlpcl__cl_ops;
    tr->m = m;
    tr->batch = !m ? (batch ? batch : PREDICT_ROWS) : batch && batch < m ? batch : m;
    tr->precision = precision;
    tr->real = (size_t)precision;
    tr->lr = 0.01;
    tr->target = -INFINITY;
    TRY(mlpcl_net_clone(net, &tr->net));
    TRY(tr->ops->create(tr, X, Y));
    *out = tr;
    return MLPCL_OK;
fail:
    mlpcl__build_notice_end(ctx); /* a failed build owes its end too */
    mlpcl_trainer_free(tr);
    return st;
}

void mlpcl_trainer_free(mlpcl_trainer *tr)
{
    if (!tr) return;
    if (tr->net) tr->ops->free(tr); /* a backend is made only after the network's copy */
    mlpcl_net_free(tr->net);
    free(tr->set_rows);
    free(tr);
}

static mlpcl_status check_step(const mlpcl_trainer *tr, double lr, double momentum, int lookahead)
{
    if (!tr->m) return mlpcl__fail(MLPCL_ERR_ARG, "this trainer has no training data");
    if (!(lr > 0) || isinf(lr) || !(momentum >= 0 && momentum < 1) ||
        lookahead < MLPCL_LOOKAHEAD_AUTO || lookahead > MLPCL__MAX_LOOKAHEAD)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "training options out of range (lr %g > 0, momentum %g in [0, 1), "
                           "lookahead %d in 0 … %d, or MLPCL_LOOKAHEAD_AUTO)",
                           lr, momentum, lookahead, MLPCL__MAX_LOOKAHEAD);
    return MLPCL_OK;
}

/* Zeroes the velocity and Adam's second moments and step count. */
static mlpcl_status reset_optim_state(mlpcl_trainer *tr)
{
    double *zero = calloc(mlpcl_net_n_params(tr->net), sizeof *zero);
    if (!zero) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory");
    mlpcl_status st = tr->ops->set_velocity(tr, zero);
    if (st == MLPCL_OK && tr->ops->set_adam_state) st = tr->ops->set_adam_state(tr, zero, 0);
    free(zero);
    return st;
}

/* Checks the optimiser's options and makes them the trainer's for the call. */
static mlpcl_status check_optim(mlpcl_trainer *tr, mlpcl_optimizer kind, int nesterov,
                                double momentum, double beta1, double beta2, double eps, double wd)
{
    if (kind != MLPCL_OPT_SGD && kind != MLPCL_OPT_ADAM && kind != MLPCL_OPT_ADAMW)
        return mlpcl__fail(MLPCL_ERR_ARG, "optimizer %d is not SGD, Adam or AdamW", (int)kind);
    if (kind != MLPCL_OPT_SGD && (momentum != 0.0 || nesterov))
        return mlpcl__fail(MLPCL_ERR_ARG, "Adam and AdamW take beta1, not momentum or Nesterov");
    if (nesterov && !(momentum > 0.0))
        return mlpcl__fail(MLPCL_ERR_ARG, "Nesterov's step needs a momentum above 0");
    if (kind != MLPCL_OPT_SGD &&
        !(beta1 >= 0.0 && beta1 < 1.0 && beta2 >= 0.0 && beta2 < 1.0 && eps > 0.0 && isfinite(eps)))
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "Adam's options out of range (beta1 %g and beta2 %g in [0, 1), "
                           "eps %g > 0)",
                           beta1, beta2, eps);
    if (!(wd >= 0.0) || isinf(wd))
        return mlpcl__fail(MLPCL_ERR_ARG, "weight decay %g out of range (finite, ≥ 0)", wd);
    if (kind != MLPCL_OPT_SGD && !tr->ops->adam_state)
        return mlpcl__fail(MLPCL_ERR_ARG, "the %s backend trains with SGD only, not Adam",
                           tr->ops->name);
    /* The velocity and Adam's moments are one rule's state: another rule starts afresh, as a
     * new torch.optim object would, rather than reading SGD's velocity as Adam's moments. */
    if (tr->state_kind && tr->state_kind != (int)kind + 1) {
        mlpcl_status st = reset_optim_state(tr);
        if (st != MLPCL_OK) return st;
    }
    tr->state_kind = (int)kind + 1;
    tr->optim = (mlpcl_optim){kind, nesterov != 0, beta1, beta2, eps, wd};
    return MLPCL_OK;
}

/* Whether ctx (or a member) has a build notice: one may start during a run or an epoch, as a
 * fused trainer builds the rest of its kernels (cl_launch.c), or be owed from the build. */
static int notice_set(const mlpcl_ctx *ctx)
{
    if (ctx->notice) return 1;
    for (size_t i = 0; i < ctx->n_members; ++i)
        if (notice_set(ctx->members[i])) return 1;
    return 0;
}

/* Stands between a run and its caller's callback where a build notice may be owed: drivers
 * compile kernels at their first launch, so the kernels are ready once an iteration's cost is
 * read. Ending a notice that is not owed does nothing. */
typedef struct notice_relay {
    mlpcl_ctx *ctx;
    void (*on_cost)(void *user, long iter, double cost);
    void (*on_batch)(void *user, size_t done, size_t total, double cost);
    void *user;
} notice_relay;

static void relay_cost(void *user, long iter, double cost)
{
    notice_relay *r = user;
    if (iter > 0) mlpcl__build_notice_end(r->ctx); /* iter 0 needed the forward pass only */
    if (r->on_cost) r->on_cost(r->user, iter, cost);
}

static void relay_batch(void *user, size_t done, size_t total, double cost)
{
    notice_relay *r = user;
    mlpcl__build_notice_end(r->ctx);
    if (r->on_batch) r->on_batch(r->user, done, total, cost);
}

mlpcl_status mlpcl_trainer_run(mlpcl_trainer *tr, const mlpcl_train_opts *opts,
                               mlpcl_train_result *res)
{
    mlpcl_status st = MLPCL_OK;
    memset(res, 0, sizeof *res);
    TRY(check_step(tr, opts->lr, opts->momentum, opts->lookahead));
    if (isnan(opts->target) || opts->max_iter < 0)
        return mlpcl__fail(MLPCL_ERR_ARG, "target %g or max_iter %ld out of range", opts->target,
                           opts->max_iter);
    if (tr->batch < tr->m)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "a run to a target needs a full-batch trainer (batch "
                           "%zu < %zu samples); train by epochs instead",
                           tr->batch, tr->m);
    TRY(check_optim(tr, opts->optimizer, opts->nesterov, opts->momentum, opts->beta1, opts->beta2,
                    opts->eps, opts->weight_decay));
    if (notice_set(tr->ctx)) {
        notice_relay r = {tr->ctx, opts->on_cost, NULL, opts->user};
        mlpcl_train_opts o = *opts;
        o.on_cost = relay_cost;
        o.user = &r;
        st = tr->ops->run(tr, &o, res);
        mlpcl__build_notice_end(tr->ctx);
        return st;
    }
    return tr->ops->run(tr, opts, res);
fail:
    return st;
}

mlpcl_status mlpcl_trainer_epoch(mlpcl_trainer *tr, const mlpcl_epoch_opts *opts,
                                 mlpcl_train_result *res)
{
    mlpcl_status st = MLPCL_OK;
    memset(res, 0, sizeof *res);
    TRY(check_step(tr, opts->lr, opts->momentum, opts->lookahead));
    size_t nb = (tr->m + tr->batch - 1) / tr->batch;
    if (!(opts->dropout >= 0 && opts->dropout < 1))
        return mlpcl__fail(MLPCL_ERR_ARG, "dropout %g out of range [0, 1)", opts->dropout);
    if (opts->first_batch >= nb)
        return mlpcl__fail(MLPCL_ERR_ARG, "batch %zu does not exist: an epoch has %zu",
                           opts->first_batch, nb);
    TRY(check_optim(tr, opts->optimizer, opts->nesterov, opts->momentum, opts->beta1, opts->beta2,
                    opts->eps, opts->weight_decay));
    if (notice_set(tr->ctx)) {
        notice_relay r = {tr->ctx, NULL, opts->on_batch, opts->user};
        mlpcl_epoch_opts o = *opts;
        o.on_batch = relay_batch;
        o.user = &r;
        st = tr->ops->epoch(tr, &o, res);
        mlpcl__build_notice_end(tr->ctx);
        return st;
    }
    return tr->ops->epoch(tr, opts, res);
fail:
    return st;
}

mlpcl_status mlpcl_trainer_profile_start(mlpcl_trainer *tr)
{
    if (!tr->ops->profile_start || !(tr->ctx->flags & MLPCL_CTX_PROFILE))
        return mlpcl__fail(MLPCL_ERR_ARG, "profiling needs an OpenCL context created with "
                                          "MLPCL_CTX_PROFILE");
    return tr->ops->profile_start(tr);
}

mlpcl_status mlpcl_trainer_profile(mlpcl_trainer *tr, mlpcl_kernel_time *out, size_t *n)
{
    *n = 0;
    return tr->ops->profile ? tr->ops->profile(tr, out, n) : MLPCL_OK;
}

double mlpcl_trainer_build_seconds(const mlpcl_trainer *tr)
{
    return tr->ops->build_seconds ? tr->ops->build_seconds(tr) : 0.0;
}

void mlpcl_trainer_describe(const mlpcl_trainer *tr, char *buf, size_t size)
{
    tr->ops->describe(tr, buf, size);
}

mlpcl_status mlpcl_trainer_params(mlpcl_trainer *tr, mlpcl_net *net)
{
    size_t n = mlpcl_net_n_params(tr->net);
    if (mlpcl_net_n_params(net) != n || net->L != tr->net->L)
        return mlpcl__fail(MLPCL_ERR_ARG, "the network's shape differs from the trainer's");
    return tr->ops->params(tr, net->params);
}

mlpcl_status mlpcl_trainer_set_params(mlpcl_trainer *tr, const mlpcl_net *net)
{
    size_t n = mlpcl_net_n_params(tr->net);
    if (mlpcl_net_n_params(net) != n || net->L != tr->net->L)
        return mlpcl__fail(MLPCL_ERR_ARG, "the network's shape differs from the trainer's");
    return tr->ops->set_params(tr, net->params);
}

mlpcl_status mlpcl_trainer_velocity(mlpcl_trainer *tr, double *v)
{
    if (!tr->m) return mlpcl__fail(MLPCL_ERR_ARG, "this trainer has no training data");
    return tr->ops->velocity(tr, v);
}

mlpcl_status mlpcl_trainer_set_velocity(mlpcl_trainer *tr, const double *v)
{
    if (!tr->m) return mlpcl__fail(MLPCL_ERR_ARG, "this trainer has no training data");
    tr->state_kind = 0; /* the caller's: for whichever optimiser trains next */
    return tr->ops->set_velocity(tr, v);
}

mlpcl_status mlpcl_trainer_adam_state(mlpcl_trainer *tr, double *s, long *step)
{
    if (!tr->m) return mlpcl__fail(MLPCL_ERR_ARG, "this trainer has no training data");
    if (!tr->ops->adam_state)
        return mlpcl__fail(MLPCL_ERR_ARG, "the %s backend has no Adam state", tr->ops->name);
    return tr->ops->adam_state(tr, s, step);
}

mlpcl_status mlpcl_trainer_set_adam_state(mlpcl_trainer *tr, const double *s, long step)
{
    if (!tr->m) return mlpcl__fail(MLPCL_ERR_ARG, "this trainer has no training data");
    if (step < 0 || step > INT32_MAX)
        return mlpcl__fail(MLPCL_ERR_ARG, "Adam step count %ld out of range (0 … %d)", step,
                           INT32_MAX);
    if (!tr->ops->set_adam_state)
        return mlpcl__fail(MLPCL_ERR_ARG, "the %s backend has no Adam state", tr->ops->name);
    tr->state_kind = 0;
    return tr->ops->set_adam_state(tr, s, step);
}

mlpcl_status mlpcl_trainer_add_set(mlpcl_trainer *tr, const double *X, size_t n, int *id)
{
    size_t n0 = tr->net->width[0], bytes;
    if (n > (size_t)INT32_MAX || mlpcl__mul_overflows(n * n0, tr->real, &bytes))
        return mlpcl__fail(MLPCL_ERR_TOO_BIG, "a data set of %zu samples is too big", n);
    size_t *grown = realloc(tr->set_rows, (tr->n_sets + 1) * sizeof *grown);
    if (!grown) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a data set");
    tr->set_rows = grown;
    mlpcl_status st = tr->ops->add_set(tr, (int)tr->n_sets, X, n);
    if (st != MLPCL_OK) return st;
    tr->set_rows[tr->n_sets] = n;
    *id = (int)tr->n_sets++;
    return MLPCL_OK;
}

mlpcl_status mlpcl_trainer_predict(mlpcl_trainer *tr, int id, double *out)
{
    mlpcl_status st = MLPCL_OK;
    if (id < 0 || (size_t)id >= tr->n_sets)
        return mlpcl__fail(MLPCL_ERR_ARG, "no data set %d in this trainer", id);
    size_t n = tr->set_rows[id], nL = tr->net->width[tr->net->L];
    for (size_t start = 0; start < n && st == MLPCL_OK; start += tr->batch) {
        size_t mb = n - start < tr->batch ? n - start : tr->batch;
        st = tr->ops->predict(tr, id, start, mb, out + start * nL);
        mlpcl__build_notice_end(tr->ctx); /* its kernels have run (or failed) */
    }
    return st;
}
