// SPDX-License-Identifier: MIT
/* common.cl: what every kernel file shares: the precision, the reductions' work-group size,
 * the numbering of activations and losses, and the fixed-order group sum. The library puts it
 * first in the program, and the build's syntax check includes it before each file. Every
 * kernel of every file stands between #ifndef SKIP_<its name> and #endif: a program built for
 * some kernels only (on CPUs, those its trainer's launch plans make: host/program.c) defines
 * SKIP_ for the others, which then cost its build nothing. */
#ifndef MLPCL_COMMON_CL
#define MLPCL_COMMON_CL

/* The one precision macro (the host passes it): REAL and everything else derive from it. */
#ifndef PRECISION
#define PRECISION 32 /* 32: float, 64: double (needs cl_khr_fp64) */
#endif
#if PRECISION == 64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define REAL double
#else
#define REAL float
#endif

#ifndef WG
#define WG 64 /* work-group size of the 1-D reductions, a power of two (the host passes it) */
#endif

#define INLINE static inline __attribute__((always_inline))

/* Where element (i, j) of a layer's activations or deltas lies. Rows (w = n, the layer's
 * width): i·n + j. Strips (the CPUs' wide hidden layers, host/cl_plan_tiled.c): columns in
 * strips w wide, each strip cap rows deep (the buffer's rows), so that the gradient's tile walks
 * its strip's samples contiguously. */
INLINE size_t strip_at(const int i, const int j, const int w, const int cap)
{
    return (size_t)(j / w) * cap * w + (size_t)i * w + j % w;
}

/* Row i of a batch in its source (gather.cl, and gemm_cpu.cl's first forward product, which
 * gathers the batch itself): the row idx[row0 + i] through an index (an epoch's shuffle),
 * row0 + i without one (held-out data in chunks; other matrices: idx NULL, row0 0). */
INLINE size_t batch_row(__global const int *idx, const int row0, const int i)
{
    return (size_t)(idx ? idx[row0 + i] : row0 + i);
}

/* Activations, as host/reference.c numbers them; IDENTITY is internal (softmax's logits). */
#define ACT_SIGMOID  0
#define ACT_TANH     1
#define ACT_RELU     2
#define ACT_IDENTITY 3

/* Losses. */
#define LOSS_MSE 0
#define LOSS_CE  1

/* Sums n values (a power of two, the work-group's size or less) of a local array into
 * sums[0], in a fixed tree order; every work-item of the group must call. */
void group_sum(__local REAL *sums, int n)
{
    const int lid = get_local_id(0);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = n / 2; s > 0; s >>= 1) {
        if (lid < s) sums[lid] += sums[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

/* cost[0] = c, and the stop flag set when c is below target or not finite. */
void record_cost(REAL c, REAL target, __global REAL *cost, __global int *state)
{
    cost[0] = c;
    if (isnan(c) || isinf(c) || c < target) state[0] = 1;
}
#endif
