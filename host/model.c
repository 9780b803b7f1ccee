/* model.c: trained networks on disk as safetensors files (github.com/huggingface/safetensors):
 * an 8-byte little-endian header length N, N bytes of JSON giving each tensor's dtype, shape and
 * byte range plus string metadata, then the tensors' raw little-endian values. Saving is atomic;
 * loading checks every field and names the file, the item and, where one applies, the byte.
 * Bytes are assembled explicitly, so big-endian hosts read and write the same files (IEEE-754
 * floats whose byte order matches the integers' are assumed, as on every current platform). */
#define _POSIX_C_SOURCE   200809L
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "internal.h"

enum {
    HEADER_MAX = 100000000, /* bytes: a longer JSON header is refused as absurd */
    WIDTH_MAX = 1000000,    /* units in one layer */
    LAYERS_MAX = 10000,     /* weight layers */
    CHUNK = 8192,           /* values converted per fread/fwrite */
};

/* One tensor of a model file. Slots, in the order save writes them: layers.l.weight at
 * 2(l−1), layers.l.bias at 2(l−1)+1, then norm.mean, norm.std and train.velocity. */
typedef struct tensor {
    char name[48];
    mlpcl_precision dtype; /* MLPCL_FLOAT (F32) or MLPCL_DOUBLE (F64); also its size in bytes */
    size_t rank, shape[2], count;
    const double *src;   /* save: the values */
    double *dst;         /* load: where the values go */
    uint64_t begin, end; /* data_offsets: bytes from the start of the data section */
    int present;         /* load: the header names it */
} tensor;

#define SLOT_MEAN(L)     (2 * (L))
#define SLOT_STD(L)      (2 * (L) + 1)
#define SLOT_VELOCITY(L) (2 * (L) + 2)
#define N_SLOTS(L)       (2 * (L) + 3)

/* Names, shapes and counts of every slot, from the network's widths. */
static void slots_setup(const mlpcl_net *net, tensor *t)
{
    size_t L = net->L;
    for (size_t l = 1; l <= L; ++l) {
        tensor *w = &t[2 * (l - 1)], *b = w + 1;
        snprintf(w->name, sizeof w->name, "layers.%zu.weight", l);
        w->rank = 2;
        w->shape[0] = net->width[l - 1];
        w->shape[1] = net->width[l];
        w->count = mlpcl__weights(net, l);
        snprintf(b->name, sizeof b->name, "layers.%zu.bias", l);
        b->rank = 1;
        b->shape[0] = b->count = net->width[l];
    }
    static const char *const extra[3] = {"norm.mean", "norm.std", "train.velocity"};
    for (size_t i = 0; i < 3; ++i) {
        tensor *x = &t[SLOT_MEAN(L) + i];
        snprintf(x->name, sizeof x->name, "%s", extra[i]);
        x->rank = 1;
        x->shape[0] = x->count = i < 2 ? net->width[0] : mlpcl_net_n_params(net);
    }
}

/* The slot of a tensor name, or SIZE_MAX for a name mlpcl does not write. */
static size_t slot_of(const char *name, size_t L)
{
    if (!strcmp(name, "norm.mean")) return SLOT_MEAN(L);
    if (!strcmp(name, "norm.std")) return SLOT_STD(L);
    if (!strcmp(name, "train.velocity")) return SLOT_VELOCITY(L);
    if (strncmp(name, "layers.", 7)) return SIZE_MAX;
    const char *p = name + 7;
    if (*p < '1' || *p > '9') return SIZE_MAX; /* no sign, no leading zero */
    size_t l = 0;
    for (; *p >= '0' && *p <= '9'; ++p) {
        l = 10 * l + (size_t)(*p - '0');
        if (l > L) return SIZE_MAX;
    }
    if (!strcmp(p, ".weight")) return 2 * (l - 1);
    if (!strcmp(p, ".bias")) return 2 * (l - 1) + 1;
    return SIZE_MAX;
}

static const char *dtype_name(mlpcl_precision p)
{
    return p == MLPCL_FLOAT ? "F32" : "F64";
}

static const char *act_names[] = {
    [MLPCL_SIGMOID] = "sigmoid", [MLPCL_TANH] = "tanh", [MLPCL_RELU] = "relu"};

/* The index of the first byte of s[0, n) that is not valid UTF-8 (overlong forms, surrogates
 * and code points past U+10FFFF included), or n when it is all valid. */
static size_t utf8_bad_at(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], cp, min;
        size_t len;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xe0) == 0xc0)
            len = 2, min = 0x80, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
            len = 3, min = 0x800, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
            len = 4, min = 0x10000, cp = c & 0x07;
        else
            return i;
        if (n - i < len) return i;
        for (size_t k = 1; k < len; ++k) {
            if ((s[i + k] & 0xc0) != 0x80) return i;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
        i += len;
    }
    return n;
}

/* ---- Values as little-endian bytes -------------------------------------------------------- */

static void encode(double x, mlpcl_precision p, unsigned char *out)
{
    uint64_t u = 0;
    if (p == MLPCL_FLOAT) {
        float f = (float)x;
        uint32_t u32;
        memcpy(&u32, &f, 4);
        u = u32;
    } else {
        memcpy(&u, &x, 8);
    }
    for (size_t i = 0; i < (size_t)p; ++i) out[i] = (unsigned char)(u >> (8 * i));
}

static double decode(const unsigned char *in, mlpcl_precision p)
{
    uint64_t u = 0;
    for (size_t i = 0; i < (size_t)p; ++i) u |= (uint64_t)in[i] << (8 * i);
    if (p == MLPCL_FLOAT) {
        uint32_t u32 = (uint32_t)u;
        float f;
        memcpy(&f, &u32, 4);
        return f;
    }
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* ---- Saving ------------------------------------------------------------------------------- */

/* Refuses values a loader would reject: NaN, Inf, and for F32 magnitudes beyond FLT_MAX. */
static mlpcl_status check_values(const char *path, const char *name, const double *v, size_t n,
                                 mlpcl_precision p)
{
    for (size_t i = 0; i < n; ++i)
        if (!isfinite(v[i]) || (p == MLPCL_FLOAT && fabs(v[i]) > FLT_MAX))
            return mlpcl__fail(MLPCL_ERR_ARG, "%s: cannot save %s[%zu] = %g as %s", path, name, i,
                               v[i], dtype_name(p));
    return MLPCL_OK;
}

static int add_number(cJSON *array, double v)
{
    cJSON *n = cJSON_CreateNumber(v);
    if (n && cJSON_AddItemToArray(array, n)) return 1;
    cJSON_Delete(n);
    return 0;
}

/* Adds t's entry to the header; 0 when out of memory (cJSON's adders accept NULL parents). */
static int add_tensor(cJSON *root, const tensor *t)
{
    cJSON *o = cJSON_AddObjectToObject(root, t->name);
    if (!cJSON_AddStringToObject(o, "dtype", dtype_name(t->dtype))) return 0;
    cJSON *shape = cJSON_AddArrayToObject(o, "shape");
    for (size_t i = 0; i < t->rank; ++i)
        if (!add_number(shape, (double)t->shape[i])) return 0;
    cJSON *offsets = cJSON_AddArrayToObject(o, "data_offsets");
    return add_number(offsets, (double)t->begin) && add_number(offsets, (double)t->end);
}

/* The metadata strings "784,256,10" and "relu,sigmoid" (malloc'd), or NULL when out of memory. */
static char *join_widths(const mlpcl_net *net)
{
    char *s = malloc((net->L + 1) * 21), *p = s;
    if (!s) return NULL;
    for (size_t l = 0; l <= net->L; ++l) p += sprintf(p, l ? ",%zu" : "%zu", net->width[l]);
    return s;
}

static char *join_acts(const mlpcl_net *net)
{
    char *s = malloc(net->L * 8 + 1), *p = s;
    if (!s) return NULL;
    for (size_t l = 1; l <= net->L; ++l)
        p += sprintf(p, l > 1 ? ",%s" : "%s", act_names[net->act[l]]);
    return s;
}

/* The JSON header, padded with spaces to a multiple of 8 bytes so that the data section is
 * 8-byte aligned (as the reference implementation does). */
static mlpcl_status build_header(const char *path, const mlpcl_net *net,
                                 const mlpcl_model_info *info, const tensor *t, size_t nt,
                                 char **out, size_t *len)
{
    char num[4][24], *widths = join_widths(net), *acts = join_acts(net), *classes = NULL;
    snprintf(num[0], sizeof num[0], "%" PRIu64, info->seed);
    snprintf(num[1], sizeof num[1], "%ld", info->epoch);
    snprintf(num[2], sizeof num[2], "%ld", info->iteration);
    snprintf(num[3], sizeof num[3], "%ld", info->batch);
    if (info->class_names) {
        cJSON *a = cJSON_CreateStringArray((const char *const *)info->class_names,
                                           (int)net->width[net->L]);
        classes = cJSON_PrintUnformatted(a);
        cJSON_Delete(a);
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    int ok = widths && acts && (classes || !info->class_names) &&
             cJSON_AddStringToObject(meta, "format", "mlpcl") &&
             cJSON_AddStringToObject(meta, "version", MLPCL_VERSION) &&
             cJSON_AddStringToObject(meta, "layers", widths) &&
             cJSON_AddStringToObject(meta, "activations", acts) &&
             cJSON_AddStringToObject(meta, "loss", net->loss == MLPCL_CE ? "ce" : "mse") &&
             cJSON_AddStringToObject(meta, "seed", num[0]) &&
             cJSON_AddStringToObject(meta, "device", info->device) &&
             cJSON_AddStringToObject(meta, "epoch", num[1]) &&
             cJSON_AddStringToObject(meta, "batch", num[3]) &&
             cJSON_AddStringToObject(meta, "iteration", num[2]) &&
             (!classes || cJSON_AddStringToObject(meta, "class_names", classes));
    for (size_t i = 0; ok && i < nt; ++i)
        if (t[i].src) ok = add_tensor(root, &t[i]);
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    free(widths);
    free(acts);
    free(classes);
    if (!json) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory for the header", path);
    size_t n = strlen(json), padded = n + (8 - n % 8) % 8;
    if (padded > HEADER_MAX) {
        free(json);
        return mlpcl__fail(MLPCL_ERR_TOO_BIG, "%s: the header would be %zu bytes (at most %d)",
                           path, padded, HEADER_MAX);
    }
    char *h = realloc(json, padded);
    if (!h) {
        free(json);
        return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory for the header", path);
    }
    memset(h + n, ' ', padded - n);
    *out = h;
    *len = padded;
    return MLPCL_OK;
}

/* Writes the whole file to f; returns 0, or -1 with errno set. */
static int write_all(FILE *f, const char *header, size_t hlen, const tensor *t, size_t nt,
                     unsigned char *buf)
{
    unsigned char len[8];
    for (size_t i = 0; i < 8; ++i) len[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    if (fwrite(len, 1, 8, f) != 8 || fwrite(header, 1, hlen, f) != hlen) return -1;
    for (size_t k = 0; k < nt; ++k) {
        if (!t[k].src) continue;
        for (size_t i = 0; i < t[k].count; i += CHUNK) {
            size_t n = t[k].count - i < CHUNK ? t[k].count - i : CHUNK, size = t[k].dtype;
            for (size_t j = 0; j < n; ++j) encode(t[k].src[i + j], t[k].dtype, buf + j * size);
            if (fwrite(buf, size, n, f) != n) return -1;
        }
    }
    return fflush(f) || fsync(fileno(f)) ? -1 : 0;
}

/* Writes to PATH.tmp.XXXXXX in the same folder, flushes it to disk and renames it over path.
 * On failure the temporary is removed and path is untouched. */
static mlpcl_status write_atomic(const char *path, const char *header, size_t hlen, const tensor *t,
                                 size_t nt)
{
    static const char suffix[] = ".tmp.XXXXXX";
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof suffix);
    unsigned char *buf = malloc((size_t)CHUNK * 8);
    if (!tmp || !buf) {
        free(tmp);
        free(buf);
        return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof suffix);
    mlpcl_status st = MLPCL_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = mlpcl__fail(MLPCL_ERR_IO, "%s: cannot create a temporary file %s: %s", path, tmp,
                         strerror(errno));
        goto done;
    }
    /* mkstemp makes the file 0600: give it the mode of the file it replaces, else 0644. */
    struct stat old;
    mode_t mode = stat(path, &old) == 0 ? old.st_mode & 07777 : 0644;
    FILE *f = fchmod(fd, mode) == 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        st = mlpcl__fail(MLPCL_ERR_IO, "%s: cannot open the temporary file %s: %s", path, tmp,
                         strerror(errno));
        close(fd);
        unlink(tmp);
        goto done;
    }
    errno = 0;
    int bad = write_all(f, header, hlen, t, nt, buf);
    int err = errno;
    if (fclose(f) && !bad) bad = 1, err = errno;
    if (bad) {
        st = mlpcl__fail(MLPCL_ERR_IO, "%s: cannot write the temporary file %s: %s", path, tmp,
                         err ? strerror(err) : "write error");
        unlink(tmp);
        goto done;
    }
    if (rename(tmp, path)) {
        st = mlpcl__fail(MLPCL_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp,
                         strerror(errno));
        unlink(tmp);
        goto done;
    }
    /* Make the rename itself durable. Best effort: some file systems refuse to sync a folder,
     * and the new file is in place either way. */
    char *slash = strrchr(tmp, '/');
    if (slash == tmp)
        tmp[1] = '\0'; /* "/" */
    else if (slash)
        *slash = '\0';
    int dfd = open(slash ? tmp : ".", O_RDONLY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
done:
    free(tmp);
    free(buf);
    return st;
}

mlpcl_status mlpcl_model_save(const char *path, const mlpcl_net *net, const mlpcl_model_info *info)
{
    if (!path || !*path || !net || !info)
        return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_model_save: path, net and info are required");
    if (info->dtype != MLPCL_FLOAT && info->dtype != MLPCL_DOUBLE)
        return mlpcl__fail(MLPCL_ERR_ARG, "%s: unknown dtype %d (MLPCL_FLOAT or MLPCL_DOUBLE)",
                           path, (int)info->dtype);
    /* What the loader would refuse is refused here, so that every saved file loads. */
    if (net->L > LAYERS_MAX)
        return mlpcl__fail(MLPCL_ERR_ARG, "%s: %zu layers; model files hold at most %d", path,
                           net->L, LAYERS_MAX);
    for (size_t l = 0; l <= net->L; ++l)
        if (net->width[l] > WIDTH_MAX)
            return mlpcl__fail(MLPCL_ERR_ARG, "%s: layer %zu has %zu units; at most %d", path, l,
                               net->width[l], WIDTH_MAX);
    const mlpcl_norm *norm = &info->norm;
    if (norm->n && (norm->n != net->width[0] || !norm->mean || !norm->std))
        return mlpcl__fail(MLPCL_ERR_ARG, "%s: norm has %zu features, the network %zu inputs", path,
                           norm->n, net->width[0]);
    for (size_t i = 0; i < norm->n; ++i)
        if (!isfinite(norm->mean[i]) || !isfinite(norm->std[i]) || !(norm->std[i] > 0))
            return mlpcl__fail(MLPCL_ERR_ARG,
                               "%s: norm.mean[%zu] = %g, norm.std[%zu] = %g (a "
                               "finite mean and a finite std > 0 needed)",
                               path, i, norm->mean[i], i, norm->std[i]);
    /* The header is UTF-8 JSON: the strings that go into it must be UTF-8. */
    if (info->class_names)
        for (size_t j = 0; j < net->width[net->L]; ++j) {
            const char *c = info->class_names[j];
            if (!c || utf8_bad_at(c, strlen(c)) != strlen(c))
                return mlpcl__fail(MLPCL_ERR_ARG, "%s: class_names[%zu] is %s", path, j,
                                   c ? "not valid UTF-8" : "NULL");
        }
    const char *end = memchr(info->device, '\0', sizeof info->device);
    if (!end ||
        utf8_bad_at(info->device, (size_t)(end - info->device)) != (size_t)(end - info->device))
        return mlpcl__fail(MLPCL_ERR_ARG, "%s: info->device is %s", path,
                           end ? "not valid UTF-8" : "not NUL-terminated");
    if (info->epoch < 0 || info->batch < 0 || info->iteration < 0)
        return mlpcl__fail(MLPCL_ERR_ARG, "%s: epoch %ld, batch %ld and iteration %ld must be ≥ 0",
                           path, info->epoch, info->batch, info->iteration);

    size_t L = net->L, nt = N_SLOTS(L);
    tensor *t = calloc(nt, sizeof *t);
    if (!t) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
    slots_setup(net, t);
    for (size_t l = 1; l <= L; ++l) {
        t[2 * (l - 1)].src = net->params + net->offset[l];
        t[2 * (l - 1) + 1].src = net->params + net->offset[l] + mlpcl__weights(net, l);
    }
    t[SLOT_MEAN(L)].src = norm->n ? norm->mean : NULL;
    t[SLOT_STD(L)].src = norm->n ? norm->std : NULL;
    t[SLOT_VELOCITY(L)].src = info->velocity;
    mlpcl_status st = MLPCL_OK;
    uint64_t at = 0;
    for (size_t i = 0; i < nt; ++i) {
        t[i].dtype = i == SLOT_MEAN(L) || i == SLOT_STD(L) ? MLPCL_DOUBLE : info->dtype;
        if (!t[i].src) continue;
        st = check_values(path, t[i].name, t[i].src, t[i].count, t[i].dtype);
        if (st != MLPCL_OK) goto done;
        t[i].begin = at;
        t[i].end = at += (uint64_t)t[i].count * (uint64_t)t[i].dtype; /* < 2^35: no overflow */
    }
    char *header = NULL;
    size_t hlen = 0;
    st = build_header(path, net, info, t, nt, &header, &hlen);
    if (st == MLPCL_OK) st = write_atomic(path, header, hlen, t, nt);
    free(header);
done:
    free(t);
    return st;
}

/* ---- Loading ------------------------------------------------------------------------------ */

/* A printable excerpt of up to 24 bytes at p (at most n), for messages. */
static void excerpt(const char *p, size_t n, char out[32])
{
    size_t i = 0;
    for (; i < n && i < 24; ++i) out[i] = p[i] >= 32 && p[i] < 127 ? p[i] : '?';
    out[i] = '\0';
}

/* A decimal number of [s, s+n): digits only, at most max. Returns 0 on success. */
static int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0) return -1;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10) return -1;
        v = 10 * v + d;
    }
    *out = v;
    return 0;
}

/* A JSON number that is a whole number in 0 … 2^53 (where doubles are exact). */
static int json_uint(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item)) return -1;
    double v = item->valuedouble;
    if (!(v >= 0 && v <= 9007199254740992.0) || v != floor(v)) return -1;
    *out = (uint64_t)v;
    return 0;
}

/* The string value of a metadata key, or NULL when absent. A key given twice is an error. */
static mlpcl_status meta_get(const char *path, const cJSON *meta, const char *key, int required,
                             const char **out)
{
    *out = NULL;
    for (const cJSON *c = meta->child; c; c = c->next) {
        if (strcmp(c->string, key)) continue;
        if (*out)
            return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ has \"%s\" twice", path, key);
        *out = c->valuestring;
    }
    if (!*out && required)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ has no \"%s\"", path, key);
    return MLPCL_OK;
}

/* Reads a metadata number (digits only, at most max). */
/* A whole-number metadata value; an optional one that is absent reads as 0. */
static mlpcl_status meta_uint(const char *path, const cJSON *meta, const char *key, int required,
                              uint64_t max, uint64_t *out)
{
    const char *s;
    mlpcl_status st = meta_get(path, meta, key, required, &s);
    if (st != MLPCL_OK) return st;
    if (!s) {
        *out = 0;
        return MLPCL_OK;
    }
    if (parse_uint(s, strlen(s), max, out))
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: __metadata__ %s \"%.40s\" is not a whole number "
                           "in 0 … %" PRIu64,
                           path, key, s, max);
    return MLPCL_OK;
}

/* Creates the network that the metadata's layers, activations and loss describe, once the data
 * section (data_len bytes) is known to be big enough for its parameters, so that a short file
 * cannot make the loader allocate what its header claims. */
static mlpcl_status meta_net(const char *path, const cJSON *meta, uint64_t data_len,
                             mlpcl_net **out)
{
    const char *layers, *acts, *loss;
    mlpcl_status st;
    if ((st = meta_get(path, meta, "layers", 1, &layers)) ||
        (st = meta_get(path, meta, "activations", 1, &acts)) ||
        (st = meta_get(path, meta, "loss", 1, &loss)))
        return st;
    size_t n = 1;
    for (const char *p = layers; *p && n <= LAYERS_MAX + 1; ++p) n += *p == ',';
    if (n < 2 || n > LAYERS_MAX + 1)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ layers \"%.80s\": %s", path, layers,
                           n < 2 ? "needs at least 2 widths, the inputs and the outputs"
                                 : "more than 10000 layers");
    size_t *widths = malloc(n * sizeof *widths);
    if (!widths) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
    const char *p = layers;
    for (size_t i = 0; i < n; ++i) {
        size_t len = strcspn(p, ",");
        uint64_t w;
        if (parse_uint(p, len, WIDTH_MAX, &w) || w < 1) {
            free(widths);
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s: __metadata__ layers \"%.80s\": item %zu "
                               "\"%.*s\" is not a whole number in 1 … %d",
                               path, layers, i + 1, (int)(len < 40 ? len : 40), p, WIDTH_MAX);
        }
        widths[i] = (size_t)w;
        p += len + 1;
    }
    /* Each parameter takes at least 4 bytes (F32). The count fits in 64 bits (at most 10000
     * layers of (10^6 + 1)·10^6); beyond INT32_MAX mlpcl_net_create refuses it, unallocated. */
    uint64_t params = 0;
    for (size_t i = 1; i < n; ++i) params += ((uint64_t)widths[i - 1] + 1) * widths[i];
    if (params <= INT32_MAX && params > data_len / 4) {
        free(widths);
        return mlpcl__fail(
            MLPCL_ERR_DATA,
            "%s: __metadata__ layers \"%.80s\" has %" PRIu64 " parameters, at least %" PRIu64
            " bytes: they would run past the end of the data section (%" PRIu64 " bytes)",
            path, layers, params, 4 * params, data_len);
    }
    st = mlpcl_net_create(n - 1, widths, out);
    free(widths);
    if (st == MLPCL_ERR_ARG || st == MLPCL_ERR_TOO_BIG) {
        char why[256];
        snprintf(why, sizeof why, "%s", mlpcl_last_error());
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ layers \"%.80s\": %s", path, layers,
                           why);
    }
    if (st != MLPCL_OK) return st;
    mlpcl_net *net = *out;
    size_t L = net->L, count = 1;
    for (const char *q = acts; *q; ++q) count += *q == ',';
    if (count != L) {
        st = mlpcl__fail(MLPCL_ERR_DATA,
                         "%s: __metadata__ activations \"%.80s\" has %zu "
                         "entries; layers \"%.80s\" has %zu layers",
                         path, acts, count, layers, L);
        goto fail;
    }
    p = acts;
    for (size_t l = 1; l <= L; ++l) {
        size_t len = strcspn(p, ","), a = 0;
        while (a < 3 && (strlen(act_names[a]) != len || strncmp(p, act_names[a], len))) ++a;
        if (a == 3) {
            st = mlpcl__fail(MLPCL_ERR_DATA,
                             "%s: __metadata__ activations: layer %zu's \"%.*s\" "
                             "is not sigmoid, tanh or relu",
                             path, l, (int)(len < 40 ? len : 40), p);
            goto fail;
        }
        net->act[l] = (mlpcl_act)a;
        p += len + 1;
    }
    if (strcmp(loss, "mse") && strcmp(loss, "ce")) {
        st = mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ loss \"%.40s\" is not mse or ce", path,
                         loss);
        goto fail;
    }
    net->loss = strcmp(loss, "ce") ? MLPCL_MSE : MLPCL_CE;
    return MLPCL_OK;
fail:
    mlpcl_net_free(net);
    *out = NULL;
    return st;
}

/* The rest of the metadata: format (checked first, by the caller), version, seed, device,
 * epoch, iteration and the optional class_names (a JSON array of n_out strings). */
static mlpcl_status meta_info(const char *path, const cJSON *meta, size_t n_out,
                              mlpcl_model_info *info)
{
    const char *version, *device, *classes;
    uint64_t seed, epoch, batch, iteration;
    mlpcl_status st;
    if ((st = meta_get(path, meta, "version", 1, &version)) ||
        (st = meta_get(path, meta, "device", 1, &device)) ||
        (st = meta_uint(path, meta, "seed", 1, UINT64_MAX, &seed)) ||
        (st = meta_uint(path, meta, "epoch", 1, LONG_MAX, &epoch)) ||
        (st = meta_uint(path, meta, "batch", 0, LONG_MAX, &batch)) ||
        (st = meta_uint(path, meta, "iteration", 1, LONG_MAX, &iteration)) ||
        (st = meta_get(path, meta, "class_names", 0, &classes)))
        return st;
    if (strlen(version) >= sizeof info->version)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ version is longer than %zu bytes",
                           path, sizeof info->version - 1);
    if (strlen(device) >= sizeof info->device)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ device is longer than %zu bytes", path,
                           sizeof info->device - 1);
    strcpy(info->version, version);
    strcpy(info->device, device);
    info->seed = seed;
    info->epoch = (long)epoch;
    info->batch = (long)batch;
    info->iteration = (long)iteration;
    if (!classes) return MLPCL_OK;
    cJSON *a = cJSON_ParseWithOpts(classes, NULL, 1); /* nothing may follow the array */
    size_t n = cJSON_IsArray(a) ? (size_t)cJSON_GetArraySize(a) : 0;
    int strings = cJSON_IsArray(a);
    for (const cJSON *c = a ? a->child : NULL; c; c = c->next) strings &= cJSON_IsString(c);
    if (!strings || n != n_out) {
        cJSON_Delete(a);
        if (!strings)
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s: __metadata__ class_names \"%.40s\" is not a "
                               "JSON array of strings",
                               path, classes);
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: __metadata__ class_names has %zu names; the "
                           "network has %zu outputs",
                           path, n, n_out);
    }
    /* NULL-terminated, so that mlpcl_model_info_free can free it without the count. */
    info->class_names = calloc(n + 1, sizeof *info->class_names);
    size_t i = 0;
    for (const cJSON *c = a->child; info->class_names && c; c = c->next, ++i)
        if (!(info->class_names[i] = strdup(c->valuestring))) break;
    cJSON_Delete(a);
    if (!info->class_names || i < n)
        return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory for class names", path);
    return MLPCL_OK;
}

/* The shape of a tensor entry as written, for messages: "[5, 3]". */
static void json_shape(const cJSON *shape, char *out, size_t size)
{
    size_t at = (size_t)snprintf(out, size, "[");
    for (const cJSON *c = shape->child; c && at < size; c = c->next)
        at += (size_t)snprintf(out + at, size - at, "%s%.17g", c == shape->child ? "" : ", ",
                               cJSON_IsNumber(c) ? c->valuedouble : NAN);
    if (at < size) snprintf(out + at, size - at, "]");
}

/* Checks one tensor entry {"dtype", "shape", "data_offsets"} against its slot; records its
 * dtype and offsets. */
static mlpcl_status parse_entry(const char *path, const cJSON *e, const char *layers, tensor *t)
{
    if (!cJSON_IsObject(e))
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: tensor %s: entry is not a JSON object", path,
                           t->name);
    const cJSON *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (const cJSON *c = e->child; c; c = c->next) {
        const cJSON **which = !strcmp(c->string, "dtype")          ? &dtype
                              : !strcmp(c->string, "shape")        ? &shape
                              : !strcmp(c->string, "data_offsets") ? &offsets
                                                                   : NULL;
        if (!which || *which)
            return mlpcl__fail(MLPCL_ERR_DATA, "%s: tensor %s: %s key \"%.40s\"", path, t->name,
                               which ? "repeated" : "unknown", c->string);
        *which = c;
    }
    if (!dtype || !shape || !offsets)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: tensor %s has no \"%s\"", path, t->name,
                           !dtype   ? "dtype"
                           : !shape ? "shape"
                                    : "data_offsets");
    if (!cJSON_IsString(dtype) ||
        (strcmp(dtype->valuestring, "F32") && strcmp(dtype->valuestring, "F64"))) {
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: tensor %s: dtype %s%.16s%s is not F32 or F64", path,
                           t->name, cJSON_IsString(dtype) ? "\"" : "",
                           cJSON_IsString(dtype) ? dtype->valuestring : "(not a string)",
                           cJSON_IsString(dtype) ? "\"" : "");
    }
    t->dtype = strcmp(dtype->valuestring, "F32") ? MLPCL_DOUBLE : MLPCL_FLOAT;

    int ok = cJSON_IsArray(shape) && (size_t)cJSON_GetArraySize(shape) == t->rank;
    size_t i = 0;
    for (const cJSON *c = ok ? shape->child : NULL; c; c = c->next, ++i) {
        uint64_t d;
        ok &= json_uint(c, &d) == 0 && d == t->shape[i];
    }
    if (!ok) {
        char got[64], want[64];
        if (cJSON_IsArray(shape))
            json_shape(shape, got, sizeof got);
        else
            snprintf(got, sizeof got, "(not a list)");
        if (t->rank == 2)
            snprintf(want, sizeof want, "[%zu, %zu]", t->shape[0], t->shape[1]);
        else
            snprintf(want, sizeof want, "[%zu]", t->shape[0]);
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: tensor %s has shape %s; layers \"%.80s\" needs %s",
                           path, t->name, got, layers, want);
    }

    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        json_uint(offsets->child, &t->begin) || json_uint(offsets->child->next, &t->end) ||
        t->begin > t->end)
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: tensor %s: data_offsets must be [begin, end], "
                           "whole numbers with begin ≤ end",
                           path, t->name);
    return MLPCL_OK;
}

static int by_begin(const void *a, const void *b)
{
    const tensor *x = *(const tensor *const *)a, *y = *(const tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Checks presence, dtypes, sizes and that the tensors tile the data section exactly. */
static mlpcl_status check_layout(const char *path, tensor *t, size_t L, uint64_t data_start,
                                 uint64_t data_len)
{
    for (size_t i = 0; i < 2 * L; ++i)
        if (!t[i].present)
            return mlpcl__fail(MLPCL_ERR_DATA, "%s: missing tensor %s", path, t[i].name);
    const tensor *mean = &t[SLOT_MEAN(L)], *std = &t[SLOT_STD(L)];
    if (mean->present != std->present)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: missing tensor %s (%s is there)", path,
                           mean->present ? std->name : mean->name,
                           mean->present ? mean->name : std->name);
    for (size_t i = 0; i < N_SLOTS(L); ++i) {
        if (!t[i].present) continue;
        mlpcl_precision want = i == SLOT_MEAN(L) || i == SLOT_STD(L) ? MLPCL_DOUBLE : t[0].dtype;
        if (t[i].dtype != want)
            return mlpcl__fail(MLPCL_ERR_DATA, "%s: tensor %s is %s; expected %s%s", path,
                               t[i].name, dtype_name(t[i].dtype), dtype_name(want),
                               i < SLOT_MEAN(L) || i == SLOT_VELOCITY(L)
                                   ? " like layers.1.weight (one dtype for all parameters)"
                                   : "");
        uint64_t need = (uint64_t)t[i].count * (uint64_t)t[i].dtype;
        if (t[i].end > data_len)
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s: tensor %s: data_offsets [%" PRIu64 ", %" PRIu64
                               "] run past the end of the data section (%" PRIu64
                               " bytes from byte %" PRIu64 ")",
                               path, t[i].name, t[i].begin, t[i].end, data_len, data_start);
        if (t[i].end - t[i].begin != need)
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s: tensor %s: data_offsets [%" PRIu64 ", %" PRIu64
                               "] hold %" PRIu64 " bytes; %zu %s values need %" PRIu64,
                               path, t[i].name, t[i].begin, t[i].end, t[i].end - t[i].begin,
                               t[i].count, dtype_name(t[i].dtype), need);
    }
    /* In order of their offsets, each tensor must begin where the one before ends. */
    tensor **order = malloc(N_SLOTS(L) * sizeof *order);
    if (!order) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
    size_t n = 0;
    for (size_t i = 0; i < N_SLOTS(L); ++i)
        if (t[i].present) order[n++] = &t[i];
    qsort(order, n, sizeof *order, by_begin);
    mlpcl_status st = MLPCL_OK;
    uint64_t at = 0;
    for (size_t i = 0; i < n && st == MLPCL_OK; ++i) {
        if (order[i]->begin < at)
            st = mlpcl__fail(
                MLPCL_ERR_DATA,
                "%s: tensor %s: data_offsets [%" PRIu64 ", %" PRIu64 "] overlap those of %s", path,
                order[i]->name, order[i]->begin, order[i]->end, order[i - 1]->name);
        else if (order[i]->begin > at)
            st = mlpcl__fail(MLPCL_ERR_DATA,
                             "%s: %" PRIu64 " unused bytes at byte %" PRIu64 ", before tensor %s",
                             path, order[i]->begin - at, data_start + at, order[i]->name);
        at = order[i]->end;
    }
    if (st == MLPCL_OK && at != data_len)
        st = mlpcl__fail(MLPCL_ERR_DATA,
                         "%s: %" PRIu64 " unused bytes at byte %" PRIu64 ", after the last tensor",
                         path, data_len - at, data_start + at);
    free(order);
    return st;
}

/* Reads one tensor's values into t->dst, refusing NaN and Inf. */
static mlpcl_status read_values(const char *path, FILE *f, uint64_t data_start, const tensor *t,
                                unsigned char *buf)
{
    size_t size = t->dtype;
    uint64_t at = data_start + t->begin;
    if (fseeko(f, (off_t)at, SEEK_SET))
        return mlpcl__fail(MLPCL_ERR_IO, "%s: cannot seek to byte %" PRIu64 ": %s", path, at,
                           strerror(errno));
    for (size_t i = 0; i < t->count; i += CHUNK) {
        size_t n = t->count - i < CHUNK ? t->count - i : CHUNK;
        if (fread(buf, size, n, f) != n) {
            if (ferror(f))
                return mlpcl__fail(MLPCL_ERR_IO, "%s: read error in tensor %s: %s", path, t->name,
                                   strerror(errno));
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s: the file ended inside tensor %s (it shrank "
                               "while being read?)",
                               path, t->name);
        }
        for (size_t j = 0; j < n; ++j) {
            double v = decode(buf + j * size, t->dtype);
            if (!isfinite(v))
                return mlpcl__fail(MLPCL_ERR_DATA, "%s: %s[%zu] is %s (byte %" PRIu64 ")", path,
                                   t->name, i + j,
                                   isnan(v) ? "NaN"
                                   : v > 0  ? "Inf"
                                            : "-Inf",
                                   at + (i + j) * size);
            t->dst[i + j] = v;
        }
    }
    return MLPCL_OK;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

mlpcl_status mlpcl_model_load(const char *path, mlpcl_net **net_out, mlpcl_model_info *info_out)
{
    if (!path || !net_out || !info_out)
        return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_model_load: path, net and info are required");
    *net_out = NULL;
    memset(info_out, 0, sizeof *info_out);
    mlpcl_status st = MLPCL_OK;
    mlpcl_model_info info = {0};
    mlpcl_net *net = NULL;
    char *header = NULL;
    cJSON *root = NULL;
    tensor *t = NULL;
    unsigned char *buf = NULL;
    struct stat sb;

    FILE *f = fopen(path, "rb");
    if (!f) return mlpcl__fail(MLPCL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fileno(f), &sb)) {
        st = mlpcl__fail(MLPCL_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = mlpcl__fail(MLPCL_ERR_IO, "%s: not a regular file", path);
        goto fail;
    }
    uint64_t size = (uint64_t)sb.st_size;
    unsigned char len8[8];
    if (size < 8 || fread(len8, 1, 8, f) != 8) {
        st = ferror(f) ? mlpcl__fail(MLPCL_ERR_IO, "%s: read error: %s", path, strerror(errno))
                       : mlpcl__fail(MLPCL_ERR_DATA,
                                     "%s: %" PRIu64 " bytes, too short for the "
                                     "8-byte header length of a safetensors file",
                                     path, size);
        goto fail;
    }
    uint64_t hlen = 0;
    for (size_t i = 0; i < 8; ++i) hlen |= (uint64_t)len8[i] << (8 * i);
    if (hlen == 0 || hlen > HEADER_MAX || hlen > size - 8) {
        st = mlpcl__fail(MLPCL_ERR_DATA, "%s: header length %" PRIu64 " (bytes 0-7) %s", path, hlen,
                         hlen == 0         ? "is 0"
                         : hlen > size - 8 ? "runs past the end of the file"
                                           : "exceeds the 100000000-byte limit");
        if (hlen > size - 8 && hlen != 0) mlpcl__append(" (%" PRIu64 " bytes)", size);
        goto fail;
    }
    uint64_t data_start = 8 + hlen, data_len = size - data_start;
    header = malloc((size_t)hlen + 1);
    if (!header) {
        st = mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory for the header", path);
        goto fail;
    }
    if (fread(header, 1, (size_t)hlen, f) != hlen) {
        st = mlpcl__fail(ferror(f) ? MLPCL_ERR_IO : MLPCL_ERR_DATA, "%s: cannot read the header",
                         path);
        goto fail;
    }
    header[hlen] = '\0';

    /* The JSON: UTF-8, one object starting at the first byte, then only padding. */
    size_t bad = utf8_bad_at(header, (size_t)hlen);
    if (bad < hlen) {
        st = mlpcl__fail(MLPCL_ERR_DATA, "%s: the header is not valid UTF-8 at byte %zu", path,
                         8 + bad);
        goto fail;
    }
    /* cJSON reports a failed allocation as a parse error: out of memory, a valid header reads
     * as "not valid JSON". */
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(header, (size_t)hlen, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - header) : 0;
        char near[32];
        excerpt(header + at, (size_t)hlen - at, near);
        st = mlpcl__fail(MLPCL_ERR_DATA,
                         "%s: the header is not valid JSON: error at byte %zu "
                         "near \"%s\"",
                         path, 8 + at, near);
        goto fail;
    }
    if (!cJSON_IsObject(root) || header[0] != '{') {
        st = mlpcl__fail(MLPCL_ERR_DATA, "%s: the header is not a JSON object starting at byte 8",
                         path);
        goto fail;
    }
    for (const char *p = end; p < header + hlen; ++p)
        if (!is_space(*p)) {
            char near[32];
            excerpt(p, (size_t)(header + hlen - p), near);
            st = mlpcl__fail(MLPCL_ERR_DATA,
                             "%s: text after the header's JSON object at byte %zu: "
                             "\"%s\"",
                             path, (size_t)(8 + (p - header)), near);
            goto fail;
        }

    /* The metadata: an object of strings; format first, to tell other files apart. */
    const cJSON *meta = NULL;
    for (const cJSON *c = root->child; c; c = c->next)
        if (!strcmp(c->string, "__metadata__")) {
            if (meta) {
                st = mlpcl__fail(MLPCL_ERR_DATA, "%s: the header has __metadata__ twice", path);
                goto fail;
            }
            meta = c;
        }
    if (!meta || !cJSON_IsObject(meta)) {
        st = mlpcl__fail(MLPCL_ERR_DATA, "%s: the header has %s (not an mlpcl model?)", path,
                         meta ? "a __metadata__ that is not an object" : "no __metadata__");
        goto fail;
    }
    for (const cJSON *c = meta->child; c; c = c->next)
        if (!cJSON_IsString(c)) {
            st = mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ \"%.40s\" is not a string", path,
                             c->string);
            goto fail;
        }
    const char *format;
    TRY(meta_get(path, meta, "format", 1, &format));
    if (strcmp(format, "mlpcl")) {
        st = mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ format is \"%.40s\", not \"mlpcl\"",
                         path, format);
        goto fail;
    }
    TRY(meta_net(path, meta, data_len, &net));
    TRY(meta_info(path, meta, net->width[net->L], &info));

    /* The tensors: exactly those mlpcl writes, each once. */
    size_t L = net->L;
    const char *layers;
    TRY(meta_get(path, meta, "layers", 1, &layers));
    t = calloc(N_SLOTS(L), sizeof *t);
    buf = malloc((size_t)CHUNK * 8);
    if (!t || !buf) {
        st = mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
        goto fail;
    }
    slots_setup(net, t);
    for (const cJSON *c = root->child; c; c = c->next) {
        if (c == meta) continue;
        size_t s = slot_of(c->string, L);
        if (s == SIZE_MAX || t[s].present) {
            st = mlpcl__fail(MLPCL_ERR_DATA, "%s: %s tensor \"%.60s\"", path,
                             s == SIZE_MAX ? "unknown" : "repeated", c->string);
            if (s == SIZE_MAX && !strncmp(c->string, "layers.", 7))
                mlpcl__append(" (layers \"%.80s\" has %zu layers)", layers, L);
            goto fail;
        }
        t[s].present = 1;
        TRY(parse_entry(path, c, layers, &t[s]));
    }
    TRY(check_layout(path, t, L, data_start, data_len));

    /* The values. */
    for (size_t l = 1; l <= L; ++l) {
        t[2 * (l - 1)].dst = net->params + net->offset[l];
        t[2 * (l - 1) + 1].dst = net->params + net->offset[l] + mlpcl__weights(net, l);
    }
    info.dtype = t[0].dtype;
    if (t[SLOT_MEAN(L)].present) {
        info.norm.n = net->width[0];
        info.norm.mean = t[SLOT_MEAN(L)].dst = malloc(info.norm.n * sizeof(double));
        info.norm.std = t[SLOT_STD(L)].dst = malloc(info.norm.n * sizeof(double));
    }
    if (t[SLOT_VELOCITY(L)].present)
        info.velocity = t[SLOT_VELOCITY(L)].dst = malloc(mlpcl_net_n_params(net) * sizeof(double));
    for (size_t i = 0; i < N_SLOTS(L); ++i)
        if (t[i].present && !t[i].dst) {
            st = mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory for %s", path, t[i].name);
            goto fail;
        }
    for (size_t i = 0; i < N_SLOTS(L); ++i)
        if (t[i].present) TRY(read_values(path, f, data_start, &t[i], buf));
    for (size_t i = 0; i < info.norm.n; ++i)
        if (!(info.norm.std[i] > 0)) {
            st = mlpcl__fail(MLPCL_ERR_DATA,
                             "%s: norm.std[%zu] is %g; a standard deviation must "
                             "be > 0 (byte %" PRIu64 ")",
                             path, i, info.norm.std[i], data_start + t[SLOT_STD(L)].begin + 8 * i);
            goto fail;
        }
    *net_out = net;
    *info_out = info;
    net = NULL;
    memset(&info, 0, sizeof info);
fail:
    fclose(f);
    free(header);
    cJSON_Delete(root);
    free(t);
    free(buf);
    mlpcl_net_free(net);
    mlpcl_model_info_free(&info);
    return st;
}

void mlpcl_model_info_free(mlpcl_model_info *info)
{
    if (!info) return;
    free(info->norm.mean);
    free(info->norm.std);
    if (info->class_names)
        for (char **p = info->class_names; *p; ++p) free(*p);
    free(info->class_names);
    free(info->velocity);
    info->norm = (mlpcl_norm){0};
    info->class_names = NULL;
    info->velocity = NULL;
}
