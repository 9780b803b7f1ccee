// SPDX-License-Identifier: MIT
/* harness.c: what the fuzz harnesses share: one temporary folder per process for the files the
 * loaders read, writing (and gzip-compressing) inputs, and the check of a clean failure. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "harness.h"
#include "mlpcl.h"

static char dir[256];

/* Removes the folder's files, one level of subfolders (their files too) and the folder. */
static void remove_tree(const char *path, int depth)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[512];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            struct stat s;
            if (lstat(sub, &s) == 0 && S_ISDIR(s.st_mode)) {
                if (depth < 2) remove_tree(sub, depth + 1);
            } else {
                unlink(sub);
            }
        }
        closedir(d);
    }
    rmdir(path);
}

static void remove_dir(void)
{
    if (dir[0]) remove_tree(dir, 0);
}

const char *fuzz_dir(void)
{
    if (dir[0]) return dir;
    struct stat s;
    const char *tmp = getenv("TMPDIR");
    if (stat("/dev/shm", &s) == 0 && S_ISDIR(s.st_mode) && access("/dev/shm", W_OK) == 0)
        tmp = "/dev/shm"; /* tmpfs: the model harness's saves fsync, which is free there */
    else if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(dir, sizeof dir, "%.200s/mlpcl-fuzz-XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        perror("fuzz: mkdtemp");
        exit(1);
    }
    atexit(remove_dir);
    return dir;
}

const char *fuzz_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", fuzz_dir(), name);
    return buf;
}

int fuzz_report(const char *fmt, ...)
{
    va_list ap;
    fputs("fuzz: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int fuzz_write(const char *path, const void *bytes, size_t len, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        int ok = g && (len == 0 || gzwrite(g, bytes, (unsigned)len) == (int)len);
        if (g && gzclose(g) != Z_OK) ok = 0;
        return ok ? 0 : fuzz_report("cannot write %s (gzip)", path);
    }
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(bytes, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = 0;
    return ok ? 0 : fuzz_report("cannot write %s", path);
}

int fuzz_clean_failure(const char *call, int st)
{
    const char *msg = mlpcl_last_error();
    if (st != MLPCL_ERR_DATA && st != MLPCL_ERR_IO && st != MLPCL_ERR_TOO_BIG &&
        st != MLPCL_ERR_NOMEM)
        return fuzz_report("%s returned %s (%d), not a loader's error: %s", call,
                           mlpcl_status_str(st), st, msg);
    if (!msg[0]) return fuzz_report("%s failed with %s but no message", call, mlpcl_status_str(st));
    if (st != MLPCL_ERR_NOMEM && !strstr(msg, fuzz_dir()))
        return fuzz_report("%s: the message does not name the file: %s", call, msg);
    return 0;
}

int fuzz_all_zero(const void *p, size_t len)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; ++i)
        if (b[i]) return 0;
    return 1;
}

int fuzz_check_dataset(const char *call, const mlpcl_dataset *d, int labels,
                       const mlpcl_dataset *like)
{
    if (!d->n || !d->n_in || !d->n_out || !d->X || !d->Y)
        return fuzz_report("%s: empty data set: n %zu, n_in %zu, n_out %zu, X %p, Y %p", call, d->n,
                           d->n_in, d->n_out, (void *)d->X, (void *)d->Y);
    if (like && (d->n_in != like->n_in || d->n_out != like->n_out))
        return fuzz_report("%s: %zu features and %zu outputs, the training set %zu and %zu", call,
                           d->n_in, d->n_out, like->n_in, like->n_out);
    for (size_t i = 0; i < d->n * d->n_in; ++i)
        if (!isfinite(d->X[i])) return fuzz_report("%s: X[%zu] is %g", call, i, d->X[i]);
    for (size_t i = 0; i < d->n * d->n_out; ++i)
        if (!isfinite(d->Y[i])) return fuzz_report("%s: Y[%zu] is %g", call, i, d->Y[i]);
    if (!labels) {
        if (d->labels || d->class_names)
            return fuzz_report("%s: numeric targets, but labels or class names", call);
        return 0;
    }
    if (!d->labels) return fuzz_report("%s: a label column, but no labels", call);
    for (size_t i = 0; i < d->n; ++i) {
        int k = d->labels[i];
        if (k < 0 || (size_t)k >= d->n_out)
            return fuzz_report("%s: label %d of sample %zu is not one of %zu classes", call, k, i,
                               d->n_out);
        for (size_t j = 0; j < d->n_out; ++j)
            if (mlpcl_at(d->Y, d->n_out, i, j) != ((size_t)k == j ? 1.0 : 0.0))
                return fuzz_report("%s: Y row %zu is not the one-hot row of label %d", call, i, k);
    }
    if (like && !like->class_names != !d->class_names)
        return fuzz_report("%s: class names %s, the training set's %s", call,
                           d->class_names ? "given" : "missing",
                           like->class_names ? "given" : "missing");
    if (!d->class_names) return 0;
    for (size_t k = 0; k < d->n_out; ++k) {
        const char *name = d->class_names[k];
        if (!name) return fuzz_report("%s: class name %zu is NULL", call, k);
        if (like && strcmp(name, like->class_names[k]))
            return fuzz_report("%s: class name %zu is '%s', the training set's '%s'", call, k, name,
                               like->class_names[k]);
        if (!like && k && strcmp(d->class_names[k - 1], name) >= 0)
            return fuzz_report("%s: class names %zu and %zu ('%s', '%s') are not distinct and "
                               "sorted",
                               call, k - 1, k, d->class_names[k - 1], name);
    }
    return 0;
}

#ifdef MLPCL_FUZZER
/* libFuzzer's entry point, in each harness executable: MLPCL_FUZZER names its body. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (MLPCL_FUZZER(data, size)) abort();
    return 0;
}
#endif
