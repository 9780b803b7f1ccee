// SPDX-License-Identifier: MIT
/* data.h: what the data readers share, private to the library: the CSV row reader of data.c,
 * which mlpcl_csv_read and csv_dataset.c both use, so that lines, fields, column numbers and
 * numbers are read the same way; and the limits, one-hot encoding and class names of
 * dataset.c, which csv_dataset.c and idx.c share. */
#ifndef MLPCL_DATA_H
#define MLPCL_DATA_H

#include <sys/types.h>

#include "internal.h"

/* ---- Input files (input.c) --------------------------------------------------------------- */

/* Caps on a text (CSV) file: its size, and the length of one line. Both are far above any
 * plausible table of numbers (2^31 values at most, MLPCL__MAX_VALUES) and stop a file that is
 * not one before its bytes are all read. */
#define MLPCL__MAX_TEXT ((size_t)16 << 30)
#define MLPCL__MAX_LINE ((size_t)16 << 20)

/* Opens path for reading if it is a regular file (a directory, named pipe or device is refused
 * by what it is, without blocking); *size is its size. */
mlpcl_status mlpcl__open_input(const char *path, int *fd, size_t *size);
/* "is a directory", "is a named pipe (FIFO), not a regular file", …: what mode is, for
 * messages. */
const char *mlpcl__file_kind(mode_t mode);
/* The bytes this process may still allocate: the least of MemAvailable + SwapFree and what is
 * left under RLIMIT_AS and RLIMIT_DATA (SIZE_MAX when none is known); *which names it. */
size_t mlpcl__memory_left(const char **which);
/* Fails (MLPCL_ERR_DATA, naming path and what) when bytes exceed mlpcl__memory_left; bytes up
 * to MLPCL__CHECKED_BYTES pass unchecked. */
#define MLPCL__CHECKED_BYTES ((size_t)64 << 20)
mlpcl_status mlpcl__check_memory(const char *path, size_t bytes, const char *what);
/* The n bytes at s for a message: control bytes (ESC, CR, …) written as \xNN, cut with "…" to
 * fit size (≥ 8) bytes with the NUL. Returns out. */
const char *mlpcl__printable(const char *s, size_t n, char *out, size_t size);

/* One field of a row: [start, end) with blanks trimmed. */
typedef struct mlpcl__field {
    const char *start, *end;
} mlpcl__field;

/* ---- CSV rows (data.c) ------------------------------------------------------------------- */

/* A CSV file held in memory, read one non-blank line at a time. Fields point into text, so they
 * stay valid until mlpcl__csv_close. */
typedef struct mlpcl__csv {
    const char *path;
    char *text;       /* the whole file, NUL-terminated */
    size_t len;       /* bytes in text */
    size_t next;      /* offset of the line after the current row */
    size_t line_no;   /* 1-based line number of the current row (blank lines count) */
    const char *line; /* the current row's first character, for column numbers */
    mlpcl__field *f;  /* the current row's fields */
    size_t n, cap;    /* fields in the current row; room in f */
} mlpcl__csv;

/* Reads the file at path into c (IO errors name the file). */
mlpcl_status mlpcl__csv_open(const char *path, mlpcl__csv *c);
/* Moves to the next non-blank line and splits it at commas. *row is 1 with a row in c->f,
 * 0 at the end of the file. */
mlpcl_status mlpcl__csv_next(mlpcl__csv *c, int *row);
void mlpcl__csv_close(mlpcl__csv *c);

/* The 1-based column (in bytes of the line) where field j of the current row starts. */
static inline size_t mlpcl__csv_col(const mlpcl__csv *c, size_t j)
{
    return (size_t)(c->f[j].start - c->line) + 1;
}

/* Parses a field as a finite number. Returns 0 on success, else writes what was wrong to why. */
int mlpcl__parse_number(mlpcl__field f, double *v, char *why, size_t size);
/* Whether the current row is a header: none of its fields reads as a number (NaN and Inf count
 * as numbers, to be refused as values). */
int mlpcl__csv_is_header(const mlpcl__csv *c);
/* Where a value float cannot hold (|v| > FLT_MAX) was read, when it is the first: *note (NULL
 * until then) becomes "FILE:LINE:COL: TEXT", field j of the current row. */
mlpcl_status mlpcl__note_beyond_float(char **note, const mlpcl__csv *c, size_t j, double v);
/* A field without surrounding double quotes, as header and class names are taken. */
static inline mlpcl__field mlpcl__unquote(mlpcl__field f)
{
    if (f.end - f.start >= 2 && *f.start == '"' && f.end[-1] == '"') ++f.start, --f.end;
    return f;
}
/* A NUL-terminated copy of a field as it is (mlpcl__field_copy), or without surrounding double
 * quotes (mlpcl__field_text); NULL when out of memory. Unquote once: a name stored unquoted is
 * copied, not unquoted again ("\"\"a\"\"" is the name "\"a\"", not "a"). */
char *mlpcl__field_copy(mlpcl__field f);
char *mlpcl__field_text(mlpcl__field f);

/* ---- Data sets (dataset.c) --------------------------------------------------------------- */

/* Plausibility caps, checked before anything is allocated: values in one matrix (samples ×
 * features, or samples × classes) and classes. */
#define MLPCL__MAX_VALUES  ((size_t)1 << 31)
#define MLPCL__MAX_CLASSES ((size_t)1 << 16)

/* Fills d->Y (n × n_out, allocated here) with one-hot rows of d->labels; path names the file in
 * a failure. */
mlpcl_status mlpcl__one_hot(mlpcl_dataset *d, const char *path);
/* Copies n class names into d->class_names (nothing when names is NULL), as a test set keeps
 * its training set's classes; path names the file in a failure. On failure what was copied is
 * left for mlpcl_dataset_free (d->n_out must then be n). */
mlpcl_status mlpcl__copy_names(mlpcl_dataset *d, char *const *names, size_t n, const char *path);

#endif
