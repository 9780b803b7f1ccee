// SPDX-License-Identifier: MIT
/* cli.c: messages, exit statuses and option parsing for the mlpcl command's subcommands: each
 * command's table of options read by getopt_long, unknown options answered with the nearest
 * valid one, and the value parsers. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <getopt.h>
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

/* ---- Options: getopt_long over a command's table ----------------------------------------- */

/* Ids of the two options every command has, beyond any table's. */
enum { ID_HELP = -100, ID_VERSION = -101 };
/* getopt_long's val for long option k: above every short letter, so the two never meet. */
enum { LONG_BASE = 256 };

static const cli_option builtin[] = {
    {"help", 'h', 0, ID_HELP},
    {"version", 'V', 0, ID_VERSION},
};

/* Row k of the table with the built-in rows after it. */
static const cli_option *row(const cli_parser *p, size_t k)
{
    return k < p->n ? &p->opts[k] : &builtin[k - p->n];
}

static size_t rows(const cli_parser *p)
{
    return p->n + sizeof builtin / sizeof *builtin;
}

void cli_begin(cli_parser *p, const char *cmd, const char *usage, const cli_option *opts, int argc,
               char **argv)
{
    memset(p, 0, sizeof *p);
    p->a = (args){argc, 1, argv, cmd, 0};
    p->usage = usage;
    p->opts = opts;
    while (opts[p->n].name && p->n < CLI_MAX_OPTIONS) ++p->n;
    /* '-': arguments that are not options come back in order (as 1), nothing is permuted;
     * ':': a missing value comes back as ':' and getopt prints nothing itself. */
    char *s = p->shortopts;
    *s++ = '-';
    *s++ = ':';
    for (size_t k = 0; k < rows(p); ++k) {
        const cli_option *o = row(p, k);
        p->longopts[k] = (struct option){o->name, o->has_value ? required_argument : no_argument,
                                         NULL, LONG_BASE + (int)k};
        if (o->letter) {
            *s++ = (char)o->letter;
            if (o->has_value) *s++ = ':';
        }
    }
    *s = '\0';
    /* glibc starts afresh (and rereads the option string) when optind is 0. */
    optind = 0;
    opterr = 0;
}

/* Restricted Damerau–Levenshtein distance (a swap of two neighbours counts one), capped. */
static size_t distance(const char *a, const char *b)
{
    enum { CAP = 64 };
    size_t n = strlen(a), m = strlen(b);
    if (n >= CAP || m >= CAP) return CAP;
    size_t d[CAP + 1][CAP + 1];
    for (size_t i = 0; i <= n; ++i) d[i][0] = i;
    for (size_t j = 0; j <= m; ++j) d[0][j] = j;
    for (size_t i = 1; i <= n; ++i)
        for (size_t j = 1; j <= m; ++j) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

const char *cli_nearest(const char *s, const char *const *words)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t k = 0; words[k]; ++k) {
        size_t d = distance(s, words[k]);
        if (d < best_d) best = words[k], best_d = d;
    }
    /* Close: one edit in a short word, up to a third of a longer one (three at most), and
     * never the whole word ("--x" is no typo of "--y"). */
    size_t len = best ? strlen(best) : 0, limit = (len + 2) / 3;
    if (limit > 3) limit = 3;
    return best && best_d <= limit && best_d < len ? best : NULL;
}

int cli_version(void)
{
    puts("mlpcl " MLPCL_VERSION);
    return cli_close_stdout();
}

/* Reports argument text, which is no option of the table: an ambiguous prefix with its
 * candidates, else the nearest option when close. */
static int unknown(const cli_parser *p, const char *text)
{
    const char *name = text;
    while (*name == '-') ++name;
    size_t len = strcspn(name, "=");
    size_t match[CLI_MAX_OPTIONS + 2], n_match = 0;
    if (!strncmp(text, "--", 2) && len)
        for (size_t k = 0; k < rows(p); ++k)
            if (!strncmp(row(p, k)->name, name, len)) match[n_match++] = k;
    if (n_match > 1) {
        char cand[1024] = "";
        for (size_t i = 0; i < n_match; ++i) {
            size_t used = strlen(cand);
            const char *sep = i == 0 ? "" : i + 1 < n_match ? ", " : " or ";
            snprintf(cand + used, sizeof cand - used, "%s--%s", sep, row(p, match[i])->name);
        }
        return failf(EXIT_USAGE, "%s: option '%.*s' is ambiguous; it could be %s", p->a.cmd,
                     (int)(name - text + len), text, cand);
    }
    const char *words[CLI_MAX_OPTIONS + 3];
    char word[64];
    size_t nw = 0;
    for (size_t k = 0; k < rows(p); ++k) words[nw++] = row(p, k)->name;
    words[nw] = NULL;
    snprintf(word, sizeof word, "%.*s", (int)len, name);
    const char *near =
        *name && text[0] == '-' && strlen(name) > 1 ? cli_nearest(word, words) : NULL;
    if (near)
        return failf(EXIT_USAGE, "%s: unknown option '%s' — did you mean --%s?", p->a.cmd, text,
                     near);
    return failf(EXIT_USAGE, "%s: unknown option '%s' (see mlpcl %s --help)", p->a.cmd, text,
                 p->a.cmd);
}

/* The row of getopt's answer c (a short letter or LONG_BASE + row), or NULL. */
static const cli_option *row_of(const cli_parser *p, int c)
{
    if (c >= LONG_BASE && (size_t)(c - LONG_BASE) < rows(p)) return row(p, (size_t)(c - LONG_BASE));
    for (size_t k = 0; c > 0 && k < rows(p); ++k)
        if (row(p, k)->letter == c) return row(p, k);
    return NULL;
}

int cli_next(cli_parser *p)
{
    p->value = NULL;
    int c = getopt_long(p->a.argc, p->a.argv, p->shortopts, p->longopts, NULL);
    p->a.i = optind;
    if (c == -1) {
        /* After "--", what is left is no option of ours either. */
        if (optind < p->a.argc) return unknown(p, p->a.argv[optind]), CLI_ERROR;
        return CLI_END;
    }
    if (c == 1) return unknown(p, optarg), CLI_ERROR;
    const cli_option *o = row_of(p, c == '?' || c == ':' ? optopt : c);
    if (c == ':') {
        p->a.bad = 1;
        return failf(EXIT_USAGE, "%s: option --%s needs a value", p->a.cmd, o ? o->name : "?"),
               CLI_ERROR;
    }
    if (c == '?') {
        if (o && optopt >= LONG_BASE)
            failf(EXIT_USAGE, "%s: option --%s takes no value (see mlpcl %s --help)", p->a.cmd,
                  o->name, p->a.cmd);
        else if (optopt)
            failf(EXIT_USAGE, "%s: unknown option '-%c' (see mlpcl %s --help)", p->a.cmd, optopt,
                  p->a.cmd);
        else
            unknown(p, p->a.argv[optind - 1]);
        return CLI_ERROR;
    }
    if (!o) return failf(EXIT_USAGE, "%s: unexpected option", p->a.cmd), CLI_ERROR;
    if (o->id == ID_HELP) {
        fputs(p->usage, stdout);
        return cli_close_stdout() ? CLI_ERROR : CLI_SHOWN;
    }
    if (o->id == ID_VERSION) return cli_version() ? CLI_ERROR : CLI_SHOWN;
    p->value = o->has_value ? optarg : NULL;
    return o->id;
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
