// SPDX-License-Identifier: MIT
/* safetensors.h: the layout of mlpcl's model files, shared by model_save.c and model_load.c,
 * private to the library: safetensors (github.com/huggingface/safetensors), an 8-byte
 * little-endian header length N, N bytes of JSON giving each tensor's dtype, shape and byte
 * range plus string metadata, then the tensors' raw little-endian values. */
#ifndef MLPCL_SAFETENSORS_H
#define MLPCL_SAFETENSORS_H

#include "internal.h"

enum {
    HEADER_MAX = 100000000, /* bytes: a longer JSON header is refused as absurd */
    WIDTH_MAX = 1000000,    /* units in one layer */
    LAYERS_MAX = 10000,     /* weight layers */
    CHUNK = 8192,           /* values converted per fread/fwrite */
};

/* The file's layout versions (metadata "format_version"): 1 (no key) stored each weight as the
 * network holds it, [in, out]; 2 stores it as PyTorch's nn.Linear does, [out, in], orders the
 * F64 tensors first and says the output function. Load reads both; save writes the newest. */
enum { MLPCL__FORMAT_V1 = 1, MLPCL__FORMAT_VERSION = 2 };

/* One tensor of a model file. Slots, in the order save writes them: layers.l.weight at
 * 2(l−1), layers.l.bias at 2(l−1)+1, then norm.mean, norm.std, train.velocity and
 * train.adam_s. */
typedef struct tensor {
    char name[48];
    mlpcl_precision dtype; /* MLPCL_PRECISION_FLOAT (F32) or MLPCL_PRECISION_DOUBLE (F64); also its
                              size in bytes */
    size_t rank, shape[2], count;
    const double *src;   /* save: the values */
    double *dst;         /* load: where the values go */
    uint64_t begin, end; /* data_offsets: bytes from the start of the data section */
    int present;         /* load: the header names it */
} tensor;

#define SLOT_MEAN(L)     (2 * (L))
#define SLOT_STD(L)      (2 * (L) + 1)
#define SLOT_VELOCITY(L) (2 * (L) + 2)
#define SLOT_ADAM_S(L)   (2 * (L) + 3)
#define N_SLOTS(L)       (2 * (L) + 4)
/* The k-th slot in the order a file of version 2 holds the data: the F64 tensors norm.mean and
 * norm.std first (8-byte aligned), then the layers, then train.velocity and train.adam_s. */
#define SLOT_IN_FILE(k, L) ((k) < 2 ? SLOT_MEAN(L) + (k) : (k) < 2 * (L) + 2 ? (k)-2 : (k))

/* Names, shapes and counts of every slot, from the network's widths; weights shaped as
 * format_version lays them out ([out, in] from version 2). */
void mlpcl__slots_setup(const mlpcl_net *net, tensor *t, int format_version);
/* A flat vector of n_params values (the parameters, the momentum velocity, or any optimiser
 * state kept per parameter) from the network's layout (layer by layer: W as n_in × n_out
 * row-major, then b) to the file's of version 2 (W as n_out × n_in, then b; the same offsets),
 * and back. Every per-parameter tensor goes through these two, so all share one layout. */
void mlpcl__params_to_file(const mlpcl_net *net, const double *src, double *dst);
void mlpcl__params_from_file(const mlpcl_net *net, const double *src, double *dst);
/* The network's output function, metadata "output": "softmax" with the ce loss, else the last
 * layer's activation. */
const char *mlpcl__output_name(const mlpcl_net *net);
/* The slot of a tensor name, or SIZE_MAX for a name mlpcl does not write. */
size_t mlpcl__slot_of(const char *name, size_t L);
/* "F32" or "F64". */
const char *mlpcl__dtype_name(mlpcl_precision p);
/* The activations' names in the metadata, indexed by mlpcl_act. */
#define MLPCL__N_ACTS 4
extern const char *const mlpcl__act_names[MLPCL__N_ACTS];
/* The index of the first byte of s[0, n) that is not valid UTF-8 (overlong forms, surrogates
 * and code points past U+10FFFF included), or n when it is all valid. */
size_t mlpcl__utf8_bad_at(const char *s, size_t n);
/* A value as p bytes (p is MLPCL_PRECISION_FLOAT or MLPCL_PRECISION_DOUBLE), little-endian, and
 * back. */
void mlpcl__encode_value(double x, mlpcl_precision p, unsigned char *out);
double mlpcl__decode_value(const unsigned char *in, mlpcl_precision p);

#endif
