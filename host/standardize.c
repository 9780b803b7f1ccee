// SPDX-License-Identifier: MIT
/* standardize.c: feature standardisation (mlpcl_norm): fitted on a training set, applied to
 * every set the network sees, so that train and predict transform features the same way. The
 * sums run in sample order, so a fit gives the same numbers wherever it runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

mlpcl_status mlpcl_norm_fit(const mlpcl_dataset *d, mlpcl_norm *norm)
{
    if (!norm) return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_norm_fit: norm is NULL");
    memset(norm, 0, sizeof *norm);
    if (!d) return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_norm_fit: d is NULL");
    if (!d->n || !d->n_in)
        return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_norm_fit: no samples or no features to fit");
    size_t n = d->n_in;
    norm->mean = calloc(n, sizeof *norm->mean);
    norm->std = calloc(n, sizeof *norm->std);
    if (!norm->mean || !norm->std) {
        mlpcl_norm_free(norm);
        return mlpcl__fail(MLPCL_ERR_NOMEM, "mlpcl_norm_fit: out of host memory");
    }
    norm->n = n;
    for (size_t i = 0; i < d->n; ++i)
        for (size_t j = 0; j < n; ++j) norm->mean[j] += mlpcl_at(d->X, n, i, j);
    for (size_t j = 0; j < n; ++j) norm->mean[j] /= (double)d->n;
    for (size_t i = 0; i < d->n; ++i)
        for (size_t j = 0; j < n; ++j) {
            double e = mlpcl_at(d->X, n, i, j) - norm->mean[j];
            norm->std[j] += e * e;
        }
    for (size_t j = 0; j < n; ++j) {
        double s = sqrt(norm->std[j] / (double)d->n);
        /* A constant feature carries nothing; deviation 1 leaves it centred, not divided by 0. */
        norm->std[j] = s > 1e-12 ? s : 1.0;
    }
    return MLPCL_OK;
}

mlpcl_status mlpcl_norm_apply(const mlpcl_norm *norm, mlpcl_dataset *d)
{
    if (!norm || !d) return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_norm_apply: norm or d is NULL");
    if (!d->n) return MLPCL_OK;
    size_t n = d->n_in;
    if (norm->n != n)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "mlpcl_norm_apply: the standardisation is for %zu features, the data "
                           "has %zu",
                           norm->n, n);
    for (size_t i = 0; i < d->n; ++i)
        for (size_t j = 0; j < n; ++j) {
            double *x = &mlpcl_at(d->X, n, i, j);
            *x = (*x - norm->mean[j]) / norm->std[j];
        }
    return MLPCL_OK;
}

void mlpcl_norm_free(mlpcl_norm *norm)
{
    if (!norm) return;
    free(norm->mean);
    free(norm->std);
    memset(norm, 0, sizeof *norm);
}
