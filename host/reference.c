/* reference.c: the plain C, double-precision trainer. It is the oracle the device tests compare
 * with and the "host" device of `--device host`. Written for clarity and a fixed summation
 * order (ascending indices), not for speed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static double activate(mlpcl_act act, double z)
{
    switch (act) {
    case MLPCL_TANH:
        return tanh(z);
    case MLPCL_RELU:
        return z > 0.0 ? z : 0.0;
    default:
        return 1.0 / (1.0 + exp(-z));
    }
}

/* The activation's derivative, from its output a. */
static double act_slope(mlpcl_act act, double a)
{
    switch (act) {
    case MLPCL_TANH:
        return 1.0 - a * a;
    case MLPCL_RELU:
        return a > 0.0 ? 1.0 : 0.0;
    default:
        return (1.0 - a) * a;
    }
}

void mlpcl__ref_forward(const mlpcl_net *net, const double *P, const double *X, size_t m,
                        double **A)
{
    for (size_t l = 1; l <= net->L; ++l) {
        size_t n_in = net->width[l - 1], n_out = net->width[l];
        const double *in = l == 1 ? X : A[l - 1];
        const double *W = P + net->offset[l], *b = W + n_in * n_out;
        int softmax = l == net->L && net->loss == MLPCL_CE;
        for (size_t i = 0; i < m; ++i) {
            double *z = &mlpcl_at(A[l], n_out, i, 0);
            for (size_t j = 0; j < n_out; ++j) z[j] = 0.0;
            for (size_t k = 0; k < n_in; ++k) {
                double a = mlpcl_at(in, n_in, i, k);
                for (size_t j = 0; j < n_out; ++j) z[j] += a * mlpcl_at(W, n_out, k, j);
            }
            for (size_t j = 0; j < n_out; ++j) z[j] += b[j];
            if (!softmax) {
                for (size_t j = 0; j < n_out; ++j) z[j] = activate(net->act[l], z[j]);
                continue;
            }
            double max = z[0], sum = 0.0;
            for (size_t j = 1; j < n_out; ++j) max = z[j] > max ? z[j] : max;
            for (size_t j = 0; j < n_out; ++j) sum += (z[j] = exp(z[j] - max));
            for (size_t j = 0; j < n_out; ++j) z[j] /= sum;
        }
    }
}

double mlpcl__ref_output_delta(const mlpcl_net *net, const double *AL, const double *Y, size_t m,
                               double *DL)
{
    size_t n = net->width[net->L];
    double sum = 0.0;
    for (size_t i = 0; i < m * n; ++i) {
        double a = AL[i], y = Y[i], e = a - y;
        if (net->loss == MLPCL_CE) {
            DL[i] = e / (double)m;
            sum += y != 0.0 ? -y * log(a) : 0.0;
        } else {
            /* The tutorial's order: ((out − Y)/m) · ((1 − out)·out). */
            DL[i] = e / (double)m * act_slope(net->act[net->L], a);
            sum += e * e;
        }
    }
    return (net->loss == MLPCL_CE ? 1.0 / (double)m : 1.0 / (2.0 * (double)m)) * sum;
}

void mlpcl__ref_hidden_deltas(const mlpcl_net *net, const double *P, double **A, size_t m,
                              double **D)
{
    for (size_t l = net->L - 1; l >= 1; --l) {
        size_t n = net->width[l], n_next = net->width[l + 1];
        const double *W = P + net->offset[l + 1];
        for (size_t i = 0; i < m; ++i)
            for (size_t j = 0; j < n; ++j) {
                double s = 0.0;
                for (size_t k = 0; k < n_next; ++k)
                    s += mlpcl_at(D[l + 1], n_next, i, k) * mlpcl_at(W, n_next, j, k);
                mlpcl_at(D[l], n, i, j) = s * act_slope(net->act[l], mlpcl_at(A[l], n, i, j));
            }
    }
}

void mlpcl__ref_gradients(const mlpcl_net *net, const double *X, double **A, double **D, size_t m,
                          double *G)
{
    for (size_t l = 1; l <= net->L; ++l) {
        size_t n_in = net->width[l - 1], n_out = net->width[l];
        const double *in = l == 1 ? X : A[l - 1];
        double *dW = G + net->offset[l], *db = dW + n_in * n_out;
        memset(dW, 0, (n_in + 1) * n_out * sizeof *dW);
        for (size_t i = 0; i < m; ++i) {
            const double *d = &mlpcl_at(D[l], n_out, i, 0);
            for (size_t k = 0; k < n_in; ++k) {
                double a = mlpcl_at(in, n_in, i, k);
                for (size_t j = 0; j < n_out; ++j) mlpcl_at(dW, n_out, k, j) += a * d[j];
            }
            for (size_t j = 0; j < n_out; ++j) db[j] += d[j];
        }
    }
}

/* A[1…L] and D[1…L], each m×n_l, in one allocation each. */
static mlpcl_status alloc_layers(const mlpcl_net *net, size_t m, double ***A, double ***D)
{
    *A = calloc(net->L + 1, sizeof **A);
    *D = calloc(net->L + 1, sizeof **D);
    if (!*A || !*D) goto nomem;
    for (size_t l = 1; l <= net->L; ++l) {
        (*A)[l] = malloc(m * net->width[l] * sizeof(double));
        (*D)[l] = malloc(m * net->width[l] * sizeof(double));
        if (!(*A)[l] || !(*D)[l]) goto nomem;
    }
    return MLPCL_OK;
nomem:
    return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for the reference's activations");
}

static void free_layers(size_t L, double **A, double **D)
{
    for (size_t l = 1; l <= L && A; ++l) free(A[l]);
    for (size_t l = 1; l <= L && D; ++l) free(D[l]);
    free(A);
    free(D);
}

mlpcl_status mlpcl__ref_cost_grad(const mlpcl_net *net, const double *P, const double *X,
                                  const double *Y, size_t m, double *cost, double *G)
{
    double **A = NULL, **D = NULL;
    mlpcl_status st = alloc_layers(net, m, &A, &D);
    if (st == MLPCL_OK) {
        mlpcl__ref_forward(net, P, X, m, A);
        *cost = mlpcl__ref_output_delta(net, A[net->L], Y, m, D[net->L]);
        if (G) {
            mlpcl__ref_hidden_deltas(net, P, A, m, D);
            mlpcl__ref_gradients(net, X, A, D, m, G);
        }
    }
    free_layers(net->L, A, D);
    return st;
}

/* The cost of the current parameters on rows X, Y (mb of them); leaves A and D_L for an update. */
static double ref_head(mlpcl_trainer *tr, const double *X, const double *Y, size_t mb)
{
    const mlpcl_net *net = tr->net;
    mlpcl__ref_forward(net, net->params, X, mb, tr->A_h);
    return mlpcl__ref_output_delta(net, tr->A_h[net->L], Y, mb, tr->D_h[net->L]);
}

/* Backward and update after ref_head: V = mu·V + G, P −= lr·V (plain P −= lr·G when mu = 0,
 * as the device does). Keeps the previous parameters for a divergence. */
static void ref_tail(mlpcl_trainer *tr, const double *X, size_t mb, double lr, double mu)
{
    const mlpcl_net *net = tr->net;
    double *P = net->params;
    size_t n = mlpcl_net_n_params(net);
    mlpcl__ref_hidden_deltas(net, P, tr->A_h, mb, tr->D_h);
    mlpcl__ref_gradients(net, X, tr->A_h, tr->D_h, mb, tr->G_h);
    memcpy(tr->P_prev, P, n * sizeof *P);
    memcpy(tr->V_prev, tr->V_h, n * sizeof *P);
    for (size_t i = 0; i < n; ++i) {
        double g = tr->G_h[i];
        if (mu != 0.0) g = tr->V_h[i] = mu * tr->V_h[i] + g;
        P[i] = P[i] - lr * g;
    }
}

mlpcl_status mlpcl__ref_run(mlpcl_trainer *tr, const mlpcl_train_opts *opts,
                            mlpcl_train_result *res)
{
    size_t n = mlpcl_net_n_params(tr->net);
    double t0 = mlpcl__now(), last = NAN;
    for (long k = 0;; ++k) {
        double cost = ref_head(tr, tr->X_h, tr->Y_h, tr->m);
        if (k == 0) res->start_cost = cost;
        if (opts->on_cost) opts->on_cost(opts->user, k, cost);
        res->iterations = k;
        res->cost = cost;
        if (!isfinite(cost)) {
            res->stop = MLPCL_STOP_DIVERGED;
            res->cost = last;
            if (k > 0) memcpy(tr->net->params, tr->P_prev, n * sizeof(double));
            if (k > 0) memcpy(tr->V_h, tr->V_prev, n * sizeof(double));
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
        ref_tail(tr, tr->X_h, tr->m, opts->lr, opts->momentum);
    }
    res->seconds = mlpcl__now() - t0;
    return MLPCL_OK;
}

mlpcl_status mlpcl__ref_epoch(mlpcl_trainer *tr, const mlpcl_epoch_opts *opts,
                              mlpcl_train_result *res)
{
    const mlpcl_net *net = tr->net;
    size_t n0 = net->width[0], nL = net->width[net->L], B = tr->batch, m = tr->m;
    size_t nb = (m + B - 1) / B, n = mlpcl_net_n_params(net), rows = 0;
    int *perm = malloc(m * sizeof *perm);
    if (!perm) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for the shuffle");
    mlpcl__shuffle(m, opts->seed, opts->epoch, perm);
    double t0 = mlpcl__now(), last = NAN, sum = 0.0;
    size_t first = opts->first_batch, end = nb;
    if (opts->max_batches && opts->max_batches < nb - first) end = first + opts->max_batches;
    res->stop = MLPCL_STOP_MAX_ITER;
    res->iterations = (long)(end - first);
    for (size_t b = first; b < end; ++b) {
        size_t start = b * B, mb = m - start < B ? m - start : B;
        for (size_t i = 0; i < mb; ++i) {
            memcpy(tr->Xb_h + i * n0, tr->X_h + (size_t)perm[start + i] * n0, n0 * sizeof(double));
            memcpy(tr->Yb_h + i * nL, tr->Y_h + (size_t)perm[start + i] * nL, nL * sizeof(double));
        }
        double cost = ref_head(tr, tr->Xb_h, tr->Yb_h, mb);
        if (b == first) res->start_cost = cost;
        if (opts->on_batch) opts->on_batch(opts->user, b + 1, nb, cost);
        if (!isfinite(cost)) {
            res->stop = MLPCL_STOP_DIVERGED;
            res->iterations = (long)(b - first);
            if (b > first) memcpy(tr->net->params, tr->P_prev, n * sizeof(double));
            if (b > first) memcpy(tr->V_h, tr->V_prev, n * sizeof(double));
            break;
        }
        last = cost;
        sum += (double)mb * cost;
        rows += mb;
        ref_tail(tr, tr->Xb_h, mb, opts->lr, opts->momentum);
        if (opts->interrupt && *opts->interrupt && b + 1 < end) {
            res->stop = MLPCL_STOP_INTERRUPTED;
            res->iterations = (long)(b + 1 - first);
            break;
        }
    }
    res->cost = res->stop == MLPCL_STOP_DIVERGED ? last : sum / (double)rows;
    res->seconds = mlpcl__now() - t0;
    free(perm);
    return MLPCL_OK;
}

mlpcl_status mlpcl__ref_trainer_init(mlpcl_trainer *tr, const double *X, const double *Y)
{
    const mlpcl_net *net = tr->net;
    size_t n0 = net->width[0], nL = net->width[net->L], B = tr->batch, m = tr->m;
    size_t n = mlpcl_net_n_params(net);
    tr->X_h = malloc(m * n0 * sizeof(double) + 1);
    tr->Y_h = malloc(m * nL * sizeof(double) + 1);
    tr->Xb_h = malloc(B * n0 * sizeof(double));
    tr->Yb_h = malloc(B * nL * sizeof(double));
    tr->G_h = malloc(n * sizeof(double));
    tr->V_h = calloc(n, sizeof(double));
    tr->P_prev = malloc(n * sizeof(double));
    tr->V_prev = calloc(n, sizeof(double));
    if (!tr->X_h || !tr->Y_h || !tr->Xb_h || !tr->Yb_h || !tr->G_h || !tr->V_h || !tr->P_prev ||
        !tr->V_prev)
        return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for the training data");
    if (m) {
        memcpy(tr->X_h, X, m * n0 * sizeof(double));
        memcpy(tr->Y_h, Y, m * nL * sizeof(double));
    }
    return alloc_layers(net, B, &tr->A_h, &tr->D_h);
}

void mlpcl__ref_trainer_free(mlpcl_trainer *tr)
{
    free(tr->X_h);
    free(tr->Y_h);
    free(tr->Xb_h);
    free(tr->Yb_h);
    free(tr->G_h);
    free(tr->V_h);
    free(tr->P_prev);
    free(tr->V_prev);
    free_layers(tr->net->L, tr->A_h, tr->D_h);
}

void mlpcl_evaluate(const mlpcl_net *net, const double *out, const double *Y, const int *labels,
                    size_t n, double *loss, double *accuracy)
{
    size_t nL = net->width[net->L], right = 0;
    double sum = 0.0;
    for (size_t i = 0; i < n * nL && Y; ++i) {
        double e = out[i] - Y[i];
        sum += net->loss == MLPCL_CE ? (Y[i] != 0.0 ? -Y[i] * log(out[i]) : 0.0) : e * e;
    }
    *loss = !Y || !n ? NAN : (net->loss == MLPCL_CE ? 1.0 : 0.5) * sum / (double)n;
    for (size_t i = 0; i < n && labels; ++i) {
        size_t best = 0;
        for (size_t j = 1; j < nL; ++j)
            if (out[i * nL + j] > out[i * nL + best]) best = j;
        right += (int)best == labels[i];
    }
    if (accuracy) *accuracy = labels && n ? (double)right / (double)n : NAN;
}
