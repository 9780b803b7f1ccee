// SPDX-License-Identifier: MIT
/* loaders.h: what the loaders' tests (test_loaders.c, test_open.c) share: one fresh temporary
 * folder, files written into it (plain or through gzip) and removed at the end, the checks of a
 * failure's status and message and of a data set's values, and the good IDX pair. */
#ifndef MLPCL_TESTS_LOADERS_H
#define MLPCL_TESTS_LOADERS_H

#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"

static char dir[] = "/tmp/mlpcl-loaders-XXXXXX";
static char made[64][64]; /* files written, relative to dir, removed at the end */
static size_t n_made;

/* dir/name into buf. */
static inline const char *at(char *buf, const char *name)
{
    snprintf(buf, 512, "%.60s/%.400s", dir, name);
    return buf;
}

/* Writes bytes to dir/name, through gzip when gz. */
static inline void put(const char *name, const void *bytes, size_t len, int gz)
{
    char path[512];
    at(path, name);
    int seen = 0;
    for (size_t i = 0; i < n_made; ++i) seen |= strcmp(made[i], name) == 0;
    if (!seen && n_made < 64) snprintf(made[n_made++], sizeof made[0], "%s", name);
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (!g || (len && gzwrite(g, bytes, (unsigned)len) != (int)len) || gzclose(g) != Z_OK) {
            printf("FAIL: cannot write %s\n", path);
            exit(1);
        }
        return;
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
        printf("FAIL: cannot write %s\n", path);
        exit(1);
    }
}

static inline void put_text(const char *name, const char *text)
{
    put(name, text, strlen(text), 0);
}

/* The bytes of dir/name, in a new buffer. */
static inline unsigned char *get(const char *name, size_t *len)
{
    char path[512];
    FILE *f = fopen(at(path, name), "rb");
    unsigned char *b = malloc(1 << 20);
    *len = f && b ? fread(b, 1, 1 << 20, f) : 0;
    if (f) fclose(f);
    return b;
}

/* Asserts a failure's status and that its message holds each of the given texts. */
static inline void expect_fail(const char *what, int st, int status, const char *text1,
                               const char *text2)
{
    const char *e = mlpcl_last_error();
    CHECK(st == status, "%s: status %s, expected %s (%s)", what, mlpcl_status_str(st),
          mlpcl_status_str(status), e);
    if (st == MLPCL_OK) return;
    CHECK(strstr(e, text1), "%s: message '%s' lacks '%s'", what, e, text1);
    if (text2) CHECK(strstr(e, text2), "%s: message '%s' lacks '%s'", what, e, text2);
}

static inline int dataset_is_empty(const mlpcl_dataset *d)
{
    return !d->n && !d->n_in && !d->n_out && !d->X && !d->Y && !d->labels && !d->class_names &&
           !d->beyond_float;
}

/* Makes the temporary folder; exits on failure. */
static inline void loaders_begin(void)
{
    if (!mkdtemp(dir)) {
        printf("FAIL: mkdtemp: %s\n", strerror(errno));
        exit(1);
    }
}

/* Removes the files written, the subfolders the tests make, and the folder. */
static inline void loaders_end(void)
{
    char path[512];
    for (size_t i = 0; i < n_made; ++i) remove(at(path, made[i]));
    static const char *const subdirs[] = {"mnist", "trainonly", "empty"};
    for (size_t i = 0; i < sizeof subdirs / sizeof *subdirs; ++i) rmdir(at(path, subdirs[i]));
    rmdir(dir);
}

#define BYTES(s) (const unsigned char *)(s), sizeof(s) - 1

/* The good pair: 3 images of 2×2 unsigned bytes 0 … 11, labels 2 0 1. */
#define IMAGES                                                                                     \
    "\0\0\x08\x03"                                                                                 \
    "\0\0\0\x03"                                                                                   \
    "\0\0\0\x02"                                                                                   \
    "\0\0\0\x02"                                                                                   \
    "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b"
#define LABELS                                                                                     \
    "\0\0\x08\x01"                                                                                 \
    "\0\0\0\x03"                                                                                   \
    "\x02\x00\x01"

static inline void check_one_hot(const char *what, const mlpcl_dataset *d, const int *labels)
{
    CHECK(d->labels && d->Y, "%s: no labels", what);
    if (!d->labels || !d->Y) return;
    for (size_t i = 0; i < d->n; ++i) {
        CHECK(d->labels[i] == labels[i], "%s: label %zu is %d, expected %d", what, i, d->labels[i],
              labels[i]);
        for (size_t k = 0; k < d->n_out; ++k)
            CHECK(mlpcl_at(d->Y, d->n_out, i, k) == (k == (size_t)labels[i]), "%s: Y[%zu][%zu]",
                  what, i, k);
    }
}

static inline void check_values(const char *what, const double *got, const double *want, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        CHECK(got[i] == want[i], "%s: value %zu is %.17g, expected %.17g", what, i, got[i],
              want[i]);
}

#endif
