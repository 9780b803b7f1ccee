// SPDX-License-Identifier: MIT
/* fuzz_idx.c: the IDX loader. Input: a flags byte, the image part's length (2 bytes, big-endian;
 * cut to what is there), the image file's bytes, then the label file's bytes (the rest). Flags:
 * bit 0 gzip-compresses the image file (with zlib, here), bit 1 the label file; bits 2-4 pick
 * how the pair is read: 0 mlpcl_idx_dataset, 1 with 10 classes, 2 against a training set of 4
 * features and 3 classes, 3 mlpcl_dataset_open("IMAGES,LABELS"), 4 an MNIST-style folder of
 * training files, 5 that folder with the same pair as its test files too, 6 with the test images
 * but no test labels (half a pair: an error once the training set is read), 7 a folder of
 * training images only. A part may itself be a gzip stream: zlib reads either. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static double like_x[4], like_y[3] = {1, 0, 0};
static int like_labels[1];
static const mlpcl_dataset like = {1, 4, 3, like_x, like_y, like_labels, NULL, NULL};

/* The MNIST file names in folder `mnist`, with and without .gz. */
static const char *const mnist_names[8] = {
    "train-images-idx3-ubyte",   "train-labels-idx1-ubyte",    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",    "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};

/* Writes the pair into the MNIST folder (the names of the last input removed first): the
 * training files, and for modes 5 and 6 the test files (6: only the images); mode 7 only the
 * training images. */
static int write_folder(const uint8_t *img, size_t ni, int gzi, const uint8_t *lbl, size_t nl,
                        int gzl, unsigned mode, char *folder, size_t size)
{
    char path[512], name[64];
    fuzz_path(folder, size, "mnist");
    mkdir(folder, 0700);
    for (size_t i = 0; i < 8; ++i) {
        snprintf(name, sizeof name, "mnist/%s", mnist_names[i]);
        unlink(fuzz_path(path, sizeof path, name));
    }
    for (int t = 0; t <= (mode == 5 || mode == 6); ++t) {
        snprintf(name, sizeof name, "mnist/%s", mnist_names[2 * t + 4 * !!gzi]);
        if (fuzz_write(fuzz_path(path, sizeof path, name), img, ni, gzi)) return 1;
        if (mode == 7 || (mode == 6 && t == 1)) break;
        snprintf(name, sizeof name, "mnist/%s", mnist_names[2 * t + 1 + 4 * !!gzl]);
        if (fuzz_write(fuzz_path(path, sizeof path, name), lbl, nl, gzl)) return 1;
    }
    return 0;
}

/* The header's length when p[0, n) is an uncompressed IDX file of unsigned bytes, else 0: such
 * pairs are read a second time here, to check the loader's values against. */
static size_t ubyte_header(const uint8_t *p, size_t n)
{
    if (n < 4 || p[0] || p[1] || p[2] != 0x08 || !p[3]) return 0;
    size_t header = 4 + 4 * (size_t)p[3];
    return n >= header ? header : 0;
}

/* Checks a data set read from a plain unsigned-byte pair against the bytes: pixels / 255 in
 * order, and the labels. */
static int check_values(const mlpcl_dataset *d, const uint8_t *img, size_t ni, const uint8_t *lbl,
                        size_t nl)
{
    size_t hi = ubyte_header(img, ni), hl = ubyte_header(lbl, nl);
    if (!hi || !hl) return 0;
    size_t n = (size_t)img[4] << 24 | (size_t)img[5] << 16 | (size_t)img[6] << 8 | img[7];
    if (d->n != n || ni - hi != d->n * d->n_in || nl - hl != d->n)
        return fuzz_report("mlpcl_idx_dataset: %zu samples of %zu features from %zu image bytes "
                           "and %zu label bytes",
                           d->n, d->n_in, ni - hi, nl - hl);
    for (size_t i = 0; i < d->n * d->n_in; ++i)
        if (d->X[i] != img[hi + i] / 255.0)
            return fuzz_report("mlpcl_idx_dataset: X[%zu] is %g, the byte %u", i, d->X[i],
                               img[hi + i]);
    for (size_t i = 0; i < d->n; ++i)
        if (d->labels[i] != lbl[hl + i])
            return fuzz_report("mlpcl_idx_dataset: label %zu is %d, the byte %u", i, d->labels[i],
                               lbl[hl + i]);
    return 0;
}

int fuzz_idx(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    unsigned flags = data[0], mode = flags >> 2 & 7;
    int gzi = flags & 1, gzl = flags >> 1 & 1;
    size_t ni = (size_t)data[1] << 8 | data[2];
    data += 3;
    size -= 3;
    if (ni > size) ni = size;
    const uint8_t *img = data, *lbl = data + ni;
    size_t nl = size - ni;

    char images[512], labels[512], pair[1024], folder[512];
    fuzz_path(images, sizeof images, "images");
    fuzz_path(labels, sizeof labels, "labels");
    mlpcl_dataset d, test = {0};
    const char *call;
    int st;
    if (mode <= 3) {
        if (fuzz_write(images, img, ni, gzi) || fuzz_write(labels, lbl, nl, gzl)) return 1;
    } else if (write_folder(img, ni, gzi, lbl, nl, gzl, mode, folder, sizeof folder)) {
        return 1;
    }
    switch (mode) {
    case 0:
    case 1:
    case 2:
        call = "mlpcl_idx_dataset";
        st = mlpcl_idx_dataset(images, labels, mode == 1 ? 10 : 0, mode == 2 ? &like : NULL, &d);
        break;
    case 3:
        call = "mlpcl_dataset_open(IMAGES,LABELS)";
        snprintf(pair, sizeof pair, "%s,%s", images, labels);
        st = mlpcl_dataset_open(pair, NULL, &d, NULL);
        break;
    default:
        call = "mlpcl_dataset_open(folder)";
        st = mlpcl_dataset_open(folder, NULL, &d, &test);
        break;
    }

    int bad = 0;
    if (st != MLPCL_OK) {
        bad = fuzz_clean_failure(call, st);
        if (!bad && (!fuzz_all_zero(&d, sizeof d) || !fuzz_all_zero(&test, sizeof test)))
            bad = fuzz_report("%s failed but left its output set", call);
        return bad;
    }
    bad = fuzz_check_dataset(call, &d, 1, mode == 2 ? &like : NULL);
    if (!bad && mode == 0 && !gzi && !gzl) bad = check_values(&d, img, ni, lbl, nl);
    if (!bad && mode == 1 && d.n_out != 10)
        bad = fuzz_report("%s: %zu classes, 10 asked for", call, d.n_out);
    if (!bad && mode >= 6) bad = fuzz_report("%s: succeeded without a whole pair of files", call);
    if (!bad && mode == 4 && !fuzz_all_zero(&test, sizeof test))
        bad = fuzz_report("%s: a test set from a folder without test files", call);
    if (!bad && mode == 5) {
        /* The test files are the training files: the same data, read against the training set. */
        bad = fuzz_check_dataset("mlpcl_dataset_open(folder), test set", &test, 1, &d);
        if (!bad && (test.n != d.n || memcmp(test.X, d.X, d.n * d.n_in * sizeof *d.X) ||
                     memcmp(test.labels, d.labels, d.n * sizeof *d.labels)))
            bad = fuzz_report("%s: the test set differs from the training set read from the "
                              "same bytes",
                              call);
    }
    mlpcl_dataset_free(&test);
    mlpcl_dataset_free(&d);
    return bad;
}
