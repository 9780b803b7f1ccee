// SPDX-License-Identifier: MIT
/* rng.c: the generator behind every random number mlpcl draws (splitmix64: the same stream on
 * every platform) and the epoch's shuffle drawn from it, which the OpenCL backend and the host
 * reference both use so that an epoch visits the samples in the same order on either. */
#include "internal.h"

uint64_t mlpcl__rng_next(mlpcl_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double mlpcl__rng_uniform(mlpcl_rng *r)
{
    return (double)(mlpcl__rng_next(r) >> 11) * 0x1.0p-53;
}

void mlpcl__shuffle(size_t n, uint64_t seed, long epoch, int *perm)
{
    /* Fisher–Yates, from a stream that depends on both the seed and the epoch. */
    mlpcl_rng rng = {seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(epoch + 1))};
    for (size_t i = 0; i < n; ++i) perm[i] = (int)i;
    for (size_t i = n; i > 1; --i) {
        size_t j = (size_t)(mlpcl__rng_next(&rng) % i);
        int t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
