/* Internal: the CUDA side of gpu/anom.c, implemented in gpu/anom_cuda.cu (built only when nvcc is
 * present; LR_HAVE_CUDA is then defined for gpu/anom.c). Same semantics as the public calls in
 * linerate/anomaly.h. Thread: the one that owns the lr_gpu_anom. */
#ifndef LR_GPU_ANOM_CUDA_H
#define LR_GPU_ANOM_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "linerate/anomaly.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lr_gpu_anom_cuda;

/* Number of CUDA devices the runtime finds (0 when none or no driver). */
int lr_gpu_anom_cuda_count(void);

/* Returns owned (free with lr_gpu_anom_cuda_free), or NULL with errstr set; name gets the
 * device's name. */
struct lr_gpu_anom_cuda *lr_gpu_anom_cuda_new(uint32_t max_series, uint32_t n_features, char *name,
                                              size_t namelen, char *errstr, size_t errlen);
/* ids are checked by the caller. Returns 0 or -EIO (CUDA error, logged to stderr once). */
int lr_gpu_anom_cuda_step(struct lr_gpu_anom_cuda *c, const uint32_t *ids, const float *in,
                          size_t n, struct lr_anom_out *out);
void lr_gpu_anom_cuda_reset(struct lr_gpu_anom_cuda *c, uint32_t id);
void lr_gpu_anom_cuda_free(struct lr_gpu_anom_cuda *c);

#ifdef __cplusplus
}
#endif
#endif
