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
    if (cfg->sampler.enabled) {
        struct lr_dp_sample_cfg sc = { .mode = (enum lr_dp_sample_mode)cfg->sampler.mode,
                                       .percentage = cfg->sampler.percentage,
                                       .hash_seed = cfg->sampler.hash_seed,
                                       .precision = (int)cfg->sampler.precision,
                                       .fail_closed = cfg->sampler.fail_closed };
        if (lr_dp_sampler_init(&x->sampler, &sc) < 0) {
            lr_dp_otlp_ctx_fini(x);
            return -EINVAL;
        }
        x->sampling = true;
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
    free(x->ts);
    free(x->ts_off);
    free(x->ts_buf);
    free(x->spliced);
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

/* Walks the body. Only the per-trace split needs the spans recorded: every other request is
 * walked for validation and counts alone (capacities 0, nothing written). For the split the view
 * grows while the request does not fit. */
static int walk(struct lr_dp_otlp_ctx *x, enum lr_signal sig, const uint8_t *p, size_t len)
{
    if (sig != LR_SIG_TRACES || (!x->cfg->kafka.partition_traces_by_id && !x->sampling)) {
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
        uint64_t need = x->view.n_spans;
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

/* Head sampling: decides every span as the Collector's probabilistic sampler does and, when some
 * span is dropped or has its tracestate rewritten, splices the request down to the kept spans
 * (x->spliced, walked again into x->view). *p and *len then point at the spliced request.
 * (sampling.priority is not read: spans are decided on their trace id and tracestate.) */
static int sample_traces(struct lr_dp_otlp_ctx *x, const uint8_t **p, size_t *len)
{
    uint32_t n = x->view.n_items;
    size_t cap = x->sample_cap;
    if (grow((void **)&x->keep, &cap, n, sizeof(*x->keep)) < 0)
        return -ENOMEM;
    cap = x->sample_cap;
    if (grow((void **)&x->ts, &cap, n, sizeof(*x->ts)) < 0)
        return -ENOMEM;
    cap = x->sample_cap;
    if (grow((void **)&x->ts_off, &cap, n, sizeof(*x->ts_off)) < 0)
        return -ENOMEM;
    x->sample_cap = cap;
    x->ts_len = 0;
    uint64_t kept = 0;
    bool rewrite = false;
    char out[LR_DP_SAMPLE_TS_MAX_OUT];
    for (uint32_t i = 0; i < n; i++) {
        const struct lr_otlp_item *it = &x->view.items[i];
        struct lr_dp_sample_result r;
        lr_dp_sample_decide(&x->sampler, it->trace_id, (const char *)it->trace_state.p,
                            it->trace_state.len, LR_DP_SAMPLE_PRIO_DEFER, out, sizeof(out), &r);
        x->keep[i] = r.keep;
        x->ts_off[i] = SIZE_MAX;
        kept += r.keep;
        if (!r.keep || !r.ts_rewritten)
            continue;
        if (r.ts_len == it->trace_state.len && memcmp(out, it->trace_state.p, r.ts_len) == 0)
            continue;
        if (grow((void **)&x->ts_buf, &x->ts_cap, x->ts_len + r.ts_len + 1, 1) < 0)
            return -ENOMEM;
        memcpy(x->ts_buf + x->ts_len, out, r.ts_len);
        x->ts_off[i] = x->ts_len;
        x->ts[i].len = r.ts_len;
        x->ts_len += r.ts_len;
        rewrite = true;
    }
    lr_stat_add(&x->stats->sampled[1], kept);
    lr_stat_add(&x->stats->sampled[0], n - kept);
    if (kept == n && !rewrite)
        return 0;
    /* The tracestates are in place now that ts_buf no longer moves. An empty rewritten one
     * needs a non-NULL pointer too (it removes the field). */
    for (uint32_t i = 0; i < n; i++)
        x->ts[i].p = x->ts_off[i] == SIZE_MAX ? NULL : (const uint8_t *)x->ts_buf + x->ts_off[i];
    size_t bound = lr_dp_otlp_splice_bound(*len, &x->view, rewrite ? x->ts : NULL);
    size_t scap = x->spliced_cap;
    if (grow((void **)&x->spliced, &scap, bound ? bound : 1, 1) < 0)
        return -ENOMEM;
    x->spliced_cap = scap;
    ssize_t m = lr_dp_otlp_splice_spans(*p, *len, &x->view, x->keep, rewrite ? x->ts : NULL,
                                        x->spliced, x->spliced_cap);
    if (m < 0)
        return (int)m;
    *p = x->spliced;
    *len = (size_t)m;
    return walk(x, LR_SIG_TRACES, *p, *len);
}

/* Validates, splits and queues one Export*ServiceRequest (protobuf). */
static void export_proto(struct lr_dp_otlp_ctx *x, enum lr_transport tr, enum lr_signal sig,
                         const uint8_t *p, size_t len, struct outcome *o)
{
    o->err = 0;
    o->items = o->rejected = 0;
    o->msg[0] = 0;
    x->rejected = x->rejected_big = 0;
    int rc = walk(x, sig, p, len);
    if (rc == LR_E_MALFORMED) {
        snprintf(o->msg, sizeof(o->msg), "%s is malformed at byte %u: %s", request_names[sig],
                 x->view.err_off, x->view.err_reason ? x->view.err_reason : "invalid");
        o->err = LR_E_MALFORMED;
        lr_stat_add(&x->stats->bad_requests, 1);
        return;
    }
    o->items = items_of(&x->view, sig);
    bool sampled = false;
    if (rc == 0 && sig == LR_SIG_TRACES && x->sampling) {
        rc = sample_traces(x, &p, &len);
        sampled = true;
    }
    if (rc == 0) {
        uint64_t fwd = items_of(&x->view, sig);
        if (sig == LR_SIG_TRACES && x->cfg->kafka.partition_traces_by_id)
            rc = lr_dp_otlp_split_traces(p, len, &x->view, emit_trace, x);
        else if (sampled ? fwd > 0 : (len > 0 || o->items > 0))
            rc = batch_add(x, sig, NULL, fwd, p, len);
    }
    const char *why = "out of memory; retry later";
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
