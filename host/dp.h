// SPDX-License-Identifier: MIT
/* dp.h: what the data-parallel backend (dp_backend.c) asks of one OpenCL worker trainer
 * (dp_worker.c). Not installed. */
#ifndef MLPCL_DP_H
#define MLPCL_DP_H

#include "trainer.h"

/* Readies a worker for a run or epoch: its step and momentum, no stop of its own, the epoch's
 * shuffle (perm, tr->m ints; NULL: none) and, for an epoch (o not NULL), its dropout, which
 * masks each row by its place in the epoch as on one device. */
mlpcl_status mlpcl__dp_worker_prepare(mlpcl_trainer *tr, double lr, double momentum,
                                      const int *perm, const mlpcl_epoch_opts *o);
/* After an epoch: the worker's launches drop nothing until the next one that drops. */
mlpcl_status mlpcl__dp_worker_dropout_end(mlpcl_trainer *tr);
/* Enqueues the worker's forward and backward pass over rows rows, its loss scaled as a share of
 * total (the whole batch's rows): gathered, rows [offset, offset + rows) of the shuffle; else
 * its own training set (gathered rows take dropout's mask of their places in the epoch, from
 * offset). Then reads, without waiting, its gradients and its cost (n_params + 1
 * reals) into buf. Not by_layer: one read of all, *ev (ev[0]) completes when they are there;
 * by_layer: ev[0] completes with the cost, ev[l] (l = 1 … L) with layer l's slice, the layers
 * computed and read from the last down, so that the group can sum one while the next runs.
 * cost_only: the forward pass and the cost alone (a run's last head), ev[0] with the cost. */
mlpcl_status mlpcl__dp_worker_gradient(mlpcl_trainer *tr, int gathered, size_t offset, size_t rows,
                                       size_t total, int by_layer, int cost_only, void *buf,
                                       cl_event *ev);
/* Enqueues the update of the worker's current parameters with the summed gradients sum
 * (n_params reals, kept until the queue has read them) and counts it in tr->iter. */
mlpcl_status mlpcl__dp_worker_update(mlpcl_trainer *tr, const void *sum);

#endif
