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

mlpcl_status mlpcl__ref_run(mlpcl_trainer *tr, const mlpcl_train_opts *opts,
                            mlpcl_train_result *res)
{
    const mlpcl_net *net = tr->net;
    double *P = tr->net->params;
    size_t n = mlpcl_net_n_params(net);
    double t0 = mlpcl__now(), last = NAN;
    for (long k = 0;; ++k) {
        mlpcl__ref_forward(net, P, tr->X_h, tr->m, tr->A_h);
        double cost =
            mlpcl__ref_output_delta(net, tr->A_h[net->L], tr->Y_h, tr->m, tr->D_h[net->L]);
        if (k == 0) res->start_cost = cost;
        if (opts->on_cost) opts->on_cost(opts->user, k, cost);
        res->iterations = k;
        res->cost = cost;
        if (!isfinite(cost)) {
            res->stop = MLPCL_STOP_DIVERGED;
            res->cost = last;
            if (k > 0) memcpy(P, tr->P_prev, n * sizeof *P);
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
        last = cost;
        mlpcl__ref_hidden_deltas(net, P, tr->A_h, tr->m, tr->D_h);
        mlpcl__ref_gradients(net, tr->X_h, tr->A_h, tr->D_h, tr->m, tr->G_h);
        memcpy(tr->P_prev, P, n * sizeof *P);
        for (size_t i = 0; i < n; ++i) P[i] = P[i] - opts->lr * tr->G_h[i];
    }
    res->seconds = mlpcl__now() - t0;
    return MLPCL_OK;
}

mlpcl_status mlpcl__ref_trainer_init(mlpcl_trainer *tr, const double *X, const double *Y)
{
    const mlpcl_net *net = tr->net;
    size_t nx = tr->m * net->width[0], ny = tr->m * net->width[net->L];
    size_t n = mlpcl_net_n_params(net);
    tr->X_h = malloc(nx * sizeof(double));
    tr->Y_h = malloc(ny * sizeof(double));
    tr->G_h = malloc(n * sizeof(double));
    tr->P_prev = malloc(n * sizeof(double));
    if (!tr->X_h || !tr->Y_h || !tr->G_h || !tr->P_prev)
        return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for the training data");
    memcpy(tr->X_h, X, nx * sizeof(double));
    memcpy(tr->Y_h, Y, ny * sizeof(double));
    return alloc_layers(net, tr->m, &tr->A_h, &tr->D_h);
}

void mlpcl__ref_trainer_free(mlpcl_trainer *tr)
{
    free(tr->X_h);
    free(tr->Y_h);
    free(tr->G_h);
    free(tr->P_prev);
    free_layers(tr->net->L, tr->A_h, tr->D_h);
}
