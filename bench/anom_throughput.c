/* bench/anom_throughput: series-checks per second of the anomaly detector (lr_gpu_anom_step: one
 * series' row of features scored and its state updated), for the CPU reference on one core and,
 * where the CUDA runtime finds a GPU, on the GPU, next to memcpy bandwidth measured in the same
 * run the way bench/refs.c does (one core, 64 MiB buffers, 20 copies).
 *
 * Usage: build/bench/anom_throughput [SECONDS_PER_ROW]   (default 2; run it pinned: taskset -c 0)
 * Prints one line per (device, series, features) and the reference; the ratio is the state,
 * input and output bytes each check touches on average, times checks/s, over memcpy's bytes/s.
 * Per feature and value the step touches the tick timescale's scalars, the coarse timescale's
 * once per COARSE values, each timescale's arrays (period search and profile) once per BLK
 * values (the profile's few bins in between are left out), the coarse mean being made and the
 * input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../gpu/anom_algo.h"
#include "linerate/anomaly.h"
#include "util.h"

/* Steps `ns` series of `nf` features for `secs` seconds of ticks; returns checks/s. */
static double run(enum lr_anom_device dev, uint32_t ns, uint32_t nf, double secs, char *name,
                  size_t namelen)
{
    char err[256];
    struct lr_gpu_anom *d = lr_gpu_anom_new(dev, ns, nf, err, sizeof(err));
    if (!d)
        return -1;
    snprintf(name, namelen, "%s", lr_gpu_anom_device(d));
    enum { ROWS = 8 }; /* inputs: ROWS ticks of noise around per-series levels, cycled */
    uint32_t *ids = malloc(ns * sizeof(*ids));
    float *in = malloc((size_t)ROWS * ns * nf * sizeof(*in));
    struct lr_anom_out *out = malloc(ns * sizeof(*out));
    if (!ids || !in || !out)
        exit(1);
    for (uint32_t i = 0; i < ns; i++)
        ids[i] = i;
    uint32_t x = 12345;
    for (size_t k = 0; k < (size_t)ROWS * ns * nf; k++) {
        x = x * 1664525u + 1013904223u;
        in[k] = (float)(k % 97) + (float)(x >> 8) * (1.0f / 16777216.0f);
    }
    /* One untimed tick first: it faults the calloc'd state in (and on a GPU, warms the launch
     * path), a one-time cost at start in production. */
    if (lr_gpu_anom_step(d, ids, in, ns, out) != 0)
        exit(1);
    size_t ticks = 1;
    uint64_t opened = 0;
    double t0 = bench_now_s(), t = 0;
    do {
        if (lr_gpu_anom_step(d, ids, &in[(ticks % ROWS) * ns * nf], ns, out) != 0)
            exit(1);
        opened += out[ticks % ns].opened;
        ticks++;
        t = bench_now_s() - t0;
    } while (t < secs);
    volatile uint64_t sink = opened;
    (void)sink;
    lr_gpu_anom_free(d);
    free(ids);
    free(in);
    free(out);
    return (double)(ticks - 1) * ns / t;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    double mc = bench_memcpy_gbps();
    printf("memcpy_gbps %.2f\n", mc);
    static const uint32_t shapes[][2] = { { 1000, 5 }, { 100000, 5 }, { 100000, 1 } };
    for (int dev = 0; dev < 2; dev++) {
        for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
            uint32_t ns = shapes[s][0], nf = shapes[s][1];
            char name[160] = "";
            double r = run(dev == 0 ? LR_ANOM_DEV_CPU : LR_ANOM_DEV_CUDA, ns, nf, secs, name,
                           sizeof(name));
            if (r < 0) {
                if (s == 0)
                    printf("cuda: no device (not measured)\n");
                break;
            }
            double ts = 1.0 + 1.0 / LR_ANOM_COARSE; /* timescales stepped per value */
            double arrays = (double)(sizeof(struct lr_anom_tstate) - sizeof(struct lr_anom_fscal));
            double feat =
                ts * ((double)sizeof(struct lr_anom_fscal) + arrays / LR_ANOM_BLK) +
                (double)(sizeof(struct lr_anom_fstate) - 2 * sizeof(struct lr_anom_tstate)) +
                sizeof(float);
            double bytes = (double)nf * feat + sizeof(struct lr_anom_sstate) +
                           sizeof(struct lr_anom_out) + sizeof(uint32_t);
            printf("device %-24s series %6u features %u: %12.0f series-checks/s, %.1f ns each, "
                   "%.0f B touched each, ratio to memcpy %.4f\n",
                   name, ns, nf, r, 1e9 / r, bytes, r * bytes / (mc * 1e9));
        }
    }
    return 0;
}
