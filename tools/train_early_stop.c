// SPDX-License-Identifier: MIT
/* train_early_stop.c: `mlpcl train --early-stop N`: the best held-out loss so far and a copy
 * of its optimiser state (weights, velocity, and Adam's second moments and step count: read
 * from the trainer when an epoch beats it), the count of epochs since, and the restore at the
 * end, so that --save writes the best epoch's model as a resume from that epoch needs it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "train_early_stop.h"

struct early_stop {
    const char *set;   /* "validation" or "test" */
    double best;       /* the lowest held-out loss so far (+inf before any) */
    long best_epoch;   /* its epoch, from 1; 0 before any */
    long best_updates; /* updates applied when it was reached */
    long since;        /* epochs since it */
    mlpcl_net *net;    /* its weights */
    double *v;         /* its momentum velocity (Adam's first moments), n_params values */
    double *s;         /* Adam's second moments, n_params values; NULL with SGD */
    long step;         /* and Adam's step count */
};

int early_stop_start(session *s, const char *set, early_stop **out)
{
    early_stop *es = calloc(1, sizeof *es);
    size_t n = mlpcl_net_n_params(s->net);
    int adam = s->o->optimizer != MLPCL_OPT_SGD;
    if (!es || !(es->v = malloc(n * sizeof *es->v + 1)) ||
        (adam && !(es->s = malloc(n * sizeof *es->s + 1))) ||
        mlpcl_net_clone(s->net, &es->net) != MLPCL_OK) {
        early_stop_free(es);
        return failf(EXIT_DEVICE, "out of host memory");
    }
    es->set = set;
    es->best = INFINITY;
    *out = es;
    return 0;
}

int early_stop_epoch(early_stop *es, session *s, double loss, int *stop)
{
    int st;
    *stop = 0;
    if (loss < es->best) { /* a NaN loss is never an improvement */
        if ((st = mlpcl_trainer_params(s->tr, es->net)) != MLPCL_OK ||
            (st = mlpcl_trainer_velocity(s->tr, es->v)) != MLPCL_OK ||
            (es->s && (st = mlpcl_trainer_adam_state(s->tr, es->s, &es->step)) != MLPCL_OK))
            return lib_fail(st);
        es->best = loss;
        es->best_epoch = s->epochs_done;
        es->best_updates = s->updates;
        es->since = 0;
        return 0;
    }
    *stop = ++es->since >= s->o->early_stop;
    return 0;
}

int early_stop_restore(early_stop *es, session *s, int stopped)
{
    int st;
    if (stopped)
        printf("early stop: no lower %s loss in the %ld epochs after epoch %ld; ", es->set,
               es->since, es->best_epoch);
    if (!es->best_epoch) { /* every held-out loss was NaN: nothing better to go back to */
        printf("no epoch had a finite %s loss; kept the last weights\n", es->set);
        return 0;
    }
    printf("%s the weights of epoch %ld, the lowest %s loss (%.*g)\n",
           es->best_epoch == s->epochs_done ? "kept" : "restored", es->best_epoch, es->set,
           s->rep.digits, es->best);
    if (es->best_epoch == s->epochs_done) return 0;
    if ((st = mlpcl_trainer_set_params(s->tr, es->net)) != MLPCL_OK ||
        (st = mlpcl_trainer_set_velocity(s->tr, es->v)) != MLPCL_OK ||
        (es->s && (st = mlpcl_trainer_set_adam_state(s->tr, es->s, es->step)) != MLPCL_OK))
        return lib_fail(st);
    /* The model saved is then the state after the best epoch, as a resume should see it. */
    s->epochs_done = es->best_epoch;
    s->batch_pos = 0;
    s->updates = es->best_updates;
    return 0;
}

void early_stop_free(early_stop *es)
{
    if (!es) return;
    mlpcl_net_free(es->net);
    free(es->v);
    free(es->s);
    free(es);
}
