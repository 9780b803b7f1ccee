// SPDX-License-Identifier: MIT
/* cmd_bench.c: `mlpcl bench` runs the same workloads on each chosen device and on the host
 * reference, after a warm-up, several times: the tutorial's network to convergence, full-batch
 * steps of 784-256-10 and 784-1024-10 on 60,000 samples, and a mini-batch epoch. Per device and
 * workload it reports the time (median and spread), GFLOP/s, each kernel's share of the device
 * time (profiling events), the build and first-run times, and whether the device's results
 * match the host reference; as a table, CSV and JSON, and against an earlier JSON. This file
 * holds the command line and the loop over devices and workloads (bench_workloads.c runs them,
 * bench_output.c shows them). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "train_mpi.h"

static const char usage[] =
    "Usage: mlpcl bench [OPTIONS]\n"
    "\n"
    "Runs the same workloads on each chosen device and on the host reference trainer, after a\n"
    "warm-up run, --repeat times each, and reports per device and workload: the time (median\n"
    "and min–max), GFLOP/s counted as 6 · batch · Σ n_in·n_out per iteration (a forward and two\n"
    "backward products a layer), each kernel's share of the device time (from OpenCL profiling\n"
    "events), the program's build time and the first run's extra time (kernels compiled at\n"
    "first launch), the kernels' tunables and where they came from, the CPU's vector\n"
    "instructions (AVX-512, AVX2, SSE), the process's peak resident memory during the\n"
    "workload, and a check of the device's results against the host reference.\n"
    "\n"
    "workloads:\n"
    "  tutorial      the tutorial's 2-3-2 network to convergence (the cost read every\n"
    "                    iteration): time to converge and microseconds an iteration\n"
    "  784-256-10    full-batch steps on 60,000 samples (Fashion-MNIST's training set when\n"
    "  784-1024-10   installed, else random data of the same shape): time an iteration, an\n"
    "                    update with its cost (a run of N updates, less a run of none: the\n"
    "                    run's last cost, after its last update, is not counted)\n"
    "  epoch         one epoch of 784-256-10 in mini-batches of 64: time and samples/s\n"
    "The host reference runs each large workload once, for one iteration (it is slow), timed\n"
    "whole, with its last cost.\n"
    "\n"
    "options:\n"
    "  -d, --device LIST       comma-separated selectors (see `mlpcl help`), or all (every OpenCL\n"
    "                          device and the host); default: the default device and the host\n"
    "  -w, --workloads LIST    comma-separated, from the list above (default: all)\n"
    "      --repeat N          timed runs of each (default 3)\n"
    "      --iterations N      iterations a timed run of the full-batch workloads (default 3)\n"
    "      --samples N         samples of the large workloads (default 60000)\n"
    "  -p, --precision P       float (default) or double\n"
    "      --data DIR          where Fashion-MNIST is (default " FASHION ")\n"
    "      --csv FILE          also write the results as CSV\n"
    "      --json FILE         also write them as JSON (tools/plot draws it)\n"
    "      --compare FILE      print the change against an earlier --json\n"
    "  -h, --help              print this text and exit\n"
    "  -V, --version           print the version and exit\n";

static const char *const all_workloads[] = {"tutorial", "784-256-10", "784-1024-10", "epoch", NULL};

static int parse(int argc, char **argv, bench_cli *o)
{
    static const char *const precisions[] = {"float", "double", NULL};
    enum {
        O_DEVICE,
        O_WORKLOADS,
        O_DATA,
        O_CSV,
        O_JSON,
        O_COMPARE,
        O_REPEAT,
        O_ITERATIONS,
        O_SAMPLES,
        O_PRECISION
    };
    static const cli_option options[] = {
        {"device", 'd', 1, O_DEVICE},
        {"workloads", 'w', 1, O_WORKLOADS},
        {"repeat", 0, 1, O_REPEAT},
        {"iterations", 0, 1, O_ITERATIONS},
        {"samples", 0, 1, O_SAMPLES},
        {"precision", 'p', 1, O_PRECISION},
        {"data", 0, 1, O_DATA},
        {"csv", 0, 1, O_CSV},
        {"json", 0, 1, O_JSON},
        {"compare", 0, 1, O_COMPARE},
        {NULL, 0, 0, 0},
    };
    *o = (bench_cli){.repeat = 3, .iterations = 3, .samples = 60000, .data = FASHION};
    cli_parser cp;
    cli_begin(&cp, "bench", usage, options, argc, argv);
    const args *a = &cp.a;
    for (int id; (id = cli_next(&cp)) != CLI_END;) {
        const char *v = cp.value;
        int rc = 0;
        switch (id) {
        case CLI_SHOWN:
            return -1;
        case CLI_ERROR:
            return EXIT_USAGE;
        case O_DEVICE:
            o->devices = v;
            break;
        case O_WORKLOADS:
            o->workloads = v;
            break;
        case O_DATA:
            o->data = v;
            break;
        case O_CSV:
            o->csv = v;
            break;
        case O_JSON:
            o->json = v;
            break;
        case O_COMPARE:
            o->compare = v;
            break;
        case O_REPEAT:
            rc = parse_long(a, "--repeat", v, 1, MAX_RUNS, &o->repeat);
            break;
        case O_ITERATIONS:
            rc = parse_long(a, "--iterations", v, 1, 100000, &o->iterations);
            break;
        case O_SAMPLES:
            rc = parse_long(a, "--samples", v, 64, 10000000, &o->samples);
            break;
        case O_PRECISION:
            rc = parse_word(a, "--precision", v, precisions, &o->precision);
            break;
        }
        if (rc) return EXIT_USAGE;
    }
    for (const char *p = o->workloads; p && *p;) {
        size_t len = strcspn(p, ","), ok = 0;
        for (int i = 0; all_workloads[i]; ++i)
            ok |= strlen(all_workloads[i]) == len && !strncmp(p, all_workloads[i], len);
        if (!ok)
            return failf(EXIT_USAGE,
                         "bench: unknown workload '%.*s' (tutorial, 784-256-10, "
                         "784-1024-10, epoch)",
                         (int)len, p);
        p += len + (p[len] == ',');
    }
    return 0;
}

static int wanted(const bench_cli *o, const char *w)
{
    if (!o->workloads) return 1;
    for (const char *p = o->workloads; *p;) {
        size_t len = strcspn(p, ",");
        if (strlen(w) == len && !strncmp(p, w, len)) return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

/* ---- The command -------------------------------------------------------------------------- */

/* The selectors to run: the list given, "all" (every OpenCL device and the host), or the
 * default device and the host. */
static int selectors(const bench_cli *o, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char **list = NULL;
    size_t count = 0;
    if (o->devices && !strcmp(o->devices, "all")) {
        mlpcl_device_info *d;
        size_t nd;
        int st = mlpcl_devices(&d, &nd);
        if (st != MLPCL_OK) return lib_fail(st);
        list = calloc(nd, sizeof *list);
        for (size_t i = 0; list && i < nd; ++i) {
            char s[32];
            if (d[i].platform < 0)
                snprintf(s, sizeof s, "host");
            else
                snprintf(s, sizeof s, "%d:%d", d[i].platform, d[i].device);
            list[count++] = strdup(s);
        }
        free(d);
    } else {
        const char *src = o->devices ? o->devices : ",host";
        list = calloc(strlen(src) + 2, sizeof *list);
        for (const char *p = src; list;) {
            size_t len = strcspn(p, ",");
            list[count++] = strndup(p, len);
            if (!p[len]) break;
            p += len + 1;
        }
    }
    if (!list) return failf(EXIT_DEVICE, "out of host memory");
    *out = list;
    *n = count;
    return 0;
}

/* Starts a workload's peak-memory window: Linux resets the high-water mark of resident memory
 * (VmHWM) when "5" is written to /proc/self/clear_refs. Returns 0 where it cannot. */
static int peak_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return 0;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

/* The peak resident memory in MiB: VmHWM since the last reset, or (no /proc) getrusage's
 * ru_maxrss over the process's life. */
static double peak_mib(void)
{
    char line[256];
    double kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kib = strtod(line + 6, NULL);
    if (f) fclose(f);
    if (kib < 0) {
        struct rusage u;
        kib = getrusage(RUSAGE_SELF, &u) == 0 ? (double)u.ru_maxrss : 0;
    }
    return kib / 1024;
}

int cmd_bench(int argc, char **argv)
{
    bench_cli o;
    int rc = parse(argc, argv, &o), st;
    if (rc) return rc < 0 ? 0 : rc;
    char **sel = NULL;
    size_t n_sel = 0, n_res = 0;
    result *rs = NULL;
    big_data big = {0};
    mlpcl_ctx *host = NULL, **ctxs = NULL;
    if ((rc = selectors(&o, &sel, &n_sel))) goto done;
    if (train_mpi_size() > 1) { /* every trainer spans the ranks; the reference cannot */
        size_t kept = 0;
        for (size_t i = 0; i < n_sel; ++i)
            if (strcmp(sel[i], "host"))
                sel[kept++] = sel[i];
            else
                free(sel[i]);
        n_sel = kept;
        fprintf(stderr,
                "bench: %d MPI ranks: data-parallel, without the host reference and its "
                "checks\n",
                train_mpi_size());
    }
    if ((st = mlpcl_ctx_create("host", 0, &host)) != MLPCL_OK) {
        rc = lib_fail(st);
        goto done;
    }
    rs = calloc(n_sel * 4, sizeof *rs);
    ctxs = calloc(n_sel, sizeof *ctxs);
    if (!rs || !ctxs) {
        rc = failf(EXIT_DEVICE, "out of host memory");
        goto done;
    }
    /* The devices before the data: on POCL their compilers warm up while it loads. */
    for (size_t s = 0; s < n_sel; ++s) {
        if (!strcmp(sel[s], "host")) {
            ctxs[s] = host;
        } else if ((st = mlpcl_ctx_create(*sel[s] ? sel[s] : NULL, MLPCL_CTX_PROFILE, &ctxs[s])) !=
                   MLPCL_OK) {
            rc = lib_fail(st);
            goto done;
        }
    }
    int need_big = wanted(&o, "784-256-10") || wanted(&o, "784-1024-10") || wanted(&o, "epoch");
    if (need_big && (rc = bench_load_big(&o, &big))) goto done;
    if (need_big) printf("large workloads: %zu samples of %s\n", big.d.n, big.source);
    for (size_t s = 0; s < n_sel && !rc; ++s) {
        mlpcl_ctx *ctx = ctxs[s];
        int is_host = ctx == host;
        const mlpcl_device_info *dev = mlpcl_ctx_device(ctx);
        bench_env e = {&o, ctx, train_mpi_size() > 1 ? NULL : host,
                       o.precision == 1 ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT, &big};
        if (is_host) e.prec = MLPCL_PRECISION_DOUBLE;
        for (int w = 0; all_workloads[w] && !rc; ++w) {
            if (!wanted(&o, all_workloads[w])) continue;
            result *r = &rs[n_res];
            memset(r, 0, sizeof *r);
            snprintf(r->workload, sizeof r->workload, "%s", all_workloads[w]);
            snprintf(r->device, sizeof r->device, "%s", dev->name);
            snprintf(r->driver, sizeof r->driver, "%s; %s", dev->platform_name, dev->driver);
            if (is_host)
                snprintf(r->where, sizeof r->where, "host");
            else
                snprintf(r->where, sizeof r->where, "%d:%d", dev->platform, dev->device);
            r->precision = e.prec == MLPCL_PRECISION_DOUBLE ? "double" : "float";
            bench_isa(dev, r->isa, sizeof r->isa);
            fprintf(stderr, "bench: %s on %s (%s)…\n", r->workload, r->where, dev->name);
            r->peak_whole = !peak_reset();
            if (w == 0)
                rc = bench_run_tutorial(&e, r);
            else if (w == 3)
                rc = bench_run_epoch(&e, r);
            else
                rc = bench_run_full_batch(&e, w == 1 ? 256 : 1024, r);
            r->peak_mib = peak_mib();
            if (!rc) ++n_res;
        }
    }
    if (n_res) bench_print_table(rs, n_res);
    if (!rc && o.csv) rc = bench_write_csv(o.csv, rs, n_res);
    if (!rc && o.json)
        rc = bench_write_json(o.json, &o, rs, n_res, need_big ? big.source : "none", argc, argv);
    if (!rc && o.compare) rc = bench_compare(o.compare, rs, n_res);
    for (size_t i = 0; !rc && i < n_res; ++i)
        if (rs[i].checked && !rs[i].ok)
            rc = failf(EXIT_DEVICE, "bench: %s on %s does not match the host reference: %s",
                       rs[i].workload, rs[i].where, rs[i].check);
done:
    for (size_t i = 0; ctxs && i < n_sel; ++i)
        if (ctxs[i] != host) mlpcl_ctx_free(ctxs[i]);
    free(ctxs);
    for (size_t i = 0; i < n_sel; ++i) free(sel[i]);
    free(sel);
    free(rs);
    mlpcl_ctx_free(host);
    mlpcl_dataset_free(&big.d);
    return rc;
}
