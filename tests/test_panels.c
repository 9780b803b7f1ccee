// SPDX-License-Identifier: MIT
/* test_panels.c: on CPUs the forward products of layers 2 KB a row and wider (the tunable pw)
 * read their weights in panels (cl_plan_tiled.c), which the gradients' SGD epilogues keep current
 * from one update to the next, and which are packed again from the weights after anything else set
 * or stepped them. Each check here fails where the panels fall a step behind the weights (proven by
 * breaking each: the epilogues' store, the repacking after set_params, after another
 * optimiser's step, after a data-parallel group's update, after a diverged run, on one device
 * and on a group, and after the fused kernel's run). On GPUs, whose
 * kernels read no panels, the same checks hold trivially. Last, the wide hidden layers'
 * activations and deltas in strips (tunable st) change no result, nor do the CPU gradient's
 * walks (tunable gw), and a small batch's output layer runs forward and backward in a launch
 * each. */
#include "check.h"

typedef struct problem {
    mlpcl_net *net;
    double *X, *Y;
    size_t m;
} problem;

/* A network of widths w (hidden activation act, softmax outputs for CE, sigmoid for MSE) with
 * seeded uniform weights, inputs in [0, 1), one-hot (CE) or uniform (MSE) targets. */
static problem make_problem(size_t L, const size_t *w, mlpcl_act act, mlpcl_loss loss, size_t m,
                            uint64_t seed)
{
    problem p = {NULL, malloc(m * w[0] * sizeof(double)), calloc(m * w[L], sizeof(double)), m};
    OK(mlpcl_net_create(L, w, &p.net));
    for (size_t l = 1; l < L; ++l) OK(mlpcl_net_set_act(p.net, l, act));
    OK(mlpcl_net_set_act(p.net, L, MLPCL_ACT_SIGMOID));
    OK(mlpcl_net_set_loss(p.net, loss));
    OK(mlpcl_net_init(p.net, MLPCL_INIT_UNIFORM, seed));
    mlpcl_rng rng = {seed};
    fill_uniform(&rng, p.X, m * w[0], 0, 1);
    if (loss == MLPCL_LOSS_CE)
        for (size_t i = 0; i < m; ++i) p.Y[i * w[L] + i % w[L]] = 1;
    else
        fill_uniform(&rng, p.Y, m * w[L], 0, 1);
    return p;
}

static void free_problem(problem *p)
{
    mlpcl_net_free(p->net);
    free(p->X);
    free(p->Y);
}

/* A trainer of q on ctx in prec and the reference's (host, double), both in batches of 16, and two
 * copies of q's network to read their parameters into. */
static void trainer_pair(mlpcl_ctx *ctx, mlpcl_ctx *host, const problem *q, mlpcl_precision prec,
                         mlpcl_trainer **dev, mlpcl_trainer **ref, mlpcl_net **a, mlpcl_net **b)
{
    OK(mlpcl_net_clone(q->net, a));
    OK(mlpcl_net_clone(q->net, b));
    OK(mlpcl_trainer_create(ctx, q->net, q->X, q->Y, q->m, prec, 16, dev));
    OK(mlpcl_trainer_create(host, q->net, q->X, q->Y, q->m, MLPCL_PRECISION_DOUBLE, 16, ref));
}

/* Both trainers' predictions on q's first rows agree within rtol. */
static void same_predictions(mlpcl_trainer *dev, mlpcl_trainer *ref, const problem *q, size_t rows,
                             double rtol, const char *what)
{
    size_t nL = q->net->width[q->net->L];
    int ida, idb;
    double *pa = malloc(rows * nL * sizeof *pa), *pb = malloc(rows * nL * sizeof *pb);
    OK(mlpcl_trainer_add_set(dev, q->X, rows, &ida));
    OK(mlpcl_trainer_add_set(ref, q->X, rows, &idb));
    OK(mlpcl_trainer_predict(dev, ida, pa));
    OK(mlpcl_trainer_predict(ref, idb, pb));
    compare(what, pa, pb, rows * nL, rtol, 1e-300);
    free(pa);
    free(pb);
}

/* Two epochs of SGD (step lr, momentum mu, shuffled by seed) on both trainers; their results. */
static void two_epochs(mlpcl_trainer *dev, mlpcl_trainer *ref, double lr, double mu, uint64_t seed,
                       mlpcl_train_result *rd, mlpcl_train_result *rr)
{
    mlpcl_epoch_opts eo;
    mlpcl_epoch_opts_default(&eo);
    eo.lr = lr, eo.momentum = mu, eo.seed = seed;
    for (eo.epoch = 0; eo.epoch < 2; ++eo.epoch) {
        OK(mlpcl_trainer_epoch(dev, &eo, rd));
        OK(mlpcl_trainer_epoch(ref, &eo, rr));
    }
}

/* Epochs of batch b with opts (step 0.5, momentum mu, seed 3, optimizer kind, Nesterov's
 * momentum where nesterov) on both trainers; their weights compared after. */
static void wide_epochs(mlpcl_trainer *dev, mlpcl_trainer *ref, mlpcl_optimizer kind, double mu,
                        int nesterov, long epochs, mlpcl_net *a, mlpcl_net *b, double rtol,
                        const char *what)
{
    mlpcl_epoch_opts eo;
    mlpcl_epoch_opts_default(&eo);
    eo.lr = 0.5, eo.momentum = mu, eo.seed = 3, eo.optimizer = kind, eo.nesterov = nesterov;
    for (long e = 0; e < epochs; ++e) {
        mlpcl_train_result rd, rr;
        eo.epoch = e;
        OK(mlpcl_trainer_epoch(dev, &eo, &rd));
        OK(mlpcl_trainer_epoch(ref, &eo, &rr));
    }
    OK(mlpcl_trainer_params(dev, a));
    OK(mlpcl_trainer_params(ref, b));
    compare(what, a->params, b->params, mlpcl_net_n_params(a), rtol, 1e-300);
}

/* Against the reference, one trainer: 2 epochs of plain SGD with momentum (the epilogues' panels, 6
 * updates), new weights set and an epoch (packed afresh), an epoch of Nesterov's SGD (the optimiser
 * kernel's step, packed each batch), SGD again, then predictions. 600 and 517 wide (the last panel
 * partly past the edge), m = 40 in batches of 16 (and a last one of 8). Tolerances as in
 * minibatch_epochs_match_reference: double 1e-12, float 2e-4 norm-wise over the 15 updates. */
static void epochs_and_switches_match_reference(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    const size_t w[] = {20, 600, 517, 3};
    problem q = make_problem(3, w, MLPCL_ACT_TANH, MLPCL_LOSS_MSE, 40, 9);
    size_t np = mlpcl_net_n_params(q.net);
    for (int d = 0; d <= ctx->info.fp64; ++d) {
        mlpcl_precision prec = d ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
        double rtol = d ? 1e-12 : 2e-4;
        const char *pn = d ? "double" : "float";
        char what[96];
        mlpcl_trainer *dev, *ref;
        mlpcl_net *a, *b;
        trainer_pair(ctx, host, &q, prec, &dev, &ref, &a, &b);
        snprintf(what, sizeof what, "wide layers, 2 epochs of SGD (%s)", pn);
        wide_epochs(dev, ref, MLPCL_OPT_SGD, 0.5, 0, 2, a, b, rtol, what);

        for (size_t i = 0; i < np; ++i) a->params[i] = 0.5 * q.net->params[i] + 0.01;
        OK(mlpcl_trainer_set_params(dev, a));
        OK(mlpcl_trainer_set_params(ref, a));
        snprintf(what, sizeof what, "wide layers, weights set, an epoch (%s)", pn);
        wide_epochs(dev, ref, MLPCL_OPT_SGD, 0.5, 0, 1, a, b, rtol, what);

        snprintf(what, sizeof what, "wide layers, an epoch of Nesterov's SGD (%s)", pn);
        wide_epochs(dev, ref, MLPCL_OPT_SGD, 0.5, 1, 1, a, b, rtol, what);
        snprintf(what, sizeof what, "wide layers, SGD again (%s)", pn);
        wide_epochs(dev, ref, MLPCL_OPT_SGD, 0.5, 0, 1, a, b, rtol, what);
        CHECK(memcmp(a->params, q.net->params, np * sizeof(double)),
              "the updates did not move the parameters");

        snprintf(what, sizeof what, "wide layers, predictions (%s)", pn);
        same_predictions(dev, ref, &q, 9, rtol, what);
        mlpcl_trainer_free(dev);
        mlpcl_trainer_free(ref);
        mlpcl_net_free(a);
        mlpcl_net_free(b);
    }
    free_problem(&q);
}

/* A data-parallel group (the test device twice) steps the weights by an update of its own
 * after summing the workers' gradients, so each worker packs its panels before each forward:
 * 2 epochs against the reference, as above. */
static void group_epochs_match_reference(mlpcl_ctx *group, mlpcl_ctx *host)
{
    const size_t w[] = {20, 600, 517, 3};
    problem q = make_problem(3, w, MLPCL_ACT_TANH, MLPCL_LOSS_MSE, 40, 9);
    mlpcl_trainer *dev, *ref;
    mlpcl_net *a, *b;
    OK(mlpcl_net_clone(q.net, &a));
    OK(mlpcl_net_clone(q.net, &b));
    OK(mlpcl_trainer_create(group, q.net, q.X, q.Y, q.m, MLPCL_PRECISION_FLOAT, 16, &dev));
    OK(mlpcl_trainer_create(host, q.net, q.X, q.Y, q.m, MLPCL_PRECISION_DOUBLE, 16, &ref));
    wide_epochs(dev, ref, MLPCL_OPT_SGD, 0.5, 0, 2, a, b, 2e-4, "wide layers, 2 epochs on a group");
    mlpcl_trainer_free(dev);
    mlpcl_trainer_free(ref);
    mlpcl_net_free(a);
    mlpcl_net_free(b);
    free_problem(&q);
}

/* A run that diverges keeps the weights of its last finite cost, one update behind those its
 * last update wrote (and packed): an epoch after it, at a sane step, ends bit for bit where
 * the same epoch ends in a new trainer made from the weights kept. An 8-520-3 relu network
 * (the tiled kernels' from 4,096 weights a layer) with softmax outputs and a step of 30, as
 * test_iteration.c's diverging problem, in batches of 5 (full batches of so small a network
 * take the fused kernel, which reads no panels). On one device and on a group, whose workers
 * rewind to the weights kept. */
static void diverged_run_goes_on_from_kept_weights(mlpcl_ctx *ctx, const char *what)
{
    const size_t w[] = {8, 520, 3};
    problem q = make_problem(2, w, MLPCL_ACT_RELU, MLPCL_LOSS_CE, 10, 3);
    size_t np = mlpcl_net_n_params(q.net);
    mlpcl_trainer *dev, *fresh;
    mlpcl_net *kept, *a, *b;
    OK(mlpcl_net_clone(q.net, &kept));
    OK(mlpcl_net_clone(q.net, &a));
    OK(mlpcl_net_clone(q.net, &b));
    OK(mlpcl_trainer_create(ctx, q.net, q.X, q.Y, q.m, MLPCL_PRECISION_FLOAT, 5, &dev));
    mlpcl_epoch_opts eo;
    mlpcl_train_result r = {0};
    mlpcl_epoch_opts_default(&eo);
    eo.lr = 30.0;
    for (eo.epoch = 0; eo.epoch < 100 && r.stop != MLPCL_STOP_DIVERGED; ++eo.epoch)
        OK(mlpcl_trainer_epoch(dev, &eo, &r));
    CHECK(r.stop == MLPCL_STOP_DIVERGED, "%s: no divergence in 100 epochs: stop %d", what, r.stop);
    OK(mlpcl_trainer_params(dev, kept));
    OK(mlpcl_trainer_create(ctx, kept, q.X, q.Y, q.m, MLPCL_PRECISION_FLOAT, 5, &fresh));
    eo.lr = 1e-3;
    OK(mlpcl_trainer_epoch(dev, &eo, &r));
    OK(mlpcl_trainer_epoch(fresh, &eo, &r));
    OK(mlpcl_trainer_params(dev, a));
    OK(mlpcl_trainer_params(fresh, b));
    CHECK(memcmp(a->params, kept->params, np * sizeof(double)), "%s: the last epoch moved nothing",
          what);
    CHECK(!memcmp(a->params, b->params, np * sizeof(double)),
          "%s: diverged in epoch %ld, the epoch after it did not go on from the weights kept", what,
          eo.epoch - 1);
    mlpcl_trainer_free(dev);
    mlpcl_trainer_free(fresh);
    mlpcl_net_free(kept);
    mlpcl_net_free(a);
    mlpcl_net_free(b);
    free_problem(&q);
}

/* A full-batch trainer of a network this small runs the fused kernel, which steps the weights
 * and not their panels, while its predictions take the tiled kernels, which read the panels:
 * predictions after a run equal, bit for bit, those after setting the same weights again
 * (packed afresh), and differ from those before it. 8-520-3 (62,430 multiply-adds a pass, under
 * fused.cl's 65,536), m = 10. */
static void fused_run_then_predictions(mlpcl_ctx *ctx)
{
    const size_t w[] = {8, 520, 3};
    problem q = make_problem(2, w, MLPCL_ACT_TANH, MLPCL_LOSS_MSE, 10, 4);
    mlpcl_trainer *tr;
    mlpcl_net *now;
    OK(mlpcl_net_clone(q.net, &now));
    OK(mlpcl_trainer_create(ctx, q.net, q.X, q.Y, q.m, MLPCL_PRECISION_FLOAT, 0, &tr));
    if (!mlpcl__cl(tr)->fused) printf("note: this device runs 8-520-3 without the fused kernel\n");
    int id;
    double before[10 * 3], after[10 * 3], again[10 * 3];
    OK(mlpcl_trainer_add_set(tr, q.X, 10, &id));
    OK(mlpcl_trainer_predict(tr, id, before)); /* packs the panels */
    mlpcl_train_opts o;
    mlpcl_train_result r;
    mlpcl_train_opts_default(&o);
    o.lr = 0.5, o.target = 0, o.max_iter = 5;
    OK(mlpcl_trainer_run(tr, &o, &r));
    OK(mlpcl_trainer_predict(tr, id, after));
    OK(mlpcl_trainer_params(tr, now));
    OK(mlpcl_trainer_set_params(tr, now));
    OK(mlpcl_trainer_predict(tr, id, again));
    CHECK(memcmp(before, after, sizeof before), "5 fused updates changed no prediction");
    CHECK(!memcmp(after, again, sizeof after),
          "predictions after a fused run differ from those of its weights");
    mlpcl_trainer_free(tr);
    mlpcl_net_free(now);
    free_problem(&q);
}

/* Work-items of output_layer's launch in a trainer's plan for batches of b rows (0: none). */
static size_t output_items(mlpcl_trainer *tr, size_t b)
{
    mlpcl_plan *p;
    OK(mlpcl__plan_get(tr, b, 1, 0, &p));
    for (size_t i = 0; i < p->n_launch; ++i)
        if (p->launch[i].id == K_OUTPUT_LAYER) return p->launch[i].global[0];
    return 0;
}

/* The tunable pw, derived from the L2, picks the layers read in panels: 20-300-3 has rows of W
 * 1,200 bytes apart in float and 2,400 in double, so its hidden layer reads panels in double
 * with pw=2048 and in both precisions with pw=1024; the output layer (narrow) never. Epochs
 * against the reference either way, as above, of plain SGD, whose mini-batches' gradients
 * write the panels in their plain-SGD step (the tests above step with momentum, through the
 * epilogue's loops). GPUs' kernels read no panels. */
static void pw_picks_layers(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    /* derived from the L2: l2 / 512 within 512 … 8192 bytes, 2048 where the L2 is unknown */
    static const size_t l2[] = {0,       64 << 10,   256 << 10, 512 << 10,
                                1 << 20, 1280 << 10, 2 << 20,   32 << 20};
    static const int pw[] = {2048, 512, 512, 1024, 2048, 2048, 4096, 8192};
    for (size_t i = 0; i < sizeof l2 / sizeof *l2; ++i)
        CHECK(mlpcl__panel_bytes(l2[i]) == pw[i], "an L2 of %zu KB: pw %d, expected %d",
              l2[i] >> 10, mlpcl__panel_bytes(l2[i]), pw[i]);
    printf("L2 %zu KB: pw %d\n", mlpcl__host_l2_bytes() >> 10,
           mlpcl__panel_bytes(mlpcl__host_l2_bytes()));
    const size_t w[] = {20, 300, 3};
    problem q = make_problem(2, w, MLPCL_ACT_TANH, MLPCL_LOSS_MSE, 40, 5);
    for (int d = 0; d <= ctx->info.fp64; ++d)
        for (int set = 0; set < 2; ++set) {
            mlpcl_precision prec = d ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
            char what[96];
            mlpcl_trainer *dev, *ref;
            mlpcl_net *a, *b;
            OK(mlpcl_net_clone(q.net, &a));
            OK(mlpcl_net_clone(q.net, &b));
            OK(mlpcl_ctx_set_tuning(ctx, set ? "pw=1024" : "pw=2048"));
            OK(mlpcl_trainer_create(ctx, q.net, q.X, q.Y, q.m, prec, 16, &dev));
            OK(mlpcl_trainer_create(host, q.net, q.X, q.Y, q.m, MLPCL_PRECISION_DOUBLE, 16, &ref));
            snprintf(what, sizeof what, "20-300-3, %s, 2 epochs of plain SGD (%s)",
                     set ? "pw=1024" : "pw=2048", d ? "double" : "float");
            wide_epochs(dev, ref, MLPCL_OPT_SGD, 0.0, 0, 2, a, b, d ? 1e-12 : 2e-4, what);
            int want = !mlpcl__cl(dev)->tune.local && (set || d);
            int got = launches_of(dev, 16, K_GEMM_FORWARD_P);
            CHECK(got == want, "%s: %d forward products read panels, expected %d", what, got, want);
            mlpcl_trainer_free(dev);
            mlpcl_trainer_free(ref);
            mlpcl_net_free(a);
            mlpcl_net_free(b);
        }
    OK(mlpcl_ctx_set_tuning(ctx, NULL));
    free_problem(&q);
}

/* The tunable pf, derived from the CPU's vendor and vector registers (8 on Intel's running
 * AVX-512 code, 0 elsewhere), makes the CPU gradient prefetch rows of D ahead and changes no
 * arithmetic: epochs with pf 0, 8 and 16 give the same parameters to the last bit, and match the
 * reference, in full batches of 200 (the gradient's samples in blocks of MC, with barriers, where
 * the kernels prefetch) and in batches of 16 (one block, built without). */
static void pf_changes_no_result(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    static const struct {
        const char *vendor;
        unsigned r; /* registers a vector: 1 AVX-512, 2 AVX2, 4 SSE */
        int pf;
    } cases[] = {{"GenuineIntel", 1, 8},
                 {"GenuineIntel", 2, 0},
                 {"GenuineIntel", 4, 0},
                 {"AuthenticAMD", 1, 0},
                 {"AuthenticAMD", 2, 0},
                 {"HygonGenuine", 1, 0},
                 {"", 1, 0},
                 {NULL, 1, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        int got = mlpcl__gradient_prefetch(cases[i].vendor, cases[i].r);
        CHECK(got == cases[i].pf, "vendor %s, %u registers a vector: pf %d, expected %d",
              cases[i].vendor ? cases[i].vendor : "(null)", cases[i].r, got, cases[i].pf);
    }
    char here[13];
    mlpcl__host_cpu_vendor(here);
    printf("CPU vendor %s: pf %d with AVX-512 code\n", here, mlpcl__gradient_prefetch(here, 1));
    const size_t w[] = {20, 300, 3};
    problem q = make_problem(2, w, MLPCL_ACT_TANH, MLPCL_LOSS_MSE, 200, 7);
    size_t np = mlpcl_net_n_params(q.net);
    /* blocks of 64 samples, so that full batches of 200 run several (the default is 256) */
    static const char *const set[] = {"pf=0,mc=64", "pf=8,mc=64", "pf=16,mc=64"};
    for (int full = 0; full < 2; ++full) {
        double *first = malloc(np * sizeof *first);
        for (size_t s = 0; s < sizeof set / sizeof *set; ++s) {
            char what[96], opts[256];
            mlpcl_trainer *dev, *ref;
            mlpcl_net *a, *b;
            OK(mlpcl_net_clone(q.net, &a));
            OK(mlpcl_net_clone(q.net, &b));
            OK(mlpcl_ctx_set_tuning(ctx, set[s]));
            OK(mlpcl_trainer_create(ctx, q.net, q.X, q.Y, q.m, MLPCL_PRECISION_FLOAT, full ? 0 : 16,
                                    &dev));
            OK(mlpcl_trainer_create(host, q.net, q.X, q.Y, q.m, MLPCL_PRECISION_DOUBLE,
                                    full ? 0 : 16, &ref));
            const mlpcl_tuning *t = &mlpcl__cl(dev)->tune;
            mlpcl__tuning_options(t, opts, sizeof opts);
            snprintf(what, sizeof what, "20-300-3, %s, 2 epochs of SGD (float, %s)", set[s],
                     full ? "full batches" : "batches of 16");
            char define[32];
            snprintf(define, sizeof define, "-DPF=%d ", atoi(set[s] + 3));
            strncat(opts, " ", sizeof opts - strlen(opts) - 1);
            if (!t->local) /* the kernels are built with it */
                CHECK(strstr(opts, define), "%s: build options %s", what, opts);
            wide_epochs(dev, ref, MLPCL_OPT_SGD, 0.5, 0, 2, a, b, 2e-4, what);
            if (!s)
                memcpy(first, a->params, np * sizeof *first);
            else
                CHECK(!memcmp(first, a->params, np * sizeof *first),
                      "%s: not the same parameters as with pf=0", what);
            mlpcl_trainer_free(dev);
            mlpcl_trainer_free(ref);
            mlpcl_net_free(a);
            mlpcl_net_free(b);
        }
        free(first);
    }
    OK(mlpcl_ctx_set_tuning(ctx, NULL));
    free_problem(&q);
}

/* Epochs of 20-64-48-32-3 (path=tiled, m = 200) with SGD and momentum, dropout 0.25, then
 * Adam, on ctx with the tunables `tune`; the parameters after them into out. Batches of 16 (a
 * last one of 8) or full batches in blocks of 64 samples (several blocks, with barriers). */
static void strip_epochs(mlpcl_ctx *ctx, const problem *q, const char *tune, size_t batch,
                         mlpcl_precision prec, mlpcl_net *out, mlpcl_trainer **keep)
{
    mlpcl_trainer *tr;
    if (tune) OK(mlpcl_ctx_set_tuning(ctx, tune));
    OK(mlpcl_trainer_create(ctx, q->net, q->X, q->Y, q->m, prec, batch, &tr));
    mlpcl_epoch_opts eo;
    mlpcl_train_result r;
    mlpcl_epoch_opts_default(&eo);
    eo.lr = 0.3, eo.momentum = 0.5, eo.seed = 5, eo.dropout = 0.25;
    for (eo.epoch = 0; eo.epoch < 3; ++eo.epoch) {
        if (eo.epoch == 2) /* Adam: the optimiser kernel after the gradients */
            eo.optimizer = MLPCL_OPT_ADAM, eo.lr = 1e-3, eo.momentum = 0, eo.dropout = 0;
        OK(mlpcl_trainer_epoch(tr, &eo, &r));
    }
    OK(mlpcl_trainer_params(tr, out));
    if (keep)
        *keep = tr;
    else
        mlpcl_trainer_free(tr);
}

/* Parameters x after a layout or schedule that changes no arithmetic: the same to the last bit
 * as same (those of the other way, `other`), moved from start, and within 2e-4 of the reference
 * ref (float against double, as above). */
static void same_moved_near(const char *what, const char *other, const double *x,
                            const double *same, const double *start, const double *ref, size_t np)
{
    CHECK(!memcmp(same, x, np * sizeof(double)), "%s: other parameters than %s", what, other);
    CHECK(memcmp(x, start, np * sizeof(double)), "%s: the epochs moved nothing", what);
    compare(what, x, ref, np, 2e-4, 1e-300);
}

/* The wide hidden layers' activations and deltas lie in strips of a wide tile's width on CPUs
 * (tunable st, cl_plan_tiled.c's mlpcl__cl_in_strips): only where the layout changes, never the
 * arithmetic. 20-64-48-32-3: 64 and 32 are multiples of every CPU tile width (16 or 32 floats),
 * 48 of 16 only, so the gradients of layers 2 and 4 read A in strips (gemm_gradient_strips,
 * and output_backward_strips, where the output layer's gradient and layer 3's deltas run as one
 * launch in these small batches), and that of layer 3 where tiles are 16 wide. Epochs with st=1 and
 * st=0 end with the same parameters to the last bit, on one device and on a group, in batches of 16
 * and in full batches, and match the reference (2e-4, float, as above). GPUs keep rows. */
static void strips_change_no_result(mlpcl_ctx *ctx, mlpcl_ctx *group, mlpcl_ctx *host)
{
    const size_t w[] = {20, 64, 48, 32, 3};
    problem q = make_problem(4, w, MLPCL_ACT_TANH, MLPCL_LOSS_MSE, 200, 11);
    size_t np = mlpcl_net_n_params(q.net);
    const mlpcl_precision F = MLPCL_PRECISION_FLOAT;
    mlpcl_net *rows, *strips, *ref;
    OK(mlpcl_net_clone(q.net, &rows));
    OK(mlpcl_net_clone(q.net, &strips));
    OK(mlpcl_net_clone(q.net, &ref));
    for (int full = 0; full < 2; ++full) {
        size_t batch = full ? 0 : 16;
        char what[96];
        mlpcl_trainer *dev;
        strip_epochs(ctx, &q, "path=tiled,mc=64,st=0", batch, F, rows, NULL);
        strip_epochs(ctx, &q, "path=tiled,mc=64,st=1", batch, F, strips, &dev);
        strip_epochs(host, &q, NULL, batch, MLPCL_PRECISION_DOUBLE, ref, NULL);
        const mlpcl_tuning *t = &mlpcl__cl(dev)->tune;
        int tw = t->tnv * 16, s_want = t->local ? 0 : 1 + (48 % tw == 0), ns_want = !t->local;
        size_t b = full ? q.m : 16;
        int s = launches_of(dev, b, K_GEMM_GRADIENT_S),
            ns = launches_of(dev, b, K_GEMM_GRADIENT_NS) + launches_of(dev, b, K_OUTPUT_BACKWARD_S);
        snprintf(what, sizeof what, "20-64-48-32-3 in %s", full ? "full batches" : "batches of 16");
        CHECK(s == s_want && ns == ns_want,
              "%s, tiles %d wide: %d wide and %d narrow gradients read strips, expected %d and %d",
              what, tw, s, ns, s_want, ns_want);
        same_moved_near(what, "in rows", strips->params, rows->params, q.net->params, ref->params,
                        np);
        mlpcl_trainer_free(dev);
        if (full) continue;
        strip_epochs(group, &q, "path=tiled,mc=64,st=0", batch, F, rows, NULL);
        strip_epochs(group, &q, "path=tiled,mc=64,st=1", batch, F, strips, NULL);
        strncat(what, " on a group", sizeof what - strlen(what) - 1);
        same_moved_near(what, "in rows", strips->params, rows->params, q.net->params, ref->params,
                        np);
    }
    OK(mlpcl_ctx_set_tuning(ctx, NULL));
    OK(mlpcl_ctx_set_tuning(group, NULL));
    mlpcl_net_free(rows);
    mlpcl_net_free(strips);
    mlpcl_net_free(ref);
    free_problem(&q);
}

/* Mini-batches stepped by plain SGD (no momentum, no gradients kept): on CPUs the gradients'
 * full tiles step by whole vectors in an epilogue of their own (gemm_cpu.cl, programs for batches
 * of one block). 20-64-48-32-3 (tanh, MSE; 48 leaves an edge tile where tiles are 32 wide) in
 * batches of 16, two epochs (26 updates), the same shuffle as the reference: the parameters' moves,
 * not the parameters, compared, so that an error in the steps alone shows (norm-wise, of the
 * largest move): double 1e-10, float 2e-4, where POCL's AVX-512 code came to 4e-15 and 6e-6 (the
 * steps' rounding, about 1e-16 and 6e-8 of the parameters, 26 times over moves of about 1e-2 of
 * them). A step 0.1% too long fails both (proven by breaking it). */
static void plain_sgd_epochs_match_reference(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    const size_t w[] = {20, 64, 48, 32, 3};
    problem q = make_problem(4, w, MLPCL_ACT_TANH, MLPCL_LOSS_MSE, 200, 13);
    size_t np = mlpcl_net_n_params(q.net);
    double *moved = malloc(np * sizeof *moved), *moved_ref = malloc(np * sizeof *moved_ref);
    mlpcl_net *a, *b;
    OK(mlpcl_net_clone(q.net, &a));
    OK(mlpcl_net_clone(q.net, &b));
    /* pw=8192: no layer in panels (the derived pw follows the L2, down to 512 bytes, where
     * layer 1's rows of doubles would take panels and the rolled loops) */
    OK(mlpcl_ctx_set_tuning(ctx, "path=tiled,pw=8192"));
    for (int d = 0; d <= ctx->info.fp64; ++d) {
        mlpcl_precision prec = d ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
        mlpcl_trainer *dev, *ref;
        OK(mlpcl_trainer_create(ctx, q.net, q.X, q.Y, q.m, prec, 16, &dev));
        OK(mlpcl_trainer_create(host, q.net, q.X, q.Y, q.m, MLPCL_PRECISION_DOUBLE, 16, &ref));
        mlpcl_train_result rd, rr;
        two_epochs(dev, ref, 0.3, 0, 7, &rd, &rr);
        OK(mlpcl_trainer_params(dev, a));
        OK(mlpcl_trainer_params(ref, b));
        for (size_t i = 0; i < np; ++i) {
            moved[i] = a->params[i] - q.net->params[i];
            moved_ref[i] = b->params[i] - q.net->params[i];
        }
        compare(d ? "plain SGD in batches of 16: the parameters' moves (double)"
                  : "plain SGD in batches of 16: the parameters' moves (float)",
                moved, moved_ref, np, d ? 1e-10 : 2e-4, 1e-300);
        CHECK(memcmp(a->params, q.net->params, np * sizeof(double)), "the epochs moved nothing");
        mlpcl_trainer_free(dev);
        mlpcl_trainer_free(ref);
    }
    OK(mlpcl_ctx_set_tuning(ctx, NULL));
    mlpcl_net_free(a);
    mlpcl_net_free(b);
    free(moved);
    free(moved_ref);
    free_problem(&q);
}

/* On CPUs a small training batch's output layer, no wider than a vector, runs forward in one
 * launch of output_layer (its product, softmax, delta and cost) and backward in one of
 * output_backward_* (its gradient and step, and the deltas of the layer below: cl_plan_tiled.c).
 * 20-64-3 (layer 1 in strips) and 20-40-3 (in rows) on the tiled path, with softmax and
 * cross-entropy and with sigmoid and least squares, m = 40 in batches of 16 (and a last one of
 * 8): two epochs of SGD with momentum, whose last costs and parameters match the reference
 * (float 2e-4, double 1e-12, as above), then predictions in chunks of 16 rows (a plan of the
 * training batches' size, which predictions do not share: theirs computes the output layer
 * alone) against the reference's. Batches of 1,700 (× 40 or 64 inputs, past what one work-item
 * takes) run output_layer on several work-items (a few a compute unit), whose sums of the loss
 * the cost kernel adds, and the gradient and the backward product apart. GPUs (local tiles)
 * never fuse them. */
static void output_layer_in_one_launch(mlpcl_ctx *ctx, mlpcl_ctx *host)
{
    OK(mlpcl_ctx_set_tuning(ctx, "path=tiled"));
    for (int h = 0; h < 4; ++h) {
        const int ce = h & 1;
        const size_t w[] = {20, h < 2 ? 64 : 40, 3};
        problem q = make_problem(2, w, MLPCL_ACT_TANH, ce ? MLPCL_LOSS_CE : MLPCL_LOSS_MSE, 40, 21);
        size_t np = mlpcl_net_n_params(q.net);
        for (int d = 0; d <= ctx->info.fp64; ++d) {
            mlpcl_precision prec = d ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
            double rtol = d ? 1e-12 : 2e-4;
            char what[96];
            mlpcl_trainer *dev, *ref;
            mlpcl_net *a, *b;
            trainer_pair(ctx, host, &q, prec, &dev, &ref, &a, &b);
            int cpu = mlpcl__ctx_is_cpu(ctx) && !mlpcl__cl(dev)->tune.local;
            snprintf(what, sizeof what, "20-%zu-3 %s, batches of 16 (%s)", w[1], ce ? "CE" : "MSE",
                     d ? "double" : "float");
            CHECK(mlpcl__cl(dev)->tune.path == MLPCL_PATH_TILED, "%s: not on the tiled path", what);
            mlpcl_kernel_id both =
                mlpcl__cl_in_strips(dev, 1) ? K_OUTPUT_BACKWARD_S : K_OUTPUT_BACKWARD;
            int fused = launches_of(dev, 16, K_OUTPUT_LAYER) + launches_of(dev, 16, both),
                apart = launches_of(dev, 16, K_OUTPUT_DELTA) + launches_of(dev, 16, K_SOFTMAX) +
                        launches_of(dev, 16, K_GEMM_BACKWARD);
            CHECK(fused == 2 * cpu && apart == !cpu * (2 + ce),
                  "%s: %d launches of output_layer and %s, %d of the delta, softmax and "
                  "backward product",
                  what, fused, mlpcl__kernel_name[both], apart);
            CHECK(launches_of(dev, 1700, K_OUTPUT_LAYER) == cpu &&
                      launches_of(dev, 1700, both) == 0 &&
                      launches_of(dev, 1700, K_OUTPUT_DELTA) == !cpu &&
                      (cpu ? output_items(dev, 1700) > 1 &&
                                 output_items(dev, 1700) <= 4 * ctx->info.compute_units &&
                                 launches_of(dev, 1700, K_COST) == 1
                           : output_items(dev, 1700) == 0),
                  "%s: batches of 1,700: output_layer %d times on %zu work-items, %s %d, the "
                  "output delta %d",
                  what, launches_of(dev, 1700, K_OUTPUT_LAYER), output_items(dev, 1700),
                  mlpcl__kernel_name[both], launches_of(dev, 1700, both),
                  launches_of(dev, 1700, K_OUTPUT_DELTA));
            mlpcl_train_result rd, rr;
            two_epochs(dev, ref, 0.5, 0.5, 5, &rd, &rr);
            compare(what, &rd.cost, &rr.cost, 1, rtol, 1e-300);
            OK(mlpcl_trainer_params(dev, a));
            OK(mlpcl_trainer_params(ref, b));
            compare(what, a->params, b->params, np, rtol, 1e-300);
            CHECK(memcmp(a->params, q.net->params, np * sizeof(double)), "%s: nothing moved", what);
            snprintf(what, sizeof what, "20-%zu-3 %s, predictions after (%s)", w[1],
                     ce ? "CE" : "MSE", d ? "double" : "float");
            same_predictions(dev, ref, &q, 40, rtol, what);
            mlpcl_trainer_free(dev);
            mlpcl_trainer_free(ref);
            mlpcl_net_free(a);
            mlpcl_net_free(b);
        }
        free_problem(&q);
    }
    OK(mlpcl_ctx_set_tuning(ctx, NULL));
}

/* Gradient launches of layers 1 … L − 1 (the wide ones of 20-64-48-32-3) in one work-item
 * groups: the walks (cl_plan_tiled.c's walks). */
static int walking_gradients(mlpcl_trainer *tr, size_t b)
{
    mlpcl_plan *p;
    int n = 0;
    OK(mlpcl__plan_get(tr, b, 1, 0, &p));
    for (size_t i = 0; i < p->n_launch; ++i) {
        const mlpcl_launch *L = &p->launch[i];
        n += (L->id == K_GEMM_GRADIENT || L->id == K_GEMM_GRADIENT_S) && L->local[0] == 1 &&
             L->local[1] == 1;
    }
    return n;
}

/* The CPU gradient's work-items walk gx × gy tiles through blocks of mc samples, keeping their
 * sums in slots between blocks (tunable gw, 1 on CPUs), where work-groups of one tile a
 * work-item shared the blocks before: the same sums in the same order. Full batches of 200 in
 * blocks of 64 and of 16, walks that cover the layers evenly, walks of 3 × 5 that do not and
 * walks of one tile, and batches of 128 on a group in blocks of 16, end with the same
 * parameters to the last bit as gw=0, and match the reference (2e-4, float), after SGD with
 * momentum and dropout, then Adam (strip_epochs). */
static void walks_change_no_result(mlpcl_ctx *ctx, mlpcl_ctx *group, mlpcl_ctx *host)
{
    const size_t w[] = {20, 64, 48, 32, 3};
    problem q = make_problem(4, w, MLPCL_ACT_TANH, MLPCL_LOSS_MSE, 200, 13);
    size_t np = mlpcl_net_n_params(q.net);
    static const char *const set[] = {"path=tiled,mc=64,gw=1", "path=tiled,mc=64,gw=1,gx=3,gy=5",
                                      "path=tiled,mc=16,gw=1,gx=2,gy=16",
                                      "path=tiled,mc=64,gw=1,gx=1,gy=1"};
    mlpcl_net *groups, *walks, *ref;
    OK(mlpcl_net_clone(q.net, &groups));
    OK(mlpcl_net_clone(q.net, &walks));
    OK(mlpcl_net_clone(q.net, &ref));
    strip_epochs(host, &q, NULL, 0, MLPCL_PRECISION_DOUBLE, ref, NULL);
    for (size_t s = 0; s < sizeof set / sizeof *set; ++s) {
        char what[96], off[64];
        mlpcl_trainer *dev;
        snprintf(off, sizeof off, "path=tiled,mc=%d,gw=0", atoi(strstr(set[s], "mc=") + 3));
        strip_epochs(ctx, &q, off, 0, MLPCL_PRECISION_FLOAT, groups, &dev);
        CHECK(walking_gradients(dev, q.m) == 0, "%s: gradients walk", off);
        mlpcl_trainer_free(dev);
        strip_epochs(ctx, &q, set[s], 0, MLPCL_PRECISION_FLOAT, walks, &dev);
        const mlpcl_tuning *t = &mlpcl__cl(dev)->tune;
        int want = !t->local && t->gw ? 3 : 0, got = walking_gradients(dev, q.m);
        snprintf(what, sizeof what, "20-64-48-32-3, full batches, %s", set[s]);
        CHECK(got == want, "%s: %d gradients walk, expected %d", what, got, want);
        same_moved_near(what, "with gw=0", walks->params, groups->params, q.net->params,
                        ref->params, np);
        mlpcl_trainer_free(dev);
    }
    /* a group of two (dropout there needs mini-batches): batches of 128, each worker's 64
     * samples (36 in the last) in blocks of 16 */
    strip_epochs(host, &q, NULL, 128, MLPCL_PRECISION_DOUBLE, ref, NULL);
    strip_epochs(group, &q, "path=tiled,mc=16,gw=0", 128, MLPCL_PRECISION_FLOAT, groups, NULL);
    strip_epochs(group, &q, "path=tiled,mc=16,gw=1", 128, MLPCL_PRECISION_FLOAT, walks, NULL);
    same_moved_near("20-64-48-32-3, batches of 128 on a group, mc=16", "with gw=0", walks->params,
                    groups->params, q.net->params, ref->params, np);
    OK(mlpcl_ctx_set_tuning(ctx, NULL));
    OK(mlpcl_ctx_set_tuning(group, NULL));
    mlpcl_net_free(groups);
    mlpcl_net_free(walks);
    mlpcl_net_free(ref);
    free_problem(&q);
}

int main(void)
{
    mlpcl_ctx *ctx = test_device(), *host, *group;
    OK(mlpcl_ctx_create("host", 0, &host));
    const mlpcl_device_info *d = mlpcl_ctx_device(ctx);
    char sel[64];
    snprintf(sel, sizeof sel, "%d:%d,%d:%d", d->platform, d->device, d->platform, d->device);
    OK(mlpcl_ctx_create(sel, 0, &group)); /* the test device twice */
    epochs_and_switches_match_reference(ctx, host);
    group_epochs_match_reference(group, host);
    diverged_run_goes_on_from_kept_weights(ctx, "one device");
    diverged_run_goes_on_from_kept_weights(group, "a group");
    fused_run_then_predictions(ctx);
    pw_picks_layers(ctx, host);
    pf_changes_no_result(ctx, host);
    strips_change_no_result(ctx, group, host);
    walks_change_no_result(ctx, group, host);
    plain_sgd_epochs_match_reference(ctx, host);
    output_layer_in_one_launch(ctx, host);
    mlpcl_ctx_free(group);
    mlpcl_ctx_free(host);
    mlpcl_ctx_free(ctx);
    return report("test_panels");
}
