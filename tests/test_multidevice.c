// SPDX-License-Identifier: MIT
/* test_multidevice.c: data-parallel training over a group of devices (two POCL devices, made
 * with POCL_DEVICES="pthread pthread", or the test device twice) against one device: the
 * tutorial's iteration count and cost (double 1e-12, float as test_iteration.c: count within 1,
 * cost within 1e-5), reruns bit for bit, mini-batch epochs (batches that split unevenly, and
 * smaller than the group), divergence, three workers, prediction, and bad device lists; and the
 * pipelined step (a lookahead: layer-by-layer sums, the next step queued early) bit for bit the
 * plain one (lookahead 0); and the other optimisers (Nesterov, weight decay, Adam, AdamW) on the
 * group as on one device and the host reference, and dropout. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "check.h"

typedef struct problem {
    mlpcl_net *net;
    double *X, *Y;
    size_t m;
} problem;

static problem tutorial_problem(size_t m)
{
    const size_t tut[] = {2, 3, 2};
    problem tp = {0};
    tp.m = m;
    OK(mlpcl_net_create(2, tut, &tp.net));
    OK(mlpcl_net_init(tp.net, MLPCL_INIT_ONES, 0));
    tp.X = malloc(2 * m * sizeof(double));
    tp.Y = malloc(2 * m * sizeof(double));
    mlpcl_tutorial_data(m, 1, tp.X, tp.Y);
    return tp;
}

/* 5-17-9-3 relu, out outputs and cross-entropy, one-hot targets, m random samples. */
static problem deep_problem(size_t m, uint64_t seed, mlpcl_act out)
{
    const size_t w[] = {5, 17, 9, 3};
    problem p = {0};
    p.m = m;
    OK(mlpcl_net_create(3, w, &p.net));
    for (size_t l = 1; l <= 3; ++l) OK(mlpcl_net_set_act(p.net, l, l == 3 ? out : MLPCL_ACT_RELU));
    OK(mlpcl_net_set_loss(p.net, MLPCL_LOSS_CE));
    OK(mlpcl_net_init(p.net, MLPCL_INIT_UNIFORM, seed));
    p.X = malloc(m * 5 * sizeof *p.X);
    p.Y = calloc(m * 3, sizeof *p.Y);
    mlpcl_rng rng = {seed};
    fill_uniform(&rng, p.X, m * 5, 0, 1);
    for (size_t i = 0; i < m; ++i) p.Y[i * 3 + i % 3] = 1;
    return p;
}

static void free_problem(problem *p)
{
    mlpcl_net_free(p->net);
    free(p->X);
    free(p->Y);
}

/* A trainer's parameters, in a new array. */
static double *params_of(mlpcl_trainer *tr, const mlpcl_net *shape)
{
    size_t np = mlpcl_net_n_params(shape);
    double *x = malloc(np * sizeof *x);
    mlpcl_net *n;
    OK(mlpcl_net_clone(shape, &n));
    OK(mlpcl_trainer_params(tr, n));
    memcpy(x, n->params, np * sizeof *x);
    mlpcl_net_free(n);
    return x;
}

/* A run's result, its costs' sum of bits (for reruns) and final parameters. */
typedef struct trace {
    mlpcl_train_result res;
    double *costs;
    long n;
    double *params;
} trace;

static void record(void *user, long iter, double cost)
{
    trace *t = user;
    t->costs = realloc(t->costs, (size_t)(iter + 1) * sizeof *t->costs);
    t->costs[iter] = cost;
    t->n = iter + 1;
}

static int lookahead = MLPCL_LOOKAHEAD_AUTO; /* what run() gives the trainer */

static trace run(mlpcl_ctx *ctx, const problem *p, mlpcl_precision prec, double lr, double momentum,
                 double target, long max_iter)
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
    t.params = params_of(tr, p->net);
    mlpcl_trainer_free(tr);
    return t;
}

static void free_trace(trace *t)
{
    free(t->costs);
    free(t->params);
}

/* The tutorial on the group as on one device: double, the same count and the cost within
 * 1e-12; float, the count within 1 and the cost within 1e-5. Reruns on the group: bit for
 * bit. */
static void tutorial_as_one_device(mlpcl_ctx *one, mlpcl_ctx *group)
{
    problem tp = tutorial_problem(10);
    for (int d = 0; d <= one->info.fp64; ++d) {
        mlpcl_precision prec = d ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
        trace a = run(one, &tp, prec, 0.01, 0, 0.1, 100000);
        trace b = run(group, &tp, prec, 0.01, 0, 0.1, 100000);
        trace c = run(group, &tp, prec, 0.01, 0, 0.1, 100000);
        CHECK(a.res.stop == MLPCL_STOP_CONVERGED && b.res.stop == MLPCL_STOP_CONVERGED,
              "stops %d and %d", a.res.stop, b.res.stop);
        if (d) {
            CHECK(a.res.iterations == b.res.iterations,
                  "double: %ld iterations on the group, %ld "
                  "on one device",
                  b.res.iterations, a.res.iterations);
            CHECK(fabs(a.res.cost - b.res.cost) < 1e-12, "double: end cost %.17g vs %.17g",
                  b.res.cost, a.res.cost);
            compare("double tutorial: parameters", b.params, a.params, 12, 1e-10, 1e-300);
        } else {
            CHECK(labs(a.res.iterations - b.res.iterations) <= 1, "float: %ld iterations vs %ld",
                  b.res.iterations, a.res.iterations);
            CHECK(fabs(a.res.cost - b.res.cost) < 1e-5, "float: end cost %.9g vs %.9g", b.res.cost,
                  a.res.cost);
        }
        CHECK(b.res.iterations == c.res.iterations && b.n == c.n &&
                  !memcmp(b.costs, c.costs, (size_t)b.n * sizeof(double)) &&
                  !memcmp(b.params, c.params, 12 * sizeof(double)),
              "%s: two runs on the group differ", d ? "double" : "float");
        printf("tutorial (%s): one device %ld iterations, end %.17g; group %ld, end %.17g "
               "(difference %.3g)\n",
               d ? "double" : "float", a.res.iterations, a.res.cost, b.res.iterations, b.res.cost,
               fabs(a.res.cost - b.res.cost));
        free_trace(&a);
        free_trace(&b);
        free_trace(&c);
    }
    free_problem(&tp);
}

/* Full batch with momentum on an uneven split (11 rows), and the exact stop at max_iter and on
 * divergence (a step so large the cross-entropy becomes infinite): the same iterations and
 * weights. */
static void stops_as_one_device(mlpcl_ctx *one, mlpcl_ctx *group)
{
    problem p = deep_problem(11, 5, MLPCL_ACT_RELU), dv = deep_problem(10, 3, MLPCL_ACT_SIGMOID);
    size_t np = mlpcl_net_n_params(p.net);
    for (int d = 0; d <= one->info.fp64; ++d) {
        mlpcl_precision prec = d ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
        double rtol = d ? 1e-12 : 2e-4;
        trace a = run(one, &p, prec, 0.1, 0.9, -INFINITY, 40);
        trace b = run(group, &p, prec, 0.1, 0.9, -INFINITY, 40);
        CHECK(a.res.stop == MLPCL_STOP_MAX_ITER && b.res.stop == MLPCL_STOP_MAX_ITER &&
                  a.res.iterations == 40 && b.res.iterations == 40,
              "max_iter: stops %d, %d after %ld, %ld", a.res.stop, b.res.stop, a.res.iterations,
              b.res.iterations);
        compare("40 iterations with momentum: cost", &b.res.cost, &a.res.cost, 1, rtol, 1e-300);
        compare("40 iterations with momentum: parameters", b.params, a.params, np, rtol, 1e-300);
        free_trace(&a);
        free_trace(&b);
        a = run(one, &dv, prec, 30, 0, -INFINITY, 1000);
        b = run(group, &dv, prec, 30, 0, -INFINITY, 1000);
        CHECK(a.res.stop == MLPCL_STOP_DIVERGED && b.res.stop == MLPCL_STOP_DIVERGED &&
                  a.res.iterations == b.res.iterations,
              "divergence: stops %d, %d after %ld, %ld", a.res.stop, b.res.stop, a.res.iterations,
              b.res.iterations);
        compare("diverged: kept weights", b.params, a.params, np, d ? 1e-9 : 2e-4, 1e-300);
        free_trace(&a);
        free_trace(&b);
    }
    free_problem(&p);
    free_problem(&dv);
}

/* Two epochs of mini-batches with momentum: batch 8 of 37 rows (the last batch 5, split 3 and
 * 2), then batch 1 (smaller than the group: one worker idles); and predictions after. */
static void epochs_as_one_device(mlpcl_ctx *one, mlpcl_ctx *group)
{
    problem p = deep_problem(37, 9, MLPCL_ACT_RELU);
    size_t np = mlpcl_net_n_params(p.net);
    for (int d = 0; d <= one->info.fp64; ++d) {
        mlpcl_precision prec = d ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
        double rtol = d ? 1e-12 : 2e-4;
        static const size_t batches[] = {8, 1};
        for (size_t bi = 0; bi < 2; ++bi) {
            mlpcl_trainer *ta, *tb;
            OK(mlpcl_trainer_create(one, p.net, p.X, p.Y, p.m, prec, batches[bi], &ta));
            OK(mlpcl_trainer_create(group, p.net, p.X, p.Y, p.m, prec, batches[bi], &tb));
            mlpcl_epoch_opts eo;
            mlpcl_epoch_opts_default(&eo);
            eo.lr = 0.2;
            eo.momentum = 0.9;
            eo.seed = 42;
            for (long e = 0; e < 2; ++e) {
                mlpcl_train_result ra, rb;
                eo.epoch = e;
                OK(mlpcl_trainer_epoch(ta, &eo, &ra));
                OK(mlpcl_trainer_epoch(tb, &eo, &rb));
                CHECK(ra.iterations == rb.iterations && ra.stop == rb.stop,
                      "batch %zu, epoch %ld: %ld and %ld updates", batches[bi], e, ra.iterations,
                      rb.iterations);
                compare("epoch loss", &rb.cost, &ra.cost, 1, rtol, 1e-300);
            }
            mlpcl_net *na, *nb;
            OK(mlpcl_net_clone(p.net, &na));
            OK(mlpcl_net_clone(p.net, &nb));
            OK(mlpcl_trainer_params(ta, na));
            OK(mlpcl_trainer_params(tb, nb));
            compare("2 epochs with momentum: parameters", nb->params, na->params, np, rtol, 1e-300);
            double *xa = malloc(np * sizeof *xa), *xb = malloc(np * sizeof *xb);
            OK(mlpcl_trainer_velocity(ta, xa));
            OK(mlpcl_trainer_velocity(tb, xb));
            compare("momentum velocity", xb, xa, np, rtol, 1e-300);
            int ia, ib;
            OK(mlpcl_trainer_add_set(ta, p.X, p.m, &ia));
            OK(mlpcl_trainer_add_set(tb, p.X, p.m, &ib));
            double *pa = malloc(p.m * 3 * sizeof *pa), *pb = malloc(p.m * 3 * sizeof *pb);
            OK(mlpcl_trainer_predict(ta, ia, pa));
            OK(mlpcl_trainer_predict(tb, ib, pb));
            compare("predictions", pb, pa, p.m * 3, rtol, 1e-300);
            free(pa), free(pb), free(xa), free(xb);
            mlpcl_net_free(na);
            mlpcl_net_free(nb);
            mlpcl_trainer_free(ta);
            mlpcl_trainer_free(tb);
        }
    }
    free_problem(&p);
}

/* The optimisers other than plain SGD on the group, each worker stepping with the summed
 * gradient and keeping its own copy of the optimiser's state. */
typedef struct optim_case {
    const char *name;
    mlpcl_optimizer kind;
    int nesterov;
    double lr, momentum, wd;
} optim_case;

static const optim_case optim_cases[] = {
    {"SGD, Nesterov", MLPCL_OPT_SGD, 1, 0.2, 0.9, 0},
    {"SGD, weight decay", MLPCL_OPT_SGD, 0, 0.2, 0.5, 1e-3},
    {"Adam", MLPCL_OPT_ADAM, 0, 0.01, 0, 0},          /* after SGD: its state starts afresh */
    {"Adam again", MLPCL_OPT_ADAM, 0, 0.01, 0, 1e-3}, /* carries on from the last epoch's */
    {"AdamW", MLPCL_OPT_ADAMW, 0, 0.01, 0, 0.02},
};

/* A trainer's parameters, velocity (Adam's first moments) and Adam's S, in one array of 3·np,
 * and Adam's step count. */
static double *whole_state(mlpcl_trainer *tr, const mlpcl_net *shape, long *t)
{
    size_t np = mlpcl_net_n_params(shape);
    double *p = params_of(tr, shape), *x = realloc(p, 3 * np * sizeof *x);
    OK(mlpcl_trainer_velocity(tr, x + np));
    OK(mlpcl_trainer_adam_state(tr, x + 2 * np, t));
    return x;
}

/* Compares trainer b's whole state with a's: the same step count, the rest within rtol of each
 * part's largest. */
static void same_state(const char *what, mlpcl_trainer *b, mlpcl_trainer *a, const mlpcl_net *shape,
                       double rtol)
{
    size_t np = mlpcl_net_n_params(shape);
    long ta, tb;
    double *xa = whole_state(a, shape, &ta), *xb = whole_state(b, shape, &tb);
    static const char *const part[] = {"parameters", "velocity", "Adam's S"};
    char label[224];
    for (int i = 0; i < 3; ++i) {
        snprintf(label, sizeof label, "%s: %s", what, part[i]);
        compare(label, xb + i * np, xa + i * np, np, rtol, 1e-300);
    }
    CHECK(ta == tb, "%s: Adam's step count %ld, reference %ld", what, tb, ta);
    free(xa);
    free(xb);
}

/* The group's trainer, one device's and, in double (d), the host's, on p in batches of 8. */
static void three_trainers(mlpcl_ctx *group, mlpcl_ctx *one, mlpcl_ctx *host, const problem *p,
                           int d, mlpcl_trainer *tr[3])
{
    mlpcl_precision prec = d ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
    tr[2] = NULL;
    OK(mlpcl_trainer_create(group, p->net, p->X, p->Y, p->m, prec, 8, &tr[0]));
    OK(mlpcl_trainer_create(one, p->net, p->X, p->Y, p->m, prec, 8, &tr[1]));
    if (d) OK(mlpcl_trainer_create(host, p->net, p->X, p->Y, p->m, prec, 8, &tr[2]));
}

/* An epoch on each of three_trainers' trainers, then the group's updates, loss and whole state
 * against the others' (double within 1e-12 of each one's largest, the sums' order apart; float
 * 2e-4, as epochs_as_one_device). Returns the group's loss. */
static double epoch_against(mlpcl_trainer *tr[3], const mlpcl_epoch_opts *eo, const problem *p,
                            int d, const char *label)
{
    double rtol = d ? 1e-12 : 2e-4;
    mlpcl_train_result r[3];
    for (int k = 0; k < 3 && tr[k]; ++k) OK(mlpcl_trainer_epoch(tr[k], eo, &r[k]));
    for (int k = 1; k < 3 && tr[k]; ++k) {
        char what[160];
        snprintf(what, sizeof what, "%s, %s (epoch %ld) against %s", d ? "double" : "float", label,
                 eo->epoch, k == 1 ? "one device" : "the host");
        CHECK(r[0].iterations == r[k].iterations && r[0].stop == r[k].stop,
              "%s: %ld updates (stop %d), reference %ld (stop %d)", what, r[0].iterations,
              (int)r[0].stop, r[k].iterations, (int)r[k].stop);
        compare(what, &r[0].cost, &r[k].cost, 1, rtol, 1e-300);
        same_state(what, tr[0], tr[k], p->net, rtol);
    }
    return r[0].cost;
}

/* Epochs of batch 8 (the last one 5, split 3 and 2) with each optimiser in turn, the group
 * against one device and, in double, the host reference: every epoch's loss and, after it, the
 * parameters, velocity, Adam's S and step count (double within 1e-12 of each one's largest, the
 * sums' order apart; float 2e-4, as epochs_as_one_device). Then a state set on the group (as a
 * resume sets it) reaches every worker: an epoch from it matches one device's, which it would
 * not if a worker kept its own. And a full-batch Adam run with the pipelined step (lookahead
 * 4) equals lookahead 0 bit for bit, and one device within the tolerance. */
static void optimisers_as_one_device(mlpcl_ctx *one, mlpcl_ctx *group)
{
    problem p = deep_problem(37, 9, MLPCL_ACT_RELU);
    size_t np = mlpcl_net_n_params(p.net);
    mlpcl_ctx *host;
    OK(mlpcl_ctx_create("host", 0, &host));
    for (int d = 0; d <= one->info.fp64; ++d) {
        mlpcl_trainer *tr[3];
        three_trainers(group, one, host, &p, d, tr);
        mlpcl_epoch_opts eo;
        mlpcl_epoch_opts_default(&eo);
        eo.seed = 42;
        size_t nc = sizeof optim_cases / sizeof *optim_cases;
        for (size_t e = 0; e <= nc; ++e) {
            const optim_case *oc = &optim_cases[e < nc ? e : 2];
            if (e == nc) { /* a state set on every trainer, Adam's, then an Adam epoch */
                long t;
                double *x = whole_state(tr[0], p.net, &t);
                for (size_t i = 0; i < np; ++i) x[np + i] *= 0.5, x[2 * np + i] *= 2;
                for (int k = 0; k < 3 && tr[k]; ++k) {
                    OK(mlpcl_trainer_set_velocity(tr[k], x + np));
                    OK(mlpcl_trainer_set_adam_state(tr[k], x + 2 * np, t + 3));
                }
                free(x);
            }
            eo.epoch = (long)e;
            eo.lr = oc->lr;
            eo.momentum = oc->momentum;
            eo.optimizer = oc->kind;
            eo.nesterov = oc->nesterov;
            eo.weight_decay = oc->wd;
            const char *name = e < nc ? oc->name : "Adam from a state set";
            double loss = epoch_against(tr, &eo, &p, d, name);
            printf("%s, %s: epoch loss on the group %.17g\n", d ? "double" : "float", name, loss);
        }
        for (int k = 0; k < 3; ++k) mlpcl_trainer_free(tr[k]);
    }
    /* full batch, Adam: the group's pipelined step as its plain one, and as one device */
    problem f = deep_problem(11, 5, MLPCL_ACT_RELU);
    size_t nf = mlpcl_net_n_params(f.net);
    mlpcl_precision prec = one->info.fp64 ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
    double *params[3] = {NULL};
    mlpcl_train_result r[3];
    for (int k = 0; k < 3; ++k) {
        mlpcl_trainer *t;
        OK(mlpcl_trainer_create(k == 2 ? one : group, f.net, f.X, f.Y, f.m, prec, 0, &t));
        mlpcl_train_opts o;
        mlpcl_train_opts_default(&o);
        o.optimizer = MLPCL_OPT_ADAM;
        o.lr = 0.02;
        o.target = -INFINITY;
        o.max_iter = 30;
        o.lookahead = k == 1 ? 4 : 0;
        OK(mlpcl_trainer_run(t, &o, &r[k]));
        params[k] = params_of(t, f.net);
        mlpcl_trainer_free(t);
    }
    CHECK(r[0].iterations == 30 && r[1].iterations == 30 && r[2].iterations == 30 &&
              !memcmp(&r[0].cost, &r[1].cost, sizeof(double)) &&
              !memcmp(params[0], params[1], nf * sizeof(double)),
          "full-batch Adam on the group: lookahead 4 differs from lookahead 0 (%ld, %ld updates)",
          r[1].iterations, r[0].iterations);
    compare("full-batch Adam: the group's parameters against one device's", params[0], params[2],
            nf, one->info.fp64 ? 1e-12 : 2e-4, 1e-300);
    for (int k = 0; k < 3; ++k) free(params[k]);
    free_problem(&f);
    mlpcl_ctx_free(host);
    free_problem(&p);
}

/* Dropout on the group: each worker masks its rows by their places in the epoch, so epochs of
 * batch 8 (the last 5, split 3 and 2) with dropout 0.3 equal one device's and, in double, the
 * host reference's (the same tolerances as optimisers_as_one_device); so do the predictions
 * after them and an epoch without dropout (the workers stop dropping). A full-batch group, whose
 * workers hold their own rows unshuffled, refuses dropout. */
static void dropout_as_one_device(mlpcl_ctx *one, mlpcl_ctx *group)
{
    problem p = deep_problem(37, 9, MLPCL_ACT_RELU);
    mlpcl_ctx *host;
    OK(mlpcl_ctx_create("host", 0, &host));
    for (int d = 0; d <= one->info.fp64; ++d) {
        double rtol = d ? 1e-12 : 2e-4;
        mlpcl_trainer *tr[3];
        three_trainers(group, one, host, &p, d, tr);
        mlpcl_epoch_opts eo;
        mlpcl_epoch_opts_default(&eo);
        eo.seed = 7;
        eo.lr = 0.2;
        eo.momentum = 0.9;
        for (long e = 0; e < 3; ++e) {
            eo.epoch = e;
            eo.dropout = e < 2 ? 0.3 : 0;
            epoch_against(tr, &eo, &p, d, e < 2 ? "dropout 0.3" : "no dropout");
            if (e != 1) continue;
            /* predictions after dropping epochs drop nothing */
            double *out[3] = {NULL};
            for (int k = 0; k < 3 && tr[k]; ++k) {
                int id;
                OK(mlpcl_trainer_add_set(tr[k], p.X, p.m, &id));
                out[k] = malloc(p.m * 3 * sizeof(double));
                OK(mlpcl_trainer_predict(tr[k], id, out[k]));
            }
            compare(d ? "double: predictions after dropout, against one device"
                      : "float: predictions after dropout, against one device",
                    out[0], out[1], p.m * 3, rtol, 1e-300);
            if (d)
                compare("double: predictions after dropout, against the host", out[0], out[2],
                        p.m * 3, rtol, 1e-300);
            for (int k = 0; k < 3; ++k) free(out[k]);
        }
        for (int k = 0; k < 3; ++k) mlpcl_trainer_free(tr[k]);
        mlpcl_trainer *full;
        OK(mlpcl_trainer_create(group, p.net, p.X, p.Y, p.m,
                                d ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT, 0, &full));
        mlpcl_train_result r;
        eo.dropout = 0.3;
        CHECK(mlpcl_trainer_epoch(full, &eo, &r) == MLPCL_ERR_ARG &&
                  strstr(mlpcl_last_error(), "mini-batches"),
              "a full-batch group's epoch with dropout: %s", mlpcl_last_error());
        mlpcl_trainer_free(full);
    }
    mlpcl_ctx_free(host);
    free_problem(&p);
}

static int same_trace(const trace *a, const trace *b, size_t np)
{
    return a->res.iterations == b->res.iterations && a->res.stop == b->res.stop && a->n == b->n &&
           !memcmp(a->costs, b->costs, (size_t)a->n * sizeof(double)) &&
           !memcmp(&a->res.cost, &b->res.cost, sizeof(double)) &&
           !memcmp(a->params, b->params, np * sizeof(double));
}

/* The group with lookahead 0 (one sum of the whole step, then the cost handled) against
 * lookaheads 1 and 4 (each layer's gradient summed as it is done, from the last layer down, the
 * next step queued before the cost is handled): every cost, the stop (converged, max_iter,
 * diverged) and the weights bit for bit, full batch and mini-batch epochs. Each element's sum is
 * the same left-to-right sum over the workers, only started earlier. */
static void lookahead_same_bits(mlpcl_ctx *group)
{
    problem tp = tutorial_problem(10), p = deep_problem(11, 5, MLPCL_ACT_RELU),
            dv = deep_problem(10, 3, MLPCL_ACT_SIGMOID), ep = deep_problem(37, 9, MLPCL_ACT_RELU);
    size_t np = mlpcl_net_n_params(p.net), nep = mlpcl_net_n_params(ep.net);
    for (int d = 0; d <= mlpcl_ctx_device(group)->fp64; ++d) {
        mlpcl_precision prec = d ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
        static const int ahead[] = {1, 4};
        lookahead = 0;
        trace t0 = run(group, &tp, prec, 0.01, 0, 0.1, 100000);
        trace m0 = run(group, &p, prec, 0.1, 0.9, -INFINITY, 40);
        trace v0 = run(group, &dv, prec, 30, 0, -INFINITY, 1000);
        CHECK(t0.res.stop == MLPCL_STOP_CONVERGED && m0.res.stop == MLPCL_STOP_MAX_ITER &&
                  v0.res.stop == MLPCL_STOP_DIVERGED,
              "lookahead 0: stops %d, %d, %d", t0.res.stop, m0.res.stop, v0.res.stop);
        for (int a = 0; a < 2; ++a) {
            lookahead = ahead[a];
            trace t = run(group, &tp, prec, 0.01, 0, 0.1, 100000);
            trace m = run(group, &p, prec, 0.1, 0.9, -INFINITY, 40);
            trace v = run(group, &dv, prec, 30, 0, -INFINITY, 1000);
            CHECK(same_trace(&t, &t0, 12),
                  "%s tutorial: lookahead %d (%ld iterations) differs "
                  "from lookahead 0 (%ld)",
                  d ? "double" : "float", ahead[a], t.res.iterations, t0.res.iterations);
            CHECK(same_trace(&m, &m0, np), "%s, 40 steps with momentum: lookahead %d differs",
                  d ? "double" : "float", ahead[a]);
            CHECK(same_trace(&v, &v0, np), "%s, divergence: lookahead %d differs (%ld, %ld)",
                  d ? "double" : "float", ahead[a], v.res.iterations, v0.res.iterations);
            free_trace(&t);
            free_trace(&m);
            free_trace(&v);
        }
        free_trace(&t0);
        free_trace(&m0);
        free_trace(&v0);
        /* two epochs of batch 8 (the last 5) with momentum */
        double *P[2];
        for (int a = 0; a < 2; ++a) {
            mlpcl_trainer *tr;
            OK(mlpcl_trainer_create(group, ep.net, ep.X, ep.Y, ep.m, prec, 8, &tr));
            mlpcl_epoch_opts eo;
            mlpcl_epoch_opts_default(&eo);
            eo.lr = 0.2;
            eo.momentum = 0.9;
            eo.seed = 42;
            eo.lookahead = a ? 3 : 0;
            for (long e = 0; e < 2; ++e) {
                mlpcl_train_result r;
                eo.epoch = e;
                OK(mlpcl_trainer_epoch(tr, &eo, &r));
            }
            P[a] = params_of(tr, ep.net);
            mlpcl_trainer_free(tr);
        }
        CHECK(!memcmp(P[0], P[1], nep * sizeof(double)),
              "%s epochs: lookahead 3 and 0 end with different weights", d ? "double" : "float");
        free(P[0]);
        free(P[1]);
    }
    lookahead = MLPCL_LOOKAHEAD_AUTO;
    free_problem(&tp);
    free_problem(&p);
    free_problem(&dv);
    free_problem(&ep);
}

/* Three workers (a device twice) on the tutorial: shares of 4, 3 and 3 rows. */
static void three_workers(mlpcl_ctx *one, const char *sel3)
{
    mlpcl_ctx *g3;
    OK(mlpcl_ctx_create(sel3, 0, &g3));
    CHECK(mlpcl_ctx_device_count(g3) == 3, "%zu devices in \"%s\"", mlpcl_ctx_device_count(g3),
          sel3);
    problem tp = tutorial_problem(10);
    mlpcl_precision prec = one->info.fp64 ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
    trace a = run(one, &tp, prec, 0.01, 0, 0.1, 100000);
    trace b = run(g3, &tp, prec, 0.01, 0, 0.1, 100000);
    CHECK(labs(a.res.iterations - b.res.iterations) <= (prec == MLPCL_PRECISION_FLOAT),
          "3 workers: %ld iterations, one device %ld", b.res.iterations, a.res.iterations);
    CHECK(fabs(a.res.cost - b.res.cost) < (prec == MLPCL_PRECISION_FLOAT ? 1e-5 : 1e-12),
          "3 workers: end cost %.17g vs %.17g", b.res.cost, a.res.cost);
    free_trace(&a);
    free_trace(&b);
    /* fewer samples than devices cannot be shared in full batch */
    problem two = tutorial_problem(2);
    mlpcl_trainer *tr = NULL;
    CHECK(mlpcl_trainer_create(g3, two.net, two.X, two.Y, 2, prec, 0, &tr) == MLPCL_ERR_ARG,
          "2 samples on 3 devices accepted");
    CHECK(strstr(mlpcl_last_error(), "3 devices"), "message: %s", mlpcl_last_error());
    mlpcl_trainer_free(tr);
    free_problem(&two);
    free_problem(&tp);
    mlpcl_ctx_free(g3);
}

static void bad_lists(const mlpcl_device_info *d)
{
    char sel[64];
    mlpcl_ctx *ctx = NULL;
    snprintf(sel, sizeof sel, "%d:%d,,%d:%d", d->platform, d->device, d->platform, d->device);
    CHECK(mlpcl_ctx_create(sel, 0, &ctx) == MLPCL_ERR_ARG && !ctx, "\"%s\" accepted", sel);
    snprintf(sel, sizeof sel, "%d:%d,host", d->platform, d->device);
    CHECK(mlpcl_ctx_create(sel, 0, &ctx) == MLPCL_ERR_ARG && !ctx, "\"%s\" accepted", sel);
    snprintf(sel, sizeof sel, "%d:%d,99:99", d->platform, d->device);
    CHECK(mlpcl_ctx_create(sel, 0, &ctx) == MLPCL_ERR_NO_DEVICE && !ctx, "\"%s\" accepted", sel);
}

int main(void)
{
    /* Two POCL CPU devices, unless the caller chose otherwise; before any OpenCL call. */
    setenv("POCL_DEVICES", "pthread pthread", 0);
    mlpcl_ctx *one = test_device(), *group = NULL;
    const mlpcl_device_info *d = mlpcl_ctx_device(one);
    char sel[64], sel3[96];
    snprintf(sel, sizeof sel, "%d:%d,%d:%d", d->platform, d->device, d->platform, d->device + 1);
    if (mlpcl_ctx_create(sel, 0, &group) != MLPCL_OK) { /* one device: use it twice */
        snprintf(sel, sizeof sel, "%d:%d,%d:%d", d->platform, d->device, d->platform, d->device);
        OK(mlpcl_ctx_create(sel, 0, &group));
    }
    snprintf(sel3, sizeof sel3, "%s,%d:%d", sel, d->platform, d->device);
    printf("group \"%s\": %s, %zu devices\n", sel, mlpcl_ctx_device(group)->name,
           mlpcl_ctx_device_count(group));
    CHECK(mlpcl_ctx_device_count(group) == 2 && mlpcl_ctx_device_count(one) == 1,
          "device counts %zu and %zu", mlpcl_ctx_device_count(group), mlpcl_ctx_device_count(one));
    tutorial_as_one_device(one, group);
    stops_as_one_device(one, group);
    epochs_as_one_device(one, group);
    optimisers_as_one_device(one, group);
    dropout_as_one_device(one, group);
    lookahead_same_bits(group);
    three_workers(one, sel3);
    bad_lists(d);
    mlpcl_ctx_free(group);
    mlpcl_ctx_free(one);
    return report("test_multidevice");
}
