/* cmd_train.c: `mlpcl train`. Two modes: the tutorial's (full-batch gradient descent until the
 * cost is below a target, printing what the tutorial prints) and epochs of mini-batches on a
 * data set (--data, --batch or --epochs), with held-out evaluation, a progress bar on a
 * terminal, a JSON-lines log, and saved models. Either mode saves checkpoints every N
 * iterations, epochs or batches, and stops cleanly on SIGINT or SIGTERM, saving what it has, so
 * that --resume continues bit for bit as if never stopped. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define MAX_LAYERS 64

enum {
    EXIT_INTERRUPTED = 130,     /* stopped by SIGINT or SIGTERM (128 + SIGINT, as shells do) */
    DEFAULT_EVERY_ITER = 10000, /* --checkpoint without --checkpoint-every, tutorial mode */
    DEFAULT_EVERY_EPOCH = 1,    /* and in epoch mode */
};

static const char usage[] =
    "usage: mlpcl train [OPTIONS]\n"
    "\n"
    "Trains a multilayer perceptron by backpropagation. Two modes:\n"
    "\n"
    "The tutorial's (the default): full-batch gradient descent, reading the cost every\n"
    "iteration and stopping as soon as it is below --target. With no options it runs the\n"
    "tutorial's example: 10 random samples of 2 inputs and 2 targets, a 2-3-2 sigmoid network\n"
    "with every weight and bias 1.0, least squares, step 0.01, target 0.1. It prints `start: C`,\n"
    "`cost: C` after iterations 1, 1+N, 1+2N, … (N = --print-every), `end: C`, `cnt: ITERATIONS`\n"
    "and a line naming the device, precision and time. Costs read back exactly (17 significant\n"
    "digits in double, 9 in float).\n"
    "\n"
    "Epochs (with --data, --batch or --epochs): mini-batch gradient descent over a seeded\n"
    "shuffle each epoch, printing per epoch the training loss, held-out loss and accuracy, the\n"
    "time and samples per second; a progress bar while an epoch runs on a terminal.\n"
    "\n"
    "data:\n"
    "  --x FILE --y FILE    CSV inputs and targets, one sample a row, comma-separated numbers, an\n"
    "                       optional header row of names; the same number of rows\n"
    "  --samples M          without data: how many random samples to draw (default 10)\n"
    "  --data PATH          a data set: a folder with MNIST-named IDX files (e.g.\n"
    "                       /usr/share/datasets/fashion-mnist: train-images-idx3-ubyte.gz…; its\n"
    "                       t10k files become the test set), IMAGES,LABELS (an IDX pair, gzip or\n"
    "                       not; pixels scaled to [0, 1]), or a CSV file of features then targets\n"
    "  --targets K          CSV: the last K columns are the targets (default 1)\n"
    "  --label-column C     CSV: column C (number from 1, or header name) holds class labels\n"
    "                       (integers or names), one-hot encoded\n"
    "  --test PATH          held-out test data, in the same form (a folder: its t10k files)\n"
    "  --validation F       hold out the last fraction F of the training samples\n"
    "  --normalize          standardise features with the training data's mean and deviation\n"
    "                       (saved with the model and applied by predict)\n"
    "\n"
    "network:\n"
    "  --layers N0,H1,…,NL  inputs, hidden widths, outputs (default: the data's inputs, 3 (256\n"
    "                       in epoch mode), the data's outputs)\n"
    "  --activation A       sigmoid (default), tanh or relu for every hidden layer, or a list,\n"
    "                       one a hidden layer (and optionally one more for the outputs)\n"
    "  --loss mse|ce        least squares 1/(2m)·Σ(out − y)² (default), or softmax outputs with\n"
    "                       cross-entropy −1/m·Σ y·log(out)\n"
    "  --init ones|uniform  every parameter 1.0 (the tutorial's; default without --data), or\n"
    "                       seeded uniform Xavier (He for relu) weights with zero biases\n"
    "  --seed N             seeds the random data, the initialisation and the shuffles (default "
    "1)\n"
    "\n"
    "training:\n"
    "  --device SEL         where to train (see `mlpcl help`); default $MLPCL_DEVICE, else the\n"
    "                       first GPU, else the first CPU\n"
    "  --precision P        float (default on OpenCL devices) or double (needs cl_khr_fp64; the\n"
    "                       host trainer is double only)\n"
    "  --lr STEP            gradient-descent step (default 0.01; 0.1 in epoch mode)\n"
    "  --momentum M         momentum in [0, 1): V = M·V + G, W −= lr·V (default 0)\n"
    "  --target COST        tutorial mode: stop when the cost is below this (default 0.1)\n"
    "  --max-iter N         tutorial mode: stop after N updates, exit 4 (default 10000000)\n"
    "  --print-every N      tutorial mode: print the cost every N iterations (default 100; 0 =\n"
    "                       only start and end)\n"
    "  --batch N            samples per update (0 = all of them, full batch; default 64 in\n"
    "                       epoch mode)\n"
    "  --epochs N           epochs to train (default 10)\n"
    "  --lookahead N        iterations the device may run ahead of the cost read (default 4;\n"
    "                       0 = wait for every cost); the result is the same either way\n"
    "\n"
    "output:\n"
    "  --log FILE           JSON lines: one per epoch (one per printed iteration in tutorial\n"
    "                       mode), for tools/plot\n"
    "  --save FILE          write the trained network (safetensors), atomically\n"
    "  --resume FILE        continue training a saved network or checkpoint (its layers,\n"
    "                       activations, loss, normalisation, seed, momentum velocity, and where\n"
    "                       it stopped: iteration, epoch and batch); give the data, device,\n"
    "                       precision, --lr, --momentum and --batch of the run that saved it,\n"
    "                       and it continues exactly as if never stopped. --max-iter and\n"
    "                       --epochs count from the start of the first run\n"
    "  --checkpoint FILE    save the training state (weights, velocity, iteration, epoch and\n"
    "                       batch) to FILE every --checkpoint-every, atomically (a crash leaves\n"
    "                       the previous checkpoint whole), and at the end\n"
    "  --checkpoint-every N tutorial mode: every N iterations (default 10000); epoch mode: every\n"
    "                       N epochs (default 1), or with Nb every N batches (e.g. 500b)\n"
    "  -h, --help           this text\n"
    "\n"
    "Interrupting: SIGINT (Ctrl-C) or SIGTERM lets the iterations in flight finish, saves the\n"
    "weights they leave to --checkpoint (else --save; with neither nothing is saved), says what\n"
    "it kept, and exits with status 130; --resume FILE then continues. A second SIGINT or\n"
    "SIGTERM while stopping ends the process at once (a checkpoint file is still never left\n"
    "half-written). Divergence (exit 5) saves the last weights with a finite cost to --save and\n"
    "--checkpoint.\n";

typedef struct train_cli {
    const char *device, *x_path, *y_path, *data, *test, *layers, *activation, *label_column;
    const char *log, *save, *resume, *checkpoint;
    long samples, max_iter, print_every, seed, lookahead, batch, epochs, targets;
    long every;        /* --checkpoint-every: iterations, epochs, or batches when every_batches */
    int every_batches; /* --checkpoint-every Nb */
    double lr, target, momentum, validation;
    int precision, loss, init, normalize; /* precision 0 float, 1 double; -1: not given */
    int lr_given, batch_given, epochs_given, init_given, loss_given, seed_given;
    int epoch_mode; /* --data, --batch or --epochs given */
} train_cli;

/* --checkpoint-every N or Nb (batches). */
static int parse_every(const char *s, train_cli *o)
{
    char num[32];
    size_t len = s ? strlen(s) : 0;
    if (!s) return EXIT_USAGE;
    int batches = len > 1 && s[len - 1] == 'b';
    long v = 0;
    char *end = num;
    if (len - (size_t)batches < sizeof num) {
        memcpy(num, s, len - (size_t)batches);
        num[len - (size_t)batches] = '\0';
        errno = 0;
        v = strtol(num, &end, 10);
    }
    if (end == num || *end || errno || v < 1 || v > 1000000000000L)
        return failf(EXIT_USAGE,
                     "train: --checkpoint-every expects N (iterations in the tutorial's mode, "
                     "epochs in epoch mode) or Nb (batches, epoch mode), N from 1 to "
                     "1000000000000, not '%s'",
                     s);
    o->every = v;
    o->every_batches = batches;
    return 0;
}

static int parse(int argc, char **argv, train_cli *o)
{
    static const char *const precisions[] = {"float", "double", NULL};
    static const char *const losses[] = {"mse", "ce", NULL};
    static const char *const inits[] = {"ones", "uniform", NULL};
    args a = {argc, 1, argv, "train", 0};
    *o = (train_cli){.samples = 10,
                     .max_iter = 10000000,
                     .print_every = 100,
                     .seed = 1,
                     .lookahead = 4,
                     .epochs = 10,
                     .targets = 0,
                     .lr = 0.01,
                     .target = 0.1,
                     .precision = -1};
    for (; a.i < argc; ++a.i) {
        const char *v = NULL, *arg = argv[a.i];
        int rc = 0;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(usage, stdout);
            return -1;
        } else if (!strcmp(arg, "--normalize")) {
            o->normalize = 1;
        } else if (take(&a, "--device", &v)) {
            o->device = v;
        } else if (take(&a, "--x", &v)) {
            o->x_path = v;
        } else if (take(&a, "--y", &v)) {
            o->y_path = v;
        } else if (take(&a, "--data", &v)) {
            o->data = v;
        } else if (take(&a, "--test", &v)) {
            o->test = v;
        } else if (take(&a, "--layers", &v)) {
            o->layers = v;
        } else if (take(&a, "--activation", &v)) {
            o->activation = v;
        } else if (take(&a, "--label-column", &v)) {
            o->label_column = v;
        } else if (take(&a, "--log", &v)) {
            o->log = v;
        } else if (take(&a, "--save", &v)) {
            o->save = v;
        } else if (take(&a, "--resume", &v)) {
            o->resume = v;
        } else if (take(&a, "--checkpoint", &v)) {
            o->checkpoint = v;
        } else if (take(&a, "--checkpoint-every", &v)) {
            rc = parse_every(v, o);
        } else if (take(&a, "--targets", &v)) {
            rc = parse_long(&a, "--targets", v, 1, 1000000, &o->targets);
        } else if (take(&a, "--samples", &v)) {
            rc = parse_long(&a, "--samples", v, 1, 100000000, &o->samples);
        } else if (take(&a, "--lr", &v)) {
            rc = parse_double(&a, "--lr", v, 0, HUGE_VAL, 1, &o->lr);
            o->lr_given = 1;
        } else if (take(&a, "--momentum", &v)) {
            rc = parse_double(&a, "--momentum", v, 0, 0.999999, 0, &o->momentum);
        } else if (take(&a, "--validation", &v)) {
            rc = parse_double(&a, "--validation", v, 0, 0.99, 1, &o->validation);
        } else if (take(&a, "--target", &v)) {
            rc = parse_double(&a, "--target", v, -HUGE_VAL, HUGE_VAL, 0, &o->target);
        } else if (take(&a, "--max-iter", &v)) {
            rc = parse_long(&a, "--max-iter", v, 0, 1000000000000L, &o->max_iter);
        } else if (take(&a, "--print-every", &v)) {
            rc = parse_long(&a, "--print-every", v, 0, 1000000000000L, &o->print_every);
        } else if (take(&a, "--seed", &v)) {
            rc = parse_long(&a, "--seed", v, 0, 0x7fffffffffffffffL, &o->seed);
            o->seed_given = 1;
        } else if (take(&a, "--lookahead", &v)) {
            rc = parse_long(&a, "--lookahead", v, 0, 64, &o->lookahead);
        } else if (take(&a, "--batch", &v)) {
            rc = parse_long(&a, "--batch", v, 0, 1L << 31, &o->batch);
            o->batch_given = 1;
        } else if (take(&a, "--epochs", &v)) {
            rc = parse_long(&a, "--epochs", v, 1, 100000000, &o->epochs);
            o->epochs_given = 1;
        } else if (take(&a, "--precision", &v)) {
            rc = parse_word(&a, "--precision", v, precisions, &o->precision);
        } else if (take(&a, "--loss", &v)) {
            rc = parse_word(&a, "--loss", v, losses, &o->loss);
            o->loss_given = 1;
        } else if (take(&a, "--init", &v)) {
            rc = parse_word(&a, "--init", v, inits, &o->init);
            o->init_given = 1;
        } else {
            return failf(EXIT_USAGE, "train: unknown option '%s' (see mlpcl train --help)", arg);
        }
        if (a.bad || rc) return EXIT_USAGE;
    }
    if (!o->x_path != !o->y_path)
        return failf(EXIT_USAGE, "train: --x and --y go together (inputs and targets)");
    if (o->x_path && o->data)
        return failf(EXIT_USAGE, "train: give either --data or --x/--y, not both");
    if (o->targets && o->label_column)
        return failf(EXIT_USAGE, "train: give either --targets or --label-column, not both");
    if ((o->test || o->validation > 0 || o->targets || o->label_column) && !o->data)
        return failf(EXIT_USAGE, "train: --test, --validation, --targets and --label-column go "
                                 "with --data");
    o->epoch_mode = o->data || o->batch_given || o->epochs_given;
    if (o->every && !o->checkpoint)
        return failf(EXIT_USAGE, "train: --checkpoint-every needs --checkpoint FILE");
    if (o->every_batches && !o->epoch_mode)
        return failf(EXIT_USAGE,
                     "train: --checkpoint-every %ldb counts batches, which only "
                     "epoch mode has (--data, --batch or --epochs); the tutorial's "
                     "mode counts iterations: --checkpoint-every %ld",
                     o->every, o->every);
    if (o->checkpoint && !o->every)
        o->every = o->epoch_mode ? DEFAULT_EVERY_EPOCH : DEFAULT_EVERY_ITER;
    return 0;
}

/* ---- Data --------------------------------------------------------------------------------- */

typedef struct data {
    mlpcl_dataset train, val, test;
    mlpcl_norm norm;
} data;

static void data_free(data *d)
{
    mlpcl_dataset_free(&d->train);
    mlpcl_dataset_free(&d->val);
    mlpcl_dataset_free(&d->test);
    free(d->norm.mean);
    free(d->norm.std);
}

/* X and Y from two CSV files, or drawn at random as the tutorial does. */
static int tutorial_data(const train_cli *o, mlpcl_dataset *d)
{
    mlpcl_table X = {0}, Y = {0};
    int st, rc = 0;
    if (o->x_path) {
        if ((st = mlpcl_csv_read(o->x_path, &X)) != MLPCL_OK ||
            (st = mlpcl_csv_read(o->y_path, &Y)) != MLPCL_OK) {
            rc = lib_fail(st);
        } else if (X.rows != Y.rows) {
            rc = failf(EXIT_USAGE,
                       "train: %s has %zu data rows but %s has %zu: X and Y need one row per "
                       "sample each",
                       o->x_path, X.rows, o->y_path, Y.rows);
        }
    } else {
        X.rows = Y.rows = (size_t)o->samples;
        X.cols = Y.cols = 2;
        X.v = malloc(2 * X.rows * sizeof(double));
        Y.v = malloc(2 * Y.rows * sizeof(double));
        if (!X.v || !Y.v)
            rc = failf(EXIT_DEVICE, "out of host memory for %zu samples", X.rows);
        else
            mlpcl_tutorial_data(X.rows, (uint64_t)o->seed, X.v, Y.v);
    }
    if (!rc) {
        *d = (mlpcl_dataset){X.rows, X.cols, Y.cols, X.v, Y.v, NULL, NULL};
        X.v = Y.v = NULL;
    }
    mlpcl_table_free(&X);
    mlpcl_table_free(&Y);
    return rc;
}

/* Standardises every set's features with the training set's mean and deviation (computed here
 * unless given, as when resuming). A feature that never varies keeps deviation 1. */
static int normalize(data *d, int compute)
{
    size_t n = d->train.n_in;
    if (compute) {
        d->norm.n = n;
        d->norm.mean = calloc(n, sizeof(double));
        d->norm.std = calloc(n, sizeof(double));
        if (!d->norm.mean || !d->norm.std) return failf(EXIT_DEVICE, "out of host memory");
        for (size_t i = 0; i < d->train.n; ++i)
            for (size_t j = 0; j < n; ++j) d->norm.mean[j] += d->train.X[i * n + j];
        for (size_t j = 0; j < n; ++j) d->norm.mean[j] /= (double)d->train.n;
        for (size_t i = 0; i < d->train.n; ++i)
            for (size_t j = 0; j < n; ++j) {
                double e = d->train.X[i * n + j] - d->norm.mean[j];
                d->norm.std[j] += e * e;
            }
        for (size_t j = 0; j < n; ++j) {
            double s = sqrt(d->norm.std[j] / (double)d->train.n);
            d->norm.std[j] = s > 1e-12 ? s : 1.0;
        }
    }
    if (d->norm.n != n)
        return failf(EXIT_USAGE, "train: the model standardises %zu features, the data has %zu",
                     d->norm.n, n);
    mlpcl_dataset *sets[] = {&d->train, &d->val, &d->test};
    for (size_t s = 0; s < 3; ++s)
        for (size_t i = 0; i < sets[s]->n; ++i)
            for (size_t j = 0; j < n; ++j) {
                double *x = &sets[s]->X[i * n + j];
                *x = (*x - d->norm.mean[j]) / d->norm.std[j];
            }
    return 0;
}

static int load_data(const train_cli *o, int epochs, data *d)
{
    int rc, st;
    if (!o->data) return tutorial_data(o, &d->train);
    mlpcl_csv_spec spec = {o->label_column ? 0 : (size_t)(o->targets ? o->targets : 1),
                           o->label_column};
    if ((st = mlpcl_dataset_open(o->data, &spec, &d->train, o->test ? NULL : &d->test)) != MLPCL_OK)
        return lib_fail(st);
    if (o->test && (rc = open_data(o->test, &spec, &d->train, &d->test))) return rc;
    if (o->validation > 0 &&
        (st = mlpcl_dataset_split(&d->train, o->validation, &d->val)) != MLPCL_OK)
        return lib_fail(st);
    (void)epochs;
    return 0;
}

/* ---- Network ------------------------------------------------------------------------------ */

static int parse_widths(const char *s, size_t *widths, size_t *n_layers)
{
    size_t n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 1000000 || n >= MAX_LAYERS + 1 || (*end && *end != ','))
            return failf(EXIT_USAGE,
                         "train: --layers expects 2 to %d widths from 1 to 1000000 separated "
                         "by commas (inputs,hidden…,outputs), not '%s'",
                         MAX_LAYERS + 1, s);
        widths[n++] = (size_t)v;
        if (!*end) break;
        p = end + 1;
    }
    if (n < 2)
        return failf(EXIT_USAGE,
                     "train: --layers needs at least the inputs and the outputs, not '%s'", s);
    *n_layers = n - 1;
    return 0;
}

static int parse_acts(const char *s, size_t L, mlpcl_act *acts)
{
    static const char *const names[] = {"sigmoid", "tanh", "relu", NULL};
    mlpcl_act list[MAX_LAYERS + 1];
    size_t n = 0;
    for (const char *p = s;;) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int i = 0; names[i]; ++i)
            if (strlen(names[i]) == len && !strncmp(p, names[i], len)) found = i;
        if (found < 0 || n > MAX_LAYERS)
            return failf(EXIT_USAGE,
                         "train: --activation expects sigmoid, tanh or relu, or a "
                         "list of them separated by commas, not '%s'",
                         s);
        list[n++] = (mlpcl_act)found;
        if (!p[len]) break;
        p += len + 1;
    }
    if (n == 1) { /* every hidden layer; the outputs stay sigmoid */
        for (size_t l = 1; l < L; ++l) acts[l] = list[0];
        return 0;
    }
    if (n != L - 1 && n != L)
        return failf(EXIT_USAGE,
                     "train: --activation lists %zu activations; the network has %zu "
                     "hidden layers (give one, %zu, or %zu with the outputs')",
                     n, L - 1, L - 1, L);
    for (size_t l = 1; l <= n; ++l) acts[l] = list[l - 1];
    return 0;
}

/* The network: from --resume's file (already loaded into *net), or from --layers, --activation,
 * --loss and --init. */
static int make_net(const train_cli *o, int epochs, const data *d, mlpcl_net **net)
{
    int st, rc;
    size_t n_in = d->train.n_in, n_out = d->train.n_out;
    if (o->resume) {
        if (o->layers || o->activation || o->loss_given || o->init_given)
            return failf(EXIT_USAGE,
                         "train: --resume takes the network from %s; leave out "
                         "--layers, --activation, --loss and --init",
                         o->resume);
        if (mlpcl_net_width(*net, 0) != n_in ||
            mlpcl_net_width(*net, mlpcl_net_layers(*net)) != n_out)
            return failf(EXIT_USAGE,
                         "train: %s has %zu inputs and %zu outputs but the data has "
                         "%zu and %zu",
                         o->resume, mlpcl_net_width(*net, 0),
                         mlpcl_net_width(*net, mlpcl_net_layers(*net)), n_in, n_out);
        return 0;
    }
    size_t widths[MAX_LAYERS + 1] = {n_in, epochs && o->data ? 256 : 3, n_out}, L = 2;
    if (o->layers && (rc = parse_widths(o->layers, widths, &L))) return rc;
    const char *xs = o->data ? o->data : o->x_path ? o->x_path : "the generated X";
    const char *ys = o->data ? o->data : o->y_path ? o->y_path : "the generated Y";
    if (widths[0] != n_in)
        return failf(EXIT_USAGE, "train: --layers %s starts with %zu inputs but %s has %zu %s",
                     o->layers, widths[0], xs, n_in, o->data ? "features" : "columns");
    if (widths[L] != n_out)
        return failf(EXIT_USAGE, "train: --layers %s ends with %zu outputs but %s has %zu %s",
                     o->layers, widths[L], ys, n_out, o->data ? "targets" : "columns");
    mlpcl_act acts[MAX_LAYERS + 1] = {0};
    if (o->activation && (rc = parse_acts(o->activation, L, acts))) return rc;
    if (o->loss == MLPCL_CE && n_out < 2)
        return failf(EXIT_USAGE, "train: --loss ce needs at least 2 outputs (classes)");
    if ((st = mlpcl_net_create(L, widths, net)) != MLPCL_OK) return lib_fail(st);
    for (size_t l = 1; l <= L; ++l)
        if ((st = mlpcl_net_set_act(*net, l, acts[l])) != MLPCL_OK) return lib_fail(st);
    if ((st = mlpcl_net_set_loss(*net, (mlpcl_loss)o->loss)) != MLPCL_OK) return lib_fail(st);
    mlpcl_init init =
        o->init_given ? (mlpcl_init)o->init : (o->data ? MLPCL_INIT_UNIFORM : MLPCL_INIT_ONES);
    if ((st = mlpcl_net_init(*net, init, (uint64_t)o->seed)) != MLPCL_OK) return lib_fail(st);
    return 0;
}

/* ---- Signals ------------------------------------------------------------------------------ */

/* Raised by SIGINT or SIGTERM; the library polls it after each cost read and stops cleanly. */
static volatile sig_atomic_t stop_flag, stop_signal;
static struct sigaction default_action; /* SIG_DFL, made before any handler can run */
static int caught[2];                   /* SIGINT, SIGTERM: whether we catch it */

static void on_stop_signal(int sig)
{
    stop_flag = 1;
    stop_signal = sig;
    /* The next SIGINT or SIGTERM ends the process at once, the default way (sigaction is
     * async-signal-safe). */
    if (caught[0]) sigaction(SIGINT, &default_action, NULL);
    if (caught[1]) sigaction(SIGTERM, &default_action, NULL);
}

/* Catches SIGINT and SIGTERM, except one ignored when the process started (a shell starts
 * background jobs so, deaf to Ctrl-C, and they stay so). SA_RESTART: a write to the terminal or
 * a model file that the signal lands in goes on instead of failing with EINTR. */
static void catch_stop_signals(void)
{
    static const int sigs[2] = {SIGINT, SIGTERM};
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    for (int i = 0; i < 2; ++i)
        caught[i] = sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN &&
                    sigaction(sigs[i], &sa, NULL) == 0;
}

static const char *signal_name(void)
{
    return stop_signal == SIGTERM ? "SIGTERM" : "SIGINT";
}

/* ---- Reporting ---------------------------------------------------------------------------- */

typedef struct report {
    FILE *log;
    const char *fmt; /* "%.17g" or "%.9g" */
    int digits;      /* 17 or 9: the same, for messages */
    long print_every;
    int bar; /* draw a progress bar (stdout is a terminal) */
    long epoch, epochs;
    double last_draw;
    long base;          /* tutorial mode: iterations done before the trainer's current run */
    int runs;           /* trainer runs so far; each after the first reads again the cost its
                           predecessor ended with */
    double last_finite; /* the last finite cost read, NaN before any */
} report;

static void log_number(FILE *f, const char *key, double v, int last)
{
    if (isnan(v) || isinf(v))
        fprintf(f, "\"%s\": null%s", key, last ? "}\n" : ", ");
    else
        fprintf(f, "\"%s\": %.17g%s", key, v, last ? "}\n" : ", ");
}

/* Prints what the tutorial prints, when it prints it: the start, then after iterations 1,
 * 1 + every, 1 + 2·every, … counted from the first run, so that a resumed run prints the same
 * lines as the run it continues would have. */
static void print_cost(void *user, long iter, double cost)
{
    report *r = user;
    long g = r->base + iter;
    if (iter == 0 && r->runs > 1) return; /* read already, at the end of the previous run */
    if (isfinite(cost)) r->last_finite = cost;
    if (iter == 0 && g > 0) {
        fputs("resume: ", stdout);
        printf(r->fmt, cost);
        printf(" at iteration %ld\n", g);
        return;
    }
    if (iter == 0) {
        fputs("start: ", stdout);
    } else if (r->print_every > 0 && (g - 1) % r->print_every == 0) {
        fputs("cost: ", stdout);
    } else {
        return;
    }
    printf(r->fmt, cost);
    putchar('\n');
    if (r->log) {
        fprintf(r->log, "{\"iteration\": %ld, ", g);
        log_number(r->log, "cost", cost, 1);
        fflush(r->log);
    }
}

static void progress(void *user, size_t done, size_t total, double cost)
{
    report *r = user;
    if (isfinite(cost)) r->last_finite = cost;
    double t = now_seconds();
    if (!r->bar || (done < total && t - r->last_draw < 0.1)) return;
    r->last_draw = t;
    int width = 30, fill = (int)((double)width * (double)done / (double)total);
    printf("\repoch %ld/%ld [%.*s%*s] %3d%% %zu/%zu loss %.4g ", r->epoch + 1, r->epochs, fill,
           "==============================", width - fill, "",
           (int)(100.0 * (double)done / (double)total), done, total, cost);
    fflush(stdout);
    if (done == total) printf("\r%*s\r", 80, "");
}

/* ---- Training ----------------------------------------------------------------------------- */

typedef struct session {
    const train_cli *o;
    data d;
    mlpcl_ctx *ctx;
    mlpcl_net *net;
    mlpcl_trainer *tr;     /* NULL before training starts */
    mlpcl_model_info info; /* --resume's file */
    mlpcl_precision prec;
    report rep;
    long epochs_done, batch_pos, updates; /* where training stands, as a model file records it */
} session;

/* Writes the trainer's weights and velocity (before training: --resume's) and where training
 * stands to path, atomically. */
static int save_model(session *s, const char *path)
{
    int st;
    size_t n = mlpcl_net_n_params(s->net);
    mlpcl_model_info info = {0};
    info.dtype = s->prec;
    info.norm = s->d.norm;
    info.class_names = s->d.train.class_names;
    info.seed = (uint64_t)s->o->seed;
    snprintf(info.device, sizeof info.device, "%s",
             s->ctx ? mlpcl_ctx_device(s->ctx)->name : s->info.device);
    info.epoch = s->epochs_done;
    info.batch = s->batch_pos;
    info.iteration = s->updates;
    info.velocity = s->info.velocity;
    double *v = NULL;
    if (s->tr) {
        if (!(v = malloc(n * sizeof *v))) return failf(EXIT_DEVICE, "out of host memory");
        if ((st = mlpcl_trainer_params(s->tr, s->net)) != MLPCL_OK ||
            (st = mlpcl_trainer_velocity(s->tr, v)) != MLPCL_OK) {
            free(v);
            return lib_fail(st);
        }
        info.velocity = v;
    }
    st = mlpcl_model_save(path, s->net, &info);
    free(v);
    return st == MLPCL_OK ? 0 : lib_fail(st);
}

/* After a stop signal: saves what training kept (described by `kept`) to --checkpoint, else
 * --save, and says so; returns 130, or the exit status of a failed save. */
static int stopped(session *s, const char *kept)
{
    const train_cli *o = s->o;
    const char *path = o->checkpoint ? o->checkpoint : o->save;
    int rc;
    if (s->rep.bar) printf("\r%*s\r", 80, "");
    if (!path)
        return failf(EXIT_INTERRUPTED,
                     "interrupted by %s: %s. Nothing was saved: give --checkpoint FILE (or "
                     "--save FILE) to keep an interrupted run's progress, then --resume FILE to "
                     "continue it",
                     signal_name(), kept);
    if ((rc = save_model(s, path))) return rc;
    return failf(EXIT_INTERRUPTED,
                 "interrupted by %s: %s; saved to %s. To continue, run the same command with "
                 "--resume %s",
                 signal_name(), kept, path, path);
}

/* After divergence: saves the weights kept to --save and --checkpoint; a phrase for the
 * message. */
static const char *save_diverged(session *s)
{
    const char *paths[2] = {s->o->save, s->o->checkpoint};
    int saved = 0, failed = 0;
    for (int i = 0; i < 2; ++i)
        if (paths[i] && (i == 0 || !paths[0] || strcmp(paths[0], paths[1]))) {
            if (save_model(s, paths[i]))
                failed = 1;
            else
                saved = 1;
        }
    return failed ? " (saving them failed, as said above)" : saved ? " and saved them" : "";
}

static void device_line(const session *s, double train_seconds, long iterations, double setup)
{
    const mlpcl_device_info *dev = mlpcl_ctx_device(s->ctx);
    char where[32];
    if (dev->platform < 0)
        snprintf(where, sizeof where, "host");
    else
        snprintf(where, sizeof where, "%d:%d", dev->platform, dev->device);
    printf("device: %s (%s, %s), precision: %s, time: %.3f ms training (%.2f us/iteration), "
           "%.3f ms setup\n",
           dev->name, where, dev->platform_name, s->prec == MLPCL_DOUBLE ? "double" : "float",
           1e3 * train_seconds, 1e6 * train_seconds / (double)(iterations > 0 ? iterations : 1),
           1e3 * setup);
}

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
    opts.target = o->target;
    opts.lookahead = (int)o->lookahead;
    opts.on_cost = print_cost;
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
        seconds += res.seconds;
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
            return stopped(s, kept);
        }
        if ((rc = save_model(s, o->checkpoint))) return rc;
    }
    fputs("end: ", stdout);
    printf(s->rep.fmt, res.cost);
    printf("\ncnt: %ld\n", s->updates);
    device_line(s, seconds, s->updates - start + 1, setup);
    if (o->save && (rc = save_model(s, o->save))) return rc;
    if (o->checkpoint && (rc = save_model(s, o->checkpoint))) return rc;
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

static void print_held_out(const char *name, double loss, double acc)
{
    printf(", %s loss %.4f", name, loss);
    if (!isnan(acc)) printf(" accuracy %.2f%%", 100.0 * acc);
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
    mlpcl_epoch_opts eo;
    mlpcl_epoch_opts_default(&eo);
    eo.lr = o->lr;
    eo.momentum = o->momentum;
    eo.seed = (uint64_t)o->seed;
    eo.lookahead = (int)o->lookahead;
    eo.on_batch = progress;
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
           s->prec == MLPCL_DOUBLE ? "double" : "float");
    if (s->batch_pos > 0)
        printf("resuming epoch %ld at batch %ld of %zu\n", s->epochs_done + 1, s->batch_pos + 1,
               nb);
    for (long e = s->epochs_done; e < o->epochs; ++e) {
        size_t first = (size_t)s->batch_pos, b = first;
        double sum = 0, secs = 0; /* Σ rows · loss of this epoch's runs; their time */
        mlpcl_train_result res;
        eo.epoch = e;
        s->rep.epoch = e;
        s->rep.last_draw = 0;
        while (b < nb) {
            size_t want = every && o->every_batches ? (size_t)(every - since) : 0;
            eo.first_batch = b;
            eo.max_batches = want && want < nb - b ? want : 0;
            if ((st = mlpcl_trainer_epoch(s->tr, &eo, &res)) != MLPCL_OK) return lib_fail(st);
            secs += res.seconds;
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
                return stopped(s, kept);
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
        double sps = (double)rows_between(m, B, first, nb) / secs;
        printf("epoch %ld/%ld: train loss %.4f", e + 1, o->epochs, loss);
        if (first > 0) printf(" (batches %zu-%zu, resumed)", first + 1, nb);
        if (val_id >= 0) print_held_out("validation", vl, va);
        if (test_id >= 0) print_held_out("test", tl, ta);
        printf(", %.2f s, %.0f samples/s\n", secs, sps);
        fflush(stdout);
        if (s->rep.log) {
            FILE *f = s->rep.log;
            fprintf(f, "{\"epoch\": %ld, ", e + 1);
            log_number(f, "train_loss", loss, 0);
            log_number(f, "validation_loss", vl, 0);
            log_number(f, "validation_accuracy", va, 0);
            log_number(f, "test_loss", tl, 0);
            log_number(f, "test_accuracy", ta, 0);
            log_number(f, "seconds", secs, 0);
            log_number(f, "samples_per_second", sps, 1);
            fflush(f);
        }
        if (e + 1 == o->epochs) break; /* done: saved below */
        if (stop_flag) {
            snprintf(kept, sizeof kept,
                     "kept the weights after epoch %ld (%ld updates in all), training loss %.4f",
                     e + 1, s->updates, loss);
            return stopped(s, kept);
        }
        if (every && (o->every_batches ? since >= every : ++since >= every)) {
            if ((rc = save_model(s, o->checkpoint))) return rc;
            since = 0;
        }
    }
    device_line(s, total, s->updates - start, setup);
    if (o->save && (rc = save_model(s, o->save))) return rc;
    if (o->checkpoint && (rc = save_model(s, o->checkpoint))) return rc;
    return 0;
}

int cmd_train_parse(int argc, char **argv)
{
    train_cli o;
    return parse(argc, argv, &o);
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
    int rc = parse(argc, argv, &o), st;
    if (rc) return rc < 0 ? 0 : rc;
    int epochs = o.epoch_mode;
    if (epochs && !o.lr_given) o.lr = 0.1;
    if (epochs && !o.batch_given && o.data) o.batch = 64;
    session s = {0};
    s.o = &o;
    s.rep.last_finite = NAN;
    catch_stop_signals();
    if (o.resume) {
        /* First, so that its seed draws the same random data and shuffles. */
        if ((st = mlpcl_model_load(o.resume, &s.net, &s.info)) != MLPCL_OK) {
            rc = lib_fail(st);
            goto done;
        }
        if (!o.seed_given) o.seed = (long)s.info.seed;
        s.epochs_done = s.info.epoch;
        s.batch_pos = s.info.batch;
        s.updates = s.info.iteration;
    }
    if ((rc = load_data(&o, epochs, &s.d))) goto done;
    if ((rc = make_net(&o, epochs, &s.d, &s.net))) goto done;
    if (o.resume) {
        s.d.norm = s.info.norm; /* the model's own standardisation */
        s.info.norm = (mlpcl_norm){0};
        if (o.normalize && !s.d.norm.n)
            rc = failf(EXIT_USAGE, "train: %s was trained without --normalize", o.resume);
        if (!rc && s.d.norm.n) rc = normalize(&s.d, 0);
        if (rc) goto done;
    } else if (o.normalize && (rc = normalize(&s.d, 1))) {
        goto done;
    }
    if ((rc = nothing_left(&s))) {
        rc = rc < 0 ? 0 : rc;
        goto done;
    }
    /* Resuming, the log goes on where the first run's stopped. */
    if (o.log && !(s.rep.log = fopen(o.log, o.resume ? "a" : "w"))) {
        rc = failf(EXIT_USAGE, "%s: cannot create the log", o.log);
        goto done;
    }
    if (stop_flag) {
        rc = failf(EXIT_INTERRUPTED, "interrupted by %s before training began; nothing saved",
                   signal_name());
        goto done;
    }
    double t0 = now_seconds();
    if ((st = mlpcl_ctx_create(o.device, 0, &s.ctx)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    int host = mlpcl_ctx_device(s.ctx)->platform < 0;
    s.prec = o.precision == 1 || (o.precision < 0 && host) ? MLPCL_DOUBLE : MLPCL_FLOAT;
    if ((st = mlpcl_trainer_create(s.ctx, s.net, s.d.train.X, s.d.train.Y, s.d.train.n, s.prec,
                                   epochs ? (size_t)o.batch : 0, &s.tr)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    if (o.resume && s.info.velocity &&
        (st = mlpcl_trainer_set_velocity(s.tr, s.info.velocity)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    s.rep.fmt = s.prec == MLPCL_DOUBLE ? "%.17g" : "%.9g";
    s.rep.digits = s.prec == MLPCL_DOUBLE ? 17 : 9;
    s.rep.print_every = o.print_every;
    s.rep.bar = isatty(STDOUT_FILENO);
    s.rep.epochs = o.epochs;
    double setup = now_seconds() - t0;
    rc = epochs ? epoch_mode(&s, setup) : tutorial_mode(&s, setup);
done:
    if (s.rep.log) fclose(s.rep.log);
    mlpcl_trainer_free(s.tr);
    mlpcl_net_free(s.net);
    mlpcl_ctx_free(s.ctx);
    mlpcl_model_info_free(&s.info);
    data_free(&s.d);
    return rc;
}
