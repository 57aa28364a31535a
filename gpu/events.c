/* Anomaly events as OTLP log records, built with protobuf-c (off the hot path: a few per tick).
 * The semantic conventions put an event's name in the `event.name` attribute; the pinned OTLP
 * schema has no LogRecord.event_name field yet. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "linerate/anomaly.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"

#define N_ATTRS 11

const char *lr_gpu_anom_feature_name(const struct lr_feat_key *k, unsigned feature)
{
    static const char *const names[LR_ANOM_N_FEATURES] = {
        "count", "errors", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
    };
    static const char *const host[LR_ANOM_N_FEATURES] = {
        [LR_ANOM_F_HOST_RATE] = "rate_per_s",
        [LR_ANOM_F_HOST_MEAN] = "mean",
    };
    if (feature >= LR_ANOM_N_FEATURES)
        return "?";
    if (k && k->host)
        return host[feature] ? host[feature] : "?";
    return names[feature];
}

const char *lr_gpu_series_kind_name(const struct lr_feat_key *k)
{
    return k->host ? "host" : lr_gpu_span_kind_name(k->kind);
}

const char *lr_gpu_span_kind_name(uint32_t kind)
{
    static const char *const names[] = { "unspecified", "internal", "server",
                                         "client",      "producer", "consumer" };
    return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "unspecified";
}

/* Everything one event's ResourceLogs points at, so that one calloc holds a whole request. */
struct one {
    Opentelemetry__Proto__Logs__V1__ResourceLogs rl;
    Opentelemetry__Proto__Resource__V1__Resource res;
    Opentelemetry__Proto__Common__V1__KeyValue res_kv[2];
    Opentelemetry__Proto__Common__V1__AnyValue res_v[2];
    Opentelemetry__Proto__Common__V1__KeyValue *res_kvs[2];
    Opentelemetry__Proto__Logs__V1__ScopeLogs sl;
    Opentelemetry__Proto__Logs__V1__ScopeLogs *sls[1];
    Opentelemetry__Proto__Common__V1__InstrumentationScope scope;
    Opentelemetry__Proto__Logs__V1__LogRecord lr;
    Opentelemetry__Proto__Logs__V1__LogRecord *lrs[1];
    Opentelemetry__Proto__Common__V1__AnyValue body;
    Opentelemetry__Proto__Common__V1__KeyValue kv[N_ATTRS];
    Opentelemetry__Proto__Common__V1__AnyValue v[N_ATTRS];
    Opentelemetry__Proto__Common__V1__KeyValue *kvs[N_ATTRS];
    char text[512];
};

static void attr_str(struct one *o, size_t i, const char *key, const char *val)
{
    opentelemetry__proto__common__v1__key_value__init(&o->kv[i]);
    opentelemetry__proto__common__v1__any_value__init(&o->v[i]);
    o->kv[i].key = (char *)key;
    o->v[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    o->v[i].string_value = (char *)val;
    o->kv[i].value = &o->v[i];
    o->kvs[i] = &o->kv[i];
}

static void attr_double(struct one *o, size_t i, const char *key, double val)
{
    attr_str(o, i, key, "");
    o->v[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    o->v[i].double_value = val;
}

static void attr_int(struct one *o, size_t i, const char *key, int64_t val)
{
    attr_str(o, i, key, "");
    o->v[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    o->v[i].int_value = val;
}

static void fill(struct one *o, const struct lr_gpu_anom_event *e)
{
    const struct lr_feat_key *k = e->key;
    opentelemetry__proto__logs__v1__resource_logs__init(&o->rl);
    opentelemetry__proto__resource__v1__resource__init(&o->res);
    const char *res[2][2] = { { "service.name", k->service }, { "host.name", e->host_name } };
    size_t n_res = e->host_name ? 2 : 1;
    for (size_t i = 0; i < n_res; i++) {
        opentelemetry__proto__common__v1__key_value__init(&o->res_kv[i]);
        opentelemetry__proto__common__v1__any_value__init(&o->res_v[i]);
        o->res_v[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        o->res_v[i].string_value = (char *)res[i][1];
        o->res_kv[i].key = (char *)res[i][0];
        o->res_kv[i].value = &o->res_v[i];
        o->res_kvs[i] = &o->res_kv[i];
    }
    o->res.n_attributes = n_res;
    o->res.attributes = o->res_kvs;
    o->rl.resource = &o->res;
    opentelemetry__proto__logs__v1__scope_logs__init(&o->sl);
    opentelemetry__proto__common__v1__instrumentation_scope__init(&o->scope);
    o->scope.name = "linerate.anomaly";
    o->sl.scope = &o->scope;
    o->sls[0] = &o->sl;
    o->rl.n_scope_logs = 1;
    o->rl.scope_logs = o->sls;
    opentelemetry__proto__logs__v1__log_record__init(&o->lr);
    o->lr.time_unix_nano = e->time_unix_ns;
    o->lr.observed_time_unix_nano = e->time_unix_ns;
    o->lr.severity_number =
        e->opened ? OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_WARN
                  : OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_INFO;
    o->lr.severity_text = e->opened ? "WARN" : "INFO";
    const char *feature = lr_gpu_anom_feature_name(k, e->feature);
    const char *state = e->opened ? "opened" : "closed";
    snprintf(o->text, sizeof(o->text),
             "anomaly %s: %s of %s %s (%s): %.6g, expected %.6g to %.6g (score %.3f)", state,
             feature, k->service, k->name, lr_gpu_series_kind_name(k), (double)e->value,
             (double)e->expected_lo, (double)e->expected_hi, (double)e->score);
    opentelemetry__proto__common__v1__any_value__init(&o->body);
    o->body.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    o->body.string_value = o->text;
    o->lr.body = &o->body;
    size_t i = 0;
    attr_str(o, i++, "event.name", "linerate.anomaly");
    attr_str(o, i++, "service.name", k->service);
    attr_str(o, i++, "operation", k->name);
    attr_str(o, i++, "span.kind", lr_gpu_series_kind_name(k));
    attr_str(o, i++, "anomaly.state", state);
    attr_str(o, i++, "anomaly.feature", feature);
    attr_double(o, i++, "anomaly.score", e->score);
    attr_double(o, i++, "anomaly.value", e->value);
    attr_double(o, i++, "anomaly.expected_low", e->expected_lo);
    attr_double(o, i++, "anomaly.expected_high", e->expected_hi);
    attr_int(o, i++, "anomaly.window_ms", e->window_ms);
    o->lr.n_attributes = i;
    o->lr.attributes = o->kvs;
    o->lrs[0] = &o->lr;
    o->sl.n_log_records = 1;
    o->sl.log_records = o->lrs;
}

struct lr_msg *lr_gpu_anom_events_encode(const struct lr_gpu_anom_event *ev, size_t n,
                                         uint32_t worker)
{
    struct one *ones = calloc(n ? n : 1, sizeof(*ones));
    Opentelemetry__Proto__Logs__V1__ResourceLogs **rls = calloc(n ? n : 1, sizeof(*rls));
    struct lr_msg *m = NULL;
    if (!ones || !rls) {
        errno = ENOMEM;
        goto out;
    }
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest req;
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(&req);
    for (size_t i = 0; i < n; i++) {
        fill(&ones[i], &ev[i]);
        rls[i] = &ones[i].rl;
    }
    req.n_resource_logs = n;
    req.resource_logs = rls;
    size_t len =
        opentelemetry__proto__collector__logs__v1__export_logs_service_request__get_packed_size(
            &req);
    m = lr_msg_new(len);
    if (!m) {
        errno = ENOMEM;
        goto out;
    }
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(&req, m->value);
    m->signal = LR_SIG_LOGS;
    m->worker = worker;
    m->n_items = n;
out:
    free(ones);
    free(rls);
    return m;
}
