/* cmd_bench.c: `mlpcl bench` runs the same workloads on each chosen device and on the host
 * reference, after a warm-up, several times: the tutorial's network to convergence, full-batch
 * steps of 784-256-10 and 784-1024-10 on 60,000 samples, and a mini-batch epoch. Per device and
 * workload it reports the time (median and spread), GFLOP/s, each kernel's share of the device
 * time (profiling events), the build and first-run times, and whether the device's results
 * match the host reference; as a table, CSV and JSON, and against an earlier JSON. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define FASHION        "/usr/share/datasets/fashion-mnist"
#define MAX_RUNS       64
#define CHECK_ROWS     512 /* samples of the correctness check of the large workloads */
#define WARMUP_BATCHES 8   /* the epoch workload's warm-up, which compiles the kernels */

static const char usage[] =
    "usage: mlpcl bench [OPTIONS]\n"
    "\n"
    "Runs the same workloads on each chosen device and on the host reference trainer, after a\n"
    "warm-up run, --repeat times each, and reports per device and workload: the time (median\n"
    "and min–max), GFLOP/s counted as 6 · batch · Σ n_in·n_out per iteration (a forward and two\n"
    "backward products a layer), each kernel's share of the device time (from OpenCL profiling\n"
    "events), the program's build time and the first run's extra time (kernels compiled at\n"
    "first launch), and a check of the device's results against the host reference.\n"
    "\n"
    "workloads:\n"
    "  tutorial      the tutorial's 2-3-2 network to convergence (the cost read every\n"
    "                iteration): time to converge and microseconds an iteration\n"
    "  784-256-10    full-batch steps on 60,000 samples (Fashion-MNIST's training set when\n"
    "  784-1024-10   installed, else random data of the same shape): time an iteration\n"
    "  epoch         one epoch of 784-256-10 in mini-batches of 64: time and samples/s\n"
    "The host reference runs each large workload once, for one iteration (it is slow).\n"
    "\n"
    "options:\n"
    "  --device LIST       comma-separated selectors (see `mlpcl help`), or all (every OpenCL\n"
    "                      device and the host); default: the default device and the host\n"
    "  --workloads LIST    comma-separated, from the list above (default: all)\n"
    "  --repeat N          timed runs of each (default 3)\n"
    "  --iterations N      iterations a timed run of the full-batch workloads (default 3)\n"
    "  --samples N         samples of the large workloads (default 60000)\n"
    "  --precision P       float (default) or double\n"
    "  --data DIR          where Fashion-MNIST is (default " FASHION ")\n"
    "  --csv FILE          also write the results as CSV\n"
    "  --json FILE         also write them as JSON (tools/plot draws it)\n"
    "  --compare FILE      print the change against an earlier --json\n"
    "  -h, --help          this text\n";

static const char *const all_workloads[] = {"tutorial", "784-256-10", "784-1024-10", "epoch", NULL};

typedef struct bench_cli {
    const char *devices, *workloads, *data, *csv, *json, *compare;
    long repeat, iterations, samples;
    int precision;
} bench_cli;

/* One (device, workload) result. */
typedef struct result {
    char workload[32], device[300], where[32], driver[600], kernels[200];
    const char *precision;
    long repeats, iterations;  /* timed runs; iterations (updates) a run */
    double median, min, max;   /* seconds a run */
    double per_iteration;      /* seconds */
    double gflops;             /* NaN when not meaningful */
    double samples_per_second; /* epochs; else NaN */
    double build, first_run;   /* seconds */
    mlpcl_kernel_time kt[MLPCL_MAX_KERNELS];
    size_t n_kt;
    int checked, ok;
    char check[200];
} result;

static int parse(int argc, char **argv, bench_cli *o)
{
    static const char *const precisions[] = {"float", "double", NULL};
    args a = {argc, 1, argv, "bench", 0};
    *o = (bench_cli){.repeat = 3, .iterations = 3, .samples = 60000, .data = FASHION};
    for (; a.i < argc; ++a.i) {
        const char *v = NULL, *arg = argv[a.i];
        int rc = 0;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(usage, stdout);
            return -1;
        } else if (take(&a, "--device", &v)) {
            o->devices = v;
        } else if (take(&a, "--workloads", &v)) {
            o->workloads = v;
        } else if (take(&a, "--data", &v)) {
            o->data = v;
        } else if (take(&a, "--csv", &v)) {
            o->csv = v;
        } else if (take(&a, "--json", &v)) {
            o->json = v;
        } else if (take(&a, "--compare", &v)) {
            o->compare = v;
        } else if (take(&a, "--repeat", &v)) {
            rc = parse_long(&a, "--repeat", v, 1, MAX_RUNS, &o->repeat);
        } else if (take(&a, "--iterations", &v)) {
            rc = parse_long(&a, "--iterations", v, 1, 100000, &o->iterations);
        } else if (take(&a, "--samples", &v)) {
            rc = parse_long(&a, "--samples", v, 64, 10000000, &o->samples);
        } else if (take(&a, "--precision", &v)) {
            rc = parse_word(&a, "--precision", v, precisions, &o->precision);
        } else {
            return failf(EXIT_USAGE, "bench: unknown option '%s' (see mlpcl bench --help)", arg);
        }
        if (a.bad || rc) return EXIT_USAGE;
    }
    for (const char *p = o->workloads; p && *p;) {
        size_t len = strcspn(p, ","), ok = 0;
        for (int i = 0; all_workloads[i]; ++i)
            ok |= strlen(all_workloads[i]) == len && !strncmp(p, all_workloads[i], len);
        if (!ok)
            return failf(EXIT_USAGE,
                         "bench: unknown workload '%.*s' (tutorial, 784-256-10, "
                         "784-1024-10, epoch)",
                         (int)len, p);
        p += len + (p[len] == ',');
    }
    return 0;
}

static int wanted(const bench_cli *o, const char *w)
{
    if (!o->workloads) return 1;
    for (const char *p = o->workloads; *p;) {
        size_t len = strcspn(p, ",");
        if (strlen(w) == len && !strncmp(p, w, len)) return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

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

/* ---- The data of the large workloads ------------------------------------------------------ */

typedef struct big_data {
    mlpcl_dataset d;
    const char *source;
} big_data;

/* Fashion-MNIST's first n training samples, or random data of that shape. */
static int load_big(const bench_cli *o, big_data *b)
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

/* ---- Running one workload on one device --------------------------------------------------- */

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

typedef struct bench_env {
    const bench_cli *o;
    mlpcl_ctx *ctx, *host;
    mlpcl_precision prec;
    big_data *big;
} bench_env;

/* The tutorial to convergence: repeated from the same starting weights. */
static int run_tutorial(bench_env *e, result *r)
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
        double t0 = now_seconds();
        if ((st = mlpcl_trainer_create(e->ctx, net, X, Y, 10, e->prec, 0, &tr)) != MLPCL_OK)
            goto fail;
        if (i < 0) r->build = mlpcl_trainer_build_seconds(tr);
        if ((st = mlpcl_trainer_run(tr, &opts, &res)) != MLPCL_OK) goto fail;
        if (i < 0) {
            r->first_run = now_seconds() - t0;
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
        if ((st = mlpcl_trainer_create(e->host, net, X, Y, 10, MLPCL_DOUBLE, 0, &tr)) ||
            (st = mlpcl_trainer_run(tr, &opts, &ref)))
            goto fail;
        long slack = e->prec == MLPCL_DOUBLE ? 0 : 1;
        double tol = e->prec == MLPCL_DOUBLE ? 1e-12 : 1e-5;
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
        st = mlpcl_trainer_create(e->host, start, d->X, d->Y, rows, MLPCL_DOUBLE, batch, &tb);
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
            double err = difference(a, b), tol = e->prec == MLPCL_DOUBLE ? 1e-12 : 2e-4;
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
static int run_full_batch(bench_env *e, size_t hidden, result *r)
{
    const mlpcl_dataset *d = &e->big->d;
    int host = e->ctx == e->host, st = MLPCL_OK;
    long n = host ? 1 : e->o->repeat, iters = host ? 1 : e->o->iterations;
    double t[MAX_RUNS];
    mlpcl_net *net = make_net(hidden, MLPCL_INIT_UNIFORM);
    mlpcl_trainer *tr = NULL;
    mlpcl_train_opts opts;
    mlpcl_train_result res;
    if (!net) return lib_fail(MLPCL_ERR_NOMEM);
    mlpcl_train_opts_default(&opts);
    opts.target = -1; /* never converges: every run does max_iter updates */
    if ((st = mlpcl_trainer_create(e->ctx, net, d->X, d->Y, d->n, host ? MLPCL_DOUBLE : e->prec, 0,
                                   &tr)) != MLPCL_OK)
        goto fail;
    r->build = mlpcl_trainer_build_seconds(tr);
    mlpcl_trainer_describe(tr, r->kernels, sizeof r->kernels);
    if (!host) { /* warm-up: one iteration, which compiles the kernels */
        opts.max_iter = 1;
        if ((st = mlpcl_trainer_run(tr, &opts, &res)) != MLPCL_OK) goto fail;
        r->first_run = res.seconds;
    }
    opts.max_iter = iters;
    for (long i = 0; i < n; ++i) {
        if ((st = mlpcl_trainer_run(tr, &opts, &res)) != MLPCL_OK) goto fail;
        t[i] = res.seconds;
    }
    summarise(r, t, n);
    r->iterations = iters;
    r->per_iteration = r->median / (double)iters;
    r->first_run = host ? 0 : r->first_run - r->per_iteration;
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
static int run_epoch(bench_env *e, result *r)
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
    if ((st = mlpcl_trainer_create(e->ctx, net, d->X, d->Y, d->n, host ? MLPCL_DOUBLE : e->prec, 64,
                                   &tr)) != MLPCL_OK)
        goto fail;
    r->build = mlpcl_trainer_build_seconds(tr);
    mlpcl_trainer_describe(tr, r->kernels, sizeof r->kernels);
    double t0 = now_seconds();
    eo.max_batches = WARMUP_BATCHES;
    if ((st = mlpcl_trainer_epoch(tr, &eo, &res)) != MLPCL_OK) goto fail;
    r->first_run = now_seconds() - t0;
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

/* ---- Output ------------------------------------------------------------------------------- */

static void format_time(double s, char *buf, size_t size)
{
    if (s >= 1)
        snprintf(buf, size, "%.3g s", s);
    else if (s >= 1e-3)
        snprintf(buf, size, "%.3g ms", 1e3 * s);
    else
        snprintf(buf, size, "%.3g us", 1e6 * s);
}

/* The kernels' shares of the device time, largest first, as "gemm_gradient 52%, …". */
static void shares(const result *r, char *buf, size_t size)
{
    double total = 0;
    size_t used = 0, order[MLPCL_MAX_KERNELS];
    buf[0] = '\0';
    for (size_t i = 0; i < r->n_kt; ++i) total += r->kt[i].seconds, order[i] = i;
    for (size_t i = 0; i < r->n_kt; ++i)
        for (size_t j = i + 1; j < r->n_kt; ++j)
            if (r->kt[order[j]].seconds > r->kt[order[i]].seconds) {
                size_t x = order[i];
                order[i] = order[j];
                order[j] = x;
            }
    for (size_t i = 0; i < r->n_kt && i < 4 && total > 0; ++i) {
        int n = snprintf(buf + used, size - used, "%s%s %.0f%%", i ? ", " : "",
                         r->kt[order[i]].kernel, 100 * r->kt[order[i]].seconds / total);
        if (n < 0 || (size_t)n >= size - used) break;
        used += (size_t)n;
    }
}

static void print_table(const result *rs, size_t n)
{
    printf("\n%-12s %-8s %-34s %-26s %-11s %-9s %s\n", "workload", "device", "name",
           "time a run: median [min-max]", "an iter.", "GFLOP/s", "check");
    for (size_t i = 0; i < n; ++i) {
        const result *r = &rs[i];
        char med[24], lo[24], hi[24], it[24], span[80];
        format_time(r->median, med, sizeof med);
        format_time(r->min, lo, sizeof lo);
        format_time(r->max, hi, sizeof hi);
        format_time(r->per_iteration, it, sizeof it);
        snprintf(span, sizeof span, "%s [%s-%s]", med, lo, hi);
        printf("%-12s %-8s %-34.34s %-26s %-11s %-9.3g %s\n", r->workload, r->where, r->device,
               span, it, r->gflops,
               !r->checked ? "-"
               : r->ok     ? "ok"
                           : "MISMATCH");
    }
    printf("\n");
    for (size_t i = 0; i < n; ++i) {
        const result *r = &rs[i];
        char sh[200];
        shares(r, sh, sizeof sh);
        printf("%s on %s (%s, %s, %ld runs of %ld iterations): build %.3g s, first run +%.3g s",
               r->workload, r->where, r->kernels, r->precision, r->repeats, r->iterations, r->build,
               r->first_run);
        if (!isnan(r->samples_per_second)) printf(", %.0f samples/s", r->samples_per_second);
        printf("\n    kernels: %s\n", r->n_kt ? sh : "(no profile)");
        if (r->checked) printf("    check: %s: %s\n", r->ok ? "ok" : "MISMATCH", r->check);
    }
}

static int write_csv(const char *path, const result *rs, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f) return failf(EXIT_USAGE, "%s: cannot create", path);
    fprintf(f, "workload,device,name,driver,precision,kernels,repeats,iterations,median_s,min_s,"
               "max_s,per_iteration_s,gflops,samples_per_second,build_s,first_run_s,check\n");
    for (size_t i = 0; i < n; ++i) {
        const result *r = &rs[i];
        fprintf(
            f, "%s,%s,\"%s\",\"%s\",%s,\"%s\",%ld,%ld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%s\n",
            r->workload, r->where, r->device, r->driver, r->precision, r->kernels, r->repeats,
            r->iterations, r->median, r->min, r->max, r->per_iteration, r->gflops,
            r->samples_per_second, r->build, r->first_run,
            !r->checked ? ""
            : r->ok     ? "ok"
                        : "mismatch");
    }
    return fclose(f) == 0 ? 0 : failf(EXIT_USAGE, "%s: write error", path);
}

static void add_number(cJSON *o, const char *key, double v)
{
    if (isnan(v) || isinf(v))
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, v);
}

static int write_json(const char *path, const bench_cli *o, const result *rs, size_t n,
                      const char *source, int argc, char **argv)
{
    cJSON *root = cJSON_CreateObject(), *res = cJSON_AddArrayToObject(root, "results");
    char cmd[1024] = "mlpcl", date[64];
    for (int i = 1; i < argc; ++i) {
        strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1);
        strncat(cmd, argv[i], sizeof cmd - strlen(cmd) - 1);
    }
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    struct utsname u;
    cJSON_AddStringToObject(root, "mlpcl_version", MLPCL_VERSION);
    cJSON_AddStringToObject(root, "command", cmd);
    cJSON_AddStringToObject(root, "date", date);
    if (uname(&u) == 0) {
        char m[400];
        snprintf(m, sizeof m, "%s %s %s, %ld CPUs", u.nodename, u.sysname, u.machine,
                 sysconf(_SC_NPROCESSORS_ONLN));
        cJSON_AddStringToObject(root, "machine", m);
    }
    cJSON_AddStringToObject(root, "data", source);
    cJSON_AddNumberToObject(root, "samples", (double)o->samples);
    cJSON_AddStringToObject(root, "gflops_formula", "6 * batch * sum(n_in * n_out) per iteration");
    for (size_t i = 0; i < n; ++i) {
        const result *r = &rs[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "workload", r->workload);
        cJSON_AddStringToObject(x, "device", r->where);
        cJSON_AddStringToObject(x, "name", r->device);
        cJSON_AddStringToObject(x, "driver", r->driver);
        cJSON_AddStringToObject(x, "precision", r->precision);
        cJSON_AddStringToObject(x, "kernels", r->kernels);
        cJSON_AddNumberToObject(x, "repeats", (double)r->repeats);
        cJSON_AddNumberToObject(x, "iterations", (double)r->iterations);
        add_number(x, "median_s", r->median);
        add_number(x, "min_s", r->min);
        add_number(x, "max_s", r->max);
        add_number(x, "per_iteration_s", r->per_iteration);
        add_number(x, "gflops", r->gflops);
        add_number(x, "samples_per_second", r->samples_per_second);
        add_number(x, "build_s", r->build);
        add_number(x, "first_run_s", r->first_run);
        cJSON *k = cJSON_AddArrayToObject(x, "kernel_seconds");
        for (size_t j = 0; j < r->n_kt; ++j) {
            cJSON *kk = cJSON_CreateObject();
            cJSON_AddStringToObject(kk, "kernel", r->kt[j].kernel);
            cJSON_AddNumberToObject(kk, "seconds", r->kt[j].seconds);
            cJSON_AddNumberToObject(kk, "launches", (double)r->kt[j].launches);
            cJSON_AddItemToArray(k, kk);
        }
        if (r->checked) {
            cJSON_AddBoolToObject(x, "check_ok", r->ok);
            cJSON_AddStringToObject(x, "check", r->check);
        }
        cJSON_AddItemToArray(res, x);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    FILE *f = text ? fopen(path, "w") : NULL;
    int ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0) ok = 0;
    free(text);
    return ok ? 0 : failf(EXIT_USAGE, "%s: cannot write", path);
}

/* Prints, for each result also in the earlier JSON (same workload and device), the ratio of
 * the median times: below 1 is faster now. */
static int compare(const char *path, const result *rs, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return failf(EXIT_USAGE, "%s: cannot open", path);
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            char *g = realloc(text, cap = 2 * cap + 8192);
            if (!g) break;
            text = g;
        }
        size_t got = fread(text + len, 1, cap - len - 1, f);
        len += got;
        if (!got) break;
    }
    fclose(f);
    if (!text) return failf(EXIT_DEVICE, "out of host memory");
    text[len] = '\0';
    cJSON *root = cJSON_Parse(text), *res = cJSON_GetObjectItemCaseSensitive(root, "results");
    free(text);
    if (!cJSON_IsArray(res)) {
        cJSON_Delete(root);
        return failf(EXIT_USAGE, "%s: not a JSON file from mlpcl bench --json", path);
    }
    printf("\nagainst %s (time now / time then; below 1 is faster):\n", path);
    for (size_t i = 0; i < n; ++i) {
        const cJSON *x;
        cJSON_ArrayForEach(x, res)
        {
            const cJSON *w = cJSON_GetObjectItemCaseSensitive(x, "workload"),
                        *d = cJSON_GetObjectItemCaseSensitive(x, "device"),
                        *t = cJSON_GetObjectItemCaseSensitive(x, "median_s");
            if (cJSON_IsString(w) && cJSON_IsString(d) && cJSON_IsNumber(t) &&
                !strcmp(w->valuestring, rs[i].workload) && !strcmp(d->valuestring, rs[i].where))
                printf("  %-12s %-8s %.3g -> %.3g s: x%.3f\n", rs[i].workload, rs[i].where,
                       t->valuedouble, rs[i].median, rs[i].median / t->valuedouble);
        }
    }
    cJSON_Delete(root);
    return 0;
}

/* ---- The command -------------------------------------------------------------------------- */

/* The selectors to run: the list given, "all" (every OpenCL device and the host), or the
 * default device and the host. */
static int selectors(const bench_cli *o, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char **list = NULL;
    size_t count = 0;
    if (o->devices && !strcmp(o->devices, "all")) {
        mlpcl_device_info *d;
        size_t nd;
        int st = mlpcl_devices(&d, &nd);
        if (st != MLPCL_OK) return lib_fail(st);
        list = calloc(nd, sizeof *list);
        for (size_t i = 0; list && i < nd; ++i) {
            char s[32];
            if (d[i].platform < 0)
                snprintf(s, sizeof s, "host");
            else
                snprintf(s, sizeof s, "%d:%d", d[i].platform, d[i].device);
            list[count++] = strdup(s);
        }
        free(d);
    } else {
        const char *src = o->devices ? o->devices : ",host";
        list = calloc(strlen(src) + 2, sizeof *list);
        for (const char *p = src; list;) {
            size_t len = strcspn(p, ",");
            list[count++] = strndup(p, len);
            if (!p[len]) break;
            p += len + 1;
        }
    }
    if (!list) return failf(EXIT_DEVICE, "out of host memory");
    *out = list;
    *n = count;
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    bench_cli o;
    int rc = parse(argc, argv, &o), st;
    if (rc) return rc < 0 ? 0 : rc;
    char **sel = NULL;
    size_t n_sel = 0, n_res = 0;
    result *rs = NULL;
    big_data big = {0};
    mlpcl_ctx *host = NULL;
    if ((rc = selectors(&o, &sel, &n_sel))) goto done;
    int need_big = wanted(&o, "784-256-10") || wanted(&o, "784-1024-10") || wanted(&o, "epoch");
    if (need_big && (rc = load_big(&o, &big))) goto done;
    if ((st = mlpcl_ctx_create("host", 0, &host)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    rs = calloc(n_sel * 4, sizeof *rs);
    if (!rs) {
        rc = failf(EXIT_DEVICE, "out of host memory");
        goto done;
    }
    if (need_big) printf("large workloads: %zu samples of %s\n", big.d.n, big.source);
    for (size_t s = 0; s < n_sel && !rc; ++s) {
        mlpcl_ctx *ctx = NULL;
        int is_host = !strcmp(sel[s], "host");
        if (is_host) {
            ctx = host;
        } else if ((st = mlpcl_ctx_create(*sel[s] ? sel[s] : NULL, MLPCL_CTX_PROFILE, &ctx)) !=
                   MLPCL_OK) {
            rc = lib_fail(st);
            break;
        }
        const mlpcl_device_info *dev = mlpcl_ctx_device(ctx);
        bench_env e = {&o, ctx, host, o.precision == 1 ? MLPCL_DOUBLE : MLPCL_FLOAT, &big};
        if (is_host) e.prec = MLPCL_DOUBLE;
        for (int w = 0; all_workloads[w] && !rc; ++w) {
            if (!wanted(&o, all_workloads[w])) continue;
            result *r = &rs[n_res];
            memset(r, 0, sizeof *r);
            snprintf(r->workload, sizeof r->workload, "%s", all_workloads[w]);
            snprintf(r->device, sizeof r->device, "%s", dev->name);
            snprintf(r->driver, sizeof r->driver, "%s; %s", dev->platform_name, dev->driver);
            if (is_host)
                snprintf(r->where, sizeof r->where, "host");
            else
                snprintf(r->where, sizeof r->where, "%d:%d", dev->platform, dev->device);
            r->precision = e.prec == MLPCL_DOUBLE ? "double" : "float";
            fprintf(stderr, "bench: %s on %s (%s)…\n", r->workload, r->where, dev->name);
            if (w == 0)
                rc = run_tutorial(&e, r);
            else if (w == 3)
                rc = run_epoch(&e, r);
            else
                rc = run_full_batch(&e, w == 1 ? 256 : 1024, r);
            if (!rc) ++n_res;
        }
        if (!is_host) mlpcl_ctx_free(ctx);
    }
    if (n_res) print_table(rs, n_res);
    if (!rc && o.csv) rc = write_csv(o.csv, rs, n_res);
    if (!rc && o.json)
        rc = write_json(o.json, &o, rs, n_res, need_big ? big.source : "none", argc, argv);
    if (!rc && o.compare) rc = compare(o.compare, rs, n_res);
    for (size_t i = 0; !rc && i < n_res; ++i)
        if (rs[i].checked && !rs[i].ok)
            rc = failf(EXIT_DEVICE, "bench: %s on %s does not match the host reference: %s",
                       rs[i].workload, rs[i].where, rs[i].check);
done:
    for (size_t i = 0; i < n_sel; ++i) free(sel[i]);
    free(sel);
    free(rs);
    mlpcl_ctx_free(host);
    mlpcl_dataset_free(&big.d);
    return rc;
}
