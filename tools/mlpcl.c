/* mlpcl.c: the command line's entry: the overview, `mlpcl devices` (what can train) and
 * `mlpcl gen` (the tutorial's data set as CSV); train and predict live in cmd_*.c. Exit
 * status: 0 success, 2 bad usage or input, 3 OpenCL or device error, 4 not converged within
 * --max-iter, 5 diverged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_main[] =
    "usage: mlpcl COMMAND [OPTIONS]\n"
    "\n"
    "Trains multilayer perceptrons by backpropagation on OpenCL devices.\n"
    "\n"
    "commands:\n"
    "  train     train a network (with no options: the tutorial's 2-3-2 example)\n"
    "  predict   run a saved network on data: predictions, or accuracy and confusion matrix\n"
    "  devices   list every OpenCL platform and device, and the host trainer\n"
    "  bench     compare devices: the same workloads timed on each, checked against the host\n"
    "  tune      search a device's kernel tunables and keep the fastest for later runs\n"
    "  gen       write the tutorial's random data set as CSV files\n"
    "  help      this text; `mlpcl COMMAND --help` describes a command\n"
    "\n"
    "Devices are chosen with --device SEL or $MLPCL_DEVICE: an index (0:1, or 2), a type\n"
    "(gpu, cpu, accelerator), part of a device or platform name, or host (the plain C\n"
    "double-precision reference trainer). Without one: the first GPU, else the first CPU.\n"
    "\n"
    "exit status: 0 success (train: converged), 2 bad usage or input, 3 OpenCL or device\n"
    "error, 4 not converged within --max-iter, 5 diverged (the cost became NaN or Inf).\n";

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
    args a = {argc, 1, argv, "gen", 0};
    const char *x = NULL, *y = NULL;
    long m = 10, seed = 1;
    for (; a.i < argc; ++a.i) {
        const char *v = NULL;
        int rc = 0;
        if (!strcmp(argv[a.i], "-h") || !strcmp(argv[a.i], "--help")) {
            fputs(usage_gen, stdout);
            return 0;
        } else if (take(&a, "--x", &v)) {
            x = v;
        } else if (take(&a, "--y", &v)) {
            y = v;
        } else if (take(&a, "--samples", &v)) {
            rc = parse_long(&a, "--samples", v, 1, 100000000, &m);
        } else if (take(&a, "--seed", &v)) {
            rc = parse_long(&a, "--seed", v, 0, 0x7fffffffffffffffL, &seed);
        } else {
            return failf(EXIT_USAGE, "gen: unknown option '%s' (see mlpcl gen --help)", argv[a.i]);
        }
        if (a.bad || rc) return EXIT_USAGE;
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
    if (!strcmp(cmd, "predict")) return cmd_predict(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "tune")) return cmd_tune(argc - 1, argv + 1);
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
