// SPDX-License-Identifier: MIT
/* forward.cl: one layer's forward pass, A_out = act(A_in · W + b), and the softmax of the
 * output layer. A_in is m×n_in, W is n_in×n_out with b (n_out) right after it at P + off,
 * A_out is m×n_out, all row-major. Needs common.cl and ops.cl. */

/* One work-item per output element: global (n_out, m) rounded up, indices guarded. */
#ifndef SKIP_forward
__kernel void forward(const int m, const int n_in, const int n_out, const int act,
                      __global const REAL *A_in, __global const REAL *P, const int off,
                      __global REAL *A_out)
{
    const int j = get_global_id(0), i = get_global_id(1);
    if (i >= m || j >= n_out) return;
    A_out[(size_t)i * n_out + j] =
        forward_element(act, n_in, n_out, A_in + (size_t)i * n_in, P + off, j);
}
#endif

/* Row-wise softmax in place over the logits Z (m×n): one work-item per row. */
#ifndef SKIP_softmax
__kernel void softmax(const int m, const int n, __global REAL *Z)
{
    const int i = get_global_id(0);
    if (i < m) softmax_row(n, Z + (size_t)i * n);
}
#endif
