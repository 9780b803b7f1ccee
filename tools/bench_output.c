// SPDX-License-Identifier: MIT
/* bench_output.c: how `mlpcl bench` shows its results: a table (times, GFLOP/s, the kernels'
 * shares of the device time, the check), CSV, JSON (which tools/plot draws), and the change
 * against an earlier JSON (--compare). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define DP_PREFIX "data-parallel: " /* the profile entries of a data-parallel trainer (mlpcl.h) */

static void format_time(double s, char *buf, size_t size)
{
    if (s >= 1)
        snprintf(buf, size, "%.3g s", s);
    else if (s >= 1e-3)
        snprintf(buf, size, "%.3g ms", 1e3 * s);
    else
        snprintf(buf, size, "%.3g us", 1e6 * s);
}

/* The kernels' shares of the device time, largest first, as "gemm_gradient 52%, …". */
static void shares(const result *r, char *buf, size_t size)
{
    double total = 0;
    size_t used = 0, order[MLPCL_MAX_KERNELS];
    buf[0] = '\0';
    size_t nk = 0; /* the kernels; a data-parallel trainer's host split (last) apart */
    while (nk < r->n_kt && strncmp(r->kt[nk].kernel, DP_PREFIX, strlen(DP_PREFIX))) ++nk;
    for (size_t i = 0; i < nk; ++i) total += r->kt[i].seconds, order[i] = i;
    for (size_t i = 0; i < nk; ++i)
        for (size_t j = i + 1; j < nk; ++j)
            if (r->kt[order[j]].seconds > r->kt[order[i]].seconds) {
                size_t x = order[i];
                order[i] = order[j];
                order[j] = x;
            }
    for (size_t i = 0; i < nk && i < 4 && total > 0; ++i) {
        int n = snprintf(buf + used, size - used, "%s%s %.0f%%", i ? ", " : "",
                         r->kt[order[i]].kernel, 100 * r->kt[order[i]].seconds / total);
        if (n < 0 || (size_t)n >= size - used) break;
        used += (size_t)n;
    }
}

/* A data-parallel trainer's step split into the host's wait for the devices' gradients
 * (compute) and the all-reduce (communication, with any wait for a slower rank). */
static void dp_split(const result *r)
{
    double wait = 0, comm = 0;
    long steps = 0;
    for (size_t i = 0; i < r->n_kt; ++i)
        if (!strcmp(r->kt[i].kernel, DP_PREFIX "device wait"))
            wait = r->kt[i].seconds, steps = r->kt[i].launches;
        else if (!strcmp(r->kt[i].kernel, DP_PREFIX "all-reduce"))
            comm = r->kt[i].seconds;
    if (steps <= 0) return;
    char w[32], c[32];
    format_time(wait / (double)steps, w, sizeof w);
    format_time(comm / (double)steps, c, sizeof c);
    printf("    data-parallel, a step: compute (waiting for the devices) %s, all-reduce %s "
           "(%.0f%%)\n",
           w, c, wait + comm > 0 ? 100 * comm / (wait + comm) : 0.0);
}

void bench_print_table(const result *rs, size_t n)
{
    printf("\n%-12s %-8s %-34s %-26s %-11s %-9s %s\n", "workload", "device", "name",
           "time a run: median [min-max]", "an iter.", "GFLOP/s", "check");
    for (size_t i = 0; i < n; ++i) {
        const result *r = &rs[i];
        char med[24], lo[24], hi[24], it[24], span[80];
        format_time(r->median, med, sizeof med);
        format_time(r->min, lo, sizeof lo);
        format_time(r->max, hi, sizeof hi);
        format_time(r->per_iteration, it, sizeof it);
        snprintf(span, sizeof span, "%s [%s-%s]", med, lo, hi);
        printf("%-12s %-8s %-34.34s %-26s %-11s %-9.3g %s\n", r->workload, r->where, r->device,
               span, it, r->gflops,
               !r->checked ? "-"
               : r->ok     ? "ok"
                           : "MISMATCH");
    }
    printf("\n");
    for (size_t i = 0; i < n; ++i) {
        const result *r = &rs[i];
        char sh[200];
        shares(r, sh, sizeof sh);
        printf("%s on %s (%s, %s, %ld runs of %ld iterations): build %.3g s, first run +%.3g s",
               r->workload, r->where, r->kernels, r->precision, r->repeats, r->iterations, r->build,
               r->first_run);
        if (*r->isa) printf(", %s", r->isa);
        printf(", peak memory %.0f MiB%s", r->peak_mib, r->peak_whole ? " (the process's)" : "");
        if (!isnan(r->samples_per_second)) printf(", %.0f samples/s", r->samples_per_second);
        if (r->last_cost > 0) printf(", a run's last cost %.3g s (not in its time)", r->last_cost);
        printf("\n    kernels: %s\n", r->n_kt ? sh : "(no profile)");
        dp_split(r);
        if (r->checked) printf("    check: %s: %s\n", r->ok ? "ok" : "MISMATCH", r->check);
    }
}

/* What /proc/cpuinfo's first "flags" line says the CPU has, best first. */
static const char *cpuinfo_isa(void)
{
    static char line[8192];
    const char *isa = "";
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5)) {
            isa = strstr(line, " avx512f") ? "AVX-512"
                  : strstr(line, " avx2")  ? "AVX2"
                  : strstr(line, " sse")   ? "SSE"
                                           : "";
            break;
        }
    if (f) fclose(f);
    return isa;
}

void bench_isa(const mlpcl_device_info *d, char *buf, size_t size)
{
    snprintf(buf, size, "%s", !strcmp(d->type, "host") ? cpuinfo_isa() : d->isa);
}

int bench_write_csv(const char *path, const result *rs, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f) return failf(EXIT_USAGE, "%s: cannot create", path);
    fprintf(f, "workload,device,name,driver,precision,kernels,repeats,iterations,median_s,min_s,"
               "max_s,per_iteration_s,gflops,samples_per_second,build_s,first_run_s,check,"
               "peak_mib,isa\n");
    for (size_t i = 0; i < n; ++i) {
        const result *r = &rs[i];
        fprintf(f,
                "%s,%s,\"%s\",\"%s\",%s,\"%s\",%ld,%ld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%s,%"
                ".1f,%s\n",
                r->workload, r->where, r->device, r->driver, r->precision, r->kernels, r->repeats,
                r->iterations, r->median, r->min, r->max, r->per_iteration, r->gflops,
                r->samples_per_second, r->build, r->first_run,
                !r->checked ? ""
                : r->ok     ? "ok"
                            : "mismatch",
                r->peak_mib, r->isa);
    }
    return fclose(f) == 0 ? 0 : failf(EXIT_USAGE, "%s: write error", path);
}

static void add_number(cJSON *o, const char *key, double v)
{
    if (isnan(v) || isinf(v))
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, v);
}

int bench_write_json(const char *path, const bench_cli *o, const result *rs, size_t n,
                     const char *source, int argc, char **argv)
{
    cJSON *root = cJSON_CreateObject(), *res = cJSON_AddArrayToObject(root, "results");
    char cmd[1024] = "mlpcl", date[64];
    for (int i = 1; i < argc; ++i) {
        strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1);
        strncat(cmd, argv[i], sizeof cmd - strlen(cmd) - 1);
    }
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    struct utsname u;
    cJSON_AddStringToObject(root, "mlpcl_version", MLPCL_VERSION);
    cJSON_AddStringToObject(root, "command", cmd);
    cJSON_AddStringToObject(root, "date", date);
    if (uname(&u) == 0) {
        char m[400];
        snprintf(m, sizeof m, "%s %s %s, %ld CPUs", u.nodename, u.sysname, u.machine,
                 sysconf(_SC_NPROCESSORS_ONLN));
        cJSON_AddStringToObject(root, "machine", m);
    }
    cJSON_AddStringToObject(root, "data", source);
    cJSON_AddNumberToObject(root, "samples", (double)o->samples);
    cJSON_AddStringToObject(root, "gflops_formula", "6 * batch * sum(n_in * n_out) per iteration");
    for (size_t i = 0; i < n; ++i) {
        const result *r = &rs[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "workload", r->workload);
        cJSON_AddStringToObject(x, "device", r->where);
        cJSON_AddStringToObject(x, "name", r->device);
        cJSON_AddStringToObject(x, "driver", r->driver);
        cJSON_AddStringToObject(x, "precision", r->precision);
        cJSON_AddStringToObject(x, "kernels", r->kernels);
        cJSON_AddNumberToObject(x, "repeats", (double)r->repeats);
        cJSON_AddNumberToObject(x, "iterations", (double)r->iterations);
        add_number(x, "median_s", r->median);
        add_number(x, "min_s", r->min);
        add_number(x, "max_s", r->max);
        add_number(x, "per_iteration_s", r->per_iteration);
        add_number(x, "last_cost_s", r->last_cost > 0 ? r->last_cost : NAN);
        add_number(x, "gflops", r->gflops);
        add_number(x, "samples_per_second", r->samples_per_second);
        add_number(x, "build_s", r->build);
        add_number(x, "first_run_s", r->first_run);
        add_number(x, "peak_rss_mib", r->peak_mib);
        cJSON_AddStringToObject(x, "peak_rss_scope", r->peak_whole ? "process" : "workload");
        cJSON_AddStringToObject(x, "isa", r->isa);
        cJSON *k = cJSON_AddArrayToObject(x, "kernel_seconds");
        for (size_t j = 0; j < r->n_kt; ++j) {
            cJSON *kk = cJSON_CreateObject();
            cJSON_AddStringToObject(kk, "kernel", r->kt[j].kernel);
            cJSON_AddNumberToObject(kk, "seconds", r->kt[j].seconds);
            cJSON_AddNumberToObject(kk, "launches", (double)r->kt[j].launches);
            cJSON_AddItemToArray(k, kk);
        }
        if (r->checked) {
            cJSON_AddBoolToObject(x, "check_ok", r->ok);
            cJSON_AddStringToObject(x, "check", r->check);
        }
        cJSON_AddItemToArray(res, x);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    FILE *f = text ? fopen(path, "w") : NULL;
    int ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0) ok = 0;
    free(text);
    return ok ? 0 : failf(EXIT_USAGE, "%s: cannot write", path);
}

/* Prints, for each result also in the earlier JSON (same workload and device), the ratio of
 * the median times: below 1 is faster now. */
int bench_compare(const char *path, const result *rs, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return failf(EXIT_USAGE, "%s: cannot open", path);
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            char *g = realloc(text, cap = 2 * cap + 8192);
            if (!g) break;
            text = g;
        }
        size_t got = fread(text + len, 1, cap - len - 1, f);
        len += got;
        if (!got) break;
    }
    fclose(f);
    if (!text) return failf(EXIT_DEVICE, "out of host memory");
    text[len] = '\0';
    cJSON *root = cJSON_Parse(text), *res = cJSON_GetObjectItemCaseSensitive(root, "results");
    free(text);
    if (!cJSON_IsArray(res)) {
        cJSON_Delete(root);
        return failf(EXIT_USAGE, "%s: not a JSON file from mlpcl bench --json", path);
    }
    printf("\nagainst %s (time now / time then; below 1 is faster):\n", path);
    for (size_t i = 0; i < n; ++i) {
        const cJSON *x;
        cJSON_ArrayForEach(x, res)
        {
            const cJSON *w = cJSON_GetObjectItemCaseSensitive(x, "workload"),
                        *d = cJSON_GetObjectItemCaseSensitive(x, "device"),
                        *t = cJSON_GetObjectItemCaseSensitive(x, "median_s");
            /* a file from before last_cost_s timed its full-batch runs with their last cost */
            int then_whole =
                rs[i].last_cost > 0 && !cJSON_GetObjectItemCaseSensitive(x, "last_cost_s");
            if (cJSON_IsString(w) && cJSON_IsString(d) && cJSON_IsNumber(t) &&
                !strcmp(w->valuestring, rs[i].workload) && !strcmp(d->valuestring, rs[i].where))
                printf("  %-12s %-8s %.3g -> %.3g s: x%.3f%s\n", rs[i].workload, rs[i].where,
                       t->valuedouble, rs[i].median, rs[i].median / t->valuedouble,
                       then_whole ? " (then with each run's last cost, now without)" : "");
        }
    }
    cJSON_Delete(root);
    return 0;
}
