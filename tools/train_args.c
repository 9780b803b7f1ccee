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
    "Usage: mlpcl train [OPTIONS]\n"
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
    "  -x, --x FILE             CSV inputs, one sample a row, comma-separated numbers, an\n"
    "                           optional header row of names\n"
    "  -y, --y FILE             CSV targets, in the same form; the same number of rows\n"
    "      --samples M          without data: how many random samples to draw (default 10)\n"
    "      --data PATH          a data set: a folder with MNIST-named IDX files (e.g.\n"
    "                           /usr/share/datasets/fashion-mnist: train-images-idx3-ubyte.gz…; "
    "its\n"
    "                           t10k files become the test set), IMAGES,LABELS (an IDX pair, gzip "
    "or\n"
    "                           not; pixels scaled to [0, 1]), or a CSV file of features then "
    "targets\n"
    "      --targets K          CSV: the last K columns are the targets (default 1)\n"
    "      --label-column C     CSV: column C (number from 1, or header name) holds class labels\n"
    "                           (integers or names), one-hot encoded\n"
    "      --test PATH          held-out test data, in the same form (a folder: its t10k files)\n"
    "      --validation F       hold out the last fraction F of the training samples\n"
    "      --normalize          standardise features with the training data's mean and deviation\n"
    "                           (saved with the model and applied by predict)\n"
    "\n"
    "network:\n"
    "  -l, --layers N0,H1,…,NL  inputs, hidden widths, outputs (default: the data's inputs, 3 "
    "(256\n"
    "                           in epoch mode), the data's outputs)\n"
    "  -a, --activation A       sigmoid (default), tanh, relu or linear for every hidden layer,\n"
    "                           or a list, one a hidden layer (and optionally one more for the\n"
    "                           outputs)\n"
    "      --output F           the outputs' function: sigmoid (default with mse), tanh, linear\n"
    "                           (regression targets of any range), or softmax (only with ce, and\n"
    "                           the default with it; --output softmax alone implies --loss ce)\n"
    "      --loss mse|ce        least squares 1/(2m)·Σ(out − y)² (default), or softmax outputs "
    "with\n"
    "                           cross-entropy −1/m·Σ y·log(out)\n"
    "      --init ones|uniform  every parameter 1.0 (the tutorial's; default without --data), or\n"
    "                           seeded uniform Xavier (He for relu) weights with zero biases\n"
    "      --seed N             seeds the random data, the initialisation and the shuffles "
    "(default "
    "1)\n"
    "\n"
    "training:\n"
    "  -d, --device SEL         where to train (see `mlpcl help`); default $MLPCL_DEVICE, else "
    "the\n"
    "                           first GPU, else the first CPU\n"
    "  -p, --precision P        float (default on OpenCL devices) or double (needs cl_khr_fp64; "
    "the\n"
    "                           host trainer is double only)\n"
    "      --lr STEP            gradient-descent step (default 0.01; 0.1 in epoch mode)\n"
    "      --momentum M         momentum in [0, 1): V = M·V + G, W −= lr·V (default 0)\n"
    "      --nesterov           SGD: Nesterov's momentum, W −= lr·(G + M·V) (needs --momentum)\n"
    "      --optimizer O        sgd (default), adam (Adam with bias correction) or adamw (Adam\n"
    "                           with decoupled weight decay)\n"
    "      --beta1 B, --beta2 B, --eps E\n"
    "                           Adam's moment decays in [0, 1) and its ε (default 0.9, 0.999,\n"
    "                           1e-8)\n"
    "      --weight-decay WD    L2 added to the gradient, G += WD·W, with sgd and adam; with\n"
    "                           adamw decoupled, W −= lr·WD·W before the step (default 0)\n"
    "      --target COST        tutorial mode: stop when the cost is below this (default 0.1)\n"
    "      --max-iter N         tutorial mode: stop after N updates, exit 4 (default 10000000)\n"
    "      --print-every N      tutorial mode: print the cost every N iterations (default 100; 0 "
    "=\n"
    "                           only start and end)\n"
    "  -b, --batch N            samples per update (0 = all of them, full batch; default 64 in\n"
    "                           epoch mode)\n"
    "  -e, --epochs N           epochs to train (default 10)\n"
    "      --lr-schedule S      epoch mode: the step of each epoch e (from 0): constant (--lr),\n"
    "                           step:N:G (--lr · G^floor(e/N)) or cosine (--lr · (1 +\n"
    "                           cos(pi·e/E))/2 for E = --epochs, down towards 0); in the log\n"
    "      --warmup N           epoch mode: multiply the step of epochs e < N by (e + 1)/N\n"
    "      --early-stop N       epoch mode: stop after N epochs without a lower held-out loss\n"
    "                           (--validation, else --test) and keep the best epoch's weights\n"
    "      --dropout P          epoch mode: while training, drop each hidden unit with\n"
    "                           probability P in [0, 0.99] and scale those kept by 1/(1 - P)\n"
    "                           (default 0)\n"
    "      --lookahead N        iterations the device may run ahead of the cost read, 0 … 64\n"
    "                           (0 = wait for every cost; default: 63 for small networks, which\n"
    "                           then run 64 iterations a launch; 15 for epochs of short batches,\n"
    "                           whose costs are then read 8 at a time; else 4); the result is\n"
    "                           the same either way\n"
    "\n"
    "output:\n"
    "      --log FILE           JSON lines: one per epoch (one per printed iteration in tutorial\n"
    "                           mode), for tools/plot\n"
    "      --save FILE          write the trained network (safetensors), atomically\n"
    "      --resume FILE        continue training a saved network or checkpoint (its layers,\n"
    "                           activations, loss, normalisation, seed, momentum velocity, and "
    "where\n"
    "                           it stopped: iteration, epoch and batch); it continues exactly as "
    "if\n"
    "                           never stopped. Precision, seed, --lr, --momentum and --batch not\n"
    "                           given are the file's; a resume whose data, device kind (host or\n"
    "                           OpenCL), mode or any of those differ from the run that wrote the "
    "file\n"
    "                           is refused with the differences listed. --layers, --activation,\n"
    "                           --loss and --init may be given if they agree with the file.\n"
    "                           --max-iter and --epochs count from the start of the first run\n"
    "      --force              resume even so, with what the command line says\n"
    "      --checkpoint FILE    save the training state (weights, velocity, iteration, epoch and\n"
    "                           batch) to FILE every --checkpoint-every, atomically (a crash "
    "leaves\n"
    "                           the previous checkpoint whole), and at the end; FILE.lock, locked\n"
    "                           for the run's length, keeps a second run off the same checkpoint\n"
    "      --checkpoint-every N tutorial mode: every N iterations (default 10000); epoch mode: "
    "every\n"
    "                           N epochs (default 1), or with Nb every N batches (e.g. 500b)\n"
    "  -h, --help               print this text and exit\n"
    "  -V, --version            print the version and exit\n"
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

/* The options: one id, one row of the table and one case of train_parse's switch each. */
enum {
    O_DEVICE,
    O_X,
    O_Y,
    O_SAMPLES,
    O_DATA,
    O_TARGETS,
    O_LABEL_COLUMN,
    O_TEST,
    O_VALIDATION,
    O_NORMALIZE,
    O_LAYERS,
    O_ACTIVATION,
    O_LOSS,
    O_INIT,
    O_SEED,
    O_PRECISION,
    O_LR,
    O_MOMENTUM,
    O_TARGET,
    O_MAX_ITER,
    O_PRINT_EVERY,
    O_BATCH,
    O_EPOCHS,
    O_LOOKAHEAD,
    O_LOG,
    O_SAVE,
    O_RESUME,
    O_FORCE,
    O_CHECKPOINT,
    O_CHECKPOINT_EVERY,
    O_LR_SCHEDULE,
    O_WARMUP,
    O_EARLY_STOP,
    O_DROPOUT,
    O_NESTEROV,
    O_OPTIMIZER,
    O_BETA1,
    O_BETA2,
    O_EPS,
    O_WEIGHT_DECAY,
    O_OUTPUT,
};

static const cli_option options[] = {
    /* name, short form, takes a value, id */
    {"x", 'x', 1, O_X},
    {"y", 'y', 1, O_Y},
    {"samples", 0, 1, O_SAMPLES},
    {"data", 0, 1, O_DATA},
    {"targets", 0, 1, O_TARGETS},
    {"label-column", 0, 1, O_LABEL_COLUMN},
    {"test", 0, 1, O_TEST},
    {"validation", 0, 1, O_VALIDATION},
    {"normalize", 0, 0, O_NORMALIZE},
    {"layers", 'l', 1, O_LAYERS},
    {"activation", 'a', 1, O_ACTIVATION},
    {"loss", 0, 1, O_LOSS},
    {"init", 0, 1, O_INIT},
    {"seed", 0, 1, O_SEED},
    {"device", 'd', 1, O_DEVICE},
    {"precision", 'p', 1, O_PRECISION},
    {"lr", 0, 1, O_LR},
    {"momentum", 0, 1, O_MOMENTUM},
    {"target", 0, 1, O_TARGET},
    {"max-iter", 0, 1, O_MAX_ITER},
    {"print-every", 0, 1, O_PRINT_EVERY},
    {"batch", 'b', 1, O_BATCH},
    {"epochs", 'e', 1, O_EPOCHS},
    {"lookahead", 0, 1, O_LOOKAHEAD},
    {"log", 0, 1, O_LOG},
    {"save", 0, 1, O_SAVE},
    {"resume", 0, 1, O_RESUME},
    {"force", 0, 0, O_FORCE},
    {"checkpoint", 0, 1, O_CHECKPOINT},
    {"checkpoint-every", 0, 1, O_CHECKPOINT_EVERY},
    {"lr-schedule", 0, 1, O_LR_SCHEDULE},
    {"warmup", 0, 1, O_WARMUP},
    {"early-stop", 0, 1, O_EARLY_STOP},
    {"dropout", 0, 1, O_DROPOUT},
    {"nesterov", 0, 0, O_NESTEROV},
    {"optimizer", 0, 1, O_OPTIMIZER},
    {"beta1", 0, 1, O_BETA1},
    {"beta2", 0, 1, O_BETA2},
    {"eps", 0, 1, O_EPS},
    {"weight-decay", 0, 1, O_WEIGHT_DECAY},
    {"output", 0, 1, O_OUTPUT},
    {NULL, 0, 0, 0},
};

int train_parse(int argc, char **argv, train_cli *o)
{
    static const char *const precisions[] = {"float", "double", NULL};
    static const char *const losses[] = {"mse", "ce", NULL};
    static const char *const inits[] = {"ones", "uniform", NULL};
    static const char *const outputs[] = {"sigmoid", "tanh", "linear", "softmax", NULL};
    static const char *const optimizers[] = {"sgd", "adam", "adamw", NULL};
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
    cli_parser cp;
    cli_begin(&cp, "train", usage, options, argc, argv);
    const args *a = &cp.a;
    for (int id; (id = cli_next(&cp)) != CLI_END;) {
        const char *v = cp.value;
        int rc = 0;
        switch (id) {
        case CLI_SHOWN:
            return -1;
        case CLI_ERROR:
            return EXIT_USAGE;
        case O_NORMALIZE:
            o->normalize = 1;
            break;
        case O_FORCE:
            o->force = 1;
            break;
        case O_DEVICE:
            o->device = v;
            break;
        case O_X:
            o->x_path = v;
            break;
        case O_Y:
            o->y_path = v;
            break;
        case O_DATA:
            o->data = v;
            break;
        case O_TEST:
            o->test = v;
            break;
        case O_LAYERS:
            o->layers = v;
            break;
        case O_ACTIVATION:
            o->activation = v;
            break;
        case O_LABEL_COLUMN:
            o->label_column = v;
            break;
        case O_LOG:
            o->log = v;
            break;
        case O_SAVE:
            o->save = v;
            break;
        case O_RESUME:
            o->resume = v;
            break;
        case O_CHECKPOINT:
            o->checkpoint = v;
            break;
        case O_CHECKPOINT_EVERY:
            rc = parse_every(v, o);
            break;
        case O_TARGETS:
            rc = parse_long(a, "--targets", v, 1, 1000000, &o->targets);
            break;
        case O_SAMPLES:
            rc = parse_long(a, "--samples", v, 1, 100000000, &o->samples);
            break;
        case O_LR:
            rc = parse_double(a, "--lr", v, 0, HUGE_VAL, 1, &o->lr);
            o->lr_given = 1;
            break;
        case O_MOMENTUM:
            rc = parse_double(a, "--momentum", v, 0, 0.999999, 0, &o->momentum);
            o->momentum_given = 1;
            break;
        case O_NESTEROV:
            o->nesterov = 1;
            break;
        case O_OPTIMIZER:
            rc = parse_word(a, "--optimizer", v, optimizers, &o->optimizer);
            break;
        case O_BETA1:
            rc = parse_double(a, "--beta1", v, 0, 0.999999, 0, &o->beta1);
            break;
        case O_BETA2:
            rc = parse_double(a, "--beta2", v, 0, 0.999999999, 0, &o->beta2);
            break;
        case O_EPS:
            rc = parse_double(a, "--eps", v, 0, 1, 1, &o->eps);
            break;
        case O_WEIGHT_DECAY:
            rc = parse_double(a, "--weight-decay", v, 0, 1e6, 0, &o->weight_decay);
            break;
        case O_OUTPUT:
            rc = parse_word(a, "--output", v, outputs, &o->output);
            break;
        case O_VALIDATION:
            rc = parse_double(a, "--validation", v, 0, 0.99, 1, &o->validation);
            break;
        case O_TARGET:
            rc = parse_double(a, "--target", v, -HUGE_VAL, HUGE_VAL, 0, &o->target);
            break;
        case O_MAX_ITER:
            rc = parse_long(a, "--max-iter", v, 0, 1000000000000L, &o->max_iter);
            break;
        case O_PRINT_EVERY:
            rc = parse_long(a, "--print-every", v, 0, 1000000000000L, &o->print_every);
            break;
        case O_SEED:
            rc = parse_long(a, "--seed", v, 0, 0x7fffffffffffffffL, &o->seed);
            o->seed_given = 1;
            break;
        case O_LOOKAHEAD:
            rc = parse_long(a, "--lookahead", v, 0, 64, &o->lookahead);
            break;
        case O_BATCH:
            rc = parse_long(a, "--batch", v, 0, 1L << 31, &o->batch);
            o->batch_given = 1;
            break;
        case O_EPOCHS:
            rc = parse_long(a, "--epochs", v, 1, 100000000, &o->epochs);
            o->epochs_given = 1;
            break;
        case O_PRECISION:
            rc = parse_word(a, "--precision", v, precisions, &o->precision);
            break;
        case O_LOSS:
            rc = parse_word(a, "--loss", v, losses, &o->loss);
            o->loss_given = 1;
            break;
        case O_LR_SCHEDULE:
            rc = schedule_parse(v, &o->sched);
            break;
        case O_WARMUP:
            rc = parse_long(a, "--warmup", v, 0, 100000000, &o->sched.warmup);
            break;
        case O_EARLY_STOP:
            rc = parse_long(a, "--early-stop", v, 1, 100000000, &o->early_stop);
            break;
        case O_DROPOUT:
            rc = parse_double(a, "--dropout", v, 0, 0.99, 0, &o->dropout);
            break;
        case O_INIT:
            rc = parse_word(a, "--init", v, inits, &o->init);
            o->init_given = 1;
            break;
        }
        if (rc) return EXIT_USAGE;
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
    if ((schedule_active(&o->sched) || o->early_stop || o->dropout > 0) && !o->epoch_mode)
        return failf(EXIT_USAGE, "train: --lr-schedule, --warmup, --early-stop and --dropout work "
                                 "by epochs, which only epoch mode has (--data, --batch or "
                                 "--epochs)");
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
