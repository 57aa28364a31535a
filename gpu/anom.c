/* The detector's front: device choice (anomaly.device: auto | cpu | cuda), argument checks, and
 * the CPU reference, which runs gpu/anom_algo.h one series after another. The CUDA path
 * (gpu/anom_cuda.cu) runs the same header's code, one thread per series. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anom_algo.h"
#include "anom_cuda.h"
#include "linerate/anomaly.h"

struct lr_gpu_anom {
    uint32_t max_series;
    uint32_t nf;
    char device[160];
    struct lr_gpu_anom_cuda *cuda; /* NULL: the CPU reference */
    struct lr_anom_sstate *sstate; /* [max_series] */
    struct lr_anom_fstate *fstate; /* [max_series * nf] */
};

struct lr_gpu_anom *lr_gpu_anom_new(enum lr_anom_device dev, uint32_t max_series,
                                    uint32_t n_features, char *errstr, size_t errlen)
{
    if (max_series == 0 || n_features == 0 || n_features > 16 ||
        (dev != LR_ANOM_DEV_AUTO && dev != LR_ANOM_DEV_CPU && dev != LR_ANOM_DEV_CUDA)) {
        snprintf(errstr, errlen, "anomaly detector: bad arguments (max_series %u, features %u)",
                 max_series, n_features);
        errno = EINVAL;
        return NULL;
    }
    struct lr_gpu_anom *d = calloc(1, sizeof(*d));
    if (!d)
        goto nomem;
    d->max_series = max_series;
    d->nf = n_features;
#ifdef LR_HAVE_CUDA
    if (dev == LR_ANOM_DEV_CUDA || (dev == LR_ANOM_DEV_AUTO && lr_gpu_anom_cuda_count() > 0)) {
        char name[128] = "";
        d->cuda = lr_gpu_anom_cuda_new(max_series, n_features, name, sizeof(name), errstr, errlen);
        if (d->cuda) {
            snprintf(d->device, sizeof(d->device), "cuda %s", name);
            return d;
        }
        if (dev == LR_ANOM_DEV_CUDA) {
            free(d);
            errno = ENODEV;
            return NULL;
        }
        /* auto: a GPU was found but could not be opened; the CPU reference takes over. */
    }
#else
    if (dev == LR_ANOM_DEV_CUDA) {
        snprintf(errstr, errlen, "anomaly detector: built without CUDA (no nvcc at build time)");
        free(d);
        errno = ENODEV;
        return NULL;
    }
#endif
    snprintf(d->device, sizeof(d->device), "cpu");
    d->sstate = calloc(max_series, sizeof(*d->sstate));
    d->fstate = calloc((size_t)max_series * n_features, sizeof(*d->fstate));
    if (!d->sstate || !d->fstate) {
        free(d->sstate);
        free(d->fstate);
        free(d);
        goto nomem;
    }
    return d;
nomem:
    snprintf(errstr, errlen, "anomaly detector: out of memory");
    errno = ENOMEM;
    return NULL;
}

const char *lr_gpu_anom_device(const struct lr_gpu_anom *d)
{
    return d->device;
}

int lr_gpu_anom_step(struct lr_gpu_anom *d, const uint32_t *ids, const float *in, size_t n,
                     struct lr_anom_out *out)
{
    if (!d || (n > 0 && (!ids || !in || !out)) || n > d->max_series)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= d->max_series)
            return -EINVAL;
    if (n == 0)
        return 0;
#ifdef LR_HAVE_CUDA
    if (d->cuda)
        return lr_gpu_anom_cuda_step(d->cuda, ids, in, n, out);
#endif
    for (size_t i = 0; i < n; i++) {
        uint32_t id = ids[i];
        lr_anom_series_step(&d->sstate[id], &d->fstate[(size_t)id * d->nf], d->nf, &in[i * d->nf],
                            &out[i]);
    }
    return 0;
}

void lr_gpu_anom_reset(struct lr_gpu_anom *d, uint32_t id)
{
    if (!d || id >= d->max_series)
        return;
#ifdef LR_HAVE_CUDA
    if (d->cuda) {
        lr_gpu_anom_cuda_reset(d->cuda, id);
        return;
    }
#endif
    memset(&d->sstate[id], 0, sizeof(d->sstate[id]));
    memset(&d->fstate[(size_t)id * d->nf], 0, d->nf * sizeof(*d->fstate));
}

void lr_gpu_anom_free(struct lr_gpu_anom *d)
{
    if (!d)
        return;
#ifdef LR_HAVE_CUDA
    lr_gpu_anom_cuda_free(d->cuda);
#endif
    free(d->sstate);
    free(d->fstate);
    free(d);
}
