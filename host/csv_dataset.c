// SPDX-License-Identifier: MIT
/* csv_dataset.c: CSV data sets (mlpcl_csv_dataset): features then targets per row, the targets
 * either the last columns or a column of class labels (integers or names, one-hot encoded).
 * Lines are split by data.c's row reader, so every failure names file:line:col; the data set
 * itself (one-hot rows, class names) is made by dataset.c. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

/* Byte-wise order of two names (the sorted order of class names). */
static int field_cmp(mlpcl__field a, mlpcl__field b)
{
    size_t la = (size_t)(a.end - a.start), lb = (size_t)(b.end - b.start);
    int c = memcmp(a.start, b.start, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

static int field_cmp_q(const void *a, const void *b)
{
    return field_cmp(*(const mlpcl__field *)a, *(const mlpcl__field *)b);
}

static int field_is(mlpcl__field f, const char *s)
{
    size_t len = strlen(s);
    return (size_t)(f.end - f.start) == len && memcmp(f.start, s, len) == 0;
}

/* Up to a few of the class names, for messages ("a, b, c, …"). */
static void list_names(char *const *names, size_t n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < n && used < size; ++k) {
        char shown[64];
        int w = k == 8
                    ? snprintf(buf + used, size - used, ", …")
                    : snprintf(buf + used, size - used, "%s'%s'", k ? ", " : "",
                               mlpcl__printable(names[k], strlen(names[k]), shown, sizeof shown));
        if (w < 0 || k == 8) break;
        used += (size_t)w;
    }
}

/* A class name and its class, to sort names and keep their classes. */
struct class_name {
    mlpcl__field name;
    size_t k;
};

static int class_name_cmp(const void *a, const void *b)
{
    return field_cmp(((const struct class_name *)a)->name, ((const struct class_name *)b)->name);
}

/* What a CSV data set's reading keeps between rows. */
typedef struct csv_read {
    mlpcl__csv c;
    const mlpcl_csv_spec *spec;
    const mlpcl_dataset *like;
    mlpcl_dataset *d;
    size_t cols;                    /* columns of every row */
    size_t label_col;               /* 0-based label column, or cols when the targets are columns */
    int header;                     /* 1 when the first row was a header */
    size_t first_line;              /* line of the first row (the header, if any) */
    size_t cap;                     /* rows allocated */
    int names;                      /* -1: label kind not yet seen, 0: integers, 1: names */
    size_t kind_line;               /* where the label kind was first seen */
    mlpcl__field *name;             /* each row's label name (names mode), pointing into c.text */
    struct class_name *like_sorted; /* like's class names in sorted order, to search them */
} csv_read;

/* Finds the label column from spec->label_column: a 1-based number or a header name. */
static mlpcl_status find_label_column(csv_read *r)
{
    const char *want = r->spec->label_column, *path = r->c.path;
    size_t line = r->first_line;
    if (want[strspn(want, "0123456789")] == '\0') {
        errno = 0;
        unsigned long long k = strtoull(want, NULL, 10);
        if (errno || k == 0 || k > r->cols)
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s:%zu: label column %s is out of range (the file has %zu "
                               "columns, numbered from 1)",
                               path, line, want, r->cols);
        r->label_col = (size_t)k - 1;
        return MLPCL_OK;
    }
    if (!r->header)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s:%zu: label column '%s': the file has no header row to find it in "
                           "(give a column number instead)",
                           path, line, want);
    size_t found = r->cols;
    for (size_t j = 0; j < r->cols; ++j) {
        if (!field_is(mlpcl__unquote(r->c.f[j]), want)) continue;
        if (found < r->cols)
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s:%zu: label column '%s' is ambiguous: columns %zu and %zu are "
                               "both named so",
                               path, line, want, found + 1, j + 1);
        found = j;
    }
    if (found == r->cols)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s:%zu: no column named '%s' in the header", path, line,
                           want);
    r->label_col = found;
    return MLPCL_OK;
}

/* Settles the columns from the first row: the label column or target count, the feature count,
 * and their agreement with `like`. */
static mlpcl_status settle_columns(csv_read *r)
{
    mlpcl_dataset *d = r->d;
    const char *path = r->c.path;
    size_t line = r->first_line;
    r->cols = r->c.n;
    if (r->spec->targets) {
        if (r->spec->targets >= r->cols)
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s:%zu: %zu target columns leave no feature columns (the file "
                               "has %zu columns)",
                               path, line, r->spec->targets, r->cols);
        r->label_col = r->cols;
        d->n_out = r->spec->targets;
        d->n_in = r->cols - d->n_out;
    } else {
        mlpcl_status st = find_label_column(r);
        if (st != MLPCL_OK) return st;
        if (r->cols < 2)
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s:%zu: the label column is the only column: no features left",
                               path, line);
        d->n_in = r->cols - 1;
    }
    const mlpcl_dataset *like = r->like;
    if (!like) return MLPCL_OK;
    if (d->n_in != like->n_in)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s:%zu: %zu feature columns, but the training set has %zu features",
                           path, line, d->n_in, like->n_in);
    if (r->spec->targets && (like->labels || like->n_out != d->n_out))
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s:%zu: %zu target columns, but the training set has %zu %s", path,
                           line, d->n_out, like->n_out, like->labels ? "classes" : "targets");
    if (!r->spec->targets && !like->labels)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s:%zu: a label column, but the training set has numeric targets, "
                           "not classes",
                           path, line);
    if (!r->spec->targets) d->n_out = like->n_out;
    return MLPCL_OK;
}

/* Makes room for one more row in every per-row array. */
static mlpcl_status grow(csv_read *r)
{
    mlpcl_dataset *d = r->d;
    if (d->n < r->cap) return MLPCL_OK;
    size_t cap = r->cap ? 2 * r->cap : 256, nx, ny;
    if (cap < r->cap || mlpcl__mul_overflows(cap, d->n_in, &nx) ||
        mlpcl__mul_overflows(nx, sizeof *d->X, &nx) ||
        mlpcl__mul_overflows(cap, r->spec->targets, &ny) ||
        mlpcl__mul_overflows(ny, sizeof *d->Y, &ny) || cap > SIZE_MAX / sizeof(mlpcl__field))
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: too many rows for host memory", r->c.path);
    double *X = realloc(d->X, nx);
    if (!X) goto nomem;
    d->X = X;
    if (r->spec->targets) {
        double *Y = realloc(d->Y, ny);
        if (!Y) goto nomem;
        d->Y = Y;
    } else {
        int *labels = realloc(d->labels, cap * sizeof *labels);
        if (!labels) goto nomem;
        d->labels = labels;
        mlpcl__field *name = realloc(r->name, cap * sizeof *name);
        if (!name) goto nomem;
        r->name = name;
    }
    r->cap = cap;
    return MLPCL_OK;
nomem:
    return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", r->c.path);
}

/* Searches like's class names for a name; returns its class or -1. */
static long like_class(const csv_read *r, mlpcl__field f)
{
    struct class_name key = {f, 0};
    const struct class_name *hit =
        bsearch(&key, r->like_sorted, r->like->n_out, sizeof key, class_name_cmp);
    return hit ? (long)hit->k : -1;
}

/* Reads the label field of the current row (column col): an integer ≥ 0 (stored in labels) or a
 * name (kept in r->name, or looked up in like's classes). */
static mlpcl_status read_label(csv_read *r, size_t col)
{
    mlpcl_dataset *d = r->d;
    const mlpcl__csv *c = &r->c;
    mlpcl__field f = c->f[col];
    size_t len = (size_t)(f.end - f.start), at = mlpcl__csv_col(c, col);
    const char *path = c->path;
    if (len == 0)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s:%zu:%zu: empty label", path, c->line_no, at);
    char shown[96]; /* the label as messages show it: control bytes escaped */
    mlpcl__printable(mlpcl__unquote(f).start,
                     (size_t)(mlpcl__unquote(f).end - mlpcl__unquote(f).start), shown,
                     sizeof shown);
    /* A field strtod reads whole is a number (NaN and Inf too, so they are refused below
     * instead of becoming class names). */
    char tmp[64], *end;
    double v = 0;
    int number = 0;
    if (len < sizeof tmp) {
        memcpy(tmp, f.start, len);
        tmp[len] = '\0';
        v = strtod(tmp, &end);
        number = end == tmp + len;
    }
    if (r->names < 0) {
        r->names = !number;
        r->kind_line = c->line_no;
        if (r->like && r->like->class_names && !r->names)
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s:%zu:%zu: label %s is a number, but the training set's "
                               "classes are names",
                               path, c->line_no, at, tmp);
        if (r->like && !r->like->class_names && r->names)
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s:%zu:%zu: label '%s' is a name, but the training set's "
                               "classes are numbers",
                               path, c->line_no, at, shown);
    }
    if (r->names != !number)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s:%zu:%zu: label '%s' is a %s, but the label on line %zu is a %s "
                           "(a label column holds either integers or names)",
                           path, c->line_no, at, shown, number ? "number" : "name", r->kind_line,
                           number ? "name" : "number");
    if (r->names) {
        mlpcl__field name = mlpcl__unquote(f);
        if (r->like) {
            long k = like_class(r, name);
            if (k < 0) {
                char list[256];
                list_names(r->like->class_names, r->like->n_out, list, sizeof list);
                return mlpcl__fail(MLPCL_ERR_DATA,
                                   "%s:%zu:%zu: label '%s' is not one of the training set's "
                                   "%zu classes (%s)",
                                   path, c->line_no, at, shown, r->like->n_out, list);
            }
            d->labels[d->n] = (int)k;
        }
        r->name[d->n] = name;
        return MLPCL_OK;
    }
    if (!isfinite(v) || v < 0 || v != floor(v))
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s:%zu:%zu: label %s is not a class number (an integer ≥ 0)", path,
                           c->line_no, at, tmp);
    size_t limit = r->like ? r->like->n_out : MLPCL__MAX_CLASSES;
    if (v >= (double)limit)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s:%zu:%zu: label %s is out of range (%s%zu classes)",
                           path, c->line_no, at, tmp,
                           r->like ? "the training set has " : "at most ", limit);
    d->labels[d->n] = (int)v;
    if (!r->like && (size_t)v + 1 > d->n_out) d->n_out = (size_t)v + 1;
    return MLPCL_OK;
}

/* Reads one data row's features, and its targets or label. */
static mlpcl_status read_row(csv_read *r)
{
    mlpcl_dataset *d = r->d;
    const mlpcl__csv *c = &r->c;
    if (c->n != r->cols)
        return mlpcl__fail(
            MLPCL_ERR_DATA, "%s:%zu: expected %zu columns (as in the %s on line %zu), found %zu",
            c->path, c->line_no, r->cols, r->header ? "header" : "first row", r->first_line, c->n);
    mlpcl_status st = grow(r);
    if (st != MLPCL_OK) return st;
    double *x = &mlpcl_at(d->X, d->n_in, d->n, 0);
    double *y = r->spec->targets ? &mlpcl_at(d->Y, d->n_out, d->n, 0) : NULL;
    for (size_t j = 0, k = 0; j < c->n; ++j) {
        if (j == r->label_col) {
            if ((st = read_label(r, j)) != MLPCL_OK) return st;
            continue;
        }
        char why[160];
        double *dst = k < d->n_in ? &x[k] : &y[k - d->n_in];
        ++k;
        if (mlpcl__parse_number(c->f[j], dst, why, sizeof why) != 0)
            return mlpcl__fail(MLPCL_ERR_DATA, "%s:%zu:%zu: %s", c->path, c->line_no,
                               mlpcl__csv_col(c, j), why);
        if ((st = mlpcl__note_beyond_float(&d->beyond_float, c, j, *dst)) != MLPCL_OK) return st;
    }
    ++d->n;
    return MLPCL_OK;
}

/* Names mode without `like`: the classes are the sorted distinct names; labels index them. */
static mlpcl_status name_classes(csv_read *r)
{
    mlpcl_dataset *d = r->d;
    mlpcl__field *sorted = malloc(d->n * sizeof *sorted);
    if (!sorted) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", r->c.path);
    memcpy(sorted, r->name, d->n * sizeof *sorted);
    qsort(sorted, d->n, sizeof *sorted, field_cmp_q);
    size_t k = 0;
    for (size_t i = 0; i < d->n; ++i)
        if (k == 0 || field_cmp(sorted[i], sorted[k - 1]) != 0) sorted[k++] = sorted[i];
    mlpcl_status st = MLPCL_OK;
    if (k > MLPCL__MAX_CLASSES) {
        st = mlpcl__fail(MLPCL_ERR_DATA, "%s: %zu distinct labels, more than %zu classes",
                         r->c.path, k, MLPCL__MAX_CLASSES);
        goto done;
    }
    d->class_names = calloc(k, sizeof *d->class_names);
    if (!d->class_names) goto nomem;
    d->n_out = k; /* set now, so that mlpcl_dataset_free frees the names made so far */
    for (size_t j = 0; j < k; ++j)
        if (!(d->class_names[j] = mlpcl__field_copy(sorted[j]))) goto nomem;
    for (size_t i = 0; i < d->n; ++i) {
        size_t lo = 0, hi = k; /* the name is there: a binary search finds it */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (field_cmp(r->name[i], sorted[mid]) < 0)
                hi = mid;
            else
                lo = mid;
        }
        d->labels[i] = (int)lo;
    }
    goto done;
nomem:
    st = mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", r->c.path);
done:
    free(sorted);
    return st;
}

mlpcl_status mlpcl_csv_dataset(const char *path, const mlpcl_csv_spec *spec,
                               const mlpcl_dataset *like, mlpcl_dataset *out)
{
    if (!out) return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_csv_dataset: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path || !spec)
        return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_csv_dataset: path or spec is NULL");
    int has_label = spec->label_column && spec->label_column[0];
    if (spec->targets && has_label)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "%s: give either a number of target columns or a label column, not "
                           "both",
                           path);
    if (!spec->targets && !has_label)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "%s: no targets: give a number of target columns or a label column",
                           path);
    mlpcl_status st = MLPCL_OK;
    csv_read r = {.spec = spec, .like = like, .d = out, .names = -1};
    if (like && like->class_names) {
        /* Sort like's names once, to look test labels up by binary search. */
        r.like_sorted = malloc((like->n_out ? like->n_out : 1) * sizeof *r.like_sorted);
        if (!r.like_sorted) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
        for (size_t k = 0; k < like->n_out; ++k) {
            const char *s = like->class_names[k];
            r.like_sorted[k] = (struct class_name){{s, s + strlen(s)}, k};
        }
        qsort(r.like_sorted, like->n_out, sizeof *r.like_sorted, class_name_cmp);
    }
    TRY(mlpcl__csv_open(path, &r.c));
    for (int first = 1, row;; first = 0) {
        TRY(mlpcl__csv_next(&r.c, &row));
        if (!row) break;
        if (first) {
            r.first_line = r.c.line_no;
            r.header = mlpcl__csv_is_header(&r.c);
            TRY(settle_columns(&r));
            if (r.header) continue;
        }
        TRY(read_row(&r));
    }
    if (out->n == 0) {
        st = mlpcl__fail(MLPCL_ERR_DATA, "%s: no data rows (%s)", path,
                         r.header ? "only a header" : "the file is empty");
        goto fail;
    }
    if (!spec->targets) {
        if (r.names && !like) TRY(name_classes(&r));
        if (like) TRY(mlpcl__copy_names(out, like->class_names, like->n_out, path));
        TRY(mlpcl__one_hot(out, path));
    }
    mlpcl__csv_close(&r.c);
    free(r.name);
    free(r.like_sorted);
    return MLPCL_OK;
fail:
    mlpcl__csv_close(&r.c);
    free(r.name);
    free(r.like_sorted);
    mlpcl_dataset_free(out);
    return st;
}
