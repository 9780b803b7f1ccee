// SPDX-License-Identifier: MIT
/* idx.c: IDX files (the MNIST format), gzip-compressed or not, read through zlib. A header is
 * checked against a size cap and, for plain files, the file's size before anything big is
 * allocated; compressed data is taken as it arrives, so a header that lies about its size fails
 * on truncation, not in malloc. Every failure names the file and the byte offset. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <float.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data.h"

enum { CHUNK = 1 << 16 }; /* bytes read at a time: a multiple of every element size */

/* One IDX file being read. Offsets count bytes of the decompressed stream. */
typedef struct idx_file {
    const char *path;
    gzFile gz;
    int plain;     /* not compressed: the file's size is known up front */
    size_t size;   /* the file's size, when plain */
    size_t offset; /* bytes read so far */
    int type;      /* 0x08 … 0x0E */
    size_t elem;   /* bytes a value */
    unsigned ndim;
    uint32_t dim[255];
    size_t count;  /* values, the product of dim */
    size_t header; /* header bytes, 4 + 4·ndim */
} idx_file;

static const char *type_name(int type)
{
    switch (type) {
    case 0x08:
        return "unsigned byte";
    case 0x09:
        return "signed byte";
    case 0x0B:
        return "int16";
    case 0x0C:
        return "int32";
    case 0x0D:
        return "float32";
    case 0x0E:
        return "float64";
    default:
        return NULL;
    }
}

static size_t type_size(int type)
{
    return type == 0x0B ? 2 : type == 0x0C || type == 0x0D ? 4 : type == 0x0E ? 8 : 1;
}

/* zlib's message for the stream's error, without the "<fd:N>: " it puts before it. */
static const char *gz_message(gzFile gz, int *err)
{
    const char *msg = gzerror(gz, err);
    const char *colon = strncmp(msg, "<fd:", 4) == 0 ? strstr(msg, ": ") : NULL;
    return colon ? colon + 2 : msg;
}

/* The stream's error, if it has one: a read error, or a corrupt or truncated gzip stream. */
static mlpcl_status stream_error(const idx_file *f)
{
    int err = Z_OK;
    const char *msg = gz_message(f->gz, &err);
    if (err == Z_ERRNO)
        return mlpcl__fail(MLPCL_ERR_IO, "%s: read error at byte offset %zu: %s", f->path,
                           f->offset, strerror(errno));
    if (err != Z_OK)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: corrupt or truncated gzip stream at byte offset %zu of the "
                           "decompressed data: %s",
                           f->path, f->offset, msg);
    return MLPCL_OK;
}

/* Why fewer bytes came than asked: a stream error, or the file's end. */
static mlpcl_status short_read(const idx_file *f, const char *expected)
{
    mlpcl_status st = stream_error(f);
    if (st != MLPCL_OK) return st;
    return mlpcl__fail(MLPCL_ERR_DATA, "%s: truncated at byte offset %zu: expected %s", f->path,
                       f->offset, expected);
}

/* Reads up to len bytes; *got tells how many (fewer only at the end of the data). */
static mlpcl_status read_some(idx_file *f, unsigned char *buf, size_t len, size_t *got)
{
    *got = 0;
    while (*got < len) {
        unsigned want = len - *got > CHUNK ? CHUNK : (unsigned)(len - *got);
        int n = gzread(f->gz, buf + *got, want);
        if (n < 0) return short_read(f, "more data");
        if (n == 0) break;
        *got += (size_t)n;
        f->offset += (size_t)n;
    }
    return MLPCL_OK;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* "60000 × 28 × 28", for messages. */
static void dims_text(const idx_file *f, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < f->ndim && used < size; ++i) {
        int w =
            i == 6 ? snprintf(buf + used, size - used, " × …")
                   : snprintf(buf + used, size - used, "%s%u", i ? " × " : "", (unsigned)f->dim[i]);
        if (w < 0 || i == 6) break;
        used += (size_t)w;
    }
}

/* Opens path and reads and checks its header: magic, type, dimensions, the declared size
 * against the cap and (plain files) against the file's size. */
static mlpcl_status idx_open(const char *path, int labels, idx_file *f)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    int fd;
    mlpcl_status st = mlpcl__open_input(path, &fd, &f->size);
    if (st != MLPCL_OK) return st;
    if (!(f->gz = gzdopen(fd, "rb"))) {
        close(fd);
        return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory opening it", path);
    }
    gzbuffer(f->gz, 1 << 17);
    f->plain = gzdirect(f->gz);

    unsigned char b[4 * 255];
    size_t got;
    st = read_some(f, b, 4, &got);
    if (st != MLPCL_OK) return st;
    if (got < 4) return short_read(f, "the 4-byte IDX magic number");
    if (b[0] || b[1])
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: not an IDX file: bytes 0-3 are %02x %02x %02x %02x (an IDX file "
                           "starts 00 00 TYPE NDIM)",
                           path, b[0], b[1], b[2], b[3]);
    f->type = b[2];
    f->ndim = b[3];
    if (!type_name(f->type))
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: byte offset 2: unknown IDX type 0x%02X (known: 0x08 unsigned "
                           "byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E "
                           "float64)",
                           path, (unsigned)f->type);
    f->elem = type_size(f->type);
    if (f->ndim == 0) return mlpcl__fail(MLPCL_ERR_DATA, "%s: byte offset 3: 0 dimensions", path);
    if (labels && f->ndim != 1)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: byte offset 3: a label file has 1 dimension, found %u", path,
                           f->ndim);
    if (!labels && f->ndim < 2)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: byte offset 3: an image file has at least 2 dimensions (samples "
                           "× features), found 1 (a label file?)",
                           path);
    if (labels && (f->type == 0x0D || f->type == 0x0E))
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: byte offset 2: labels must be integers, found type 0x%02X (%s)",
                           path, (unsigned)f->type, type_name(f->type));
    f->header = 4 + 4 * (size_t)f->ndim;
    if ((st = read_some(f, b, 4 * (size_t)f->ndim, &got)) != MLPCL_OK) return st;
    if (got < 4 * (size_t)f->ndim) {
        char what[64];
        snprintf(what, sizeof what, "a %zu-byte header (%u dimensions)", f->header, f->ndim);
        return short_read(f, what);
    }
    f->count = 1;
    int too_big = 0;
    for (unsigned i = 0; i < f->ndim; ++i) {
        f->dim[i] = be32(b + 4 * i);
        if (f->dim[i] == 0)
            return mlpcl__fail(MLPCL_ERR_DATA, "%s: byte offset %u: dimension %u of %u is 0", path,
                               4 + 4 * i, i + 1, f->ndim);
        too_big = too_big || mlpcl__mul_overflows(f->count, f->dim[i], &f->count);
    }
    size_t bytes, doubles; /* the data, and what they take in memory */
    if (too_big || f->count > MLPCL__MAX_VALUES ||
        mlpcl__mul_overflows(f->count, f->elem, &bytes) ||
        mlpcl__mul_overflows(f->count, sizeof(double), &doubles)) {
        char dims[160];
        dims_text(f, dims, sizeof dims);
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: the header declares an enormous size, %s values, more than the "
                           "%zu (samples × features) this reader accepts",
                           path, dims, MLPCL__MAX_VALUES);
    }
    /* A plain file's size tells at once whether the data are all there. */
    if (f->plain && f->size - f->header < bytes)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: truncated at byte offset %zu: expected %zu bytes of data after "
                           "the %zu-byte header, found %zu",
                           path, f->size, bytes, f->header, f->size - f->header);
    if (f->plain && f->size - f->header > bytes)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: trailing data at byte offset %zu: the header declares %zu bytes "
                           "of data, but the file holds %zu more",
                           path, f->header + bytes, bytes, f->size - f->header - bytes);
    /* Compressed data cannot vouch for the header (a gzip bomb declares what it likes): what
     * the values would take is held against the memory the process can have before any of it
     * is allocated. */
    char what[256], dims[160];
    dims_text(f, dims, sizeof dims);
    snprintf(what, sizeof what, "the header declares %s values, which", dims);
    return mlpcl__check_memory(path, doubles, what);
}

/* Checks that nothing follows the data, and that a gzip stream ended cleanly. */
static mlpcl_status idx_finish(idx_file *f)
{
    unsigned char extra;
    size_t got;
    size_t end = f->offset;
    mlpcl_status st = read_some(f, &extra, 1, &got);
    if (st != MLPCL_OK) return st;
    if (got)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: trailing data at byte offset %zu: the header declares %zu bytes "
                           "of data, but more follow",
                           f->path, end, end - f->header);
    return stream_error(f);
}

static void idx_close(idx_file *f)
{
    if (f->gz) gzclose(f->gz);
    f->gz = NULL;
}

/* The big-endian value of the given type at p, as a double. */
static double value_at(const unsigned char *p, int type)
{
    switch (type) {
    case 0x08:
        return p[0];
    case 0x09: /* two's complement by arithmetic: converting to a signed type is not portable */
        return p[0] >= 0x80 ? p[0] - 256.0 : p[0];
    case 0x0B: {
        unsigned u = (unsigned)p[0] << 8 | p[1];
        return u >= 0x8000 ? (double)u - 65536.0 : (double)u;
    }
    case 0x0C: {
        uint32_t u = be32(p);
        return u >= 0x80000000u ? (double)u - 4294967296.0 : (double)u;
    }
    case 0x0D: {
        uint32_t u = be32(p);
        float x;
        memcpy(&x, &u, sizeof x);
        return x;
    }
    default: {
        uint64_t u = (uint64_t)be32(p) << 32 | be32(p + 4);
        double x;
        memcpy(&x, &u, sizeof x);
        return x;
    }
    }
}

/* Reads all of f's values into *out (allocated here, grown as the data arrive when the file's
 * size could not vouch for the header). Images of unsigned bytes are scaled by 1/255. The
 * place of the first value beyond float's range goes to *note (note may be NULL). */
static mlpcl_status read_values(idx_file *f, int scale, double **out, char **note)
{
    size_t cap = f->plain || f->count < CHUNK ? f->count : CHUNK, done = 0, bytes;
    unsigned char *buf = malloc(CHUNK);
    double *v = malloc(cap * sizeof *v);
    mlpcl_status st = MLPCL_OK;
    if (!buf || !v) goto nomem;
    bytes = f->count * f->elem; /* checked in idx_open */
    while (done < f->count) {
        size_t want = (f->count - done) * f->elem, got;
        if (want > CHUNK) want = CHUNK;
        if ((st = read_some(f, buf, want, &got)) != MLPCL_OK) goto fail;
        if (got < want) {
            char what[128];
            snprintf(what, sizeof what, "%zu bytes of data after the %zu-byte header, found %zu",
                     bytes, f->header, f->offset - f->header);
            st = short_read(f, what);
            goto fail;
        }
        size_t n = got / f->elem;
        if (done + n > cap) { /* only for compressed data: grow as the data prove the size */
            size_t grown_cap = cap * 2 < f->count ? cap * 2 : f->count;
            double *grown = realloc(v, grown_cap * sizeof *grown);
            if (!grown) goto nomem;
            v = grown;
            cap = grown_cap;
        }
        for (size_t i = 0; i < n; ++i) {
            double x = value_at(buf + i * f->elem, f->type);
            if (!isfinite(x)) {
                st = mlpcl__fail(MLPCL_ERR_DATA,
                                 "%s: value %g at byte offset %zu is not finite (NaN and Inf are "
                                 "not allowed)",
                                 f->path, x, f->offset - got + i * f->elem);
                goto fail;
            }
            v[done + i] = scale && f->type == 0x08 ? x / 255.0 : x;
            if (note && !*note && fabs(x) > FLT_MAX) {
                size_t len = strlen(f->path) + 80;
                if (!(*note = malloc(len))) goto nomem;
                snprintf(*note, len, "%s: byte offset %zu: %.9g", f->path,
                         f->offset - got + i * f->elem, x);
            }
        }
        done += n;
    }
    free(buf);
    *out = v;
    return MLPCL_OK;
nomem:
    st = mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", f->path);
fail:
    free(buf);
    free(v);
    return st;
}

mlpcl_status mlpcl_idx_dataset(const char *images, const char *labels, size_t classes,
                               const mlpcl_dataset *like, mlpcl_dataset *out)
{
    if (!out) return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_idx_dataset: out is NULL");
    memset(out, 0, sizeof *out);
    if (!images || !labels)
        return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_idx_dataset: a file name is NULL");
    if (classes > MLPCL__MAX_CLASSES)
        return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_idx_dataset: %zu classes, more than %zu", classes,
                           MLPCL__MAX_CLASSES);
    mlpcl_status st = MLPCL_OK;
    idx_file fi, fl;
    double *lv = NULL;
    memset(&fl, 0, sizeof fl);
    /* Both headers first, so that mismatched files fail before either's data is read. */
    st = idx_open(images, 0, &fi);
    if (st == MLPCL_OK) st = idx_open(labels, 1, &fl);
    if (st != MLPCL_OK) goto fail;
    size_t n = fi.dim[0], features = fi.count / n;
    if (fl.dim[0] != n) {
        st = mlpcl__fail(MLPCL_ERR_DATA, "%s: byte offset 4: %zu labels, but %s holds %zu images",
                         labels, (size_t)fl.dim[0], images, n);
        goto fail;
    }
    if (like && like->n_in != features) {
        char dims[160];
        dims_text(&fi, dims, sizeof dims);
        st = mlpcl__fail(MLPCL_ERR_DATA,
                         "%s: %zu features an image (%s), but the training set has %zu", images,
                         features, dims, like->n_in);
        goto fail;
    }
    if (!classes && like) classes = like->n_out;

    /* The labels: integers in 0 … classes−1 (or, classes unknown, below the cap). */
    TRY(read_values(&fl, 0, &lv, NULL));
    TRY(idx_finish(&fl));
    out->n = n;
    out->n_in = features;
    if (!(out->labels = malloc(n * sizeof *out->labels))) {
        st = mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", labels);
        goto fail;
    }
    size_t limit = classes ? classes : MLPCL__MAX_CLASSES;
    for (size_t i = 0; i < n; ++i) {
        size_t at = fl.header + i * fl.elem;
        if (lv[i] < 0) {
            st = mlpcl__fail(MLPCL_ERR_DATA, "%s: label %.0f at byte offset %zu is negative",
                             labels, lv[i], at);
            goto fail;
        }
        if (lv[i] >= (double)limit) {
            st = mlpcl__fail(MLPCL_ERR_DATA,
                             "%s: label %.0f at byte offset %zu is out of range (%s%zu classes)",
                             labels, lv[i], at, classes ? "" : "at most ", limit);
            goto fail;
        }
        out->labels[i] = (int)lv[i];
        if (!classes && (size_t)out->labels[i] + 1 > out->n_out)
            out->n_out = (size_t)out->labels[i] + 1;
    }
    if (classes) out->n_out = classes;

    /* The images, and the one-hot targets. */
    TRY(read_values(&fi, 1, &out->X, &out->beyond_float));
    TRY(idx_finish(&fi));
    TRY(mlpcl__one_hot(out, labels));
fail:
    free(lv);
    idx_close(&fi);
    idx_close(&fl);
    if (st != MLPCL_OK) mlpcl_dataset_free(out);
    return st;
}
