// SPDX-License-Identifier: MIT
/* cmd_predict.c: `mlpcl predict`: runs a saved network on a data set, on any device. With class
 * labels it prints the accuracy, the loss and a confusion matrix; otherwise the predictions as
 * CSV. Every write is checked: a full disk or closed output is an error, not a short file. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "Usage: mlpcl predict --model FILE --data PATH [OPTIONS]\n"
    "\n"
    "Runs a network saved by `mlpcl train --save` on a data set. When the data have class\n"
    "labels it prints the accuracy, the loss and the confusion matrix (up to 50 classes; beyond,\n"
    "each class's accuracy); otherwise one CSV row of predictions a sample (for classifiers the\n"
    "predicted class, then each class's output). Labels are the model's classes: names are\n"
    "looked up in its class names, integers index its outputs, and a label it does not know is\n"
    "an error. The model's feature standardisation (--normalize) is applied first.\n"
    "\n"
    "options:\n"
    "  -m, --model FILE        the saved network (safetensors)\n"
    "      --data PATH         a folder of MNIST-named IDX files (its test files when present),\n"
    "                          IMAGES,LABELS (an IDX pair), or a CSV file\n"
    "      --targets K         CSV: the last K columns are targets (their loss is printed on "
    "stderr)\n"
    "      --label-column C    CSV: column C (number from 1, or header name) holds class labels\n"
    "                          (without either, a CSV must have exactly the model's inputs)\n"
    "  -o, --output FILE       write the predictions there instead of standard output\n"
    "  -d, --device SEL        where to run (see `mlpcl help`)\n"
    "  -p, --precision P       float or double (default: as the model was saved, where the device\n"
    "                          supports it)\n"
    "  -b, --batch N           rows at a time (default 1024)\n"
    "  -h, --help              print this text and exit\n"
    "  -V, --version           print the version and exit\n";

typedef struct predict_cli {
    const char *model, *data, *label_column, *output, *device;
    long targets, batch;
    int precision; /* -1 not given, 0 float, 1 double */
} predict_cli;

/* "compiling kernels for DEVICE…" on stderr (a terminal) while they build, then erased. */
static void build_notice(void *user, mlpcl_build_phase phase, const char *device, double seconds)
{
    (void)user, (void)seconds;
    if (phase == MLPCL_BUILD_START)
        fprintf(stderr, "\rcompiling kernels for %s…\033[K", device);
    else
        fputs("\r\033[K", stderr);
    fflush(stderr);
}

static int parse(int argc, char **argv, predict_cli *o)
{
    static const char *const precisions[] = {"float", "double", NULL};
    enum { O_MODEL, O_DATA, O_LABEL_COLUMN, O_OUTPUT, O_DEVICE, O_TARGETS, O_BATCH, O_PRECISION };
    static const cli_option options[] = {
        {"model", 'm', 1, O_MODEL},
        {"data", 0, 1, O_DATA},
        {"targets", 0, 1, O_TARGETS},
        {"label-column", 0, 1, O_LABEL_COLUMN},
        {"output", 'o', 1, O_OUTPUT},
        {"device", 'd', 1, O_DEVICE},
        {"precision", 'p', 1, O_PRECISION},
        {"batch", 'b', 1, O_BATCH},
        {NULL, 0, 0, 0},
    };
    *o = (predict_cli){.batch = 1024, .precision = -1};
    cli_parser cp;
    cli_begin(&cp, "predict", usage, options, argc, argv);
    for (int id; (id = cli_next(&cp)) != CLI_END;) {
        const char *v = cp.value;
        int rc = 0;
        switch (id) {
        case CLI_SHOWN:
            return -1;
        case CLI_ERROR:
            return EXIT_USAGE;
        case O_MODEL:
            o->model = v;
            break;
        case O_DATA:
            o->data = v;
            break;
        case O_LABEL_COLUMN:
            o->label_column = v;
            break;
        case O_OUTPUT:
            o->output = v;
            break;
        case O_DEVICE:
            o->device = v;
            break;
        case O_TARGETS:
            rc = parse_long(&cp.a, "--targets", v, 1, 1000000, &o->targets);
            break;
        case O_BATCH:
            rc = parse_long(&cp.a, "--batch", v, 1, 1L << 24, &o->batch);
            break;
        case O_PRECISION:
            rc = parse_word(&cp.a, "--precision", v, precisions, &o->precision);
            break;
        }
        if (rc) return EXIT_USAGE;
    }
    if (!o->model || !o->data)
        return failf(EXIT_USAGE, "predict: --model FILE and --data PATH are both needed");
    if (o->targets && o->label_column)
        return failf(EXIT_USAGE, "predict: give either --targets or --label-column, not both");
    return 0;
}

/* The data: a folder's test set (else its training set), an IDX pair, a CSV with targets, or
 * a CSV of features alone. Labels are read against what the model knows (its inputs, outputs
 * and class names), so that class k means the model's class k whatever the file holds. */
static int load(const predict_cli *o, const mlpcl_net *net, char **class_names, mlpcl_dataset *d)
{
    int st;
    size_t n_in = mlpcl_net_width(net, 0), K = mlpcl_net_width(net, mlpcl_net_layers(net));
    struct stat sb;
    int folder = stat(o->data, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (!folder && !o->targets && !o->label_column && !strchr(o->data, ',')) {
        mlpcl_table t = {0};
        if ((st = mlpcl_csv_read(o->data, &t)) != MLPCL_OK) return lib_fail(st);
        if (t.cols != n_in) {
            size_t cols = t.cols;
            mlpcl_table_free(&t);
            return failf(EXIT_USAGE,
                         "predict: %s has %zu columns but the model takes %zu inputs; give "
                         "--targets K or --label-column C when the file holds targets too",
                         o->data, cols, n_in);
        }
        *d = (mlpcl_dataset){t.rows, t.cols, 0, t.v, NULL, NULL, NULL, t.beyond_float};
        t.v = NULL;
        t.beyond_float = NULL;
        mlpcl_table_free(&t);
        return 0;
    }
    /* What the model knows, as the training set it was made from would say it: labels (any
     * non-NULL array) unless the file's targets are numeric columns. */
    int classifier = 0;
    mlpcl_dataset like = {0,           n_in, K, NULL, NULL, o->targets ? NULL : &classifier,
                          class_names, NULL};
    mlpcl_csv_spec spec = {(size_t)o->targets, o->label_column};
    st = mlpcl_dataset_open_eval(o->data, &spec, &like, d);
    return st == MLPCL_OK ? 0 : lib_fail(st);
}

/* The class with the largest output of row o (K outputs). */
static size_t argmax(const double *o, size_t K)
{
    size_t best = 0;
    for (size_t j = 1; j < K; ++j)
        if (o[j] > o[best]) best = j;
    return best;
}

/* Up to this many classes a confusion matrix is printed (K × K counts); beyond, each class's
 * accuracy, for the classes the data hold. */
enum { MAX_MATRIX_CLASSES = 50 };

/* The accuracy, and the confusion matrix or the per-class accuracy. 0, or an exit status. */
static int print_confusion(FILE *f, const mlpcl_dataset *d, const double *out, size_t K,
                           char **names)
{
    int matrix = K <= MAX_MATRIX_CLASSES;
    size_t *cm = calloc(matrix ? K * K : 2 * K, sizeof *cm), right = 0;
    if (!cm) return failf(EXIT_DEVICE, "out of host memory for the counts of %zu classes", K);
    size_t *hits = cm, *seen = cm + K; /* per class, when there is no matrix */
    for (size_t i = 0; i < d->n; ++i) {
        size_t best = argmax(out + i * K, K), k = (size_t)d->labels[i];
        if (matrix) {
            cm[k * K + best]++;
        } else {
            seen[k]++;
            hits[k] += best == k;
        }
        right += best == k;
    }
    fprintf(f, "accuracy: %.2f%% (%zu of %zu)\n", 100.0 * (double)right / (double)d->n, right,
            d->n);
    if (matrix) {
        fprintf(f, "confusion matrix (rows: true class, columns: predicted class):\n%12s", "");
        for (size_t j = 0; j < K; ++j)
            names ? fprintf(f, " %7.7s", names[j]) : fprintf(f, " %7zu", j);
        fputc('\n', f);
        for (size_t i = 0; i < K && !ferror(f); ++i) {
            names ? fprintf(f, "%12.12s", names[i]) : fprintf(f, "%12zu", i);
            for (size_t j = 0; j < K; ++j) fprintf(f, " %7zu", cm[i * K + j]);
            fputc('\n', f);
        }
    } else {
        fprintf(f,
                "per-class accuracy (%zu classes, more than the %d a matrix is shown for; "
                "classes with samples only):\n",
                K, MAX_MATRIX_CLASSES);
        for (size_t k = 0; k < K && !ferror(f); ++k) {
            if (!seen[k]) continue;
            names ? fprintf(f, "%12.12s", names[k]) : fprintf(f, "%12zu", k);
            fprintf(f, " %7.2f%% (%zu of %zu)\n", 100.0 * (double)hits[k] / (double)seen[k],
                    hits[k], seen[k]);
        }
    }
    free(cm);
    return 0;
}

static void print_predictions(FILE *f, const mlpcl_net *net, const double *out, size_t n,
                              char **names, int classifier, const char *fmt)
{
    size_t K = mlpcl_net_width(net, mlpcl_net_layers(net));
    fputs(classifier ? "class" : "", f);
    for (size_t j = 0; j < K; ++j) {
        if (classifier || j) fputc(',', f);
        names ? fprintf(f, "%s", names[j])
              : fprintf(f, classifier ? "%zu" : "output_%zu", j + !classifier);
    }
    fputc('\n', f);
    /* A full disk or a closed pipe shows in ferror: stop there rather than format the rest. */
    for (size_t i = 0; i < n && !ferror(f); ++i) {
        const double *o = out + i * K;
        if (classifier) {
            size_t best = argmax(o, K);
            names ? fprintf(f, "%s", names[best]) : fprintf(f, "%zu", best);
        }
        for (size_t j = 0; j < K; ++j) {
            if (classifier || j) fputc(',', f);
            fprintf(f, fmt, o[j]);
        }
        fputc('\n', f);
    }
}

/* Flushes and checks f (closing it unless it is stdout): a write error anywhere before shows
 * here. 0, or an exit status. */
static int finish_output(FILE *f, const char *name)
{
    int bad = fflush(f) != 0 || ferror(f), error = errno;
    if (f != stdout && fclose(f) != 0 && !bad) bad = 1, error = errno;
    if (!bad) return 0;
    return failf(EXIT_USAGE, "%s: write error: %s (the predictions are incomplete)", name,
                 strerror(error ? error : EIO));
}

int cmd_predict_parse(int argc, char **argv)
{
    predict_cli o;
    return parse(argc, argv, &o);
}

int cmd_predict(int argc, char **argv)
{
    predict_cli o;
    int rc = parse(argc, argv, &o), st;
    if (rc) return rc < 0 ? 0 : rc;
    mlpcl_net *net = NULL;
    mlpcl_model_info info = {0};
    mlpcl_dataset d = {0};
    mlpcl_ctx *ctx = NULL;
    mlpcl_trainer *tr = NULL;
    double *out = NULL;
    FILE *f = stdout;
    if ((st = mlpcl_model_load(o.model, &net, &info)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    /* The device before the data: on POCL its compiler warms up while the data loads. */
    if ((st = mlpcl_ctx_create(o.device, 0, &ctx)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    size_t n_in = mlpcl_net_width(net, 0), K = mlpcl_net_width(net, mlpcl_net_layers(net));
    if ((rc = load(&o, net, info.class_names, &d))) goto done;
    if (d.n_in != n_in || (d.Y && d.n_out != K)) {
        rc = failf(EXIT_USAGE,
                   "predict: %s has %zu features and %zu targets; the model takes %zu "
                   "inputs and gives %zu outputs",
                   o.data, d.n_in, d.n_out, n_in, K);
        goto done;
    }
    if (info.norm.n && (st = mlpcl_norm_apply(&info.norm, &d)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    if (isatty(STDERR_FILENO)) mlpcl_ctx_set_build_notice(ctx, build_notice, NULL);
    const mlpcl_device_info *dev = mlpcl_ctx_device(ctx);
    mlpcl_precision prec =
        o.precision == 1   ? MLPCL_PRECISION_DOUBLE
        : o.precision == 0 ? MLPCL_PRECISION_FLOAT
        : dev->platform < 0 || (info.dtype == MLPCL_PRECISION_DOUBLE && dev->fp64)
            ? MLPCL_PRECISION_DOUBLE
            : MLPCL_PRECISION_FLOAT;
    if ((st = mlpcl_dataset_check_precision(&d, prec)) != MLPCL_OK) {
        rc = failf(exit_for(st), "%s; predict in double precision (--precision double)",
                   mlpcl_last_error());
        goto done;
    }
    int id;
    if (d.n > (SIZE_MAX - 1) / sizeof *out / K) {
        rc = failf(EXIT_USAGE, "predict: %zu samples × %zu outputs overflow a size", d.n, K);
        goto done;
    }
    out = malloc(d.n * K * sizeof *out + 1);
    if (!out) {
        rc = failf(EXIT_DEVICE, "out of host memory for %zu samples × %zu outputs", d.n, K);
        goto done;
    }
    if ((st = mlpcl_trainer_create(ctx, net, NULL, NULL, 0, prec, (size_t)o.batch, &tr)) !=
            MLPCL_OK ||
        (st = mlpcl_trainer_add_set(tr, d.X, d.n, &id)) != MLPCL_OK ||
        (st = mlpcl_trainer_predict(tr, id, out)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    if (o.output && !(f = fopen(o.output, "w"))) {
        f = stdout;
        rc = failf(EXIT_USAGE, "%s: cannot create: %s", o.output, strerror(errno));
        goto done;
    }
    char **names = d.class_names ? d.class_names : info.class_names;
    double loss, acc;
    if (d.labels) {
        mlpcl_evaluate(net, out, d.Y, d.labels, d.n, &loss, &acc);
        if ((rc = print_confusion(f, &d, out, K, names))) goto done;
        fprintf(f, "loss: %.6g\n", loss);
    } else {
        int classifier = mlpcl_net_loss(net) == MLPCL_LOSS_CE || names;
        print_predictions(f, net, out, d.n, names, classifier,
                          prec == MLPCL_PRECISION_DOUBLE ? "%.17g" : "%.9g");
        if (d.Y) {
            mlpcl_evaluate(net, out, d.Y, NULL, d.n, &loss, &acc);
            fprintf(stderr, "loss: %.6g over %zu samples\n", loss, d.n);
        }
    }
    rc = finish_output(f, o.output ? o.output : "standard output");
    f = stdout;
done:
    if (f != stdout) fclose(f);
    free(out);
    mlpcl_trainer_free(tr);
    mlpcl_ctx_free(ctx);
    mlpcl_dataset_free(&d);
    mlpcl_model_info_free(&info);
    mlpcl_net_free(net);
    return rc;
}
