// SPDX-License-Identifier: MIT
/* open.c: opening a data set by path (mlpcl_dataset_open, mlpcl_dataset_open_like): an
 * MNIST-style folder, an "IMAGES,LABELS" IDX pair or a CSV file, told apart by what is on disk,
 * then read by idx.c or csv_dataset.c. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data.h"

static int is_file(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISREG(s.st_mode);
}

/* dir/base, else dir/base.gz, where that is a file: *found is then a new string, else NULL. */
static mlpcl_status find_in(const char *dir, const char *base, char **found)
{
    size_t len = strlen(dir) + strlen(base) + 5;
    *found = malloc(len);
    if (!*found) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", dir);
    const char *sep = dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/";
    snprintf(*found, len, "%s%s%s", dir, sep, base);
    if (is_file(*found)) return MLPCL_OK;
    strcat(*found, ".gz");
    if (is_file(*found)) return MLPCL_OK;
    free(*found);
    *found = NULL;
    return MLPCL_OK;
}

/* A folder's pair of IDX files named prefix-images-idx3-ubyte[.gz] and
 * prefix-labels-idx1-ubyte[.gz] ("train" or "t10k"): *images and *labels are new strings, or
 * NULL for a file that is not there. */
static mlpcl_status find_pair(const char *dir, const char *prefix, char **images, char **labels)
{
    char base[64];
    *images = *labels = NULL;
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
    mlpcl_status st = find_in(dir, base, images);
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
    if (st == MLPCL_OK) st = find_in(dir, base, labels);
    return st;
}

/* An MNIST-layout folder: the training pair, and the test pair where test is wanted and its
 * files are there. */
static mlpcl_status open_folder(const char *dir, mlpcl_dataset *train, mlpcl_dataset *test)
{
    mlpcl_status st = MLPCL_OK;
    char *ti = NULL, *tl = NULL, *ei = NULL, *el = NULL;
    TRY(find_pair(dir, "train", &ti, &tl));
    if (!ti || !tl) {
        st = mlpcl__fail(MLPCL_ERR_IO,
                         "%s: a folder, but not an MNIST-style one: looked for "
                         "train-images-idx3-ubyte[.gz] (%s) and train-labels-idx1-ubyte[.gz] "
                         "(%s)",
                         dir, ti ? "found" : "missing", tl ? "found" : "missing");
        goto fail;
    }
    TRY(mlpcl_idx_dataset(ti, tl, 0, NULL, train));
    if (test) {
        TRY(find_pair(dir, "t10k", &ei, &el));
        if (!ei != !el) { /* half a pair: more likely a failed download than no test set */
            st = mlpcl__fail(MLPCL_ERR_IO, "%s: %s is there but not %s[.gz]", dir, ei ? ei : el,
                             ei ? "t10k-labels-idx1-ubyte" : "t10k-images-idx3-ubyte");
            goto fail;
        }
        if (ei) TRY(mlpcl_idx_dataset(ei, el, 0, train, test));
    }
fail:
    if (st != MLPCL_OK) mlpcl_dataset_free(train);
    free(ti);
    free(tl);
    free(ei);
    free(el);
    return st;
}

/* "IMAGES,LABELS": tries each comma, so that file names may hold commas too. Sets *done when a
 * split named two existing files (and then st is the result of reading them, against like
 * when given). */
static mlpcl_status open_pair(const char *path, const mlpcl_dataset *like, mlpcl_dataset *out,
                              int *done)
{
    *done = 0;
    size_t len = strlen(path);
    char *copy = malloc(len + 1);
    if (!copy) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
    mlpcl_status st = MLPCL_OK;
    for (const char *comma = strchr(path, ','); comma; comma = strchr(comma + 1, ',')) {
        memcpy(copy, path, len + 1);
        copy[comma - path] = '\0';
        const char *labels = copy + (comma - path) + 1;
        if (is_file(copy) && is_file(labels)) {
            *done = 1;
            st = mlpcl_idx_dataset(copy, labels, 0, like, out);
            break;
        }
    }
    /* Two names that exist, one of them not a regular file (a directory, a named pipe): say
     * so, rather than that the whole path does not exist. */
    for (const char *comma = strchr(path, ','); comma && !*done; comma = strchr(comma + 1, ',')) {
        memcpy(copy, path, len + 1);
        copy[comma - path] = '\0';
        const char *labels = copy + (comma - path) + 1;
        struct stat si, sl;
        if (stat(copy, &si) != 0 || stat(labels, &sl) != 0) continue;
        int images_bad = !S_ISREG(si.st_mode);
        *done = 1;
        st = mlpcl__fail(MLPCL_ERR_IO, "%s: %s (in the IMAGES,LABELS pair %s)",
                         images_bad ? copy : labels,
                         mlpcl__file_kind(images_bad ? si.st_mode : sl.st_mode), path);
    }
    free(copy);
    return st;
}

mlpcl_status mlpcl_dataset_open(const char *path, const mlpcl_csv_spec *spec, mlpcl_dataset *train,
                                mlpcl_dataset *test)
{
    if (!train || train == test)
        return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_dataset_open: train is NULL or the same as test");
    memset(train, 0, sizeof *train);
    if (test) memset(test, 0, sizeof *test);
    if (!path) return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_dataset_open: path is NULL");
    struct stat s;
    int exists = stat(path, &s) == 0, error = errno;
    if (exists && S_ISDIR(s.st_mode)) return open_folder(path, train, test);
    if (!exists && strchr(path, ',')) {
        int done;
        mlpcl_status st = open_pair(path, NULL, train, &done);
        if (done || st != MLPCL_OK) return st;
    }
    /* A missing file is reported as such, before any complaint about the CSV spec. */
    if (!exists)
        return mlpcl__fail(MLPCL_ERR_IO, "%s: cannot open: %s%s", path, strerror(error),
                           strchr(path, ',') ? " (nor is it an IMAGES,LABELS pair of existing "
                                               "files)"
                                             : "");
    return mlpcl_csv_dataset(path, spec, NULL, train);
}

mlpcl_status mlpcl_dataset_open_like(const char *path, const mlpcl_csv_spec *spec,
                                     const mlpcl_dataset *like, mlpcl_dataset *out)
{
    if (!out || !like || out == like)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "mlpcl_dataset_open_like: like or out is NULL, or both are the same");
    memset(out, 0, sizeof *out);
    if (!path) return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_dataset_open_like: path is NULL");
    struct stat s;
    if (stat(path, &s) == 0 && S_ISDIR(s.st_mode)) {
        /* The folder's own training set is read only to check its test set against. */
        mlpcl_dataset train;
        memset(&train, 0, sizeof train);
        mlpcl_status st = open_folder(path, &train, out);
        mlpcl_dataset_free(&train);
        if (st != MLPCL_OK) return st;
        if (!out->n)
            return mlpcl__fail(MLPCL_ERR_IO, "%s: no test files (t10k-images-idx3-ubyte…)", path);
        if (out->n_in != like->n_in || out->n_out != like->n_out) {
            st = mlpcl__fail(MLPCL_ERR_DATA,
                             "%s: %zu features and %zu classes, the training set %zu and %zu", path,
                             out->n_in, out->n_out, like->n_in, like->n_out);
            mlpcl_dataset_free(out);
        }
        return st;
    }
    const char *comma = strchr(path, ',');
    if (comma) {
        int done;
        mlpcl_status st = open_pair(path, like, out, &done);
        if (done || st != MLPCL_OK) return st;
        /* No split names two files: the first one is read, so that the failure names the file
         * that is missing. */
        char *images = malloc((size_t)(comma - path) + 1);
        if (!images) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
        memcpy(images, path, (size_t)(comma - path));
        images[comma - path] = '\0';
        st = mlpcl_idx_dataset(images, comma + 1, 0, like, out);
        free(images);
        return st;
    }
    return mlpcl_csv_dataset(path, spec, like, out);
}

mlpcl_status mlpcl_dataset_open_eval(const char *path, const mlpcl_csv_spec *spec,
                                     const mlpcl_dataset *like, mlpcl_dataset *out)
{
    if (!out || !like || out == like)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "mlpcl_dataset_open_eval: like or out is NULL, or both are the same");
    memset(out, 0, sizeof *out);
    if (!path) return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_dataset_open_eval: path is NULL");
    struct stat s;
    if (!(stat(path, &s) == 0 && S_ISDIR(s.st_mode)))
        return mlpcl_dataset_open_like(path, spec, like, out);
    /* A folder: its test pair, else its training pair, read against like alone (the other
     * pair is not read). */
    mlpcl_status st = MLPCL_OK;
    char *images = NULL, *labels = NULL;
    TRY(find_pair(path, "t10k", &images, &labels));
    if (!images != !labels) { /* half a pair: more likely a failed download than no test set */
        st = mlpcl__fail(MLPCL_ERR_IO, "%s: %s is there but not %s[.gz]", path,
                         images ? images : labels,
                         images ? "t10k-labels-idx1-ubyte" : "t10k-images-idx3-ubyte");
        goto fail;
    }
    if (!images) TRY(find_pair(path, "train", &images, &labels));
    if (!images || !labels) {
        st = mlpcl__fail(MLPCL_ERR_IO,
                         "%s: a folder, but not an MNIST-style one: looked for "
                         "t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz], then "
                         "train-images-idx3-ubyte[.gz] (%s) and train-labels-idx1-ubyte[.gz] (%s)",
                         path, images ? "found" : "missing", labels ? "found" : "missing");
        goto fail;
    }
    st = mlpcl_idx_dataset(images, labels, 0, like, out);
fail:
    free(images);
    free(labels);
    return st;
}
