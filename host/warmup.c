// SPDX-License-Identifier: MIT
/* warmup.c: a POCL context's compiler started while the caller does other work. POCL's first
 * build from source in a context starts clang and loads its kernel library (9.7 MB of bitcode
 * for AVX-512) into the context: 0.8-0.9 s of a 784-256-10 program's 1.4-1.5 s build, on a
 * 2-core AVX-512 EPYC, paid once a context. So a context on a POCL device builds a one-line
 * program on a thread of its own from its creation; the caller meanwhile loads its data, and the
 * first real build (program.c) waits for the thread, then takes 0.6 s. Where POCL's cache already
 * holds that program (any run after the first with the same cache), its build takes 0.04 s and
 * loads nothing: then a real build from source pays the library as before, no more.
 *
 * The warm-up only ever saves time: a failure of its calls changes nothing but that, so it is
 * kept (mlpcl__warmup_join returns it) and not reported. */
#define _XOPEN_SOURCE 700 /* sigaltstack */
#include <pthread.h>
#include <signal.h>

#include "internal.h"

static void *warm_up(void *arg)
{
    mlpcl_ctx *ctx = arg;
    const char *source = "__kernel void warm_up(__global int *x) { *x = 1; }";
    /* Clang, inside the build, gives the thread an alternate signal stack of its own (LLVM's
     * CreateSigAltStack, 64 KB of malloc'd memory); the thread's own is put back before it
     * ends, since AddressSanitizer unmaps a thread's alternate stack at its end and aborts
     * where that memory was not its mapping. */
    stack_t own;
    int kept = sigaltstack(NULL, &own) == 0;
    cl_int err;
    cl_program p = clCreateProgramWithSource(ctx->context, 1, &source, NULL, &err);
    if (err == CL_SUCCESS) {
        err = clBuildProgram(p, 1, &ctx->device, "-cl-std=CL1.2", NULL, NULL);
        cl_int rel = clReleaseProgram(p);
        if (err == CL_SUCCESS) err = rel;
    }
    if (kept) sigaltstack(&own, NULL);
    ctx->warmup_err = err;
    return NULL;
}

void mlpcl__warmup_start(mlpcl_ctx *ctx)
{
    if (!mlpcl__ctx_is_cpu(ctx) || !mlpcl__ctx_is_pocl(ctx)) return;
    if (pthread_create(&ctx->warmup, NULL, warm_up, ctx) == 0) ctx->warmup_state = 1;
}

int mlpcl__warmup_join(mlpcl_ctx *ctx)
{
    if (ctx->warmup_state == 1) {
        pthread_join(ctx->warmup, NULL);
        ctx->warmup_state = 2;
    }
    return ctx->warmup_state == 2 ? ctx->warmup_err : 1;
}
