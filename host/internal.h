// SPDX-License-Identifier: MIT
/* internal.h: what the library's files share and the tests may use, but users may not: the
 * structures behind the opaque handles, the error helpers, the kernel table and the reference
 * trainer's building blocks. Not installed. */
#ifndef MLPCL_INTERNAL_H
#define MLPCL_INTERNAL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <CL/cl.h>

#include "mlpcl.h"

/* ---- Errors (error.c) --------------------------------------------------------------------- */

/* Records a formatted message as the thread's last error and returns st. */
mlpcl_status mlpcl__fail(mlpcl_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends to the last error (a build log, a hint); only right after mlpcl__fail. */
void mlpcl__append(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Records a failed OpenCL call: the call, the error by name, the device, where. */
mlpcl_status mlpcl__cl_fail(cl_int err, const char *call, const char *device, const char *file,
                            int line);

/* Checks an OpenCL status; on failure records it and jumps to the function's `fail` label
 * with `st` set. `call` names what was attempted, e.g. "clCreateBuffer(X)". */
#define CL_CHECK(err, call, device)                                                                \
    do {                                                                                           \
        cl_int e_ = (err);                                                                         \
        if (e_ != CL_SUCCESS) {                                                                    \
            st = mlpcl__cl_fail(e_, call, device, __FILE__, __LINE__);                             \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

/* Jumps to `fail` when an mlpcl call failed (its message is already recorded). */
#define TRY(expr)                                                                                  \
    do {                                                                                           \
        st = (expr);                                                                               \
        if (st != MLPCL_OK) goto fail;                                                             \
    } while (0)

/* Multiplies sizes, failing with MLPCL_ERR_TOO_BIG instead of wrapping around. */
int mlpcl__mul_overflows(size_t a, size_t b, size_t *out);

/* ---- Networks (net.c) --------------------------------------------------------------------- */

struct mlpcl_net {
    size_t L;       /* weight layers */
    size_t *width;  /* L + 1 widths: inputs, hidden…, outputs */
    mlpcl_act *act; /* L + 1 entries; act[l] for layer l = 1 … L (act[0] unused) */
    mlpcl_loss loss;
    size_t *offset; /* L + 2 entries: offset[l] = index of W_l in params; offset[L+1] = total */
    double *params; /* the flat parameters */
};

/* The loss's scale over m rows, which multiplies the sum of the per-element terms: 1/(2m) for
 * MSE (the tutorial's cost), 1/m for cross-entropy. The one definition the reference, the
 * simple and tiled plans and the fused plan use. */
static inline double mlpcl__loss_scale(mlpcl_loss loss, size_t m)
{
    return loss == MLPCL_LOSS_CE ? 1.0 / (double)m : 1.0 / (2.0 * (double)m);
}

/* The layer's weight count n_{l-1}·n_l; its biases follow the weights at offset + this. */
static inline size_t mlpcl__weights(const mlpcl_net *net, size_t l)
{
    return net->width[l - 1] * net->width[l];
}

/* ---- Random numbers (rng.c): splitmix64, the same stream on every platform ---------------- */

typedef struct mlpcl_rng {
    uint64_t s;
} mlpcl_rng;
uint64_t mlpcl__rng_next(mlpcl_rng *r);
double mlpcl__rng_uniform(mlpcl_rng *r); /* [0, 1), 53 random bits */
/* The order of the samples in an epoch: a permutation of 0 … n−1 drawn from (seed, epoch). */
void mlpcl__shuffle(size_t n, uint64_t seed, long epoch, int *perm);

/* ---- Devices and contexts (device.c) ------------------------------------------------------ */

typedef struct mlpcl_program mlpcl_program;

struct mlpcl_ctx {
    mlpcl_device_info info;
    int is_host;    /* the plain C reference trainer; no OpenCL objects */
    unsigned flags; /* MLPCL_CTX_* */
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    mlpcl_program *programs;      /* built programs, a list keyed by build options */
    char *tuning;                 /* mlpcl_ctx_set_tuning's, or NULL */
    mlpcl_build_notice_fn notice; /* mlpcl_ctx_set_build_notice's (program.c), or NULL */
    void *notice_user;
    double notice_t0; /* when the notice's start was told; 0: no end owed */
    /* A group (a selector listing devices, "0:0,0:1"): its members, one context a device, in
     * the listed order; the group itself has no OpenCL objects, and its info is member 0's
     * but for the name, which lists every member's. Trainers on a group train data-parallel
     * (dp_backend.c). 0 and NULL for a context of one device. */
    size_t n_members;
    struct mlpcl_ctx **members;
    /* The compiler's warm-up (warmup.c): 0 none, 1 its thread runs, 2 joined, with its
     * outcome */
    int warmup_state;
    pthread_t warmup;
    cl_int warmup_err;
};

/* Starts the warm-up of ctx's compiler where its device is POCL's (warmup.c). */
void mlpcl__warmup_start(mlpcl_ctx *ctx);
/* Waits for ctx's warm-up; returns its OpenCL status, or 1 where none was started. */
int mlpcl__warmup_join(mlpcl_ctx *ctx);

/* Whether ctx is a CPU device (POCL's pthread device, say): the launch shapes that suit a CPU's
 * few threads differ from a GPU's. */
static inline int mlpcl__ctx_is_cpu(const mlpcl_ctx *ctx)
{
    return !strcmp(ctx->info.type, "cpu");
}

/* Whether ctx's device is POCL's (its own kernel cache, its compiler in the process). */
static inline int mlpcl__ctx_is_pocl(const mlpcl_ctx *ctx)
{
    return strstr(ctx->info.platform_name, "Portable Computing Language") != NULL;
}

/* Whether fused.cl runs as one work-item on ctx's device (CPUs, which run a work-group on one
 * core anyway), built without its barriers (FUSED_ONE_ITEM); else as a work-group of the
 * reductions' size. */
static inline int mlpcl__fused_one_item(const mlpcl_ctx *ctx)
{
    return mlpcl__ctx_is_cpu(ctx);
}

/* Registers one of gemm_cpu.cl's 64-byte vectors (VW = 16 floats or 8 doubles) takes on ctx's
 * device, by its isa (device.c): one AVX-512 register, two AVX or AVX2 ones, four SSE ones; 1
 * for devices of other or unknown vectors. The tiles (tuning.c) and the build options (program.c)
 * follow it. */
static inline unsigned mlpcl__registers_a_vector(const mlpcl_ctx *ctx)
{
    const char *isa = ctx->info.isa;
    if (!strcmp(isa, "AVX2") || !strcmp(isa, "AVX") || !strcmp(isa, "256-bit")) return 2;
    if (!strcmp(isa, "SSE") || !strcmp(isa, "128-bit")) return 4;
    return 1;
}

/* Reads one device's properties into info. */
mlpcl_status mlpcl__device_info(cl_platform_id p, cl_device_id d, int pi, int di,
                                mlpcl_device_info *info);

/* ---- Programs and the kernel table (program.c) -------------------------------------------- */

typedef enum mlpcl_kernel_id {
    K_GATHER,         /* gather.cl: a batch's rows, through the shuffled index */
    K_FORWARD,        /* forward.cl: A_l = act(A_{l-1} W_l + b_l) */
    K_SOFTMAX,        /* forward.cl: row-wise softmax of the output layer (loss CE) */
    K_OUTPUT_DELTA,   /* delta.cl: D_L and per-group partial sums of the loss */
    K_COST,           /* delta.cl: the loss from the partial sums, and the stop flag */
    K_HIDDEN_DELTA,   /* delta.cl: D_l = (D_{l+1} W_{l+1}ᵀ) ⊙ act'(A_l) */
    K_GRADIENT,       /* gradient.cl: [dW_l; db_l] = [A_{l-1} 1]ᵀ D_l */
    K_UPDATE,         /* update.cl: V = mu·V + G, P' = P − lr·V, unless the stop flag is set */
    K_GEMM_FORWARD,   /* gemm_*.cl: tiled A·W + b and the activation */
    K_GEMM_BACKWARD,  /* gemm_*.cl: tiled (D·Wᵀ) ⊙ act'(A) */
    K_GEMM_GRADIENT,  /* gemm_*.cl: tiled [A 1]ᵀ·D and the update */
    K_GEMM_FORWARD_N, /* the same three for outputs no wider than one vector */
    K_GEMM_BACKWARD_N,
    K_GEMM_GRADIENT_N,
    K_GEMM_FORWARD_P,  /* the wide forward product reading W in panels (CPUs) */
    K_GEMM_GRADIENT_S, /* the two gradients reading A in strips (CPUs' hidden layers) */
    K_GEMM_GRADIENT_NS,
    K_FUSED,             /* fused.cl: a small network's whole iteration in one work-group */
    K_GRADIENT_REDUCE,   /* gemm_epilogue.cl: the sum of a split gradient, and the update */
    K_DROPOUT_FORWARD,   /* dropout.cl: a hidden layer's mask on its activations */
    K_DROPOUT_BACKWARD,  /* dropout.cl: the same mask on its delta */
    K_OPTIM,             /* update.cl: SGD with Nesterov or weight decay, Adam, AdamW */
    K_PACK_WEIGHTS,      /* gemm_epilogue.cl: weights in panels for the CPUs' forward product */
    K_OUTPUT_LAYER,      /* gemm_cpu.cl: a small batch's output layer, delta and cost, on CPUs */
    K_OUTPUT_BACKWARD,   /* gemm_cpu.cl: its gradient and the deltas below it (A in rows) */
    K_OUTPUT_BACKWARD_S, /* the same, A in strips */
    K_COUNT
} mlpcl_kernel_id;

extern const char *const mlpcl__kernel_name[K_COUNT];

/* Which kernels compute the products. */
typedef enum mlpcl_path {
    MLPCL_PATH_AUTO = 0,   /* tiled for networks with a big layer, else simple */
    MLPCL_PATH_TILED = 1,  /* gemm_*.cl: register-blocked tiles, epilogues fused */
    MLPCL_PATH_SIMPLE = 2, /* forward.cl and the rest: one output a work-item */
    MLPCL_PATH_FUSED = 3,  /* fused.cl for full-batch iterations (small nets), else simple */
} mlpcl_path;

/* ---- Tunables (tuning.c) ------------------------------------------------------------------ */

/* The tunables of the tiled kernels, one field per row of tuning.c's table: built in (tm, tnv,
 * mc, pf; bm … wn) or launch shapes (ly, gx, gy) and layouts (pw). */
typedef struct mlpcl_tuning {
    mlpcl_path path;
    int tm;                 /* rows of a work-item's tile */
    int tnv;                /* vectors across a work-item's tile */
    int mc;                 /* samples a block of the gradient's walk */
    int ly;                 /* forward and backward: work-items a work-group along the samples */
    int gx, gy;             /* gradient: a walk's or work-group's tiles (across, down) */
    int gw;                 /* CPUs: 1: the gradient's work-items walk gx × gy tiles each */
    int pf;                 /* CPUs: samples ahead the gradient prefetches D's rows (0: none) */
    int st;                 /* CPUs: 1: the wide hidden layers' activations in strips */
    int pw;                 /* CPUs: W's rows this many bytes apart or more are read in panels */
    int local;              /* GPUs: tiles staged in local memory (gemm_gpu.cl) */
    int bm, bn, bk, wm, wn; /* local: a work-group's tile, its depth, a work-item's subtile */
    int lb;                 /* local: buffers an operand's slice has (2: alternating) */
    int lv;                 /* lb 2: 4 reads subtiles from local memory 4 at once */
    const char *source; /* where the values came from: defaults, derived, cache, set, MLPCL_TUNE */
} mlpcl_tuning;

/* Whether a CPU gradient's samples, batches of at most `batch` rows (0: unknown), fit one block
 * of MC: its program is then built without the walks and the prefetch of D (-DONE_BLOCK,
 * program.c), and its tiles launched in small work-groups (cl_plan_tiled.c). */
static inline int mlpcl__tuning_one_block(const mlpcl_tuning *t, size_t batch)
{
    return !t->local && batch && batch <= (size_t)t->mc;
}

/* The tuning for a device: its type's defaults, then $MLPCL_TUNE ("tm=12,tnv=2,…"). */
mlpcl_status mlpcl__tuning_for(const mlpcl_ctx *ctx, mlpcl_precision p, mlpcl_tuning *t);
/* The L2 cache of one core of the CPU this process runs on (cpuid; POCL's CPU devices run on
 * it), in bytes; 0 where unknown (no x86, no such leaf). */
size_t mlpcl__host_l2_bytes(void);
/* The tunable pw for a CPU whose L2 holds l2 bytes (0: unknown, the default 2048): l2 / 512,
 * a power of two within 512 … 8192 (tuning.c). */
int mlpcl__panel_bytes(size_t l2);
/* The tunable pf for a CPU: 8 on Intel's (vendor "GenuineIntel") running AVX-512 code (r, the
 * registers a vector, 1), 0 on others (tuning.c). */
int mlpcl__gradient_prefetch(const char *vendor, unsigned r);
/* The vendor of the CPU this process runs on (cpuid leaf 0: "GenuineIntel", "AuthenticAMD"),
 * into buf (13 bytes); "" where unknown. */
void mlpcl__host_cpu_vendor(char buf[13]);
/* Parses "key=value,…" into t (keys: path and the table's names); what names the source. */
mlpcl_status mlpcl__tuning_parse(const char *s, const char *what, mlpcl_tuning *t);
/* Writes t as "path=tiled,tm=12,…". */
void mlpcl__tuning_format(const mlpcl_tuning *t, char *buf, size_t size);
/* Writes the kernels' -D options for t's tiled variant ("-DTM=12 -DTNV=2 -DMC=64"). */
void mlpcl__tuning_options(const mlpcl_tuning *t, char *buf, size_t size);

/* ---- Builds (program.c) ------------------------------------------------------------------- */

/* What varies between builds of the same sources. */
typedef struct mlpcl_build_params {
    mlpcl_precision precision;
    size_t wg;         /* work-group size of the 1-D reductions (a power of two) */
    mlpcl_tuning tune; /* its variant and tiles are built in */
    size_t batch;      /* the most rows a product sees (0: unknown), for program.c's choices */
    uint32_t kernels;  /* the kernels to define, a bit each (1u << id); 0: all the device's */
} mlpcl_build_params;

struct mlpcl_program {
    cl_program program;
    char options[512];    /* the build options, as given to clBuildProgram */
    double build_seconds; /* wall time of clBuildProgram (from the source or a cached binary) */
    int fresh;            /* built and not yet claimed by a trainer */
    int from_cache;       /* created from program_cache.c's binary, not compiled */
    uint32_t kernels;     /* the kernels it defines (mlpcl_build_params) */
    mlpcl_program *next;
};

/* Whether a program built with bp defines kernel id: those of bp->kernels, or all; but one for
 * local-memory tiles (gemm_gpu.cl) never the CPUs' own (output_layer, output_backward_*). */
int mlpcl__program_has(const mlpcl_build_params *bp, mlpcl_kernel_id id);
/* Builds (or finds already built in ctx: the same options, and bp's kernels among its own) the
 * program for these parameters. The result is owned by ctx. */
mlpcl_status mlpcl__program_get(mlpcl_ctx *ctx, const mlpcl_build_params *bp, mlpcl_program **out);
void mlpcl__programs_free(mlpcl_ctx *ctx);
/* Tells ctx's notice (and its members') that the kernels are ready, where a start is owed. */
void mlpcl__build_notice_end(mlpcl_ctx *ctx);

/* The binary cache (program_cache.c): where an entry for this device, driver, options and
 * sources exists and the driver builds it, creates and builds *out from it and returns 1;
 * else 0, with nothing created (then build from the source and save). Saving ignores every
 * failure: the cache only saves time. Off for POCL devices unless MLPCL_BINARY_CACHE=on; off
 * everywhere with MLPCL_BINARY_CACHE=off, MLPCL_NO_BINARY_CACHE=1 or MLPCL_CACHE_DIR= . */
int mlpcl__program_cache_load(const mlpcl_ctx *ctx, cl_uint n, const char *const *parts,
                              const char *options, cl_program *out);
void mlpcl__program_cache_save(const mlpcl_ctx *ctx, cl_uint n, const char *const *parts,
                               const char *options, cl_program prog);

/* The embedded kernel sources (generated at build time from the kernels folder). */
extern const char *const mlpcl__kernel_files[];
extern const char *const mlpcl__kernel_texts[];
extern const size_t mlpcl__kernel_file_count;

/* Monotonic wall clock, seconds. */
double mlpcl__now(void);

#endif
