// SPDX-License-Identifier: MIT
/* cl_launch.c: kernel objects with their arguments set, and launches: their shapes (1-D, 2-D
 * clamped to the device, the tiled products' tiles), the kernels that take the step, and
 * enqueuing a launch or a plan's segments. */
#include <stdlib.h>
#include <string.h>

#include "cl_backend.h"

static size_t round_up(size_t x, size_t to)
{
    return (x + to - 1) / to * to;
}

karg mlpcl__cl_real(const mlpcl_trainer *tr, double v, union real_box *box)
{
    if (tr->precision == MLPCL_PRECISION_DOUBLE) {
        box->d = v;
        return (karg){sizeof(double), &box->d};
    }
    box->f = (float)v;
    return (karg){sizeof(float), &box->f};
}

mlpcl_status mlpcl__cl_set_arg(mlpcl_trainer *tr, cl_kernel k, cl_uint i, karg a)
{
    cl_int err = clSetKernelArg(k, i, a.size, a.value);
    if (err == CL_SUCCESS) return MLPCL_OK;
    char name[64] = "?";
    clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
    mlpcl_status st = mlpcl__cl_fail(err, "clSetKernelArg", tr->ctx->info.name, __FILE__, __LINE__);
    mlpcl__append(" (kernel %s, argument %u)", name, i);
    return st;
}

mlpcl_status mlpcl__cl_program_build(mlpcl_trainer *tr, const mlpcl_build_params *bp,
                                     mlpcl_program **out, size_t *kmax)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    mlpcl_status st = MLPCL_OK;
    const char *dn = tr->ctx->info.name;
    mlpcl_program *prog;
    TRY(mlpcl__program_get(tr->ctx, bp, &prog));
    if (prog->fresh) c->build_seconds += prog->build_seconds;
    prog->fresh = 0;
    for (int id = 0; id < K_COUNT; ++id) {
        if (!mlpcl__program_has(bp, (mlpcl_kernel_id)id)) continue;
        cl_int err;
        cl_kernel k = clCreateKernel(prog->program, mlpcl__kernel_name[id], &err);
        CL_CHECK(err, "clCreateKernel", dn);
        size_t kwg = 0;
        err = clGetKernelWorkGroupInfo(k, tr->ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg,
                                       &kwg, NULL);
        clReleaseKernel(k);
        CL_CHECK(err, "clGetKernelWorkGroupInfo(CL_KERNEL_WORK_GROUP_SIZE)", dn);
        if (kwg < *kmax) *kmax = kwg;
    }
    *out = prog;
fail:
    return st;
}

mlpcl_status mlpcl__cl_kernels_ready(mlpcl_trainer *tr, uint32_t need)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    mlpcl_status st = MLPCL_OK;
    uint32_t missing = 0;
    for (int id = 0; id < K_COUNT; ++id)
        if ((need >> id & 1u) && !c->program_of[id]) missing |= 1u << id;
    if (!missing) return MLPCL_OK;
    mlpcl_build_params bp = {tr->precision, c->wg, c->tune, tr->batch, missing};
    mlpcl_program *prog;
    size_t kmax = c->wg;
    TRY(mlpcl__cl_program_build(tr, &bp, &prog, &kmax));
    if (kmax < c->wg)
        return mlpcl__fail((mlpcl_status)CL_INVALID_WORK_GROUP_SIZE,
                           "device \"%s\": a kernel allows %zu work-items a group, fewer than "
                           "the %zu the trainer's other kernels were built for",
                           tr->ctx->info.name, kmax, c->wg);
    for (int id = 0; id < K_COUNT; ++id)
        if (missing >> id & 1u) c->program_of[id] = prog;
fail:
    return st;
}

/* Creates a kernel object for id, remembers it for release, and sets its arguments. */
mlpcl_status mlpcl__cl_make_kernel(mlpcl_trainer *tr, mlpcl_kernel_id id, cl_kernel *out, size_t n,
                                   const karg *a)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    mlpcl_status st = MLPCL_OK;
    cl_int err;
    if (c->collect) { /* a plan built to list its kernels (cl_plan.c's plan_get) */
        *c->collect |= 1u << id;
        *out = NULL;
        return MLPCL_OK;
    }
    st = mlpcl__cl_kernels_ready(tr, 1u << id); /* where a plan's listing did not build it */
    if (st != MLPCL_OK) return st; /* its message is whole: no kernel name after a build log */
    cl_kernel *grown = realloc(c->kernels, (c->n_kernels + 1) * sizeof *grown);
    if (!grown) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for kernels");
    c->kernels = grown;
    cl_kernel k = clCreateKernel(c->program_of[id]->program, mlpcl__kernel_name[id], &err);
    CL_CHECK(err, "clCreateKernel", tr->ctx->info.name);
    c->kernels[c->n_kernels++] = k;
    *out = k;
    for (size_t i = 0; i < n; ++i) {
        if (!a[i].value) /* a builder left a named argument out */
            return mlpcl__fail(MLPCL_ERR_ARG, "kernel %s: argument %zu not set",
                               mlpcl__kernel_name[id], i);
        st = mlpcl__cl_set_arg(tr, k, (cl_uint)i, a[i]); /* its message names the kernel already */
        if (st != MLPCL_OK) return st;
    }
    return MLPCL_OK;
fail:
    mlpcl__append(" (kernel %s)", mlpcl__kernel_name[id]);
    return st;
}

/* Appends a launch to a plan; a 2-D launch covers (gx, gy), rounded up to its local size. */
mlpcl_status mlpcl__cl_add_launch(mlpcl_plan *p, const mlpcl_trainer *tr, cl_kernel k,
                                  mlpcl_kernel_id id, size_t layer, cl_uint dims, size_t gx,
                                  size_t gy)
{
    const mlpcl_cl *c = mlpcl__cl(tr);
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
        L->local[0] = c->wg;
        L->global[0] = round_up(gx, c->wg);
    } else {
        /* 16 wide along the output features (contiguous in memory), up to 4 rows deep. */
        size_t lx = c->wg < 16 ? c->wg : 16, ly = c->wg / lx < 4 ? c->wg / lx : 4;
        L->local[0] = lx;
        L->local[1] = ly;
        L->global[0] = round_up(gx, lx);
        L->global[1] = round_up(gy, ly);
    }
    return MLPCL_OK;
}

/* Appends a 2-D launch covering (gx, gy) work-items in work-groups of (lx, ly), clamped to the
 * kernels' work-group size and the device's limits; the global size is rounded up. */
mlpcl_status mlpcl__cl_add_launch_shaped(mlpcl_plan *p, const mlpcl_trainer *tr, cl_kernel k,
                                         mlpcl_kernel_id id, size_t layer, size_t gx, size_t gy,
                                         size_t lx, size_t ly)
{
    const mlpcl_cl *c = mlpcl__cl(tr);
    mlpcl_status st = mlpcl__cl_add_launch(p, tr, k, id, layer, 2, gx, gy);
    if (st != MLPCL_OK) return st;
    /* The same shape whatever the sizes (POCL compiles a kernel once per work-group shape). */
    if (lx > c->max_items[0]) lx = c->max_items[0];
    if (ly > c->max_items[1]) ly = c->max_items[1];
    while (lx * ly > c->wg) ly > 1 ? (ly = (ly + 1) / 2) : (lx = (lx + 1) / 2);
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
mlpcl_status mlpcl__cl_add_gemm_launch(mlpcl_plan *p, const mlpcl_trainer *tr, cl_kernel k,
                                       mlpcl_kernel_id id, size_t layer, size_t rows, size_t cols,
                                       size_t lx, size_t ly, size_t width)
{
    const mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_tuning *t = &c->tune;
    if (!t->local)
        return mlpcl__cl_add_launch_shaped(p, tr, k, id, layer, (cols + width - 1) / width,
                                           (rows + (size_t)t->tm - 1) / (size_t)t->tm, lx, ly);
    mlpcl_status st = mlpcl__cl_add_launch(p, tr, k, id, layer, 2, 1, 1);
    if (st != MLPCL_OK) return st;
    mlpcl_launch *L = &p->launch[p->n_launch - 1];
    L->local[0] = (size_t)(t->bn / t->wn);
    L->local[1] = (size_t)(t->bm / t->wm);
    L->global[0] = (cols + (size_t)t->bn - 1) / (size_t)t->bn * L->local[0];
    L->global[1] = (rows + (size_t)t->bm - 1) / (size_t)t->bm * L->local[1];
    return MLPCL_OK;
}

/* Remembers a kernel that takes the step (at argument lr_arg) and the momentum (after it). */
mlpcl_status mlpcl__cl_add_step(mlpcl_plan *p, cl_kernel k, int lr_arg)
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

mlpcl_status mlpcl__cl_enqueue(mlpcl_trainer *tr, const mlpcl_launch *L)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    cl_event ev = NULL;
    if (c->profiling && c->prof_n == c->prof_cap) {
        mlpcl_status st = mlpcl__cl_profile_collect(tr);
        if (st != MLPCL_OK) return st;
    }
    cl_int err = clEnqueueNDRangeKernel(tr->ctx->queue, L->kernel, L->dims, NULL, L->global,
                                        L->local, 0, NULL, c->profiling ? &ev : NULL);
    if (err == CL_SUCCESS && ev) {
        c->prof_ev[c->prof_n] = ev;
        c->prof_id[c->prof_n++] = (int)L->id;
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
    mlpcl_cl *c = mlpcl__cl(tr);
    int packs = p->seg[SEG_PACK + 1] > p->seg[SEG_PACK]; /* plans with panels (tiled, CPUs) */
    if (packs && from <= SEG_FORWARD && to > SEG_FORWARD && !c->panels_current) {
        for (size_t i = p->seg[SEG_PACK]; i < p->seg[SEG_PACK + 1] && st == MLPCL_OK; ++i)
            st = mlpcl__cl_enqueue(tr, &p->launch[i]);
        c->panels_current = 1;
    }
    for (size_t i = p->seg[from]; i < p->seg[to] && st == MLPCL_OK; ++i)
        st = mlpcl__cl_enqueue(tr, &p->launch[i]);
    /* a tail that steps the weights without their panels leaves the panels a step behind */
    if ((to > SEG_BACKWARD && !p->keeps_panels) || st != MLPCL_OK) c->panels_current = 0;
    return st;
}
