// SPDX-License-Identifier: MIT
/* fuzz_model.c: the model loader. Input: the file, as mlpcl_model_load reads it. A model that
 * loads is checked (finite values, shapes and metadata in range), saved with mlpcl_model_save
 * and loaded again: every saved file must load, and to the same network and information (the
 * version apart: save writes its own). */
#include <math.h>
#include <string.h>

#include "harness.h"

/* Checks a loaded model's network and information. */
static int check_model(const mlpcl_net *net, const mlpcl_model_info *info)
{
    size_t L = mlpcl_net_layers(net), n = mlpcl_net_n_params(net);
    if (L < 1) return fuzz_report("mlpcl_model_load: a network of no layers");
    for (size_t l = 0; l <= L; ++l)
        if (mlpcl_net_width(net, l) < 1) return fuzz_report("mlpcl_model_load: width %zu is 0", l);
    if (info->dtype != MLPCL_PRECISION_FLOAT && info->dtype != MLPCL_PRECISION_DOUBLE)
        return fuzz_report("mlpcl_model_load: dtype %d", (int)info->dtype);
    const double *p = mlpcl_net_params((mlpcl_net *)net);
    for (size_t i = 0; i < n; ++i) {
        if (!isfinite(p[i])) return fuzz_report("mlpcl_model_load: parameter %zu is %g", i, p[i]);
        if (info->dtype == MLPCL_PRECISION_FLOAT && (double)(float)p[i] != p[i])
            return fuzz_report("mlpcl_model_load: F32 parameter %zu is %.17g", i, p[i]);
    }
    for (size_t i = 0; info->velocity && i < n; ++i)
        if (!isfinite(info->velocity[i]))
            return fuzz_report("mlpcl_model_load: velocity %zu is %g", i, info->velocity[i]);
    const mlpcl_norm *norm = &info->norm;
    if (norm->n && (norm->n != mlpcl_net_width(net, 0) || !norm->mean || !norm->std))
        return fuzz_report("mlpcl_model_load: norm of %zu features, %zu inputs", norm->n,
                           mlpcl_net_width(net, 0));
    if (!norm->n && (norm->mean || norm->std))
        return fuzz_report("mlpcl_model_load: norm arrays without features");
    for (size_t i = 0; i < norm->n; ++i)
        if (!isfinite(norm->mean[i]) || !isfinite(norm->std[i]) || !(norm->std[i] > 0))
            return fuzz_report("mlpcl_model_load: norm %zu: mean %g, std %g", i, norm->mean[i],
                               norm->std[i]);
    size_t outs = mlpcl_net_width(net, L);
    for (size_t k = 0; info->class_names && k <= outs; ++k)
        if (!info->class_names[k] != (k == outs))
            return fuzz_report("mlpcl_model_load: class_names is not %zu names then NULL", outs);
    if (!memchr(info->device, '\0', sizeof info->device) ||
        !memchr(info->version, '\0', sizeof info->version))
        return fuzz_report("mlpcl_model_load: device or version not NUL-terminated");
    if (info->epoch < 0 || info->batch < 0 || info->iteration < 0)
        return fuzz_report("mlpcl_model_load: epoch %ld, batch %ld, iteration %ld", info->epoch,
                           info->batch, info->iteration);
    return 0;
}

static int same_doubles(const double *a, const double *b, size_t n)
{
    return (!a && !b) || (a && b && !memcmp(a, b, n * sizeof *a));
}

/* Whether two loaded models are the same, bit for bit (the version apart). */
static int same_model(const mlpcl_net *a, const mlpcl_model_info *ia, const mlpcl_net *b,
                      const mlpcl_model_info *ib)
{
    size_t L = mlpcl_net_layers(a);
    if (mlpcl_net_layers(b) != L || mlpcl_net_loss(a) != mlpcl_net_loss(b)) return 0;
    for (size_t l = 0; l <= L; ++l)
        if (mlpcl_net_width(a, l) != mlpcl_net_width(b, l) ||
            (l && mlpcl_net_act(a, l) != mlpcl_net_act(b, l)))
            return 0;
    size_t n = mlpcl_net_n_params(a), outs = mlpcl_net_width(a, L);
    if (!same_doubles(mlpcl_net_params((mlpcl_net *)a), mlpcl_net_params((mlpcl_net *)b), n) ||
        !same_doubles(ia->velocity, ib->velocity, n) || ia->dtype != ib->dtype ||
        ia->norm.n != ib->norm.n || !same_doubles(ia->norm.mean, ib->norm.mean, ia->norm.n) ||
        !same_doubles(ia->norm.std, ib->norm.std, ia->norm.n) || ia->seed != ib->seed ||
        strcmp(ia->device, ib->device) || ia->epoch != ib->epoch || ia->batch != ib->batch ||
        ia->iteration != ib->iteration || !ia->class_names != !ib->class_names)
        return 0;
    for (size_t k = 0; ia->class_names && k < outs; ++k)
        if (strcmp(ia->class_names[k], ib->class_names[k])) return 0;
    return 1;
}

int fuzz_model(const uint8_t *data, size_t size)
{
    char path[512], copy[512];
    fuzz_path(path, sizeof path, "model.safetensors");
    fuzz_path(copy, sizeof copy, "copy.safetensors");
    if (fuzz_write(path, data, size, 0)) return 1;
    mlpcl_net *net = NULL, *again = NULL;
    mlpcl_model_info info, info2;
    memset(&info2, 0, sizeof info2);
    int bad, st = mlpcl_model_load(path, &net, &info);
    if (st != MLPCL_OK) {
        bad = fuzz_clean_failure("mlpcl_model_load", st);
        if (!bad && (net || !fuzz_all_zero(&info, sizeof info)))
            bad = fuzz_report("mlpcl_model_load failed but left its output set");
        return bad;
    }
    bad = check_model(net, &info);
    if (!bad && (st = mlpcl_model_save(copy, net, &info)) != MLPCL_OK)
        bad = fuzz_report("mlpcl_model_save refused a model that loaded: %s", mlpcl_last_error());
    if (!bad && (st = mlpcl_model_load(copy, &again, &info2)) != MLPCL_OK)
        bad = fuzz_report("mlpcl_model_load of the saved copy: %s", mlpcl_last_error());
    if (!bad && !same_model(net, &info, again, &info2))
        bad = fuzz_report("the saved copy loads as a different model");
    mlpcl_net_free(again);
    mlpcl_model_info_free(&info2);
    mlpcl_net_free(net);
    mlpcl_model_info_free(&info);
    return bad;
}
