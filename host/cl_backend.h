// SPDX-License-Identifier: MIT
/* cl_backend.h: the OpenCL backend's state and what its files share: buffers and size checks
 * (cl_buffers.c), kernel arguments and launches (cl_launch.c), profiling (cl_profile.c), launch
 * plans (cl_plan.c over cl_plan_simple.c, cl_plan_tiled.c and cl_plan_fused.c), the
 * non-stalling loop (cl_loop.c), and creation and the table of operations (cl_backend.c). The
 * tests use the plan and read calls at the end. Not installed. */
#ifndef MLPCL_CL_BACKEND_H
#define MLPCL_CL_BACKEND_H

#include "cl_args.h"
#include "trainer.h"

/* One kernel launch, with its arguments already set. */
typedef struct mlpcl_launch {
    cl_kernel kernel;
    mlpcl_kernel_id id;
    size_t layer; /* the layer it works on (0 for whole-network kernels) */
    cl_uint dims;
    size_t global[3], local[3];
} mlpcl_launch;

/* The segments of an iteration's launches, in order: the head (gather, forward, loss) ends with
 * the cost; the tail (backward, update) makes the next parameters. Prediction runs the gather
 * and forward segments. Before them, the packing of the weights into the CPUs' forward panels,
 * which mlpcl__plan_enqueue runs only where the panels are not current. */
enum { SEG_PACK, SEG_GATHER, SEG_FORWARD, SEG_LOSS, SEG_BACKWARD, SEG_UPDATE, SEG_COUNT };

/* The launches of one iteration over mb rows, for one parity of the double-buffered
 * parameters: iteration k reads P[k & 1] and writes P[(k + 1) & 1]. */
typedef struct mlpcl_plan {
    size_t mb;    /* rows */
    int gathered; /* input from the batch buffers Xb, Yb (else X, Y direct) */
    int parity;
    int predicting;       /* the forward pass alone (mlpcl__plan_predict); else it trains */
    int keeps_panels;     /* its tail writes the stepped weights' panels too (cl_plan_tiled.c) */
    mlpcl_launch *launch; /* all launches, segment after segment */
    size_t n_launch;
    size_t seg[SEG_COUNT + 1]; /* segment s is launch[seg[s] … seg[s+1]) */
    cl_kernel gather;          /* its sources and offset are set for each batch */
    cl_kernel first;           /* or the first layer's forward product, where it gathers the
                                  batch itself (mlpcl__cl_gathers_in_forward) */
    cl_kernel delta;           /* the output delta (its 1/m, argument delta_m: */
    int delta_m;               /* mlpcl__cl_aim_loss), or output_layer (cl_plan_tiled.c) */
    cl_kernel cost;            /* the kernel that writes the cost: the cost kernel, or the output
                                  delta itself (one work-group), or fused.cl */
    int cost_arg;              /* cost's argument: the target, set for each run */
    int cost_scale, cost_slot; /* and its scale and slot (-1: none, fused.cl) */
    cl_kernel fused_last;      /* fused plans: the iteration without its update, for a run's
                                  last cost */
    cl_kernel *step;           /* the kernels that take lr and momentum (update, gradients) */
    int *step_arg;             /* the index of lr in each; momentum follows it */
    size_t n_step;
    struct mlpcl_plan *next;
} mlpcl_plan;

/* A device buffer's canary: bytes after its end (and after any read-past padding) filled with
 * MLPCL__CANARY_BYTE when made; a kernel that writes past its output's end changes them. The
 * padding between (zeros that no kernel writes) is checked too, so that even a write one
 * element past the end shows. */
typedef struct mlpcl_canary {
    cl_mem mem;
    size_t end;    /* bytes of the buffer proper; zero padding follows up to at */
    size_t at;     /* bytes before the canary */
    char name[48]; /* the buffer, for the report: "activations (layer 2)" */
    int unfilled;  /* bytes [0, end) not zeroed yet: at the first run (mlpcl__cl_fill_pending) */
} mlpcl_canary;

#define MLPCL__CANARY_SIZE 256 /* bytes after every buffer; a multiple of 8 */
#define MLPCL__CANARY_BYTE 0xA5

/* The OpenCL backend's state (tr->backend). */
typedef struct mlpcl_cl {
    mlpcl_program *program_of[K_COUNT]; /* where each kernel is made from (owned by ctx) */
    int lazy;          /* programs are built for the kernels of each new plan (CPUs), not at once */
    uint32_t *collect; /* while a plan is built to list its kernels: they go here, none made */
    size_t wg;         /* 1-D work-group size */
    size_t max_wg, max_items[3]; /* the device's work-group limits */
    mlpcl_tuning tune;           /* kernel path and tile shapes */
    size_t pad;           /* elements of padding after matrices the tiled kernels read past */
    cl_mem WT;            /* scratch: one layer's weights, transposed by its gradient (tiled) */
    cl_mem Gs;            /* scratch: a split gradient's partial sums (GPUs) */
    cl_mem Wp;            /* the wide layers' weights in panels for the forward (CPUs) */
    int panels_current;   /* Wp holds the weights the next forward reads (mlpcl__plan_enqueue) */
    cl_mem shape;         /* the fused kernel's view of the network (ints) */
    int fused;            /* full-batch iterations run fused.cl */
    double build_seconds; /* of its programs, those this trainer built */
    cl_mem X, Y;          /* the training set, m×n_0 and m×n_L */
    cl_mem Xb, Yb;        /* one batch, batch×n_0 and batch×n_L (when gathering) */
    cl_mem idx;           /* m ints: the epoch's shuffle */
    cl_mem P[2];          /* flat parameters, double-buffered */
    cl_mem G;             /* flat gradients */
    int keep_gradients;   /* every plan writes G (mlpcl__trainer_keep_gradients); else the tiled
                             gradient's SGD epilogue steps without storing it */
    cl_mem V[2];          /* momentum velocity (Adam: first moments), double-buffered like P */
    cl_mem S[2];          /* Adam's second moments, double-buffered; made for the first Adam run */
    cl_mem T[2];          /* Adam's step count (one int), double-buffered */
    cl_mem hyper;         /* the optimiser's constants (ops.cl's HYPER_*), set for each run */
    mlpcl_optim built;    /* the optimiser the plans were built for */
    cl_mem *A, *D; /* L + 1 entries, 1 … L: activations and deltas, batch×n_l; [0]: their one buffer
                      (fused) */
    cl_mem partials;    /* cost partial sums, one a work-group */
    cl_mem costs;       /* one real: the last cost */
    cl_mem state;       /* int[1]: stop flag, set by K_COST, cleared by a run */
    cl_mem *sets;       /* predicting sets, by id, n×n_0 each */
    mlpcl_plan *plans;  /* built on demand, by (mb, gathered, parity) */
    cl_kernel *kernels; /* every kernel object the plans use, to release */
    size_t n_kernels;
    struct mlpcl__cl_drop *drop; /* dropout's buffers and kernels (cl_dropout.c), or NULL */
    mlpcl_canary *canaries;      /* one a buffer made by mlpcl__cl_buffer */
    size_t n_canaries;
    /* profiling (contexts made with MLPCL_CTX_PROFILE) */
    int profiling;     /* record an event for every launch */
    cl_event *prof_ev; /* events not yet collected */
    int *prof_id;      /* their kernel ids */
    size_t prof_n, prof_cap;
    double prof_ns[K_COUNT];  /* device nanoseconds per kernel id since profiling began */
    long prof_count[K_COUNT]; /* launches per kernel id */
} mlpcl_cl;

static inline mlpcl_cl *mlpcl__cl(const mlpcl_trainer *tr)
{
    return tr->backend;
}

static inline double mlpcl__mib(size_t bytes)
{
    return (double)bytes / 1048576.0;
}

/* ---- Buffers and size checks (cl_buffers.c) ----------------------------------------------- */

/* Makes a buffer of count elements of elem bytes and pad more (read past by the tiled
 * kernels), all zero, with a canary after them; layer (0: none) and what name it in messages. */
mlpcl_status mlpcl__cl_buffer(mlpcl_trainer *tr, cl_mem *out, size_t count, size_t pad, size_t elem,
                              const char *what, size_t layer);
/* Makes buf[1 … L], each layer's activations or deltas (batch × n_l, padding and canary as
 * mlpcl__cl_buffer's). For fused trainers they are sub-buffers of one buffer, buf[0], each layer
 * starting where the device aligns sub-buffers, so that fused.cl reaches every layer through one
 * argument at any depth. Their padding and canary are written at once, their rows zeroed only
 * at the first run (mlpcl__cl_fill_pending), so that their pages are not resident while the
 * caller's inputs still are. */
mlpcl_status mlpcl__cl_layer_buffers(mlpcl_trainer *tr, cl_mem *buf, const char *what);

/* The width of the CPU kernels' vectors: 16 floats or 8 doubles (a wide tile: tnv of them). */
static inline size_t mlpcl__cl_vector_width(const mlpcl_trainer *tr)
{
    return tr->precision == MLPCL_PRECISION_DOUBLE ? 8 : 16;
}

/* Whether the first layer's forward product gathers a mini-batch itself, reading its inputs
 * where they lie through the shuffle and copying its rows of X and Y into Xb and Yb for the rest
 * of the iteration (gemm_cpu.cl's gather_rows), instead of the gather's launch before it: the
 * register tiles' path (tiled, local=0: gemm_cpu.cl), the CPUs'. The local tiles' (GPUs') and
 * the simple path launch the gather, and so does a first layer no wider than a vector: the
 * narrow product (which full batches' output layers use) has no gather in it. */
static inline int mlpcl__cl_gathers_in_forward(const mlpcl_trainer *tr)
{
    const mlpcl_tuning *t = &mlpcl__cl(tr)->tune;
    return t->path == MLPCL_PATH_TILED && !t->local &&
           (t->tnv == 1 || tr->net->width[1] > mlpcl__cl_vector_width(tr));
}

/* Whether layer l's activations and deltas lie in strips (common.cl's strip_at): the CPUs'
 * wide hidden layers (tiled path, tunable st) whose width is a multiple of a wide tile's, that
 * many columns a strip, each strip the buffer's tr->batch rows deep. The layer's gradient then
 * walks its strip's samples contiguously instead of a row apart (784-1024-10's gradient in AVX2
 * code on a 2-core AMD EPYC: 0.73-0.76 s against 1.00-1.07 s in rows); the products
 * reading them as their left operand walk them strip after strip (cl_plan_tiled.c). */
static inline int mlpcl__cl_in_strips(const mlpcl_trainer *tr, size_t l)
{
    const mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_tuning *t = &c->tune;
    size_t n = tr->net->width[l], vw = mlpcl__cl_vector_width(tr); /* narrower: one vector */
    return t->path == MLPCL_PATH_TILED && !t->local && t->st && !c->fused && l >= 1 &&
           l < tr->net->L && n > vw && n % ((size_t)t->tnv * vw) == 0;
}

/* Layer l's strip width where it lies in strips, else its width (rows): the kernels' aw, dw. */
static inline size_t mlpcl__cl_strip_width(const mlpcl_trainer *tr, size_t l)
{
    size_t w = (size_t)mlpcl__cl(tr)->tune.tnv * mlpcl__cl_vector_width(tr);
    return mlpcl__cl_in_strips(tr, l) ? w : tr->net->width[l];
}

/* Makes D[1 … L]. A hidden layer's deltas take its activations' place (D_l is A_l, retained
 * once more): the backward pass computes layer l + 1's gradient, the last reader of A_l, before
 * D_l, whose product reads each element of A_l once, where it writes D_l's (cl_plan.c's
 * order). So a step holds one batch × n_l matrix a hidden layer, not two. The output layer's
 * deltas have their own buffer (A_L is the prediction); a fused trainer's keep theirs, as
 * mlpcl__cl_layer_buffers makes them. */
mlpcl_status mlpcl__cl_delta_buffers(mlpcl_trainer *tr);
/* Zeroes the layer buffers' rows not zeroed yet; before any launch that reads them. */
mlpcl_status mlpcl__cl_fill_pending(mlpcl_trainer *tr);
/* Releases a buffer made by mlpcl__cl_buffer (NULL allowed) and forgets its canary. */
void mlpcl__cl_buffer_release(mlpcl_trainer *tr, cl_mem *mem);
/* Converts n doubles to the device's real type and writes them to buf; and back. */
mlpcl_status mlpcl__cl_upload(mlpcl_trainer *tr, cl_mem buf, const double *v, size_t n);
mlpcl_status mlpcl__cl_download(mlpcl_trainer *tr, cl_mem buf, double *v, size_t n);
/* Refuses, before allocating anything, sizes the kernels' int indices or the device cannot
 * hold, saying what needs how much and what to change. */
mlpcl_status mlpcl__cl_check_sizes(const mlpcl_trainer *tr, size_t n_partials);

/* ---- Kernel arguments and launches (cl_launch.c) ------------------------------------------ */

typedef struct karg {
    size_t size;
    const void *value; /* NULL: not set (a builder's mistake, refused) */
} karg;

union real_box {
    float f;
    double d;
};

#define ARG_INT(v)  ((karg){sizeof(cl_int), &(cl_int){(cl_int)(v)}})
#define ARG_MEM(v)  ((karg){sizeof(cl_mem), &(v)})
#define ARG_REAL(v) mlpcl__cl_real(tr, (v), &(union real_box){0})
#define N_ARGS(a)   (sizeof(a) / sizeof *(a))

/* Gets bp's program for tr in *out (its build time counted in the trainer's) and lowers *kmax
 * to the least work-group size its kernels allow (of bp's kernels). */
mlpcl_status mlpcl__cl_program_build(mlpcl_trainer *tr, const mlpcl_build_params *bp,
                                     mlpcl_program **out, size_t *kmax);
/* Makes sure tr has a program for each kernel of need (a bit each, 1u << id): one program, with
 * the trainer's build parameters, for those it lacks. */
mlpcl_status mlpcl__cl_kernels_ready(mlpcl_trainer *tr, uint32_t need);

/* A real argument in the device's precision, held in box. */
karg mlpcl__cl_real(const mlpcl_trainer *tr, double v, union real_box *box);
mlpcl_status mlpcl__cl_set_arg(mlpcl_trainer *tr, cl_kernel k, cl_uint i, karg a);
/* Creates a kernel object for id, remembers it for release, and sets its n arguments. */
mlpcl_status mlpcl__cl_make_kernel(mlpcl_trainer *tr, mlpcl_kernel_id id, cl_kernel *out, size_t n,
                                   const karg *a);
/* Appends a launch to a plan; a 2-D launch covers (gx, gy), rounded up to its local size. */
mlpcl_status mlpcl__cl_add_launch(mlpcl_plan *p, const mlpcl_trainer *tr, cl_kernel k,
                                  mlpcl_kernel_id id, size_t layer, cl_uint dims, size_t gx,
                                  size_t gy);
/* Appends a 2-D launch covering (gx, gy) work-items in work-groups of (lx, ly), clamped to the
 * kernels' work-group size and the device's limits. */
mlpcl_status mlpcl__cl_add_launch_shaped(mlpcl_plan *p, const mlpcl_trainer *tr, cl_kernel k,
                                         mlpcl_kernel_id id, size_t layer, size_t gx, size_t gy,
                                         size_t lx, size_t ly);
/* Appends a tiled product's launch for an output of rows × cols. */
mlpcl_status mlpcl__cl_add_gemm_launch(mlpcl_plan *p, const mlpcl_trainer *tr, cl_kernel k,
                                       mlpcl_kernel_id id, size_t layer, size_t rows, size_t cols,
                                       size_t lx, size_t ly, size_t width);
/* Remembers a kernel that takes the step (at argument lr_arg) and the momentum (after it). */
mlpcl_status mlpcl__cl_add_step(mlpcl_plan *p, cl_kernel k, int lr_arg);
/* Enqueues one launch (recording its event when profiling). */
mlpcl_status mlpcl__cl_enqueue(mlpcl_trainer *tr, const mlpcl_launch *L);

/* ---- Profiling (cl_profile.c) ------------------------------------------------------------- */

/* Adds the device time of every recorded launch to the per-kernel totals; waits for them. */
mlpcl_status mlpcl__cl_profile_collect(mlpcl_trainer *tr);
mlpcl_status mlpcl__cl_profile_start(mlpcl_trainer *tr);
mlpcl_status mlpcl__cl_profile(mlpcl_trainer *tr, mlpcl_kernel_time *out, size_t *n);
void mlpcl__cl_profile_free(mlpcl_cl *c);

/* ---- Launch plans (cl_plan.c, cl_plan_simple.c, cl_plan_tiled.c, cl_plan_fused.c) --------- */

/* What every stage builder of one plan works from. */
typedef struct mlpcl_stage {
    size_t mb;        /* rows */
    int parity;       /* the parameters read are P[parity], written P[!parity] */
    cl_mem in0, y;    /* the inputs and targets: X and Y, or the batch's Xb and Yb */
    cl_mem P, P_next; /* P[parity], P[!parity] */
    cl_mem V, V_next; /* V[parity], V[!parity] */
    cl_mem S, S_next; /* S[parity], S[!parity] (V's, as placeholders, before an Adam run) */
    cl_mem T, T_next; /* T[parity], T[!parity] */
    int in_place;     /* the first layer's forward gathers the batch (as aimed), not in0 */
} mlpcl_stage;

/* One kernel path's stage builders, each appending the launches of one layer (update: of the
 * whole network; NULL where the gradient's epilogue updates; pack: NULL where nothing is
 * packed); output, where fuses_output says so for a training plan of mb rows, appends the output
 * layer's forward product, softmax, delta and cost as one launch, and output_backward, where
 * fuses_output_backward says so, its gradient and the deltas of the layer below (NULL: the path
 * never does). */
typedef struct mlpcl_cl_path {
    mlpcl_status (*pack)(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s, size_t l);
    mlpcl_status (*forward)(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s, size_t l);
    mlpcl_status (*backward)(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s, size_t l);
    mlpcl_status (*gradient)(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s, size_t l);
    mlpcl_status (*update)(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s);
    int (*fuses_output)(const mlpcl_trainer *tr, size_t mb);
    mlpcl_status (*output)(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s);
    int (*fuses_output_backward)(const mlpcl_trainer *tr, size_t mb);
    mlpcl_status (*output_backward)(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s);
} mlpcl_cl_path;

extern const mlpcl_cl_path mlpcl__cl_simple; /* cl_plan_simple.c */
extern const mlpcl_cl_path mlpcl__cl_tiled;  /* cl_plan_tiled.c */

/* The optimiser step over the flat parameters (update.cl's optim), for every path when the
 * optimiser is not plain SGD (cl_plan_simple.c). */
mlpcl_status mlpcl__cl_optim_update(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s);
/* Makes Adam's second-moment buffers S[0], S[1] (zero) unless made already. */
mlpcl_status mlpcl__cl_make_adam(mlpcl_trainer *tr);
/* The numbering of ops.cl's optimisers: −1 for plain SGD (sgd_update), else mlpcl_optimizer's. */
static inline int mlpcl__cl_optim_kind(const mlpcl_optim *o)
{
    return mlpcl__optim_plain(o) ? -1 : (int)o->kind;
}

/* The activation layer l's forward kernel applies: the layer's own, except that a softmax
 * network's output layer stays linear (common.cl's ACT_IDENTITY) and the softmax follows. */
static inline int mlpcl__cl_forward_act(const mlpcl_net *net, size_t l)
{
    return l == net->L && net->loss == MLPCL_LOSS_CE ? 3 /* ACT_IDENTITY */ : (int)net->act[l];
}

/* cl_loss.c: a training plan's output delta D_L and cost (the loss stage, where the path does not
 * fuse the output layer); the cost partial sums of a loss over mb rows, one a work-group of the
 * output delta. */
mlpcl_status mlpcl__cl_build_loss(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s);
size_t mlpcl__cl_partial_count(const mlpcl_trainer *tr, size_t mb);
/* Appends the cost kernel's launch: cost = scale · the sum of n_partials partial sums, and the
 * stop flag; it becomes the plan's cost kernel. */
mlpcl_status mlpcl__cl_build_cost(mlpcl_trainer *tr, mlpcl_plan *p, size_t n_partials,
                                  double scale);
/* Points a plan's gather (or its first forward product, where that gathers) at rows [offset,
 * offset + mb) of X and, unless Y is NULL, of Y: through the epoch's shuffle (the training set)
 * or in order (a predicting set, whose Y is NULL). */
mlpcl_status mlpcl__cl_aim_rows(mlpcl_trainer *tr, mlpcl_plan *p, cl_mem *X, cl_mem *Y, int use_idx,
                                size_t offset);
void mlpcl__cl_plans_free(mlpcl_cl *c);
/* Scales a plan's loss (the output delta's 1/m, the cost's 1/m or 1/(2m)) by rows instead of
 * its own: a data-parallel worker's share is summed with the others' into the whole batch's. */
mlpcl_status mlpcl__cl_aim_loss(mlpcl_trainer *tr, mlpcl_plan *p, size_t rows);

/* cl_plan_fused.c: whether full-batch iterations can run as one fused launch; the fused
 * kernel's work-group size; a full-batch iteration as one launch of fused.cl. */
/* Whether fused.cl can run the network at all, at any depth: its shape buffer (2 + 4L ints) fits
 * in constant memory and its one activation buffer in the kernel's int offsets. */
int mlpcl__cl_fused_fits(const mlpcl_trainer *tr);
/* Whether full-batch iterations run as one fused launch by default: small networks, where seven
 * launches a layer cost more than the arithmetic. */
int mlpcl__cl_fusable(const mlpcl_trainer *tr);
/* Uploads the fused kernel's view of the network (fused.cl's SHAPE_ macros): L, the widths, then
 * for each layer its activation, its parameters' offset, and where its activations (and
 * deltas) start in the one buffer of all layers' (A[0], D[0]). */
mlpcl_status mlpcl__cl_fused_shape(mlpcl_trainer *tr);
size_t mlpcl__cl_fused_size(const mlpcl_trainer *tr);
mlpcl_status mlpcl__cl_build_fused_plan(mlpcl_trainer *tr, int parity, mlpcl_plan *p);

/* ---- The non-stalling loop (cl_loop.c) ---------------------------------------------------- */

mlpcl_status mlpcl__cl_run(mlpcl_trainer *tr, const mlpcl_train_opts *o, mlpcl_train_result *res);
mlpcl_status mlpcl__cl_epoch(mlpcl_trainer *tr, const mlpcl_epoch_opts *o, mlpcl_train_result *res);

/* ---- For the tests (and the backend itself) ----------------------------------------------- */

/* The training plan for mb rows (gathered or not) at the parity of iteration iter (counted
 * from the trainer's current parameters). */
mlpcl_status mlpcl__plan_get(mlpcl_trainer *tr, size_t mb, int gathered, long iter,
                             mlpcl_plan **out);
/* The plan that predicts on mb gathered rows: the forward pass, its output layer's product
 * apart (a training plan may fuse it with the loss: mlpcl_cl_path's output). */
mlpcl_status mlpcl__plan_predict(mlpcl_trainer *tr, size_t mb, mlpcl_plan **out);
/* Enqueues segments [from, to) of a plan. */
mlpcl_status mlpcl__plan_enqueue(mlpcl_trainer *tr, const mlpcl_plan *p, int from, int to);
/* Sets a run's step, momentum and target in every plan, and clears the stop flag; with another
 * optimiser than the plans were built for (tr->optim), drops them to be built again, and uploads
 * its constants. */
mlpcl_status mlpcl__trainer_prepare(mlpcl_trainer *tr, double lr, double momentum, double target);
/* Reads a device buffer into doubles: what = 'A' or 'D' (layer l), 'G', 'V', 'C' (the last
 * cost), 'P' (the parameters of iteration l, counted from the trainer's current ones; 0 or 1).
 * A hidden layer's 'A' and 'D' are one buffer (mlpcl__cl_delta_buffers): its activations until
 * the backward pass, its deltas after. */
mlpcl_status mlpcl__trainer_read(mlpcl_trainer *tr, char what, size_t l, double *out);
/* Makes every iteration write its gradients to G, for 'G' to read: the tiled path's plain SGD
 * otherwise steps in the gradient's epilogue without storing them (data-parallel workers, which
 * read G, keep them from the start). Drops the plans built so far. */
void mlpcl__trainer_keep_gradients(mlpcl_trainer *tr);
/* Reads back every buffer's canary; on the first damaged one names it in what (size bytes)
 * and fails with MLPCL_ERR_DATA. Waits for the queue. */
mlpcl_status mlpcl__cl_canaries_check(mlpcl_trainer *tr, char *what, size_t size);
/* The stop threshold as the device's real type compares it: the least real ≥ target, so that
 * (real) cost < it exactly when cost < target. */
double mlpcl__target_for(mlpcl_precision p, double target);

#endif
