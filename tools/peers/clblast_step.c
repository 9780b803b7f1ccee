// SPDX-License-Identifier: MIT
/* clblast_step.c: times CLBlast's SGEMMs for one full-batch step of an n0-h-n2 network on m
 * samples (the five products of backpropagation: two forward, one hidden delta, two
 * gradients), on the first OpenCL device or $PEER_DEVICE (platform:device). Built and run by
 * tools/bench-peers; prints the median seconds of a step over the repetitions.
 *     clblast_step M N0 H N2 REPEAT */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <clblast_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 6) return fprintf(stderr, "usage: clblast_step M N0 H N2 REPEAT\n"), 2;
    size_t m = strtoul(argv[1], 0, 10), n0 = strtoul(argv[2], 0, 10), h = strtoul(argv[3], 0, 10),
           n2 = strtoul(argv[4], 0, 10);
    int reps = atoi(argv[5]);
    cl_platform_id p[8];
    cl_device_id d[8];
    cl_uint np = 0, nd = 0;
    int pi = 0, di = 0;
    if (getenv("PEER_DEVICE")) sscanf(getenv("PEER_DEVICE"), "%d:%d", &pi, &di);
    if (clGetPlatformIDs(8, p, &np) || (cl_uint)pi >= np ||
        clGetDeviceIDs(p[pi], CL_DEVICE_TYPE_ALL, 8, d, &nd) || (cl_uint)di >= nd)
        return fprintf(stderr, "clblast_step: no OpenCL device %d:%d\n", pi, di), 1;
    cl_int err;
    cl_context c = clCreateContext(NULL, 1, &d[di], NULL, NULL, &err);
    cl_command_queue q = clCreateCommandQueue(c, d[di], 0, &err);
    size_t sizes[7] = {m * n0, n0 * h, m * h, h * n2, m * n2, m * h, n0 * h};
    cl_mem b[7];
    float *zero = calloc(m * (n0 > h ? n0 : h), sizeof *zero);
    for (int i = 0; i < 7; ++i) {
        b[i] =
            clCreateBuffer(c, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizes[i] * 4, zero, &err);
        if (err) return fprintf(stderr, "clblast_step: clCreateBuffer: %d\n", err), 1;
    }
    /* X b0 (m×n0), W1 b1 (n0×h), A1 b2 (m×h), W2 b3 (h×n2), A2/D2 b4 (m×n2), D1 b5 (m×h),
     * dW1 b6 (n0×h) */
    double *t = malloc((size_t)(reps + 1) * sizeof *t);
    for (int r = 0; r <= reps; ++r) {
        double t0 = now();
        CLBlastStatusCode s[5] = {
            CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, m, h, n0, 1,
                         b[0], 0, n0, b[1], 0, h, 0, b[2], 0, h, &q, NULL),
            CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, m, n2, h, 1,
                         b[2], 0, h, b[3], 0, n2, 0, b[4], 0, n2, &q, NULL),
            CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes, m, h, n2,
                         1, b[4], 0, n2, b[3], 0, n2, 0, b[5], 0, h, &q, NULL),
            CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeYes, CLBlastTransposeNo, h, n2, m,
                         1, b[2], 0, h, b[4], 0, n2, 0, b[3], 0, n2, &q, NULL),
            CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeYes, CLBlastTransposeNo, n0, h, m,
                         1, b[0], 0, n0, b[5], 0, h, 0, b[6], 0, h, &q, NULL)};
        clFinish(q);
        for (int i = 0; i < 5; ++i)
            if (s[i] != CLBlastSuccess)
                return fprintf(stderr, "clblast_step: CLBlastSgemm %d failed: %d\n", i, s[i]), 1;
        t[r] = now() - t0;
    }
    qsort(t + 1, (size_t)reps, sizeof *t, cmp); /* t[0] is the warm-up (tuning, compiling) */
    printf("%.6f\n", t[1 + reps / 2]);
    return 0;
}
