// SPDX-License-Identifier: MIT
/* train_schedule.h: `mlpcl train`'s learning-rate schedules (train_schedule.c): the rate of each
 * epoch from the base --lr, the --lr-schedule and --warmup. A function of the epoch's index
 * alone, so that a resumed run continues the schedule where the first run left it. */
#ifndef MLPCL_TRAIN_SCHEDULE_H
#define MLPCL_TRAIN_SCHEDULE_H

enum { SCHED_CONSTANT = 0, SCHED_STEP = 1, SCHED_COSINE = 2 };

typedef struct train_schedule {
    int kind;     /* SCHED_CONSTANT, SCHED_STEP or SCHED_COSINE */
    long step;    /* SCHED_STEP: epochs between decays (≥ 1) */
    double gamma; /* SCHED_STEP: the factor of each decay, in (0, 1] */
    long warmup;  /* epochs of linear warm-up, 0 for none */
} train_schedule;

/* Parses "constant", "step:EPOCHS:GAMMA" or "cosine" into s (its warmup untouched): 0, or the
 * exit status of a usage error (reported). */
int schedule_parse(const char *text, train_schedule *s);

/* The rate of epoch e (from 0) of a run of `epochs` epochs with base rate lr:
 *   constant  lr
 *   step      lr · GAMMA^⌊e / EPOCHS⌋
 *   cosine    lr · (1 + cos(π · e / epochs)) / 2   (PyTorch's CosineAnnealingLR, T_max = epochs,
 *                                                   eta_min = 0, in its closed form)
 * times (e + 1) / warmup while e < warmup. */
double schedule_rate(const train_schedule *s, double lr, long e, long epochs);

/* Whether the rate differs from lr in some epoch (a schedule other than constant, or warm-up). */
int schedule_active(const train_schedule *s);

#endif
