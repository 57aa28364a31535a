/* OTLP export handling on top of the protocol engines (dataplane/otlp_http.c): OTLP/HTTP with
 * protobuf or JSON bodies on the HTTP/1.1 engine, OTLP/gRPC on the HTTP/2 engine. Walks the body,
 * rejects items that fail validation (partial success), splits traces per trace id, queues owned
 * records on the worker's ring and answers as the OTLP specification says. Per worker: one
 * context, used by that worker's thread only. */
#ifndef LINERATE_DP_OTLP_HTTP_H
#define LINERATE_DP_OTLP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linerate/anomaly_rt.h"
#include "linerate/config.h"
#include "linerate/features.h"
#include "linerate/h2.h"
#include "linerate/http1.h"
#include "linerate/msg.h"
#include "linerate/otlp.h"
#include "linerate/ring.h"
#include "linerate/sampling.h"
#include "linerate/spool.h"
#include "linerate/stats.h"
#include "otlp_json.h"
#include "sample.h"
#include "tail.h"

/* A per-service head sampler (processors.probabilistic_sampler.services): spans and log records
 * of a resource whose service.name is `name` are decided with it. */
struct lr_dp_svc_sampler {
    struct lr_slice name; /* borrowed from the configuration */
    struct lr_dp_sampler s;
};

/* One Kafka record of the request being answered; its bytes are in the context's arena. */
struct lr_dp_rec {
    enum lr_signal signal;
    uint8_t key_len; /* 0 or 32 */
    char key[32];
    uint64_t n_items;
    size_t off, len; /* in the arena */
};

struct lr_dp_otlp_ctx {
    const struct lr_config *cfg;   /* borrowed */
    struct lr_ring *ring;          /* borrowed; this worker is its only producer */
    struct lr_worker_stats *stats; /* borrowed */
    uint32_t worker;
    struct lr_cp_spool *spool; /* borrowed; this worker is its only writer; NULL: memory only */
    enum lr_ack_mode ack;      /* the mode of the connection being served (set by the worker) */
    uint64_t appended_seq;     /* seq of the last record appended to the spool (0: none) */
    size_t max_record;         /* largest record value (exporters.kafka.max_message_bytes) */

    struct lr_otlp_view view;           /* arrays owned, grown when a request does not fit */
    struct lr_dp_rec *recs;             /* records of the request being answered */
    struct lr_cp_spool_rec *spool_recs; /* the same, as the spool takes them (recs_cap) */
    size_t n_recs, recs_cap;
    uint8_t *arena; /* their bytes (owned, reused per request) */
    size_t arena_len, arena_cap;
    /* Run-time sampling settings (borrowed; NULL in unit tests: the configuration's apply) and
     * the set this worker applies now (loaded from rt->cur between requests). */
    struct lr_sampling_rt *rt;
    const struct lr_sampling_set *set;
    /* Head sampling (processors.probabilistic_sampler), per span or log record, before
     * splitting: the samplers of the set and adaptive factor applied now, rebuilt when either
     * changes (between two requests). */
    bool sampling;                /* traces */
    bool sampling_logs;           /* logs (by trace id) */
    bool lowered;                 /* the adaptive rate is lowered: the always-keep rule applies */
    double scale;                 /* the adaptive factor the samplers were built with */
    struct lr_dp_sampler sampler; /* traces */
    struct lr_dp_sampler sampler_logs; /* logs */
    struct lr_dp_svc_sampler *svc;     /* per-service overrides (owned; cfg->sampler.services) */
    size_t n_svc;
    uint8_t *force;      /* per span: kept by the adaptive always-keep rule (sample_cap) */
    uint32_t *force_tab; /* trace-id table of that rule */
    size_t force_tab_cap;
    uint8_t *keep;       /* per span or log record of the request */
    struct lr_slice *ts; /* per span: the rewritten tracestate, or p == NULL */
    size_t *ts_off;      /* per span: offset into ts_buf, or SIZE_MAX */
    size_t sample_cap;   /* entries in keep, ts, ts_off */
    char *ts_buf;        /* rewritten tracestates */
    size_t ts_len, ts_cap;
    uint8_t *spliced; /* the kept spans, as a request */
    size_t spliced_cap;
    /* Tail sampling (processors.tail_sampling): this worker's table (NULL: off), the rings to
     * and from every other worker (route_out[w], route_in[w]; NULL at this worker's own index),
     * and kept traces waiting for room in the output (owned messages, oldest first). */
    struct lr_dp_tail *tail;
    uint32_t n_workers;
    struct lr_ring **route_out, **route_in;
    uint32_t *route_need;  /* per worker: pieces of the request being routed */
    const int *route_wake; /* per worker: eventfd that wakes it (borrowed) */
    struct lr_msg **pend;
    size_t n_pend, pend_cap;
    uint64_t tail_next_ns; /* next time the table is looked at for traces to decide */
    /* Anomaly features (anomaly.enabled; feat.e NULL while off): this window's series table, the
     * ring to the batcher (borrowed; this worker is its only producer), the open series the
     * batcher published (borrowed, loaded per request) and, per span of the request, its
     * series hash (sample_cap entries). */
    struct lr_feat_table feat;
    struct lr_ring *feat_ring;
    uint64_t window_ns, feat_window;
    struct lr_anom_rt *anom;
    const struct lr_anom_snap *snap;
    uint64_t anom_keep_below; /* trace randomness below which an open series' trace is kept */
    uint64_t *span_series;
    size_t span_series_cap;
    uint64_t rejected;          /* items of the current request rejected: invalid trace id ... */
    uint64_t rejected_big;      /* ... or in a resource larger than max_record */
    struct lr_dp_json_out json; /* JSON bodies transcoded to protobuf (reused) */
    uint8_t resp[2048];         /* answer-body scratch (the engines copy it) */
    uint8_t details[512];       /* grpc-status-details-bin scratch */
};

/* Initialises `x` (arrays allocated). Returns 0 or -ENOMEM. */
int lr_dp_otlp_ctx_init(struct lr_dp_otlp_ctx *x, const struct lr_config *cfg, struct lr_ring *ring,
                        struct lr_worker_stats *stats, uint32_t worker);
void lr_dp_otlp_ctx_fini(struct lr_dp_otlp_ctx *x);

/* Tail sampling: prepares this worker's table for `n_workers` workers, with the rings this
 * worker pushes to (out[w]) and pops from (in[w]); both arrays borrowed, n_workers entries, NULL
 * at this worker's index; wake[w] is an eventfd that wakes worker w (8-byte writes). Only when
 * cfg->tail.enabled. Returns 0, -EINVAL or -ENOMEM. */
int lr_dp_otlp_tail_init(struct lr_dp_otlp_ctx *x, uint32_t n_workers, struct lr_ring **out,
                         struct lr_ring **in, const int *wake);

/* From the worker's loop, every pass: hands a finished anomaly window to the batcher and records
 * the snapshot generation seen, loads new run-time sampling settings (rt), then, with
 * tail sampling: takes in the trace pieces other workers routed here,
 * decides the traces whose decision wait is over (every trace when `all`), and moves kept
 * traces to the output (the spool, or the ring in memory mode). Cheap when there is nothing to
 * do. */
void lr_dp_otlp_tail_poll(struct lr_dp_otlp_ctx *x, uint64_t now_ns, bool all);

/* Whether tail sampling holds nothing: no trace pending, nothing waiting for the output, and
 * nothing in the rings towards this worker. */
bool lr_dp_otlp_tail_idle(const struct lr_dp_otlp_ctx *x);

/* Anomaly features: accumulates every span's (service.name, name, kind) features in this worker's
 * table, hands each finished window to the batcher over `ring` (borrowed; this worker becomes its
 * only producer) and keeps open series' traces (anomaly.keep_percent) as `rt` (borrowed)
 * publishes them. Only when cfg->anomaly.enabled. Returns 0, -EINVAL or -ENOMEM. */
int lr_dp_otlp_anom_init(struct lr_dp_otlp_ctx *x, struct lr_ring *ring, struct lr_anom_rt *rt);

/* The handler triple for lr_http1_conn_new, with ctx = the lr_dp_otlp_ctx. */
struct lr_http_handler lr_dp_otlp_handler(struct lr_dp_otlp_ctx *x);

/* The handler pair for lr_h2_conn_new (OTLP/gRPC), with ctx = the lr_dp_otlp_ctx. */
struct lr_h2_handler lr_dp_otlp_grpc_handler(struct lr_dp_otlp_ctx *x);

/* Encodes google.rpc.Status{code, message} into `out` (cap bytes; the message is cut to fit at a
 * UTF-8 boundary). When retry_delay_s > 0 a google.rpc.RetryInfo detail is added. Returns the
 * encoded length. */
size_t lr_dp_rpc_status_encode(uint8_t *out, size_t cap, int code, const char *message,
                               uint32_t retry_delay_s);

#endif
