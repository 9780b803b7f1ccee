// SPDX-License-Identifier: MIT
/* bench.h: what the files of `mlpcl bench` share: the parsed command line (cmd_bench.c), one
 * result per device and workload, the workloads that fill them (bench_workloads.c) and the
 * output formats that show them (bench_output.c). */
#ifndef MLPCL_BENCH_H
#define MLPCL_BENCH_H

#include "cli.h"

#define FASHION        "/usr/share/datasets/fashion-mnist"
#define MAX_RUNS       64
#define CHECK_ROWS     512 /* samples of the correctness check of the large workloads */
#define WARMUP_BATCHES 8   /* the epoch workload's warm-up, which compiles the kernels */

typedef struct bench_cli {
    const char *devices, *workloads, *data, *csv, *json, *compare;
    long repeat, iterations, samples;
    int precision;
} bench_cli;

/* One (device, workload) result. */
typedef struct result {
    char workload[32], device[300], where[32], driver[600], kernels[200];
    const char *precision;
    long repeats, iterations;  /* timed runs; iterations (updates) a run */
    double median, min, max;   /* seconds a run */
    double per_iteration;      /* seconds */
    double gflops;             /* NaN when not meaningful */
    double samples_per_second; /* epochs; else NaN */
    double build, first_run;   /* seconds */
    double last_cost;          /* full-batch: a run of no update (its one cost), left out of the
                                  runs' times, median seconds; else 0 */
    double peak_mib;           /* the process's peak resident memory during the workload */
    int peak_whole;            /* 1: since the process began (the peak could not be reset) */
    char isa[48];              /* the CPU's vector instructions (CPU devices and the host) */
    mlpcl_kernel_time kt[MLPCL_MAX_KERNELS];
    size_t n_kt;
    int checked, ok;
    char check[200];
} result;

/* ---- The workloads (bench_workloads.c) ---------------------------------------------------- */

/* The large workloads' samples: Fashion-MNIST's, or random data of that shape. */
typedef struct big_data {
    mlpcl_dataset d;
    const char *source;
} big_data;

/* Where a device's workloads run: its context, the host reference's, the precision. */
typedef struct bench_env {
    const bench_cli *o;
    mlpcl_ctx *ctx, *host;
    mlpcl_precision prec;
    big_data *big;
} bench_env;

/* Fashion-MNIST's first --samples training samples, or random data of that shape. 0, or an exit
 * status (already reported). */
int bench_load_big(const bench_cli *o, big_data *b);
/* Each runs one workload on e's device, filling r (times, throughput, kernel shares, check).
 * 0, or an exit status. */
int bench_run_tutorial(bench_env *e, result *r);
int bench_run_full_batch(bench_env *e, size_t hidden, result *r);
int bench_run_epoch(bench_env *e, result *r);

/* The vector instructions a device's kernels use: a CPU device's isa (mlpcl_device_info), the
 * host's from /proc/cpuinfo ("AVX-512", "AVX2", "SSE"), "" for other devices. */
void bench_isa(const mlpcl_device_info *d, char *buf, size_t size);

/* ---- Output (bench_output.c) -------------------------------------------------------------- */

/* The results as a table on standard output. */
void bench_print_table(const result *rs, size_t n);
/* The results as CSV, or as JSON with the run's settings; 0, or an exit status. */
int bench_write_csv(const char *path, const result *rs, size_t n);
int bench_write_json(const char *path, const bench_cli *o, const result *rs, size_t n,
                     const char *source, int argc, char **argv);
/* The change of each result against an earlier --json file; 0, or an exit status. */
int bench_compare(const char *path, const result *rs, size_t n);

#endif
