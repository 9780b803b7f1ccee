// SPDX-License-Identifier: MIT
/* test_kernels.c: every kernel against the host reference, stage by stage through one
 * iteration: forward (A_l), output delta (D_L and the cost), hidden deltas (D_l), gradients
 * (dW, db) and the update (P'), with the canaries after every device buffer checked after each
 * stage (a write past an output's end fails). Sizes are chosen not to be multiples of any
 * work-group size: m = 1, 7, 10, 1000 and widths 1, 3, 17, 129; every activation and both losses;
 * and 64 and 48, which CPUs keep in strips (cl_backend.h's mlpcl__cl_in_strips).
 *
 * Tolerances, norm-wise (max error ≤ rtol · max|reference|): double 1e-12, since both sides sum
 * in double and differ only by rounding order (~1e-15 relative per operation, chains of at
 * most a few thousand). Float 2e-4: single precision rounds at 6e-8 relative; the longest sum
 * here has 1000 terms (the gradients over m = 1000), whose worst-case rounding error is
 * 1000 · 6e-8 = 6e-5 of the terms' absolute sum, itself up to a few times max|result|. An
 * indexing or formula error gives errors of order 1. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

typedef struct net_case {
    size_t L, widths[4];
    mlpcl_act act[4]; /* per layer 1 … L */
    mlpcl_loss loss;
} net_case;

static const net_case cases[] = {
    {2, {1, 3, 1}, {0, MLPCL_ACT_SIGMOID, MLPCL_ACT_SIGMOID}, MLPCL_LOSS_MSE},
    {3,
     {3, 17, 129, 1},
     {0, MLPCL_ACT_SIGMOID, MLPCL_ACT_SIGMOID, MLPCL_ACT_SIGMOID},
     MLPCL_LOSS_MSE},
    {2, {129, 17, 3}, {0, MLPCL_ACT_TANH, MLPCL_ACT_SIGMOID}, MLPCL_LOSS_MSE},
    {3, {17, 1, 129, 17}, {0, MLPCL_ACT_RELU, MLPCL_ACT_TANH, MLPCL_ACT_RELU}, MLPCL_LOSS_MSE},
    {2, {17, 129, 3}, {0, MLPCL_ACT_RELU, MLPCL_ACT_SIGMOID}, MLPCL_LOSS_CE},
    {1, {3, 17}, {0, MLPCL_ACT_SIGMOID}, MLPCL_LOSS_CE},
    /* hidden layers in strips on CPUs' tiled paths: 64 always, 48 where tiles are 16 wide */
    {3, {17, 64, 48, 3}, {0, MLPCL_ACT_TANH, MLPCL_ACT_RELU, MLPCL_ACT_SIGMOID}, MLPCL_LOSS_MSE},
};
static const size_t sizes[] = {1, 7, 10, 1000};

/* One-hot rows for cross-entropy, uniform [0, 1) targets for least squares. */
static void make_targets(mlpcl_rng *rng, const net_case *c, size_t m, double *Y)
{
    size_t n = c->widths[c->L];
    if (c->loss == MLPCL_LOSS_MSE) {
        fill_uniform(rng, Y, m * n, 0, 1);
        return;
    }
    memset(Y, 0, m * n * sizeof *Y);
    for (size_t i = 0; i < m; ++i) Y[i * n + mlpcl__rng_next(rng) % n] = 1;
}

static double worst[2]; /* largest error ratio seen, float and double */

static void note(mlpcl_precision p, double ratio)
{
    double *w = &worst[p == MLPCL_PRECISION_DOUBLE];
    if (ratio > *w) *w = ratio;
}

/* One whole iteration, as device_iteration runs it, a segment at a time: after each the
 * canaries after every device buffer are read back, so that a kernel writing past its
 * output's end fails here, named with its stage. The activations A_1 … A_L are read into A
 * after the loss (the backward pass writes a hidden layer's deltas over its activations). */
static void staged_iteration(mlpcl_trainer *tr, double lr, const char *pname, size_t m, double **A)
{
    static const char *const stage[SEG_COUNT] = {"pack", "gather",   "forward",
                                                 "loss", "backward", "update"};
    mlpcl_plan *p;
    char buf[64];
    OK(mlpcl__trainer_prepare(tr, lr, 0.0, -INFINITY));
    OK(mlpcl__plan_get(tr, tr->m, 0, 0, &p));
    OK(mlpcl__cl_canaries_check(tr, buf, sizeof buf)); /* intact before any launch */
    for (int s = SEG_GATHER; s < SEG_COUNT; ++s) {
        OK(mlpcl__plan_enqueue(tr, p, s, s + 1));
        OK(clFinish(tr->ctx->queue));
        for (size_t l = 1; s == SEG_LOSS && l <= tr->net->L; ++l)
            OK(mlpcl__trainer_read(tr, 'A', l, A[l]));
        int st = mlpcl__cl_canaries_check(tr, buf, sizeof buf);
        if (st == MLPCL_OK) continue;
        CHECK(st == MLPCL_OK, "%s m=%zu: the %s stage wrote past the end of %s: %s", pname, m,
              stage[s], buf, mlpcl_last_error());
        break; /* the damage stays: later stages would only repeat it */
    }
}

static void run_case(mlpcl_ctx *ctx, const net_case *c, size_t m, mlpcl_precision prec)
{
    const double lr = 0.5, rtol = prec == MLPCL_PRECISION_DOUBLE ? 1e-12 : 2e-4;
    mlpcl_rng rng = {1000 * m + c->widths[0]};
    mlpcl_net *net;
    OK(mlpcl_net_create(c->L, c->widths, &net));
    for (size_t l = 1; l <= c->L; ++l) OK(mlpcl_net_set_act(net, l, c->act[l]));
    OK(mlpcl_net_set_loss(net, c->loss));
    OK(mlpcl_net_init(net, MLPCL_INIT_UNIFORM, m));
    /* Biases away from zero so the bias path is exercised. */
    for (size_t l = 1; l <= c->L; ++l)
        fill_uniform(&rng, net->params + net->offset[l] + mlpcl__weights(net, l), c->widths[l],
                     -0.5, 0.5);
    size_t n0 = c->widths[0], nL = c->widths[c->L], np = mlpcl_net_n_params(net);
    double *X = malloc(m * n0 * sizeof *X), *Y = malloc(m * nL * sizeof *Y);
    fill_uniform(&rng, X, m * n0, -1, 1);
    make_targets(&rng, c, m, Y);

    double **A = calloc(c->L + 1, sizeof *A), **D = calloc(c->L + 1, sizeof *D);
    for (size_t l = 1; l <= c->L; ++l) {
        A[l] = malloc(m * c->widths[l] * sizeof **A);
        D[l] = malloc(m * c->widths[l] * sizeof **D);
    }
    double *G = malloc(np * sizeof *G), *P1 = malloc(np * sizeof *P1);
    mlpcl__ref_forward(net, net->params, X, m, A);
    double cost = mlpcl__ref_output_delta(net, A[c->L], Y, m, D[c->L]);
    mlpcl__ref_hidden_deltas(net, net->params, A, m, D);
    mlpcl__ref_gradients(net, X, A, D, m, G);
    for (size_t i = 0; i < np; ++i) P1[i] = net->params[i] - lr * G[i];

    char what[160], pname[80];
    snprintf(pname, sizeof pname, "%s %s", getenv("MLPCL_TUNE"),
             prec == MLPCL_PRECISION_DOUBLE ? "double" : "float");
    mlpcl_trainer *tr;
    OK(mlpcl_trainer_create(ctx, net, X, Y, m, prec, 0, &tr));
    mlpcl__trainer_keep_gradients(tr); /* read below as 'G' */
    double **gotA = calloc(c->L + 1, sizeof *gotA);
    for (size_t l = 1; l <= c->L; ++l) gotA[l] = malloc(m * c->widths[l] * sizeof **gotA);
    staged_iteration(tr, lr, pname, m, gotA);

    size_t big = m * 129 > np ? m * 129 : np;
    double *got = malloc(big * sizeof *got), dev_cost;
    for (size_t l = 1; l <= c->L; ++l) {
        snprintf(what, sizeof what, "%s m=%zu L=%zu A_%zu (forward)", pname, m, c->L, l);
        note(prec, compare(what, gotA[l], A[l], m * c->widths[l], rtol, 1e-300));
        free(gotA[l]);
        OK(mlpcl__trainer_read(tr, 'D', l, got));
        snprintf(what, sizeof what, "%s m=%zu L=%zu D_%zu (%s delta)", pname, m, c->L, l,
                 l == c->L ? "output" : "hidden");
        note(prec, compare(what, got, D[l], m * c->widths[l], rtol, 1e-300));
    }
    OK(mlpcl__trainer_read(tr, 'C', 0, &dev_cost));
    snprintf(what, sizeof what, "%s m=%zu L=%zu cost", pname, m, c->L);
    note(prec, compare(what, &dev_cost, &cost, 1, rtol, 1e-300));
    OK(mlpcl__trainer_read(tr, 'G', 0, got));
    snprintf(what, sizeof what, "%s m=%zu L=%zu gradients", pname, m, c->L);
    note(prec, compare(what, got, G, np, rtol, 1e-300));
    OK(mlpcl__trainer_read(tr, 'P', 1, got));
    snprintf(what, sizeof what, "%s m=%zu L=%zu updated parameters", pname, m, c->L);
    note(prec, compare(what, got, P1, np, rtol, 1e-300));

    free(got);
    free(gotA);
    mlpcl_trainer_free(tr);
    for (size_t l = 1; l <= c->L; ++l) free(A[l]), free(D[l]);
    free(A), free(D), free(G), free(P1), free(X), free(Y);
    mlpcl_net_free(net);
}

/* Every kernel path: the simple kernels, the tiled ones as built by default for CPUs, tiled
 * with odd tiles (5 rows, one vector) so that every size here has edge tiles, the GPUs'
 * local-memory tiles, small and uneven (12 × 8, 5 deep, 3 × 2 a work-item), and their
 * double-buffered variant (lb=2) with tiles that are multiples of its 4-wide vector loads, so
 * that every load is tried whole and cut at a matrix's edge (tiles that are not multiples load
 * one element at a time, as lb=1 does; MLPCL_TEST_PATHS can try them, e.g. with
 * "path=tiled,local=1,bm=10,bn=6,bk=5,wm=5,wn=3,lb=2"), and that variant staged through
 * registers with subtiles read 4 at once (lv=4): 4 × 4 subtiles of 12 × 8 tiles, so that 6
 * work-items stage 12 and 8 vectors a slice, two each but for B's last four. */
static const char *const paths[] = {"path=simple",
                                    "path=tiled,local=0",
                                    "path=tiled,local=0,tm=5,tnv=1",
                                    "path=tiled,local=1,bm=12,bn=8,bk=5,wm=3,wn=2",
                                    "path=tiled,local=1,bm=12,bn=8,bk=4,wm=3,wn=2,lb=2",
                                    "path=tiled,local=1,bm=12,bn=8,bk=4,wm=4,wn=4,lb=2,lv=4"};

int main(void)
{
    mlpcl_ctx *ctx = test_device();
    /* $MLPCL_TEST_PATHS, paths separated by ';', replaces the list (test_limits runs the quick
     * ones under several work-group limits). */
    const char *list[16];
    size_t n_paths = 0;
    char *chosen = getenv("MLPCL_TEST_PATHS") ? strdup(getenv("MLPCL_TEST_PATHS")) : NULL;
    for (char *save = NULL, *tok = chosen ? strtok_r(chosen, ";", &save) : NULL;
         tok && n_paths < 16; tok = strtok_r(NULL, ";", &save))
        list[n_paths++] = tok;
    if (!chosen)
        for (size_t t = 0; t < sizeof paths / sizeof *paths; ++t) list[n_paths++] = paths[t];
    for (size_t t = 0; t < n_paths; ++t) {
        setenv("MLPCL_TUNE", list[t], 1);
        for (int p = 0; p < 2; ++p) {
            mlpcl_precision prec = p ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
            if (prec == MLPCL_PRECISION_DOUBLE && !ctx->info.fp64) {
                printf("note: no fp64 on this device; double cases not run\n");
                continue;
            }
            for (size_t c = 0; c < sizeof cases / sizeof *cases; ++c)
                for (size_t s = 0; s < sizeof sizes / sizeof *sizes; ++s)
                    run_case(ctx, &cases[c], sizes[s], prec);
        }
        printf("%s: largest error / tolerance so far: float %.3g, double %.3g\n", list[t], worst[0],
               worst[1]);
    }
    free(chosen);
    printf("largest error / tolerance: float %.3g, double %.3g\n", worst[0], worst[1]);
    mlpcl_ctx_free(ctx);
    return report("test_kernels");
}
