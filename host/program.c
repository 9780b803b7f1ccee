// SPDX-License-Identifier: MIT
/* program.c: the kernel table, build options, the kernel sources (embedded at build time, or
 * read from $MLPCL_KERNEL_DIR while developing) and the build, with its log on failure. Each
 * context keeps the programs it built, keyed by their options, so each is built once. The
 * tunables in the options come from tuning.c's table. A context's build notice (the caller's
 * "compiling…" line) is told here when a build starts, and when the first launches are done. */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_KERNEL_FILES 16
#define GEMM_CPU_FILE    "gemm_cpu.cl" /* the tiled products with register tiles */
#define GEMM_GPU_FILE    "gemm_gpu.cl" /* with local-memory tiles */

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
    [K_GEMM_FORWARD_P] = "gemm_forward_panels",
    [K_GEMM_GRADIENT_S] = "gemm_gradient_strips",
    [K_GEMM_GRADIENT_NS] = "gemm_gradient_narrow_strips",
    [K_FUSED] = "fused",
    [K_GRADIENT_REDUCE] = "gradient_reduce",
    [K_DROPOUT_FORWARD] = "dropout_forward",
    [K_DROPOUT_BACKWARD] = "dropout_backward",
    [K_OPTIM] = "optim",
    [K_PACK_WEIGHTS] = "pack_weights",
    [K_OUTPUT_LAYER] = "output_layer",
    [K_OUTPUT_BACKWARD] = "output_backward_rows",
    [K_OUTPUT_BACKWARD_S] = "output_backward_strips",
};

/* Assembles the build options: the precision, the reductions' work-group size, the tiled
 * kernels' tunables (tuning.c), then $MLPCL_BUILD_OPTIONS. Batches no longer than one block of
 * the CPU gradient (MC samples) get -DONE_BLOCK=1, which compiles its work-items one tile each,
 * not walking several through the blocks, and without the prefetch of D: a batch's D, just
 * written, is in cache. CPUs get -DFUSED_ONE_ITEM=1: fused.cl as one work-item, no barriers. */
static void build_options(const mlpcl_ctx *ctx, const mlpcl_build_params *bp, char *buf,
                          size_t size)
{
    const char *extra = getenv("MLPCL_BUILD_OPTIONS");
    char tiles[256];
    mlpcl__tuning_options(&bp->tune, tiles, sizeof tiles);
    int one_block = mlpcl__tuning_one_block(&bp->tune, bp->batch);
    /* x86 CPUs with SSE or AVX only have no FMA unit: gemm_epilogue.cl's MULADD */
    const char *isa = ctx->info.isa;
    int no_fma = !strcmp(isa, "SSE") || !strcmp(isa, "AVX");
    /* CPUs with vectors narrower than gemm_cpu.cl's 64 bytes: -w, since clang warns of every
     * 64-byte vector passed between the kernels' functions ("changes the ABI", -Wpsabi, 22-24
     * lines a build on stderr), which are all inlined; POCL takes no -Wno-psabi. */
    int narrower = mlpcl__registers_a_vector(ctx) > 1;
    /* x86 CPUs named by POCL (an isa of the instructions' name, not of bits): clang's
     * __builtin_prefetch, for gemm_cpu.cl's PREFETCH (OpenCL's prefetch() does nothing there,
     * and Oclgrind, another CPU device, has no such builtin) */
    int x86 = no_fma || !strcmp(isa, "AVX2") || !strcmp(isa, "AVX-512");
    snprintf(buf, size, "-cl-std=CL1.2 -DPRECISION=%d -DWG=%zu %s%s%s%s%s%s%s%s",
             bp->precision == MLPCL_PRECISION_DOUBLE ? 64 : 32, bp->wg, tiles,
             one_block ? " -DONE_BLOCK=1" : "", no_fma ? " -DNO_FMA=1" : "",
             x86 ? " -DCPU_PREFETCH=1" : "",
             mlpcl__fused_one_item(ctx) ? " -DFUSED_ONE_ITEM=1" : "", narrower ? " -w" : "",
             extra ? " " : "", extra ? extra : "");
}

/* Whether a kernel file goes into the program: all but the tiled variant the device does not
 * use (the two define the same kernels). */
static int file_used(const char *name, const mlpcl_build_params *bp)
{
    if (!strcmp(name, GEMM_CPU_FILE)) return !bp->tune.local;
    if (!strcmp(name, GEMM_GPU_FILE)) return bp->tune.local;
    return 1;
}

int mlpcl__program_has(const mlpcl_build_params *bp, mlpcl_kernel_id id)
{
    if (bp->tune.local &&
        (id == K_OUTPUT_LAYER || id == K_OUTPUT_BACKWARD || id == K_OUTPUT_BACKWARD_S))
        return 0;
    return !bp->kernels || (bp->kernels >> id & 1u);
}

/* The source before the files: SKIP_<name> for each kernel the program leaves out (common.cl),
 * so that its build compiles only the kernels asked for; empty for all of them. On POCL a build
 * of the 4 kernels of an epoch's launch plan took 0.6-0.7 s less than of all 26 (1.9 against
 * 2.6 s, of which 1.35 s any build's, on a 2-core AVX-512 EPYC). */
static void skips(const mlpcl_build_params *bp, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int id = 0; bp->kernels && id < K_COUNT && used < size; ++id)
        if (!(bp->kernels >> id & 1u))
            used += (size_t)snprintf(buf + used, size - used, "#define SKIP_%s\n",
                                     mlpcl__kernel_name[id]);
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
    char skipped[K_COUNT * 48];
    if (mlpcl__kernel_file_count > MAX_KERNEL_FILES)
        return mlpcl__fail(MLPCL_ERR_ARG, "more kernel files than MAX_KERNEL_FILES");
    if (bp->precision == MLPCL_PRECISION_DOUBLE && !ctx->info.fp64)
        return mlpcl__fail(MLPCL_ERR_NO_FP64,
                           "device \"%s\" has no double precision (cl_khr_fp64); "
                           "use --precision float, or --device host",
                           dn);
    build_options(ctx, bp, options, sizeof options);
    for (mlpcl_program *p = ctx->programs; p; p = p->next)
        if (!strcmp(p->options, options) &&
            (!p->kernels || (bp->kernels && !(bp->kernels & ~p->kernels)))) {
            *out = p;
            return MLPCL_OK;
        }
    mlpcl_program *p = calloc(1, sizeof *p);
    if (!p) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a program");
    snprintf(p->options, sizeof p->options, "%s", options);
    p->kernels = bp->kernels;
    const char *dir = getenv("MLPCL_KERNEL_DIR");
    if (dir && *dir) TRY(read_kernel_dir(dir, &dir_texts));
    const char *const *texts = dir_texts ? (const char *const *)dir_texts : mlpcl__kernel_texts;
    /* Each file behind a #line directive, so that build logs name the file and its line. */
    const char *parts[2 * MAX_KERNEL_FILES + 1];
    char lines[MAX_KERNEL_FILES][80];
    cl_uint n_parts = 0;
    skips(bp, skipped, sizeof skipped);
    if (skipped[0]) parts[n_parts++] = skipped;
    for (size_t i = 0; i < mlpcl__kernel_file_count; ++i) {
        if (!file_used(mlpcl__kernel_files[i], bp)) continue;
        snprintf(lines[i], sizeof lines[i], "#line 1 \"%s\"\n", mlpcl__kernel_files[i]);
        parts[n_parts++] = lines[i];
        parts[n_parts++] = texts[i];
    }
    cl_int err = CL_SUCCESS;
    double t0 = mlpcl__now();
    if (ctx->notice && ctx->notice_t0 == 0) { /* told once until the kernels have run */
        ctx->notice_t0 = t0 > 0 ? t0 : 1e-9;
        ctx->notice(ctx->notice_user, MLPCL_BUILD_START, dn, 0.0);
    }
    p->from_cache = mlpcl__program_cache_load(ctx, n_parts, parts, options, &p->program);
    if (!p->from_cache) {
        p->program = clCreateProgramWithSource(ctx->context, n_parts, parts, NULL, &err);
        CL_CHECK(err, "clCreateProgramWithSource", dn);
        t0 = mlpcl__now();
        mlpcl__warmup_join(ctx); /* its wait is the build's: it did part of the build's work */
        err = clBuildProgram(p->program, 1, &ctx->device, options, NULL, NULL);
    }
    p->build_seconds = mlpcl__now() - t0;
    p->fresh = 1;
    if (err == CL_SUCCESS && !p->from_cache)
        mlpcl__program_cache_save(ctx, n_parts, parts, options, p->program);
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

void mlpcl_ctx_set_build_notice(mlpcl_ctx *ctx, mlpcl_build_notice_fn fn, void *user)
{
    if (!ctx) return;
    ctx->notice = fn;
    ctx->notice_user = user;
    ctx->notice_t0 = 0;
    for (size_t i = 0; i < ctx->n_members; ++i)
        mlpcl_ctx_set_build_notice(ctx->members[i], fn, user);
}

void mlpcl__build_notice_end(mlpcl_ctx *ctx)
{
    if (!ctx) return;
    if (ctx->notice && ctx->notice_t0 > 0) {
        double t0 = ctx->notice_t0;
        ctx->notice_t0 = 0;
        ctx->notice(ctx->notice_user, MLPCL_BUILD_END, ctx->info.name, mlpcl__now() - t0);
    }
    for (size_t i = 0; i < ctx->n_members; ++i) mlpcl__build_notice_end(ctx->members[i]);
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
