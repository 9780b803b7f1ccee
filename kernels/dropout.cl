// SPDX-License-Identifier: MIT
/* dropout.cl: inverted dropout on a hidden layer while training. dropout_forward keeps the
 * layer's activations before the mask (for act' in the backward pass) and masks and scales
 * them in place; dropout_backward applies the same mask to the layer's delta. The mask comes
 * from Philox4x32-10, the same algorithm as host/philox.c, so the device drops the units the
 * host reference drops. Matrices are m×n, in rows or in strips w wide
 * of cap rows (common.cl's strip_at; w = n: rows). Needs common.cl. */

#define PHILOX_M0 0xD2511F53u /* the round multipliers */
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u /* the key's Weyl increments */
#define PHILOX_W1 0xBB67AE85u

/* Word 0 of Philox4x32-10 of counter c and key k (the only word dropout uses). */
INLINE uint philox_word0(uint4 c, uint2 k)
{
    for (int r = 0; r < 10; ++r) {
        const uint hi0 = mul_hi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
        const uint hi1 = mul_hi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k += (uint2)(PHILOX_W0, PHILOX_W1);
    }
    return c.x;
}

/* Whether unit j of the row at position pos in the epoch is kept: counter (j, pos, epoch,
 * layer), key (the seed's low and high halves), kept when the draw is at or above threshold. */
INLINE int dropout_keep(uint seed_lo, uint seed_hi, uint epoch, uint layer, uint pos, uint j,
                        uint threshold)
{
    return philox_word0((uint4)(j, pos, epoch, layer), (uint2)(seed_lo, seed_hi)) >= threshold;
}

/* H = A; A = kept ? A · scale : 0, for rows pos0 … pos0 + m − 1 of the epoch. Global (n, m)
 * rounded up. With threshold 0 and scale 1 (predicting) A stays as it is. */
#ifndef SKIP_dropout_forward
__kernel void dropout_forward(const int m, const int n, const uint threshold, const REAL scale,
                              const uint seed_lo, const uint seed_hi, const uint epoch,
                              const uint layer, const uint pos0, const int w, const int cap,
                              __global REAL *A, __global REAL *H)
{
    const int j = get_global_id(0), i = get_global_id(1);
    if (i >= m || j >= n) return;
    const size_t ij = strip_at(i, j, w, cap);
    const REAL a = A[ij];
    H[ij] = a;
    A[ij] = dropout_keep(seed_lo, seed_hi, epoch, layer, pos0 + (uint)i, (uint)j, threshold)
                ? a * scale
                : (REAL)0;
}
#endif

/* D = kept ? D · scale : 0, the forward pass's mask. Global (n, m) rounded up. */
#ifndef SKIP_dropout_backward
__kernel void dropout_backward(const int m, const int n, const uint threshold, const REAL scale,
                               const uint seed_lo, const uint seed_hi, const uint epoch,
                               const uint layer, const uint pos0, const int w, const int cap,
                               __global REAL *D)
{
    const int j = get_global_id(0), i = get_global_id(1);
    if (i >= m || j >= n) return;
    const size_t ij = strip_at(i, j, w, cap);
    D[ij] = dropout_keep(seed_lo, seed_hi, epoch, layer, pos0 + (uint)i, (uint)j, threshold)
                ? D[ij] * scale
                : (REAL)0;
}
#endif
