// SPDX-License-Identifier: MIT
/* device.c: platforms and devices, their properties, device selection, and the context and
 * command queue of the chosen device (or a group of such contexts, for a list of devices). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "comm.h" /* mlpcl__comm_local_rank */
#include "internal.h"

static const char no_platform_hint[] =
    "\nNo OpenCL platform is installed, or the ICD loader found none. The loader reads one "
    ".icd file per driver from /etc/OpenCL/vendors (or from the folder named by "
    "OCL_ICD_VENDORS); each names a driver library. On Debian, `apt-get install "
    "pocl-opencl-icd` adds the POCL CPU driver; `--device host` trains without OpenCL.";

/* Every platform's id, and every device of every platform (in listing order). */
typedef struct device_list {
    cl_uint n_platforms;
    cl_platform_id *platforms;
    size_t n;
    cl_device_id *devices;
    int *platform_of, *index_in_platform;
} device_list;

static void device_list_free(device_list *dl)
{
    free(dl->platforms);
    free(dl->devices);
    free(dl->platform_of);
    free(dl->index_in_platform);
    memset(dl, 0, sizeof *dl);
}

static mlpcl_status device_list_get(device_list *dl)
{
    mlpcl_status st = MLPCL_OK;
    memset(dl, 0, sizeof *dl);
    cl_int err = clGetPlatformIDs(0, NULL, &dl->n_platforms);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && !dl->n_platforms)) {
        st = mlpcl__cl_fail(-1001, "clGetPlatformIDs", NULL, __FILE__, __LINE__);
        mlpcl__append("%s", no_platform_hint);
        return st;
    }
    CL_CHECK(err, "clGetPlatformIDs", NULL);
    dl->platforms = malloc(dl->n_platforms * sizeof *dl->platforms);
    if (!dl->platforms) goto nomem;
    CL_CHECK(clGetPlatformIDs(dl->n_platforms, dl->platforms, NULL), "clGetPlatformIDs", NULL);
    for (cl_uint p = 0; p < dl->n_platforms; ++p) {
        cl_uint n = 0;
        err = clGetDeviceIDs(dl->platforms[p], CL_DEVICE_TYPE_ALL, 0, NULL, &n);
        if (err == CL_DEVICE_NOT_FOUND) continue; /* a platform with no device: skip it */
        CL_CHECK(err, "clGetDeviceIDs", NULL);
        size_t total = dl->n + n;
        cl_device_id *d = realloc(dl->devices, total * sizeof *d);
        if (!d) goto nomem;
        dl->devices = d;
        int *po = realloc(dl->platform_of, total * sizeof *po);
        if (!po) goto nomem;
        dl->platform_of = po;
        int *ip = realloc(dl->index_in_platform, total * sizeof *ip);
        if (!ip) goto nomem;
        dl->index_in_platform = ip;
        CL_CHECK(clGetDeviceIDs(dl->platforms[p], CL_DEVICE_TYPE_ALL, n, dl->devices + dl->n, NULL),
                 "clGetDeviceIDs", NULL);
        for (cl_uint i = 0; i < n; ++i) {
            dl->platform_of[dl->n + i] = (int)p;
            dl->index_in_platform[dl->n + i] = (int)i;
        }
        dl->n = total;
    }
    return MLPCL_OK;
nomem:
    st = mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory listing devices");
fail:
    device_list_free(dl);
    return st;
}

/* CL_DEVICE_EXTENSIONS into buf, cut after the last whole name that fits. */
static cl_int get_extensions(cl_device_id d, char *buf, size_t size)
{
    size_t need = 0;
    cl_int err = clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &need);
    if (err || need <= size)
        return err ? err : clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, size, buf, NULL);
    char *all = malloc(need);
    if (!all) return CL_OUT_OF_HOST_MEMORY;
    err = clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, need, all, NULL);
    if (!err) {
        size_t cut = size - 1;
        while (cut > 0 && all[cut] != ' ') --cut;
        memcpy(buf, all, cut);
        buf[cut] = '\0';
    }
    free(all);
    return err;
}

/* The x86 vector instructions of LLVM's CPU names (in POCL's device names), each ISA with the
 * names it covers: AVX-512 first ("skylake-avx512" holds "skylake"), "x86-64-v4" and
 * "x86-64-v3" before "x86-64". */
static const struct {
    const char *isa, *cpus;
} x86[] = {
    {"AVX-512", "avx512 x86-64-v4 knl knm icelake tigerlake cooperlake cascadelake cannonlake "
                "rocketlake sapphirerapids graniterapids emeraldrapids znver4 znver5"},
    {"AVX2", "x86-64-v3 haswell broadwell skylake znver alderlake raptorlake meteorlake"},
    {"AVX", "bdver sandybridge ivybridge btver2"},
    {"SSE", "x86-64 athlon k8 core2 penryn nehalem westmere silvermont goldmont tremont btver1 "
            "nocona"}};

/* A CPU device's vector instructions (mlpcl_device_info's isa): the name first, since POCL's
 * CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT follows the host's CPU even where POCL_KERNELLIB_NAME
 * builds its kernels for less (16 floats for pthread-haswell on an AVX-512 host). */
static void cpu_isa(cl_device_id d, mlpcl_device_info *info)
{
    for (size_t i = 0; i < sizeof x86 / sizeof *x86; ++i)
        for (const char *c = x86[i].cpus; *c; c += strspn(c, " ")) {
            char cpu[32];
            size_t n = strcspn(c, " ");
            snprintf(cpu, sizeof cpu, "%.*s", (int)n, c);
            c += n;
            if (!strstr(info->name, cpu)) continue;
            snprintf(info->isa, sizeof info->isa, "%s", x86[i].isa);
            return;
        }
    cl_uint native = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof native, &native, NULL) ==
            CL_SUCCESS &&
        native)
        snprintf(info->isa, sizeof info->isa, "%u-bit", native * 32);
}

mlpcl_status mlpcl__device_info(cl_platform_id p, cl_device_id d, int pi, int di,
                                mlpcl_device_info *info)
{
    mlpcl_status st = MLPCL_OK;
    cl_device_type type;
    cl_uint cu;
    cl_ulong mem, alloc;
    size_t wg;
    cl_device_fp_config fp64 = 0;
    cl_uint clock;
    cl_ulong local;
    memset(info, 0, sizeof *info);
    info->platform = pi;
    info->device = di;
    char where[32]; /* the device, until its name is known */
    snprintf(where, sizeof where, "%d:%d", pi, di);
    CL_CHECK(clGetDeviceInfo(d, CL_DEVICE_NAME, sizeof info->name, info->name, NULL),
             "clGetDeviceInfo(CL_DEVICE_NAME)", where);
    const char *dn = info->name;
    CL_CHECK(clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform_name, info->platform_name,
                               NULL),
             "clGetPlatformInfo(CL_PLATFORM_NAME)", dn);
    CL_CHECK(clGetDeviceInfo(d, CL_DEVICE_VERSION, sizeof info->version, info->version, NULL),
             "clGetDeviceInfo(CL_DEVICE_VERSION)", dn);
    CL_CHECK(clGetDeviceInfo(d, CL_DRIVER_VERSION, sizeof info->driver, info->driver, NULL),
             "clGetDeviceInfo(CL_DRIVER_VERSION)", dn);
    CL_CHECK(clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL),
             "clGetDeviceInfo(CL_DEVICE_TYPE)", dn);
    CL_CHECK(clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL),
             "clGetDeviceInfo(CL_DEVICE_MAX_COMPUTE_UNITS)", dn);
    CL_CHECK(clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, NULL),
             "clGetDeviceInfo(CL_DEVICE_GLOBAL_MEM_SIZE)", dn);
    CL_CHECK(clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof alloc, &alloc, NULL),
             "clGetDeviceInfo(CL_DEVICE_MAX_MEM_ALLOC_SIZE)", dn);
    CL_CHECK(clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL),
             "clGetDeviceInfo(CL_DEVICE_MAX_WORK_GROUP_SIZE)", dn);
    /* Zero when double is unsupported; works for OpenCL 1.2 and 3.0 devices alike. */
    CL_CHECK(clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp64, &fp64, NULL),
             "clGetDeviceInfo(CL_DEVICE_DOUBLE_FP_CONFIG)", dn);
    CL_CHECK(clGetDeviceInfo(d, CL_DEVICE_VENDOR, sizeof info->vendor, info->vendor, NULL),
             "clGetDeviceInfo(CL_DEVICE_VENDOR)", dn);
    CL_CHECK(clGetPlatformInfo(p, CL_PLATFORM_VERSION, sizeof info->platform_version,
                               info->platform_version, NULL),
             "clGetPlatformInfo(CL_PLATFORM_VERSION)", dn);
    CL_CHECK(clGetDeviceInfo(d, CL_DEVICE_OPENCL_C_VERSION, sizeof info->c_version, info->c_version,
                             NULL),
             "clGetDeviceInfo(CL_DEVICE_OPENCL_C_VERSION)", dn);
    CL_CHECK(clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof clock, &clock, NULL),
             "clGetDeviceInfo(CL_DEVICE_MAX_CLOCK_FREQUENCY)", dn);
    CL_CHECK(clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local, &local, NULL),
             "clGetDeviceInfo(CL_DEVICE_LOCAL_MEM_SIZE)", dn);
    CL_CHECK(get_extensions(d, info->extensions, sizeof info->extensions),
             "clGetDeviceInfo(CL_DEVICE_EXTENSIONS)", dn);
    info->max_clock = clock;
    info->local_mem = local;
    info->type = type & CL_DEVICE_TYPE_GPU           ? "gpu"
                 : type & CL_DEVICE_TYPE_CPU         ? "cpu"
                 : type & CL_DEVICE_TYPE_ACCELERATOR ? "accelerator"
                                                     : "other";
    info->compute_units = cu;
    info->global_mem = mem;
    info->max_alloc = alloc;
    info->max_work_group = wg;
    info->fp64 = fp64 != 0;
    if (type & CL_DEVICE_TYPE_CPU) cpu_isa(d, info);
fail:
    return st;
}

static void host_info(mlpcl_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->platform = info->device = -1;
    info->type = "host";
    snprintf(info->name, sizeof info->name, "host");
    snprintf(info->platform_name, sizeof info->platform_name, "mlpcl reference");
    snprintf(info->version, sizeof info->version, "plain C, double precision, one thread");
    snprintf(info->driver, sizeof info->driver, "%s", MLPCL_VERSION);
    info->compute_units = 1;
    info->fp64 = 1;
}

mlpcl_status mlpcl_devices(mlpcl_device_info **list, size_t *count)
{
    device_list dl;
    *list = NULL;
    *count = 0;
    mlpcl_status st = device_list_get(&dl);
    if (st != MLPCL_OK) return st;
    mlpcl_device_info *out = calloc(dl.n + 1, sizeof *out);
    if (!out) {
        device_list_free(&dl);
        return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory listing devices");
    }
    for (size_t i = 0; i < dl.n && st == MLPCL_OK; ++i)
        st = mlpcl__device_info(dl.platforms[dl.platform_of[i]], dl.devices[i], dl.platform_of[i],
                                dl.index_in_platform[i], &out[i]);
    size_t n = dl.n;
    host_info(&out[n]);
    device_list_free(&dl);
    if (st != MLPCL_OK) {
        free(out);
        return st;
    }
    *list = out;
    *count = n + 1;
    return MLPCL_OK;
}

void mlpcl_device_describe(const mlpcl_device_info *d, char *buf, size_t size)
{
    if (d->platform < 0) {
        snprintf(buf, size, "host  host  the reference trainer (%s)", d->version);
        return;
    }
    char where[16];
    snprintf(where, sizeof where, "%d:%d", d->platform, d->device);
    snprintf(buf, size,
             "%-4s  %-4s  %s  [%s; %s; driver %s]  %u CUs, %.1f GiB (%.1f GiB a buffer), %s", where,
             d->type, d->name, d->platform_name, d->version, d->driver, d->compute_units,
             (double)d->global_mem / (1u << 30), (double)d->max_alloc / (1u << 30),
             d->fp64 ? "fp64" : "no fp64");
}

static int all_digits(const char *s, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; ++i)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; ++hay)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return 0;
}

/* The index in dl of the device sel names, or -1. A type or name that several devices match
 * names the nth of them (modulo their count): an MPI rank's local rank spreads the ranks of one
 * machine over its devices. */
static long select_device(const device_list *dl, const mlpcl_device_info *info, const char *sel,
                          size_t nth)
{
    size_t matches = 0;
    size_t len = strlen(sel);
    const char *colon = strchr(sel, ':');
    if (colon && all_digits(sel, (size_t)(colon - sel)) &&
        all_digits(colon + 1, strlen(colon + 1))) {
        long p = strtol(sel, NULL, 10), d = strtol(colon + 1, NULL, 10);
        for (size_t i = 0; i < dl->n; ++i)
            if (dl->platform_of[i] == p && dl->index_in_platform[i] == d) return (long)i;
        return -1;
    }
    if (all_digits(sel, len)) {
        long i = strtol(sel, NULL, 10);
        return i < (long)dl->n ? i : -1;
    }
    if (!strcasecmp(sel, "gpu") || !strcasecmp(sel, "cpu") || !strcasecmp(sel, "accelerator")) {
        for (size_t i = 0; i < dl->n; ++i) matches += !strcasecmp(info[i].type, sel);
        for (size_t i = 0, k = 0; i < dl->n; ++i)
            if (!strcasecmp(info[i].type, sel) && k++ == nth % matches) return (long)i;
        return -1;
    }
    for (size_t i = 0; i < dl->n; ++i)
        matches +=
            contains_nocase(info[i].name, sel) || contains_nocase(info[i].platform_name, sel);
    for (size_t i = 0, k = 0; i < dl->n; ++i)
        if ((contains_nocase(info[i].name, sel) || contains_nocase(info[i].platform_name, sel)) &&
            k++ == nth % matches)
            return (long)i;
    return -1;
}

/* A group of the devices a comma-separated list names, one member context each: the group's
 * info is member 0's, named after all of them. */
static mlpcl_status create_group(mlpcl_ctx *ctx, const char *list)
{
    mlpcl_status st = MLPCL_OK;
    size_t n = 1;
    for (const char *s = list; *s; ++s) n += *s == ',';
    ctx->members = calloc(n, sizeof *ctx->members);
    if (!ctx->members) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a context");
    const char *s = list;
    for (size_t i = 0; i < n; ++i) {
        size_t len = strcspn(s, ",");
        char sel[256];
        if (len == 0 || len >= sizeof sel || (len == 4 && !strncasecmp(s, "host", 4)))
            return mlpcl__fail(MLPCL_ERR_ARG,
                               "device list \"%s\": each entry must name one OpenCL device "
                               "(not empty, not host)",
                               list);
        memcpy(sel, s, len);
        sel[len] = '\0';
        TRY(mlpcl_ctx_create(sel, ctx->flags, &ctx->members[i]));
        ctx->n_members = i + 1;
        s += len + (s[len] == ',');
    }
    ctx->info = ctx->members[0]->info;
    size_t at = 0;
    for (size_t i = 0; i < n; ++i) {
        const mlpcl_device_info *d = &ctx->members[i]->info;
        ctx->info.fp64 &= d->fp64;
        int w = snprintf(ctx->info.name + at, sizeof ctx->info.name - at, "%s%s", i ? " + " : "",
                         d->name);
        at += w > 0 ? (size_t)w : 0;
        if (at >= sizeof ctx->info.name) break;
    }
fail:
    return st;
}

mlpcl_status mlpcl_ctx_create(const char *selector, unsigned flags, mlpcl_ctx **out)
{
    mlpcl_status st = MLPCL_OK;
    device_list dl = {0};
    mlpcl_device_info *info = NULL;
    *out = NULL;
    if (!selector || !*selector) selector = getenv("MLPCL_DEVICE");
    if (!selector) selector = "";
    mlpcl_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory for a context");
    ctx->flags = flags;
    if (strchr(selector, ',')) {
        TRY(create_group(ctx, selector));
        *out = ctx;
        return MLPCL_OK;
    }
    if (!strcasecmp(selector, "host")) {
        ctx->is_host = 1;
        host_info(&ctx->info);
        *out = ctx;
        return MLPCL_OK;
    }
    TRY(device_list_get(&dl));
    info = calloc(dl.n + 1, sizeof *info);
    if (!info) {
        st = mlpcl__fail(MLPCL_ERR_NOMEM, "out of host memory listing devices");
        goto fail;
    }
    for (size_t i = 0; i < dl.n; ++i)
        TRY(mlpcl__device_info(dl.platforms[dl.platform_of[i]], dl.devices[i], dl.platform_of[i],
                               dl.index_in_platform[i], &info[i]));
    long pick = -1;
    size_t nth = (size_t)mlpcl__comm_local_rank();
    if (*selector) {
        pick = select_device(&dl, info, selector, nth);
    } else {
        pick = select_device(&dl, info, "gpu", nth);
        if (pick < 0) pick = select_device(&dl, info, "cpu", nth);
        if (pick < 0 && dl.n) pick = 0;
    }
    if (pick < 0) {
        st = mlpcl__fail(MLPCL_ERR_NO_DEVICE, "no OpenCL device matches \"%s\"; the devices are:",
                         *selector ? selector : "(default: gpu, else cpu)");
        host_info(&info[dl.n]);
        for (size_t i = 0; i <= dl.n; ++i) {
            char line[1200];
            mlpcl_device_describe(&info[i], line, sizeof line);
            mlpcl__append("\n  %s", line);
        }
        goto fail;
    }
    ctx->info = info[pick];
    ctx->platform = dl.platforms[dl.platform_of[pick]];
    ctx->device = dl.devices[pick];
    const char *dn = ctx->info.name;
    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform, 0};
    ctx->context = clCreateContext(props, 1, &ctx->device, NULL, NULL, &err);
    CL_CHECK(err, "clCreateContext", dn);
    cl_command_queue_properties qp = flags & MLPCL_CTX_PROFILE ? CL_QUEUE_PROFILING_ENABLE : 0;
    ctx->queue = clCreateCommandQueue(ctx->context, ctx->device, qp, &err);
    CL_CHECK(err, "clCreateCommandQueue", dn);
    mlpcl__warmup_start(ctx);
    free(info);
    device_list_free(&dl);
    *out = ctx;
    return MLPCL_OK;
fail:
    free(info);
    device_list_free(&dl);
    mlpcl_ctx_free(ctx);
    return st;
}

void mlpcl_ctx_free(mlpcl_ctx *ctx)
{
    if (!ctx) return;
    for (size_t i = 0; i < ctx->n_members; ++i) mlpcl_ctx_free(ctx->members[i]);
    free(ctx->members);
    free(ctx->tuning);
    mlpcl__warmup_join(ctx);
    mlpcl__programs_free(ctx);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->context) clReleaseContext(ctx->context);
    free(ctx);
}

const mlpcl_device_info *mlpcl_ctx_device(const mlpcl_ctx *ctx)
{
    return &ctx->info;
}

size_t mlpcl_ctx_device_count(const mlpcl_ctx *ctx)
{
    return ctx->n_members ? ctx->n_members : 1;
}
