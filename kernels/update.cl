// SPDX-License-Identifier: MIT
/* update.cl: the optimiser step over the flat parameter array: ops.cl's sgd_update (update) and
 * its other optimisers (optim). Like the parameters, the velocity (and Adam's state) is
 * double-buffered, so that a run that stops keeps both of the
 * iteration it stops at. Skipped entirely once the stop flag is set, so that iterations queued
 * ahead of the host's cost read cannot move the weights past the iteration that converged or
 * diverged. Needs common.cl and ops.cl. */

#ifndef SKIP_update
__kernel void update(const int n, const REAL lr, const REAL mu, __global const REAL *P,
                     __global const REAL *G, __global const REAL *V, __global REAL *V_next,
                     __global REAL *P_next, __global const int *state)
{
    const int i = get_global_id(0);
    if (i >= n || state[0]) return;
    sgd_update(i, G[i], lr, mu, P, V, V_next, P_next);
}
#endif

/* ops.cl's optim_update for every parameter; T and T_next hold Adam's step count (one int),
 * which work-item 0 advances. */
#ifndef SKIP_optim
__kernel void optim(const int n, const REAL lr, const REAL mu, __global const REAL *P,
                    __global const REAL *G, __global const REAL *V, __global REAL *V_next,
                    __global REAL *P_next, __global const int *state, const int kind,
                    const int nesterov, __global const REAL *hyper, __global const REAL *S,
                    __global REAL *S_next, __global const int *T, __global int *T_next)
{
    const int i = get_global_id(0);
    const int t = T[0] + (kind != OPT_SGD);
    /* Adam's corrections once a work-group (every work-item reaches the barrier) */
    __local REAL shared[2];
    if (kind != OPT_SGD && get_local_id(0) == 0) {
        REAL c0[2];
        adam_corrections(lr, hyper, t, c0);
        shared[0] = c0[0], shared[1] = c0[1];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (i >= n || state[0]) return;
    if (i == 0) T_next[0] = t;
    const REAL c[2] = {shared[0], shared[1]};
    optim_update(i, G[i], lr, mu, kind, nesterov, hyper, c, P, V, V_next, S, S_next, P_next);
}
#endif
