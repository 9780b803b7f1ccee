// SPDX-License-Identifier: MIT
/* cli.h: what the mlpcl command's files share: exit statuses, messages, option parsing. */
#ifndef MLPCL_CLI_H
#define MLPCL_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "mlpcl.h"

enum {
    EXIT_CONVERGED = 0,
    EXIT_USAGE = 2,  /* bad usage or input, or a file that cannot be written */
    EXIT_DEVICE = 3, /* OpenCL or device error */
    EXIT_NOT_CONVERGED = 4,
    EXIT_DIVERGED = 5,
};

/* Prints "mlpcl: MESSAGE" on stderr and returns code. */
int failf(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the library's last error and returns the exit status for st. */
int lib_fail(int st);
/* The exit status for a library status: bad input 2, the rest 3. */
int exit_for(int st);

/* Walks a command's arguments. */
typedef struct args {
    int argc, i;
    char **argv;
    const char *cmd;
    int bad; /* set when an option lacked its value (already reported) */
} args;

/* If the current argument is option `name` ("--name VALUE" or "--name=VALUE"), stores its
 * value and returns 1. */
int take(args *a, const char *name, const char **value);
/* Parsers: on failure they report (naming the command and option) and return EXIT_USAGE. */
int parse_long(const args *a, const char *opt, const char *s, long lo, long hi, long *out);
int parse_double(const args *a, const char *opt, const char *s, double lo, double hi, int open_lo,
                 double *out);
/* One of the words in the NULL-terminated list `words`; its index in *out. */
int parse_word(const args *a, const char *opt, const char *s, const char *const *words, int *out);

/* Flushes standard output and checks that every write to it succeeded (a full disk, /dev/full,
 * a closed pipe once SIGPIPE is ignored): 0, or, having said so on stderr, EXIT_USAGE (2, as for
 * any file that cannot be read or written). stdout stays open. */
int cli_close_stdout(void);
/* The same for a file of the command's (a log): flushes and closes f, 0 or EXIT_USAGE after
 * a message naming path. */
int cli_close_file(FILE *f, const char *path);

/* Creates an empty file PATH.tmp.XXXXXX beside path (exclusively, mode 0666 less the umask) to
 * be written and renamed over path; its name (malloc'd), or NULL with errno set. */
char *cli_temp_beside(const char *path);

/* Seconds since an arbitrary start. */
double now_seconds(void);

int cmd_train(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tune(int argc, char **argv);
/* Only the argument parsing of train and predict (for the fuzzer): 0 valid, -1 help shown,
 * else the exit status of the usage error (already reported on stderr). */
int cmd_train_parse(int argc, char **argv);
int cmd_predict_parse(int argc, char **argv);

#endif
