// SPDX-License-Identifier: MIT
/* delta.cl: the backward pass's deltas. output_delta writes D_L and per-work-group partial sums
 * of the loss (or, as one work-group, the cost); cost turns those into the cost and sets the
 * stop flag; hidden_delta carries a delta one layer down. Matrices are m×n row-major. Needs
 * common.cl and ops.cl. */

/* D = (A − Y)/m ⊙ act'(A) for MSE, (A − Y)/m for softmax + cross-entropy; partials[g] = the
 * group's sum of (A − Y)² (MSE) or −Y·log A (CE). 1-D over m·n, work-group size WG. A launch of
 * one work-group (small batches) walks all m·n elements and finishes the cost itself, as the
 * cost kernel would from its one partial sum: cost[slot] = scale · the sum, and the stop flag;
 * one launch fewer a batch. */
#ifndef SKIP_output_delta
__kernel void output_delta(const int mn, const int m, const int act, const int loss,
                           __global const REAL *A, __global const REAL *Y, __global REAL *D,
                           __global REAL *partials, const REAL scale, const REAL target,
                           __global REAL *cost, __global int *state, const int slot)
{
    __local REAL sums[WG];
    const int lid = get_local_id(0), whole = get_num_groups(0) == 1;
    REAL sum = 0;
    for (int i = get_global_id(0); i < mn; i += get_global_size(0)) {
        REAL e;
        D[i] = delta_and_loss(loss, act, m, A[i], Y[i], &e);
        sum += e;
    }
    sums[lid] = sum;
    group_sum(sums, WG);
    if (lid == 0 && whole)
        record_cost(scale * sums[0], target, cost + slot, state);
    else if (lid == 0)
        partials[get_group_id(0)] = sums[0];
}
#endif

/* One work-group of WG: cost[slot] = scale · Σ partials (fixed order), and state[0] = 1 (stop)
 * when the cost is below target or not finite. The flag stays set until the host clears it.
 * slot: the iteration's place in a read of several iterations' costs (host/cl_loop.c). */
#ifndef SKIP_cost
__kernel void cost(const int n_partials, const REAL scale, const REAL target,
                   __global const REAL *partials, __global REAL *cost, __global int *state,
                   const int slot)
{
    __local REAL sums[WG];
    const int lid = get_local_id(0);
    REAL s = 0;
    for (int i = lid; i < n_partials; i += WG) s += partials[i];
    sums[lid] = s;
    group_sum(sums, WG);
    if (lid == 0) record_cost(scale * sums[0], target, cost + slot, state);
}
#endif

/* D_l = (D_next · W_nextᵀ) ⊙ act'(A_l): D_next is m×n_next, W_next (n×n_next) at P + off_next.
 * Global (n, m) rounded up. */
#ifndef SKIP_hidden_delta
__kernel void hidden_delta(const int m, const int n, const int n_next, const int act,
                           __global const REAL *D_next, __global const REAL *P, const int off_next,
                           __global const REAL *A, __global REAL *D)
{
    const int j = get_global_id(0), i = get_global_id(1);
    if (i >= m || j >= n) return;
    const size_t ij = (size_t)i * n + j;
    D[ij] = hidden_delta_element(act, n_next, D_next + (size_t)i * n_next,
                                 P + off_next + (size_t)j * n_next, A[ij]);
}
#endif
