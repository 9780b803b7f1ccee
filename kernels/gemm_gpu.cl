// SPDX-License-Identifier: MIT
/* gemm_gpu.cl: the three matrix products of backpropagation for GPUs, tiled in local memory,
 * each with its elementwise step fused in (gemm_epilogue.cl, with VW = 1): forward A·W + b and
 * the activation; hidden delta (D·Wᵀ) ⊙ act'(A); gradient [A 1]ᵀ·D and the update, split over
 * the samples (and finished by gradient_reduce) when there are too few output tiles to fill
 * the device. Built with GEMM_LOCAL defined; LB=2 selects the double-buffered variant (two
 * local slices an operand, vector loads); with LV=4 too, each slice goes through registers and
 * work-items read their subtiles from local memory 4 at once. Needs common.cl, ops.cl and
 * gemm_epilogue.cl. */

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
#ifndef LV
#define LV 1 /* with LB 2: 4 reads the subtiles from local memory 4 at once (below) */
#endif
#define TX (BN / WN)
#define TY (BM / WM)
#define NT (TX * TY)

/* VREAD: the register-staged, vector-read form of the double-buffered variant, where the
 * subtiles split into vectors of 4 (else LV=4 means the plain double-buffered one). */
#if LB == 2 && LV == 4 && WM % 4 == 0 && WN % 4 == 0 && BK % 4 == 0
#define VREAD 1
#define PAD   4 /* a vector of padding keeps every row's vectors aligned */
/* A work-item's subtile: groups of 4 adjacent rows (columns), the groups strided by the
 * work-group's shape, so that it reads each group at once and neighbours read neighbours. */
#define SUB_ROW(r) ((((r) / 4) * TY + ty) * 4 + (r) % 4)
#define SUB_COL(q) ((((q) / 4) * TX + tx) * 4 + (q) % 4)
#else
#define VREAD      0
#define PAD        1
/* A work-item's subtile: its rows (columns) strided by the work-group's shape. */
#define SUB_ROW(r) (ty + (r)*TY)
#define SUB_COL(q) (tx + (q)*TX)
#endif

#if LB == 2
/* The double-buffered variant: each operand has two slices in local memory, so that the next
 * slice is stored while this one is read, with one barrier a slice instead of two; padding on
 * both (B's rows are stored by neighbouring work-items along a column there). */
#define LOCAL_TILES                                                                                \
    __local REAL As[2][BK][BM + PAD] __attribute__((aligned(32)));                                 \
    __local REAL Bs[2][BK][BN + PAD] __attribute__((aligned(32)));
#define TILES       , As, Bs
#define TILE_PARAMS , __local REAL(*As)[BK][BM + PAD], __local REAL(*Bs)[BK][BN + PAD]
#else
/* The kernels declare the local tiles (only kernels may) and pass them down. As has a column
 * more than the tile: the forward products store it down its columns. */
#define LOCAL_TILES __local REAL As[BK][BM + 1], Bs[BK][BN];
#define TILES       , As, Bs
#define TILE_PARAMS , __local REAL(*As)[BM + 1], __local REAL(*Bs)[BN]
#endif

/* acc += the product of the tiles: At[s][row] · Bt[s][col] over the slice, s in order (so that
 * both variants add the same terms in the same order). */
#if VREAD
#define READ_SUBTILE(v, T, W, SUB)                                                                 \
    UNROLL                                                                                         \
    for (int g = 0; g < W; g += 4) {                                                               \
        const REAL4 x = *(__local const REAL4 *)&T[SUB(g)];                                        \
        v[g] = x.s0, v[g + 1] = x.s1, v[g + 2] = x.s2, v[g + 3] = x.s3;                            \
    }
#else
#define READ_SUBTILE(v, T, W, SUB)                                                                 \
    UNROLL                                                                                         \
    for (int g = 0; g < W; ++g) v[g] = T[SUB(g)];
#endif
#define TILE_PRODUCT(acc, At, Bt)                                                                  \
    for (int s = 0; s < BK; ++s) {                                                                 \
        REAL a[WM], b[WN];                                                                         \
        READ_SUBTILE(a, At[s], WM, SUB_ROW)                                                        \
        READ_SUBTILE(b, Bt[s], WN, SUB_COL)                                                        \
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

/* M[i][j … j + 3] (row-major, n wide) where row i is in (ok) and the columns below n, else 0. */
INLINE REAL4 fetch4(const int ok, const int n, __global const REAL *M, const int i, const int j)
{
    if (ok && j + GV <= n) return vload4(0, M + (size_t)i * n + j);
    REAL4 v = (REAL4)(0);
    if (ok) {
        __global const REAL *p = M + (size_t)i * n;
        v.s0 = j < n ? p[j] : (REAL)0;
        v.s1 = j + 1 < n ? p[j + 1] : (REAL)0;
        v.s2 = j + 2 < n ? p[j + 2] : (REAL)0;
    }
    return v;
}

/* [A 1][i][kk … kk + 3] (A row-major, k wide; column k is the ones of the biases) where sample
 * i is in (ok), else 0. */
INLINE REAL4 fetch4_ones(const int ok, const int k, __global const REAL *A, const int i,
                         const int kk)
{
    if (ok && kk + GV <= k) return vload4(0, A + (size_t)i * k + kk);
    REAL4 v = fetch4(ok, k, A, i, kk);
    if (ok && kk <= k && k < kk + GV) { /* the ones column falls in these four */
        if (k == kk) v.s0 = 1;
        if (k == kk + 1) v.s1 = 1;
        if (k == kk + 2) v.s2 = 1;
        if (k == kk + 3) v.s3 = 1;
    }
    return v;
}

#if VREAD
/* Register-staged: a work-item fetches its vectors of the next slice (NA of A's, NB of B's)
 * before the product of this one and stores them to local memory after it, so that the global
 * loads' latency overlaps the arithmetic. */
#define NA ((BM * (BK / GV) + NT - 1) / NT)
#define NB ((BK * (BN / GV) + NT - 1) / NT)

/* B's slice: rows s0 … s0 + BK − 1 (below lim), columns j0 … j0 + BN − 1. */
INLINE void fetch_b(const int lim, const int n, __global const REAL *B, const int s0, const int j0,
                    const int tid, REAL4 *vb)
{
    UNROLL
    for (int u = 0; u < NB; ++u) {
        const int e = tid + u * NT, c = e / (BN / GV), q = e % (BN / GV) * GV;
        if (e < BK * (BN / GV)) vb[u] = fetch4(s0 + c < lim, n, B, s0 + c, j0 + q);
    }
}

INLINE void put_b(const int tid, const REAL4 *vb, __local REAL (*Bt)[BN + PAD])
{
    UNROLL
    for (int u = 0; u < NB; ++u) {
        const int e = tid + u * NT, c = e / (BN / GV), q = e % (BN / GV) * GV;
        if (e < BK * (BN / GV)) *(__local REAL4 *)&Bt[c][q] = vb[u];
    }
}

/* A's slice for the forward and backward products: rows i0 … i0 + BM − 1 (below m), columns
 * s0 … s0 + BK − 1 (below k), stored transposed. */
INLINE void fetch_a_rows(const int m, const int k, __global const REAL *A, const int i0,
                         const int s0, const int tid, REAL4 *va)
{
    UNROLL
    for (int u = 0; u < NA; ++u) {
        const int e = tid + u * NT, r = e / (BK / GV), c = e % (BK / GV) * GV;
        if (e < BM * (BK / GV)) va[u] = fetch4(i0 + r < m, k, A, i0 + r, s0 + c);
    }
}

INLINE void put_a_rows(const int tid, const REAL4 *va, __local REAL (*At)[BM + PAD])
{
    UNROLL
    for (int u = 0; u < NA; ++u) {
        const int e = tid + u * NT, r = e / (BK / GV), c = e % (BK / GV) * GV;
#define AT(g) At[c + g][r]
        if (e < BM * (BK / GV)) STORE_V(AT, va[u]);
#undef AT
    }
}

/* [A 1]'s slice for the gradient: samples s0 … s0 + BK − 1 (below last), columns k0 … k0 +
 * BM − 1. */
INLINE void fetch_a_cols(const int last, const int k, __global const REAL *A, const int k0,
                         const int s0, const int tid, REAL4 *va)
{
    UNROLL
    for (int u = 0; u < NA; ++u) {
        const int e = tid + u * NT, c = e / (BM / GV), r = e % (BM / GV) * GV;
        if (e < BK * (BM / GV)) va[u] = fetch4_ones(s0 + c < last, k, A, s0 + c, k0 + r);
    }
}

INLINE void put_a_cols(const int tid, const REAL4 *va, __local REAL (*At)[BM + PAD])
{
    UNROLL
    for (int u = 0; u < NA; ++u) {
        const int e = tid + u * NT, c = e / (BM / GV), r = e % (BM / GV) * GV;
        if (e < BK * (BM / GV)) *(__local REAL4 *)&At[c][r] = va[u];
    }
}

/* The slices of A (rows or columns, per FETCH_A and PUT_A) and B, through registers. */
#define STAGED_PRODUCT(slices, FETCH_A, PUT_A, FETCH_B)                                            \
    REAL4 va[NA], vb[NB];                                                                          \
    FETCH_A(0, va);                                                                                \
    FETCH_B(0, vb);                                                                                \
    PUT_A(tid, va, As[0]);                                                                         \
    put_b(tid, vb, Bs[0]);                                                                         \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                  \
    for (int t = 0; t < slices; ++t) {                                                             \
        const int cur = t & 1, more = t + 1 < slices;                                              \
        if (more) {                                                                                \
            FETCH_A(t + 1, va);                                                                    \
            FETCH_B(t + 1, vb);                                                                    \
        }                                                                                          \
        TILE_PRODUCT(acc, As[cur], Bs[cur])                                                        \
        if (more) {                                                                                \
            PUT_A(tid, va, As[cur ^ 1]);                                                           \
            put_b(tid, vb, Bs[cur ^ 1]);                                                           \
        }                                                                                          \
        barrier(CLK_LOCAL_MEM_FENCE);                                                              \
    }
#else
/* Bt[c][q] = B[s0 + c][j0 + q] (row-major, n wide) for the rows s0 + c < lim, else 0. */
INLINE void stage_b(const int lim, const int n, __global const REAL *B, const int s0, const int j0,
                    const int tid, __local REAL (*Bt)[BN + PAD])
{
#if BN % GV == 0
    for (int e = tid; e < BK * (BN / GV); e += NT) { /* consecutive items: consecutive j */
        const int c = e / (BN / GV), q = e % (BN / GV) * GV;
        const REAL4 v = fetch4(s0 + c < lim, n, B, s0 + c, j0 + q);
#define AT(g) Bt[c][q + g]
        STORE_V(AT, v);
#undef AT
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
                         const int s0, const int tid, __local REAL (*At)[BM + PAD])
{
#if BK % GV == 0
    for (int e = tid; e < BM * (BK / GV); e += NT) { /* consecutive items: consecutive s */
        const int r = e / (BK / GV), c = e % (BK / GV) * GV;
        const REAL4 v = fetch4(i0 + r < m, k, A, i0 + r, s0 + c);
#define AT(g) At[c + g][r]
        STORE_V(AT, v);
#undef AT
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
                         const int s0, const int tid, __local REAL (*At)[BM + PAD])
{
#if BM % GV == 0
    for (int e = tid; e < BK * (BM / GV); e += NT) { /* consecutive items: consecutive columns */
        const int c = e / (BM / GV), r = e % (BM / GV) * GV;
        const REAL4 v = fetch4_ones(s0 + c < last, k, A, s0 + c, k0 + r);
#define AT(g) At[c][r + g]
        STORE_V(AT, v);
#undef AT
    }
#else
    for (int e = tid; e < BM * BK; e += NT) {
        const int c = e / BM, r = e % BM, i = s0 + c, kk = k0 + r;
        At[c][r] = i >= last || kk > k ? (REAL)0 : kk == k ? (REAL)1 : A[(size_t)i * k + kk];
    }
#endif
}

/* The slices of A (rows or columns, per STAGE_A) and B: slice t + 1 is stored into the other
 * buffers while slice t is multiplied; the barrier after a slice's product both publishes the
 * next slice and frees this one's buffers for the slice after. */
#define STAGED_PRODUCT(slices, STAGE_A, STAGE_B)                                                   \
    STAGE_A(0, As[0]);                                                                             \
    STAGE_B(0, Bs[0]);                                                                             \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                  \
    for (int t = 0; t < slices; ++t) {                                                             \
        const int cur = t & 1;                                                                     \
        if (t + 1 < slices) {                                                                      \
            STAGE_A(t + 1, As[cur ^ 1]);                                                           \
            STAGE_B(t + 1, Bs[cur ^ 1]);                                                           \
        }                                                                                          \
        TILE_PRODUCT(acc, As[cur], Bs[cur])                                                        \
        barrier(CLK_LOCAL_MEM_FENCE);                                                              \
    }
#endif

/* As rows_product below, double-buffered. */
INLINE void rows_product(const int m, const int n, const int k, __global const REAL *A,
                         __global const REAL *B, REAL acc[WM][WN], __local REAL (*As)[BK][BM + PAD],
                         __local REAL (*Bs)[BK][BN + PAD])
{
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * TX + tx;
    const int i0 = get_group_id(1) * BM, j0 = get_group_id(0) * BN, slices = (k + BK - 1) / BK;
    UNROLL
    for (int r = 0; r < WM; ++r) {
        UNROLL
        for (int q = 0; q < WN; ++q) acc[r][q] = 0;
    }
#if VREAD
#define FETCH_A(t, v) fetch_a_rows(m, k, A, i0, (t)*BK, tid, v)
#define FETCH_B(t, v) fetch_b(k, n, B, (t)*BK, j0, tid, v)
    STAGED_PRODUCT(slices, FETCH_A, put_a_rows, FETCH_B)
#else
#define FETCH_A(t, T) stage_a_rows(m, k, A, i0, (t)*BK, tid, T)
#define FETCH_B(t, T) stage_b(k, n, B, (t)*BK, j0, tid, T)
    STAGED_PRODUCT(slices, FETCH_A, FETCH_B)
#endif
#undef FETCH_A
#undef FETCH_B
}

/* The gradient's product over the samples first … last − 1, double-buffered the same way. */
INLINE void cols_product(const int n, const int k, __global const REAL *A, __global const REAL *D,
                         const int k0, const int j0, const int first, const int last,
                         REAL acc[WM][WN], __local REAL (*As)[BK][BM + PAD],
                         __local REAL (*Bs)[BK][BN + PAD])
{
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * TX + tx;
    const int slices = last > first ? (last - first + BK - 1) / BK : 0;
    UNROLL
    for (int r = 0; r < WM; ++r) {
        UNROLL
        for (int q = 0; q < WN; ++q) acc[r][q] = 0;
    }
    if (slices == 0) return; /* the same for the whole work-group: no barrier skipped by some */
#if VREAD
#define FETCH_A(t, v) fetch_a_cols(last, k, A, k0, first + (t)*BK, tid, v)
#define FETCH_B(t, v) fetch_b(last, n, D, first + (t)*BK, j0, tid, v)
    STAGED_PRODUCT(slices, FETCH_A, put_a_cols, FETCH_B)
#else
#define FETCH_A(t, T) stage_a_cols(last, k, A, k0, first + (t)*BK, tid, T)
#define FETCH_B(t, T) stage_b(last, n, D, first + (t)*BK, j0, tid, T)
    STAGED_PRODUCT(slices, FETCH_A, FETCH_B)
#endif
#undef FETCH_A
#undef FETCH_B
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
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int i0 = get_group_id(1) * BM, j0 = get_group_id(0) * BN;
    UNROLL
    for (int r = 0; r < WM; ++r) {
        UNROLL
        for (int q = 0; q < WN; ++q) {
            const int i = i0 + SUB_ROW(r), j = j0 + SUB_COL(q);
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
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int i0 = get_group_id(1) * BM, j0 = get_group_id(0) * BN;
    UNROLL
    for (int r = 0; r < WM; ++r) {
        UNROLL
        for (int q = 0; q < WN; ++q) {
            const int i = i0 + SUB_ROW(r), j = j0 + SUB_COL(q);
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
            const int kk = k0 + SUB_ROW(r), j = j0 + SUB_COL(q);
            if (kk > k || j >= n) continue;
            if (split > 1) { /* gradient_reduce finishes it */
                Gs[(size_t)slice * (k + 1) * n + (size_t)kk * n + j] = acc[r][q];
                continue;
            }
            if (WT) transpose_weights(P, off, kk, j, n, k, WT);
            epilogue_gradient(acc[r][q], off + (size_t)kk * n + j, 1, stop, lr, mu, G, P, V, V_next,
                              P_next, 0);
        }
    }
}

/* The kernels declare the local tiles (only kernels may) and pass them down. The `_narrow`
 * kernels are the same kernels (the host passes narrow outputs to them). */

#ifndef SKIP_gemm_forward
__kernel void gemm_forward(FORWARD_ARGS)
{
    LOCAL_TILES
    product_forward(m, n, k, act, A, P, off, Out TILES);
    (void)Wp, (void)woff, (void)aw, (void)ow, (void)cap, (void)idx, (void)row0, (void)Xb, (void)Y,
        (void)ny, (void)Yb; /* panels, strips: CPUs (gemm_cpu.cl) */
}
#endif

#ifndef SKIP_gemm_forward_panels
__kernel void gemm_forward_panels(FORWARD_ARGS) /* the same: GPUs read no panels */
{
    LOCAL_TILES
    product_forward(m, n, k, act, A, P, off, Out TILES);
    (void)Wp, (void)woff, (void)aw, (void)ow, (void)cap, (void)idx, (void)row0, (void)Xb, (void)Y,
        (void)ny, (void)Yb;
}
#endif

#ifndef SKIP_gemm_forward_narrow
__kernel void gemm_forward_narrow(FORWARD_ARGS)
{
    LOCAL_TILES
    product_forward(m, n, k, act, A, P, off, Out TILES);
    (void)Wp, (void)woff, (void)aw, (void)ow, (void)cap, (void)idx, (void)row0, (void)Xb, (void)Y,
        (void)ny, (void)Yb; /* panels, strips: CPUs (gemm_cpu.cl) */
}
#endif

#ifndef SKIP_gemm_backward
__kernel void gemm_backward(BACKWARD_ARGS)
{
    LOCAL_TILES
    product_backward(m, n, k, act, Dn, WT, Act, D TILES);
    (void)dnw, (void)dw, (void)cap; /* strips: CPUs */
}
#endif

#ifndef SKIP_gemm_backward_narrow
__kernel void gemm_backward_narrow(BACKWARD_ARGS)
{
    LOCAL_TILES
    product_backward(m, n, k, act, Dn, WT, Act, D TILES);
    (void)dnw, (void)dw, (void)cap; /* strips: CPUs */
}
#endif

#ifndef SKIP_gemm_gradient
__kernel void gemm_gradient(GRADIENT_ARGS)
{
    LOCAL_TILES
    product_gradient(m, n, k, A, D, G, off, P, V, V_next, P_next, lr, mu, state, split, Gs,
                     WT TILES);
    (void)Wp, (void)woff, (void)aw, (void)dw, (void)cap, (void)tx, (void)ty; /* CPUs' */
}
#endif

#ifndef SKIP_gemm_gradient_narrow
__kernel void gemm_gradient_narrow(GRADIENT_ARGS)
{
    LOCAL_TILES
    product_gradient(m, n, k, A, D, G, off, P, V, V_next, P_next, lr, mu, state, split, Gs,
                     WT TILES);
    (void)Wp, (void)woff, (void)aw, (void)dw, (void)cap, (void)tx, (void)ty; /* CPUs' */
}
#endif

#ifndef SKIP_gemm_gradient_strips
__kernel void gemm_gradient_strips(GRADIENT_ARGS) /* the same: GPUs' layers lie in rows */
{
    LOCAL_TILES
    product_gradient(m, n, k, A, D, G, off, P, V, V_next, P_next, lr, mu, state, split, Gs,
                     WT TILES);
    (void)Wp, (void)woff, (void)aw, (void)dw, (void)cap, (void)tx, (void)ty;
}
#endif

#ifndef SKIP_gemm_gradient_narrow_strips
__kernel void gemm_gradient_narrow_strips(GRADIENT_ARGS)
{
    LOCAL_TILES
    product_gradient(m, n, k, A, D, G, off, P, V, V_next, P_next, lr, mu, state, split, Gs,
                     WT TILES);
    (void)Wp, (void)woff, (void)aw, (void)dw, (void)cap, (void)tx, (void)ty;
}
#endif
