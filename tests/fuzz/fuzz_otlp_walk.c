/* Differential fuzz target for lr_dp_otlp_walk() (dataplane/otlp_walk.c) and
 * lr_dp_otlp_split_traces() (dataplane/otlp_split.c).
 *
 * Input: byte 0 picks the signal (mod 3), the rest is an Export*ServiceRequest body. The oracle
 * is protobuf-c 1.4.1's unpack plus the three checks the walker adds on purpose (protobuf-c does
 * not make them): every string field holds valid UTF-8, AnyValue nesting is at most
 * LR_OTLP_MAX_DEPTH, and field numbers lie in 1..2^29-1. Those are checked by a scan of the raw
 * bytes driven by protobuf-c's own descriptors, so they also see string occurrences that a later
 * occurrence replaces and bytes after an embedded NUL, which the decoded objects hide.
 * Both must accept or both reject; when both accept, counts and every extracted field must match
 * the decoded objects, a walk with tiny capacities must give the same counts, and (traces) every
 * record the splitter emits must unpack and the span totals must add up. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../dataplane/otlp_split.h"
#include "linerate/error.h"
#include "linerate/otlp.h"

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest TraceReq;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest MetricsReq;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest LogsReq;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;

static const ProtobufCMessageDescriptor *const req_desc[LR_SIG_COUNT] = {
    &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
    &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
    &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
};

/* ---- allocator that remembers sizes: a decoded string's full length past an embedded NUL ---- */

struct hdr {
    size_t size;
    size_t magic;
};
#define HDR_MAGIC ((size_t)0x6c696e6572617465ull)

static void *sz_alloc(void *ud, size_t size)
{
    (void)ud;
    struct hdr *h = malloc(sizeof(*h) + size);
    if (!h)
        return NULL;
    h->size = size;
    h->magic = HDR_MAGIC;
    return h + 1;
}

static void sz_free(void *ud, void *p)
{
    (void)ud;
    if (p)
        free((struct hdr *)p - 1);
}

static ProtobufCAllocator alloc = { sz_alloc, sz_free, NULL };

/* Full length of a string protobuf-c decoded (allocated as len + 1, NUL-terminated). */
static size_t pc_strlen(const char *s)
{
    if (s == NULL || s == protobuf_c_empty_string)
        return 0;
    return ((const struct hdr *)s - 1)->size - 1;
}

static bool str_eq(const char *s, struct lr_slice sl)
{
    size_t n = pc_strlen(s);
    return n == sl.len && (n == 0 || memcmp(s, sl.p, n) == 0);
}

/* ---- strict oracle ----------------------------------------------------------------------- */

/* Decodes code points one by one (a different shape from the walker's validator on purpose). */
static bool utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i], cp, need, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            cp = c & 0x1f, need = 1, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            cp = c & 0x0f, need = 2, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            cp = c & 0x07, need = 3, min = 0x10000;
        } else {
            return false;
        }
        if (i + need >= n)
            return false;
        for (uint32_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

static bool rd_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 10 && *p < end; i++) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Scans a message protobuf-c accepted; false when a strict check fails. */
static bool strict_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n,
                      unsigned depth)
{
    const uint8_t *end = p + n;

    if (d == &opentelemetry__proto__common__v1__any_value__descriptor) {
        if (depth >= LR_OTLP_MAX_DEPTH)
            return false;
        depth++;
    }
    while (p < end) {
        uint64_t tag, len, num;
        if (!rd_varint(&p, end, &tag))
            return true; /* protobuf-c accepted it; nothing strict to add */
        num = tag >> 3;
        if (num == 0 || num > 0x1fffffff)
            return false;
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(d, (unsigned)num);
        switch (tag & 7) {
        case 0:
            if (!rd_varint(&p, end, &len))
                return true;
            break;
        case 1:
            p += 8;
            break;
        case 5:
            p += 4;
            break;
        case 2:
            if (!rd_varint(&p, end, &len) || len > (uint64_t)(end - p))
                return true;
            if (f && f->type == PROTOBUF_C_TYPE_STRING && !utf8_ok(p, len))
                return false;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && !strict_ok(f->descriptor, p, len, depth))
                return false;
            p += len;
            break;
        default:
            return true;
        }
    }
    return true;
}

/* ---- comparison with the decoded objects -------------------------------------------------- */

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_otlp_walk: %s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                                  \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

static void check_id(const ProtobufCBinaryData *b, const uint8_t *got, size_t n)
{
    static const uint8_t zero[16];
    if (b->len == n)
        CHECK(memcmp(b->data, got, n) == 0);
    else
        CHECK(memcmp(got, zero, n) == 0);
}

/* The last service.name attribute whose value ends up a string_value. */
static void check_service(Opentelemetry__Proto__Resource__V1__Resource *r, struct lr_slice got)
{
    const char *want = NULL;
    if (r)
        for (size_t i = 0; i < r->n_attributes; i++) {
            KeyValue *kv = r->attributes[i];
            struct lr_slice key = lr_slice_make(kv->key, pc_strlen(kv->key));
            if (lr_slice_eq(key, "service.name") && kv->value &&
                kv->value->value_case ==
                    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
                want = kv->value->string_value;
        }
    if (want)
        CHECK(str_eq(want, got));
    else
        CHECK(got.len == 0);
}

static uint32_t metric_points(const Metric *m)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        return (uint32_t)m->gauge->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        return (uint32_t)m->sum->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        return (uint32_t)m->histogram->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        return (uint32_t)m->exponential_histogram->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        return (uint32_t)m->summary->n_data_points;
    default:
        return 0;
    }
}

static void compare(enum lr_signal sig, const ProtobufCMessage *msg, const struct lr_otlp_view *v)
{
    uint64_t n = 0;
    uint32_t ri = 0, si = 0, ii = 0;

    CHECK(!v->truncated);
    if (sig == LR_SIG_TRACES) {
        const TraceReq *q = (const TraceReq *)msg;
        CHECK(v->n_resources == q->n_resource_spans);
        for (size_t a = 0; a < q->n_resource_spans; a++, ri++) {
            const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = q->resource_spans[a];
            CHECK(v->resources[ri].n_scopes == rs->n_scope_spans);
            CHECK(v->resources[ri].first_scope == si);
            check_service(rs->resource, v->resources[ri].service_name);
            for (size_t b = 0; b < rs->n_scope_spans; b++, si++) {
                const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[b];
                CHECK(v->scopes[si].n_items == ss->n_spans);
                CHECK(v->scopes[si].resource == ri);
                for (size_t c = 0; c < ss->n_spans; c++, ii++) {
                    const Span *sp = ss->spans[c];
                    const struct lr_otlp_item *it = &v->items[ii];
                    CHECK(it->scope == si);
                    CHECK(it->has_trace_id == (sp->trace_id.len == 16));
                    check_id(&sp->trace_id, it->trace_id, 16);
                    check_id(&sp->span_id, it->span_id, 8);
                    CHECK(it->has_parent == (sp->parent_span_id.len != 0));
                    check_id(&sp->parent_span_id, it->parent_span_id, 8);
                    CHECK(str_eq(sp->name, it->name));
                    CHECK(it->kind == (uint32_t)sp->kind);
                    CHECK(it->start_ns == sp->start_time_unix_nano);
                    CHECK(it->end_ns == sp->end_time_unix_nano);
                    CHECK(it->status_code == (sp->status ? (uint32_t)sp->status->code : 0));
                    CHECK(it->n_points == 1);
                    n++;
                }
            }
        }
        CHECK(v->n_spans == n);
    } else if (sig == LR_SIG_METRICS) {
        const MetricsReq *q = (const MetricsReq *)msg;
        CHECK(v->n_resources == q->n_resource_metrics);
        for (size_t a = 0; a < q->n_resource_metrics; a++, ri++) {
            const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = q->resource_metrics[a];
            CHECK(v->resources[ri].n_scopes == rm->n_scope_metrics);
            check_service(rm->resource, v->resources[ri].service_name);
            for (size_t b = 0; b < rm->n_scope_metrics; b++, si++) {
                const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[b];
                CHECK(v->scopes[si].n_items == sm->n_metrics);
                for (size_t c = 0; c < sm->n_metrics; c++, ii++) {
                    const struct lr_otlp_item *it = &v->items[ii];
                    CHECK(str_eq(sm->metrics[c]->name, it->name));
                    CHECK(it->n_points == metric_points(sm->metrics[c]));
                    n += it->n_points;
                }
            }
        }
        CHECK(v->n_points == n);
    } else {
        const LogsReq *q = (const LogsReq *)msg;
        CHECK(v->n_resources == q->n_resource_logs);
        for (size_t a = 0; a < q->n_resource_logs; a++, ri++) {
            const Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = q->resource_logs[a];
            CHECK(v->resources[ri].n_scopes == rl->n_scope_logs);
            check_service(rl->resource, v->resources[ri].service_name);
            for (size_t b = 0; b < rl->n_scope_logs; b++, si++) {
                const Opentelemetry__Proto__Logs__V1__ScopeLogs *sl = rl->scope_logs[b];
                CHECK(v->scopes[si].n_items == sl->n_log_records);
                for (size_t c = 0; c < sl->n_log_records; c++, ii++) {
                    const LogRecord *lr = sl->log_records[c];
                    const struct lr_otlp_item *it = &v->items[ii];
                    CHECK(it->has_trace_id == (lr->trace_id.len == 16));
                    check_id(&lr->trace_id, it->trace_id, 16);
                    check_id(&lr->span_id, it->span_id, 8);
                    CHECK(it->start_ns == lr->time_unix_nano);
                    n++;
                }
            }
        }
        CHECK(v->n_log_records == n);
    }
    CHECK(v->n_scopes == si);
    CHECK(v->n_items == ii);
}

/* ---- splitter ---------------------------------------------------------------------------- */

struct split_ctx {
    uint64_t spans, records;
    const uint8_t *body;
};

static int on_record(void *vctx, const uint8_t trace_id[16], uint64_t n_spans, const uint8_t *value,
                     size_t len)
{
    struct split_ctx *c = vctx;
    static const uint8_t zero[16];
    struct lr_otlp_view v = { 0 };
    TraceReq *q;
    uint64_t n = 0;

    q = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
        &alloc, len, value);
    CHECK(q != NULL);
    CHECK(strict_ok(req_desc[LR_SIG_TRACES], value, len, 0));
    for (size_t a = 0; a < q->n_resource_spans; a++) {
        /* A record built by splicing drops resources and scopes with no span of its trace;
         * the body passed through as is (one trace) keeps them. */
        CHECK(value == c->body || q->resource_spans[a]->n_scope_spans > 0);
        for (size_t b = 0; b < q->resource_spans[a]->n_scope_spans; b++) {
            const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss =
                q->resource_spans[a]->scope_spans[b];
            CHECK(value == c->body || ss->n_spans > 0);
            for (size_t k = 0; k < ss->n_spans; k++, n++) {
                const ProtobufCBinaryData *t = &ss->spans[k]->trace_id;
                CHECK(memcmp(t->len == 16 ? t->data : zero, trace_id, 16) == 0);
            }
        }
    }
    CHECK(n == n_spans);
    CHECK(lr_dp_otlp_walk(LR_SIG_TRACES, value, len, &v) == 0);
    CHECK(v.n_spans == n_spans);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(q,
                                                                                            &alloc);
    c->spans += n_spans;
    c->records++;
    return 0;
}

/* ---- entry point ------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum lr_signal sig;
    const uint8_t *body;
    size_t len, cap;
    struct lr_otlp_view v = { 0 }, small = { 0 };
    struct lr_otlp_resource r1[1];
    struct lr_otlp_scope s1[1];
    struct lr_otlp_item i1[1];
    ProtobufCMessage *msg;
    bool pc_ok, strict, walk_ok;
    int rc;

    if (size < 1)
        return 0;
    sig = (enum lr_signal)(data[0] % 3);
    body = data + 1;
    len = size - 1;

    /* Every entry takes at least 2 bytes of the body. */
    cap = len / 2 + 1;
    v.resources = calloc(cap, sizeof(*v.resources));
    v.scopes = calloc(cap, sizeof(*v.scopes));
    v.items = calloc(cap, sizeof(*v.items));
    CHECK(v.resources && v.scopes && v.items);
    v.resources_cap = v.scopes_cap = v.items_cap = (uint32_t)cap;

    rc = lr_dp_otlp_walk(sig, body, len, &v);
    walk_ok = rc == 0;
    CHECK(rc == 0 || rc == LR_E_MALFORMED);
    if (!walk_ok)
        CHECK(v.err_reason != NULL && v.err_off <= len);

    msg = protobuf_c_message_unpack(req_desc[sig], &alloc, len, body);
    pc_ok = msg != NULL;
    strict = pc_ok && strict_ok(req_desc[sig], body, len, 0);

    if (walk_ok != strict) {
        fprintf(stderr,
                "fuzz_otlp_walk: verdicts differ on %s body of %zu bytes: walker %s (%s at "
                "%u), protobuf-c %s, strict checks %s\n",
                lr_signal_name(sig), len, walk_ok ? "accepts" : "rejects",
                v.err_reason ? v.err_reason : "-", v.err_off, pc_ok ? "accepts" : "rejects",
                !pc_ok   ? "n/a"
                : strict ? "pass"
                         : "fail");
        abort();
    }

    if (walk_ok) {
        compare(sig, msg, &v);

        /* Counts stay exact when nothing fits. */
        small.resources = r1, small.scopes = s1, small.items = i1;
        small.resources_cap = small.scopes_cap = small.items_cap = 1;
        CHECK(lr_dp_otlp_walk(sig, body, len, &small) == 0);
        CHECK(small.n_spans == v.n_spans && small.n_points == v.n_points &&
              small.n_log_records == v.n_log_records);
        CHECK(small.truncated == (v.n_resources > 1 || v.n_scopes > 1 || v.n_items > 1));

        if (sig == LR_SIG_TRACES) {
            struct split_ctx c = { 0, 0, body };
            CHECK(lr_dp_otlp_split_traces(body, len, &v, on_record, &c) == 0);
            CHECK(c.spans == v.n_spans);
        }
    }

    if (msg)
        protobuf_c_message_free_unpacked(msg, &alloc);
    free(v.resources);
    free(v.scopes);
    free(v.items);
    return 0;
}
