// SPDX-License-Identifier: MIT
/* input.c: what every input file goes through before it is read: only regular files are opened
 * (and without blocking, so a named pipe cannot hang the command), their size and what a header
 * declares are held against the memory the process may have, and the file's bytes quoted in a
 * message are escaped. Shared by data.c (CSV) and idx.c (IDX) through data.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data.h"

const char *mlpcl__file_kind(mode_t mode)
{
    return S_ISDIR(mode)    ? "is a directory"
           : S_ISFIFO(mode) ? "is a named pipe (FIFO), not a regular file"
           : S_ISCHR(mode)  ? "is a character device, not a regular file"
           : S_ISBLK(mode)  ? "is a block device, not a regular file"
           : S_ISSOCK(mode) ? "is a socket, not a regular file"
           : S_ISREG(mode)  ? "is a regular file"
                            : "is not a regular file";
}

mlpcl_status mlpcl__open_input(const char *path, int *fd, size_t *size)
{
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, and a signal
     * (whose handler restarts system calls) could not end the wait. Regular files ignore it. */
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0) return mlpcl__fail(MLPCL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat s;
    int bad = fstat(*fd, &s) != 0 ? errno : 0;
    if (bad || !S_ISREG(s.st_mode)) {
        close(*fd);
        *fd = -1;
        return mlpcl__fail(MLPCL_ERR_IO, "%s: %s", path,
                           bad ? strerror(bad) : mlpcl__file_kind(s.st_mode));
    }
    int flags = fcntl(*fd, F_GETFL);
    if (flags >= 0) fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK);
    *size = (size_t)s.st_size;
    return MLPCL_OK;
}

/* A number from a "key: value kB" line of /proc/meminfo, in bytes; 0 when absent. */
static size_t meminfo(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    unsigned long long kb;
    if (!p || sscanf(p + strlen(key), " %llu", &kb) != 1) return 0;
    return kb > SIZE_MAX / 1024 ? SIZE_MAX : (size_t)kb * 1024;
}

/* Pages of the process's address space (field 0 of /proc/self/statm) and of its data (field 5). */
static int statm(size_t *vm, size_t *data)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long v[7];
    int n = f ? fscanf(f, "%llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5])
              : 0;
    if (f) fclose(f);
    if (n != 6) return -1;
    long page = sysconf(_SC_PAGESIZE);
    *vm = (size_t)v[0] * (size_t)(page > 0 ? page : 4096);
    *data = (size_t)v[5] * (size_t)(page > 0 ? page : 4096);
    return 0;
}

/* What is left under a resource limit, given what is used; SIZE_MAX when unlimited. */
static size_t left_under(int resource, size_t used)
{
    struct rlimit r;
    if (getrlimit(resource, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
    return (size_t)r.rlim_cur > used ? (size_t)r.rlim_cur - used : 0;
}

size_t mlpcl__memory_left(const char **which)
{
    size_t best = SIZE_MAX, vm = 0, data = 0;
    *which = "no limit known";
    char text[4096];
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        size_t avail = meminfo(text, "MemAvailable:");
        if (avail) {
            best = avail + meminfo(text, "SwapFree:");
            *which = "MemAvailable and SwapFree in /proc/meminfo";
        }
    }
    int known = statm(&vm, &data) == 0;
    size_t as = left_under(RLIMIT_AS, known ? vm : 0);
    if (as < best) best = as, *which = "the address-space limit (RLIMIT_AS, ulimit -v)";
    size_t ds = left_under(RLIMIT_DATA, known ? data : 0);
    if (ds < best) best = ds, *which = "the data-segment limit (RLIMIT_DATA, ulimit -d)";
    return best;
}

mlpcl_status mlpcl__check_memory(const char *path, size_t bytes, const char *what)
{
    /* Below this, a failed allocation says as much (MLPCL_ERR_NOMEM); the check is for what
     * a header or file declares, and reading /proc costs more than small inputs take. */
    if (bytes <= MLPCL__CHECKED_BYTES) return MLPCL_OK;
    const char *which;
    size_t left = mlpcl__memory_left(&which);
    if (bytes <= left) return MLPCL_OK;
    const double gib = 1024.0 * 1024.0 * 1024.0;
    return mlpcl__fail(MLPCL_ERR_DATA,
                       "%s: %s would take %.2f GiB of memory, more than the %.2f GiB this process "
                       "can have (%s)",
                       path, what, (double)bytes / gib, (double)left / gib, which);
}

const char *mlpcl__printable(const char *s, size_t n, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t used = 0;
    for (size_t i = 0; i < n; ++i) {
        unsigned char ch = (unsigned char)s[i];
        int control = ch < 32 || ch == 127;
        if (used + (control ? 4 : 1) + 4 > size) { /* room for this, "…" and the NUL */
            memcpy(out + used, "…", 3);
            used += 3;
            break;
        }
        if (control) {
            out[used++] = '\\', out[used++] = 'x';
            out[used++] = hex[ch >> 4], out[used++] = hex[ch & 15];
        } else {
            out[used++] = (char)ch;
        }
    }
    out[used] = '\0';
    return out;
}
