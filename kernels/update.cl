/* update.cl: the SGD update over the flat parameter array, with momentum: V_next = mu·V + G,
 * then P_next = P − lr·V_next (with mu = 0, exactly P − lr·G and no velocity written). Like the
 * parameters, the velocity is double-buffered, so that a run that stops keeps both of the
 * iteration it stops at. Skipped entirely once the
 * stop flag is set, so that iterations queued ahead of the host's cost read cannot move the
 * weights past the iteration that converged or diverged. Needs common.cl. */

__kernel void update(const int n, const REAL lr, const REAL mu, __global const REAL *P,
                     __global const REAL *G, __global const REAL *V, __global REAL *V_next,
                     __global REAL *P_next,
                     __global const int *state)
{
    const int i = get_global_id(0);
    if (i >= n || state[0]) return;
    REAL g = G[i];
    if (mu != (REAL)0) {
        g = mu * V[i] + g;
        V_next[i] = g;
    }
    P_next[i] = P[i] - lr * g;
}
