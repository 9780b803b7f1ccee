// SPDX-License-Identifier: MIT
/* net.c: network shapes, the flat parameter array and its seeded initialisation (drawn from
 * rng.c's generator), and the tutorial's data. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

mlpcl_status mlpcl_net_create(size_t n_layers, const size_t *widths, mlpcl_net **out)
{
    *out = NULL;
    if (n_layers < 1 || !widths)
        return mlpcl__fail(MLPCL_ERR_ARG, "a network needs at least one weight layer");
    size_t total = 0;
    for (size_t l = 0; l <= n_layers; ++l)
        if (widths[l] < 1 || widths[l] > (size_t)INT32_MAX)
            return mlpcl__fail(MLPCL_ERR_ARG, "layer %zu has width %zu (expected 1 … %d)", l,
                               widths[l], INT32_MAX);
    for (size_t l = 1; l <= n_layers; ++l) {
        size_t w;
        if (mlpcl__mul_overflows(widths[l - 1] + 1, widths[l], &w) || total + w < total ||
            total + w > (size_t)INT32_MAX)
            return mlpcl__fail(MLPCL_ERR_TOO_BIG,
                               "the network has more than %d parameters (layer %zu: %zu×%zu)",
                               INT32_MAX, l, widths[l - 1], widths[l]);
        total += w;
    }
    mlpcl_net *net = calloc(1, sizeof *net);
    if (!net) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a network");
    net->L = n_layers;
    net->width = malloc((n_layers + 1) * sizeof *net->width);
    net->act = calloc(n_layers + 1, sizeof *net->act);
    net->offset = malloc((n_layers + 2) * sizeof *net->offset);
    net->params = calloc(total, sizeof *net->params);
    if (!net->width || !net->act || !net->offset || !net->params) {
        mlpcl_net_free(net);
        return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for %zu parameters", total);
    }
    memcpy(net->width, widths, (n_layers + 1) * sizeof *widths);
    net->offset[1] = 0;
    for (size_t l = 1; l <= n_layers; ++l) {
        net->act[l] = MLPCL_ACT_SIGMOID;
        net->offset[l + 1] = net->offset[l] + (widths[l - 1] + 1) * widths[l];
    }
    net->loss = MLPCL_LOSS_MSE;
    *out = net;
    return MLPCL_OK;
}

void mlpcl_net_free(mlpcl_net *net)
{
    if (!net) return;
    free(net->width);
    free(net->act);
    free(net->offset);
    free(net->params);
    free(net);
}

mlpcl_status mlpcl_net_clone(const mlpcl_net *net, mlpcl_net **out)
{
    mlpcl_status st = mlpcl_net_create(net->L, net->width, out);
    if (st != MLPCL_OK) return st;
    memcpy((*out)->act, net->act, (net->L + 1) * sizeof *net->act);
    (*out)->loss = net->loss;
    memcpy((*out)->params, net->params, mlpcl_net_n_params(net) * sizeof *net->params);
    return MLPCL_OK;
}

size_t mlpcl_net_layers(const mlpcl_net *net)
{
    return net->L;
}

size_t mlpcl_net_width(const mlpcl_net *net, size_t l)
{
    return l <= net->L ? net->width[l] : 0;
}

mlpcl_act mlpcl_net_act(const mlpcl_net *net, size_t l)
{
    return l >= 1 && l <= net->L ? net->act[l] : MLPCL_ACT_SIGMOID;
}

mlpcl_loss mlpcl_net_loss(const mlpcl_net *net)
{
    return net->loss;
}

mlpcl_status mlpcl_net_set_act(mlpcl_net *net, size_t l, mlpcl_act act)
{
    if (l < 1 || l > net->L)
        return mlpcl__fail(MLPCL_ERR_ARG, "layer %zu does not exist (1 … %zu)", l, net->L);
    if (act != MLPCL_ACT_SIGMOID && act != MLPCL_ACT_TANH && act != MLPCL_ACT_RELU &&
        act != MLPCL_ACT_LINEAR)
        return mlpcl__fail(MLPCL_ERR_ARG, "unknown activation %d", (int)act);
    net->act[l] = act;
    return MLPCL_OK;
}

mlpcl_status mlpcl_net_set_loss(mlpcl_net *net, mlpcl_loss loss)
{
    if (loss != MLPCL_LOSS_MSE && loss != MLPCL_LOSS_CE)
        return mlpcl__fail(MLPCL_ERR_ARG, "unknown loss %d", (int)loss);
    net->loss = loss;
    return MLPCL_OK;
}

size_t mlpcl_net_n_params(const mlpcl_net *net)
{
    return net->offset[net->L + 1];
}

double *mlpcl_net_params(mlpcl_net *net)
{
    return net->params;
}

const double *mlpcl_net_params_const(const mlpcl_net *net)
{
    return net->params;
}

size_t mlpcl_net_offset(const mlpcl_net *net, size_t l)
{
    return l >= 1 && l <= net->L + 1 ? net->offset[l] : 0;
}

mlpcl_status mlpcl_net_init(mlpcl_net *net, mlpcl_init init, uint64_t seed)
{
    if (init == MLPCL_INIT_ONES) {
        for (size_t i = 0; i < mlpcl_net_n_params(net); ++i) net->params[i] = 1.0;
        return MLPCL_OK;
    }
    if (init != MLPCL_INIT_UNIFORM)
        return mlpcl__fail(MLPCL_ERR_ARG, "unknown initialisation %d", (int)init);
    mlpcl_rng rng = {seed};
    for (size_t l = 1; l <= net->L; ++l) {
        double n_in = (double)net->width[l - 1], n_out = (double)net->width[l];
        /* Xavier/Glorot for sigmoid and tanh, He for relu: both keep activations' variance. */
        double a = net->act[l] == MLPCL_ACT_RELU ? sqrt(6.0 / n_in) : sqrt(6.0 / (n_in + n_out));
        double *W = net->params + net->offset[l];
        for (size_t i = 0; i < mlpcl__weights(net, l); ++i)
            W[i] = a * (2.0 * mlpcl__rng_uniform(&rng) - 1.0);
        for (size_t j = 0; j < net->width[l]; ++j) W[mlpcl__weights(net, l) + j] = 0.0;
    }
    return MLPCL_OK;
}

void mlpcl_tutorial_data(size_t m, uint64_t seed, double *X, double *Y)
{
    mlpcl_rng rng = {seed};
    for (size_t i = 0; i < 2 * m; ++i) X[i] = mlpcl__rng_uniform(&rng);
    for (size_t i = 0; i < 2 * m; ++i) Y[i] = mlpcl__rng_uniform(&rng);
}
