/* The detector on a CUDA GPU: one launch per tick for every series in it, one thread per series,
 * running gpu/anom_algo.h (the same code as the CPU reference). The state stays resident in
 * device memory; each tick copies the rows in and the results out through pinned host buffers on
 * one stream. Built by nvcc for sm_80 and sm_90 with -fmad=false (see anom_algo.h). */
#include <cuda_runtime.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anom_algo.h"
#include "anom_cuda.h"

struct lr_gpu_anom_cuda {
    uint32_t max_series;
    uint32_t nf;
    cudaStream_t stream;
    struct lr_anom_sstate *d_ss; /* [max_series] */
    struct lr_anom_fstate *d_fs; /* [max_series * nf] */
    uint32_t *d_ids;             /* [max_series] */
    float *d_in;                 /* [max_series * nf] */
    struct lr_anom_out *d_out;   /* [max_series] */
    uint32_t *h_ids;             /* pinned mirrors of the three above */
    float *h_in;
    struct lr_anom_out *h_out;
    int reported; /* a CUDA error was printed already */
};

enum { THREADS = 128 };

__global__ void anom_step_kernel(struct lr_anom_sstate *ss, struct lr_anom_fstate *fs, uint32_t nf,
                                 const uint32_t *ids, const float *in, uint32_t n,
                                 struct lr_anom_out *out)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    uint32_t id = ids[i];
    lr_anom_series_step(&ss[id], &fs[(size_t)id * nf], nf, &in[(size_t)i * nf], &out[i]);
}

static int fail(struct lr_gpu_anom_cuda *c, cudaError_t e, const char *what)
{
    if (!c->reported) {
        fprintf(stderr, "anomaly detector: CUDA %s: %s\n", what, cudaGetErrorString(e));
        c->reported = 1;
    }
    return -EIO;
}

extern "C" int lr_gpu_anom_cuda_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError(); /* clear it: "no device" is an answer here, not an error */
        return 0;
    }
    return n;
}

extern "C" void lr_gpu_anom_cuda_free(struct lr_gpu_anom_cuda *c)
{
    if (!c)
        return;
    if (c->stream)
        cudaStreamSynchronize(c->stream);
    cudaFree(c->d_ss);
    cudaFree(c->d_fs);
    cudaFree(c->d_ids);
    cudaFree(c->d_in);
    cudaFree(c->d_out);
    cudaFreeHost(c->h_ids);
    cudaFreeHost(c->h_in);
    cudaFreeHost(c->h_out);
    if (c->stream)
        cudaStreamDestroy(c->stream);
    free(c);
}

extern "C" struct lr_gpu_anom_cuda *lr_gpu_anom_cuda_new(uint32_t max_series, uint32_t n_features,
                                                         char *name, size_t namelen, char *errstr,
                                                         size_t errlen)
{
    struct lr_gpu_anom_cuda *c = (struct lr_gpu_anom_cuda *)calloc(1, sizeof(*c));
    if (!c) {
        snprintf(errstr, errlen, "anomaly detector: out of memory");
        return NULL;
    }
    c->max_series = max_series;
    c->nf = n_features;
    size_t ns = max_series, nfs = (size_t)max_series * n_features;
    cudaDeviceProp prop;
    cudaError_t e = cudaSetDevice(0);
    if (e == cudaSuccess)
        e = cudaGetDeviceProperties(&prop, 0);
    if (e == cudaSuccess)
        e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    if (e == cudaSuccess)
        e = cudaMalloc(&c->d_ss, ns * sizeof(*c->d_ss));
    if (e == cudaSuccess)
        e = cudaMalloc(&c->d_fs, nfs * sizeof(*c->d_fs));
    if (e == cudaSuccess)
        e = cudaMalloc(&c->d_ids, ns * sizeof(*c->d_ids));
    if (e == cudaSuccess)
        e = cudaMalloc(&c->d_in, nfs * sizeof(*c->d_in));
    if (e == cudaSuccess)
        e = cudaMalloc(&c->d_out, ns * sizeof(*c->d_out));
    if (e == cudaSuccess)
        e = cudaMallocHost(&c->h_ids, ns * sizeof(*c->h_ids));
    if (e == cudaSuccess)
        e = cudaMallocHost(&c->h_in, nfs * sizeof(*c->h_in));
    if (e == cudaSuccess)
        e = cudaMallocHost(&c->h_out, ns * sizeof(*c->h_out));
    if (e == cudaSuccess)
        e = cudaMemsetAsync(c->d_ss, 0, ns * sizeof(*c->d_ss), c->stream);
    if (e == cudaSuccess)
        e = cudaMemsetAsync(c->d_fs, 0, nfs * sizeof(*c->d_fs), c->stream);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(c->stream);
    if (e != cudaSuccess) {
        snprintf(errstr, errlen, "anomaly detector: CUDA: %s", cudaGetErrorString(e));
        (void)cudaGetLastError();
        lr_gpu_anom_cuda_free(c);
        return NULL;
    }
    snprintf(name, namelen, "%s", prop.name);
    return c;
}

extern "C" int lr_gpu_anom_cuda_step(struct lr_gpu_anom_cuda *c, const uint32_t *ids,
                                     const float *in, size_t n, struct lr_anom_out *out)
{
    memcpy(c->h_ids, ids, n * sizeof(*ids));
    memcpy(c->h_in, in, n * c->nf * sizeof(*in));
    cudaError_t e =
        cudaMemcpyAsync(c->d_ids, c->h_ids, n * sizeof(*ids), cudaMemcpyHostToDevice, c->stream);
    if (e == cudaSuccess)
        e = cudaMemcpyAsync(c->d_in, c->h_in, n * c->nf * sizeof(*in), cudaMemcpyHostToDevice,
                            c->stream);
    if (e != cudaSuccess)
        return fail(c, e, "copy in");
    unsigned blocks = (unsigned)((n + THREADS - 1) / THREADS);
    anom_step_kernel<<<blocks, THREADS, 0, c->stream>>>(c->d_ss, c->d_fs, c->nf, c->d_ids,
                                                        c->d_in, (uint32_t)n, c->d_out);
    e = cudaGetLastError();
    if (e != cudaSuccess)
        return fail(c, e, "launch");
    e = cudaMemcpyAsync(c->h_out, c->d_out, n * sizeof(*out), cudaMemcpyDeviceToHost, c->stream);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(c->stream);
    if (e != cudaSuccess)
        return fail(c, e, "step");
    memcpy(out, c->h_out, n * sizeof(*out));
    return 0;
}

extern "C" void lr_gpu_anom_cuda_reset(struct lr_gpu_anom_cuda *c, uint32_t id)
{
    cudaError_t e = cudaMemsetAsync(&c->d_ss[id], 0, sizeof(*c->d_ss), c->stream);
    if (e == cudaSuccess)
        e = cudaMemsetAsync(&c->d_fs[(size_t)id * c->nf], 0, c->nf * sizeof(*c->d_fs), c->stream);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(c->stream);
    if (e != cudaSuccess)
        fail(c, e, "reset");
}
