// SPDX-License-Identifier: MIT
/* test_gradcheck.c: the gradients. First the reference's, against central finite differences
 * of its own cost in double: relative error below 1e-6 for every parameter, where the error is
 * |fd − g| / max(|fd| + |g|, 1e-8) (the floor keeps parameters whose gradient vanishes from
 * dividing by zero; their absolute error must then be below 1e-14). A guard fails the test
 * when the gradients checked are all tiny: at least half must exceed 1e-6 in magnitude. The
 * difference is the five-point stencil (8(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h)))/(12h) with
 * h = 1e-4: its truncation error is ~h⁴ = 1e-16 and its rounding error ~1e-17 / h = 1e-13 in
 * a cost of order 0.1, far below 1e-6 of gradients as small as 1e-6. Then the device's gradients,
 * against the reference's: double 1e-12, float 2e-4 norm-wise (see test_kernels.c). Every
 * activation (linear outputs and hidden layers too) and both losses. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

typedef struct net_case {
    size_t L, widths[4];
    mlpcl_act hidden, out;
    mlpcl_loss loss;
    mlpcl_init init;
} net_case;

static const net_case cases[] = {
    {2, {2, 3, 2}, MLPCL_ACT_SIGMOID, MLPCL_ACT_SIGMOID, MLPCL_LOSS_MSE, MLPCL_INIT_ONES},
    {3, {5, 17, 9, 3}, MLPCL_ACT_SIGMOID, MLPCL_ACT_SIGMOID, MLPCL_LOSS_MSE, MLPCL_INIT_UNIFORM},
    {3, {5, 17, 9, 3}, MLPCL_ACT_TANH, MLPCL_ACT_TANH, MLPCL_LOSS_MSE, MLPCL_INIT_UNIFORM},
    {3, {5, 17, 9, 3}, MLPCL_ACT_RELU, MLPCL_ACT_RELU, MLPCL_LOSS_MSE, MLPCL_INIT_UNIFORM},
    {3, {5, 17, 9, 4}, MLPCL_ACT_RELU, MLPCL_ACT_SIGMOID, MLPCL_LOSS_CE, MLPCL_INIT_UNIFORM},
    {2, {7, 13, 3}, MLPCL_ACT_TANH, MLPCL_ACT_SIGMOID, MLPCL_LOSS_CE, MLPCL_INIT_UNIFORM},
    /* regression outputs: linear, after tanh and after linear hidden layers */
    {3, {5, 17, 9, 3}, MLPCL_ACT_TANH, MLPCL_ACT_LINEAR, MLPCL_LOSS_MSE, MLPCL_INIT_UNIFORM},
    {3, {5, 17, 9, 3}, MLPCL_ACT_LINEAR, MLPCL_ACT_TANH, MLPCL_LOSS_MSE, MLPCL_INIT_UNIFORM},
};

static void setup(const net_case *c, size_t m, mlpcl_net **net, double **X, double **Y)
{
    mlpcl_rng rng = {c->widths[1] * 31 + c->loss};
    OK(mlpcl_net_create(c->L, c->widths, net));
    for (size_t l = 1; l <= c->L; ++l)
        OK(mlpcl_net_set_act(*net, l, l == c->L ? c->out : c->hidden));
    OK(mlpcl_net_set_loss(*net, c->loss));
    OK(mlpcl_net_init(*net, c->init, 5));
    if (c->init != MLPCL_INIT_ONES)
        for (size_t l = 1; l <= c->L; ++l)
            fill_uniform(&rng, (*net)->params + (*net)->offset[l] + mlpcl__weights(*net, l),
                         c->widths[l], -0.3, 0.3);
    size_t n0 = c->widths[0], nL = c->widths[c->L];
    *X = malloc(m * n0 * sizeof **X);
    *Y = calloc(m * nL, sizeof **Y);
    fill_uniform(&rng, *X, m * n0, -1, 1);
    if (c->loss == MLPCL_LOSS_CE)
        for (size_t i = 0; i < m; ++i) (*Y)[i * nL + mlpcl__rng_next(&rng) % nL] = 1;
    else
        fill_uniform(&rng, *Y, m * nL, 0, 1);
}

static void finite_differences(const net_case *c)
{
    const size_t m = 13;
    const double h = 1e-4;
    mlpcl_net *net;
    double *X, *Y;
    setup(c, m, &net, &X, &Y);
    size_t np = mlpcl_net_n_params(net), big = 0;
    double *G = malloc(np * sizeof *G), cost, worst = 0;
    OK(mlpcl__ref_cost_grad(net, net->params, X, Y, m, &cost, G));
    for (size_t i = 0; i < np; ++i) {
        double keep = net->params[i], f[4];
        const double at[4] = {2 * h, h, -h, -2 * h};
        for (int s = 0; s < 4; ++s) {
            net->params[i] = keep + at[s];
            OK(mlpcl__ref_cost_grad(net, net->params, X, Y, m, &f[s], NULL));
        }
        net->params[i] = keep;
        double fd = (8 * (f[1] - f[2]) - (f[0] - f[3])) / (12 * h), g = G[i];
        double den = fabs(fd) + fabs(g), rel = fabs(fd - g) / (den > 1e-8 ? den : 1e-8);
        if (rel > worst) worst = rel;
        CHECK(rel < 1e-6,
              "net %zu-layer act %d/%d loss %d, parameter %zu: finite difference "
              "%.12g, backprop %.12g (relative error %.3g)",
              c->L, c->hidden, c->out, c->loss, i, fd, g, rel);
        if (fabs(g) > 1e-6) ++big;
    }
    CHECK(2 * big >= np, "only %zu of %zu gradients exceed 1e-6: the check would be trivial", big,
          np);
    printf("finite differences: %zu-layer act %d/%d loss %d: %zu parameters, worst relative "
           "error %.3g, %zu above 1e-6\n",
           c->L, c->hidden, c->out, c->loss, np, worst, big);
    free(G), free(X), free(Y);
    mlpcl_net_free(net);
}

static void device_gradients(mlpcl_ctx *ctx, const net_case *c, mlpcl_precision prec)
{
    const size_t m = 101;
    mlpcl_net *net;
    double *X, *Y;
    setup(c, m, &net, &X, &Y);
    size_t np = mlpcl_net_n_params(net);
    double *G = malloc(np * sizeof *G), *got = malloc(np * sizeof *got), cost;
    OK(mlpcl__ref_cost_grad(net, net->params, X, Y, m, &cost, G));
    mlpcl_trainer *tr;
    OK(mlpcl_trainer_create(ctx, net, X, Y, m, prec, 0, &tr));
    mlpcl__trainer_keep_gradients(tr); /* read below as 'G' */
    device_iteration(tr, 0.1);
    OK(mlpcl__trainer_read(tr, 'G', 0, got));
    char what[128];
    snprintf(what, sizeof what, "device gradients (%s, %s), %zu-layer act %d/%d loss %d",
             getenv("MLPCL_TUNE"), prec == MLPCL_PRECISION_DOUBLE ? "double" : "float", c->L,
             c->hidden, c->out, c->loss);
    compare(what, got, G, np, prec == MLPCL_PRECISION_DOUBLE ? 1e-12 : 2e-4, 1e-300);
    mlpcl_trainer_free(tr);
    free(G), free(got), free(X), free(Y);
    mlpcl_net_free(net);
}

/* `test_gradcheck reference` checks the reference alone (no OpenCL); `test_gradcheck device`
 * checks the device against it, and skips where there is no device. */
int main(int argc, char **argv)
{
    const size_t n = sizeof cases / sizeof *cases;
    if (argc > 1 && !strcmp(argv[1], "reference")) {
        for (size_t c = 0; c < n; ++c) finite_differences(&cases[c]);
        return report("test_gradcheck reference");
    }
    mlpcl_ctx *ctx = test_device();
    static const char *const paths[] = {"path=simple", "path=tiled,local=0",
                                        "path=tiled,local=1,bm=16,bn=16,bk=4,wm=2,wn=2"};
    for (size_t t = 0; t < sizeof paths / sizeof *paths; ++t) {
        setenv("MLPCL_TUNE", paths[t], 1);
        for (size_t c = 0; c < n; ++c) {
            device_gradients(ctx, &cases[c], MLPCL_PRECISION_FLOAT);
            if (ctx->info.fp64) device_gradients(ctx, &cases[c], MLPCL_PRECISION_DOUBLE);
        }
    }
    mlpcl_ctx_free(ctx);
    return report("test_gradcheck device");
}
