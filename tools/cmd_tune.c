// SPDX-License-Identifier: MIT
/* cmd_tune.c: `mlpcl tune` searches the tiled kernels' tunables for one device: full-batch
 * steps of 784-H-10 timed for each candidate, one tunable at a time from the defaults (on CPUs
 * derived from the device, mlpcl_ctx_derived_tuning: what runs use without a tuning cache)
 * (coordinate descent; on GPUs optionally every tile shape), within an optional time budget,
 * and the fastest saved in the tuning cache, which every later trainer on that device, driver
 * and precision uses. The tunables, their defaults and candidates are the library's table
 * (mlpcl_tunable_at). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char usage[] =
    "Usage: mlpcl tune [OPTIONS]\n"
    "\n"
    "Searches the tunables of the tiled kernels (tile shapes, work-group shapes) for a device:\n"
    "each candidate runs full-batch steps of a 784-H-10 network on random samples, one tunable\n"
    "at a time is varied from the best so far, starting from the defaults runs use without\n"
    "a cache (on CPUs derived from the device: its vector registers, L2 and vendor). A best\n"
    "other than that start is timed again against it, 3 rounds alternating, and kept only if\n"
    "its median is lower (a shared machine's speed moves). The result is saved in the tuning\n"
    "cache ($MLPCL_TUNE_CACHE, else ~/.cache/mlpcl/tuning), keyed by device name, driver and\n"
    "precision. Every later run on that device uses it ($MLPCL_TUNE still overrides it).\n"
    "Each candidate compiles the kernels anew: on POCL a full search takes minutes; --budget\n"
    "stops it in time, with the best found so far. On GPUs --exhaustive tries every tile\n"
    "shape of 64 to 256 work-items instead (hundreds of candidates).\n"
    "\n"
    "Tunables: on CPUs tm (rows of a work-item's tile), tnv (16-wide vectors across it), ly\n"
    "(work-items a group in the products), gx and gy (the tiles a gradient's work-item walks),\n"
    "mc (samples a block of that walk), pf (samples ahead the gradient prefetches rows of\n"
    "its deltas in full batches; 0: none), pw (rows of W this many bytes apart or more are\n"
    "read in panels by the forward product), and, not searched, st (1: wide hidden layers in\n"
    "strips) and gw (1: the walk; 0: a work-group of gx x gy work-items, a tile each); on\n"
    "GPUs bm and bn (a work-group's tile), bk (its depth), wm and wn (a work-item's subtile),\n"
    "lb (local buffers an operand) and lv (4: slices staged through registers, subtiles read\n"
    "4 at once).\n"
    "\n"
    "options:\n"
    "  -d, --device SEL       the device (see `mlpcl help`)\n"
    "  -p, --precision P      float (default) or double\n"
    "      --samples N        samples of the timed steps (default 8192)\n"
    "      --hidden H         hidden units (default 1024)\n"
    "      --iterations N     timed iterations a candidate, after one to warm up (default 3)\n"
    "      --params LIST      only these tunables, comma-separated (default: all)\n"
    "      --from SETTINGS    start from these values over the defaults (e.g. tm=8,tnv=1)\n"
    "      --budget S         start no candidate after S seconds of searching (default: none)\n"
    "      --exhaustive       GPUs: every tile shape rather than one tunable at a time\n"
    "  -n, --dry-run          search and print, but save nothing\n"
    "  -h, --help             print this text and exit\n"
    "  -V, --version          print the version and exit\n";

#define MAX_PARAMS 16

/* The device's tunables, from the library's table: those of its tiled kernels that the search
 * varies, in the table's order. */
typedef struct params {
    const mlpcl_tunable *p[MAX_PARAMS];
    int n;
} params;

static void device_params(int gpu, params *ps)
{
    ps->n = 0;
    const mlpcl_tunable *t;
    for (size_t i = 0; (t = mlpcl_tunable_at(i)) && ps->n < MAX_PARAMS; ++i)
        if (t->candidates && t->kernels == (gpu ? MLPCL_TUNABLE_GPU : MLPCL_TUNABLE_CPU))
            ps->p[ps->n++] = t;
}

static int param_index(const params *ps, const char *name)
{
    for (int i = 0; i < ps->n; ++i)
        if (!strcmp(ps->p[i]->name, name)) return i;
    return -1;
}

typedef struct setting {
    int v[MAX_PARAMS]; /* by the index of the parameter in its list */
} setting;

/* Sets s's value of the tunable that the pair "name=value" (len characters at p) names;
 * returns its index in ps, or -1 where it names none of them. */
static int set_pair(const params *ps, setting *s, const char *p, size_t len)
{
    for (int i = 0; i < ps->n; ++i) {
        size_t k = strlen(ps->p[i]->name);
        if (len > k + 1 && !strncmp(p, ps->p[i]->name, k) && p[k] == '=') {
            s->v[i] = atoi(p + k + 1);
            return i;
        }
    }
    return -1;
}

/* "path=tiled,local=…,name=value,…" */
static void format(const params *ps, int local, const setting *s, char *buf, size_t size)
{
    int n = snprintf(buf, size, "path=tiled,local=%d", local);
    for (int i = 0; i < ps->n && n > 0 && (size_t)n < size; ++i)
        n += snprintf(buf + n, size - (size_t)n, ",%s=%d", ps->p[i]->name, s->v[i]);
}

/* GPU tiles: whole subtiles, and between lo and hi work-items a group. */
static int tiles_ok(const params *ps, const setting *s, int lo, int hi)
{
    int bm = s->v[param_index(ps, "bm")], bn = s->v[param_index(ps, "bn")];
    int wm = s->v[param_index(ps, "wm")], wn = s->v[param_index(ps, "wn")];
    int items = (bm / wm) * (bn / wn);
    return bm % wm == 0 && bn % wn == 0 && items >= lo && items <= hi;
}

typedef struct job {
    mlpcl_ctx *ctx;
    mlpcl_net *net;
    double *X, *Y;
    size_t m;
    mlpcl_precision prec;
    long iterations;
    double budget, t0; /* seconds the search may take (0: no limit), and when it began */
    int tried;         /* candidates measured */
} job;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Whether the budget is spent (and so no candidate is started). */
static int spent(const job *j)
{
    return j->budget > 0 && now() - j->t0 >= j->budget;
}

/* Seconds an iteration with these tunables, or INFINITY when they do not build or run. */
static double measure(job *j, const char *tuning)
{
    j->tried++;
    mlpcl_trainer *tr = NULL;
    mlpcl_train_opts o;
    mlpcl_train_result r;
    double t = INFINITY;
    mlpcl_train_opts_default(&o);
    o.target = -1;
    o.max_iter = 1;
    if (mlpcl_ctx_set_tuning(j->ctx, tuning) == MLPCL_OK &&
        mlpcl_trainer_create(j->ctx, j->net, j->X, j->Y, j->m, j->prec, 0, &tr) == MLPCL_OK &&
        mlpcl_trainer_run(tr, &o, &r) == MLPCL_OK) {
        o.max_iter = j->iterations;
        if (mlpcl_trainer_run(tr, &o, &r) == MLPCL_OK) t = r.seconds / (double)j->iterations;
    }
    if (isinf(t)) printf("    (%s: %s)\n", tuning, mlpcl_last_error());
    mlpcl_trainer_free(tr);
    return t;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Rounds in which the search's best and its starting point are timed again, alternating. */
#define CONFIRM_ROUNDS 3

/* The search's best (tuning string best) against its start, timed again in CONFIRM_ROUNDS
 * alternating rounds: one timing a candidate can favour whichever ran while the machine was
 * quieter, and a shared machine's speed moves by tens of percent from minute to minute (tm=6
 * led by 1.33x in one search on a 2-core Xeon, and lost in every round at 60,000 samples).
 * Their medians in *tb and *ts; returns whether the best's is the lower. */
static int confirmed(job *j, const char *best, const char *start, double *tb, double *ts)
{
    double b[CONFIRM_ROUNDS], s[CONFIRM_ROUNDS];
    for (int r = 0; r < CONFIRM_ROUNDS; ++r) s[r] = measure(j, start), b[r] = measure(j, best);
    qsort(b, CONFIRM_ROUNDS, sizeof *b, by_value);
    qsort(s, CONFIRM_ROUNDS, sizeof *s, by_value);
    *tb = b[CONFIRM_ROUNDS / 2], *ts = s[CONFIRM_ROUNDS / 2];
    return *tb < *ts;
}

static int listed(const char *list, const char *name)
{
    if (!list) return 1;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (strlen(name) == len && !strncmp(p, name, len)) return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

int cmd_tune(int argc, char **argv)
{
    static const char *const precisions[] = {"float", "double", NULL};
    enum {
        O_DEVICE,
        O_PRECISION,
        O_SAMPLES,
        O_HIDDEN,
        O_ITERATIONS,
        O_PARAMS,
        O_FROM,
        O_DRY,
        O_BUDGET,
        O_EXHAUSTIVE
    };
    static const cli_option options[] = {
        {"device", 'd', 1, O_DEVICE},
        {"precision", 'p', 1, O_PRECISION},
        {"samples", 0, 1, O_SAMPLES},
        {"hidden", 0, 1, O_HIDDEN},
        {"iterations", 0, 1, O_ITERATIONS},
        {"params", 0, 1, O_PARAMS},
        {"from", 0, 1, O_FROM},
        {"dry-run", 'n', 0, O_DRY},
        {"budget", 0, 1, O_BUDGET},
        {"exhaustive", 0, 0, O_EXHAUSTIVE},
        {NULL, 0, 0, 0},
    };
    const char *device = NULL, *only = NULL, *from = NULL;
    long samples = 8192, hidden = 1024, iterations = 3;
    double budget = 0;
    int precision = 0, dry = 0, exhaustive = 0, rc = 0, st;
    cli_parser cp;
    cli_begin(&cp, "tune", usage, options, argc, argv);
    const args *a = &cp.a;
    for (int id; (id = cli_next(&cp)) != CLI_END;) {
        const char *v = cp.value;
        switch (id) {
        case CLI_SHOWN:
            return 0;
        case CLI_ERROR:
            return EXIT_USAGE;
        case O_DRY:
            dry = 1;
            break;
        case O_EXHAUSTIVE:
            exhaustive = 1;
            break;
        case O_BUDGET:
            rc = parse_double(a, "--budget", v, 0, 1e7, 1, &budget);
            break;
        case O_DEVICE:
            device = v;
            break;
        case O_PARAMS:
            only = v;
            break;
        case O_FROM:
            from = v;
            break;
        case O_SAMPLES:
            rc = parse_long(a, "--samples", v, 16, 10000000, &samples);
            break;
        case O_HIDDEN:
            rc = parse_long(a, "--hidden", v, 16, 100000, &hidden);
            break;
        case O_ITERATIONS:
            rc = parse_long(a, "--iterations", v, 1, 1000, &iterations);
            break;
        case O_PRECISION:
            rc = parse_word(a, "--precision", v, precisions, &precision);
            break;
        }
        if (rc) return EXIT_USAGE;
    }
    unsetenv("MLPCL_TUNE"); /* the search sets the tunables itself */
    job j = {0};
    j.m = (size_t)samples;
    j.iterations = iterations;
    j.budget = budget;
    j.prec = precision ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
    size_t w[3] = {784, (size_t)hidden, 10};
    if ((st = mlpcl_ctx_create(device, 0, &j.ctx)) != MLPCL_OK) return lib_fail(st);
    const mlpcl_device_info *dev = mlpcl_ctx_device(j.ctx);
    if (dev->platform < 0) {
        mlpcl_ctx_free(j.ctx);
        return failf(EXIT_USAGE, "tune: the host trainer has no kernels to tune");
    }
    j.X = malloc(j.m * 784 * sizeof *j.X);
    j.Y = calloc(j.m * 10, sizeof *j.Y);
    if (!j.X || !j.Y || mlpcl_net_create(2, w, &j.net) != MLPCL_OK ||
        mlpcl_net_init(j.net, MLPCL_INIT_UNIFORM, 1) != MLPCL_OK) {
        rc = failf(EXIT_DEVICE, "out of host memory");
        goto done;
    }
    for (size_t i = 0; i < j.m * 784; ++i) j.X[i] = (double)((i * 2654435761u) % 1000) / 1000.0;
    for (size_t i = 0; i < j.m; ++i) j.Y[i * 10 + i % 10] = 1;

    int gpu = !strcmp(dev->type, "gpu");
    if (exhaustive && (!gpu || only)) {
        rc = failf(EXIT_USAGE, "tune: --exhaustive searches a GPU's tile shapes%s",
                   gpu ? ", not with --params" : ", and this is not a GPU");
        goto done;
    }
    params ps;
    device_params(gpu, &ps);
    setting best = {{0}};
    for (int i = 0; i < ps.n; ++i) best.v[i] = gpu ? ps.p[i]->gpu_default : ps.p[i]->cpu_default;
    char derived[512]; /* what runs without tuning use: on CPUs derived from the device */
    if ((st = mlpcl_ctx_derived_tuning(j.ctx, derived, sizeof derived)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    for (const char *p = derived; *p;) { /* path=… and the other kind's tunables: not searched */
        size_t len = strcspn(p, ",");
        set_pair(&ps, &best, p, len);
        p += len + (p[len] == ',');
    }
    for (const char *p = from; p && *p;) { /* --from: name=value pairs over the defaults */
        size_t len = strcspn(p, ",");
        int i = set_pair(&ps, &best, p, len);
        if (i < 0 || best.v[i] < ps.p[i]->lo || best.v[i] > ps.p[i]->hi) {
            rc = failf(EXIT_USAGE,
                       "tune: --from expects name=value pairs of %s tunables, not "
                       "'%.*s'",
                       gpu ? "GPU" : "CPU", (int)len, p);
            goto done;
        }
        p += len + (p[len] == ',');
    }
    char text[256], base_text[256];
    format(&ps, gpu, &best, base_text, sizeof base_text);
    printf("tuning %s (%s) in %s on steps of 784-%ld-10, %zu samples; default %s\n", dev->name,
           dev->driver, j.prec == MLPCL_PRECISION_DOUBLE ? "double" : "float", hidden, j.m,
           base_text);
    j.t0 = now();
    const setting start = best;
    double base = measure(&j, base_text), best_t = base;
    printf("  %-60s %.3f ms an iteration\n", base_text, 1e3 * base);
    if (isinf(base)) {
        rc = failf(EXIT_DEVICE, "tune: the default tunables do not run: %s", mlpcl_last_error());
        goto done;
    }
    if (exhaustive) { /* every tile shape of 64 to 256 work-items */
        setting g = {{0}}, tried_best = best;
        int at[MAX_PARAMS] = {0}; /* the candidate each parameter is at: an odometer */
        for (int done_all = 0; !done_all && !spent(&j);) {
            for (int i = 0; i < ps.n; ++i) g.v[i] = ps.p[i]->candidates[at[i]];
            if (tiles_ok(&ps, &g, 64, 256) && memcmp(&g, &best, sizeof g)) {
                format(&ps, gpu, &g, text, sizeof text);
                double t = measure(&j, text);
                printf("  %-60s %.3f ms an iteration\n", text, 1e3 * t);
                if (t < best_t) best_t = t, tried_best = g;
            }
            int i = ps.n - 1;
            while (i >= 0 && !ps.p[i]->candidates[++at[i]]) at[i--] = 0;
            done_all = i < 0;
        }
        best = tried_best;
    }
    for (int i = 0; i < ps.n && !exhaustive; ++i) {
        if (!listed(only, ps.p[i]->name)) continue;
        int keep = best.v[i];
        for (const int *v = ps.p[i]->candidates; *v && !spent(&j); ++v) {
            if (*v == keep) continue;
            setting s = best;
            s.v[i] = *v;
            if (gpu && !tiles_ok(&ps, &s, 32, 1024)) continue;
            format(&ps, gpu, &s, text, sizeof text);
            double t = measure(&j, text);
            printf("  %-60s %.3f ms an iteration\n", text, 1e3 * t);
            if (t < best_t) best_t = t, best.v[i] = *v;
        }
    }
    if (spent(&j))
        printf("the budget of %g s is spent, after %d candidates: the best so far\n", budget,
               j.tried);
    format(&ps, gpu, &best, text, sizeof text);
    if (memcmp(&best, &start, sizeof best)) { /* a lead from one timing each: check it again */
        double tb, ts;
        int kept = confirmed(&j, text, base_text, &tb, &ts);
        printf("checked again, %d rounds alternating with the default: %.3f ms against %.3f ms "
               "(medians): %s\n",
               CONFIRM_ROUNDS, 1e3 * tb, 1e3 * ts, kept ? "kept" : "the default stays");
        if (!kept) best = start, format(&ps, gpu, &best, text, sizeof text);
        best_t = kept ? tb : ts, base = ts;
    }
    printf("best: %s, %.3f ms an iteration (the default %.3f ms: x%.2f)\n", text, 1e3 * best_t,
           1e3 * base, base / best_t);
    if (!dry) {
        char path[4096];
        mlpcl_tuning_cache_path(path, sizeof path);
        /* the tunables alone: which kernels run stays the library's choice per network */
        if ((st = mlpcl_tuning_save(j.ctx, j.prec, text + strlen("path=tiled,"))) != MLPCL_OK) {
            rc = lib_fail(st);
            goto done;
        }
        printf("saved in %s; trainers on this device use it from now on\n", path);
    }
done:
    mlpcl_net_free(j.net);
    free(j.X);
    free(j.Y);
    mlpcl_ctx_free(j.ctx);
    return rc;
}
