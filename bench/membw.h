/* The memcpy reference the benchmarks state their figures against (bench/refs.c, and the drivers
 * that measure it in their own run): one core, 64 MiB buffers, beyond the caches. */
#ifndef LINERATE_BENCH_MEMBW_H
#define LINERATE_BENCH_MEMBW_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* memcpy bandwidth in GB/s, or a negative value without the memory. */
static inline double bench_memcpy_gbps(void)
{
    size_t n = 64u << 20;
    char *a = malloc(n), *b = malloc(n);
    if (!a || !b) {
        free(a);
        free(b);
        return -1;
    }
    memset(a, 1, n);
    memset(b, 2, n);
    double t0 = bench_now_s();
    for (int i = 0; i < 20; i++) {
        memcpy(b, a, n);
        a[i] = b[n - 1 - (size_t)i]; /* each copy depends on the one before */
    }
    double t = bench_now_s() - t0;
    free(a);
    free(b);
    return 20.0 * (double)n / t / 1e9;
}

#endif
