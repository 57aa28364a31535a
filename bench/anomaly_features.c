/* What anomaly features cost a worker per span (gpu/features.c through the loop
 * dataplane/otlp_http.c runs, features_add): the walker's "view" walk of otlp-load's trace request
 * alone, then the same walk followed by counting every span into the window's series table (hash
 * of service.name once per resource, then of name and kind per span, one table probe, counters and
 * a histogram bucket), the window handed over (copied and cleared) every 1000 requests as workers
 * do once per window. One core; memcpy of the same bytes measured in the same run.
 *
 * Usage: anomaly_features DIR [SECONDS per measurement, default 1]; DIR holds traces.pb
 * (`otlp-load --dump-requests DIR`). Prints one line per mode:
 *   MODE spans/s=X ns/span=Y ratio_to_memcpy=R memcpy_GB/s=M */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linerate/features.h"
#include "linerate/otlp.h"
#include "util.h"

#define STATUS_CODE_ERROR 2

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: anomaly_features DIR [SECONDS]\n");
        return 2;
    }
    double secs = argc > 2 ? atof(argv[2]) : 1.0;
    static struct lr_otlp_resource res[4096];
    static struct lr_otlp_scope scopes[4096];
    static struct lr_otlp_item items[65536];
    static uint64_t series[65536];
    char path[4096];
    size_t len;
    snprintf(path, sizeof(path), "%s/traces.pb", argv[1]);
    uint8_t *body = bench_slurp(path, &len);
    if (!body) {
        fprintf(stderr, "anomaly_features: cannot read %s\n", path);
        return 2;
    }
    struct lr_feat_table t;
    if (lr_gpu_feat_table_init(&t, 4096) < 0)
        return 1;
    double mc = bench_memcpy_bw(body, len, secs);
    double base = 0;
    for (int mode = 0; mode < 2; mode++) {
        uint64_t n = 0, spans = 0, sink = 0;
        double t0 = bench_now_s(), now;
        do {
            for (int i = 0; i < 64; i++) {
                struct lr_otlp_view v = { .resources = res,
                                          .resources_cap = 4096,
                                          .scopes = scopes,
                                          .scopes_cap = 4096,
                                          .items = items,
                                          .items_cap = 65536 };
                if (lr_dp_otlp_walk(LR_SIG_TRACES, body, len, &v) != 0) {
                    fprintf(stderr, "anomaly_features: %s does not walk\n", path);
                    return 1;
                }
                spans += v.n_items;
                if (mode == 0)
                    continue;
                uint32_t last_r = UINT32_MAX;
                struct lr_slice service = { 0 };
                uint64_t h0 = 0;
                for (uint32_t k = 0; k < v.n_items; k++) {
                    const struct lr_otlp_item *it = &v.items[k];
                    uint32_t r = v.scopes[it->scope].resource;
                    if (r != last_r) {
                        service = v.resources[r].service_name;
                        h0 = lr_feat_hash_begin(service);
                        last_r = r;
                    }
                    uint64_t h = lr_feat_hash_end(h0, it->name, it->kind);
                    series[k] = h;
                    uint64_t dur = it->end_ns > it->start_ns ? it->end_ns - it->start_ns : 0;
                    lr_gpu_feat_add(&t, h, service, it->name, it->kind, dur,
                                    it->status_code == STATUS_CODE_ERROR);
                }
                sink += series[0];
                if ((n + (uint64_t)i) % 1000 == 999) {
                    struct lr_feat_window *w = lr_gpu_feat_take(&t, 0, n);
                    sink += w ? w->n : 0;
                    free(w);
                }
            }
            n += 64;
            now = bench_now_s();
        } while (now - t0 < secs);
        double sps = (double)spans / (now - t0);
        if (mode == 0)
            base = sps;
        printf("%s spans/s=%.0f ns/span=%.1f ratio_to_memcpy=%.4f memcpy_GB/s=%.2f%s\n",
               mode ? "walk+features" : "walk", sps, 1e9 / sps,
               (double)n * (double)len / (now - t0) / mc, mc / 1e9, sink == 42 ? " " : "");
        if (mode == 1)
            printf("features_only ns/span=%.1f (walk+features minus walk)\n",
                   1e9 / sps - 1e9 / base);
    }
    lr_gpu_feat_table_fini(&t);
    free(body);
    return 0;
}
