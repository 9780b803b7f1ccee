// SPDX-License-Identifier: MIT
/* ops.cl: each operation of backpropagation, defined once: the activations and their slopes,
 * one element of the forward product, the output delta with its loss term, one element of the
 * hidden delta and of the gradient, a softmax row, and the optimiser steps (plain SGD, and
 * SGD with Nesterov or weight decay, Adam and AdamW). The simple kernels,
 * the fused kernel and the tiled products' epilogues are built from them, so the three paths
 * carry the same floating-point operations in the same order. Needs common.cl. */

/* The activation and its derivative (from the activation's output a), for a real type T:
 * the scalar forms here, the vector forms (gemm_epilogue.cl) from the same text. RELU and
 * RELU_SLOPE give the type's max(z, 0) and step. */
#define DEFINE_ACTIVATION(T, SUFFIX, RELU, RELU_SLOPE)                                             \
    INLINE T activate##SUFFIX(int act, T z)                                                        \
    {                                                                                              \
        switch (act) {                                                                             \
        case ACT_TANH:                                                                             \
            return tanh(z);                                                                        \
        case ACT_RELU:                                                                             \
            return RELU(z);                                                                        \
        case ACT_IDENTITY:                                                                         \
            return z;                                                                              \
        default:                                                                                   \
            return (T)1 / ((T)1 + exp(-z));                                                        \
        }                                                                                          \
    }                                                                                              \
    INLINE T act_slope##SUFFIX(int act, T a)                                                       \
    {                                                                                              \
        switch (act) {                                                                             \
        case ACT_TANH:                                                                             \
            return (T)1 - a * a;                                                                   \
        case ACT_RELU:                                                                             \
            return RELU_SLOPE(a);                                                                  \
        case ACT_IDENTITY:                                                                         \
            return (T)1;                                                                           \
        default:                                                                                   \
            return ((T)1 - a) * a;                                                                 \
        }                                                                                          \
    }

#define RELU_REAL(z)       ((z) > (REAL)0 ? (z) : (REAL)0)
#define RELU_SLOPE_REAL(a) ((a) > (REAL)0 ? (REAL)1 : (REAL)0)
DEFINE_ACTIVATION(REAL, , RELU_REAL, RELU_SLOPE_REAL)

/* One element of a layer's forward pass, act(Σ_k a_k W_kj + b_j): a is a row of the input
 * (n_in), W the weights (n_in × n, row-major) with the biases b (n) right after them. */
INLINE REAL forward_element(int act, int n_in, int n, __global const REAL *a,
                            __global const REAL *W, int j)
{
    REAL z = 0;
    for (int k = 0; k < n_in; ++k) z += a[k] * W[(size_t)k * n + j];
    return activate(act, z + W[(size_t)n_in * n + j]);
}

/* Row-wise softmax in place over one row z (n) of logits, shifted by the row's maximum. */
INLINE void softmax_row(int n, __global REAL *z)
{
    REAL max = z[0], sum = 0;
    for (int j = 1; j < n; ++j) max = z[j] > max ? z[j] : max;
    for (int j = 0; j < n; ++j) sum += (z[j] = exp(z[j] - max));
    for (int j = 0; j < n; ++j) z[j] /= sum;
}

/* The output layer's delta for one element with output a and target y: (a − y)/m ⊙ act'(a) for
 * MSE, (a − y)/m for softmax + cross-entropy. *term gets the element's share of the loss sum,
 * (a − y)² or −y·log a (the host scales the sum: 1/(2m) for MSE, 1/m for CE). */
REAL delta_and_loss(int loss, int act, int m, REAL a, REAL y, REAL *term)
{
    const REAL err = a - y;
    if (loss == LOSS_CE) {
        *term = y != (REAL)0 ? -y * log(a) : (REAL)0;
        return err / (REAL)m;
    }
    *term = err * err;
    return err / (REAL)m * act_slope(act, a);
}

/* One element of a hidden delta, (Σ_k d_k W_jk) · act'(a): d is a row of the next layer's
 * delta (n_next), w row j of the next layer's weights (n_next), a the layer's output there. */
INLINE REAL hidden_delta_element(int act, int n_next, __global const REAL *d,
                                 __global const REAL *w, REAL a)
{
    REAL s = 0;
    for (int k = 0; k < n_next; ++k) s += d[k] * w[k];
    return s * act_slope(act, a);
}

/* One element (k, j) of [A 1]ᵀ · D, summed over the m samples in order (so the result does not
 * depend on scheduling): row k < n_in a weight's gradient, row k = n_in its bias's. A is m × n_in,
 * D m × n. */
INLINE REAL gradient_element(int m, int n_in, int n, __global const REAL *A, __global const REAL *D,
                             int k, int j)
{
    REAL s = 0;
    if (k < n_in)
        for (int i = 0; i < m; ++i) s += A[(size_t)i * n_in + k] * D[(size_t)i * n + j];
    else
        for (int i = 0; i < m; ++i) s += D[(size_t)i * n + j];
    return s;
}

/* The optimiser step, SGD with momentum, for a real or vector type T: the velocity
 * v' = mu·v + g (only where mu ≠ 0; with mu = 0 the step is exactly lr·g), then p' = p − lr·v'. */
#define MOMENTUM(T, mu, v, g) ((T)(mu) * (v) + (g))
#define SGD_STEP(T, p, lr, g) ((p) - (T)(lr) * (g))

/* The step for the parameter at index at, from its gradient g; V_next is written only with
 * momentum. The parameters and velocity are double-buffered: P, V in and P_next, V_next out. */
INLINE void sgd_update(size_t at, REAL g, REAL lr, REAL mu, __global const REAL *P,
                       __global const REAL *V, __global REAL *V_next, __global REAL *P_next)
{
    if (mu != (REAL)0) {
        g = MOMENTUM(REAL, mu, V[at], g);
        V_next[at] = g;
    }
    P_next[at] = SGD_STEP(REAL, P[at], lr, g);
}

/* The optimisers besides plain SGD, as mlpcl.h's mlpcl_optimizer numbers them, and where their
 * constants lie in the hyper buffer (set for each run). */
#define OPT_SGD     0
#define OPT_ADAM    1
#define OPT_ADAMW   2
#define HYPER_BETA1 0
#define HYPER_BETA2 1
#define HYPER_EPS   2
#define HYPER_WD    3
#define HYPER_COUNT 4

/* The step for the parameter at index at with gradient g, as mlpcl.h states the rules (and
 * host/ref.c's mlpcl__ref_optim_step computes them): SGD with weight decay and Nesterov's
 * momentum (PyTorch's form), Adam with bias correction, AdamW's decoupled decay. V holds SGD's
 * velocity or Adam's first moments, S Adam's second moments; c holds Adam's bias corrections
 * for this step (adam_corrections). Everything is double-buffered like the parameters: V, S in and
 * V_next, S_next out. */
/* Adam's bias corrections for step count t (after the step): c[0] = lr/(1 − β1ᵗ) and
 * c[1] = √(1 − β2ᵗ). The same for every parameter, so computed once a step and passed to
 * optim_update: pown is a costly exp and log on CPUs (POCL), too dear for every element. */
INLINE void adam_corrections(REAL lr, __global const REAL *hyper, int t, REAL *c)
{
    c[0] = lr / ((REAL)1 - pown(hyper[HYPER_BETA1], t));
    c[1] = sqrt((REAL)1 - pown(hyper[HYPER_BETA2], t));
}

INLINE void optim_update(size_t at, REAL g, REAL lr, REAL mu, int kind, int nesterov,
                         __global const REAL *hyper, const REAL *c, __global const REAL *P,
                         __global const REAL *V, __global REAL *V_next, __global const REAL *S,
                         __global REAL *S_next, __global REAL *P_next)
{
    const REAL wd = hyper[HYPER_WD];
    REAL p = P[at];
    if (kind != OPT_ADAMW) g = g + wd * p;
    if (kind == OPT_SGD) {
        if (mu != (REAL)0) {
            const REAL v = mu * V[at] + g;
            V_next[at] = v;
            g = nesterov ? g + mu * v : v;
        }
        P_next[at] = p - lr * g;
        return;
    }
    const REAL b1 = hyper[HYPER_BETA1], b2 = hyper[HYPER_BETA2];
    const REAL m = b1 * V[at] + ((REAL)1 - b1) * g;
    const REAL s = b2 * S[at] + ((REAL)1 - b2) * (g * g);
    V_next[at] = m;
    S_next[at] = s;
    if (kind == OPT_ADAMW) p = p * ((REAL)1 - lr * wd);
    P_next[at] = p - c[0] * m / (sqrt(s) / c[1] + hyper[HYPER_EPS]);
}
