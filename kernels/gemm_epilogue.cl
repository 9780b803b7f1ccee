// SPDX-License-Identifier: MIT
/* gemm_epilogue.cl: what the two tiled products (gemm_cpu.cl's register tiles, gemm_gpu.cl's
 * local-memory tiles) share: their element type (VW-wide vectors on CPUs, single reals on GPUs),
 * the elementwise steps fused after each product (bias and activation, act', the optimiser
 * step, the transposed weights), the kernels' argument lists, and the split gradient's sum.
 * The library builds this file and the one variant the device uses. Needs
 * common.cl and ops.cl. */

#ifndef VW
#if defined(GEMM_LOCAL)
#define VW 1 /* GPUs: each work-item's outputs are single reals */
#elif PRECISION == 64
#define VW 8 /* CPUs: one AVX-512 register of doubles */
#else
#define VW 16 /* CPUs: one AVX-512 register of floats */
#endif
#endif

/* Tile loops must unroll fully, so that the accumulators live in registers. */
#define UNROLL _Pragma("unroll")
/* Loops that run once a tile (the epilogues) stay loops: less code to compile. */
#define NO_UNROLL _Pragma("unroll 1")

/* The products' multiply-add: fma, rounded once, where the device has an FMA unit; a multiply
 * and an add where it has none (the host passes -DNO_FMA=1 for x86 CPUs with SSE or AVX only),
 * for which OpenCL's fma, exact, is a library call a lane. */
#if defined(NO_FMA) && NO_FMA
#define MULADD(a, b, c) ((a) * (b) + (c))
#else
#define MULADD(a, b, c) fma(a, b, c)
#endif

#define CAT_(a, b) a##b
#define CAT(a, b)  CAT_(a, b)

#if VW == 1
#define REALV           REAL
#define VLOAD(i, p)     ((p)[i])
#define VSTORE(v, i, p) ((p)[i] = (v))
#define activate_v      activate
#define act_slope_v     act_slope
#else
#define REALV           CAT(REAL, VW)
#define VLOAD           CAT(vload, VW)
#define VSTORE          CAT(vstore, VW)
#define RELU_V(z)       fmax(z, (REALV)0)
#define RELU_SLOPE_V(a) select((REALV)0, (REALV)1, a > (REALV)0)
DEFINE_ACTIVATION(REALV, _v, RELU_V, RELU_SLOPE_V)
#endif

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

/* The first `lanes` (1 … VW) elements at p, zeros after them: an edge tile reads no further
 * than its row's end, where the next row may be another work-item's output (a hidden layer's
 * deltas overwrite its activations in place, cl_backend.h). */
INLINE REALV load_lanes(__global const REAL *p, int lanes)
{
    if (lanes >= VW) return VLOAD(0, p);
    REAL t[VW];
    for (int i = 0; i < VW; ++i) t[i] = i < lanes ? p[i] : (REAL)0;
    return VLOAD(0, t);
}

/* The forward product's epilogue: lanes outputs act(acc + bias) at out. */
INLINE void epilogue_forward(int act, REALV acc, REALV bias, int lanes, __global REAL *out)
{
    store_lanes(activate_v(act, acc + bias), lanes, out);
}

/* The backward product's epilogue: lanes deltas acc ⊙ act'(Act) at D (Act the layer's output
 * at the same place). */
INLINE void epilogue_backward(int act, REALV acc, __global const REAL *Act, int lanes,
                              __global REAL *D)
{
    store_lanes(acc * act_slope_v(act, load_lanes(Act, lanes)), lanes, D);
}

/* The gradient product's epilogue: lanes gradients g at G + at (unless G is NULL: nothing else
 * reads them), then (unless stop) ops.cl's optimiser step for those parameters, the stepped
 * weights also at panel where it is not NULL (their place in the forward's panels). */
INLINE void epilogue_gradient(REALV g, size_t at, int lanes, int stop, REAL lr, REAL mu,
                              __global REAL *G, __global const REAL *P, __global const REAL *V,
                              __global REAL *V_next, __global REAL *P_next, __global REAL *panel)
{
    if (G) store_lanes(g, lanes, G + at);
    if (stop) return;
    if (mu != (REAL)0) {
        g = MOMENTUM(REALV, mu, VLOAD(0, V + at), g);
        store_lanes(g, lanes, V_next + at);
    }
    const REALV stepped = SGD_STEP(REALV, VLOAD(0, P + at), lr, g);
    store_lanes(stepped, lanes, P_next + at);
    if (panel) store_lanes(stepped, lanes, panel);
}

/* The weights transposed for the backward product of the layer below (its hidden deltas read
 * W_l along its rows): WT[j][kk] = W[kk][j] (W = P + off, k×n; WT n×k) for the columns
 * j … min(j + VW, n) − 1 of row kk, where kk is a weight's row (not the biases', k). Written by
 * the gradient's epilogue (where WT is not NULL: not the first layer's) from the weights it is
 * about to step, which is what the backward product after it needs. */
INLINE void transpose_weights(__global const REAL *P, const int off, const int kk, const int j,
                              const int n, const int k, __global REAL *WT)
{
    if (kk >= k) return;
    for (int e = j; e < min(j + VW, n); ++e) WT[(size_t)e * k + kk] = P[off + (size_t)kk * n + e];
}

/* Where vector v (columns v·VW … v·VW + VW − 1) of row s of a k-row matrix lies in its panels
 * of tv vectors at Wp (pack_weights' layout, which the gradient's epilogue writes too). */
INLINE __global REAL *panel_at(__global REAL *Wp, const int k, const int tv, const int v,
                               const int s)
{
    return Wp + ((size_t)(v / tv) * k + s) * (tv * VW) + (v % tv) * VW;
}

/* W (k×n at P + off) in panels of tv vectors for the CPUs' wide forward product: panel q holds
 * columns q·tv·VW … (q + 1)·tv·VW − 1 (zeros past n) of each of the k rows in turn, so that a
 * tile walks its k rows of B contiguously. Along W's rows a 1024-wide layer's tile steps 4 KB (a
 * page) a row: on a 2-core AMD EPYC, AVX2 code, a 784-1024-10 forward product on 16,384
 * samples took 300 ms, 215 ms from the panels (docs/benchmarks.md). Launch k: a work-item a row. */
#ifndef SKIP_pack_weights
__kernel void pack_weights(const int n, const int k, const int tv, __global const REAL *P,
                           const int off, __global REAL *Wp, const int woff)
{
    const int s = get_global_id(0);
    if (s >= k) return;
    Wp += woff;
    __global const REAL *src = P + off + (size_t)s * n;
    for (int v = 0, j = 0; j < n; ++v, j += VW) {
        __global REAL *dst = panel_at(Wp, k, tv, v, s);
        if (j + VW <= n)
            VSTORE(VLOAD(0, src + j), 0, dst);
        else
            for (int e = 0; e < VW; ++e) dst[e] = j + e < n ? src[j + e] : (REAL)0;
    }
    for (int v = (n + VW - 1) / VW; v % tv; ++v) /* the last panel's vectors past n */
        VSTORE((REALV)0, 0, panel_at(Wp, k, tv, v, s));
}
#endif

/* The products' kernels, wide and `_narrow`, take these arguments (the host names them). The
 * layers' activations and deltas lie in rows or in strips (common.cl's strip_at): aw, ow, dnw and
 * dw are the widths of A, Out, Dn and D (their n: rows), cap the strips' depth. GPUs take rows.
 * On CPUs the first layer's forward product reads its batch's rows of A where they lie, row i
 * at common.cl's batch_row(idx, row0, i) (a prediction's chunk: idx NULL, row0 its start), and
 * (unless Xb is NULL) gathers them and those of the targets Y (ny wide) into Xb and Yb for the
 * rest of the iteration; elsewhere idx, Xb and Y are NULL and row0 0 (Yb, set once, is written
 * only where Y is not NULL). GPUs, whose batches the host gathers, ignore the six. */
#define FORWARD_ARGS                                                                               \
    const int m, const int n, const int k, const int act, __global const REAL *A,                  \
        __global const REAL *P, const int off, __global REAL *Out, __global const REAL *Wp,        \
        const int woff, const int aw, const int ow, const int cap, __global const int *idx,        \
        const int row0, __global REAL *Xb, __global const REAL *Y, const int ny, __global REAL *Yb
#define BACKWARD_ARGS                                                                              \
    const int m, const int n, const int k, const int act, __global const REAL *Dn,                 \
        __global const REAL *WT, __global const REAL *Act, __global REAL *D, const int dnw,        \
        const int dw, const int cap
#define GRADIENT_ARGS                                                                              \
    const int m, const int n, const int k, __global const REAL *A, __global const REAL *D,         \
        __global REAL *G, const int off, __global const REAL *P, __global const REAL *V,           \
        __global REAL *V_next, __global REAL *P_next, const REAL lr, const REAL mu,                \
        __global const int *state, const int split, __global REAL *Gs, __global REAL *WT,          \
        __global REAL *Wp, const int woff, const int aw, const int dw, const int cap,              \
        const int tx, const int ty

/* Finishes a split gradient (GPUs): G = Σ_s Gs[s] (in order; stored at G + off unless G is
 * NULL) for one layer's count parameters, (k + 1) rows of n, with their transposed weights (as
 * transpose_weights), then their update unless the stop flag is set. Global count. */
#ifndef SKIP_gradient_reduce
__kernel void gradient_reduce(const int count, const int split, __global const REAL *Gs,
                              __global REAL *G, const int off, __global const REAL *P,
                              __global const REAL *V, __global REAL *V_next, __global REAL *P_next,
                              const REAL lr, const REAL mu, __global const int *state, const int n,
                              __global REAL *WT)
{
    const int e = get_global_id(0);
    if (e >= count) return;
    if (WT) transpose_weights(P, off, e / n, e % n, n, count / n - 1, WT);
    REAL g = 0;
    for (int s = 0; s < split; ++s) g += Gs[(size_t)s * count + e];
    if (G) G[off + e] = g;
    if (state[0]) return;
    sgd_update(off + e, g, lr, mu, P, V, V_next, P_next);
}
#endif
