// SPDX-License-Identifier: MIT
/* test_bulk.c: fused full-batch runs launched in bulk (several iterations a launch of fused.cl,
 * lookahead + 1 of them, the stop decided on the device) against the stalling loop (lookahead
 * 0, one iteration a launch), bit for bit: the same stop, iteration count, every cost, final
 * cost, weights and velocity, in float and double, when the run converges, hits max_iter (at
 * counts that are and are not multiples of a launch's iterations), diverges (with and without
 * momentum) and is interrupted (the flag raised from the cost callback at several iterations:
 * the kept weights are those of a stalling run of that many iterations). And epochs, whose
 * batches' costs are read several at a time (mlpcl_trainer_epoch, cl_loop.c), against the
 * stalling epoch the same way: every batch's cost, the epoch's cost, weights and velocity, when
 * it runs to its end (with a smaller last batch), diverges, and is interrupted. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

typedef struct problem {
    mlpcl_net *net;
    double *X, *Y;
    size_t m;
} problem;

/* The tutorial's 2-3-2, every weight 1.0, its 10 random samples. */
static problem tutorial_problem(void)
{
    const size_t tut[] = {2, 3, 2};
    problem p = {0};
    p.m = 10;
    OK(mlpcl_net_create(2, tut, &p.net));
    OK(mlpcl_net_init(p.net, MLPCL_INIT_ONES, 0));
    p.X = malloc(20 * sizeof(double));
    p.Y = malloc(20 * sizeof(double));
    mlpcl_tutorial_data(10, 1, p.X, p.Y);
    return p;
}

/* 5-17-9-3, relu, softmax and cross-entropy on one-hot targets: with step 30 a target's
 * probability underflows within a few iterations and the cost becomes infinite. */
static problem relu_problem(void)
{
    const size_t w[] = {5, 17, 9, 3};
    problem p = {0};
    p.m = 10;
    OK(mlpcl_net_create(3, w, &p.net));
    for (size_t l = 1; l <= 3; ++l) OK(mlpcl_net_set_act(p.net, l, MLPCL_ACT_RELU));
    OK(mlpcl_net_set_loss(p.net, MLPCL_LOSS_CE));
    OK(mlpcl_net_init(p.net, MLPCL_INIT_UNIFORM, 3));
    p.X = malloc(p.m * 5 * sizeof(double));
    p.Y = calloc(p.m * 3, sizeof(double));
    mlpcl_rng rng = {3};
    fill_uniform(&rng, p.X, p.m * 5, 0, 1);
    for (size_t i = 0; i < p.m; ++i) p.Y[i * 3 + i % 3] = 1;
    return p;
}

static void free_problem(problem *p)
{
    mlpcl_net_free(p->net);
    free(p->X);
    free(p->Y);
}

/* What a run is asked, and what it gave: every cost, the result, the parameters, the velocity. */
typedef struct run_spec {
    double lr, momentum, target;
    long max_iter;
    int lookahead;
    long interrupt_at; /* raise the interrupt flag from the callback of this cost (−1: never) */
} run_spec;

typedef struct trace {
    double *costs;
    size_t n, cap;
    long interrupt_at;
    volatile sig_atomic_t flag;
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
    if (iter == t->interrupt_at) t->flag = 1;
}

/* Copies a run's parameters and velocity into t, and frees its trainer. */
static void keep_weights(mlpcl_trainer *tr, const problem *p, trace *t)
{
    mlpcl_net *out;
    OK(mlpcl_net_clone(p->net, &out));
    OK(mlpcl_trainer_params(tr, out));
    size_t n = mlpcl_net_n_params(out);
    t->params = malloc(n * sizeof *t->params);
    t->velocity = malloc(n * sizeof *t->velocity);
    memcpy(t->params, out->params, n * sizeof *t->params);
    OK(mlpcl_trainer_velocity(tr, t->velocity));
    mlpcl_net_free(out);
    mlpcl_trainer_free(tr);
}

static trace *run(mlpcl_ctx *ctx, const problem *p, mlpcl_precision prec, run_spec s)
{
    trace *t = calloc(1, sizeof *t);
    mlpcl_trainer *tr;
    mlpcl_train_opts o;
    mlpcl_train_opts_default(&o);
    o.lr = s.lr;
    o.momentum = s.momentum;
    o.target = s.target;
    o.max_iter = s.max_iter;
    o.lookahead = s.lookahead;
    o.on_cost = record;
    o.user = t;
    o.interrupt = &t->flag;
    t->interrupt_at = s.interrupt_at;
    OK(mlpcl_trainer_create(ctx, p->net, p->X, p->Y, p->m, prec, 0, &tr));
    CHECK(mlpcl__cl(tr)->fused, "the problem does not run fused");
    OK(mlpcl_trainer_run(tr, &o, &t->res));
    keep_weights(tr, p, t);
    return t;
}

static void free_trace(trace *t)
{
    free(t->costs);
    free(t->params);
    free(t->velocity);
    free(t);
}

/* Bit for bit: stop, iterations, the first n costs of each (all of b's when n is 0, then a
 * the same count), the final cost, the parameters and the velocity. */
static void same_bits(const char *what, const trace *a, const trace *b, size_t np, int stop_too)
{
    CHECK((!stop_too || a->res.stop == b->res.stop) && a->res.iterations == b->res.iterations,
          "%s: stop %d after %ld vs stop %d after %ld", what, a->res.stop, a->res.iterations,
          b->res.stop, b->res.iterations);
    size_t n = stop_too ? b->n : (a->n < b->n ? a->n : b->n);
    CHECK((!stop_too || a->n == b->n) && !memcmp(a->costs, b->costs, n * sizeof(double)),
          "%s: the costs differ (%zu and %zu of them)", what, a->n, b->n);
    CHECK(!memcmp(&a->res.cost, &b->res.cost, sizeof(double)), "%s: final cost %.17g vs %.17g",
          what, a->res.cost, b->res.cost);
    CHECK(!memcmp(a->params, b->params, np * sizeof(double)), "%s: the parameters differ", what);
    CHECK(!memcmp(a->velocity, b->velocity, np * sizeof(double)), "%s: the velocity differs", what);
}

static const int lookaheads[] = {1, 2, 4, 7, 64}; /* launches of 2, 3, 5, 8 and 65 iterations */
#define N_LA (sizeof lookaheads / sizeof *lookaheads)

static const char *prec_name(mlpcl_precision p)
{
    return p == MLPCL_PRECISION_DOUBLE ? "double" : "float";
}

/* Every lookahead against lookahead 0 for one run, which must stop as want says. */
static void against_stalling(mlpcl_ctx *ctx, const problem *p, mlpcl_precision prec,
                             const char *name, run_spec s, mlpcl_stop want)
{
    size_t np = mlpcl_net_n_params(p->net);
    s.lookahead = 0;
    trace *stall = run(ctx, p, prec, s);
    CHECK(stall->res.stop == want, "%s, %s: stopped with %d after %ld", name, prec_name(prec),
          stall->res.stop, stall->res.iterations);
    for (size_t i = 0; i < N_LA; ++i) {
        s.lookahead = lookaheads[i];
        trace *bulk = run(ctx, p, prec, s);
        char what[128];
        snprintf(what, sizeof what, "%s, %s, lookahead %d vs 0", name, prec_name(prec),
                 s.lookahead);
        same_bits(what, bulk, stall, np, 1);
        free_trace(bulk);
    }
    free_trace(stall);
}

static void converged(mlpcl_ctx *ctx, mlpcl_precision prec)
{
    problem tp = tutorial_problem();
    against_stalling(ctx, &tp, prec, "tutorial converged", (run_spec){0.01, 0, 0.1, 100000, 0, -1},
                     MLPCL_STOP_CONVERGED);
    against_stalling(ctx, &tp, prec, "momentum converged",
                     (run_spec){0.01, 0.9, 0.1, 100000, 0, -1}, MLPCL_STOP_CONVERGED);
    free_problem(&tp);
}

/* Counts below, at and around a launch's iterations, and one of none. */
static void max_iter(mlpcl_ctx *ctx, mlpcl_precision prec)
{
    static const long counts[] = {0, 1, 2, 4, 5, 6, 64, 65, 66, 131, 777};
    problem tp = tutorial_problem();
    for (size_t i = 0; i < sizeof counts / sizeof *counts; ++i) {
        char name[64];
        snprintf(name, sizeof name, "max_iter %ld", counts[i]);
        against_stalling(ctx, &tp, prec, name, (run_spec){0.01, 0.5, 0.1, counts[i], 0, -1},
                         MLPCL_STOP_MAX_ITER);
    }
    free_problem(&tp);
}

static void diverged(mlpcl_ctx *ctx, mlpcl_precision prec)
{
    problem relu = relu_problem();
    against_stalling(ctx, &relu, prec, "diverged", (run_spec){30, 0, 0, 100000, 0, -1},
                     MLPCL_STOP_DIVERGED);
    against_stalling(ctx, &relu, prec, "diverged with momentum",
                     (run_spec){30, 0.5, 0, 100000, 0, -1}, MLPCL_STOP_DIVERGED);
    free_problem(&relu);
}

/* Interrupted after the cost of iteration at: the run stops within lookahead + 1 iterations,
 * with the costs, weights, velocity and final cost of a stalling run of that many iterations. */
static void interrupted(mlpcl_ctx *ctx, mlpcl_precision prec)
{
    static const long at[] = {0, 3, 100, 129};
    problem tp = tutorial_problem();
    size_t np = mlpcl_net_n_params(tp.net);
    for (size_t a = 0; a < sizeof at / sizeof *at; ++a)
        for (size_t i = 0; i < N_LA; ++i) {
            run_spec s = {0.01, 0.5, 0.1, 100000, lookaheads[i], at[a]};
            trace *cut = run(ctx, &tp, prec, s);
            long k = cut->res.iterations;
            char what[128];
            snprintf(what, sizeof what, "%s, lookahead %d, interrupted at %ld", prec_name(prec),
                     s.lookahead, at[a]);
            CHECK(cut->res.stop == MLPCL_STOP_INTERRUPTED && k >= at[a] &&
                      k <= at[a] + 1 + s.lookahead,
                  "%s: stop %d after %ld", what, cut->res.stop, k);
            trace *stall = run(ctx, &tp, prec, (run_spec){0.01, 0.5, 0.1, k, 0, -1});
            same_bits(what, cut, stall, np, 0);
            CHECK(cut->n == (size_t)k + 1, "%s: %zu costs for %ld iterations", what, cut->n, k);
            free_trace(stall);
            free_trace(cut);
        }
    free_problem(&tp);
}

/* An epoch problem: the relu network on 100 samples, in batches of 7 (15 batches, the last of
 * 2): more than one read of 8 costs, the auto lookahead's for so small a network. */
static problem epoch_problem(void)
{
    problem p = relu_problem();
    free(p.X);
    free(p.Y);
    p.m = 100;
    p.X = malloc(p.m * 5 * sizeof(double));
    p.Y = calloc(p.m * 3, sizeof(double));
    mlpcl_rng rng = {5};
    fill_uniform(&rng, p.X, p.m * 5, 0, 1);
    for (size_t i = 0; i < p.m; ++i) p.Y[i * 3 + (i * 7) % 3] = 1;
    return p;
}

static void record_batch(void *user, size_t done, size_t total, double cost)
{
    (void)total;
    record(user, (long)done - 1, cost);
}

/* One epoch from the problem's weights (batches of 7; max_batches 0: all). */
static trace *run_epoch(mlpcl_ctx *ctx, const problem *p, mlpcl_precision prec, run_spec s)
{
    trace *t = calloc(1, sizeof *t);
    mlpcl_trainer *tr;
    mlpcl_epoch_opts o;
    mlpcl_epoch_opts_default(&o);
    o.lr = s.lr;
    o.momentum = s.momentum;
    o.max_batches = (size_t)s.max_iter;
    o.lookahead = s.lookahead;
    o.on_batch = record_batch;
    o.user = t;
    o.interrupt = &t->flag;
    t->interrupt_at = s.interrupt_at;
    OK(mlpcl_trainer_create(ctx, p->net, p->X, p->Y, p->m, prec, 7, &tr));
    OK(mlpcl_trainer_epoch(tr, &o, &t->res));
    keep_weights(tr, p, t);
    return t;
}

/* Epochs at every lookahead (reads of 1, 1, 2, 2, 4 and 8 costs, and the auto choice) against
 * the stalling one, to their end and diverging; then interrupted after batch 0, 5 and 9: the
 * kept weights are those of a stalling run of as many batches. */
static void epochs(mlpcl_ctx *ctx, mlpcl_precision prec)
{
    static const int ahead[] = {1, 2, 3, 4, 7, 15, MLPCL_LOOKAHEAD_AUTO};
    problem ep = epoch_problem();
    size_t np = mlpcl_net_n_params(ep.net);
    const struct {
        const char *name;
        run_spec s;
        mlpcl_stop want;
    } runs[] = {{"epoch", {0.5, 0.5, 0, 0, 0, -1}, MLPCL_STOP_MAX_ITER},
                {"diverging epoch", {30, 0, 0, 0, 0, -1}, MLPCL_STOP_DIVERGED}};
    for (size_t r = 0; r < sizeof runs / sizeof *runs; ++r) {
        trace *stall = run_epoch(ctx, &ep, prec, runs[r].s);
        CHECK(stall->res.stop == runs[r].want && stall->n > 1,
              "%s, %s: stopped with %d after %zu costs", runs[r].name, prec_name(prec),
              stall->res.stop, stall->n);
        for (size_t i = 0; i < sizeof ahead / sizeof *ahead; ++i) {
            run_spec s = runs[r].s;
            s.lookahead = ahead[i];
            trace *bulk = run_epoch(ctx, &ep, prec, s);
            char what[128];
            snprintf(what, sizeof what, "%s, %s, lookahead %d vs 0", runs[r].name, prec_name(prec),
                     s.lookahead);
            same_bits(what, bulk, stall, np, 1);
            free_trace(bulk);
        }
        free_trace(stall);
    }
    static const long at[] = {0, 5, 9};
    for (size_t a = 0; a < sizeof at / sizeof *at; ++a) {
        trace *cut = run_epoch(ctx, &ep, prec, (run_spec){0.5, 0.5, 0, 0, 15, at[a]});
        long k = cut->res.iterations;
        char what[128];
        snprintf(what, sizeof what, "%s, epoch interrupted at batch %ld", prec_name(prec), at[a]);
        CHECK(cut->res.stop == MLPCL_STOP_INTERRUPTED && k > at[a] && k <= at[a] + 16,
              "%s: stop %d after %ld", what, cut->res.stop, k);
        trace *stall = run_epoch(ctx, &ep, prec, (run_spec){0.5, 0.5, 0, k, 0, -1});
        same_bits(what, cut, stall, np, 0);
        free_trace(stall);
        free_trace(cut);
    }
    free_problem(&ep);
}

static void scenario(const char *name, void (*check)(mlpcl_ctx *, mlpcl_precision), mlpcl_ctx *ctx,
                     mlpcl_precision prec)
{
    int before = failures;
    check(ctx, prec);
    printf("%s, %s: %s\n", name, prec_name(prec), failures == before ? "ok" : "FAILED");
}

int main(void)
{
    mlpcl_ctx *ctx = test_device();
    unsetenv("MLPCL_TUNE");
    for (int d = 0; d < 2; ++d) {
        mlpcl_precision prec = d ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
        if (d && !ctx->info.fp64) {
            printf("note: no fp64 on this device; double not run\n");
            continue;
        }
        scenario("converged", converged, ctx, prec);
        scenario("max_iter", max_iter, ctx, prec);
        scenario("diverged", diverged, ctx, prec);
        scenario("interrupted", interrupted, ctx, prec);
        scenario("epochs", epochs, ctx, prec);
    }
    mlpcl_ctx_free(ctx);
    return report("test_bulk");
}
