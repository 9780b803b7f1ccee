// SPDX-License-Identifier: MIT
/* test_model.c: model files (safetensors), without a device. Round trips: F64 bit for bit and
 * F32 rounded to float, with every kind of metadata, and a bare model without the optional
 * tensors. Atomic saves: a save that fails (file size limit, missing folder, rename over a
 * folder, read-only folder) leaves the old file byte for byte and no temporary behind. A table
 * of corrupt files, each refused with MLPCL_ERR_DATA (or IO) and a message that says why, and
 * randomly damaged files, which must load or be refused, never crash.
 * With an argument DIR it also leaves models and the reference's predictions there, for
 * checking tests/safetensors_numpy.py by hand. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "model_mutations.h"

static char dir[64]; /* the test's scratch folder */

/* dir/name, in one of 4 rotating buffers: copy it to keep it. */
static char *path_in(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static unsigned char *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) free(b), b = NULL;
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_bytes(const char *path, const void *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, len, f) != len || fclose(f)) {
        printf("FAIL: cannot write %s\n", path);
        exit(1);
    }
}

/* Files in the scratch folder whose name holds ".tmp.": leftovers of a save. */
static int temporaries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

/* ---- A model with everything a file can hold -------------------------------------------- */

static const size_t widths[] = {3, 5, 4, 2};
static char name0[] = "cat", name1[] = "d\xc3\xb6g \"quoted\", with a comma";
static char *names[] = {name0, name1};
static double mean[3] = {0.5, -1.25, 1e-3}, stdev[3] = {2.0, 0.1, 3.5};

typedef struct model {
    mlpcl_net *net;
    mlpcl_model_info info;
} model;

static model make_model(mlpcl_precision dtype, uint64_t seed)
{
    model m = {0};
    OK(mlpcl_net_create(3, widths, &m.net));
    OK(mlpcl_net_set_act(m.net, 1, MLPCL_ACT_RELU));
    OK(mlpcl_net_set_act(m.net, 2, MLPCL_ACT_TANH));
    OK(mlpcl_net_set_act(m.net, 3, MLPCL_ACT_SIGMOID));
    OK(mlpcl_net_set_loss(m.net, MLPCL_LOSS_CE));
    mlpcl_rng rng = {seed};
    size_t n = mlpcl_net_n_params(m.net);
    fill_uniform(&rng, m.net->params, n, -2, 2); /* biases too: every value different */
    m.info.dtype = dtype;
    m.info.norm = (mlpcl_norm){3, mean, stdev};
    m.info.class_names = names;
    m.info.seed = UINT64_MAX;
    snprintf(m.info.device, sizeof m.info.device, "Test device \"7\" (pocl)");
    m.info.epoch = 12;
    m.info.iteration = 3456;
    m.info.velocity = malloc(n * sizeof(double));
    fill_uniform(&rng, m.info.velocity, n, -1e-3, 1e-3);
    return m;
}

static void free_model(model *m)
{
    mlpcl_net_free(m->net);
    free(m->info.velocity);
}

static double as_float(double x)
{
    return (float)x;
}

/* Loads path and compares with m: exact, or rounded to float where the file holds F32. */
static void check_loaded(const char *path, const model *m)
{
    mlpcl_net *net = NULL;
    mlpcl_model_info info;
    OK(mlpcl_model_load(path, &net, &info));
    const mlpcl_net *a = m->net;
    CHECK(net->L == a->L, "L %zu, expected %zu", net->L, a->L);
    if (net->L != a->L) exit(1);
    for (size_t l = 0; l <= a->L; ++l)
        CHECK(net->width[l] == a->width[l], "width[%zu] %zu", l, net->width[l]);
    for (size_t l = 1; l <= a->L; ++l)
        CHECK(mlpcl_net_act(net, l) == mlpcl_net_act(a, l), "act[%zu]", l);
    CHECK(mlpcl_net_loss(net) == mlpcl_net_loss(a), "loss");
    CHECK(info.dtype == m->info.dtype, "dtype %d", (int)info.dtype);
    size_t n = mlpcl_net_n_params(a), bad = 0;
    for (size_t i = 0; i < n; ++i) {
        double want =
            m->info.dtype == MLPCL_PRECISION_FLOAT ? as_float(a->params[i]) : a->params[i];
        bad += memcmp(&net->params[i], &want, sizeof want) != 0;
        if (m->info.velocity) {
            want = m->info.dtype == MLPCL_PRECISION_FLOAT ? as_float(m->info.velocity[i])
                                                          : m->info.velocity[i];
            bad += memcmp(&info.velocity[i], &want, sizeof want) != 0;
        }
    }
    CHECK(bad == 0, "%s: %zu parameters or velocities differ", path, bad);
    CHECK((info.velocity != NULL) == (m->info.velocity != NULL), "velocity presence");
    CHECK(info.norm.n == m->info.norm.n, "norm.n %zu", info.norm.n);
    if (info.norm.n == m->info.norm.n && info.norm.n) {
        CHECK(!memcmp(info.norm.mean, m->info.norm.mean, info.norm.n * sizeof(double)), "mean");
        CHECK(!memcmp(info.norm.std, m->info.norm.std, info.norm.n * sizeof(double)), "std");
    }
    CHECK((info.class_names != NULL) == (m->info.class_names != NULL), "class_names presence");
    if (info.class_names && m->info.class_names) {
        for (size_t j = 0; j < a->width[a->L]; ++j)
            CHECK(!strcmp(info.class_names[j], m->info.class_names[j]), "class %zu: '%s'", j,
                  info.class_names[j]);
        CHECK(info.class_names[a->width[a->L]] == NULL, "class_names not NULL-terminated");
    }
    CHECK(info.seed == m->info.seed, "seed %llu", (unsigned long long)info.seed);
    CHECK(!strcmp(info.device, m->info.device), "device '%s'", info.device);
    CHECK(!strcmp(info.version, MLPCL_VERSION), "version '%s'", info.version);
    CHECK(info.epoch == m->info.epoch && info.iteration == m->info.iteration, "epoch %ld iter %ld",
          info.epoch, info.iteration);
    mlpcl_net_free(net);
    mlpcl_model_info_free(&info);
    mlpcl_model_info_free(&info); /* twice: the first leaves it empty */
}

/* The header length, the header and the data section of a file. */
static void split(const unsigned char *b, size_t len, size_t *hlen, size_t *data)
{
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= (uint64_t)b[i] << (8 * i);
    *hlen = (size_t)n;
    *data = 8 + (size_t)n;
    if (*data > len) printf("FAIL: bad good file\n"), exit(1);
}

static void test_round_trips(void)
{
    for (int k = 0; k < 2; ++k) {
        mlpcl_precision p = k ? MLPCL_PRECISION_FLOAT : MLPCL_PRECISION_DOUBLE;
        model m = make_model(p, 11);
        const char *path = path_in(k ? "m32.safetensors" : "m64.safetensors");
        OK(mlpcl_model_save(path, m.net, &m.info));
        check_loaded(path, &m);
        /* The layout: 8-byte aligned data, norm.mean and norm.std (F64) first, then the
         * parameters layer by layer, each weight [out, in] as PyTorch's nn.Linear holds it. */
        size_t len, hlen, data;
        unsigned char *b = read_bytes(path, &len);
        split(b, len, &hlen, &data);
        CHECK(data % 8 == 0, "data section at byte %zu, not 8-aligned", data);
        size_t n = mlpcl_net_n_params(m.net), bad = 0, at = data + 6 * 8;
        for (size_t l = 1; l <= 3; ++l) {
            const double *W = m.net->params + m.net->offset[l];
            size_t nin = widths[l - 1], nout = widths[l];
            for (size_t i = 0; i < nin * nout + nout; ++i, at += (size_t)p) {
                /* file index i: W[in = i % nin][out = i / nin], then the biases */
                double want = i < nin * nout ? W[(i % nin) * nout + i / nin] : W[i];
                uint64_t u = 0;
                for (size_t j = 0; j < (size_t)p; ++j) u |= (uint64_t)b[at + j] << (8 * j);
                double v;
                if (p == MLPCL_PRECISION_FLOAT) {
                    uint32_t u32 = (uint32_t)u;
                    float f;
                    memcpy(&f, &u32, 4);
                    v = f;
                } else {
                    memcpy(&v, &u, 8);
                }
                bad += v != (p == MLPCL_PRECISION_FLOAT ? as_float(want) : want);
            }
        }
        CHECK(bad == 0, "%zu values out of the [out, in] order in the data section", bad);
        CHECK(len == data + n * p * 2 + 6 * 8, "file size %zu", len);
        struct stat sb;
        CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644, "mode %o", sb.st_mode & 0777);
        free(b);
        free_model(&m);
    }
    /* A layer of more values than the loader converts at a time (8192), in both dtypes. */
    size_t wide[] = {300, 40, 10};
    for (int k = 0; k < 2; ++k) {
        model big = {NULL, {.dtype = k ? MLPCL_PRECISION_FLOAT : MLPCL_PRECISION_DOUBLE}};
        OK(mlpcl_net_create(2, wide, &big.net));
        OK(mlpcl_net_init(big.net, MLPCL_INIT_UNIFORM, 3));
        big.info.velocity = malloc(mlpcl_net_n_params(big.net) * sizeof(double));
        for (size_t i = 0; i < mlpcl_net_n_params(big.net); ++i) big.info.velocity[i] = -(double)i;
        OK(mlpcl_model_save(path_in("big.safetensors"), big.net, &big.info));
        check_loaded(path_in("big.safetensors"), &big);
        free_model(&big);
    }
    /* The smallest model, MSE, none of the optional parts. */
    mlpcl_net *net;
    size_t w[] = {1, 1};
    OK(mlpcl_net_create(1, w, &net));
    OK(mlpcl_net_set_act(net, 1, MLPCL_ACT_TANH));
    net->params[0] = -0.0;
    net->params[1] = 5e-324;
    model m = {net, {.dtype = MLPCL_PRECISION_DOUBLE}};
    OK(mlpcl_model_save(path_in("bare.safetensors"), net, &m.info));
    check_loaded(path_in("bare.safetensors"), &m);
    /* Saving over a file keeps its mode. */
    chmod(path_in("bare.safetensors"), 0640);
    OK(mlpcl_model_save(path_in("bare.safetensors"), net, &m.info));
    struct stat sb;
    CHECK(stat(path_in("bare.safetensors"), &sb) == 0 && (sb.st_mode & 0777) == 0640, "mode %o",
          sb.st_mode & 0777);
    mlpcl_net_free(net);
    CHECK(temporaries() == 0, "temporary files left after successful saves");
}

/* ---- Saves that fail -------------------------------------------------------------------- */

static void expect_fail(int st, int want, const char *substring, const char *what)
{
    CHECK(st == want, "%s: %s, expected %s", what, mlpcl_status_str(st), mlpcl_status_str(want));
    CHECK(strstr(mlpcl_last_error(), substring), "%s: message '%s' lacks '%s'", what,
          mlpcl_last_error(), substring);
}

static void test_failed_saves(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s", path_in("keep.safetensors"));
    model good = make_model(MLPCL_PRECISION_DOUBLE, 1),
          other = make_model(MLPCL_PRECISION_FLOAT, 2);
    OK(mlpcl_model_save(path, good.net, &good.info));
    size_t len0, len;
    unsigned char *before = read_bytes(path, &len0);

    /* Writes beyond a file size limit fail (EFBIG) part way through the temporary. */
    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = 100;
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &small) == 0) {
        int st = mlpcl_model_save(path, other.net, &other.info);
        setrlimit(RLIMIT_FSIZE, &old);
        expect_fail(st, MLPCL_ERR_IO, "cannot write the temporary file", "size limit");
        CHECK(strstr(mlpcl_last_error(), path), "message lacks the path");
    } else {
        printf("note: setrlimit(RLIMIT_FSIZE) refused; size-limit case skipped\n");
    }

    /* A missing folder; a folder in the way of the rename. */
    expect_fail(mlpcl_model_save(path_in("nope/m.safetensors"), good.net, &good.info), MLPCL_ERR_IO,
                "No such file or directory", "missing folder");
    mkdir(path_in("sub"), 0755);
    expect_fail(mlpcl_model_save(path_in("sub"), good.net, &good.info), MLPCL_ERR_IO,
                "cannot rename", "rename over a folder");
    rmdir(path_in("sub"));

    /* A read-only folder. Root writes there anyway, so as root a child process tries it as
     * user nobody. */
    chmod(dir, 0555);
    if (geteuid() != 0) {
        expect_fail(mlpcl_model_save(path, other.net, &other.info), MLPCL_ERR_IO,
                    "cannot create a temporary file", "read-only folder");
    } else {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            if (setgid(65534) || setuid(65534)) _exit(SKIP);
            expect_fail(mlpcl_model_save(path, other.net, &other.info), MLPCL_ERR_IO,
                        "cannot create a temporary file", "read-only folder");
            CHECK(strstr(mlpcl_last_error(), "Permission denied"), "%s", mlpcl_last_error());
            fflush(stdout);
            _exit(failures ? 1 : 0);
        }
        int ws = 0;
        CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws), "fork");
        if (WEXITSTATUS(ws) == SKIP)
            printf("note: cannot become user nobody: read-only folder case skipped\n");
        else
            CHECK(WEXITSTATUS(ws) == 0, "read-only folder: the child failed");
    }
    chmod(dir, 0700);

    /* What a loader would refuse is not saved. */
    other.net->params[7] = NAN;
    expect_fail(mlpcl_model_save(path, other.net, &other.info), MLPCL_ERR_ARG,
                "layers.1.weight[7] = nan", "NaN parameter");
    other.net->params[7] = 1e39; /* fine as F64, too big for F32 */
    expect_fail(mlpcl_model_save(path, other.net, &other.info), MLPCL_ERR_ARG, "as F32",
                "F32 overflow");
    other.net->params[7] = 0;
    other.info.norm.n = 2;
    expect_fail(mlpcl_model_save(path, other.net, &other.info), MLPCL_ERR_ARG, "norm has 2",
                "norm width");
    other.info.norm.n = 3;
    other.info.device[3] = (char)0xff;
    expect_fail(mlpcl_model_save(path, other.net, &other.info), MLPCL_ERR_ARG,
                "device is not valid UTF-8", "Latin-1 device");
    other.info.device[3] = 't';
    other.info.dtype = 2;
    expect_fail(mlpcl_model_save(path, other.net, &other.info), MLPCL_ERR_ARG, "unknown dtype",
                "dtype");

    unsigned char *after = read_bytes(path, &len);
    CHECK(after && len == len0 && !memcmp(before, after, len), "the old file changed");
    CHECK(temporaries() == 0, "temporary files left after failed saves");
    free(before);
    free(after);
    free_model(&good);
    free_model(&other);
}

/* ---- Corrupt files (the table: model_mutations.h) --------------------------------------- */

/* The header's [begin, end) of tensor name and its element size. */
static size_t tensor_at(const char *header, size_t hlen, const char *name, size_t *size)
{
    cJSON *root = cJSON_ParseWithLength(header, hlen);
    cJSON *t = cJSON_GetObjectItemCaseSensitive(root, name);
    cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    const char *dt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "dtype"));
    if (!off || !dt) printf("FAIL: no tensor %s in the good file\n", name), exit(1);
    size_t begin = (size_t)cJSON_GetArrayItem(off, 0)->valuedouble;
    *size = strcmp(dt, "F32") ? 8 : 4;
    cJSON_Delete(root);
    return begin;
}

/* Applies m to a good file's bytes; returns the new file's bytes. */
static unsigned char *mutate(const mutation *m, const unsigned char *b, size_t len, size_t *out)
{
    size_t hlen, data;
    split(b, len, &hlen, &data);
    char *header = malloc(hlen + 1);
    memcpy(header, b + 8, hlen);
    header[hlen] = '\0';
    char *h = NULL; /* the new header */
    unsigned char *r = malloc(len + 4096);
    size_t n = len;
    memcpy(r, b, len);
    if (m->k == TRUNCATE) {
        n = m->n < 0 ? len - (size_t)-m->n : (size_t)m->n;
    } else if (m->k == SET_HLEN) {
        uint64_t v = m->n < 0 ? UINT64_MAX : (uint64_t)m->n;
        for (int i = 0; i < 8; ++i) r[i] = (unsigned char)(v >> (8 * i));
    } else if (m->k == POKE) {
        size_t size, at = data + tensor_at(header, hlen, m->a, &size) + (size_t)m->n * size;
        if (size == 4) {
            float f = (float)m->x;
            memcpy(r + at, &f, 4); /* little-endian hosts, like the CI's */
        } else {
            memcpy(r + at, &m->x, 8);
        }
    } else {
        if (m->k == SET_HEADER) {
            h = malloc(strlen(m->a) + 1);
            strcpy(h, m->a);
        } else if (m->k == REPLACE) {
            char *at = strstr(header, m->a);
            if (!at) printf("FAIL: %s: '%s' is not in the header\n", m->label, m->a), exit(1);
            h = malloc(hlen + strlen(m->b) + 1);
            size_t pre = (size_t)(at - header);
            memcpy(h, header, pre);
            strcpy(h + pre, m->b);
            strcat(h, at + strlen(m->a));
        } else if (m->k == TRIM) {
            h = malloc(hlen + 1);
            strcpy(h, header);
            for (size_t e = hlen; e > 0 && h[e - 1] == ' ';) h[--e] = '\0';
        } else { /* DELETE */
            cJSON *root = cJSON_Parse(header);
            cJSON_DeleteItemFromObjectCaseSensitive(root, m->a);
            h = cJSON_PrintUnformatted(root);
            cJSON_Delete(root);
        }
        size_t nh = strlen(h);
        n = 8 + nh + (len - data);
        r = realloc(r, n);
        for (int i = 0; i < 8; ++i) r[i] = (unsigned char)((uint64_t)nh >> (8 * i));
        memcpy(r + 8, h, nh);
        memcpy(r + 8 + nh, b + data, len - data);
    }
    free(h);
    free(header);
    *out = n;
    return r;
}

static void test_corrupt_files(int verbose)
{
    model m64 = make_model(MLPCL_PRECISION_DOUBLE, 3), m32 = make_model(MLPCL_PRECISION_FLOAT, 3);
    OK(mlpcl_model_save(path_in("good64.safetensors"), m64.net, &m64.info));
    OK(mlpcl_model_save(path_in("good32.safetensors"), m32.net, &m32.info));
    size_t len[2];
    unsigned char *good[2] = {read_bytes(path_in("good64.safetensors"), &len[0]),
                              read_bytes(path_in("good32.safetensors"), &len[1])};
    size_t hlen, data;
    split(good[0], len[0], &hlen, &data);
    CHECK(len[0] - data == 912, "the F64 file's data section has %zu bytes", len[0] - data);
    char bad[512];
    snprintf(bad, sizeof bad, "%s", path_in("bad.safetensors"));
    for (size_t i = 0; i < sizeof mutations / sizeof *mutations; ++i) {
        const mutation *m = &mutations[i];
        size_t n;
        unsigned char *b = mutate(m, good[m->f32], len[m->f32], &n);
        write_bytes(bad, b, n);
        free(b);
        mlpcl_net *net = (mlpcl_net *)&n; /* must come back NULL */
        mlpcl_model_info info = {.epoch = 99};
        int st = mlpcl_model_load(bad, &net, &info);
        if (verbose) printf("%-22s %s\n", m->label, st ? mlpcl_last_error() : "ok");
        CHECK(st == m->status, "%s: %s (%s), expected %s", m->label, mlpcl_status_str(st),
              mlpcl_last_error(), mlpcl_status_str(m->status));
        if (st != MLPCL_OK) {
            CHECK(strstr(mlpcl_last_error(), m->expect), "%s: message '%s' lacks '%s'", m->label,
                  mlpcl_last_error(), m->expect);
            CHECK(strstr(mlpcl_last_error(), bad), "%s: message lacks the path", m->label);
            mlpcl_model_info zero = {0};
            CHECK(net == NULL && !memcmp(&info, &zero, sizeof info), "%s: outputs not cleared",
                  m->label);
        }
        mlpcl_net_free(st == MLPCL_OK ? net : NULL);
        mlpcl_model_info_free(&info);
    }

    /* Random damage: 1 to 4 bytes changed, mostly in the header, then perhaps a cut. Each
     * load must either succeed or fail with MLPCL_ERR_DATA, and never crash or leak. */
    mlpcl_rng rng = {2024};
    size_t loaded = 0;
    for (int i = 0; i < 3000; ++i) {
        int f32 = i & 1;
        unsigned char *b = malloc(len[f32]);
        memcpy(b, good[f32], len[f32]);
        size_t n = len[f32], edits = 1 + mlpcl__rng_next(&rng) % 4;
        for (size_t e = 0; e < edits; ++e) {
            size_t span = mlpcl__rng_next(&rng) % 4 ? data : n;
            b[mlpcl__rng_next(&rng) % span] = (unsigned char)mlpcl__rng_next(&rng);
        }
        if (mlpcl__rng_next(&rng) % 8 == 0) n = mlpcl__rng_next(&rng) % n;
        write_bytes(bad, b, n);
        free(b);
        mlpcl_net *net = NULL;
        mlpcl_model_info info;
        int st = mlpcl_model_load(bad, &net, &info);
        CHECK(st == MLPCL_OK || st == MLPCL_ERR_DATA, "random damage %d: %s", i,
              mlpcl_last_error());
        loaded += st == MLPCL_OK;
        mlpcl_net_free(net);
        mlpcl_model_info_free(&info);
    }
    if (verbose) printf("random damage: %zu of 3000 files still loaded\n", loaded);

    /* A header length over the 100 MB cap, in a (sparse) file long enough to hold it. */
    unsigned char big[8] = {0x01, 0xe1, 0xf5, 0x05}; /* 100000001 */
    write_bytes(bad, big, 8);
    CHECK(truncate(bad, 100000100) == 0, "truncate");
    mlpcl_net *net;
    mlpcl_model_info info;
    expect_fail(mlpcl_model_load(bad, &net, &info), MLPCL_ERR_DATA,
                "exceeds the 100000000-byte limit", "header cap");
    unlink(bad);
    expect_fail(mlpcl_model_load(bad, &net, &info), MLPCL_ERR_IO, "cannot open", "missing file");
    expect_fail(mlpcl_model_load(dir, &net, &info), MLPCL_ERR_IO, "not a regular file", "folder");
    free(good[0]);
    free(good[1]);
    free_model(&m64);
    free_model(&m32);
}

/* ---- Files for checking safetensors_numpy.py -------------------------------------------- */

static void leave_files(const char *out)
{
    char p[512];
    model m = make_model(MLPCL_PRECISION_DOUBLE, 5);
    size_t rows = 7, n0 = widths[0];
    double X[7 * 3], Xs[7 * 3];
    mlpcl_rng rng = {9};
    fill_uniform(&rng, X, rows * n0, -3, 3);
    for (size_t i = 0; i < rows * n0; ++i) Xs[i] = (X[i] - mean[i % n0]) / stdev[i % n0];
    double *A[4];
    for (int variant = 0; variant < 3; ++variant) {
        /* ce with norm (F64), ce with norm (F32), mse without norm (F64) */
        if (variant == 2) {
            OK(mlpcl_net_set_loss(m.net, MLPCL_LOSS_MSE));
            m.info.norm.n = 0;
        }
        m.info.dtype = variant == 1 ? MLPCL_PRECISION_FLOAT : MLPCL_PRECISION_DOUBLE;
        snprintf(p, sizeof p, "%s/model%d.safetensors", out, variant);
        OK(mlpcl_model_save(p, m.net, &m.info));
        /* The reference predicts with the parameters as the file holds them. */
        mlpcl_net *loaded;
        mlpcl_model_info info;
        OK(mlpcl_model_load(p, &loaded, &info));
        for (size_t l = 1; l <= 3; ++l) A[l] = malloc(rows * widths[l] * sizeof(double));
        mlpcl__ref_forward(loaded, loaded->params, variant == 2 ? X : Xs, rows, A);
        snprintf(p, sizeof p, "%s/out%d.csv", out, variant);
        OK(mlpcl_csv_write(p, A[3], rows, widths[3]));
        for (size_t l = 1; l <= 3; ++l) free(A[l]);
        mlpcl_net_free(loaded);
        mlpcl_model_info_free(&info);
    }
    snprintf(p, sizeof p, "%s/X.csv", out);
    OK(mlpcl_csv_write(p, X, rows, n0));
    free_model(&m);
    printf("left model0-2.safetensors, out0-2.csv and X.csv in %s\n", out);
}

static void remove_all(void)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlink(path_in(e->d_name));
    if (d) closedir(d);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    (void)test_device; /* no device here */
    (void)compare;
    snprintf(dir, sizeof dir, "/tmp/mlpcl-test-model-XXXXXX");
    if (!mkdtemp(dir)) return printf("FAIL: mkdtemp\n"), 1;
    test_round_trips();
    test_failed_saves();
    test_corrupt_files(getenv("VERBOSE") != NULL);
    if (argc > 1) leave_files(argv[1]);
    remove_all();
    return report("test_model");
}
