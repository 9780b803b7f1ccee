// SPDX-License-Identifier: MIT
/* ref.c: the plain C, double-precision maths of one iteration: forward, output and hidden
 * deltas, gradients, the optimiser's step, and the cost and gradient of a batch. It is the oracle
 * the device tests compare with and what the host backend trains with. Written for clarity and a
 * fixed summation order (ascending indices), not for speed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

static double activate(mlpcl_act act, double z)
{
    switch (act) {
    case MLPCL_ACT_TANH:
        return tanh(z);
    case MLPCL_ACT_RELU:
        return z > 0.0 ? z : 0.0;
    case MLPCL_ACT_LINEAR:
        return z;
    default:
        return 1.0 / (1.0 + exp(-z));
    }
}

/* The activation's derivative, from its output a. */
static double act_slope(mlpcl_act act, double a)
{
    switch (act) {
    case MLPCL_ACT_TANH:
        return 1.0 - a * a;
    case MLPCL_ACT_RELU:
        return a > 0.0 ? 1.0 : 0.0;
    case MLPCL_ACT_LINEAR:
        return 1.0;
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
        int softmax = l == net->L && net->loss == MLPCL_LOSS_CE;
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
        if (net->loss == MLPCL_LOSS_CE) {
            DL[i] = e / (double)m;
            sum += y != 0.0 ? -y * log(a) : 0.0;
        } else {
            /* The tutorial's order: ((out − Y)/m) · ((1 − out)·out). */
            DL[i] = e / (double)m * act_slope(net->act[net->L], a);
            sum += e * e;
        }
    }
    return mlpcl__loss_scale(net->loss, m) * sum;
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

/* ops.cl's optim_update, element by element, in the same order of operations. */
void mlpcl__ref_optim_step(int kind, int nesterov, double beta1, double beta2, double eps,
                           double wd, double lr, double mu, long t, size_t n, const double *G,
                           double *P, double *V, double *S)
{
    const double step = lr / (1.0 - pow(beta1, (double)t));
    const double root2 = sqrt(1.0 - pow(beta2, (double)t));
    for (size_t i = 0; i < n; ++i) {
        double p = P[i], g = G[i];
        if (kind != MLPCL_OPT_ADAMW) g = g + wd * p;
        if (kind == MLPCL_OPT_SGD) {
            if (mu != 0.0) {
                double v = V[i] = mu * V[i] + g;
                g = nesterov ? g + mu * v : v;
            }
            P[i] = p - lr * g;
            continue;
        }
        double m = V[i] = beta1 * V[i] + (1.0 - beta1) * g;
        double s = S[i] = beta2 * S[i] + (1.0 - beta2) * (g * g);
        if (kind == MLPCL_OPT_ADAMW) p = p * (1.0 - lr * wd);
        P[i] = p - step * m / (sqrt(s) / root2 + eps);
    }
}

mlpcl_status mlpcl__ref_layers_alloc(const mlpcl_net *net, size_t m, double ***A, double ***D)
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

void mlpcl__ref_layers_free(size_t L, double **A, double **D)
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
    mlpcl_status st = mlpcl__ref_layers_alloc(net, m, &A, &D);
    if (st == MLPCL_OK) {
        mlpcl__ref_forward(net, P, X, m, A);
        *cost = mlpcl__ref_output_delta(net, A[net->L], Y, m, D[net->L]);
        if (G) {
            mlpcl__ref_hidden_deltas(net, P, A, m, D);
            mlpcl__ref_gradients(net, X, A, D, m, G);
        }
    }
    mlpcl__ref_layers_free(net->L, A, D);
    return st;
}

void mlpcl_evaluate(const mlpcl_net *net, const double *out, const double *Y, const int *labels,
                    size_t n, double *loss, double *accuracy)
{
    size_t nL = net->width[net->L], right = 0;
    double sum = 0.0;
    for (size_t i = 0; i < n * nL && Y; ++i) {
        double e = out[i] - Y[i];
        sum += net->loss == MLPCL_LOSS_CE ? (Y[i] != 0.0 ? -Y[i] * log(out[i]) : 0.0) : e * e;
    }
    *loss = !Y || !n ? NAN : (net->loss == MLPCL_LOSS_CE ? 1.0 : 0.5) * sum / (double)n;
    for (size_t i = 0; i < n && labels; ++i) {
        size_t best = 0;
        for (size_t j = 1; j < nL; ++j)
            if (out[i * nL + j] > out[i * nL + best]) best = j;
        right += (int)best == labels[i];
    }
    if (accuracy) *accuracy = labels && n ? (double)right / (double)n : NAN;
}
