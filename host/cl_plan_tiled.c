// SPDX-License-Identifier: MIT
/* cl_plan_tiled.c: the tiled path's stage builders (gemm.cl): register-blocked products on
 * CPUs, local-memory tiles on GPUs, with the epilogues fused: bias and activation after the
 * forward product, act' after the backward one, and the SGD step after the gradient (so this
 * path has no separate update). On GPUs a layer's gradient may be split over slices of the
 * samples and summed by gradient_reduce. */
#include "cl_backend.h"
#include "cl_dropout.h"

/* Outputs n wide take the narrow kernels (one vector a tile) when one vector covers them. */
static int narrow(const mlpcl_trainer *tr, size_t n)
{
    return n <= mlpcl__cl_vector_width(tr);
}

/* Columns of a tile of kernel id. */
static size_t width_of(const mlpcl_trainer *tr, mlpcl_kernel_id id)
{
    const mlpcl_cl *c = mlpcl__cl(tr);
    int n = id == K_GEMM_FORWARD_N || id == K_GEMM_BACKWARD_N || id == K_GEMM_GRADIENT_N ||
            id == K_GEMM_GRADIENT_NS;
    return (n ? 1 : (size_t)c->tune.tnv) * mlpcl__cl_vector_width(tr);
}

/* The CPU gradient's tiles across × down that a work-item walks (see walks), or else a
 * work-group's, one tile a work-item: the tunables gx × gy, whose tiles share each block of MC
 * samples in cache; 1 × 2 where one block holds every batch (m ≤ MC, a program built with
 * ONE_BLOCK): nothing is shared between blocks, and small groups keep each one's rows of A and
 * D in L1 and spread evenly over the threads: a batch-64 epoch of 784-256-10 on a 2-core
 * AVX-512 EPYC, gemm_gradient 189-196 us a batch against 237-299 us with 8 × 8, while full
 * batches stay faster with 8 × 8 (143-165 ms against 233-273 ms a step). With blocks of 256
 * (AVX-512's mc) batches of 128 and 256 take the small groups too: two epochs of 784-256-10
 * took 3.65 s against 3.87-3.95 s (batch 128) and 3.39 against 3.51 s (256) there. (Measured
 * when the 8 × 8 tiles were work-groups sharing each block through a barrier.) */
static void gradient_group(const mlpcl_trainer *tr, size_t *gx, size_t *gy)
{
    const mlpcl_tuning *t = &mlpcl__cl(tr)->tune;
    int one_block = mlpcl__tuning_one_block(t, tr->batch);
    *gx = one_block ? 1 : (size_t)t->gx;
    *gy = one_block ? 2 : (size_t)t->gy;
}

/* Whether layer l's gradient has work-items that walk gx × gy tiles, each its own work-group
 * (gemm_cpu.cl's product_gradient): the wide products on register tiles whose batches run
 * several blocks, where the tunable gw is 1 (CPUs). The walk does what a work-group's barrier
 * after each block did, which POCL compiled three times slower at first launch, and runs as fast
 * or faster: 784-1024-10's gemm_gradient 357 ms a step against 414 ms, 784-256-10's 100 against
 * 108 ms in AVX-512 code; in AVX2 code 788 against 805 ms and 213 against 194 ms, within the
 * noise (a 2-core AVX-512 EPYC, medians of three runs alternating). Not with one block:
 * work-groups of 1 × 2 work-items, a tile each, ran a batch-64 epoch's gemm_gradient in 0.16 ms
 * a batch against 0.27 ms for work-items walking the two (AVX2 code, medians of four epochs).
 * Nor the narrow products (one vector a tile, such as 10 classes), which share no block: a
 * k-tile's columns of A are its own and D's rows are one vector (784-1024-10's output layer,
 * 15.6 ms a step in work-groups against 19.5 ms in walks of 16 tiles, AVX2 code; 20.9 ms either
 * way in AVX-512 code). GPUs on register tiles (whose local memory does not hold theirs) have
 * gw=0: a work-item a tile, as their many threads want. */
static int walks(const mlpcl_trainer *tr, size_t l)
{
    const mlpcl_tuning *t = &mlpcl__cl(tr)->tune;
    return !t->local && t->gw && !mlpcl__tuning_one_block(t, tr->batch) &&
           !narrow(tr, tr->net->width[l]);
}

/* Tiles of layer l's gradient, across (n_out) and down (n_in + 1 rows), for kernel id. */
static void gradient_tiles(const mlpcl_trainer *tr, size_t l, mlpcl_kernel_id id, size_t *nt,
                           size_t *kt)
{
    size_t w = width_of(tr, id), tm = (size_t)mlpcl__cl(tr)->tune.tm;
    *nt = (tr->net->width[l] + w - 1) / w;
    *kt = tr->net->width[l - 1] / tm + 1;
}

/* Elements of the walking gradients' slots (their sums between blocks): TM · TNV vectors a
 * tile, for every tile of the walks that cover the largest layer that walks. */
static size_t max_slots_size(const mlpcl_trainer *tr, size_t tx, size_t ty)
{
    const mlpcl_tuning *t = &mlpcl__cl(tr)->tune;
    size_t most = 0, slot = (size_t)t->tm * (size_t)t->tnv * mlpcl__cl_vector_width(tr);
    for (size_t l = 1; l <= tr->net->L; ++l) {
        if (!walks(tr, l)) continue;
        size_t nt, kt;
        gradient_tiles(tr, l, K_GEMM_GRADIENT, &nt, &kt);
        size_t need = (nt + tx - 1) / tx * tx * ((kt + ty - 1) / ty * ty) * slot;
        if (need > most) most = need;
    }
    return most;
}

/* How many slices of the samples a layer's gradient is split into on GPUs (local tiles): enough
 * work-groups for two on each compute unit, each slice at least 4 tiles deep, at most 64. */
static size_t gradient_split(const mlpcl_trainer *tr, size_t rows, size_t n_in, size_t n_out)
{
    const mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_tuning *t = &c->tune;
    if (!t->local) return 1;
    size_t tiles =
        (n_in + (size_t)t->bm) / (size_t)t->bm * ((n_out + (size_t)t->bn - 1) / (size_t)t->bn);
    size_t want = 2 * (size_t)tr->ctx->info.compute_units, split = (want + tiles - 1) / tiles;
    size_t most = rows / (4 * (size_t)t->bk);
    if (split > most) split = most;
    if (split > 64) split = 64;
    return split ? split : 1;
}

/* Elements of the gradient slices' scratch: the most any layer needs at the largest batch. */
static size_t max_split_size(const mlpcl_trainer *tr)
{
    size_t most = 0;
    for (size_t l = 1; l <= tr->net->L; ++l) {
        size_t n_in = tr->net->width[l - 1], n_out = tr->net->width[l];
        size_t need = gradient_split(tr, tr->batch, n_in, n_out) * (n_in + 1) * n_out;
        if (need > most) most = need;
    }
    return most;
}

/* Whether layer l's forward product reads its weights in panels (pack_weights): the CPUs'
 * wide products whose rows of W are the tunable pw (2 KB by default) or more apart. Along such
 * rows a tile's column of W falls in few cache sets, and on a 2-core AMD EPYC, AVX2 code,
 * Fashion-MNIST epochs in batches of 8,192 took 9% less time with the panels for 784-512-10,
 * 19% less for 784-1024-10 (18% in batches of 64), but 2% less for 784-256-10 (1 KB rows) and
 * 3% more in batches of 64, where keeping the panels current costs the gradient what they save
 * the forward product. Rows s bytes apart leave a tile's column of W the room of L2/s lines
 * (1,024 at 1 KB in that EPYC's 1 MB L2): with a smaller L2 (Haswell's 256 KB, Zen 2's 512
 * KB) the panels cut the forward product's misses at 1 KB rows already (cachegrind; its time
 * there is not measured), so pw follows the L2 (tuning.c's mlpcl__panel_bytes). */
static int in_panels(const mlpcl_trainer *tr, size_t l)
{
    size_t n = tr->net->width[l];
    const mlpcl_tuning *t = &mlpcl__cl(tr)->tune;
    return !t->local && !narrow(tr, n) && n * tr->real >= (size_t)t->pw;
}

/* Where layer l's panels start in Wp: after those of the layers before it, each ⌈n/w⌉ panels
 * of k rows of w, for tiles w wide; past the last layer, the size of them all. */
static size_t panel_offset(const mlpcl_trainer *tr, size_t l)
{
    size_t w = width_of(tr, K_GEMM_FORWARD), at = 0;
    for (size_t i = 1; i < l && i <= tr->net->L; ++i)
        if (in_panels(tr, i)) at += (tr->net->width[i] + w - 1) / w * w * tr->net->width[i - 1];
    return at;
}

/* Whether the gradients' epilogues write the stepped weights into the panels too, keeping them
 * current from one iteration to the next: where they step by plain SGD, and not in a worker of
 * a data-parallel group (whose step is the group's, made by an update of its own). */
static int epilogue_packs(const mlpcl_trainer *tr)
{
    return mlpcl__optim_plain(&tr->optim) && !tr->worker;
}

/* Layer l's weights from P into its panels, for its forward product on CPUs (none where the
 * product reads W's rows: GPUs' local tiles, narrow outputs). The panels live from one
 * iteration to the next: mlpcl__plan_enqueue runs these launches only where they are not
 * current (the first iteration, after the weights were set or stepped by other kernels). */
static mlpcl_status tiled_pack(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s, size_t l)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_net *net = tr->net;
    p->keeps_panels = epilogue_packs(tr);
    if (!in_panels(tr, l)) return MLPCL_OK;
    if (!c->Wp)
        TRY(mlpcl__cl_buffer(tr, &c->Wp, panel_offset(tr, net->L + 1), 0, tr->real,
                             "weights in panels", 0));
    cl_kernel k;
    karg a[PACK_NARGS] = {
        [PACK_N] = ARG_INT(net->width[l]),         [PACK_K] = ARG_INT(net->width[l - 1]),
        [PACK_TV] = ARG_INT(c->tune.tnv),          [PACK_P] = ARG_MEM(s->P),
        [PACK_OFF] = ARG_INT(net->offset[l]),      [PACK_WP] = ARG_MEM(c->Wp),
        [PACK_WOFF] = ARG_INT(panel_offset(tr, l))};
    TRY(mlpcl__cl_make_kernel(tr, K_PACK_WEIGHTS, &k, N_ARGS(a), a));
    TRY(mlpcl__cl_add_launch(p, tr, k, K_PACK_WEIGHTS, l, 1, net->width[l - 1], 1));
fail:
    return st;
}

/* A_l = act(A_{l-1} W_l + b_l) as a tiled product (n: outputs, k: inputs), with
 * mlpcl__cl_forward_act's activation; on CPUs layers of 2 KB rows read W in panels (in_panels). */
static mlpcl_status tiled_forward(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s, size_t l)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_net *net = tr->net;
    cl_mem in = l == 1 ? s->in0 : c->A[l - 1], Wp = in_panels(tr, l) ? c->Wp : NULL, none = NULL;
    cl_kernel k;
    karg a[GEMM_FORWARD_NARGS] = {[GEMM_FORWARD_M] = ARG_INT(s->mb),
                                  [GEMM_FORWARD_N] = ARG_INT(net->width[l]),
                                  [GEMM_FORWARD_K] = ARG_INT(net->width[l - 1]),
                                  [GEMM_FORWARD_ACT] = ARG_INT(mlpcl__cl_forward_act(net, l)),
                                  [GEMM_FORWARD_A] = ARG_MEM(in),
                                  [GEMM_FORWARD_P] = ARG_MEM(s->P),
                                  [GEMM_FORWARD_OFF] = ARG_INT(net->offset[l]),
                                  [GEMM_FORWARD_OUT] = ARG_MEM(c->A[l]),
                                  [GEMM_FORWARD_WP] = ARG_MEM(Wp),
                                  [GEMM_FORWARD_WOFF] = ARG_INT(panel_offset(tr, l)),
                                  [GEMM_FORWARD_AW] = ARG_INT(mlpcl__cl_strip_width(tr, l - 1)),
                                  [GEMM_FORWARD_OW] = ARG_INT(mlpcl__cl_strip_width(tr, l)),
                                  [GEMM_FORWARD_CAP] = ARG_INT(tr->batch),
                                  [GEMM_FORWARD_IDX] = ARG_MEM(none),
                                  [GEMM_FORWARD_ROW0] = ARG_INT(0),
                                  [GEMM_FORWARD_XB] = ARG_MEM(none),
                                  [GEMM_FORWARD_Y] = ARG_MEM(none),
                                  [GEMM_FORWARD_NY] = ARG_INT(net->width[net->L]),
                                  [GEMM_FORWARD_YB] = ARG_MEM(c->Yb)};
    mlpcl_kernel_id id = narrow(tr, net->width[l]) ? K_GEMM_FORWARD_N
                         : Wp                      ? K_GEMM_FORWARD_P
                                                   : K_GEMM_FORWARD;
    TRY(mlpcl__cl_make_kernel(tr, id, &k, N_ARGS(a), a));
    if (l == 1 && s->in_place) p->first = k; /* it gathers the batch (mlpcl__cl_aim_rows) */
    TRY(mlpcl__cl_add_gemm_launch(p, tr, k, id, l, s->mb, net->width[l], 1, (size_t)c->tune.ly,
                                  width_of(tr, id)));
fail:
    return st;
}

/* D_l = (D_{l+1} W_{l+1}ᵀ) ⊙ act'(A_l), reading W_{l+1} (n_l × n_next) along rows as WT,
 * n_next × n_l: the transpose that the gradient of layer l + 1, the launch before, made of the
 * weights it stepped. */
static mlpcl_status tiled_backward(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s, size_t l)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_net *net = tr->net;
    size_t n_l = net->width[l], n_next = net->width[l + 1];
    cl_kernel k;
    karg a[GEMM_BACKWARD_NARGS] = {[GEMM_BACKWARD_M] = ARG_INT(s->mb),
                                   [GEMM_BACKWARD_N] = ARG_INT(n_l),
                                   [GEMM_BACKWARD_K] = ARG_INT(n_next),
                                   [GEMM_BACKWARD_ACT] = ARG_INT(net->act[l]),
                                   [GEMM_BACKWARD_DN] = ARG_MEM(c->D[l + 1]),
                                   [GEMM_BACKWARD_WT] = ARG_MEM(c->WT),
                                   [GEMM_BACKWARD_ACT_IN] = ARG_MEM(*mlpcl__cl_dropout_act(tr, l)),
                                   [GEMM_BACKWARD_D] = ARG_MEM(c->D[l]),
                                   [GEMM_BACKWARD_DNW] = ARG_INT(mlpcl__cl_strip_width(tr, l + 1)),
                                   [GEMM_BACKWARD_DW] = ARG_INT(mlpcl__cl_strip_width(tr, l)),
                                   [GEMM_BACKWARD_CAP] = ARG_INT(tr->batch)};
    mlpcl_kernel_id id = narrow(tr, n_l) ? K_GEMM_BACKWARD_N : K_GEMM_BACKWARD;
    TRY(mlpcl__cl_make_kernel(tr, id, &k, N_ARGS(a), a));
    TRY(mlpcl__cl_add_gemm_launch(p, tr, k, id, l, s->mb, n_l, 1, (size_t)c->tune.ly,
                                  width_of(tr, id)));
fail:
    return st;
}

/* [dW_l; db_l] = [A_{l-1} 1]ᵀ D_l with the SGD step of layer l in its epilogue (and, above the
 * first layer, W_l transposed into WT for the deltas of layer l − 1 next); split over
 * slices of the samples (dimension 2 of the launch) and then summed and stepped by
 * gradient_reduce where one layer's tiles would leave compute units idle. */
static mlpcl_status gradient_launch(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s,
                                    size_t l, int with_backward)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_net *net = tr->net;
    cl_mem in = l == 1 ? s->in0 : c->A[l - 1];
    size_t n_in = net->width[l - 1], n_out = net->width[l];
    size_t split = gradient_split(tr, s->mb, n_in, n_out), count = (n_in + 1) * n_out;
    cl_kernel k;
    /* Another optimiser than plain SGD steps after all gradients (update.cl's optim, over what
     * this writes to G); the epilogue then steps by 0, leaving P_next = P. */
    int own = mlpcl__optim_plain(&tr->optim);
    double lr = own ? tr->lr : 0.0, mu = own ? tr->momentum : 0.0;
    /* NULL: the epilogue stores no gradients, which only the tests and other optimisers read */
    cl_mem G = own && !c->keep_gradients ? NULL : c->G;
    /* W_l transposed for the layer below's deltas, which come next (none below the first) */
    cl_mem WT = l > 1 ? c->WT : NULL;
    /* the stepped W_l in its panels for the next forward */
    cl_mem Wp = in_panels(tr, l) && epilogue_packs(tr) ? c->Wp : NULL;
    if (split > 1 && !c->Gs) /* sized for the largest batch and layer */
        TRY(mlpcl__cl_buffer(tr, &c->Gs, max_split_size(tr), 0, tr->real, "gradient slices", 0));
    size_t tx = 1, ty = 1; /* tiles a work-item walks */
    if (walks(tr, l)) gradient_group(tr, &tx, &ty);
    /* the walks' slots, where a batch runs several blocks (split is 1 on CPUs: Gs is free) */
    if (walks(tr, l) && s->mb > (size_t)c->tune.mc && !c->Gs)
        TRY(mlpcl__cl_buffer(tr, &c->Gs, max_slots_size(tr, tx, ty), 0, tr->real,
                             "gradient tiles' sums", 0));
    /* with_backward (the output layer): the layer below's deltas, in the same launch */
    cl_mem none = NULL, *act1 = l > 1 ? mlpcl__cl_dropout_act(tr, l - 1) : &none;
    karg a[OUTPUT_BACKWARD_NARGS] = {[GEMM_GRADIENT_M] = ARG_INT(s->mb),
                                     [GEMM_GRADIENT_N] = ARG_INT(n_out),
                                     [GEMM_GRADIENT_K] = ARG_INT(n_in),
                                     [GEMM_GRADIENT_A] = ARG_MEM(in),
                                     [GEMM_GRADIENT_D] = ARG_MEM(c->D[l]),
                                     [GEMM_GRADIENT_G] = ARG_MEM(G),
                                     [GEMM_GRADIENT_OFF] = ARG_INT(net->offset[l]),
                                     [GEMM_GRADIENT_P] = ARG_MEM(s->P),
                                     [GEMM_GRADIENT_V] = ARG_MEM(s->V),
                                     [GEMM_GRADIENT_V_NEXT] = ARG_MEM(s->V_next),
                                     [GEMM_GRADIENT_P_NEXT] = ARG_MEM(s->P_next),
                                     [GEMM_GRADIENT_LR] = ARG_REAL(lr),
                                     [GEMM_GRADIENT_MU] = ARG_REAL(mu),
                                     [GEMM_GRADIENT_STATE] = ARG_MEM(c->state),
                                     [GEMM_GRADIENT_SPLIT] = ARG_INT(split),
                                     [GEMM_GRADIENT_GS] = ARG_MEM(c->Gs),
                                     [GEMM_GRADIENT_WT] = ARG_MEM(WT),
                                     [GEMM_GRADIENT_WP] = ARG_MEM(Wp),
                                     [GEMM_GRADIENT_WOFF] = ARG_INT(panel_offset(tr, l)),
                                     [GEMM_GRADIENT_AW] = ARG_INT(mlpcl__cl_strip_width(tr, l - 1)),
                                     [GEMM_GRADIENT_DW] = ARG_INT(mlpcl__cl_strip_width(tr, l)),
                                     [GEMM_GRADIENT_CAP] = ARG_INT(tr->batch),
                                     [GEMM_GRADIENT_TX] = ARG_INT(tx),
                                     [GEMM_GRADIENT_TY] = ARG_INT(ty),
                                     [OUTPUT_BACKWARD_N1] = ARG_INT(n_in),
                                     [OUTPUT_BACKWARD_ACT1] = ARG_INT(net->act[l - 1]),
                                     [OUTPUT_BACKWARD_ACT_IN1] = ARG_MEM(*act1),
                                     [OUTPUT_BACKWARD_D1] = ARG_MEM(c->D[l - 1]),
                                     [OUTPUT_BACKWARD_D1W] =
                                         ARG_INT(mlpcl__cl_strip_width(tr, l - 1))};
    int strips = mlpcl__cl_in_strips(tr, l - 1); /* A in strips */
    mlpcl_kernel_id id = with_backward       ? strips ? K_OUTPUT_BACKWARD_S : K_OUTPUT_BACKWARD
                         : narrow(tr, n_out) ? strips ? K_GEMM_GRADIENT_NS : K_GEMM_GRADIENT_N
                         : strips            ? K_GEMM_GRADIENT_S
                                             : K_GEMM_GRADIENT;
    TRY(mlpcl__cl_make_kernel(tr, id, &k,
                              with_backward ? OUTPUT_BACKWARD_NARGS : GEMM_GRADIENT_NARGS, a));
    if (own) TRY(mlpcl__cl_add_step(p, k, GEMM_GRADIENT_LR));
    if (with_backward) /* one work-item (and split is 1: no slices on CPUs) */
        return mlpcl__cl_add_launch_shaped(p, tr, k, id, l, 1, 1, 1, 1);
    if (walks(tr, l)) { /* a work-item a walk, each its own work-group */
        size_t nt, kt;
        gradient_tiles(tr, l, id, &nt, &kt);
        TRY(mlpcl__cl_add_launch_shaped(p, tr, k, id, l, (nt + tx - 1) / tx, (kt + ty - 1) / ty, 1,
                                        1));
    } else {
        size_t gx, gy;
        gradient_group(tr, &gx, &gy);
        TRY(mlpcl__cl_add_gemm_launch(p, tr, k, id, l, n_in + 1, n_out, gx, gy, width_of(tr, id)));
    }
    if (split == 1) return MLPCL_OK;
    mlpcl_launch *G3 = &p->launch[p->n_launch - 1]; /* the slices in dimension 2 */
    G3->dims = 3;
    G3->global[2] = split;
    G3->local[2] = 1;
    karg r[REDUCE_NARGS] = {[REDUCE_COUNT] = ARG_INT(count),
                            [REDUCE_SPLIT] = ARG_INT(split),
                            [REDUCE_GS] = ARG_MEM(c->Gs),
                            [REDUCE_G] = ARG_MEM(G),
                            [REDUCE_OFF] = ARG_INT(net->offset[l]),
                            [REDUCE_P] = ARG_MEM(s->P),
                            [REDUCE_V] = ARG_MEM(s->V),
                            [REDUCE_V_NEXT] = ARG_MEM(s->V_next),
                            [REDUCE_P_NEXT] = ARG_MEM(s->P_next),
                            [REDUCE_LR] = ARG_REAL(lr),
                            [REDUCE_MU] = ARG_REAL(mu),
                            [REDUCE_STATE] = ARG_MEM(c->state),
                            [REDUCE_N] = ARG_INT(n_out),
                            [REDUCE_WT] = ARG_MEM(WT)};
    TRY(mlpcl__cl_make_kernel(tr, K_GRADIENT_REDUCE, &k, N_ARGS(r), r));
    if (own) TRY(mlpcl__cl_add_step(p, k, REDUCE_LR));
    TRY(mlpcl__cl_add_launch(p, tr, k, K_GRADIENT_REDUCE, l, 1, count, 1));
fail:
    return st;
}

static mlpcl_status tiled_gradient(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s, size_t l)
{
    return gradient_launch(tr, p, s, l, 0);
}

/* Most rows × inputs of an output layer that output_layer's one work-item takes: a batch of 64
 * on 256 inputs is a quarter of it. */
#define OUTPUT_ONE_ITEM (1 << 16)

/* Whether a plan runs its output layer as a launch of output_layer: on register tiles, below a
 * hidden layer, no wider than a vector and in rows. Its product, softmax, delta and loss in one
 * launch: in a small batch one work-item beats the product's launch on all threads and the
 * softmax's and the output delta's launches (a batch-64 epoch of 784-256-10: see output_layer);
 * in a full batch the output delta's pass over the outputs goes, and a first run compiles one
 * kernel where it compiled the narrow product and the output delta. */
static int tiled_fuses_output(const mlpcl_trainer *tr, size_t mb)
{
    const mlpcl_net *net = tr->net;
    size_t L = net->L, n = net->width[L];
    (void)mb;
    return !mlpcl__cl(tr)->tune.local && L >= 2 && narrow(tr, n) &&
           mlpcl__cl_strip_width(tr, L) == n;
}

/* Work-items of output_layer for mb rows: one where the batch is small (OUTPUT_ONE_ITEM), which
 * then finishes the cost itself; else one a partial sum of the loss (a few a compute unit:
 * mlpcl__cl_partial_count), at most one a tile of rows. */
static size_t output_items(const mlpcl_trainer *tr, size_t mb)
{
    size_t tiles = (mb + (size_t)mlpcl__cl(tr)->tune.tm - 1) / (size_t)mlpcl__cl(tr)->tune.tm;
    size_t items = mlpcl__cl_partial_count(tr, mb);
    if (mb * tr->net->width[tr->net->L - 1] <= OUTPUT_ONE_ITEM || !tiles) return 1;
    return items < tiles ? items : tiles;
}

/* A_L = act(A_{L-1} W_L + b_L) (softmax for cross-entropy) in one launch of output_layer; a
 * training plan's also D_L and the cost with the stop flag, by itself in one work-item, else
 * through the cost kernel over its work-items' sums. */
static mlpcl_status tiled_output(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl_cl *c = mlpcl__cl(tr);
    const mlpcl_net *net = tr->net;
    size_t L = net->L, mb = s->mb, items = output_items(tr, mb);
    int trains = tr->m && !p->predicting;
    double scale = mlpcl__loss_scale(net->loss, mb);
    cl_mem y = trains ? s->y : NULL, D = trains ? c->D[L] : NULL;
    cl_kernel k;
    karg a[OUTPUT_LAYER_NARGS] = {[OUTPUT_LAYER_M] = ARG_INT(mb),
                                  [OUTPUT_LAYER_N] = ARG_INT(net->width[L]),
                                  [OUTPUT_LAYER_K] = ARG_INT(net->width[L - 1]),
                                  [OUTPUT_LAYER_ACT] = ARG_INT(mlpcl__cl_forward_act(net, L)),
                                  [OUTPUT_LAYER_DACT] = ARG_INT(net->act[L]),
                                  [OUTPUT_LAYER_LOSS] = ARG_INT(net->loss),
                                  [OUTPUT_LAYER_DM] = ARG_INT(mb),
                                  [OUTPUT_LAYER_A] = ARG_MEM(c->A[L - 1]),
                                  [OUTPUT_LAYER_AW] = ARG_INT(mlpcl__cl_strip_width(tr, L - 1)),
                                  [OUTPUT_LAYER_CAP] = ARG_INT(tr->batch),
                                  [OUTPUT_LAYER_P] = ARG_MEM(s->P),
                                  [OUTPUT_LAYER_OFF] = ARG_INT(net->offset[L]),
                                  [OUTPUT_LAYER_OUT] = ARG_MEM(c->A[L]),
                                  [OUTPUT_LAYER_Y] = ARG_MEM(y),
                                  [OUTPUT_LAYER_D] = ARG_MEM(D),
                                  [OUTPUT_LAYER_SCALE] = ARG_REAL(scale),
                                  [OUTPUT_LAYER_TARGET] = ARG_REAL(tr->target),
                                  [OUTPUT_LAYER_COST] = ARG_MEM(c->costs),
                                  [OUTPUT_LAYER_STATE] = ARG_MEM(c->state),
                                  [OUTPUT_LAYER_SLOT] = ARG_INT(0),
                                  [OUTPUT_LAYER_PARTIALS] = ARG_MEM(c->partials)};
    TRY(mlpcl__cl_make_kernel(tr, K_OUTPUT_LAYER, &k, N_ARGS(a), a));
    TRY(mlpcl__cl_add_launch_shaped(p, tr, k, K_OUTPUT_LAYER, L, items, 1, 1, 1));
    if (!trains) return MLPCL_OK;
    p->delta = k;
    p->delta_m = OUTPUT_LAYER_DM;
    if (items > 1) return mlpcl__cl_build_cost(tr, p, items, scale);
    p->cost = k;
    p->cost_arg = OUTPUT_LAYER_TARGET;
    p->cost_scale = OUTPUT_LAYER_SCALE;
    p->cost_slot = OUTPUT_LAYER_SLOT;
fail:
    return st;
}

/* Whether a training plan of mb rows runs its output layer's gradient and the layer below's
 * deltas as one launch of output_backward_*: as tiled_fuses_output, with the layer below wider
 * than a vector (its deltas in wide tiles). */
static int tiled_fuses_output_backward(const mlpcl_trainer *tr, size_t mb)
{
    const mlpcl_net *net = tr->net;
    size_t L = net->L;
    return !mlpcl__cl(tr)->tune.local && L >= 2 && narrow(tr, net->width[L]) &&
           !narrow(tr, net->width[L - 1]) && mb * net->width[L - 1] <= OUTPUT_ONE_ITEM;
}

/* The output layer's gradient and step, then D_{L-1}, as one work-item (gemm_cpu.cl's
 * output_backward): the gradient's launch with the backward product's arguments after. */
static mlpcl_status tiled_output_backward(mlpcl_trainer *tr, mlpcl_plan *p, const mlpcl_stage *s)
{
    return gradient_launch(tr, p, s, tr->net->L, 1);
}

const mlpcl_cl_path mlpcl__cl_tiled = {tiled_pack,
                                       tiled_forward,
                                       tiled_backward,
                                       tiled_gradient,
                                       NULL,
                                       tiled_fuses_output,
                                       tiled_output,
                                       tiled_fuses_output_backward,
                                       tiled_output_backward};
