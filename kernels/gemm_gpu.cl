// SPDX-License-Identifier: MIT
/* gemm_gpu.cl: the three matrix products of backpropagation for GPUs, tiled in local memory,
 * each with its elementwise step fused in (gemm_epilogue.cl, with VW = 1): forward A·W + b and
 * the activation; hidden delta (D·Wᵀ) ⊙ act'(A); gradient [A 1]ᵀ·D and the update, split over
 * the samples (and finished by gradient_reduce) when there are too few output tiles to fill
 * the device. Built with GEMM_LOCAL defined; LB=2 selects the double-buffered variant (two
 * local slices an operand, vector loads). Needs common.cl, ops.cl and gemm_epilogue.cl. */

/* Each work-group computes a BM × BN tile of the output from BK-deep slices of both operands
 * staged in local memory; each work-item a WM × WN subtile, its rows and columns strided by the
 * work-group's shape so that neighbouring work-items touch neighbouring words. Launch: local
 * (BN/WN, BM/WM), global ⌈n/BN⌉·BN/WN × ⌈m/BM⌉·BM/WM. */

/* Tunables (host/tuning.c's table; the host passes each, these defaults equal its ones). */
#ifndef BM
#define BM 64 /* rows (samples) of a work-group's output tile */
#endif
#ifndef BN
#define BN 64 /* columns (features) of a work-group's output tile */
#endif
#ifndef BK
#define BK 16 /* depth of the slices staged in local memory */
#endif
#ifndef WM
#define WM 4 /* rows of a work-item's subtile; BM must be a multiple */
#endif
#ifndef WN
#define WN 4 /* columns of a work-item's subtile; BN must be a multiple */
#endif
#ifndef LB
#define LB 1 /* local buffers an operand: 2 alternate, with vector loads (below) */
#endif
#define TX (BN / WN)
#define TY (BM / WM)
#define NT (TX * TY)

#if LB == 2
/* The double-buffered variant: each operand has two slices in local memory, so that the next
 * slice is stored while this one is read, with one barrier a slice instead of two; a column of
 * padding on both (B's rows are stored by neighbouring work-items along a column there). */
#define LOCAL_TILES __local REAL As[2][BK][BM + 1], Bs[2][BK][BN + 1];
#define TILES       , As, Bs
#define TILE_PARAMS , __local REAL(*As)[BK][BM + 1], __local REAL(*Bs)[BK][BN + 1]
#else
/* The kernels declare the local tiles (only kernels may) and pass them down. As has a column
 * more than the tile: the forward products store it down its columns. */
#define LOCAL_TILES __local REAL As[BK][BM + 1], Bs[BK][BN];
#define TILES       , As, Bs
#define TILE_PARAMS , __local REAL(*As)[BM + 1], __local REAL(*Bs)[BN]
#endif

/* acc += the product of the tiles: At[s][row] · Bt[s][col] over the slice, s in order (so that
 * both variants add the same terms in the same order). */
#define TILE_PRODUCT(acc, At, Bt)                                                                  \
    for (int s = 0; s < BK; ++s) {                                                                 \
        REAL a[WM], b[WN];                                                                         \
        UNROLL                                                                                     \
        for (int r = 0; r < WM; ++r) a[r] = At[s][ty + r * TY];                                    \
        UNROLL                                                                                     \
        for (int q = 0; q < WN; ++q) b[q] = Bt[s][tx + q * TX];                                    \
        UNROLL                                                                                     \
        for (int r = 0; r < WM; ++r) {                                                             \
            UNROLL                                                                                 \
            for (int q = 0; q < WN; ++q) acc[r][q] = fma(a[r], b[q], acc[r][q]);                   \
        }                                                                                          \
    }

#if LB == 2
/* The double-buffered products. Global loads take GV elements at once (vloadn, which needs
 * only the elements' alignment) where the GV lie inside the matrix, else one at a time. */
#define GV 4
#if PRECISION == 64
#define REAL4 double4
#else
#define REAL4 float4
#endif
#define STORE_V(dst, v) (dst(0) = (v).s0, dst(1) = (v).s1, dst(2) = (v).s2, dst(3) = (v).s3)

/* Bt[c][q] = B[s0 + c][j0 + q] (row-major, n wide) for the rows s0 + c < lim, else 0. */
INLINE void stage_b(const int lim, const int n, __global const REAL *B, const int s0, const int j0,
                    const int tid, __local REAL (*Bt)[BN + 1])
{
#if BN % GV == 0
    for (int e = tid; e < BK * (BN / GV); e += NT) { /* consecutive items: consecutive j */
        const int c = e / (BN / GV), q = e % (BN / GV) * GV, s = s0 + c, j = j0 + q;
        if (s < lim && j + GV <= n) {
            const REAL4 v = vload4(0, B + (size_t)s * n + j);
#define AT(g) Bt[c][q + g]
            STORE_V(AT, v);
#undef AT
        } else {
            UNROLL
            for (int g = 0; g < GV; ++g)
                Bt[c][q + g] = s < lim && j + g < n ? B[(size_t)s * n + j + g] : (REAL)0;
        }
    }
#else
    for (int e = tid; e < BK * BN; e += NT) {
        const int c = e / BN, q = e % BN, s = s0 + c, j = j0 + q;
        Bt[c][q] = s < lim && j < n ? B[(size_t)s * n + j] : (REAL)0;
    }
#endif
}

/* At[c][r] = A[i0 + r][s0 + c] (row-major m × k, stored transposed), 0 outside. */
INLINE void stage_a_rows(const int m, const int k, __global const REAL *A, const int i0,
                         const int s0, const int tid, __local REAL (*At)[BM + 1])
{
#if BK % GV == 0
    for (int e = tid; e < BM * (BK / GV); e += NT) { /* consecutive items: consecutive s */
        const int r = e / (BK / GV), c = e % (BK / GV) * GV, i = i0 + r, s = s0 + c;
        if (i < m && s + GV <= k) {
            const REAL4 v = vload4(0, A + (size_t)i * k + s);
#define AT(g) At[c + g][r]
            STORE_V(AT, v);
#undef AT
        } else {
            UNROLL
            for (int g = 0; g < GV; ++g)
                At[c + g][r] = i < m && s + g < k ? A[(size_t)i * k + s + g] : (REAL)0;
        }
    }
#else
    for (int e = tid; e < BM * BK; e += NT) {
        const int r = e / BK, c = e % BK, i = i0 + r, s = s0 + c;
        At[c][r] = i < m && s < k ? A[(size_t)i * k + s] : (REAL)0;
    }
#endif
}

/* At[c][r] = [A 1][s0 + c][k0 + r] for the samples s0 + c < last (A row-major, k wide; column
 * k is the ones of the biases), 0 outside. */
INLINE void stage_a_cols(const int last, const int k, __global const REAL *A, const int k0,
                         const int s0, const int tid, __local REAL (*At)[BM + 1])
{
#if BM % GV == 0
    for (int e = tid; e < BK * (BM / GV); e += NT) { /* consecutive items: consecutive columns */
        const int c = e / (BM / GV), r = e % (BM / GV) * GV, i = s0 + c, kk = k0 + r;
        if (i < last && kk + GV <= k) {
            const REAL4 v = vload4(0, A + (size_t)i * k + kk);
#define AT(g) At[c][r + g]
            STORE_V(AT, v);
#undef AT
        } else {
            UNROLL
            for (int g = 0; g < GV; ++g)
                At[c][r + g] = i >= last || kk + g > k ? (REAL)0
                               : kk + g == k           ? (REAL)1
                                                       : A[(size_t)i * k + kk + g];
        }
    }
#else
    for (int e = tid; e < BM * BK; e += NT) {
        const int c = e / BM, r = e % BM, i = s0 + c, kk = k0 + r;
        At[c][r] = i >= last || kk > k ? (REAL)0 : kk == k ? (REAL)1 : A[(size_t)i * k + kk];
    }
#endif
}

/* As rows_product below, double-buffered: slice t + 1 is stored into the other buffers while
 * slice t is multiplied; the barrier after a slice's product both publishes the next slice and
 * frees this one's buffers for the slice after. */
INLINE void rows_product(const int m, const int n, const int k, __global const REAL *A,
                         __global const REAL *B, REAL acc[WM][WN], __local REAL (*As)[BK][BM + 1],
                         __local REAL (*Bs)[BK][BN + 1])
{
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * TX + tx;
    const int i0 = get_group_id(1) * BM, j0 = get_group_id(0) * BN, slices = (k + BK - 1) / BK;
    UNROLL
    for (int r = 0; r < WM; ++r) {
        UNROLL
        for (int q = 0; q < WN; ++q) acc[r][q] = 0;
    }
    stage_a_rows(m, k, A, i0, 0, tid, As[0]);
    stage_b(k, n, B, 0, j0, tid, Bs[0]);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int t = 0; t < slices; ++t) {
        const int cur = t & 1;
        if (t + 1 < slices) {
            stage_a_rows(m, k, A, i0, (t + 1) * BK, tid, As[cur ^ 1]);
            stage_b(k, n, B, (t + 1) * BK, j0, tid, Bs[cur ^ 1]);
        }
        TILE_PRODUCT(acc, As[cur], Bs[cur])
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

/* The gradient's product over the samples first … last − 1, double-buffered the same way. */
INLINE void cols_product(const int n, const int k, __global const REAL *A, __global const REAL *D,
                         const int k0, const int j0, const int first, const int last,
                         REAL acc[WM][WN], __local REAL (*As)[BK][BM + 1],
                         __local REAL (*Bs)[BK][BN + 1])
{
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * TX + tx;
    const int slices = last > first ? (last - first + BK - 1) / BK : 0;
    UNROLL
    for (int r = 0; r < WM; ++r) {
        UNROLL
        for (int q = 0; q < WN; ++q) acc[r][q] = 0;
    }
    if (slices == 0) return; /* the same for the whole work-group: no barrier skipped by some */
    stage_a_cols(last, k, A, k0, first, tid, As[0]);
    stage_b(last, n, D, first, j0, tid, Bs[0]);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int t = 0; t < slices; ++t) {
        const int cur = t & 1, next = first + (t + 1) * BK;
        if (t + 1 < slices) {
            stage_a_cols(last, k, A, k0, next, tid, As[cur ^ 1]);
            stage_b(last, n, D, next, j0, tid, Bs[cur ^ 1]);
        }
        TILE_PRODUCT(acc, As[cur], Bs[cur])
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}
#else
/* Out = act(A · W + b) (forward) or D = (A · B) ⊙ act'(Act) (backward, B = WT): the reduction
 * runs along A's rows (row-major m × k) and B's columns (row-major k × n). */
INLINE void rows_product(const int m, const int n, const int k, __global const REAL *A,
                         __global const REAL *B, REAL acc[WM][WN], __local REAL (*As)[BM + 1],
                         __local REAL (*Bs)[BN])
{
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * TX + tx;
    const int i0 = get_group_id(1) * BM, j0 = get_group_id(0) * BN;
    UNROLL
    for (int r = 0; r < WM; ++r) {
        UNROLL
        for (int q = 0; q < WN; ++q) acc[r][q] = 0;
    }
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
        TILE_PRODUCT(acc, As, Bs)
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}
#endif

INLINE void product_forward(const int m, const int n, const int k, const int act,
                            __global const REAL *A, __global const REAL *P, const int off,
                            __global REAL *Out TILE_PARAMS)
{
    REAL acc[WM][WN];
    __global const REAL *W = P + off;
    rows_product(m, n, k, A, W, acc, As, Bs);
    const int i0 = get_group_id(1) * BM + get_local_id(1),
              j0 = get_group_id(0) * BN + get_local_id(0);
    UNROLL
    for (int r = 0; r < WM; ++r) {
        UNROLL
        for (int q = 0; q < WN; ++q) {
            const int i = i0 + r * TY, j = j0 + q * TX;
            if (i < m && j < n)
                epilogue_forward(act, acc[r][q], W[(size_t)k * n + j], 1, Out + (size_t)i * n + j);
        }
    }
}

INLINE void product_backward(const int m, const int n, const int k, const int act,
                             __global const REAL *Dn, __global const REAL *WT,
                             __global const REAL *Act, __global REAL *D TILE_PARAMS)
{
    REAL acc[WM][WN];
    rows_product(m, n, k, Dn, WT, acc, As, Bs);
    const int i0 = get_group_id(1) * BM + get_local_id(1),
              j0 = get_group_id(0) * BN + get_local_id(0);
    UNROLL
    for (int r = 0; r < WM; ++r) {
        UNROLL
        for (int q = 0; q < WN; ++q) {
            const int i = i0 + r * TY, j = j0 + q * TX;
            if (i < m && j < n) {
                const size_t at = (size_t)i * n + j;
                epilogue_backward(act, acc[r][q], Act + at, 1, D + at);
            }
        }
    }
}

/* G = [A 1]ᵀ · D (k + 1 rows) and the update, as the CPU kernel; the reduction runs along the
 * samples, BK at a time. With split > 1 (too few output tiles to fill the device), the third
 * dimension's group s sums only its share of the samples into partials s of Gs, and
 * gradient_reduce finishes the sums (in a fixed order) and the update. */
INLINE void product_gradient(const int m, const int n, const int k, __global const REAL *A,
                             __global const REAL *D, __global REAL *G, const int off,
                             __global const REAL *P, __global const REAL *V, __global REAL *V_next,
                             __global REAL *P_next, const REAL lr, const REAL mu,
                             __global const int *state, const int split, __global REAL *Gs,
                             __global REAL *WT TILE_PARAMS)
{
    REAL acc[WM][WN];
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * TX + tx;
    const int k0 = get_group_id(1) * BM, j0 = get_group_id(0) * BN, slice = get_group_id(2);
    const int chunk = (m + split * BK - 1) / (split * BK) * BK;
    const int first = slice * chunk, last = min(m, first + chunk);
#if LB == 2
    cols_product(n, k, A, D, k0, j0, first, last, acc, As, Bs);
    (void)tid;
#else
    UNROLL
    for (int r = 0; r < WM; ++r) {
        UNROLL
        for (int q = 0; q < WN; ++q) acc[r][q] = 0;
    }
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
        TILE_PRODUCT(acc, As, Bs)
        barrier(CLK_LOCAL_MEM_FENCE);
    }
#endif
    const int stop = state[0];
    UNROLL
    for (int r = 0; r < WM; ++r) {
        UNROLL
        for (int q = 0; q < WN; ++q) {
            const int kk = k0 + ty + r * TY, j = j0 + tx + q * TX;
            if (kk > k || j >= n) continue;
            if (split > 1) { /* gradient_reduce finishes it */
                Gs[(size_t)slice * (k + 1) * n + (size_t)kk * n + j] = acc[r][q];
                continue;
            }
            if (WT) transpose_weights(P, off, kk, j, n, k, WT);
            epilogue_gradient(acc[r][q], off + (size_t)kk * n + j, 1, stop, lr, mu, G, P, V, V_next,
                              P_next);
        }
    }
}

/* The kernels declare the local tiles (only kernels may) and pass them down. The `_narrow`
 * kernels are the same kernels (the host passes narrow outputs to them). */

__kernel void gemm_forward(FORWARD_ARGS)
{
    LOCAL_TILES
    product_forward(m, n, k, act, A, P, off, Out TILES);
}

__kernel void gemm_forward_narrow(FORWARD_ARGS)
{
    LOCAL_TILES
    product_forward(m, n, k, act, A, P, off, Out TILES);
}

__kernel void gemm_backward(BACKWARD_ARGS)
{
    LOCAL_TILES
    product_backward(m, n, k, act, Dn, WT, Act, D TILES);
}

__kernel void gemm_backward_narrow(BACKWARD_ARGS)
{
    LOCAL_TILES
    product_backward(m, n, k, act, Dn, WT, Act, D TILES);
}

__kernel void gemm_gradient(GRADIENT_ARGS)
{
    LOCAL_TILES
    product_gradient(m, n, k, A, D, G, off, P, V, V_next, P_next, lr, mu, state, split, Gs,
                     WT TILES);
}

__kernel void gemm_gradient_narrow(GRADIENT_ARGS)
{
    LOCAL_TILES
    product_gradient(m, n, k, A, D, G, off, P, V, V_next, P_next, lr, mu, state, split, Gs,
                     WT TILES);
}
