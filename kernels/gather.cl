// SPDX-License-Identifier: MIT
/* gather.cl: copies the rows of one batch into the batch buffers: rows idx[offset + i] of the
 * sources (the shuffled training set) or, without an index, rows offset + i (held-out data in
 * chunks). The data set stays on the device; only the index changes, once an epoch. Needs
 * common.cl. */

/* Copies a batch's rows of src (width wide) into dst and, in the same launch, unless src2 is
 * NULL, those of src2 (width2 wide) into dst2: a batch's inputs and targets, one launch fewer
 * an iteration. Each work-item copies `chunk` consecutive elements of a row (the last one of a
 * row fewer): 1 on GPUs, so that neighbouring work-items read neighbouring elements; a run of a
 * row on CPUs, where one element a work-item made a work-group of 64 per 64 elements copied and
 * the work-groups' overhead the most of an epoch's gather. Global (⌈width/chunk⌉ +
 * ⌈width2/chunk⌉, mb) rounded up: the first ⌈width/chunk⌉ columns of work-items copy src. */
#ifndef SKIP_gather
__kernel void gather(const int mb, const int width, __global const REAL *src,
                     __global const int *idx, const int use_idx, const int offset,
                     __global REAL *dst, const int chunk, const int width2,
                     __global const REAL *src2, __global REAL *dst2)
{
    const int i = get_global_id(1), first = (width + chunk - 1) / chunk;
    int c = get_global_id(0), w = width;
    __global const REAL *s = src;
    __global REAL *d = dst;
    if (c >= first) {
        c -= first, w = width2, s = src2, d = dst2;
        if (!s) return;
    }
    const int j0 = c * chunk;
    if (i >= mb || j0 >= w) return;
    const int end = min(j0 + chunk, w);
    __global const REAL *from = s + batch_row(use_idx ? idx : 0, offset, i) * w;
    __global REAL *to = d + (size_t)i * w;
    int j = j0; /* CPUs' runs 16 elements at a time: a batch-64 gather of 784 inputs 37 against
                   42 us on a 2-core EPYC (medians of four epochs, each faster) */
    for (; j + 16 <= end; j += 16) vstore16(vload16(0, from + j), 0, to + j);
    for (; j < end; ++j) to[j] = from[j];
}
#endif
