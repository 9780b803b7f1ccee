// SPDX-License-Identifier: MIT
/* test_iteration.c: whole iterations and whole runs on the device against the host reference:
 * one update of 2-3-2 and of 5-17-9-3; the tutorial's run to convergence; the non-stalling
 * cost read (lookahead 1 and 4) against the stalling loop (lookahead 0), bit for bit, when the
 * run converges, hits max_iter and diverges; a run split in two against one run; and two runs
 * of the same thing, bit for bit. Tolerances as in test_kernels.c: double 1e-12 and float 2e-4
 * norm-wise, except over whole runs (below). */
#include "check.h"

typedef struct problem {
    mlpcl_net *net;
    double *X, *Y;
    size_t m;
} problem;

static problem make_problem(size_t L, const size_t *widths, mlpcl_act hidden, mlpcl_act out,
                            mlpcl_loss loss, mlpcl_init init, size_t m, uint64_t seed)
{
    problem p = {0};
    p.m = m;
    OK(mlpcl_net_create(L, widths, &p.net));
    for (size_t l = 1; l <= L; ++l) OK(mlpcl_net_set_act(p.net, l, l == L ? out : hidden));
    OK(mlpcl_net_set_loss(p.net, loss));
    OK(mlpcl_net_init(p.net, init, seed));
    p.X = malloc(m * widths[0] * sizeof *p.X);
    p.Y = calloc(m * widths[L], sizeof *p.Y);
    mlpcl_rng rng = {seed};
    fill_uniform(&rng, p.X, m * widths[0], 0, 1);
    if (loss == MLPCL_LOSS_CE) /* one-hot targets */
        for (size_t i = 0; i < m; ++i) p.Y[i * widths[L] + i % widths[L]] = 1;
    else
        fill_uniform(&rng, p.Y, m * widths[L], 0, 1);
    return p;
}

static void free_problem(problem *p)
{
    mlpcl_net_free(p->net);
    free(p->X);
    free(p->Y);
}

/* A run's every cost, and its result and final parameters. */
typedef struct trace {
    double *costs;
    size_t n, cap;
    mlpcl_train_result res;
    double *params, *velocity;
} trace;

static void record(void *user, long iter, double cost)
{
    trace *t = user;
    if ((size_t)iter != t->n)
        printf("FAIL: cost of iteration %ld out of order\n", iter), ++failures;
    if (t->n == t->cap)
        t->costs = realloc(t->costs, (t->cap = t->cap ? 2 * t->cap : 1024) * sizeof(double));
    t->costs[t->n++] = cost;
}

/* A cost callback that raises the interrupt flag (its user pointer) at iteration 100. */
static void raise_flag_at_100(void *user, long iter, double cost)
{
    (void)cost;
    if (iter == 100) *(volatile sig_atomic_t *)user = 1;
}

static trace run_momentum(mlpcl_ctx *ctx, const problem *p, mlpcl_precision prec, double lr,
                          double momentum, double target, long max_iter, int lookahead);

static trace run(mlpcl_ctx *ctx, const problem *p, mlpcl_precision prec, double lr, double target,
                 long max_iter, int lookahead)
{
    return run_momentum(ctx, p, prec, lr, 0.0, target, max_iter, lookahead);
}

static trace run_momentum(mlpcl_ctx *ctx, const problem *p, mlpcl_precision prec, double lr,
                          double momentum, double target, long max_iter, int lookahead)
{
    trace t = {0};
    mlpcl_trainer *tr;
    mlpcl_train_opts o;
    mlpcl_train_opts_default(&o);
    o.lr = lr;
    o.momentum = momentum;
    o.target = target;
    o.max_iter = max_iter;
    o.lookahead = lookahead;
    o.on_cost = record;
    o.user = &t;
    OK(mlpcl_trainer_create(ctx, p->net, p->X, p->Y, p->m, prec, 0, &tr));
    OK(mlpcl_trainer_run(tr, &o, &t.res));
    mlpcl_net *out;
    OK(mlpcl_net_clone(p->net, &out));
    OK(mlpcl_trainer_params(tr, out));
    size_t n = mlpcl_net_n_params(out);
    t.params = malloc(n * sizeof *t.params);
    t.velocity = malloc(n * sizeof *t.velocity);
    memcpy(t.params, out->params, n * sizeof *t.params);
    OK(mlpcl_trainer_velocity(tr, t.velocity));
    mlpcl_net_free(out);
    mlpcl_trainer_free(tr);
    return t;
}

static void free_trace(trace *t)
{
    free(t->costs);
    free(t->params);
    free(t->velocity);
}

/* The same run, bit for bit: stop, iterations, every cost and every parameter. */
static void same_bits(const char *what, const trace *a, const trace *b, size_t np)
{
    CHECK(a->res.stop == b->res.stop && a->res.iterations == b->res.iterations,
          "%s: stop %d after %ld vs stop %d after %ld", what, a->res.stop, a->res.iterations,
          b->res.stop, b->res.iterations);
    CHECK(a->n == b->n && !memcmp(a->costs, b->costs, a->n * sizeof(double)),
          "%s: the costs differ", what);
    CHECK(!memcmp(a->params, b->params, np * sizeof(double)), "%s: the parameters differ", what);
    CHECK(!memcmp(&a->res.cost, &b->res.cost, sizeof(double)), "%s: final cost %.17g vs %.17g",
          what, a->res.cost, b->res.cost);
}

static void one_update(mlpcl_ctx *ctx, mlpcl_ctx *host, size_t L, const size_t *widths,
                       mlpcl_init init, mlpcl_precision prec)
{
    problem p =
        make_problem(L, widths, MLPCL_ACT_SIGMOID, MLPCL_ACT_SIGMOID, MLPCL_LOSS_MSE, init, 10, 7);
    size_t np = mlpcl_net_n_params(p.net);
    double rtol = prec == MLPCL_PRECISION_DOUBLE ? 1e-12 : 2e-4;
    trace ref = run(host, &p, MLPCL_PRECISION_DOUBLE, 0.3, 0.0, 1, 0);
    trace dev = run(ctx, &p, prec, 0.3, 0.0, 1, 1);
    char what[96];
    snprintf(what, sizeof what, "%zu-layer net, %s, one update: costs", L,
             prec == MLPCL_PRECISION_DOUBLE ? "double" : "float");
    CHECK(dev.n == 2 && ref.n == 2 && dev.res.iterations == 1, "%s: %zu costs, %ld iterations",
          what, dev.n, dev.res.iterations);
    compare(what, dev.costs, ref.costs, 2, rtol, 1e-300);
    snprintf(what, sizeof what, "%zu-layer net, %s, one update: parameters", L,
             prec == MLPCL_PRECISION_DOUBLE ? "double" : "float");
    compare(what, dev.params, ref.params, np, rtol, 1e-300);
    free_trace(&ref);
    free_trace(&dev);
    free_problem(&p);
}

/* The tutorial's problem: 2-3-2, every weight 1.0, its 10 random samples. */
static problem tutorial_problem(void)
{
    const size_t tut[] = {2, 3, 2};
    problem tp = {0};
    tp.m = 10;
    OK(mlpcl_net_create(2, tut, &tp.net));
    OK(mlpcl_net_init(tp.net, MLPCL_INIT_ONES, 0));
    tp.X = malloc(20 * sizeof(double));
    tp.Y = malloc(20 * sizeof(double));
    mlpcl_tutorial_data(10, 1, tp.X, tp.Y);
    return tp;
}

/* The relu net with softmax outputs whose step (30) is so large that within a few iterations a
 * target class's probability underflows to 0 and the cross-entropy becomes infinite. */
static const double diverging_lr = 30.0;
static problem diverging_problem(void)
{
    const size_t deep[] = {5, 17, 9, 3};
    return make_problem(3, deep, MLPCL_ACT_RELU, MLPCL_ACT_SIGMOID, MLPCL_LOSS_CE,
                        MLPCL_INIT_UNIFORM, 10, 3);
}

/* One whole iteration of 2-3-2 and of 5-17-9-3, in float and (where the device has it)
 * double, against the reference. */
static void one_update_matches_reference(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    const size_t tut[] = {2, 3, 2}, deep[] = {5, 17, 9, 3};
    for (int d = 0; d <= ctx->info.fp64; ++d) {
        mlpcl_precision prec = d ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
        one_update(ctx, host, 2, tut, MLPCL_INIT_ONES, prec);
        one_update(ctx, host, 3, deep, MLPCL_INIT_UNIFORM, prec);
    }
}

/* The tutorial to convergence: in double, the reference's iteration count and cost (the two
 * differ only by rounding order, ~1e-16 a step over ~3000 steps); in float the count within 1
 * and the cost within 1e-5 (float's rounding of ~3000 updates of size ~1e-3). */
static void tutorial_converges_as_reference(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    problem tp = tutorial_problem();
    trace ref = run(host, &tp, MLPCL_PRECISION_DOUBLE, 0.01, 0.1, 100000, 0);
    CHECK(ref.res.stop == MLPCL_STOP_CONVERGED && ref.res.iterations > 100,
          "reference: stop %d after %ld", ref.res.stop, ref.res.iterations);
    if (ctx->info.fp64) {
        trace dd = run(ctx, &tp, MLPCL_PRECISION_DOUBLE, 0.01, 0.1, 100000, 1);
        CHECK(dd.res.iterations == ref.res.iterations, "double: %ld iterations, reference %ld",
              dd.res.iterations, ref.res.iterations);
        CHECK(fabs(dd.res.cost - ref.res.cost) < 1e-12, "double: end cost %.17g vs %.17g",
              dd.res.cost, ref.res.cost);
        compare("double tutorial: final parameters", dd.params, ref.params, 12, 1e-10, 1e-300);
        free_trace(&dd);
    }
    trace ff = run(ctx, &tp, MLPCL_PRECISION_FLOAT, 0.01, 0.1, 100000, 1);
    CHECK(labs(ff.res.iterations - ref.res.iterations) <= 1, "float: %ld iterations, ref %ld",
          ff.res.iterations, ref.res.iterations);
    CHECK(fabs(ff.res.cost - ref.res.cost) < 1e-5, "float: end cost %.9g vs %.9g", ff.res.cost,
          ref.res.cost);
    printf("tutorial: reference %ld iterations, end %.17g; float %ld, end %.9g\n",
           ref.res.iterations, ref.res.cost, ff.res.iterations, ff.res.cost);
    free_trace(&ff);
    free_trace(&ref);
    free_problem(&tp);
}

/* The non-stalling cost read (lookahead 1 and 4) changes nothing against the stalling loop
 * (lookahead 0), bit for bit, when the run converges, hits max_iter and diverges. */
static void lookahead_changes_nothing(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    (void)host;
    problem tp = tutorial_problem(), relu = diverging_problem();
    struct {
        const char *name;
        const problem *p;
        double lr, target;
        long max_iter;
        mlpcl_stop stop;
    } runs[] = {
        {"converged", &tp, 0.01, 0.1, 100000, MLPCL_STOP_CONVERGED},
        {"max_iter", &tp, 0.01, 0.1, 777, MLPCL_STOP_MAX_ITER},
        {"diverged", &relu, diverging_lr, 0.0, 100000, MLPCL_STOP_DIVERGED},
    };
    for (size_t r = 0; r < sizeof runs / sizeof *runs; ++r) {
        size_t np = mlpcl_net_n_params(runs[r].p->net);
        trace stall = run(ctx, runs[r].p, MLPCL_PRECISION_FLOAT, runs[r].lr, runs[r].target,
                          runs[r].max_iter, 0);
        CHECK(stall.res.stop == runs[r].stop, "%s: stopped with %d", runs[r].name, stall.res.stop);
        for (int la = 1; la <= 4; la += 3) {
            trace ahead = run(ctx, runs[r].p, MLPCL_PRECISION_FLOAT, runs[r].lr, runs[r].target,
                              runs[r].max_iter, la);
            char what[64];
            snprintf(what, sizeof what, "%s, lookahead %d vs 0", runs[r].name, la);
            same_bits(what, &ahead, &stall, np);
            free_trace(&ahead);
        }
        free_trace(&stall);
    }
    free_problem(&relu);
    free_problem(&tp);
}

/* A diverged run keeps the weights of the last finite cost: running exactly that many updates
 * from the start ends on the same weights. */
static void divergence_keeps_last_finite_weights(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    (void)host;
    problem relu = diverging_problem();
    size_t np = mlpcl_net_n_params(relu.net);
    trace stall = run(ctx, &relu, MLPCL_PRECISION_FLOAT, diverging_lr, 0.0, 100000, 0);
    long k = stall.res.iterations;
    CHECK(stall.res.stop == MLPCL_STOP_DIVERGED && k >= 1 && (size_t)k < stall.n &&
              isfinite(stall.res.cost) && !isfinite(stall.costs[k]) &&
              stall.res.cost == stall.costs[k - 1],
          "diverged: stop %d at iteration %ld, kept cost %g", stall.res.stop, k, stall.res.cost);
    if (k >= 1) {
        trace upto = run(ctx, &relu, MLPCL_PRECISION_FLOAT, diverging_lr, 0.0, k - 1, 0);
        CHECK(!memcmp(upto.params, stall.params, np * sizeof(double)),
              "diverged: kept weights are not those of iteration %ld", k - 1);
        free_trace(&upto);
    }
    free_trace(&stall);
    free_problem(&relu);
}

/* With momentum, the velocity kept on divergence is that of the last finite cost too (on the
 * device, stalling and not, and on the host): a checkpoint of a diverged run resumes exactly. */
static void divergence_keeps_last_finite_velocity(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    problem relu = diverging_problem();
    size_t np = mlpcl_net_n_params(relu.net);
    mlpcl_ctx *both[2] = {ctx, host};
    for (int c = 0; c < 2; ++c) {
        mlpcl_precision pr = c ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
        for (int la = 0; la <= 4; la += 4) {
            trace dm = run_momentum(both[c], &relu, pr, diverging_lr, 0.5, 0.0, 100000, c ? 0 : la);
            long km = dm.res.iterations;
            trace um =
                run_momentum(both[c], &relu, pr, diverging_lr, 0.5, 0.0, km > 0 ? km - 1 : 0, 0);
            CHECK(dm.res.stop == MLPCL_STOP_DIVERGED && km >= 1 &&
                      !memcmp(um.params, dm.params, np * sizeof(double)) &&
                      !memcmp(um.velocity, dm.velocity, np * sizeof(double)),
                  "diverged with momentum on %s (lookahead %d): weights or velocity kept "
                  "are not those of iteration %ld",
                  both[c]->info.name, la, km - 1);
            free_trace(&dm);
            free_trace(&um);
        }
    }
    free_problem(&relu);
}

/* In double, the device diverges at the reference's iteration and keeps its weights. */
static void divergence_matches_reference(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    if (!ctx->info.fp64) return;
    problem relu = diverging_problem();
    size_t np = mlpcl_net_n_params(relu.net);
    trace hr = run(host, &relu, MLPCL_PRECISION_DOUBLE, diverging_lr, 0.0, 100000, 0);
    trace dd = run(ctx, &relu, MLPCL_PRECISION_DOUBLE, diverging_lr, 0.0, 100000, 1);
    CHECK(hr.res.stop == MLPCL_STOP_DIVERGED && dd.res.stop == MLPCL_STOP_DIVERGED &&
              dd.res.iterations == hr.res.iterations,
          "diverged: device at %ld (stop %d), reference at %ld (stop %d)", dd.res.iterations,
          dd.res.stop, hr.res.iterations, hr.res.stop);
    compare("diverged: kept weights, device vs reference", dd.params, hr.params, np, 1e-9, 1e-300);
    free_trace(&hr);
    free_trace(&dd);
    free_problem(&relu);
}

/* A run split in two (300 then the rest) ends exactly where one run does. */
static void split_run_equals_one_run(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    (void)host;
    problem tp = tutorial_problem();
    trace whole = run(ctx, &tp, MLPCL_PRECISION_FLOAT, 0.01, 0.1, 100000, 1);
    mlpcl_trainer *tr;
    mlpcl_train_opts o;
    mlpcl_train_result r1, r2;
    mlpcl_train_opts_default(&o);
    o.max_iter = 300;
    OK(mlpcl_trainer_create(ctx, tp.net, tp.X, tp.Y, tp.m, MLPCL_PRECISION_FLOAT, 0, &tr));
    OK(mlpcl_trainer_run(tr, &o, &r1));
    o.max_iter = 100000;
    OK(mlpcl_trainer_run(tr, &o, &r2));
    mlpcl_net *out;
    OK(mlpcl_net_clone(tp.net, &out));
    OK(mlpcl_trainer_params(tr, out));
    CHECK(r1.stop == MLPCL_STOP_MAX_ITER && r2.stop == MLPCL_STOP_CONVERGED &&
              r1.iterations + r2.iterations == whole.res.iterations,
          "split run: %ld + %ld iterations vs %ld", r1.iterations, r2.iterations,
          whole.res.iterations);
    CHECK(!memcmp(out->params, whole.params, 12 * sizeof(double)),
          "split run: parameters differ from one run");
    mlpcl_net_free(out);
    mlpcl_trainer_free(tr);
    free_trace(&whole);
    free_problem(&tp);
}

/* Determinism: two runs of a 5-17-9-3 net on 1000 samples, bit for bit. */
static void two_runs_are_identical(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    (void)host;
    const size_t deep[] = {5, 17, 9, 3};
    problem big = make_problem(3, deep, MLPCL_ACT_TANH, MLPCL_ACT_SIGMOID, MLPCL_LOSS_MSE,
                               MLPCL_INIT_UNIFORM, 1000, 11);
    trace a = run(ctx, &big, MLPCL_PRECISION_FLOAT, 0.5, 0.0, 200, 1);
    trace b = run(ctx, &big, MLPCL_PRECISION_FLOAT, 0.5, 0.0, 200, 1);
    same_bits("two identical runs", &a, &b, mlpcl_net_n_params(big.net));
    free_trace(&a);
    free_trace(&b);
    free_problem(&big);
}

/* The mini-batch problem: 5-17-9-3, tanh then relu, softmax outputs, 50 samples. */
static problem minibatch_problem(void)
{
    const size_t w[] = {5, 17, 9, 3};
    return make_problem(3, w, MLPCL_ACT_TANH, MLPCL_ACT_RELU, MLPCL_LOSS_CE, MLPCL_INIT_UNIFORM, 50,
                        21);
}

/* Mini-batches: epochs on the device equal the reference's (the same shuffle), with a batch
 * size that does not divide m, momentum, and every activation; then predictions. Over 2 epochs
 * of 8 updates: double 1e-12, float 2e-4 norm-wise (the chains are short). mb: a 5-…-3 network
 * on 50 samples; tune: the device's tunables (NULL: the defaults). */
static void minibatch_epochs_match(mlpcl_ctx *ctx, mlpcl_ctx *host, problem mb, const char *tune)
{
    size_t np = mlpcl_net_n_params(mb.net);
    OK(mlpcl_ctx_set_tuning(ctx, tune));
    for (int d = 0; d <= ctx->info.fp64; ++d) {
        mlpcl_precision prec = d ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
        double rtol = d ? 1e-12 : 2e-4;
        mlpcl_trainer *dev, *rt;
        OK(mlpcl_trainer_create(ctx, mb.net, mb.X, mb.Y, mb.m, prec, 7, &dev));
        OK(mlpcl_trainer_create(host, mb.net, mb.X, mb.Y, mb.m, MLPCL_PRECISION_DOUBLE, 7, &rt));
        if (tune) { /* a tiled first layer no wider than a vector: the gather's launch */
            int gathers = launches_of(dev, 7, K_GATHER);
            CHECK(mlpcl__cl(dev)->tune.path == MLPCL_PATH_TILED && gathers == 1,
                  "first layer of %zu on %s: %d launches of the gather", mb.net->width[1], tune,
                  gathers);
        }
        mlpcl_epoch_opts eo;
        mlpcl_epoch_opts_default(&eo);
        eo.lr = 0.2;
        eo.momentum = 0.9;
        eo.seed = 42;
        for (long e = 0; e < 2; ++e) {
            mlpcl_train_result rd, rr;
            eo.epoch = e;
            OK(mlpcl_trainer_epoch(dev, &eo, &rd));
            OK(mlpcl_trainer_epoch(rt, &eo, &rr));
            CHECK(rd.stop == MLPCL_STOP_MAX_ITER && rr.stop == MLPCL_STOP_MAX_ITER &&
                      rd.iterations == 8 && rr.iterations == 8,
                  "epoch %ld: stop %d and %d, %ld and %ld updates", e, rd.stop, rr.stop,
                  rd.iterations, rr.iterations);
            compare(d ? "epoch loss (double)" : "epoch loss (float)", &rd.cost, &rr.cost, 1, rtol,
                    1e-300);
        }
        mlpcl_net *na, *nb;
        OK(mlpcl_net_clone(mb.net, &na));
        OK(mlpcl_net_clone(mb.net, &nb));
        OK(mlpcl_trainer_params(dev, na));
        OK(mlpcl_trainer_params(rt, nb));
        compare(d ? "2 epochs, batch 7, momentum: parameters (double)"
                  : "2 epochs, batch 7, momentum: parameters (float)",
                na->params, nb->params, np, rtol, 1e-300);
        CHECK(memcmp(na->params, mb.net->params, np * sizeof(double)),
              "the epochs did not move the parameters");
        double *va = malloc(np * sizeof *va), *vb = malloc(np * sizeof *vb);
        OK(mlpcl_trainer_velocity(dev, va));
        OK(mlpcl_trainer_velocity(rt, vb));
        compare("momentum velocity", va, vb, np, rtol, 1e-300);
        /* predictions on 23 rows, in chunks of 7 */
        int ida, idb;
        double *pa = malloc(23 * 3 * sizeof *pa), *pb = malloc(23 * 3 * sizeof *pb);
        OK(mlpcl_trainer_add_set(dev, mb.X + 5 * 5, 23, &ida));
        OK(mlpcl_trainer_add_set(rt, mb.X + 5 * 5, 23, &idb));
        OK(mlpcl_trainer_predict(dev, ida, pa));
        OK(mlpcl_trainer_predict(rt, idb, pb));
        compare("predictions", pa, pb, 23 * 3, rtol, 1e-300);
        free(va), free(vb), free(pa), free(pb);
        mlpcl_net_free(na);
        mlpcl_net_free(nb);
        mlpcl_trainer_free(dev);
        mlpcl_trainer_free(rt);
    }
    OK(mlpcl_ctx_set_tuning(ctx, NULL));
    free_problem(&mb);
}

static void minibatch_epochs_match_reference(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    minibatch_epochs_match(ctx, host, minibatch_problem(), NULL);
}

/* The same on the tiled path with a first layer of 7, no wider than a vector in either
 * precision: on CPUs its forward product (the narrow one) has no gather in it, so the plan
 * launches the gather before it (mlpcl__cl_gathers_in_forward), as GPUs' plans always do. */
static void narrow_first_layer_epochs_match_reference(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    const size_t w[] = {5, 7, 9, 3};
    minibatch_epochs_match(ctx, host,
                           make_problem(3, w, MLPCL_ACT_TANH, MLPCL_ACT_RELU, MLPCL_LOSS_CE,
                                        MLPCL_INIT_UNIFORM, 50, 21),
                           "path=tiled");
}

/* Momentum in a full-batch run: 50 updates on the device equal the reference's. */
static void full_batch_momentum_matches_reference(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    int fp64 = ctx->info.fp64;
    problem mb = minibatch_problem();
    mlpcl_trainer *t1, *t2;
    mlpcl_train_opts o;
    mlpcl_train_result hr, dr;
    mlpcl_train_opts_default(&o);
    o.lr = 0.1, o.momentum = 0.5, o.target = 0, o.max_iter = 50;
    OK(mlpcl_trainer_create(host, mb.net, mb.X, mb.Y, mb.m, MLPCL_PRECISION_DOUBLE, 0, &t1));
    OK(mlpcl_trainer_create(ctx, mb.net, mb.X, mb.Y, mb.m,
                            fp64 ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT, 0, &t2));
    OK(mlpcl_trainer_run(t1, &o, &hr));
    OK(mlpcl_trainer_run(t2, &o, &dr));
    CHECK(hr.stop == MLPCL_STOP_MAX_ITER && dr.stop == MLPCL_STOP_MAX_ITER && hr.iterations == 50 &&
              dr.iterations == 50,
          "full batch with momentum: stop %d and %d after %ld and %ld", hr.stop, dr.stop,
          hr.iterations, dr.iterations);
    compare("full batch with momentum: cost after 50", &dr.cost, &hr.cost, 1, fp64 ? 1e-12 : 2e-4,
            1e-300);
    mlpcl_trainer_free(t1);
    mlpcl_trainer_free(t2);
    free_problem(&mb);
}

/* An epoch in two pieces (batches 0-2, then the rest) equals the whole epoch, on the device and
 * on the host. */
static void epoch_in_pieces_equals_whole(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    const size_t w[] = {5, 17, 9, 3};
    problem q = make_problem(3, w, MLPCL_ACT_RELU, MLPCL_ACT_SIGMOID, MLPCL_LOSS_MSE,
                             MLPCL_INIT_UNIFORM, 40, 5);
    size_t np = mlpcl_net_n_params(q.net);
    mlpcl_ctx *ctxs[2] = {ctx, host};
    for (int c = 0; c < 2; ++c) {
        mlpcl_precision prec = c ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
        mlpcl_trainer *whole, *parts;
        OK(mlpcl_trainer_create(ctxs[c], q.net, q.X, q.Y, q.m, prec, 6, &whole));
        OK(mlpcl_trainer_create(ctxs[c], q.net, q.X, q.Y, q.m, prec, 6, &parts));
        mlpcl_epoch_opts eo;
        mlpcl_epoch_opts_default(&eo);
        eo.momentum = 0.5;
        mlpcl_train_result r1, r2, r3;
        OK(mlpcl_trainer_epoch(whole, &eo, &r1));
        eo.max_batches = 3;
        OK(mlpcl_trainer_epoch(parts, &eo, &r2));
        eo.first_batch = 3;
        eo.max_batches = 0;
        OK(mlpcl_trainer_epoch(parts, &eo, &r3));
        CHECK(r1.iterations == 7 && r2.iterations == 3 && r3.iterations == 4,
              "epoch in pieces: %ld = %ld + %ld updates", r1.iterations, r2.iterations,
              r3.iterations);
        mlpcl_net *na, *nb;
        OK(mlpcl_net_clone(q.net, &na));
        OK(mlpcl_net_clone(q.net, &nb));
        OK(mlpcl_trainer_params(whole, na));
        OK(mlpcl_trainer_params(parts, nb));
        CHECK(!memcmp(na->params, nb->params, np * sizeof(double)),
              "%s: an epoch in two pieces differs from one", ctxs[c]->info.name);
        mlpcl_net_free(na);
        mlpcl_net_free(nb);
        mlpcl_trainer_free(whole);
        mlpcl_trainer_free(parts);
    }
    free_problem(&q);
}

/* A run interrupted at iteration 100 (its flag raised from the cost callback, as a signal
 * handler would) and continued ends where one run does: the kept weights and their count let it
 * resume exactly. On the device and on the host. */
static void interrupted_run_resumes_exactly(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    problem tp = tutorial_problem();
    for (int c = 0; c < 2; ++c) {
        mlpcl_ctx *where = c ? host : ctx;
        mlpcl_precision prec = c ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
        trace whole = run(where, &tp, prec, 0.01, 0.1, 100000, 1);
        static volatile sig_atomic_t flag;
        flag = 0;
        mlpcl_trainer *tr;
        mlpcl_train_opts o;
        mlpcl_train_result r1, r2;
        mlpcl_train_opts_default(&o);
        o.interrupt = &flag;
        o.on_cost = raise_flag_at_100;
        o.user = (void *)&flag;
        OK(mlpcl_trainer_create(where, tp.net, tp.X, tp.Y, tp.m, prec, 0, &tr));
        OK(mlpcl_trainer_run(tr, &o, &r1));
        /* the default lookahead is the backend's choice: 63 for this fused network */
        int ahead = o.lookahead == MLPCL_LOOKAHEAD_AUTO ? MLPCL__MAX_LOOKAHEAD - 1 : o.lookahead;
        CHECK(r1.stop == MLPCL_STOP_INTERRUPTED && r1.iterations >= 100 &&
                  r1.iterations <= 101 + ahead,
              "interrupted at 100: stop %d after %ld", r1.stop, r1.iterations);
        flag = 0;
        o.on_cost = NULL;
        OK(mlpcl_trainer_run(tr, &o, &r2));
        mlpcl_net *out;
        OK(mlpcl_net_clone(tp.net, &out));
        OK(mlpcl_trainer_params(tr, out));
        CHECK(r2.stop == MLPCL_STOP_CONVERGED &&
                  r1.iterations + r2.iterations == whole.res.iterations &&
                  !memcmp(out->params, whole.params, 12 * sizeof(double)),
              "%s: interrupted and continued: %ld + %ld iterations vs %ld, or other weights",
              where->info.name, r1.iterations, r2.iterations, whole.res.iterations);
        mlpcl_net_free(out);
        mlpcl_trainer_free(tr);
        free_trace(&whole);
    }
    free_problem(&tp);
}

/* Runs one scenario and says how it went. */
static void scenario(const char *name, void (*check)(mlpcl_ctx *, mlpcl_ctx *), mlpcl_ctx *ctx,
                     mlpcl_ctx *host)
{
    int before = failures;
    check(ctx, host);
    printf("%s: %s\n", name, failures == before ? "ok" : "FAILED");
}

#define SCENARIO(f) scenario(#f, f, ctx, host)

int main(void)
{
    mlpcl_ctx *ctx = test_device(), *host;
    OK(mlpcl_ctx_create("host", 0, &host));
    SCENARIO(one_update_matches_reference);
    SCENARIO(tutorial_converges_as_reference);
    SCENARIO(lookahead_changes_nothing);
    SCENARIO(divergence_keeps_last_finite_weights);
    SCENARIO(divergence_keeps_last_finite_velocity);
    SCENARIO(divergence_matches_reference);
    SCENARIO(split_run_equals_one_run);
    SCENARIO(two_runs_are_identical);
    SCENARIO(minibatch_epochs_match_reference);
    SCENARIO(narrow_first_layer_epochs_match_reference);
    SCENARIO(full_batch_momentum_matches_reference);
    SCENARIO(epoch_in_pieces_equals_whole);
    SCENARIO(interrupted_run_resumes_exactly);
    mlpcl_ctx_free(host);
    mlpcl_ctx_free(ctx);
    return report("test_iteration");
}
