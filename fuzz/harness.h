// SPDX-License-Identifier: MIT
/* harness.h: the fuzz harnesses' bodies and what they share. Each fuzz_*.c defines one body.
 * A harness executable is built with MLPCL_FUZZER set to its body's name, and harness.c then
 * defines libFuzzer's entry point calling it; without it the replay test
 * (tests/test_fuzz_regressions.c) calls the same bodies on saved inputs. */
#ifndef MLPCL_FUZZ_HARNESS_H
#define MLPCL_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "mlpcl.h"

/* The bodies. Each writes the input (or the files it describes) into the process's temporary
 * folder, runs it through its loader or parser, and checks the contract: success with a
 * well-formed result, or a clean failure (a loader's error status, a message naming the file,
 * the outputs zeroed). Returns 0 when so; else prints what was wrong on stderr and returns 1.
 * Frees everything it allocates. The input formats are described in each fuzz_*.c. */
int fuzz_csv(const uint8_t *data, size_t size);
int fuzz_idx(const uint8_t *data, size_t size);
int fuzz_model(const uint8_t *data, size_t size);
int fuzz_cli(const uint8_t *data, size_t size);

/* ---- Shared helpers (harness.c) ----------------------------------------------------------- */

/* "DIR/name" in buf, DIR being this process's temporary folder, created on first use (under
 * /dev/shm where it exists, else $TMPDIR or /tmp) and removed with its contents at exit. Exits
 * the process when the folder cannot be made. */
const char *fuzz_path(char *buf, size_t size, const char *name);
/* The temporary folder itself. */
const char *fuzz_dir(void);

/* Writes bytes to path, gzip-compressed through zlib when gz. Returns 0, or 1 (reported). */
int fuzz_write(const char *path, const void *bytes, size_t len, int gz);

/* Prints "fuzz: MESSAGE" on stderr and returns 1. */
int fuzz_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Checks a loader's failure: st is one of the statuses a loader may return on bad input
 * (MLPCL_ERR_DATA, _IO, _TOO_BIG, _NOMEM) and mlpcl_last_error() says something that names the
 * temporary folder (every loader names its file). Returns 0 when so, else reports and 1. */
int fuzz_clean_failure(const char *call, int st);

/* Whether len bytes at p are all zero (a zeroed output structure). */
int fuzz_all_zero(const void *p, size_t len);

/* Checks a data set a loader returned: at least one sample, feature and output; finite values;
 * with labels (labels != 0) every label a class and Y its one-hot row, else no labels and no
 * class names; class names distinct and sorted, or with like the same as like's (and like's
 * feature and output counts). Returns 0 when so, else reports and 1. */
int fuzz_check_dataset(const char *call, const mlpcl_dataset *d, int labels,
                       const mlpcl_dataset *like);

#endif
