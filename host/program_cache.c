// SPDX-License-Identifier: MIT
/* program_cache.c: the built programs' binaries kept on disk, so that a second run creates its
 * program from the driver's binary instead of compiling the sources again. One file an entry,
 * named by a hash of the device, driver, build options and sources; a small header with a
 * checksum guards it. The cache only ever saves time: any trouble falls back to the source. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define MAGIC      "mlpclbin"
#define FORMAT     1u
#define MAX_BINARY ((uint64_t)1 << 31) /* larger sizes in a header mean a damaged file */

/* The header before the driver's binary, in the host's byte order (a cache is per machine). */
typedef struct header {
    char magic[8];
    uint32_t format;
    uint32_t reserved;
    uint64_t key;  /* the entry's key hash, again: a file renamed by hand is not taken */
    uint64_t size; /* bytes of the binary that follows */
    uint64_t sum;  /* FNV-1a of those bytes */
} header;

/* 64-bit FNV-1a, continued from h: the key and the checksum (not for security: the cache
 * holds what this user's own runs wrote). */
static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < len; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
#define FNV_START 0xcbf29ce484222325ull

/* Each string with its terminating zero, so that ("ab", "c") and ("a", "bc") differ. */
static uint64_t fnv_str(uint64_t h, const char *s)
{
    return fnv(h, s, strlen(s) + 1);
}

static uint64_t entry_key(const mlpcl_ctx *ctx, cl_uint n, const char *const *parts,
                          const char *options)
{
    uint64_t h = fnv_str(FNV_START, MAGIC);
    h = fnv_str(h, ctx->info.name);
    h = fnv_str(h, ctx->info.vendor);
    h = fnv_str(h, ctx->info.driver);
    h = fnv_str(h, ctx->info.platform_version);
    h = fnv_str(h, options);
    for (cl_uint i = 0; i < n; ++i) h = fnv_str(h, parts[i]);
    return h;
}

/* Whether the cache serves ctx's device. MLPCL_BINARY_CACHE: "off" (or "0"; also
 * MLPCL_NO_BINARY_CACHE set to anything but "" or "0"), "on" (or "1"), else auto: on, but for
 * POCL. POCL keeps its own cache of what it compiles (POCL_CACHE_DIR), and asking it for a
 * program's binary makes it compile a generic work-group function of every kernel in the
 * program first: on 2 cores that added 16-20 s to a first run of 784-256-10 (32.6 s against
 * 12.6 s), to save 1.4 s of front end on later runs that POCL's own cache mostly saves too. */
static int cache_serves(const mlpcl_ctx *ctx)
{
    const char *no = getenv("MLPCL_NO_BINARY_CACHE"), *mode = getenv("MLPCL_BINARY_CACHE");
    if (no && *no && strcmp(no, "0")) return 0;
    if (mode && (!strcmp(mode, "off") || !strcmp(mode, "0"))) return 0;
    if (mode && (!strcmp(mode, "on") || !strcmp(mode, "1"))) return 1;
    return !mlpcl__ctx_is_pocl(ctx);
}

/* The cache's folder: $MLPCL_CACHE_DIR, else $XDG_CACHE_HOME/mlpcl, else ~/.cache/mlpcl (as
 * the tuning cache). Returns 0 when it has none: MLPCL_CACHE_DIR set but empty. */
static int cache_dir(char *buf, size_t size)
{
    const char *env = getenv("MLPCL_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    int n;
    if (env)
        n = *env ? snprintf(buf, size, "%s", env) : -1;
    else if (xdg && *xdg)
        n = snprintf(buf, size, "%s/mlpcl", xdg);
    else if (home && *home)
        n = snprintf(buf, size, "%s/.cache/mlpcl", home);
    else
        n = -1;
    return n > 0 && (size_t)n < size;
}

static int entry_path(const mlpcl_ctx *ctx, cl_uint n, const char *const *parts,
                      const char *options, char *buf, size_t size, uint64_t *key)
{
    char dir[4096];
    if (!cache_serves(ctx) || !cache_dir(dir, sizeof dir)) return 0;
    *key = entry_key(ctx, n, parts, options);
    int len = snprintf(buf, size, "%s/program-%016llx.bin", dir, (unsigned long long)*key);
    return len > 0 && (size_t)len < size;
}

/* The binary of a file whose header matches key and whose checksum holds, or NULL. */
static unsigned char *read_entry(const char *path, uint64_t key, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    header h;
    unsigned char *bin = NULL;
    if (fread(&h, sizeof h, 1, f) == 1 && !memcmp(h.magic, MAGIC, 8) && h.format == FORMAT &&
        h.key == key && h.size > 0 && h.size < MAX_BINARY && (bin = malloc((size_t)h.size)) &&
        fread(bin, 1, (size_t)h.size, f) == h.size && fgetc(f) == EOF &&
        fnv(FNV_START, bin, (size_t)h.size) == h.sum) {
        fclose(f);
        *size = (size_t)h.size;
        return bin;
    }
    free(bin);
    fclose(f);
    return NULL;
}

int mlpcl__program_cache_load(const mlpcl_ctx *ctx, cl_uint n, const char *const *parts,
                              const char *options, cl_program *out)
{
    char path[4200];
    uint64_t key;
    size_t size = 0;
    if (!entry_path(ctx, n, parts, options, path, sizeof path, &key)) return 0;
    unsigned char *bin = read_entry(path, key, &size);
    if (!bin) return 0;
    const unsigned char *bins[1] = {bin};
    cl_int err, status = CL_SUCCESS;
    cl_program prog =
        clCreateProgramWithBinary(ctx->context, 1, &ctx->device, &size, bins, &status, &err);
    free(bin);
    if (err != CL_SUCCESS || status != CL_SUCCESS) {
        if (err == CL_SUCCESS && prog) clReleaseProgram(prog);
        return 0;
    }
    /* A driver that refuses its own binary (an update, another build of it) gets the source. */
    if (clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(prog);
        return 0;
    }
    *out = prog;
    return 1;
}

/* Creates dir and the folders above it; existing ones are fine. */
static void make_dirs(char *dir)
{
    for (char *s = dir + 1; *s; ++s)
        if (*s == '/') {
            *s = '\0';
            mkdir(dir, 0755);
            *s = '/';
        }
    mkdir(dir, 0755);
}

/* This device's binary of prog, or NULL (the program may hold several devices' binaries). */
static unsigned char *program_binary(const mlpcl_ctx *ctx, cl_program prog, size_t *size)
{
    cl_uint n_dev = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_NUM_DEVICES, sizeof n_dev, &n_dev, NULL) != CL_SUCCESS ||
        n_dev == 0 || n_dev > 64)
        return NULL;
    cl_device_id devs[64];
    size_t sizes[64];
    unsigned char *bins[64] = {0};
    if (clGetProgramInfo(prog, CL_PROGRAM_DEVICES, n_dev * sizeof *devs, devs, NULL) !=
            CL_SUCCESS ||
        clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, n_dev * sizeof *sizes, sizes, NULL) !=
            CL_SUCCESS)
        return NULL;
    cl_uint at = 0;
    while (at < n_dev && devs[at] != ctx->device) ++at;
    if (at == n_dev || sizes[at] == 0 || sizes[at] >= MAX_BINARY) return NULL;
    /* Every device's pointer must be given; those left NULL the driver skips. */
    if (!(bins[at] = malloc(sizes[at]))) return NULL;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, n_dev * sizeof *bins, bins, NULL) !=
        CL_SUCCESS) {
        free(bins[at]);
        return NULL;
    }
    *size = sizes[at];
    return bins[at];
}

void mlpcl__program_cache_save(const mlpcl_ctx *ctx, cl_uint n, const char *const *parts,
                               const char *options, cl_program prog)
{
    char path[4200], tmp[4300];
    uint64_t key;
    size_t size = 0;
    if (!entry_path(ctx, n, parts, options, path, sizeof path, &key)) return;
    unsigned char *bin = program_binary(ctx, prog, &size);
    if (!bin) return;
    header h = {.format = FORMAT, .key = key, .size = size, .sum = fnv(FNV_START, bin, size)};
    memcpy(h.magic, MAGIC, sizeof h.magic);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    make_dirs(path);
    *slash = '/';
    /* Written aside and renamed into place, so a reader never sees half a file; the name holds
     * the process and the program, so that concurrent writers do not share a temporary. */
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%lx", path, (long)getpid(), (unsigned long)(size_t)prog);
    FILE *f = fopen(tmp, "wb");
    if (f) {
        int ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(bin, 1, size, f) == size;
        if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) remove(tmp);
    }
    free(bin);
}
