// SPDX-License-Identifier: MIT
/* model_load.c: reading a model file (mlpcl_model_load), one step a part: the header's length
 * and bytes, its JSON, the metadata (model_meta.c: network, format version, training state),
 * the tensor entries and their layout, then the values, rearranged from the file's layout of
 * its version into the network's. Every check names the file, the item and, where one
 * applies, the byte. */
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

#include "model_meta.h"

/* A printable excerpt of up to 24 bytes at p (at most n), for messages. */
static void excerpt(const char *p, size_t n, char out[32])
{
    size_t i = 0;
    for (; i < n && i < 24; ++i) out[i] = p[i] >= 32 && p[i] < 127 ? p[i] : '?';
    out[i] = '\0';
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
    t->dtype = strcmp(dtype->valuestring, "F32") ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;

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
        mlpcl_precision want =
            i == SLOT_MEAN(L) || i == SLOT_STD(L) ? MLPCL_PRECISION_DOUBLE : t[0].dtype;
        if (t[i].dtype != want)
            return mlpcl__fail(MLPCL_ERR_DATA, "%s: tensor %s is %s; expected %s%s", path,
                               t[i].name, mlpcl__dtype_name(t[i].dtype), mlpcl__dtype_name(want),
                               i < SLOT_MEAN(L) || i >= SLOT_VELOCITY(L)
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
                               t[i].count, mlpcl__dtype_name(t[i].dtype), need);
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
            double v = mlpcl__decode_value(buf + j * size, t->dtype);
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

/* A model file being read: what each step leaves for the next. */
typedef struct loading {
    const char *path;
    FILE *f;
    char *header;                        /* the JSON, NUL-terminated */
    uint64_t hlen, data_start, data_len; /* header bytes; where the data begin, its bytes */
    cJSON *root;                         /* the parsed header */
    const cJSON *meta;                   /* root's __metadata__ */
    mlpcl_net *net;                      /* from the metadata */
    mlpcl_model_info info;               /* from the metadata and the tensors */
    int format_version;                  /* metadata format_version, 1 when absent */
    tensor *t;                           /* N_SLOTS(L) slots */
    double *params, *velocity, *adam_s;  /* the file's layout, for format_version ≥ 2 */
    unsigned char *buf;                  /* CHUNK values' bytes */
} loading;

/* The header's length (bytes 0-7), checked against the file's size, and its bytes. */
static mlpcl_status read_header(loading *ld)
{
    const char *path = ld->path;
    FILE *f = ld->f;
    struct stat sb;
    if (fstat(fileno(f), &sb))
        return mlpcl__fail(MLPCL_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return mlpcl__fail(MLPCL_ERR_IO, "%s: not a regular file", path);
    uint64_t size = (uint64_t)sb.st_size;
    unsigned char len8[8];
    if (size < 8 || fread(len8, 1, 8, f) != 8)
        return ferror(f) ? mlpcl__fail(MLPCL_ERR_IO, "%s: read error: %s", path, strerror(errno))
                         : mlpcl__fail(MLPCL_ERR_DATA,
                                       "%s: %" PRIu64 " bytes, too short for the "
                                       "8-byte header length of a safetensors file",
                                       path, size);
    uint64_t hlen = 0;
    for (size_t i = 0; i < 8; ++i) hlen |= (uint64_t)len8[i] << (8 * i);
    if (hlen == 0 || hlen > HEADER_MAX || hlen > size - 8) {
        mlpcl_status st =
            mlpcl__fail(MLPCL_ERR_DATA, "%s: header length %" PRIu64 " (bytes 0-7) %s", path, hlen,
                        hlen == 0         ? "is 0"
                        : hlen > size - 8 ? "runs past the end of the file"
                                          : "exceeds the 100000000-byte limit");
        if (hlen > size - 8 && hlen != 0) mlpcl__append(" (%" PRIu64 " bytes)", size);
        return st;
    }
    ld->hlen = hlen;
    ld->data_start = 8 + hlen;
    ld->data_len = size - ld->data_start;
    ld->header = malloc((size_t)hlen + 1);
    if (!ld->header)
        return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory for the header", path);
    if (fread(ld->header, 1, (size_t)hlen, f) != hlen)
        return mlpcl__fail(ferror(f) ? MLPCL_ERR_IO : MLPCL_ERR_DATA, "%s: cannot read the header",
                           path);
    ld->header[hlen] = '\0';
    return MLPCL_OK;
}

/* The JSON: UTF-8, one object starting at the first byte, then only padding. */
static mlpcl_status parse_header(loading *ld)
{
    const char *path = ld->path, *header = ld->header;
    size_t hlen = (size_t)ld->hlen;
    size_t bad = mlpcl__utf8_bad_at(header, hlen);
    if (bad < hlen)
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: the header is not valid UTF-8 at byte %zu", path,
                           8 + bad);
    /* cJSON reports a failed allocation as a parse error: out of memory, a valid header reads
     * as "not valid JSON". */
    const char *end = NULL;
    ld->root = cJSON_ParseWithLengthOpts(header, hlen, &end, 0);
    if (!ld->root) {
        size_t at = end ? (size_t)(end - header) : 0;
        char near[32];
        excerpt(header + at, hlen - at, near);
        return mlpcl__fail(MLPCL_ERR_DATA,
                           "%s: the header is not valid JSON: error at byte %zu "
                           "near \"%s\"",
                           path, 8 + at, near);
    }
    if (!cJSON_IsObject(ld->root) || header[0] != '{')
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: the header is not a JSON object starting at byte 8",
                           path);
    for (const char *p = end; p < header + hlen; ++p)
        if (!is_space(*p)) {
            char near[32];
            excerpt(p, (size_t)(header + hlen - p), near);
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s: text after the header's JSON object at byte %zu: "
                               "\"%s\"",
                               path, (size_t)(8 + (p - header)), near);
        }
    return MLPCL_OK;
}

/* The metadata: an object of strings; format first, to tell other files apart; then the
 * network and the training state. */
static mlpcl_status read_metadata(loading *ld)
{
    const char *path = ld->path;
    const cJSON *meta = NULL;
    for (const cJSON *c = ld->root->child; c; c = c->next)
        if (!strcmp(c->string, "__metadata__")) {
            if (meta)
                return mlpcl__fail(MLPCL_ERR_DATA, "%s: the header has __metadata__ twice", path);
            meta = c;
        }
    if (!meta || !cJSON_IsObject(meta))
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: the header has %s (not an mlpcl model?)", path,
                           meta ? "a __metadata__ that is not an object" : "no __metadata__");
    for (const cJSON *c = meta->child; c; c = c->next)
        if (!cJSON_IsString(c))
            return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ \"%.40s\" is not a string", path,
                               c->string);
    ld->meta = meta;
    const char *format;
    mlpcl_status st = mlpcl__meta_get(path, meta, "format", 1, &format);
    if (st != MLPCL_OK) return st;
    if (strcmp(format, "mlpcl"))
        return mlpcl__fail(MLPCL_ERR_DATA, "%s: __metadata__ format is \"%.40s\", not \"mlpcl\"",
                           path, format);
    if ((st = mlpcl__meta_net(path, meta, ld->data_len, &ld->net)) != MLPCL_OK ||
        (st = mlpcl__meta_format(path, meta, ld->net, &ld->format_version)) != MLPCL_OK)
        return st;
    return mlpcl__meta_info(path, meta, ld->net->width[ld->net->L], &ld->info);
}

/* The tensor entries: exactly those mlpcl writes, each once, laid out without gaps or
 * overlaps. */
static mlpcl_status read_entries(loading *ld)
{
    const char *path = ld->path, *layers;
    size_t L = ld->net->L;
    mlpcl_status st = mlpcl__meta_get(path, ld->meta, "layers", 1, &layers);
    if (st != MLPCL_OK) return st;
    ld->t = calloc(N_SLOTS(L), sizeof *ld->t);
    ld->buf = malloc((size_t)CHUNK * 8);
    if (!ld->t || !ld->buf) return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
    tensor *t = ld->t;
    mlpcl__slots_setup(ld->net, t, ld->format_version);
    for (const cJSON *c = ld->root->child; c; c = c->next) {
        if (c == ld->meta) continue;
        size_t s = mlpcl__slot_of(c->string, L);
        if (s == SIZE_MAX || t[s].present) {
            st = mlpcl__fail(MLPCL_ERR_DATA, "%s: %s tensor \"%.60s\"", path,
                             s == SIZE_MAX ? "unknown" : "repeated", c->string);
            if (s == SIZE_MAX && !strncmp(c->string, "layers.", 7))
                mlpcl__append(" (layers \"%.80s\" has %zu layers)", layers, L);
            return st;
        }
        t[s].present = 1;
        if ((st = parse_entry(path, c, layers, &t[s])) != MLPCL_OK) return st;
    }
    return check_layout(path, t, L, ld->data_start, ld->data_len);
}

/* The values: each tensor read into the network or the info, then the deviations checked. */
static mlpcl_status read_tensors(loading *ld)
{
    const char *path = ld->path;
    mlpcl_net *net = ld->net;
    mlpcl_model_info *info = &ld->info;
    tensor *t = ld->t;
    size_t L = net->L;
    mlpcl_status st;
    /* Version 1 holds the network's own layout: read straight into it. Later versions are read
     * as they are laid out in the file, then rearranged. */
    size_t np = mlpcl_net_n_params(net);
    int v1 = ld->format_version == MLPCL__FORMAT_V1;
    double *params = v1 ? net->params : (ld->params = malloc(np * sizeof(double)));
    for (size_t l = 1; l <= L; ++l) {
        t[2 * (l - 1)].dst = params ? params + net->offset[l] : NULL;
        t[2 * (l - 1) + 1].dst = params ? params + net->offset[l] + mlpcl__weights(net, l) : NULL;
    }
    info->dtype = t[0].dtype;
    if (t[SLOT_MEAN(L)].present) {
        info->norm.n = net->width[0];
        info->norm.mean = t[SLOT_MEAN(L)].dst = malloc(info->norm.n * sizeof(double));
        info->norm.std = t[SLOT_STD(L)].dst = malloc(info->norm.n * sizeof(double));
    }
    if (t[SLOT_VELOCITY(L)].present) {
        info->velocity = malloc(np * sizeof(double));
        t[SLOT_VELOCITY(L)].dst =
            v1 ? info->velocity : (ld->velocity = malloc(np * sizeof(double)));
        if (!info->velocity) t[SLOT_VELOCITY(L)].dst = NULL;
    }
    if (t[SLOT_ADAM_S(L)].present) {
        info->adam_s = malloc(np * sizeof(double));
        t[SLOT_ADAM_S(L)].dst = v1 ? info->adam_s : (ld->adam_s = malloc(np * sizeof(double)));
        if (!info->adam_s) t[SLOT_ADAM_S(L)].dst = NULL;
    }
    for (size_t i = 0; i < N_SLOTS(L); ++i)
        if (t[i].present && !t[i].dst)
            return mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory for %s", path, t[i].name);
    for (size_t i = 0; i < N_SLOTS(L); ++i)
        if (t[i].present &&
            (st = read_values(path, ld->f, ld->data_start, &t[i], ld->buf)) != MLPCL_OK)
            return st;
    if (!v1) {
        mlpcl__params_from_file(net, ld->params, net->params);
        if (info->velocity) mlpcl__params_from_file(net, ld->velocity, info->velocity);
        if (info->adam_s) mlpcl__params_from_file(net, ld->adam_s, info->adam_s);
    }
    for (size_t i = 0; i < info->norm.n; ++i)
        if (!(info->norm.std[i] > 0))
            return mlpcl__fail(MLPCL_ERR_DATA,
                               "%s: norm.std[%zu] is %g; a standard deviation must "
                               "be > 0 (byte %" PRIu64 ")",
                               path, i, info->norm.std[i],
                               ld->data_start + t[SLOT_STD(L)].begin + 8 * i);
    return MLPCL_OK;
}

mlpcl_status mlpcl_model_load(const char *path, mlpcl_net **net_out, mlpcl_model_info *info_out)
{
    if (!path || !net_out || !info_out)
        return mlpcl__fail(MLPCL_ERR_ARG, "mlpcl_model_load: path, net and info are required");
    *net_out = NULL;
    memset(info_out, 0, sizeof *info_out);
    loading ld;
    memset(&ld, 0, sizeof ld);
    ld.path = path;
    if (!(ld.f = fopen(path, "rb")))
        return mlpcl__fail(MLPCL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    mlpcl_status st = read_header(&ld);
    if (st == MLPCL_OK) st = parse_header(&ld);
    if (st == MLPCL_OK) st = read_metadata(&ld);
    if (st == MLPCL_OK) st = read_entries(&ld);
    if (st == MLPCL_OK) st = read_tensors(&ld);
    if (st == MLPCL_OK) {
        *net_out = ld.net;
        *info_out = ld.info;
        ld.net = NULL;
        memset(&ld.info, 0, sizeof ld.info);
    }
    fclose(ld.f);
    free(ld.header);
    cJSON_Delete(ld.root);
    free(ld.t);
    free(ld.buf);
    free(ld.params);
    free(ld.velocity);
    free(ld.adam_s);
    mlpcl_net_free(ld.net);
    mlpcl_model_info_free(&ld.info);
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
    free(info->adam_s);
    info->norm = (mlpcl_norm){0};
    info->class_names = NULL, info->velocity = info->adam_s = NULL;
}
