// SPDX-License-Identifier: MIT
/* cl_args.h: the argument positions of every kernel, by name, as the kernels folder declares them.
 * The plan builders set arguments through these (designated initialisers) and never by bare
 * number; a kernel's signature changes here and in its .cl file together. Not installed. */
#ifndef MLPCL_CL_ARGS_H
#define MLPCL_CL_ARGS_H

/* gather.cl: gather(mb, width, src, idx, use_idx, offset, dst, chunk, width2, src2, dst2) */
enum {
    GATHER_MB,
    GATHER_WIDTH,
    GATHER_SRC,
    GATHER_IDX,
    GATHER_USE_IDX,
    GATHER_OFFSET,
    GATHER_DST,
    GATHER_CHUNK,
    GATHER_WIDTH2,
    GATHER_SRC2,
    GATHER_DST2,
    GATHER_NARGS
};

/* forward.cl: forward(m, n_in, n_out, act, A_in, P, off, A_out) */
enum {
    FORWARD_M,
    FORWARD_N_IN,
    FORWARD_N_OUT,
    FORWARD_ACT,
    FORWARD_A_IN,
    FORWARD_P,
    FORWARD_OFF,
    FORWARD_A_OUT,
    FORWARD_NARGS
};

/* forward.cl: softmax(m, n, Z) */
enum { SOFTMAX_M, SOFTMAX_N, SOFTMAX_Z, SOFTMAX_NARGS };

/* delta.cl: output_delta(mn, m, act, loss, A, Y, D, partials, scale, target, cost, state,
 * slot) */
enum {
    OUTPUT_DELTA_MN,
    OUTPUT_DELTA_M,
    OUTPUT_DELTA_ACT,
    OUTPUT_DELTA_LOSS,
    OUTPUT_DELTA_A,
    OUTPUT_DELTA_Y,
    OUTPUT_DELTA_D,
    OUTPUT_DELTA_PARTIALS,
    OUTPUT_DELTA_SCALE,
    OUTPUT_DELTA_TARGET,
    OUTPUT_DELTA_COST,
    OUTPUT_DELTA_STATE,
    OUTPUT_DELTA_SLOT,
    OUTPUT_DELTA_NARGS
};

/* delta.cl: cost(n_partials, scale, target, partials, cost, state, slot) */
enum {
    COST_N_PARTIALS,
    COST_SCALE,
    COST_TARGET,
    COST_PARTIALS,
    COST_COST,
    COST_STATE,
    COST_SLOT,
    COST_NARGS
};

/* delta.cl: hidden_delta(m, n, n_next, act, D_next, P, off_next, A, D) */
enum {
    HIDDEN_DELTA_M,
    HIDDEN_DELTA_N,
    HIDDEN_DELTA_N_NEXT,
    HIDDEN_DELTA_ACT,
    HIDDEN_DELTA_D_NEXT,
    HIDDEN_DELTA_P,
    HIDDEN_DELTA_OFF_NEXT,
    HIDDEN_DELTA_A,
    HIDDEN_DELTA_D,
    HIDDEN_DELTA_NARGS
};

/* gradient.cl: gradient(m, n_in, n_out, A_in, D, G, off) */
enum {
    GRADIENT_M,
    GRADIENT_N_IN,
    GRADIENT_N_OUT,
    GRADIENT_A_IN,
    GRADIENT_D,
    GRADIENT_G,
    GRADIENT_OFF,
    GRADIENT_NARGS
};

/* update.cl: update(n, lr, mu, P, G, V, V_next, P_next, state) */
enum {
    UPDATE_N,
    UPDATE_LR,
    UPDATE_MU,
    UPDATE_P,
    UPDATE_G,
    UPDATE_V,
    UPDATE_V_NEXT,
    UPDATE_P_NEXT,
    UPDATE_STATE,
    UPDATE_NARGS
};

/* update.cl: optim(n, lr, mu, P, G, V, V_next, P_next, state, kind, nesterov, hyper, S, S_next, T,
 * T_next) */
enum {
    OPTIM_N,
    OPTIM_LR,
    OPTIM_MU,
    OPTIM_P,
    OPTIM_G,
    OPTIM_V,
    OPTIM_V_NEXT,
    OPTIM_P_NEXT,
    OPTIM_STATE,
    OPTIM_KIND,
    OPTIM_NESTEROV,
    OPTIM_HYPER,
    OPTIM_S,
    OPTIM_S_NEXT,
    OPTIM_T,
    OPTIM_T_NEXT,
    OPTIM_NARGS
};

/* gemm_cpu.cl, gemm_gpu.cl: gemm_forward, gemm_forward_narrow and gemm_forward_panels
 * (FORWARD_ARGS): m, n (outputs), k (inputs), act, A, P, off, Out, Wp, woff (the weights' panels at
 * Wp + woff, or NULL; CPUs), aw, ow (A's and Out's widths: strips, or rows), cap (strips' rows),
 * idx, row0 (A's rows where they lie: common.cl's batch_row), Xb, Y, ny, Yb (the batch's rows of
 * A and Y, ny wide, copied there for the rest of the iteration, or NULL; CPUs) */
enum {
    GEMM_FORWARD_M,
    GEMM_FORWARD_N,
    GEMM_FORWARD_K,
    GEMM_FORWARD_ACT,
    GEMM_FORWARD_A,
    GEMM_FORWARD_P,
    GEMM_FORWARD_OFF,
    GEMM_FORWARD_OUT,
    GEMM_FORWARD_WP,
    GEMM_FORWARD_WOFF,
    GEMM_FORWARD_AW,
    GEMM_FORWARD_OW,
    GEMM_FORWARD_CAP,
    GEMM_FORWARD_IDX,
    GEMM_FORWARD_ROW0,
    GEMM_FORWARD_XB,
    GEMM_FORWARD_Y,
    GEMM_FORWARD_NY,
    GEMM_FORWARD_YB,
    GEMM_FORWARD_NARGS
};

/* gemm_epilogue.cl: pack_weights(n, k, tv, P, off, Wp, woff) */
enum { PACK_N, PACK_K, PACK_TV, PACK_P, PACK_OFF, PACK_WP, PACK_WOFF, PACK_NARGS };

/* gemm_cpu.cl: output_layer(m, n, k, act, dact, loss, dm, A, aw, cap, P, off, Out, Y, D, scale,
 * target, cost, state, slot, partials) */
enum {
    OUTPUT_LAYER_M,
    OUTPUT_LAYER_N,
    OUTPUT_LAYER_K,
    OUTPUT_LAYER_ACT,
    OUTPUT_LAYER_DACT,
    OUTPUT_LAYER_LOSS,
    OUTPUT_LAYER_DM,
    OUTPUT_LAYER_A,
    OUTPUT_LAYER_AW,
    OUTPUT_LAYER_CAP,
    OUTPUT_LAYER_P,
    OUTPUT_LAYER_OFF,
    OUTPUT_LAYER_OUT,
    OUTPUT_LAYER_Y,
    OUTPUT_LAYER_D,
    OUTPUT_LAYER_SCALE,
    OUTPUT_LAYER_TARGET,
    OUTPUT_LAYER_COST,
    OUTPUT_LAYER_STATE,
    OUTPUT_LAYER_SLOT,
    OUTPUT_LAYER_PARTIALS,
    OUTPUT_LAYER_NARGS
};

/* gemm_cpu.cl, gemm_gpu.cl: gemm_backward and gemm_backward_narrow (BACKWARD_ARGS): m, n, k, act,
 * Dn, WT, Act, D, dnw, dw (Dn's and D's widths), cap */
enum {
    GEMM_BACKWARD_M,
    GEMM_BACKWARD_N,
    GEMM_BACKWARD_K,
    GEMM_BACKWARD_ACT,
    GEMM_BACKWARD_DN,
    GEMM_BACKWARD_WT,
    GEMM_BACKWARD_ACT_IN,
    GEMM_BACKWARD_D,
    GEMM_BACKWARD_DNW,
    GEMM_BACKWARD_DW,
    GEMM_BACKWARD_CAP,
    GEMM_BACKWARD_NARGS
};

/* gemm_cpu.cl, gemm_gpu.cl: gemm_gradient, gemm_gradient_narrow and their _strips (GRADIENT_ARGS):
 * m, n (outputs), k (inputs), A, D, G, off, P, V, V_next, P_next, lr, mu, state, split, Gs, WT, Wp,
 * woff (the stepped weights' panels, or NULL), aw, dw (A's and D's widths), cap, tx, ty (the
 * tiles a CPU work-item walks, keeping their sums in Gs; GPUs ignore aw … ty) */
enum {
    GEMM_GRADIENT_M,
    GEMM_GRADIENT_N,
    GEMM_GRADIENT_K,
    GEMM_GRADIENT_A,
    GEMM_GRADIENT_D,
    GEMM_GRADIENT_G,
    GEMM_GRADIENT_OFF,
    GEMM_GRADIENT_P,
    GEMM_GRADIENT_V,
    GEMM_GRADIENT_V_NEXT,
    GEMM_GRADIENT_P_NEXT,
    GEMM_GRADIENT_LR,
    GEMM_GRADIENT_MU,
    GEMM_GRADIENT_STATE,
    GEMM_GRADIENT_SPLIT,
    GEMM_GRADIENT_GS,
    GEMM_GRADIENT_WT,
    GEMM_GRADIENT_WP,
    GEMM_GRADIENT_WOFF,
    GEMM_GRADIENT_AW,
    GEMM_GRADIENT_DW,
    GEMM_GRADIENT_CAP,
    GEMM_GRADIENT_TX,
    GEMM_GRADIENT_TY,
    GEMM_GRADIENT_NARGS
};

/* gemm_cpu.cl: output_backward_rows and _strips: GRADIENT_ARGS of the output layer, then n1,
 * act1, Act1, D1, d1w (the layer below's width, activation, output, deltas and their width) */
enum {
    OUTPUT_BACKWARD_N1 = GEMM_GRADIENT_NARGS,
    OUTPUT_BACKWARD_ACT1,
    OUTPUT_BACKWARD_ACT_IN1,
    OUTPUT_BACKWARD_D1,
    OUTPUT_BACKWARD_D1W,
    OUTPUT_BACKWARD_NARGS
};

/* gemm_epilogue.cl: gradient_reduce(count, split, Gs, G, off, P, V, V_next, P_next, lr, mu, state)
 */
enum {
    REDUCE_COUNT,
    REDUCE_SPLIT,
    REDUCE_GS,
    REDUCE_G,
    REDUCE_OFF,
    REDUCE_P,
    REDUCE_V,
    REDUCE_V_NEXT,
    REDUCE_P_NEXT,
    REDUCE_LR,
    REDUCE_MU,
    REDUCE_STATE,
    REDUCE_N,
    REDUCE_WT,
    REDUCE_NARGS
};

/* fused.cl: fused(m, loss, target, scale, shape, X, Y, P, P_next, G, V, V_next, A, D, cost,
 * state, lr, mu, do_update, iters, kind, nesterov, hyper, S, S_next, T, T_next); A and D hold
 * every layer's, at the offsets in shape */
enum {
    FUSED_M,
    FUSED_LOSS,
    FUSED_TARGET,
    FUSED_SCALE,
    FUSED_SHAPE,
    FUSED_X,
    FUSED_Y,
    FUSED_P,
    FUSED_P_NEXT,
    FUSED_G,
    FUSED_V,
    FUSED_V_NEXT,
    FUSED_A,
    FUSED_D,
    FUSED_COST,
    FUSED_STATE,
    FUSED_LR,
    FUSED_MU,
    FUSED_DO_UPDATE,
    FUSED_ITERS,
    FUSED_KIND,
    FUSED_NESTEROV,
    FUSED_HYPER,
    FUSED_S,
    FUSED_S_NEXT,
    FUSED_T,
    FUSED_T_NEXT,
    FUSED_NARGS
};

/* The kernels that take the step take the momentum right after it (mlpcl_plan.step_arg). */
_Static_assert(UPDATE_MU == UPDATE_LR + 1 && OPTIM_MU == OPTIM_LR + 1 &&
                   GEMM_GRADIENT_MU == GEMM_GRADIENT_LR + 1 && REDUCE_MU == REDUCE_LR + 1 &&
                   FUSED_MU == FUSED_LR + 1,
               "momentum follows the step");

#endif
