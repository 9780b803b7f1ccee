/* cmd_tune.c: `mlpcl tune` searches the tiled kernels' tunables for one device: full-batch
 * steps of 784-H-10 timed for each candidate, one tunable at a time from the defaults
 * (coordinate descent), and the fastest saved in the tuning cache, which every later trainer
 * on that device, driver and precision uses. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: mlpcl tune [OPTIONS]\n"
    "\n"
    "Searches the tunables of the tiled kernels (tile shapes, work-group shapes) for a device:\n"
    "each candidate runs full-batch steps of a 784-H-10 network on random samples, one tunable\n"
    "at a time is varied from the best so far, and the fastest is saved in the tuning cache\n"
    "($MLPCL_TUNE_CACHE, else ~/.cache/mlpcl/tuning), keyed by device name, driver and\n"
    "precision. Every later run on that device uses it ($MLPCL_TUNE still overrides it).\n"
    "Each candidate compiles the kernels anew: on POCL a full search takes minutes. On GPUs\n"
    "every tile shape of 64 to 256 work-items is tried (unless --params narrows it).\n"
    "\n"
    "Tunables: on CPUs tm (rows of a work-item's tile), tnv (16-wide vectors across it), ly\n"
    "(work-items a group in the products), gx and gy (the gradient's work-group), mc (samples a\n"
    "block of the gradient's reduction); on GPUs bm and bn (a work-group's tile), bk (its\n"
    "depth), wm and wn (a work-item's subtile).\n"
    "\n"
    "options:\n"
    "  --device SEL       the device (see `mlpcl help`)\n"
    "  --precision P      float (default) or double\n"
    "  --samples N        samples of the timed steps (default 8192)\n"
    "  --hidden H         hidden units (default 1024)\n"
    "  --iterations N     timed iterations a candidate, after one to warm up (default 3)\n"
    "  --params LIST      only these tunables, comma-separated (default: all)\n"
    "  --from SETTINGS    start from these values instead of the defaults (e.g. tm=8,tnv=1)\n"
    "  --dry-run          search and print, but save nothing\n"
    "  -h, --help         this text\n";

typedef struct param {
    const char *name;
    const int *values; /* candidate values, 0-terminated */
} param;

static const int tm_v[] = {4, 6, 8, 10, 12, 14, 0}, tnv_v[] = {1, 2, 3, 0},
                 ly_v[] = {1, 2, 4, 8, 16, 0}, gxy_v[] = {2, 4, 8, 16, 0},
                 mc_v[] = {16, 32, 64, 128, 256, 0}, bmn_v[] = {32, 64, 128, 0},
                 bk_v[] = {8, 16, 32, 0}, w_v[] = {2, 4, 8, 0};

static const param cpu_params[] = {{"tm", tm_v},  {"tnv", tnv_v}, {"mc", mc_v}, {"ly", ly_v},
                                   {"gx", gxy_v}, {"gy", gxy_v},  {NULL, NULL}};
static const param gpu_params[] = {{"bm", bmn_v}, {"bn", bmn_v}, {"wm", w_v},
                                   {"wn", w_v},   {"bk", bk_v},  {NULL, NULL}};

typedef struct setting {
    int v[8]; /* by the index of the parameter in its list */
} setting;

/* "path=tiled,local=…,name=value,…" */
static void format(const param *ps, int local, const setting *s, char *buf, size_t size)
{
    int n = snprintf(buf, size, "path=tiled,local=%d", local);
    for (int i = 0; ps[i].name && n > 0 && (size_t)n < size; ++i)
        n += snprintf(buf + n, size - (size_t)n, ",%s=%d", ps[i].name, s->v[i]);
}

typedef struct job {
    mlpcl_ctx *ctx;
    mlpcl_net *net;
    double *X, *Y;
    size_t m;
    mlpcl_precision prec;
    long iterations;
} job;

/* Seconds an iteration with these tunables, or INFINITY when they do not build or run. */
static double measure(job *j, const char *tuning)
{
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
    args a = {argc, 1, argv, "tune", 0};
    const char *device = NULL, *only = NULL, *from = NULL;
    long samples = 8192, hidden = 1024, iterations = 3;
    int precision = 0, dry = 0, rc = 0, st;
    for (; a.i < argc; ++a.i) {
        const char *v = NULL, *arg = argv[a.i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(arg, "--dry-run")) {
            dry = 1;
        } else if (take(&a, "--device", &v)) {
            device = v;
        } else if (take(&a, "--params", &v)) {
            only = v;
        } else if (take(&a, "--from", &v)) {
            from = v;
        } else if (take(&a, "--samples", &v)) {
            rc = parse_long(&a, "--samples", v, 16, 10000000, &samples);
        } else if (take(&a, "--hidden", &v)) {
            rc = parse_long(&a, "--hidden", v, 16, 100000, &hidden);
        } else if (take(&a, "--iterations", &v)) {
            rc = parse_long(&a, "--iterations", v, 1, 1000, &iterations);
        } else if (take(&a, "--precision", &v)) {
            rc = parse_word(&a, "--precision", v, precisions, &precision);
        } else {
            return failf(EXIT_USAGE, "tune: unknown option '%s' (see mlpcl tune --help)", arg);
        }
        if (a.bad || rc) return EXIT_USAGE;
    }
    unsetenv("MLPCL_TUNE"); /* the search sets the tunables itself */
    job j = {0};
    j.m = (size_t)samples;
    j.iterations = iterations;
    j.prec = precision ? MLPCL_DOUBLE : MLPCL_FLOAT;
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
    const param *ps = gpu ? gpu_params : cpu_params;
    setting best = {{0}};
    static const int cpu_default[] = {12, 2, 64, 8, 8, 8}, gpu_default[] = {64, 64, 4, 4, 16};
    for (int i = 0; ps[i].name; ++i) best.v[i] = gpu ? gpu_default[i] : cpu_default[i];
    for (const char *p = from; p && *p;) { /* --from: name=value pairs over the defaults */
        size_t len = strcspn(p, ",");
        int i = 0, found = 0;
        for (; ps[i].name; ++i) {
            size_t k = strlen(ps[i].name);
            if (len > k + 1 && !strncmp(p, ps[i].name, k) && p[k] == '=') {
                best.v[i] = atoi(p + k + 1);
                found = best.v[i] > 0;
                break;
            }
        }
        if (!found) {
            rc = failf(EXIT_USAGE,
                       "tune: --from expects name=value pairs of %s tunables, not "
                       "'%.*s'",
                       gpu ? "GPU" : "CPU", (int)len, p);
            goto done;
        }
        p += len + (p[len] == ',');
    }
    char text[256], base_text[256];
    format(ps, gpu, &best, base_text, sizeof base_text);
    printf("tuning %s (%s) in %s on steps of 784-%ld-10, %zu samples; default %s\n", dev->name,
           dev->driver, j.prec == MLPCL_DOUBLE ? "double" : "float", hidden, j.m, base_text);
    double base = measure(&j, base_text), best_t = base;
    setting tried_best = best;
    printf("  %-60s %.3f ms an iteration\n", base_text, 1e3 * base);
    if (isinf(base)) {
        rc = failf(EXIT_DEVICE, "tune: the default tunables do not run: %s", mlpcl_last_error());
        goto done;
    }
    if (gpu && !only) { /* GPUs compile fast: every tile shape of 64 to 256 work-items */
        static const int bmn[] = {32, 64, 128}, wmn[] = {4, 8}, bks[] = {8, 16, 32};
        for (int a1 = 0; a1 < 3; ++a1)
            for (int a2 = 0; a2 < 3; ++a2)
                for (int b1 = 0; b1 < 2; ++b1)
                    for (int b2 = 0; b2 < 2; ++b2)
                        for (int c = 0; c < 3; ++c) {
                            setting g = {{bmn[a1], bmn[a2], wmn[b1], wmn[b2], bks[c]}};
                            int items = (g.v[0] / g.v[2]) * (g.v[1] / g.v[3]);
                            if (items < 64 || items > 256 || !memcmp(&g, &best, sizeof g)) continue;
                            format(ps, gpu, &g, text, sizeof text);
                            double t = measure(&j, text);
                            printf("  %-60s %.3f ms an iteration\n", text, 1e3 * t);
                            if (t < best_t) best_t = t, tried_best = g;
                        }
        best = tried_best;
    }
    for (int i = 0; ps[i].name && (!gpu || only); ++i) {
        if (!listed(only, ps[i].name)) continue;
        int keep = best.v[i];
        for (const int *v = ps[i].values; *v; ++v) {
            if (*v == keep) continue;
            setting s = best;
            s.v[i] = *v;
            /* GPU tiles: whole subtiles, and between 32 and 1024 work-items a group */
            if (gpu) {
                int items = (s.v[0] / s.v[2]) * (s.v[1] / s.v[3]);
                if (s.v[0] % s.v[2] || s.v[1] % s.v[3] || items < 32 || items > 1024) continue;
            }
            format(ps, gpu, &s, text, sizeof text);
            double t = measure(&j, text);
            printf("  %-60s %.3f ms an iteration\n", text, 1e3 * t);
            if (t < best_t) best_t = t, best.v[i] = *v;
        }
    }
    format(ps, gpu, &best, text, sizeof text);
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
