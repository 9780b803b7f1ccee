// SPDX-License-Identifier: MIT
/* train_early_stop.h: `mlpcl train --early-stop N` (train_early_stop.c): watches the held-out
 * loss after each epoch, keeps a copy of the best epoch's weights and optimiser state, says
 * when N epochs have passed without a lower one, and puts the best back into the trainer. */
#ifndef MLPCL_TRAIN_EARLY_STOP_H
#define MLPCL_TRAIN_EARLY_STOP_H

#include "train.h"

typedef struct early_stop early_stop;

/* Starts watching for s (s->o->early_stop epochs of patience); the held-out set is named by
 * `set` ("validation" or "test"). 0, or an exit status. */
int early_stop_start(session *s, const char *set, early_stop **out);
/* After an epoch (s->epochs_done of them) whose held-out loss is `loss`: keeps the weights
 * when it is the lowest so far; *stop = 1 when the patience has run out. 0, or an exit
 * status. */
int early_stop_epoch(early_stop *es, session *s, double loss, int *stop);
/* At the end: puts the best epoch's weights, velocity and Adam state back into the trainer, with
 * the progress (epochs and updates) they had, and says which epoch they are from. 0, or an exit
 * status. */
int early_stop_restore(early_stop *es, session *s, int stopped);
void early_stop_free(early_stop *es);

#endif
