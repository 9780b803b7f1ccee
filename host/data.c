// SPDX-License-Identifier: MIT
/* data.c: CSV tables of numbers, read strictly: every failure names the file, the line and the
 * column, and what was expected. Also the CSV row reader (data.h) that dataset.c shares. Plain C,
 * no OpenCL. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data.h"

/* Reads a whole file into a NUL-terminated buffer: a regular file (input.c), within the size cap
 * and the memory the process can have. */
static mlpcl_status slurp(const char *path, char **out, size_t *len)
{
    int fd;
    size_t size;
    mlpcl_status st = mlpcl__open_input(path, &fd, &size);
    if (st != MLPCL_OK) return st;
    if (size > MLPCL__MAX_TEXT) {
        close(fd);
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: %zu bytes, more than the %zu GiB a CSV file may have (not a "
                           "table of numbers?)",
                           path, size, MLPCL__MAX_TEXT >> 30);
    }
    if ((st = mlpcl__check_memory(path, size + 1, "reading the file")) != MLPCL_OK) {
        close(fd);
        return st;
    }
    /* The size is a first guess: a file that grows while it is read is still read to its end,
     * within the cap. */
    size_t cap = size + 1 > 1 << 16 ? size + 1 : 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            close(fd);
            return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory reading it", path);
        }
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int error = errno;
            free(buf);
            close(fd);
            return mlpcl__fail(MLPCL_ERR_IO, "%s: read error at byte %zu: %s", path, n,
                               strerror(error));
        }
        if (got == 0) break;
        n += (size_t)got;
        if (n > MLPCL__MAX_TEXT) {
            free(buf);
            close(fd);
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s: more than the %zu GiB a CSV file may have (it grew while "
                               "being read)",
                               path, MLPCL__MAX_TEXT >> 30);
        }
        if (n < cap - 1) continue;
        char *grown = realloc(buf, cap *= 2);
        if (!grown) free(buf);
        buf = grown;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return MLPCL_OK;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Splits [line, eol) at commas. Returns the field count; stores at most cap fields. */
static size_t split(const char *line, const char *eol, mlpcl__field *f, size_t cap)
{
    size_t n = 0;
    const char *p = line;
    for (;;) {
        const char *q = p;
        while (q < eol && *q != ',') ++q;
        const char *s = p, *e = q;
        while (s < e && is_blank(*s)) ++s;
        while (e > s && is_blank(e[-1])) --e;
        if (n < cap) f[n] = (mlpcl__field){s, e};
        ++n;
        if (q >= eol) break;
        p = q + 1;
    }
    return n;
}

mlpcl_status mlpcl__csv_open(const char *path, mlpcl__csv *c)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    mlpcl_status st = slurp(path, &c->text, &c->len);
    if (st != MLPCL_OK) return st;
    /* A UTF-8 byte-order mark (spreadsheets write one) is not part of the first field. */
    if (c->len >= 3 && memcmp(c->text, "\xEF\xBB\xBF", 3) == 0) c->next = 3;
    c->cap = 16;
    c->f = malloc(c->cap * sizeof *c->f);
    if (!c->f) {
        mlpcl__csv_close(c);
        return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
    }
    return MLPCL_OK;
}

mlpcl_status mlpcl__csv_next(mlpcl__csv *c, int *row)
{
    *row = 0;
    while (c->next < c->len) {
        const char *line = c->text + c->next, *end = c->text + c->len;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) eol = end;
        ++c->line_no;
        if ((size_t)(eol - line) > MLPCL__MAX_LINE)
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s:%zu: a line of %zu bytes, more than the %zu MiB a line may "
                               "have (not a CSV file?)",
                               c->path, c->line_no, (size_t)(eol - line), MLPCL__MAX_LINE >> 20);
        c->next = (size_t)(eol - c->text) + 1;
        /* Names are kept as C strings: a NUL byte would cut them (and make two differ only
         * after it), and in numbers it only hides the rest of the field from messages. */
        const char *nul = memchr(line, '\0', (size_t)(eol - line));
        if (nul)
            return mlpcl__fail(MLPCL_ERR_DATA, "%s:%zu:%zu: a NUL byte (not a text file?)", c->path,
                               c->line_no, (size_t)(nul - line) + 1);
        const char *p = line;
        while (p < eol && is_blank(*p)) ++p;
        if (p == eol) continue; /* blank line */
        size_t n = split(line, eol, c->f, c->cap);
        if (n > c->cap) {
            mlpcl__field *grown = realloc(c->f, n * sizeof *grown);
            if (!grown) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", c->path);
            c->f = grown;
            c->cap = n;
            split(line, eol, c->f, c->cap);
        }
        c->line = line;
        c->n = n;
        *row = 1;
        return MLPCL_OK;
    }
    return MLPCL_OK;
}

void mlpcl__csv_close(mlpcl__csv *c)
{
    free(c->f);
    free(c->text);
    memset(c, 0, sizeof *c);
}

int mlpcl__parse_number(mlpcl__field f, double *v, char *why, size_t size)
{
    size_t len = (size_t)(f.end - f.start);
    char shown[96];
    if (len == 0) {
        snprintf(why, size, "expected a number, found an empty field");
        return -1;
    }
    char tmp[64];
    if (len >= sizeof tmp) {
        snprintf(why, size, "expected a number, found '%s' (%zu characters)",
                 mlpcl__printable(f.start, 20, shown, sizeof shown), len);
        return -1;
    }
    memcpy(tmp, f.start, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    double x = strtod(tmp, &end);
    if (end != tmp + len || end == tmp) {
        snprintf(why, size, "expected a number, found '%s'",
                 mlpcl__printable(tmp, len, shown, sizeof shown));
        return -1;
    }
    if (isnan(x) || isinf(x)) {
        snprintf(why, size, "'%s' is not a finite number (NaN and Inf are not allowed)", tmp);
        return -1;
    }
    *v = x;
    return 0;
}

/* Whether strtod reads the whole field: a number, NaN and Inf included. */
static int reads_as_number(mlpcl__field f)
{
    size_t len = (size_t)(f.end - f.start);
    char tmp[64], *end;
    if (len == 0 || len >= sizeof tmp) return 0;
    memcpy(tmp, f.start, len);
    tmp[len] = '\0';
    strtod(tmp, &end);
    return end == tmp + len;
}

int mlpcl__csv_is_header(const mlpcl__csv *c)
{
    /* NaN and Inf count as numbers here, so that a first row "nan" is refused as a value, as
     * on any other row, instead of vanishing as a header. */
    for (size_t j = 0; j < c->n; ++j)
        if (reads_as_number(c->f[j])) return 0;
    return 1;
}

mlpcl_status mlpcl__note_beyond_float(char **note, const mlpcl__csv *c, size_t j, double v)
{
    if (*note || !(fabs(v) > FLT_MAX)) return MLPCL_OK;
    char shown[96];
    mlpcl__field f = c->f[j];
    mlpcl__printable(f.start, (size_t)(f.end - f.start), shown, sizeof shown);
    size_t len = strlen(c->path) + strlen(shown) + 64;
    if (!(*note = malloc(len)))
        return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", c->path);
    snprintf(*note, len, "%s:%zu:%zu: %s", c->path, c->line_no, mlpcl__csv_col(c, j), shown);
    return MLPCL_OK;
}

char *mlpcl__field_copy(mlpcl__field f)
{
    const char *s = f.start, *e = f.end;
    char *t = malloc((size_t)(e - s) + 1);
    if (!t) return NULL;
    memcpy(t, s, (size_t)(e - s));
    t[e - s] = '\0';
    return t;
}

char *mlpcl__field_text(mlpcl__field f)
{
    return mlpcl__field_copy(mlpcl__unquote(f));
}

void mlpcl_table_free(mlpcl_table *t)
{
    if (!t) return;
    if (t->names)
        for (size_t j = 0; j < t->cols; ++j) free(t->names[j]);
    free(t->names);
    free(t->v);
    free(t->beyond_float);
    memset(t, 0, sizeof *t);
}

/* Stores a header row's names, without surrounding quotes. */
static mlpcl_status keep_names(mlpcl_table *t, const mlpcl__csv *c)
{
    t->names = calloc(c->n, sizeof *t->names);
    if (!t->names) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", c->path);
    t->cols = c->n; /* so that mlpcl_table_free frees the names stored before a failure */
    for (size_t j = 0; j < c->n; ++j)
        if (!(t->names[j] = mlpcl__field_text(c->f[j])))
            return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", c->path);
    return MLPCL_OK;
}

mlpcl_status mlpcl_csv_read(const char *path, mlpcl_table *t)
{
    mlpcl_status st = MLPCL_OK;
    mlpcl__csv c;
    size_t cap_v = 0, cols = 0, first_line = 0;
    int first = 1, row;
    memset(t, 0, sizeof *t);
    TRY(mlpcl__csv_open(path, &c));
    for (;;) {
        TRY(mlpcl__csv_next(&c, &row));
        if (!row) break;
        size_t n = c.n;
        if (first) {
            first = 0;
            cols = n;
            first_line = c.line_no;
            if (mlpcl__csv_is_header(&c)) {
                TRY(keep_names(t, &c));
                t->cols = cols;
                continue;
            }
        }
        if (n != cols) {
            st = mlpcl__fail(MLPCL_ERR_DATA,
                             "%s:%zu: expected %zu columns (as in the %s on line %zu), found %zu",
                             path, c.line_no, cols, t->names ? "header" : "first row", first_line,
                             n);
            goto fail;
        }
        if (t->rows * cols + cols > cap_v) {
            size_t want = cap_v ? 2 * cap_v : 1024;
            while (want < t->rows * cols + cols) want *= 2;
            double *grown = realloc(t->v, want * sizeof *grown);
            if (!grown) {
                st = mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
                goto fail;
            }
            t->v = grown;
            cap_v = want;
        }
        for (size_t j = 0; j < n; ++j) {
            char why[160];
            double *v = &t->v[t->rows * cols + j];
            if (mlpcl__parse_number(c.f[j], v, why, sizeof why) != 0) {
                st = mlpcl__fail(MLPCL_ERR_DATA, "%s:%zu:%zu: %s", path, c.line_no,
                                 mlpcl__csv_col(&c, j), why);
                goto fail;
            }
            TRY(mlpcl__note_beyond_float(&t->beyond_float, &c, j, *v));
        }
        ++t->rows;
        t->cols = cols;
    }
    if (t->rows == 0) {
        st = mlpcl__fail(MLPCL_ERR_DATA, "%s: no data rows (%s)", path,
                         t->names ? "only a header" : "the file is empty");
        goto fail;
    }
    mlpcl__csv_close(&c);
    return MLPCL_OK;
fail:
    mlpcl__csv_close(&c);
    mlpcl_table_free(t);
    return st;
}

mlpcl_status mlpcl_csv_write(const char *path, const double *v, size_t rows, size_t cols)
{
    FILE *f = fopen(path, "w");
    if (!f) return mlpcl__fail(MLPCL_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    for (size_t i = 0; i < rows; ++i)
        for (size_t j = 0; j < cols; ++j)
            fprintf(f, "%.17g%c", mlpcl_at(v, cols, i, j), j + 1 < cols ? ',' : '\n');
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return mlpcl__fail(MLPCL_ERR_IO, "%s: write error", path);
    return MLPCL_OK;
}
