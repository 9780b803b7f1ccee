// SPDX-License-Identifier: MIT
/* model_meta.h: reading a model file's "__metadata__" strings (model_meta.c), for
 * model_load.c: the network they describe, the file's format version and the rest of
 * mlpcl_model_info. Private to the library. */
#ifndef MLPCL_MODEL_META_H
#define MLPCL_MODEL_META_H

#include <cjson/cJSON.h>

#include "safetensors.h"

/* The string value of a metadata key, or NULL when absent (an error when required). A key
 * given twice is an error. */
mlpcl_status mlpcl__meta_get(const char *path, const cJSON *meta, const char *key, int required,
                             const char **out);
/* A whole-number metadata value (digits only, at most max); an optional one that is absent
 * reads as 0. */
mlpcl_status mlpcl__meta_uint(const char *path, const cJSON *meta, const char *key, int required,
                              uint64_t max, uint64_t *out);
/* Creates the network that layers, activations and loss describe, once the data section
 * (data_len bytes) is known to be big enough for its parameters. */
mlpcl_status mlpcl__meta_net(const char *path, const cJSON *meta, uint64_t data_len,
                             mlpcl_net **out);
/* format_version (1 when absent: files from before it was written), checked to be one this
 * library reads, and output, checked against the network's when present. */
mlpcl_status mlpcl__meta_format(const char *path, const cJSON *meta, const mlpcl_net *net,
                                int *format_version);
/* The rest: version, seed, device, epoch, batch, iteration, run.* and class_names. */
mlpcl_status mlpcl__meta_info(const char *path, const cJSON *meta, size_t n_out,
                              mlpcl_model_info *info);

#endif
