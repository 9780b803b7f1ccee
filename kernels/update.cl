// SPDX-License-Identifier: MIT
/* update.cl: the optimiser step over the flat parameter array (ops.cl's sgd_update). Like the
 * parameters, the velocity is double-buffered, so that a run that stops keeps both of the
 * iteration it stops at. Skipped entirely once the stop flag is set, so that iterations queued
 * ahead of the host's cost read cannot move the weights past the iteration that converged or
 * diverged. Needs common.cl and ops.cl. */

__kernel void update(const int n, const REAL lr, const REAL mu, __global const REAL *P,
                     __global const REAL *G, __global const REAL *V, __global REAL *V_next,
                     __global REAL *P_next, __global const int *state)
{
    const int i = get_global_id(0);
    if (i >= n || state[0]) return;
    sgd_update(i, G[i], lr, mu, P, V, V_next, P_next);
}
