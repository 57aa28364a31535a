/* The OTLP walker alone (dataplane/otlp_walk.c), per signal, on one core: GB/s and items/s over
 * the request bodies otlp-load sends (`otlp-load --dump-requests DIR`), against memcpy bandwidth
 * over the same bytes measured in the same run.
 *
 * Two walks per signal: "validate" (counts only: what every request gets) and "view" (every
 * resource, scope and item recorded: what per-trace splitting and sampling need).
 *
 * Usage: walk DIR [SECONDS per measurement, default 1]. Prints one line per signal and mode:
 *   SIGNAL MODE bytes=B items=N GB/s=X items/s=Y ratio_to_memcpy=R */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linerate/otlp.h"
#include "util.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: walk DIR [SECONDS]\n");
        return 2;
    }
    double secs = argc > 2 ? atof(argv[2]) : 1.0;
    static const char *const names[LR_SIG_COUNT] = { "traces", "metrics", "logs" };
    static struct lr_otlp_resource res[4096];
    static struct lr_otlp_scope scopes[4096];
    static struct lr_otlp_item items[65536];
    for (int s = 0; s < LR_SIG_COUNT; s++) {
        char path[4096];
        size_t len;
        snprintf(path, sizeof(path), "%s/%s.pb", argv[1], names[s]);
        uint8_t *body = bench_slurp(path, &len);
        if (!body) {
            fprintf(stderr, "walk: cannot read %s\n", path);
            return 2;
        }
        double mc = bench_memcpy_bw(body, len, secs);
        for (int mode = 0; mode < 2; mode++) {
            struct lr_otlp_view v;
            uint64_t n = 0, it = 0;
            double t0 = bench_now_s(), t;
            do {
                for (int i = 0; i < 64; i++) {
                    memset(&v, 0, sizeof(v));
                    if (mode == 1) {
                        v.resources = res;
                        v.resources_cap = 4096;
                        v.scopes = scopes;
                        v.scopes_cap = 4096;
                        v.items = items;
                        v.items_cap = 65536;
                    }
                    if (lr_dp_otlp_walk((enum lr_signal)s, body, len, &v) != 0) {
                        fprintf(stderr, "walk: %s does not walk\n", path);
                        return 1;
                    }
                    it = s == LR_SIG_TRACES    ? v.n_spans
                         : s == LR_SIG_METRICS ? v.n_points
                                               : v.n_log_records;
                }
                n += 64;
                t = bench_now_s();
            } while (t - t0 < secs);
            double bps = (double)n * (double)len / (t - t0);
            printf("%s %s bytes=%zu items=%llu GB/s=%.3f items/s=%.0f ratio_to_memcpy=%.4f "
                   "memcpy_GB/s=%.2f\n",
                   names[s], mode ? "view" : "validate", len, (unsigned long long)it, bps / 1e9,
                   (double)n * (double)it / (t - t0), bps / mc, mc / 1e9);
        }
        free(body);
    }
    return 0;
}
