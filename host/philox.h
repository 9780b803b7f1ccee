// SPDX-License-Identifier: MIT
/* philox.h: the counter-based generator behind dropout (philox.c): Philox4x32-10 (Salmon et
 * al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), and the dropout decision it
 * makes for one unit. kernels/dropout.cl carries the same algorithm in OpenCL C, so that the
 * device drops exactly the units the host reference drops. Not installed. */
#ifndef MLPCL_PHILOX_H
#define MLPCL_PHILOX_H

#include <stddef.h>
#include <stdint.h>

/* out = Philox4x32-10(ctr, key): ten rounds, the key bumped by the Weyl constants between. */
void mlpcl__philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* The 32-bit threshold of a dropout rate p in [0, 1): a unit is dropped when its draw (a
 * uniform 32-bit integer) is below it, with probability threshold / 2³². */
uint32_t mlpcl__dropout_threshold(double p);

/* Whether unit `unit` of sample row `pos` (its position in the epoch's shuffled order: batch ·
 * batch size + row in the batch) in hidden layer `layer` is kept in epoch `epoch` of a run
 * seeded with `seed`: word 0 of Philox4x32-10 with counter (unit, pos, epoch, layer) and key
 * the seed's two halves, at or above the threshold. */
int mlpcl__dropout_keep(uint64_t seed, uint32_t epoch, uint32_t layer, uint32_t pos, uint32_t unit,
                        uint32_t threshold);

#endif
