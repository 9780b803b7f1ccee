// SPDX-License-Identifier: MIT
/* train_data.c: `mlpcl train`'s data: a data set by path with its held-out sets (--data,
 * --test, --validation), CSV inputs and targets (--x, --y), or the tutorial's random data; and
 * their standardisation (--normalize), fitted and applied by the library. */
#include <stdlib.h>

#include "train.h"

void train_data_free(train_data *d)
{
    mlpcl_dataset_free(&d->train);
    mlpcl_dataset_free(&d->val);
    mlpcl_dataset_free(&d->test);
    mlpcl_norm_free(&d->norm);
}

/* X and Y from two CSV files, or drawn at random as the tutorial does. */
static int tutorial_data(const train_cli *o, mlpcl_dataset *d)
{
    mlpcl_table X = {0}, Y = {0};
    int st, rc = 0;
    if (o->x_path) {
        if ((st = mlpcl_csv_read(o->x_path, &X)) != MLPCL_OK ||
            (st = mlpcl_csv_read(o->y_path, &Y)) != MLPCL_OK) {
            rc = lib_fail(st);
        } else if (X.rows != Y.rows) {
            rc = failf(EXIT_USAGE,
                       "train: %s has %zu data rows but %s has %zu: X and Y need one row per "
                       "sample each",
                       o->x_path, X.rows, o->y_path, Y.rows);
        }
    } else {
        X.rows = Y.rows = (size_t)o->samples;
        X.cols = Y.cols = 2;
        X.v = malloc(2 * X.rows * sizeof(double));
        Y.v = malloc(2 * Y.rows * sizeof(double));
        if (!X.v || !Y.v)
            rc = failf(EXIT_DEVICE, "out of host memory for %zu samples", X.rows);
        else
            mlpcl_tutorial_data(X.rows, (uint64_t)o->seed, X.v, Y.v);
    }
    if (!rc) {
        /* The first value float cannot hold, X's before Y's, goes with the data. */
        char **beyond = X.beyond_float ? &X.beyond_float : &Y.beyond_float;
        *d = (mlpcl_dataset){X.rows, X.cols, Y.cols, X.v, Y.v, NULL, NULL, *beyond};
        X.v = Y.v = NULL;
        *beyond = NULL;
    }
    mlpcl_table_free(&X);
    mlpcl_table_free(&Y);
    return rc;
}

int train_load_data(const train_cli *o, train_data *d)
{
    int st;
    if (!o->data) return tutorial_data(o, &d->train);
    mlpcl_csv_spec spec = {o->label_column ? 0 : (size_t)(o->targets ? o->targets : 1),
                           o->label_column};
    if ((st = mlpcl_dataset_open(o->data, &spec, &d->train, o->test ? NULL : &d->test)) != MLPCL_OK)
        return lib_fail(st);
    if (o->test && (st = mlpcl_dataset_open_like(o->test, &spec, &d->train, &d->test)) != MLPCL_OK)
        return lib_fail(st);
    if (o->validation > 0 &&
        (st = mlpcl_dataset_split(&d->train, o->validation, &d->val)) != MLPCL_OK)
        return lib_fail(st);
    return 0;
}

int train_check_precision(const train_data *d, mlpcl_precision prec)
{
    const mlpcl_dataset *sets[] = {&d->train, &d->val, &d->test};
    for (size_t s = 0; s < 3; ++s) {
        int st = mlpcl_dataset_check_precision(sets[s], prec);
        if (st != MLPCL_OK)
            return failf(exit_for(st), "%s; train in double precision (--precision double)",
                         mlpcl_last_error());
    }
    return 0;
}

int train_standardize(train_data *d, int fit)
{
    int st;
    if (fit && (st = mlpcl_norm_fit(&d->train, &d->norm)) != MLPCL_OK) return lib_fail(st);
    if (d->norm.n != d->train.n_in)
        return failf(EXIT_USAGE, "train: the model standardises %zu features, the data has %zu",
                     d->norm.n, d->train.n_in);
    mlpcl_dataset *sets[] = {&d->train, &d->val, &d->test};
    for (size_t s = 0; s < 3; ++s)
        if ((st = mlpcl_norm_apply(&d->norm, sets[s])) != MLPCL_OK) return lib_fail(st);
    return 0;
}
