// SPDX-License-Identifier: MIT
/* gather.cl: copies the rows of one batch into the batch buffer: rows idx[offset + i] of src
 * (the shuffled training set) or, without an index, rows offset + i (held-out data in chunks).
 * The data set stays on the device; only the index changes, once an epoch. Needs common.cl. */

/* Global (width, mb) rounded up. */
__kernel void gather(const int mb, const int width, __global const REAL *src,
                     __global const int *idx, const int use_idx, const int offset,
                     __global REAL *dst)
{
    const int j = get_global_id(0), i = get_global_id(1);
    if (i >= mb || j >= width) return;
    const int row = use_idx ? idx[offset + i] : offset + i;
    dst[(size_t)i * width + j] = src[(size_t)row * width + j];
}
