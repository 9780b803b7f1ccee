/* common.cl: what every kernel file shares; the library puts it first in the program, and the
 * build's syntax check includes it before each file. REAL is float or double (a -D option);
 * WG is the work-group size of the 1-D reductions, a power of two. */
#ifndef MLPCL_COMMON_CL
#define MLPCL_COMMON_CL
#ifndef REAL
#define REAL float
#endif
#ifndef WG
#define WG 64
#endif
#ifdef REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

/* Activations, as host/reference.c numbers them; IDENTITY is internal (softmax's logits). */
#define ACT_SIGMOID 0
#define ACT_TANH 1
#define ACT_RELU 2
#define ACT_IDENTITY 3

/* Losses. */
#define LOSS_MSE 0
#define LOSS_CE 1

REAL activate(int act, REAL z)
{
    switch (act) {
    case ACT_TANH: return tanh(z);
    case ACT_RELU: return z > (REAL)0 ? z : (REAL)0;
    case ACT_IDENTITY: return z;
    default: return (REAL)1 / ((REAL)1 + exp(-z));
    }
}

/* The activation's derivative, from its output a. */
REAL act_slope(int act, REAL a)
{
    switch (act) {
    case ACT_TANH: return (REAL)1 - a * a;
    case ACT_RELU: return a > (REAL)0 ? (REAL)1 : (REAL)0;
    case ACT_IDENTITY: return (REAL)1;
    default: return ((REAL)1 - a) * a;
    }
}

/* The output layer's delta for one element with output a and target y: (a − y)/m ⊙ act'(a) for
 * MSE, (a − y)/m for softmax + cross-entropy. *term gets the element's share of the loss sum,
 * (a − y)² or −y·log a. */
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
