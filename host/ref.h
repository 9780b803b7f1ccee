// SPDX-License-Identifier: MIT
/* ref.h: the plain C, double-precision maths of one iteration (ref.c): the oracle the device
 * tests compare with, and what the host backend (host_backend.c) trains with. Not installed. */
#ifndef MLPCL_REF_H
#define MLPCL_REF_H

#include "internal.h"

/* A_l = act(A_{l-1} W_l + b_l) for l = 1 … L, A_0 = X (m×n_0). A[l] must hold m×n_l. */
void mlpcl__ref_forward(const mlpcl_net *net, const double *P, const double *X, size_t m,
                        double **A);
/* D_L from the outputs and targets; returns the cost. */
double mlpcl__ref_output_delta(const mlpcl_net *net, const double *AL, const double *Y, size_t m,
                               double *DL);
/* D_l for l = L-1 … 1 from D_L, with the weights P. */
void mlpcl__ref_hidden_deltas(const mlpcl_net *net, const double *P, double **A, size_t m,
                              double **D);
/* G = [dW_l; db_l] for every layer. */
void mlpcl__ref_gradients(const mlpcl_net *net, const double *X, double **A, double **D, size_t m,
                          double *G);
/* The cost and gradient of the whole batch at P (allocates its own workspace). */
mlpcl_status mlpcl__ref_cost_grad(const mlpcl_net *net, const double *P, const double *X,
                                  const double *Y, size_t m, double *cost, double *G);
/* One step of the optimiser (mlpcl.h's mlpcl_optimizer; kind, nesterov, beta1, beta2, eps and
 * wd as there) over n parameters P with gradients G: V is SGD's velocity or Adam's first
 * moments, S Adam's second moments (unused by SGD), t Adam's step count after this step
 * (1 for the first). Not for plain SGD, which the host backend keeps as it always was. */
void mlpcl__ref_optim_step(int kind, int nesterov, double beta1, double beta2, double eps,
                           double wd, double lr, double mu, long t, size_t n, const double *G,
                           double *P, double *V, double *S);
/* A[1…L] and D[1…L], each m×n_l (entry 0 unused); freed by mlpcl__ref_layers_free, also after a
 * failure. */
mlpcl_status mlpcl__ref_layers_alloc(const mlpcl_net *net, size_t m, double ***A, double ***D);
void mlpcl__ref_layers_free(size_t L, double **A, double **D);

#endif
