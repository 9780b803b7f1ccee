// SPDX-License-Identifier: MIT
/* trainer.h: the trainer as trainer.c (the public calls) sees it: the part every backend
 * shares, and the table of operations through which the front reaches a backend: the OpenCL
 * one (cl_*.c) or the host reference (host_backend.c). Not installed. */
#ifndef MLPCL_TRAINER_H
#define MLPCL_TRAINER_H

#include "internal.h"

#define MLPCL__MAX_LOOKAHEAD 64 /* iterations a backend may run ahead of the cost read */

typedef struct mlpcl_backend_ops mlpcl_backend_ops;

/* The optimiser a run or epoch uses (mlpcl.h's options, checked by the front). */
typedef struct mlpcl_optim {
    mlpcl_optimizer kind;
    int nesterov;
    double beta1, beta2, eps, wd;
} mlpcl_optim;

/* Whether o is plain SGD, with or without momentum: the step the tutorial's kernels fuse
 * (ops.cl's sgd_update), kept as it is so that those runs compute exactly as before. */
static inline int mlpcl__optim_plain(const mlpcl_optim *o)
{
    return o->kind == MLPCL_OPT_SGD && !o->nesterov && o->wd == 0.0;
}

struct mlpcl_trainer {
    mlpcl_ctx *ctx;
    mlpcl_net *net; /* a private copy of the shape; params = the host copy */
    size_t m;       /* training samples (0: a predicting trainer) */
    size_t batch;   /* rows per update or prediction chunk; = m for full batch */
    mlpcl_precision precision;
    size_t real;                 /* sizeof the backend's real type */
    long iter;                   /* updates applied (the OpenCL backend: P[iter & 1] is current) */
    double lr, momentum, target; /* what the launch plans were last given */
    mlpcl_optim optim;           /* the optimiser of the run or epoch in progress */
    int state_kind;   /* 1 + the optimizer whose updates the velocity and Adam state hold; 0:
                         none yet, or set by the caller (taken as the next run's) */
    size_t n_sets;    /* predicting sets added: ids 0 … n_sets − 1 */
    size_t *set_rows; /* their rows, by id */
    int worker; /* a data-parallel worker (dp_backend.c): an OpenCL backend whose iteration the
                   group drives stage by stage (never fused) */
    const mlpcl_backend_ops *ops; /* the backend */
    void *backend;                /* its own state, made by ops->create, freed by ops->free */
};

/* What a backend does. trainer.c has checked every argument before it calls one (options in
 * range, shapes equal, a set id that exists, a trainer with data where one is needed), so a
 * backend checks only what depends on it (device memory, say). The three optional entries may
 * be NULL: the front then refuses (profile_start) or answers "nothing" (profile, 0 seconds).
 *
 * The data-parallel backend (dp_backend.c, for a ctx that is a group of devices) plugs in here
 * without the front changing: its create makes one OpenCL worker trainer per device, each for
 * a contiguous share of every batch; its run and epoch drive them stage by stage, summing the
 * shares' gradients and cost partial sums with one all-reduce over a flat buffer (comm.h)
 * before every worker applies the same update, so that all stop at the same iteration; params
 * and velocity read worker 0, set_velocity writes every worker. */
struct mlpcl_backend_ops {
    const char *name;
    /* Makes tr->backend from the training set (m rows, or none); tr's common part is set. */
    mlpcl_status (*create)(mlpcl_trainer *tr, const double *X, const double *Y);
    void (*free)(mlpcl_trainer *tr); /* also after a failed create; tr->backend may be NULL */
    mlpcl_status (*run)(mlpcl_trainer *tr, const mlpcl_train_opts *o, mlpcl_train_result *res);
    mlpcl_status (*epoch)(mlpcl_trainer *tr, const mlpcl_epoch_opts *o, mlpcl_train_result *res);
    mlpcl_status (*params)(mlpcl_trainer *tr, double *P); /* the current parameters */
    mlpcl_status (*velocity)(mlpcl_trainer *tr, double *V);
    mlpcl_status (*set_velocity)(mlpcl_trainer *tr, const double *V);
    /* Adam's second moments S (when not NULL) and step count t; and setting them. */
    mlpcl_status (*adam_state)(mlpcl_trainer *tr, double *S, long *t);
    mlpcl_status (*set_adam_state)(mlpcl_trainer *tr, const double *S, long t);
    /* Keeps a copy of n rows as predicting set id (= tr->n_sets, which the front then raises). */
    mlpcl_status (*add_set)(mlpcl_trainer *tr, int id, const double *X, size_t n);
    /* The outputs of rows [start, start + rows) of set id, rows ≤ tr->batch. */
    mlpcl_status (*predict)(mlpcl_trainer *tr, int id, size_t start, size_t rows, double *out);
    void (*describe)(const mlpcl_trainer *tr, char *buf, size_t size);
    mlpcl_status (*profile_start)(mlpcl_trainer *tr);                              /* optional */
    mlpcl_status (*profile)(mlpcl_trainer *tr, mlpcl_kernel_time *out, size_t *n); /* optional */
    double (*build_seconds)(const mlpcl_trainer *tr);                              /* optional */
    mlpcl_status (*set_params)(mlpcl_trainer *tr, const double *P); /* the current parameters */
};

extern const mlpcl_backend_ops mlpcl__cl_ops;   /* cl_backend.c */
extern const mlpcl_backend_ops mlpcl__host_ops; /* host_backend.c */
extern const mlpcl_backend_ops mlpcl__dp_ops;   /* dp_backend.c */

#endif
