/* update.cl: the SGD update over the flat parameter array, P_next = P − lr·G. Skipped entirely
 * once the stop flag is set, so that iterations queued ahead of the host's cost read cannot
 * move the weights past the iteration that converged or diverged. Needs common.cl. */

__kernel void update(const int n, const REAL lr, __global const REAL *P, __global const REAL *G,
                     __global REAL *P_next, __global const int *state)
{
    const int i = get_global_id(0);
    if (i >= n || state[0]) return;
    P_next[i] = P[i] - lr * G[i];
}
