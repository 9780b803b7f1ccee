// SPDX-License-Identifier: MIT
/* mlpcl.c: the command line's entry: the overview, the commands' dispatch (`mlpcl help COMMAND`
 * included) and `mlpcl gen` (the tutorial's data set as CSV); the others live in cmd_*.c. Exit
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
    "Usage: mlpcl COMMAND [OPTIONS]\n"
    "  or:  mlpcl help [COMMAND]\n"
    "  or:  mlpcl --version\n"
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
    "  help      this text; `mlpcl help COMMAND` (or `mlpcl COMMAND --help`) describes one\n"
    "\n"
    "Every command takes -h/--help and -V/--version; long options may be shortened to any\n"
    "unambiguous prefix, and take their value as --name VALUE or --name=VALUE.\n"
    "\n"
    "Devices are chosen with --device SEL or $MLPCL_DEVICE: an index (0:1, or 2), a type\n"
    "(gpu, cpu, accelerator), part of a device or platform name, or host (the plain C\n"
    "double-precision reference trainer). Without one: the first GPU, else the first CPU.\n"
    "\n"
    "exit status: 0 success (train: converged), 2 bad usage or input, or a file that cannot be\n"
    "written, 3 OpenCL or device error, 4 not converged within --max-iter, 5 diverged (the cost\n"
    "became NaN or Inf), 130 train stopped early by SIGINT, SIGTERM or SIGHUP or by a failed\n"
    "write of its output (a closed pipe, a full disk), its state saved for --resume.\n";

static const char usage_gen[] =
    "Usage: mlpcl gen --x FILE --y FILE [--samples M] [--seed N]\n"
    "\n"
    "Writes the random data set that `mlpcl train` draws when given no --x/--y: M samples\n"
    "(default 10) of 2 inputs and 2 targets, uniform in [0, 1), from seed N (default 1), as\n"
    "CSV with 17 significant digits. `mlpcl train --x X.csv --y Y.csv` then trains on exactly\n"
    "the same numbers, and so can any other program.\n"
    "\n"
    "options:\n"
    "  -x, --x FILE       where to write the inputs\n"
    "  -y, --y FILE       where to write the targets\n"
    "      --samples M    how many samples (default 10)\n"
    "      --seed N       the random seed (default 1)\n"
    "  -h, --help         print this text and exit\n"
    "  -V, --version      print the version and exit\n";

/* ---- gen ---------------------------------------------------------------------------------- */

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
    enum { O_X, O_Y, O_SAMPLES, O_SEED };
    static const cli_option options[] = {
        {"x", 'x', 1, O_X},     {"y", 'y', 1, O_Y}, {"samples", 0, 1, O_SAMPLES},
        {"seed", 0, 1, O_SEED}, {NULL, 0, 0, 0},
    };
    const char *x = NULL, *y = NULL;
    long m = 10, seed = 1;
    cli_parser cp;
    cli_begin(&cp, "gen", usage_gen, options, argc, argv);
    for (int id; (id = cli_next(&cp)) != CLI_END;) {
        int rc = 0;
        switch (id) {
        case CLI_SHOWN:
            return 0;
        case CLI_ERROR:
            return EXIT_USAGE;
        case O_X:
            x = cp.value;
            break;
        case O_Y:
            y = cp.value;
            break;
        case O_SAMPLES:
            rc = parse_long(&cp.a, "--samples", cp.value, 1, 100000000, &m);
            break;
        case O_SEED:
            rc = parse_long(&cp.a, "--seed", cp.value, 0, 0x7fffffffffffffffL, &seed);
            break;
        }
        if (rc) return EXIT_USAGE;
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

/* ---- The commands ------------------------------------------------------------------------- */

/* train under mpirun: MPI around it, and rank 0 alone prints (tools/train_mpi.c). */
static int train_ranked(int argc, char **argv)
{
    int rc = train_mpi_start();
    return rc ? rc : train_mpi_end(cmd_train(argc, argv));
}

/* bench under mpirun: every trainer data-parallel over the ranks, rank 0 alone prints. */
static int bench_ranked(int argc, char **argv)
{
    int rc = train_mpi_start();
    return rc ? rc : train_mpi_end(cmd_bench(argc, argv));
}

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"train", train_ranked}, {"predict", cmd_predict}, {"devices", cmd_devices},
    {"bench", bench_ranked}, {"tune", cmd_tune},       {"gen", cmd_gen},
};
enum { N_COMMANDS = sizeof commands / sizeof *commands };

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; ++i)
        if (!strcmp(name, commands[i].name)) return &commands[i];
    return NULL;
}

/* An unknown command, with the nearest one when it is close. */
static int unknown_command(const char *name)
{
    const char *words[N_COMMANDS + 2];
    for (size_t i = 0; i < N_COMMANDS; ++i) words[i] = commands[i].name;
    words[N_COMMANDS] = "help";
    words[N_COMMANDS + 1] = NULL;
    const char *near = cli_nearest(name, words);
    if (near) return failf(EXIT_USAGE, "unknown command '%s' — did you mean %s?", name, near);
    return failf(EXIT_USAGE, "unknown command '%s' (see mlpcl --help)", name);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("mlpcl: no command given\n\n", stderr);
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    const struct command *c = find(cmd);
    if (c) return c->run(argc - 1, argv + 1);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        /* `mlpcl help COMMAND` is `mlpcl COMMAND --help`, the same text from the same code. */
        if (argc > 3) return failf(EXIT_USAGE, "help: one command at most (see mlpcl --help)");
        if (argc == 3 && strcmp(argv[2], "help")) {
            if (!(c = find(argv[2]))) return unknown_command(argv[2]);
            char help_opt[] = "--help", *help_argv[] = {argv[2], help_opt, NULL};
            return c->run(2, help_argv);
        }
        fputs(usage_main, stdout);
        return cli_close_stdout();
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) return cli_version();
    return unknown_command(cmd);
}
