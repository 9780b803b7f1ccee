// SPDX-License-Identifier: MIT
/* faultlayer.c: an OpenCL layer for the tests (loaded by the ICD loader from OPENCL_LAYERS).
 * It makes the N-th call of one kind fail, counts the calls of every kind, and follows every
 * OpenCL object the program creates, retains and releases, so that those still alive at exit
 * (which LeakSanitizer cannot see: the driver's allocations are suppressed) are reported.
 *
 *   MLPCL_FAULT_CALL=KIND    platform, info, context, queue, buffer, program, build, kernel,
 *                            arg, enqueue, read, write, finish, wait or flush (see `kinds`)
 *   MLPCL_FAULT_N=N          the N-th call of that kind fails (from 1; default 1)
 *   MLPCL_FAULT_ERROR=CODE   the error it returns (default -5, CL_OUT_OF_RESOURCES); a create
 *                            call returns NULL and sets *errcode_ret
 *   MLPCL_FAULT_COUNT=FILE   at exit, write "KIND COUNT" lines: the calls of every kind
 *   MLPCL_FAULT_LEAKS_EXIT=1 at exit, when an object is still alive or was released once too
 *                            often, exit with status 99 (the report goes to stderr either way)
 *
 * A failing call does not reach the driver. Objects are followed by handle: created once, plus
 * retains, minus successful releases; an event counts as created when an enqueue call returns
 * one through its `event` argument. */
#define _POSIX_C_SOURCE 200809L
#undef CL_TARGET_OPENCL_VERSION /* the project builds for 1.2; a layer sees every entry point */
#define CL_TARGET_OPENCL_VERSION 300
#define CL_USE_DEPRECATED_OPENCL_1_0_APIS
#define CL_USE_DEPRECATED_OPENCL_1_1_APIS
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#define CL_USE_DEPRECATED_OPENCL_2_0_APIS
#include <CL/cl_layer.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Call kinds and fault injection ------------------------------------------------------- */

enum {
    F_PLATFORM, /* clGetPlatformIDs, clGetDeviceIDs */
    F_INFO,     /* clGetPlatformInfo, clGetDeviceInfo, clGetKernelWorkGroupInfo,
                   clGetProgramBuildInfo */
    F_CONTEXT,  /* clCreateContext, clCreateContextFromType */
    F_QUEUE,    /* clCreateCommandQueue, clCreateCommandQueueWithProperties */
    F_BUFFER,   /* clCreateBuffer, clCreateBufferWithProperties */
    F_PROGRAM,  /* clCreateProgramWithSource */
    F_BUILD,    /* clBuildProgram */
    F_KERNEL,   /* clCreateKernel */
    F_ARG,      /* clSetKernelArg */
    F_ENQUEUE,  /* clEnqueueNDRangeKernel */
    F_READ,     /* clEnqueueReadBuffer */
    F_WRITE,    /* clEnqueueWriteBuffer */
    F_FINISH,   /* clFinish */
    F_WAIT,     /* clWaitForEvents */
    F_FLUSH,    /* clFlush */
    F_COUNT
};

static const char *const kinds[F_COUNT] = {
    [F_PLATFORM] = "platform", [F_INFO] = "info",     [F_CONTEXT] = "context",
    [F_QUEUE] = "queue",       [F_BUFFER] = "buffer", [F_PROGRAM] = "program",
    [F_BUILD] = "build",       [F_KERNEL] = "kernel", [F_ARG] = "arg",
    [F_ENQUEUE] = "enqueue",   [F_READ] = "read",     [F_WRITE] = "write",
    [F_FINISH] = "finish",     [F_WAIT] = "wait",     [F_FLUSH] = "flush",
};

static const cl_icd_dispatch *next; /* the loader's (or the next layer's) entry points */
static cl_icd_dispatch own;         /* ours: next's, with the calls below replaced */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long calls[F_COUNT];
static int fault_kind = -1; /* none */
static long fault_n = 1;
static cl_int fault_error = CL_OUT_OF_RESOURCES;

/* Counts a call of kind k; returns the error it must fail with, or CL_SUCCESS. */
static cl_int inject(int k, const char *call)
{
    pthread_mutex_lock(&lock);
    long n = ++calls[k];
    pthread_mutex_unlock(&lock);
    if (k != fault_kind || n != fault_n) return CL_SUCCESS;
    fprintf(stderr, "faultlayer: %s (call %ld of kind %s) fails with %d\n", call, n, kinds[k],
            (int)fault_error);
    return fault_error;
}

/* ---- Objects ------------------------------------------------------------------------------ */

enum { T_CONTEXT, T_QUEUE, T_MEM, T_PROGRAM, T_KERNEL, T_EVENT, T_COUNT };
static const char *const type_names[T_COUNT] = {"cl_context", "cl_command_queue", "cl_mem",
                                                "cl_program", "cl_kernel",        "cl_event"};

/* One handle ever seen: an open-addressing table, never shrunk (a handle whose references
 * reach 0 stays, dead, until the driver hands the same address out again). */
typedef struct object {
    const void *handle; /* NULL: an empty slot */
    int type;
    long refs;        /* 0: released */
    const char *made; /* the call that created it */
} object;

static object *table;
static size_t table_size, table_used;
static long over_released[T_COUNT], unknown_released[T_COUNT];

static size_t slot_of(const void *h, size_t size)
{
    uint64_t x = (uint64_t)(uintptr_t)h;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x & (size - 1);
}

/* The entry for h, added (refs 0) when absent; NULL when out of memory. Called locked. */
static object *find(const void *h, int add)
{
    if (add && 2 * (table_used + 1) > table_size) {
        size_t size = table_size ? 2 * table_size : 1024;
        object *grown = calloc(size, sizeof *grown);
        if (!grown) return NULL;
        for (size_t i = 0; i < table_size; ++i) {
            if (!table[i].handle) continue;
            size_t j = slot_of(table[i].handle, size);
            while (grown[j].handle) j = (j + 1) & (size - 1);
            grown[j] = table[i];
        }
        free(table);
        table = grown;
        table_size = size;
    }
    if (!table_size) return NULL;
    size_t j = slot_of(h, table_size);
    while (table[j].handle && table[j].handle != h) j = (j + 1) & (table_size - 1);
    if (table[j].handle) return &table[j];
    if (!add) return NULL;
    table[j].handle = h;
    table_used++;
    return &table[j];
}

static void created(const void *h, int type, const char *call)
{
    if (!h) return;
    pthread_mutex_lock(&lock);
    object *o = find(h, 1);
    if (o) {
        o->type = type;
        o->refs = 1;
        o->made = call;
    } else {
        fputs("faultlayer: out of memory following objects\n", stderr);
    }
    pthread_mutex_unlock(&lock);
}

static void retained(const void *h, int type)
{
    pthread_mutex_lock(&lock);
    object *o = find(h, 0);
    if (o && o->type == type && o->refs > 0) o->refs++;
    pthread_mutex_unlock(&lock);
}

/* Called before the driver's release, which may free h (and let the address be reused). */
static void released(const void *h, int type)
{
    pthread_mutex_lock(&lock);
    object *o = find(h, 0);
    if (!o || o->type != type) {
        unknown_released[type]++;
        fprintf(stderr, "faultlayer: release of %s %p, which the program never created\n",
                type_names[type], h);
    } else if (o->refs == 0) {
        over_released[type]++;
        fprintf(stderr, "faultlayer: %s %p (from %s) released once too often\n", type_names[type],
                h, o->made);
    } else {
        o->refs--;
    }
    pthread_mutex_unlock(&lock);
}

/* Undoes released() when the driver's release failed. */
static void release_failed(const void *h, int type)
{
    pthread_mutex_lock(&lock);
    object *o = find(h, 0);
    if (o && o->type == type) o->refs++;
    pthread_mutex_unlock(&lock);
}

/* ---- Creating, retaining and releasing ---------------------------------------------------- */

/* The body of a create call of fault kind K (or -1) that makes an object of type T. */
#define CREATE(K, T, call, ...)                                                                    \
    do {                                                                                           \
        cl_int e_ = (K) >= 0 ? inject((K), #call) : CL_SUCCESS;                                    \
        if (e_ != CL_SUCCESS) {                                                                    \
            if (errcode_ret) *errcode_ret = e_;                                                    \
            return NULL;                                                                           \
        }                                                                                          \
        void *h_ = (void *)next->call(__VA_ARGS__);                                                \
        created(h_, (T), #call);                                                                   \
        return h_;                                                                                 \
    } while (0)

static cl_context CL_API_CALL fl_clCreateContext(
    const cl_context_properties *properties, cl_uint num_devices, const cl_device_id *devices,
    void(CL_CALLBACK *pfn_notify)(const char *, const void *, size_t, void *), void *user_data,
    cl_int *errcode_ret)
{
    CREATE(F_CONTEXT, T_CONTEXT, clCreateContext, properties, num_devices, devices, pfn_notify,
           user_data, errcode_ret);
}

static cl_context CL_API_CALL fl_clCreateContextFromType(
    const cl_context_properties *properties, cl_device_type device_type,
    void(CL_CALLBACK *pfn_notify)(const char *, const void *, size_t, void *), void *user_data,
    cl_int *errcode_ret)
{
    CREATE(F_CONTEXT, T_CONTEXT, clCreateContextFromType, properties, device_type, pfn_notify,
           user_data, errcode_ret);
}

static cl_command_queue CL_API_CALL fl_clCreateCommandQueue(cl_context context, cl_device_id device,
                                                            cl_command_queue_properties properties,
                                                            cl_int *errcode_ret)
{
    CREATE(F_QUEUE, T_QUEUE, clCreateCommandQueue, context, device, properties, errcode_ret);
}

static cl_command_queue CL_API_CALL
fl_clCreateCommandQueueWithProperties(cl_context context, cl_device_id device,
                                      const cl_queue_properties *properties, cl_int *errcode_ret)
{
    CREATE(F_QUEUE, T_QUEUE, clCreateCommandQueueWithProperties, context, device, properties,
           errcode_ret);
}

static cl_mem CL_API_CALL fl_clCreateBuffer(cl_context context, cl_mem_flags flags, size_t size,
                                            void *host_ptr, cl_int *errcode_ret)
{
    CREATE(F_BUFFER, T_MEM, clCreateBuffer, context, flags, size, host_ptr, errcode_ret);
}

static cl_mem CL_API_CALL fl_clCreateBufferWithProperties(cl_context context,
                                                          const cl_mem_properties *properties,
                                                          cl_mem_flags flags, size_t size,
                                                          void *host_ptr, cl_int *errcode_ret)
{
    CREATE(F_BUFFER, T_MEM, clCreateBufferWithProperties, context, properties, flags, size,
           host_ptr, errcode_ret);
}

static cl_mem CL_API_CALL fl_clCreateSubBuffer(cl_mem buffer, cl_mem_flags flags,
                                               cl_buffer_create_type type, const void *info,
                                               cl_int *errcode_ret)
{
    CREATE(-1, T_MEM, clCreateSubBuffer, buffer, flags, type, info, errcode_ret);
}

static cl_mem CL_API_CALL fl_clCreateImage(cl_context context, cl_mem_flags flags,
                                           const cl_image_format *format, const cl_image_desc *desc,
                                           void *host_ptr, cl_int *errcode_ret)
{
    CREATE(-1, T_MEM, clCreateImage, context, flags, format, desc, host_ptr, errcode_ret);
}

static cl_mem CL_API_CALL fl_clCreateImageWithProperties(
    cl_context context, const cl_mem_properties *properties, cl_mem_flags flags,
    const cl_image_format *format, const cl_image_desc *desc, void *host_ptr, cl_int *errcode_ret)
{
    CREATE(-1, T_MEM, clCreateImageWithProperties, context, properties, flags, format, desc,
           host_ptr, errcode_ret);
}

static cl_mem CL_API_CALL fl_clCreateImage2D(cl_context context, cl_mem_flags flags,
                                             const cl_image_format *format, size_t width,
                                             size_t height, size_t row_pitch, void *host_ptr,
                                             cl_int *errcode_ret)
{
    CREATE(-1, T_MEM, clCreateImage2D, context, flags, format, width, height, row_pitch, host_ptr,
           errcode_ret);
}

static cl_mem CL_API_CALL fl_clCreateImage3D(cl_context context, cl_mem_flags flags,
                                             const cl_image_format *format, size_t width,
                                             size_t height, size_t depth, size_t row_pitch,
                                             size_t slice_pitch, void *host_ptr,
                                             cl_int *errcode_ret)
{
    CREATE(-1, T_MEM, clCreateImage3D, context, flags, format, width, height, depth, row_pitch,
           slice_pitch, host_ptr, errcode_ret);
}

static cl_mem CL_API_CALL fl_clCreatePipe(cl_context context, cl_mem_flags flags,
                                          cl_uint packet_size, cl_uint max_packets,
                                          const cl_pipe_properties *properties, cl_int *errcode_ret)
{
    CREATE(-1, T_MEM, clCreatePipe, context, flags, packet_size, max_packets, properties,
           errcode_ret);
}

static cl_program CL_API_CALL fl_clCreateProgramWithSource(cl_context context, cl_uint count,
                                                           const char **strings,
                                                           const size_t *lengths,
                                                           cl_int *errcode_ret)
{
    CREATE(F_PROGRAM, T_PROGRAM, clCreateProgramWithSource, context, count, strings, lengths,
           errcode_ret);
}

static cl_program CL_API_CALL fl_clCreateProgramWithBinary(
    cl_context context, cl_uint num_devices, const cl_device_id *devices, const size_t *lengths,
    const unsigned char **binaries, cl_int *binary_status, cl_int *errcode_ret)
{
    CREATE(-1, T_PROGRAM, clCreateProgramWithBinary, context, num_devices, devices, lengths,
           binaries, binary_status, errcode_ret);
}

static cl_program CL_API_CALL fl_clCreateProgramWithBuiltInKernels(cl_context context,
                                                                   cl_uint num_devices,
                                                                   const cl_device_id *devices,
                                                                   const char *kernel_names,
                                                                   cl_int *errcode_ret)
{
    CREATE(-1, T_PROGRAM, clCreateProgramWithBuiltInKernels, context, num_devices, devices,
           kernel_names, errcode_ret);
}

static cl_program CL_API_CALL fl_clCreateProgramWithIL(cl_context context, const void *il,
                                                       size_t length, cl_int *errcode_ret)
{
    CREATE(-1, T_PROGRAM, clCreateProgramWithIL, context, il, length, errcode_ret);
}

static cl_program CL_API_CALL fl_clLinkProgram(cl_context context, cl_uint num_devices,
                                               const cl_device_id *devices, const char *options,
                                               cl_uint num_inputs, const cl_program *inputs,
                                               void(CL_CALLBACK *pfn_notify)(cl_program, void *),
                                               void *user_data, cl_int *errcode_ret)
{
    CREATE(-1, T_PROGRAM, clLinkProgram, context, num_devices, devices, options, num_inputs, inputs,
           pfn_notify, user_data, errcode_ret);
}

static cl_kernel CL_API_CALL fl_clCreateKernel(cl_program program, const char *name,
                                               cl_int *errcode_ret)
{
    CREATE(F_KERNEL, T_KERNEL, clCreateKernel, program, name, errcode_ret);
}

static cl_kernel CL_API_CALL fl_clCloneKernel(cl_kernel kernel, cl_int *errcode_ret)
{
    CREATE(-1, T_KERNEL, clCloneKernel, kernel, errcode_ret);
}

static cl_event CL_API_CALL fl_clCreateUserEvent(cl_context context, cl_int *errcode_ret)
{
    CREATE(-1, T_EVENT, clCreateUserEvent, context, errcode_ret);
}

static cl_int CL_API_CALL fl_clCreateKernelsInProgram(cl_program program, cl_uint num_kernels,
                                                      cl_kernel *kernels, cl_uint *num_kernels_ret)
{
    cl_uint n = 0;
    cl_int err = next->clCreateKernelsInProgram(program, num_kernels, kernels, &n);
    if (num_kernels_ret) *num_kernels_ret = n;
    if (err == CL_SUCCESS && kernels)
        for (cl_uint i = 0; i < n && i < num_kernels; ++i)
            created(kernels[i], T_KERNEL, "clCreateKernelsInProgram");
    return err;
}

/* Retain and release for one object type. */
#define REFCOUNT(T, type, Name)                                                                    \
    static cl_int CL_API_CALL fl_clRetain##Name(type h)                                            \
    {                                                                                              \
        cl_int err = next->clRetain##Name(h);                                                      \
        if (err == CL_SUCCESS) retained(h, (T));                                                   \
        return err;                                                                                \
    }                                                                                              \
    static cl_int CL_API_CALL fl_clRelease##Name(type h)                                           \
    {                                                                                              \
        released(h, (T));                                                                          \
        cl_int err = next->clRelease##Name(h);                                                     \
        if (err != CL_SUCCESS) release_failed(h, (T));                                             \
        return err;                                                                                \
    }

REFCOUNT(T_CONTEXT, cl_context, Context)
REFCOUNT(T_QUEUE, cl_command_queue, CommandQueue)
REFCOUNT(T_MEM, cl_mem, MemObject)
REFCOUNT(T_PROGRAM, cl_program, Program)
REFCOUNT(T_KERNEL, cl_kernel, Kernel)
REFCOUNT(T_EVENT, cl_event, Event)

/* ---- Other calls that may fail on request ------------------------------------------------- */

static cl_int CL_API_CALL fl_clBuildProgram(cl_program program, cl_uint num_devices,
                                            const cl_device_id *devices, const char *options,
                                            void(CL_CALLBACK *pfn_notify)(cl_program, void *),
                                            void *user_data)
{
    cl_int err = inject(F_BUILD, "clBuildProgram");
    if (err != CL_SUCCESS) return err;
    return next->clBuildProgram(program, num_devices, devices, options, pfn_notify, user_data);
}

static cl_int CL_API_CALL fl_clSetKernelArg(cl_kernel kernel, cl_uint index, size_t size,
                                            const void *value)
{
    cl_int err = inject(F_ARG, "clSetKernelArg");
    if (err != CL_SUCCESS) return err;
    return next->clSetKernelArg(kernel, index, size, value);
}

static cl_int CL_API_CALL fl_clGetPlatformIDs(cl_uint num_entries, cl_platform_id *platforms,
                                              cl_uint *num_platforms)
{
    cl_int err = inject(F_PLATFORM, "clGetPlatformIDs");
    if (err != CL_SUCCESS) return err;
    return next->clGetPlatformIDs(num_entries, platforms, num_platforms);
}

static cl_int CL_API_CALL fl_clGetDeviceIDs(cl_platform_id platform, cl_device_type type,
                                            cl_uint num_entries, cl_device_id *devices,
                                            cl_uint *num_devices)
{
    cl_int err = inject(F_PLATFORM, "clGetDeviceIDs");
    if (err != CL_SUCCESS) return err;
    return next->clGetDeviceIDs(platform, type, num_entries, devices, num_devices);
}

static cl_int CL_API_CALL fl_clGetPlatformInfo(cl_platform_id platform, cl_platform_info param,
                                               size_t size, void *value, size_t *size_ret)
{
    cl_int err = inject(F_INFO, "clGetPlatformInfo");
    if (err != CL_SUCCESS) return err;
    return next->clGetPlatformInfo(platform, param, size, value, size_ret);
}

static cl_int CL_API_CALL fl_clGetDeviceInfo(cl_device_id device, cl_device_info param, size_t size,
                                             void *value, size_t *size_ret)
{
    cl_int err = inject(F_INFO, "clGetDeviceInfo");
    if (err != CL_SUCCESS) return err;
    return next->clGetDeviceInfo(device, param, size, value, size_ret);
}

static cl_int CL_API_CALL fl_clGetKernelWorkGroupInfo(cl_kernel kernel, cl_device_id device,
                                                      cl_kernel_work_group_info param, size_t size,
                                                      void *value, size_t *size_ret)
{
    cl_int err = inject(F_INFO, "clGetKernelWorkGroupInfo");
    if (err != CL_SUCCESS) return err;
    return next->clGetKernelWorkGroupInfo(kernel, device, param, size, value, size_ret);
}

static cl_int CL_API_CALL fl_clGetProgramBuildInfo(cl_program program, cl_device_id device,
                                                   cl_program_build_info param, size_t size,
                                                   void *value, size_t *size_ret)
{
    cl_int err = inject(F_INFO, "clGetProgramBuildInfo");
    if (err != CL_SUCCESS) return err;
    return next->clGetProgramBuildInfo(program, device, param, size, value, size_ret);
}

static cl_int CL_API_CALL fl_clFinish(cl_command_queue queue)
{
    cl_int err = inject(F_FINISH, "clFinish");
    return err != CL_SUCCESS ? err : next->clFinish(queue);
}

static cl_int CL_API_CALL fl_clFlush(cl_command_queue queue)
{
    cl_int err = inject(F_FLUSH, "clFlush");
    return err != CL_SUCCESS ? err : next->clFlush(queue);
}

static cl_int CL_API_CALL fl_clWaitForEvents(cl_uint num_events, const cl_event *events)
{
    cl_int err = inject(F_WAIT, "clWaitForEvents");
    return err != CL_SUCCESS ? err : next->clWaitForEvents(num_events, events);
}

/* ---- Enqueue calls: each may return an event --------------------------------------------- */

/* The body of an enqueue call of fault kind K (or -1) returning cl_int. */
#define ENQUEUE(K, call, ...)                                                                      \
    do {                                                                                           \
        cl_int e_ = (K) >= 0 ? inject((K), #call) : CL_SUCCESS;                                    \
        if (e_ != CL_SUCCESS) return e_;                                                           \
        e_ = next->call(__VA_ARGS__);                                                              \
        if (e_ == CL_SUCCESS && event) created(*event, T_EVENT, #call);                            \
        return e_;                                                                                 \
    } while (0)

/* The same for the map calls, which return a pointer and report errors in *errcode_ret. */
#define ENQUEUE_MAP(call, ...)                                                                     \
    do {                                                                                           \
        cl_int e_ = CL_SUCCESS;                                                                    \
        void *p_ = next->call(__VA_ARGS__, &e_);                                                   \
        if (errcode_ret) *errcode_ret = e_;                                                        \
        if (e_ == CL_SUCCESS && event) created(*event, T_EVENT, #call);                            \
        return p_;                                                                                 \
    } while (0)

#define WAITS cl_uint num_wait, const cl_event *wait, cl_event *event

static cl_int CL_API_CALL fl_clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel kernel,
                                                    cl_uint dims, const size_t *offset,
                                                    const size_t *global, const size_t *local,
                                                    WAITS)
{
    ENQUEUE(F_ENQUEUE, clEnqueueNDRangeKernel, q, kernel, dims, offset, global, local, num_wait,
            wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueReadBuffer(cl_command_queue q, cl_mem buf, cl_bool blocking,
                                                 size_t offset, size_t size, void *ptr, WAITS)
{
    ENQUEUE(F_READ, clEnqueueReadBuffer, q, buf, blocking, offset, size, ptr, num_wait, wait,
            event);
}

static cl_int CL_API_CALL fl_clEnqueueWriteBuffer(cl_command_queue q, cl_mem buf, cl_bool blocking,
                                                  size_t offset, size_t size, const void *ptr,
                                                  WAITS)
{
    ENQUEUE(F_WRITE, clEnqueueWriteBuffer, q, buf, blocking, offset, size, ptr, num_wait, wait,
            event);
}

static cl_int CL_API_CALL fl_clEnqueueReadBufferRect(cl_command_queue q, cl_mem buf,
                                                     cl_bool blocking, const size_t *buf_origin,
                                                     const size_t *host_origin,
                                                     const size_t *region, size_t buf_row,
                                                     size_t buf_slice, size_t host_row,
                                                     size_t host_slice, void *ptr, WAITS)
{
    ENQUEUE(-1, clEnqueueReadBufferRect, q, buf, blocking, buf_origin, host_origin, region, buf_row,
            buf_slice, host_row, host_slice, ptr, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueWriteBufferRect(cl_command_queue q, cl_mem buf,
                                                      cl_bool blocking, const size_t *buf_origin,
                                                      const size_t *host_origin,
                                                      const size_t *region, size_t buf_row,
                                                      size_t buf_slice, size_t host_row,
                                                      size_t host_slice, const void *ptr, WAITS)
{
    ENQUEUE(-1, clEnqueueWriteBufferRect, q, buf, blocking, buf_origin, host_origin, region,
            buf_row, buf_slice, host_row, host_slice, ptr, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueFillBuffer(cl_command_queue q, cl_mem buf,
                                                 const void *pattern, size_t pattern_size,
                                                 size_t offset, size_t size, WAITS)
{
    ENQUEUE(-1, clEnqueueFillBuffer, q, buf, pattern, pattern_size, offset, size, num_wait, wait,
            event);
}

static cl_int CL_API_CALL fl_clEnqueueCopyBuffer(cl_command_queue q, cl_mem src, cl_mem dst,
                                                 size_t src_offset, size_t dst_offset, size_t size,
                                                 WAITS)
{
    ENQUEUE(-1, clEnqueueCopyBuffer, q, src, dst, src_offset, dst_offset, size, num_wait, wait,
            event);
}

static cl_int CL_API_CALL fl_clEnqueueCopyBufferRect(cl_command_queue q, cl_mem src, cl_mem dst,
                                                     const size_t *src_origin,
                                                     const size_t *dst_origin, const size_t *region,
                                                     size_t src_row, size_t src_slice,
                                                     size_t dst_row, size_t dst_slice, WAITS)
{
    ENQUEUE(-1, clEnqueueCopyBufferRect, q, src, dst, src_origin, dst_origin, region, src_row,
            src_slice, dst_row, dst_slice, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueReadImage(cl_command_queue q, cl_mem image, cl_bool blocking,
                                                const size_t *origin, const size_t *region,
                                                size_t row_pitch, size_t slice_pitch, void *ptr,
                                                WAITS)
{
    ENQUEUE(-1, clEnqueueReadImage, q, image, blocking, origin, region, row_pitch, slice_pitch, ptr,
            num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueWriteImage(cl_command_queue q, cl_mem image, cl_bool blocking,
                                                 const size_t *origin, const size_t *region,
                                                 size_t row_pitch, size_t slice_pitch,
                                                 const void *ptr, WAITS)
{
    ENQUEUE(-1, clEnqueueWriteImage, q, image, blocking, origin, region, row_pitch, slice_pitch,
            ptr, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueFillImage(cl_command_queue q, cl_mem image, const void *color,
                                                const size_t *origin, const size_t *region, WAITS)
{
    ENQUEUE(-1, clEnqueueFillImage, q, image, color, origin, region, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueCopyImage(cl_command_queue q, cl_mem src, cl_mem dst,
                                                const size_t *src_origin, const size_t *dst_origin,
                                                const size_t *region, WAITS)
{
    ENQUEUE(-1, clEnqueueCopyImage, q, src, dst, src_origin, dst_origin, region, num_wait, wait,
            event);
}

static cl_int CL_API_CALL fl_clEnqueueCopyImageToBuffer(cl_command_queue q, cl_mem src, cl_mem dst,
                                                        const size_t *src_origin,
                                                        const size_t *region, size_t dst_offset,
                                                        WAITS)
{
    ENQUEUE(-1, clEnqueueCopyImageToBuffer, q, src, dst, src_origin, region, dst_offset, num_wait,
            wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueCopyBufferToImage(cl_command_queue q, cl_mem src, cl_mem dst,
                                                        size_t src_offset, const size_t *dst_origin,
                                                        const size_t *region, WAITS)
{
    ENQUEUE(-1, clEnqueueCopyBufferToImage, q, src, dst, src_offset, dst_origin, region, num_wait,
            wait, event);
}

static void *CL_API_CALL fl_clEnqueueMapBuffer(cl_command_queue q, cl_mem buf, cl_bool blocking,
                                               cl_map_flags flags, size_t offset, size_t size,
                                               WAITS, cl_int *errcode_ret)
{
    ENQUEUE_MAP(clEnqueueMapBuffer, q, buf, blocking, flags, offset, size, num_wait, wait, event);
}

static void *CL_API_CALL fl_clEnqueueMapImage(cl_command_queue q, cl_mem image, cl_bool blocking,
                                              cl_map_flags flags, const size_t *origin,
                                              const size_t *region, size_t *row_pitch,
                                              size_t *slice_pitch, WAITS, cl_int *errcode_ret)
{
    ENQUEUE_MAP(clEnqueueMapImage, q, image, blocking, flags, origin, region, row_pitch,
                slice_pitch, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueUnmapMemObject(cl_command_queue q, cl_mem mem, void *ptr,
                                                     WAITS)
{
    ENQUEUE(-1, clEnqueueUnmapMemObject, q, mem, ptr, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueMigrateMemObjects(cl_command_queue q, cl_uint n,
                                                        const cl_mem *mems,
                                                        cl_mem_migration_flags flags, WAITS)
{
    ENQUEUE(-1, clEnqueueMigrateMemObjects, q, n, mems, flags, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueTask(cl_command_queue q, cl_kernel kernel, WAITS)
{
    ENQUEUE(-1, clEnqueueTask, q, kernel, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueNativeKernel(cl_command_queue q,
                                                   void(CL_CALLBACK *func)(void *), void *args,
                                                   size_t cb_args, cl_uint num_mems,
                                                   const cl_mem *mems, const void **mem_loc, WAITS)
{
    ENQUEUE(-1, clEnqueueNativeKernel, q, func, args, cb_args, num_mems, mems, mem_loc, num_wait,
            wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueMarker(cl_command_queue q, cl_event *event)
{
    ENQUEUE(-1, clEnqueueMarker, q, event);
}

static cl_int CL_API_CALL fl_clEnqueueMarkerWithWaitList(cl_command_queue q, WAITS)
{
    ENQUEUE(-1, clEnqueueMarkerWithWaitList, q, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueBarrierWithWaitList(cl_command_queue q, WAITS)
{
    ENQUEUE(-1, clEnqueueBarrierWithWaitList, q, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueSVMFree(cl_command_queue q, cl_uint n, void *ptrs[],
                                              void(CL_CALLBACK *free_func)(cl_command_queue,
                                                                           cl_uint, void *[],
                                                                           void *),
                                              void *user_data, WAITS)
{
    ENQUEUE(-1, clEnqueueSVMFree, q, n, ptrs, free_func, user_data, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueSVMMemcpy(cl_command_queue q, cl_bool blocking, void *dst,
                                                const void *src, size_t size, WAITS)
{
    ENQUEUE(-1, clEnqueueSVMMemcpy, q, blocking, dst, src, size, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueSVMMemFill(cl_command_queue q, void *ptr, const void *pattern,
                                                 size_t pattern_size, size_t size, WAITS)
{
    ENQUEUE(-1, clEnqueueSVMMemFill, q, ptr, pattern, pattern_size, size, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueSVMMap(cl_command_queue q, cl_bool blocking,
                                             cl_map_flags flags, void *ptr, size_t size, WAITS)
{
    ENQUEUE(-1, clEnqueueSVMMap, q, blocking, flags, ptr, size, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueSVMUnmap(cl_command_queue q, void *ptr, WAITS)
{
    ENQUEUE(-1, clEnqueueSVMUnmap, q, ptr, num_wait, wait, event);
}

static cl_int CL_API_CALL fl_clEnqueueSVMMigrateMem(cl_command_queue q, cl_uint n,
                                                    const void **ptrs, const size_t *sizes,
                                                    cl_mem_migration_flags flags, WAITS)
{
    ENQUEUE(-1, clEnqueueSVMMigrateMem, q, n, ptrs, sizes, flags, num_wait, wait, event);
}

/* ---- The layer's entry points ------------------------------------------------------------- */

CL_API_ENTRY cl_int CL_API_CALL clGetLayerInfo(cl_layer_info param, size_t size, void *value,
                                               size_t *size_ret)
{
    static const char name[] = "mlpcl faultlayer";
    static const cl_layer_api_version version = CL_LAYER_API_VERSION_100;
    const void *src;
    size_t n;
    switch (param) {
    case CL_LAYER_API_VERSION:
        src = &version;
        n = sizeof version;
        break;
    case CL_LAYER_NAME:
        src = name;
        n = sizeof name;
        break;
    default:
        return CL_INVALID_VALUE;
    }
    if (value && size < n) return CL_INVALID_VALUE;
    if (value) memcpy(value, src, n);
    if (size_ret) *size_ret = n;
    return CL_SUCCESS;
}

static void configure(void)
{
    const char *kind = getenv("MLPCL_FAULT_CALL"), *n = getenv("MLPCL_FAULT_N");
    const char *code = getenv("MLPCL_FAULT_ERROR");
    if (kind && *kind) {
        for (int k = 0; k < F_COUNT; ++k)
            if (!strcmp(kind, kinds[k])) fault_kind = k;
        if (fault_kind < 0) {
            fprintf(stderr, "faultlayer: MLPCL_FAULT_CALL=%s is not a kind; the kinds:", kind);
            for (int k = 0; k < F_COUNT; ++k) fprintf(stderr, " %s", kinds[k]);
            fputc('\n', stderr);
            _exit(98);
        }
    }
    if (n && *n) fault_n = strtol(n, NULL, 10);
    if (code && *code) fault_error = (cl_int)strtol(code, NULL, 10);
}

CL_API_ENTRY cl_int CL_API_CALL clInitLayer(cl_uint num_entries, const cl_icd_dispatch *target,
                                            cl_uint *num_entries_ret,
                                            const cl_icd_dispatch **layer_dispatch_ret)
{
    const size_t ours = sizeof own / sizeof(void *);
    if (!target || !num_entries_ret || !layer_dispatch_ret) return CL_INVALID_VALUE;
    configure();
    next = target;
    /* The loader's table may be shorter or longer than this header's: copy what both have. */
    memcpy(&own, target, (num_entries < ours ? num_entries : ours) * sizeof(void *));
#define HOOK(name) own.name = fl_##name
    HOOK(clGetPlatformIDs);
    HOOK(clGetDeviceIDs);
    HOOK(clGetPlatformInfo);
    HOOK(clGetDeviceInfo);
    HOOK(clGetKernelWorkGroupInfo);
    HOOK(clGetProgramBuildInfo);
    HOOK(clCreateContext);
    HOOK(clCreateContextFromType);
    HOOK(clRetainContext);
    HOOK(clReleaseContext);
    HOOK(clCreateCommandQueue);
    HOOK(clCreateCommandQueueWithProperties);
    HOOK(clRetainCommandQueue);
    HOOK(clReleaseCommandQueue);
    HOOK(clCreateBuffer);
    HOOK(clCreateBufferWithProperties);
    HOOK(clCreateSubBuffer);
    HOOK(clCreateImage);
    HOOK(clCreateImageWithProperties);
    HOOK(clCreateImage2D);
    HOOK(clCreateImage3D);
    HOOK(clCreatePipe);
    HOOK(clRetainMemObject);
    HOOK(clReleaseMemObject);
    HOOK(clCreateProgramWithSource);
    HOOK(clCreateProgramWithBinary);
    HOOK(clCreateProgramWithBuiltInKernels);
    HOOK(clCreateProgramWithIL);
    HOOK(clLinkProgram);
    HOOK(clRetainProgram);
    HOOK(clReleaseProgram);
    HOOK(clBuildProgram);
    HOOK(clCreateKernel);
    HOOK(clCreateKernelsInProgram);
    HOOK(clCloneKernel);
    HOOK(clRetainKernel);
    HOOK(clReleaseKernel);
    HOOK(clSetKernelArg);
    HOOK(clCreateUserEvent);
    HOOK(clRetainEvent);
    HOOK(clReleaseEvent);
    HOOK(clWaitForEvents);
    HOOK(clFinish);
    HOOK(clFlush);
    HOOK(clEnqueueNDRangeKernel);
    HOOK(clEnqueueReadBuffer);
    HOOK(clEnqueueWriteBuffer);
    HOOK(clEnqueueReadBufferRect);
    HOOK(clEnqueueWriteBufferRect);
    HOOK(clEnqueueFillBuffer);
    HOOK(clEnqueueCopyBuffer);
    HOOK(clEnqueueCopyBufferRect);
    HOOK(clEnqueueReadImage);
    HOOK(clEnqueueWriteImage);
    HOOK(clEnqueueFillImage);
    HOOK(clEnqueueCopyImage);
    HOOK(clEnqueueCopyImageToBuffer);
    HOOK(clEnqueueCopyBufferToImage);
    HOOK(clEnqueueMapBuffer);
    HOOK(clEnqueueMapImage);
    HOOK(clEnqueueUnmapMemObject);
    HOOK(clEnqueueMigrateMemObjects);
    HOOK(clEnqueueTask);
    HOOK(clEnqueueNativeKernel);
    HOOK(clEnqueueMarker);
    HOOK(clEnqueueMarkerWithWaitList);
    HOOK(clEnqueueBarrierWithWaitList);
    HOOK(clEnqueueSVMFree);
    HOOK(clEnqueueSVMMemcpy);
    HOOK(clEnqueueSVMMemFill);
    HOOK(clEnqueueSVMMap);
    HOOK(clEnqueueSVMUnmap);
    HOOK(clEnqueueSVMMigrateMem);
#undef HOOK
    *num_entries_ret = (cl_uint)ours;
    *layer_dispatch_ret = &own;
    return CL_SUCCESS;
}

/* ---- At exit: the counts and the objects still alive -------------------------------------- */

__attribute__((destructor)) static void report(void)
{
    if (!next) return; /* never initialised: the program made no OpenCL call */
    const char *count_file = getenv("MLPCL_FAULT_COUNT"),
               *leaks_exit = getenv("MLPCL_FAULT_LEAKS_EXIT");
    if (count_file && *count_file) {
        FILE *f = fopen(count_file, "w");
        if (f) {
            for (int k = 0; k < F_COUNT; ++k) fprintf(f, "%s %ld\n", kinds[k], calls[k]);
            if (fclose(f) != 0) f = NULL;
        }
        if (!f) fprintf(stderr, "faultlayer: cannot write %s\n", count_file);
    }
    long alive[T_COUNT] = {0}, bad = 0, shown = 0;
    for (size_t i = 0; i < table_size; ++i)
        if (table[i].handle && table[i].refs > 0) {
            alive[table[i].type]++;
            if (shown++ < 20)
                fprintf(stderr, "faultlayer:   %s %p from %s, %ld reference%s left\n",
                        type_names[table[i].type], table[i].handle, table[i].made, table[i].refs,
                        table[i].refs == 1 ? "" : "s");
        }
    for (int t = 0; t < T_COUNT; ++t) {
        if (alive[t]) fprintf(stderr, "faultlayer: leaked %ld %s\n", alive[t], type_names[t]);
        if (over_released[t])
            fprintf(stderr, "faultlayer: released %ld %s once too often\n", over_released[t],
                    type_names[t]);
        if (unknown_released[t])
            fprintf(stderr, "faultlayer: released %ld %s never created\n", unknown_released[t],
                    type_names[t]);
        bad += alive[t] + over_released[t] + unknown_released[t];
    }
    if (bad && leaks_exit && !strcmp(leaks_exit, "1")) {
        fflush(NULL);
        _exit(99);
    }
}
