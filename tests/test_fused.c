// SPDX-License-Identifier: MIT
/* test_fused.c: the fused whole-iteration kernel (fused.cl) against the host reference, stage
 * by stage through one launch: forward (A_l), output delta (D_L and the cost), hidden deltas
 * (D_l), gradients and the update, at depths 1, 2, 4 and 6 (more than the four layers it once
 * stopped at), every activation and both losses, m = 1, 7, 10, 100. Then a 6-layer network
 * trained to a target fused and on the simple kernels: the same iteration count in double.
 *
 * Tolerances, norm-wise (max error ≤ rtol · max|reference|), as test_kernels.c derives them:
 * double 1e-12 (both sides sum in double, differing only in rounding order); float 2e-4 (the
 * longest sum here has 100 terms, a worst-case rounding error of 100 · 6e-8 = 6e-6 of the
 * terms' absolute sum, compounded through at most six layers of products with weights of
 * order 1). An indexing or formula error gives errors of order 1. Beyond that, the fused kernel
 * builds each element from the same operations (ops.cl) in the same order as the simple
 * kernels, so in double its activations, deltas, gradients and parameters must equal theirs
 * bit for bit (only the cost, a reduction over work-groups, may differ in rounding). */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#define MAX_L 6

typedef struct net_case {
    size_t L, widths[MAX_L + 1];
    mlpcl_act act[MAX_L + 1]; /* per layer 1 … L */
    mlpcl_loss loss;
} net_case;

static const net_case cases[] = {
    {1, {3, 17}, {0, MLPCL_ACT_SIGMOID}, MLPCL_LOSS_CE},
    {1, {5, 2}, {0, MLPCL_ACT_TANH}, MLPCL_LOSS_MSE},
    {2, {2, 3, 2}, {0, MLPCL_ACT_SIGMOID, MLPCL_ACT_SIGMOID}, MLPCL_LOSS_MSE},
    {2, {17, 13, 3}, {0, MLPCL_ACT_RELU, MLPCL_ACT_SIGMOID}, MLPCL_LOSS_CE},
    {4,
     {3, 17, 1, 9, 4},
     {0, MLPCL_ACT_TANH, MLPCL_ACT_RELU, MLPCL_ACT_SIGMOID, MLPCL_ACT_TANH},
     MLPCL_LOSS_MSE},
    {4,
     {7, 5, 11, 5, 3},
     {0, MLPCL_ACT_SIGMOID, MLPCL_ACT_TANH, MLPCL_ACT_RELU, MLPCL_ACT_SIGMOID},
     MLPCL_LOSS_CE},
    {6,
     {2, 4, 4, 4, 4, 4, 2},
     {0, MLPCL_ACT_SIGMOID, MLPCL_ACT_SIGMOID, MLPCL_ACT_SIGMOID, MLPCL_ACT_SIGMOID,
      MLPCL_ACT_SIGMOID, MLPCL_ACT_SIGMOID},
     MLPCL_LOSS_MSE},
    {6,
     {9, 13, 1, 7, 16, 5, 4},
     {0, MLPCL_ACT_TANH, MLPCL_ACT_RELU, MLPCL_ACT_SIGMOID, MLPCL_ACT_TANH, MLPCL_ACT_RELU,
      MLPCL_ACT_SIGMOID},
     MLPCL_LOSS_CE},
};
static const size_t sizes[] = {1, 7, 10, 100};

static double worst[2]; /* largest error ratio seen, float and double */

static void note(mlpcl_precision p, double ratio)
{
    double *w = &worst[p == MLPCL_PRECISION_DOUBLE];
    if (ratio > *w) *w = ratio;
}

static mlpcl_net *make_net(const net_case *c, size_t m, mlpcl_rng *rng)
{
    mlpcl_net *net;
    OK(mlpcl_net_create(c->L, c->widths, &net));
    for (size_t l = 1; l <= c->L; ++l) OK(mlpcl_net_set_act(net, l, c->act[l]));
    OK(mlpcl_net_set_loss(net, c->loss));
    OK(mlpcl_net_init(net, MLPCL_INIT_UNIFORM, m + 7 * c->L));
    /* Biases away from zero so the bias path is exercised. */
    for (size_t l = 1; l <= c->L; ++l)
        fill_uniform(rng, net->params + net->offset[l] + mlpcl__weights(net, l), c->widths[l], -0.5,
                     0.5);
    return net;
}

/* One-hot rows for cross-entropy, uniform [0, 1) targets for least squares. */
static void make_data(mlpcl_rng *rng, const net_case *c, size_t m, double *X, double *Y)
{
    size_t n = c->widths[c->L];
    fill_uniform(rng, X, m * c->widths[0], -1, 1);
    if (c->loss == MLPCL_LOSS_MSE) {
        fill_uniform(rng, Y, m * n, 0, 1);
        return;
    }
    memset(Y, 0, m * n * sizeof *Y);
    for (size_t i = 0; i < m; ++i) Y[i * n + mlpcl__rng_next(rng) % n] = 1;
}

/* A trainer on the given kernel path; checks that "fused" is what it runs. */
static mlpcl_trainer *trainer_on(mlpcl_ctx *ctx, const char *path, const mlpcl_net *net,
                                 const double *X, const double *Y, size_t m, mlpcl_precision p)
{
    mlpcl_trainer *tr;
    setenv("MLPCL_TUNE", path, 1);
    OK(mlpcl_trainer_create(ctx, net, X, Y, m, p, 0, &tr));
    mlpcl__trainer_keep_gradients(tr); /* read below as 'G' */
    int want = !strcmp(path, "path=fused");
    CHECK(mlpcl__cl(tr)->fused == want, "%s: L=%zu m=%zu runs %s", path, net->L, m,
          mlpcl__cl(tr)->fused ? "fused" : "not fused");
    return tr;
}

/* One full-batch iteration with step lr and every buffer it makes: A_l and D_l for l = 1 … L,
 * then G, then P'. The activations are read after the head: a non-fused trainer's backward pass
 * writes a hidden layer's deltas over its activations (a fused plan is all head). */
static double *iteration_buffers(mlpcl_trainer *tr, const net_case *c, size_t m, size_t np,
                                 double lr)
{
    size_t total = 2 * np, at = 0;
    for (size_t l = 1; l <= c->L; ++l) total += 2 * m * c->widths[l];
    double *v = malloc(total * sizeof *v);
    mlpcl_plan *p;
    OK(mlpcl__trainer_prepare(tr, lr, 0.0, -INFINITY));
    OK(mlpcl__plan_get(tr, tr->m, 0, 0, &p));
    OK(mlpcl__plan_enqueue(tr, p, SEG_GATHER, SEG_BACKWARD));
    OK(clFinish(tr->ctx->queue));
    for (size_t l = 1; l <= c->L; at += 2 * m * c->widths[l], ++l)
        OK(mlpcl__trainer_read(tr, 'A', l, v + at));
    OK(mlpcl__plan_enqueue(tr, p, SEG_BACKWARD, SEG_COUNT));
    OK(clFinish(tr->ctx->queue));
    at = 0;
    for (size_t l = 1; l <= c->L; at += 2 * m * c->widths[l], ++l)
        OK(mlpcl__trainer_read(tr, 'D', l, v + at + m * c->widths[l]));
    OK(mlpcl__trainer_read(tr, 'G', 0, v + at));
    OK(mlpcl__trainer_read(tr, 'P', 1, v + at + np));
    return v;
}

static void run_case(mlpcl_ctx *ctx, const net_case *c, size_t m, mlpcl_precision prec)
{
    const double lr = 0.5, rtol = prec == MLPCL_PRECISION_DOUBLE ? 1e-12 : 2e-4;
    mlpcl_rng rng = {1000 * m + 10 * c->L + c->widths[0]};
    mlpcl_net *net = make_net(c, m, &rng);
    size_t n0 = c->widths[0], nL = c->widths[c->L], np = mlpcl_net_n_params(net);
    double *X = malloc(m * n0 * sizeof *X), *Y = malloc(m * nL * sizeof *Y);
    make_data(&rng, c, m, X, Y);

    double *A[MAX_L + 1] = {0}, *D[MAX_L + 1] = {0};
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

    mlpcl_trainer *tr = trainer_on(ctx, "path=fused", net, X, Y, m, prec);
    double *got = iteration_buffers(tr, c, m, np, lr), dev_cost, *g = got;
    char what[160], pname[80];
    snprintf(pname, sizeof pname, "fused %s m=%zu L=%zu",
             prec == MLPCL_PRECISION_DOUBLE ? "double" : "float", m, c->L);
    /* every layer's A and D share one buffer: a write past one layer's end lands in its canary */
    CHECK(mlpcl__cl_canaries_check(tr, what, sizeof what) == MLPCL_OK,
          "%s: the fused iteration wrote past the end of %s: %s", pname, what, mlpcl_last_error());
    for (size_t l = 1; l <= c->L; ++l, g += 2 * m * c->widths[l - 1]) {
        snprintf(what, sizeof what, "%s A_%zu (forward)", pname, l);
        note(prec, compare(what, g, A[l], m * c->widths[l], rtol, 1e-300));
        snprintf(what, sizeof what, "%s D_%zu (%s delta)", pname, l,
                 l == c->L ? "output" : "hidden");
        note(prec, compare(what, g + m * c->widths[l], D[l], m * c->widths[l], rtol, 1e-300));
    }
    OK(mlpcl__trainer_read(tr, 'C', 0, &dev_cost));
    snprintf(what, sizeof what, "%s cost", pname);
    note(prec, compare(what, &dev_cost, &cost, 1, rtol, 1e-300));
    snprintf(what, sizeof what, "%s gradients", pname);
    note(prec, compare(what, g, G, np, rtol, 1e-300));
    snprintf(what, sizeof what, "%s updated parameters", pname);
    note(prec, compare(what, g + np, P1, np, rtol, 1e-300));

    if (prec ==
        MLPCL_PRECISION_DOUBLE) { /* the same operations as the simple kernels, bit for bit */
        mlpcl_trainer *simple = trainer_on(ctx, "path=simple", net, X, Y, m, prec);
        double *want = iteration_buffers(simple, c, m, np, lr);
        size_t n = (size_t)(g - got) + 2 * np;
        for (size_t i = 0; i < n; ++i)
            if (memcmp(&got[i], &want[i], sizeof *got)) {
                CHECK(0, "%s: element %zu of the iteration's buffers is %.17g fused, %.17g simple",
                      pname, i, got[i], want[i]);
                break;
            }
        free(want);
        mlpcl_trainer_free(simple);
    }

    free(got);
    mlpcl_trainer_free(tr);
    for (size_t l = 1; l <= c->L; ++l) free(A[l]), free(D[l]);
    free(G), free(P1), free(X), free(Y);
    mlpcl_net_free(net);
}

typedef struct trace {
    double cost[4096];
    long n;
} trace;

static void on_cost(void *user, long iter, double cost)
{
    trace *t = user;
    if (iter < 4096) t->cost[iter] = cost, t->n = iter + 1;
}

/* A 6-layer network trained fused and on the simple kernels to a target between two of the
 * simple run's costs: both must stop at the same iteration, with the same weights. */
static void run_whole(mlpcl_ctx *ctx)
{
    const net_case *c = &cases[6];
    const size_t m = 10, limit = 3000;
    mlpcl_rng rng = {42};
    mlpcl_net *net = make_net(c, m, &rng);
    size_t np = mlpcl_net_n_params(net);
    double X[10 * 2], Y[10 * 2];
    make_data(&rng, c, m, X, Y);
    mlpcl_train_opts o;
    mlpcl_train_result r[2];
    static trace t;
    mlpcl_train_opts_default(&o);
    o.lr = 0.5;
    o.target = -1;
    o.max_iter = (long)limit;
    o.on_cost = on_cost;
    o.user = &t;

    mlpcl_trainer *simple = trainer_on(ctx, "path=simple", net, X, Y, m, MLPCL_PRECISION_DOUBLE);
    OK(mlpcl_trainer_run(simple, &o, &r[0]));
    mlpcl_trainer_free(simple);
    CHECK(t.n == (long)limit + 1 && t.cost[limit] < t.cost[0], "6 layers: %ld costs, %g → %g", t.n,
          t.cost[0], t.cost[t.n - 1]);
    /* the stop: between the costs after 2,000 and 2,001 updates (they fall steadily) */
    const long k = 2001;
    o.target = 0.5 * (t.cost[k - 1] + t.cost[k]);
    o.on_cost = NULL;
    double *P[2];
    for (int f = 0; f < 2; ++f) {
        mlpcl_net *out;
        OK(mlpcl_net_clone(net, &out));
        mlpcl_trainer *tr =
            trainer_on(ctx, f ? "path=fused" : "path=simple", net, X, Y, m, MLPCL_PRECISION_DOUBLE);
        OK(mlpcl_trainer_run(tr, &o, &r[f]));
        OK(mlpcl_trainer_params(tr, out));
        P[f] = malloc(np * sizeof **P);
        memcpy(P[f], out->params, np * sizeof **P);
        mlpcl_trainer_free(tr);
        mlpcl_net_free(out);
    }
    CHECK(r[0].stop == MLPCL_STOP_CONVERGED && r[0].iterations == k,
          "6 layers, simple: stopped %d after %ld iterations, expected %ld", (int)r[0].stop,
          r[0].iterations, k);
    CHECK(r[1].stop == r[0].stop && r[1].iterations == r[0].iterations,
          "6 layers: fused stopped %d after %ld iterations, simple %d after %ld", (int)r[1].stop,
          r[1].iterations, (int)r[0].stop, r[0].iterations);
    compare("6 layers, trained: fused vs simple parameters", P[1], P[0], np, 1e-12, 1e-300);
    printf("6 layers: %ld iterations fused and simple, cost %.17g and %.17g\n", r[1].iterations,
           r[1].cost, r[0].cost);
    free(P[0]), free(P[1]);
    mlpcl_net_free(net);
}

/* Build notices told: starts and ends. At each batch of an epoch every start must have had its
 * end (the kernels have run). */
typedef struct notices {
    int starts, ends, late;
} notices;

static void on_notice(void *user, mlpcl_build_phase phase, const char *device, double seconds)
{
    notices *n = user;
    (void)device, (void)seconds;
    phase == MLPCL_BUILD_START ? ++n->starts : ++n->ends;
}

static void on_batch(void *user, size_t done, size_t total, double cost)
{
    notices *n = user;
    (void)done, (void)total, (void)cost;
    if (n->ends != n->starts) ++n->late;
}

/* The programs a trainer builds: on a CPU none at its creation, then for each new launch plan
 * one of the kernels it lacks (a fused trainer's first run fused.cl alone, the rest when an
 * epoch or a prediction first needs it); elsewhere all of them at its creation. On a context of
 * its own (so that no program is built already), a fused and then a simple trainer of the
 * tutorial's shape take the same turns (a run, an epoch and a prediction, a run again): their
 * parameters and outputs must stay equal bit for bit in double, as the header says; the fused
 * one's epoch must build (its build time grows, a second notice starts) and end that notice by
 * its first batch. */
static void run_lazy(void)
{
    mlpcl_ctx *ctx = test_device();
    notices seen = {0, 0, 0};
    mlpcl_ctx_set_build_notice(ctx, on_notice, &seen);
    const net_case *c = &cases[2];
    const size_t m = 10;
    mlpcl_rng rng = {7};
    mlpcl_net *net = make_net(c, m, &rng);
    size_t np = mlpcl_net_n_params(net), nL = c->widths[c->L];
    double X[10 * 2], Y[10 * 2], out[2][10 * 2], *P[2][3];
    make_data(&rng, c, m, X, Y);
    mlpcl_train_opts o;
    mlpcl_train_opts_default(&o);
    o.lr = 0.5, o.target = -1, o.max_iter = 40;
    mlpcl_epoch_opts e;
    mlpcl_epoch_opts_default(&e);
    e.lr = 0.5, e.on_batch = on_batch, e.user = &seen;
    mlpcl_train_result r;
    const int cpu = mlpcl__ctx_is_cpu(ctx);
    for (int f = 0; f < 2; ++f) { /* 0: fused, 1: simple */
        mlpcl_trainer *tr =
            trainer_on(ctx, f ? "path=simple" : "path=fused", net, X, Y, m, MLPCL_PRECISION_DOUBLE);
        mlpcl_program *const *of = mlpcl__cl(tr)->program_of;
        double built = mlpcl_trainer_build_seconds(tr);
        CHECK(cpu ? built == 0 && !of[K_FUSED] : built > 0 && of[K_FUSED] && !of[K_FUSED]->kernels,
              "a %s trainer's creation on a %s built %g s, %s", f ? "simple" : "fused",
              cpu ? "CPU" : "GPU", built,
              !of[K_FUSED]           ? "no fused.cl"
              : of[K_FUSED]->kernels ? "a part"
                                     : "every kernel");
        int id = -1;
        OK(mlpcl_trainer_add_set(tr, X, m, &id));
        for (int turn = 0; turn < 3; ++turn) {
            if (turn == 1) {
                OK(mlpcl_trainer_epoch(tr, &e, &r));
                OK(mlpcl_trainer_predict(tr, id, out[f]));
            } else {
                OK(mlpcl_trainer_run(tr, &o, &r));
            }
            CHECK(r.iterations > 0, "lazy program, turn %d: nothing ran", turn);
            if (turn == 0 && !f && cpu) {
                int others = 0;
                for (int k = 0; k < K_COUNT; ++k) others += k != K_FUSED && of[k];
                CHECK(of[K_FUSED] && of[K_FUSED]->kernels == 1u << K_FUSED && !others,
                      "a fused trainer's first run on a CPU built %s and %d other kernels",
                      of[K_FUSED] ? "a program" : "no program", others);
                if (of[K_FUSED]) { /* and the program defines no other kernel */
                    cl_int err;
                    cl_kernel k = clCreateKernel(of[K_FUSED]->program, "gather", &err);
                    CHECK(err == CL_INVALID_KERNEL_NAME,
                          "the fused-only program made kernel gather: error %d", (int)err);
                    if (k) clReleaseKernel(k);
                }
                built = mlpcl_trainer_build_seconds(tr);
            }
            mlpcl_net *now;
            OK(mlpcl_net_clone(net, &now));
            OK(mlpcl_trainer_params(tr, now));
            P[f][turn] = malloc(np * sizeof **P);
            memcpy(P[f][turn], now->params, np * sizeof **P);
            mlpcl_net_free(now);
        }
        if (!f && cpu) {
            CHECK(of[K_GATHER] && mlpcl_trainer_build_seconds(tr) > built,
                  "the fused trainer's epoch built nothing (%g s before, %g s after)", built,
                  mlpcl_trainer_build_seconds(tr));
            /* its plan's kernels, listed before any was made, in one program of them alone */
            uint32_t made = 0;
            int programs = 0;
            for (int k = 0; k < K_COUNT; ++k)
                if (k != K_FUSED && of[k]) {
                    made |= 1u << k;
                    programs += of[k] != of[K_GATHER];
                }
            CHECK(of[K_GATHER] && of[K_GATHER]->kernels == made && !programs,
                  "the epoch's kernels (0x%x) came from %d programs besides one of 0x%x", made,
                  programs + 1, of[K_GATHER] ? of[K_GATHER]->kernels : 0);
            CHECK(seen.starts == 2, "%d build notices started, not the first run's and the epoch's",
                  seen.starts);
        }
        CHECK(seen.ends == seen.starts && !seen.late,
              "build notices: %d started, %d ended, %d batches before their end", seen.starts,
              seen.ends, seen.late);
        mlpcl_trainer_free(tr);
    }
    static const char *const turns[] = {"a run", "an epoch and a prediction", "a run again"};
    for (int turn = 0; turn < 3; ++turn) {
        CHECK(!memcmp(P[0][turn], P[1][turn], np * sizeof **P),
              "lazy program: after %s the fused trainer's parameters differ from the simple's",
              turns[turn]);
        if (turn)
            CHECK(memcmp(P[0][turn], P[0][turn - 1], np * sizeof **P), "%s moved nothing",
                  turns[turn]);
    }
    CHECK(!memcmp(out[0], out[1], m * nL * sizeof **out),
          "lazy program: the fused trainer's predictions differ from the simple's");
    for (int f = 0; f < 2; ++f)
        for (int turn = 0; turn < 3; ++turn) free(P[f][turn]);
    mlpcl_net_free(net);
    mlpcl_ctx_free(ctx);
}

/* The compiler's warm-up (host/warmup.c): a POCL context builds its one-line program on a
 * thread from its creation, successfully, and keeps no program of it; other devices and the
 * host start none. A context freed at once waits for its thread (the sanitizers and the leak
 * check watch that). */
static void warm_compiler(void)
{
    mlpcl_ctx *ctx = test_device(), *host = NULL;
    const int pocl = mlpcl__ctx_is_cpu(ctx) && mlpcl__ctx_is_pocl(ctx);
    int first = mlpcl__warmup_join(ctx), again = mlpcl__warmup_join(ctx);
    CHECK(pocl ? first == CL_SUCCESS : first == 1, "warm-up on %s: %d, expected %s", ctx->info.name,
          first, pocl ? "CL_SUCCESS" : "none (1)");
    CHECK(again == first && !ctx->programs, "a second join gave %d; programs kept: %s", again,
          ctx->programs ? "some" : "none");
    mlpcl_ctx_free(ctx);
    ctx = test_device();
    mlpcl_ctx_free(ctx); /* before its warm-up is done, where it has one */
    OK(mlpcl_ctx_create("host", 0, &host));
    CHECK(mlpcl__warmup_join(host) == 1, "the host started a warm-up");
    mlpcl_ctx_free(host);
}

int main(void)
{
    warm_compiler();
    mlpcl_ctx *ctx = test_device();
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
    printf("largest error / tolerance: float %.3g, double %.3g\n", worst[0], worst[1]);
    if (ctx->info.fp64) {
        run_whole(ctx);
        run_lazy();
    } else
        printf("note: no fp64 on this device; the 6-layer run is not compared\n");
    mlpcl_ctx_free(ctx);
    return report("test_fused");
}
