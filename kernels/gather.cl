// SPDX-License-Identifier: MIT
/* gather.cl: copies the rows of one batch into the batch buffer: rows idx[offset + i] of src
 * (the shuffled training set) or, without an index, rows offset + i (held-out data in chunks).
 * The data set stays on the device; only the index changes, once an epoch. Needs common.cl. */

/* Each work-item copies `chunk` consecutive elements of a row (the last one of a row fewer):
 * 1 on GPUs, so that neighbouring work-items read neighbouring elements; a run of a row on
 * CPUs, where one element a work-item made a work-group of 64 per 64 elements copied and the
 * work-groups' overhead the most of an epoch's gather. Global (⌈width/chunk⌉, mb) rounded up. */
__kernel void gather(const int mb, const int width, __global const REAL *src,
                     __global const int *idx, const int use_idx, const int offset,
                     __global REAL *dst, const int chunk)
{
    const int c = get_global_id(0), i = get_global_id(1), j0 = c * chunk;
    if (i >= mb || j0 >= width) return;
    const int row = use_idx ? idx[offset + i] : offset + i, end = min(j0 + chunk, width);
    __global const REAL *from = src + (size_t)row * width;
    __global REAL *to = dst + (size_t)i * width;
    for (int j = j0; j < end; ++j) to[j] = from[j];
}
