/* train.c: training on a device. The trainer uploads X, Y and the parameters once, builds the
 * launch plans of one iteration (kernel objects with their arguments set, once), and runs full-
 * batch gradient descent reading the cost every iteration without stalling the device: the host
 * waits for iteration k's cost while k+1 is already queued, and the parameters are double-
 * buffered with a device-side stop flag so that stopping at k is exact (see DESIGN.md §3). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEFAULT_WG 64 /* work-group size of the 1-D reductions, before device limits */

void mlpcl_train_opts_default(mlpcl_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->lr = 0.01;
    o->target = 0.1;
    o->max_iter = 10000000;
    o->lookahead = 1;
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

static mlpcl_status set_args(mlpcl_trainer *tr, cl_kernel k, mlpcl_kernel_id id, size_t n,
                             const karg *a)
{
    mlpcl_status st = MLPCL_OK;
    for (size_t i = 0; i < n; ++i) {
        cl_int err = clSetKernelArg(k, (cl_uint)i, a[i].size, a[i].value);
        if (err != CL_SUCCESS) {
            st = mlpcl__cl_fail(err, "clSetKernelArg", tr->ctx->info.name, __FILE__, __LINE__);
            mlpcl__append(" (kernel %s, argument %zu)", mlpcl__kernel_name[id], i);
            return st;
        }
    }
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
    return set_args(tr, k, id, n, a);
fail:
    mlpcl__append(" (kernel %s)", mlpcl__kernel_name[id]);
    return st;
}

/* Appends a launch to a plan list; a 2-D launch covers (gx, gy), rounded up to its local size. */
static mlpcl_status add_launch(mlpcl_launch **list, size_t *n, cl_kernel k, mlpcl_kernel_id id,
                               size_t layer, const mlpcl_trainer *tr, cl_uint dims, size_t gx,
                               size_t gy)
{
    mlpcl_launch *grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (!grown) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for launch plans");
    *list = grown;
    mlpcl_launch *L = &grown[(*n)++];
    memset(L, 0, sizeof *L);
    L->kernel = k;
    L->id = id;
    L->layer = layer;
    L->dims = dims;
    if (dims == 1) {
        L->local[0] = tr->wg;
        L->global[0] = round_up(gx, tr->wg);
    } else {
        /* 16 wide along the output features (contiguous in memory), up to 4 samples deep. */
        size_t lx = tr->wg < 16 ? tr->wg : 16, ly = tr->wg / lx < 4 ? tr->wg / lx : 4;
        L->local[0] = lx;
        L->local[1] = ly;
        L->global[0] = round_up(gx, lx);
        L->global[1] = round_up(gy, ly);
    }
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
    return MLPCL_OK;
fail:
    mlpcl__append(" (buffer %s, %zu bytes)", what, bytes);
    return st;
}

/* Converts n doubles to the device's real type and writes them to buf at element offset. */
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

/* Refuses, before allocating anything, sizes the kernels' int indices or the device cannot
 * hold. */
static mlpcl_status check_sizes(const mlpcl_trainer *tr)
{
    const mlpcl_net *net = tr->net;
    const mlpcl_device_info *d = &tr->ctx->info;
    size_t r = tr->real, m = tr->m, total = 0, n_params = mlpcl_net_n_params(net), biggest = 0;
    const char *biggest_what = "parameters";
    size_t acts = 0;
    for (size_t l = 0; l <= net->L; ++l) {
        size_t mn;
        if (mlpcl__mul_overflows(m, net->width[l], &mn) || mn > (size_t)INT32_MAX)
            return mlpcl__fail(MLPCL_ERR_TOO_BIG,
                               "%zu samples × %zu units in layer %zu exceed %d elements, the "
                               "most a kernel indexes; use fewer samples",
                               m, net->width[l], l, INT32_MAX);
        if (mn * r > biggest) {
            biggest = mn * r;
            biggest_what = l == 0 ? "X" : "an activation";
        }
        if (l >= 1) acts += 2 * mn; /* A_l and D_l */
    }
    total =
        r * (m * (net->width[0] + net->width[net->L]) + acts + 3 * n_params + tr->n_partials + 1) +
        sizeof(cl_int);
    if (n_params * r > biggest) biggest = n_params * r, biggest_what = "the parameters";
    if (total > d->global_mem)
        return mlpcl__fail(MLPCL_ERR_TOO_BIG,
                           "training needs %.1f MiB on the device (data %.1f MiB, activations "
                           "and deltas %.1f MiB, parameters and gradients %.1f MiB) but \"%s\" "
                           "has %.1f MiB; use fewer samples or a smaller network",
                           total / 1048576.0,
                           r * m * (net->width[0] + net->width[net->L]) / 1048576.0,
                           r * acts / 1048576.0, 3.0 * r * n_params / 1048576.0, d->name,
                           d->global_mem / 1048576.0);
    if (biggest > d->max_alloc)
        return mlpcl__fail(MLPCL_ERR_TOO_BIG,
                           "%s need one buffer of %.1f MiB but \"%s\" allocates at most %.1f "
                           "MiB at once; use fewer samples or a smaller network",
                           biggest_what, biggest / 1048576.0, d->name, d->max_alloc / 1048576.0);
    return MLPCL_OK;
}

/* ---- Plans -------------------------------------------------------------------------------- */

/* The launches of one iteration with the parameters in P[p]. Kernels whose arguments do not
 * depend on the parity are created for p = 0 and shared by p = 1. */
static mlpcl_status build_plan(mlpcl_trainer *tr, int p, cl_kernel *shared)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_plan *plan = &tr->plan[p];
    const mlpcl_net *net = tr->net;
    size_t L = net->L, m = tr->m;
    cl_kernel k;
    /* forward, layer by layer */
    for (size_t l = 1; l <= L; ++l) {
        int softmax = l == L && net->loss == MLPCL_CE;
        cl_mem in = l == 1 ? tr->X : tr->A[l - 1];
        karg a[] = {ARG_INT(m),
                    ARG_INT(net->width[l - 1]),
                    ARG_INT(net->width[l]),
                    ARG_INT(softmax ? 3 /* identity */ : (int)net->act[l]),
                    ARG_MEM(in),
                    ARG_MEM(tr->P[p]),
                    ARG_INT(net->offset[l]),
                    ARG_MEM(tr->A[l])};
        TRY(make_kernel(tr, K_FORWARD, &k, 8, a));
        TRY(add_launch(&plan->head, &plan->n_head, k, K_FORWARD, l, tr, 2, net->width[l], m));
    }
    size_t nL = net->width[L];
    if (p == 0) {
        if (net->loss == MLPCL_CE) {
            karg a[] = {ARG_INT(m), ARG_INT(nL), ARG_MEM(tr->A[L])};
            TRY(make_kernel(tr, K_SOFTMAX, &shared[K_SOFTMAX], 3, a));
        }
        karg a[] = {ARG_INT(m * nL),   ARG_INT(m),     ARG_INT(net->act[L]), ARG_INT(net->loss),
                    ARG_MEM(tr->A[L]), ARG_MEM(tr->Y), ARG_MEM(tr->D[L]),    ARG_MEM(tr->partials)};
        TRY(make_kernel(tr, K_OUTPUT_DELTA, &shared[K_OUTPUT_DELTA], 8, a));
        double scale = net->loss == MLPCL_CE ? 1.0 / (double)m : 1.0 / (2.0 * (double)m);
        karg c[] = {ARG_INT(tr->n_partials), ARG_REAL(scale),    ARG_REAL(0.0),
                    ARG_MEM(tr->partials),   ARG_MEM(tr->costs), ARG_MEM(tr->state)};
        TRY(make_kernel(tr, K_COST, &shared[K_COST], 6, c));
        for (size_t l = 1; l <= L; ++l) {
            cl_mem in = l == 1 ? tr->X : tr->A[l - 1];
            karg g[] = {ARG_INT(m),
                        ARG_INT(net->width[l - 1]),
                        ARG_INT(net->width[l]),
                        ARG_MEM(in),
                        ARG_MEM(tr->D[l]),
                        ARG_MEM(tr->G),
                        ARG_INT(net->offset[l])};
            TRY(make_kernel(tr, K_GRADIENT, &shared[K_COUNT + l], 7, g));
        }
    }
    if (net->loss == MLPCL_CE)
        TRY(add_launch(&plan->head, &plan->n_head, shared[K_SOFTMAX], K_SOFTMAX, L, tr, 1, m, 1));
    TRY(add_launch(&plan->head, &plan->n_head, shared[K_OUTPUT_DELTA], K_OUTPUT_DELTA, L, tr, 1,
                   m * nL, 1));
    TRY(add_launch(&plan->head, &plan->n_head, shared[K_COST], K_COST, 0, tr, 1, tr->wg, 1));
    /* tail: hidden deltas from the top down, gradients, update */
    for (size_t l = L - 1; l >= 1; --l) {
        karg a[] = {ARG_INT(m),
                    ARG_INT(net->width[l]),
                    ARG_INT(net->width[l + 1]),
                    ARG_INT(net->act[l]),
                    ARG_MEM(tr->D[l + 1]),
                    ARG_MEM(tr->P[p]),
                    ARG_INT(net->offset[l + 1]),
                    ARG_MEM(tr->A[l]),
                    ARG_MEM(tr->D[l])};
        TRY(make_kernel(tr, K_HIDDEN_DELTA, &k, 9, a));
        TRY(add_launch(&plan->tail, &plan->n_tail, k, K_HIDDEN_DELTA, l, tr, 2, net->width[l], m));
    }
    for (size_t l = 1; l <= L; ++l)
        TRY(add_launch(&plan->tail, &plan->n_tail, shared[K_COUNT + l], K_GRADIENT, l, tr, 2,
                       net->width[l], net->width[l - 1] + 1));
    size_t n = mlpcl_net_n_params(net);
    karg u[] = {ARG_INT(n),     ARG_REAL(0.0),      ARG_MEM(tr->P[p]),
                ARG_MEM(tr->G), ARG_MEM(tr->P[!p]), ARG_MEM(tr->state)};
    TRY(make_kernel(tr, K_UPDATE, &k, 6, u));
    TRY(add_launch(&plan->tail, &plan->n_tail, k, K_UPDATE, 0, tr, 1, n, 1));
fail:
    return st;
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
    size_t wg = DEFAULT_WG;
    if (wg > tr->ctx->info.max_work_group) wg = tr->ctx->info.max_work_group;
    if (wg > items[0]) wg = items[0];
    wg = floor_pow2(wg ? wg : 1);
    for (;;) {
        mlpcl_build_params bp = {tr->precision, wg};
        TRY(mlpcl__program_get(tr->ctx, &bp, &tr->program));
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
    size_t L = net->L, m = tr->m, r = tr->real;
    cl_kernel *shared = NULL;
    TRY(choose_program(tr));
    tr->n_partials = (m * net->width[L] + tr->wg - 1) / tr->wg;
    TRY(check_sizes(tr));
    tr->A = calloc(L + 1, sizeof *tr->A);
    tr->D = calloc(L + 1, sizeof *tr->D);
    shared = calloc(K_COUNT + L + 1, sizeof *shared);
    if (!tr->A || !tr->D || !shared) {
        st = mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a trainer");
        goto fail;
    }
    size_t n = mlpcl_net_n_params(net);
    TRY(make_buffer(tr, &tr->X, m * net->width[0], r, "X"));
    TRY(make_buffer(tr, &tr->Y, m * net->width[L], r, "Y"));
    TRY(make_buffer(tr, &tr->P[0], n, r, "parameters"));
    TRY(make_buffer(tr, &tr->P[1], n, r, "parameters"));
    TRY(make_buffer(tr, &tr->G, n, r, "gradients"));
    for (size_t l = 1; l <= L; ++l) {
        TRY(make_buffer(tr, &tr->A[l], m * net->width[l], r, "activations"));
        TRY(make_buffer(tr, &tr->D[l], m * net->width[l], r, "deltas"));
    }
    TRY(make_buffer(tr, &tr->partials, tr->n_partials, r, "cost partial sums"));
    TRY(make_buffer(tr, &tr->costs, 1, r, "cost"));
    TRY(make_buffer(tr, &tr->state, 1, sizeof(cl_int), "stop flag"));
    TRY(upload(tr, tr->X, X, m * net->width[0]));
    TRY(upload(tr, tr->Y, Y, m * net->width[L]));
    TRY(upload(tr, tr->P[0], net->params, n));
    TRY(upload(tr, tr->P[1], net->params, n));
    TRY(build_plan(tr, 0, shared));
    TRY(build_plan(tr, 1, shared));
fail:
    free(shared);
    return st;
}

mlpcl_status mlpcl_trainer_create(mlpcl_ctx *ctx, const mlpcl_net *net, const double *X,
                                  const double *Y, size_t m, mlpcl_precision precision,
                                  mlpcl_trainer **out)
{
    mlpcl_status st = MLPCL_OK;
    *out = NULL;
    if (m < 1) return mlpcl__fail(MLPCL_ERR_ARG, "training needs at least one sample");
    if (precision != MLPCL_FLOAT && precision != MLPCL_DOUBLE)
        return mlpcl__fail(MLPCL_ERR_ARG, "precision must be float or double");
    if (ctx->is_host && precision != MLPCL_DOUBLE)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "the host reference trainer computes in double precision only");
    mlpcl_trainer *tr = calloc(1, sizeof *tr);
    if (!tr) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a trainer");
    tr->ctx = ctx;
    tr->m = m;
    tr->precision = precision;
    tr->real = (size_t)precision;
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
    } else {
        if (tr->ctx->queue) clFinish(tr->ctx->queue);
        for (size_t i = 0; i < tr->n_kernels; ++i) clReleaseKernel(tr->kernels[i]);
        cl_mem *mems[] = {&tr->X, &tr->Y,        &tr->P[0],  &tr->P[1],
                          &tr->G, &tr->partials, &tr->costs, &tr->state};
        for (size_t i = 0; i < sizeof mems / sizeof *mems; ++i)
            if (*mems[i]) clReleaseMemObject(*mems[i]);
        for (size_t l = 1; tr->net && l <= tr->net->L; ++l) {
            if (tr->A && tr->A[l]) clReleaseMemObject(tr->A[l]);
            if (tr->D && tr->D[l]) clReleaseMemObject(tr->D[l]);
        }
        for (int p = 0; p < 2; ++p) {
            free(tr->plan[p].head);
            free(tr->plan[p].tail);
        }
    }
    free(tr->kernels);
    free(tr->A);
    free(tr->D);
    mlpcl_net_free(tr->net);
    free(tr);
}

/* ---- Running ------------------------------------------------------------------------------ */

mlpcl_status mlpcl__trainer_enqueue(mlpcl_trainer *tr, int tail, long iter)
{
    mlpcl_status st = MLPCL_OK;
    const mlpcl_plan *plan = &tr->plan[(tr->iter + iter) & 1];
    const mlpcl_launch *list = tail ? plan->tail : plan->head;
    size_t n = tail ? plan->n_tail : plan->n_head;
    for (size_t i = 0; i < n; ++i) {
        const mlpcl_launch *L = &list[i];
        cl_int err = clEnqueueNDRangeKernel(tr->ctx->queue, L->kernel, L->dims, NULL, L->global,
                                            L->local, 0, NULL, NULL);
        if (err != CL_SUCCESS) {
            st = mlpcl__cl_fail(err, "clEnqueueNDRangeKernel", tr->ctx->info.name, __FILE__,
                                __LINE__);
            mlpcl__append(" (kernel %s, layer %zu, global %zu×%zu, local %zu×%zu)",
                          mlpcl__kernel_name[L->id], L->layer, L->global[0],
                          L->dims > 1 ? L->global[1] : 1, L->local[0],
                          L->dims > 1 ? L->local[1] : 1);
            return st;
        }
    }
    return st;
}

mlpcl_status mlpcl__trainer_prepare(mlpcl_trainer *tr, double lr, double target)
{
    mlpcl_status st = MLPCL_OK;
    for (int p = 0; p < 2; ++p) {
        const mlpcl_plan *plan = &tr->plan[p];
        cl_kernel cost = plan->head[plan->n_head - 1].kernel;
        cl_kernel update = plan->tail[plan->n_tail - 1].kernel;
        karg t = ARG_REAL(mlpcl__target_for(tr->precision, target));
        karg s = ARG_REAL(lr);
        CL_CHECK(clSetKernelArg(cost, 2, t.size, t.value), "clSetKernelArg(cost, target)",
                 tr->ctx->info.name);
        CL_CHECK(clSetKernelArg(update, 1, s.size, s.value), "clSetKernelArg(update, lr)",
                 tr->ctx->info.name);
    }
    static const cl_int zero = 0;
    CL_CHECK(clEnqueueWriteBuffer(tr->ctx->queue, tr->state, CL_TRUE, 0, sizeof zero, &zero, 0,
                                  NULL, NULL),
             "clEnqueueWriteBuffer(stop flag)", tr->ctx->info.name);
fail:
    return st;
}

mlpcl_status mlpcl__trainer_read(mlpcl_trainer *tr, char what, size_t l, double *out)
{
    const mlpcl_net *net = tr->net;
    switch (what) {
    case 'A':
        return download(tr, tr->A[l], out, tr->m * net->width[l]);
    case 'D':
        return download(tr, tr->D[l], out, tr->m * net->width[l]);
    case 'G':
        return download(tr, tr->G, out, mlpcl_net_n_params(net));
    case 'P':
        return download(tr, tr->P[(tr->iter + (long)l) & 1], out, mlpcl_net_n_params(net));
    case 'C':
        return download(tr, tr->costs, out, 1);
    default:
        return mlpcl__fail(MLPCL_ERR_ARG, "unknown trainer buffer '%c'", what);
    }
}

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

mlpcl_status mlpcl_trainer_run(mlpcl_trainer *tr, const mlpcl_train_opts *opts,
                               mlpcl_train_result *res)
{
    mlpcl_status st = MLPCL_OK;
    memset(res, 0, sizeof *res);
    if (!(opts->lr > 0) || isinf(opts->lr) || isnan(opts->target) || opts->max_iter < 0 ||
        opts->lookahead < 0 || opts->lookahead > 64)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "training options out of range (lr %g, target %g, max_iter %ld, "
                           "lookahead %d)",
                           opts->lr, opts->target, opts->max_iter, opts->lookahead);
    if (tr->ctx->is_host) return mlpcl__ref_run(tr, opts, res);

    const char *dn = tr->ctx->info.name;
    const long D = opts->lookahead;
    cl_command_queue q = tr->ctx->queue;
    cl_event events[65] = {0};
    unsigned char slots[65][8]; /* destinations of the cost reads, one per iteration in flight */
    long next = 0;              /* the next iteration whose head is to be enqueued */
    double t0 = mlpcl__now(), last = NAN;
    long k = 0, kept = 0;
    TRY(mlpcl__trainer_prepare(tr, opts->lr, opts->target));
    for (;; ++k) {
        /* Keep the device up to D iterations ahead of the cost the host waits for. */
        long until = k + D < opts->max_iter ? k + D : opts->max_iter;
        for (; next <= until; ++next) {
            if (next > 0) TRY(mlpcl__trainer_enqueue(tr, 1, next - 1));
            TRY(mlpcl__trainer_enqueue(tr, 0, next));
            long s = next % (D + 1);
            CL_CHECK(clEnqueueReadBuffer(q, tr->costs, CL_FALSE, 0, tr->real, slots[s], 0, NULL,
                                         &events[s]),
                     "clEnqueueReadBuffer(cost)", dn);
        }
        CL_CHECK(clFlush(q), "clFlush", dn);
        double cost;
        TRY(take_cost(tr, &events[k % (D + 1)], slots[k % (D + 1)], &cost));
        if (k == 0) res->start_cost = cost;
        if (opts->on_cost) opts->on_cost(opts->user, k, cost);
        res->iterations = kept = k;
        res->cost = cost;
        if (isnan(cost) || isinf(cost)) {
            res->stop = MLPCL_STOP_DIVERGED;
            res->cost = last;
            kept = k > 0 ? k - 1 : 0;
            break;
        }
        if (cost < opts->target) {
            res->stop = MLPCL_STOP_CONVERGED;
            break;
        }
        if (k >= opts->max_iter) {
            res->stop = MLPCL_STOP_MAX_ITER;
            break;
        }
        last = cost;
    }
    CL_CHECK(clFinish(q), "clFinish", dn);
    res->seconds = mlpcl__now() - t0;
    tr->iter += kept;
fail:
    if (st != MLPCL_OK) clFinish(q);
    for (int i = 0; i < 65; ++i)
        if (events[i]) clReleaseEvent(events[i]);
    return st;
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
