/*
 * otlp_metrics_dump: decodes ExportMetricsServiceRequest records with protobuf-c (not with any
 * linerate code) and prints one line per data point, for the host-metrics tests to check with awk.
 *
 * Input on stdin: records as `kcat -C -e -f '%S %s'` writes them (the value's length in decimal,
 * one space, the value's bytes; no separator). Output, one line per point, space-separated
 * key=value fields (values never contain spaces: attribute values with spaces are printed with
 * '_' instead):
 *
 *   rec=N start=NS time=NS res=K:V,K:V,... name=NAME unit=UNIT type=sum|histogram|gauge|other
 *   temporality=N monotonic=0|1 attrs=K:V,...  (then, for sums and gauges) value=V
 *   (for histograms) count=N sum=S bounds=B,B,... buckets=C,C,...
 *
 * Exit status: 0, or 1 when a record does not decode (its number on stderr), 2 on bad input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;

static void put_value(const Opentelemetry__Proto__Common__V1__AnyValue *v)
{
    if (!v) {
        fputs("-", stdout);
        return;
    }
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        for (const char *c = v->string_value; *c; c++)
            putchar(*c == ' ' || *c == ',' || *c == '\n' ? '_' : *c);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        printf("%lld", (long long)v->int_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        fputs(v->bool_value ? "true" : "false", stdout);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        printf("%.17g", v->double_value);
        break;
    default:
        fputs("?", stdout);
    }
}

static void put_attrs(KeyValue **a, size_t n)
{
    if (!n)
        fputs("-", stdout);
    for (size_t i = 0; i < n; i++) {
        printf("%s%s:", i ? "," : "", a[i]->key);
        put_value(a[i]->value);
    }
}

static int dump(const uint8_t *p, size_t len, unsigned long rec)
{
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *req =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
            NULL, len, p);
    if (!req) {
        fprintf(stderr, "otlp_metrics_dump: record %lu (%zu bytes) does not decode\n", rec, len);
        return 1;
    }
    for (size_t r = 0; r < req->n_resource_metrics; r++) {
        const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = req->resource_metrics[r];
        for (size_t s = 0; s < rm->n_scope_metrics; s++) {
            const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[s];
            for (size_t m = 0; m < sm->n_metrics; m++) {
                const Opentelemetry__Proto__Metrics__V1__Metric *me = sm->metrics[m];
                size_t np = 0;
                if (me->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM)
                    np = me->sum->n_data_points;
                else if (me->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE)
                    np = me->gauge->n_data_points;
                else if (me->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM)
                    np = me->histogram->n_data_points;
                for (size_t i = 0; i < np; i++) {
                    printf("rec=%lu ", rec);
                    if (me->data_case ==
                        OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM) {
                        const Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *d =
                            me->histogram->data_points[i];
                        printf("start=%llu time=%llu ", (unsigned long long)d->start_time_unix_nano,
                               (unsigned long long)d->time_unix_nano);
                    } else {
                        const Opentelemetry__Proto__Metrics__V1__NumberDataPoint *d =
                            me->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM
                                ? me->sum->data_points[i]
                                : me->gauge->data_points[i];
                        printf("start=%llu time=%llu ", (unsigned long long)d->start_time_unix_nano,
                               (unsigned long long)d->time_unix_nano);
                    }
                    fputs("res=", stdout);
                    put_attrs(rm->resource ? rm->resource->attributes : NULL,
                              rm->resource ? rm->resource->n_attributes : 0);
                    printf(" name=%s unit=%s ", me->name, me->unit[0] ? me->unit : "-");
                    if (me->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM) {
                        const Opentelemetry__Proto__Metrics__V1__NumberDataPoint *d =
                            me->sum->data_points[i];
                        printf("type=sum temporality=%d monotonic=%d attrs=",
                               (int)me->sum->aggregation_temporality,
                               me->sum->is_monotonic ? 1 : 0);
                        put_attrs(d->attributes, d->n_attributes);
                        if (d->value_case ==
                            OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT)
                            printf(" value=%lld\n", (long long)d->as_int);
                        else
                            printf(" value=%.17g\n", d->as_double);
                    } else if (me->data_case ==
                               OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE) {
                        const Opentelemetry__Proto__Metrics__V1__NumberDataPoint *d =
                            me->gauge->data_points[i];
                        fputs("type=gauge temporality=0 monotonic=0 attrs=", stdout);
                        put_attrs(d->attributes, d->n_attributes);
                        if (d->value_case ==
                            OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT)
                            printf(" value=%lld\n", (long long)d->as_int);
                        else
                            printf(" value=%.17g\n", d->as_double);
                    } else {
                        const Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *d =
                            me->histogram->data_points[i];
                        printf("type=histogram temporality=%d monotonic=0 attrs=",
                               (int)me->histogram->aggregation_temporality);
                        put_attrs(d->attributes, d->n_attributes);
                        printf(" count=%llu sum=%.17g bounds=", (unsigned long long)d->count,
                               d->sum);
                        for (size_t b = 0; b < d->n_explicit_bounds; b++)
                            printf("%s%.17g", b ? "," : "", d->explicit_bounds[b]);
                        fputs(" buckets=", stdout);
                        for (size_t b = 0; b < d->n_bucket_counts; b++)
                            printf("%s%llu", b ? "," : "", (unsigned long long)d->bucket_counts[b]);
                        putchar('\n');
                    }
                }
            }
        }
    }
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
        req, NULL);
    return 0;
}

int main(void)
{
    unsigned long rec = 0;
    int rc = 0;
    for (;;) {
        size_t len = 0;
        int c, digits = 0;
        while ((c = getchar()) != EOF && c >= '0' && c <= '9') {
            len = len * 10 + (size_t)(c - '0');
            digits++;
        }
        if (c == EOF && digits == 0)
            break;
        if (c != ' ' || digits == 0 || len > (64u << 20)) {
            fprintf(stderr, "otlp_metrics_dump: bad input before record %lu\n", rec);
            return 2;
        }
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf || fread(buf, 1, len, stdin) != len) {
            fprintf(stderr, "otlp_metrics_dump: record %lu is short\n", rec);
            free(buf);
            return 2;
        }
        rc |= dump(buf, len, rec);
        free(buf);
        rec++;
    }
    return rc;
}
