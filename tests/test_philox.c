// SPDX-License-Identifier: MIT
/* test_philox.c: dropout's pieces on the host, no device needed (the device against the host
 * reference is test_dropout.py's):
 * - Philox4x32-10 against the known-answer vectors published with Random123 (Salmon et al.);
 * - the keep rate: over 2,000,000 draws (units × rows × layers × epochs × seeds) the share kept
 *   is 1 − P within 5 binomial standard deviations (√(P(1−P)/n) ≈ 3.2e-4 for P = 0.3: a
 *   bound a correct generator misses with probability ~6e-7, a biased one, or one whose
 *   threshold is off by a few per mille, fails), for P = 0.1, 0.3, 0.5, 0.9;
 * - every key part matters: changing the seed, epoch, layer, position or unit changes the mask
 *   of 10,000 units in about P(1−P)·2 of them (between 0.35 and 0.49 for P = 0.3);
 * - rate 0 gives ref.c's forward pass and hidden deltas bit for bit;
 * - the reference's gradient with a fixed mask against central differences of its own cost
 *   with the same mask (relative error below 1e-6, the five-point stencil and the tiny-gradient
 *   guard of test_gradcheck.c), for sigmoid, tanh and relu hidden layers. */
#include "check.h"
#include "dropout.h"
#include "philox.h"

static void known_answers(void)
{
    static const uint32_t in[3][6] = {
        {0, 0, 0, 0, 0, 0},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0}};
    static const uint32_t want[3][4] = {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
                                        {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
                                        {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}};
    for (int v = 0; v < 3; ++v) {
        uint32_t out[4];
        mlpcl__philox4x32_10(in[v], in[v] + 4, out);
        for (int w = 0; w < 4; ++w)
            CHECK(out[w] == want[v][w], "Philox vector %d word %d: %08x, expected %08x", v, w,
                  out[w], want[v][w]);
    }
}

static void keep_rate(double p)
{
    uint32_t t = mlpcl__dropout_threshold(p);
    size_t n = 0, kept = 0;
    for (uint64_t seed = 1; seed <= 2; ++seed)
        for (uint32_t epoch = 0; epoch < 5; ++epoch)
            for (uint32_t layer = 1; layer <= 2; ++layer)
                for (uint32_t pos = 0; pos < 400; ++pos)
                    for (uint32_t unit = 0; unit < 250; ++unit, ++n)
                        kept += (size_t)mlpcl__dropout_keep(seed << 40 | seed, epoch, layer, pos,
                                                            unit, t);
    double share = (double)kept / (double)n, sd = sqrt(p * (1 - p) / (double)n);
    CHECK(fabs(share - (1 - p)) <= 5 * sd, "P = %g: kept %.6f of %zu, expected %.6f ± %.2g", p,
          share, n, 1 - p, 5 * sd);
}

/* The share of 10,000 units whose fate differs when one key part changes. */
static void key_parts(void)
{
    const double p = 0.3;
    uint32_t t = mlpcl__dropout_threshold(p);
    for (int part = 0; part < 5; ++part) {
        size_t differ = 0;
        for (uint32_t i = 0; i < 10000; ++i) {
            uint64_t s = 7;
            uint32_t e = 3, l = 1, pos = i / 100, u = i % 100;
            int a = mlpcl__dropout_keep(s, e, l, pos, u, t);
            switch (part) {
            case 0:
                s += 1ull << 32;
                break; /* the seed's high half counts too */
            case 1:
                e += 1;
                break;
            case 2:
                l += 1;
                break;
            case 3:
                pos += 100;
                break;
            default:
                u += 100;
                break;
            }
            differ += a != mlpcl__dropout_keep(s, e, l, pos, u, t);
        }
        double share = (double)differ / 10000.0;
        CHECK(share > 0.35 && share < 0.49, "key part %d: %.4f of the units change", part, share);
    }
}

static mlpcl_net *make_net(mlpcl_act hidden, mlpcl_loss loss)
{
    const size_t widths[4] = {4, 9, 7, 3};
    mlpcl_net *net;
    OK(mlpcl_net_create(3, widths, &net));
    for (size_t l = 1; l <= 3; ++l) OK(mlpcl_net_set_act(net, l, hidden));
    if (loss == MLPCL_LOSS_MSE) OK(mlpcl_net_set_act(net, 3, MLPCL_ACT_SIGMOID));
    OK(mlpcl_net_set_loss(net, loss));
    OK(mlpcl_net_init(net, MLPCL_INIT_UNIFORM, 11));
    mlpcl_rng rng = {99};
    for (size_t l = 1; l <= 3; ++l) /* non-zero biases, so that they are checked too */
        fill_uniform(&rng, net->params + net->offset[l] + widths[l - 1] * widths[l], widths[l],
                     -0.3, 0.3);
    return net;
}

/* The cost at P with the mask of d (A, H, D: workspace of m rows). */
static double cost_at(const mlpcl_net *net, const double *P, const double *X, const double *Y,
                      size_t m, double **A, double **H, double **D, const mlpcl__dropout *d)
{
    mlpcl__ref_forward_dropout(net, P, X, m, A, H, d);
    return mlpcl__ref_output_delta(net, A[net->L], Y, m, D[net->L]);
}

static void gradient_check(mlpcl_act hidden, mlpcl_loss loss)
{
    const size_t m = 11;
    const double h = 1e-4;
    mlpcl_net *net = make_net(hidden, loss);
    size_t np = mlpcl_net_n_params(net), n0 = net->width[0], nL = net->width[net->L], big = 0;
    double *X = malloc(m * n0 * sizeof *X), *Y = calloc(m * nL, sizeof *Y);
    double *G = malloc(np * sizeof *G), *P = malloc(np * sizeof *P);
    double **A, **D, **H = NULL, **A0, **D0;
    mlpcl_rng rng = {5};
    fill_uniform(&rng, X, m * n0, -1, 1);
    for (size_t i = 0; i < m; ++i) Y[i * nL + i % nL] = 1;
    OK(mlpcl__ref_layers_alloc(net, m, &A, &D));
    OK(mlpcl__ref_layers_alloc(net, m, &A0, &D0));
    mlpcl_epoch_opts o;
    mlpcl_epoch_opts_default(&o);
    mlpcl__dropout d, none;
    o.dropout = 0.3;
    o.seed = 42;
    o.epoch = 2;
    OK(mlpcl__dropout_begin(net, m, &o, &d, &H));
    d.pos0 = 64;
    o.dropout = 0;
    OK(mlpcl__dropout_begin(net, m, &o, &none, &H));

    /* Rate 0: ref.c's own numbers. */
    memcpy(P, net->params, np * sizeof *P);
    mlpcl__ref_forward(net, P, X, m, A0);
    mlpcl__ref_output_delta(net, A0[net->L], Y, m, D0[net->L]);
    mlpcl__ref_hidden_deltas(net, P, A0, m, D0);
    cost_at(net, P, X, Y, m, A, H, D, &none);
    mlpcl__ref_hidden_deltas_dropout(net, P, A, H, m, D, &none);
    for (size_t l = 1; l <= net->L; ++l)
        CHECK(!memcmp(A[l], A0[l], m * net->width[l] * sizeof(double)) &&
                  !memcmp(D[l], D0[l], m * net->width[l] * sizeof(double)),
              "rate 0: layer %zu differs from ref.c's", l);

    /* The gradient with the mask. */
    cost_at(net, P, X, Y, m, A, H, D, &d);
    mlpcl__ref_hidden_deltas_dropout(net, P, A, H, m, D, &d);
    mlpcl__ref_gradients(net, X, A, D, m, G);
    size_t zeros = 0;
    for (size_t i = 0; i < m * net->width[1]; ++i) zeros += A[1][i] == 0.0;
    CHECK(zeros > 0, "no unit of layer 1 was dropped");
    for (size_t k = 0; k < np; ++k) {
        double f[4], x = P[k];
        const double steps[4] = {2 * h, h, -h, -2 * h};
        for (int s = 0; s < 4; ++s) {
            P[k] = x + steps[s];
            f[s] = cost_at(net, P, X, Y, m, A, H, D, &d);
        }
        P[k] = x;
        double fd = (8 * (f[1] - f[2]) - (f[0] - f[3])) / (12 * h);
        double err = fabs(fd - G[k]), scale = fabs(fd) + fabs(G[k]);
        if (fabs(G[k]) > 1e-6) ++big;
        CHECK(scale > 1e-8 ? err / scale < 1e-6 : err < 1e-14,
              "act %d loss %d: parameter %zu: gradient %.12g, differences %.12g", (int)hidden,
              (int)loss, k, G[k], fd);
    }
    CHECK(big * 2 >= np, "act %d: only %zu of %zu gradients exceed 1e-6", (int)hidden, big, np);
    mlpcl__dropout_free(net, H);
    mlpcl__ref_layers_free(net->L, A, D);
    mlpcl__ref_layers_free(net->L, A0, D0);
    free(X);
    free(Y);
    free(G);
    free(P);
    mlpcl_net_free(net);
}

int main(void)
{
    known_answers();
    keep_rate(0.1);
    keep_rate(0.3);
    keep_rate(0.5);
    keep_rate(0.9);
    key_parts();
    gradient_check(MLPCL_ACT_SIGMOID, MLPCL_LOSS_MSE);
    gradient_check(MLPCL_ACT_TANH, MLPCL_LOSS_CE);
    gradient_check(MLPCL_ACT_RELU, MLPCL_LOSS_CE);
    return report("test_philox");
}
