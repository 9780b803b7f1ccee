// SPDX-License-Identifier: MIT
/* train_resume.c: what decides a training run's numbers besides the network (precision, data,
 * seed, lr, momentum, batch, mode, device kind, initialisation), recorded in every model file
 * the run writes, and checked when --resume continues one: the settings not given are the
 * file's, those given must agree with it (or --force). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "train.h"

static const char *const init_names[] = {"ones", "uniform"};

void resume_defaults(train_cli *o, const mlpcl_model_info *info)
{
    if (!o->seed_given) o->seed = (long)info->seed;
    if (!info->run.present) return; /* a file from before the records: the defaults stand */
    if (!o->lr_given) o->lr = info->run.lr;
    if (!o->momentum_given) o->momentum = info->run.momentum;
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
