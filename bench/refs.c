/* Physical references measured in the same run as a benchmark: memcpy bandwidth (one core,
 * 64 MiB buffers, beyond the caches) and loopback TCP bandwidth (one connection, 256 KiB writes).
 * Prints two lines: "memcpy_gbps X" and "loopback_tcp_gbps Y" (gigabytes per second).
 * With a folder argument it also measures the disk under it: 300 appends of 16 KiB, each
 * followed by fdatasync, and prints "fdatasync_us_p50 X" and "fdatasync_us_p99 Y". */
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static int lfd;

static void *sink(void *arg)
{
    (void)arg;
    int fd = accept(lfd, NULL, NULL);
    static char buf[1 << 18];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    close(fd);
    return NULL;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static int disk(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/refs-fsync.tmp", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 1;
    static char buf[16384];
    memset(buf, 7, sizeof(buf));
    enum { N = 300 };
    static double us[N];
    for (int i = 0; i < N; i++) {
        double t0 = bench_now_s();
        if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || fdatasync(fd) != 0)
            return 1;
        us[i] = (bench_now_s() - t0) * 1e6;
    }
    close(fd);
    unlink(path);
    qsort(us, N, sizeof(us[0]), cmp_double);
    printf("fdatasync_us_p50 %.0f\nfdatasync_us_p99 %.0f\n", us[N / 2], us[N * 99 / 100]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && disk(argv[1]) != 0)
        return 1;
    double mc = bench_memcpy_gbps();
    if (mc < 0)
        return 1;
    printf("memcpy_gbps %.2f\n", mc);

    size_t chunk = 1 << 18;
    char *a = calloc(1, chunk);
    if (!a)
        return 1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof(sa);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
        return 1;
    pthread_t th;
    pthread_create(&th, NULL, sink, NULL);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return 1;
    size_t total = 4ull << 30, sent = 0;
    double t0 = bench_now_s();
    while (sent < total) {
        ssize_t k = write(fd, a, chunk);
        if (k <= 0)
            return 1;
        sent += (size_t)k;
    }
    close(fd);
    pthread_join(th, NULL);
    double t = bench_now_s() - t0;
    printf("loopback_tcp_gbps %.2f\n", (double)total / t / 1e9);
    free(a);
    return 0;
}
