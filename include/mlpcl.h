// SPDX-License-Identifier: MIT
/* mlpcl.h: the public API of mlpcl, which trains multilayer perceptrons by backpropagation on
 * OpenCL devices (GPUs, and CPUs through POCL) and on the host in plain C.
 *
 * Conventions. Every function that can fail returns an mlpcl_status; MLPCL_OK is 0 and on any
 * other value mlpcl_last_error() describes what failed in words. The library never prints and
 * never exits. Handles are opaque; each *_create has a *_free that accepts NULL. Matrices are
 * row-major, samples × features (mlpcl_at() below pins the indexing down).
 *
 * Threads. A context and everything made from it (its trainers) is used by one thread at a
 * time: the calls share its queue and its cache of built programs, which nothing locks.
 * Different contexts may be used from different threads at once, and so may different
 * networks; a network that is only read (cloned, given to mlpcl_trainer_create) may be read by
 * several threads together. The library keeps no other shared state; it reads the MLPCL_*
 * environment variables, so do not change those while another thread calls mlpcl. */
#ifndef MLPCL_H
#define MLPCL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The shared library is built with hidden visibility: it exports what this header declares
 * (MLPCL_API, given to every declaration by the pragma around them) and nothing else. */
#if defined(__GNUC__)
#define MLPCL_API __attribute__((visibility("default")))
#pragma GCC visibility push(default)
#else
#define MLPCL_API
#endif

#define MLPCL_VERSION "0.1.0"

/* Status codes. OpenCL's own negative codes (-1 … -1100, e.g. -5 CL_OUT_OF_RESOURCES) are
 * passed through unchanged; mlpcl's own live in a separate range from -2001 down. */
typedef enum mlpcl_status {
    MLPCL_OK = 0,
    MLPCL_ERR_NOMEM = -2001,     /* a host allocation failed */
    MLPCL_ERR_ARG = -2002,       /* an argument is out of range or inconsistent */
    MLPCL_ERR_NO_DEVICE = -2003, /* no OpenCL device matches the selector */
    MLPCL_ERR_NO_FP64 = -2004,   /* double precision asked of a device without cl_khr_fp64 */
    MLPCL_ERR_IO = -2005,        /* a file could not be opened, read or written */
    MLPCL_ERR_DATA = -2006,      /* input data failed validation */
    MLPCL_ERR_TOO_BIG = -2007,   /* a size overflows, or exceeds what the device can hold */
} mlpcl_status;

/* The name of a status ("CL_OUT_OF_RESOURCES", "MLPCL_ERR_DATA", …); never NULL. */
const char *mlpcl_status_str(int status);

/* A description of the last failure in this thread: the call, the error by name, the device,
 * a build log, or the file and line of bad input. Each failing call replaces it; calls that
 * succeed leave it as it was, so it describes the latest failure, however many successful calls
 * came after (it is "" before the first). The text is the thread's own: never NULL, valid until
 * the thread's next failing mlpcl call or its end. */
const char *mlpcl_last_error(void);

/* ---- Devices ------------------------------------------------------------------------------ */

typedef struct mlpcl_device_info {
    int platform;     /* platform index, as `mlpcl devices` lists it; -1 for the host */
    int device;       /* device index within the platform; -1 for the host */
    const char *type; /* "gpu", "cpu", "accelerator", "other" or "host" (static string) */
    char name[256];   /* CL_DEVICE_NAME */
    char platform_name[256];
    char version[256]; /* CL_DEVICE_VERSION */
    char driver[256];  /* CL_DRIVER_VERSION */
    unsigned compute_units;
    uint64_t global_mem; /* bytes */
    uint64_t max_alloc;  /* bytes, the largest single buffer */
    size_t max_work_group;
    int fp64; /* 1 where cl_khr_fp64 (or OpenCL 3.0's fp64 feature) is present */
    /* The detail `mlpcl devices --verbose` and --json show (empty or 0 for the host). */
    char vendor[256];           /* CL_DEVICE_VENDOR */
    char platform_version[256]; /* CL_PLATFORM_VERSION */
    char c_version[256];        /* CL_DEVICE_OPENCL_C_VERSION */
    unsigned max_clock;         /* MHz */
    uint64_t local_mem;         /* bytes of local memory a work-group may use */
    char extensions[8192];      /* space-separated; cut at a whole name when longer */
    /* CPU devices: the vector instructions their kernels are compiled for, "AVX-512", "AVX2",
     * "AVX" or "SSE" where the device's name says an x86 CPU (POCL names its LLVM CPU:
     * "pthread-haswell-…"), else the native float vector's bits, "512-bit", "256-bit" or
     * "128-bit"; "" for other devices and the host. */
    char isa[16];
} mlpcl_device_info;

/* Lists every device of every platform, followed by the host entry. On success *list holds
 * *count entries; the caller frees it with free(). */
mlpcl_status mlpcl_devices(mlpcl_device_info **list, size_t *count);
/* One line for people: index, type, name, platform, version, driver, units, memory, fp64. */
void mlpcl_device_describe(const mlpcl_device_info *info, char *buf, size_t size);

/* ---- Contexts: one device, its queue and its built programs ------------------------------- */

typedef struct mlpcl_ctx mlpcl_ctx;

/* The real type the device computes in. */
typedef enum mlpcl_precision {
    MLPCL_PRECISION_FLOAT = 4,
    MLPCL_PRECISION_DOUBLE = 8
} mlpcl_precision;

enum { MLPCL_CTX_PROFILE = 1 }; /* flags: record OpenCL profiling events for every launch */

/* Opens the device chosen by selector: an index ("0:1" platform:device, or "2" counting all
 * devices), a type ("gpu", "cpu", "accelerator"), a case-insensitive name substring, or "host"
 * (the plain C double-precision trainer). NULL or "" means $MLPCL_DEVICE, else the first GPU,
 * else the first CPU. A comma-separated list of OpenCL selectors ("0:0,0:1") opens a group of
 * devices: trainers created on it train data-parallel, each device holding the whole network
 * and a contiguous share of every batch, their gradients summed in a fixed order before every
 * update, with any optimiser (mlpcl_ctx_device then describes the first device, named after
 * all of them). On POCL's CPU devices the context starts the compiler on a thread of its own
 * (POCL's first build in a context loads its kernel library: 0.8-0.9 s), which the first
 * trainer's build then finds ready: create the context before reading the data to do both at
 * once. mlpcl_ctx_free waits for that thread. */
mlpcl_status mlpcl_ctx_create(const char *selector, unsigned flags, mlpcl_ctx **out);
void mlpcl_ctx_free(mlpcl_ctx *ctx);
/* Sets the kernels' tunables for trainers created on ctx afterwards ("tm=8,tnv=2,…", as
 * `mlpcl tune` prints them), over the defaults and the tuning cache; NULL restores those. */
mlpcl_status mlpcl_ctx_set_tuning(mlpcl_ctx *ctx, const char *tuning);
/* What mlpcl_ctx_set_tuning last set (owned by ctx, valid until the next set), or NULL. */
const char *mlpcl_ctx_tuning(const mlpcl_ctx *ctx);
/* The tunables trainers on ctx start from, before the tuning cache, mlpcl_ctx_set_tuning and
 * $MLPCL_TUNE: the device type's defaults, on CPUs derived from the device (its vector
 * registers, L2 and vendor), as a tuning string ("path=auto,tm=6,tnv=1,…") into buf. */
mlpcl_status mlpcl_ctx_derived_tuning(const mlpcl_ctx *ctx, char *buf, size_t size);
/* Where `mlpcl tune` keeps the best tunables per device, driver and precision:
 * $MLPCL_TUNE_CACHE, else $XDG_CACHE_HOME/mlpcl/tuning, else ~/.cache/mlpcl/tuning. */
void mlpcl_tuning_cache_path(char *buf, size_t size);
/* Records tuning as the best for ctx's device at this precision in the cache (atomically). */
mlpcl_status mlpcl_tuning_save(const mlpcl_ctx *ctx, mlpcl_precision precision, const char *tuning);

/* Which tiled kernels a tunable shapes. */
typedef enum mlpcl_tunable_kernels {
    MLPCL_TUNABLE_ALL = 0, /* the choice between the two (local) */
    MLPCL_TUNABLE_CPU = 1, /* register tiles, the CPUs' default */
    MLPCL_TUNABLE_GPU = 2, /* local-memory tiles (local=1), the GPUs' default */
} mlpcl_tunable_kernels;

/* One tunable of the tiled kernels: a row of the library's table, which parsing, printing, the
 * defaults and `mlpcl tune` all read. */
typedef struct mlpcl_tunable {
    const char *name;              /* as tuning strings spell it: "tm" */
    mlpcl_tunable_kernels kernels; /* which kernels it shapes */
    int cpu_default, gpu_default;  /* by device type ("gpu", else CPU) */
    int lo, hi;                    /* the values accepted */
    const int *candidates;         /* what `mlpcl tune` tries, 0-terminated; NULL: not searched */
    const char *comment;           /* what it means, for people */
} mlpcl_tunable;

/* Row i of the table of tunables (in the order tuning strings list them), NULL past the end. */
const mlpcl_tunable *mlpcl_tunable_at(size_t i);

/* What the context runs on; owned by ctx. */
const mlpcl_device_info *mlpcl_ctx_device(const mlpcl_ctx *ctx);
/* How many devices the context trains on: the length of a selector's list, else 1. */
size_t mlpcl_ctx_device_count(const mlpcl_ctx *ctx);

/* Told when ctx's kernels are being compiled, for a "compiling…" line (the library prints
 * nothing itself). MLPCL_BUILD_START comes before a trainer's program is built; OpenCL CPU
 * drivers such as POCL compile each kernel again at its first launch, so MLPCL_BUILD_END comes
 * once the trainer's first iteration (a batch's cost read, a prediction) has finished, or its
 * first call has failed. device: the device's name; seconds: 0 at the start, the time since
 * it at the end. Each start is followed by one end; with a warm driver cache the two come close
 * together. Set on a group, it is told of each member's builds. */
typedef enum mlpcl_build_phase { MLPCL_BUILD_START = 0, MLPCL_BUILD_END = 1 } mlpcl_build_phase;
typedef void (*mlpcl_build_notice_fn)(void *user, mlpcl_build_phase phase, const char *device,
                                      double seconds);
/* Sets (fn NULL: clears) the notice for trainers created on ctx afterwards. */
void mlpcl_ctx_set_build_notice(mlpcl_ctx *ctx, mlpcl_build_notice_fn fn, void *user);

/* ---- Networks: shapes and parameters on the host ------------------------------------------ */

typedef enum mlpcl_act {
    MLPCL_ACT_SIGMOID = 0,
    MLPCL_ACT_TANH = 1,
    MLPCL_ACT_RELU = 2,
    MLPCL_ACT_LINEAR = 3, /* the identity: regression outputs of any range, or hidden layers */
} mlpcl_act;
typedef enum mlpcl_loss {
    MLPCL_LOSS_MSE = 0, /* cost = 1/(2m) · Σ (out − y)², sigmoid/tanh/relu/linear outputs */
    MLPCL_LOSS_CE = 1,  /* softmax outputs, cost = −1/m · Σ y · log(softmax) */
} mlpcl_loss;
typedef enum mlpcl_init {
    MLPCL_INIT_ONES = 0,    /* every weight and bias 1.0, as in the tutorial */
    MLPCL_INIT_UNIFORM = 1, /* seeded uniform: Xavier (±√(6/(n_in+n_out))) or He for relu */
} mlpcl_init;

typedef struct mlpcl_net mlpcl_net;

/* A network of n_layers weight layers: widths[0] inputs, widths[1..n_layers-1] hidden units,
 * widths[n_layers] outputs. Every layer sigmoid, loss MSE, parameters zero until initialised. */
mlpcl_status mlpcl_net_create(size_t n_layers, const size_t *widths, mlpcl_net **out);
void mlpcl_net_free(mlpcl_net *net);
/* A deep copy, parameters included. */
mlpcl_status mlpcl_net_clone(const mlpcl_net *net, mlpcl_net **out);

size_t mlpcl_net_layers(const mlpcl_net *net);           /* number of weight layers, L */
size_t mlpcl_net_width(const mlpcl_net *net, size_t l);  /* l = 0 (inputs) … L (outputs) */
mlpcl_act mlpcl_net_act(const mlpcl_net *net, size_t l); /* activation of layer l = 1 … L */
mlpcl_loss mlpcl_net_loss(const mlpcl_net *net);
/* Sets layer l's activation (l = 1 … L). */
mlpcl_status mlpcl_net_set_act(mlpcl_net *net, size_t l, mlpcl_act act);
/* Sets the loss; MLPCL_LOSS_CE makes the output layer a softmax. */
mlpcl_status mlpcl_net_set_loss(mlpcl_net *net, mlpcl_loss loss);

/* Parameters, in one flat array: W_1 (n_0×n_1), b_1 (n_1), W_2 (n_1×n_2), b_2, … */
size_t mlpcl_net_n_params(const mlpcl_net *net);
double *mlpcl_net_params(mlpcl_net *net);                   /* owned by net */
const double *mlpcl_net_params_const(const mlpcl_net *net); /* the same, read-only */
size_t mlpcl_net_offset(const mlpcl_net *net, size_t l);    /* index of W_l[0][0], l = 1 … L */
mlpcl_status mlpcl_net_init(mlpcl_net *net, mlpcl_init init, uint64_t seed);

/* Row-major indexing, in one place: element (row, col) of a matrix with `cols` columns. */
#define mlpcl_at(M, cols, row, col) ((M)[(size_t)(row) * (size_t)(cols) + (size_t)(col)])

/* ---- Training ----------------------------------------------------------------------------- */

typedef struct mlpcl_trainer mlpcl_trainer;

/* Uploads X (m×n_0), Y (m×n_L) and the net's parameters to ctx's device, once. Each update
 * uses `batch` samples (0, or m and above: all of them, the tutorial's full batch). The
 * trainer keeps its own copy of everything; net, X and Y may be freed after the call. With
 * m = 0 (X and Y NULL) the trainer only predicts, `batch` rows at a time (0: 1024). On the
 * host context the precision must be MLPCL_PRECISION_DOUBLE. */
mlpcl_status mlpcl_trainer_create(mlpcl_ctx *ctx, const mlpcl_net *net, const double *X,
                                  const double *Y, size_t m, mlpcl_precision precision,
                                  size_t batch, mlpcl_trainer **out);
void mlpcl_trainer_free(mlpcl_trainer *tr);

/* The optimiser, for a gradient G of the parameters P with step lr and weight decay wd:
 *   SGD    G += wd·P; with momentum mu V = mu·V + G and G = V (Nesterov: G += mu·V); P −= lr·G
 *   Adam   G += wd·P; M = β1·M + (1−β1)·G, S = β2·S + (1−β2)·G², t += 1,
 *          P −= lr/(1−β1ᵗ) · M / (√S/√(1−β2ᵗ) + ε)        (Kingma & Ba, with PyTorch's ε)
 *   AdamW  as Adam without the G += wd·P, and P ·= 1 − lr·wd before the step (Loshchilov & Hutter)
 * Adam's M lives where SGD's velocity does (mlpcl_trainer_velocity); S and t are its own state
 * (mlpcl_trainer_adam_state). A run or epoch with another optimizer than the trainer's last one
 * starts that state afresh (V, M and S zero, t = 0), as a new torch.optim object would; state
 * set by mlpcl_trainer_set_velocity or mlpcl_trainer_set_adam_state is the next one's. */
typedef enum mlpcl_optimizer {
    MLPCL_OPT_SGD = 0,
    MLPCL_OPT_ADAM = 1,
    MLPCL_OPT_ADAMW = 2,
} mlpcl_optimizer;

typedef struct mlpcl_train_opts {
    double lr;       /* gradient-descent step (learning rate) */
    double momentum; /* 0 for plain gradient descent; else V = momentum·V + G, P −= lr·V */
    double target;   /* stop as soon as the cost of the current weights is below this */
    long max_iter;   /* stop after this many updates even if not converged */
    int lookahead;   /* iterations the device may run ahead of the cost read; 0 = stalling;
                        MLPCL_LOOKAHEAD_AUTO: the backend's choice */
    /* Called with every iteration's cost, in order: iter 0 is the cost of the starting
     * weights, iter k the cost after k updates. May be NULL. */
    void (*on_cost)(void *user, long iter, double cost);
    void *user;
    /* When not NULL and set non-zero (by a signal handler, say), the run stops cleanly: the
     * iterations already queued finish, then it returns MLPCL_STOP_INTERRUPTED with the cost
     * of the kept weights. */
    volatile sig_atomic_t *interrupt;
    mlpcl_optimizer optimizer; /* the update rule; MLPCL_OPT_SGD: the tutorial's */
    int nesterov;              /* SGD with momentum: Nesterov's step, as PyTorch's */
    double beta1, beta2, eps;  /* Adam's moment decays and denominator guard */
    double weight_decay;       /* L2 added to the gradient (SGD, Adam); decoupled for AdamW */
} mlpcl_train_opts;

/* The lookahead that suits the run: 63 when a whole iteration is one launch of a small network's
 * fused kernel (iterations then run 64 a launch, each a few microseconds); 15 for an epoch whose
 * batches are short (at most 2·10⁸ flops an iteration), whose costs are then read 8 at a time;
 * else 4. An epoch reads (lookahead + 1) / 2 batches' costs at a time. Any lookahead gives the
 * same numbers; it decides only the speed and how many queued iterations finish after an
 * interrupt. */
#define MLPCL_LOOKAHEAD_AUTO (-1)

/* lr 0.01, momentum 0, target 0.1, max_iter 10,000,000, lookahead MLPCL_LOOKAHEAD_AUTO, no
 * callback, SGD (beta1 0.9, beta2 0.999, eps 1e-8 for Adam), no weight decay: the tutorial's. */
void mlpcl_train_opts_default(mlpcl_train_opts *opts);

typedef enum mlpcl_stop {
    MLPCL_STOP_CONVERGED = 0,   /* cost < target */
    MLPCL_STOP_MAX_ITER = 1,    /* max_iter updates done (an epoch: every batch done) */
    MLPCL_STOP_DIVERGED = 2,    /* the cost became NaN or infinite */
    MLPCL_STOP_INTERRUPTED = 3, /* the interrupt flag was set */
} mlpcl_stop;

typedef struct mlpcl_train_result {
    mlpcl_stop stop;
    long iterations;   /* updates applied to the kept weights (on divergence: the iteration
                          whose cost was not finite) */
    double cost;       /* cost of the kept weights (on divergence: the last finite cost) */
    double start_cost; /* cost of the starting weights */
    double seconds;    /* wall time of the training loop */
} mlpcl_train_result;

/* Full-batch gradient descent from the trainer's current weights, reading the cost every
 * iteration, until a stop condition. Afterwards the trainer holds the kept weights: the
 * converged ones, those after max_iter updates, or on divergence the last with a finite cost.
 * Needs a full-batch trainer. */
mlpcl_status mlpcl_trainer_run(mlpcl_trainer *tr, const mlpcl_train_opts *opts,
                               mlpcl_train_result *result);

typedef struct mlpcl_epoch_opts {
    double lr, momentum; /* as in mlpcl_train_opts */
    uint64_t seed;       /* with epoch, picks the epoch's shuffle of the samples */
    long epoch;          /* which epoch this is, from 0 */
    size_t first_batch;  /* start at this batch of the epoch (resuming mid-epoch) */
    size_t max_batches;  /* stop after this many batches (0: run to the epoch's end) */
    int lookahead;       /* as in mlpcl_train_opts */
    /* Called after each batch's cost is read: batches done, batches in all, its cost. */
    void (*on_batch)(void *user, size_t done, size_t total, double cost);
    void *user;
    volatile sig_atomic_t *interrupt; /* as in mlpcl_train_opts; the batches queued finish */
    /* Inverted dropout on the hidden layers, in [0, 1): each unit of each sample is dropped
     * with this probability (from a counter-based generator keyed by seed, epoch, the sample's
     * place in the epoch, layer and unit: the same on every device and on the host), those
     * kept scaled by 1/(1 − dropout). 0 (the default): none. Predictions never drop. On a
     * group of devices with mini-batches only. */
    double dropout;
    mlpcl_optimizer optimizer; /* as in mlpcl_train_opts, and the four after it */
    int nesterov;
    double beta1, beta2, eps;
    double weight_decay;
} mlpcl_epoch_opts;

/* lr 0.1, momentum 0, seed 1, epoch 0, lookahead MLPCL_LOOKAHEAD_AUTO, no callback, and the
 * optimiser's defaults as in mlpcl_train_opts_default. */
void mlpcl_epoch_opts_default(mlpcl_epoch_opts *opts);

/* One epoch of mini-batch gradient descent (or its batches first_batch … first_batch +
 * max_batches − 1): the samples in the order of a seeded shuffle (the same on every device and
 * on the host), one update a batch, the last batch smaller when the batch size does not divide
 * m. result->cost is the mean of the batches' costs (each before its update) weighted by their
 * sizes; result->iterations the updates applied; stop is MLPCL_STOP_MAX_ITER when every batch
 * asked for ran, MLPCL_STOP_DIVERGED when a cost was not finite (the weights of the last finite
 * one are kept), MLPCL_STOP_INTERRUPTED when the interrupt flag was set. */
mlpcl_status mlpcl_trainer_epoch(mlpcl_trainer *tr, const mlpcl_epoch_opts *opts,
                                 mlpcl_train_result *result);

/* Seconds this trainer spent building its OpenCL programs (0 when its context had built them
 * already, and on the host); the kernels' first launches may add compiling time of their own.
 * On a CPU a full-batch trainer small enough for the fused kernel builds that kernel alone at
 * its creation, and the rest at its first epoch or prediction, which adds to this figure. */
double mlpcl_trainer_build_seconds(const mlpcl_trainer *tr);
/* Names the kernels the trainer runs and their tunables, e.g. "tiled (tm=12,tnv=2,…)". */
void mlpcl_trainer_describe(const mlpcl_trainer *tr, char *buf, size_t size);

/* Copies the trainer's current weights into net (same shape as at creation). */
mlpcl_status mlpcl_trainer_params(mlpcl_trainer *tr, mlpcl_net *net);
/* Replaces the trainer's current weights with net's (same shape as at creation), as when it
 * was created from net; the velocity stays as it is. */
mlpcl_status mlpcl_trainer_set_params(mlpcl_trainer *tr, const mlpcl_net *net);
/* The momentum velocity (n_params values), to save; and to restore it when resuming. */
mlpcl_status mlpcl_trainer_velocity(mlpcl_trainer *tr, double *v);
mlpcl_status mlpcl_trainer_set_velocity(mlpcl_trainer *tr, const double *v);
/* Adam's state besides its first moments (which are the velocity): the second moments S
 * (n_params values) and the number of Adam steps taken, t; to save, and to restore when
 * resuming. A new trainer starts with S = 0, t = 0. s may be NULL to read or set only t. */
mlpcl_status mlpcl_trainer_adam_state(mlpcl_trainer *tr, double *s, long *step);
mlpcl_status mlpcl_trainer_set_adam_state(mlpcl_trainer *tr, const double *s, long step);

/* Device time of one kernel, from OpenCL profiling events. */
typedef struct mlpcl_kernel_time {
    const char *kernel; /* the kernel's name (static) */
    double seconds;     /* device time, summed over its launches */
    long launches;
} mlpcl_kernel_time;

#define MLPCL_MAX_KERNELS 32 /* the most entries mlpcl_trainer_profile writes */

/* Records the device time of every launch from now on; needs a context created with
 * MLPCL_CTX_PROFILE. */
mlpcl_status mlpcl_trainer_profile_start(mlpcl_trainer *tr);
/* Waits for the launches recorded and writes one entry per kernel to out (room for
 * MLPCL_MAX_KERNELS), *n of them; stops recording. A data-parallel trainer (a device list, MPI)
 * gives its first device's kernels, then two entries of host seconds a step is spent in:
 * "data-parallel: device wait" (for the gradients) and "data-parallel: all-reduce". */
mlpcl_status mlpcl_trainer_profile(mlpcl_trainer *tr, mlpcl_kernel_time *out, size_t *n);

/* Uploads a data set's inputs X (n×n_0) to the device, once, for predictions; *id names it. */
mlpcl_status mlpcl_trainer_add_set(mlpcl_trainer *tr, const double *X, size_t n, int *id);
/* The network's outputs on set id (n×n_L) with the trainer's current weights. */
mlpcl_status mlpcl_trainer_predict(mlpcl_trainer *tr, int id, double *out);

/* The net's loss of outputs out (n×n_L) against targets Y, and when labels is not NULL the
 * accuracy (the share of rows whose largest output is at the label); else NaN. */
void mlpcl_evaluate(const mlpcl_net *net, const double *out, const double *Y, const int *labels,
                    size_t n, double *loss, double *accuracy);

/* ---- Data --------------------------------------------------------------------------------- */

typedef struct mlpcl_table {
    size_t rows, cols;
    double *v;          /* rows × cols, row-major */
    char **names;       /* cols header names, or NULL when the file has no header row */
    char *beyond_float; /* where the first value too large for float was read, "FILE:LINE:COL:
                           TEXT", or NULL (see mlpcl_dataset_check_precision) */
} mlpcl_table;

/* Reads a CSV file of numbers: comma-separated, one row a line, an optional header row of
 * names (a row none of whose fields reads as a number), blank lines and a UTF-8 byte-order mark
 * ignored. Rejects (MLPCL_ERR_DATA, naming file, line and column) anything that is not a
 * finite number and rows whose column count differs. Free with mlpcl_table_free. */
mlpcl_status mlpcl_csv_read(const char *path, mlpcl_table *out);
/* Writes rows × cols values as CSV with 17 significant digits, so they read back exactly. */
mlpcl_status mlpcl_csv_write(const char *path, const double *v, size_t rows, size_t cols);
void mlpcl_table_free(mlpcl_table *t);

/* The tutorial's data: X and Y of m×2, uniform in [0, 1), from a seeded generator. */
void mlpcl_tutorial_data(size_t m, uint64_t seed, double *X, double *Y);

/* A data set in memory: n samples of n_in features and n_out targets. */
typedef struct mlpcl_dataset {
    size_t n, n_in, n_out;
    double *X;   /* n × n_in */
    double *Y;   /* n × n_out: the targets, or one-hot rows of the class labels */
    int *labels; /* n class indices in 0 … n_out−1 when the targets are classes, else NULL */
    char **class_names; /* n_out names when a CSV's labels were names, else NULL */
    char *beyond_float; /* where the first value too large for float (|v| > FLT_MAX) was read,
                           "FILE:LINE:COL: TEXT" or "FILE: byte offset N: VALUE", else NULL */
} mlpcl_dataset;

void mlpcl_dataset_free(mlpcl_dataset *d);
/* Whether d's values fit precision: in MLPCL_PRECISION_FLOAT, a value beyond float's range is
 * refused (MLPCL_ERR_DATA) naming where it was read (d->beyond_float), else its sample and column.
 * The readers keep doubles; only the run knows its precision. */
mlpcl_status mlpcl_dataset_check_precision(const mlpcl_dataset *d, mlpcl_precision precision);

/* How a CSV file's columns split into features and targets. */
typedef struct mlpcl_csv_spec {
    size_t targets;           /* the last `targets` columns are numeric targets, or 0 and: */
    const char *label_column; /* this column (a 1-based number, or a header name) holds class
                                 labels, integers ≥ 0 or names, which are one-hot encoded */
} mlpcl_csv_spec;

/* Reads a CSV data set: features then targets per row (or a label column anywhere), an
 * optional header row. With `like` (the training set, when reading held-out data) the columns
 * and classes must match it: the same feature count, and labels among its classes. Integer
 * labels give classes 0 … max; names give their sorted order. Failures name file, line and
 * column. Free with mlpcl_dataset_free. */
mlpcl_status mlpcl_csv_dataset(const char *path, const mlpcl_csv_spec *spec,
                               const mlpcl_dataset *like, mlpcl_dataset *out);

/* Reads an IDX image file and its IDX label file (the MNIST layout; each gzip-compressed or
 * not): images (n × rows × cols…, unsigned bytes scaled to [0, 1]; other IDX types as they
 * are) become features, labels (n, integers) one-hot targets. Classes: `classes` when non-zero,
 * else like->n_out when like is given, else the largest label + 1; a label outside them is an
 * error. Validates magic, types, dimensions (and their product's overflow), truncation,
 * trailing bytes, counts, NaN and Inf; failures name the file and the byte offset. */
mlpcl_status mlpcl_idx_dataset(const char *images, const char *labels, size_t classes,
                               const mlpcl_dataset *like, mlpcl_dataset *out);

/* Opens PATH as a data set: a folder holding the MNIST file names (train-images-idx3-ubyte,
 * train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally
 * .gz) gives a training set and, where test is not NULL, the test set; "IMAGES,LABELS" names
 * an IDX pair; any other file is CSV, read with spec. Every reader opens regular files only
 * (a directory, named pipe or device is refused by what it is, without blocking) and holds
 * what a file or header declares against the memory the process can have. */
mlpcl_status mlpcl_dataset_open(const char *path, const mlpcl_csv_spec *spec, mlpcl_dataset *train,
                                mlpcl_dataset *test);
/* Opens PATH as held-out data for the training set `like`, as mlpcl_dataset_open tells paths
 * apart: a folder gives its test files (MLPCL_ERR_IO when it has none), an IDX pair or a CSV
 * file is read against like; features and classes must match like's (MLPCL_ERR_DATA). Free
 * out with mlpcl_dataset_free; on failure it is empty. */
mlpcl_status mlpcl_dataset_open_like(const char *path, const mlpcl_csv_spec *spec,
                                     const mlpcl_dataset *like, mlpcl_dataset *out);
/* Opens PATH as data to evaluate a trained network on, against `like` (which holds what the
 * network knows: n_in, n_out, labels non-NULL for a classifier, its class names): a folder's
 * test files, else its training files; an IMAGES,LABELS pair; a CSV file. Class labels are
 * looked up in like's classes (names by name, integers as indices), so that a file with only
 * some of them, or in another order, keeps the network's meaning; a label like does not know
 * is an error naming its line. */
mlpcl_status mlpcl_dataset_open_eval(const char *path, const mlpcl_csv_spec *spec,
                                     const mlpcl_dataset *like, mlpcl_dataset *out);

/* Moves the last `fraction` (0 < fraction < 1) of d's samples into tail (held-out data). */
mlpcl_status mlpcl_dataset_split(mlpcl_dataset *d, double fraction, mlpcl_dataset *tail);

/* ---- Models: trained networks on disk (safetensors) ---------------------------------------- */

/* Feature standardisation, x' = (x − mean) / std, from the training data. */
typedef struct mlpcl_norm {
    size_t n;     /* features; 0 when the data are not standardised */
    double *mean; /* n */
    double *std;  /* n, every one > 0 */
} mlpcl_norm;

/* Fits norm to d's features: each one's mean and deviation over d's samples (a feature that
 * never varies keeps deviation 1). norm is overwritten; free it with mlpcl_norm_free. */
mlpcl_status mlpcl_norm_fit(const mlpcl_dataset *d, mlpcl_norm *norm);
/* Standardises d's features in place with norm (x' = (x − mean) / std); MLPCL_ERR_DATA, d
 * unchanged, when norm is for another number of features. An empty d is left as it is. */
mlpcl_status mlpcl_norm_apply(const mlpcl_norm *norm, mlpcl_dataset *d);
/* Frees norm's arrays and zeroes it (NULL, or an empty norm, is fine). */
void mlpcl_norm_free(mlpcl_norm *norm);

/* What decided the numbers of the training run that wrote a model file besides the network,
 * its dtype and seed, so that a resume can check it continues the same run. `present` 0: not
 * recorded (a file from before these records, or one whose writer left them out); then
 * nothing else here is meaningful. Strings are NUL-terminated, at most 31 bytes. */
typedef struct mlpcl_run_record {
    int present;
    char mode[32];        /* "tutorial" (full batch to a target) or "epochs" */
    char device_kind[32]; /* "host" (the reference trainer) or "opencl" */
    char init[32];        /* the initialisation: "ones" or "uniform" */
    char data_digest[32]; /* a digest of the training data (16 hex digits) */
    double lr, momentum;  /* finite, lr > 0, momentum ≥ 0 */
    long batch;           /* samples per update; 0: all (full batch) */
    /* The optimiser, schedule and dropout: optimizer "" in files from before they were
     * recorded (then the rest is 0 and "", and --resume cannot check them). */
    char optimizer[32];                     /* "sgd", "adam" or "adamw" */
    int nesterov;                           /* 0 or 1 */
    double beta1, beta2, eps, weight_decay; /* finite, ≥ 0 (the betas < 1) */
    char lr_schedule[64]; /* "constant", "step:N:G" or "cosine:EPOCHS", then "+warmup:N" */
    double dropout;       /* in [0, 1) */
} mlpcl_run_record;

/* What a model file holds besides the network. */
typedef struct mlpcl_model_info {
    mlpcl_precision dtype; /* how the parameters are stored: F32 or F64 */
    mlpcl_norm norm;
    char **class_names; /* n_outputs names, or NULL */
    uint64_t seed;
    char device[256];     /* what trained it */
    char version[32];     /* the mlpcl version that wrote it */
    long epoch;           /* training progress, for --resume: epochs completed */
    long batch;           /* and batches completed of the epoch in progress */
    long iteration;       /* updates applied in all */
    double *velocity;     /* momentum, n_params values, or NULL */
    mlpcl_run_record run; /* the training run's settings, metadata "run.*" when present */
    double *adam_s;       /* Adam's second moments, n_params values, or NULL */
    long adam_step;       /* and its step count (metadata "train.adam_step") */
} mlpcl_model_info;

/* Writes net and info as a safetensors file, atomically: a temporary file in the same folder,
 * flushed to disk, then renamed over path (docs/model-format.md). Tensors "layers.L.weight"
 * (n_L×n_{L-1}: [out, in], as PyTorch's nn.Linear) and "layers.L.bias" (n_L) in info->dtype;
 * "norm.mean" and "norm.std" (F64) when info->norm.n; "train.velocity" when info->velocity and
 * "train.adam_s" when info->adam_s (both in the weights' layout). Metadata: format,
 * format_version, version, layers, activations, loss, output, seed, device, epoch, batch,
 * iteration, class_names, and when info->run.present run.mode, run.device_kind, run.init,
 * run.data_digest, run.lr, run.momentum and run.batch (and when info->run.optimizer is not ""
 * run.optimizer, run.nesterov, run.beta1, run.beta2, run.eps, run.weight_decay,
 * run.lr_schedule and run.dropout), and train.adam_step with train.adam_s.
 * The file is created with the process's umask (0666 & ~umask), or takes the mode of the file
 * it replaces. */
mlpcl_status mlpcl_model_save(const char *path, const mlpcl_net *net, const mlpcl_model_info *info);

/* Reads a model file written by mlpcl_model_save (any format_version up to the current one),
 * validating everything (header size and JSON,
 * dtypes, shapes against the layers, offsets, NaN and Inf). On success *net is new and info
 * filled (overwritten, not freed first); free both with mlpcl_net_free and
 * mlpcl_model_info_free. On failure *net is NULL and *info zeroed. Save always records
 * MLPCL_VERSION, and refuses what could not be loaded back (NaN, Inf, values beyond F32). */
mlpcl_status mlpcl_model_load(const char *path, mlpcl_net **net, mlpcl_model_info *info);
void mlpcl_model_info_free(mlpcl_model_info *info);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
