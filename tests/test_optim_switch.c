// SPDX-License-Identifier: MIT
/* test_optim_switch.c: one trainer given another optimizer between epochs (SGD with momentum,
 * then Adam, then SGD again) starts the new rule's state afresh: its weights, velocity and Adam
 * state equal, bit for bit, those of a new trainer created from the weights at the switch; and
 * state the caller sets (set_velocity, set_adam_state, as a resume does) is kept for the next
 * rule whatever ran before. On the host reference, and on the OpenCL device when there is one
 * (float), each against itself: the same operations in the same order, so exactly equal. */
#include "check.h"

enum { M = 40, BATCH = 8, NB = M / BATCH };

static const size_t widths[] = {3, 6, 2};
static double X[M * 3], Y[M * 2];

static mlpcl_epoch_opts opts_for(mlpcl_optimizer kind, long epoch)
{
    mlpcl_epoch_opts o;
    mlpcl_epoch_opts_default(&o);
    o.lr = kind == MLPCL_OPT_SGD ? 0.05 : 0.01;
    o.momentum = kind == MLPCL_OPT_SGD ? 0.9 : 0.0;
    o.optimizer = kind;
    o.epoch = epoch;
    o.seed = 5;
    return o;
}

static void epoch(mlpcl_trainer *tr, mlpcl_optimizer kind, long e)
{
    mlpcl_epoch_opts o = opts_for(kind, e);
    mlpcl_train_result r;
    OK(mlpcl_trainer_epoch(tr, &o, &r));
    CHECK(r.stop == MLPCL_STOP_MAX_ITER && r.iterations == NB, "epoch %ld: stop %d, %ld updates", e,
          (int)r.stop, r.iterations);
}

/* A trainer's whole state: parameters, velocity, Adam's S and t. */
typedef struct state {
    double *p, *v, *s;
    long t;
} state;

static state read_state(mlpcl_trainer *tr, mlpcl_net *scratch, size_t n)
{
    state st = {malloc(n * sizeof(double)), malloc(n * sizeof(double)), malloc(n * sizeof(double)),
                0};
    OK(mlpcl_trainer_params(tr, scratch));
    memcpy(st.p, scratch->params, n * sizeof(double));
    OK(mlpcl_trainer_velocity(tr, st.v));
    OK(mlpcl_trainer_adam_state(tr, st.s, &st.t));
    return st;
}

static void free_state(state *st)
{
    free(st->p);
    free(st->v);
    free(st->s);
}

static void same(const char *what, const state *a, const state *b, size_t n)
{
    CHECK(!memcmp(a->p, b->p, n * sizeof(double)), "%s: the weights differ", what);
    CHECK(!memcmp(a->v, b->v, n * sizeof(double)), "%s: the velocity differs", what);
    CHECK(!memcmp(a->s, b->s, n * sizeof(double)), "%s: Adam's S differs", what);
    CHECK(a->t == b->t, "%s: Adam's step %ld and %ld", what, a->t, b->t);
}

/* A new trainer on ctx from the weights in p. */
static mlpcl_trainer *fresh(mlpcl_ctx *ctx, mlpcl_net *net, const double *p, mlpcl_precision prec)
{
    mlpcl_trainer *tr;
    memcpy(net->params, p, mlpcl_net_n_params(net) * sizeof(double));
    OK(mlpcl_trainer_create(ctx, net, X, Y, M, prec, BATCH, &tr));
    return tr;
}

static void run_on(mlpcl_ctx *ctx, mlpcl_precision prec, const char *name)
{
    mlpcl_net *net, *scratch;
    OK(mlpcl_net_create(2, widths, &net));
    OK(mlpcl_net_set_act(net, 1, MLPCL_ACT_TANH));
    OK(mlpcl_net_set_act(net, 2, MLPCL_ACT_LINEAR));
    OK(mlpcl_net_init(net, MLPCL_INIT_UNIFORM, 3));
    OK(mlpcl_net_clone(net, &scratch));
    size_t n = mlpcl_net_n_params(net);
    state s0 = {net->params, NULL, NULL, 0};
    double *p0 = malloc(n * sizeof *p0);
    memcpy(p0, s0.p, n * sizeof *p0);

    /* One trainer: SGD, then Adam, then SGD; its state at each switch. */
    mlpcl_trainer *one = fresh(ctx, net, p0, prec);
    epoch(one, MLPCL_OPT_SGD, 0);
    state after_sgd = read_state(one, scratch, n);
    epoch(one, MLPCL_OPT_ADAM, 1);
    state after_adam = read_state(one, scratch, n);
    epoch(one, MLPCL_OPT_SGD, 2);
    state after_sgd2 = read_state(one, scratch, n);
    CHECK(after_adam.t == NB, "%s: Adam's step after its first epoch %ld, not %d", name,
          after_adam.t, NB);

    /* The same from new trainers at each switch. */
    mlpcl_trainer *a = fresh(ctx, net, after_sgd.p, prec);
    epoch(a, MLPCL_OPT_ADAM, 1);
    state want_adam = read_state(a, scratch, n);
    mlpcl_trainer *b = fresh(ctx, net, after_adam.p, prec);
    epoch(b, MLPCL_OPT_SGD, 2);
    state want_sgd2 = read_state(b, scratch, n);
    char what[128];
    snprintf(what, sizeof what, "%s: SGD then Adam against Adam from new", name);
    same(what, &after_adam, &want_adam, n);
    snprintf(what, sizeof what, "%s: Adam then SGD against SGD from new", name);
    same(what, &after_sgd2, &want_sgd2, n);

    /* The caller's state is the next rule's: after an SGD epoch, set Adam's state as it was
     * after Adam's epoch 1 on trainer a, then run Adam's epoch 2 — as a continues it. */
    epoch(a, MLPCL_OPT_ADAM, 2);
    state want_cont = read_state(a, scratch, n);
    mlpcl_trainer *c = fresh(ctx, net, p0, prec);
    epoch(c, MLPCL_OPT_SGD, 0);
    memcpy(scratch->params, want_adam.p, n * sizeof(double));
    OK(mlpcl_trainer_set_params(c, scratch));
    OK(mlpcl_trainer_set_velocity(c, want_adam.v));
    OK(mlpcl_trainer_set_adam_state(c, want_adam.s, want_adam.t));
    epoch(c, MLPCL_OPT_ADAM, 2);
    state got_cont = read_state(c, scratch, n);
    snprintf(what, sizeof what, "%s: state set by the caller after SGD, then Adam", name);
    same(what, &got_cont, &want_cont, n);

    state *all[] = {&after_sgd, &after_adam, &after_sgd2, &want_adam,
                    &want_sgd2, &want_cont,  &got_cont};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i) free_state(all[i]);
    mlpcl_trainer_free(one);
    mlpcl_trainer_free(a);
    mlpcl_trainer_free(b);
    mlpcl_trainer_free(c);
    mlpcl_net_free(net);
    mlpcl_net_free(scratch);
    free(p0);
    printf("%s: optimizer switches checked\n", name);
}

int main(void)
{
    mlpcl_rng rng = {11};
    fill_uniform(&rng, X, M * 3, -1, 1);
    fill_uniform(&rng, Y, M * 2, -2, 2);
    mlpcl_ctx *host, *dev = NULL;
    OK(mlpcl_ctx_create("host", 0, &host));
    run_on(host, MLPCL_PRECISION_DOUBLE, "host");
    mlpcl_ctx_free(host);
    const char *sel = getenv("MLPCL_DEVICE");
    if (mlpcl_ctx_create(sel && strcmp(sel, "host") ? sel : NULL, 0, &dev) == MLPCL_OK) {
        run_on(dev, MLPCL_PRECISION_FLOAT, "device");
        mlpcl_ctx_free(dev);
    } else {
        printf("note: no OpenCL device (%s); the host trainer alone is checked\n",
               mlpcl_last_error());
    }
    return report("test_optim_switch");
}
