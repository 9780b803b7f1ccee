// SPDX-License-Identifier: MIT
/* philox.c: Philox4x32-10, a counter-based generator (each number a pure function of a counter
 * and a key, so any unit's draw can be made anywhere, in any order), and the dropout decision
 * built on it. The same algorithm is written in OpenCL C in kernels/dropout.cl. */
#include <math.h>

#include "philox.h"

#define PHILOX_M0 0xD2511F53u /* the round multipliers */
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u /* the key's Weyl increments: the golden ratio, sqrt(3) − 1 */
#define PHILOX_W1 0xBB67AE85u

void mlpcl__philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; ++r) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

uint32_t mlpcl__dropout_threshold(double p)
{
    double t = floor(p * 4294967296.0);
    return t <= 0 ? 0u : t >= 4294967295.0 ? 0xFFFFFFFFu : (uint32_t)t;
}

int mlpcl__dropout_keep(uint64_t seed, uint32_t epoch, uint32_t layer, uint32_t pos, uint32_t unit,
                        uint32_t threshold)
{
    const uint32_t ctr[4] = {unit, pos, epoch, layer};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    mlpcl__philox4x32_10(ctr, key, out);
    return out[0] >= threshold;
}
