// SPDX-License-Identifier: MIT
/* cli.c: messages, exit statuses and option parsing for the mlpcl command's subcommands. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Whether f's writes all reached the system, errno set where a flush says why (0 when an
 * earlier write failed and only the error flag is left). */
static int flush_failed(FILE *f)
{
    errno = 0;
    int bad = fflush(f) != 0;
    int err = errno;
    bad |= ferror(f) != 0;
    errno = bad ? err : 0;
    return bad;
}

int cli_close_stdout(void)
{
    if (flush_failed(stdout)) {
        int err = errno;
        return failf(EXIT_USAGE, "cannot write standard output: %s",
                     err ? strerror(err) : "an earlier write failed");
    }
    /* A file system that reports errors only when a file is closed (NFS) reports them for any
     * descriptor of it: close a duplicate, stdout itself stays open for failf. */
    int fd = dup(STDOUT_FILENO);
    if (fd >= 0 && close(fd) && errno != EINTR)
        return failf(EXIT_USAGE, "cannot write standard output: %s", strerror(errno));
    return 0;
}

int cli_close_file(FILE *f, const char *path)
{
    int bad = flush_failed(f), err = errno;
    if (fclose(f) && !bad) bad = 1, err = errno;
    if (bad)
        return failf(EXIT_USAGE, "%s: cannot write: %s", path,
                     err ? strerror(err) : "an earlier write failed");
    return 0;
}

char *cli_temp_beside(const char *path)
{
    static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = strlen(path);
    char *tmp = malloc(n + 12);
    if (!tmp) {
        errno = ENOMEM;
        return NULL;
    }
    unsigned long v = (unsigned long)getpid() * 2654435761UL ^ (unsigned long)(now_seconds() * 1e9);
    for (int attempt = 0; attempt < 1000; ++attempt) {
        v = v * 6364136223846793005UL + 1442695040888963407UL;
        memcpy(tmp, path, n);
        memcpy(tmp + n, ".tmp.", 5);
        unsigned long w = v >> 20;
        for (int i = 0; i < 6; ++i, w /= 36) tmp[n + 5 + i] = digits[w % 36];
        tmp[n + 11] = '\0';
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            close(fd);
            return tmp;
        }
        if (errno != EEXIST) break;
    }
    int err = errno;
    free(tmp);
    errno = err;
    return NULL;
}
