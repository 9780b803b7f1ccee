/* mlpcl.c: the command line. `mlpcl train` runs the tutorial's example or trains on CSV data,
 * `mlpcl devices` lists what can run it, `mlpcl gen` writes the tutorial's data set. Exit
 * status: 0 converged, 2 bad usage or input, 3 OpenCL or device error, 4 not converged within
 * --max-iter, 5 diverged. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlpcl.h"

enum {
    EXIT_CONVERGED = 0,
    EXIT_USAGE = 2,
    EXIT_DEVICE = 3,
    EXIT_NOT_CONVERGED = 4,
    EXIT_DIVERGED = 5
};

#define MAX_LAYERS 64

static const char usage_main[] =
    "usage: mlpcl COMMAND [OPTIONS]\n"
    "\n"
    "Trains multilayer perceptrons by backpropagation on OpenCL devices.\n"
    "\n"
    "commands:\n"
    "  train     train a network (with no options: the tutorial's 2-3-2 example)\n"
    "  devices   list every OpenCL platform and device, and the host trainer\n"
    "  gen       write the tutorial's random data set as CSV files\n"
    "  help      this text; `mlpcl COMMAND --help` describes a command\n"
    "\n"
    "Devices are chosen with --device SEL or $MLPCL_DEVICE: an index (0:1, or 2), a type\n"
    "(gpu, cpu, accelerator), part of a device or platform name, or host (the plain C\n"
    "double-precision reference trainer). Without one: the first GPU, else the first CPU.\n"
    "\n"
    "exit status: 0 success (train: converged), 2 bad usage or input, 3 OpenCL or device\n"
    "error, 4 not converged within --max-iter, 5 diverged (the cost became NaN or Inf).\n";

static const char usage_train[] =
    "usage: mlpcl train [OPTIONS]\n"
    "\n"
    "Full-batch gradient descent on the least-squares cost 1/(2m)·Σ(out − Y)², reading the\n"
    "cost every iteration and stopping as soon as it is below --target. With no options it\n"
    "runs the tutorial's example: 10 random samples of 2 inputs and 2 targets, a 2-3-2 sigmoid\n"
    "network with every weight and bias 1.0, step 0.01, target 0.1.\n"
    "\n"
    "It prints `start: C` (the starting cost), `cost: C` after iterations 1, 1+N, 1+2N, …,\n"
    "`end: C` and `cnt: ITERATIONS`, then the device, precision and time taken. Costs are\n"
    "printed so they read back exactly (17 significant digits in double, 9 in float).\n"
    "\n"
    "options:\n"
    "  --device SEL         where to train (see `mlpcl help`); default $MLPCL_DEVICE, else\n"
    "                       the first GPU, else the first CPU\n"
    "  --x FILE --y FILE    CSV data: one sample a row, comma-separated numbers, an optional\n"
    "                       header row of names; X and Y must have the same number of rows\n"
    "  --samples M          without --x/--y: how many random samples to draw (default 10)\n"
    "  --layers N0,H1,…,NL  inputs, hidden widths, outputs (default: X's columns, 3, Y's\n"
    "                       columns: 2,3,2 for the tutorial)\n"
    "  --lr STEP            gradient-descent step (default 0.01)\n"
    "  --target COST        stop when the cost is below this (default 0.1)\n"
    "  --max-iter N         stop after N updates if not converged, exit 4 (default 10000000)\n"
    "  --precision P        float (default on OpenCL devices) or double (needs cl_khr_fp64;\n"
    "                       the host trainer is double only)\n"
    "  --print-every N      print the cost every N iterations (default 100; 0 = only start\n"
    "                       and end)\n"
    "  --init ones|uniform  every parameter 1.0 (default, the tutorial's), or seeded uniform\n"
    "                       Xavier weights with zero biases\n"
    "  --seed N             seeds the random data and the uniform initialisation (default 1)\n"
    "  --lookahead N        iterations the device may run ahead of the cost read (default 1;\n"
    "                       0 = wait for every cost); the result is the same either way\n"
    "  -h, --help           this text\n";

static const char usage_devices[] =
    "usage: mlpcl devices\n"
    "\n"
    "Lists every OpenCL platform and device with its index (platform:device), type, name,\n"
    "platform, OpenCL version, driver, compute units, memory and double-precision support,\n"
    "then the host reference trainer. Any of these can be given to --device.\n";

static const char usage_gen[] =
    "usage: mlpcl gen --x FILE --y FILE [--samples M] [--seed N]\n"
    "\n"
    "Writes the random data set that `mlpcl train` draws when given no --x/--y: M samples\n"
    "(default 10) of 2 inputs and 2 targets, uniform in [0, 1), from seed N (default 1), as\n"
    "CSV with 17 significant digits. `mlpcl train --x X.csv --y Y.csv` then trains on exactly\n"
    "the same numbers, and so can any other program.\n";

/* ---- Messages and option parsing ---------------------------------------------------------- */

static int failf(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("mlpcl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/* The exit status for a library failure: bad input is the user's to fix (2), the rest is the
 * device's or the system's (3). */
static int exit_for(int st)
{
    switch (st) {
    case MLPCL_ERR_ARG:
    case MLPCL_ERR_DATA:
    case MLPCL_ERR_IO:
        return EXIT_USAGE;
    default:
        return EXIT_DEVICE;
    }
}

static int lib_fail(int st)
{
    return failf(exit_for(st), "%s", mlpcl_last_error());
}

typedef struct args {
    int argc, i;
    char **argv;
    const char *cmd;
} args;

/* If argv[i] is option name (as "--name VALUE" or "--name=VALUE"), stores its value. */
static int take(args *a, const char *name, const char **value, int *bad)
{
    const char *arg = a->argv[a->i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0) return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0') return 0;
    if (a->i + 1 >= a->argc) {
        failf(EXIT_USAGE, "%s: option %s needs a value", a->cmd, name);
        *bad = 1;
        return 1;
    }
    *value = a->argv[++a->i];
    return 1;
}

static int parse_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return failf(EXIT_USAGE, "%s: %s expects a whole number from %ld to %ld, not '%s'", cmd,
                     opt, lo, hi, s);
    *out = v;
    return 0;
}

static int parse_double(const char *cmd, const char *opt, const char *s, int positive, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || isnan(v) || isinf(v) || (positive && !(v > 0)))
        return failf(EXIT_USAGE, "%s: %s expects a finite%s number, not '%s'", cmd, opt,
                     positive ? " positive" : "", s);
    *out = v;
    return 0;
}

static int parse_layers(const char *s, size_t *widths, size_t *n_layers)
{
    size_t n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > 1000000 || n >= MAX_LAYERS + 1)
            return failf(EXIT_USAGE,
                         "train: --layers expects 2 to %d widths from 1 to 1000000 separated "
                         "by commas (inputs,hidden…,outputs), not '%s'",
                         MAX_LAYERS + 1, s);
        widths[n++] = (size_t)v;
        if (*end == '\0') break;
        if (*end != ',') return parse_layers("", widths, n_layers);
        p = end + 1;
    }
    if (n < 2)
        return failf(EXIT_USAGE,
                     "train: --layers needs at least the inputs and the outputs, "
                     "not '%s'",
                     s);
    *n_layers = n - 1;
    return 0;
}

/* ---- train -------------------------------------------------------------------------------- */

typedef struct train_cli {
    const char *device, *x_path, *y_path, *layers;
    long samples, max_iter, print_every, seed, lookahead;
    double lr, target;
    mlpcl_precision precision;
    int precision_given;
    mlpcl_init init;
} train_cli;

typedef struct printer {
    long every;
    const char *fmt; /* "%.17g" or "%.9g" */
} printer;

/* Prints what the tutorial prints, when it prints it: the start, then after iterations 1,
 * 1 + every, 1 + 2·every, … */
static void print_cost(void *user, long iter, double cost)
{
    const printer *p = user;
    if (iter == 0) {
        fputs("start: ", stdout);
    } else if (p->every > 0 && (iter - 1) % p->every == 0) {
        fputs("cost: ", stdout);
    } else {
        return;
    }
    printf(p->fmt, cost);
    putchar('\n');
}

static int parse_train(int argc, char **argv, train_cli *o)
{
    args a = {argc, 1, argv, "train"};
    *o = (train_cli){.samples = 10,
                     .max_iter = 10000000,
                     .print_every = 100,
                     .seed = 1,
                     .lookahead = 1,
                     .lr = 0.01,
                     .target = 0.1,
                     .precision = MLPCL_FLOAT,
                     .init = MLPCL_INIT_ONES};
    for (; a.i < argc; ++a.i) {
        const char *v = NULL, *arg = argv[a.i];
        int bad = 0, rc = 0;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(usage_train, stdout);
            return -1;
        } else if (take(&a, "--device", &v, &bad)) {
            o->device = v;
        } else if (take(&a, "--x", &v, &bad)) {
            o->x_path = v;
        } else if (take(&a, "--y", &v, &bad)) {
            o->y_path = v;
        } else if (take(&a, "--layers", &v, &bad)) {
            o->layers = v;
        } else if (take(&a, "--samples", &v, &bad)) {
            if (!bad) rc = parse_long("train", "--samples", v, 1, 100000000, &o->samples);
        } else if (take(&a, "--lr", &v, &bad)) {
            if (!bad) rc = parse_double("train", "--lr", v, 1, &o->lr);
        } else if (take(&a, "--target", &v, &bad)) {
            if (!bad) rc = parse_double("train", "--target", v, 0, &o->target);
        } else if (take(&a, "--max-iter", &v, &bad)) {
            if (!bad) rc = parse_long("train", "--max-iter", v, 0, 1000000000000L, &o->max_iter);
        } else if (take(&a, "--print-every", &v, &bad)) {
            if (!bad)
                rc = parse_long("train", "--print-every", v, 0, 1000000000000L, &o->print_every);
        } else if (take(&a, "--seed", &v, &bad)) {
            if (!bad) rc = parse_long("train", "--seed", v, 0, 0x7fffffffffffffffL, &o->seed);
        } else if (take(&a, "--lookahead", &v, &bad)) {
            if (!bad) rc = parse_long("train", "--lookahead", v, 0, 64, &o->lookahead);
        } else if (take(&a, "--precision", &v, &bad)) {
            if (bad) {
            } else if (!strcmp(v, "float")) {
                o->precision = MLPCL_FLOAT;
            } else if (!strcmp(v, "double")) {
                o->precision = MLPCL_DOUBLE;
            } else {
                rc = failf(EXIT_USAGE, "train: --precision expects float or double, not '%s'", v);
            }
            o->precision_given = 1;
        } else if (take(&a, "--init", &v, &bad)) {
            if (bad) {
            } else if (!strcmp(v, "ones")) {
                o->init = MLPCL_INIT_ONES;
            } else if (!strcmp(v, "uniform")) {
                o->init = MLPCL_INIT_UNIFORM;
            } else {
                rc = failf(EXIT_USAGE, "train: --init expects ones or uniform, not '%s'", v);
            }
        } else {
            return failf(EXIT_USAGE, "train: unknown option '%s' (see mlpcl train --help)", arg);
        }
        if (bad || rc) return EXIT_USAGE;
    }
    if (!o->x_path != !o->y_path)
        return failf(EXIT_USAGE, "train: --x and --y go together (inputs and targets)");
    return 0;
}

/* Loads or draws the data; checks rows and --layers against it. */
static int load_data(const train_cli *o, mlpcl_table *X, mlpcl_table *Y, size_t *widths,
                     size_t *n_layers)
{
    int st;
    if (o->x_path) {
        if ((st = mlpcl_csv_read(o->x_path, X)) != MLPCL_OK) return lib_fail(st);
        if ((st = mlpcl_csv_read(o->y_path, Y)) != MLPCL_OK) return lib_fail(st);
        if (X->rows != Y->rows)
            return failf(EXIT_USAGE,
                         "train: %s has %zu data rows but %s has %zu: X and Y need "
                         "one row per sample each",
                         o->x_path, X->rows, o->y_path, Y->rows);
    } else {
        size_t m = (size_t)o->samples;
        X->rows = Y->rows = m;
        X->cols = Y->cols = 2;
        X->v = malloc(2 * m * sizeof(double));
        Y->v = malloc(2 * m * sizeof(double));
        if (!X->v || !Y->v) return failf(EXIT_DEVICE, "out of host memory for %zu samples", m);
        mlpcl_tutorial_data(m, (uint64_t)o->seed, X->v, Y->v);
    }
    const char *xs = o->x_path ? o->x_path : "the generated X";
    const char *ys = o->y_path ? o->y_path : "the generated Y";
    if (!o->layers) {
        widths[0] = X->cols;
        widths[1] = 3;
        widths[2] = Y->cols;
        *n_layers = 2;
        return 0;
    }
    if ((st = parse_layers(o->layers, widths, n_layers))) return st;
    if (widths[0] != X->cols)
        return failf(EXIT_USAGE,
                     "train: --layers %s starts with %zu inputs but %s has %zu "
                     "columns",
                     o->layers, widths[0], xs, X->cols);
    if (widths[*n_layers] != Y->cols)
        return failf(EXIT_USAGE,
                     "train: --layers %s ends with %zu outputs but %s has %zu "
                     "columns",
                     o->layers, widths[*n_layers], ys, Y->cols);
    return 0;
}

static int cmd_train(int argc, char **argv)
{
    train_cli o;
    int rc = parse_train(argc, argv, &o), st;
    if (rc) return rc < 0 ? 0 : rc;
    mlpcl_table X = {0}, Y = {0};
    size_t widths[MAX_LAYERS + 1], n_layers = 0;
    mlpcl_ctx *ctx = NULL;
    mlpcl_net *net = NULL;
    mlpcl_trainer *tr = NULL;
    if ((rc = load_data(&o, &X, &Y, widths, &n_layers))) goto done;

    struct timespec ts0, ts1;
    clock_gettime(CLOCK_MONOTONIC, &ts0);
    if ((st = mlpcl_ctx_create(o.device, 0, &ctx)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    const mlpcl_device_info *dev = mlpcl_ctx_device(ctx);
    mlpcl_precision prec = o.precision;
    if (dev->platform < 0 && !o.precision_given) prec = MLPCL_DOUBLE;
    if ((st = mlpcl_net_create(n_layers, widths, &net)) != MLPCL_OK ||
        (st = mlpcl_net_init(net, o.init, (uint64_t)o.seed)) != MLPCL_OK ||
        (st = mlpcl_trainer_create(ctx, net, X.v, Y.v, X.rows, prec, 0, &tr)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts1);
    double setup = (double)(ts1.tv_sec - ts0.tv_sec) + 1e-9 * (double)(ts1.tv_nsec - ts0.tv_nsec);

    printer pr = {o.print_every, prec == MLPCL_DOUBLE ? "%.17g" : "%.9g"};
    mlpcl_train_opts opts;
    mlpcl_train_opts_default(&opts);
    opts.lr = o.lr;
    opts.target = o.target;
    opts.max_iter = o.max_iter;
    opts.lookahead = (int)o.lookahead;
    opts.on_cost = print_cost;
    opts.user = &pr;
    mlpcl_train_result res;
    if ((st = mlpcl_trainer_run(tr, &opts, &res)) != MLPCL_OK) {
        fflush(stdout);
        rc = lib_fail(st);
        goto done;
    }
    if (res.stop == MLPCL_STOP_DIVERGED) {
        fflush(stdout);
        rc = failf(EXIT_DIVERGED,
                   "diverged: the cost became NaN or infinite at iteration %ld; the last finite "
                   "cost was %.9g; kept the weights of iteration %ld. Try a smaller --lr (now "
                   "%g).",
                   res.iterations, res.cost, res.iterations > 0 ? res.iterations - 1 : 0, o.lr);
        goto done;
    }
    fputs("end: ", stdout);
    printf(pr.fmt, res.cost);
    printf("\ncnt: %ld\n", res.iterations);
    char where[32];
    if (dev->platform < 0)
        snprintf(where, sizeof where, "host");
    else
        snprintf(where, sizeof where, "%d:%d", dev->platform, dev->device);
    printf("device: %s (%s, %s), precision: %s, time: %.3f ms training (%.2f us/iteration), "
           "%.3f ms setup\n",
           dev->name, where, dev->platform_name, prec == MLPCL_DOUBLE ? "double" : "float",
           1e3 * res.seconds, 1e6 * res.seconds / (double)(res.iterations + 1), 1e3 * setup);
    if (res.stop == MLPCL_STOP_MAX_ITER) {
        fflush(stdout);
        rc = failf(EXIT_NOT_CONVERGED,
                   "not converged: the cost is %.9g after %ld iterations (--max-iter), "
                   "target %g",
                   res.cost, res.iterations, o.target);
    }
done:
    mlpcl_trainer_free(tr);
    mlpcl_net_free(net);
    mlpcl_ctx_free(ctx);
    mlpcl_table_free(&X);
    mlpcl_table_free(&Y);
    return rc;
}

/* ---- devices, gen ------------------------------------------------------------------------- */

static int cmd_devices(int argc, char **argv)
{
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage_devices, stdout);
            return 0;
        }
        return failf(EXIT_USAGE, "devices: unknown option '%s'", argv[i]);
    }
    mlpcl_device_info *list;
    size_t n;
    int st = mlpcl_devices(&list, &n);
    if (st != MLPCL_OK) return lib_fail(st);
    for (size_t i = 0; i < n; ++i) {
        char line[1200];
        mlpcl_device_describe(&list[i], line, sizeof line);
        puts(line);
    }
    free(list);
    return 0;
}

static int cmd_gen(int argc, char **argv)
{
    args a = {argc, 1, argv, "gen"};
    const char *x = NULL, *y = NULL;
    long m = 10, seed = 1;
    for (; a.i < argc; ++a.i) {
        const char *v = NULL;
        int bad = 0, rc = 0;
        if (!strcmp(argv[a.i], "-h") || !strcmp(argv[a.i], "--help")) {
            fputs(usage_gen, stdout);
            return 0;
        } else if (take(&a, "--x", &v, &bad)) {
            x = v;
        } else if (take(&a, "--y", &v, &bad)) {
            y = v;
        } else if (take(&a, "--samples", &v, &bad)) {
            if (!bad) rc = parse_long("gen", "--samples", v, 1, 100000000, &m);
        } else if (take(&a, "--seed", &v, &bad)) {
            if (!bad) rc = parse_long("gen", "--seed", v, 0, 0x7fffffffffffffffL, &seed);
        } else {
            return failf(EXIT_USAGE, "gen: unknown option '%s' (see mlpcl gen --help)", argv[a.i]);
        }
        if (bad || rc) return EXIT_USAGE;
    }
    if (!x || !y) return failf(EXIT_USAGE, "gen: --x FILE and --y FILE are both needed");
    double *X = malloc(2 * (size_t)m * sizeof *X), *Y = malloc(2 * (size_t)m * sizeof *Y);
    int st = MLPCL_ERR_NOMEM, rc = 0;
    if (X && Y) {
        mlpcl_tutorial_data((size_t)m, (uint64_t)seed, X, Y);
        st = mlpcl_csv_write(x, X, (size_t)m, 2);
        if (st == MLPCL_OK) st = mlpcl_csv_write(y, Y, (size_t)m, 2);
    }
    if (st != MLPCL_OK)
        rc = st == MLPCL_ERR_NOMEM ? failf(EXIT_DEVICE, "out of host memory")
                                   : failf(EXIT_DEVICE, "%s", mlpcl_last_error());
    free(X);
    free(Y);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("mlpcl: no command given\n\n", stderr);
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "devices")) return cmd_devices(argc - 1, argv + 1);
    if (!strcmp(cmd, "gen")) return cmd_gen(argc - 1, argv + 1);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        puts("mlpcl " MLPCL_VERSION);
        return 0;
    }
    return failf(EXIT_USAGE, "unknown command '%s' (see mlpcl --help)", cmd);
}
