// SPDX-License-Identifier: MIT
/* train.h: what the files of `mlpcl train` share: the parsed command line (train_args.c), the
 * data sets (train_data.c), the network (train_net.c), the report (train_report.c) and the
 * session that the two modes (cmd_train.c) and the save policy (train_save.c) work on. */
#ifndef MLPCL_TRAIN_H
#define MLPCL_TRAIN_H

#include <stdio.h>

#include "cli.h"
#include "train_schedule.h"

#define MAX_LAYERS 64

enum {
    EXIT_INTERRUPTED = 130,     /* stopped by SIGINT, SIGTERM, SIGHUP or a failed write of the
                                   output (128 + SIGINT, as shells give for Ctrl-C) */
    DEFAULT_EVERY_ITER = 10000, /* --checkpoint without --checkpoint-every, tutorial mode */
    DEFAULT_EVERY_EPOCH = 1,    /* and in epoch mode */
};

/* ---- The command line (train_args.c) ------------------------------------------------------ */

typedef struct train_cli {
    const char *device, *x_path, *y_path, *data, *test, *layers, *activation, *label_column;
    const char *log, *save, *resume, *checkpoint;
    long samples, max_iter, print_every, seed, lookahead, batch, epochs, targets;
    long every;        /* --checkpoint-every: iterations, epochs, or batches when every_batches */
    int every_batches; /* --checkpoint-every Nb */
    double lr, target, momentum, validation;
    int precision, loss, init, normalize; /* precision 0 float, 1 double; -1: not given */
    int lr_given, batch_given, epochs_given, init_given, loss_given, seed_given;
    int momentum_given;
    int force;            /* --force: resume even where the run that wrote the file differs */
    int epoch_mode;       /* --data, --batch or --epochs given */
    train_schedule sched; /* --lr-schedule and --warmup (train_schedule.h) */
    long early_stop;      /* --early-stop N: epochs without a better held-out loss; 0: off */
    double dropout;       /* --dropout P: hidden units dropped while training, in [0, 1) */
    int output;    /* --output: -1 not given, else sigmoid, tanh, linear, softmax (0 … 3) */
    int optimizer; /* --optimizer: mlpcl_optimizer */
    int nesterov;  /* --nesterov */
    double beta1, beta2, eps, weight_decay;
} train_cli;

/* Parses train's arguments into o: 0 valid, -1 help shown, else the exit status of the usage
 * error (already reported). */
int train_parse(int argc, char **argv, train_cli *o);

/* ---- The data (train_data.c) -------------------------------------------------------------- */

typedef struct train_data {
    mlpcl_dataset train, val, test;
    mlpcl_norm norm; /* the standardisation applied to all three, or empty */
} train_data;

/* Reads the training data and any held-out sets (--data, --test, --validation), or --x/--y, or
 * the tutorial's random data. 0, or the exit status of a failure (already reported). */
int train_load_data(const train_cli *o, train_data *d);
/* Standardises every set: with a norm fitted to the training set when fit, else with d->norm
 * (the resumed model's). 0, or an exit status. */
int train_standardize(train_data *d, int fit);
/* Refuses values that do not fit the run's precision (float: beyond ±FLT_MAX), naming where
 * they were read and suggesting --precision double. 0, or an exit status. */
int train_check_precision(const train_data *d, mlpcl_precision prec);
void train_data_free(train_data *d);

/* ---- The network (train_net.c) ------------------------------------------------------------ */

/* The network: checks --resume's (already in *net) against the data, else builds one from
 * --layers, --activation, --loss and --init. 0, or an exit status. */
int train_make_net(const train_cli *o, const train_data *d, mlpcl_net **net);

/* ---- Reporting (train_report.c) ----------------------------------------------------------- */

typedef struct report {
    FILE *log;
    const char *log_path;
    const char *fmt; /* "%.17g" or "%.9g" */
    int digits;      /* 17 or 9: the same, for messages */
    long print_every;
    int bar; /* draw progress on stderr (stderr is a terminal), never on stdout */
    long epoch, epochs;
    double last_draw;
    size_t rows, batch;  /* epoch mode: samples an epoch, rows a batch (for samples/s) */
    size_t first;        /* the batch the epoch's progress started at (> 0: resumed) */
    double epoch_t0;     /* when the epoch began here */
    int drawn;           /* a progress line is on stderr, to clear before other output */
    double t0;           /* tutorial mode: when training began, for iterations/s */
    long g0;             /* and the iteration it began at */
    double last_print;   /* when a cost line last went to stdout */
    long logged;         /* the last iteration logged, -1 before any */
    double built;        /* kernel build seconds already accounted for */
    double loading;      /* seconds spent reading the data */
    long base;           /* tutorial mode: iterations done before the trainer's current run */
    int runs;            /* trainer runs so far; each after the first reads again the cost its
                            predecessor ended with */
    double last_finite;  /* the last finite cost read, NaN before any */
    char compiling[128]; /* the device whose kernels are compiling ("" when none): its notice
                            shares the progress line */
} report;

/* An epoch's results, as printed and logged; NaN where there is no such set. */
typedef struct epoch_line {
    long epoch;            /* 1-based */
    size_t first, batches; /* batches [first, batches) ran in this process (first > 0: resumed) */
    double loss, val_loss, val_acc, test_loss, test_acc, seconds, samples_per_second;
    int val, test; /* whether there is such a set */
    double lr;     /* the step this epoch used */
    int show_lr;   /* print it too (a schedule changes it); the log always has it */
} epoch_line;

/* Writes a duration in a unit that suits it (µs, ms, s or min), e.g. "3.83 µs"; returns buf. */
const char *report_duration(double seconds, char buf[32]);
/* The tutorial mode's on_cost callback (user: the report): start, cost and resume lines on
 * stdout; on a terminal's stderr, while stdout lines are off or sparse, a progress line. */
void report_cost(void *user, long iter, double cost);
/* Epoch mode's on_batch callback (user: the report): the progress bar on a terminal's stderr. */
void report_progress(void *user, size_t done, size_t total, double cost);
/* The build notice (mlpcl_ctx_set_build_notice; user: the report), set when stderr is a
 * terminal: "compiling kernels for DEVICE…" on the progress line until the kernels have run. */
void report_build_notice(void *user, mlpcl_build_phase phase, const char *device, double seconds);
/* Clears the progress line from stderr, where one is drawn. */
void report_clear_bar(report *r);
/* Prints an epoch's line, and logs it. */
void report_epoch(report *r, const epoch_line *e);
/* The log's first record: {"settings": {...}}, the run's settings. */
void report_settings(report *r, const train_cli *o, const mlpcl_ctx *ctx, const mlpcl_net *net,
                     mlpcl_precision prec, size_t samples);
/* Tutorial mode, at the end: logs the final iteration's cost unless logged already. */
void report_final(report *r, long iteration, double cost);
/* Kernel build seconds spent since the last call (the first: since the trainer's creation). */
double report_new_builds(report *r, const mlpcl_trainer *tr);
/* The closing line: the device, precision and times: training without kernel builds (and per
 * iteration), setup without them, the builds, and the data's loading. */
void report_device(const mlpcl_ctx *ctx, mlpcl_precision prec, double train_seconds,
                   long iterations, double setup, double builds, double loading);

/* ---- A training session (cmd_train.c; saved by train_save.c) ------------------------------ */

typedef struct session {
    const train_cli *o;
    train_data d;
    mlpcl_ctx *ctx;
    mlpcl_net *net;
    mlpcl_trainer *tr;     /* NULL before training starts */
    mlpcl_model_info info; /* --resume's file */
    mlpcl_precision prec;
    report rep;
    long epochs_done, batch_pos, updates; /* where training stands, as a model file records it */
    mlpcl_run_record run;                 /* this run's settings, recorded in its model files */
    char *lock_path;                      /* CHECKPOINT.lock, held (lock_fd) for the run */
    int lock_fd;
    struct early_stop *early; /* --early-stop's watch (train_early_stop.c), or NULL */
} session;

/* ---- Resuming (train_resume.c) ------------------------------------------------------------ */

/* --resume's file is loaded: the settings not given on the command line (seed, --lr,
 * --momentum, --batch) become the file's. */
void resume_defaults(train_cli *o, const mlpcl_model_info *info);
/* The session's run record (s->run) once the data and device are known; with --resume, also
 * the precision (the file's unless given) and the check that this run continues the one that
 * wrote the file: 0, or the exit status of a refusal listing the differences (not with
 * --force). */
int resume_settle(session *s);

/* ---- The save policy (train_save.c) ------------------------------------------------------- */

/* Writes the trainer's weights and velocity (before training: --resume's) and where training
 * stands to path, atomically. 0, or an exit status. */
int save_model(session *s, const char *path);
/* At the end: saves to --save and to --checkpoint, the second even when the first fails. 0, or
 * the first failure's exit status. */
int save_final(session *s);
/* Before training: that --save and --checkpoint can be written (a temporary file is created
 * and removed beside each), and the lock on CHECKPOINT.lock, refused while another run holds
 * it. 0, or an exit status (reported). */
int save_check_paths(session *s);
/* Releases and removes the lock file, if held. */
void save_unlock(session *s);
/* After a stop signal or failed write: saves what training kept (described by `kept`) to
 * --checkpoint, else --save (or --save when the checkpoint fails), and says so; returns 130,
 * or the exit status of a failed save. */
int save_stopped(session *s, const char *kept);
/* After divergence: saves the weights kept to --save and --checkpoint; a phrase for the
 * message. */
const char *save_diverged(session *s);

#endif
