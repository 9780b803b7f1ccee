// SPDX-License-Identifier: MIT
/* model_meta.c: the string metadata of a model file (its "__metadata__" object), read and
 * checked: the network it describes (layers, activations, loss), the format version, the
 * training state and run record, and the class names. Used by model_load.c. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_meta.h"

/* A decimal number of [s, s+n): digits only, at most max. Returns 0 on success. */
static int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0) return -1;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10) return -1;
        v = 10 * v + d;
    }
    *out = v;
    return 0;
}

/* The string value of a metadata key, or NULL when absent. A key given twice is an error. */
mlpcl_status mlpcl__meta_get(const char *path, const cJSON *meta, const char *key, int required,
                             const char **out)
{
    *out = NULL;
    for (const cJSON *c = meta->child; c; c = c->next) {
        if (strcmp(c->string, key)) continue;
        if (*out)
            return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ has \"%s\" twice", path, key);
        *out = c->valuestring;
    }
    if (!*out && required)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ has no \"%s\"", path, key);
    return MLPCL_OK;
}

/* A whole-number metadata value; an optional one that is absent reads as 0. */
mlpcl_status mlpcl__meta_uint(const char *path, const cJSON *meta, const char *key, int required,
                              uint64_t max, uint64_t *out)
{
    const char *s;
    mlpcl_status st = mlpcl__meta_get(path, meta, key, required, &s);
    if (st != MLPCL_OK) return st;
    if (!s) {
        *out = 0;
        return MLPCL_OK;
    }
    if (parse_uint(s, strlen(s), max, out))
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: __metadata__ %s \"%.40s\" is not a whole number "
                           "in 0 … %" PRIu64,
                           path, key, s, max);
    return MLPCL_OK;
}

/* Creates the network that the metadata's layers, activations and loss describe, once the data
 * section (data_len bytes) is known to be big enough for its parameters, so that a short file
 * cannot make the loader allocate what its header claims. */
mlpcl_status mlpcl__meta_net(const char *path, const cJSON *meta, uint64_t data_len,
                             mlpcl_net **out)
{
    const char *layers, *acts, *loss;
    mlpcl_status st;
    if ((st = mlpcl__meta_get(path, meta, "layers", 1, &layers)) ||
        (st = mlpcl__meta_get(path, meta, "activations", 1, &acts)) ||
        (st = mlpcl__meta_get(path, meta, "loss", 1, &loss)))
        return st;
    size_t n = 1;
    for (const char *p = layers; *p && n <= LAYERS_MAX + 1; ++p) n += *p == ',';
    if (n < 2 || n > LAYERS_MAX + 1)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ layers \"%.80s\": %s", path, layers,
                           n < 2 ? "needs at least 2 widths, the inputs and the outputs"
                                 : "more than 10000 layers");
    size_t *widths = malloc(n * sizeof *widths);
    if (!widths) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
    const char *p = layers;
    for (size_t i = 0; i < n; ++i) {
        size_t len = strcspn(p, ",");
        uint64_t w;
        if (parse_uint(p, len, WIDTH_MAX, &w) || w < 1) {
            free(widths);
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s: __metadata__ layers \"%.80s\": item %zu "
                               "\"%.*s\" is not a whole number in 1 … %d",
                               path, layers, i + 1, (int)(len < 40 ? len : 40), p, WIDTH_MAX);
        }
        widths[i] = (size_t)w;
        p += len + 1;
    }
    /* Each parameter takes at least 4 bytes (F32). The count fits in 64 bits (at most 10000
     * layers of (10^6 + 1)·10^6); beyond INT32_MAX mlpcl_net_create refuses it, unallocated. */
    uint64_t params = 0;
    for (size_t i = 1; i < n; ++i) params += ((uint64_t)widths[i - 1] + 1) * widths[i];
    if (params <= INT32_MAX && params > data_len / 4) {
        free(widths);
        return mlpcl__fail(
            MLPCL_ERR_DATA,
            "%s: __metadata__ layers \"%.80s\" has %" PRIu64 " parameters, at least %" PRIu64
            " bytes: they would run past the end of the data section (%" PRIu64 " bytes)",
            path, layers, params, 4 * params, data_len);
    }
    st = mlpcl_net_create(n - 1, widths, out);
    free(widths);
    if (st == MLPCL_ERR_ARG || st == MLPCL_ERR_TOO_BIG) {
        char why[256];
        snprintf(why, sizeof why, "%s", mlpcl_last_error());
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ layers \"%.80s\": %s", path, layers,
                           why);
    }
    if (st != MLPCL_OK) return st;
    mlpcl_net *net = *out;
    size_t L = net->L, count = 1;
    for (const char *q = acts; *q; ++q) count += *q == ',';
    if (count != L) {
        st = mlpcl__fail(MLPCL_ERR_DATA,
                         "%s: __metadata__ activations \"%.80s\" has %zu "
                         "entries; layers \"%.80s\" has %zu layers",
                         path, acts, count, layers, L);
        goto fail;
    }
    p = acts;
    for (size_t l = 1; l <= L; ++l) {
        size_t len = strcspn(p, ","), a = 0;
        while (a < MLPCL__N_ACTS &&
               (strlen(mlpcl__act_names[a]) != len || strncmp(p, mlpcl__act_names[a], len)))
            ++a;
        if (a == MLPCL__N_ACTS) {
            st = mlpcl__fail(MLPCL_ERR_DATA,
                             "%s: __metadata__ activations: layer %zu's \"%.*s\" "
                             "is not sigmoid, tanh, relu or linear",
                             path, l, (int)(len < 40 ? len : 40), p);
            goto fail;
        }
        net->act[l] = (mlpcl_act)a;
        p += len + 1;
    }
    if (strcmp(loss, "mse") && strcmp(loss, "ce")) {
        st = mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ loss \"%.40s\" is not mse or ce", path,
                         loss);
        goto fail;
    }
    net->loss = strcmp(loss, "ce") ? MLPCL_LOSS_MSE : MLPCL_LOSS_CE;
    return MLPCL_OK;
fail:
    mlpcl_net_free(net);
    *out = NULL;
    return st;
}

/* A run.* value: a string of at most 31 bytes into word, or else a finite number in [lo, hi]
 * into num. */
static mlpcl_status meta_run_value(const char *path, const cJSON *meta, const char *key, char *word,
                                   double lo, double hi, double *num)
{
    const char *s;
    char *end;
    mlpcl_status st = mlpcl__meta_get(path, meta, key, 1, &s);
    if (st != MLPCL_OK || (word && strlen(s) < 32 && strcpy(word, s))) return st;
    errno = 0;
    double v = word ? 0 : strtod(s, &end);
    if (word || !*s || *end || errno || !isfinite(v) || v < lo || v > hi)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ %s \"%.40s\" is not %s", path, key, s,
                           word ? "at most 31 bytes" : "a number in range");
    *num = v;
    return MLPCL_OK;
}

/* A run.* word of up to `size` − 1 bytes. */
static mlpcl_status meta_run_word(const char *path, const cJSON *meta, const char *key, char *word,
                                  size_t size)
{
    const char *s;
    mlpcl_status st = mlpcl__meta_get(path, meta, key, 1, &s);
    if (st != MLPCL_OK) return st;
    if (strlen(s) >= size)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ %s \"%.40s\" is longer than %zu bytes",
                           path, key, s, size - 1);
    strcpy(word, s);
    return MLPCL_OK;
}

/* The run's optimiser, schedule and dropout (run.optimizer …), all or none: files from before
 * they were recorded have none. */
static mlpcl_status meta_run_optim(const char *path, const cJSON *meta, mlpcl_run_record *run)
{
    const char *opt;
    uint64_t nesterov;
    mlpcl_status st = mlpcl__meta_get(path, meta, "run.optimizer", 0, &opt);
    if (st != MLPCL_OK || !opt) return st;
    if ((st = meta_run_word(path, meta, "run.optimizer", run->optimizer, sizeof run->optimizer)) ||
        (st = mlpcl__meta_uint(path, meta, "run.nesterov", 1, 1, &nesterov)) ||
        (st = meta_run_value(path, meta, "run.beta1", NULL, 0, 1, &run->beta1)) ||
        (st = meta_run_value(path, meta, "run.beta2", NULL, 0, 1, &run->beta2)) ||
        (st = meta_run_value(path, meta, "run.eps", NULL, 0, DBL_MAX, &run->eps)) ||
        (st = meta_run_value(path, meta, "run.weight_decay", NULL, 0, DBL_MAX,
                             &run->weight_decay)) ||
        (st = meta_run_word(path, meta, "run.lr_schedule", run->lr_schedule,
                            sizeof run->lr_schedule)) ||
        (st = meta_run_value(path, meta, "run.dropout", NULL, 0, 1, &run->dropout)))
        return st;
    run->nesterov = (int)nesterov;
    return MLPCL_OK;
}

/* The training run's record (run.*), all or none: a file from before it has none. */
static mlpcl_status meta_run(const char *path, const cJSON *meta, mlpcl_run_record *run)
{
    const char *mode;
    uint64_t batch;
    mlpcl_status st = mlpcl__meta_get(path, meta, "run.mode", 0, &mode);
    if (st != MLPCL_OK || !mode) return st;
    if ((st = meta_run_value(path, meta, "run.mode", run->mode, 0, 0, NULL)) ||
        (st = meta_run_value(path, meta, "run.device_kind", run->device_kind, 0, 0, NULL)) ||
        (st = meta_run_value(path, meta, "run.init", run->init, 0, 0, NULL)) ||
        (st = meta_run_value(path, meta, "run.data_digest", run->data_digest, 0, 0, NULL)) ||
        (st = meta_run_value(path, meta, "run.lr", NULL, 0, DBL_MAX, &run->lr)) ||
        (st = meta_run_value(path, meta, "run.momentum", NULL, 0, 1, &run->momentum)) ||
        (st = mlpcl__meta_uint(path, meta, "run.batch", 1, LONG_MAX, &batch)))
        return st;
    run->batch = (long)batch;
    run->present = 1;
    return meta_run_optim(path, meta, run);
}

mlpcl_status mlpcl__meta_format(const char *path, const cJSON *meta, const mlpcl_net *net,
                                int *format_version)
{
    uint64_t v;
    const char *output;
    mlpcl_status st = mlpcl__meta_uint(path, meta, "format_version", 0, 1000000, &v);
    if (st == MLPCL_OK) st = mlpcl__meta_get(path, meta, "output", 0, &output);
    if (st != MLPCL_OK) return st;
    if (v == 0) v = MLPCL__FORMAT_V1; /* absent: written before the key was */
    if (v > MLPCL__FORMAT_VERSION)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: __metadata__ format_version %" PRIu64
                           " is newer than this mlpcl reads (at most %d): use a newer mlpcl",
                           path, v, MLPCL__FORMAT_VERSION);
    if (output && strcmp(output, mlpcl__output_name(net)))
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: __metadata__ output \"%.40s\" does not match the network's "
                           "last layer and loss (%s)",
                           path, output, mlpcl__output_name(net));
    *format_version = (int)v;
    return MLPCL_OK;
}

/* The rest of the metadata: format (checked first, by the caller), version, seed, device,
 * epoch, iteration and the optional class_names (a JSON array of n_out strings). */
mlpcl_status mlpcl__meta_info(const char *path, const cJSON *meta, size_t n_out,
                              mlpcl_model_info *info)
{
    const char *version, *device, *classes;
    uint64_t seed, epoch, batch, iteration, adam_step;
    mlpcl_status st;
    if ((st = mlpcl__meta_get(path, meta, "version", 1, &version)) ||
        (st = mlpcl__meta_get(path, meta, "device", 1, &device)) ||
        (st = mlpcl__meta_uint(path, meta, "seed", 1, UINT64_MAX, &seed)) ||
        (st = mlpcl__meta_uint(path, meta, "epoch", 1, LONG_MAX, &epoch)) ||
        (st = mlpcl__meta_uint(path, meta, "batch", 0, LONG_MAX, &batch)) ||
        (st = mlpcl__meta_uint(path, meta, "iteration", 1, LONG_MAX, &iteration)) ||
        (st = mlpcl__meta_uint(path, meta, "train.adam_step", 0, INT32_MAX, &adam_step)) ||
        (st = mlpcl__meta_get(path, meta, "class_names", 0, &classes)))
        return st;
    if (strlen(version) >= sizeof info->version)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ version is longer than %zu bytes",
                           path, sizeof info->version - 1);
    if (strlen(device) >= sizeof info->device)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ device is longer than %zu bytes", path,
                           sizeof info->device - 1);
    strcpy(info->version, version);
    strcpy(info->device, device);
    info->seed = seed;
    info->epoch = (long)epoch;
    info->batch = (long)batch;
    info->iteration = (long)iteration;
    info->adam_step = (long)adam_step;
    if ((st = meta_run(path, meta, &info->run)) != MLPCL_OK) return st;
    if (!classes) return MLPCL_OK;
    cJSON *a = cJSON_ParseWithOpts(classes, NULL, 1); /* nothing may follow the array */
    size_t n = cJSON_IsArray(a) ? (size_t)cJSON_GetArraySize(a) : 0;
    int strings = cJSON_IsArray(a);
    for (const cJSON *c = a ? a->child : NULL; c; c = c->next) strings &= cJSON_IsString(c);
    if (!strings || n != n_out) {
        cJSON_Delete(a);
        if (!strings)
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s: __metadata__ class_names \"%.40s\" is not a "
                               "JSON array of strings",
                               path, classes);
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: __metadata__ class_names has %zu names; the "
                           "network has %zu outputs",
                           path, n, n_out);
    }
    /* NULL-terminated, so that mlpcl_model_info_free can free it without the count. */
    info->class_names = calloc(n + 1, sizeof *info->class_names);
    size_t i = 0;
    for (const cJSON *c = a->child; info->class_names && c; c = c->next, ++i)
        if (!(info->class_names[i] = strdup(c->valuestring))) break;
    cJSON_Delete(a);
    if (!info->class_names || i < n)
        return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory for class names", path);
    return MLPCL_OK;
}
