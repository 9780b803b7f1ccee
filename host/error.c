// SPDX-License-Identifier: MIT
/* error.c: status names, OpenCL error names and the thread's last error message. The library
 * never prints: every failure is recorded here and returned as an mlpcl_status. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* Big enough for a long build log; longer text is cut with a note. Per thread, so that threads
 * using different contexts keep their own. Only a failure writes it (mlpcl__fail starts it
 * afresh, mlpcl__append adds to that): a successful call leaves it alone, as mlpcl.h says. */
static _Thread_local char last_error[32768];

const char *mlpcl_last_error(void)
{
    return last_error;
}

static void vappend(const char *fmt, va_list ap)
{
    size_t used = strlen(last_error), cap = sizeof last_error;
    static const char cut[] = "\n[… message cut]";
    int n = vsnprintf(last_error + used, cap - used, fmt, ap);
    if (n >= 0 && (size_t)n >= cap - used) memcpy(last_error + cap - sizeof cut, cut, sizeof cut);
}

void mlpcl__append(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vappend(fmt, ap);
    va_end(ap);
}

mlpcl_status mlpcl__fail(mlpcl_status st, const char *fmt, ...)
{
    va_list ap;
    last_error[0] = '\0';
    va_start(ap, fmt);
    vappend(fmt, ap);
    va_end(ap);
    return st;
}

/* __FILE__ as the build spelt it (often an absolute path on the build machine), cut to the
 * source's folder and name: "host/train.c". */
static const char *source_name(const char *file)
{
    const char *p = strrchr(file, '/');
    if (!p) return file;
    while (p > file && p[-1] != '/') --p;
    return p;
}

mlpcl_status mlpcl__cl_fail(cl_int err, const char *call, const char *device, const char *file,
                            int line)
{
    /* Without a device (listing platforms and devices) the clause is left out. */
    return mlpcl__fail((mlpcl_status)err, "%s failed: %s (%d)%s%s%s [%s:%d]", call,
                       mlpcl_status_str(err), (int)err, device ? " on device \"" : "",
                       device ? device : "", device ? "\"" : "", source_name(file), line);
}

int mlpcl__mul_overflows(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return 1;
    *out = a * b;
    return 0;
}

double mlpcl__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *mlpcl_status_str(int status)
{
    switch (status) {
#define NAME(x)                                                                                    \
    case x:                                                                                        \
        return #x;
        NAME(MLPCL_OK)
        NAME(MLPCL_ERR_NOMEM)
        NAME(MLPCL_ERR_ARG)
        NAME(MLPCL_ERR_NO_DEVICE)
        NAME(MLPCL_ERR_NO_FP64)
        NAME(MLPCL_ERR_IO)
        NAME(MLPCL_ERR_DATA)
        NAME(MLPCL_ERR_TOO_BIG)
        NAME(CL_DEVICE_NOT_FOUND)
        NAME(CL_DEVICE_NOT_AVAILABLE)
        NAME(CL_COMPILER_NOT_AVAILABLE)
        NAME(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        NAME(CL_OUT_OF_RESOURCES)
        NAME(CL_OUT_OF_HOST_MEMORY)
        NAME(CL_PROFILING_INFO_NOT_AVAILABLE)
        NAME(CL_MEM_COPY_OVERLAP)
        NAME(CL_IMAGE_FORMAT_MISMATCH)
        NAME(CL_IMAGE_FORMAT_NOT_SUPPORTED)
        NAME(CL_BUILD_PROGRAM_FAILURE)
        NAME(CL_MAP_FAILURE)
        NAME(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        NAME(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        NAME(CL_COMPILE_PROGRAM_FAILURE)
        NAME(CL_LINKER_NOT_AVAILABLE)
        NAME(CL_LINK_PROGRAM_FAILURE)
        NAME(CL_DEVICE_PARTITION_FAILED)
        NAME(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
        NAME(CL_INVALID_VALUE)
        NAME(CL_INVALID_DEVICE_TYPE)
        NAME(CL_INVALID_PLATFORM)
        NAME(CL_INVALID_DEVICE)
        NAME(CL_INVALID_CONTEXT)
        NAME(CL_INVALID_QUEUE_PROPERTIES)
        NAME(CL_INVALID_COMMAND_QUEUE)
        NAME(CL_INVALID_HOST_PTR)
        NAME(CL_INVALID_MEM_OBJECT)
        NAME(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
        NAME(CL_INVALID_IMAGE_SIZE)
        NAME(CL_INVALID_SAMPLER)
        NAME(CL_INVALID_BINARY)
        NAME(CL_INVALID_BUILD_OPTIONS)
        NAME(CL_INVALID_PROGRAM)
        NAME(CL_INVALID_PROGRAM_EXECUTABLE)
        NAME(CL_INVALID_KERNEL_NAME)
        NAME(CL_INVALID_KERNEL_DEFINITION)
        NAME(CL_INVALID_KERNEL)
        NAME(CL_INVALID_ARG_INDEX)
        NAME(CL_INVALID_ARG_VALUE)
        NAME(CL_INVALID_ARG_SIZE)
        NAME(CL_INVALID_KERNEL_ARGS)
        NAME(CL_INVALID_WORK_DIMENSION)
        NAME(CL_INVALID_WORK_GROUP_SIZE)
        NAME(CL_INVALID_WORK_ITEM_SIZE)
        NAME(CL_INVALID_GLOBAL_OFFSET)
        NAME(CL_INVALID_EVENT_WAIT_LIST)
        NAME(CL_INVALID_EVENT)
        NAME(CL_INVALID_OPERATION)
        NAME(CL_INVALID_GL_OBJECT)
        NAME(CL_INVALID_BUFFER_SIZE)
        NAME(CL_INVALID_MIP_LEVEL)
        NAME(CL_INVALID_GLOBAL_WORK_SIZE)
        NAME(CL_INVALID_PROPERTY)
        NAME(CL_INVALID_IMAGE_DESCRIPTOR)
        NAME(CL_INVALID_COMPILER_OPTIONS)
        NAME(CL_INVALID_LINKER_OPTIONS)
        NAME(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef NAME
    case -69:
        return "CL_INVALID_PIPE_SIZE";
    case -70:
        return "CL_INVALID_DEVICE_QUEUE";
    case -71:
        return "CL_INVALID_SPEC_ID";
    case -72:
        return "CL_MAX_SIZE_RESTRICTION_EXCEEDED";
    case -1000:
        return "CL_INVALID_GL_SHAREGROUP_REFERENCE_KHR";
    case -1001:
        return "CL_PLATFORM_NOT_FOUND_KHR";
    case -1002:
        return "CL_INVALID_D3D10_DEVICE_KHR";
    case -1057:
        return "CL_DEVICE_PARTITION_FAILED_EXT";
    case -1093:
        return "CL_INVALID_COMMAND_BUFFER_KHR";
    default:
        return status < 0 && status > -2000 ? "CL_UNKNOWN_ERROR" : "MLPCL_UNKNOWN_STATUS";
    }
}
