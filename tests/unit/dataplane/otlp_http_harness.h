/* A test harness around one worker's OTLP export context (dataplane/otlp_http.c) for the C++
 * unit tests: dataplane/otlp_http.h holds C11 atomics (the rings, the run-time sampling block),
 * which C++ cannot include, so the tests reach the export path through these plain C functions
 * (tests/unit/dataplane/otlp_http_harness.c). Single-threaded; memory mode (no spool). */
#ifndef LINERATE_TEST_OTLP_HTTP_HARNESS_H
#define LINERATE_TEST_OTLP_HTTP_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linerate/config.h"
#include "linerate/otlp.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lr_t_otlp; /* opaque */

/* A context over `cfg` (borrowed; must outlive the harness) as worker `worker`, with a ring of
 * 4096 records. With `with_rt`, the context reads a run-time sampling block the harness owns
 * (as sock.c sets for real workers); nothing is published in it until lr_t_otlp_publish().
 * Returns owned (free with lr_t_otlp_free), or NULL when lr_dp_otlp_ctx_init failed. */
struct lr_t_otlp *lr_t_otlp_new(const struct lr_config *cfg, uint32_t worker, bool with_rt);
void lr_t_otlp_free(struct lr_t_otlp *h);

/* POSTs `body` (borrowed) as application/x-protobuf to /v1/<signal>. Returns the HTTP status. */
int lr_t_otlp_post(struct lr_t_otlp *h, enum lr_signal sig, const uint8_t *body, size_t len);

/* Pops every queued record in order, calling `fn` with its value (borrowed for the call), item
 * count and key (key_len 0 or 32). Returns the number of records. */
typedef void (*lr_t_rec_fn)(void *ctx, const uint8_t *value, size_t len, uint64_t n_items,
                            const char *key, size_t key_len);
size_t lr_t_otlp_drain(struct lr_t_otlp *h, lr_t_rec_fn fn, void *ctx);

/* Run-time block (with_rt only): publishes a new set (the harness keeps every set it published
 * alive until lr_t_otlp_free), sets the adaptive factor or the `lowered` flag, and reads what
 * the worker acknowledged in seen[]. */
void lr_t_otlp_publish(struct lr_t_otlp *h, uint64_t generation, bool head, double traces_pct,
                       bool logs, double logs_pct);
void lr_t_otlp_set_scale(struct lr_t_otlp *h, double scale);
void lr_t_otlp_set_lowered(struct lr_t_otlp *h, bool lowered);
uint64_t lr_t_otlp_seen(const struct lr_t_otlp *h);

/* Anomaly features and the sampling boost on this context (cfg->anomaly.* as the caller set
 * them): the harness owns the feature ring and the snapshot block, and publishes as open the n
 * series (service[i], name[i], kind[i]) (strings borrowed for the call). Returns 0 or -errno. */
int lr_t_otlp_anomaly(struct lr_t_otlp *h, const char *const *service, const char *const *name,
                      const uint32_t *kind, size_t n);

/* The boost table of lr_t_otlp_anomaly's context (linerate/anomaly_rt.h), by raw hash and
 * second: remember a trace, and look one up as a worker would. */
void lr_t_otlp_boost_put(struct lr_t_otlp *h, uint64_t hash, uint64_t now_s);
bool lr_t_otlp_boost_has(struct lr_t_otlp *h, uint64_t hash, uint64_t now_s);
uint64_t lr_t_otlp_boost_hold_s(void); /* LR_ANOM_BOOST_HOLD_S */

/* What the worker counted so far in this window for one series: 0 with *count and *errors set,
 * or -1 when the series is not in the table. */
int lr_t_otlp_feat(struct lr_t_otlp *h, const char *service, const char *name, uint32_t kind,
                   uint32_t *count, uint32_t *errors);

struct lr_t_otlp_stats {
    uint64_t spans_sampled[2]; /* [0] dropped, [1] kept by the sampler */
    uint64_t logs_sampled[2];
    uint64_t force_kept;
    uint64_t anom_kept;  /* kept by the anomaly boost */
    uint64_t anom_spans; /* counted into anomaly series */
    uint64_t accepted_spans, accepted_logs;
};
void lr_t_otlp_get_stats(const struct lr_t_otlp *h, struct lr_t_otlp_stats *out);

#ifdef __cplusplus
}
#endif

#endif
