/* Fuzz target for lr_dp_otlp_splice_spans(), lr_dp_otlp_splice_items() and
 * lr_dp_otlp_splice_bound() (dataplane/otlp_split.c) and the trace_state range the walker records
 * for them.
 *
 * Input: byte 0 holds the mode in its top bit (0 traces, 1 logs) and a count k in the low 7 bits;
 * the next k bytes (fewer if the input is shorter) drive the splice, the rest is an
 * Export{Trace,Logs}ServiceRequest body. Span i takes control byte ctrl[i % k] ^ (i >> 3)
 * (k == 0: keep all, replace nothing): bit 0 set drops the span; bits 1-2 pick the trace_state:
 * 0 leave, 1 remove, 2 a short value, 3 a value of (c >> 3) * 9 bytes (up to 279: length prefixes
 * grow). A body the walker rejects is skipped (fuzz_otlp_walk checks the walker itself).
 *
 * Checks: the walker's trace_state (value, field range, count) matches protobuf-c's decoding;
 * the output fits the bound (written into a buffer of exactly that size, so ASan sees any
 * overrun) and no more than the body when nothing is replaced; it is the body itself when all is
 * kept and nothing replaced; it re-walks, with exactly the kept spans, each byte for byte when
 * untouched and with the new trace_state when replaced; protobuf-c decodes it and each span
 * re-packs as the input's span (with the new trace_state) re-packs; resources and scopes without
 * a kept span are gone; a capacity one byte short gives -ENOSPC and an exact one the same bytes.
 *
 * Logs mode: log record i is dropped when bit 0 of its control byte is set (no replacement:
 * lr_dp_otlp_splice_items() refuses trace_state with a logs view, and lr_dp_otlp_splice_spans()
 * a logs view). The output fits len, is the body when all is kept, re-walks with exactly the
 * kept records byte for byte and no empty scope or resource, and decodes with protobuf-c to the
 * kept records; the capacity checks are the same. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../dataplane/otlp_split.h"
#include "linerate/error.h"
#include "linerate/otlp.h"

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest TraceReq;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest LogsReq;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz_otlp_splice: %s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                                    \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* Replacement values: ASCII, so valid UTF-8 and free of NUL (protobuf-c strings end at one). */
static char long_val[32 * 9 + 1];
static const char *const short_vals[] = { "ot=th:8", "a", "rojo=00f067aa0ba902b7,congo=t61rcW" };

static TraceReq *unpack(const uint8_t *p, size_t n)
{
    return opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, n,
                                                                                            p);
}

static void free_req(TraceReq *q)
{
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(q,
                                                                                            NULL);
}

/* The request's spans in order (the walker's item order); with `nonempty`, every resource and
 * scope must hold a span. Returns the count; *out is malloc'd. */
static size_t flat_spans(const TraceReq *q, bool nonempty, Span ***out)
{
    size_t n = 0, k = 0;

    for (size_t a = 0; a < q->n_resource_spans; a++)
        for (size_t b = 0; b < q->resource_spans[a]->n_scope_spans; b++)
            n += q->resource_spans[a]->scope_spans[b]->n_spans;
    *out = malloc((n + 1) * sizeof(Span *));
    CHECK(*out);
    for (size_t a = 0; a < q->n_resource_spans; a++) {
        CHECK(!nonempty || q->resource_spans[a]->n_scope_spans > 0);
        for (size_t b = 0; b < q->resource_spans[a]->n_scope_spans; b++) {
            const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss =
                q->resource_spans[a]->scope_spans[b];
            CHECK(!nonempty || ss->n_spans > 0);
            for (size_t c = 0; c < ss->n_spans; c++)
                (*out)[k++] = ss->spans[c];
        }
    }
    return n;
}

static bool packs_equal(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t na = protobuf_c_message_get_packed_size(a);
    size_t nb = protobuf_c_message_get_packed_size(b);
    uint8_t *pa, *pb;
    bool eq;

    if (na != nb)
        return false;
    pa = malloc(na + 1);
    pb = malloc(nb + 1);
    CHECK(pa && pb);
    protobuf_c_message_pack(a, pa);
    protobuf_c_message_pack(b, pb);
    eq = memcmp(pa, pb, na) == 0;
    free(pa);
    free(pb);
    return eq;
}

/* The walker's trace_state against protobuf-c's: the same string (protobuf-c's ends at an
 * embedded NUL), the range a whole field ending with it, present iff counted. */
static void check_trace_state(const uint8_t *body, const struct lr_otlp_item *it, const Span *sp)
{
    const char *s = sp->trace_state ? sp->trace_state : "";
    const uint8_t *nul =
        it->trace_state.len ? memchr(it->trace_state.p, 0, it->trace_state.len) : NULL;
    size_t want = nul ? (size_t)(nul - it->trace_state.p) : it->trace_state.len;

    CHECK(strlen(s) == want && (want == 0 || memcmp(s, it->trace_state.p, want) == 0));
    CHECK((it->n_trace_state == 0) == (it->trace_state_len == 0));
    if (it->n_trace_state == 0) {
        CHECK(it->trace_state_off == 0 && it->trace_state.len == 0);
        return;
    }
    CHECK(it->trace_state_off >= it->f.body_off &&
          it->trace_state_off + it->trace_state_len <= it->f.body_off + it->f.body_len);
    CHECK(it->trace_state.p + it->trace_state.len ==
          body + it->trace_state_off + it->trace_state_len);
    CHECK((body[it->trace_state_off] & 0x7f) == 0x1a);
}

static bool view_alloc(struct lr_otlp_view *v, size_t len)
{
    size_t cap = len / 2 + 1; /* every entry takes at least 2 bytes */

    memset(v, 0, sizeof(*v));
    v->resources = calloc(cap, sizeof(*v->resources));
    v->scopes = calloc(cap, sizeof(*v->scopes));
    v->items = calloc(cap, sizeof(*v->items));
    v->resources_cap = v->scopes_cap = v->items_cap = (uint32_t)cap;
    return v->resources && v->scopes && v->items;
}

static void view_free(struct lr_otlp_view *v)
{
    free(v->resources);
    free(v->scopes);
    free(v->items);
}

static LogsReq *unpack_logs(const uint8_t *p, size_t n)
{
    return opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(NULL, n,
                                                                                          p);
}

/* The request's log records in order; with `nonempty`, every resource and scope must hold one. */
static size_t flat_logs(const LogsReq *q, bool nonempty, LogRecord ***out)
{
    size_t n = 0, k = 0;

    for (size_t a = 0; a < q->n_resource_logs; a++)
        for (size_t b = 0; b < q->resource_logs[a]->n_scope_logs; b++)
            n += q->resource_logs[a]->scope_logs[b]->n_log_records;
    *out = malloc((n + 1) * sizeof(LogRecord *));
    CHECK(*out);
    for (size_t a = 0; a < q->n_resource_logs; a++) {
        CHECK(!nonempty || q->resource_logs[a]->n_scope_logs > 0);
        for (size_t b = 0; b < q->resource_logs[a]->n_scope_logs; b++) {
            const Opentelemetry__Proto__Logs__V1__ScopeLogs *sl =
                q->resource_logs[a]->scope_logs[b];
            CHECK(!nonempty || sl->n_log_records > 0);
            for (size_t c = 0; c < sl->n_log_records; c++)
                (*out)[k++] = sl->log_records[c];
        }
    }
    return n;
}

/* Logs mode (see the top of the file). */
static void run_logs(const uint8_t *ctrl, size_t k, const uint8_t *body, size_t len)
{
    struct lr_otlp_view v, ov;
    uint8_t *keep = NULL, *out = NULL, *exact = NULL;
    struct lr_slice one = { (const uint8_t *)"ot=th:8", 7 }, *ts = NULL;
    LogsReq *qi = NULL, *qo;
    LogRecord **li = NULL, **lo;
    size_t ni, no, n_kept = 0, bound;
    ssize_t n;
    uint32_t i;

    CHECK(view_alloc(&v, len));
    if (lr_dp_otlp_walk(LR_SIG_LOGS, body, len, &v) != 0)
        goto out;
    CHECK(!v.truncated);
    qi = unpack_logs(body, len);
    CHECK(qi);
    ni = flat_logs(qi, false, &li);
    CHECK(ni == v.n_items && ni == v.n_log_records);

    keep = malloc(v.n_items + 1);
    ts = calloc(v.n_items + 1, sizeof(*ts));
    CHECK(keep && ts);
    for (i = 0; i < v.n_items; i++) {
        uint8_t c = k ? (uint8_t)(ctrl[i % k] ^ (i >> 3)) : 0;
        keep[i] = !(c & 1);
        n_kept += keep[i];
        ts[i] = one;
    }
    /* A logs view is not a traces view, and log records have no trace_state. */
    CHECK(lr_dp_otlp_splice_spans(body, len, &v, keep, NULL, NULL, 0) == -EINVAL);
    CHECK(lr_dp_otlp_splice_items(body, len, &v, keep, ts, NULL, 0) == -EINVAL);

    bound = lr_dp_otlp_splice_bound(len, &v, NULL);
    CHECK(bound == len);
    out = malloc(bound + 1);
    CHECK(out);
    n = lr_dp_otlp_splice_items(body, len, &v, keep, NULL, out, bound);
    CHECK(n >= 0 && (size_t)n <= len);
    if (n_kept == v.n_items) {
        CHECK((size_t)n == len && (len == 0 || memcmp(out, body, len) == 0));
        goto out;
    }
    if (n > 0) {
        exact = malloc((size_t)n);
        CHECK(exact);
        CHECK(lr_dp_otlp_splice_items(body, len, &v, keep, NULL, exact, (size_t)n - 1) == -ENOSPC);
        CHECK(lr_dp_otlp_splice_items(body, len, &v, keep, NULL, exact, (size_t)n) == n);
        CHECK(memcmp(exact, out, (size_t)n) == 0);
    }

    /* Re-walk: exactly the kept records, byte for byte. */
    CHECK(view_alloc(&ov, (size_t)n));
    CHECK(lr_dp_otlp_walk(LR_SIG_LOGS, out, (size_t)n, &ov) == 0);
    CHECK(ov.n_log_records == n_kept && ov.n_items == n_kept);
    for (uint32_t a = 0, b = 0; a < v.n_items; a++) {
        const struct lr_otlp_item *x = &v.items[a], *y;
        if (!keep[a])
            continue;
        y = &ov.items[b++];
        CHECK(y->f.len == x->f.len && memcmp(out + y->f.off, body + x->f.off, x->f.len) == 0);
        CHECK(y->has_trace_id == x->has_trace_id && memcmp(y->trace_id, x->trace_id, 16) == 0);
    }
    for (i = 0; i < ov.n_scopes; i++)
        CHECK(ov.scopes[i].n_items > 0);
    for (i = 0; i < ov.n_resources; i++)
        CHECK(ov.resources[i].n_scopes > 0);
    view_free(&ov);

    /* protobuf-c: the output's records re-pack as the kept input records. */
    qo = unpack_logs(out, (size_t)n);
    CHECK(qo);
    no = flat_logs(qo, true, &lo);
    CHECK(no == n_kept);
    for (uint32_t a = 0, b = 0; a < v.n_items; a++)
        if (keep[a])
            CHECK(packs_equal(&li[a]->base, &lo[b++]->base));
    free(lo);
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(qo, NULL);

out:
    free(li);
    if (qi)
        opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(qi,
                                                                                              NULL);
    free(exact);
    free(out);
    free(ts);
    free(keep);
    view_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *ctrl, *body;
    size_t k, len, bound, n_kept = 0;
    struct lr_otlp_view v, ov;
    uint8_t *keep = NULL, *out = NULL, *exact = NULL;
    struct lr_slice *ts = NULL;
    bool any_repl = false;
    TraceReq *qi = NULL;
    Span **si = NULL;
    size_t ni;
    ssize_t n;
    uint32_t i;

    if (size < 1)
        return 0;
    if (!long_val[0])
        for (i = 0; i < sizeof(long_val) - 1; i++)
            long_val[i] = (char)('a' + i % 26);
    k = data[0] & 0x7f;
    if (k > size - 1)
        k = size - 1;
    ctrl = data + 1;
    body = data + 1 + k;
    len = size - 1 - k;
    if (data[0] & 0x80) {
        run_logs(ctrl, k, body, len);
        return 0;
    }

    CHECK(view_alloc(&v, len));
    if (lr_dp_otlp_walk(LR_SIG_TRACES, body, len, &v) != 0)
        goto out;
    CHECK(!v.truncated);
    qi = unpack(body, len);
    CHECK(qi);
    ni = flat_spans(qi, false, &si);
    CHECK(ni == v.n_items);
    for (i = 0; i < v.n_items; i++)
        check_trace_state(body, &v.items[i], si[i]);

    keep = malloc(v.n_items + 1);
    ts = calloc(v.n_items + 1, sizeof(*ts));
    CHECK(keep && ts);
    for (i = 0; i < v.n_items; i++) {
        uint8_t c = k ? (uint8_t)(ctrl[i % k] ^ (i >> 3)) : 0;
        keep[i] = !(c & 1);
        n_kept += keep[i];
        switch ((c >> 1) & 3) {
        case 0:
            ts[i] = (struct lr_slice){ NULL, 0 };
            break;
        case 1:
            ts[i] = (struct lr_slice){ (const uint8_t *)"", 0 };
            break;
        case 2: {
            const char *s = short_vals[(c >> 3) % 3];
            ts[i] = (struct lr_slice){ (const uint8_t *)s, strlen(s) };
            break;
        }
        default:
            ts[i] = (struct lr_slice){ (const uint8_t *)long_val, (size_t)(c >> 3) * 9 };
            break;
        }
        if (keep[i] && ts[i].p)
            any_repl = true;
    }

    /* Exactly the bound: ASan reports any write past it. */
    bound = lr_dp_otlp_splice_bound(len, &v, ts);
    CHECK(bound >= len);
    out = malloc(bound + 1);
    CHECK(out);
    n = lr_dp_otlp_splice_spans(body, len, &v, keep, ts, out, bound);
    CHECK(n >= 0 && (size_t)n <= bound);
    if (!any_repl)
        CHECK((size_t)n <= len);
    if (!any_repl && n_kept == v.n_items) {
        CHECK((size_t)n == len && (len == 0 || memcmp(out, body, len) == 0));
        goto out;
    }

    /* Capacities: one byte short is refused, exact gives the same bytes. */
    if (n > 0) {
        exact = malloc((size_t)n);
        CHECK(exact);
        CHECK(lr_dp_otlp_splice_spans(body, len, &v, keep, ts, exact, (size_t)n - 1) == -ENOSPC);
        CHECK(lr_dp_otlp_splice_spans(body, len, &v, keep, ts, exact, (size_t)n) == n);
        CHECK(memcmp(exact, out, (size_t)n) == 0);
    }

    /* Re-walk: the kept spans, byte for byte unless their trace_state was replaced. */
    CHECK(view_alloc(&ov, (size_t)n));
    CHECK(lr_dp_otlp_walk(LR_SIG_TRACES, out, (size_t)n, &ov) == 0);
    CHECK(ov.n_spans == n_kept && ov.n_items == n_kept);
    for (uint32_t a = 0, b = 0; a < v.n_items; a++) {
        const struct lr_otlp_item *x = &v.items[a], *y;
        if (!keep[a])
            continue;
        y = &ov.items[b++];
        if (!ts[a].p) {
            CHECK(y->f.len == x->f.len && memcmp(out + y->f.off, body + x->f.off, x->f.len) == 0);
            CHECK(y->n_trace_state == x->n_trace_state);
        } else {
            CHECK(y->n_trace_state == (ts[a].len ? 1u : 0u));
            CHECK(y->trace_state.len == ts[a].len &&
                  (ts[a].len == 0 || memcmp(y->trace_state.p, ts[a].p, ts[a].len) == 0));
            /* Only the trace_state field changed (trace_state_len is 0 when absent). */
            if (x->n_trace_state <= 1)
                CHECK((uint64_t)y->f.body_len + x->trace_state_len ==
                      (uint64_t)x->f.body_len + y->trace_state_len);
        }
        CHECK(memcmp(y->span_id, x->span_id, 8) == 0 && y->start_ns == x->start_ns &&
              y->kind == x->kind && y->status_code == x->status_code);
    }
    for (i = 0; i < ov.n_scopes; i++)
        CHECK(ov.scopes[i].n_items > 0);
    for (i = 0; i < ov.n_resources; i++)
        CHECK(ov.resources[i].n_scopes > 0);
    view_free(&ov);

    /* protobuf-c: each output span re-packs as the input span with the new trace_state. */
    {
        TraceReq *qo = unpack(out, (size_t)n);
        Span **so;
        size_t no;

        CHECK(qo);
        no = flat_spans(qo, true, &so);
        CHECK(no == n_kept);
        for (uint32_t a = 0, b = 0; a < v.n_items; a++) {
            Span want;
            char *val = NULL;
            if (!keep[a])
                continue;
            want = *si[a];
            if (ts[a].p) {
                val = malloc(ts[a].len + 1);
                CHECK(val);
                memcpy(val, ts[a].p, ts[a].len);
                val[ts[a].len] = 0;
                want.trace_state = val;
            }
            CHECK(packs_equal(&want.base, &so[b++]->base));
            free(val);
        }
        free(so);
        free_req(qo);
    }

out:
    free(si);
    if (qi)
        free_req(qi);
    free(exact);
    free(out);
    free(ts);
    free(keep);
    view_free(&v);
    return 0;
}
