// SPDX-License-Identifier: MIT
/* cl_buffers.c: the OpenCL backend's device buffers: making them (zeroed, with a canary after
 * each; the layers' rows zeroed at the first run, not at their making), moving doubles to and from
 * the device's real type, refusing sizes the device or the kernels' int indices cannot hold, and
 * reading buffers and canaries back for the tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_backend.h"
#include "data.h" /* mlpcl__memory_left */

/* Writes zeros over bytes [from, to) of mem and the canary's pattern over the CANARY_SIZE bytes
 * from at (elem: the elements' size, the fill pattern's). */
static mlpcl_status fill(mlpcl_trainer *tr, cl_mem mem, size_t elem, size_t from, size_t to,
                         size_t at)
{
    mlpcl_status st = MLPCL_OK;
    static const cl_uint zero = 0;
    static const cl_uchar canary = MLPCL__CANARY_BYTE;
    size_t z = elem < 4 ? elem : 4; /* from and to are multiples of elem (4 or 8 bytes) */
    if (to > from)
        CL_CHECK(clEnqueueFillBuffer(tr->ctx->queue, mem, &zero, z, from, to - from, 0, NULL, NULL),
                 "clEnqueueFillBuffer", tr->ctx->info.name);
    CL_CHECK(
        clEnqueueFillBuffer(tr->ctx->queue, mem, &canary, 1, at, MLPCL__CANARY_SIZE, 0, NULL, NULL),
        "clEnqueueFillBuffer(canary)", tr->ctx->info.name);
fail:
    return st;
}

static void name_canary(mlpcl_canary *k, const char *what, size_t layer)
{
    if (layer)
        snprintf(k->name, sizeof k->name, "%s (layer %zu)", what, layer);
    else
        snprintf(k->name, sizeof k->name, "%s", what);
}

/* mlpcl__cl_buffer's, with its rows [0, count) left to mlpcl__cl_fill_pending when lazy. */
static mlpcl_status make_buffer(mlpcl_trainer *tr, cl_mem *out, size_t count, size_t pad,
                                size_t elem, const char *what, size_t layer, int lazy)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    cl_int err;
    size_t bytes = (count + pad) * elem, used = bytes ? bytes : elem;
    mlpcl_canary *grown = realloc(c->canaries, (c->n_canaries + 1) * sizeof *grown);
    if (!grown) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for buffers");
    c->canaries = grown;
    *out =
        clCreateBuffer(tr->ctx->context, CL_MEM_READ_WRITE, used + MLPCL__CANARY_SIZE, NULL, &err);
    CL_CHECK(err, "clCreateBuffer", tr->ctx->info.name);
    /* Zeros, so that the padding the tiled kernels read past the end holds numbers. */
    TRY(fill(tr, *out, elem, lazy ? count * elem : 0, used, used));
    mlpcl_canary *k = &c->canaries[c->n_canaries++];
    memset(k, 0, sizeof *k);
    k->mem = *out;
    k->end = count * elem;
    k->at = used;
    k->unfilled = lazy && count;
    name_canary(k, what, layer);
    return MLPCL_OK;
fail:
    mlpcl__append(" (buffer %s, %zu bytes)", what, bytes);
    return st;
}

mlpcl_status mlpcl__cl_buffer(mlpcl_trainer *tr, cl_mem *out, size_t count, size_t pad, size_t elem,
                              const char *what, size_t layer)
{
    return make_buffer(tr, out, count, pad, elem, what, layer, 0);
}

mlpcl_status mlpcl__cl_delta_buffers(mlpcl_trainer *tr)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_net *net = tr->net;
    size_t L = net->L;
    if (c->fused) return mlpcl__cl_layer_buffers(tr, c->D, "deltas");
    for (size_t l = 1; l < L; ++l) {
        CL_CHECK(clRetainMemObject(c->A[l]), "clRetainMemObject(activations)", tr->ctx->info.name);
        c->D[l] = c->A[l];
    }
    TRY(make_buffer(tr, &c->D[L], tr->batch * net->width[L], c->pad, tr->real, "deltas", L, 1));
fail:
    return st;
}

mlpcl_status mlpcl__cl_layer_buffers(mlpcl_trainer *tr, cl_mem *buf, const char *what)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_net *net = tr->net;
    size_t L = net->L, r = tr->real, total = 0;
    if (!c->fused) {
        for (size_t l = 1; l <= L; ++l)
            TRY(make_buffer(tr, &buf[l], tr->batch * net->width[l], c->pad, r,
                            l < L && buf == c->A ? "activations, then deltas" : what, l, 1));
        return MLPCL_OK;
    }
    cl_uint bits = 0;
    cl_int err;
    CL_CHECK(
        clGetDeviceInfo(tr->ctx->device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof bits, &bits, NULL),
        "clGetDeviceInfo(CL_DEVICE_MEM_BASE_ADDR_ALIGN)", tr->ctx->info.name);
    size_t align = bits / 8 > r ? bits / 8 : r; /* bytes */
    /* layer l: its rows and padding (used), its canary, then up to the next aligned start */
#define USED(l)   ((tr->batch * net->width[l] + c->pad) * r)
#define REGION(l) ((USED(l) + MLPCL__CANARY_SIZE + align - 1) / align * align)
    for (size_t l = 1; l <= L; ++l) total += REGION(l);
    mlpcl_canary *grown = realloc(c->canaries, (c->n_canaries + L) * sizeof *grown);
    if (!grown) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for buffers");
    c->canaries = grown;
    buf[0] = clCreateBuffer(tr->ctx->context, CL_MEM_READ_WRITE, total, NULL, &err);
    CL_CHECK(err, "clCreateBuffer", tr->ctx->info.name);
    total = 0;
    for (size_t l = 1; l <= L; ++l) {
        size_t end = tr->batch * net->width[l] * r;
        /* the rows at the first run; the padding and the canary now (the gap to the next
         * layer's start is never read) */
        TRY(fill(tr, buf[0], r, total + end, total + USED(l), total + USED(l)));
        cl_buffer_region region = {total, USED(l) + MLPCL__CANARY_SIZE};
        buf[l] = clCreateSubBuffer(buf[0], CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region,
                                   &err);
        CL_CHECK(err, "clCreateSubBuffer", tr->ctx->info.name);
        mlpcl_canary *k = &c->canaries[c->n_canaries++];
        memset(k, 0, sizeof *k);
        k->mem = buf[l];
        k->end = end;
        k->at = USED(l);
        k->unfilled = end > 0;
        name_canary(k, what, l);
        total += REGION(l);
    }
#undef USED
#undef REGION
    return MLPCL_OK;
fail:
    mlpcl__append(" (%s, one buffer for every layer)", what);
    return st;
}

mlpcl_status mlpcl__cl_fill_pending(mlpcl_trainer *tr)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    static const cl_uint zero = 0;
    size_t z = tr->real < 4 ? tr->real : 4;
    for (size_t i = 0; i < c->n_canaries; ++i) {
        mlpcl_canary *k = &c->canaries[i];
        if (!k->unfilled) continue;
        CL_CHECK(clEnqueueFillBuffer(tr->ctx->queue, k->mem, &zero, z, 0, k->end, 0, NULL, NULL),
                 "clEnqueueFillBuffer", tr->ctx->info.name);
        k->unfilled = 0;
    }
fail:
    return st;
}

void mlpcl__cl_buffer_release(mlpcl_trainer *tr, cl_mem *mem)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    if (!*mem) return;
    for (size_t i = 0; i < c->n_canaries; ++i)
        if (c->canaries[i].mem == *mem) {
            c->canaries[i] = c->canaries[--c->n_canaries];
            break;
        }
    clReleaseMemObject(*mem);
    *mem = NULL;
}

mlpcl_status mlpcl__cl_canaries_check(mlpcl_trainer *tr, char *what, size_t size)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    unsigned char *got = NULL;
    if (size) what[0] = '\0';
    for (size_t i = 0; i < c->n_canaries; ++i) {
        const mlpcl_canary *k = &c->canaries[i];
        size_t n = k->at - k->end + MLPCL__CANARY_SIZE; /* the padding, then the canary */
        unsigned char *grown = realloc(got, n);
        if (!grown) {
            st = mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory checking canaries");
            goto fail;
        }
        got = grown;
        CL_CHECK(
            clEnqueueReadBuffer(tr->ctx->queue, k->mem, CL_TRUE, k->end, n, got, 0, NULL, NULL),
            "clEnqueueReadBuffer(canary)", tr->ctx->info.name);
        for (size_t b = 0; b < n; ++b) {
            int want = b < k->at - k->end ? 0 : MLPCL__CANARY_BYTE;
            if (got[b] == want) continue;
            if (size) snprintf(what, size, "%s", k->name);
            st = mlpcl__fail(MLPCL_ERR_DATA,
                             "buffer %s: written past its end (byte %zu after it is 0x%02x, not "
                             "0x%02x)",
                             k->name, b, got[b], want);
            goto fail;
        }
    }
fail:
    free(got);
    return st;
}

/* Elements converted at a time on their way to or from the device: a small staging buffer
 * rather than a whole float copy of the data set (188 MB for Fashion-MNIST's X), which would
 * sit beside the caller's doubles and the device's copy (on a CPU device, host memory too). */
#define STAGE_ELEMS ((size_t)1 << 16)

/* Converts n doubles to the device's real type and writes them to buf, a chunk at a time;
 * doubles go straight from v. The values are those of one whole conversion. */
mlpcl_status mlpcl__cl_upload(mlpcl_trainer *tr, cl_mem buf, const double *v, size_t n)
{
    mlpcl_status st = MLPCL_OK;
    float *tmp = NULL;
    if (tr->precision == MLPCL_PRECISION_DOUBLE) {
        if (n)
            CL_CHECK(clEnqueueWriteBuffer(tr->ctx->queue, buf, CL_TRUE, 0, n * sizeof(double), v, 0,
                                          NULL, NULL),
                     "clEnqueueWriteBuffer", tr->ctx->info.name);
        return MLPCL_OK;
    }
    size_t chunk = n < STAGE_ELEMS ? n : STAGE_ELEMS;
    tmp = malloc(chunk * sizeof *tmp + 1);
    if (!tmp) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory staging an upload");
    for (size_t at = 0; at < n; at += chunk) {
        size_t k = n - at < chunk ? n - at : chunk;
        for (size_t i = 0; i < k; ++i) tmp[i] = (float)v[at + i];
        /* blocking, so that tmp may take the next chunk */
        CL_CHECK(clEnqueueWriteBuffer(tr->ctx->queue, buf, CL_TRUE, at * sizeof *tmp,
                                      k * sizeof *tmp, tmp, 0, NULL, NULL),
                 "clEnqueueWriteBuffer", tr->ctx->info.name);
    }
fail:
    free(tmp);
    return st;
}

mlpcl_status mlpcl__cl_download(mlpcl_trainer *tr, cl_mem buf, double *v, size_t n)
{
    mlpcl_status st = MLPCL_OK;
    float *tmp = NULL;
    if (tr->precision == MLPCL_PRECISION_DOUBLE) {
        if (n)
            CL_CHECK(clEnqueueReadBuffer(tr->ctx->queue, buf, CL_TRUE, 0, n * sizeof(double), v, 0,
                                         NULL, NULL),
                     "clEnqueueReadBuffer", tr->ctx->info.name);
        return MLPCL_OK;
    }
    size_t chunk = n < STAGE_ELEMS ? n : STAGE_ELEMS;
    tmp = malloc(chunk * sizeof *tmp + 1);
    if (!tmp) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory staging a download");
    for (size_t at = 0; at < n; at += chunk) {
        size_t k = n - at < chunk ? n - at : chunk;
        CL_CHECK(clEnqueueReadBuffer(tr->ctx->queue, buf, CL_TRUE, at * sizeof *tmp,
                                     k * sizeof *tmp, tmp, 0, NULL, NULL),
                 "clEnqueueReadBuffer", tr->ctx->info.name);
        for (size_t i = 0; i < k; ++i) v[at + i] = tmp[i];
    }
fail:
    free(tmp);
    return st;
}

/* Refuses, before allocating anything, sizes the kernels' int indices or the device cannot
 * hold, saying what needs how much and what to change. */
mlpcl_status mlpcl__cl_check_sizes(const mlpcl_trainer *tr, size_t n_partials)
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
                           mlpcl__mib(total), mlpcl__mib(data), mlpcl__mib(batch), B,
                           mlpcl__mib(r * acts), mlpcl__mib(params), d->name,
                           mlpcl__mib(d->global_mem), fix);
    if (!strcmp(d->type, "cpu")) {
        /* A CPU device's memory is this process's: its limits (ulimit -v, -d) and the free
         * memory count, not the machine's RAM that the device reports (POCL aborts on a failed
         * allocation instead of returning an error). */
        const char *which;
        size_t left = mlpcl__memory_left(&which);
        if (total > left)
            return mlpcl__fail(MLPCL_ERR_TOO_BIG,
                               "training needs %.1f MiB on \"%s\", a CPU device whose memory is "
                               "this process's, but only %.1f MiB are left under %s; use %s or a "
                               "smaller network",
                               mlpcl__mib(total), d->name, mlpcl__mib(left), which, fix);
    }
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
                           what, mlpcl__mib(biggest), d->name, mlpcl__mib(d->max_alloc),
                           !strcmp(what, "the parameters")          ? "a smaller network"
                           : !strcmp(what, "the training inputs X") ? "fewer samples"
                                                                    : fix);
    return MLPCL_OK;
}

/* Layer l's activations or deltas (buf) into out in rows, from strips where they lie in them. */
static mlpcl_status read_layer(mlpcl_trainer *tr, cl_mem buf, size_t l, double *out)
{
    size_t B = tr->batch, n = tr->net->width[l], w = mlpcl__cl_strip_width(tr, l);
    if (w == n) return mlpcl__cl_download(tr, buf, out, B * n);
    double *strips = malloc(B * n * sizeof *strips);
    if (!strips) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory reading layer %zu", l);
    mlpcl_status st = mlpcl__cl_download(tr, buf, strips, B * n);
    for (size_t i = 0; st == MLPCL_OK && i < B; ++i)
        for (size_t j = 0; j < n; ++j) out[i * n + j] = strips[j / w * B * w + i * w + j % w];
    free(strips);
    return st;
}

mlpcl_status mlpcl__trainer_read(mlpcl_trainer *tr, char what, size_t l, double *out)
{
    mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_net *net = tr->net;
    size_t n = mlpcl_net_n_params(net);
    switch (what) {
    case 'A':
        return read_layer(tr, c->A[l], l, out);
    case 'D':
        return read_layer(tr, c->D[l], l, out);
    case 'G':
        if (!c->keep_gradients)
            return mlpcl__fail(MLPCL_ERR_ARG, "the gradients are not kept: call "
                                              "mlpcl__trainer_keep_gradients before the iteration");
        return mlpcl__cl_download(tr, c->G, out, n);
    case 'V':
        return mlpcl__cl_download(tr, c->V[(tr->iter + (long)l) & 1], out, n);
    case 'P':
        return mlpcl__cl_download(tr, c->P[(tr->iter + (long)l) & 1], out, n);
    case 'C':
        return mlpcl__cl_download(tr, c->costs, out, 1);
    default:
        return mlpcl__fail(MLPCL_ERR_ARG, "unknown trainer buffer '%c'", what);
    }
}

mlpcl_status mlpcl__cl_make_adam(mlpcl_trainer *tr)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    size_t n = mlpcl_net_n_params(tr->net);
    if (c->S[0]) return MLPCL_OK;
    TRY(mlpcl__cl_buffer(tr, &c->S[0], n, c->pad, tr->real, "Adam second moments", 0));
    TRY(mlpcl__cl_buffer(tr, &c->S[1], n, c->pad, tr->real, "Adam second moments", 0));
fail:
    return st;
}
