// SPDX-License-Identifier: MIT
/* train_args.c: `mlpcl train`'s command line: the usage text, and parsing it into a train_cli,
 * with the checks between options (what goes with what, the checkpoint defaults). Nothing here
 * reads data or runs anything, so the fuzzer takes it alone (cmd_train_parse). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

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
    "  --activation A       sigmoid (default), tanh, relu or linear for every hidden layer, or a\n"
    "                       list, one a hidden layer (and optionally one more for the outputs)\n"
    "  --output F           the outputs' function: sigmoid (default with mse), tanh, linear\n"
    "                       (regression targets of any range), or softmax (only with ce, and\n"
    "                       the default with it; --output softmax alone implies --loss ce)\n"
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
    "  --nesterov           SGD: Nesterov's momentum, W −= lr·(G + M·V) (needs --momentum)\n"
    "  --optimizer O        sgd (default), adam (Adam with bias correction) or adamw (Adam with\n"
    "                       decoupled weight decay)\n"
    "  --beta1 B, --beta2 B, --eps E\n"
    "                       Adam's moment decays in [0, 1) and its ε (default 0.9, 0.999, 1e-8)\n"
    "  --weight-decay WD    L2 added to the gradient, G += WD·W, with sgd and adam; with adamw\n"
    "                       decoupled, W −= lr·WD·W before the step (default 0)\n"
    "  --target COST        tutorial mode: stop when the cost is below this (default 0.1)\n"
    "  --max-iter N         tutorial mode: stop after N updates, exit 4 (default 10000000)\n"
    "  --print-every N      tutorial mode: print the cost every N iterations (default 100; 0 =\n"
    "                       only start and end)\n"
    "  --batch N            samples per update (0 = all of them, full batch; default 64 in\n"
    "                       epoch mode)\n"
    "  --epochs N           epochs to train (default 10)\n"
    "  --lookahead N        iterations the device may run ahead of the cost read, 0 … 64\n"
    "                       (0 = wait for every cost; default: 63 for small networks, which\n"
    "                       then run 64 iterations a launch, else 4); the result is the same\n"
    "                       either way\n"
    "\n"
    "output:\n"
    "  --log FILE           JSON lines: one per epoch (one per printed iteration in tutorial\n"
    "                       mode), for tools/plot\n"
    "  --save FILE          write the trained network (safetensors), atomically\n"
    "  --resume FILE        continue training a saved network or checkpoint (its layers,\n"
    "                       activations, loss, normalisation, seed, momentum velocity, and where\n"
    "                       it stopped: iteration, epoch and batch); it continues exactly as if\n"
    "                       never stopped. Precision, seed, --lr, --momentum and --batch not\n"
    "                       given are the file's; a resume whose data, device kind (host or\n"
    "                       OpenCL), mode or any of those differ from the run that wrote the file\n"
    "                       is refused with the differences listed. --layers, --activation,\n"
    "                       --loss and --init may be given if they agree with the file.\n"
    "                       --max-iter and --epochs count from the start of the first run\n"
    "  --force              resume even so, with what the command line says\n"
    "  --checkpoint FILE    save the training state (weights, velocity, iteration, epoch and\n"
    "                       batch) to FILE every --checkpoint-every, atomically (a crash leaves\n"
    "                       the previous checkpoint whole), and at the end; FILE.lock, locked\n"
    "                       for the run's length, keeps a second run off the same checkpoint\n"
    "  --checkpoint-every N tutorial mode: every N iterations (default 10000); epoch mode: every\n"
    "                       N epochs (default 1), or with Nb every N batches (e.g. 500b)\n"
    "  -h, --help           this text\n"
    "\n"
    "--save and --checkpoint are checked before training starts (a temporary file is created\n"
    "and removed beside each); if one cannot be written at the end the other still is.\n"
    "\n"
    "Interrupting: SIGINT (Ctrl-C), SIGTERM or SIGHUP (a closed terminal), or a failed write to\n"
    "standard output or --log (a closed pipe, a full disk), lets the iterations in flight\n"
    "finish, saves the weights they leave to --checkpoint (else --save; with neither nothing is\n"
    "saved), says what it kept, and exits with status 130; --resume FILE then continues. A\n"
    "second signal while stopping ends the process at once (a checkpoint file is still never\n"
    "left half-written). A write to standard output or --log found failed only at the end exits\n"
    "2, everything saved. Divergence (exit 5) saves the last weights with a finite cost to\n"
    "--save and --checkpoint.\n";

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

int train_parse(int argc, char **argv, train_cli *o)
{
    static const char *const precisions[] = {"float", "double", NULL};
    static const char *const losses[] = {"mse", "ce", NULL};
    static const char *const inits[] = {"ones", "uniform", NULL};
    static const char *const outputs[] = {"sigmoid", "tanh", "linear", "softmax", NULL};
    static const char *const optimizers[] = {"sgd", "adam", "adamw", NULL};
    args a = {argc, 1, argv, "train", 0};
    *o = (train_cli){.samples = 10,
                     .max_iter = 10000000,
                     .print_every = 100,
                     .seed = 1,
                     .lookahead = MLPCL_LOOKAHEAD_AUTO,
                     .epochs = 10,
                     .targets = 0,
                     .lr = 0.01,
                     .target = 0.1,
                     .precision = -1,
                     .output = -1,
                     .beta1 = 0.9,
                     .beta2 = 0.999,
                     .eps = 1e-8};
    for (; a.i < argc; ++a.i) {
        const char *v = NULL, *arg = argv[a.i];
        int rc = 0;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(usage, stdout);
            return -1;
        } else if (!strcmp(arg, "--normalize")) {
            o->normalize = 1;
        } else if (!strcmp(arg, "--force")) {
            o->force = 1;
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
            o->momentum_given = 1;
        } else if (!strcmp(arg, "--nesterov")) {
            o->nesterov = 1;
        } else if (take(&a, "--optimizer", &v)) {
            rc = parse_word(&a, "--optimizer", v, optimizers, &o->optimizer);
        } else if (take(&a, "--beta1", &v)) {
            rc = parse_double(&a, "--beta1", v, 0, 0.999999, 0, &o->beta1);
        } else if (take(&a, "--beta2", &v)) {
            rc = parse_double(&a, "--beta2", v, 0, 0.999999999, 0, &o->beta2);
        } else if (take(&a, "--eps", &v)) {
            rc = parse_double(&a, "--eps", v, 0, 1, 1, &o->eps);
        } else if (take(&a, "--weight-decay", &v)) {
            rc = parse_double(&a, "--weight-decay", v, 0, 1e6, 0, &o->weight_decay);
        } else if (take(&a, "--output", &v)) {
            rc = parse_word(&a, "--output", v, outputs, &o->output);
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
    const char *paths[4] = {o->save, o->checkpoint, o->resume, o->log};
    const char *names[4] = {"--save", "--checkpoint", "--resume", "--log"};
    for (int i = 0; i < 4; ++i)
        if (paths[i] && !*paths[i])
            return failf(EXIT_USAGE, "train: %s needs a file name, not an empty string", names[i]);
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
    if (o->nesterov && !(o->momentum > 0))
        return failf(EXIT_USAGE, "train: --nesterov needs --momentum above 0");
    if (o->optimizer != MLPCL_OPT_SGD && (o->momentum_given || o->nesterov))
        return failf(EXIT_USAGE,
                     "train: --optimizer %s takes --beta1, not --momentum or "
                     "--nesterov",
                     o->optimizer == MLPCL_OPT_ADAM ? "adam" : "adamw");
    /* softmax outputs are cross-entropy's: one implies the other, and neither goes with the
     * other outputs or loss */
    if (o->output == 3 && o->loss_given && o->loss != MLPCL_LOSS_CE)
        return failf(EXIT_USAGE, "train: --output softmax goes with --loss ce only");
    if (o->output >= 0 && o->output != 3 && o->loss == MLPCL_LOSS_CE)
        return failf(EXIT_USAGE,
                     "train: --loss ce has softmax outputs; --output %s goes with "
                     "--loss mse",
                     outputs[o->output]);
    if (o->output == 3) o->loss = MLPCL_LOSS_CE;
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
    /* Epoch mode's own defaults. */
    if (o->epoch_mode && !o->lr_given) o->lr = 0.1;
    if (o->epoch_mode && !o->batch_given && o->data) o->batch = 64;
    return 0;
}

int cmd_train_parse(int argc, char **argv)
{
    train_cli o;
    return train_parse(argc, argv, &o);
}
