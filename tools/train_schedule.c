// SPDX-License-Identifier: MIT
/* train_schedule.c: the learning-rate schedules of `mlpcl train` (--lr-schedule, --warmup): the
 * parser of the schedule's text and the rate of each epoch. Kept apart from the epoch loop so
 * that the formulas sit in one place, next to their statement in train_schedule.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "train.h"

#define PI 3.14159265358979323846 /* math.h's PI is not ISO C */

int schedule_parse(const char *text, train_schedule *s)
{
    if (!strcmp(text, "constant")) {
        s->kind = SCHED_CONSTANT;
        return 0;
    }
    if (!strcmp(text, "cosine")) {
        s->kind = SCHED_COSINE;
        return 0;
    }
    if (!strncmp(text, "step:", 5)) {
        char *end;
        errno = 0;
        long step = strtol(text + 5, &end, 10);
        if (end != text + 5 && *end == ':' && !errno && step >= 1 && step <= 100000000) {
            const char *g = end + 1;
            double gamma = strtod(g, &end);
            if (end != g && !*end && gamma > 0 && gamma <= 1) {
                s->kind = SCHED_STEP;
                s->step = step;
                s->gamma = gamma;
                return 0;
            }
        }
    }
    return failf(EXIT_USAGE,
                 "train: --lr-schedule expects constant, cosine or step:EPOCHS:GAMMA (EPOCHS "
                 "from 1, GAMMA in (0, 1], e.g. step:10:0.5), not '%s'",
                 text);
}

double schedule_rate(const train_schedule *s, double lr, long e, long epochs)
{
    double rate = lr;
    if (s->kind == SCHED_STEP)
        rate = lr * pow(s->gamma, (double)(e / s->step));
    else if (s->kind == SCHED_COSINE)
        rate = lr * (1.0 + cos(PI * (double)e / (double)epochs)) / 2.0;
    if (e < s->warmup) rate = rate * (double)(e + 1) / (double)s->warmup;
    return rate;
}

int schedule_active(const train_schedule *s)
{
    return s->kind != SCHED_CONSTANT || s->warmup > 0;
}
