/* What the C bench drivers share: the clock, the memcpy references they state their figures
 * against (measured in their own run), and reading a dumped request. */
#ifndef LINERATE_BENCH_UTIL_H
#define LINERATE_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* memcpy bandwidth in GB/s (one core, 64 MiB buffers, beyond the caches: bench/refs.c), or a
 * negative value without the memory. */
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

/* memcpy of the `len` bytes at src (a request body: in cache like the code measured beside it),
 * repeated for `secs`: bytes per second. */
static inline double bench_memcpy_bw(const uint8_t *src, size_t len, double secs)
{
    uint8_t *dst = malloc(len);
    volatile uint8_t sink = 0;
    uint64_t n = 0;
    double t0 = bench_now_s(), t;
    do {
        for (int i = 0; i < 64; i++) {
            memcpy(dst, src, len);
            sink ^= dst[i % len];
        }
        n += 64;
        t = bench_now_s();
    } while (t - t0 < secs);
    free(dst);
    (void)sink;
    return (double)n * (double)len / (t - t0);
}

/* The whole file at path (malloc'd, its length in *len), or NULL. */
static inline uint8_t *bench_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = n > 0 ? malloc((size_t)n) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

#endif
