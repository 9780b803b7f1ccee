// SPDX-License-Identifier: MIT
/* tuning.c: the one table of the tiled kernels' tunables (name, field, defaults by device type,
 * range, what `mlpcl tune` tries), and what reads it: the defaults, parsing and printing tuning
 * strings, the kernels' -D options, and the per-device tuning cache. */
#define _POSIX_C_SOURCE 200809L
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* A row: the public part, where the value lives in mlpcl_tuning, and the -D name the kernels
 * read it by (NULL for launch shapes, which the host uses). */
typedef struct row {
    mlpcl_tunable t;
    size_t field;
    const char *define;
} row;

static const int tm_c[] = {4, 6, 8, 10, 12, 14, 0}, tnv_c[] = {1, 2, 3, 0},
                 mc_c[] = {16, 32, 64, 128, 256, 512, 0}, ly_c[] = {1, 2, 4, 8, 16, 0},
                 gxy_c[] = {2, 4, 8, 16, 0}, bmn_c[] = {32, 64, 128, 0}, bk_c[] = {8, 16, 32, 0},
                 w_c[] = {2, 4, 8, 0}, lb_c[] = {1, 2, 0}, lv_c[] = {1, 4, 0},
                 pw_c[] = {1024, 2048, 4096, 1 << 20, 0}, pf_c[] = {8, 16, 0}; /* and 0 */
/* The search keeps the strips and the gradient's walks (a list ends at 0): st=0 and gw=0 are
 * there to compare. */
static const int st_c[] = {1, 0}, gw_c[] = {1, 0};

#define CPU   MLPCL_TUNABLE_CPU
#define GPU   MLPCL_TUNABLE_GPU
#define AT(f) offsetof(mlpcl_tuning, f)

/* In the order tuning strings list them (CPU rows, local, GPU rows). CPU defaults: tiles of
 * 12 rows × 2 vectors keep 24 accumulators in AVX-512's 32 registers (and spill little with
 * AVX2's 16), measured best on POCL among 4…14 × 1…4. GPU defaults: 64 × 64 tiles staged in
 * local memory, 16 deep, 4 × 4 a work-item (256 a group), two buffers an operand (lb=2,
 * measured faster than one on an H200: 784-1024-10 steps 15.1 against 16.2 ms, 784-256-10 4.0
 * against 4.5 ms, a batch-64 epoch 140 against 176 ms; docs/benchmarks-gpu.md), each read one
 * element at a time (lv=1: lv=4 is not measured on a GPU yet). The CPU gradient's blocks are
 * 256 samples (mc): after each block a work-item's walk keeps the sums of its tiles (8 × 8 of
 * them, 96 KB in AVX-512 code) until the next, and blocks of 64 paid that four times as often:
 * 784-1024-10's gradient 0.53 s against 0.41 s (mc=256) and 0.42 s (512) on a 2-core Zen 5,
 * its step 0.92 against 0.78 s, 784-256-10's 0.25 against 0.20 s, three rounds alternating
 * (docs/benchmarks-epyc.md; measured when a work-group's barrier kept them). The kernels' #ifndef
 * defaults equal the CPU column; the host passes every tunable its kernels read. */
static const row rows[] = {
    {{"tm", CPU, 12, 12, 1, 32, tm_c, "rows of a work-item's tile"}, AT(tm), "TM"},
    {{"tnv", CPU, 2, 2, 1, 8, tnv_c, "vectors across a work-item's tile"}, AT(tnv), "TNV"},
    {{"mc", CPU, 256, 64, 1, 4096, mc_c, "samples a block of the gradient's walk"}, AT(mc), "MC"},
    {{"ly", CPU, 8, 8, 1, 1024, ly_c, "work-items a group along the samples (products)"},
     AT(ly),
     NULL},
    {{"gx", CPU, 8, 8, 1, 1024, gxy_c, "the gradient's walk or work-group: tiles across"},
     AT(gx),
     NULL},
    {{"gy", CPU, 8, 8, 1, 1024, gxy_c, "the gradient's walk or work-group: tiles down"},
     AT(gy),
     NULL},
    {{"gw", CPU, 1, 0, 0, 1, gw_c,
      "1: a gradient's work-item walks its gx x gy tiles block by block (0: a tile each)"},
     AT(gw),
     "GW"},
    {{"pf", CPU, 0, 0, 0, 64, pf_c,
      "samples ahead the gradient prefetches its rows of D (0: none)"},
     AT(pf),
     "PF"},
    {{"st", CPU, 1, 0, 0, 1, st_c, "1: the wide hidden layers' activations and deltas in strips"},
     AT(st),
     NULL},
    {{"pw", CPU, 2048, 2048, 64, 1 << 20, pw_c,
      "bytes between rows of W from which the forward product reads W in panels"},
     AT(pw),
     NULL},
    {{"local", MLPCL_TUNABLE_ALL, 0, 1, 0, 1, NULL, "1: tiles in local memory (gemm_gpu.cl)"},
     AT(local),
     NULL},
    {{"bm", GPU, 64, 64, 1, 256, bmn_c, "rows of a work-group's tile"}, AT(bm), "BM"},
    {{"bn", GPU, 64, 64, 1, 256, bmn_c, "columns of a work-group's tile"}, AT(bn), "BN"},
    {{"bk", GPU, 16, 16, 1, 64, bk_c, "depth of the slices in local memory"}, AT(bk), "BK"},
    {{"wm", GPU, 4, 4, 1, 16, w_c, "rows of a work-item's subtile"}, AT(wm), "WM"},
    {{"wn", GPU, 4, 4, 1, 16, w_c, "columns of a work-item's subtile"}, AT(wn), "WN"},
    {{"lb", GPU, 1, 2, 1, 2, lb_c, "local buffers an operand: 2 alternate (and vector loads)"},
     AT(lb),
     "LB"},
    {{"lv", GPU, 1, 1, 1, 4, lv_c,
      "with lb=2: 4 stages slices through registers and reads subtiles 4 at once"},
     AT(lv),
     "LV"},
};
#define N_ROWS (sizeof rows / sizeof *rows)

static const char *const path_names[] = {"auto", "tiled", "simple", "fused"};

const mlpcl_tunable *mlpcl_tunable_at(size_t i)
{
    return i < N_ROWS ? &rows[i].t : NULL;
}

static int *field(mlpcl_tuning *t, const row *r)
{
    return (int *)((char *)t + r->field);
}

static int value(const mlpcl_tuning *t, const row *r)
{
    return *(const int *)((const char *)t + r->field);
}

/* Whether a row belongs to the kernels t builds (and so to its string and options). */
static int in_use(const mlpcl_tuning *t, const row *r)
{
    return r->t.kernels == (t->local ? MLPCL_TUNABLE_GPU : MLPCL_TUNABLE_CPU);
}

static void defaults(int gpu, mlpcl_tuning *t)
{
    memset(t, 0, sizeof *t);
    t->path = MLPCL_PATH_AUTO;
    for (size_t i = 0; i < N_ROWS; ++i)
        *field(t, &rows[i]) = gpu ? rows[i].t.gpu_default : rows[i].t.cpu_default;
}

/* "path=auto|tiled|simple|fused, tm=1…32, …": what a tuning string may hold. */
static void describe_keys(char *buf, size_t size)
{
    int n = snprintf(buf, size, "path=auto|tiled|simple|fused");
    for (size_t i = 0; i < N_ROWS && n > 0 && (size_t)n < size; ++i)
        n += snprintf(buf + n, size - (size_t)n, ", %s=%d…%d", rows[i].t.name, rows[i].t.lo,
                      rows[i].t.hi);
}

mlpcl_status mlpcl__tuning_parse(const char *s, const char *what, mlpcl_tuning *t)
{
    while (*s) {
        size_t len = strcspn(s, ",");
        const char *eq = memchr(s, '=', len);
        size_t klen = eq ? (size_t)(eq - s) : len;
        int found = 0;
        if (eq && klen == 4 && !strncmp(s, "path", 4)) {
            size_t vlen = len - klen - 1;
            for (int p = 0; p < 4 && !found; ++p)
                if (vlen == strlen(path_names[p]) && !strncmp(eq + 1, path_names[p], vlen))
                    t->path = (mlpcl_path)p, found = 1;
        }
        for (size_t i = 0; eq && !found && i < N_ROWS; ++i) {
            const mlpcl_tunable *r = &rows[i].t;
            if (strlen(r->name) != klen || strncmp(s, r->name, klen)) continue;
            char *end;
            long v = strtol(eq + 1, &end, 10);
            if (end != s + len || v < r->lo || v > r->hi) break;
            *field(t, &rows[i]) = (int)v;
            found = 1;
        }
        if (!found) {
            char keys[512];
            describe_keys(keys, sizeof keys);
            return mlpcl__fail(MLPCL_ERR_ARG,
                               "%s: '%.*s' is not a tuning setting (%s, separated by commas)", what,
                               (int)len, s, keys);
        }
        s += len + (s[len] == ',');
    }
    if (t->local && (t->bm % t->wm || t->bn % t->wn))
        return mlpcl__fail(MLPCL_ERR_ARG, "%s: bm must be a multiple of wm, and bn of wn", what);
    if (t->lv > 1 && t->lv != 4) return mlpcl__fail(MLPCL_ERR_ARG, "%s: lv is 1 or 4", what);
    return MLPCL_OK;
}

void mlpcl__tuning_format(const mlpcl_tuning *t, char *buf, size_t size)
{
    int n = snprintf(buf, size, "path=%s%s", path_names[t->path], t->local ? ",local=1" : "");
    for (size_t i = 0; i < N_ROWS && n > 0 && (size_t)n < size; ++i)
        if (in_use(t, &rows[i]))
            n += snprintf(buf + n, size - (size_t)n, ",%s=%d", rows[i].t.name, value(t, &rows[i]));
}

void mlpcl__tuning_options(const mlpcl_tuning *t, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s", t->local ? "-DGEMM_LOCAL=1" : "");
    for (size_t i = 0; i < N_ROWS && n >= 0 && (size_t)n < size; ++i)
        if (rows[i].define && in_use(t, &rows[i]))
            n += snprintf(buf + n, size - (size_t)n, "%s-D%s=%d", n ? " " : "", rows[i].define,
                          value(t, &rows[i]));
}

/* ---- The tuning cache: one line per device, driver and precision --------------------------- */

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
             p == MLPCL_PRECISION_DOUBLE ? "double" : "float");
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

const char *mlpcl_ctx_tuning(const mlpcl_ctx *ctx)
{
    return ctx->tuning;
}

/* CPU tiles that fit the device's 16 or 32 vector registers: TM × TNV accumulators of r
 * registers each, TNV · r more for a row of B, one for the broadcast. AVX-512 (r = 1, 32
 * registers): the defaults, 24 + 2 + 1. AVX and AVX2 (r = 2, 16 registers): 6 × 1, 12 + 2 + 1,
 * with the gradient's walks 4 × 16 tiles and the products' 2 deep, and the gradient's blocks of
 * 256 samples as AVX-512's: since the walks replaced the work-groups' barrier, 784-1024-10's
 * gradient took 685 ms against 823 ms with blocks of 64, 784-256-10's 184 against 231 ms (three
 * rounds alternating, medians; the other order gave 704 against 871 ms, 201 against 237 ms),
 * and batches of 256 and 128, one block now, ran epochs in 384-390 against 415-431 ms and
 * 420-467 against 442-497 ms (with the barrier, 64, 256 and 512 had measured the same). SSE
 * (r = 4, 16 registers): 2 × 1, 8 + 4 + 1, its blocks 256 samples too: 784-1024-10's gradient
 * 2.19 against 2.47 s with blocks of 64, 784-256-10's 608 against 693 ms (alternating, medians
 * of two and three rounds; docs/benchmarks-epyc.md, "Cold starts and the last cost").
 * Measured with POCL_KERNELLIB_NAME=avx2 and sse41 on a 2-core
 * AVX-512 EPYC (docs/benchmarks.md): the AVX2 shape takes a 784-256-10 step from 580-640 ms
 * (the defaults, spilling) or 585 ms (4 × 2) to 440-450 ms, and a batch-64 epoch from 0.88-1.0 s
 * to 0.61-0.68 s; for SSE 2 × 1 beats 1 × 1 and 3 × 1 (108-110 ms against 150 and 232 ms on 6000
 * samples). Returns where the tunables came from. */
static const char *derive_cpu(const mlpcl_ctx *ctx, mlpcl_tuning *t)
{
    unsigned r = mlpcl__registers_a_vector(ctx);
    char vendor[13];
    mlpcl__host_cpu_vendor(vendor);
    int pw = mlpcl__panel_bytes(mlpcl__host_l2_bytes()), pf = mlpcl__gradient_prefetch(vendor, r);
    int derived = pw != t->pw || pf != t->pf || r > 1;
    t->pw = pw, t->pf = pf;
    if (r == 2) {
        t->tm = 6, t->tnv = 1, t->ly = 2, t->gx = 4, t->gy = 16, t->mc = 256;
    } else if (r > 2) {
        t->tm = 2, t->tnv = 1;
    }
    return derived ? "derived" : "defaults";
}

size_t mlpcl__host_l2_bytes(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000006u &&
        __get_cpuid(0x80000006u, &a, &b, &c, &d))
        return (size_t)(c >> 16) * 1024; /* ECX[31:16]: the L2 in KB, on AMD and Intel alike */
#endif
    return 0;
}

void mlpcl__host_cpu_vendor(char buf[13])
{
    buf[0] = 0;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (__get_cpuid(0, &a, &b, &c, &d)) {
        memcpy(buf, &b, 4), memcpy(buf + 4, &d, 4), memcpy(buf + 8, &c, 4);
        buf[12] = 0;
    }
#endif
}

/* The CPU gradient's work-item walks the samples, reading a slice of each row of D (and of A):
 * rows n · sizeof(REAL) apart, a page apart for 1,024 floats. Intel's L1 stride prefetcher
 * follows strides up to 2 KB and its L2 streamer stays within a 4 KB page, so neither fetches
 * those rows ahead. On a 2-core Emerald Rapids Xeon, prefetching D's slice 8 samples ahead in
 * full batches (gemm_cpu.cl's tile_samples) cut 784-1024-10's gradient product from 861-978
 * to 822-829 ms, four rounds alternating (docs/benchmarks-xeon.md). Its AVX2 code (6 × 1
 * tiles, half a cache line of D a row) gained nothing there (1,390-1,625 against 1,387-1,397 ms),
 * and AMD's CPUs are not measured with it (a prefetch of W's rows in the forward product was
 * slower on a Zen 5): 0 for those. r: registers a vector (mlpcl__registers_a_vector). */
int mlpcl__gradient_prefetch(const char *vendor, unsigned r)
{
    return vendor && !strcmp(vendor, "GenuineIntel") && r == 1 ? 8 : 0;
}

/* A forward product's tile walks a column of W, one cache line a row (784 rows for
 * Fashion-MNIST's inputs); rows s bytes apart map it to the L2's sets that hold only l2 / s
 * lines, so where l2 / s falls below about 512 the column no longer stays in L2 from one block
 * of samples to the next and panels pay: from s = l2 / 512. For a 1 MB L2 that is 2 KB, as
 * measured on a 2-core Zen 5 EPYC (cl_plan_tiled.c's in_panels); cachegrind with a 512 KB
 * 8-way L2 (Zen 2 or 3) counted 46% fewer L2 read misses in 784-256-10's forward product with
 * its 1 KB rows in panels, and with this EPYC's 1 MB, 16-way, 8% fewer (docs/benchmarks.md). */
int mlpcl__panel_bytes(size_t l2)
{
    if (!l2) return 2048;
    int pw = 512;
    while (pw < 8192 && (size_t)pw * 2 * 512 <= l2) pw *= 2;
    return pw;
}

/* The device type's defaults, on CPUs derived from the device. */
static void derived(const mlpcl_ctx *ctx, mlpcl_tuning *t)
{
    int gpu = !strcmp(ctx->info.type, "gpu");
    defaults(gpu, t);
    t->source = gpu || ctx->info.platform < 0 ? "defaults" : derive_cpu(ctx, t);
}

mlpcl_status mlpcl_ctx_derived_tuning(const mlpcl_ctx *ctx, char *buf, size_t size)
{
    if (!ctx || !buf || !size)
        return mlpcl__fail(MLPCL_ERR_ARG, "derived tuning: no context or buffer");
    mlpcl_tuning t;
    derived(ctx, &t);
    mlpcl__tuning_format(&t, buf, size);
    return MLPCL_OK;
}

mlpcl_status mlpcl__tuning_for(const mlpcl_ctx *ctx, mlpcl_precision p, mlpcl_tuning *t)
{
    derived(ctx, t);
    char cached[1024], path[4096];
    mlpcl_status st = MLPCL_OK;
    if (cache_lookup(ctx, p, cached, sizeof cached)) {
        t->source = "cache";
        mlpcl_path path_before = t->path; /* the cache holds tunables, not the kernels' choice */
        mlpcl_tuning_cache_path(path, sizeof path);
        if ((st = mlpcl__tuning_parse(cached, path, t)) != MLPCL_OK) return st;
        t->path = path_before;
    }
    if (ctx->tuning) {
        if ((st = mlpcl__tuning_parse(ctx->tuning, "tuning", t)) != MLPCL_OK) return st;
        t->source = "set";
    }
    const char *env = getenv("MLPCL_TUNE");
    if (!env || !*env) return MLPCL_OK;
    t->source = "MLPCL_TUNE";
    return mlpcl__tuning_parse(env, "MLPCL_TUNE", t);
}
