// SPDX-License-Identifier: MIT
/* probe.c: a tiny OpenCL program that checks the fault layer itself. It creates a context, a
 * queue, a buffer and an event (from a non-blocking write), and releases them all, or with the
 * argument "leak" keeps the buffer and the event, which the layer must report at exit. Exits
 * 0 when every call succeeded, 3 when one failed (naming it), 77 without a device. With the
 * argument "info" it prints instead each device's name, work-group limit and memory, so that
 * tests can see that the driver took their settings (POCL_MAX_WORK_GROUP_SIZE…). */
#include <stdio.h>
#include <string.h>

#include <CL/cl.h>

static int failed(const char *call, cl_int err)
{
    fprintf(stderr, "probe: %s failed: %d\n", call, (int)err);
    return 3;
}

/* One line a device: "NAME|max_work_group_size|global_mem_size|max_mem_alloc_size". */
static int info(void)
{
    cl_platform_id platforms[16];
    cl_uint np = 0;
    if (clGetPlatformIDs(16, platforms, &np) != CL_SUCCESS || !np) return 77;
    for (cl_uint p = 0; p < np && p < 16; ++p) {
        cl_device_id devices[16];
        cl_uint nd = 0;
        if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 16, devices, &nd) != CL_SUCCESS)
            continue;
        for (cl_uint d = 0; d < nd && d < 16; ++d) {
            char name[256] = "";
            size_t wg = 0;
            cl_ulong mem = 0, alloc = 0;
            clGetDeviceInfo(devices[d], CL_DEVICE_NAME, sizeof name, name, NULL);
            clGetDeviceInfo(devices[d], CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
            clGetDeviceInfo(devices[d], CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, NULL);
            clGetDeviceInfo(devices[d], CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof alloc, &alloc, NULL);
            printf("%s|%zu|%llu|%llu\n", name, wg, (unsigned long long)mem,
                   (unsigned long long)alloc);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "info")) return info();
    int leak = argc > 1 && !strcmp(argv[1], "leak");
    cl_platform_id platform;
    cl_device_id device;
    cl_uint n = 0;
    cl_int err = clGetPlatformIDs(1, &platform, &n);
    if (err != CL_SUCCESS || !n) return 77;
    if (clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL) != CL_SUCCESS) return 77;
    cl_context ctx = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
    if (!ctx) return failed("clCreateContext", err);
    int rc = 0;
    cl_command_queue q = clCreateCommandQueue(ctx, device, 0, &err);
    if (!q) {
        rc = failed("clCreateCommandQueue", err);
        goto release_context;
    }
    cl_mem buf = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 64, NULL, &err);
    if (!buf) {
        rc = failed("clCreateBuffer", err);
        goto release_queue;
    }
    static const char bytes[64];
    cl_event ev = NULL;
    err = clEnqueueWriteBuffer(q, buf, CL_FALSE, 0, sizeof bytes, bytes, 0, NULL, &ev);
    if (err != CL_SUCCESS) {
        rc = failed("clEnqueueWriteBuffer", err);
    } else if ((err = clWaitForEvents(1, &ev)) != CL_SUCCESS) {
        rc = failed("clWaitForEvents", err);
    }
    if ((err = clFinish(q)) != CL_SUCCESS && !rc) rc = failed("clFinish", err);
    if (!leak) {
        if (ev) clReleaseEvent(ev);
        clReleaseMemObject(buf);
    }
release_queue:
    clReleaseCommandQueue(q);
release_context:
    clReleaseContext(ctx);
    return rc;
}
