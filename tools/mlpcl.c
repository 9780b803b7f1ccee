// SPDX-License-Identifier: MIT
/* mlpcl.c: the command line's entry: the overview, `mlpcl devices` (what can train) and
 * `mlpcl gen` (the tutorial's data set as CSV); train and predict live in cmd_*.c. Exit
 * status: 0 success, 2 bad usage or input (or output that cannot be written), 3 OpenCL or
 * device error, 4 not converged within --max-iter, 5 diverged, 130 train stopped early. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "train_mpi.h"

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
    "exit status: 0 success (train: converged), 2 bad usage or input, or a file that cannot be\n"
    "written, 3 OpenCL or device error, 4 not converged within --max-iter, 5 diverged (the cost\n"
    "became NaN or Inf), 130 train stopped early by SIGINT, SIGTERM or SIGHUP or by a failed\n"
    "write of its output (a closed pipe, a full disk), its state saved for --resume.\n";

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
    if (st != MLPCL_OK && strstr(mlpcl_last_error(), "CL_PLATFORM_NOT_FOUND_KHR")) {
        /* No OpenCL at all is not an error here: the host trainer is still there to list. */
        fprintf(stderr, "mlpcl: note: no OpenCL platform: %s\n", mlpcl_last_error());
        mlpcl_ctx *host;
        if ((st = mlpcl_ctx_create("host", 0, &host)) != MLPCL_OK) return lib_fail(st);
        char line[1200];
        mlpcl_device_describe(mlpcl_ctx_device(host), line, sizeof line);
        puts(line);
        mlpcl_ctx_free(host);
        return cli_close_stdout();
    }
    if (st != MLPCL_OK) return lib_fail(st);
    for (size_t i = 0; i < n; ++i) {
        char line[1200];
        mlpcl_device_describe(&list[i], line, sizeof line);
        puts(line);
    }
    free(list);
    return cli_close_stdout();
}

/* Where gen writes path's CSV: a new temporary file beside a regular file (or where none is
 * yet), renamed over it once complete, so that a full disk leaves no empty or truncated file
 * claimed as written; a device or pipe (/dev/stdout) is written as it is. NULL with errno set
 * when the temporary cannot be created. */
static char *target_for(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) return strdup(path);
    return cli_temp_beside(path);
}

/* X to x and Y to y, both or neither. Exit status 3 (as before) on failure. */
static int write_both(const char *x, const double *X, const char *y, const double *Y, size_t m)
{
    const char *paths[2] = {x, y};
    const double *v[2] = {X, Y};
    char *to[2] = {NULL, NULL};
    int rc = 0;
    for (int i = 0; i < 2 && !rc; ++i) {
        if (!(to[i] = target_for(paths[i])))
            rc = failf(EXIT_DEVICE, "%s: cannot create: %s", paths[i], strerror(errno));
        else if (mlpcl_csv_write(to[i], v[i], m, 2) != MLPCL_OK)
            rc = failf(EXIT_DEVICE, "%s", mlpcl_last_error());
    }
    for (int i = 0; i < 2 && !rc; ++i)
        if (strcmp(to[i], paths[i]) && rename(to[i], paths[i]))
            rc = failf(EXIT_DEVICE, "%s: cannot rename %s over it: %s", paths[i], to[i],
                       strerror(errno));
    for (int i = 0; i < 2; ++i) {
        if (rc && to[i] && strcmp(to[i], paths[i])) unlink(to[i]);
        free(to[i]);
    }
    return rc;
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
    int rc = 0;
    if (X && Y) {
        mlpcl_tutorial_data((size_t)m, (uint64_t)seed, X, Y);
        rc = write_both(x, X, y, Y, (size_t)m);
    } else {
        rc = failf(EXIT_DEVICE, "out of host memory");
    }
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
    if (!strcmp(cmd, "train")) {
        int rc = train_mpi_start(); /* under mpirun: MPI, and rank 0 alone prints */
        return rc ? rc : train_mpi_end(cmd_train(argc - 1, argv + 1));
    }
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
