// SPDX-License-Identifier: MIT
/* fused.cl: whole iterations of a small network in one launch of one work-group: forward,
 * output delta and cost, the stop decision, hidden deltas, gradients and the update, for one
 * iteration or several in a row (where POCL's cost of a command outweighs an iteration's
 * arithmetic, as in the tutorial). Any depth: every layer's activations lie in one buffer and
 * its deltas in another, at offsets the shape buffer gives; barriers separate the phases (SYNC).
 * Needs common.cl and ops.cl. */

/* The network's shape, in a small constant buffer of 2 + 4L ints: L, the widths n_0 … n_L, then
 * for layers 1 … L their activations, parameter offsets (into P, G, V) and activation offsets
 * (into A and D, which share a layout). */
#define SHAPE_L         (shape[0])
#define SHAPE_WIDTH(l)  (shape[1 + (l)])
#define SHAPE_ACT(l)    (shape[1 + SHAPE_L + (l)])
#define SHAPE_OFFSET(l) (shape[1 + 2 * SHAPE_L + (l)])
#define SHAPE_AT(l)     (shape[1 + 3 * SHAPE_L + (l)])

/* Between phases, every work-item's writes before any reads them. CPUs run the kernel as one
 * work-item (the host's mlpcl__cl_fused_size) and build it with FUSED_ONE_ITEM=1, without
 * barriers: POCL compiled the barriers in these loops about 0.5 s slower at the first launch. */
#ifndef FUSED_ONE_ITEM
#define FUSED_ONE_ITEM 0
#endif
#if FUSED_ONE_ITEM
#define SYNC() ((void)0)
#else
#define SYNC() barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE)
#endif

/* The optimiser of a fused launch: kind −1 is plain SGD (ops.cl's sgd_update), else
 * optim_update's kind with its constants (hyper), Adam's second moments S and step count T,
 * double-buffered like P. */
typedef struct fused_optim {
    int kind, nesterov;
    __global const REAL *hyper;
    __global const REAL *S;
    __global REAL *S_next;
    __global const int *T;
    __global int *T_next;
} fused_optim;

/* One iteration from parameters P (velocity V): cost[0] gets P's cost; unless the stop flag is
 * (or becomes) set, or update is 0, P_next = P − lr·(mu·V + G) (or o's step) with G and V_next
 * written too. Returns whether it stopped before the update (the same in every work-item). */
INLINE int fused_iteration(const int m, const int loss, const REAL target, const REAL scale,
                           __constant int *shape, __global const REAL *X, __global const REAL *Y,
                           __global const REAL *P, __global REAL *P_next, __global REAL *G,
                           __global const REAL *V, __global REAL *V_next, __global REAL *A,
                           __global REAL *D, __global REAL *cost, __global int *state,
                           const REAL lr, const REAL mu, const int update, __local REAL *sums,
                           __local int *stop, const fused_optim *o)
{
    const int lid = get_local_id(0), NL = get_local_size(0), L = SHAPE_L;

    /* forward, layer by layer */
    for (int l = 1; l <= L; ++l) {
        const int n_in = SHAPE_WIDTH(l - 1), n = SHAPE_WIDTH(l);
        const int act = l == L && loss == LOSS_CE ? ACT_IDENTITY : SHAPE_ACT(l);
        __global const REAL *in = l == 1 ? X : A + SHAPE_AT(l - 1), *W = P + SHAPE_OFFSET(l);
        __global REAL *out = A + SHAPE_AT(l);
        for (int e = lid; e < m * n; e += NL)
            out[e] = forward_element(act, n_in, n, in + (e / n) * n_in, W, e % n);
        SYNC();
    }
    const int nL = SHAPE_WIDTH(L);
    __global REAL *AL = A + SHAPE_AT(L), *DL = D + SHAPE_AT(L);
    if (loss == LOSS_CE) {
        for (int i = lid; i < m; i += NL) softmax_row(nL, AL + i * nL);
        SYNC();
    }

    /* output delta and the cost */
    REAL part = 0;
    for (int e = lid; e < m * nL; e += NL) {
        REAL term;
        DL[e] = delta_and_loss(loss, SHAPE_ACT(L), m, AL[e], Y[e], &term);
        part += term;
    }
    sums[lid] = part;
#if !FUSED_ONE_ITEM
    group_sum(sums, NL);
#endif
    if (lid == 0) {
        record_cost(scale * sums[0], target, cost, state);
        *stop = state[0] || !update;
    }
    SYNC();
    if (*stop) return 1;

    /* hidden deltas, from the top down */
    for (int l = L - 1; l >= 1; --l) {
        const int n = SHAPE_WIDTH(l), n_next = SHAPE_WIDTH(l + 1), act = SHAPE_ACT(l);
        __global const REAL *W = P + SHAPE_OFFSET(l + 1), *Dn = D + SHAPE_AT(l + 1);
        __global const REAL *Al = A + SHAPE_AT(l);
        __global REAL *Dl = D + SHAPE_AT(l);
        for (int e = lid; e < m * n; e += NL) {
            const int i = e / n, j = e % n;
            Dl[e] = hidden_delta_element(act, n_next, Dn + i * n_next, W + j * n_next, Al[e]);
        }
        SYNC();
    }

    /* gradients and the update, every parameter independent of the others */
    const int t = o->kind < 0 ? 0 : o->T[0] + (o->kind != OPT_SGD);
    if (o->kind >= 0 && lid == 0) o->T_next[0] = t;
    REAL c[2] = {0, 0}; /* Adam's bias corrections, once for every parameter */
    if (o->kind > OPT_SGD) adam_corrections(lr, o->hyper, t, c);
    for (int l = 1; l <= L; ++l) {
        const int n_in = SHAPE_WIDTH(l - 1), n = SHAPE_WIDTH(l), off = SHAPE_OFFSET(l);
        __global const REAL *in = l == 1 ? X : A + SHAPE_AT(l - 1), *Dl = D + SHAPE_AT(l);
        for (int e = lid; e < (n_in + 1) * n; e += NL) {
            const REAL g = gradient_element(m, n_in, n, in, Dl, e / n, e % n);
            G[off + e] = g;
            if (o->kind < 0)
                sgd_update(off + e, g, lr, mu, P, V, V_next, P_next);
            else
                optim_update(off + e, g, lr, mu, o->kind, o->nesterov, o->hyper, c, P, V, V_next,
                             o->S, o->S_next, P_next);
        }
    }
    return 0;
}

/* One work-group, its size a power of two up to WG (1 on CPUs, built with FUSED_ONE_ITEM).
 * A and D hold every layer's activations and deltas (m × n_l at SHAPE_AT(l)). Runs iters
 * iterations in a row, iteration i from the parameters P (V) when i is even, P_next (V_next)
 * when odd, each writing the other pair, and its cost to cost[i]; it stops after the first
 * whose cost sets the stop flag (or finds it set), keeping that iteration's parameters where
 * it read them. The last iteration updates only if do_update. The arguments, in order (the host
 * names them): m, loss, target, scale, shape, X, Y, P, P_next, G, V, V_next, A, D, cost, state,
 * lr, mu, do_update, iters, then the optimiser (fused_optim's fields): kind, nesterov, hyper,
 * S, S_next, T, T_next. */
#ifndef SKIP_fused
__kernel void fused(const int m, const int loss, const REAL target, const REAL scale,
                    __constant int *shape, __global const REAL *X, __global const REAL *Y,
                    __global REAL *P, __global REAL *P_next, __global REAL *G, __global REAL *V,
                    __global REAL *V_next, __global REAL *A, __global REAL *D, __global REAL *cost,
                    __global int *state, const REAL lr, const REAL mu, const int do_update,
                    const int iters, const int kind, const int nesterov, __global const REAL *hyper,
                    __global REAL *S, __global REAL *S_next, __global int *T, __global int *T_next)
{
    __local REAL sums[WG];
    __local int stop;
    for (int i = 0; i < iters; ++i) {
        const int odd = i & 1;
        const fused_optim o = {kind,
                               nesterov,
                               hyper,
                               odd ? S_next : S,
                               odd ? S : S_next,
                               odd ? T_next : T,
                               odd ? T : T_next};
        if (fused_iteration(m, loss, target, scale, shape, X, Y, odd ? P_next : P, odd ? P : P_next,
                            G, odd ? V_next : V, odd ? V : V_next, A, D, cost + i, state, lr, mu,
                            do_update || i < iters - 1, sums, &stop, &o))
            break;
        SYNC(); /* the update's parameters before the next forward reads them */
    }
}
#endif
