/* program.c: the kernel table, build options, the kernel sources (embedded at build time, or
 * read from $MLPCL_KERNEL_DIR while developing) and the build, with its log on failure. Each
 * context keeps the programs it built, keyed by their options, so each is built once. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define MAX_KERNEL_FILES 16

const char *const mlpcl__kernel_name[K_COUNT] = {
    [K_GATHER] = "gather",
    [K_FORWARD] = "forward",
    [K_SOFTMAX] = "softmax",
    [K_OUTPUT_DELTA] = "output_delta",
    [K_COST] = "cost",
    [K_HIDDEN_DELTA] = "hidden_delta",
    [K_GRADIENT] = "gradient",
    [K_UPDATE] = "update",
    [K_GEMM_FORWARD] = "gemm_forward",
    [K_GEMM_BACKWARD] = "gemm_backward",
    [K_GEMM_GRADIENT] = "gemm_gradient",
    [K_GEMM_FORWARD_N] = "gemm_forward_narrow",
    [K_GEMM_BACKWARD_N] = "gemm_backward_narrow",
    [K_GEMM_GRADIENT_N] = "gemm_gradient_narrow",
    [K_TRANSPOSE] = "transpose",
    [K_FUSED] = "fused",
    [K_GRADIENT_REDUCE] = "gradient_reduce",
};

/* Assembles the build options: precision, tunables, then $MLPCL_BUILD_OPTIONS. */
static void build_options(const mlpcl_build_params *bp, char *buf, size_t size)
{
    const char *extra = getenv("MLPCL_BUILD_OPTIONS");
    const mlpcl_tuning *t = &bp->tune;
    char tiles[128];
    if (t->local)
        snprintf(tiles, sizeof tiles, "-DGEMM_LOCAL=1 -DBM=%d -DBN=%d -DBK=%d -DWM=%d -DWN=%d",
                 t->bm, t->bn, t->bk, t->wm, t->wn);
    else
        snprintf(tiles, sizeof tiles, "-DTM=%d -DTNV=%d -DMC=%d", t->tm, t->tnv, t->mc);
    snprintf(buf, size, "-cl-std=CL1.2 -DREAL=%s%s -DWG=%zu %s%s%s",
             bp->precision == MLPCL_DOUBLE ? "double" : "float",
             bp->precision == MLPCL_DOUBLE ? " -DREAL_IS_DOUBLE=1" : "", bp->wg, tiles,
             extra ? " " : "", extra ? extra : "");
}

/* ---- Tunables ----------------------------------------------------------------------------- */

mlpcl_status mlpcl__tuning_parse(const char *s, const char *what, mlpcl_tuning *t)
{
    static const struct {
        const char *key;
        size_t at;
        int lo, hi;
    } keys[] = {
        {"tm", offsetof(mlpcl_tuning, tm), 1, 32},      {"tnv", offsetof(mlpcl_tuning, tnv), 1, 8},
        {"mc", offsetof(mlpcl_tuning, mc), 1, 4096},    {"ly", offsetof(mlpcl_tuning, ly), 1, 1024},
        {"gx", offsetof(mlpcl_tuning, gx), 1, 1024},    {"gy", offsetof(mlpcl_tuning, gy), 1, 1024},
        {"local", offsetof(mlpcl_tuning, local), 0, 1}, {"bm", offsetof(mlpcl_tuning, bm), 1, 256},
        {"bn", offsetof(mlpcl_tuning, bn), 1, 256},     {"bk", offsetof(mlpcl_tuning, bk), 1, 64},
        {"wm", offsetof(mlpcl_tuning, wm), 1, 16},      {"wn", offsetof(mlpcl_tuning, wn), 1, 16},
    };
    while (*s) {
        size_t len = strcspn(s, ",");
        const char *eq = memchr(s, '=', len);
        size_t klen = eq ? (size_t)(eq - s) : len;
        int found = 0;
        if (eq && klen == 4 && !strncmp(s, "path", 4)) {
            size_t vlen = len - klen - 1;
            if (vlen == 4 && !strncmp(eq + 1, "auto", 4))
                t->path = MLPCL_PATH_AUTO, found = 1;
            else if (vlen == 5 && !strncmp(eq + 1, "tiled", 5))
                t->path = MLPCL_PATH_TILED, found = 1;
            else if (vlen == 6 && !strncmp(eq + 1, "simple", 6))
                t->path = MLPCL_PATH_SIMPLE, found = 1;
            else if (vlen == 5 && !strncmp(eq + 1, "fused", 5))
                t->path = MLPCL_PATH_FUSED, found = 1;
        }
        for (size_t i = 0; eq && !found && i < sizeof keys / sizeof *keys; ++i) {
            if (strlen(keys[i].key) != klen || strncmp(s, keys[i].key, klen)) continue;
            char *end;
            long v = strtol(eq + 1, &end, 10);
            if (end != s + len || v < keys[i].lo || v > keys[i].hi) break;
            *(int *)((char *)t + keys[i].at) = (int)v;
            found = 1;
        }
        if (!found)
            return mlpcl__fail(
                MLPCL_ERR_ARG,
                "%s: '%.*s' is not a tuning setting (path=auto|tiled|simple|fused, tm=1…32, "
                "tnv=1…8, mc=1…4096, ly, gx, gy=1…1024, local=0|1, bm, bn=1…256, bk=1…64, "
                "wm, wn=1…16, separated by commas)",
                what, (int)len, s);
        s += len + (s[len] == ',');
    }
    if (t->local && (t->bm % t->wm || t->bn % t->wn))
        return mlpcl__fail(MLPCL_ERR_ARG, "%s: bm must be a multiple of wm, and bn of wn", what);
    return MLPCL_OK;
}

void mlpcl__tuning_format(const mlpcl_tuning *t, char *buf, size_t size)
{
    static const char *const paths[] = {"auto", "tiled", "simple", "fused"};
    if (t->local)
        snprintf(buf, size, "path=%s,local=1,bm=%d,bn=%d,bk=%d,wm=%d,wn=%d", paths[t->path], t->bm,
                 t->bn, t->bk, t->wm, t->wn);
    else
        snprintf(buf, size, "path=%s,tm=%d,tnv=%d,mc=%d,ly=%d,gx=%d,gy=%d", paths[t->path], t->tm,
                 t->tnv, t->mc, t->ly, t->gx, t->gy);
}

void mlpcl_tuning_cache_path(char *buf, size_t size)
{
    const char *env = getenv("MLPCL_TUNE_CACHE"), *xdg = getenv("XDG_CACHE_HOME");
    if (env && *env)
        snprintf(buf, size, "%s", env);
    else if (xdg && *xdg)
        snprintf(buf, size, "%s/mlpcl/tuning", xdg);
    else
        snprintf(buf, size, "%s/.cache/mlpcl/tuning", getenv("HOME") ? getenv("HOME") : ".");
}

/* The cache's key for a device: name, driver and precision, tab-separated. */
static void cache_key(const mlpcl_ctx *ctx, mlpcl_precision p, char *buf, size_t size)
{
    snprintf(buf, size, "%s\t%s\t%s\t", ctx->info.name, ctx->info.driver,
             p == MLPCL_DOUBLE ? "double" : "float");
}

/* The cached tunables for this device, if any, into buf. */
static int cache_lookup(const mlpcl_ctx *ctx, mlpcl_precision p, char *buf, size_t size)
{
    char path[4096], key[900], line[1200];
    mlpcl_tuning_cache_path(path, sizeof path);
    cache_key(ctx, p, key, sizeof key);
    FILE *f = fopen(path, "r");
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key))) {
            snprintf(buf, size, "%s", line + strlen(key));
            buf[strcspn(buf, "\r\n")] = '\0';
            found = 1;
        }
    if (f) fclose(f);
    return found;
}

mlpcl_status mlpcl_tuning_save(const mlpcl_ctx *ctx, mlpcl_precision p, const char *tuning)
{
    char path[4096], tmp[4200], key[900], line[1200];
    mlpcl_tuning t = {0};
    mlpcl_status st = mlpcl__tuning_parse(tuning, "tuning", &t);
    if (st != MLPCL_OK) return st;
    mlpcl_tuning_cache_path(path, sizeof path);
    cache_key(ctx, p, key, sizeof key);
    /* the folders, then a new file with every other device's line and this one's */
    for (char *s = path + 1; *s; ++s)
        if (*s == '/') {
            *s = '\0';
            mkdir(path, 0755);
            *s = '/';
        }
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *in = fopen(path, "r"), *out = fopen(tmp, "w");
    if (!out) {
        if (in) fclose(in);
        return mlpcl__fail(MLPCL_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    while (in && fgets(line, sizeof line, in))
        if (strncmp(line, key, strlen(key))) fputs(line, out);
    if (in) fclose(in);
    fprintf(out, "%s%s\n", key, tuning);
    int bad = ferror(out);
    if (fclose(out) != 0 || bad || rename(tmp, path) != 0) {
        remove(tmp);
        return mlpcl__fail(MLPCL_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    return MLPCL_OK;
}

mlpcl_status mlpcl_ctx_set_tuning(mlpcl_ctx *ctx, const char *tuning)
{
    mlpcl_tuning t = {0};
    if (tuning) {
        mlpcl_status st = mlpcl__tuning_parse(tuning, "tuning", &t);
        if (st != MLPCL_OK) return st;
    }
    char *copy = tuning ? strdup(tuning) : NULL;
    if (tuning && !copy) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory");
    free(ctx->tuning);
    ctx->tuning = copy;
    return MLPCL_OK;
}

mlpcl_status mlpcl__tuning_for(const mlpcl_ctx *ctx, mlpcl_precision p, mlpcl_tuning *t)
{
    /* CPUs: tiles of 12 rows × 2 vectors keep 24 accumulators in AVX-512's 32 registers (and
     * spill little with AVX2's 16); measured best on POCL among 4…14 × 1…4. */
    *t = (mlpcl_tuning){MLPCL_PATH_AUTO, 12, 2, 64, 8, 8, 8, 0, 64, 64, 16, 4, 4};
    /* GPUs: 64 × 64 tiles staged in local memory, 16 deep, 4 × 4 a work-item (256 a group). */
    if (!strcmp(ctx->info.type, "gpu")) t->local = 1;
    char cached[1024], path[4096];
    mlpcl_status st = MLPCL_OK;
    if (cache_lookup(ctx, p, cached, sizeof cached)) {
        mlpcl_path path_before = t->path; /* the cache holds tunables, not the kernels' choice */
        mlpcl_tuning_cache_path(path, sizeof path);
        if ((st = mlpcl__tuning_parse(cached, path, t)) != MLPCL_OK) return st;
        t->path = path_before;
    }
    if (ctx->tuning && (st = mlpcl__tuning_parse(ctx->tuning, "tuning", t)) != MLPCL_OK) return st;
    const char *env = getenv("MLPCL_TUNE");
    return env && *env ? mlpcl__tuning_parse(env, "MLPCL_TUNE", t) : MLPCL_OK;
}

static void free_texts(char **texts, size_t n)
{
    for (size_t i = 0; texts && i < n; ++i) free(texts[i]);
    free(texts);
}

/* Reads every kernel file from dir, in the embedded order. */
static mlpcl_status read_kernel_dir(const char *dir, char ***out)
{
    mlpcl_status st = MLPCL_OK;
    char **texts = calloc(mlpcl__kernel_file_count, sizeof *texts);
    if (!texts) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for kernel sources");
    for (size_t i = 0; i < mlpcl__kernel_file_count && st == MLPCL_OK; ++i) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, mlpcl__kernel_files[i]);
        FILE *f = fopen(path, "rb");
        if (!f) {
            st = mlpcl__fail(MLPCL_ERR_IO, "%s: cannot open (MLPCL_KERNEL_DIR=%s)", path, dir);
            break;
        }
        long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
        if (len < 0 || fseek(f, 0, SEEK_SET) != 0 || !(texts[i] = malloc((size_t)len + 1)) ||
            fread(texts[i], 1, (size_t)len, f) != (size_t)len)
            st = mlpcl__fail(MLPCL_ERR_IO, "%s: cannot read", path);
        else
            texts[i][len] = '\0';
        fclose(f);
    }
    if (st != MLPCL_OK) {
        free_texts(texts, mlpcl__kernel_file_count);
        return st;
    }
    *out = texts;
    return MLPCL_OK;
}

mlpcl_status mlpcl__program_get(mlpcl_ctx *ctx, const mlpcl_build_params *bp, mlpcl_program **out)
{
    mlpcl_status st = MLPCL_OK;
    char options[512];
    char **dir_texts = NULL;
    const char *dn = ctx->info.name;
    if (mlpcl__kernel_file_count > MAX_KERNEL_FILES)
        return mlpcl__fail(MLPCL_ERR_ARG, "more kernel files than MAX_KERNEL_FILES");
    if (bp->precision == MLPCL_DOUBLE && !ctx->info.fp64)
        return mlpcl__fail(MLPCL_ERR_NO_FP64,
                           "device \"%s\" has no double precision (cl_khr_fp64); "
                           "use --precision float, or --device host",
                           dn);
    build_options(bp, options, sizeof options);
    for (mlpcl_program *p = ctx->programs; p; p = p->next)
        if (!strcmp(p->options, options)) {
            *out = p;
            return MLPCL_OK;
        }
    mlpcl_program *p = calloc(1, sizeof *p);
    if (!p) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a program");
    snprintf(p->options, sizeof p->options, "%s", options);
    const char *dir = getenv("MLPCL_KERNEL_DIR");
    if (dir && *dir) TRY(read_kernel_dir(dir, &dir_texts));
    const char *const *texts = dir_texts ? (const char *const *)dir_texts : mlpcl__kernel_texts;
    /* Each file behind a #line directive, so that build logs name the file and its line. */
    const char *parts[2 * MAX_KERNEL_FILES];
    char lines[MAX_KERNEL_FILES][80];
    for (size_t i = 0; i < mlpcl__kernel_file_count; ++i) {
        snprintf(lines[i], sizeof lines[i], "#line 1 \"%s\"\n", mlpcl__kernel_files[i]);
        parts[2 * i] = lines[i];
        parts[2 * i + 1] = texts[i];
    }
    cl_int err;
    p->program = clCreateProgramWithSource(ctx->context, (cl_uint)(2 * mlpcl__kernel_file_count),
                                           parts, NULL, &err);
    CL_CHECK(err, "clCreateProgramWithSource", dn);
    double t0 = mlpcl__now();
    err = clBuildProgram(p->program, 1, &ctx->device, options, NULL, NULL);
    p->build_seconds = mlpcl__now() - t0;
    p->fresh = 1;
    if (err != CL_SUCCESS) {
        st = mlpcl__cl_fail(err, "clBuildProgram", dn, __FILE__, __LINE__);
        mlpcl__append("\nbuild options: %s\nkernel sources: %s\nbuild log:\n", options,
                      dir_texts ? dir : "embedded");
        size_t len = 0;
        if (clGetProgramBuildInfo(p->program, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) ==
                CL_SUCCESS &&
            len > 0) {
            char *log = malloc(len + 1);
            if (log && clGetProgramBuildInfo(p->program, ctx->device, CL_PROGRAM_BUILD_LOG, len,
                                             log, NULL) == CL_SUCCESS) {
                log[len] = '\0';
                mlpcl__append("%s", log);
            }
            free(log);
        }
        goto fail;
    }
    free_texts(dir_texts, mlpcl__kernel_file_count);
    p->next = ctx->programs;
    ctx->programs = p;
    *out = p;
    return MLPCL_OK;
fail:
    free_texts(dir_texts, mlpcl__kernel_file_count);
    if (p->program) clReleaseProgram(p->program);
    free(p);
    return st;
}

void mlpcl__programs_free(mlpcl_ctx *ctx)
{
    while (ctx->programs) {
        mlpcl_program *next = ctx->programs->next;
        clReleaseProgram(ctx->programs->program);
        free(ctx->programs);
        ctx->programs = next;
    }
}
