// SPDX-License-Identifier: MIT
/* cli.h: what the mlpcl command's files share: exit statuses, messages, option parsing (one
 * table of options a command, read by getopt_long). */
#ifndef MLPCL_CLI_H
#define MLPCL_CLI_H

#include <getopt.h>
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

/* What the value parsers need of the command line: the command's name, for messages. */
typedef struct args {
    int argc, i;
    char **argv;
    const char *cmd;
    int bad; /* set when an option lacked its value (already reported) */
} args;

/* One option of a command, a row of its table: adding an option is one row here and one case
 * in the command's switch over id. */
typedef struct cli_option {
    const char *name; /* long name without the dashes: "layers" for --layers */
    int letter;       /* short form ('l' for -l), or 0 */
    int has_value;    /* 1: takes a value (--name VALUE, --name=VALUE, -l VALUE, -lVALUE) */
    int id;           /* what cli_next returns for it; >= 0 */
} cli_option;

enum {
    CLI_MAX_OPTIONS = 64, /* rows a table may have, -h/--help and -V/--version added to them */
    CLI_END = -1,         /* cli_next: every argument read */
    CLI_SHOWN = -2,       /* cli_next: --help or --version printed; nothing more to do */
    CLI_ERROR = -3,       /* cli_next: a usage error, already reported */
};

/* getopt_long over one command's table: unique prefixes of the long names, --name=VALUE, values
 * that begin with '-', -h/--help (prints usage) and -V/--version added to every table. Unknown
 * options are reported with the nearest valid one when it is close, ambiguous prefixes with
 * their candidates. */
typedef struct cli_parser {
    args a;            /* the command's name, for the value parsers' messages */
    const char *usage; /* printed on stdout by -h/--help */
    const cli_option *opts;
    size_t n;
    const char *value; /* the value of the option cli_next just returned, else NULL */
    char shortopts[2 * CLI_MAX_OPTIONS + 8];
    struct option longopts[CLI_MAX_OPTIONS + 3];
} cli_parser;

/* Starts reading argv[1..argc-1] (argv[0] is the command's name) against opts, a table ended by
 * a row with name NULL; resets getopt's state, so it may be called any number of times. */
void cli_begin(cli_parser *p, const char *cmd, const char *usage, const cli_option *opts, int argc,
               char **argv);
/* The id of the next option (its value in p->value), or CLI_END, CLI_SHOWN or CLI_ERROR. */
int cli_next(cli_parser *p);
/* The nearest of the NULL-terminated words to s by edit distance when it is close enough to be
 * a likely typo, else NULL. */
const char *cli_nearest(const char *s, const char *const *words);
/* Prints "mlpcl VERSION" on stdout, as every --version does; 0. */
int cli_version(void);

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
int cmd_devices(int argc, char **argv);
/* Only the argument parsing of train and predict (for the fuzzer): 0 valid, -1 help shown,
 * else the exit status of the usage error (already reported on stderr). */
int cmd_train_parse(int argc, char **argv);
int cmd_predict_parse(int argc, char **argv);

#endif
