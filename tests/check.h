// SPDX-License-Identifier: MIT
/* check.h: the tests' few helpers: assertions that count failures and keep going, array
 * comparison with a stated tolerance and NaN rules, random data, and the OpenCL device (or a
 * skip, exit 77, where there is none). */
#ifndef MLPCL_CHECK_H
#define MLPCL_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_backend.h" /* the trainer, its OpenCL backend and the test interface */
#include "ref.h"

#define SKIP 77

static int failures = 0;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            ++failures;                                                                            \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

/* Asserts an mlpcl call succeeded; on failure prints the library's message and exits. */
#define OK(expr)                                                                                   \
    do {                                                                                           \
        int st_ = (expr);                                                                          \
        if (st_ != MLPCL_OK) {                                                                     \
            printf("FAIL %s:%d: %s -> %s\n%s\n", __FILE__, __LINE__, #expr, mlpcl_status_str(st_), \
                   mlpcl_last_error());                                                            \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Norm-wise comparison: max|dev − ref| ≤ rtol · max(max|ref|, floor). A NaN or Inf in dev
 * fails unless ref has the same at that index. Returns the error ratio (≤ 1 passes). */
static inline double compare(const char *what, const double *dev, const double *ref, size_t n,
                             double rtol, double floor)
{
    double scale = floor, worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; ++i)
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    for (size_t i = 0; i < n; ++i) {
        if (!isfinite(dev[i]) || !isfinite(ref[i])) {
            int same = (isnan(dev[i]) && isnan(ref[i])) || dev[i] == ref[i];
            CHECK(same, "%s[%zu]: device %g, reference %g", what, i, dev[i], ref[i]);
            continue;
        }
        double e = fabs(dev[i] - ref[i]);
        if (e > worst) worst = e, at = i;
    }
    double ratio = worst / (rtol * scale);
    CHECK(ratio <= 1.0,
          "%s: max error %.3g at [%zu] (device %.17g, reference %.17g) exceeds "
          "%.1g × %.3g",
          what, worst, at, dev[at], ref[at], rtol, scale);
    return ratio;
}

static inline void fill_uniform(mlpcl_rng *rng, double *v, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * mlpcl__rng_uniform(rng);
}

/* The OpenCL device the tests run on: $MLPCL_DEVICE, else the default. Exits with SKIP when
 * there is no OpenCL device (or the selection is the host). */
static inline mlpcl_ctx *test_device(void)
{
    mlpcl_ctx *ctx = NULL;
    const char *sel = getenv("MLPCL_DEVICE");
    int st = mlpcl_ctx_create(sel && strcmp(sel, "host") ? sel : NULL, 0, &ctx);
    if (st == -1001 || st == MLPCL_ERR_NO_DEVICE || st == CL_DEVICE_NOT_FOUND) {
        printf("SKIP: no OpenCL device: %s\n", mlpcl_last_error());
        exit(SKIP);
    }
    OK(st);
    if (ctx->is_host) {
        printf("SKIP: MLPCL_DEVICE selects the host; these tests need an OpenCL device\n");
        mlpcl_ctx_free(ctx);
        exit(SKIP);
    }
    printf("device: %s (%s)\n", ctx->info.name, ctx->info.platform_name);
    return ctx;
}

/* One whole iteration (head and tail) of a full-batch trainer with step lr, waited for. */
static inline void device_iteration(mlpcl_trainer *tr, double lr)
{
    mlpcl_plan *p;
    OK(mlpcl__trainer_prepare(tr, lr, 0.0, -INFINITY));
    OK(mlpcl__plan_get(tr, tr->m, 0, 0, &p));
    OK(mlpcl__plan_enqueue(tr, p, SEG_GATHER, SEG_COUNT));
    OK(clFinish(tr->ctx->queue));
}

/* Launches of kernel id in a trainer's plan for (gathered) batches of b rows. */
static inline int launches_of(mlpcl_trainer *tr, size_t b, mlpcl_kernel_id id)
{
    mlpcl_plan *p;
    int n = 0;
    OK(mlpcl__plan_get(tr, b, 1, 0, &p));
    for (size_t i = 0; i < p->n_launch; ++i) n += p->launch[i].id == id;
    return n;
}

static int report(const char *name)
{
    if (failures) {
        printf("%s: %d check(s) failed\n", name, failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
