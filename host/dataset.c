// SPDX-License-Identifier: MIT
/* dataset.c: data sets in memory (mlpcl_dataset), below both readers (csv_dataset.c, idx.c):
 * the one-hot targets of class labels, copies of class names, the held-out split, freeing. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

void mlpcl_dataset_free(mlpcl_dataset *d)
{
    if (!d) return;
    if (d->class_names)
        for (size_t k = 0; k < d->n_out; ++k) free(d->class_names[k]);
    free(d->class_names);
    free(d->labels);
    free(d->Y);
    free(d->X);
    free(d->beyond_float);
    memset(d, 0, sizeof *d);
}

/* The first of m values beyond float's range, or m. */
static size_t first_beyond_float(const double *v, size_t m)
{
    for (size_t i = 0; i < m; ++i)
        if (fabs(v[i]) > FLT_MAX) return i;
    return m;
}

mlpcl_status mlpcl_dataset_check_precision(const mlpcl_dataset *d, mlpcl_precision precision)
{
    if (!d) return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_dataset_check_precision: d is NULL");
    if (precision != MLPCL_PRECISION_FLOAT) return MLPCL_OK;
    if (d->beyond_float)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s is beyond float's range (±%.9g)", d->beyond_float,
                           (double)FLT_MAX);
    /* Data not read from a file (or a held-out part of one): say where in the matrix. */
    size_t nx = d->X ? d->n * d->n_in : 0, ny = d->Y ? d->n * d->n_out : 0;
    size_t i = first_beyond_float(d->X, nx);
    if (i < nx)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "sample %zu, feature %zu: %g is beyond float's range (±%.9g)",
                           i / d->n_in + 1, i % d->n_in + 1, d->X[i], (double)FLT_MAX);
    if ((i = first_beyond_float(d->Y, ny)) < ny)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "sample %zu, target %zu: %g is beyond float's range (±%.9g)",
                           i / d->n_out + 1, i % d->n_out + 1, d->Y[i], (double)FLT_MAX);
    return MLPCL_OK;
}

mlpcl_status mlpcl__one_hot(mlpcl_dataset *d, const char *path)
{
    size_t values;
    if (mlpcl__mul_overflows(d->n, d->n_out, &values) || values > MLPCL__MAX_VALUES)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: %zu samples × %zu classes is more one-hot targets than the %zu "
                           "values a data set may hold",
                           path, d->n, d->n_out, MLPCL__MAX_VALUES);
    /* A few hundred bytes of gzip can declare 30000 labels with one of 65535: held against
     * the memory the process can have, as the IDX header is (values ≤ 2^31: no overflow). */
    mlpcl_status st = mlpcl__check_memory(path, values * sizeof *d->Y, "the one-hot targets");
    if (st != MLPCL_OK) return st;
    d->Y = calloc(values ? values : 1, sizeof *d->Y);
    if (!d->Y) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
    for (size_t i = 0; i < d->n; ++i) mlpcl_at(d->Y, d->n_out, i, d->labels[i]) = 1.0;
    return MLPCL_OK;
}

mlpcl_status mlpcl__copy_names(mlpcl_dataset *d, char *const *names, size_t n, const char *path)
{
    if (!names) return MLPCL_OK;
    d->class_names = calloc(n, sizeof *d->class_names);
    if (!d->class_names) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
    for (size_t k = 0; k < n; ++k) {
        size_t len = strlen(names[k]) + 1;
        if (!(d->class_names[k] = malloc(len)))
            return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
        memcpy(d->class_names[k], names[k], len);
    }
    return MLPCL_OK;
}

mlpcl_status mlpcl_dataset_split(mlpcl_dataset *d, double fraction, mlpcl_dataset *tail)
{
    if (!d || !tail || d == tail)
        return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_dataset_split: d or tail is NULL, or both are "
                                          "the same");
    memset(tail, 0, sizeof *tail);
    if (!(fraction > 0 && fraction < 1))
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "mlpcl_dataset_split: the held-out fraction %g is not between 0 and 1",
                           fraction);
    double want = round((double)d->n * fraction); /* ≤ n, as fraction < 1 */
    size_t k = want < 1 ? 0 : (size_t)want;
    if (k == 0 || k >= d->n)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "mlpcl_dataset_split: holding out %g of %zu samples leaves none %s "
                           "(each side needs at least 1)",
                           fraction, d->n, k == 0 ? "held out" : "for training");
    size_t keep = d->n - k;
    mlpcl_status st = MLPCL_OK;
    /* Everything for the tail first, so a failure leaves d as it was. The sizes cannot overflow
     * (d holds more); the + 1 keeps malloc(0) from looking like a failure. */
    *tail = (mlpcl_dataset){.n = k, .n_in = d->n_in, .n_out = d->n_out};
    tail->X = malloc(k * d->n_in * sizeof *tail->X + 1);
    tail->Y = malloc(k * d->n_out * sizeof *tail->Y + 1);
    if (!tail->X || !tail->Y) goto nomem;
    memcpy(tail->X, &mlpcl_at(d->X, d->n_in, keep, 0), k * d->n_in * sizeof *tail->X);
    memcpy(tail->Y, &mlpcl_at(d->Y, d->n_out, keep, 0), k * d->n_out * sizeof *tail->Y);
    if (d->labels) {
        if (!(tail->labels = malloc(k * sizeof *tail->labels))) goto nomem;
        memcpy(tail->labels, d->labels + keep, k * sizeof *tail->labels);
    }
    TRY(mlpcl__copy_names(tail, d->class_names, d->n_out, "mlpcl_dataset_split"));
    d->n = keep; /* the arrays keep their size: shrinking them would only save memory */
    return MLPCL_OK;
nomem:
    st = mlpcl__fail(MLPCL_ERR_NOMEM, "mlpcl_dataset_split: out of host memory");
fail:
    mlpcl_dataset_free(tail);
    return st;
}
