/* The clocks, in nanoseconds: CLOCK_MONOTONIC for intervals and deadlines, CLOCK_REALTIME for
 * timestamps that leave the process (OTLP times, Kafka records). */
#ifndef LINERATE_CLOCK_H
#define LINERATE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t lr_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t lr_real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
