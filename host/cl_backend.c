// SPDX-License-Identifier: MIT
/* cl_backend.c: the OpenCL backend's life and its table of operations: choosing the kernel
 * path and building the program, making the buffers and uploading the data set, freeing, and
 * the parameters, velocity and predicting sets. Training itself is cl_loop.c's; launches are
 * planned in cl_plan*.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_backend.h"
#include "cl_dropout.h"

#define DEFAULT_WG 64   /* work-group size of the 1-D reductions, before device limits */
#define TILED_FROM 4096 /* weights in a layer from which the tiled kernels are used */

static size_t floor_pow2(size_t x)
{
    size_t p = 1;
    while (p * 2 <= x) p *= 2;
    return p;
}

/* Whether the local-memory tiles fit the device and the built kernels: work-items a group and
 * local memory. */
static int local_fits(const mlpcl_trainer *tr, const mlpcl_program *prog)
{
    const mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_tuning *t = &c->tune;
    size_t items = (size_t)(t->bn / t->wn) * (size_t)(t->bm / t->wm);
    /* gemm_gpu.cl's tiles: BK × (BM + 1 + BN) elements, or two slices of each operand padded
     * by one element (by four where it reads vectors of four: VREAD) */
    int vread = t->lb == 2 && t->lv == 4 && t->wm % 4 == 0 && t->wn % 4 == 0 && t->bk % 4 == 0;
    cl_ulong tiles = t->lb == 2 ? 2 * (cl_ulong)t->bk * (cl_ulong)(t->bm + t->bn + (vread ? 8 : 2))
                                : (cl_ulong)t->bk * (cl_ulong)(t->bm + 1 + t->bn);
    cl_ulong local = 0;
    if (clGetDeviceInfo(tr->ctx->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local, &local, NULL) ||
        tiles * tr->real > local || items > c->max_items[0] * c->max_items[1] ||
        (size_t)(t->bn / t->wn) > c->max_items[0] || (size_t)(t->bm / t->wm) > c->max_items[1])
        return 0;
    static const mlpcl_kernel_id ids[] = {K_GEMM_FORWARD, K_GEMM_BACKWARD, K_GEMM_GRADIENT};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; ++i) {
        cl_int err;
        size_t kwg = 0;
        cl_kernel k = clCreateKernel(prog->program, mlpcl__kernel_name[ids[i]], &err);
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
    mlpcl_cl *c = mlpcl__cl(tr);
    mlpcl_status st = MLPCL_OK;
    size_t items[3] = {1, 1, 1};
    const char *dn = tr->ctx->info.name;
    CL_CHECK(
        clGetDeviceInfo(tr->ctx->device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof items, items, NULL),
        "clGetDeviceInfo(CL_DEVICE_MAX_WORK_ITEM_SIZES)", dn);
    memcpy(c->max_items, items, sizeof items);
    c->max_wg = tr->ctx->info.max_work_group;
    TRY(mlpcl__tuning_for(tr->ctx, tr->precision, &c->tune));
    if (c->tune.path == MLPCL_PATH_AUTO) {
        /* Tiles pay off once a layer's product is big; small networks are faster to build and
         * as fast to run with one output a work-item. */
        size_t biggest = 0;
        for (size_t l = 1; l <= tr->net->L; ++l)
            if (mlpcl__weights(tr->net, l) > biggest) biggest = mlpcl__weights(tr->net, l);
        c->tune.path = biggest >= TILED_FROM ? MLPCL_PATH_TILED : MLPCL_PATH_SIMPLE;
        c->fused = mlpcl__cl_fusable(tr);
    } else if (c->tune.path == MLPCL_PATH_FUSED) {
        c->tune.path = MLPCL_PATH_SIMPLE;
        c->fused = mlpcl__cl_fused_fits(tr);
    }
    if (tr->worker) c->fused = 0; /* a worker's update waits for the others' gradients */
    c->pad = 4 * (size_t)c->tune.tnv * (tr->precision == MLPCL_PRECISION_DOUBLE ? 8 : 16);
    /* and the gradient's rows past k: up to TM − 1 elements past X's (Xb's) last row */
    if (c->pad < (size_t)c->tune.tm) c->pad = (size_t)c->tune.tm;
    size_t wg = DEFAULT_WG;
    if (wg > tr->ctx->info.max_work_group) wg = tr->ctx->info.max_work_group;
    if (wg > items[0]) wg = items[0];
    wg = floor_pow2(wg ? wg : 1);
    /* CPUs (POCL, whose builds our binary cache does not skip) build, for each new launch plan,
     * a program of the kernels it makes that the trainer lacks (cl_plan.c's plan_get): only
     * fused.cl's for a small network's runs to a target, 4 of the 26 for a batch-64 epoch of
     * 784-256-10 (built in 1.3-1.4 s against 1.8-2.1 s for all, 2-core EPYC: docs/cold-start.md).
     * GPUs, whose binaries are cached, build every kernel now, and fit the work-group to them. */
    c->lazy = mlpcl__ctx_is_cpu(tr->ctx) && !c->tune.local;
    while (!c->lazy) {
        mlpcl_build_params bp = {tr->precision, wg, c->tune, tr->batch, 0};
        size_t kmax = wg;
        mlpcl_program *prog;
        TRY(mlpcl__cl_program_build(tr, &bp, &prog, &kmax));
        if (c->tune.local && !local_fits(tr, prog)) { /* the device cannot run such tiles: one */
            if (c->tune.lb > 1)                       /* buffer an operand, else register tiles */
                c->tune.lb = 1;
            else
                c->tune.local = 0;
            continue;
        }
        if (kmax >= wg || wg == 1) {
            for (int id = 0; id < K_COUNT; ++id)
                if (mlpcl__program_has(&bp, (mlpcl_kernel_id)id)) c->program_of[id] = prog;
            break;
        }
        wg = floor_pow2(kmax ? kmax : 1);
    }
    c->wg = wg;
fail:
    return st;
}

static void cl_free(mlpcl_trainer *tr);

static mlpcl_status cl_create(mlpcl_trainer *tr, const double *X, const double *Y)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = calloc(1, sizeof *c);
    if (!c) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a trainer");
    tr->backend = c;
    mlpcl_net *net = tr->net;
    size_t L = net->L, m = tr->m, B = tr->batch, r = tr->real, n = mlpcl_net_n_params(net);
    size_t n0 = net->width[0], nL = net->width[L];
    TRY(choose_program(tr));
    c->keep_gradients = tr->worker; /* workers read G for the all-reduce */
    size_t n_partials = mlpcl__cl_partial_count(tr, B);
    TRY(mlpcl__cl_check_sizes(tr, n_partials));
    c->A = calloc(L + 1, sizeof *c->A);
    c->D = calloc(L + 1, sizeof *c->D);
    if (!c->A || !c->D) {
        st = mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a trainer");
        goto fail;
    }
    size_t pad = c->pad, wt = 0;
    TRY(mlpcl__cl_buffer(tr, &c->P[0], n, pad, r, "parameters", 0));
    TRY(mlpcl__cl_buffer(tr, &c->P[1], n, pad, r, "parameters", 0));
    TRY(mlpcl__cl_layer_buffers(tr, c->A, "activations"));
    for (size_t l = 2; l <= L; ++l)
        if (mlpcl__weights(net, l) > wt) wt = mlpcl__weights(net, l);
    if (wt && m) TRY(mlpcl__cl_buffer(tr, &c->WT, wt, pad, r, "transposed weights", 0));
    if (m) {
        TRY(mlpcl__cl_buffer(tr, &c->X, m * n0, c->pad, r, "X", 0));
        TRY(mlpcl__cl_buffer(tr, &c->Y, m * nL, 0, r, "Y", 0));
        TRY(mlpcl__cl_buffer(tr, &c->idx, m, 0, sizeof(cl_int), "shuffle index", 0));
        TRY(mlpcl__cl_buffer(tr, &c->G, n, pad, r, "gradients", 0));
        TRY(mlpcl__cl_buffer(tr, &c->V[0], n, pad, r, "momentum velocity", 0));
        TRY(mlpcl__cl_buffer(tr, &c->V[1], n, pad, r, "momentum velocity", 0));
        TRY(mlpcl__cl_buffer(tr, &c->T[0], 1, 0, sizeof(cl_int), "Adam step count", 0));
        TRY(mlpcl__cl_buffer(tr, &c->T[1], 1, 0, sizeof(cl_int), "Adam step count", 0));
        TRY(mlpcl__cl_buffer(tr, &c->hyper, 4, 0, r, "optimiser constants", 0));
        TRY(mlpcl__cl_delta_buffers(tr));
        TRY(mlpcl__cl_buffer(tr, &c->partials, n_partials, 0, r, "cost partial sums", 0));
        /* a cost an iteration of a read of several (cl_loop.c) */
        TRY(mlpcl__cl_buffer(tr, &c->costs, MLPCL__MAX_LOOKAHEAD + 1, 0, r, "cost", 0));
        TRY(mlpcl__cl_upload(tr, c->X, X, m * n0));
        TRY(mlpcl__cl_upload(tr, c->Y, Y, m * nL));
    }
    TRY(mlpcl__cl_buffer(tr, &c->state, 1, 0, sizeof(cl_int), "stop flag", 0));
    if (c->fused) TRY(mlpcl__cl_fused_shape(tr));
    TRY(mlpcl__cl_upload(tr, c->P[0], net->params, n));
    TRY(mlpcl__cl_upload(tr, c->P[1], net->params, n));
fail:
    return st;
}

static void cl_free(mlpcl_trainer *tr)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    if (!c) return;
    if (tr->ctx->queue) clFinish(tr->ctx->queue);
    for (size_t i = 0; i < c->n_kernels; ++i) clReleaseKernel(c->kernels[i]);
    cl_mem *mems[] = {&c->X,     &c->Y,    &c->Xb,    &c->Yb,   &c->idx,      &c->P[0],
                      &c->P[1],  &c->G,    &c->V[0],  &c->V[1], &c->partials, &c->costs,
                      &c->state, &c->WT,   &c->shape, &c->Gs,   &c->S[0],     &c->S[1],
                      &c->T[0],  &c->T[1], &c->hyper, &c->Wp};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; ++i)
        if (*mems[i]) clReleaseMemObject(*mems[i]);
    for (size_t l = 1; l <= tr->net->L; ++l) {
        if (c->A && c->A[l]) clReleaseMemObject(c->A[l]);
        if (c->D && c->D[l]) clReleaseMemObject(c->D[l]);
    }
    /* then the one buffer of all layers' that a fused trainer's are parts of */
    if (c->A && c->A[0]) clReleaseMemObject(c->A[0]);
    if (c->D && c->D[0]) clReleaseMemObject(c->D[0]);
    for (size_t i = 0; i < tr->n_sets; ++i)
        if (c->sets[i]) clReleaseMemObject(c->sets[i]);
    mlpcl__cl_dropout_free(tr);
    mlpcl__cl_profile_free(c);
    mlpcl__cl_plans_free(c);
    free(c->sets);
    free(c->kernels);
    free(c->canaries);
    free(c->A);
    free(c->D);
    free(c);
    tr->backend = NULL;
}

static mlpcl_status cl_params(mlpcl_trainer *tr, double *P)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    return mlpcl__cl_download(tr, c->P[tr->iter & 1], P, mlpcl_net_n_params(tr->net));
}

static mlpcl_status cl_velocity(mlpcl_trainer *tr, double *V)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    return mlpcl__cl_download(tr, c->V[tr->iter & 1], V, mlpcl_net_n_params(tr->net));
}

static mlpcl_status cl_set_velocity(mlpcl_trainer *tr, const double *V)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    size_t n = mlpcl_net_n_params(tr->net);
    mlpcl_status st = mlpcl__cl_upload(tr, c->V[0], V, n);
    return st == MLPCL_OK ? mlpcl__cl_upload(tr, c->V[1], V, n) : st;
}

static mlpcl_status cl_set_params(mlpcl_trainer *tr, const double *P)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    size_t n = mlpcl_net_n_params(tr->net);
    c->panels_current = 0;
    mlpcl_status st = mlpcl__cl_upload(tr, c->P[0], P, n);
    return st == MLPCL_OK ? mlpcl__cl_upload(tr, c->P[1], P, n) : st;
}

static mlpcl_status cl_adam_state(mlpcl_trainer *tr, double *S, long *t)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    size_t n = mlpcl_net_n_params(tr->net);
    cl_int step = 0;
    int cur = (int)(tr->iter & 1);
    if (S && c->S[0]) TRY(mlpcl__cl_download(tr, c->S[cur], S, n));
    if (S && !c->S[0]) memset(S, 0, n * sizeof *S);
    CL_CHECK(clEnqueueReadBuffer(tr->ctx->queue, c->T[cur], CL_TRUE, 0, sizeof step, &step, 0, NULL,
                                 NULL),
             "clEnqueueReadBuffer(Adam step count)", tr->ctx->info.name);
    *t = step;
fail:
    return st;
}

static mlpcl_status cl_set_adam_state(mlpcl_trainer *tr, const double *S, long t)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    size_t n = mlpcl_net_n_params(tr->net);
    const cl_int step = (cl_int)t; /* the front has checked its range */
    if (S) {
        TRY(mlpcl__cl_make_adam(tr));
        TRY(mlpcl__cl_upload(tr, c->S[0], S, n));
        TRY(mlpcl__cl_upload(tr, c->S[1], S, n));
    }
    for (int i = 0; i < 2; ++i)
        CL_CHECK(clEnqueueWriteBuffer(tr->ctx->queue, c->T[i], CL_TRUE, 0, sizeof step, &step, 0,
                                      NULL, NULL),
                 "clEnqueueWriteBuffer(Adam step count)", tr->ctx->info.name);
fail:
    return st;
}

static mlpcl_status cl_add_set(mlpcl_trainer *tr, int id, const double *X, size_t n)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    size_t n0 = tr->net->width[0], bytes = n * n0 * tr->real; /* checked by the front */
    if (bytes > tr->ctx->info.max_alloc)
        return mlpcl__fail(MLPCL_ERR_TOO_BIG,
                           "%zu samples of %zu features need %.1f MiB but \"%s\" allocates at "
                           "most %.1f MiB at once; predict on fewer samples at a time",
                           n, n0, mlpcl__mib(bytes), tr->ctx->info.name,
                           mlpcl__mib(tr->ctx->info.max_alloc));
    cl_mem *grown = realloc(c->sets, ((size_t)id + 1) * sizeof *grown);
    if (!grown) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a data set");
    c->sets = grown;
    c->sets[id] = NULL;
    mlpcl_status st = mlpcl__cl_buffer(tr, &c->sets[id], n * n0, 0, tr->real, "predicting set", 0);
    if (st == MLPCL_OK) st = mlpcl__cl_upload(tr, c->sets[id], X, n * n0);
    if (st != MLPCL_OK) mlpcl__cl_buffer_release(tr, &c->sets[id]);
    return st;
}

static mlpcl_status cl_predict(mlpcl_trainer *tr, int id, size_t start, size_t rows, double *out)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    size_t L = tr->net->L;
    mlpcl_plan *p;
    TRY(mlpcl__cl_fill_pending(tr)); /* the layers' rows, zeroed before any launch */
    TRY(mlpcl__plan_predict(tr, rows, &p));
    TRY(mlpcl__cl_aim_rows(tr, p, &c->sets[id], NULL, 0, start));
    /* the gather of X alone (the targets' source NULL), or none where the first layer reads the
     * set in place, then the forward segment */
    TRY(mlpcl__plan_enqueue(tr, p, SEG_GATHER, SEG_LOSS));
    TRY(mlpcl__cl_download(tr, c->A[L], out, rows * tr->net->width[L]));
fail:
    return st;
}

static double cl_build_seconds(const mlpcl_trainer *tr)
{
    return mlpcl__cl(tr)->build_seconds;
}

static void cl_describe(const mlpcl_trainer *tr, char *buf, size_t size)
{
    const mlpcl_cl *c = mlpcl__cl(tr);
    char t[160];
    mlpcl__tuning_format(&c->tune, t, sizeof t);
    if (c->fused)
        snprintf(buf, size, "fused");
    else if (c->tune.path == MLPCL_PATH_TILED)
        snprintf(buf, size, "tiled (%s) from %s", t + strlen("path=tiled,"),
                 c->tune.source ? c->tune.source : "defaults");
    else
        snprintf(buf, size, "simple");
}

const mlpcl_backend_ops mlpcl__cl_ops = {
    .name = "opencl",
    .create = cl_create,
    .free = cl_free,
    .run = mlpcl__cl_run,
    .epoch = mlpcl__cl_epoch,
    .params = cl_params,
    .velocity = cl_velocity,
    .set_velocity = cl_set_velocity,
    .set_params = cl_set_params,
    .adam_state = cl_adam_state,
    .set_adam_state = cl_set_adam_state,
    .add_set = cl_add_set,
    .predict = cl_predict,
    .describe = cl_describe,
    .profile_start = mlpcl__cl_profile_start,
    .profile = mlpcl__cl_profile,
    .build_seconds = cl_build_seconds,
};
