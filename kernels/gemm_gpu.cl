// SPDX-License-Identifier: MIT
/* gemm_gpu.cl: the three matrix products of backpropagation for GPUs, tiled in local memory,
 * each with its elementwise step fused in (gemm_epilogue.cl, with VW = 1): forward A·W + b and
 * the activation; hidden delta (D·Wᵀ) ⊙ act'(A); gradient [A 1]ᵀ·D and the update, split over
 * the samples (and finished by gradient_reduce) when there are too few output tiles to fill
 * the device. Built with GEMM_LOCAL defined. Needs common.cl, ops.cl and gemm_epilogue.cl. */

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
#define TX (BN / WN)
#define TY (BM / WM)
#define NT (TX * TY)

/* The kernels declare the local tiles (only kernels may) and pass them down. As has a column
 * more than the tile: the forward products store it down its columns. */
#define LOCAL_TILES __local REAL As[BK][BM + 1], Bs[BK][BN];
#define TILES       , As, Bs
#define TILE_PARAMS , __local REAL(*As)[BM + 1], __local REAL(*Bs)[BN]

/* acc += the product of the tiles: As[s][row] · Bs[s][col] over the slice. */
#define TILE_PRODUCT(acc)                                                                          \
    for (int s = 0; s < BK; ++s) {                                                                 \
        REAL a[WM], b[WN];                                                                         \
        UNROLL                                                                                     \
        for (int r = 0; r < WM; ++r) a[r] = As[s][ty + r * TY];                                    \
        UNROLL                                                                                     \
        for (int q = 0; q < WN; ++q) b[q] = Bs[s][tx + q * TX];                                    \
        UNROLL                                                                                     \
        for (int r = 0; r < WM; ++r) {                                                             \
            UNROLL                                                                                 \
            for (int q = 0; q < WN; ++q) acc[r][q] = fma(a[r], b[q], acc[r][q]);                   \
        }                                                                                          \
    }

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
        TILE_PRODUCT(acc)
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

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
                             __global const int *state, const int split,
                             __global REAL *Gs TILE_PARAMS)
{
    REAL acc[WM][WN];
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * TX + tx;
    const int k0 = get_group_id(1) * BM, j0 = get_group_id(0) * BN, slice = get_group_id(2);
    const int chunk = (m + split * BK - 1) / (split * BK) * BK;
    const int first = slice * chunk, last = min(m, first + chunk);
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
        TILE_PRODUCT(acc)
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const int stop = state[0];
    UNROLL
    for (int r = 0; r < WM; ++r) {
        UNROLL
        for (int q = 0; q < WN; ++q) {
            const int kk = k0 + ty + r * TY, j = j0 + tx + q * TX;
            if (kk > k || j >= n) continue;
            if (split > 1) {
                Gs[(size_t)slice * (k + 1) * n + (size_t)kk * n + j] = acc[r][q];
                continue;
            }
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
    product_gradient(m, n, k, A, D, G, off, P, V, V_next, P_next, lr, mu, state, split, Gs TILES);
}

__kernel void gemm_gradient_narrow(GRADIENT_ARGS)
{
    LOCAL_TILES
    product_gradient(m, n, k, A, D, G, off, P, V, V_next, P_next, lr, mu, state, split, Gs TILES);
}
