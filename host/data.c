/* data.c: CSV tables of numbers, read strictly: every failure names the file, the line and the
 * column, and what was expected. Plain C, no OpenCL. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Reads a whole file into a NUL-terminated buffer. */
static mlpcl_status slurp(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return mlpcl__fail(MLPCL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory reading it", path);
        }
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        char *grown = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap *= 2);
        if (!grown) free(buf);
        buf = grown;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return mlpcl__fail(MLPCL_ERR_IO, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return MLPCL_OK;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* One field of a line: [start, end) with blanks trimmed. */
typedef struct field {
    const char *start, *end;
} field;

/* Splits [line, eol) at commas. Returns the field count; stores at most cap fields. */
static size_t split(const char *line, const char *eol, field *f, size_t cap)
{
    size_t n = 0;
    const char *p = line;
    for (;;) {
        const char *q = p;
        while (q < eol && *q != ',') ++q;
        const char *s = p, *e = q;
        while (s < e && is_blank(*s)) ++s;
        while (e > s && is_blank(e[-1])) --e;
        if (n < cap) f[n] = (field){s, e};
        ++n;
        if (q >= eol) break;
        p = q + 1;
    }
    return n;
}

/* Parses a field as a finite number. Returns 0 on success, else writes what was wrong. */
static int parse_number(field f, double *v, char *why, size_t size)
{
    size_t len = (size_t)(f.end - f.start);
    if (len == 0) {
        snprintf(why, size, "expected a number, found an empty field");
        return -1;
    }
    char tmp[64];
    if (len >= sizeof tmp) {
        snprintf(why, size, "expected a number, found '%.20s…' (%zu characters)", f.start, len);
        return -1;
    }
    memcpy(tmp, f.start, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    double x = strtod(tmp, &end);
    if (end != tmp + len || end == tmp) {
        snprintf(why, size, "expected a number, found '%s'", tmp);
        return -1;
    }
    if (isnan(x) || isinf(x)) {
        snprintf(why, size, "'%s' is not a finite number (NaN and Inf are not allowed)", tmp);
        return -1;
    }
    *v = x;
    return 0;
}

void mlpcl_table_free(mlpcl_table *t)
{
    if (!t) return;
    if (t->names)
        for (size_t j = 0; j < t->cols; ++j) free(t->names[j]);
    free(t->names);
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* Stores a header row's names, without surrounding quotes. */
static mlpcl_status keep_names(mlpcl_table *t, const field *f, size_t n, const char *path)
{
    t->names = calloc(n, sizeof *t->names);
    if (!t->names) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
    for (size_t j = 0; j < n; ++j) {
        const char *s = f[j].start, *e = f[j].end;
        if (e - s >= 2 && *s == '"' && e[-1] == '"') ++s, --e;
        t->names[j] = malloc((size_t)(e - s) + 1);
        if (!t->names[j]) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
        memcpy(t->names[j], s, (size_t)(e - s));
        t->names[j][e - s] = '\0';
    }
    return MLPCL_OK;
}

mlpcl_status mlpcl_csv_read(const char *path, mlpcl_table *t)
{
    mlpcl_status st = MLPCL_OK;
    char *text = NULL;
    size_t len = 0, cap_fields = 16, cap_v = 0;
    field *f = NULL;
    memset(t, 0, sizeof *t);
    TRY(slurp(path, &text, &len));
    f = malloc(cap_fields * sizeof *f);
    if (!f) goto nomem;
    size_t line_no = 0, cols = 0;
    int first = 1;
    for (const char *line = text; line < text + len;) {
        const char *eol = memchr(line, '\n', (size_t)(text + len - line));
        if (!eol) eol = text + len;
        ++line_no;
        const char *p = line;
        while (p < eol && is_blank(*p)) ++p;
        if (p == eol) { /* blank line */
            line = eol + 1;
            continue;
        }
        size_t n = split(line, eol, f, cap_fields);
        if (n > cap_fields) {
            field *grown = realloc(f, n * sizeof *f);
            if (!grown) goto nomem;
            f = grown;
            cap_fields = n;
            split(line, eol, f, cap_fields);
        }
        if (first) {
            first = 0;
            cols = n;
            /* A header row: no field of it is a number. */
            int header = 1;
            char why[160];
            double v;
            for (size_t j = 0; j < n && header; ++j)
                if (parse_number(f[j], &v, why, sizeof why) == 0) header = 0;
            if (header) {
                TRY(keep_names(t, f, n, path));
                t->cols = cols;
                line = eol + 1;
                continue;
            }
        }
        if (n != cols) {
            st = mlpcl__fail(MLPCL_ERR_DATA,
                             "%s:%zu: expected %zu columns (as in line %s), found %zu", path,
                             line_no, cols, t->names ? "the header" : "the first row", n);
            goto fail;
        }
        if (t->rows * cols + cols > cap_v) {
            size_t want = cap_v ? 2 * cap_v : 1024;
            while (want < t->rows * cols + cols) want *= 2;
            double *grown = realloc(t->v, want * sizeof *grown);
            if (!grown) goto nomem;
            t->v = grown;
            cap_v = want;
        }
        for (size_t j = 0; j < n; ++j) {
            char why[160];
            if (parse_number(f[j], &t->v[t->rows * cols + j], why, sizeof why) != 0) {
                st = mlpcl__fail(MLPCL_ERR_DATA, "%s:%zu:%zu: %s", path, line_no,
                                 (size_t)(f[j].start - line) + 1, why);
                goto fail;
            }
        }
        ++t->rows;
        t->cols = cols;
        line = eol + 1;
    }
    if (t->rows == 0) {
        st = mlpcl__fail(MLPCL_ERR_DATA, "%s: no data rows (%s)", path,
                         t->names ? "only a header" : "the file is empty");
        goto fail;
    }
    free(f);
    free(text);
    return MLPCL_OK;
nomem:
    st = mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
fail:
    free(f);
    free(text);
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
