// SPDX-License-Identifier: MIT
/* bench_workloads.c: `mlpcl bench`'s workloads, each timed on one device after a warm-up and
 * checked against the host reference: the tutorial's network to convergence, full-batch steps
 * of 784-256-10 and 784-1024-10, and a mini-batch epoch; and the data the large ones run on. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void summarise(result *r, double *t, long n)
{
    qsort(t, (size_t)n, sizeof *t, by_value);
    r->repeats = n;
    r->min = t[0];
    r->max = t[n - 1];
    r->median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

int bench_load_big(const bench_cli *o, big_data *b)
{
    size_t n = (size_t)o->samples;
    struct stat sb;
    memset(b, 0, sizeof *b);
    if (stat(o->data, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        int st = mlpcl_dataset_open(o->data, NULL, &b->d, NULL);
        if (st != MLPCL_OK) return lib_fail(st);
        if (b->d.n_in == 784 && b->d.n_out == 10 && b->d.n >= n) {
            b->d.n = n;
            b->source = "Fashion-MNIST";
            return 0;
        }
        mlpcl_dataset_free(&b->d);
    }
    b->d.n = n, b->d.n_in = 784, b->d.n_out = 10;
    b->d.X = malloc(n * 784 * sizeof(double));
    b->d.Y = calloc(n * 10, sizeof(double));
    if (!b->d.X || !b->d.Y) return failf(EXIT_DEVICE, "out of host memory for %zu samples", n);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n * 784; ++i) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        b->d.X[i] = (double)(s >> 11) * 0x1.0p-53;
    }
    for (size_t i = 0; i < n; ++i) b->d.Y[i * 10 + i % 10] = 1.0;
    b->source = "random data";
    return 0;
}

static double flops_per_iteration(const mlpcl_net *net, size_t rows)
{
    double f = 0;
    for (size_t l = 1; l <= mlpcl_net_layers(net); ++l)
        f += (double)mlpcl_net_width(net, l - 1) * (double)mlpcl_net_width(net, l);
    return 6.0 * (double)rows * f;
}

static mlpcl_net *make_net(size_t hidden, mlpcl_init init)
{
    size_t w[3] = {hidden == 3 ? 2 : 784, hidden, hidden == 3 ? 2 : 10};
    mlpcl_net *net = NULL;
    if (mlpcl_net_create(2, w, &net) != MLPCL_OK || mlpcl_net_init(net, init, 1) != MLPCL_OK) {
        mlpcl_net_free(net);
        return NULL;
    }
    return net;
}

/* Norm-wise relative difference of two parameter arrays. */
static double difference(const mlpcl_net *a, const mlpcl_net *b)
{
    const double *p = mlpcl_net_params((mlpcl_net *)a), *q = mlpcl_net_params((mlpcl_net *)b);
    double err = 0, scale = 1e-300;
    for (size_t i = 0; i < mlpcl_net_n_params(a); ++i) {
        if (fabs(p[i] - q[i]) > err || isnan(p[i]))
            err = isnan(p[i]) ? INFINITY : fabs(p[i] - q[i]);
        if (fabs(q[i]) > scale) scale = fabs(q[i]);
    }
    return err / scale;
}
/* Counts the builds made during the first run (on CPUs, each launch plan's kernels are built
 * when the plan is first made) as the build's time, not the first run's. */
static void builds_apart(const mlpcl_trainer *tr, result *r)
{
    double b = mlpcl_trainer_build_seconds(tr);
    r->first_run -= b - r->build;
    r->build = b;
}

/* The tutorial to convergence: repeated from the same starting weights. */
int bench_run_tutorial(bench_env *e, result *r)
{
    double X[20], Y[20], t[MAX_RUNS];
    int st;
    mlpcl_tutorial_data(10, 1, X, Y);
    mlpcl_net *net = make_net(3, MLPCL_INIT_ONES);
    mlpcl_trainer *tr = NULL;
    mlpcl_train_opts opts;
    mlpcl_train_result res, ref;
    if (!net) return lib_fail(MLPCL_ERR_NOMEM);
    mlpcl_train_opts_default(&opts);
    long n = e->o->repeat;
    for (long i = -1; i < n; ++i) { /* i = -1: the warm-up, which builds and compiles */
        if ((st = mlpcl_trainer_create(e->ctx, net, X, Y, 10, e->prec, 0, &tr)) != MLPCL_OK)
            goto fail;
        if (i < 0) r->build = mlpcl_trainer_build_seconds(tr);
        double t0 = now_seconds(); /* the build apart, as in the other workloads */
        if ((st = mlpcl_trainer_run(tr, &opts, &res)) != MLPCL_OK) goto fail;
        if (i < 0) {
            r->first_run = now_seconds() - t0;
            builds_apart(tr, r);
            mlpcl_trainer_describe(tr, r->kernels, sizeof r->kernels);
        } else {
            t[i] = res.seconds;
        }
        if (i == n - 1 && mlpcl_trainer_profile_start(tr) == MLPCL_OK &&
            (st = mlpcl_trainer_run(tr, &opts, &ref)) == MLPCL_OK)
            mlpcl_trainer_profile(tr, r->kt, &r->n_kt);
        mlpcl_trainer_free(tr);
        tr = NULL;
    }
    summarise(r, t, n);
    r->first_run -= r->median;
    r->iterations = res.iterations;
    r->per_iteration = r->median / (double)(res.iterations + 1);
    r->gflops = flops_per_iteration(net, 10) / r->per_iteration * 1e-9;
    r->samples_per_second = NAN;
    if (e->host && e->host != e->ctx) { /* the reference's run to convergence */
        if ((st = mlpcl_trainer_create(e->host, net, X, Y, 10, MLPCL_PRECISION_DOUBLE, 0, &tr)) ||
            (st = mlpcl_trainer_run(tr, &opts, &ref)))
            goto fail;
        long slack = e->prec == MLPCL_PRECISION_DOUBLE ? 0 : 1;
        double tol = e->prec == MLPCL_PRECISION_DOUBLE ? 1e-12 : 1e-5;
        r->checked = 1;
        r->ok = labs(res.iterations - ref.iterations) <= slack && fabs(res.cost - ref.cost) <= tol;
        snprintf(r->check, sizeof r->check, "%ld iterations (reference %ld), end cost off by %.2g",
                 res.iterations, ref.iterations, fabs(res.cost - ref.cost));
    }
    mlpcl_trainer_free(tr);
    mlpcl_net_free(net);
    return 0;
fail:
    mlpcl_trainer_free(tr);
    mlpcl_net_free(net);
    return lib_fail(st);
}

/* One update of a trainer on the first CHECK_ROWS samples, against the host reference's. */
static int check_one_step(bench_env *e, const mlpcl_net *start, size_t batch, result *r)
{
    const mlpcl_dataset *d = &e->big->d;
    size_t rows = d->n < CHECK_ROWS ? d->n : CHECK_ROWS;
    mlpcl_net *a = NULL, *b = NULL;
    mlpcl_trainer *ta = NULL, *tb = NULL;
    int st = mlpcl_net_clone(start, &a);
    if (st == MLPCL_OK) st = mlpcl_net_clone(start, &b);
    if (st == MLPCL_OK)
        st = mlpcl_trainer_create(e->ctx, start, d->X, d->Y, rows, e->prec, batch, &ta);
    if (st == MLPCL_OK)
        st = mlpcl_trainer_create(e->host, start, d->X, d->Y, rows, MLPCL_PRECISION_DOUBLE, batch,
                                  &tb);
    if (st == MLPCL_OK) {
        mlpcl_epoch_opts eo;
        mlpcl_epoch_opts_default(&eo);
        eo.max_batches = 2;
        mlpcl_train_result ra, rb;
        st = mlpcl_trainer_epoch(ta, &eo, &ra);
        if (st == MLPCL_OK) st = mlpcl_trainer_epoch(tb, &eo, &rb);
        if (st == MLPCL_OK) st = mlpcl_trainer_params(ta, a);
        if (st == MLPCL_OK) st = mlpcl_trainer_params(tb, b);
        if (st == MLPCL_OK) {
            double err = difference(a, b), tol = e->prec == MLPCL_PRECISION_DOUBLE ? 1e-12 : 2e-4;
            r->checked = 1;
            r->ok = err <= tol;
            snprintf(r->check, sizeof r->check,
                     "2 updates on %zu samples: parameters off by %.2g of their largest (limit "
                     "%.0g)",
                     rows, err, tol);
        }
    }
    mlpcl_trainer_free(ta);
    mlpcl_trainer_free(tb);
    mlpcl_net_free(a);
    mlpcl_net_free(b);
    return st == MLPCL_OK ? 0 : lib_fail(st);
}

/* Full-batch steps of 784-H-10 on the large data set. */
int bench_run_full_batch(bench_env *e, size_t hidden, result *r)
{
    const mlpcl_dataset *d = &e->big->d;
    int host = e->ctx == e->host, st = MLPCL_OK;
    long n = host ? 1 : e->o->repeat, iters = host ? 1 : e->o->iterations;
    double t[MAX_RUNS], t0[MAX_RUNS];
    result last;
    mlpcl_net *net = make_net(hidden, MLPCL_INIT_UNIFORM);
    mlpcl_trainer *tr = NULL;
    mlpcl_train_opts opts;
    mlpcl_train_result res;
    if (!net) return lib_fail(MLPCL_ERR_NOMEM);
    mlpcl_train_opts_default(&opts);
    opts.target = -1; /* never converges: every run does max_iter updates */
    if ((st = mlpcl_trainer_create(e->ctx, net, d->X, d->Y, d->n,
                                   host ? MLPCL_PRECISION_DOUBLE : e->prec, 0, &tr)) != MLPCL_OK)
        goto fail;
    r->build = mlpcl_trainer_build_seconds(tr);
    mlpcl_trainer_describe(tr, r->kernels, sizeof r->kernels);
    if (!host) { /* warm-up: one iteration, which compiles the kernels */
        opts.max_iter = 1;
        if ((st = mlpcl_trainer_run(tr, &opts, &res)) != MLPCL_OK) goto fail;
        r->first_run = res.seconds;
        builds_apart(tr, r);
    }
    /* A run of N updates reads N + 1 costs, the last after a forward pass of its own; numpy's
     * loop of N steps computes N. Before each run of N comes a run of none (that last cost
     * alone), and the runs' times less the median of those are N updates with their N costs;
     * unless that median is not clear of the noise (within 10% of the shortest run of N, as on
     * a tiny data set): then the whole runs' times, and no last cost reported. The host runs
     * once, whole. */
    for (long i = 0; i < n; ++i) {
        opts.max_iter = 0;
        if (!host && (st = mlpcl_trainer_run(tr, &opts, &res)) != MLPCL_OK) goto fail;
        t0[i] = host ? 0 : res.seconds;
        opts.max_iter = iters;
        if ((st = mlpcl_trainer_run(tr, &opts, &res)) != MLPCL_OK) goto fail;
        t[i] = res.seconds;
    }
    summarise(r, t, n);
    summarise(&last, t0, n);
    r->last_cost = r->min - last.median > 0.1 * r->min ? last.median : 0;
    for (long i = 0; i < n; ++i) t[i] -= r->last_cost;
    summarise(r, t, n);
    r->iterations = iters;
    r->per_iteration = r->median / (double)iters;
    /* the warm-up's run: its update, compiled, and its last cost */
    r->first_run = host ? 0 : r->first_run - r->per_iteration - last.median;
    r->gflops = flops_per_iteration(net, d->n) / r->per_iteration * 1e-9;
    r->samples_per_second = NAN;
    if (!host) {
        opts.max_iter = 1;
        if (mlpcl_trainer_profile_start(tr) == MLPCL_OK &&
            (st = mlpcl_trainer_run(tr, &opts, &res)) == MLPCL_OK)
            mlpcl_trainer_profile(tr, r->kt, &r->n_kt);
        if (st != MLPCL_OK) goto fail;
    }
    mlpcl_trainer_free(tr);
    tr = NULL;
    int rc = host || !e->host ? 0 : check_one_step(e, net, CHECK_ROWS, r);
    mlpcl_net_free(net);
    return rc;
fail:
    mlpcl_trainer_free(tr);
    mlpcl_net_free(net);
    return lib_fail(st);
}

/* One epoch of 784-256-10 in batches of 64. */
int bench_run_epoch(bench_env *e, result *r)
{
    const mlpcl_dataset *d = &e->big->d;
    int host = e->ctx == e->host, st = MLPCL_OK;
    long n = host ? 1 : e->o->repeat;
    double t[MAX_RUNS];
    mlpcl_net *net = make_net(256, MLPCL_INIT_UNIFORM);
    mlpcl_trainer *tr = NULL;
    mlpcl_epoch_opts eo;
    mlpcl_train_result res;
    if (!net) return lib_fail(MLPCL_ERR_NOMEM);
    mlpcl_epoch_opts_default(&eo);
    if ((st = mlpcl_trainer_create(e->ctx, net, d->X, d->Y, d->n,
                                   host ? MLPCL_PRECISION_DOUBLE : e->prec, 64, &tr)) != MLPCL_OK)
        goto fail;
    r->build = mlpcl_trainer_build_seconds(tr);
    mlpcl_trainer_describe(tr, r->kernels, sizeof r->kernels);
    double t0 = now_seconds();
    eo.max_batches = WARMUP_BATCHES;
    if ((st = mlpcl_trainer_epoch(tr, &eo, &res)) != MLPCL_OK) goto fail;
    r->first_run = now_seconds() - t0;
    builds_apart(tr, r);
    eo.max_batches = 0;
    for (long i = 0; i < n; ++i) {
        eo.epoch = i;
        if ((st = mlpcl_trainer_epoch(tr, &eo, &res)) != MLPCL_OK) goto fail;
        t[i] = res.seconds;
    }
    summarise(r, t, n);
    r->iterations = res.iterations;
    r->per_iteration = r->median / (double)res.iterations;
    r->first_run -= WARMUP_BATCHES * r->per_iteration;
    r->gflops = flops_per_iteration(net, d->n) / r->median * 1e-9;
    r->samples_per_second = (double)d->n / r->median;
    if (!host) {
        eo.max_batches = 32;
        if (mlpcl_trainer_profile_start(tr) == MLPCL_OK &&
            (st = mlpcl_trainer_epoch(tr, &eo, &res)) == MLPCL_OK)
            mlpcl_trainer_profile(tr, r->kt, &r->n_kt);
        if (st != MLPCL_OK) goto fail;
    }
    mlpcl_trainer_free(tr);
    tr = NULL;
    int rc = host || !e->host ? 0 : check_one_step(e, net, 64, r);
    mlpcl_net_free(net);
    return rc;
fail:
    mlpcl_trainer_free(tr);
    mlpcl_net_free(net);
    return lib_fail(st);
}
