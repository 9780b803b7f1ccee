// SPDX-License-Identifier: MIT
/* test_loaders.c: the data-set loaders, without a device. Tables of bad CSV and IDX files (IDX
 * plain and gzip-compressed, and broken gzip streams), written in turn into one fresh temporary
 * folder, each expected to fail with a given status and message; then good files with their
 * values asserted. Opening by path, input files' quirks and the real Fashion-MNIST are
 * test_open.c's. */
#include "loaders.h"

/* ---- Bad CSV files ------------------------------------------------------------------------ */

enum { NO_LIKE, LIKE_INTS, LIKE_NAMES, LIKE_TARGETS }; /* which training set a case reads against */

typedef struct csv_case {
    const char *name, *text;
    size_t targets;
    const char *label;
    int like;
    int status;
    const char *message; /* a substring of mlpcl_last_error(); the file is c.csv */
} csv_case;

static const csv_case bad_csv[] = {
    {"not a number", "0.1,abc,1\n", 1, NULL, NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1:5: expected a number, found 'abc'"},
    {"not a number in a target", "0.1,2,x1\n", 1, NULL, NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1:7: expected a number, found 'x1'"},
    {"empty field", "1,,2\n", 0, "3", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1:3: expected a number, found an empty field"},
    {"more columns than the first row", "1,2\nnan,1,0\n", 0, "2", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:2: expected 2 columns (as in the first row on line 1), found 3"},
    {"NaN feature", "1,2,0\n3, NaN ,1\n", 0, "3", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:2:4: 'NaN' is not a finite number (NaN and Inf are not allowed)"},
    {"Inf target", "1,2,3\n4,5,-inf\n", 1, NULL, NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:2:5: '-inf' is not a finite number"},
    {"overflow", "1,1e999,3\n", 1, NULL, NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1:3: '1e999' is not a finite number"},
    {"too few columns", "1,2,3\n\n4,5\n", 1, NULL, NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:3: expected 3 columns (as in the first row on line 1), found 2"},
    {"too many columns after a header", "\na,b,c\n1,2,3\n1,2,3,4\n", 0, "b", NO_LIKE,
     MLPCL_ERR_DATA, "c.csv:4: expected 3 columns (as in the header on line 2), found 4"},
    {"empty file", "", 1, NULL, NO_LIKE, MLPCL_ERR_DATA, "c.csv: no data rows (the file is empty)"},
    {"blank lines only", "\r\n  \n\t\n", 0, "1", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv: no data rows (the file is empty)"},
    {"only a header", "x,y,label\n\n", 0, "label", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv: no data rows (only a header)"},
    {"label column 0", "1,2,3\n", 0, "0", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1: label column 0 is out of range (the file has 3 columns, numbered from 1)"},
    {"label column past the end", "\n1,2,3\n", 0, "4", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:2: label column 4 is out of range (the file has 3 columns"},
    {"label column huge", "1,2,3\n", 0, "99999999999999999999999", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1: label column 99999999999999999999999 is out of range"},
    {"unknown label column name", "a,b,c\n1,2,3\n", 0, "species", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1: no column named 'species' in the header"},
    {"label column name without a header", "1,2,3\n", 0, "c", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1: label column 'c': the file has no header row to find it in"},
    {"ambiguous label column name", "a,b,a\n1,2,3\n", 0, "a", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1: label column 'a' is ambiguous: columns 1 and 3"},
    {"negative label", "1,2,0\n1,2,-1\n", 0, "3", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:2:5: label -1 is not a class number (an integer ≥ 0)"},
    {"fractional label", "1,2,1.5\n", 0, "3", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1:5: label 1.5 is not a class number"},
    {"NaN label", "1,2,nan\n", 0, "3", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1:5: label nan is not a class number"},
    {"huge label", "1,2,70000\n", 0, "3", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1:5: label 70000 is out of range (at most 65536 classes)"},
    {"empty label", "1,2,0\n1,2,\n", 0, "3", NO_LIKE, MLPCL_ERR_DATA, "c.csv:2:5: empty label"},
    {"a number after names", "1,2,cat\n1,2,dog\n3,4,1\n", 0, "3", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:3:5: label '1' is a number, but the label on line 1 is a name (a label column holds "
     "either integers or names)"},
    {"a name after numbers", "x,y\n0,1\n\ncat,2\n", 0, "1", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:4:1: label 'cat' is a name, but the label on line 2 is a number"},
    {"targets = columns", "1,2,3\n", 3, NULL, NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1: 3 target columns leave no feature columns (the file has 3 columns)"},
    {"targets > columns", "a\n1\n", 5, NULL, NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1: 5 target columns leave no feature columns (the file has 1 columns)"},
    {"only the label column", "1\n2\n", 0, "1", NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1: the label column is the only column: no features left"},
    {"targets and a label column", "1,2,3\n", 1, "3", NO_LIKE, MLPCL_ERR_ARG,
     "c.csv: give either a number of target columns or a label column, not both"},
    {"neither targets nor labels", "1,2,3\n", 0, NULL, NO_LIKE, MLPCL_ERR_ARG,
     "c.csv: no targets: give a number of target columns or a label column"},
    {"neither (empty label name)", "1,2,3\n", 0, "", NO_LIKE, MLPCL_ERR_ARG, "c.csv: no targets"},
    /* Against a training set (like): 2 features, classes 0 1 2; or bird cat dog; or 1 target. */
    {"like: feature count", "1,2,3,0\n", 0, "4", LIKE_INTS, MLPCL_ERR_DATA,
     "c.csv:1: 3 feature columns, but the training set has 2 features"},
    {"like: label out of range", "1,2,0\n1,2,3\n", 0, "3", LIKE_INTS, MLPCL_ERR_DATA,
     "c.csv:2:5: label 3 is out of range (the training set has 3 classes)"},
    {"like: a name among numbers", "1,2,cat\n", 0, "3", LIKE_INTS, MLPCL_ERR_DATA,
     "c.csv:1:5: label 'cat' is a name, but the training set's classes are numbers"},
    {"like: unknown name", "x,y,s\n1,2,cat\n3,4,\"emu\"\n", 0, "s", LIKE_NAMES, MLPCL_ERR_DATA,
     "c.csv:3:5: label 'emu' is not one of the training set's 3 classes ('bird', 'cat', 'dog')"},
    {"like: a number among names", "1,2,1\n", 0, "3", LIKE_NAMES, MLPCL_ERR_DATA,
     "c.csv:1:5: label 1 is a number, but the training set's classes are names"},
    {"like: labels against targets", "1,2,1\n", 0, "3", LIKE_TARGETS, MLPCL_ERR_DATA,
     "c.csv:1: a label column, but the training set has numeric targets, not classes"},
    {"like: target count", "1,2,1,1\n", 2, NULL, LIKE_TARGETS, MLPCL_ERR_DATA,
     "c.csv:1: 2 target columns, but the training set has 1 targets"},
    {"like: targets against classes", "1,2,1\n", 1, NULL, LIKE_INTS, MLPCL_ERR_DATA,
     "c.csv:1: 1 target columns, but the training set has 3 classes"},
    /* NaN and Inf make no header: refused as values, on the first row as on any other. */
    {"nan on the first row", "nan,nan\n1,2\n", 1, NULL, NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1:1: 'nan' is not a finite number"},
    {"inf on the first row after a BOM", "\xEF\xBB\xBFinf,1\n1,2\n", 1, NULL, NO_LIKE,
     MLPCL_ERR_DATA, "c.csv:1:1: 'inf' is not a finite number"},
    /* The file's control bytes are escaped in messages. */
    {"control bytes in a number", "1,\x1b[2J\r,0\n", 1, NULL, NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:1:3: expected a number, found '\\x1b[2J'"},
    {"control bytes in a label", "1,2,c\x1bt\n", 0, "3", LIKE_NAMES, MLPCL_ERR_DATA,
     "c.csv:1:5: label 'c\\x1bt' is not one of"},
    {"a line over the cap", NULL, 1, NULL, NO_LIKE, MLPCL_ERR_DATA,
     "c.csv:2: a line of 16777217 bytes, more than the 16 MiB a line may have"},
};

static void test_bad_csv(void)
{
    mlpcl_dataset likes[4] = {{0}};
    char path[512];
    mlpcl_csv_spec ints = {0, "3"}, names = {0, "name"}, targets = {1, NULL};
    put_text("l1.csv", "0,0,0\n1,1,2\n");
    OK(mlpcl_csv_dataset(at(path, "l1.csv"), &ints, NULL, &likes[LIKE_INTS]));
    put_text("l2.csv", "a,b,name\n0,0,dog\n0,0,bird\n1,1,cat\n");
    OK(mlpcl_csv_dataset(at(path, "l2.csv"), &names, NULL, &likes[LIKE_NAMES]));
    put_text("l3.csv", "0,0,0.5\n");
    OK(mlpcl_csv_dataset(at(path, "l3.csv"), &targets, NULL, &likes[LIKE_TARGETS]));
    for (size_t i = 0; i < sizeof bad_csv / sizeof *bad_csv; ++i) {
        const csv_case *c = &bad_csv[i];
        if (c->text) {
            put("c.csv", c->text, strlen(c->text), 0);
        } else { /* the line cap: "1,2" then a line of 16 MiB + 1 bytes */
            size_t len = 4 + (16u << 20) + 1;
            char *text = malloc(len);
            if (!text) exit(1);
            memcpy(text, "1,2\n", 4);
            memset(text + 4, '1', len - 4);
            put("c.csv", text, len, 0);
            free(text);
        }
        mlpcl_csv_spec spec = {c->targets, c->label};
        mlpcl_dataset d;
        memset(&d, 0xAB, sizeof d); /* garbage in: the result must be zeroed anyway */
        int st = mlpcl_csv_dataset(at(path, "c.csv"), &spec, c->like ? &likes[c->like] : NULL, &d);
        expect_fail(c->name, st, c->status, c->message, NULL);
        CHECK(dataset_is_empty(&d), "%s: the data set is not left empty", c->name);
        mlpcl_dataset_free(&d);
    }
    mlpcl_dataset d;
    mlpcl_csv_spec spec = {1, NULL};
    expect_fail("missing CSV", mlpcl_csv_dataset(at(path, "none.csv"), &spec, NULL, &d),
                MLPCL_ERR_IO, "none.csv: cannot open: No such file or directory", NULL);
    expect_fail("NULL spec", mlpcl_csv_dataset(at(path, "c.csv"), NULL, NULL, &d), MLPCL_ERR_ARG,
                "spec is NULL", NULL);
    for (int k = 1; k < 4; ++k) mlpcl_dataset_free(&likes[k]);
}

/* ---- Bad IDX files ------------------------------------------------------------------------ */
enum { PLAIN = 1, GZ = 2, BOTH = 3 };
enum { INTACT, GZ_CUT_TRAILER, GZ_CUT_HALF, GZ_BAD_CRC, GZ_BAD_BLOCK };

typedef struct idx_case {
    const char *name;
    const unsigned char *images; /* NULL: IMAGES */
    size_t images_len;
    const unsigned char *labels; /* NULL: LABELS */
    size_t labels_len;
    size_t classes;
    int like;    /* read against a training set of 5 features and 3 classes */
    int written; /* PLAIN, GZ or BOTH */
    int mangle;  /* how the compressed images are broken */
    int status;
    char named;          /* 'i' or 'l': the file the message names */
    const char *message; /* a substring of mlpcl_last_error() */
} idx_case;

static const idx_case bad_idx[] = {
    {"empty file", BYTES(""), NULL, 0, 0, 0, BOTH, INTACT, MLPCL_ERR_DATA, 'i',
     ": truncated at byte offset 0: expected the 4-byte IDX magic number"},
    {"short magic", BYTES("\0\0\x08"), NULL, 0, 0, 0, BOTH, INTACT, MLPCL_ERR_DATA, 'i',
     ": truncated at byte offset 3: expected the 4-byte IDX magic number"},
    {"wrong magic", BYTES("PK\x03\x04 more"), NULL, 0, 0, 0, BOTH, INTACT, MLPCL_ERR_DATA, 'i',
     ": not an IDX file: bytes 0-3 are 50 4b 03 04 (an IDX file starts 00 00 TYPE NDIM)"},
    {"unknown type", BYTES("\0\0\x07\x03"), NULL, 0, 0, 0, BOTH, INTACT, MLPCL_ERR_DATA, 'i',
     ": byte offset 2: unknown IDX type 0x07"},
    {"no dimensions", BYTES("\0\0\x08\0"), NULL, 0, 0, 0, BOTH, INTACT, MLPCL_ERR_DATA, 'i',
     ": byte offset 3: 0 dimensions"},
    {"images of 1 dimension", BYTES("\0\0\x08\x01\0\0\0\x03\x01\x02\x03"), NULL, 0, 0, 0, BOTH,
     INTACT, MLPCL_ERR_DATA, 'i',
     ": byte offset 3: an image file has at least 2 dimensions (samples × features), found 1"},
    {"labels of 2 dimensions", NULL, 0, BYTES("\0\0\x08\x02\0\0\0\x03\0\0\0\x01\x01\x02\x03"), 0, 0,
     BOTH, INTACT, MLPCL_ERR_DATA, 'l', ": byte offset 3: a label file has 1 dimension, found 2"},
    {"float labels", NULL, 0, BYTES("\0\0\x0D\x01\0\0\0\x01\0\0\0\0"), 0, 0, BOTH, INTACT,
     MLPCL_ERR_DATA, 'l', ": byte offset 2: labels must be integers, found type 0x0D (float32)"},
    {"short dimensions", BYTES("\0\0\x08\x03\0\0\0\x03\0\0"), NULL, 0, 0, 0, BOTH, INTACT,
     MLPCL_ERR_DATA, 'i',
     ": truncated at byte offset 10: expected a 16-byte header (3 dimensions)"},
    {"a dimension of 0", BYTES("\0\0\x08\x03\0\0\0\x03\0\0\0\0\0\0\0\x02"), NULL, 0, 0, 0, BOTH,
     INTACT, MLPCL_ERR_DATA, 'i', ": byte offset 8: dimension 2 of 3 is 0"},
    {"enormous (overflows)", BYTES("\0\0\x0E\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
     NULL, 0, 0, 0, BOTH, INTACT, MLPCL_ERR_DATA, 'i',
     ": the header declares an enormous size, 4294967295 × 4294967295 × 4294967295 values, more "
     "than the 2147483648"},
    {"enormous (past the cap)", BYTES("\0\0\x08\x03\x00\x01\x00\x00\x00\x00\x80\x00\0\0\0\x02"),
     NULL, 0, 0, 0, BOTH, INTACT, MLPCL_ERR_DATA, 'i',
     ": the header declares an enormous size, 65536 × 32768 × 2 values"},
    {"big header, little data",
     BYTES("\0\0\x08\x03\0\0\0\x03\0\0\x80\0\0\0\x40\0"
           "0123456789ab"),
     NULL, 0, 0, 0, BOTH, INTACT, MLPCL_ERR_DATA, 'i',
     ": truncated at byte offset 28: expected 1610612736 bytes of data after the 16-byte "
     "header, "
     "found 12"},
    {"trailing bytes", BYTES(IMAGES "\x0c"), NULL, 0, 0, 0, BOTH, INTACT, MLPCL_ERR_DATA, 'i',
     ": trailing data at byte offset 28: the header declares 12 bytes of data"},
    {"truncated labels", NULL, 0, BYTES("\0\0\x08\x01\0\0\0\x03\x02\x00"), 0, 0, BOTH, INTACT,
     MLPCL_ERR_DATA, 'l',
     ": truncated at byte offset 10: expected 3 bytes of data after the 8-byte header, found 2"},
    {"counts differ", NULL, 0, BYTES("\0\0\x08\x01\0\0\0\x02\x00\x01"), 0, 0, BOTH, INTACT,
     MLPCL_ERR_DATA, 'l', ": byte offset 4: 2 labels, but "},
    {"label past classes", NULL, 0, BYTES(LABELS), 2, 0, BOTH, INTACT, MLPCL_ERR_DATA, 'l',
     ": label 2 at byte offset 8 is out of range (2 classes)"},
    {"label past 10 classes", NULL, 0, BYTES("\0\0\x08\x01\0\0\0\x03\x00\x01\x0c"), 10, 0, BOTH,
     INTACT, MLPCL_ERR_DATA, 'l', ": label 12 at byte offset 10 is out of range (10 classes)"},
    {"negative label", NULL, 0, BYTES("\0\0\x09\x01\0\0\0\x03\x00\xff\x01"), 0, 0, BOTH, INTACT,
     MLPCL_ERR_DATA, 'l', ": label -1 at byte offset 9 is negative"},
    {"huge label", NULL, 0, BYTES("\0\0\x0C\x01\0\0\0\x03\0\0\0\0\0\0\0\x01\0\x01\x11\x70"), 0, 0,
     BOTH, INTACT, MLPCL_ERR_DATA, 'l',
     ": label 70000 at byte offset 16 is out of range (at most 65536 classes)"},
    {"NaN float32",
     BYTES("\0\0\x0D\x03\0\0\0\x03\0\0\0\x01\0\0\0\x01"
           "\x3f\x80\0\0\x7f\xc0\0\0\0\0\0\0"),
     NULL, 0, 0, 0, BOTH, INTACT, MLPCL_ERR_DATA, 'i',
     ": value nan at byte offset 20 is not finite (NaN and Inf are not allowed)"},
    {"Inf float64",
     BYTES("\0\0\x0E\x02\0\0\0\x03\0\0\0\x01"
           "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\xff\xf0\0\0\0\0\0\0"),
     NULL, 0, 0, 0, BOTH, INTACT, MLPCL_ERR_DATA, 'i',
     ": value -inf at byte offset 28 is not finite"},
    {"features differ from like", BYTES(IMAGES), NULL, 0, 0, 1, BOTH, INTACT, MLPCL_ERR_DATA, 'i',
     ": 4 features an image (3 × 2 × 2), but the training set has 5"},
    {"gzip without its trailer", BYTES(IMAGES), NULL, 0, 0, 0, GZ, GZ_CUT_TRAILER, MLPCL_ERR_DATA,
     'i', ": corrupt or truncated gzip stream at byte offset 28 of the decompressed data"},
    {"gzip cut in half", BYTES(IMAGES), NULL, 0, 0, 0, GZ, GZ_CUT_HALF, MLPCL_ERR_DATA, 'i',
     ": corrupt or truncated gzip stream at byte offset"},
    {"gzip with a bad CRC", BYTES(IMAGES), NULL, 0, 0, 0, GZ, GZ_BAD_CRC, MLPCL_ERR_DATA, 'i',
     " of the decompressed data: incorrect data check"}, /* zlib checks before it returns data */
    {"gzip with a bad block", BYTES(IMAGES), NULL, 0, 0, 0, GZ, GZ_BAD_BLOCK, MLPCL_ERR_DATA, 'i',
     ": corrupt or truncated gzip stream at byte offset 0 of the decompressed data: invalid block "
     "type"},
};

/* Writes a case's files (gz: compressed, then mangled) as i.idx[.gz] and l.idx[.gz]. */
static void write_case(const idx_case *c, int gz, const char **images, const char **labels)
{
    static const unsigned char good_images[] = IMAGES, good_labels[] = LABELS;
    *images = gz ? "i.idx.gz" : "i.idx";
    *labels = gz ? "l.idx.gz" : "l.idx";
    put(*images, c->images ? c->images : good_images,
        c->images ? c->images_len : sizeof good_images - 1, gz);
    put(*labels, c->labels ? c->labels : good_labels,
        c->labels ? c->labels_len : sizeof good_labels - 1, gz);
    if (c->mangle == INTACT) return;
    size_t len;
    unsigned char *b = get(*images, &len);
    if (c->mangle == GZ_CUT_TRAILER) len -= 8;
    if (c->mangle == GZ_CUT_HALF) len /= 2;
    if (c->mangle == GZ_BAD_CRC) b[len - 8] ^= 0x55;
    if (c->mangle == GZ_BAD_BLOCK) b[10] = 0xff; /* past gzopen's 10-byte header: type 11 */
    put(*images, b, len, 0);
    free(b);
}

static void test_bad_idx(void)
{
    char ip[512], lp[512];
    mlpcl_dataset like = {.n_in = 5, .n_out = 10};
    for (size_t i = 0; i < sizeof bad_idx / sizeof *bad_idx; ++i) {
        const idx_case *c = &bad_idx[i];
        for (int gz = 0; gz <= 1; ++gz) {
            if (!(c->written & (gz ? GZ : PLAIN))) continue;
            const char *images, *labels;
            write_case(c, gz, &images, &labels);
            mlpcl_dataset d;
            memset(&d, 0xAB, sizeof d);
            int st = mlpcl_idx_dataset(at(ip, images), at(lp, labels), c->classes,
                                       c->like ? &like : NULL, &d);
            char what[128], named[64];
            snprintf(what, sizeof what, "%s (%s)", c->name, gz ? "gzip" : "plain");
            snprintf(named, sizeof named, "/%s:", c->named == 'i' ? images : labels);
            expect_fail(what, st, c->status, named, c->message);
            CHECK(dataset_is_empty(&d), "%s: the data set is not left empty", what);
            mlpcl_dataset_free(&d);
        }
    }
    /* Truncated data: every length short of the whole, plain and compressed. */
    static const unsigned char good[] = IMAGES;
    for (size_t len = 16; len < sizeof good - 1; ++len)
        for (int gz = 0; gz <= 1; ++gz) {
            const char *images = gz ? "i.idx.gz" : "i.idx", *labels = "l.idx";
            put(images, good, len, gz);
            put(labels, BYTES(LABELS), 0);
            mlpcl_dataset d;
            char msg[160];
            snprintf(msg, sizeof msg,
                     ": truncated at byte offset %zu: expected 12 bytes of data after the 16-byte "
                     "header, found %zu",
                     len, len - 16);
            expect_fail("truncated images",
                        mlpcl_idx_dataset(at(ip, images), at(lp, labels), 0, NULL, &d),
                        MLPCL_ERR_DATA, images, msg);
            mlpcl_dataset_free(&d);
        }
    mlpcl_dataset d;
    expect_fail("missing images", mlpcl_idx_dataset(at(ip, "none"), at(lp, "l.idx"), 0, NULL, &d),
                MLPCL_ERR_IO, "none: cannot open: No such file or directory", NULL);
    expect_fail("a folder as images", mlpcl_idx_dataset(dir, at(lp, "l.idx"), 0, NULL, &d),
                MLPCL_ERR_IO, ": is a directory", NULL);
    expect_fail("too many classes", mlpcl_idx_dataset(ip, lp, 100000, NULL, &d), MLPCL_ERR_ARG,
                "100000 classes, more than 65536", NULL);
}

/* ---- Good files --------------------------------------------------------------------------- */

static void test_good_idx(void)
{
    char ip[512], lp[512];
    static const int labels[] = {2, 0, 1};
    double pixels[12];
    for (int k = 0; k < 12; ++k) pixels[k] = k / 255.0;
    for (int gz = 0; gz <= 1; ++gz) {
        const char *what = gz ? "ubyte pair, gzip" : "ubyte pair";
        put("i", BYTES(IMAGES), gz);
        put("l", BYTES(LABELS), gz);
        mlpcl_dataset d;
        OK(mlpcl_idx_dataset(at(ip, "i"), at(lp, "l"), 0, NULL, &d));
        CHECK(d.n == 3 && d.n_in == 4 && d.n_out == 3, "%s: %zu × %zu → %zu", what, d.n, d.n_in,
              d.n_out);
        CHECK(!d.class_names, "%s: class names", what);
        check_values(what, d.X, pixels, 12);
        check_one_hot(what, &d, labels);
        mlpcl_dataset test;
        OK(mlpcl_idx_dataset(ip, lp, 0, &d, &test)); /* classes from like */
        CHECK(test.n_out == 3, "%s: like's classes", what);
        mlpcl_dataset_free(&test);
        mlpcl_dataset_free(&d);
        OK(mlpcl_idx_dataset(ip, lp, 7, NULL, &d)); /* classes given */
        CHECK(d.n_out == 7, "%s: 7 classes asked, %zu given", what, d.n_out);
        check_one_hot(what, &d, labels);
        mlpcl_dataset_free(&d);
    }
    /* Other types, taken as they are: 2 samples of 1 × 2 (float32), 3 (sbyte, int16 labels),
     * float64, int32. */
    put("f32",
        BYTES("\0\0\x0D\x03\0\0\0\x02\0\0\0\x01\0\0\0\x02"
              "\x3f\x00\0\0\xbf\xa0\0\0\x48\x92\x7c\0\x80\0\0\0"),
        0);
    put("l2", BYTES("\0\0\x0B\x01\0\0\0\x02\x00\x01\x00\x00"), 1);
    mlpcl_dataset d;
    OK(mlpcl_idx_dataset(at(ip, "f32"), at(lp, "l2"), 0, NULL, &d));
    CHECK(d.n == 2 && d.n_in == 2 && d.n_out == 2, "float32: shape");
    check_values("float32", d.X, (const double[]){0.5, -1.25, 300000.0, -0.0}, 4);
    check_one_hot("int16 labels", &d, (const int[]){1, 0});
    mlpcl_dataset_free(&d);
    put("s8", BYTES("\0\0\x09\x02\0\0\0\x02\0\0\0\x01\x80\x7f"), 1);
    OK(mlpcl_idx_dataset(at(ip, "s8"), lp, 0, NULL, &d));
    check_values("sbyte", d.X, (const double[]){-128, 127}, 2);
    mlpcl_dataset_free(&d);
    put("f64",
        BYTES("\0\0\x0E\x02\0\0\0\x02\0\0\0\x01\x40\x09\x21\xfb\x54\x44\x2d\x18"
              "\xc0\x59\0\0\0\0\0\0"),
        0);
    OK(mlpcl_idx_dataset(at(ip, "f64"), lp, 0, NULL, &d));
    check_values("float64", d.X, (const double[]){3.141592653589793, -100}, 2);
    mlpcl_dataset_free(&d);
    put("i32", BYTES("\0\0\x0C\x02\0\0\0\x02\0\0\0\x01\xff\xff\xff\xfe\x00\x01\x00\x00"), 0);
    put("i16", BYTES("\0\0\x0B\x02\0\0\0\x02\0\0\0\x01\x80\x00\x01\x02"), 0);
    OK(mlpcl_idx_dataset(at(ip, "i32"), lp, 0, NULL, &d));
    check_values("int32", d.X, (const double[]){-2, 65536}, 2);
    mlpcl_dataset_free(&d);
    OK(mlpcl_idx_dataset(at(ip, "i16"), lp, 0, NULL, &d));
    check_values("int16", d.X, (const double[]){-32768, 258}, 2);
    mlpcl_dataset_free(&d);
}

static void test_good_csv(void)
{
    char path[512];
    mlpcl_dataset d, t;
    /* Numeric targets, a header, blanks, CRLF and blank lines. */
    put_text("g1.csv", "x1 , x2,\"y\"\r\n\r\n1, 2,3\r\n  \n4,5 ,6.5\n");
    mlpcl_csv_spec targets = {1, NULL};
    OK(mlpcl_csv_dataset(at(path, "g1.csv"), &targets, NULL, &d));
    CHECK(d.n == 2 && d.n_in == 2 && d.n_out == 1, "targets: shape");
    CHECK(!d.labels && !d.class_names, "targets: labels or names");
    check_values("targets X", d.X, (const double[]){1, 2, 4, 5}, 4);
    check_values("targets Y", d.Y, (const double[]){3, 6.5}, 2);
    put_text("g1t.csv", "7,8,9\n");
    OK(mlpcl_csv_dataset(at(path, "g1t.csv"), &targets, &d, &t));
    CHECK(t.n == 1 && t.n_in == 2 && t.n_out == 1, "targets like: shape");
    mlpcl_dataset_free(&t);
    mlpcl_dataset_free(&d);

    /* A numeric label column, first: classes 0 … max. */
    put_text("g2.csv", "2, 0.5,1\r\n\r\n0,1.5,2\r\n 4.0 ,2.5,3\n");
    mlpcl_csv_spec first = {0, "1"};
    OK(mlpcl_csv_dataset(at(path, "g2.csv"), &first, NULL, &d));
    CHECK(d.n == 3 && d.n_in == 2 && d.n_out == 5, "numeric labels: shape %zu %zu %zu", d.n, d.n_in,
          d.n_out);
    check_values("numeric labels X", d.X, (const double[]){0.5, 1, 1.5, 2, 2.5, 3}, 6);
    check_one_hot("numeric labels", &d, (const int[]){2, 0, 4});
    CHECK(!d.class_names, "numeric labels: names");
    /* Read against it: the classes stay 5 though the test labels only reach 1. */
    put_text("g2t.csv", "1,9,9\n0,8,8\n");
    OK(mlpcl_csv_dataset(at(path, "g2t.csv"), &first, &d, &t));
    CHECK(t.n == 2 && t.n_out == 5, "numeric labels like: %zu classes", t.n_out);
    check_one_hot("numeric labels like", &t, (const int[]){1, 0});
    mlpcl_dataset_free(&t);
    mlpcl_dataset_free(&d);

    /* Name labels in the middle, found by header name (quoted): sorted classes. */
    const char *text = "a,\"species\",b\n1,cat,2\n3,dog,4\n5,\"bird\",6\n7,cat,8\n";
    put_text("g3.csv", text);
    mlpcl_csv_spec species = {0, "species"};
    OK(mlpcl_csv_dataset(at(path, "g3.csv"), &species, NULL, &d));
    CHECK(d.n == 4 && d.n_in == 2 && d.n_out == 3, "names: shape");
    check_values("names X", d.X, (const double[]){1, 2, 3, 4, 5, 6, 7, 8}, 8);
    check_one_hot("names", &d, (const int[]){1, 2, 0, 1});
    CHECK(d.class_names && !strcmp(d.class_names[0], "bird") && !strcmp(d.class_names[1], "cat") &&
              !strcmp(d.class_names[2], "dog"),
          "names: class names not bird, cat, dog");
    /* A test file against it, the label column by number, no header; the names are copied. */
    put_text("g3t.csv", "10,dog,20\n30,bird,40\n");
    mlpcl_csv_spec second = {0, "2"};
    OK(mlpcl_csv_dataset(at(path, "g3t.csv"), &second, &d, &t));
    CHECK(t.n == 2 && t.n_out == 3, "names like: shape");
    check_values("names like X", t.X, (const double[]){10, 20, 30, 40}, 4);
    check_one_hot("names like", &t, (const int[]){2, 0});
    CHECK(t.class_names && t.class_names != d.class_names && !strcmp(t.class_names[2], "dog"),
          "names like: class names");
    mlpcl_dataset_free(&t);

    /* Splitting: 1 of 4 held out, with labels and names; then the errors, d unchanged. */
    OK(mlpcl_dataset_split(&d, 0.25, &t));
    CHECK(d.n == 3 && t.n == 1 && t.n_in == 2 && t.n_out == 3, "split: sizes %zu + %zu", d.n, t.n);
    check_values("split tail X", t.X, (const double[]){7, 8}, 2);
    check_one_hot("split tail", &t, (const int[]){1});
    check_one_hot("split head", &d, (const int[]){1, 2, 0});
    check_values("split head X", d.X, (const double[]){1, 2, 3, 4, 5, 6}, 6);
    CHECK(t.class_names && t.class_names != d.class_names && !strcmp(t.class_names[1], "cat"),
          "split: class names");
    mlpcl_dataset_free(&t);
    static const double bad_fractions[] = {0, 1, -0.5, 2, NAN, 0.1, 0.9};
    for (size_t i = 0; i < sizeof bad_fractions / sizeof *bad_fractions; ++i) {
        int st = mlpcl_dataset_split(&d, bad_fractions[i], &t);
        expect_fail("split", st, MLPCL_ERR_ARG, "mlpcl_dataset_split: ",
                    i < 5 ? "is not between 0 and 1" : "(each side needs at least 1)");
        CHECK(d.n == 3 && dataset_is_empty(&t), "split %g: changed something", bad_fractions[i]);
    }
    mlpcl_dataset_free(&d);
}

int main(void)
{
    loaders_begin();
    test_bad_csv();
    test_bad_idx();
    test_good_idx();
    test_good_csv();
    loaders_end();
    return report("test_loaders");
}
