// SPDX-License-Identifier: MIT
/* gradient.cl: the reduction over the batch, [dW; db] = [A_in 1]ᵀ · D, written to G + off as
 * dW (n_in×n_out) followed by db (n_out): the same layout as the parameters. Needs common.cl
 * and ops.cl. */

/* Global (n_out, n_in + 1) rounded up; row k = n_in is the bias, the column sums of D. */
#ifndef SKIP_gradient
__kernel void gradient(const int m, const int n_in, const int n_out, __global const REAL *A_in,
                       __global const REAL *D, __global REAL *G, const int off)
{
    const int j = get_global_id(0), k = get_global_id(1);
    if (j >= n_out || k > n_in) return;
    G[off + (size_t)k * n_out + j] = gradient_element(m, n_in, n_out, A_in, D, k, j);
}
#endif
