/* fused.cl: a whole iteration of a small network in one launch of one work-group: forward,
 * output delta and cost, the stop decision, hidden deltas, gradients and the update. For nets
 * like the tutorial's, where launching seven kernels costs far more than their arithmetic. Up
 * to four layers; barriers separate the phases. Needs common.cl. */

/* The network's shape, in a small constant buffer: L, then widths n_0 … n_L, activations of
 * layers 1 … L, and parameter offsets of layers 1 … L. */
#define SHAPE_L          (shape[0])
#define SHAPE_WIDTH(l)   (shape[1 + (l)])
#define SHAPE_ACT(l)     (shape[1 + SHAPE_L + (l)])
#define SHAPE_OFFSET(l)  (shape[1 + 2 * SHAPE_L + (l)])

#define FENCE (CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE)

/* One work-group, its size a power of two up to WG (1 suits CPUs: no barrier costs anything).
 * A1 … A4 and D1 … D4 are the layers' activations and deltas (m × n_l; unused ones may be
 * NULL). cost[0] gets the cost of P; unless the stop flag is (or becomes) set, or do_update is
 * 0, P_next = P − lr·(mu·V + G) with G and V_next written too. */
__kernel void fused(const int m, const int loss, const REAL target, const REAL scale,
                    __constant int *shape, __global const REAL *X, __global const REAL *Y,
                    __global const REAL *P, __global REAL *P_next, __global REAL *G,
                    __global const REAL *V, __global REAL *V_next, __global REAL *A1, __global REAL *A2, __global REAL *A3,
                    __global REAL *A4, __global REAL *D1, __global REAL *D2, __global REAL *D3,
                    __global REAL *D4, __global REAL *cost, __global int *state, const REAL lr,
                    const REAL mu, const int do_update)
{
    __local REAL sums[WG];
    __local int stop;
    const int lid = get_local_id(0), NL = get_local_size(0), L = SHAPE_L;
    __global REAL *A[5] = {0, A1, A2, A3, A4}, *D[5] = {0, D1, D2, D3, D4};

    /* forward, layer by layer */
    for (int l = 1; l <= L; ++l) {
        const int n_in = SHAPE_WIDTH(l - 1), n = SHAPE_WIDTH(l);
        const int act = l == L && loss == LOSS_CE ? ACT_IDENTITY : SHAPE_ACT(l);
        __global const REAL *in = l == 1 ? X : A[l - 1], *W = P + SHAPE_OFFSET(l);
        for (int e = lid; e < m * n; e += NL) {
            const int i = e / n, j = e % n;
            REAL z = 0;
            for (int k = 0; k < n_in; ++k) z += in[i * n_in + k] * W[k * n + j];
            A[l][e] = activate(act, z + W[n_in * n + j]);
        }
        barrier(FENCE);
    }
    const int nL = SHAPE_WIDTH(L);
    if (loss == LOSS_CE) {
        for (int i = lid; i < m; i += NL) {
            __global REAL *z = A[L] + i * nL;
            REAL max = z[0], sum = 0;
            for (int j = 1; j < nL; ++j) max = z[j] > max ? z[j] : max;
            for (int j = 0; j < nL; ++j) sum += (z[j] = exp(z[j] - max));
            for (int j = 0; j < nL; ++j) z[j] /= sum;
        }
        barrier(FENCE);
    }

    /* output delta and the cost */
    REAL part = 0;
    for (int e = lid; e < m * nL; e += NL) {
        REAL term;
        D[L][e] = delta_and_loss(loss, SHAPE_ACT(L), m, A[L][e], Y[e], &term);
        part += term;
    }
    sums[lid] = part;
    group_sum(sums, NL);
    if (lid == 0) {
        record_cost(scale * sums[0], target, cost, state);
        stop = state[0] || !do_update;
    }
    barrier(FENCE);
    if (stop) return;

    /* hidden deltas, from the top down */
    for (int l = L - 1; l >= 1; --l) {
        const int n = SHAPE_WIDTH(l), n_next = SHAPE_WIDTH(l + 1), act = SHAPE_ACT(l);
        __global const REAL *W = P + SHAPE_OFFSET(l + 1);
        for (int e = lid; e < m * n; e += NL) {
            const int i = e / n, j = e % n;
            REAL s = 0;
            for (int k = 0; k < n_next; ++k) s += D[l + 1][i * n_next + k] * W[j * n_next + k];
            D[l][e] = s * act_slope(act, A[l][e]);
        }
        barrier(FENCE);
    }

    /* gradients and the update, every parameter independent of the others */
    for (int l = 1; l <= L; ++l) {
        const int n_in = SHAPE_WIDTH(l - 1), n = SHAPE_WIDTH(l), off = SHAPE_OFFSET(l);
        __global const REAL *in = l == 1 ? X : A[l - 1];
        for (int e = lid; e < (n_in + 1) * n; e += NL) {
            const int k = e / n, j = e % n;
            REAL g = 0;
            if (k < n_in)
                for (int i = 0; i < m; ++i) g += in[i * n_in + k] * D[l][i * n + j];
            else
                for (int i = 0; i < m; ++i) g += D[l][i * n + j];
            G[off + e] = g;
            if (mu != (REAL)0) {
                g = mu * V[off + e] + g;
                V_next[off + e] = g;
            }
            P_next[off + e] = P[off + e] - lr * g;
        }
    }
}
