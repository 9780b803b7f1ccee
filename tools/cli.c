/* cli.c: messages, exit statuses and option parsing for the mlpcl command's subcommands. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

int failf(int code, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("mlpcl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int exit_for(int st)
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

int lib_fail(int st)
{
    return failf(exit_for(st), "%s", mlpcl_last_error());
}

int take(args *a, const char *name, const char **value)
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
        a->bad = 1;
        *value = NULL;
        return 1;
    }
    *value = a->argv[++a->i];
    return 1;
}

int parse_long(const args *a, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s) return EXIT_USAGE;
    if (!*s || *end || errno || v < lo || v > hi)
        return failf(EXIT_USAGE, "%s: %s expects a whole number from %ld to %ld, not '%s'", a->cmd,
                     opt, lo, hi, s);
    *out = v;
    return 0;
}

int parse_double(const args *a, const char *opt, const char *s, double lo, double hi, int open_lo,
                 double *out)
{
    char *end;
    if (!s) return EXIT_USAGE;
    errno = 0;
    double v = strtod(s, &end);
    int ok = *s && !*end && !errno && isfinite(v) && v <= hi && (open_lo ? v > lo : v >= lo);
    if (!ok) {
        if (lo == -HUGE_VAL && hi == HUGE_VAL)
            return failf(EXIT_USAGE, "%s: %s expects a finite number, not '%s'", a->cmd, opt, s);
        if (open_lo && lo == 0 && hi == HUGE_VAL)
            return failf(EXIT_USAGE, "%s: %s expects a finite positive number, not '%s'", a->cmd,
                         opt, s);
        return failf(EXIT_USAGE, "%s: %s expects a number in %s%g, %g], not '%s'", a->cmd, opt,
                     open_lo ? "(" : "[", lo, hi, s);
    }
    *out = v;
    return 0;
}

int parse_word(const args *a, const char *opt, const char *s, const char *const *words, int *out)
{
    if (!s) return EXIT_USAGE;
    for (int i = 0; words[i]; ++i)
        if (!strcmp(s, words[i])) {
            *out = i;
            return 0;
        }
    char list[256] = "";
    for (int i = 0; words[i]; ++i) {
        strncat(list, i ? (words[i + 1] ? ", " : " or ") : "", sizeof list - strlen(list) - 1);
        strncat(list, words[i], sizeof list - strlen(list) - 1);
    }
    return failf(EXIT_USAGE, "%s: %s expects %s, not '%s'", a->cmd, opt, list, s);
}

int open_data(const char *path, const mlpcl_csv_spec *spec, const mlpcl_dataset *like,
              mlpcl_dataset *out)
{
    int st;
    struct stat sb;
    memset(out, 0, sizeof *out);
    if (!like) {
        st = mlpcl_dataset_open(path, spec, out, NULL);
        return st == MLPCL_OK ? 0 : lib_fail(st);
    }
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        mlpcl_dataset train = {0};
        st = mlpcl_dataset_open(path, spec, &train, out);
        mlpcl_dataset_free(&train);
        if (st != MLPCL_OK) return lib_fail(st);
        if (!out->n) return failf(EXIT_USAGE, "%s: no test files (t10k-images-idx3-ubyte…)", path);
        if (out->n_in != like->n_in || out->n_out != like->n_out)
            return failf(EXIT_USAGE,
                         "%s: %zu features and %zu classes, the training set %zu "
                         "and %zu",
                         path, out->n_in, out->n_out, like->n_in, like->n_out);
        return 0;
    }
    const char *comma = strchr(path, ',');
    if (comma) {
        char *images = strndup(path, (size_t)(comma - path));
        if (!images) return failf(EXIT_DEVICE, "out of host memory");
        st = mlpcl_idx_dataset(images, comma + 1, 0, like, out);
        free(images);
        return st == MLPCL_OK ? 0 : lib_fail(st);
    }
    st = mlpcl_csv_dataset(path, spec, like, out);
    return st == MLPCL_OK ? 0 : lib_fail(st);
}

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
