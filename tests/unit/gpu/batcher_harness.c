#include "batcher_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linerate/batcher.h"
#include "linerate/msg.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"

struct bh {
    struct lr_config cfg;
    struct lr_ring **rings;
    struct lr_ring *host;
    uint32_t n;
    struct lr_anom_rt rt;
    struct lr_gpu_batcher *b;
};

struct bh *bh_new(const struct bh_opts *o, uint64_t start_ns)
{
    struct bh *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    lr_cp_config_defaults(&h->cfg);
    h->cfg.anomaly.enabled = true;
    h->cfg.anomaly.device = 1; /* cpu */
    h->cfg.anomaly.max_series = o->max_series;
    h->cfg.anomaly.window_ms = o->window_ms;
    h->cfg.anomaly.batch_max_wait_ms = o->wait_ms;
    h->cfg.anomaly.idle_windows = o->idle_windows;
    h->cfg.anomaly.batch_max_size = o->batch_max;
    if (o->host_interval_ms) {
        h->cfg.host_metrics.enabled = true;
        h->cfg.host_metrics.interval_ms = o->host_interval_ms;
        h->host = lr_ring_new(64);
    }
    h->n = o->workers;
    h->rings = calloc(o->workers, sizeof(*h->rings));
    for (uint32_t i = 0; h->rings && i < o->workers; i++)
        h->rings[i] = lr_ring_new(64);
    char err[256];
    h->b = lr_gpu_batcher_new(&h->cfg, h->rings, h->n, h->host, &h->rt, start_ns, err, sizeof(err));
    if (!h->b) {
        fprintf(stderr, "bh_new: %s\n", err);
        bh_free(h);
        return NULL;
    }
    return h;
}

void bh_free(struct bh *h)
{
    if (!h)
        return;
    lr_gpu_batcher_free(h->b);
    for (uint32_t i = 0; h->rings && i < h->n; i++) {
        void *m;
        while (h->rings[i] && (m = lr_ring_pop(h->rings[i])))
            free(m);
        lr_ring_free(h->rings[i]);
    }
    free(h->rings);
    void *m;
    while (h->host && (m = lr_ring_pop(h->host)))
        free(m);
    lr_ring_free(h->host);
    lr_cp_config_free(&h->cfg);
    free(h);
}

bool bh_push(struct bh *h, uint32_t w, uint64_t window, const struct lr_feat_entry *e, uint32_t n,
             uint64_t overflow)
{
    struct lr_feat_window *m = malloc(sizeof(*m) + n * sizeof(*e));
    if (!m)
        return false;
    m->worker = w;
    m->window = window;
    m->overflow = overflow;
    m->n = n;
    if (n)
        memcpy(m->e, e, n * sizeof(*e));
    if (!lr_ring_push(h->rings[w], m)) {
        free(m);
        return false;
    }
    return true;
}

bool bh_push_host(struct bh *h, uint64_t window, const struct lr_feat_host_entry *e, uint32_t n)
{
    struct lr_feat_host_window *m = malloc(sizeof(*m) + n * sizeof(*e));
    if (!m || !h->host) {
        free(m);
        return false;
    }
    m->window = window;
    m->n = n;
    if (n)
        memcpy(m->e, e, n * sizeof(*e));
    if (!lr_ring_push(h->host, m)) {
        free(m);
        return false;
    }
    return true;
}

uint64_t bh_poll(struct bh *h, uint64_t now_ns)
{
    return lr_gpu_batcher_poll(h->b, now_ns);
}

uint64_t bh_stat(struct bh *h, const char *name)
{
    const struct lr_gpu_batcher_stats *s = lr_gpu_batcher_stats(h->b);
#define F(m)                   \
    if (strcmp(name, #m) == 0) \
        return lr_stat_get(&s->m);
    F(ticks)
    F(series)
    F(open)
    F(opened)
    F(closed)
    F(overflow_series)
    F(evicted)
    F(late_windows)
    F(worker_overflow)
    F(launches)
    F(rows)
    F(step_errors)
    F(events_lost)
    F(host_samples)
    F(host_late)
#undef F
    return UINT64_MAX;
}

const struct lr_anom_snap *bh_snap(struct bh *h)
{
    return lr_anom_rt_load(&h->rt, 0);
}

char *bh_events(struct bh *h)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    struct lr_msg *m;
    while ((m = lr_ring_pop(lr_gpu_batcher_out(h->b)))) {
        Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *req =
            opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
                NULL, m->len, m->value);
        uint64_t n = 0;
        bool bad = !req || m->signal != LR_SIG_LOGS || m->key_len != 0;
        for (size_t i = 0; req && i < req->n_resource_logs; i++) {
            Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = req->resource_logs[i];
            const char *rs = "", *rh = NULL;
            for (size_t a = 0; rl->resource && a < rl->resource->n_attributes; a++) {
                if (!strcmp(rl->resource->attributes[a]->key, "service.name"))
                    rs = rl->resource->attributes[a]->value->string_value;
                if (!strcmp(rl->resource->attributes[a]->key, "host.name"))
                    rh = rl->resource->attributes[a]->value->string_value;
            }
            for (size_t s = 0; s < rl->n_scope_logs; s++) {
                Opentelemetry__Proto__Logs__V1__ScopeLogs *sl = rl->scope_logs[s];
                for (size_t l = 0; l < sl->n_log_records; l++) {
                    Opentelemetry__Proto__Logs__V1__LogRecord *lr = sl->log_records[l];
                    n++;
                    if (!lr->time_unix_nano || !lr->body)
                        bad = true;
                    fprintf(f, "%s\t%s", rs, sl->scope ? sl->scope->name : "");
                    if (rh)
                        fprintf(f, "\tresource.host.name=%s", rh);
                    for (size_t a = 0; a < lr->n_attributes; a++) {
                        Opentelemetry__Proto__Common__V1__AnyValue *v = lr->attributes[a]->value;
                        fprintf(f, "\t%s=", lr->attributes[a]->key);
                        if (v->value_case ==
                            OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
                            fprintf(f, "%s", v->string_value);
                        else if (v->value_case ==
                                 OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE)
                            fprintf(f, "%g", v->double_value);
                        else if (v->value_case ==
                                 OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE)
                            fprintf(f, "%lld", (long long)v->int_value);
                    }
                    fprintf(f, "\n");
                }
            }
        }
        if (bad || n != m->n_items)
            fprintf(f, "BAD\n");
        if (req)
            opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(
                req, NULL);
        lr_msg_free(m);
    }
    fclose(f);
    return buf;
}

void bh_bytes_free(void *p)
{
    free(p);
}

char *bh_open_json(struct bh *h)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    lr_gpu_batcher_write_open(h->b, f);
    fclose(f);
    return buf;
}
