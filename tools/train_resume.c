// SPDX-License-Identifier: MIT
/* train_resume.c: what decides a training run's numbers besides the network (precision, data,
 * seed, lr, momentum, batch, mode, device kind, initialisation, optimiser, schedule, dropout),
 * recorded in every model file the run writes, and checked when --resume continues one: the
 * settings not given are the file's, those given must agree with it (or --force). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

static const char *const init_names[] = {"ones", "uniform"};
static const char *const optim_names[] = {"sgd", "adam", "adamw"};

/* The schedule as recorded: "constant", "step:N:G" or "cosine:EPOCHS" (a cosine's rates depend
 * on the run's length), then "+warmup:N". */
static void schedule_text(const train_cli *o, char *out, size_t size)
{
    const train_schedule *c = &o->sched;
    int n = c->kind == SCHED_STEP     ? snprintf(out, size, "step:%ld:%.17g", c->step, c->gamma)
            : c->kind == SCHED_COSINE ? snprintf(out, size, "cosine:%ld", o->epochs)
                                      : snprintf(out, size, "constant");
    if (c->warmup && n >= 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, "+warmup:%ld", c->warmup);
}

void resume_defaults(train_cli *o, const mlpcl_model_info *info)
{
    if (!o->seed_given) o->seed = (long)info->seed;
    if (!info->run.present) return; /* a file from before the records: the defaults stand */
    if (!o->lr_given) o->lr = info->run.lr;
    if (!o->momentum_given && o->optimizer == MLPCL_OPT_SGD) o->momentum = info->run.momentum;
    if (!o->batch_given && o->epoch_mode) o->batch = info->run.batch;
}

/* A 64-bit digest of a data set's sizes and the bit patterns of its values, as 16 hex digits:
 * a multiply-xorshift over 8-byte words (not cryptographic: it tells data apart, fast). */
static void digest(const mlpcl_dataset *d, char *out, size_t size)
{
    uint64_t h = 0x6a09e667f3bcc909ULL;
#define MIX(w) (h ^= (w), h *= 0x9e3779b97f4a7c15ULL, h ^= h >> 31)
    MIX((uint64_t)d->n);
    MIX((uint64_t)d->n_in);
    MIX((uint64_t)d->n_out);
    const double *arrays[2] = {d->X, d->Y};
    size_t counts[2] = {d->n * d->n_in, d->n * d->n_out};
    for (int a = 0; a < 2; ++a)
        for (size_t i = 0; i < counts[a]; ++i) {
            uint64_t w;
            memcpy(&w, &arrays[a][i], sizeof w);
            MIX(w);
        }
#undef MIX
    snprintf(out, size, "%016llx", (unsigned long long)h);
}

/* Appends "; what: WAS in FILE, NOW now (hint)" to the list of differences. */
static void differ(char *list, size_t size, const char *what, const char *was, const char *now,
                   const char *hint)
{
    size_t len = strlen(list);
    snprintf(list + len, size - len, "%s%s %s in the file, %s now%s%s%s", len ? "; " : "", what,
             was, now, *hint ? " (" : "", hint, *hint ? ")" : "");
}

static void differ_num(char *list, size_t size, const char *what, double was, double now,
                       const char *hint)
{
    char a[32], b[32];
    snprintf(a, sizeof a, "%.17g", was);
    snprintf(b, sizeof b, "%.17g", now);
    differ(list, size, what, a, b, hint);
}

int resume_settle(session *s)
{
    const train_cli *o = s->o;
    const mlpcl_model_info *f = &s->info;
    int host = mlpcl_ctx_device(s->ctx)->platform < 0;
    mlpcl_run_record *r = &s->run;
    *r = (mlpcl_run_record){0};
    r->present = 1;
    snprintf(r->mode, sizeof r->mode, "%s", o->epoch_mode ? "epochs" : "tutorial");
    snprintf(r->device_kind, sizeof r->device_kind, "%s", host ? "host" : "opencl");
    int init = o->init_given ? o->init : o->data ? MLPCL_INIT_UNIFORM : MLPCL_INIT_ONES;
    snprintf(r->init, sizeof r->init, "%s", init_names[init]);
    digest(&s->d.train, r->data_digest, sizeof r->data_digest);
    r->lr = o->lr;
    r->momentum = o->momentum;
    r->batch = o->epoch_mode ? o->batch : 0;
    snprintf(r->optimizer, sizeof r->optimizer, "%s", optim_names[o->optimizer]);
    r->nesterov = o->nesterov != 0;
    if (o->optimizer != MLPCL_OPT_SGD) r->beta1 = o->beta1, r->beta2 = o->beta2, r->eps = o->eps;
    r->weight_decay = o->weight_decay;
    schedule_text(o, r->lr_schedule, sizeof r->lr_schedule);
    r->dropout = o->dropout;
    s->prec = o->precision == 1 || (o->precision < 0 && host) ? MLPCL_PRECISION_DOUBLE
                                                              : MLPCL_PRECISION_FLOAT;
    if (!o->resume) return 0;
    /* The precision is the file's unless told: a double checkpoint resumed without
     * --precision double goes on in double (the host trainer is double only). */
    if (o->precision < 0 && !host) s->prec = f->dtype;
    /* A resumed network was initialised by the first run: its init is the first run's. */
    if (f->run.present && !o->init_given) snprintf(r->init, sizeof r->init, "%s", f->run.init);
    char list[2048] = "";
    const char *names[2] = {"float", "double"};
    if (s->prec != f->dtype)
        differ(list, sizeof list, "precision", names[f->dtype == MLPCL_PRECISION_DOUBLE],
               names[s->prec == MLPCL_PRECISION_DOUBLE],
               host ? "the host trainer is double only" : "--precision");
    if ((uint64_t)o->seed != f->seed) {
        char a[24], b[24];
        snprintf(a, sizeof a, "%llu", (unsigned long long)f->seed);
        snprintf(b, sizeof b, "%ld", o->seed);
        differ(list, sizeof list, "seed", a, b, "--seed");
    }
    if (f->run.present) {
        const mlpcl_run_record *w = &f->run;
        if (strcmp(w->mode, r->mode))
            differ(list, sizeof list, "mode", w->mode, r->mode,
                   "epochs with --data, --batch or --epochs");
        if (strcmp(w->device_kind, r->device_kind))
            differ(list, sizeof list, "device kind", w->device_kind, r->device_kind, "--device");
        if (strcmp(w->data_digest, r->data_digest))
            differ(list, sizeof list, "training data digest", w->data_digest, r->data_digest,
                   "--data, --x/--y, --samples, --validation, --label-column, --targets");
        if (strcmp(w->init, r->init)) differ(list, sizeof list, "init", w->init, r->init, "--init");
        if (w->lr != r->lr) differ_num(list, sizeof list, "lr", w->lr, r->lr, "--lr");
        if (w->momentum != r->momentum)
            differ_num(list, sizeof list, "momentum", w->momentum, r->momentum, "--momentum");
        if (w->batch != r->batch)
            differ_num(list, sizeof list, "batch", (double)w->batch, (double)r->batch, "--batch");
    }
    if (f->run.present && f->run.optimizer[0]) { /* files from before these have none */
        const mlpcl_run_record *w = &f->run;
        if (strcmp(w->optimizer, r->optimizer))
            differ(list, sizeof list, "optimizer", w->optimizer, r->optimizer, "--optimizer");
        if (w->nesterov != r->nesterov)
            differ(list, sizeof list, "Nesterov", w->nesterov ? "on" : "off",
                   r->nesterov ? "on" : "off", "--nesterov");
        if (w->beta1 != r->beta1)
            differ_num(list, sizeof list, "beta1", w->beta1, r->beta1, "--beta1");
        if (w->beta2 != r->beta2)
            differ_num(list, sizeof list, "beta2", w->beta2, r->beta2, "--beta2");
        if (w->eps != r->eps) differ_num(list, sizeof list, "eps", w->eps, r->eps, "--eps");
        if (w->weight_decay != r->weight_decay)
            differ_num(list, sizeof list, "weight decay", w->weight_decay, r->weight_decay,
                       "--weight-decay");
        if (strcmp(w->lr_schedule, r->lr_schedule))
            differ(list, sizeof list, "lr schedule", w->lr_schedule, r->lr_schedule,
                   "--lr-schedule, --warmup; a cosine's --epochs");
        if (w->dropout != r->dropout)
            differ_num(list, sizeof list, "dropout", w->dropout, r->dropout, "--dropout");
        /* Forced onto another rule, the file's velocity and Adam moments are not this one's:
         * it starts afresh from the file's weights (as the library does on a change). */
        if (strcmp(w->optimizer, r->optimizer) && o->force) {
            free(s->info.velocity);
            free(s->info.adam_s);
            s->info.velocity = s->info.adam_s = NULL;
            s->info.adam_step = 0;
            fprintf(stderr,
                    "mlpcl: note: the optimizer changes from %s to %s: its state "
                    "(velocity, moments) starts afresh\n",
                    w->optimizer, r->optimizer);
        }
    }
    if (!*list) return 0;
    if (o->force) {
        fprintf(stderr,
                "mlpcl: warning: resuming %s with other settings than the run that wrote it "
                "(--force): %s. The result will not be that of one uninterrupted run.\n",
                o->resume, list);
        return 0;
    }
    return failf(EXIT_USAGE,
                 "train: %s was written by a run that differs from this one in what decides the "
                 "numbers: %s. Give the settings of that run to continue it exactly, or --force "
                 "to go on with these",
                 o->resume, list);
}
