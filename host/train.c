/* train.c: training on a device. The trainer uploads the data set and the parameters once and
 * builds launch plans (kernel objects with their arguments set) for each batch size it meets.
 * Full-batch runs and mini-batch epochs share one loop that reads the cost every iteration
 * without stalling the device: the host waits for iteration k's cost while k+1 is already
 * queued, and the parameters are double-buffered with a device-side stop flag so that stopping
 * at k is exact (DESIGN.md §3). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEFAULT_WG    64   /* work-group size of the 1-D reductions, before device limits */
#define PREDICT_ROWS  1024 /* rows a predicting trainer handles at once, by default */
#define MAX_LOOKAHEAD 64
#define TILED_FROM    4096  /* weights in a layer from which the tiled kernels are used */
#define FUSED_UPTO    65536 /* multiply-adds of a forward pass up to which fused.cl runs it */

/* Whether full-batch iterations can run as one fused launch: small (where seven launches cost
 * more than the arithmetic) and at most four layers. */
static int fusable(const mlpcl_trainer *tr)
{
    size_t work = 0;
    for (size_t l = 1; l <= tr->net->L; ++l)
        work += tr->m * (tr->net->width[l - 1] + 1) * tr->net->width[l];
    return tr->m && tr->net->L <= 4 && work <= FUSED_UPTO;
}

void mlpcl_train_opts_default(mlpcl_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->lr = 0.01;
    o->target = 0.1;
    o->max_iter = 10000000;
    o->lookahead = 4;
}

void mlpcl_epoch_opts_default(mlpcl_epoch_opts *o)
{
    memset(o, 0, sizeof *o);
    o->lr = 0.1;
    o->seed = 1;
    o->lookahead = 4;
}

double mlpcl__target_for(mlpcl_precision p, double target)
{
    if (p == MLPCL_DOUBLE || isnan(target) || isinf(target)) return target;
    float t = (float)target;
    if ((double)t < target) t = nextafterf(t, INFINITY);
    return t;
}

static size_t floor_pow2(size_t x)
{
    size_t p = 1;
    while (p * 2 <= x) p *= 2;
    return p;
}

static size_t round_up(size_t x, size_t to)
{
    return (x + to - 1) / to * to;
}

/* ---- Kernel arguments and launches -------------------------------------------------------- */

typedef struct karg {
    size_t size;
    const void *value;
} karg;

#define ARG_INT(v)  ((karg){sizeof(cl_int), &(cl_int){(cl_int)(v)}})
#define ARG_MEM(v)  ((karg){sizeof(cl_mem), &(v)})
#define ARG_REAL(v) real_arg(tr, (v), &(union real_box){0})
#define N_ARGS(a)   (sizeof(a) / sizeof *(a))

union real_box {
    float f;
    double d;
};

static karg real_arg(const mlpcl_trainer *tr, double v, union real_box *box)
{
    if (tr->precision == MLPCL_DOUBLE) {
        box->d = v;
        return (karg){sizeof(double), &box->d};
    }
    box->f = (float)v;
    return (karg){sizeof(float), &box->f};
}

static mlpcl_status set_arg(mlpcl_trainer *tr, cl_kernel k, cl_uint i, karg a)
{
    cl_int err = clSetKernelArg(k, i, a.size, a.value);
    if (err == CL_SUCCESS) return MLPCL_OK;
    char name[64] = "?";
    clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
    mlpcl_status st = mlpcl__cl_fail(err, "clSetKernelArg", tr->ctx->info.name, __FILE__, __LINE__);
    mlpcl__append(" (kernel %s, argument %u)", name, i);
    return st;
}

/* Creates a kernel object for id, remembers it for release, and sets its arguments. */
static mlpcl_status make_kernel(mlpcl_trainer *tr, mlpcl_kernel_id id, cl_kernel *out, size_t n,
                                const karg *a)
{
    mlpcl_status st = MLPCL_OK;
    cl_int err;
    cl_kernel *grown = realloc(tr->kernels, (tr->n_kernels + 1) * sizeof *grown);
    if (!grown) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for kernels");
    tr->kernels = grown;
    cl_kernel k = clCreateKernel(tr->program->program, mlpcl__kernel_name[id], &err);
    CL_CHECK(err, "clCreateKernel", tr->ctx->info.name);
    tr->kernels[tr->n_kernels++] = k;
    *out = k;
    for (size_t i = 0; i < n; ++i) {
        st = set_arg(tr, k, (cl_uint)i, a[i]); /* its message names the kernel already */
        if (st != MLPCL_OK) return st;
    }
    return MLPCL_OK;
fail:
    mlpcl__append(" (kernel %s)", mlpcl__kernel_name[id]);
    return st;
}

/* Appends a launch to a plan; a 2-D launch covers (gx, gy), rounded up to its local size. */
static mlpcl_status add_launch(mlpcl_plan *p, const mlpcl_trainer *tr, cl_kernel k,
                               mlpcl_kernel_id id, size_t layer, cl_uint dims, size_t gx, size_t gy)
{
    mlpcl_launch *grown = realloc(p->launch, (p->n_launch + 1) * sizeof *grown);
    if (!grown) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for launch plans");
    p->launch = grown;
    mlpcl_launch *L = &grown[p->n_launch++];
    memset(L, 0, sizeof *L);
    L->kernel = k;
    L->id = id;
    L->layer = layer;
    L->dims = dims;
    if (dims == 1) {
        L->local[0] = tr->wg;
        L->global[0] = round_up(gx, tr->wg);
    } else {
        /* 16 wide along the output features (contiguous in memory), up to 4 rows deep. */
        size_t lx = tr->wg < 16 ? tr->wg : 16, ly = tr->wg / lx < 4 ? tr->wg / lx : 4;
        L->local[0] = lx;
        L->local[1] = ly;
        L->global[0] = round_up(gx, lx);
        L->global[1] = round_up(gy, ly);
    }
    return MLPCL_OK;
}

/* Appends a 2-D launch covering (gx, gy) work-items in work-groups of (lx, ly), clamped to the
 * kernels' work-group size and the device's limits; the global size is rounded up. */
static mlpcl_status add_launch_shaped(mlpcl_plan *p, const mlpcl_trainer *tr, cl_kernel k,
                                      mlpcl_kernel_id id, size_t layer, size_t gx, size_t gy,
                                      size_t lx, size_t ly)
{
    mlpcl_status st = add_launch(p, tr, k, id, layer, 2, gx, gy);
    if (st != MLPCL_OK) return st;
    /* The same shape whatever the sizes (POCL compiles a kernel once per work-group shape). */
    if (lx > tr->max_items[0]) lx = tr->max_items[0];
    if (ly > tr->max_items[1]) ly = tr->max_items[1];
    while (lx * ly > tr->wg) ly > 1 ? (ly = (ly + 1) / 2) : (lx = (lx + 1) / 2);
    mlpcl_launch *L = &p->launch[p->n_launch - 1];
    L->local[0] = lx ? lx : 1;
    L->local[1] = ly ? ly : 1;
    L->global[0] = round_up(gx, L->local[0]);
    L->global[1] = round_up(gy, L->local[1]);
    return MLPCL_OK;
}

/* Appends a tiled product's launch for an output of rows × cols: on CPUs work-items of
 * register tiles (work-groups (lx, ly)), with local memory (GPUs) work-groups of exactly
 * (bn/wn, bm/wm) work-items, each group a bm × bn tile. */
static mlpcl_status add_gemm_launch(mlpcl_plan *p, const mlpcl_trainer *tr, cl_kernel k,
                                    mlpcl_kernel_id id, size_t layer, size_t rows, size_t cols,
                                    size_t lx, size_t ly, size_t width)
{
    const mlpcl_tuning *t = &tr->tune;
    if (!t->local)
        return add_launch_shaped(p, tr, k, id, layer, (cols + width - 1) / width,
                                 (rows + (size_t)t->tm - 1) / (size_t)t->tm, lx, ly);
    mlpcl_status st = add_launch(p, tr, k, id, layer, 2, 1, 1);
    if (st != MLPCL_OK) return st;
    mlpcl_launch *L = &p->launch[p->n_launch - 1];
    L->local[0] = (size_t)(t->bn / t->wn);
    L->local[1] = (size_t)(t->bm / t->wm);
    L->global[0] = (cols + (size_t)t->bn - 1) / (size_t)t->bn * L->local[0];
    L->global[1] = (rows + (size_t)t->bm - 1) / (size_t)t->bm * L->local[1];
    return MLPCL_OK;
}

/* ---- Buffers ------------------------------------------------------------------------------ */

static mlpcl_status make_buffer(mlpcl_trainer *tr, cl_mem *out, size_t count, size_t elem,
                                const char *what)
{
    mlpcl_status st = MLPCL_OK;
    cl_int err;
    size_t bytes = count * elem;
    *out = clCreateBuffer(tr->ctx->context, CL_MEM_READ_WRITE, bytes ? bytes : elem, NULL, &err);
    CL_CHECK(err, "clCreateBuffer", tr->ctx->info.name);
    /* Zeros, so that the padding the tiled kernels read past the end holds numbers. */
    static const cl_uint zero = 0;
    CL_CHECK(clEnqueueFillBuffer(tr->ctx->queue, *out, &zero, elem < 4 ? elem : 4, 0,
                                 bytes ? bytes : elem, 0, NULL, NULL),
             "clEnqueueFillBuffer", tr->ctx->info.name);
    return MLPCL_OK;
fail:
    mlpcl__append(" (buffer %s, %zu bytes)", what, bytes);
    return st;
}

/* Converts n doubles to the device's real type and writes them to buf. */
static mlpcl_status upload(mlpcl_trainer *tr, cl_mem buf, const double *v, size_t n)
{
    mlpcl_status st = MLPCL_OK;
    void *tmp = malloc(n * tr->real + 1);
    if (!tmp) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory staging an upload");
    if (tr->precision == MLPCL_DOUBLE)
        memcpy(tmp, v, n * sizeof(double));
    else
        for (size_t i = 0; i < n; ++i) ((float *)tmp)[i] = (float)v[i];
    CL_CHECK(
        clEnqueueWriteBuffer(tr->ctx->queue, buf, CL_TRUE, 0, n * tr->real, tmp, 0, NULL, NULL),
        "clEnqueueWriteBuffer", tr->ctx->info.name);
fail:
    free(tmp);
    return st;
}

static mlpcl_status download(mlpcl_trainer *tr, cl_mem buf, double *v, size_t n)
{
    mlpcl_status st = MLPCL_OK;
    void *tmp = malloc(n * tr->real + 1);
    if (!tmp) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory staging a download");
    CL_CHECK(clEnqueueReadBuffer(tr->ctx->queue, buf, CL_TRUE, 0, n * tr->real, tmp, 0, NULL, NULL),
             "clEnqueueReadBuffer", tr->ctx->info.name);
    for (size_t i = 0; i < n; ++i)
        v[i] = tr->precision == MLPCL_DOUBLE ? ((double *)tmp)[i] : ((float *)tmp)[i];
fail:
    free(tmp);
    return st;
}

static double mib(size_t bytes)
{
    return (double)bytes / 1048576.0;
}

/* Refuses, before allocating anything, sizes the kernels' int indices or the device cannot
 * hold, saying what needs how much and what to change. */
static mlpcl_status check_sizes(const mlpcl_trainer *tr, size_t n_partials)
{
    const mlpcl_net *net = tr->net;
    const mlpcl_device_info *d = &tr->ctx->info;
    size_t r = tr->real, m = tr->m, B = tr->batch, n_params = mlpcl_net_n_params(net);
    size_t n0 = net->width[0], nL = net->width[net->L];
    const char *fix =
        tr->m > tr->batch || !tr->m ? "a smaller --batch" : "fewer samples, or a --batch";
    size_t most = (size_t)INT32_MAX, rows = m > B ? m : B, acts = 0;
    for (size_t l = 0; l <= net->L; ++l) {
        size_t mn;
        if (mlpcl__mul_overflows(rows, net->width[l], &mn) || mn > most)
            return mlpcl__fail(MLPCL_ERR_TOO_BIG,
                               "%zu rows × %zu units in layer %zu exceed %zu elements, the "
                               "most a kernel indexes; use %s",
                               rows, net->width[l], l, most,
                               l == 0 && m > B ? "fewer samples" : fix);
        if (l >= 1) acts += 2 * B * net->width[l]; /* A_l and D_l */
    }
    size_t data = r * m * (n0 + nL) + sizeof(cl_int) * m;
    size_t batch = m > B || !m ? r * B * (n0 + nL) : 0;
    size_t params = 4 * r * n_params; /* P twice, G, V */
    size_t total = data + batch + r * acts + params + r * (n_partials + 1) + sizeof(cl_int);
    if (total > d->global_mem)
        return mlpcl__fail(MLPCL_ERR_TOO_BIG,
                           "training needs %.1f MiB on the device (data set %.1f MiB, batch "
                           "buffers %.1f MiB, activations and deltas of %zu rows %.1f MiB, "
                           "parameters, gradients and velocity %.1f MiB) but \"%s\" has %.1f "
                           "MiB; use %s or a smaller network",
                           mib(total), mib(data), mib(batch), B, mib(r * acts), mib(params),
                           d->name, mib(d->global_mem), fix);
    size_t biggest = r * m * n0, act_max = 0;
    for (size_t l = 1; l <= net->L; ++l)
        if (B * net->width[l] > act_max) act_max = B * net->width[l];
    const char *what = "the training inputs X";
    if (r * act_max > biggest) biggest = r * act_max, what = "one layer's activations";
    if (r * n_params > biggest) biggest = r * n_params, what = "the parameters";
    if (biggest > d->max_alloc)
        return mlpcl__fail(MLPCL_ERR_TOO_BIG,
                           "%s need one buffer of %.1f MiB but \"%s\" allocates at most %.1f "
                           "MiB at once; use %s",
                           what, mib(biggest), d->name, mib(d->max_alloc),
                           !strcmp(what, "the parameters")          ? "a smaller network"
                           : !strcmp(what, "the training inputs X") ? "fewer samples"
                                                                    : fix);
    return MLPCL_OK;
}

/* ---- Plans -------------------------------------------------------------------------------- */

static size_t partial_count(const mlpcl_trainer *tr, size_t mb)
{
    return (mb * tr->net->width[tr->net->L] + tr->wg - 1) / tr->wg;
}

/* The width of the kernels' vectors: 16 floats or 8 doubles. */
static size_t vector_width(const mlpcl_trainer *tr)
{
    return tr->precision == MLPCL_DOUBLE ? 8 : 16;
}

/* Outputs n wide take the narrow kernels (one vector a tile) when one vector covers them. */
static int narrow(const mlpcl_trainer *tr, size_t n)
{
    return n <= vector_width(tr);
}

/* Columns of a tile of kernel id. */
static size_t width_of(const mlpcl_trainer *tr, mlpcl_kernel_id id)
{
    int n = id == K_GEMM_FORWARD_N || id == K_GEMM_BACKWARD_N || id == K_GEMM_GRADIENT_N;
    return (n ? 1 : (size_t)tr->tune.tnv) * vector_width(tr);
}

static size_t gradient_split(const mlpcl_trainer *tr, size_t rows, size_t n_in, size_t n_out);

/* Elements of the gradient slices' scratch: the most any layer needs at the largest batch. */
static size_t max_split_size(const mlpcl_trainer *tr)
{
    size_t most = 0;
    for (size_t l = 1; l <= tr->net->L; ++l) {
        size_t n_in = tr->net->width[l - 1], n_out = tr->net->width[l];
        size_t need = gradient_split(tr, tr->batch, n_in, n_out) * (n_in + 1) * n_out;
        if (need > most) most = need;
    }
    return most;
}

/* How many slices of the samples a layer's gradient is split into on GPUs (local tiles): enough
 * work-groups for two on each compute unit, each slice at least 4 tiles deep, at most 64. */
static size_t gradient_split(const mlpcl_trainer *tr, size_t rows, size_t n_in, size_t n_out)
{
    const mlpcl_tuning *t = &tr->tune;
    if (!t->local) return 1;
    size_t tiles =
        (n_in + (size_t)t->bm) / (size_t)t->bm * ((n_out + (size_t)t->bn - 1) / (size_t)t->bn);
    size_t want = 2 * (size_t)tr->ctx->info.compute_units, split = (want + tiles - 1) / tiles;
    size_t most = rows / (4 * (size_t)t->bk);
    if (split > most) split = most;
    if (split > 64) split = 64;
    return split ? split : 1;
}

/* Remembers a kernel that takes the step (at argument lr_arg) and the momentum (after it). */
static mlpcl_status add_step(mlpcl_plan *p, cl_kernel k, int lr_arg)
{
    cl_kernel *ks = realloc(p->step, (p->n_step + 1) * sizeof *ks);
    if (!ks) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for launch plans");
    p->step = ks;
    int *as = realloc(p->step_arg, (p->n_step + 1) * sizeof *as);
    if (!as) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for launch plans");
    p->step_arg = as;
    p->step[p->n_step] = k;
    p->step_arg[p->n_step++] = lr_arg;
    return MLPCL_OK;
}

/* The fused kernel's work-group: one work-item on CPUs (which run a work-group on one core
 * anyway, and then need no synchronisation), the reductions' size elsewhere. */
static size_t fused_size(const mlpcl_trainer *tr)
{
    return strcmp(tr->ctx->info.type, "cpu") ? tr->wg : 1;
}

/* A full-batch iteration as one launch of fused.cl (with its update), and the same without the
 * update for a run's last cost. */
static mlpcl_status build_fused_plan(mlpcl_trainer *tr, int parity, mlpcl_plan *p)
{
    mlpcl_status st = MLPCL_OK;
    const mlpcl_net *net = tr->net;
    double scale = net->loss == MLPCL_CE ? 1.0 / (double)tr->m : 1.0 / (2.0 * (double)tr->m);
    cl_mem A[5] = {NULL}, D[5] = {NULL}; /* layers 1 … 4, NULL past L */
    for (size_t l = 1; l <= net->L; ++l) A[l] = tr->A[l], D[l] = tr->D[l];
    p->mb = tr->m;
    p->parity = parity;
    for (int last = 0; last < 2; ++last) {
        karg a[] = {ARG_INT(tr->m),     ARG_INT(net->loss),     ARG_REAL(tr->target),
                    ARG_REAL(scale),    ARG_MEM(tr->shape),     ARG_MEM(tr->X),
                    ARG_MEM(tr->Y),     ARG_MEM(tr->P[parity]), ARG_MEM(tr->P[!parity]),
                    ARG_MEM(tr->G),     ARG_MEM(tr->V[parity]), ARG_MEM(tr->V[!parity]),
                    ARG_MEM(A[1]),      ARG_MEM(A[2]),          ARG_MEM(A[3]),
                    ARG_MEM(A[4]),      ARG_MEM(D[1]),          ARG_MEM(D[2]),
                    ARG_MEM(D[3]),      ARG_MEM(D[4]),          ARG_MEM(tr->costs),
                    ARG_MEM(tr->state), ARG_REAL(tr->lr),       ARG_REAL(tr->momentum),
                    ARG_INT(!last)};
        cl_kernel k;
        TRY(make_kernel(tr, K_FUSED, &k, N_ARGS(a), a));
        TRY(add_step(p, k, 22));
        if (last) {
            p->fused_last = k;
            break;
        }
        p->cost = k;
        p->cost_arg = 2;
        p->seg[SEG_GATHER] = p->seg[SEG_FORWARD] = p->seg[SEG_LOSS] = p->n_launch;
        TRY(add_launch(p, tr, k, K_FUSED, 0, 1, fused_size(tr), 1));
        p->launch[p->n_launch - 1].local[0] = p->launch[p->n_launch - 1].global[0] =
            fused_size(tr); /* one work-group, of this size */
        p->seg[SEG_BACKWARD] = p->seg[SEG_UPDATE] = p->seg[SEG_COUNT] = p->n_launch;
    }
fail:
    return st;
}

/* Builds the launches of one iteration over mb rows with the parameters in P[parity]. */
static mlpcl_status build_plan(mlpcl_trainer *tr, size_t mb, int gathered, int parity,
                               mlpcl_plan *p)
{
    mlpcl_status st = MLPCL_OK;
    const mlpcl_net *net = tr->net;
    size_t L = net->L, n0 = net->width[0], nL = net->width[L], n = mlpcl_net_n_params(net);
    cl_mem in0 = gathered ? tr->Xb : tr->X, y = gathered ? tr->Yb : tr->Y;
    cl_mem P = tr->P[parity], P_next = tr->P[!parity];
    cl_kernel k;
    const int tiled = tr->tune.path == MLPCL_PATH_TILED;
    p->mb = mb;
    p->gathered = gathered;
    p->parity = parity;

    if (!gathered && tr->fused) return build_fused_plan(tr, parity, p);

    p->seg[SEG_GATHER] = p->n_launch;
    if (gathered) {
        karg gx[] = {ARG_INT(mb), ARG_INT(n0), ARG_MEM(tr->Xb), ARG_MEM(tr->idx),
                     ARG_INT(0),  ARG_INT(0),  ARG_MEM(tr->Xb)};
        TRY(make_kernel(tr, K_GATHER, &p->gather_x, N_ARGS(gx), gx));
        TRY(add_launch(p, tr, p->gather_x, K_GATHER, 0, 2, n0, mb));
        if (tr->m) {
            karg gy[] = {ARG_INT(mb), ARG_INT(nL), ARG_MEM(tr->Yb), ARG_MEM(tr->idx),
                         ARG_INT(0),  ARG_INT(0),  ARG_MEM(tr->Yb)};
            TRY(make_kernel(tr, K_GATHER, &p->gather_y, N_ARGS(gy), gy));
            TRY(add_launch(p, tr, p->gather_y, K_GATHER, L, 2, nL, mb));
        }
    }

    p->seg[SEG_FORWARD] = p->n_launch;
    for (size_t l = 1; l <= L; ++l) {
        int softmax = l == L && net->loss == MLPCL_CE;
        cl_mem in = l == 1 ? in0 : tr->A[l - 1];
        karg a[] = {ARG_INT(mb),
                    ARG_INT(tiled ? net->width[l] : net->width[l - 1]),
                    ARG_INT(tiled ? net->width[l - 1] : net->width[l]),
                    ARG_INT(softmax ? 3 /* identity */ : (int)net->act[l]),
                    ARG_MEM(in),
                    ARG_MEM(P),
                    ARG_INT(net->offset[l]),
                    ARG_MEM(tr->A[l])};
        if (tiled) {
            mlpcl_kernel_id id = narrow(tr, net->width[l]) ? K_GEMM_FORWARD_N : K_GEMM_FORWARD;
            TRY(make_kernel(tr, id, &k, N_ARGS(a), a));
            TRY(add_gemm_launch(p, tr, k, id, l, mb, net->width[l], 1, (size_t)tr->tune.ly,
                                width_of(tr, id)));
        } else {
            TRY(make_kernel(tr, K_FORWARD, &k, N_ARGS(a), a));
            TRY(add_launch(p, tr, k, K_FORWARD, l, 2, net->width[l], mb));
        }
    }
    if (net->loss == MLPCL_CE) {
        karg a[] = {ARG_INT(mb), ARG_INT(nL), ARG_MEM(tr->A[L])};
        TRY(make_kernel(tr, K_SOFTMAX, &k, N_ARGS(a), a));
        TRY(add_launch(p, tr, k, K_SOFTMAX, L, 1, mb, 1));
    }

    p->seg[SEG_LOSS] = p->n_launch;
    if (tr->m) {
        karg a[] = {ARG_INT(mb * nL),  ARG_INT(mb), ARG_INT(net->act[L]), ARG_INT(net->loss),
                    ARG_MEM(tr->A[L]), ARG_MEM(y),  ARG_MEM(tr->D[L]),    ARG_MEM(tr->partials)};
        TRY(make_kernel(tr, K_OUTPUT_DELTA, &k, N_ARGS(a), a));
        TRY(add_launch(p, tr, k, K_OUTPUT_DELTA, L, 1, mb * nL, 1));
        double scale = net->loss == MLPCL_CE ? 1.0 / (double)mb : 1.0 / (2.0 * (double)mb);
        karg c[] = {ARG_INT(partial_count(tr, mb)), ARG_REAL(scale),    ARG_REAL(tr->target),
                    ARG_MEM(tr->partials),          ARG_MEM(tr->costs), ARG_MEM(tr->state)};
        TRY(make_kernel(tr, K_COST, &p->cost, N_ARGS(c), c));
        p->cost_arg = 2;
        TRY(add_launch(p, tr, p->cost, K_COST, 0, 1, tr->wg, 1));
    }

    p->seg[SEG_BACKWARD] = p->n_launch;
    for (size_t l = L - 1; tr->m && l >= 1; --l) {
        size_t n_l = net->width[l], n_next = net->width[l + 1];
        if (!tiled) {
            karg a[] = {ARG_INT(mb),
                        ARG_INT(n_l),
                        ARG_INT(n_next),
                        ARG_INT(net->act[l]),
                        ARG_MEM(tr->D[l + 1]),
                        ARG_MEM(P),
                        ARG_INT(net->offset[l + 1]),
                        ARG_MEM(tr->A[l]),
                        ARG_MEM(tr->D[l])};
            TRY(make_kernel(tr, K_HIDDEN_DELTA, &k, N_ARGS(a), a));
            TRY(add_launch(p, tr, k, K_HIDDEN_DELTA, l, 2, n_l, mb));
            continue;
        }
        /* W_{l+1} (n_l × n_next), transposed to n_next × n_l, so that the product reads it
         * along rows */
        karg t[] = {ARG_INT(n_l), ARG_INT(n_next), ARG_MEM(P), ARG_INT(net->offset[l + 1]),
                    ARG_MEM(tr->WT)};
        TRY(make_kernel(tr, K_TRANSPOSE, &k, N_ARGS(t), t));
        TRY(add_launch(p, tr, k, K_TRANSPOSE, l + 1, 2, n_next, n_l));
        karg a[] = {ARG_INT(mb),           ARG_INT(n_l),    ARG_INT(n_next),   ARG_INT(net->act[l]),
                    ARG_MEM(tr->D[l + 1]), ARG_MEM(tr->WT), ARG_MEM(tr->A[l]), ARG_MEM(tr->D[l])};
        mlpcl_kernel_id id = narrow(tr, n_l) ? K_GEMM_BACKWARD_N : K_GEMM_BACKWARD;
        TRY(make_kernel(tr, id, &k, N_ARGS(a), a));
        TRY(add_gemm_launch(p, tr, k, id, l, mb, n_l, 1, (size_t)tr->tune.ly, width_of(tr, id)));
    }
    for (size_t l = 1; tr->m && l <= L; ++l) {
        cl_mem in = l == 1 ? in0 : tr->A[l - 1];
        size_t n_in = net->width[l - 1], n_out = net->width[l];
        if (tiled) {
            size_t split = gradient_split(tr, mb, n_in, n_out), count = (n_in + 1) * n_out;
            if (split > 1 && !tr->Gs) /* sized for the largest batch and layer */
                TRY(make_buffer(tr, &tr->Gs, max_split_size(tr), tr->real, "gradient slices"));
            karg a[] = {ARG_INT(mb),
                        ARG_INT(n_out),
                        ARG_INT(n_in),
                        ARG_MEM(in),
                        ARG_MEM(tr->D[l]),
                        ARG_MEM(tr->G),
                        ARG_INT(net->offset[l]),
                        ARG_MEM(P),
                        ARG_MEM(tr->V[parity]),
                        ARG_MEM(tr->V[!parity]),
                        ARG_MEM(P_next),
                        ARG_REAL(tr->lr),
                        ARG_REAL(tr->momentum),
                        ARG_MEM(tr->state),
                        ARG_INT(split),
                        ARG_MEM(tr->Gs)};
            mlpcl_kernel_id id = narrow(tr, n_out) ? K_GEMM_GRADIENT_N : K_GEMM_GRADIENT;
            TRY(make_kernel(tr, id, &k, N_ARGS(a), a));
            TRY(add_step(p, k, 11));
            TRY(add_gemm_launch(p, tr, k, id, l, n_in + 1, n_out, (size_t)tr->tune.gx,
                                (size_t)tr->tune.gy, width_of(tr, id)));
            if (split == 1) continue;
            mlpcl_launch *G3 = &p->launch[p->n_launch - 1]; /* the slices in dimension 2 */
            G3->dims = 3;
            G3->global[2] = split;
            G3->local[2] = 1;
            karg r[] = {ARG_INT(count),         ARG_INT(split),          ARG_MEM(tr->Gs),
                        ARG_MEM(tr->G),         ARG_INT(net->offset[l]), ARG_MEM(P),
                        ARG_MEM(tr->V[parity]), ARG_MEM(tr->V[!parity]), ARG_MEM(P_next),
                        ARG_REAL(tr->lr),       ARG_REAL(tr->momentum),  ARG_MEM(tr->state)};
            TRY(make_kernel(tr, K_GRADIENT_REDUCE, &k, N_ARGS(r), r));
            TRY(add_step(p, k, 9));
            TRY(add_launch(p, tr, k, K_GRADIENT_REDUCE, l, 1, count, 1));
            continue;
        }
        karg a[] = {ARG_INT(mb),       ARG_INT(n_in),  ARG_INT(n_out),         ARG_MEM(in),
                    ARG_MEM(tr->D[l]), ARG_MEM(tr->G), ARG_INT(net->offset[l])};
        TRY(make_kernel(tr, K_GRADIENT, &k, N_ARGS(a), a));
        TRY(add_launch(p, tr, k, K_GRADIENT, l, 2, n_out, n_in + 1));
    }

    p->seg[SEG_UPDATE] = p->n_launch;
    if (tr->m && !tiled) { /* the tiled path updates in the gradients' epilogue */
        karg a[] = {
            ARG_INT(n),        ARG_REAL(tr->lr),       ARG_REAL(tr->momentum),  ARG_MEM(P),
            ARG_MEM(tr->G),    ARG_MEM(tr->V[parity]), ARG_MEM(tr->V[!parity]), ARG_MEM(P_next),
            ARG_MEM(tr->state)};
        TRY(make_kernel(tr, K_UPDATE, &k, N_ARGS(a), a));
        TRY(add_step(p, k, 1));
        TRY(add_launch(p, tr, k, K_UPDATE, 0, 1, n, 1));
    }
    p->seg[SEG_COUNT] = p->n_launch;
fail:
    return st;
}

mlpcl_status mlpcl__plan_get(mlpcl_trainer *tr, size_t mb, int gathered, long iter,
                             mlpcl_plan **out)
{
    int parity = (int)((tr->iter + iter) & 1);
    for (mlpcl_plan *p = tr->plans; p; p = p->next)
        if (p->mb == mb && p->gathered == gathered && p->parity == parity) {
            *out = p;
            return MLPCL_OK;
        }
    mlpcl_status st = MLPCL_OK;
    size_t n0 = tr->net->width[0], nL = tr->net->width[tr->net->L];
    if (gathered && !tr->Xb)
        TRY(make_buffer(tr, &tr->Xb, tr->batch * n0, tr->real, "batch inputs"));
    if (gathered && tr->m && !tr->Yb)
        TRY(make_buffer(tr, &tr->Yb, tr->batch * nL, tr->real, "batch targets"));
    mlpcl_plan *p = calloc(1, sizeof *p);
    if (!p) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a launch plan");
    st = build_plan(tr, mb, gathered, parity, p);
    p->next = tr->plans; /* even on failure, so that its kernels and launches are freed */
    tr->plans = p;
    *out = p;
fail:
    return st;
}

/* Adds the device time of every recorded launch to the per-kernel totals and releases the
 * events; waits for them first. */
static mlpcl_status profile_collect(mlpcl_trainer *tr)
{
    mlpcl_status st = MLPCL_OK;
    if (!tr->prof_n) return MLPCL_OK;
    cl_int err = clWaitForEvents((cl_uint)tr->prof_n, tr->prof_ev);
    for (size_t i = 0; i < tr->prof_n; ++i) {
        cl_ulong t0 = 0, t1 = 0;
        if (err == CL_SUCCESS)
            err = clGetEventProfilingInfo(tr->prof_ev[i], CL_PROFILING_COMMAND_START, sizeof t0,
                                          &t0, NULL);
        if (err == CL_SUCCESS)
            err = clGetEventProfilingInfo(tr->prof_ev[i], CL_PROFILING_COMMAND_END, sizeof t1, &t1,
                                          NULL);
        if (err == CL_SUCCESS) {
            tr->prof_ns[tr->prof_id[i]] += (double)(t1 - t0);
            tr->prof_count[tr->prof_id[i]]++;
        }
        clReleaseEvent(tr->prof_ev[i]);
    }
    tr->prof_n = 0;
    CL_CHECK(err, "clGetEventProfilingInfo", tr->ctx->info.name);
fail:
    return st;
}

static mlpcl_status enqueue_launch(mlpcl_trainer *tr, const mlpcl_launch *L)
{
    cl_event ev = NULL;
    if (tr->profiling && tr->prof_n == tr->prof_cap) {
        mlpcl_status st = profile_collect(tr);
        if (st != MLPCL_OK) return st;
    }
    cl_int err = clEnqueueNDRangeKernel(tr->ctx->queue, L->kernel, L->dims, NULL, L->global,
                                        L->local, 0, NULL, tr->profiling ? &ev : NULL);
    if (err == CL_SUCCESS && ev) {
        tr->prof_ev[tr->prof_n] = ev;
        tr->prof_id[tr->prof_n++] = (int)L->id;
    }
    if (err == CL_SUCCESS) return MLPCL_OK;
    mlpcl_status st =
        mlpcl__cl_fail(err, "clEnqueueNDRangeKernel", tr->ctx->info.name, __FILE__, __LINE__);
    mlpcl__append(" (kernel %s, layer %zu, global %zu×%zu, local %zu×%zu)",
                  mlpcl__kernel_name[L->id], L->layer, L->global[0], L->dims > 1 ? L->global[1] : 1,
                  L->local[0], L->dims > 1 ? L->local[1] : 1);
    return st;
}

mlpcl_status mlpcl__plan_enqueue(mlpcl_trainer *tr, const mlpcl_plan *p, int from, int to)
{
    mlpcl_status st = MLPCL_OK;
    for (size_t i = p->seg[from]; i < p->seg[to] && st == MLPCL_OK; ++i)
        st = enqueue_launch(tr, &p->launch[i]);
    return st;
}

/* Points a plan's gather launches at rows [offset, offset + mb) of a source: through the
 * epoch's shuffle (the training set) or in order (a predicting set). */
static mlpcl_status aim_gather(mlpcl_trainer *tr, mlpcl_plan *p, cl_mem *X, cl_mem *Y, int use_idx,
                               size_t offset)
{
    mlpcl_status st = MLPCL_OK;
    TRY(set_arg(tr, p->gather_x, 2, ARG_MEM(*X)));
    TRY(set_arg(tr, p->gather_x, 4, ARG_INT(use_idx)));
    TRY(set_arg(tr, p->gather_x, 5, ARG_INT(offset)));
    if (Y && p->gather_y) {
        TRY(set_arg(tr, p->gather_y, 2, ARG_MEM(*Y)));
        TRY(set_arg(tr, p->gather_y, 4, ARG_INT(use_idx)));
        TRY(set_arg(tr, p->gather_y, 5, ARG_INT(offset)));
    }
fail:
    return st;
}

mlpcl_status mlpcl__trainer_prepare(mlpcl_trainer *tr, double lr, double momentum, double target)
{
    mlpcl_status st = MLPCL_OK;
    tr->lr = lr;
    tr->momentum = momentum;
    tr->target = mlpcl__target_for(tr->precision, target);
    for (mlpcl_plan *p = tr->plans; p; p = p->next) {
        if (p->cost) TRY(set_arg(tr, p->cost, (cl_uint)p->cost_arg, ARG_REAL(tr->target)));
        if (p->fused_last) TRY(set_arg(tr, p->fused_last, 2, ARG_REAL(tr->target)));
        for (size_t i = 0; i < p->n_step; ++i) {
            TRY(set_arg(tr, p->step[i], (cl_uint)p->step_arg[i], ARG_REAL(lr)));
            TRY(set_arg(tr, p->step[i], (cl_uint)p->step_arg[i] + 1, ARG_REAL(momentum)));
        }
    }
    static const cl_int zero = 0;
    CL_CHECK(clEnqueueWriteBuffer(tr->ctx->queue, tr->state, CL_TRUE, 0, sizeof zero, &zero, 0,
                                  NULL, NULL),
             "clEnqueueWriteBuffer(stop flag)", tr->ctx->info.name);
fail:
    return st;
}

/* ---- Creation ----------------------------------------------------------------------------- */

/* Whether the local-memory tiles fit the device and the built kernels: work-items a group and
 * local memory. */
static int local_fits(const mlpcl_trainer *tr)
{
    const mlpcl_tuning *t = &tr->tune;
    size_t items = (size_t)(t->bn / t->wn) * (size_t)(t->bm / t->wm);
    cl_ulong local = 0;
    if (clGetDeviceInfo(tr->ctx->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local, &local, NULL) ||
        (cl_ulong)t->bk * (cl_ulong)(t->bm + 1 + t->bn) * tr->real > local ||
        items > tr->max_items[0] * tr->max_items[1] || (size_t)(t->bn / t->wn) > tr->max_items[0] ||
        (size_t)(t->bm / t->wm) > tr->max_items[1])
        return 0;
    static const mlpcl_kernel_id ids[] = {K_GEMM_FORWARD, K_GEMM_BACKWARD, K_GEMM_GRADIENT};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; ++i) {
        cl_int err;
        size_t kwg = 0;
        cl_kernel k = clCreateKernel(tr->program->program, mlpcl__kernel_name[ids[i]], &err);
        if (err != CL_SUCCESS) return 0;
        err = clGetKernelWorkGroupInfo(k, tr->ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg,
                                       &kwg, NULL);
        clReleaseKernel(k);
        if (err != CL_SUCCESS || kwg < items) return 0;
    }
    return 1;
}

/* Picks the reductions' work-group size, builds the program, and checks the kernels accept it
 * (a kernel may allow less than the device); rebuilds smaller if not. */
static mlpcl_status choose_program(mlpcl_trainer *tr)
{
    mlpcl_status st = MLPCL_OK;
    size_t items[3] = {1, 1, 1};
    const char *dn = tr->ctx->info.name;
    CL_CHECK(
        clGetDeviceInfo(tr->ctx->device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof items, items, NULL),
        "clGetDeviceInfo(CL_DEVICE_MAX_WORK_ITEM_SIZES)", dn);
    memcpy(tr->max_items, items, sizeof items);
    tr->max_wg = tr->ctx->info.max_work_group;
    TRY(mlpcl__tuning_for(tr->ctx, tr->precision, &tr->tune));
    if (tr->tune.path == MLPCL_PATH_AUTO) {
        /* Tiles pay off once a layer's product is big; small networks are faster to build and
         * as fast to run with one output a work-item. */
        size_t biggest = 0;
        for (size_t l = 1; l <= tr->net->L; ++l)
            if (mlpcl__weights(tr->net, l) > biggest) biggest = mlpcl__weights(tr->net, l);
        tr->tune.path = biggest >= TILED_FROM ? MLPCL_PATH_TILED : MLPCL_PATH_SIMPLE;
        tr->fused = fusable(tr);
    } else if (tr->tune.path == MLPCL_PATH_FUSED) {
        tr->tune.path = MLPCL_PATH_SIMPLE;
        tr->fused = tr->m && tr->net->L <= 4;
    }
    tr->pad = 4 * (size_t)tr->tune.tnv * (tr->precision == MLPCL_DOUBLE ? 8 : 16);
    size_t wg = DEFAULT_WG;
    if (wg > tr->ctx->info.max_work_group) wg = tr->ctx->info.max_work_group;
    if (wg > items[0]) wg = items[0];
    wg = floor_pow2(wg ? wg : 1);
    for (;;) {
        mlpcl_build_params bp = {tr->precision, wg, tr->tune};
        TRY(mlpcl__program_get(tr->ctx, &bp, &tr->program));
        if (tr->program->fresh) tr->build_seconds += tr->program->build_seconds;
        tr->program->fresh = 0;
        size_t kmax = wg;
        for (int id = 0; id < K_COUNT; ++id) {
            cl_int err;
            cl_kernel k = clCreateKernel(tr->program->program, mlpcl__kernel_name[id], &err);
            CL_CHECK(err, "clCreateKernel", dn);
            size_t kwg = 0;
            err = clGetKernelWorkGroupInfo(k, tr->ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                           sizeof kwg, &kwg, NULL);
            clReleaseKernel(k);
            CL_CHECK(err, "clGetKernelWorkGroupInfo(CL_KERNEL_WORK_GROUP_SIZE)", dn);
            if (kwg < kmax) kmax = kwg;
        }
        if (tr->tune.local && !local_fits(tr)) { /* the device cannot run such tiles */
            tr->tune.local = 0;
            continue;
        }
        if (kmax >= wg || wg == 1) break;
        wg = floor_pow2(kmax ? kmax : 1);
    }
    tr->wg = wg;
fail:
    return st;
}

static mlpcl_status device_trainer_init(mlpcl_trainer *tr, const double *X, const double *Y)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_net *net = tr->net;
    size_t L = net->L, m = tr->m, B = tr->batch, r = tr->real, n = mlpcl_net_n_params(net);
    size_t n0 = net->width[0], nL = net->width[L];
    TRY(choose_program(tr));
    size_t n_partials = partial_count(tr, B);
    TRY(check_sizes(tr, n_partials));
    tr->A = calloc(L + 1, sizeof *tr->A);
    tr->D = calloc(L + 1, sizeof *tr->D);
    if (!tr->A || !tr->D) {
        st = mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a trainer");
        goto fail;
    }
    size_t pad = tr->pad, wt = 0;
    TRY(make_buffer(tr, &tr->P[0], n + pad, r, "parameters"));
    TRY(make_buffer(tr, &tr->P[1], n + pad, r, "parameters"));
    for (size_t l = 1; l <= L; ++l)
        TRY(make_buffer(tr, &tr->A[l], B * net->width[l] + pad, r, "activations"));
    for (size_t l = 2; l <= L; ++l)
        if (mlpcl__weights(net, l) > wt) wt = mlpcl__weights(net, l);
    if (wt && m) TRY(make_buffer(tr, &tr->WT, wt + pad, r, "transposed weights"));
    if (m) {
        TRY(make_buffer(tr, &tr->X, m * n0, r, "X"));
        TRY(make_buffer(tr, &tr->Y, m * nL, r, "Y"));
        TRY(make_buffer(tr, &tr->idx, m, sizeof(cl_int), "shuffle index"));
        TRY(make_buffer(tr, &tr->G, n + pad, r, "gradients"));
        TRY(make_buffer(tr, &tr->V[0], n + pad, r, "momentum velocity"));
        TRY(make_buffer(tr, &tr->V[1], n + pad, r, "momentum velocity"));
        for (size_t l = 1; l <= L; ++l)
            TRY(make_buffer(tr, &tr->D[l], B * net->width[l] + pad, r, "deltas"));
        TRY(make_buffer(tr, &tr->partials, n_partials, r, "cost partial sums"));
        TRY(make_buffer(tr, &tr->costs, 1, r, "cost"));
        TRY(upload(tr, tr->X, X, m * n0));
        TRY(upload(tr, tr->Y, Y, m * nL));
    }
    TRY(make_buffer(tr, &tr->state, 1, sizeof(cl_int), "stop flag"));
    if (tr->fused) {
        cl_int shape[1 + 5 + 4 + 4];
        shape[0] = (cl_int)L;
        for (size_t l = 0; l <= L; ++l) shape[1 + l] = (cl_int)net->width[l];
        for (size_t l = 1; l <= L; ++l) {
            shape[1 + L + l] = (cl_int)net->act[l];
            shape[1 + 2 * L + l] = (cl_int)net->offset[l];
        }
        cl_int err;
        tr->shape = clCreateBuffer(tr->ctx->context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                   (2 + 3 * L) * sizeof *shape, shape, &err);
        CL_CHECK(err, "clCreateBuffer(network shape)", tr->ctx->info.name);
    }
    TRY(upload(tr, tr->P[0], net->params, n));
    TRY(upload(tr, tr->P[1], net->params, n));
fail:
    return st;
}

mlpcl_status mlpcl_trainer_create(mlpcl_ctx *ctx, const mlpcl_net *net, const double *X,
                                  const double *Y, size_t m, mlpcl_precision precision,
                                  size_t batch, mlpcl_trainer **out)
{
    mlpcl_status st = MLPCL_OK;
    *out = NULL;
    if (m && (!X || !Y)) return mlpcl__fail(MLPCL_ERR_ARG, "training data missing");
    if (precision != MLPCL_FLOAT && precision != MLPCL_DOUBLE)
        return mlpcl__fail(MLPCL_ERR_ARG, "precision must be float or double");
    if (ctx->is_host && precision != MLPCL_DOUBLE)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "the host reference trainer computes in double precision only");
    if (m > (size_t)INT32_MAX)
        return mlpcl__fail(MLPCL_ERR_TOO_BIG, "%zu samples: at most %d", m, INT32_MAX);
    mlpcl_trainer *tr = calloc(1, sizeof *tr);
    if (!tr) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a trainer");
    tr->ctx = ctx;
    tr->m = m;
    tr->batch = !m ? (batch ? batch : PREDICT_ROWS) : batch && batch < m ? batch : m;
    tr->precision = precision;
    tr->real = (size_t)precision;
    tr->lr = 0.01;
    tr->target = -INFINITY;
    TRY(mlpcl_net_clone(net, &tr->net));
    if (ctx->is_host)
        TRY(mlpcl__ref_trainer_init(tr, X, Y));
    else
        TRY(device_trainer_init(tr, X, Y));
    *out = tr;
    return MLPCL_OK;
fail:
    mlpcl_trainer_free(tr);
    return st;
}

void mlpcl_trainer_free(mlpcl_trainer *tr)
{
    if (!tr) return;
    if (tr->ctx->is_host) {
        if (tr->net) mlpcl__ref_trainer_free(tr);
        for (size_t i = 0; i < tr->n_sets; ++i) free(tr->sets[i].X_h);
    } else {
        if (tr->ctx->queue) clFinish(tr->ctx->queue);
        for (size_t i = 0; i < tr->n_kernels; ++i) clReleaseKernel(tr->kernels[i]);
        cl_mem *mems[] = {&tr->X,     &tr->Y,  &tr->Xb,    &tr->Yb,   &tr->idx,      &tr->P[0],
                          &tr->P[1],  &tr->G,  &tr->V[0],  &tr->V[1], &tr->partials, &tr->costs,
                          &tr->state, &tr->WT, &tr->shape, &tr->Gs};
        for (size_t i = 0; i < sizeof mems / sizeof *mems; ++i)
            if (*mems[i]) clReleaseMemObject(*mems[i]);
        for (size_t l = 1; tr->net && l <= tr->net->L; ++l) {
            if (tr->A && tr->A[l]) clReleaseMemObject(tr->A[l]);
            if (tr->D && tr->D[l]) clReleaseMemObject(tr->D[l]);
        }
        for (size_t i = 0; i < tr->n_sets; ++i)
            if (tr->sets[i].X) clReleaseMemObject(tr->sets[i].X);
        for (size_t i = 0; i < tr->prof_n; ++i) clReleaseEvent(tr->prof_ev[i]);
        free(tr->prof_ev);
        free(tr->prof_id);
        while (tr->plans) {
            mlpcl_plan *next = tr->plans->next;
            free(tr->plans->launch);
            free(tr->plans->step);
            free(tr->plans->step_arg);
            free(tr->plans);
            tr->plans = next;
        }
    }
    free(tr->sets);
    free(tr->kernels);
    free(tr->A);
    free(tr->D);
    mlpcl_net_free(tr->net);
    free(tr);
}

/* ---- Running ------------------------------------------------------------------------------ */

mlpcl_status mlpcl__trainer_read(mlpcl_trainer *tr, char what, size_t l, double *out)
{
    const mlpcl_net *net = tr->net;
    size_t n = mlpcl_net_n_params(net);
    switch (what) {
    case 'A':
        return download(tr, tr->A[l], out, tr->batch * net->width[l]);
    case 'D':
        return download(tr, tr->D[l], out, tr->batch * net->width[l]);
    case 'G':
        return download(tr, tr->G, out, n);
    case 'V':
        return download(tr, tr->V[(tr->iter + (long)l) & 1], out, n);
    case 'P':
        return download(tr, tr->P[(tr->iter + (long)l) & 1], out, n);
    case 'C':
        return download(tr, tr->costs, out, 1);
    default:
        return mlpcl__fail(MLPCL_ERR_ARG, "unknown trainer buffer '%c'", what);
    }
}

/* What one call of the loop below runs: heads 0 … heads−1 (gather, forward, cost) and tails
 * 0 … tails−1 (backward, update), tail j right after head j. */
typedef struct loop {
    long heads, tails;
    int lookahead;
    double target; /* stop when a cost is below it (−∞: never) */
    int epoch;     /* mini-batches through the shuffle, else the whole training set */
    size_t first;  /* step j is batch first + j of the epoch */
    void (*on_cost)(void *user, long iter, double cost, size_t rows);
    void *user;
    volatile sig_atomic_t *interrupt;
} loop;

/* Waits for a non-blocking cost read and returns the value as a double. */
static mlpcl_status take_cost(mlpcl_trainer *tr, cl_event *ev, const unsigned char *slot,
                              double *cost)
{
    mlpcl_status st = MLPCL_OK;
    CL_CHECK(clWaitForEvents(1, ev), "clWaitForEvents(cost read)", tr->ctx->info.name);
    if (tr->precision == MLPCL_DOUBLE) {
        memcpy(cost, slot, sizeof *cost);
    } else {
        float f;
        memcpy(&f, slot, sizeof f);
        *cost = f;
    }
fail:
    clReleaseEvent(*ev);
    *ev = NULL;
    return st;
}

static size_t rows_of(const mlpcl_trainer *tr, const loop *lp, long j)
{
    if (!lp->epoch) return tr->m;
    size_t start = (lp->first + (size_t)j) * tr->batch;
    return tr->m - start < tr->batch ? tr->m - start : tr->batch;
}

/* Enqueues head j (and tail j when the loop has one) and the read of its cost. */
static mlpcl_status enqueue_step(mlpcl_trainer *tr, const loop *lp, long j, unsigned char *slot,
                                 cl_event *ev)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_plan *p;
    TRY(mlpcl__plan_get(tr, rows_of(tr, lp, j), lp->epoch, j, &p));
    if (lp->epoch) TRY(aim_gather(tr, p, &tr->X, &tr->Y, 1, (lp->first + (size_t)j) * tr->batch));
    if (p->fused_last && j >= lp->tails) /* the fused launch updates, unless it is the last */
        TRY(enqueue_launch(
            tr, &(mlpcl_launch){
                    p->fused_last, K_FUSED, 0, 1, {fused_size(tr), 1}, {fused_size(tr), 1}}));
    else
        TRY(mlpcl__plan_enqueue(tr, p, SEG_GATHER, SEG_BACKWARD));
    CL_CHECK(
        clEnqueueReadBuffer(tr->ctx->queue, tr->costs, CL_FALSE, 0, tr->real, slot, 0, NULL, ev),
        "clEnqueueReadBuffer(cost)", tr->ctx->info.name);
    if (j < lp->tails) TRY(mlpcl__plan_enqueue(tr, p, SEG_BACKWARD, SEG_COUNT));
fail:
    return st;
}

static mlpcl_status run_loop(mlpcl_trainer *tr, loop *lp, mlpcl_train_result *res)
{
    mlpcl_status st = MLPCL_OK;
    const char *dn = tr->ctx->info.name;
    const long D = lp->lookahead;
    cl_command_queue q = tr->ctx->queue;
    cl_event events[MAX_LOOKAHEAD + 1] = {0};
    unsigned char slots[MAX_LOOKAHEAD + 1][8]; /* cost read destinations, one a step in flight */
    long next = 0, kept = 0;
    int interrupted = 0;
    double last = NAN, t0 = mlpcl__now();
    for (long k = 0;; ++k) {
        /* Keep the device up to D steps ahead of the cost the host waits for. */
        for (long until = k + D < lp->heads - 1 ? k + D : lp->heads - 1; next <= until; ++next)
            TRY(enqueue_step(tr, lp, next, slots[next % (D + 1)], &events[next % (D + 1)]));
        CL_CHECK(clFlush(q), "clFlush", dn);
        double cost;
        TRY(take_cost(tr, &events[k % (D + 1)], slots[k % (D + 1)], &cost));
        if (k == 0) res->start_cost = cost;
        if (lp->on_cost) lp->on_cost(lp->user, k, cost, rows_of(tr, lp, k));
        res->iterations = kept = k;
        res->cost = cost;
        if (lp->interrupt && *lp->interrupt && !interrupted) {
            /* Queue nothing more: the steps in flight finish, and a run without a tail on its
             * last head ends with the cost of the weights it keeps. */
            interrupted = 1;
            if (lp->tails > next) lp->tails = next;
            if (lp->heads > lp->tails + !lp->epoch) lp->heads = lp->tails + !lp->epoch;
            if (lp->heads < k + 1) lp->heads = k + 1;
        }
        if (isnan(cost) || isinf(cost)) {
            res->stop = MLPCL_STOP_DIVERGED;
            res->cost = last;
            kept = k > 0 ? k - 1 : 0;
            break;
        }
        if (cost < lp->target) {
            res->stop = MLPCL_STOP_CONVERGED;
            break;
        }
        if (k >= lp->heads - 1) {
            res->stop = interrupted ? MLPCL_STOP_INTERRUPTED : MLPCL_STOP_MAX_ITER;
            res->iterations = kept = lp->tails;
            break;
        }
        last = cost;
    }
    CL_CHECK(clFinish(q), "clFinish", dn);
    res->seconds = mlpcl__now() - t0;
    tr->iter += kept;
fail:
    if (st != MLPCL_OK) clFinish(q);
    for (int i = 0; i <= MAX_LOOKAHEAD; ++i)
        if (events[i]) clReleaseEvent(events[i]);
    return st;
}

static mlpcl_status check_step(const mlpcl_trainer *tr, double lr, double momentum, int lookahead)
{
    if (!tr->m) return mlpcl__fail(MLPCL_ERR_ARG, "this trainer has no training data");
    if (!(lr > 0) || isinf(lr) || !(momentum >= 0 && momentum < 1) || lookahead < 0 ||
        lookahead > MAX_LOOKAHEAD)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "training options out of range (lr %g > 0, momentum %g in [0, 1), "
                           "lookahead %d in 0 … %d)",
                           lr, momentum, lookahead, MAX_LOOKAHEAD);
    return MLPCL_OK;
}

static void forward_cost(void *user, long iter, double cost, size_t rows)
{
    const mlpcl_train_opts *o = user;
    (void)rows;
    if (o->on_cost) o->on_cost(o->user, iter, cost);
}

mlpcl_status mlpcl_trainer_run(mlpcl_trainer *tr, const mlpcl_train_opts *opts,
                               mlpcl_train_result *res)
{
    mlpcl_status st = MLPCL_OK;
    memset(res, 0, sizeof *res);
    TRY(check_step(tr, opts->lr, opts->momentum, opts->lookahead));
    if (isnan(opts->target) || opts->max_iter < 0)
        return mlpcl__fail(MLPCL_ERR_ARG, "target %g or max_iter %ld out of range", opts->target,
                           opts->max_iter);
    if (tr->batch < tr->m)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "a run to a target needs a full-batch trainer (batch "
                           "%zu < %zu samples); train by epochs instead",
                           tr->batch, tr->m);
    if (tr->ctx->is_host) return mlpcl__ref_run(tr, opts, res);
    TRY(mlpcl__trainer_prepare(tr, opts->lr, opts->momentum, opts->target));
    loop lp = {opts->max_iter + 1, opts->max_iter, opts->lookahead, opts->target, 0, 0,
               forward_cost,       (void *)opts,   opts->interrupt};
    TRY(run_loop(tr, &lp, res));
fail:
    return st;
}

typedef struct epoch_acc {
    const mlpcl_epoch_opts *o;
    size_t first, total;
    double sum; /* Σ rows · cost over the batches read */
    size_t rows;
} epoch_acc;

static void epoch_cost(void *user, long iter, double cost, size_t rows)
{
    epoch_acc *a = user;
    a->sum += (double)rows * cost;
    a->rows += rows;
    if (a->o->on_batch) a->o->on_batch(a->o->user, a->first + (size_t)iter + 1, a->total, cost);
}

mlpcl_status mlpcl_trainer_epoch(mlpcl_trainer *tr, const mlpcl_epoch_opts *opts,
                                 mlpcl_train_result *res)
{
    mlpcl_status st = MLPCL_OK;
    int *perm = NULL;
    memset(res, 0, sizeof *res);
    TRY(check_step(tr, opts->lr, opts->momentum, opts->lookahead));
    size_t nb = (tr->m + tr->batch - 1) / tr->batch;
    if (opts->first_batch >= nb)
        return mlpcl__fail(MLPCL_ERR_ARG, "batch %zu does not exist: an epoch has %zu",
                           opts->first_batch, nb);
    if (tr->ctx->is_host) return mlpcl__ref_epoch(tr, opts, res);
    size_t count = nb - opts->first_batch;
    if (opts->max_batches && opts->max_batches < count) count = opts->max_batches;
    perm = malloc(tr->m * sizeof *perm);
    if (!perm) {
        st = mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for the shuffle");
        goto fail;
    }
    mlpcl__shuffle(tr->m, opts->seed, opts->epoch, perm);
    CL_CHECK(clEnqueueWriteBuffer(tr->ctx->queue, tr->idx, CL_TRUE, 0, tr->m * sizeof *perm, perm,
                                  0, NULL, NULL),
             "clEnqueueWriteBuffer(shuffle index)", tr->ctx->info.name);
    TRY(mlpcl__trainer_prepare(tr, opts->lr, opts->momentum, -INFINITY));
    epoch_acc acc = {opts, opts->first_batch, nb, 0.0, 0};
    loop lp = {(long)count, (long)count, opts->lookahead, -INFINITY, 1, opts->first_batch,
               epoch_cost,  &acc,        opts->interrupt};
    TRY(run_loop(tr, &lp, res));
    if (res->stop != MLPCL_STOP_DIVERGED) res->cost = acc.sum / (double)acc.rows;
fail:
    free(perm);
    return st;
}

mlpcl_status mlpcl_trainer_profile_start(mlpcl_trainer *tr)
{
    if (tr->ctx->is_host || !(tr->ctx->flags & MLPCL_CTX_PROFILE))
        return mlpcl__fail(MLPCL_ERR_ARG, "profiling needs an OpenCL context created with "
                                          "MLPCL_CTX_PROFILE");
    if (!tr->prof_ev) {
        tr->prof_cap = 4096;
        tr->prof_ev = malloc(tr->prof_cap * sizeof *tr->prof_ev);
        tr->prof_id = malloc(tr->prof_cap * sizeof *tr->prof_id);
        if (!tr->prof_ev || !tr->prof_id)
            return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for profiling");
    }
    memset(tr->prof_ns, 0, sizeof tr->prof_ns);
    memset(tr->prof_count, 0, sizeof tr->prof_count);
    tr->profiling = 1;
    return MLPCL_OK;
}

mlpcl_status mlpcl_trainer_profile(mlpcl_trainer *tr, mlpcl_kernel_time *out, size_t *n)
{
    mlpcl_status st = profile_collect(tr);
    *n = 0;
    if (st != MLPCL_OK) return st;
    for (int id = 0; id < K_COUNT; ++id)
        if (tr->prof_count[id])
            out[(*n)++] = (mlpcl_kernel_time){mlpcl__kernel_name[id], 1e-9 * tr->prof_ns[id],
                                              tr->prof_count[id]};
    tr->profiling = 0;
    return MLPCL_OK;
}

double mlpcl_trainer_build_seconds(const mlpcl_trainer *tr)
{
    return tr->build_seconds;
}

void mlpcl_trainer_describe(const mlpcl_trainer *tr, char *buf, size_t size)
{
    char t[160];
    if (tr->ctx->is_host) {
        snprintf(buf, size, "host reference (plain C, double)");
        return;
    }
    mlpcl__tuning_format(&tr->tune, t, sizeof t);
    if (tr->fused)
        snprintf(buf, size, "fused");
    else if (tr->tune.path == MLPCL_PATH_TILED)
        snprintf(buf, size, "tiled (%s)", t + strlen("path=tiled,"));
    else
        snprintf(buf, size, "simple");
}

mlpcl_status mlpcl_trainer_params(mlpcl_trainer *tr, mlpcl_net *net)
{
    size_t n = mlpcl_net_n_params(tr->net);
    if (mlpcl_net_n_params(net) != n || net->L != tr->net->L)
        return mlpcl__fail(MLPCL_ERR_ARG, "the network's shape differs from the trainer's");
    if (tr->ctx->is_host) {
        memcpy(net->params, tr->net->params, n * sizeof *net->params);
        return MLPCL_OK;
    }
    return download(tr, tr->P[tr->iter & 1], net->params, n);
}

mlpcl_status mlpcl_trainer_velocity(mlpcl_trainer *tr, double *v)
{
    size_t n = mlpcl_net_n_params(tr->net);
    if (!tr->m) return mlpcl__fail(MLPCL_ERR_ARG, "this trainer has no training data");
    if (tr->ctx->is_host) {
        memcpy(v, tr->V_h, n * sizeof *v);
        return MLPCL_OK;
    }
    return download(tr, tr->V[tr->iter & 1], v, n);
}

mlpcl_status mlpcl_trainer_set_velocity(mlpcl_trainer *tr, const double *v)
{
    size_t n = mlpcl_net_n_params(tr->net);
    if (!tr->m) return mlpcl__fail(MLPCL_ERR_ARG, "this trainer has no training data");
    if (tr->ctx->is_host) {
        memcpy(tr->V_h, v, n * sizeof *v);
        return MLPCL_OK;
    }
    mlpcl_status st = upload(tr, tr->V[0], v, n);
    return st == MLPCL_OK ? upload(tr, tr->V[1], v, n) : st;
}

/* ---- Predicting --------------------------------------------------------------------------- */

mlpcl_status mlpcl_trainer_add_set(mlpcl_trainer *tr, const double *X, size_t n, int *id)
{
    mlpcl_status st = MLPCL_OK;
    size_t n0 = tr->net->width[0], bytes;
    if (n > (size_t)INT32_MAX || mlpcl__mul_overflows(n * n0, tr->real, &bytes))
        return mlpcl__fail(MLPCL_ERR_TOO_BIG, "a data set of %zu samples is too big", n);
    if (!tr->ctx->is_host && bytes > tr->ctx->info.max_alloc)
        return mlpcl__fail(MLPCL_ERR_TOO_BIG,
                           "%zu samples of %zu features need %.1f MiB but \"%s\" allocates at "
                           "most %.1f MiB at once; predict on fewer samples at a time",
                           n, n0, mib(bytes), tr->ctx->info.name, mib(tr->ctx->info.max_alloc));
    mlpcl_set *grown = realloc(tr->sets, (tr->n_sets + 1) * sizeof *grown);
    if (!grown) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a data set");
    tr->sets = grown;
    mlpcl_set *s = &tr->sets[tr->n_sets];
    memset(s, 0, sizeof *s);
    s->n = n;
    if (tr->ctx->is_host) {
        s->X_h = malloc(n * n0 * sizeof *s->X_h + 1);
        if (!s->X_h) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a data set");
        memcpy(s->X_h, X, n * n0 * sizeof *X);
    } else {
        st = make_buffer(tr, &s->X, n * n0, tr->real, "predicting set");
        if (st == MLPCL_OK) st = upload(tr, s->X, X, n * n0);
        if (st != MLPCL_OK) {
            if (s->X) clReleaseMemObject(s->X);
            return st;
        }
    }
    *id = (int)tr->n_sets++;
    return MLPCL_OK;
}

mlpcl_status mlpcl_trainer_predict(mlpcl_trainer *tr, int id, double *out)
{
    mlpcl_status st = MLPCL_OK;
    if (id < 0 || (size_t)id >= tr->n_sets)
        return mlpcl__fail(MLPCL_ERR_ARG, "no data set %d in this trainer", id);
    mlpcl_set *s = &tr->sets[id];
    size_t L = tr->net->L, nL = tr->net->width[L], n0 = tr->net->width[0];
    for (size_t start = 0; start < s->n; start += tr->batch) {
        size_t mb = s->n - start < tr->batch ? s->n - start : tr->batch;
        if (tr->ctx->is_host) {
            mlpcl__ref_forward(tr->net, tr->net->params, s->X_h + start * n0, mb, tr->A_h);
            memcpy(out + start * nL, tr->A_h[L], mb * nL * sizeof *out);
            continue;
        }
        mlpcl_plan *p;
        TRY(mlpcl__plan_get(tr, mb, 1, 0, &p));
        TRY(aim_gather(tr, p, &s->X, NULL, 0, start));
        /* the gather of X alone (the segment's first launch), then the forward segment */
        TRY(enqueue_launch(tr, &p->launch[p->seg[SEG_GATHER]]));
        TRY(mlpcl__plan_enqueue(tr, p, SEG_FORWARD, SEG_LOSS));
        TRY(download(tr, tr->A[L], out + start * nL, mb * nL));
    }
fail:
    return st;
}
