/* gemm.cl: the three matrix products of backpropagation, tiled and register-blocked, each with
 * its elementwise step fused in: forward A·W + b and the activation; hidden delta (D·Wᵀ) ⊙
 * act'(A), with Wᵀ made by `transpose`; gradient [A 1]ᵀ·D and the SGD update. Each work-item
 * computes a TM × (T·VW) tile with VW-wide vectors (this layout suits CPUs: POCL turns each
 * vector into AVX registers). Every product comes in two widths: T = TNV vectors, and T = 1
 * (the `_narrow` kernels) for outputs no wider than one vector, such as 10 classes. Edge tiles
 * compute whole vectors and store only the valid lanes, so matrices the vectors read past
 * (W rows, D rows, activations, parameters) carry padding. Needs common.cl. */

#ifndef TM
#define TM 12 /* rows of a work-item's tile */
#endif
#ifndef TNV
#define TNV 2 /* vectors across a work-item's tile */
#endif
#ifndef MC
#define MC 64 /* samples per block of the gradient's reduction (one barrier each) */
#endif
#ifndef VW
#ifdef REAL_IS_DOUBLE
#define VW 8
#else
#define VW 16
#endif
#endif

/* Tile loops must unroll fully, so that the accumulators live in registers. */
#define UNROLL _Pragma("unroll")

#define CAT_(a, b) a##b
#define CAT(a, b)  CAT_(a, b)
#define REALV      CAT(REAL, VW)
#define VLOAD      CAT(vload, VW)
#define VSTORE     CAT(vstore, VW)
#define INLINE     static inline __attribute__((always_inline))

#ifndef GEMM_LOCAL /* CPUs: register tiles of vectors, no local memory */

INLINE REALV activate_v(int act, REALV z)
{
    switch (act) {
    case ACT_TANH: return tanh(z);
    case ACT_RELU: return fmax(z, (REALV)0);
    case ACT_IDENTITY: return z;
    default: return (REALV)1 / ((REALV)1 + exp(-z));
    }
}

INLINE REALV act_slope_v(int act, REALV a)
{
    switch (act) {
    case ACT_TANH: return (REALV)1 - a * a;
    case ACT_RELU: return select((REALV)0, (REALV)1, a > (REALV)0);
    case ACT_IDENTITY: return (REALV)1;
    default: return ((REALV)1 - a) * a;
    }
}

/* Stores the first `lanes` (1 … VW) elements of v at p. */
INLINE void store_lanes(REALV v, int lanes, __global REAL *p)
{
    if (lanes >= VW) {
        VSTORE(v, 0, p);
        return;
    }
    REAL t[VW];
    VSTORE(v, 0, t);
    for (int i = 0; i < lanes; ++i) p[i] = t[i];
}

/* acc[r][c] = Σ_s A[i0 + r][s] · B[s][j0 + c·VW …] for s < k, rows clamped to m: the inner
 * loop of the two products whose reduction runs along A's rows (forward and backward). T is a
 * constant after inlining, so the loops unroll and acc stays in registers. */
INLINE void tile_rows(const int T, REALV acc[TM][TNV], __global const REAL *A, const int m,
                      const int k, __global const REAL *B, const int ldb, const int i0,
                      const int j0)
{
    __global const REAL *rows[TM];
    UNROLL
    for (int r = 0; r < TM; ++r) rows[r] = A + (size_t)min(i0 + r, m - 1) * k;
    UNROLL
    for (int r = 0; r < TM; ++r)
        UNROLL
    for (int c = 0; c < T; ++c) acc[r][c] = (REALV)0;
    for (int s = 0; s < k; ++s) {
        REALV b[TNV];
        UNROLL
        for (int c = 0; c < T; ++c) b[c] = VLOAD(0, B + (size_t)s * ldb + j0 + c * VW);
        UNROLL
        for (int r = 0; r < TM; ++r) {
            const REALV a = (REALV)(rows[r][s]);
            UNROLL
            for (int c = 0; c < T; ++c) acc[r][c] = fma(a, b[c], acc[r][c]);
        }
    }
}

/* Out = act(A · W + b): A m×k, W k×n at P + off with b (n) after it, Out m×n. */
INLINE void product_forward(const int T, const int m, const int n, const int k, const int act,
                    __global const REAL *A, __global const REAL *P, const int off,
                    __global REAL *Out)
{
    const int j0 = get_global_id(0) * (T * VW), i0 = get_global_id(1) * TM;
    if (i0 >= m || j0 >= n) return;
    __global const REAL *W = P + off;
    REALV acc[TM][TNV];
    tile_rows(T, acc, A, m, k, W, n, i0, j0);
    UNROLL
    for (int c = 0; c < T; ++c) {
        const int j = j0 + c * VW;
        if (j >= n) break;
        const REALV bias = VLOAD(0, W + (size_t)k * n + j);
        UNROLL
        for (int r = 0; r < TM; ++r)
            if (i0 + r < m)
                store_lanes(activate_v(act, acc[r][c] + bias), n - j,
                            Out + (size_t)(i0 + r) * n + j);
    }
}

/* D = (Dn · WT) ⊙ act'(Act): Dn m×k (the next layer's delta), WT k×n (its weights,
 * transposed), Act and D m×n. */
INLINE void product_backward(const int T, const int m, const int n, const int k, const int act,
                     __global const REAL *Dn, __global const REAL *WT, __global const REAL *Act,
                     __global REAL *D)
{
    const int j0 = get_global_id(0) * (T * VW), i0 = get_global_id(1) * TM;
    if (i0 >= m || j0 >= n) return;
    REALV acc[TM][TNV];
    tile_rows(T, acc, Dn, m, k, WT, n, i0, j0);
    UNROLL
    for (int c = 0; c < T; ++c) {
        const int j = j0 + c * VW;
        if (j >= n) break;
        UNROLL
        for (int r = 0; r < TM; ++r) {
            if (i0 + r >= m) break;
            const size_t at = (size_t)(i0 + r) * n + j;
            store_lanes(acc[r][c] * act_slope_v(act, VLOAD(0, Act + at)), n - j, D + at);
        }
    }
}

/* acc[r][c] += Σ_i a_i[r] · D[i][j0 + c·VW …] over the samples i of [ib, ie), where a_i[r] is
 * A[i][k0 + r] in a full tile, and in the edge tile A's column for rows below k, 1 for row k
 * (the bias) and 0 past it. */
INLINE void tile_samples(const int T, const int full, REALV acc[TM][TNV],
                         __global const REAL *A, const int k, __global const REAL *D,
                         const int n, const int ib, const int ie, const int k0, const int j0)
{
    for (int i = ib; i < ie; ++i) {
        REALV b[TNV];
        UNROLL
        for (int c = 0; c < T; ++c) b[c] = VLOAD(0, D + (size_t)i * n + j0 + c * VW);
        __global const REAL *a = A + (size_t)i * k;
        UNROLL
        for (int r = 0; r < TM; ++r) {
            REAL v;
            if (full) {
                v = a[k0 + r];
            } else {
                const int kk = k0 + r;
                v = kk < k ? a[kk] : kk == k ? (REAL)1 : (REAL)0;
            }
            const REALV av = (REALV)v;
            UNROLL
            for (int c = 0; c < T; ++c) acc[r][c] = fma(av, b[c], acc[r][c]);
        }
    }
}

/* G = [A 1]ᵀ · D for one layer (rows 0 … k−1 the weights, row k the biases), written to
 * G + off, then the update of those parameters unless the stop flag is set: V = mu·V + G (when
 * mu ≠ 0) and P_next = P − lr·V. A is m×k, D m×n. The work-group walks the samples in blocks
 * of MC with a barrier after each, so that a block's rows of A and D stay in cache while all
 * its work-items use them. */
INLINE void product_gradient(const int T, const int m, const int n, const int k, __global const REAL *A,
                     __global const REAL *D, __global REAL *G, const int off,
                     __global const REAL *P, __global const REAL *V, __global REAL *V_next,
                     __global REAL *P_next,
                     const REAL lr, const REAL mu, __global const int *state,
                     const int split, __global REAL *Gs)
{
    (void)split, (void)Gs; /* CPUs fill themselves without splitting the samples */
    const int j0 = get_global_id(0) * (T * VW), k0 = get_global_id(1) * TM;
    const int active = j0 < n && k0 <= k, full = k0 + TM <= k;
    REALV acc[TM][TNV];
    UNROLL
    for (int r = 0; r < TM; ++r)
        UNROLL
    for (int c = 0; c < T; ++c) acc[r][c] = (REALV)0;
    for (int ib = 0; ib < m; ib += MC) {
        const int ie = min(ib + MC, m);
        if (active && full)
            tile_samples(T, 1, acc, A, k, D, n, ib, ie, k0, j0);
        else if (active)
            tile_samples(T, 0, acc, A, k, D, n, ib, ie, k0, j0);
        barrier(CLK_GLOBAL_MEM_FENCE);
    }
    if (!active) return;
    const int stop = state[0];
    UNROLL
    for (int c = 0; c < T; ++c) {
        const int j = j0 + c * VW, lanes = n - j;
        if (j >= n) break;
        UNROLL
        for (int r = 0; r < TM; ++r) {
            if (k0 + r > k) break;
            const size_t at = off + (size_t)(k0 + r) * n + j;
            REALV g = acc[r][c];
            store_lanes(g, lanes, G + at);
            if (stop) continue;
            if (mu != (REAL)0) {
                g = (REALV)mu * VLOAD(0, V + at) + g;
                store_lanes(g, lanes, V_next + at);
            }
            store_lanes(VLOAD(0, P + at) - (REALV)lr * g, lanes, P_next + at);
        }
    }
}

#else /* GEMM_LOCAL */

/* GPUs: each work-group computes a BM × BN tile of the output from BK-deep slices of both
 * operands staged in local memory; each work-item a WM × WN subtile, its rows and columns
 * strided by the work-group's shape so that neighbouring work-items touch neighbouring words.
 * Launch: local (BN/WN, BM/WM), global ⌈n/BN⌉·BN/WN × ⌈m/BM⌉·BM/WM. The `_narrow` kernels are
 * the same kernels (their host passes narrow outputs to them); T is unused here. */

#ifndef BM
#define BM 64
#endif
#ifndef BN
#define BN 64
#endif
#ifndef BK
#define BK 16
#endif
#ifndef WM
#define WM 4
#endif
#ifndef WN
#define WN 4
#endif
#define TX (BN / WN)
#define TY (BM / WM)
#define NT (TX * TY)

/* The kernels declare the local tiles (only kernels may) and pass them down. */
#define LOCAL_TILES __local REAL As[BK][BM + 1], Bs[BK][BN]; /* + 1: the forward products
                                                                store As down its columns */
#define TILES       , As, Bs
#define TILE_PARAMS , __local REAL(*As)[BM + 1], __local REAL(*Bs)[BN]

/* acc += the product of the tiles: As[s][row] · Bs[s][col] over the slice. */
#define TILE_PRODUCT(acc)                                                                      \
    for (int s = 0; s < BK; ++s) {                                                             \
        REAL a[WM], b[WN];                                                                     \
        UNROLL for (int r = 0; r < WM; ++r) a[r] = As[s][ty + r * TY];                         \
        UNROLL for (int q = 0; q < WN; ++q) b[q] = Bs[s][tx + q * TX];                         \
        UNROLL for (int r = 0; r < WM; ++r) UNROLL for (int q = 0; q < WN; ++q) acc[r][q] =    \
            fma(a[r], b[q], acc[r][q]);                                                        \
    }

/* Out = act(A · W + b) (forward) or D = (A · B) ⊙ act'(Act) (backward, B = WT): the reduction
 * runs along A's rows (row-major m × k) and B's columns (row-major k × n). */
INLINE void rows_product(const int m, const int n, const int k, __global const REAL *A,
                         __global const REAL *B, REAL acc[WM][WN], __local REAL (*As)[BM + 1],
                         __local REAL (*Bs)[BN])
{
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * TX + tx;
    const int i0 = get_group_id(1) * BM, j0 = get_group_id(0) * BN;
    UNROLL for (int r = 0; r < WM; ++r) UNROLL for (int q = 0; q < WN; ++q) acc[r][q] = 0;
    for (int s0 = 0; s0 < k; s0 += BK) {
        for (int e = tid; e < BM * BK; e += NT) { /* consecutive items: consecutive s */
            const int r = e / BK, c = e % BK, i = i0 + r, s = s0 + c;
            As[c][r] = i < m && s < k ? A[(size_t)i * k + s] : (REAL)0;
        }
        for (int e = tid; e < BK * BN; e += NT) { /* consecutive items: consecutive j */
            const int c = e / BN, q = e % BN, s = s0 + c, j = j0 + q;
            Bs[c][q] = s < k && j < n ? B[(size_t)s * n + j] : (REAL)0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        TILE_PRODUCT(acc)
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

INLINE void product_forward(const int T, const int m, const int n, const int k, const int act,
                            __global const REAL *A, __global const REAL *P, const int off,
                            __global REAL *Out TILE_PARAMS)
{
    REAL acc[WM][WN];
    (void)T;
    __global const REAL *W = P + off;
    rows_product(m, n, k, A, W, acc, As, Bs);
    const int i0 = get_group_id(1) * BM + get_local_id(1), j0 = get_group_id(0) * BN + get_local_id(0);
    UNROLL for (int r = 0; r < WM; ++r) UNROLL for (int q = 0; q < WN; ++q)
    {
        const int i = i0 + r * TY, j = j0 + q * TX;
        if (i < m && j < n) Out[(size_t)i * n + j] = activate(act, acc[r][q] + W[(size_t)k * n + j]);
    }
}

INLINE void product_backward(const int T, const int m, const int n, const int k, const int act,
                             __global const REAL *Dn, __global const REAL *WT,
                             __global const REAL *Act, __global REAL *D TILE_PARAMS)
{
    REAL acc[WM][WN];
    (void)T;
    rows_product(m, n, k, Dn, WT, acc, As, Bs);
    const int i0 = get_group_id(1) * BM + get_local_id(1), j0 = get_group_id(0) * BN + get_local_id(0);
    UNROLL for (int r = 0; r < WM; ++r) UNROLL for (int q = 0; q < WN; ++q)
    {
        const int i = i0 + r * TY, j = j0 + q * TX;
        if (i < m && j < n) {
            const size_t at = (size_t)i * n + j;
            D[at] = acc[r][q] * act_slope(act, Act[at]);
        }
    }
}

/* G = [A 1]ᵀ · D (k + 1 rows) and the update, as the CPU kernel; the reduction runs along the
 * samples, BK at a time. With split > 1 (too few output tiles to fill the device), the third
 * dimension's group s sums only its share of the samples into partials s of Gs, and
 * gradient_reduce finishes the sums (in a fixed order) and the update. */
INLINE void product_gradient(const int T, const int m, const int n, const int k,
                             __global const REAL *A, __global const REAL *D, __global REAL *G,
                             const int off, __global const REAL *P, __global const REAL *V,
                             __global REAL *V_next,
                             __global REAL *P_next, const REAL lr, const REAL mu,
                             __global const int *state, const int split,
                             __global REAL *Gs TILE_PARAMS)
{
    REAL acc[WM][WN];
    (void)T;
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * TX + tx;
    const int k0 = get_group_id(1) * BM, j0 = get_group_id(0) * BN, slice = get_group_id(2);
    const int chunk = (m + split * BK - 1) / (split * BK) * BK;
    const int first = slice * chunk, last = min(m, first + chunk);
    UNROLL for (int r = 0; r < WM; ++r) UNROLL for (int q = 0; q < WN; ++q) acc[r][q] = 0;
    for (int s0 = first; s0 < last; s0 += BK) {
        for (int e = tid; e < BM * BK; e += NT) { /* consecutive items: consecutive columns */
            const int c = e / BM, r = e % BM, i = s0 + c, kk = k0 + r;
            As[c][r] = i >= last || kk > k ? (REAL)0 : kk == k ? (REAL)1 : A[(size_t)i * k + kk];
        }
        for (int e = tid; e < BK * BN; e += NT) {
            const int c = e / BN, q = e % BN, i = s0 + c, j = j0 + q;
            Bs[c][q] = i < last && j < n ? D[(size_t)i * n + j] : (REAL)0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        TILE_PRODUCT(acc)
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const int stop = state[0];
    UNROLL for (int r = 0; r < WM; ++r) UNROLL for (int q = 0; q < WN; ++q)
    {
        const int kk = k0 + ty + r * TY, j = j0 + tx + q * TX;
        if (kk > k || j >= n) continue;
        if (split > 1) {
            Gs[(size_t)slice * (k + 1) * n + (size_t)kk * n + j] = acc[r][q];
            continue;
        }
        const size_t at = off + (size_t)kk * n + j;
        REAL g = acc[r][q];
        G[at] = g;
        if (stop) continue;
        if (mu != (REAL)0) {
            g = mu * V[at] + g;
            V_next[at] = g;
        }
        P_next[at] = P[at] - lr * g;
    }
}
#endif /* GEMM_LOCAL */

#ifndef LOCAL_TILES
#define LOCAL_TILES
#define TILES
#endif

/* The kernels, wide (TNV vectors) and narrow (one). Launch shapes: forward and backward
 * (⌈n/(T·VW)⌉, ⌈m/TM⌉), gradient (⌈n/(T·VW)⌉, ⌈(k+1)/TM⌉), each rounded up to its local size. */

#define FORWARD_ARGS                                                                           \
    const int m, const int n, const int k, const int act, __global const REAL *A,              \
        __global const REAL *P, const int off, __global REAL *Out
#define BACKWARD_ARGS                                                                          \
    const int m, const int n, const int k, const int act, __global const REAL *Dn,             \
        __global const REAL *WT, __global const REAL *Act, __global REAL *D
#define GRADIENT_ARGS                                                                          \
    const int m, const int n, const int k, __global const REAL *A, __global const REAL *D,     \
        __global REAL *G, const int off, __global const REAL *P, __global const REAL *V,       \
        __global REAL *V_next,                                                                  \
        __global REAL *P_next, const REAL lr, const REAL mu, __global const int *state,          \
        const int split, __global REAL *Gs

__kernel void gemm_forward(FORWARD_ARGS)
{
    LOCAL_TILES
    product_forward(TNV, m, n, k, act, A, P, off, Out TILES);
}

__kernel void gemm_forward_narrow(FORWARD_ARGS)
{
    LOCAL_TILES
    product_forward(1, m, n, k, act, A, P, off, Out TILES);
}

__kernel void gemm_backward(BACKWARD_ARGS)
{
    LOCAL_TILES
    product_backward(TNV, m, n, k, act, Dn, WT, Act, D TILES);
}

__kernel void gemm_backward_narrow(BACKWARD_ARGS)
{
    LOCAL_TILES
    product_backward(1, m, n, k, act, Dn, WT, Act, D TILES);
}

__kernel void gemm_gradient(GRADIENT_ARGS)
{
    LOCAL_TILES
    product_gradient(TNV, m, n, k, A, D, G, off, P, V, V_next, P_next, lr, mu, state, split, Gs TILES);
}

__kernel void gemm_gradient_narrow(GRADIENT_ARGS)
{
    LOCAL_TILES
    product_gradient(1, m, n, k, A, D, G, off, P, V, V_next, P_next, lr, mu, state, split, Gs TILES);
}


/* Finishes a split gradient: G = Σ_s Gs[s] (in order) for one layer's count parameters at
 * G + off, then their update unless the stop flag is set. Global count. */
__kernel void gradient_reduce(const int count, const int split, __global const REAL *Gs,
                              __global REAL *G, const int off, __global const REAL *P,
                              __global const REAL *V, __global REAL *V_next,
                              __global REAL *P_next, const REAL lr,
                              const REAL mu, __global const int *state)
{
    const int e = get_global_id(0);
    if (e >= count) return;
    REAL g = 0;
    for (int s = 0; s < split; ++s) g += Gs[(size_t)s * count + e];
    G[off + e] = g;
    if (state[0]) return;
    if (mu != (REAL)0) {
        g = mu * V[off + e] + g;
        V_next[off + e] = g;
    }
    P_next[off + e] = P[off + e] - lr * g;
}

/* WT (n×k) = the transpose of W (k×n) at P + off. Global (n, k). */
__kernel void transpose(const int k, const int n, __global const REAL *P, const int off,
                        __global REAL *WT)
{
    const int j = get_global_id(0), s = get_global_id(1);
    if (j >= n || s >= k) return;
    WT[(size_t)j * k + s] = P[off + (size_t)s * n + j];
}
