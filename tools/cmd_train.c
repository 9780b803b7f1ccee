// SPDX-License-Identifier: MIT
/* cmd_train.c: `mlpcl train`'s two modes: the tutorial's (full-batch gradient descent until the
 * cost is below a target, printing what the tutorial prints) and epochs of mini-batches on a
 * data set (--data, --batch or --epochs), with held-out evaluation; and the command itself,
 * which sets up the session (the command line, data, network, device and trainer) and runs one.
 * Either mode saves checkpoints every N iterations, epochs or batches (train_save.c) and stops
 * cleanly on SIGINT, SIGTERM, SIGHUP or a failed write of its output (signals.c), so that
 * --resume continues bit for bit. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "signals.h"
#include "train.h"
#include "train_mpi.h"
#include "train_early_stop.h"

/* The tutorial's mode: full-batch runs to the target, cut into runs of --checkpoint-every
 * iterations when checkpointing. Cutting changes nothing in the result: each run starts from
 * the weights and velocity the last one kept; it only reads the cost at the cut twice. */
static int tutorial_mode(session *s, double setup)
{
    const train_cli *o = s->o;
    mlpcl_train_opts opts;
    mlpcl_train_opts_default(&opts);
    opts.lr = o->lr;
    opts.momentum = o->momentum;
    opts.optimizer = (mlpcl_optimizer)o->optimizer;
    opts.nesterov = o->nesterov;
    opts.beta1 = o->beta1;
    opts.beta2 = o->beta2;
    opts.eps = o->eps;
    opts.weight_decay = o->weight_decay;
    opts.target = o->target;
    opts.lookahead = (int)o->lookahead;
    opts.on_cost = report_cost;
    opts.user = &s->rep;
    opts.interrupt = &stop_flag;
    mlpcl_train_result res = {0};
    long every = o->checkpoint ? o->every : 0, start = s->updates;
    double seconds = 0;
    int st, rc, dg = s->rep.digits;
    for (;;) {
        long left = o->max_iter > s->updates ? o->max_iter - s->updates : 0;
        opts.max_iter = every && every < left ? every : left;
        s->rep.base = s->updates;
        s->rep.runs++;
        if ((st = mlpcl_trainer_run(s->tr, &opts, &res)) != MLPCL_OK) return lib_fail(st);
        seconds += res.seconds - report_new_builds(&s->rep, s->tr); /* builds told apart */
        if (res.stop == MLPCL_STOP_DIVERGED) {
            long at = s->updates + res.iterations; /* the iteration whose cost is not finite */
            s->updates = at > 0 ? at - 1 : 0;
            const char *saved = save_diverged(s);
            if (at == 0)
                return failf(EXIT_DIVERGED,
                             "diverged: the cost of the starting weights is NaN or infinite; "
                             "kept them%s. Check the data and the initialisation (--init)",
                             saved);
            return failf(EXIT_DIVERGED,
                         "diverged: the cost became NaN or infinite at iteration %ld; the last "
                         "finite cost was %.*g, at iteration %ld; kept the weights of that "
                         "iteration%s. Try a smaller --lr (now %g).",
                         at, dg, s->rep.last_finite, s->updates, saved, o->lr);
        }
        s->updates += res.iterations;
        if (res.stop == MLPCL_STOP_CONVERGED || s->updates >= o->max_iter) break;
        if (res.stop == MLPCL_STOP_INTERRUPTED || stop_flag) {
            char kept[160];
            snprintf(kept, sizeof kept, "kept the weights after iteration %ld, cost %.*g",
                     s->updates, dg, res.cost);
            return save_stopped(s, kept);
        }
        if ((rc = save_model(s, o->checkpoint))) return rc;
    }
    report_final(&s->rep, s->updates, res.cost);
    fputs("end: ", stdout);
    printf(s->rep.fmt, res.cost);
    printf("\ncnt: %ld\n", s->updates);
    report_new_builds(&s->rep, s->tr);
    report_device(s->ctx, s->prec, seconds, s->updates - start + 1, setup, s->rep.built,
                  s->rep.loading);
    if ((rc = save_final(s))) return rc;
    if (res.stop != MLPCL_STOP_CONVERGED)
        return failf(EXIT_NOT_CONVERGED,
                     "not converged: the cost is %.9g after %ld iterations (--max-iter), target "
                     "%g",
                     res.cost, s->updates, o->target);
    return 0;
}

/* Loss and accuracy of the current weights on a held-out set. */
static int evaluate(session *s, int id, const mlpcl_dataset *set, double *loss, double *acc)
{
    size_t nL = mlpcl_net_width(s->net, mlpcl_net_layers(s->net));
    double *out = malloc(set->n * nL * sizeof *out + 1);
    if (!out) return failf(EXIT_DEVICE, "out of host memory");
    int st = mlpcl_trainer_predict(s->tr, id, out);
    if (st == MLPCL_OK) mlpcl_evaluate(s->net, out, set->Y, set->labels, set->n, loss, acc);
    free(out);
    return st == MLPCL_OK ? 0 : lib_fail(st);
}

/* Samples in batches [from, to) of an epoch of m samples in batches of B. */
static size_t rows_between(size_t m, size_t B, size_t from, size_t to)
{
    size_t a = from * B < m ? from * B : m, b = to * B < m ? to * B : m;
    return b - a;
}

/* Epoch mode: each epoch in one call of the trainer, or in runs of --checkpoint-every Nb
 * batches; an epoch resumed mid-way starts at its batch (the same shuffle: it depends only on
 * the seed and the epoch). */
static int epoch_mode(session *s, double setup)
{
    const train_cli *o = s->o;
    int rc, st, val_id = -1, test_id = -1;
    if (s->d.val.n && (st = mlpcl_trainer_add_set(s->tr, s->d.val.X, s->d.val.n, &val_id)))
        return lib_fail(st);
    if (s->d.test.n && (st = mlpcl_trainer_add_set(s->tr, s->d.test.X, s->d.test.n, &test_id)))
        return lib_fail(st);
    /* The trainer holds its own copies: the inputs in double need not sit beside them */
    free(s->d.val.X), free(s->d.test.X);
    s->d.val.X = s->d.test.X = NULL;
    if (o->early_stop && val_id < 0 && test_id < 0)
        return failf(EXIT_USAGE, "train: --early-stop watches the held-out loss: give "
                                 "--validation F or --test PATH (or a --data folder with test "
                                 "files)");
    if (o->early_stop && (rc = early_stop_start(s, val_id >= 0 ? "validation" : "test", &s->early)))
        return rc;
    int early = 0; /* --early-stop's patience ran out */
    mlpcl_epoch_opts eo;
    mlpcl_epoch_opts_default(&eo);
    eo.lr = o->lr;
    eo.momentum = o->momentum;
    eo.dropout = o->dropout;
    eo.optimizer = (mlpcl_optimizer)o->optimizer;
    eo.nesterov = o->nesterov;
    eo.beta1 = o->beta1;
    eo.beta2 = o->beta2;
    eo.eps = o->eps;
    eo.weight_decay = o->weight_decay;
    eo.seed = (uint64_t)o->seed;
    eo.lookahead = (int)o->lookahead;
    eo.on_batch = report_progress;
    eo.user = &s->rep;
    eo.interrupt = &stop_flag;
    size_t m = s->d.train.n, B = o->batch && (size_t)o->batch < m ? (size_t)o->batch : m;
    size_t nb = (m + B - 1) / B;
    long every = o->checkpoint ? o->every : 0, since = 0, start = s->updates;
    double total = 0;
    char kept[320];
    if ((size_t)s->batch_pos >= nb)
        return failf(EXIT_USAGE,
                     "train: %s stopped after batch %ld of epoch %ld, but an epoch of %zu "
                     "samples in batches of %zu has %zu batches: resume with the data and "
                     "--batch of the run that saved it",
                     o->resume, s->batch_pos, s->epochs_done + 1, m, B, nb);
    printf("training %zu samples (%zu features, %zu outputs) in batches of %zu on %s, %s\n", m,
           s->d.train.n_in, s->d.train.n_out, B, mlpcl_ctx_device(s->ctx)->name,
           s->prec == MLPCL_PRECISION_DOUBLE ? "double" : "float");
    if (s->batch_pos > 0)
        printf("resuming epoch %ld at batch %ld of %zu\n", s->epochs_done + 1, s->batch_pos + 1,
               nb);
    for (long e = s->epochs_done; e < o->epochs; ++e) {
        size_t first = (size_t)s->batch_pos, b = first;
        double sum = 0, secs = 0; /* Σ rows · loss of this epoch's runs; their time */
        mlpcl_train_result res;
        eo.epoch = e;
        eo.lr = schedule_rate(&o->sched, o->lr, e, o->epochs);
        s->rep.epoch = e;
        s->rep.last_draw = 0;
        s->rep.first = first;
        s->rep.epoch_t0 = now_seconds();
        while (b < nb) {
            size_t want = every && o->every_batches ? (size_t)(every - since) : 0;
            eo.first_batch = b;
            eo.max_batches = want && want < nb - b ? want : 0;
            report_new_builds(&s->rep, s->tr); /* those of evaluate, say, are not this run's */
            if ((st = mlpcl_trainer_epoch(s->tr, &eo, &res)) != MLPCL_OK) return lib_fail(st);
            secs += res.seconds - report_new_builds(&s->rep, s->tr); /* builds told apart */
            if (res.stop == MLPCL_STOP_DIVERGED) {
                /* batch b + k's cost was not finite: the weights after k − 1 of this run's
                 * updates are kept (those that gave the last finite cost) */
                size_t bad = b + (size_t)res.iterations;
                long done = res.iterations > 0 ? res.iterations - 1 : 0;
                s->updates += done;
                s->batch_pos = (long)b + done;
                const char *saved = save_diverged(s);
                return failf(EXIT_DIVERGED,
                             "diverged: the cost became NaN or infinite in epoch %ld at batch "
                             "%zu of %zu; the last finite cost was %.*g; kept the weights after "
                             "%ld updates in all (%ld batches into epoch %ld)%s. Try a smaller "
                             "--lr (now %g).",
                             e + 1, bad + 1, nb, s->rep.digits, s->rep.last_finite, s->updates,
                             s->batch_pos, e + 1, saved, o->lr);
            }
            sum += res.cost * (double)rows_between(m, B, b, b + (size_t)res.iterations);
            b += (size_t)res.iterations;
            s->updates += res.iterations;
            s->batch_pos = (long)b;
            if (o->every_batches) since += res.iterations;
            if (b >= nb) break; /* the epoch is done, even if interrupted on its last batch */
            if (res.stop == MLPCL_STOP_INTERRUPTED || stop_flag) {
                snprintf(kept, sizeof kept,
                         "kept the weights after batch %zu of %zu in epoch %ld (%ld updates in "
                         "all), training loss %.4f over batches %zu-%zu",
                         b, nb, e + 1, s->updates, sum / (double)rows_between(m, B, first, b),
                         first + 1, b);
                return save_stopped(s, kept);
            }
            if (every && o->every_batches && since >= every) {
                if ((rc = save_model(s, o->checkpoint))) return rc;
                since = 0;
            }
        }
        total += secs;
        s->epochs_done = e + 1;
        s->batch_pos = 0;
        double loss = sum / (double)rows_between(m, B, first, nb);
        double vl = NAN, va = NAN, tl = NAN, ta = NAN;
        if (val_id >= 0 && (rc = evaluate(s, val_id, &s->d.val, &vl, &va))) return rc;
        if (test_id >= 0 && (rc = evaluate(s, test_id, &s->d.test, &tl, &ta))) return rc;
        epoch_line line = {e + 1,       first,
                           nb,          loss,
                           vl,          va,
                           tl,          ta,
                           secs,        (double)rows_between(m, B, first, nb) / secs,
                           val_id >= 0, test_id >= 0,
                           eo.lr,       schedule_active(&o->sched)};
        report_epoch(&s->rep, &line);
        if (s->early && (rc = early_stop_epoch(s->early, s, val_id >= 0 ? vl : tl, &early)))
            return rc;
        if (e + 1 == o->epochs || early) break; /* done: saved below */
        if (stop_flag) {
            snprintf(kept, sizeof kept,
                     "kept the weights after epoch %ld (%ld updates in all), training loss %.4f",
                     e + 1, s->updates, loss);
            return save_stopped(s, kept);
        }
        if (every && (o->every_batches ? since >= every : ++since >= every)) {
            if ((rc = save_model(s, o->checkpoint))) return rc;
            since = 0;
        }
    }
    report_new_builds(&s->rep, s->tr);
    report_device(s->ctx, s->prec, total, s->updates - start, setup, s->rep.built, s->rep.loading);
    if (s->early && (rc = early_stop_restore(s->early, s, early))) return rc;
    return save_final(s);
}

/* Before anything is built: --resume of a run that already has its --epochs says so. Returns
 * 0 to go on, -1 when there is nothing left to do (done, saved to --save if given), or an exit
 * status. */
static int nothing_left(session *s)
{
    const train_cli *o = s->o;
    if (!o->resume || !o->epoch_mode || s->epochs_done < o->epochs) return 0;
    if (s->epochs_done > o->epochs || s->batch_pos > 0)
        return failf(EXIT_USAGE,
                     "train: %s has trained %ld epochs%s, more than --epochs %ld; give "
                     "--epochs %ld or more to continue it",
                     o->resume, s->epochs_done, s->batch_pos > 0 ? " and part of another" : "",
                     o->epochs, s->epochs_done + (s->batch_pos > 0));
    printf("%s has trained %ld epochs already (--epochs %ld): nothing left to do\n", o->resume,
           s->epochs_done, o->epochs);
    s->prec = s->info.dtype;
    if (o->save) {
        int rc = save_model(s, o->save);
        if (rc) return rc;
    }
    return -1;
}

int cmd_train(int argc, char **argv)
{
    train_cli o;
    int rc = train_parse(argc, argv, &o), st;
    if (rc) return rc < 0 ? 0 : rc;
    if (train_mpi_rank()) o.log = NULL; /* under mpirun, rank 0 alone logs */
    int epochs = o.epoch_mode;
    session s = {0};
    s.o = &o;
    s.rep.last_finite = NAN;
    catch_stop_signals();
    if ((rc = save_check_paths(&s))) goto done;
    if (o.resume) {
        /* First, so that its seed draws the same random data and shuffles. */
        if ((st = mlpcl_model_load(o.resume, &s.net, &s.info)) != MLPCL_OK) {
            rc = lib_fail(st);
            goto done;
        }
        resume_defaults(&o, &s.info);
        s.epochs_done = s.info.epoch;
        s.batch_pos = s.info.batch;
        s.updates = s.info.iteration;
    }
    /* The device first: on POCL its compiler warms up (the library's warmup.c) while the data
     * loads. */
    double t0 = now_seconds();
    if ((st = mlpcl_ctx_create(o.device, 0, &s.ctx)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    double opening = now_seconds() - t0;
    double t_load = now_seconds();
    if ((rc = train_load_data(&o, &s.d))) goto done;
    s.rep.loading = now_seconds() - t_load;
    if ((rc = train_make_net(&o, &s.d, &s.net))) goto done;
    if (o.resume) {
        s.d.norm = s.info.norm; /* the model's own standardisation */
        s.info.norm = (mlpcl_norm){0};
        if (o.normalize && !s.d.norm.n)
            rc = failf(EXIT_USAGE, "train: %s was trained without --normalize", o.resume);
        if (!rc && s.d.norm.n) rc = train_standardize(&s.d, 0);
        if (rc) goto done;
    } else if (o.normalize && (rc = train_standardize(&s.d, 1))) {
        goto done;
    }
    if ((rc = nothing_left(&s))) {
        rc = rc < 0 ? 0 : rc;
        goto done;
    }
    /* Resuming, the log goes on where the first run's stopped. */
    if (o.log && !(s.rep.log = fopen(o.log, o.resume ? "a" : "w"))) {
        rc = failf(EXIT_USAGE, "%s: cannot create the log: %s", o.log, strerror(errno));
        goto done;
    }
    s.rep.log_path = o.log;
    if (stop_flag) {
        rc = failf(EXIT_INTERRUPTED, "interrupted by %s before training began; nothing saved",
                   stop_cause());
        goto done;
    }
    t0 = now_seconds();
    /* "compiling kernels…" while they build, on a terminal only, as the progress line */
    if (isatty(STDERR_FILENO) && train_mpi_size() == 1)
        mlpcl_ctx_set_build_notice(s.ctx, report_build_notice, &s.rep);
    if ((rc = resume_settle(&s))) goto done;
    if ((rc = train_check_precision(&s.d, s.prec))) goto done;
    if ((st = mlpcl_trainer_create(s.ctx, s.net, s.d.train.X, s.d.train.Y, s.d.train.n, s.prec,
                                   epochs ? (size_t)o.batch : 0, &s.tr)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    free(s.d.train.X); /* the trainer holds its own copy (peak memory: not both) */
    s.d.train.X = NULL;
    if (o.resume && s.info.velocity &&
        (st = mlpcl_trainer_set_velocity(s.tr, s.info.velocity)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    if (o.resume && s.info.adam_s &&
        (st = mlpcl_trainer_set_adam_state(s.tr, s.info.adam_s, s.info.adam_step)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    s.rep.fmt = s.prec == MLPCL_PRECISION_DOUBLE ? "%.17g" : "%.9g";
    s.rep.digits = s.prec == MLPCL_PRECISION_DOUBLE ? 17 : 9;
    s.rep.print_every = o.print_every;
    /* Progress goes to stderr, and only to a terminal: stdout is the same wherever it goes;
     * none under mpirun, whose ranks share the launcher's terminal. */
    s.rep.bar = isatty(STDERR_FILENO) && train_mpi_size() == 1;
    s.rep.epochs = o.epochs;
    s.rep.logged = -1;
    s.rep.rows = s.d.train.n;
    s.rep.batch =
        epochs && o.batch && (size_t)o.batch < s.d.train.n ? (size_t)o.batch : s.d.train.n;
    double setup =
        opening + now_seconds() - t0 - report_new_builds(&s.rep, s.tr); /* builds apart */
    report_settings(&s.rep, &o, s.ctx, s.net, s.prec, s.d.train.n);
    rc = epochs ? epoch_mode(&s, setup) : tutorial_mode(&s, setup);
done:
    /* What was written must have reached its file: a failure found only now (the last
     * buffered lines) exits 2, the models being saved already. */
    if (stopped_for_write()) {
        if (s.rep.log) fclose(s.rep.log);
        /* Said already when it stopped the run; not when the run ended first. */
        if (rc != EXIT_INTERRUPTED) {
            int w = failf(EXIT_USAGE, "%s; the output is incomplete", stop_cause());
            if (!rc) rc = w;
        }
    } else {
        int w = s.rep.log ? cli_close_file(s.rep.log, o.log) : 0;
        if (!rc) rc = w;
        w = cli_close_stdout();
        if (!rc) rc = w;
    }
    save_unlock(&s);
    early_stop_free(s.early);
    mlpcl_trainer_free(s.tr);
    mlpcl_net_free(s.net);
    mlpcl_ctx_free(s.ctx);
    mlpcl_model_info_free(&s.info);
    train_data_free(&s.d);
    return rc;
}
