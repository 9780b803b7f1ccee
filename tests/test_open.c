// SPDX-License-Identifier: MIT
/* test_open.c: opening data sets by path, without a device: MNIST-style folders (gzip or not,
 * with or without a test set), IMAGES,LABELS pairs and CSV files, held-out data for a trained
 * network, input files' quirks (a BOM, headers, values beyond float's range, what is not a
 * regular file), and the real Fashion-MNIST where installed. Files are written into one fresh
 * temporary folder (loaders.h). */
#include "loaders.h"

/* ---- Opening by path ---------------------------------------------------------------------- */

static void test_open(void)
{
    char path[512], pair[1100];
    mlpcl_dataset train, test;
    static const int labels[] = {2, 0, 1};
    mkdir(at(path, "mnist"), 0700);
    put("mnist/train-images-idx3-ubyte.gz", BYTES(IMAGES), 1);
    put("mnist/train-labels-idx1-ubyte", BYTES(LABELS), 0);

    /* Training files only: the test set is empty, not an error. */
    memset(&test, 0xAB, sizeof test);
    OK(mlpcl_dataset_open(at(path, "mnist"), NULL, &train, &test));
    CHECK(train.n == 3 && train.n_in == 4 && train.n_out == 3, "folder: train shape");
    CHECK(dataset_is_empty(&test), "folder without t10k files: test not empty");
    mlpcl_dataset_free(&train);

    /* Half a test pair is an error; the whole pair is read with the training classes. */
    put("mnist/t10k-labels-idx1-ubyte.gz", BYTES("\0\0\x08\x01\0\0\0\x02\x01\x00"), 1);
    expect_fail("half a test pair", mlpcl_dataset_open(path, NULL, &train, &test), MLPCL_ERR_IO,
                "t10k-labels-idx1-ubyte.gz is there but not t10k-images-idx3-ubyte[.gz]", NULL);
    CHECK(dataset_is_empty(&train) && dataset_is_empty(&test), "half a test pair: not emptied");
    put("mnist/t10k-images-idx3-ubyte",
        BYTES("\0\0\x08\x03\0\0\0\x02\0\0\0\x02\0\0\0\x02\xff\0\0\0\0\0\0\x33"), 0);
    strcat(path, "/"); /* a trailing slash is fine too */
    OK(mlpcl_dataset_open(path, NULL, &train, &test));
    CHECK(train.n == 3 && test.n == 2 && test.n_in == 4 && test.n_out == 3, "folder: test shape");
    check_values("folder: train X", train.X,
                 (const double[]){0, 1 / 255.0, 2 / 255.0, 3 / 255.0, 4 / 255.0}, 5);
    check_values("folder: test X", test.X, (const double[]){1, 0, 0, 0, 0, 0, 0, 0.2}, 8);
    check_one_hot("folder: train", &train, labels);
    check_one_hot("folder: test", &test, (const int[]){1, 0});
    mlpcl_dataset_free(&train);
    mlpcl_dataset_free(&test);
    OK(mlpcl_dataset_open(path, NULL, &train, NULL)); /* test not wanted */
    mlpcl_dataset_free(&train);

    /* A test label past the training set's classes. */
    put("mnist/t10k-labels-idx1-ubyte.gz", BYTES("\0\0\x08\x01\0\0\0\x02\x01\x03"), 1);
    expect_fail("test label past the training classes",
                mlpcl_dataset_open(path, NULL, &train, &test), MLPCL_ERR_DATA,
                "t10k-labels-idx1-ubyte.gz: label 3 at byte offset 9 is out of range (3 classes)",
                NULL);
    CHECK(dataset_is_empty(&train) && dataset_is_empty(&test), "test label: not emptied");

    /* A folder without the training files. */
    mkdir(at(path, "empty"), 0700);
    expect_fail("folder without training files", mlpcl_dataset_open(path, NULL, &train, &test),
                MLPCL_ERR_IO,
                "empty: a folder, but not an MNIST-style one: looked for "
                "train-images-idx3-ubyte[.gz] (missing) and train-labels-idx1-ubyte[.gz] (missing)",
                NULL);

    /* IMAGES,LABELS, with the test set zeroed. */
    put("i.idx", BYTES(IMAGES), 0);
    put("l.idx.gz", BYTES(LABELS), 1);
    snprintf(pair, sizeof pair, "%s/i.idx,%s/l.idx.gz", dir, dir);
    memset(&test, 0xAB, sizeof test);
    OK(mlpcl_dataset_open(pair, NULL, &train, &test));
    CHECK(train.n == 3 && train.n_in == 4 && dataset_is_empty(&test), "pair: shape");
    check_one_hot("pair", &train, labels);
    mlpcl_dataset_free(&train);
    snprintf(pair, sizeof pair, "%s/i.idx,%s/nothing", dir, dir);
    mlpcl_csv_spec spec = {0, "3"};
    expect_fail("pair with a missing file", mlpcl_dataset_open(pair, &spec, &train, &test),
                MLPCL_ERR_IO, "nothing: cannot open",
                "(nor is it an IMAGES,LABELS pair of existing files)");

    /* Anything else is CSV, read with spec. */
    put_text("o.csv", "1,2,1\n3,4,0\n");
    memset(&test, 0xAB, sizeof test);
    OK(mlpcl_dataset_open(at(path, "o.csv"), &spec, &train, &test));
    CHECK(train.n == 2 && train.n_out == 2 && dataset_is_empty(&test), "CSV: shape");
    mlpcl_dataset_free(&train);
    expect_fail("CSV without a spec", mlpcl_dataset_open(path, NULL, &train, NULL), MLPCL_ERR_ARG,
                "spec is NULL", NULL);
    expect_fail("missing file without a spec",
                mlpcl_dataset_open(at(path, "none.csv"), NULL, &train, NULL), MLPCL_ERR_IO,
                "none.csv: cannot open: No such file or directory", NULL);
    rmdir(at(path, "empty"));

    /* A pair whose second part exists but is a folder says so. */
    snprintf(pair, sizeof pair, "%s/i.idx,%s/mnist", dir, dir);
    expect_fail("pair with a folder", mlpcl_dataset_open(pair, &spec, &train, NULL), MLPCL_ERR_IO,
                "mnist: is a directory (in the IMAGES,LABELS pair", NULL);
    expect_fail("a folder as a CSV", mlpcl_csv_dataset(at(path, "mnist"), &spec, NULL, &train),
                MLPCL_ERR_IO, "mnist: is a directory", NULL);

    /* Data to evaluate a network on: a folder's test files, read with the network's classes
     * (4 here, more than the labels show); its training files when it has no test files. */
    int labelled = 1;
    mlpcl_dataset net = {0, 4, 4, NULL, NULL, &labelled, NULL, NULL};
    OK(mlpcl_dataset_open_eval(at(path, "mnist"), NULL, &net, &test));
    CHECK(test.n == 2 && test.n_in == 4 && test.n_out == 4, "eval: the folder's test set");
    check_one_hot("eval: folder", &test, (const int[]){1, 3});
    mlpcl_dataset_free(&test);
    mkdir(at(path, "trainonly"), 0700);
    put("trainonly/train-images-idx3-ubyte", BYTES(IMAGES), 0);
    put("trainonly/train-labels-idx1-ubyte", BYTES(LABELS), 0);
    OK(mlpcl_dataset_open_eval(at(path, "trainonly"), NULL, &net, &test));
    CHECK(test.n == 3 && test.n_out == 4, "eval: a folder without test files");
    mlpcl_dataset_free(&test);
    /* Names are looked up in the network's classes, whatever the file holds. */
    char bird[] = "bird", cat[] = "cat", dog[] = "dog", *classes[] = {bird, cat, dog};
    net = (mlpcl_dataset){0, 2, 3, NULL, NULL, &labelled, classes, NULL};
    put_text("e.csv", "x,y,name\n1,2,dog\n3,4,cat\n");
    mlpcl_csv_spec by_name = {0, "name"};
    OK(mlpcl_dataset_open_eval(at(path, "e.csv"), &by_name, &net, &test));
    check_one_hot("eval: names", &test, (const int[]){2, 1});
    CHECK(test.n_out == 3 && test.class_names && !strcmp(test.class_names[0], "bird"),
          "eval: the network's class names");
    mlpcl_dataset_free(&test);
}

/* ---- Input files: BOM, headers, float's range, what is not a regular file ---------------- */

static void test_input(void)
{
    char path[512];
    mlpcl_table t;
    mlpcl_dataset d;
    /* A BOM is stripped: the first row is data, and a header name after it is found. */
    put("bom.csv",
        BYTES("\xEF\xBB\xBF"
              "1.5\n2\n"),
        0);
    OK(mlpcl_csv_read(at(path, "bom.csv"), &t));
    CHECK(t.rows == 2 && t.cols == 1 && t.v[0] == 1.5 && !t.names, "BOM: %zu rows", t.rows);
    mlpcl_table_free(&t);
    put("bomh.csv",
        BYTES("\xEF\xBB\xBF"
              "label,x\nA,1\nB,2\n"),
        0);
    mlpcl_csv_spec label = {0, "label"};
    OK(mlpcl_csv_dataset(at(path, "bomh.csv"), &label, NULL, &d));
    CHECK(d.n == 2 && d.n_out == 2, "BOM before a header name");
    mlpcl_dataset_free(&d);

    /* Beyond float's range: noted where it was first read, refused in float only. */
    put_text("big.csv", "a,b\n1,2\n\n3, 4e38\n-5e38,1\n");
    mlpcl_csv_spec one = {1, NULL};
    OK(mlpcl_csv_dataset(at(path, "big.csv"), &one, NULL, &d));
    CHECK(d.beyond_float && strstr(d.beyond_float, "big.csv:4:4: 4e38"), "note: %s",
          d.beyond_float ? d.beyond_float : "(none)");
    OK(mlpcl_dataset_check_precision(&d, MLPCL_PRECISION_DOUBLE));
    expect_fail("4e38 in float", mlpcl_dataset_check_precision(&d, MLPCL_PRECISION_FLOAT),
                MLPCL_ERR_DATA, "big.csv:4:4: 4e38 is beyond float's range (±3.40282347e+38)",
                NULL);
    mlpcl_dataset_free(&d);
    OK(mlpcl_csv_read(at(path, "big.csv"), &t));
    CHECK(t.beyond_float && strstr(t.beyond_float, "big.csv:4:4: 4e38"), "table note");
    mlpcl_table_free(&t);
    put_text("fits.csv", "1,3.4e38\n-3.4e38,1e-50\n");
    OK(mlpcl_csv_dataset(at(path, "fits.csv"), &one, NULL, &d));
    CHECK(!d.beyond_float, "3.4e38 fits float");
    OK(mlpcl_dataset_check_precision(&d, MLPCL_PRECISION_FLOAT));
    mlpcl_dataset_free(&d);
    double X[] = {1, 1e39}, Y[] = {0};
    mlpcl_dataset mem = {1, 2, 1, X, Y, NULL, NULL, NULL};
    expect_fail("1e39 in memory", mlpcl_dataset_check_precision(&mem, MLPCL_PRECISION_FLOAT),
                MLPCL_ERR_DATA, "sample 1, feature 2: 1e+39 is beyond float's range", NULL);

    /* What is not a regular file is refused by what it is, without blocking on a FIFO. */
    mkfifo(at(path, "fifo"), 0600);
    expect_fail("a FIFO", mlpcl_csv_read(path, &t), MLPCL_ERR_IO,
                "fifo: is a named pipe (FIFO), not a regular file", NULL);
    expect_fail("a FIFO as IDX", mlpcl_idx_dataset(path, path, 0, NULL, &d), MLPCL_ERR_IO,
                "fifo: is a named pipe", NULL);
    unlink(path);
    expect_fail("a device", mlpcl_csv_read("/dev/zero", &t), MLPCL_ERR_IO,
                "/dev/zero: is a character device, not a regular file", NULL);
    expect_fail("a folder", mlpcl_csv_read(dir, &t), MLPCL_ERR_IO, ": is a directory", NULL);
}

/* The real Fashion-MNIST, where installed: shapes, pixel range and first labels (9 and 9, as
 * Python's gzip module reads them), and the first image's pixel sum (76247 / 255). */
static void test_fashion(void)
{
    const char *root = "/usr/share/datasets/fashion-mnist";
    struct stat s;
    if (stat(root, &s) != 0) {
        printf("note: %s is absent; the real Fashion-MNIST is not checked\n", root);
        return;
    }
    mlpcl_dataset train, test;
    OK(mlpcl_dataset_open(root, NULL, &train, &test));
    CHECK(train.n == 60000 && train.n_in == 784 && train.n_out == 10, "fashion: train %zu × %zu",
          train.n, train.n_in);
    CHECK(test.n == 10000 && test.n_in == 784 && test.n_out == 10, "fashion: test %zu × %zu",
          test.n, test.n_in);
    double lo = 1, hi = 0, sum = 0;
    for (size_t i = 0; i < train.n * train.n_in; ++i) {
        if (train.X[i] < lo) lo = train.X[i];
        if (train.X[i] > hi) hi = train.X[i];
    }
    for (size_t j = 0; j < 784; ++j) sum += train.X[j];
    CHECK(lo == 0 && hi == 1, "fashion: pixels in [%g, %g], expected [0, 1]", lo, hi);
    CHECK(fabs(sum * 255 - 76247) < 1e-6, "fashion: first image sums to %.9g / 255", sum * 255);
    CHECK(train.labels[0] == 9 && test.labels[0] == 9, "fashion: first labels %d and %d",
          train.labels[0], test.labels[0]);
    CHECK(mlpcl_at(train.Y, 10, 0, 9) == 1, "fashion: one-hot of the first label");
    mlpcl_dataset_free(&train);
    mlpcl_dataset_free(&test);
}

int main(void)
{
    loaders_begin();
    test_open();
    test_input();
    test_fashion();
    loaders_end();
    return report("test_open");
}
