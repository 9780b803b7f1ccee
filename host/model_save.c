// SPDX-License-Identifier: MIT
/* model_save.c: writing a trained network and what goes with it (mlpcl_model_save) as a
 * safetensors file: the values checked first (nothing a load would refuse is written), the JSON
 * header built with cJSON, then the file written atomically: a temporary file in the same
 * folder, flushed to disk, renamed over the path. */
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
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "safetensors.h"

/* Refuses values a loader would reject: NaN, Inf, and for F32 magnitudes beyond FLT_MAX. */
static mlpcl_status check_values(const char *path, const char *name, const double *v, size_t n,
                                 mlpcl_precision p)
{
    for (size_t i = 0; i < n; ++i)
        if (!isfinite(v[i]) || (p == MLPCL_PRECISION_FLOAT && fabs(v[i]) > FLT_MAX))
            return mlpcl__fail(MLPCL_ERR_ARG, "%s: cannot save %s[%zu] = %g as %s", path, name, i,
                               v[i], mlpcl__dtype_name(p));
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
    if (!cJSON_AddStringToObject(o, "dtype", mlpcl__dtype_name(t->dtype))) return 0;
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
        p += sprintf(p, l > 1 ? ",%s" : "%s", mlpcl__act_names[net->act[l]]);
    return s;
}

/* The JSON header, padded with spaces to a multiple of 8 bytes so that the data section is
 * 8-byte aligned (as the reference implementation does). */
static mlpcl_status build_header(const char *path, const mlpcl_net *net,
                                 const mlpcl_model_info *info, const tensor *t, size_t nt,
                                 char **out, size_t *len)
{
    char num[15][32], *widths = join_widths(net), *acts = join_acts(net), *classes = NULL;
    const mlpcl_run_record *run = &info->run;
    snprintf(num[4], sizeof num[4], "%.17g", run->lr);
    snprintf(num[5], sizeof num[5], "%.17g", run->momentum);
    snprintf(num[6], sizeof num[6], "%ld", run->batch);
    snprintf(num[0], sizeof num[0], "%" PRIu64, info->seed);
    snprintf(num[7], sizeof num[7], "%d", MLPCL__FORMAT_VERSION);
    snprintf(num[1], sizeof num[1], "%ld", info->epoch);
    snprintf(num[2], sizeof num[2], "%ld", info->iteration);
    snprintf(num[3], sizeof num[3], "%ld", info->batch);
    snprintf(num[8], sizeof num[8], "%ld", info->adam_step);
    snprintf(num[9], sizeof num[9], "%d", run->nesterov);
    snprintf(num[10], sizeof num[10], "%.17g", run->beta1);
    snprintf(num[11], sizeof num[11], "%.17g", run->beta2);
    snprintf(num[12], sizeof num[12], "%.17g", run->eps);
    snprintf(num[13], sizeof num[13], "%.17g", run->weight_decay);
    snprintf(num[14], sizeof num[14], "%.17g", run->dropout);
    if (info->class_names) {
        cJSON *a = cJSON_CreateStringArray((const char *const *)info->class_names,
                                           (int)net->width[net->L]);
        classes = cJSON_PrintUnformatted(a);
        cJSON_Delete(a);
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    int ok =
        widths && acts && (classes || !info->class_names) &&
        cJSON_AddStringToObject(meta, "format", "mlpcl") &&
        cJSON_AddStringToObject(meta, "format_version", num[7]) &&
        cJSON_AddStringToObject(meta, "version", MLPCL_VERSION) &&
        cJSON_AddStringToObject(meta, "layers", widths) &&
        cJSON_AddStringToObject(meta, "activations", acts) &&
        cJSON_AddStringToObject(meta, "loss", net->loss == MLPCL_LOSS_CE ? "ce" : "mse") &&
        cJSON_AddStringToObject(meta, "output", mlpcl__output_name(net)) &&
        cJSON_AddStringToObject(meta, "seed", num[0]) &&
        cJSON_AddStringToObject(meta, "device", info->device) &&
        cJSON_AddStringToObject(meta, "epoch", num[1]) &&
        cJSON_AddStringToObject(meta, "batch", num[3]) &&
        cJSON_AddStringToObject(meta, "iteration", num[2]) &&
        (!classes || cJSON_AddStringToObject(meta, "class_names", classes)) &&
        (!info->adam_s || cJSON_AddStringToObject(meta, "train.adam_step", num[8])) &&
        (!run->present || (cJSON_AddStringToObject(meta, "run.mode", run->mode) &&
                           cJSON_AddStringToObject(meta, "run.device_kind", run->device_kind) &&
                           cJSON_AddStringToObject(meta, "run.init", run->init) &&
                           cJSON_AddStringToObject(meta, "run.data_digest", run->data_digest) &&
                           cJSON_AddStringToObject(meta, "run.lr", num[4]) &&
                           cJSON_AddStringToObject(meta, "run.momentum", num[5]) &&
                           cJSON_AddStringToObject(meta, "run.batch", num[6]))) &&
        (!run->present || !run->optimizer[0] ||
         (cJSON_AddStringToObject(meta, "run.optimizer", run->optimizer) &&
          cJSON_AddStringToObject(meta, "run.nesterov", num[9]) &&
          cJSON_AddStringToObject(meta, "run.beta1", num[10]) &&
          cJSON_AddStringToObject(meta, "run.beta2", num[11]) &&
          cJSON_AddStringToObject(meta, "run.eps", num[12]) &&
          cJSON_AddStringToObject(meta, "run.weight_decay", num[13]) &&
          cJSON_AddStringToObject(meta, "run.lr_schedule", run->lr_schedule) &&
          cJSON_AddStringToObject(meta, "run.dropout", num[14])));
    for (size_t i = 0; ok && i < nt; ++i) /* names in slot order, whatever their offsets */
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
    for (size_t k = 0, L = (nt - 3) / 2; k < nt; ++k) {
        const tensor *x = &t[SLOT_IN_FILE(k, L)]; /* in the order of their offsets */
        if (!x->src) continue;
        for (size_t i = 0; i < x->count; i += CHUNK) {
            size_t n = x->count - i < CHUNK ? x->count - i : CHUNK, size = x->dtype;
            for (size_t j = 0; j < n; ++j)
                mlpcl__encode_value(x->src[i + j], x->dtype, buf + j * size);
            if (fwrite(buf, size, n, f) != n) return -1;
        }
    }
    return fflush(f) || fsync(fileno(f)) ? -1 : 0;
}

/* Replaces the XXXXXX that ends tmp by letters and digits and creates that file, exclusively,
 * mode 0666 less the umask (mkstemp would force 0600). A descriptor, or -1 with errno set. */
static int create_temp(char *tmp)
{
    static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    static unsigned long counter;
    char *x = tmp + strlen(tmp) - 6;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long r = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 16);
    for (int attempt = 0; attempt < 1000; ++attempt) {
        unsigned long v = r + 7919 * (counter++);
        v ^= v >> 13, v *= 0x9e3779b97f4a7c15UL, v ^= v >> 29;
        for (int i = 0; i < 6; ++i, v /= 36) x[i] = digits[v % 36];
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
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
    int fd = create_temp(tmp);
    if (fd < 0) {
        st = mlpcl__fail(MLPCL_ERR_IO, "%s: cannot create a temporary file %s: %s", path, tmp,
                         strerror(errno));
        goto done;
    }
    /* The new file is made 0666 less the umask, as any program's; one that replaces a file
     * takes that file's mode. */
    struct stat old;
    int keep = stat(path, &old) == 0 && S_ISREG(old.st_mode);
    FILE *f = !keep || fchmod(fd, old.st_mode & 07777) == 0 ? fdopen(fd, "wb") : NULL;
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
    if (info->dtype != MLPCL_PRECISION_FLOAT && info->dtype != MLPCL_PRECISION_DOUBLE)
        return mlpcl__fail(MLPCL_ERR_ARG,
                           "%s: unknown dtype %d (MLPCL_PRECISION_FLOAT or MLPCL_PRECISION_DOUBLE)",
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
            if (!c || mlpcl__utf8_bad_at(c, strlen(c)) != strlen(c))
                return mlpcl__fail(MLPCL_ERR_ARG, "%s: class_names[%zu] is %s", path, j,
                                   c ? "not valid UTF-8" : "NULL");
        }
    const char *end = memchr(info->device, '\0', sizeof info->device);
    if (!end || mlpcl__utf8_bad_at(info->device, (size_t)(end - info->device)) !=
                    (size_t)(end - info->device))
        return mlpcl__fail(MLPCL_ERR_ARG, "%s: info->device is %s", path,
                           end ? "not valid UTF-8" : "not NUL-terminated");
    const mlpcl_run_record *run = &info->run;
    const char *words[4] = {run->mode, run->device_kind, run->init, run->data_digest};
    for (int i = 0; run->present && i < 4; ++i) {
        const char *nul = memchr(words[i], '\0', sizeof run->mode);
        if (!nul ||
            mlpcl__utf8_bad_at(words[i], (size_t)(nul - words[i])) != (size_t)(nul - words[i]))
            return mlpcl__fail(MLPCL_ERR_ARG,
                               "%s: info->run's strings must be UTF-8 of at most "
                               "31 bytes",
                               path);
    }
    if (run->present && (!isfinite(run->lr) || run->lr < 0 || !(run->momentum >= 0) ||
                         run->momentum > 1 || run->batch < 0))
        return mlpcl__fail(MLPCL_ERR_ARG, "%s: info->run: lr %g, momentum %g, batch %ld", path,
                           run->lr, run->momentum, run->batch);
    if (info->epoch < 0 || info->batch < 0 || info->iteration < 0)
        return mlpcl__fail(MLPCL_ERR_ARG, "%s: epoch %ld, batch %ld and iteration %ld must be ≥ 0",
                           path, info->epoch, info->batch, info->iteration);

    size_t L = net->L, nt = N_SLOTS(L), np = mlpcl_net_n_params(net);
    tensor *t = calloc(nt, sizeof *t);
    /* The parameters, velocity and Adam's second moments in the file's layout (weights
     * [out, in]). */
    double *params = malloc(np * sizeof *params),
           *velocity = info->velocity ? malloc(np * sizeof *velocity) : NULL,
           *adam_s = info->adam_s ? malloc(np * sizeof *adam_s) : NULL;
    mlpcl_status st = MLPCL_OK;
    if (!t || !params || (info->velocity && !velocity) || (info->adam_s && !adam_s)) {
        st = mlpcl__fail(MLPCL_ERR_NOMEM, "%s: out of host memory", path);
        goto done;
    }
    mlpcl__params_to_file(net, net->params, params);
    if (velocity) mlpcl__params_to_file(net, info->velocity, velocity);
    if (adam_s) mlpcl__params_to_file(net, info->adam_s, adam_s);
    mlpcl__slots_setup(net, t, MLPCL__FORMAT_VERSION);
    for (size_t l = 1; l <= L; ++l) {
        t[2 * (l - 1)].src = params + net->offset[l];
        t[2 * (l - 1) + 1].src = params + net->offset[l] + mlpcl__weights(net, l);
    }
    t[SLOT_MEAN(L)].src = norm->n ? norm->mean : NULL;
    t[SLOT_STD(L)].src = norm->n ? norm->std : NULL;
    t[SLOT_VELOCITY(L)].src = velocity;
    t[SLOT_ADAM_S(L)].src = adam_s;
    for (size_t i = 0; i < nt; ++i) {
        t[i].dtype = i == SLOT_MEAN(L) || i == SLOT_STD(L) ? MLPCL_PRECISION_DOUBLE : info->dtype;
        if (t[i].src && (st = check_values(path, t[i].name, t[i].src, t[i].count, t[i].dtype)))
            goto done;
    }
    /* The data section starts 8-byte aligned (the header is padded); the F64 tensors go first
     * so that each is 8-byte aligned, then the parameters, each aligned to its dtype's size (a
     * safetensors data section has no gaps, so F32 tensors of odd sizes cannot all be 8-byte
     * aligned). */
    uint64_t at = 0;
    for (size_t k = 0; k < nt; ++k) {
        size_t i = SLOT_IN_FILE(k, L);
        if (!t[i].src) continue;
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
    free(params);
    free(velocity);
    free(adam_s);
    return st;
}
