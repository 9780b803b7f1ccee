// SPDX-License-Identifier: MIT
/* seeds.c: writes the fuzz harnesses' seed corpora (FUZZ_DIR/corpus/HARNESS/) and the
 * hand-made hostile inputs of FUZZ_DIR/regressions/HARNESS/ (files named hostile-*), in each
 * harness's input format (see fuzz_*.c): small valid files and slightly broken ones. Models are
 * written by mlpcl_model_save. Files found by fuzzing (crash-*) are not touched. Run as
 * `fuzz_seeds FUZZ_DIR` after changing a harness's input format. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "mlpcl.h"

static const char *root;

static void die(const char *what, const char *path)
{
    fprintf(stderr, "fuzz_seeds: %s %s\n", what, path);
    exit(1);
}

/* ROOT/kind/harness, made if missing. */
static const char *folder(char *buf, size_t size, const char *kind, const char *harness)
{
    snprintf(buf, size, "%s/%s", root, kind);
    mkdir(buf, 0755);
    snprintf(buf, size, "%s/%s/%s", root, kind, harness);
    mkdir(buf, 0755);
    return buf;
}

static void put(const char *kind, const char *harness, const char *name, const void *bytes,
                size_t len)
{
    char dir[512], path[1024];
    snprintf(path, sizeof path, "%s/%s", folder(dir, sizeof dir, kind, harness), name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, len, f) != len || fclose(f)) die("cannot write", path);
}

/* ---- CSV: a variant digit, then the file ------------------------------------------------- */

static const char *const csv_seeds[][2] = {
    {"targets1-header", "0x1,x2,y\n0.5,1,0\n1e-3,-2,1\n"},
    {"targets1-plain", "01,2,3\n4,5,6\n"},
    {"targets2", "1a,b,c,d\n1,2,3,4\n5,6,7,8\n"},
    {"label-int", "2label,x,y\n0,0.1,0.2\n2,0.3,0.4\n1,0.5,0.6\n"},
    {"label-names", "2cat,1,2\ndog,3,4\n\"fish\",5,6\n"},
    {"label-by-name", "3x,label,y\n1,setosa,2\n3,virginica,4\n5,setosa,6\n"},
    {"label-crlf-quoted", "3x,\"label\",y\r\n1,0,2\r\n\r\n3,1,4\r\n"},
    {"like-names", "41,2,dog\n3,4,cat\n5,6,fish\n"},
    {"like-classes", "51,2,0\n3,4,2\n"},
    {"like-numeric", "6a,b,t\n1,2,0.5\n"},
    {"open-split", "7y,x\nb,1\na,2\nb,3\n"},
    {"bad-columns", "0x,y\n1,2\n3\n"},
    {"bad-nan", "01,nan\n"},
    {"bad-inf", "01,2\n3,1e999\n"},
    {"bad-label-negative", "2label,x\n-1,2\n"},
    {"bad-label-fraction", "2label,x\n1.5,2\n"},
    {"bad-no-label-column", "3x,y\n1,2\n"},
    {"bad-unknown-class", "41,2,bird\n"},
    {"bad-name-for-int", "51,2,cat\n"},
    {"bad-empty-fields", "0 , \n"},
    {"bad-header-only", "0a,b\n"},
    {"bad-ambiguous", "3label,label\n1,2\n"},
    {"bad-long-field",
     "70123456789012345678901234567890123456789012345678901234567890123456789,1\n"},
};

/* ---- IDX: flags, the image part's length (2 bytes), images, labels ----------------------- */

typedef struct buf {
    unsigned char b[4096];
    size_t n;
} buf;

static void add(buf *b, const void *p, size_t n)
{
    if (b->n + n > sizeof b->b) die("seed too big:", "idx");
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void add_be32(buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    add(b, x, 4);
}

/* An IDX header: 00 00 TYPE NDIM, then the dimensions. */
static void idx_header(buf *b, int type, unsigned ndim, const uint32_t *dims)
{
    unsigned char m[4] = {0, 0, (unsigned char)type, (unsigned char)ndim};
    add(b, m, 4);
    for (unsigned i = 0; i < ndim; ++i) add_be32(b, dims[i]);
}

/* An image file of n samples of rows × cols unsigned bytes (i·7 + j, mod 256). */
static buf idx_images(uint32_t n, uint32_t rows, uint32_t cols)
{
    buf b = {.n = 0};
    uint32_t dims[3] = {n, rows, cols};
    idx_header(&b, 0x08, 3, dims);
    for (uint32_t i = 0; i < n * rows * cols; ++i) {
        unsigned char v = (unsigned char)(i * 7 + i / 3);
        add(&b, &v, 1);
    }
    return b;
}

/* A label file of n unsigned-byte labels. */
static buf idx_labels(uint32_t n, const unsigned char *labels)
{
    buf b = {.n = 0};
    idx_header(&b, 0x08, 1, &n);
    add(&b, labels, n);
    return b;
}

/* The harness's input: flags, the images' length, images, labels. */
static void put_idx(const char *kind, const char *name, unsigned flags, const buf *img,
                    const buf *lbl)
{
    buf in = {.n = 0};
    unsigned char head[3] = {(unsigned char)flags, (unsigned char)(img->n >> 8),
                             (unsigned char)img->n};
    add(&in, head, 3);
    add(&in, img->b, img->n);
    add(&in, lbl->b, lbl->n);
    put(kind, "idx", name, in.b, in.n);
}

/* The flags byte: which files the harness compresses and how it reads the pair. */
static unsigned flags(int gz_images, int gz_labels, unsigned mode)
{
    return (unsigned)gz_images | (unsigned)gz_labels << 1 | mode << 2;
}

/* A gzip stream of len bytes (for inputs that are already compressed). */
static buf gzip_bytes(const unsigned char *bytes, size_t len)
{
    buf out = {.n = 0};
    z_stream z = {0};
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        die("deflateInit2", "");
    z.next_in = (unsigned char *)bytes;
    z.avail_in = (unsigned)len;
    z.next_out = out.b;
    z.avail_out = sizeof out.b;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) die("deflate", "");
    out.n = sizeof out.b - z.avail_out;
    deflateEnd(&z);
    return out;
}

static buf gzipped(const buf *b)
{
    return gzip_bytes(b->b, b->n);
}

static void idx_seeds(void)
{
    static const unsigned char three[3] = {0, 1, 2}, two[2] = {1, 0};
    buf img = idx_images(3, 2, 2), lbl = idx_labels(3, three);
    put_idx("corpus", "plain", flags(0, 0, 0), &img, &lbl);
    put_idx("corpus", "gzip-images", flags(1, 0, 0), &img, &lbl);
    put_idx("corpus", "gzip-both-10-classes", flags(1, 1, 1), &img, &lbl);
    put_idx("corpus", "like", flags(0, 0, 2), &img, &lbl);
    put_idx("corpus", "pair", flags(0, 1, 3), &img, &lbl);
    put_idx("corpus", "folder-gzip", flags(1, 1, 4), &img, &lbl);
    put_idx("corpus", "folder-test", flags(0, 0, 5), &img, &lbl);
    put_idx("corpus", "folder-half-test", flags(0, 1, 6), &img, &lbl);
    put_idx("corpus", "folder-no-labels", flags(1, 0, 7), &img, &lbl);

    /* Already compressed in the input: 3 images of 30000 zero bytes, more than the reader's
     * first guess of 65536 values, so that its buffer grows as the data arrive. */
    buf head = {.n = 0};
    uint32_t d3[2] = {3, 30000};
    idx_header(&head, 0x08, 2, d3);
    unsigned char *big = calloc(head.n + 90000, 1);
    if (!big) die("out of memory", "idx");
    memcpy(big, head.b, head.n);
    buf zbig = gzip_bytes(big, head.n + 90000);
    free(big);
    put_idx("corpus", "gzip-in-input-large", flags(0, 0, 0), &zbig, &lbl);

    /* Other element types: float32 images 2 × 3, signed-byte labels. */
    buf f32 = {.n = 0}, s8 = {.n = 0};
    uint32_t d23[2] = {2, 3};
    idx_header(&f32, 0x0D, 2, d23);
    static const unsigned char floats[24] = {0x3f, 0x80, 0,    0,    0xbf, 0x00, 0,    0,
                                             0x40, 0x49, 0x0f, 0xdb, 0,    0,    0,    0,
                                             0x80, 0,    0,    0,    0x7f, 0x7f, 0xff, 0xff};
    add(&f32, floats, sizeof floats);
    uint32_t n2 = 2;
    idx_header(&s8, 0x09, 1, &n2);
    add(&s8, two, 2);
    put_idx("corpus", "float32-int8", flags(0, 0, 0), &f32, &s8);

    /* int16 images 2 × 2, float64 would be refused as labels: int32 labels. */
    buf i16 = {.n = 0}, i32 = {.n = 0};
    uint32_t d22[2] = {2, 2};
    idx_header(&i16, 0x0B, 2, d22);
    static const unsigned char shorts[8] = {0x7f, 0xff, 0x80, 0x00, 0, 1, 0xff, 0xff};
    add(&i16, shorts, 8);
    idx_header(&i32, 0x0C, 1, &n2);
    add_be32(&i32, 3);
    add_be32(&i32, 0);
    put_idx("corpus", "int16-int32", flags(0, 1, 0), &i16, &i32);

    buf f64 = {.n = 0};
    uint32_t d21[2] = {2, 1};
    idx_header(&f64, 0x0E, 2, d21);
    static const unsigned char doubles[16] = {0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
                                              0xc0, 0x24, 0, 0, 0, 0, 0, 0};
    add(&f64, doubles, 16);
    put_idx("corpus", "float64", flags(1, 0, 0), &f64, &s8);

    /* Slightly broken: truncated, trailing bytes, bad magic, counts that differ, NaN. */
    buf cut = img, more = img, magic = img, nan = f32;
    cut.n -= 1;
    add(&more, "x", 1);
    magic.b[1] = 8;
    nan.b[12] = 0x7f, nan.b[13] = 0xc0;
    put_idx("corpus", "bad-truncated", flags(0, 0, 0), &cut, &lbl);
    put_idx("corpus", "bad-trailing", flags(0, 0, 0), &more, &lbl);
    put_idx("corpus", "bad-magic", flags(0, 0, 0), &magic, &lbl);
    put_idx("corpus", "bad-counts", flags(0, 0, 0), &img, &s8);
    put_idx("corpus", "bad-nan", flags(0, 0, 0), &nan, &s8);
    put_idx("corpus", "bad-labels-as-images", flags(0, 0, 0), &lbl, &lbl);

    /* Hostile: dimensions whose product overflows, a header declaring 60000 × 28 × 28 bytes
     * with 12 there (plain and compressed), a gzip stream cut short, 255 dimensions. */
    buf huge = {.n = 0}, lie = {.n = 0}, many = {.n = 0};
    uint32_t dmax[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu}, mnist[3] = {60000, 28, 28};
    idx_header(&huge, 0x08, 3, dmax);
    put_idx("regressions", "hostile-overflowing-dimensions", flags(0, 0, 0), &huge, &lbl);
    idx_header(&lie, 0x08, 3, mnist);
    add(&lie, "twelve bytes", 12);
    put_idx("regressions", "hostile-huge-declared-plain", flags(0, 0, 0), &lie, &lbl);
    put_idx("regressions", "hostile-huge-declared-gzip", flags(1, 1, 0), &lie, &lbl);
    buf z = gzipped(&img);
    z.n /= 2;
    put_idx("regressions", "hostile-truncated-gzip", flags(0, 0, 0), &z, &lbl);
    buf zl = gzipped(&lbl);
    add(&zl, "garbage", 7);
    put_idx("regressions", "hostile-gzip-trailing-garbage", flags(0, 0, 3), &img, &zl);
    uint32_t ones[255];
    for (size_t i = 0; i < 255; ++i) ones[i] = i == 0 ? 3 : 1;
    idx_header(&many, 0x08, 255, ones);
    add(&many, "abc", 3);
    put_idx("regressions", "hostile-255-dimensions", flags(0, 1, 0), &many, &lbl);
    /* 2000 samples and a label of 255: a one-hot matrix 256 wide from a few compressed bytes. */
    buf wide_img = {.n = 0}, wide_lbl = {.n = 0};
    uint32_t d2000[2] = {2000, 1}, n2000 = 2000;
    idx_header(&wide_img, 0x08, 2, d2000);
    idx_header(&wide_lbl, 0x08, 1, &n2000);
    static unsigned char zeros[2000];
    add(&wide_img, zeros, 2000);
    add(&wide_lbl, zeros, 1999);
    add(&wide_lbl, "\xff", 1);
    put_idx("regressions", "hostile-sparse-labels", flags(1, 1, 0), &wide_img, &wide_lbl);
}

/* ---- Models: files written by mlpcl_model_save -------------------------------------------- */

static void put_model(const char *name, const mlpcl_net *net, const mlpcl_model_info *info)
{
    char dir[512], path[1024];
    snprintf(path, sizeof path, "%s/%s", folder(dir, sizeof dir, "corpus", "model"), name);
    if (mlpcl_model_save(path, net, info) != MLPCL_OK) die(mlpcl_last_error(), "");
}

static void model_seeds(void)
{
    mlpcl_net *net;
    mlpcl_model_info info = {.dtype = MLPCL_PRECISION_DOUBLE, .seed = 1};
    snprintf(info.device, sizeof info.device, "host");

    /* The tutorial's 2-3-2 sigmoid network, every parameter 1.0, F64. */
    size_t w232[3] = {2, 3, 2};
    if (mlpcl_net_create(2, w232, &net) || mlpcl_net_init(net, MLPCL_INIT_ONES, 1))
        die(mlpcl_last_error(), "");
    put_model("tutorial-f64.safetensors", net, &info);
    mlpcl_net_free(net);

    /* 3-4-2, relu then softmax, F32, with standardisation, class names, momentum, progress. */
    size_t w342[3] = {3, 4, 2};
    if (mlpcl_net_create(2, w342, &net) || mlpcl_net_init(net, MLPCL_INIT_UNIFORM, 7) ||
        mlpcl_net_set_act(net, 1, MLPCL_ACT_RELU) || mlpcl_net_set_loss(net, MLPCL_LOSS_CE))
        die(mlpcl_last_error(), "");
    double mean[3] = {0.5, -1, 2}, sd[3] = {1, 0.25, 3}, v[26];
    char yes[] = "yes", no[] = "no";
    char *classes[2] = {no, yes};
    for (size_t i = 0; i < 26; ++i) v[i] = (double)i / 64 - 0.2;
    mlpcl_model_info full = {.dtype = MLPCL_PRECISION_FLOAT,
                             .norm = {3, mean, sd},
                             .class_names = classes,
                             .seed = 42,
                             .epoch = 3,
                             .batch = 1,
                             .iteration = 301,
                             .velocity = v};
    snprintf(full.device, sizeof full.device, "pthread-Intel(R) Xeon(R) CPU");
    put_model("classifier-f32-full.safetensors", net, &full);
    mlpcl_net_free(net);

    /* The smallest: one input, one output, tanh, F32. */
    size_t w11[2] = {1, 1};
    if (mlpcl_net_create(1, w11, &net) || mlpcl_net_set_act(net, 1, MLPCL_ACT_TANH))
        die(mlpcl_last_error(), "");
    mlpcl_net_params(net)[0] = -0.5;
    info.dtype = MLPCL_PRECISION_FLOAT;
    put_model("tiny-f32.safetensors", net, &info);
    mlpcl_net_free(net);
}

/* A safetensors file from a JSON header and data bytes. */
static void put_safetensors(const char *kind, const char *name, uint64_t hlen, const char *json,
                            size_t jlen, const void *data, size_t dlen)
{
    size_t n = 8 + jlen + dlen;
    unsigned char *b = malloc(n);
    if (!b) die("out of memory", name);
    for (size_t i = 0; i < 8; ++i) b[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(b + 8, json, jlen);
    if (dlen) memcpy(b + 8 + jlen, data, dlen);
    put(kind, "model", name, b, n);
    free(b);
}

static void model_hostile(void)
{
    /* The header length: 2^64 − 1, and 100000000 (the limit) in a short file. */
    put_safetensors("regressions", "hostile-header-length-max", UINT64_MAX, "{}", 2, NULL, 0);
    put_safetensors("regressions", "hostile-header-length-limit", 100000000, "{}", 2, NULL, 0);
    /* JSON nested 2000 deep (cJSON stops at 1000). */
    size_t depth = 2000, jlen = 2 * depth;
    char *deep = malloc(jlen);
    if (!deep) die("out of memory", "deep");
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    put_safetensors("regressions", "hostile-nested-json", jlen, deep, jlen, NULL, 0);
    /* The same depth inside the class_names string, which is parsed as JSON again. */
    static const char pre[] = "{\"__metadata__\":{\"format\":\"mlpcl\",\"version\":\"0.1.0\","
                              "\"layers\":\"1,1\",\"activations\":\"sigmoid\",\"loss\":\"mse\","
                              "\"seed\":\"1\",\"device\":\"x\",\"epoch\":\"0\","
                              "\"iteration\":\"0\",\"class_names\":\"",
                      post[] = "\"},\"layers.1.weight\":{\"dtype\":\"F32\",\"shape\":[1,1],"
                               "\"data_offsets\":[0,4]},\"layers.1.bias\":{\"dtype\":\"F32\","
                               "\"shape\":[1],\"data_offsets\":[4,8]}}";
    char *nested = malloc(sizeof pre + jlen + sizeof post);
    if (!nested) die("out of memory", "nested");
    size_t n = 0;
    memcpy(nested, pre, sizeof pre - 1), n += sizeof pre - 1;
    memcpy(nested + n, deep, jlen), n += jlen;
    memcpy(nested + n, post, sizeof post - 1), n += sizeof post - 1;
    static const unsigned char eight[8] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0};
    put_safetensors("regressions", "hostile-nested-class-names", n, nested, n, eight, 8);
    free(nested);
    free(deep);
    /* Layers declaring 2^31 − 1 parameters (16 GiB) in a file of a few hundred bytes. */
    static const char big[] =
        "{\"__metadata__\":{\"format\":\"mlpcl\",\"version\":\"0.1.0\",\"layers\":\"46339,46340\","
        "\"activations\":\"sigmoid\",\"loss\":\"mse\",\"seed\":\"1\",\"device\":\"x\","
        "\"epoch\":\"0\",\"iteration\":\"0\"},\"layers.1.weight\":{\"dtype\":\"F32\","
        "\"shape\":[46339,46340],\"data_offsets\":[0,4]},\"layers.1.bias\":{\"dtype\":\"F32\","
        "\"shape\":[46340],\"data_offsets\":[4,8]}}";
    put_safetensors("regressions", "hostile-huge-layers", sizeof big - 1, big, sizeof big - 1,
                    eight, 8);
}

/* ---- CLI: '0' train or '1' predict, then the arguments separated by NUL bytes ------------- */

static const char *const cli_seeds[][24] = {
    {"train-none", "0", NULL},
    {"train-epochs", "0", "--data", "mnist", "--epochs", "2", "--batch=32", "--layers",
     "784,256,10", "--activation", "relu", "--loss", "ce", "--init", "uniform", NULL},
    {"train-csv", "0", "--x", "x.csv", "--y", "y.csv", "--lr", "0.5", "--target", "1e-3",
     "--precision", "double", "--momentum", "0.9", NULL},
    {"train-help", "0", "--help", NULL},
    {"train-labels", "0", "--data=d.csv", "--label-column", "species", "--validation", "0.2",
     "--normalize", "--test", "t.csv", "--save", "m.st", "--log", "l.jsonl", "--seed", "7", NULL},
    {"train-resume", "0", "--resume", "m.st", "--lookahead", "0", "--print-every", "10",
     "--max-iter", "100", "--device", "host", "--samples", "20", NULL},
    {"train-targets", "0", "--data", "d.csv", "--targets", "2", "--activation", "tanh,sigmoid",
     NULL},
    {"predict", "1", "--model", "m.st", "--data", "t.csv", NULL},
    {"predict-all", "1", "--model=m.st", "--data=a,b", "--label-column=3", "--output", "o.csv",
     "--device", "cpu", "--precision", "float", "--batch", "64", NULL},
    {"predict-help", "1", "-h", NULL},
    {"bad-missing-value", "0", "--lr", NULL},
    {"bad-negative-lr", "0", "--lr", "-1", NULL},
    {"bad-both-targets", "1", "--targets", "2", "--label-column", "x", "--model", "m", "--data",
     "d", NULL},
    {"bad-unknown", "0", "--bogus", NULL},
    {"bad-x-without-y", "0", "--x", "x.csv", NULL},
};

static void put_args(const char *kind, const char *name, const char *const *args)
{
    buf b = {.n = 0};
    add(&b, args[0], 1);
    for (size_t i = 1; args[i]; ++i) {
        if (i > 1) add(&b, "", 1);
        add(&b, args[i], strlen(args[i]));
    }
    put(kind, "cli", name, b.b, b.n);
}

static void cli_hostile(void)
{
    /* 1000 empty arguments; a number of 40 digits; 70 layer widths. */
    static char many[1001], layers[512];
    many[0] = '0';
    put("regressions", "cli", "hostile-1000-empty-arguments", many, sizeof many);
    const char *big[] = {"0", "--seed", "9999999999999999999999999999999999999999", NULL};
    put_args("regressions", "hostile-huge-number", big);
    size_t n = 0;
    for (int i = 0; i < 70; ++i)
        n += (size_t)snprintf(layers + n, sizeof layers - n, "%s7", i ? "," : "");
    const char *wide[] = {"0", "--layers", layers, "--activation", "relu", NULL};
    put_args("regressions", "hostile-70-layers", wide);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds FUZZ_DIR (the repository's fuzz folder)\n");
        return 2;
    }
    root = argv[1];
    for (size_t i = 0; i < sizeof csv_seeds / sizeof *csv_seeds; ++i)
        put("corpus", "csv", csv_seeds[i][0], csv_seeds[i][1], strlen(csv_seeds[i][1]));
    /* Hostile CSV: 5000 empty fields; a NUL byte inside class names; a label of 65535. */
    static char fields[5003];
    fields[0] = '0';
    memset(fields + 1, ',', 5000);
    fields[5001] = '\n';
    put("regressions", "csv", "hostile-5000-fields", fields, 5002);
    static const char nul_names[] = "2a\0x,1\na\0y,2\n";
    put("regressions", "csv", "hostile-nul-in-names", nul_names, sizeof nul_names - 1);
    static const char sparse[] = "2label,x\n65535,1\n0,2\n";
    put("regressions", "csv", "hostile-label-65535", sparse, sizeof sparse - 1);
    idx_seeds();
    model_seeds();
    model_hostile();
    for (size_t i = 0; i < sizeof cli_seeds / sizeof *cli_seeds; ++i)
        put_args("corpus", cli_seeds[i][0], cli_seeds[i] + 1);
    cli_hostile();
    return 0;
}
