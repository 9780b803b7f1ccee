/* mlpcl.h: the public API of mlpcl, which trains multilayer perceptrons by backpropagation on
 * OpenCL devices (GPUs, and CPUs through POCL) and on the host in plain C.
 *
 * Conventions. Every function that can fail returns an mlpcl_status; MLPCL_OK is 0 and on any
 * other value mlpcl_last_error() describes what failed in words. The library never prints and
 * never exits. Handles are opaque; each *_create has a *_free that accepts NULL. Matrices are
 * row-major, samples × features (mlpcl_at() below pins the indexing down). */
#ifndef MLPCL_H
#define MLPCL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
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
 * a build log, or the file and line of bad input. Valid until the next mlpcl call. */
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
} mlpcl_device_info;

/* Lists every device of every platform, followed by the host entry. On success *list holds
 * *count entries; the caller frees it with free(). */
mlpcl_status mlpcl_devices(mlpcl_device_info **list, size_t *count);
/* One line for people: index, type, name, platform, version, driver, units, memory, fp64. */
void mlpcl_device_describe(const mlpcl_device_info *info, char *buf, size_t size);

/* ---- Contexts: one device, its queue and its built programs ------------------------------- */

typedef struct mlpcl_ctx mlpcl_ctx;

enum { MLPCL_CTX_PROFILE = 1 }; /* flags: record OpenCL profiling events for every launch */

/* Opens the device chosen by selector: an index ("0:1" platform:device, or "2" counting all
 * devices), a type ("gpu", "cpu", "accelerator"), a case-insensitive name substring, or "host"
 * (the plain C double-precision trainer). NULL or "" means $MLPCL_DEVICE, else the first GPU,
 * else the first CPU. */
mlpcl_status mlpcl_ctx_create(const char *selector, unsigned flags, mlpcl_ctx **out);
void mlpcl_ctx_free(mlpcl_ctx *ctx);
/* What the context runs on; owned by ctx. */
const mlpcl_device_info *mlpcl_ctx_device(const mlpcl_ctx *ctx);

/* ---- Networks: shapes and parameters on the host ------------------------------------------ */

typedef enum mlpcl_act { MLPCL_SIGMOID = 0, MLPCL_TANH = 1, MLPCL_RELU = 2 } mlpcl_act;
typedef enum mlpcl_loss {
    MLPCL_MSE = 0, /* cost = 1/(2m) · Σ (out − y)², sigmoid/tanh/relu outputs */
    MLPCL_CE = 1,  /* softmax outputs, cost = −1/m · Σ y · log(softmax) */
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
/* Sets the loss; MLPCL_CE makes the output layer a softmax. */
mlpcl_status mlpcl_net_set_loss(mlpcl_net *net, mlpcl_loss loss);

/* Parameters, in one flat array: W_1 (n_0×n_1), b_1 (n_1), W_2 (n_1×n_2), b_2, … */
size_t mlpcl_net_n_params(const mlpcl_net *net);
double *mlpcl_net_params(mlpcl_net *net);                /* owned by net */
size_t mlpcl_net_offset(const mlpcl_net *net, size_t l); /* index of W_l[0][0], l = 1 … L */
mlpcl_status mlpcl_net_init(mlpcl_net *net, mlpcl_init init, uint64_t seed);

/* Row-major indexing, in one place: element (row, col) of a matrix with `cols` columns. */
#define mlpcl_at(M, cols, row, col) ((M)[(size_t)(row) * (size_t)(cols) + (size_t)(col)])

/* ---- Training ----------------------------------------------------------------------------- */

typedef enum mlpcl_precision { MLPCL_FLOAT = 4, MLPCL_DOUBLE = 8 } mlpcl_precision;

typedef struct mlpcl_trainer mlpcl_trainer;

/* Uploads X (m×n_0), Y (m×n_L) and the net's parameters to ctx's device, once. The trainer
 * keeps its own copy of everything; net, X and Y may be freed after the call. On the host
 * context the precision must be MLPCL_DOUBLE. */
mlpcl_status mlpcl_trainer_create(mlpcl_ctx *ctx, const mlpcl_net *net, const double *X,
                                  const double *Y, size_t m, mlpcl_precision precision,
                                  mlpcl_trainer **out);
void mlpcl_trainer_free(mlpcl_trainer *tr);

typedef struct mlpcl_train_opts {
    double lr;     /* gradient-descent step (learning rate) */
    double target; /* stop as soon as the cost of the current weights is below this */
    long max_iter; /* stop after this many updates even if not converged */
    int lookahead; /* iterations the device may run ahead of the cost read; 0 = stalling */
    /* Called with every iteration's cost, in order: iter 0 is the cost of the starting
     * weights, iter k the cost after k updates. May be NULL. */
    void (*on_cost)(void *user, long iter, double cost);
    void *user;
} mlpcl_train_opts;

/* lr 0.01, target 0.1, max_iter 10,000,000, lookahead 1, no callback: the tutorial's. */
void mlpcl_train_opts_default(mlpcl_train_opts *opts);

typedef enum mlpcl_stop {
    MLPCL_STOP_CONVERGED = 0, /* cost < target */
    MLPCL_STOP_MAX_ITER = 1,  /* max_iter updates done, cost still ≥ target */
    MLPCL_STOP_DIVERGED = 2,  /* the cost became NaN or infinite */
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
 * converged ones, those after max_iter updates, or on divergence the last with a finite cost. */
mlpcl_status mlpcl_trainer_run(mlpcl_trainer *tr, const mlpcl_train_opts *opts,
                               mlpcl_train_result *result);

/* Copies the trainer's current weights into net (same shape as at creation). */
mlpcl_status mlpcl_trainer_params(mlpcl_trainer *tr, mlpcl_net *net);

/* ---- Data --------------------------------------------------------------------------------- */

typedef struct mlpcl_table {
    size_t rows, cols;
    double *v;    /* rows × cols, row-major */
    char **names; /* cols header names, or NULL when the file has no header row */
} mlpcl_table;

/* Reads a CSV file of numbers: comma-separated, one row a line, an optional header row of
 * names, blank lines ignored. Rejects (MLPCL_ERR_DATA, naming file, line and column) anything
 * that is not a finite number and rows whose column count differs. Free with
 * mlpcl_table_free. */
mlpcl_status mlpcl_csv_read(const char *path, mlpcl_table *out);
/* Writes rows × cols values as CSV with 17 significant digits, so they read back exactly. */
mlpcl_status mlpcl_csv_write(const char *path, const double *v, size_t rows, size_t cols);
void mlpcl_table_free(mlpcl_table *t);

/* The tutorial's data: X and Y of m×2, uniform in [0, 1), from a seeded generator. */
void mlpcl_tutorial_data(size_t m, uint64_t seed, double *X, double *Y);

#ifdef __cplusplus
}
#endif
#endif
