// SPDX-License-Identifier: MIT
/* comm_local.c: the all-reduce of the workers of one process (several OpenCL devices): the
 * buffers summed into the first in the workers' order, then copied back to the others. */
#include <stdlib.h>
#include <string.h>

#include "comm.h"

void mlpcl__comm_add(void *dst, const void *src, size_t count, size_t real)
{
    if (real == sizeof(double)) {
        double *d = dst;
        const double *s = src;
        for (size_t i = 0; i < count; ++i) d[i] += s[i];
    } else {
        float *d = dst;
        const float *s = src;
        for (size_t i = 0; i < count; ++i) d[i] += s[i];
    }
}

static mlpcl_status local_allreduce(mlpcl_comm *c, void *const *bufs, size_t n, size_t count,
                                    size_t real)
{
    (void)c;
    for (size_t w = 1; w < n; ++w) mlpcl__comm_add(bufs[0], bufs[w], count, real);
    for (size_t w = 1; w < n; ++w) memcpy(bufs[w], bufs[0], count * real);
    return MLPCL_OK;
}

static void local_free(mlpcl_comm *c)
{
    free(c);
}

mlpcl_status mlpcl__comm_local(size_t n, mlpcl_comm **out)
{
    mlpcl_comm *c = calloc(1, sizeof *c);
    *out = c;
    if (!c) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a communicator");
    c->allreduce = local_allreduce;
    c->free = local_free;
    c->rank = 0;
    c->size = 1;
    c->first = 0;
    c->workers = n;
    return MLPCL_OK;
}
