/* OTLP/HTTP (binary protobuf) on the HTTP/1.1 engine. Answers follow the OTLP specification,
 * "OTLP/HTTP Response": 200 with an empty Export*ServiceResponse, 400 with a google.rpc.Status
 * for bad data (not retryable), 503 + Retry-After when the output queue is full (retryable). */
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

static const char *const paths[LR_SIG_COUNT] = { "/v1/traces", "/v1/metrics", "/v1/logs" };
static const char *const request_names[LR_SIG_COUNT] = { "ExportTraceServiceRequest",
                                                         "ExportMetricsServiceRequest",
                                                         "ExportLogsServiceRequest" };

static bool slice_ieq(struct lr_slice s, const char *z)
{
    size_t n = strlen(z);
    return s.len == n && strncasecmp((const char *)s.p, z, n) == 0;
}

static int route(struct lr_slice path)
{
    for (int i = 0; i < LR_SIG_COUNT; i++)
        if (lr_slice_eq(path, paths[i]))
            return i;
    return -1;
}

static bool is_protobuf(struct lr_slice ct)
{
    return slice_ieq(ct, "application/x-protobuf");
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
    if (view_alloc(&x->view, VIEW_INITIAL_ITEMS, VIEW_INITIAL_ITEMS / 4, VIEW_INITIAL_ITEMS / 8) <
        0)
        goto fail;
    x->batch_cap = 256;
    x->batch = malloc(sizeof(*x->batch) * x->batch_cap);
    if (!x->batch)
        goto fail;
    return 0;
fail:
    lr_dp_otlp_ctx_fini(x);
    return -ENOMEM;
}

void lr_dp_otlp_ctx_fini(struct lr_dp_otlp_ctx *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->n_batch; i++)
        lr_msg_free(x->batch[i]);
    free(x->batch);
    free(x->view.items);
    free(x->view.scopes);
    free(x->view.resources);
    memset(x, 0, sizeof(*x));
}

size_t lr_dp_rpc_status_encode(uint8_t *out, size_t cap, int code, const char *message)
{
    /* google.rpc.Status: 1 code (int32, varint), 2 message (string). */
    size_t n = 0, mlen = strlen(message);
    if (cap < 16)
        return 0;
    if (code != 0) {
        out[n++] = 0x08;
        uint64_t v = (uint64_t)(int64_t)code;
        while (v >= 0x80) {
            out[n++] = (uint8_t)(v | 0x80);
            v >>= 7;
        }
        out[n++] = (uint8_t)v;
    }
    if (mlen > cap - n - 4)
        mlen = cap - n - 4;
    /* Never cut a UTF-8 sequence in half: back off continuation bytes. */
    while (mlen > 0 && mlen < strlen(message) && ((uint8_t)message[mlen] & 0xC0) == 0x80)
        mlen--;
    out[n++] = 0x12;
    size_t l = mlen;
    while (l >= 0x80) {
        out[n++] = (uint8_t)(l | 0x80);
        l >>= 7;
    }
    out[n++] = (uint8_t)l;
    memcpy(out + n, message, mlen);
    return n + mlen;
}

/* Fills `resp` with an error answer: a google.rpc.Status in protobuf when the client speaks
 * protobuf, plain text otherwise (curl, browsers). */
static void answer_error(struct lr_dp_otlp_ctx *x, const struct lr_http_req *req, int err,
                         const char *message, struct lr_http_resp *resp)
{
    const struct lr_err_map *m = lr_err_lookup(err);
    resp->status = m->http_status;
    resp->extra_headers = NULL;
    if (err == LR_E_METHOD)
        resp->extra_headers = "Allow: POST\r\n";
    else if (m->retryable)
        resp->extra_headers = "Retry-After: 1\r\n";
    if (req && is_protobuf(req->content_type)) {
        size_t n = lr_dp_rpc_status_encode(x->resp, sizeof(x->resp), m->grpc_status, message);
        resp->content_type = "application/x-protobuf";
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
    int sig = route(req->path);
    if (sig < 0) {
        *reason = "unknown path; OTLP/HTTP paths are /v1/traces, /v1/metrics and /v1/logs";
        return LR_E_NOT_FOUND;
    }
    if (!lr_slice_eq(req->method, "POST")) {
        *reason = "method not allowed; OTLP/HTTP accepts POST";
        return LR_E_METHOD;
    }
    if (!is_protobuf(req->content_type)) {
        *reason = "unsupported Content-Type; accepted: application/x-protobuf";
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
        !is_protobuf(req->content_type))
        snprintf(msg, sizeof(msg), "unsupported Content-Type \"%.*s\"; accepted: %s",
                 (int)(req->content_type.len > 100 ? 100 : req->content_type.len),
                 (const char *)req->content_type.p, "application/x-protobuf");
    else if (err == LR_E_MEDIA_TYPE && req && req->content_type.len == 0 &&
             req->content_encoding.len == 0)
        snprintf(msg, sizeof(msg), "missing Content-Type; accepted: application/x-protobuf");
    else
        snprintf(msg, sizeof(msg), "%s", reason ? reason : lr_err_name(err));
    answer_error(x, req, err, msg, resp);
}

static void key_hex(char out[32], const uint8_t id[16])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[id[i] >> 4];
        out[2 * i + 1] = hex[id[i] & 15];
    }
}

static int batch_add(struct lr_dp_otlp_ctx *x, enum lr_signal sig, const uint8_t *key16,
                     uint64_t n_items, const uint8_t *value, size_t len)
{
    if (x->n_batch == x->batch_cap) {
        size_t cap = x->batch_cap * 2;
        struct lr_msg **b = realloc(x->batch, sizeof(*b) * cap);
        if (!b)
            return -ENOMEM;
        x->batch = b;
        x->batch_cap = cap;
    }
    struct lr_msg *m = lr_msg_new(len);
    if (!m)
        return -ENOMEM;
    memcpy(m->value, value, len);
    m->signal = sig;
    m->worker = x->worker;
    m->n_items = n_items;
    if (key16) {
        key_hex(m->key, key16);
        m->key_len = 32;
    }
    x->batch[x->n_batch++] = m;
    return 0;
}

static int emit_trace(void *ctx, const uint8_t trace_id[16], uint64_t n_spans, const uint8_t *value,
                      size_t len)
{
    return batch_add(ctx, LR_SIG_TRACES, trace_id, n_spans, value, len);
}

static void batch_drop(struct lr_dp_otlp_ctx *x)
{
    for (size_t i = 0; i < x->n_batch; i++)
        lr_msg_free(x->batch[i]);
    x->n_batch = 0;
}

static uint64_t items_of(const struct lr_otlp_view *v, enum lr_signal sig)
{
    return sig == LR_SIG_TRACES    ? v->n_spans
           : sig == LR_SIG_METRICS ? v->n_points
                                   : v->n_log_records;
}

/* Walks the body; grows the view while the request does not fit (only traces need every span
 * recorded, for the split). */
static int walk(struct lr_dp_otlp_ctx *x, enum lr_signal sig, struct lr_slice body)
{
    for (;;) {
        int rc = lr_dp_otlp_walk(sig, body.p, body.len, &x->view);
        if (rc < 0 || !x->view.truncated || sig != LR_SIG_TRACES)
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

static void on_request(void *ctx, const struct lr_http_req *req, struct lr_http_resp *resp)
{
    struct lr_dp_otlp_ctx *x = ctx;
    enum lr_signal sig = (enum lr_signal)route(req->path);
    char msg[512];

    int rc = walk(x, sig, req->body);
    if (rc == LR_E_MALFORMED) {
        snprintf(msg, sizeof(msg), "%s is malformed at byte %u: %s", request_names[sig],
                 x->view.err_off, x->view.err_reason ? x->view.err_reason : "invalid");
        lr_stat_add(&x->stats->bad_requests, 1);
        answer_error(x, req, LR_E_MALFORMED, msg, resp);
        return;
    }
    uint64_t n_items = items_of(&x->view, sig);
    if (rc == 0) {
        if (sig == LR_SIG_TRACES && x->cfg->kafka.partition_traces_by_id)
            rc = lr_dp_otlp_split_traces(req->body.p, req->body.len, &x->view, emit_trace, x);
        else if (req->body.len > 0 || n_items > 0)
            rc = batch_add(x, sig, NULL, n_items, req->body.p, req->body.len);
    }
    /* All records of a request are queued, or none: the ring has one producer (us), so the free
     * room seen here can only grow until we push. */
    size_t room = x->ring->mask + 1 - lr_ring_count(x->ring);
    if (rc < 0 || x->n_batch > room) {
        batch_drop(x);
        lr_stat_add(&x->stats->refused[sig], n_items);
        lr_stat_add(&x->stats->overloaded, 1);
        snprintf(msg, sizeof(msg), "%s",
                 rc < 0 ? "out of memory; retry later"
                        : "output queue full (Kafka is behind); retry later");
        answer_error(x, req, LR_E_OVERLOADED, msg, resp);
        return;
    }
    for (size_t i = 0; i < x->n_batch; i++)
        lr_ring_push(x->ring, x->batch[i]);
    lr_stat_add(&x->stats->records[sig], x->n_batch);
    x->n_batch = 0;
    lr_stat_add(&x->stats->requests[sig], 1);
    lr_stat_add(&x->stats->accepted[sig], n_items);
    /* An empty Export*ServiceResponse: every field is default, so zero bytes. */
    resp->status = 200;
    resp->content_type = "application/x-protobuf";
    resp->body = lr_slice_make(x->resp, 0);
    resp->extra_headers = NULL;
}

struct lr_http_handler lr_dp_otlp_handler(struct lr_dp_otlp_ctx *x)
{
    return (struct lr_http_handler){
        .on_headers = on_headers, .on_request = on_request, .on_error = on_error, .ctx = x
    };
}
