// SPDX-License-Identifier: MIT
/* cl_profile.c: per-kernel device time from OpenCL profiling events (contexts made with
 * MLPCL_CTX_PROFILE): cl_launch.c records an event for every launch while profiling is on; here
 * they are summed by kernel and released. */
#include <stdlib.h>
#include <string.h>

#include "cl_backend.h"

#define PROFILE_EVENTS 4096 /* launches recorded between two collections */

/* Adds the device time of every recorded launch to the per-kernel totals and releases the
 * events; waits for them first. */
mlpcl_status mlpcl__cl_profile_collect(mlpcl_trainer *tr)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    mlpcl_status st = MLPCL_OK;
    if (!c->prof_n) return MLPCL_OK;
    cl_int err = clWaitForEvents((cl_uint)c->prof_n, c->prof_ev);
    for (size_t i = 0; i < c->prof_n; ++i) {
        cl_ulong t0 = 0, t1 = 0;
        if (err == CL_SUCCESS)
            err = clGetEventProfilingInfo(c->prof_ev[i], CL_PROFILING_COMMAND_START, sizeof t0, &t0,
                                          NULL);
        if (err == CL_SUCCESS)
            err = clGetEventProfilingInfo(c->prof_ev[i], CL_PROFILING_COMMAND_END, sizeof t1, &t1,
                                          NULL);
        if (err == CL_SUCCESS) {
            c->prof_ns[c->prof_id[i]] += (double)(t1 - t0);
            c->prof_count[c->prof_id[i]]++;
        }
        clReleaseEvent(c->prof_ev[i]);
    }
    c->prof_n = 0;
    CL_CHECK(err, "clGetEventProfilingInfo", tr->ctx->info.name);
fail:
    return st;
}

/* All or nothing: a trainer either has both event arrays or neither, so that a failed start
 * leaves it as it was (and never half set up for the next launch to write through). */
mlpcl_status mlpcl__cl_profile_start(mlpcl_trainer *tr)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    if (!c->prof_ev) {
        cl_event *ev = malloc(PROFILE_EVENTS * sizeof *ev);
        int *id = malloc(PROFILE_EVENTS * sizeof *id);
        if (!ev || !id) {
            free(ev);
            free(id);
            return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for profiling");
        }
        c->prof_ev = ev;
        c->prof_id = id;
        c->prof_cap = PROFILE_EVENTS;
    }
    memset(c->prof_ns, 0, sizeof c->prof_ns);
    memset(c->prof_count, 0, sizeof c->prof_count);
    c->profiling = 1;
    return MLPCL_OK;
}

mlpcl_status mlpcl__cl_profile(mlpcl_trainer *tr, mlpcl_kernel_time *out, size_t *n)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    mlpcl_status st = mlpcl__cl_profile_collect(tr);
    *n = 0;
    if (st != MLPCL_OK) return st;
    for (int id = 0; id < K_COUNT; ++id)
        if (c->prof_count[id])
            out[(*n)++] = (mlpcl_kernel_time){mlpcl__kernel_name[id], 1e-9 * c->prof_ns[id],
                                              c->prof_count[id]};
    c->profiling = 0;
    return MLPCL_OK;
}

void mlpcl__cl_profile_free(mlpcl_cl *c)
{
    for (size_t i = 0; i < c->prof_n; ++i) clReleaseEvent(c->prof_ev[i]);
    free(c->prof_ev);
    free(c->prof_id);
}
