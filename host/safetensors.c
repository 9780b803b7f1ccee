// SPDX-License-Identifier: MIT
/* safetensors.c: what saving and loading a model file agree on: which tensor goes in which
 * slot, its name and shape; dtype and activation names; the UTF-8 check of the header; values
 * as little-endian bytes. Bytes are assembled explicitly, so big-endian hosts read and write the
 * same files (IEEE-754 floats whose byte order matches the integers' are assumed, as on every
 * current platform). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "safetensors.h"

void mlpcl__slots_setup(const mlpcl_net *net, tensor *t, int format_version)
{
    int torch = format_version >= 2;
    size_t L = net->L;
    for (size_t l = 1; l <= L; ++l) {
        tensor *w = &t[2 * (l - 1)], *b = w + 1;
        snprintf(w->name, sizeof w->name, "layers.%zu.weight", l);
        w->rank = 2;
        w->shape[0] = net->width[torch ? l : l - 1];
        w->shape[1] = net->width[torch ? l - 1 : l];
        w->count = mlpcl__weights(net, l);
        snprintf(b->name, sizeof b->name, "layers.%zu.bias", l);
        b->rank = 1;
        b->shape[0] = b->count = net->width[l];
    }
    static const char *const extra[4] = {"norm.mean", "norm.std", "train.velocity", "train.adam_s"};
    for (size_t i = 0; i < 4; ++i) {
        tensor *x = &t[SLOT_MEAN(L) + i];
        snprintf(x->name, sizeof x->name, "%s", extra[i]);
        x->rank = 1;
        x->shape[0] = x->count = i < 2 ? net->width[0] : mlpcl_net_n_params(net);
    }
}

/* Copies the flat vector src to dst, each layer's weight block transposed: rows × cols
 * row-major becomes cols × rows. to_file: rows = n_in (the network's layout), else n_out. */
static void permute(const mlpcl_net *net, const double *src, double *dst, int to_file)
{
    for (size_t l = 1; l <= net->L; ++l) {
        size_t nin = net->width[l - 1], nout = net->width[l], off = net->offset[l];
        size_t rows = to_file ? nin : nout, cols = to_file ? nout : nin;
        for (size_t i = 0; i < rows; ++i)
            for (size_t j = 0; j < cols; ++j) dst[off + j * rows + i] = src[off + i * cols + j];
        memcpy(dst + off + nin * nout, src + off + nin * nout, nout * sizeof *dst);
    }
}

void mlpcl__params_to_file(const mlpcl_net *net, const double *src, double *dst)
{
    permute(net, src, dst, 1);
}

void mlpcl__params_from_file(const mlpcl_net *net, const double *src, double *dst)
{
    permute(net, src, dst, 0);
}

const char *mlpcl__output_name(const mlpcl_net *net)
{
    return net->loss == MLPCL_LOSS_CE ? "softmax" : mlpcl__act_names[net->act[net->L]];
}

/* The slot of a tensor name, or SIZE_MAX for a name mlpcl does not write. */
size_t mlpcl__slot_of(const char *name, size_t L)
{
    if (!strcmp(name, "norm.mean")) return SLOT_MEAN(L);
    if (!strcmp(name, "norm.std")) return SLOT_STD(L);
    if (!strcmp(name, "train.velocity")) return SLOT_VELOCITY(L);
    if (!strcmp(name, "train.adam_s")) return SLOT_ADAM_S(L);
    if (strncmp(name, "layers.", 7)) return SIZE_MAX;
    const char *p = name + 7;
    if (*p < '1' || *p > '9') return SIZE_MAX; /* no sign, no leading zero */
    size_t l = 0;
    for (; *p >= '0' && *p <= '9'; ++p) {
        l = 10 * l + (size_t)(*p - '0');
        if (l > L) return SIZE_MAX;
    }
    if (!strcmp(p, ".weight")) return 2 * (l - 1);
    if (!strcmp(p, ".bias")) return 2 * (l - 1) + 1;
    return SIZE_MAX;
}

const char *mlpcl__dtype_name(mlpcl_precision p)
{
    return p == MLPCL_PRECISION_FLOAT ? "F32" : "F64";
}

const char *const mlpcl__act_names[MLPCL__N_ACTS] = {[MLPCL_ACT_SIGMOID] = "sigmoid",
                                                     [MLPCL_ACT_TANH] = "tanh",
                                                     [MLPCL_ACT_RELU] = "relu",
                                                     [MLPCL_ACT_LINEAR] = "linear"};

size_t mlpcl__utf8_bad_at(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], cp, min;
        size_t len;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xe0) == 0xc0)
            len = 2, min = 0x80, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
            len = 3, min = 0x800, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
            len = 4, min = 0x10000, cp = c & 0x07;
        else
            return i;
        if (n - i < len) return i;
        for (size_t k = 1; k < len; ++k) {
            if ((s[i + k] & 0xc0) != 0x80) return i;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
        i += len;
    }
    return n;
}

void mlpcl__encode_value(double x, mlpcl_precision p, unsigned char *out)
{
    uint64_t u = 0;
    if (p == MLPCL_PRECISION_FLOAT) {
        float f = (float)x;
        uint32_t u32;
        memcpy(&u32, &f, 4);
        u = u32;
    } else {
        memcpy(&u, &x, 8);
    }
    for (size_t i = 0; i < (size_t)p; ++i) out[i] = (unsigned char)(u >> (8 * i));
}

double mlpcl__decode_value(const unsigned char *in, mlpcl_precision p)
{
    uint64_t u = 0;
    for (size_t i = 0; i < (size_t)p; ++i) u |= (uint64_t)in[i] << (8 * i);
    if (p == MLPCL_PRECISION_FLOAT) {
        uint32_t u32 = (uint32_t)u;
        float f;
        memcpy(&f, &u32, 4);
        return f;
    }
    double d;
    memcpy(&d, &u, 8);
    return d;
}
