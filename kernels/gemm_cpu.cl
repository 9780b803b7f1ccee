// SPDX-License-Identifier: MIT
/* gemm_cpu.cl: the three matrix products of backpropagation for CPUs, tiled and register-
 * blocked, each with its elementwise step fused in (gemm_epilogue.cl): forward A·W + b and the
 * activation; hidden delta (D·Wᵀ) ⊙ act'(A), with Wᵀ made by the gradient's epilogue just
 * before; gradient [A 1]ᵀ·D and the update. Each work-item computes a TM × (T·VW) tile with
 * VW-wide vectors (POCL turns each vector into AVX registers). Every product comes in two
 * widths: T = TNV vectors, and T = 1 (the `_narrow` kernels) for outputs no wider than one
 * vector, such as 10 classes. Edge tiles compute whole vectors and store only the valid lanes,
 * so matrices the vectors read past (W rows, D rows, activations, parameters) carry padding.
 * A narrow output layer in rows runs forward with its softmax, delta and loss in one launch
 * (output_layer), and a small training batch's backward (its gradient, and the deltas of the
 * layer below) in one work-item (output_backward_*). Needs common.cl, ops.cl and
 * gemm_epilogue.cl. */

/* Tunables (host/tuning.c's table; the host passes each, these defaults equal its CPU ones). */
#ifndef TM
#define TM 12 /* rows of a work-item's tile */
#endif
#ifndef TNV
#define TNV 2 /* vectors across a work-item's tile */
#endif
#ifndef MC
#define MC 256 /* samples a block of the gradient's walk (product_gradient) */
#endif
#ifndef PF
#define PF 0 /* samples ahead the gradient prefetches its rows of D (0: none) */
#endif
#ifndef ONE_BLOCK
#define ONE_BLOCK 0 /* 1: no product sees more than MC rows: no walk, no prefetch of D */
#endif
#ifndef GW
#define GW 1 /* 1: the wide gradients' work-items walk several tiles (product_gradient) */
#endif

/* A software prefetch of the line at p: clang's builtin where the host says the compiler has it
 * (POCL's x86 CPUs: -DCPU_PREFETCH=1), nothing elsewhere (Oclgrind lacks it; OpenCL's
 * prefetch() compiles to nothing on POCL). */
#if defined(CPU_PREFETCH) && CPU_PREFETCH
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

/* The epilogues run once a tile, in loops that are not unrolled: unrolled, TM · T copies of
 * an epilogue (the optimiser step with its partial stores, most of all) made most of a
 * product's code and of its compile time at first launch, for nothing at run time. Those loops
 * index the tile, which would take the accumulators out of registers, so the tile is copied
 * out of them first, by this unrolled copy. */
INLINE void copy_out(const int T, REALV acc[TM][TNV], REALV tile[TM][TNV])
{
    UNROLL
    for (int r = 0; r < TM; ++r) {
        UNROLL
        for (int c = 0; c < T; ++c) tile[r][c] = acc[r][c];
    }
}

/* acc[r][c] = Σ_s A[i0 + r][s] · B[s][j0 + c·VW …] for s < k, rows clamped to m: the inner
 * loop of the two products whose reduction runs along A's rows (forward and backward). A lies
 * in strips aw wide of cap rows (aw = k: rows), walked one strip after another; in rows, the
 * batch's row i is A's batch_row(idx, row0, i). T is a constant after inlining, so the loops
 * unroll and acc stays in registers. */
INLINE void tile_rows(const int T, REALV acc[TM][TNV], __global const REAL *A, const int m,
                      const int k, const int aw, const int cap, __global const REAL *B,
                      const int ldb, const int i0, const int j0, __global const int *idx,
                      const int row0)
{
    UNROLL
    for (int r = 0; r < TM; ++r) {
        UNROLL
        for (int c = 0; c < T; ++c) acc[r][c] = (REALV)0;
    }
    __global const REAL *strip = A; /* strip after strip, cap · aw apart (no division) */
    for (int s0 = 0; s0 < k; s0 += aw, strip += (size_t)cap * aw) {
        __global const REAL *rows[TM];
        UNROLL
        for (int r = 0; r < TM; ++r)
            rows[r] = strip + batch_row(idx, row0, min(i0 + r, m - 1)) * aw;
        /* the next strip's rows, cap · aw on: a jump no prefetcher follows (784-1024-10's
         * output product, AVX2 code, 2-core EPYC: 13-16 ms with, 50 ms without, 13 in rows) */
        if (s0 + aw < k) {
            UNROLL
            for (int r = 0; r < TM; ++r) PREFETCH(rows[r] + (size_t)cap * aw);
        }
        __global const REAL *Bs = B + (size_t)s0 * ldb + j0;
        const int w = min(aw, k - s0);
        for (int s = 0; s < w; ++s) {
            REALV b[TNV];
            UNROLL
            for (int c = 0; c < T; ++c) b[c] = VLOAD(0, Bs + (size_t)s * ldb + c * VW);
            UNROLL
            for (int r = 0; r < TM; ++r) {
                const REALV a = (REALV)(rows[r][s]);
                UNROLL
                for (int c = 0; c < T; ++c) acc[r][c] = MULADD(a, b[c], acc[r][c]);
            }
        }
    }
}

/* Copies elements [s0, s1) of the batch's rows i0 … i1 − 1 of M (w wide, row i at
 * batch_row(idx, row0, i)) to the same places of rows i of Mb. A plain loop: with runs of
 * VW-wide vectors, the first launch of an epoch's gemm_forward compiled 0.3 s longer (AVX2 code,
 * 2-core EPYC), for no measurable time in the epoch. */
INLINE void copy_rows(__global const REAL *M, const int w, __global const int *idx, const int row0,
                      __global REAL *Mb, const int i0, const int i1, const int s0, const int s1)
{
    NO_UNROLL
    for (int i = i0; i < i1; ++i) {
        __global const REAL *from = M + batch_row(idx, row0, i) * w;
        __global REAL *to = Mb + (size_t)i * w;
        for (int s = s0; s < s1; ++s) to[s] = from[s];
    }
}

/* The gather of a batch (gather.cl's work) in the first layer's forward product, which reads the
 * batch's inputs where they lie: each tile copies its rows' share of A (1/nt of each, nt tiles
 * across) to Xb, and the first column of tiles the rows' targets Y to Yb (unless Y is NULL), for
 * the products and the loss after it. One launch fewer a batch: a batch-64 epoch of 784-256-10
 * took 392 against 413 ms (2-core AVX-512 EPYC, medians of five alternating rounds, each
 * faster). The products could read the rows through the index instead, but the gradient's reads
 * of them so took 40-50 us a batch more than the launch saves. */
INLINE void gather_rows(const int T, const int m, const int n, const int k, __global const REAL *A,
                        __global const int *idx, const int row0, __global REAL *Xb,
                        __global const REAL *Y, const int ny, __global REAL *Yb, const int i0)
{
    const int nt = (n + T * VW - 1) / (T * VW), share = (k + nt * VW - 1) / (nt * VW) * VW;
    const int x = get_global_id(0), i1 = min(i0 + TM, m);
    copy_rows(A, k, idx, row0, Xb, i0, i1, x * share, min(x * share + share, k));
    if (Y && x == 0) copy_rows(Y, ny, idx, row0, Yb, i0, i1, 0, ny);
}

/* Out = act(A · W + b): A m×k (strips aw wide), W k×n at P + off with b (n) after it, Out m×n
 * (strips ow wide). Where packed (a constant: the kernel gemm_forward_panels) W is read in panels
 * of T vectors at Wp + woff (gemm_epilogue.cl's pack_weights), else along its rows. A's row i
 * is batch_row(idx, row0, i): the first layer's batch read where it lies, gathered into Xb and
 * Yb too (gather_rows) by the wide kernels unless Xb is NULL. */
INLINE void product_forward(const int T, const int packed, const int m, const int n, const int k,
                            const int act, __global const REAL *A, __global const REAL *P,
                            const int off, __global REAL *Out, __global const REAL *Wp,
                            const int woff, const int aw, const int ow, const int cap,
                            __global const int *idx, const int row0, __global REAL *Xb,
                            __global const REAL *Y, const int ny, __global REAL *Yb)
{
    const int j0 = get_global_id(0) * (T * VW), i0 = get_global_id(1) * TM;
    if (i0 >= m || j0 >= n) return;
    /* the wide kernels' only: the narrow one, full batches' output layer's, is a seventh smaller
     * without (18.3 against 21.4 KB of code), and a first layer that narrow has the gather's
     * launch (host: mlpcl__cl_gathers_in_forward) */
    if (T == TNV && Xb) gather_rows(T, m, n, k, A, idx, row0, Xb, Y, ny, Yb, i0);
    __global const REAL *W = P + off;
    REALV acc[TM][TNV], tile[TM][TNV];
    if (packed) /* this tile's panel: k rows of T vectors */
        tile_rows(T, acc, A, m, k, aw, cap, Wp + woff + (size_t)get_global_id(0) * k * (T * VW),
                  T * VW, i0, 0, idx, row0);
    else
        tile_rows(T, acc, A, m, k, aw, cap, W, n, i0, j0, idx, row0);
    copy_out(T, acc, tile);
    NO_UNROLL
    for (int c = 0; c < T; ++c) {
        const int j = j0 + c * VW;
        if (j >= n) break;
        const REALV bias = VLOAD(0, W + (size_t)k * n + j);
        __global REAL *out = Out + strip_at(i0, j, ow, cap); /* row i0 + r is r · ow after */
        NO_UNROLL
        for (int r = 0; r < TM; ++r)
            if (i0 + r < m) epilogue_forward(act, tile[r][c], bias, n - j, out + (size_t)r * ow);
    }
}

/* D = (Dn · WT) ⊙ act'(Act): Dn m×k (the next layer's delta, strips dnw wide), WT k×n (its
 * weights, transposed), Act and D m×n (strips dw wide). */
INLINE void backward_tile(const int T, const int i0, const int j0, const int m, const int n,
                          const int k, const int act, __global const REAL *Dn,
                          __global const REAL *WT, __global const REAL *Act, __global REAL *D,
                          const int dnw, const int dw, const int cap)
{
    REALV acc[TM][TNV], tile[TM][TNV];
    tile_rows(T, acc, Dn, m, k, dnw, cap, WT, n, i0, j0, 0, 0);
    copy_out(T, acc, tile);
    NO_UNROLL
    for (int c = 0; c < T; ++c) {
        const int j = j0 + c * VW;
        if (j >= n) break;
        const size_t at0 = strip_at(i0, j, dw, cap); /* row i0 + r is r · dw after */
        NO_UNROLL
        for (int r = 0; r < TM; ++r) {
            if (i0 + r >= m) break;
            const size_t at = at0 + (size_t)r * dw;
            epilogue_backward(act, tile[r][c], Act + at, n - j, D + at);
        }
    }
}

/* The backward product's tile of this work-item (TM rows × T vectors at its global ids). */
INLINE void product_backward(const int T, const int m, const int n, const int k, const int act,
                             __global const REAL *Dn, __global const REAL *WT,
                             __global const REAL *Act, __global REAL *D, const int dnw,
                             const int dw, const int cap)
{
    const int j0 = get_global_id(0) * (T * VW), i0 = get_global_id(1) * TM;
    if (i0 < m && j0 < n) backward_tile(T, i0, j0, m, n, k, act, Dn, WT, Act, D, dnw, dw, cap);
}

/* acc[r][c] += Σ_i A[i][k0 + r] · D[i][j0 + c·VW …] over the samples i of [ib, ie). Rows k0 + r
 * at or past k (the edge tile's, whose row k is the biases', made by bias_sums) hold whatever A
 * has there: in strips its column k − 1 again, in rows the next sample's first columns, or the
 * padding after the last row (every A a gradient reads has at least TM elements of it), and are
 * not stored.
 * One copy of the unrolled loop for every tile: an edge tile's own, which chose 1 or 0 for those
 * rows, made the gradients' code a fifth larger (gemm_gradient's object 25.1 against 19.7 KB),
 * and a cold 784-256-10 start 0.3 s of CPU longer (2-core AVX-512 EPYC). D's tile starts at Dt,
 * each sample's dw after the one before: n in rows, the strip's width in strips, where the walk
 * down the samples is contiguous (784-1024-10's gradient in AVX2 code on a 2-core AMD EPYC:
 * 0.73-0.76 s against 1.00-1.07 s in rows 4 KB apart). A lies in rows of k, or where strips (a
 * constant) in strips aw wide of cap rows. With PF, in programs whose gradients run several
 * blocks (full batches from memory), this tile's slice of D PF samples ahead (of m) is
 * prefetched, for CPUs whose prefetchers do not follow a stride of rows (host/tuning.c derives
 * PF). */
INLINE void tile_samples(const int T, const int strips, REALV acc[TM][TNV], __global const REAL *A,
                         const int k, const int aw, const int cap, __global const REAL *Dt,
                         const int dw, const int m, const int ib, const int ie, const int k0)
{
    (void)m;
    __global const REAL *col[TM]; /* strips: A's column k0 + r (clamped below k) */
    if (strips) {
        UNROLL
        for (int r = 0; r < TM; ++r) col[r] = A + strip_at(0, min(k0 + r, k - 1), aw, cap);
    }
    for (int i = ib; i < ie; ++i) {
#if PF > 0 && !ONE_BLOCK  /* one block: a batch's D, just written, is in cache */
        if (i + PF < m) { /* its first two vectors: a loop here cost registers (spills) */
            __global const REAL *ahead = Dt + (size_t)(i + PF) * dw;
            PREFETCH(ahead);
            if (T > 1) PREFETCH(ahead + VW);
        }
#endif
        REALV b[TNV];
        UNROLL
        for (int c = 0; c < T; ++c) b[c] = VLOAD(0, Dt + (size_t)i * dw + c * VW);
        __global const REAL *a = A + (size_t)i * k + k0;
        UNROLL
        for (int r = 0; r < TM; ++r) {
            const REALV av = (REALV)(strips ? col[r][(size_t)i * aw] : a[r]);
            UNROLL
            for (int c = 0; c < T; ++c) acc[r][c] = MULADD(av, b[c], acc[r][c]);
        }
    }
}

/* s += the tile's slice of D summed over the samples [ib, ie), one after another: the gradient's
 * row of biases, Σ 1 · D[i]. The same sums in the same order as a row of ones in tile_samples
 * would make (1 · d + s is d + s, whether multiplied and added or fused), so the results are
 * those of the product with [A 1], bit for bit. */
INLINE void bias_sums(const int T, REALV s[TNV], __global const REAL *Dt, const int dw,
                      const int ib, const int ie)
{
    NO_UNROLL
    for (int i = ib; i < ie; ++i) {
        UNROLL
        for (int c = 0; c < T; ++c) s[c] += VLOAD(0, Dt + (size_t)i * dw + c * VW);
    }
}

/* The end of a gradient tile, its sums acc over every sample: G's rows k0 … k0 + TM − 1 (row k
 * the biases, whose sums are bias in the edge tile, where k0 + TM > k) and columns j0 …, written
 * to G + off, then the update of those parameters unless stop: V = mu·V + G (when mu ≠ 0) and
 * P_next = P − lr·V. Where WT is not NULL, P's weights of the tile transposed into it; where Wp
 * is not NULL, the stepped weights also go to their places in the forward's panels at Wp + woff,
 * which the wide forward product of the next iteration reads (T vectors a panel, as this tile,
 * the x-th across: see pack_weights). */
INLINE void finish_gradient(const int T, REALV acc[TM][TNV], REALV bias[TNV], const int n,
                            const int k, const int j0, const int k0, const int x, __global REAL *G,
                            const int off, __global const REAL *P, __global const REAL *V,
                            __global REAL *V_next, __global REAL *P_next, const REAL lr,
                            const REAL mu, const int stop, __global REAL *WT, __global REAL *Wp,
                            const int woff)
{
    if (WT) { /* loops of their own, so that layers without it pay one test */
        NO_UNROLL
        for (int c = 0; c < T && j0 + c * VW < n; ++c) {
            NO_UNROLL
            for (int r = 0; r < TM; ++r) transpose_weights(P, off, k0 + r, j0 + c * VW, n, k, WT);
        }
    }
    REALV tile[TM][TNV];
    copy_out(T, acc, tile);
    if (k0 + TM > k) {
        UNROLL
        for (int c = 0; c < T; ++c) tile[k - k0][c] = bias[c];
    }
#if ONE_BLOCK
    /* Mini-batches: a full tile (no edge lanes, not the biases' row) stepped by plain SGD with
     * nothing else stored, as plain SGD's epochs do: whole vectors, no tests a lane. A batch-64
     * epoch of 784-256-10's gemm_gradient took 159 against 175 us a batch without it (2-core
     * AVX-512 EPYC, five alternating rounds). Its rows in a loop: unrolled, from the registers,
     * it took 5-7 us a batch less (98 against 103 us; AVX2 code 164 against 171), but the
     * epoch's first launches compiled 0.5 s longer (gemm_gradient 1.06 against 0.70 s,
     * output_backward_strips 0.60 against 0.48 s), which every first run pays. Only in programs
     * for mini-batches, whose product is short beside its epilogue. The stepped weights go to
     * the forward's panels too, where it reads them (panel_at: a tile's row of T vectors is one
     * run of them). Momentum and kept gradients take the loops below. */
    if (!G && !stop && mu == (REAL)0 && k0 + TM <= k && j0 + T * VW <= n) {
        NO_UNROLL
        for (int r = 0; r < TM; ++r) {
            __global const REAL *p = P + off + (size_t)(k0 + r) * n + j0;
            __global REAL *p_next = P_next + off + (size_t)(k0 + r) * n + j0;
            __global REAL *panel = Wp ? panel_at(Wp + woff, k, T, x * T, k0 + r) : 0;
            UNROLL
            for (int c = 0; c < T; ++c) {
                const REALV w = SGD_STEP(REALV, VLOAD(0, p + c * VW), lr, tile[r][c]);
                VSTORE(w, 0, p_next + c * VW);
                if (panel) VSTORE(w, 0, panel + c * VW);
            }
        }
        return;
    }
#endif
    NO_UNROLL
    for (int c = 0; c < T; ++c) {
        const int j = j0 + c * VW, lanes = n - j;
        if (j >= n) break;
        NO_UNROLL
        for (int r = 0; r < TM; ++r) {
            if (k0 + r > k) break;
            __global REAL *panel =
                Wp && k0 + r < k ? panel_at(Wp + woff, k, T, x * T + c, k0 + r) : 0;
            epilogue_gradient(tile[r][c], off + (size_t)(k0 + r) * n + j, lanes, stop, lr, mu, G, P,
                              V, V_next, P_next, panel);
        }
    }
}

/* The gradient tile x across, rows k0 … k0 + TM − 1, through every sample, finished. */
INLINE void gradient_tile(const int T, const int strips, const int x, const int k0, const int m,
                          const int n, const int k, __global const REAL *A, __global const REAL *D,
                          __global REAL *G, const int off, __global const REAL *P,
                          __global const REAL *V, __global REAL *V_next, __global REAL *P_next,
                          const REAL lr, const REAL mu, const int stop, __global REAL *WT,
                          __global REAL *Wp, const int woff, const int aw, const int dw,
                          const int cap)
{
    const int j0 = x * (T * VW);
    __global const REAL *Dt = D + strip_at(0, j0, dw, cap);
    REALV acc[TM][TNV], bias[TNV];
    UNROLL
    for (int c = 0; c < T; ++c) {
        bias[c] = (REALV)0;
        UNROLL
        for (int r = 0; r < TM; ++r) acc[r][c] = (REALV)0;
    }
    if (k0 < k) tile_samples(T, strips, acc, A, k, aw, cap, Dt, dw, m, 0, m, k0);
    if (k0 + TM > k) bias_sums(T, bias, Dt, dw, 0, m);
    finish_gradient(T, acc, bias, n, k, j0, k0, x, G, off, P, V, V_next, P_next, lr, mu, stop, WT,
                    Wp, woff);
}

/* G = [A 1]ᵀ · D for one layer (rows 0 … k−1 the weights, row k the biases), each TM × T·VW
 * tile finished by finish_gradient. A is m×k (strips aw wide where strips, a constant: the
 * _strips kernels), D m×n (strips dw wide; a wide tile's strip is its own columns). Where walk
 * (a constant) is 0, a work-item is the launch's own tile, through every sample. Where it is 1,
 * a work-item walks tx × ty tiles, across then down, through the samples in blocks of MC, all
 * its tiles one block after another, so that a block's rows of A and D stay in cache while its
 * tiles use them; between blocks a tile's sums wait in its slot of Gs (TM · TNV vectors, this
 * work-item's tx · ty slots after those of the ones before). This is the sharing a work-group's
 * barrier after each block gave, without the barrier, which POCL compiled three times slower at
 * first launch (784-256-10's gemm_gradient 1.5 s against 0.5 s, AVX-512 code on a 2-core
 * EPYC). A constant, since a kernel that could do both ran the one tile slower: 0.34 ms a batch
 * of 64 against 0.18 ms (784-256-10's first layer, AVX2 code). */
INLINE void product_gradient(const int T, const int walk, const int strips, const int m,
                             const int n, const int k, __global const REAL *A,
                             __global const REAL *D, __global REAL *G, const int off,
                             __global const REAL *P, __global const REAL *V, __global REAL *V_next,
                             __global REAL *P_next, const REAL lr, const REAL mu,
                             __global const int *state, __global REAL *Gs, __global REAL *WT,
                             __global REAL *Wp, const int woff, const int aw, const int dw,
                             const int cap, const int tx, const int ty)
{
    const int stop = state[0];
    REALV acc[TM][TNV];
    if (!walk) {
        const int x = get_global_id(0), j0 = x * (T * VW), k0 = get_global_id(1) * TM;
        if (j0 < n && k0 <= k)
            gradient_tile(T, strips, x, k0, m, n, k, A, D, G, off, P, V, V_next, P_next, lr, mu,
                          stop, WT, Wp, woff, aw, dw, cap);
        return;
    }
    const int nt = (n + T * VW - 1) / (T * VW), kt = k / TM + 1; /* tiles across, down */
    const int x0 = get_global_id(0) * tx, y0 = get_global_id(1) * ty;
    const int x1 = min(x0 + tx, nt), y1 = min(y0 + ty, kt);
    const size_t slot_size = TM * TNV * VW;
    __global REAL *slots = Gs + (get_global_id(1) * get_global_size(0) + get_global_id(0)) *
                                    (size_t)(tx * ty) * slot_size;
    int ib = 0;
    do { /* once where m is 0: the tiles' gradients are then 0 */
        const int ie = min(ib + MC, m), first = ib == 0, last = ie >= m;
        for (int y = y0; y < y1; ++y) {
            for (int x = x0; x < x1; ++x) {
                const int j0 = x * (T * VW), k0 = y * TM;
                __global REAL *slot = slots + (size_t)((y - y0) * tx + x - x0) * slot_size;
                __global const REAL *Dt = D + strip_at(0, j0, dw, cap);
                /* the edge tile's row k − k0 in its slot holds the biases' sums, not acc's */
                const int edge = k0 + TM > k;
                __global REAL *bias_slot = slot + (size_t)(edge ? k - k0 : 0) * TNV * VW;
                REALV bias[TNV];
                UNROLL
                for (int r = 0; r < TM; ++r) {
                    UNROLL
                    for (int c = 0; c < T; ++c)
                        acc[r][c] = first ? (REALV)0 : VLOAD(0, slot + (r * TNV + c) * VW);
                }
                if (k0 < k) tile_samples(T, strips, acc, A, k, aw, cap, Dt, dw, m, ib, ie, k0);
                if (edge) {
                    UNROLL
                    for (int c = 0; c < T; ++c)
                        bias[c] = first ? (REALV)0 : VLOAD(0, bias_slot + c * VW);
                    bias_sums(T, bias, Dt, dw, ib, ie);
                }
                if (last) {
                    finish_gradient(T, acc, bias, n, k, j0, k0, x, G, off, P, V, V_next, P_next, lr,
                                    mu, stop, WT, Wp, woff);
                } else {
                    UNROLL
                    for (int r = 0; r < TM; ++r) {
                        UNROLL
                        for (int c = 0; c < T; ++c) VSTORE(acc[r][c], 0, slot + (r * TNV + c) * VW);
                    }
                    if (edge) {
                        UNROLL
                        for (int c = 0; c < T; ++c) VSTORE(bias[c], 0, bias_slot + c * VW);
                    }
                }
            }
        }
        ib = ie;
    } while (ib < m);
}

/* The output layer on CPUs where it is no wider than a vector and lies in rows
 * (host/cl_plan_tiled.c's tiled_output), for training and predictions: Out = act(A · W + b) (A
 * m×k in strips aw wide, W k×n at P + off with b after it, Out m×n in rows) tile after tile as
 * gemm_forward_narrow computes it, the softmax of each row for cross-entropy (forward.cl's), then,
 * training (Y not NULL), D and the loss as delta.cl's output_delta, dm its 1/m. A launch of G
 * work-items, each taking every G-th tile of TM rows. With one, it finishes the cost:
 * cost[slot] = scale · the loss's sum (row after row) with the stop flag; with several, each
 * writes its sum to partials[g] for the cost kernel. One launch for the narrow forward product's,
 * the softmax's and the output delta's: in a small batch one work-item beats a launch on all
 * threads (a batch-64 epoch of 784-256-10), and a program without the narrow product and the
 * output delta compiles faster at first launch. */
#ifndef SKIP_output_layer
__kernel void output_layer(const int m, const int n, const int k, const int act, const int dact,
                           const int loss, const int dm, __global const REAL *A, const int aw,
                           const int cap, __global const REAL *P, const int off, __global REAL *Out,
                           __global const REAL *Y, __global REAL *D, const REAL scale,
                           const REAL target, __global REAL *cost, __global int *state,
                           const int slot, __global REAL *partials)
{
    const int g = get_global_id(0), G = get_global_size(0);
    __global const REAL *W = P + off;
    const REALV bias = VLOAD(0, W + (size_t)k * n);
    REALV acc[TM][TNV], tile[TM][TNV];
    REAL sum = 0;
    NO_UNROLL
    for (int i0 = g * TM; i0 < m; i0 += G * TM) {
        tile_rows(1, acc, A, m, k, aw, cap, W, n, i0, 0, 0, 0);
        copy_out(1, acc, tile);
        NO_UNROLL
        for (int r = 0; r < TM && i0 + r < m; ++r) {
            const size_t at = (size_t)(i0 + r) * n;
            epilogue_forward(act, tile[r][0], bias, n, Out + at);
            if (loss == LOSS_CE) softmax_row(n, Out + at);
            if (!Y) continue;
            for (int j = 0; j < n; ++j) {
                REAL e;
                D[at + j] = delta_and_loss(loss, dact, dm, Out[at + j], Y[at + j], &e);
                sum += e;
            }
        }
    }
    if (!Y) return;
    if (G == 1)
        record_cost(scale * sum, target, cost + slot, state);
    else
        partials[g] = sum;
}
#endif

/* The kernels, wide (TNV vectors) and narrow (one), the wide forward reading W's panels, and
 * the gradients reading A in strips. Launch shapes: forward and backward (⌈n/(T·VW)⌉, ⌈m/TM⌉),
 * gradient (⌈n/(T·VW)⌉, ⌈(k+1)/TM⌉), each rounded up to its local size; a walking gradient
 * (⌈nt/tx⌉, ⌈kt/ty⌉) of those tiles, a work-item a work-group. */

#ifndef SKIP_gemm_forward
__kernel void gemm_forward(FORWARD_ARGS)
{
    product_forward(TNV, 0, m, n, k, act, A, P, off, Out, Wp, woff, aw, ow, cap, idx, row0, Xb, Y,
                    ny, Yb);
}
#endif

#ifndef SKIP_gemm_forward_panels
__kernel void gemm_forward_panels(FORWARD_ARGS)
{
    product_forward(TNV, 1, m, n, k, act, A, P, off, Out, Wp, woff, aw, ow, cap, idx, row0, Xb, Y,
                    ny, Yb);
}
#endif

#ifndef SKIP_gemm_forward_narrow
__kernel void gemm_forward_narrow(FORWARD_ARGS)
{
    product_forward(1, 0, m, n, k, act, A, P, off, Out, Wp, woff, aw, ow, cap, idx, row0, Xb, Y, ny,
                    Yb);
}
#endif

#ifndef SKIP_gemm_backward
__kernel void gemm_backward(BACKWARD_ARGS)
{
    product_backward(TNV, m, n, k, act, Dn, WT, Act, D, dnw, dw, cap);
}
#endif

#ifndef SKIP_gemm_backward_narrow
__kernel void gemm_backward_narrow(BACKWARD_ARGS)
{
    product_backward(1, m, n, k, act, Dn, WT, Act, D, dnw, dw, cap);
}
#endif

/* The wide gradients walk where the host says (GW, the tunable gw) and batches run several
 * blocks; the narrow ones never (cl_plan_tiled.c's walks). */
#define WALK (GW && !ONE_BLOCK)
#define GRADIENT_CALL(T, walk, strips)                                                             \
    product_gradient(T, walk, strips, m, n, k, A, D, G, off, P, V, V_next, P_next, lr, mu, state,  \
                     Gs, WT, Wp, woff, aw, dw, cap, tx, ty);                                       \
    (void)split

#ifndef SKIP_gemm_gradient
__kernel void gemm_gradient(GRADIENT_ARGS)
{
    GRADIENT_CALL(TNV, WALK, 0);
}
#endif

#ifndef SKIP_gemm_gradient_narrow
__kernel void gemm_gradient_narrow(GRADIENT_ARGS)
{
    GRADIENT_CALL(1, 0, 0);
}
#endif

#ifndef SKIP_gemm_gradient_strips
__kernel void gemm_gradient_strips(GRADIENT_ARGS)
{
    GRADIENT_CALL(TNV, WALK, 1);
}
#endif

#ifndef SKIP_gemm_gradient_narrow_strips
__kernel void gemm_gradient_narrow_strips(GRADIENT_ARGS)
{
    GRADIENT_CALL(1, 0, 1);
}
#endif

/* A small training batch's output layer, no wider than a vector, backward in one launch of one
 * work-item (host/cl_plan_tiled.c's tiled_output_backward): its gradient and step as
 * gemm_gradient_narrow (A, the layer below's output, in strips: _strips), tile after tile,
 * then that layer's deltas D1 = (D · WT) ⊙ act1'(Act1) (m × n1, strips d1w wide, n1 wider than a
 * vector) as gemm_backward, from the weights the tiles have just transposed into WT. One launch a
 * batch fewer, and neither product is worth the threads' dispatch. */
INLINE void output_backward(const int strips, const int m, const int n, const int k,
                            __global const REAL *A, __global const REAL *D, __global REAL *G,
                            const int off, __global const REAL *P, __global const REAL *V,
                            __global REAL *V_next, __global REAL *P_next, const REAL lr,
                            const REAL mu, __global const int *state, __global REAL *WT,
                            const int aw, const int dw, const int cap, const int n1, const int act1,
                            __global const REAL *Act1, __global REAL *D1, const int d1w)
{
    if (get_global_id(0) != 0) return;
    const int stop = state[0];
    NO_UNROLL
    for (int k0 = 0; k0 <= k; k0 += TM)
        gradient_tile(1, strips, 0, k0, m, n, k, A, D, G, off, P, V, V_next, P_next, lr, mu, stop,
                      WT, 0, 0, aw, dw, cap);
    NO_UNROLL
    for (int i0 = 0; i0 < m; i0 += TM) {
        NO_UNROLL
        for (int j0 = 0; j0 < n1; j0 += TNV * VW)
            backward_tile(TNV, i0, j0, m, n1, n, act1, D, WT, Act1, D1, dw, d1w, cap);
    }
}

#define OUTPUT_BACKWARD_ARGS                                                                       \
    GRADIENT_ARGS, const int n1, const int act1, __global const REAL *Act1, __global REAL *D1,     \
        const int d1w
#define OUTPUT_BACKWARD_CALL(strips)                                                               \
    output_backward(strips, m, n, k, A, D, G, off, P, V, V_next, P_next, lr, mu, state, WT, aw,    \
                    dw, cap, n1, act1, Act1, D1, d1w);                                             \
    (void)split, (void)Gs, (void)Wp, (void)woff, (void)tx, (void)ty

#ifndef SKIP_output_backward_rows
__kernel void output_backward_rows(OUTPUT_BACKWARD_ARGS)
{
    OUTPUT_BACKWARD_CALL(0);
}
#endif

#ifndef SKIP_output_backward_strips
__kernel void output_backward_strips(OUTPUT_BACKWARD_ARGS)
{
    OUTPUT_BACKWARD_CALL(1);
}
#endif
