/* OTLP export handling for every transport: OTLP/HTTP with protobuf or JSON bodies on the
 * HTTP/1.1 engine, and OTLP/gRPC on the HTTP/2 engine. One path does the work (walk, validate,
 * split per trace, queue all records or none); the answers follow the OTLP specification:
 * HTTP 200 / gRPC OK with an Export*ServiceResponse (partial_success when some items were
 * rejected), 400 / INVALID_ARGUMENT with a google.rpc.Status for bad data (not retryable),
 * 503 + Retry-After / UNAVAILABLE with google.rpc.RetryInfo when the output queue is full. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "linerate/clock.h"
#include "linerate/error.h"
#include "otlp_http.h"
#include "otlp_split.h"

#define VIEW_INITIAL_ITEMS 1024u
#define VIEW_MAX_ITEMS (1u << 26)
#define RETRY_AFTER_S 1

static const char *const paths[LR_SIG_COUNT] = { "/v1/traces", "/v1/metrics", "/v1/logs" };
static const char *const grpc_paths[LR_SIG_COUNT] = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
};
static const char *const request_names[LR_SIG_COUNT] = { "ExportTraceServiceRequest",
                                                         "ExportMetricsServiceRequest",
                                                         "ExportLogsServiceRequest" };
static const char *const item_names[LR_SIG_COUNT] = { "spans", "data points", "log records" };

enum body_kind { BODY_PROTOBUF, BODY_JSON, BODY_OTHER };

/* What one export came to. */
struct outcome {
    int err;           /* 0, LR_E_MALFORMED or LR_E_OVERLOADED */
    uint64_t items;    /* in the request */
    uint64_t rejected; /* failed validation (partial success) */
    char msg[512];     /* the error or partial-success message */
};

static bool slice_ieq(struct lr_slice s, const char *z)
{
    size_t n = strlen(z);
    return s.len == n && strncasecmp((const char *)s.p, z, n) == 0;
}

static int route(struct lr_slice path, const char *const *table)
{
    for (int i = 0; i < LR_SIG_COUNT; i++)
        if (lr_slice_eq(path, table[i]))
            return i;
    return -1;
}

static enum body_kind kind_of(struct lr_slice ct)
{
    if (slice_ieq(ct, "application/x-protobuf"))
        return BODY_PROTOBUF;
    if (slice_ieq(ct, "application/json"))
        return BODY_JSON;
    return BODY_OTHER;
}

static int view_alloc(struct lr_otlp_view *v, uint32_t items, uint32_t scopes, uint32_t resources)
{
    void *p = realloc(v->items, sizeof(*v->items) * items);
    if (!p)
        return -ENOMEM;
    v->items = p;
    v->items_cap = items;
    if (!(p = realloc(v->scopes, sizeof(*v->scopes) * scopes)))
        return -ENOMEM;
    v->scopes = p;
    v->scopes_cap = scopes;
    if (!(p = realloc(v->resources, sizeof(*v->resources) * resources)))
        return -ENOMEM;
    v->resources = p;
    v->resources_cap = resources;
    return 0;
}

/* ---- head-sampling settings ------------------------------------------------------------------ */

/* What a scaled percentage is raised to when it falls below the smallest one lr_dp_sampler_init
 * takes (a ratio of 2^-56, as the Collector's Config.Validate): a valid percentage times a small
 * adaptive factor can get there, and the Collector's makeSampler rounds such ratios up too. */
#define MIN_SCALED_PCT 1e-14

/* Prepares `s` for `pct` x `scale` with the configured mode, seed, precision and fail_closed.
 * When that is refused (a positive percentage below 2^-56 as a ratio), `s` keeps everything and
 * -EINVAL is returned: lr_dp_otlp_ctx_init fails on it, a set published at run time costs no
 * data. */
static int sampler_make(const struct lr_config *c, struct lr_dp_sampler *s, double pct,
                        double scale)
{
    struct lr_dp_sample_cfg sc = { .mode = (enum lr_dp_sample_mode)c->sampler.mode,
                                   .percentage = pct * scale,
                                   .hash_seed = c->sampler.hash_seed,
                                   .precision = (int)c->sampler.precision,
                                   .fail_closed = c->sampler.fail_closed };
    if (scale != 1.0 && sc.percentage > 0 && sc.percentage < MIN_SCALED_PCT)
        sc.percentage = MIN_SCALED_PCT;
    if (lr_dp_sampler_init(s, &sc) == 0)
        return 0;
    sc.percentage = 100;
    lr_dp_sampler_init(s, &sc);
    return -EINVAL;
}

/* (Re)builds the samplers for `set` (NULL: the configuration's settings) and the adaptive factor
 * `scale`: traces, logs, and one per service override (the same percentage for both signals).
 * Cheap: a few float operations each. Returns 0, or -EINVAL when some sampler could not be built
 * (it then keeps everything; see sampler_make). */
static int samplers_build(struct lr_dp_otlp_ctx *x, const struct lr_sampling_set *set, double scale)
{
    const struct lr_config *c = x->cfg;
    int rc = 0;

    double traces_pct = set ? set->traces_percentage : c->sampler.percentage;
    double logs_pct = set ? set->logs_percentage : c->sampler.logs_percentage;
    x->sampling = set ? set->head : (c->sampler.enabled || c->adaptive.enabled);
    x->sampling_logs = set ? set->logs : c->sampler.logs;
    x->scale = scale;
    if (x->sampling && sampler_make(c, &x->sampler, traces_pct, scale) < 0)
        rc = -EINVAL;
    if (x->sampling_logs && sampler_make(c, &x->sampler_logs, logs_pct, scale) < 0)
        rc = -EINVAL;
    if (x->sampling || x->sampling_logs)
        for (size_t i = 0; i < x->n_svc; i++)
            if (sampler_make(c, &x->svc[i].s, c->sampler.services[i].percentage, scale) < 0)
                rc = -EINVAL;
    return rc;
}

/* Run-time settings, at the start of every export: the published set when its generation
 * changed (acknowledged in rt->seen[] so the control thread may free the one before), the
 * adaptive factor and the `lowered` flag. One acquire load and two relaxed ones; the samplers
 * are rebuilt only when the set or the factor changed. Without rt (unit tests) the
 * configuration's settings stay. */
static void sampling_refresh(struct lr_dp_otlp_ctx *x)
{
    struct lr_sampling_rt *rt = x->rt;
    bool changed = false;

    if (!rt)
        return;
    const struct lr_sampling_set *set = atomic_load_explicit(&rt->cur, memory_order_acquire);
    if (set && (!x->set || set->generation != x->set->generation)) {
        x->set = set;
        if (x->worker < LR_SAMPLING_MAX_WORKERS)
            atomic_store_explicit(&rt->seen[x->worker], set->generation, memory_order_release);
        changed = true;
    }
    double scale = lr_sampling_scale(rt);
    if (!(scale > 0 && scale <= 1))
        scale = 1; /* (0, 1] by contract; anything else (not yet set, NaN): unscaled */
    if (scale != x->scale)
        changed = true;
    x->lowered = atomic_load_explicit(&rt->lowered, memory_order_relaxed);
    if (changed)
        samplers_build(x, x->set, scale);
}

int lr_dp_otlp_ctx_init(struct lr_dp_otlp_ctx *x, const struct lr_config *cfg, struct lr_ring *ring,
                        struct lr_worker_stats *stats, uint32_t worker)
{
    memset(x, 0, sizeof(*x));
    x->cfg = cfg;
    x->ring = ring;
    x->stats = stats;
    x->worker = worker;
    x->ack = LR_ACK_MEMORY;
    /* Room for the record's key and Kafka's per-record and per-batch framing under
     * message.max.bytes, which librdkafka checks against the whole record. */
    x->max_record = cfg->kafka.max_message_bytes > 1024 ? cfg->kafka.max_message_bytes - 512 : 512;
    if (view_alloc(&x->view, VIEW_INITIAL_ITEMS, VIEW_INITIAL_ITEMS / 4, VIEW_INITIAL_ITEMS / 8) <
        0)
        goto fail;
    x->recs_cap = 256;
    x->recs = malloc(sizeof(*x->recs) * x->recs_cap);
    x->spool_recs = malloc(sizeof(*x->spool_recs) * x->recs_cap);
    x->arena_cap = 64 * 1024;
    x->arena = malloc(x->arena_cap);
    if (!x->recs || !x->spool_recs || !x->arena)
        goto fail;
    if (cfg->sampler.n_services) {
        x->svc = calloc(cfg->sampler.n_services, sizeof(*x->svc));
        if (!x->svc)
            goto fail;
        x->n_svc = cfg->sampler.n_services;
        for (size_t i = 0; i < x->n_svc; i++)
            x->svc[i].name = lr_slice_make(cfg->sampler.services[i].service,
                                           strlen(cfg->sampler.services[i].service));
    }
    /* The configuration's settings until the first request loads the published set. */
    if (samplers_build(x, NULL, 1.0) < 0) {
        lr_dp_otlp_ctx_fini(x);
        return -EINVAL;
    }
    return 0;
fail:
    lr_dp_otlp_ctx_fini(x);
    return -ENOMEM;
}

void lr_dp_otlp_ctx_fini(struct lr_dp_otlp_ctx *x)
{
    if (!x)
        return;
    free(x->recs);
    free(x->spool_recs);
    free(x->arena);
    free(x->keep);
    free(x->force);
    free(x->force_tab);
    free(x->svc);
    free(x->ts);
    free(x->ts_off);
    free(x->ts_buf);
    free(x->spliced);
    free(x->span_series);
    lr_gpu_feat_table_fini(&x->feat);
    lr_dp_tail_free(x->tail);
    for (size_t i = 0; i < x->n_pend; i++)
        lr_msg_free(x->pend[i]);
    free(x->pend);
    free(x->route_need);
    free(x->view.items);
    free(x->view.scopes);
    free(x->view.resources);
    lr_dp_json_out_free(&x->json);
    memset(x, 0, sizeof(*x));
}

/* ---- protobuf answers -------------------------------------------------------------------------
 */

static size_t put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

/* Length of `message` cut to at most `cap` bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *message, size_t cap)
{
    size_t n = strlen(message);
    if (n <= cap)
        return n;
    n = cap;
    while (n > 0 && ((uint8_t)message[n] & 0xC0) == 0x80)
        n--;
    return n;
}

size_t lr_dp_rpc_status_encode(uint8_t *out, size_t cap, int code, const char *message,
                               uint32_t retry_delay_s)
{
    /* google.rpc.Status: 1 code (int32), 2 message (string), 3 details (repeated Any). A
     * RetryInfo detail is Any{1: type_url, 2: RetryInfo{1: Duration{1: seconds}}}. */
    static const char type_url[] = "type.googleapis.com/google.rpc.RetryInfo";
    uint8_t detail[80];
    size_t dn = 0;
    if (retry_delay_s > 0) {
        uint8_t dur[12], ri[16];
        size_t n = 0, rn = 0;
        dur[n++] = 0x08;
        n += put_varint(dur + n, retry_delay_s);
        ri[rn++] = 0x0a;
        ri[rn++] = (uint8_t)n;
        memcpy(ri + rn, dur, n);
        rn += n;
        detail[dn++] = 0x0a;
        detail[dn++] = (uint8_t)(sizeof(type_url) - 1);
        memcpy(detail + dn, type_url, sizeof(type_url) - 1);
        dn += sizeof(type_url) - 1;
        detail[dn++] = 0x12;
        detail[dn++] = (uint8_t)rn;
        memcpy(detail + dn, ri, rn);
        dn += rn;
    }
    if (cap < dn + 32)
        return 0;
    size_t n = 0;
    if (code != 0) {
        out[n++] = 0x08;
        n += put_varint(out + n, (uint64_t)(int64_t)code);
    }
    size_t mlen = utf8_cut(message, cap - n - dn - 16);
    out[n++] = 0x12;
    n += put_varint(out + n, mlen);
    memcpy(out + n, message, mlen);
    n += mlen;
    if (dn) {
        out[n++] = 0x1a;
        n += put_varint(out + n, dn);
        memcpy(out + n, detail, dn);
        n += dn;
    }
    return n;
}

/* Export*ServiceResponse{1: partial_success{1: rejected_* (int64), 2: error_message}}, or
 * nothing (zero bytes) when everything was accepted. */
static size_t response_encode(uint8_t *out, size_t cap, const struct outcome *o)
{
    if (o->rejected == 0)
        return 0;
    uint8_t ps[600];
    size_t n = 0;
    ps[n++] = 0x08;
    n += put_varint(ps + n, o->rejected);
    size_t mlen = utf8_cut(o->msg, sizeof(ps) - n - 8);
    ps[n++] = 0x12;
    n += put_varint(ps + n, mlen);
    memcpy(ps + n, o->msg, mlen);
    n += mlen;
    if (cap < n + 8)
        return 0;
    size_t m = 0;
    out[m++] = 0x0a;
    m += put_varint(out + m, n);
    memcpy(out + m, ps, n);
    return m + n;
}

/* ---- the export path, shared by every transport --------------------------------------------- */

static void key_hex(char out[32], const uint8_t id[16])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[id[i] >> 4];
        out[2 * i + 1] = hex[id[i] & 15];
    }
}

/* Copies one record's value into the arena and lists it. */
static int rec_add(struct lr_dp_otlp_ctx *x, enum lr_signal sig, const uint8_t *key16,
                   uint64_t n_items, const uint8_t *value, size_t len)
{
    if (x->n_recs == x->recs_cap) {
        size_t cap = x->recs_cap * 2;
        struct lr_dp_rec *r = realloc(x->recs, sizeof(*r) * cap);
        if (!r)
            return -ENOMEM;
        x->recs = r;
        struct lr_cp_spool_rec *sr = realloc(x->spool_recs, sizeof(*sr) * cap);
        if (!sr)
            return -ENOMEM;
        x->spool_recs = sr;
        x->recs_cap = cap;
    }
    if (x->arena_len + len > x->arena_cap) {
        size_t cap = x->arena_cap;
        while (cap < x->arena_len + len)
            cap *= 2;
        uint8_t *a = realloc(x->arena, cap);
        if (!a)
            return -ENOMEM;
        x->arena = a;
        x->arena_cap = cap;
    }
    struct lr_dp_rec *r = &x->recs[x->n_recs++];
    memcpy(x->arena + x->arena_len, value, len);
    r->signal = sig;
    r->n_items = n_items;
    r->off = x->arena_len;
    r->len = len;
    r->key_len = 0;
    if (key16) {
        key_hex(r->key, key16);
        r->key_len = 32;
    }
    x->arena_len += len;
    return 0;
}

static uint64_t items_of(const struct lr_otlp_view *v, enum lr_signal sig)
{
    return sig == LR_SIG_TRACES    ? v->n_spans
           : sig == LR_SIG_METRICS ? v->n_points
                                   : v->n_log_records;
}

static uint64_t count_items(enum lr_signal sig, const uint8_t *p, size_t len)
{
    struct lr_otlp_view v = { 0 };
    lr_dp_otlp_walk(sig, p, len, &v);
    return items_of(&v, sig);
}

/* A tag or length varint of a message the walker already validated. */
static size_t get_varint(const uint8_t *p, size_t len, uint64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < len && i < 10; i++) {
        *v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80))
            return i + 1;
    }
    return 0;
}

/* A record larger than Kafka takes: an Export*ServiceRequest is a list of top-level
 * Resource{Spans,Metrics,Logs} fields, and any run of them is a valid request by itself, so the
 * record is cut between resources into pieces that fit. A single resource larger than the limit
 * cannot be cut further without re-encoding it: its items are rejected (partial success). */
static int rec_add_split(struct lr_dp_otlp_ctx *x, enum lr_signal sig, const uint8_t *key16,
                         const uint8_t *p, size_t len)
{
    size_t group = 0, off = 0;
    while (off < len) {
        uint64_t tag, flen = 0;
        size_t n = get_varint(p + off, len - off, &tag), end;
        if (n == 0)
            return -EINVAL;
        switch (tag & 7) {
        case 0: {
            uint64_t v;
            size_t m = get_varint(p + off + n, len - off - n, &v);
            if (m == 0)
                return -EINVAL;
            end = off + n + m;
            break;
        }
        case 1:
            end = off + n + 8;
            break;
        case 5:
            end = off + n + 4;
            break;
        case 2: {
            size_t m = get_varint(p + off + n, len - off - n, &flen);
            if (m == 0 || flen > len - off - n - m)
                return -EINVAL;
            end = off + n + m + (size_t)flen;
            break;
        }
        default:
            return -EINVAL;
        }
        if (end > len)
            return -EINVAL;
        if (end - off > x->max_record) {
            /* This resource alone is too large: flush what was gathered, reject it. */
            if (off > group) {
                int rc = rec_add(x, sig, key16, count_items(sig, p + group, off - group), p + group,
                                 off - group);
                if (rc < 0)
                    return rc;
            }
            x->rejected_big += count_items(sig, p + off, end - off);
            group = end;
        } else if (end - group > x->max_record) {
            int rc = rec_add(x, sig, key16, count_items(sig, p + group, off - group), p + group,
                             off - group);
            if (rc < 0)
                return rc;
            group = off;
        }
        off = end;
    }
    if (len > group)
        return rec_add(x, sig, key16, count_items(sig, p + group, len - group), p + group,
                       len - group);
    return 0;
}

static int batch_add(struct lr_dp_otlp_ctx *x, enum lr_signal sig, const uint8_t *key16,
                     uint64_t n_items, const uint8_t *value, size_t len)
{
    if (len > x->max_record)
        return rec_add_split(x, sig, key16, value, len);
    return rec_add(x, sig, key16, n_items, value, len);
}

static int emit_trace(void *ctx, const uint8_t trace_id[16], uint64_t n_spans, const uint8_t *value,
                      size_t len)
{
    struct lr_dp_otlp_ctx *x = ctx;
    static const uint8_t zero[16];
    /* The splitter groups spans without a valid (16-byte) trace id under the all-zero id, which
     * W3C Trace Context also declares invalid: those spans are rejected (partial success). */
    if (memcmp(trace_id, zero, 16) == 0) {
        x->rejected += n_spans;
        return 0;
    }
    return batch_add(x, LR_SIG_TRACES, trace_id, n_spans, value, len);
}

static void batch_reset(struct lr_dp_otlp_ctx *x)
{
    x->n_recs = 0;
    x->arena_len = 0;
    /* A huge request grew the arena: give the memory back rather than keep it per worker. */
    if (x->arena_cap > 16u << 20) {
        uint8_t *a = realloc(x->arena, 64 * 1024);
        if (a) {
            x->arena = a;
            x->arena_cap = 64 * 1024;
        }
    }
}

/* Memory mode: every record of the request goes to the ring as an owned message, or none. */
static int queue_memory(struct lr_dp_otlp_ctx *x, const char **why)
{
    /* The ring has one producer (us), so the free room seen here can only grow until we push. */
    size_t room = x->ring->mask + 1 - lr_ring_count(x->ring);
    if (x->n_recs > room) {
        *why = "output queue full (Kafka is behind); retry later";
        return LR_E_OVERLOADED;
    }
    struct lr_msg *ms[64];
    for (size_t i = 0; i < x->n_recs;) {
        size_t k = 0;
        for (; k < 64 && i + k < x->n_recs; k++) {
            const struct lr_dp_rec *r = &x->recs[i + k];
            struct lr_msg *m = lr_msg_new(r->len);
            if (!m) {
                while (k > 0)
                    lr_msg_free(ms[--k]);
                *why = "out of memory; retry later";
                /* Records already pushed stay queued: a duplicate after the client retries is
                 * allowed (at-least-once), a loss is not. */
                return LR_E_OVERLOADED;
            }
            memcpy(m->value, x->arena + r->off, r->len);
            m->signal = r->signal;
            m->worker = x->worker;
            m->n_items = r->n_items;
            m->key_len = r->key_len;
            memcpy(m->key, r->key, r->key_len);
            ms[k] = m;
        }
        for (size_t j = 0; j < k; j++)
            lr_ring_push(x->ring, ms[j]);
        i += k;
    }
    return 0;
}

/* Spool and Kafka modes: every record of the request is appended to the spool in one write, or
 * none; the worker holds the answer until the spool (or Kafka) has it. */
static int queue_spool(struct lr_dp_otlp_ctx *x, const char **why)
{
    if (x->n_recs == 0)
        return 0;
    if (lr_cp_spool_full(x->spool)) {
        lr_stat_add(&x->stats->spool_full, 1);
        *why = "spool at its high watermark (Kafka is behind); retry later";
        return LR_E_OVERLOADED;
    }
    for (size_t i = 0; i < x->n_recs; i++) {
        const struct lr_dp_rec *r = &x->recs[i];
        x->spool_recs[i] = (struct lr_cp_spool_rec){ .signal = r->signal,
                                                     .key_len = r->key_len,
                                                     .key = r->key,
                                                     .n_items = r->n_items,
                                                     .value = x->arena + r->off,
                                                     .len = r->len };
    }
    uint64_t last;
    int rc = lr_cp_spool_append(x->spool, x->spool_recs, x->n_recs, &last);
    if (rc < 0) {
        lr_stat_add(&x->stats->spool_errors, 1);
        *why = rc == -ENOSPC ? "spool disk full; retry later" : "spool write failed; retry later";
        return LR_E_OVERLOADED;
    }
    x->appended_seq = last;
    return 0;
}

/* Whether requests of `sig` need their items recorded: traces for the per-trace split (Kafka
 * keys or tail sampling) and head sampling, logs for head sampling. */
static bool needs_items(const struct lr_dp_otlp_ctx *x, enum lr_signal sig)
{
    if (sig == LR_SIG_TRACES)
        return x->cfg->kafka.partition_traces_by_id || x->sampling || x->tail || x->feat.e;
    return sig == LR_SIG_LOGS && x->sampling_logs;
}

/* Walks the body. Only the per-trace split and head sampling need the items recorded: every
 * other request is walked for validation and counts alone (capacities 0, nothing written).
 * Otherwise the view grows while the request does not fit. */
static int walk(struct lr_dp_otlp_ctx *x, enum lr_signal sig, const uint8_t *p, size_t len)
{
    if (!needs_items(x, sig)) {
        struct lr_otlp_view counts = { 0 };
        int rc = lr_dp_otlp_walk(sig, p, len, &counts);
        x->view.n_spans = counts.n_spans;
        x->view.n_points = counts.n_points;
        x->view.n_log_records = counts.n_log_records;
        x->view.err_off = counts.err_off;
        x->view.err_reason = counts.err_reason;
        return rc;
    }
    for (;;) {
        int rc = lr_dp_otlp_walk(sig, p, len, &x->view);
        if (rc < 0 || !x->view.truncated)
            return rc;
        uint64_t need = sig == LR_SIG_TRACES ? x->view.n_spans : x->view.n_log_records;
        uint64_t items = (uint64_t)x->view.items_cap * 2;
        while (items < need)
            items *= 2;
        /* Scopes and resources may be what overflowed: give each as many slots as items. */
        if (items > VIEW_MAX_ITEMS ||
            view_alloc(&x->view, (uint32_t)items, (uint32_t)items, (uint32_t)items) < 0)
            return -ENOMEM;
    }
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

#define STATUS_CODE_ERROR 2 /* Status.StatusCode STATUS_CODE_ERROR */

static uint64_t id_hash(const uint8_t id[16])
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    /* Trace ids are random; the mix guards against crafted low-entropy ones. */
    a ^= b * 0x9e3779b97f4a7c15ull;
    a ^= a >> 29;
    a *= 0xbf58476d1ce4e5b9ull;
    return a ^ (a >> 32);
}

/* Spans kept whatever the sampler decides, with the rest of their trace in this request. Seeds:
 * FORCE_ADAPTIVE, while the adaptive rate is lowered, for spans with status ERROR or lasting at
 * least processors.adaptive_sampling.latency_threshold_ms (0: errors only); FORCE_ANOMALY for
 * spans of an open anomaly series whose trace falls within anomaly.keep_percent (decided on the
 * trace id's randomness, so every span of a trace, in any request and on any worker, agrees).
 * Traces seeded FORCE_ANOMALY are remembered in the workers' shared boost table, and while it
 * holds any (`recall`), a span whose trace it remembers is seeded FORCE_ANOMALY too: the trace's
 * spans arriving in later requests, from other services, on any worker, are kept.
 * Then every span sharing a trace id with a seeded one gets that trace's marks. The seeded spans'
 * trace ids go into an open-addressing table (span indices, UINT32_MAX empty) of at least twice
 * their count, so the spreading stays O(n) when many spans are seeded. Returns 0 or -ENOMEM. */
#define FORCE_ADAPTIVE 1u
#define FORCE_ANOMALY 2u
static int force_mark(struct lr_dp_otlp_ctx *x, uint32_t n, bool adaptive, bool anomaly,
                      bool recall, uint64_t now_s)
{
    uint64_t lim = (uint64_t)x->cfg->adaptive.latency_threshold_ms * 1000000ull;
    const struct lr_otlp_item *items = x->view.items;
    uint32_t k = 0, i;

    for (i = 0; i < n; i++) {
        const struct lr_otlp_item *it = &items[i];
        uint8_t f = 0;
        if (adaptive) {
            bool slow = lim && it->end_ns >= it->start_ns && it->end_ns - it->start_ns >= lim;
            if (it->status_code == STATUS_CODE_ERROR || slow)
                f |= FORCE_ADAPTIVE;
        }
        if (anomaly && lr_anom_snap_has(x->snap, x->span_series[i]) &&
            lr_dp_sample_trace_randomness(it->trace_id) < x->anom_keep_below) {
            f |= FORCE_ANOMALY;
            if (x->anom->boost) {
                lr_anom_boost_put(x->anom, id_hash(it->trace_id), now_s);
                recall = true; /* this request's other spans of it are spread to below */
            }
        } else if (recall && lr_anom_boost_has(x->anom, id_hash(it->trace_id), now_s)) {
            f |= FORCE_ANOMALY;
        }
        x->force[i] = f;
        k += f != 0;
    }
    if (k == 0 || k == n)
        return 0;
    size_t cap = 16;
    while (cap < (size_t)k * 2)
        cap <<= 1;
    if (grow((void **)&x->force_tab, &x->force_tab_cap, cap, sizeof(*x->force_tab)) < 0)
        return -ENOMEM;
    uint32_t *tab = x->force_tab;
    memset(tab, 0xff, cap * sizeof(*tab));
    /* The first seeded span of each trace holds the marks of all its seeded spans. */
    for (i = 0; i < n; i++) {
        if (!x->force[i])
            continue;
        size_t h = (size_t)id_hash(items[i].trace_id) & (cap - 1);
        while (tab[h] != UINT32_MAX && memcmp(items[tab[h]].trace_id, items[i].trace_id, 16) != 0)
            h = (h + 1) & (cap - 1);
        if (tab[h] == UINT32_MAX)
            tab[h] = i;
        else
            x->force[tab[h]] |= x->force[i];
    }
    for (i = 0; i < n; i++) {
        size_t h = (size_t)id_hash(items[i].trace_id) & (cap - 1);
        while (tab[h] != UINT32_MAX && memcmp(items[tab[h]].trace_id, items[i].trace_id, 16) != 0)
            h = (h + 1) & (cap - 1);
        if (tab[h] != UINT32_MAX)
            x->force[i] = x->force[tab[h]];
    }
    return 0;
}

/* ---- anomaly features ------------------------------------------------------------------------ */

int lr_dp_otlp_anom_init(struct lr_dp_otlp_ctx *x, struct lr_ring *ring, struct lr_anom_rt *rt)
{
    const struct lr_config *c = x->cfg;
    if (!ring || !rt || c->anomaly.window_ms == 0)
        return -EINVAL;
    if (lr_gpu_feat_table_init(&x->feat, c->anomaly.max_series) < 0)
        return -ENOMEM;
    x->feat_ring = ring;
    x->anom = rt;
    x->window_ns = (uint64_t)c->anomaly.window_ms * 1000000ull;
    x->feat_window = lr_mono_ns() / x->window_ns;
    /* keep_percent of the 2^56 randomness values; 100 % keeps all (2^56 is above every one). */
    x->anom_keep_below = (uint64_t)(c->anomaly.keep_percent / 100.0 * 72057594037927936.0);
    return 0;
}

/* Hands the finished window to the batcher once the clock is past it. One message per window
 * that had the worker's attention, empty or not: the batcher scores a window as soon as every
 * worker has handed it over. */
static void anom_roll(struct lr_dp_otlp_ctx *x, uint64_t now_ns)
{
    uint64_t w = now_ns / x->window_ns;
    if (w == x->feat_window)
        return;
    uint64_t overflow = x->feat.overflow;
    struct lr_feat_window *m = lr_gpu_feat_take(&x->feat, x->worker, x->feat_window);
    lr_stat_add(&x->stats->anom_overflow, overflow);
    if (m && lr_ring_push(x->feat_ring, m)) {
        lr_stat_add(&x->stats->anom_windows, 1);
    } else {
        free(m);
        lr_stat_add(&x->stats->anom_windows_lost, 1);
    }
    x->feat_window = w;
}

/* Counts every span of the (walked) request into this window's series table, and notes each
 * span's series for the sampling boost. The service name is hashed once per resource. */
static int features_add(struct lr_dp_otlp_ctx *x)
{
    anom_roll(x, lr_mono_ns());
    uint32_t n = x->view.n_items, last_r = UINT32_MAX;
    if (grow((void **)&x->span_series, &x->span_series_cap, n, sizeof(*x->span_series)) < 0)
        return -ENOMEM;
    struct lr_slice service = { 0 };
    uint64_t h0 = 0, counted = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct lr_otlp_item *it = &x->view.items[i];
        uint32_t r = x->view.scopes[it->scope].resource;
        if (r != last_r) {
            service = x->view.resources[r].service_name;
            h0 = lr_feat_hash_begin(service);
            last_r = r;
        }
        uint64_t h = lr_feat_hash_end(h0, it->name, it->kind);
        x->span_series[i] = h;
        uint64_t dur = it->end_ns > it->start_ns ? it->end_ns - it->start_ns : 0;
        counted += lr_gpu_feat_add(&x->feat, h, service, it->name, it->kind, dur,
                                   it->status_code == STATUS_CODE_ERROR) == 0;
    }
    lr_stat_add(&x->stats->anom_spans, counted);
    return 0;
}

/* The sampler for the items of resource `r`: its service's override when the resource's
 * service.name is listed in processors.probabilistic_sampler.services, else the signal's `def`.
 * A linear scan: override lists are short (a handful of services), and it runs once per
 * resource, not per item. */
static const struct lr_dp_sampler *sampler_for(const struct lr_dp_otlp_ctx *x,
                                               const struct lr_dp_sampler *def, uint32_t r)
{
    struct lr_slice name = x->view.resources[r].service_name;
    if (name.len == 0)
        return def;
    for (size_t i = 0; i < x->n_svc; i++)
        if (x->svc[i].name.len == name.len && memcmp(x->svc[i].name.p, name.p, name.len) == 0)
            return &x->svc[i].s;
    return def;
}

/* Head sampling: decides every span (traces) or log record (logs) as the Collector's
 * probabilistic sampler does, with the service's override where one is configured, and, when
 * some item is dropped or a span has its tracestate rewritten, splices the request down to the
 * kept items (x->spliced, walked again into x->view). *p and *len then point at the spliced
 * request. (sampling.priority is not read: spans are decided on their trace id and tracestate.)
 *
 * Log records are decided on their trace id alone; a record without one (absent, or all zero,
 * which OTLP treats the same) is kept. Kept records are forwarded byte for byte: unlike the
 * Collector, no sampling.randomness / sampling.threshold attribute is written (docs/sampling.md).
 *
 * Spans: while the adaptive rate is lowered, the always-keep rule (force_mark) keeps spans the
 * sampler dropped; their tracestate stays as it came, since they were not sampled at the
 * threshold the sampler would write. */
static int sample_items(struct lr_dp_otlp_ctx *x, enum lr_signal sig, const uint8_t **p,
                        size_t *len)
{
    static const uint8_t zero_id[16];
    bool traces = sig == LR_SIG_TRACES;
    bool anomaly = traces && x->snap && x->snap->n > 0 && x->span_series_cap >= x->view.n_items;
    uint64_t now_s = 0;
    bool recall = false;
    if (traces && x->anom && x->anom->boost) {
        now_s = lr_mono_ns() / 1000000000ull;
        recall = lr_anom_boost_active(x->anom, now_s);
    }
    bool force = traces && (x->lowered || anomaly || recall);
    const struct lr_dp_sampler *def = traces ? &x->sampler : &x->sampler_logs, *s = def;
    uint32_t n = x->view.n_items, last_r = UINT32_MAX;
    size_t cap = x->sample_cap;
    if (grow((void **)&x->keep, &cap, n, sizeof(*x->keep)) < 0)
        return -ENOMEM;
    cap = x->sample_cap;
    if (grow((void **)&x->force, &cap, n, sizeof(*x->force)) < 0)
        return -ENOMEM;
    cap = x->sample_cap;
    if (grow((void **)&x->ts, &cap, n, sizeof(*x->ts)) < 0)
        return -ENOMEM;
    cap = x->sample_cap;
    if (grow((void **)&x->ts_off, &cap, n, sizeof(*x->ts_off)) < 0)
        return -ENOMEM;
    x->sample_cap = cap;
    if (force && force_mark(x, n, x->lowered, anomaly, recall, now_s) < 0)
        return -ENOMEM;
    x->ts_len = 0;
    uint64_t kept = 0, forced = 0, anom_forced = 0;
    bool rewrite = false;
    char out[LR_DP_SAMPLE_TS_MAX_OUT];
    for (uint32_t i = 0; i < n; i++) {
        const struct lr_otlp_item *it = &x->view.items[i];
        uint32_t r = x->view.scopes[it->scope].resource;
        if (r != last_r) {
            s = sampler_for(x, def, r);
            last_r = r;
        }
        struct lr_dp_sample_result res;
        x->ts_off[i] = SIZE_MAX;
        if (!traces) {
            bool keep = !it->has_trace_id || memcmp(it->trace_id, zero_id, 16) == 0;
            if (!keep) {
                lr_dp_sample_decide(s, it->trace_id, "", 0, LR_DP_SAMPLE_PRIO_DEFER, out,
                                    sizeof(out), &res);
                keep = res.keep;
            }
            x->keep[i] = keep;
            kept += keep;
            continue;
        }
        lr_dp_sample_decide(s, it->trace_id, (const char *)it->trace_state.p, it->trace_state.len,
                            LR_DP_SAMPLE_PRIO_DEFER, out, sizeof(out), &res);
        if (!res.keep && force && x->force[i]) {
            x->keep[i] = 1;
            kept++;
            forced++;
            anom_forced += (x->force[i] & FORCE_ANOMALY) != 0;
            continue;
        }
        x->keep[i] = res.keep;
        kept += res.keep;
        if (!res.keep || !res.ts_rewritten)
            continue;
        if (res.ts_len == it->trace_state.len && memcmp(out, it->trace_state.p, res.ts_len) == 0)
            continue;
        if (grow((void **)&x->ts_buf, &x->ts_cap, x->ts_len + res.ts_len + 1, 1) < 0)
            return -ENOMEM;
        memcpy(x->ts_buf + x->ts_len, out, res.ts_len);
        x->ts_off[i] = x->ts_len;
        x->ts[i].len = res.ts_len;
        x->ts_len += res.ts_len;
        rewrite = true;
    }
    if (traces) {
        lr_stat_add(&x->stats->sampled[1], kept - forced);
        lr_stat_add(&x->stats->sampled[0], n - kept + forced);
        if (forced > anom_forced)
            lr_stat_add(&x->stats->force_kept, forced - anom_forced);
        if (anom_forced)
            lr_stat_add(&x->stats->anom_kept, anom_forced);
    } else {
        lr_stat_add(&x->stats->logs_sampled[1], kept);
        lr_stat_add(&x->stats->logs_sampled[0], n - kept);
    }
    if (kept == n && !rewrite)
        return 0;
    /* The tracestates are in place now that ts_buf no longer moves. An empty rewritten one
     * needs a non-NULL pointer too (it removes the field). */
    for (uint32_t i = 0; rewrite && i < n; i++)
        x->ts[i].p = x->ts_off[i] == SIZE_MAX ? NULL : (const uint8_t *)x->ts_buf + x->ts_off[i];
    size_t bound = lr_dp_otlp_splice_bound(*len, &x->view, rewrite ? x->ts : NULL);
    size_t scap = x->spliced_cap;
    if (grow((void **)&x->spliced, &scap, bound ? bound : 1, 1) < 0)
        return -ENOMEM;
    x->spliced_cap = scap;
    ssize_t m = lr_dp_otlp_splice_items(*p, *len, &x->view, x->keep, rewrite ? x->ts : NULL,
                                        x->spliced, x->spliced_cap);
    if (m < 0)
        return (int)m;
    *p = x->spliced;
    *len = (size_t)m;
    return walk(x, sig, *p, *len);
}

/* ---- tail sampling ---------------------------------------------------------------------------
 *
 * A request's traces are split into one piece per trace (the same splice as the per-trace Kafka
 * records); each piece goes to the worker owning its trace id: into this worker's table, or as an
 * owned message over the ring to the owner. Pieces wait there for the decision, in memory: their
 * request was answered when they were routed (the Collector's tail_sampling processor answers
 * the same way), and what is kept then goes through the spool like any other record. */

#define PEND_SOFT 1024  /* kept traces waiting for the output above which routing pauses */
#define POLL_BATCH 4096 /* pieces taken from one ring per poll */

static struct lr_tail_policies *tail_policies(const struct lr_dp_otlp_ctx *x)
{
    if (x->set)
        return x->set->tail;
    return x->cfg->tail.enabled ? x->cfg->tail.policies : NULL;
}

int lr_dp_otlp_tail_init(struct lr_dp_otlp_ctx *x, uint32_t n_workers, struct lr_ring **out,
                         struct lr_ring **in, const int *wake)
{
    if (!x->cfg->tail.enabled || n_workers == 0)
        return -EINVAL;
    uint32_t share = x->cfg->tail.num_traces / n_workers;
    struct lr_dp_tail_cfg tc = {
        .capacity = share ? share : 1,
        .wait_ns = (uint64_t)x->cfg->tail.decision_wait_ms * 1000000ull,
        .sampled_cache = x->cfg->tail.sampled_cache / n_workers,
        .non_sampled_cache = x->cfg->tail.non_sampled_cache / n_workers,
    };
    x->tail = lr_dp_tail_new(&tc);
    x->route_need = calloc(n_workers, sizeof(*x->route_need));
    if (!x->tail || !x->route_need)
        return -ENOMEM;
    x->n_workers = n_workers;
    x->route_out = out;
    x->route_in = in;
    x->route_wake = wake;
    return 0;
}

static int unhex(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* Queues an owned message for the output; on allocation failure of the list it is lost and
 * counted (only when memory is exhausted). */
static void pend_push(struct lr_dp_otlp_ctx *x, struct lr_msg *m)
{
    if (x->n_pend == x->pend_cap) {
        size_t cap = x->pend_cap ? x->pend_cap * 2 : 64;
        struct lr_msg **a = realloc(x->pend, cap * sizeof(*a));
        if (!a) {
            lr_stat_add(&x->stats->tail_spans_dropped, m->n_items);
            lr_msg_free(m);
            return;
        }
        x->pend = a;
        x->pend_cap = cap;
    }
    x->pend[x->n_pend++] = m;
}

/* A record of a kept trace: keyed by its trace id when traces are partitioned by id. */
static void pend_record(struct lr_dp_otlp_ctx *x, const uint8_t trace_id[16], const uint8_t *p,
                        size_t len, uint64_t n_items)
{
    struct lr_msg *m = lr_msg_new(len);
    if (!m) {
        lr_stat_add(&x->stats->tail_spans_dropped, n_items);
        return;
    }
    memcpy(m->value, p, len);
    m->signal = LR_SIG_TRACES;
    m->worker = x->worker;
    m->n_items = n_items;
    if (x->cfg->kafka.partition_traces_by_id) {
        key_hex(m->key, trace_id);
        m->key_len = 32;
    }
    pend_push(x, m);
}

/* lr_dp_tail_emit_fn: a trace decided keep. A trace larger than a Kafka record is cut between
 * its top-level resource_spans fields (each piece passed the per-resource limit when it was
 * received), without touching the request batch, which may be in use (an early decision happens
 * while a request is being routed). */
static void tail_emit(void *ctx, const uint8_t trace_id[16], const uint8_t *body, size_t len,
                      uint32_t n_spans)
{
    struct lr_dp_otlp_ctx *x = ctx;
    if (len <= x->max_record) {
        pend_record(x, trace_id, body, len, n_spans);
        return;
    }
    size_t group = 0, off = 0;
    while (off < len) {
        uint64_t tag, flen;
        size_t n = get_varint(body + off, len - off, &tag), m = 0;
        if (n)
            m = get_varint(body + off + n, len - off - n, &flen);
        if (n == 0 || m == 0 || (tag & 7) != 2 || flen > len - off - n - m)
            break; /* cannot happen for pieces the walker validated: keep the rest whole */
        size_t end = off + n + m + (size_t)flen;
        if (end - group > x->max_record && off > group) {
            pend_record(x, trace_id, body + group, off - group,
                        count_items(LR_SIG_TRACES, body + group, off - group));
            group = off;
        }
        off = end;
    }
    if (len > group)
        pend_record(x, trace_id, body + group, len - group,
                    count_items(LR_SIG_TRACES, body + group, len - group));
}

/* Moves what waits for the output into it: one spool write, or ring pushes in memory mode. */
static void pend_flush(struct lr_dp_otlp_ctx *x)
{
    if (x->n_pend == 0)
        return;
    size_t n = 0;
    if (x->spool) {
        if (lr_cp_spool_full(x->spool))
            return;
        size_t k = x->n_pend < x->recs_cap ? x->n_pend : x->recs_cap;
        for (size_t i = 0; i < k; i++) {
            const struct lr_msg *m = x->pend[i];
            x->spool_recs[i] = (struct lr_cp_spool_rec){ .signal = m->signal,
                                                         .key_len = m->key_len,
                                                         .key = m->key,
                                                         .n_items = m->n_items,
                                                         .value = m->value,
                                                         .len = m->len };
        }
        uint64_t last;
        if (lr_cp_spool_append(x->spool, x->spool_recs, k, &last) < 0) {
            lr_stat_add(&x->stats->spool_errors, 1);
            return;
        }
        for (size_t i = 0; i < k; i++) {
            lr_stat_add(&x->stats->records[LR_SIG_TRACES], 1);
            lr_msg_free(x->pend[i]);
        }
        n = k;
    } else {
        for (; n < x->n_pend && lr_ring_push(x->ring, x->pend[n]); n++)
            lr_stat_add(&x->stats->records[LR_SIG_TRACES], 1);
    }
    memmove(x->pend, x->pend + n, (x->n_pend - n) * sizeof(*x->pend));
    x->n_pend -= n;
}

static void tail_stats(struct lr_dp_otlp_ctx *x)
{
    const struct lr_dp_tail_counts *c = lr_dp_tail_counts(x->tail);
    struct lr_worker_stats *s = x->stats;
    atomic_store_explicit(&s->tail_new_traces, c->new_traces, memory_order_relaxed);
    atomic_store_explicit(&s->tail_sampled, c->sampled, memory_order_relaxed);
    atomic_store_explicit(&s->tail_not_sampled, c->not_sampled, memory_order_relaxed);
    atomic_store_explicit(&s->tail_early, c->early, memory_order_relaxed);
    atomic_store_explicit(&s->tail_late_kept, c->late_kept, memory_order_relaxed);
    atomic_store_explicit(&s->tail_late_dropped, c->late_dropped, memory_order_relaxed);
    atomic_store_explicit(&s->tail_held, lr_dp_tail_held(x->tail), memory_order_relaxed);
    atomic_store_explicit(&s->tail_held_bytes, lr_dp_tail_held_bytes(x->tail),
                          memory_order_relaxed);
}

/* Takes one piece into this worker's table; a piece of a trace already decided keep goes to the
 * output at once. */
static int tail_take(struct lr_dp_otlp_ctx *x, const uint8_t id[16], const uint8_t *p, size_t len,
                     uint64_t n_spans, uint64_t now_ns)
{
    int fate = lr_dp_tail_add(x->tail, id, p, len, (uint32_t)n_spans, now_ns, tail_policies(x),
                              tail_emit, x);
    if (fate == LR_DP_TAIL_KEEP)
        tail_emit(x, id, p, len, (uint32_t)n_spans);
    return fate < 0 ? fate : 0;
}

void lr_dp_otlp_tail_poll(struct lr_dp_otlp_ctx *x, uint64_t now_ns, bool all)
{
    /* Idle workers load new run-time settings too, so that the control thread can free the
     * ones they held, and tail decisions use the policies in force. */
    sampling_refresh(x);
    if (x->feat.e) {
        anom_roll(x, now_ns);
        /* Between requests nothing is held: let the batcher free older snapshots. */
        lr_anom_rt_load(x->anom, x->worker);
        x->snap = NULL;
    }
    if (!x->tail)
        return;
    pend_flush(x);
    for (uint32_t w = 0; w < x->n_workers; w++) {
        struct lr_ring *r = x->route_in[w];
        struct lr_msg *m;
        /* While the output is behind, pieces stay in the rings: they fill, and the workers
         * that route to us refuse requests (retryable) instead of piling up memory here. */
        for (int k = 0;
             r && k < POLL_BATCH && (all || x->n_pend < PEND_SOFT) && (m = lr_ring_pop(r)) != NULL;
             k++) {
            if (tail_take(x, (const uint8_t *)m->key, m->value, m->len, m->n_items, now_ns) < 0) {
                /* Out of memory for the table: keep the piece rather than lose it. */
                uint8_t id[16];
                memcpy(id, m->key, 16);
                key_hex(m->key, id);
                m->key_len = x->cfg->kafka.partition_traces_by_id ? 32 : 0;
                pend_push(x, m);
                continue;
            }
            lr_msg_free(m);
        }
    }
    if (all || now_ns >= x->tail_next_ns) {
        lr_dp_tail_expire(x->tail, now_ns, all, tail_policies(x), tail_emit, x);
        x->tail_next_ns = now_ns + 10 * 1000000ull;
    }
    pend_flush(x);
    tail_stats(x);
}

bool lr_dp_otlp_tail_idle(const struct lr_dp_otlp_ctx *x)
{
    if (!x->tail)
        return true;
    if (lr_dp_tail_held(x->tail) || x->n_pend)
        return false;
    for (uint32_t w = 0; w < x->n_workers; w++)
        if (x->route_in[w] && lr_ring_count(x->route_in[w]))
            return false;
    return true;
}

/* Routes the request's per-trace records (x->recs, keyed by trace id) to their owners: all or
 * none go, as the room in every ring is checked first. Records of traces this worker owns that
 * were already decided keep stay in x->recs for the normal output path; the others leave it. */
static int tail_route(struct lr_dp_otlp_ctx *x, uint64_t now_ns, const char **why)
{
    uint8_t id[16];
    memset(x->route_need, 0, x->n_workers * sizeof(*x->route_need));
    for (size_t i = 0; i < x->n_recs; i++) {
        for (int b = 0; b < 16; b++)
            id[b] = (uint8_t)(unhex(x->recs[i].key[2 * b]) << 4 | unhex(x->recs[i].key[2 * b + 1]));
        x->route_need[lr_dp_tail_owner(id, x->n_workers)]++;
    }
    for (uint32_t w = 0; w < x->n_workers; w++) {
        struct lr_ring *r = x->route_out[w];
        if (r && x->route_need[w] > r->mask + 1 - lr_ring_count(r)) {
            lr_stat_add(&x->stats->tail_route_full, 1);
            *why = "tail sampling: the worker owning some of these traces is behind; retry later";
            return LR_E_OVERLOADED;
        }
    }
    if (x->n_pend >= PEND_SOFT) {
        *why = "tail sampling: kept traces wait for the output (Kafka is behind); retry later";
        return LR_E_OVERLOADED;
    }
    size_t kept = 0;
    for (size_t i = 0; i < x->n_recs; i++) {
        struct lr_dp_rec *r = &x->recs[i];
        for (int b = 0; b < 16; b++)
            id[b] = (uint8_t)(unhex(r->key[2 * b]) << 4 | unhex(r->key[2 * b + 1]));
        uint32_t owner = lr_dp_tail_owner(id, x->n_workers);
        const uint8_t *v = x->arena + r->off;
        if (owner != x->worker) {
            struct lr_msg *m = lr_msg_new(r->len);
            if (!m) {
                *why = "out of memory; retry later";
                return LR_E_OVERLOADED;
            }
            memcpy(m->value, v, r->len);
            m->signal = LR_SIG_TRACES;
            m->worker = x->worker;
            m->n_items = r->n_items;
            memcpy(m->key, id, 16);
            m->key_len = 16;
            lr_ring_push(x->route_out[owner], m); /* room checked above; we are its producer */
            lr_stat_add(&x->stats->tail_routed, 1);
            continue;
        }
        int fate = lr_dp_tail_add(x->tail, id, v, r->len, (uint32_t)r->n_items, now_ns,
                                  tail_policies(x), tail_emit, x);
        if (fate < 0) {
            *why = "out of memory; retry later";
            return LR_E_OVERLOADED;
        }
        if (fate == LR_DP_TAIL_KEEP) {
            if (!x->cfg->kafka.partition_traces_by_id)
                r->key_len = 0;
            x->recs[kept++] = *r;
        }
    }
    x->n_recs = kept;
    /* The owners may sleep in epoll_wait: one wakeup per owner per request. */
    for (uint32_t w = 0; w < x->n_workers; w++) {
        uint64_t one = 1;
        if (w != x->worker && x->route_need[w] && write(x->route_wake[w], &one, 8) < 0) {
            /* EAGAIN: the counter is full, so a wakeup is pending anyway */
        }
    }
    return 0;
}

/* Validates, splits and queues one Export*ServiceRequest (protobuf). */
static void export_proto(struct lr_dp_otlp_ctx *x, enum lr_transport tr, enum lr_signal sig,
                         const uint8_t *p, size_t len, struct outcome *o)
{
    o->err = 0;
    o->items = o->rejected = 0;
    o->msg[0] = 0;
    x->rejected = x->rejected_big = 0;
    sampling_refresh(x);
    int rc = walk(x, sig, p, len);
    if (rc == LR_E_MALFORMED) {
        snprintf(o->msg, sizeof(o->msg), "%s is malformed at byte %u: %s", request_names[sig],
                 x->view.err_off, x->view.err_reason ? x->view.err_reason : "invalid");
        o->err = LR_E_MALFORMED;
        lr_stat_add(&x->stats->bad_requests, 1);
        return;
    }
    o->items = items_of(&x->view, sig);
    x->snap = NULL;
    if (rc == 0 && sig == LR_SIG_TRACES && x->feat.e) {
        /* Features before sampling: they describe every span that arrived. Without memory for
         * the per-span series the request is still served, without the boost. */
        if (features_add(x) == 0)
            x->snap = lr_anom_rt_load(x->anom, x->worker);
    }
    bool sampled = false;
    if (rc == 0 &&
        ((sig == LR_SIG_TRACES && x->sampling) || (sig == LR_SIG_LOGS && x->sampling_logs))) {
        rc = sample_items(x, sig, &p, &len);
        sampled = true;
    }
    const char *why = "out of memory; retry later";
    if (rc == 0 && sig == LR_SIG_TRACES && x->tail && tail_policies(x)) {
        rc = lr_dp_otlp_split_traces(p, len, &x->view, emit_trace, x);
        if (rc == 0)
            rc = tail_route(x, lr_mono_ns(), &why);
    } else if (rc == 0) {
        uint64_t fwd = items_of(&x->view, sig);
        if (sig == LR_SIG_TRACES && x->cfg->kafka.partition_traces_by_id)
            rc = lr_dp_otlp_split_traces(p, len, &x->view, emit_trace, x);
        else if (sampled ? fwd > 0 : (len > 0 || o->items > 0))
            rc = batch_add(x, sig, NULL, fwd, p, len);
    }
    if (rc >= 0)
        rc = x->spool && x->ack != LR_ACK_MEMORY ? queue_spool(x, &why) : queue_memory(x, &why);
    if (rc < 0) {
        batch_reset(x);
        lr_stat_add(&x->stats->refused[tr][sig], o->items);
        lr_stat_add(&x->stats->overloaded, 1);
        snprintf(o->msg, sizeof(o->msg), "%s", why);
        o->err = LR_E_OVERLOADED;
        return;
    }
    lr_stat_add(&x->stats->records[sig], x->n_recs);
    batch_reset(x);
    o->rejected = x->rejected + x->rejected_big;
    lr_stat_add(&x->stats->requests[tr][sig], 1);
    lr_stat_add(&x->stats->accepted[tr][sig], o->items - o->rejected);
    if (o->rejected) {
        lr_stat_add(&x->stats->refused[tr][sig], o->rejected);
        if (x->rejected_big && x->rejected)
            snprintf(o->msg, sizeof(o->msg),
                     "%llu of %llu %s rejected: %llu without a valid trace_id (16 bytes, not all "
                     "zero), %llu in a resource larger than the Kafka record limit (%llu bytes)",
                     (unsigned long long)o->rejected, (unsigned long long)o->items, item_names[sig],
                     (unsigned long long)x->rejected, (unsigned long long)x->rejected_big,
                     (unsigned long long)x->max_record);
        else if (x->rejected_big)
            snprintf(o->msg, sizeof(o->msg),
                     "%llu of %llu %s rejected: their resource is larger than the Kafka record "
                     "limit (%llu bytes; exporters.kafka.max_message_bytes)",
                     (unsigned long long)o->rejected, (unsigned long long)o->items, item_names[sig],
                     (unsigned long long)x->max_record);
        else
            snprintf(o->msg, sizeof(o->msg),
                     "%llu of %llu %s rejected: trace_id must be 16 bytes and not all zero",
                     (unsigned long long)o->rejected, (unsigned long long)o->items,
                     item_names[sig]);
    }
}

/* ---- OTLP/HTTP ------------------------------------------------------------------------------- */

/* Fills `resp` with an error answer: a google.rpc.Status in the request's content type
 * (protobuf or JSON), plain text for anything else (curl, browsers). */
static void answer_error(struct lr_dp_otlp_ctx *x, const struct lr_http_req *req, int err,
                         const char *message, struct lr_http_resp *resp)
{
    const struct lr_err_map *m = lr_err_lookup(err);
    resp->status = m->http_status;
    if (err == LR_E_OVERLOADED)
        resp->status = (int)x->cfg->http.overload_status; /* 503 or 429, both retryable */
    resp->extra_headers = NULL;
    if (err == LR_E_METHOD)
        resp->extra_headers = "Allow: POST\r\n";
    else if (m->retryable)
        resp->extra_headers = "Retry-After: 1\r\n";
    enum body_kind k = req ? kind_of(req->content_type) : BODY_OTHER;
    if (k == BODY_PROTOBUF) {
        size_t n = lr_dp_rpc_status_encode(x->resp, sizeof(x->resp), m->grpc_status, message, 0);
        resp->content_type = "application/x-protobuf";
        resp->body = lr_slice_make(x->resp, n);
    } else if (k == BODY_JSON) {
        size_t n = lr_dp_rpc_status_json((char *)x->resp, sizeof(x->resp), m->grpc_status, message);
        resp->content_type = "application/json";
        resp->body = lr_slice_make(x->resp, n);
    } else {
        int n = snprintf((char *)x->resp, sizeof(x->resp), "%s\n", message);
        if (n < 0)
            n = 0;
        if ((size_t)n >= sizeof(x->resp))
            n = sizeof(x->resp) - 1;
        resp->content_type = "text/plain; charset=utf-8";
        resp->body = lr_slice_make(x->resp, (size_t)n);
    }
}

static int on_headers(void *ctx, const struct lr_http_req *req, const char **reason)
{
    (void)ctx;
    int sig = route(req->path, paths);
    if (sig < 0) {
        *reason = "unknown path; OTLP/HTTP paths are /v1/traces, /v1/metrics and /v1/logs";
        return LR_E_NOT_FOUND;
    }
    if (!lr_slice_eq(req->method, "POST")) {
        *reason = "method not allowed; OTLP/HTTP accepts POST";
        return LR_E_METHOD;
    }
    if (kind_of(req->content_type) == BODY_OTHER) {
        *reason = "unsupported Content-Type; accepted: application/x-protobuf, application/json";
        return LR_E_MEDIA_TYPE;
    }
    return 0;
}

static void on_error(void *ctx, const struct lr_http_req *req, int err, const char *reason,
                     struct lr_http_resp *resp)
{
    struct lr_dp_otlp_ctx *x = ctx;
    lr_stat_add(&x->stats->bad_requests, 1);
    char msg[512];
    if (err == LR_E_MEDIA_TYPE && req && req->content_type.len > 0 &&
        kind_of(req->content_type) == BODY_OTHER)
        snprintf(msg, sizeof(msg), "unsupported Content-Type \"%.*s\"; accepted: %s",
                 (int)(req->content_type.len > 100 ? 100 : req->content_type.len),
                 (const char *)req->content_type.p, "application/x-protobuf, application/json");
    else if (err == LR_E_MEDIA_TYPE && req && req->content_type.len == 0 &&
             req->content_encoding.len == 0)
        snprintf(msg, sizeof(msg),
                 "missing Content-Type; accepted: application/x-protobuf, application/json");
    else
        snprintf(msg, sizeof(msg), "%s", reason ? reason : lr_err_name(err));
    answer_error(x, req, err, msg, resp);
}

static void on_request(void *ctx, const struct lr_http_req *req, struct lr_http_resp *resp)
{
    struct lr_dp_otlp_ctx *x = ctx;
    enum lr_signal sig = (enum lr_signal)route(req->path, paths);
    enum body_kind k = kind_of(req->content_type);
    struct outcome o;
    const uint8_t *p = req->body.p;
    size_t len = req->body.len;

    if (k == BODY_JSON) {
        char why[400];
        int rc = lr_dp_otlp_json_to_proto(sig, p, len, &x->json, why, sizeof(why));
        if (rc < 0) {
            snprintf(o.msg, sizeof(o.msg), "%s (JSON) is malformed: %s", request_names[sig],
                     rc == LR_E_MALFORMED ? why : "out of memory");
            lr_stat_add(&x->stats->bad_requests, 1);
            answer_error(x, req, rc == LR_E_MALFORMED ? LR_E_MALFORMED : LR_E_OVERLOADED, o.msg,
                         resp);
            return;
        }
        p = x->json.p;
        len = x->json.len;
    }
    export_proto(x, LR_TR_HTTP, sig, p, len, &o);
    if (o.err) {
        answer_error(x, req, o.err, o.msg, resp);
        return;
    }
    resp->status = 200;
    resp->extra_headers = NULL;
    if (k == BODY_JSON) {
        size_t n = lr_dp_otlp_json_response((char *)x->resp, sizeof(x->resp), sig,
                                            (int64_t)o.rejected, o.rejected ? o.msg : NULL);
        resp->content_type = "application/json";
        resp->body = lr_slice_make(x->resp, n);
    } else {
        resp->content_type = "application/x-protobuf";
        resp->body = lr_slice_make(x->resp, response_encode(x->resp, sizeof(x->resp), &o));
    }
}

struct lr_http_handler lr_dp_otlp_handler(struct lr_dp_otlp_ctx *x)
{
    return (struct lr_http_handler){
        .on_headers = on_headers, .on_request = on_request, .on_error = on_error, .ctx = x
    };
}

/* ---- OTLP/gRPC ------------------------------------------------------------------------------- */

static int grpc_on_headers(void *ctx, const struct lr_grpc_req *req, const char **reason)
{
    (void)ctx;
    if (route(req->path, grpc_paths) < 0) {
        *reason = "unknown service or method; OTLP/gRPC serves "
                  "opentelemetry.proto.collector.{trace,metrics,logs}.v1.*Service/Export";
        return LR_E_NOT_FOUND;
    }
    return 0;
}

static void grpc_on_request(void *ctx, const struct lr_grpc_req *req, struct lr_grpc_resp *resp)
{
    struct lr_dp_otlp_ctx *x = ctx;
    enum lr_signal sig = (enum lr_signal)route(req->path, grpc_paths);
    struct outcome o;
    export_proto(x, LR_TR_GRPC, sig, req->message.p, req->message.len, &o);
    const struct lr_err_map *m = lr_err_lookup(o.err);
    resp->grpc_status = m->grpc_status;
    resp->status_details = lr_slice_make(NULL, 0);
    if (o.err) {
        /* OTLP/gRPC: a retryable UNAVAILABLE carries RetryInfo with the delay to wait. */
        uint32_t delay = m->retryable ? RETRY_AFTER_S : 0;
        size_t n =
            lr_dp_rpc_status_encode(x->details, sizeof(x->details), m->grpc_status, o.msg, delay);
        resp->status_details = lr_slice_make(x->details, n);
        snprintf((char *)x->resp, sizeof(x->resp), "%s", o.msg);
        resp->grpc_message = (const char *)x->resp;
        resp->message = lr_slice_make(NULL, 0);
        return;
    }
    resp->grpc_message = NULL;
    resp->message = lr_slice_make(x->resp, response_encode(x->resp, sizeof(x->resp), &o));
}

struct lr_h2_handler lr_dp_otlp_grpc_handler(struct lr_dp_otlp_ctx *x)
{
    return (struct lr_h2_handler){ .on_headers = grpc_on_headers,
                                   .on_request = grpc_on_request,
                                   .ctx = x };
}
