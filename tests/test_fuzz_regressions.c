// SPDX-License-Identifier: MIT
/* test_fuzz_regressions.c: replays the inputs kept for the fuzz harnesses, without libFuzzer:
 * fuzz/regressions/HARNESS/ (inputs that once crashed a loader or broke its contract, and
 * hand-made hostile files) and the seed corpora fuzz/corpus/HARNESS/, each through the same
 * harness body the fuzzer runs (fuzz/harness.h). Every one must end in success or in a clean
 * error; the sanitizer build turns a crash or a leak into a failure. No OpenCL device. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>

#include "check.h"
#include "harness.h"

#ifndef MLPCL_FUZZ_DIR
#error "MLPCL_FUZZ_DIR (the repository's fuzz folder) is set by tests/CMakeLists.txt"
#endif

static const struct {
    const char *name;
    int (*run)(const uint8_t *data, size_t size);
} harnesses[] = {{"csv", fuzz_csv}, {"idx", fuzz_idx}, {"model", fuzz_model}, {"cli", fuzz_cli}};

/* The bytes of path, in a new buffer (not NUL-terminated: inputs are binary). */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *grown = realloc(b, cap *= 2);
        if (!grown) free(b);
        b = grown;
    }
    fclose(f);
    *len = n;
    return b;
}

/* Replays every file of dir/kind/harness; returns how many there were. */
static size_t replay(const char *dir, const char *kind, size_t h)
{
    char folder[1024], path[2048];
    snprintf(folder, sizeof folder, "%s/%s/%s", dir, kind, harnesses[h].name);
    DIR *d = opendir(folder);
    if (!d) return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", folder, e->d_name);
        size_t len = 0;
        uint8_t *data = slurp(path, &len);
        CHECK(data, "cannot read %s", path);
        if (!data) continue;
        ++n;
        int bad = harnesses[h].run(data, len);
        CHECK(!bad, "%s: fuzz_%s found a broken contract (see the message above)", path,
              harnesses[h].name);
        free(data);
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : MLPCL_FUZZ_DIR;
    for (size_t h = 0; h < sizeof harnesses / sizeof *harnesses; ++h) {
        size_t kept = replay(dir, "regressions", h), seeds = replay(dir, "corpus", h);
        printf("fuzz_%s: %zu regression inputs, %zu seeds replayed\n", harnesses[h].name, kept,
               seeds);
        CHECK(kept > 0 && seeds > 0, "%s: no inputs for fuzz_%s (regressions/ and corpus/)", dir,
              harnesses[h].name);
    }
    return report("test_fuzz_regressions");
}
