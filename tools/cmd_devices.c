// SPDX-License-Identifier: MIT
/* cmd_devices.c: `mlpcl devices`: every OpenCL platform and device and the host trainer, one
 * line each, in detail (--verbose, what clinfo would say of them), or as one JSON array (--json)
 * for programs. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "Usage: mlpcl devices [OPTIONS]\n"
    "\n"
    "Lists every OpenCL platform and device with its index (platform:device), type, name,\n"
    "platform, OpenCL version, driver, compute units, memory and double-precision support,\n"
    "then the host reference trainer. Any of these can be given to --device.\n"
    "\n"
    "options:\n"
    "  -v, --verbose      each device in detail: vendor, platform, device and OpenCL C\n"
    "                     versions, driver, compute units, clock, work-group size, local and\n"
    "                     global memory, the largest buffer, double precision, extensions\n"
    "      --json         the same as one JSON array, an object a device (the host last, with\n"
    "                     null indices)\n"
    "  -d, --device SEL   only the device SEL selects, as `mlpcl train --device SEL` would\n"
    "                     (\"\": the default, $MLPCL_DEVICE, else the first GPU, else the\n"
    "                     first CPU; of a list, its first device)\n"
    "  -h, --help         print this text and exit\n"
    "  -V, --version      print the version and exit\n";

/* The selector --device takes for d: "P:D", or "host". */
static void selector(const mlpcl_device_info *d, char *buf, size_t size)
{
    if (d->platform < 0)
        snprintf(buf, size, "host");
    else
        snprintf(buf, size, "%d:%d", d->platform, d->device);
}

/* bytes in the largest binary unit that keeps it at least 1 ("512 KiB", "18.3 GiB"). */
static void scaled_bytes(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, ++u;
    snprintf(buf, size, v == (double)(uint64_t)v ? "%.0f %s" : "%.1f %s", v, units[u]);
}

static void print_verbose(const mlpcl_device_info *d)
{
    char line[1200], sel[32], mem[3][32];
    mlpcl_device_describe(d, line, sizeof line);
    selector(d, sel, sizeof sel);
    printf("%s\n", line);
    if (d->platform < 0) {
        printf("  %-22s %s\n  %-22s %s\n  %-22s %s\n\n", "Selector", sel, "Trainer", d->version,
               "Version", d->driver);
        return;
    }
    scaled_bytes(d->local_mem, mem[0], sizeof mem[0]);
    scaled_bytes(d->global_mem, mem[1], sizeof mem[1]);
    scaled_bytes(d->max_alloc, mem[2], sizeof mem[2]);
    printf("  %-22s %s\n", "Selector", sel);
    printf("  %-22s %s\n", "Name", d->name);
    printf("  %-22s %s\n", "Vendor", d->vendor);
    printf("  %-22s %s\n", "Type", d->type);
    printf("  %-22s %s\n", "Platform", d->platform_name);
    printf("  %-22s %s\n", "Platform version", d->platform_version);
    printf("  %-22s %s\n", "Device version", d->version);
    printf("  %-22s %s\n", "OpenCL C version", d->c_version);
    printf("  %-22s %s\n", "Driver version", d->driver);
    printf("  %-22s %u\n", "Compute units", d->compute_units);
    if (*d->isa) printf("  %-22s %s\n", "Vector instructions", d->isa);
    printf("  %-22s %u MHz\n", "Max clock", d->max_clock);
    printf("  %-22s %zu\n", "Max work-group size", d->max_work_group);
    printf("  %-22s %s (%llu bytes)\n", "Local memory", mem[0], (unsigned long long)d->local_mem);
    printf("  %-22s %s (%llu bytes)\n", "Global memory", mem[1], (unsigned long long)d->global_mem);
    printf("  %-22s %s (%llu bytes)\n", "Max buffer", mem[2], (unsigned long long)d->max_alloc);
    printf("  %-22s %s\n", "Double precision", d->fp64 ? "yes" : "no");
    printf("  %-22s", "Extensions");
    /* One name a line, under the first, as clinfo lists them. */
    int first = 1;
    for (const char *p = d->extensions; *p;) {
        size_t n = strcspn(p, " ");
        if (n) {
            if (!first) printf("  %-22s", "");
            printf(" %.*s\n", (int)n, p);
            first = 0;
        }
        p += n + (p[n] == ' ');
    }
    fputs(first ? " (none)\n\n" : "\n", stdout);
}

/* d as a JSON object; NULL when out of memory. */
static cJSON *device_json(const mlpcl_device_info *d)
{
    char sel[32];
    selector(d, sel, sizeof sel);
    cJSON *o = cJSON_CreateObject(), *ext = cJSON_CreateArray();
    if (!o || !ext) {
        cJSON_Delete(o);
        cJSON_Delete(ext);
        return NULL;
    }
    int host = d->platform < 0;
    cJSON_AddStringToObject(o, "selector", sel);
    cJSON_AddItemToObject(o, "platform",
                          host ? cJSON_CreateNull() : cJSON_CreateNumber(d->platform));
    cJSON_AddItemToObject(o, "device", host ? cJSON_CreateNull() : cJSON_CreateNumber(d->device));
    cJSON_AddStringToObject(o, "type", d->type);
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "vendor", d->vendor);
    cJSON_AddStringToObject(o, "platform_name", d->platform_name);
    cJSON_AddStringToObject(o, "platform_version", d->platform_version);
    cJSON_AddStringToObject(o, "version", d->version);
    cJSON_AddStringToObject(o, "opencl_c_version", d->c_version);
    cJSON_AddStringToObject(o, "driver_version", d->driver);
    cJSON_AddNumberToObject(o, "compute_units", d->compute_units);
    cJSON_AddStringToObject(o, "isa", d->isa);
    cJSON_AddNumberToObject(o, "max_clock_mhz", d->max_clock);
    cJSON_AddNumberToObject(o, "max_work_group_size", (double)d->max_work_group);
    /* Byte counts as JSON numbers: exact in a double up to 2^53 bytes (8 PiB). */
    cJSON_AddNumberToObject(o, "local_mem_bytes", (double)d->local_mem);
    cJSON_AddNumberToObject(o, "global_mem_bytes", (double)d->global_mem);
    cJSON_AddNumberToObject(o, "max_alloc_bytes", (double)d->max_alloc);
    cJSON_AddBoolToObject(o, "fp64", d->fp64);
    for (const char *p = d->extensions; *p;) {
        size_t n = strcspn(p, " ");
        char name[256];
        if (n && n < sizeof name) {
            memcpy(name, p, n);
            name[n] = '\0';
            cJSON_AddItemToArray(ext, cJSON_CreateString(name));
        }
        p += n + (p[n] == ' ');
    }
    cJSON_AddItemToObject(o, "extensions", ext);
    return o;
}

/* The list as one JSON array on stdout. */
static int print_json(const mlpcl_device_info *list, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    int ok = arr != NULL;
    for (size_t i = 0; i < n && ok; ++i) {
        cJSON *o = device_json(&list[i]);
        ok = o != NULL;
        if (ok) cJSON_AddItemToArray(arr, o);
    }
    char *text = ok ? cJSON_Print(arr) : NULL;
    cJSON_Delete(arr);
    if (!text) return failf(EXIT_DEVICE, "out of host memory writing JSON");
    puts(text);
    cJSON_free(text);
    return 0;
}

enum { SHOW_LINES, SHOW_VERBOSE, SHOW_JSON };

static int show(const mlpcl_device_info *list, size_t n, int how)
{
    if (how == SHOW_JSON) return print_json(list, n);
    for (size_t i = 0; i < n; ++i) {
        if (how == SHOW_VERBOSE) {
            print_verbose(&list[i]);
            continue;
        }
        char line[1200];
        mlpcl_device_describe(&list[i], line, sizeof line);
        puts(line);
    }
    return 0;
}

/* The device sel selects, opened as a trainer would open it (the library's own choice, so a
 * program such as tools/bench-peers learns which device and ISA a run will use). */
static int show_selected(const char *sel, int how)
{
    mlpcl_ctx *ctx;
    int st = mlpcl_ctx_create(sel, 0, &ctx);
    if (st != MLPCL_OK) return lib_fail(st);
    int rc = show(mlpcl_ctx_device(ctx), 1, how);
    mlpcl_ctx_free(ctx);
    return rc ? rc : cli_close_stdout();
}

int cmd_devices(int argc, char **argv)
{
    enum { O_VERBOSE, O_JSON, O_DEVICE };
    static const cli_option options[] = {
        {"verbose", 'v', 0, O_VERBOSE},
        {"json", 0, 0, O_JSON},
        {"device", 'd', 1, O_DEVICE},
        {NULL, 0, 0, 0},
    };
    int how = SHOW_LINES;
    const char *sel = NULL;
    cli_parser cp;
    cli_begin(&cp, "devices", usage, options, argc, argv);
    for (int id; (id = cli_next(&cp)) != CLI_END;) {
        switch (id) {
        case CLI_SHOWN:
            return 0;
        case CLI_ERROR:
            return EXIT_USAGE;
        case O_VERBOSE:
            how = how == SHOW_JSON ? how : SHOW_VERBOSE;
            break;
        case O_JSON:
            how = SHOW_JSON;
            break;
        case O_DEVICE:
            sel = cp.value;
            break;
        }
    }
    if (sel) return show_selected(sel, how);
    mlpcl_device_info *list;
    size_t n;
    int st = mlpcl_devices(&list, &n), rc;
    if (st != MLPCL_OK && strstr(mlpcl_last_error(), "CL_PLATFORM_NOT_FOUND_KHR")) {
        /* No OpenCL at all is not an error here: the host trainer is still there to list. */
        fprintf(stderr, "mlpcl: note: no OpenCL platform: %s\n", mlpcl_last_error());
        return show_selected("host", how);
    }
    if (st != MLPCL_OK) return lib_fail(st);
    rc = show(list, n, how);
    free(list);
    return rc ? rc : cli_close_stdout();
}
