// SPDX-License-Identifier: MIT
/* fuzz_csv.c: the CSV loaders. Input: one variant byte, then the file. The file is read by
 * mlpcl_csv_read, then as a data set by the variant (the byte's value mod 8; the seeds use the
 * digits '0' … '7'): with 1 or 2 target columns, label column "1", the label column named
 * "label", against a training set (`like`) whose classes are names, integers or numeric targets,
 * or opened by path (mlpcl_dataset_open, label column "1") and split in half. */
#include <math.h>
#include <string.h>

#include "harness.h"

enum { VARIANTS = 8 };

/* The training sets of the `like` variants: 2 features; classes "cat", "dog", "fish"; classes
 * 0 … 2; or one numeric target. */
static char cat[] = "cat", dog[] = "dog", fish[] = "fish";
static char *names[] = {cat, dog, fish};
static double like_x[2], like_y[3] = {1, 0, 0};
static int like_labels[1];
static const mlpcl_dataset like_named = {1, 2, 3, like_x, like_y, like_labels, names, NULL};
static const mlpcl_dataset like_classes = {1, 2, 3, like_x, like_y, like_labels, NULL, NULL};
static const mlpcl_dataset like_numeric = {1, 2, 1, like_x, like_y, NULL, NULL, NULL};

static int check_table(const mlpcl_table *t)
{
    if (!t->rows || !t->cols || !t->v)
        return fuzz_report("mlpcl_csv_read: %zu rows, %zu columns, values %p", t->rows, t->cols,
                           (void *)t->v);
    for (size_t i = 0; i < t->rows * t->cols; ++i)
        if (!isfinite(t->v[i])) return fuzz_report("mlpcl_csv_read: value %zu is %g", i, t->v[i]);
    for (size_t j = 0; t->names && j < t->cols; ++j)
        if (!t->names[j]) return fuzz_report("mlpcl_csv_read: header name %zu is NULL", j);
    return 0;
}

/* With target columns, a data set is the table read by mlpcl_csv_read split into features
 * and targets: the same rows, the same values. */
static int same_as_table(const mlpcl_dataset *d, const mlpcl_table *t)
{
    if (d->n != t->rows || d->n_in + d->n_out != t->cols)
        return fuzz_report("mlpcl_csv_dataset: %zu × (%zu + %zu), mlpcl_csv_read %zu × %zu", d->n,
                           d->n_in, d->n_out, t->rows, t->cols);
    for (size_t i = 0; i < d->n; ++i)
        for (size_t j = 0; j < t->cols; ++j) {
            double x = j < d->n_in ? mlpcl_at(d->X, d->n_in, i, j)
                                   : mlpcl_at(d->Y, d->n_out, i, j - d->n_in);
            if (memcmp(&x, &mlpcl_at(t->v, t->cols, i, j), sizeof x))
                return fuzz_report("row %zu column %zu: mlpcl_csv_dataset %.17g, mlpcl_csv_read "
                                   "%.17g",
                                   i, j, x, mlpcl_at(t->v, t->cols, i, j));
        }
    return 0;
}

/* The data set variants: mlpcl_csv_dataset, or mlpcl_dataset_open and a split. table is what
 * mlpcl_csv_read made of the same file, or NULL where it failed. */
static int dataset(unsigned variant, const char *path, const mlpcl_table *table)
{
    static const mlpcl_csv_spec specs[VARIANTS] = {{1, NULL}, {2, NULL}, {0, "1"},  {0, "label"},
                                                   {0, "3"},  {0, "3"},  {1, NULL}, {0, "1"}};
    static const mlpcl_dataset *const likes[VARIANTS] = {
        NULL, NULL, NULL, NULL, &like_named, &like_classes, &like_numeric, NULL};
    const mlpcl_csv_spec *spec = &specs[variant];
    const mlpcl_dataset *like = likes[variant];
    const char *call = variant == 7 ? "mlpcl_dataset_open" : "mlpcl_csv_dataset";
    mlpcl_dataset d, tail = {0};
    int st = variant == 7 ? mlpcl_dataset_open(path, spec, &d, NULL)
                          : mlpcl_csv_dataset(path, spec, like, &d);
    int bad = 0;
    if (st != MLPCL_OK) {
        bad = fuzz_clean_failure(call, st);
        if (!bad && !fuzz_all_zero(&d, sizeof d))
            bad = fuzz_report("%s failed but left its output set", call);
        return bad;
    }
    bad = fuzz_check_dataset(call, &d, spec->targets == 0, like);
    if (!bad && spec->targets && d.n_out != spec->targets)
        bad = fuzz_report("%s: %zu outputs, %zu target columns asked for", call, d.n_out,
                          spec->targets);
    if (!bad && spec->targets && table) bad = same_as_table(&d, table);
    if (!bad && variant == 7 && d.n >= 2) {
        size_t n = d.n;
        st = mlpcl_dataset_split(&d, 0.5, &tail);
        if (st != MLPCL_OK)
            bad = fuzz_report("mlpcl_dataset_split(%zu samples, 0.5): %s", n, mlpcl_last_error());
        else if (d.n + tail.n != n || !d.n || !tail.n)
            bad =
                fuzz_report("mlpcl_dataset_split: %zu samples became %zu and %zu", n, d.n, tail.n);
        else
            bad = fuzz_check_dataset("mlpcl_dataset_split", &tail, 1, NULL);
    }
    mlpcl_dataset_free(&tail);
    mlpcl_dataset_free(&d);
    return bad;
}

int fuzz_csv(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    char path[512];
    fuzz_path(path, sizeof path, "data.csv");
    if (fuzz_write(path, data + 1, size - 1, 0)) return 1;

    mlpcl_table t;
    int bad, st = mlpcl_csv_read(path, &t);
    if (st == MLPCL_OK)
        bad = check_table(&t);
    else if (!(bad = fuzz_clean_failure("mlpcl_csv_read", st)) && !fuzz_all_zero(&t, sizeof t))
        bad = fuzz_report("mlpcl_csv_read failed but left its output set");
    bad |= dataset(data[0] % VARIANTS, path, st == MLPCL_OK ? &t : NULL);
    mlpcl_table_free(&t);
    return bad;
}
