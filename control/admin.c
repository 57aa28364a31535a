/* Admin endpoint. Metric names follow the OpenTelemetry Collector's own telemetry where the
 * meaning is the same (otelcol_receiver_*, otelcol_exporter_*), so existing dashboards and alert
 * rules keep working; linerate-specific counters are linerate_*. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../dataplane/tail_policy.h"
#include "adapt.h"
#include "admin.h"
#include "hostmetrics.h"
#include "linerate/batcher.h"
#include "linerate/clock.h"
#include "linerate/error.h"
#include "linerate/http1.h"
#include "linerate/spool.h"
#include "sampling_api.h"

struct admin_conn {
    struct lr_cp_ev ev;
    struct lr_cp_admin *a;
    int fd;
    struct lr_http1_conn *h;
    struct admin_conn *prev, *next;
};

struct lr_cp_admin {
    struct lr_cp_ev ev;
    struct lr_cp_state *st;
    int epfd, lfd;
    struct lr_http1_limits limits;
    struct lr_http_handler handler;
    struct admin_conn *conns;
    char *body; /* the last response body (the engine copies it) */
};

/* ---- /metrics ----------------------------------------------------------------------------------
 */

static const char *const sig_names[LR_SIG_COUNT] = { "traces", "metrics", "logs" };
static const char *const item_suffix[LR_SIG_COUNT] = { "spans", "metric_points", "log_records" };
static const char *const item_what[LR_SIG_COUNT] = { "spans", "metric points", "log records" };

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Tail sampling, with the Collector's tail_sampling processor names where they exist. */
static void tail_metrics(FILE *f, const struct lr_cp_state *st, uint32_t nw)
{
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } rows[] = {
        { "otelcol_processor_tail_sampling_new_trace_id_received", "counter",
          "Counts the arrival of new traces.", offsetof(struct lr_worker_stats, tail_new_traces) },
        { "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early", "counter",
          "Count of traces that needed to be decided before decision_wait (num_traces reached); "
          "linerate decides them with the spans it has.",
          offsetof(struct lr_worker_stats, tail_early) },
        { "otelcol_processor_tail_sampling_sampling_traces_on_memory", "gauge",
          "Tracks the number of traces current on memory.",
          offsetof(struct lr_worker_stats, tail_held) },
        { "linerate_tail_sampling_bytes_on_memory", "gauge",
          "Bytes of the spans waiting for a tail-sampling decision.",
          offsetof(struct lr_worker_stats, tail_held_bytes) },
        { "linerate_tail_sampling_routed_total", "counter",
          "Trace pieces sent to the worker owning their trace id.",
          offsetof(struct lr_worker_stats, tail_routed) },
        { "linerate_tail_sampling_route_full_total", "counter",
          "Requests refused because a ring to another worker was full.",
          offsetof(struct lr_worker_stats, tail_route_full) },
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        uint64_t v = 0;
        for (uint32_t i = 0; i < nw; i++)
            v += lr_stat_get(
                (const lr_counter *)((const char *)lr_dp_workers_info(st->workers, i)->stats +
                                     rows[r].off));
        family(f, rows[r].name, rows[r].type, rows[r].help);
        fprintf(f, "%s %llu\n", rows[r].name, (unsigned long long)v);
    }
    uint64_t d[2] = { 0, 0 }, sp[2] = { 0, 0 }, late[2] = { 0, 0 };
    for (uint32_t i = 0; i < nw; i++) {
        const struct lr_worker_stats *ws = lr_dp_workers_info(st->workers, i)->stats;
        d[0] += lr_stat_get(&ws->tail_not_sampled);
        d[1] += lr_stat_get(&ws->tail_sampled);
        sp[0] += lr_stat_get(&ws->tail_spans_dropped);
        sp[1] += lr_stat_get(&ws->tail_spans_kept);
        late[0] += lr_stat_get(&ws->tail_late_dropped);
        late[1] += lr_stat_get(&ws->tail_late_kept);
    }
    family(f, "otelcol_processor_tail_sampling_global_count_traces_sampled", "counter",
           "Global count of traces sampled by at least one policy.");
    for (int k = 0; k < 2; k++)
        fprintf(f,
                "otelcol_processor_tail_sampling_global_count_traces_sampled{sampled=\"%s\"} "
                "%llu\n",
                k ? "true" : "false", (unsigned long long)d[k]);
    family(f, "otelcol_processor_tail_sampling_count_spans_sampled", "counter",
           "Count of spans that were sampled or not per sampling policy (all policies here).");
    for (int k = 0; k < 2; k++)
        fprintf(f, "otelcol_processor_tail_sampling_count_spans_sampled{sampled=\"%s\"} %llu\n",
                k ? "true" : "false", (unsigned long long)sp[k]);
    family(f, "linerate_tail_sampling_late_spans_total", "counter",
           "Spans that arrived after their trace was decided, by the decision they followed.");
    for (int k = 0; k < 2; k++)
        fprintf(f, "linerate_tail_sampling_late_spans_total{sampled=\"%s\"} %llu\n",
                k ? "true" : "false", (unsigned long long)late[k]);
    const struct lr_sampling_set *set = atomic_load(&lr_dp_workers_sampling(st->workers)->cur);
    const struct lr_tail_policies *pol = set ? set->tail : NULL;
    if (!pol)
        return;
    family(f, "otelcol_processor_tail_sampling_count_traces_sampled", "counter",
           "Count of traces that were sampled or not per sampling policy.");
    for (size_t i = 0; i < lr_dp_tail_policies_count(pol); i++) {
        uint64_t yes, no;
        lr_dp_tail_policy_counts(pol, i, &yes, &no);
        /* A label value escapes backslash, double quote and newline (Prometheus text format). */
        char n[512];
        size_t k = 0;
        for (const char *c = lr_dp_tail_policy_name(pol, i); *c && k + 3 < sizeof(n); c++) {
            if (*c == '\\' || *c == '"' || *c == '\n')
                n[k++] = '\\';
            n[k++] = *c == '\n' ? 'n' : *c;
        }
        n[k] = '\0';
        for (int v = 1; v >= 0; v--)
            fprintf(f,
                    "otelcol_processor_tail_sampling_count_traces_sampled{policy=\"%s\","
                    "sampled=\"%s\"} %llu\n",
                    n, v ? "true" : "false", (unsigned long long)(v ? yes : no));
    }
}

/* Anomaly scoring (anomaly.enabled): the workers' feature counters and the batcher's. */
static void anomaly_metrics(FILE *f, const struct lr_cp_state *st, uint32_t nw)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } wk[] = {
        { "linerate_anomaly_spans_total", "Spans counted into an anomaly series.",
          offsetof(struct lr_worker_stats, anom_spans) },
        { "linerate_anomaly_overflow_spans_total",
          "Spans not counted: their series did not fit a worker's table (anomaly.max_series).",
          offsetof(struct lr_worker_stats, anom_overflow) },
        { "linerate_anomaly_windows_total", "Worker windows handed to the batcher.",
          offsetof(struct lr_worker_stats, anom_windows) },
        { "linerate_anomaly_windows_lost_total",
          "Worker windows dropped: the batcher's ring was full (or no memory).",
          offsetof(struct lr_worker_stats, anom_windows_lost) },
        { "linerate_anomaly_kept_spans_total",
          "Spans the head sampler dropped and an open anomaly kept (anomaly.keep_percent).",
          offsetof(struct lr_worker_stats, anom_kept) },
    };
    for (size_t k = 0; k < sizeof(wk) / sizeof(wk[0]); k++) {
        uint64_t sum = 0;
        for (uint32_t i = 0; i < nw; i++) {
            const struct lr_worker_stats *ws = lr_dp_workers_info(st->workers, i)->stats;
            sum += lr_stat_get((const lr_counter *)((const char *)ws + wk[k].off));
        }
        family(f, wk[k].name, "counter", wk[k].help);
        fprintf(f, "%s %llu\n", wk[k].name, (unsigned long long)sum);
    }
    const struct lr_gpu_batcher_stats *b = lr_gpu_batcher_stats(st->batcher);
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } bt[] = {
        { "linerate_anomaly_ticks_total", "counter", "Windows scored.",
          offsetof(struct lr_gpu_batcher_stats, ticks) },
        { "linerate_anomaly_series", "gauge", "Series holding a detector slot.",
          offsetof(struct lr_gpu_batcher_stats, series) },
        { "linerate_anomaly_open", "gauge", "Series open (flagged, or in their rest period) now.",
          offsetof(struct lr_gpu_batcher_stats, open) },
        { "linerate_anomaly_opened_total", "counter", "Anomaly openings.",
          offsetof(struct lr_gpu_batcher_stats, opened) },
        { "linerate_anomaly_closed_total", "counter", "Anomaly closings.",
          offsetof(struct lr_gpu_batcher_stats, closed) },
        { "linerate_anomaly_overflow_series_total", "counter",
          "Series-windows not scored: every detector slot was taken (anomaly.max_series).",
          offsetof(struct lr_gpu_batcher_stats, overflow_series) },
        { "linerate_anomaly_evicted_series_total", "counter",
          "Series forgotten after anomaly.idle_windows windows without a span.",
          offsetof(struct lr_gpu_batcher_stats, evicted) },
        { "linerate_anomaly_late_windows_total", "counter",
          "Worker windows that arrived after their window was scored (dropped).",
          offsetof(struct lr_gpu_batcher_stats, late_windows) },
        { "linerate_anomaly_checks_total", "counter",
          "Series-checks done: detector rows in all launches.",
          offsetof(struct lr_gpu_batcher_stats, rows) },
        { "linerate_anomaly_step_errors_total", "counter",
          "Detector launches that failed (their window's scores are lost).",
          offsetof(struct lr_gpu_batcher_stats, step_errors) },
        { "linerate_anomaly_events_lost_total", "counter",
          "Anomaly event records dropped: the output ring was full.",
          offsetof(struct lr_gpu_batcher_stats, events_lost) },
        { "linerate_anomaly_host_samples_total", "counter",
          "Host-metric series samples handed to the detector (host_metrics.enabled).",
          offsetof(struct lr_gpu_batcher_stats, host_samples) },
        { "linerate_anomaly_host_late_total", "counter",
          "Host-metric reads that came after their window was scored (put in the next one).",
          offsetof(struct lr_gpu_batcher_stats, host_late) },
    };
    for (size_t k = 0; k < sizeof(bt) / sizeof(bt[0]); k++) {
        family(f, bt[k].name, bt[k].type, bt[k].help);
        fprintf(f, "%s %llu\n", bt[k].name,
                (unsigned long long)lr_stat_get((const lr_counter *)((const char *)b + bt[k].off)));
    }
    uint64_t cum = 0, launches = lr_stat_get(&b->launches);
    family(f, "linerate_anomaly_batch_size", "histogram", "Series in one detector launch.");
    for (int i = 0; i < LR_GPU_BATCH_BUCKETS; i++) {
        cum += lr_stat_get(&b->batch_size[i]);
        fprintf(f, "linerate_anomaly_batch_size_bucket{le=\"%llu\"} %llu\n",
                (unsigned long long)(1ull << i) - 1, (unsigned long long)cum);
    }
    fprintf(f, "linerate_anomaly_batch_size_bucket{le=\"+Inf\"} %llu\n",
            (unsigned long long)launches);
    fprintf(f, "linerate_anomaly_batch_size_sum %llu\n", (unsigned long long)lr_stat_get(&b->rows));
    fprintf(f, "linerate_anomaly_batch_size_count %llu\n", (unsigned long long)launches);
    cum = 0;
    family(f, "linerate_anomaly_step_seconds", "histogram",
           "Time of one detector launch (all series of a tick, up to anomaly.batch_max_size).");
    for (int i = 0; i < LR_GPU_STEP_BUCKETS; i++) {
        cum += lr_stat_get(&b->step_us[i]);
        fprintf(f, "linerate_anomaly_step_seconds_bucket{le=\"%g\"} %llu\n",
                (double)(1ull << i) / 1e6, (unsigned long long)cum);
    }
    fprintf(f, "linerate_anomaly_step_seconds_bucket{le=\"+Inf\"} %llu\n",
            (unsigned long long)launches);
    fprintf(f, "linerate_anomaly_step_seconds_sum %.9f\n", (double)lr_stat_get(&b->step_ns) / 1e9);
    fprintf(f, "linerate_anomaly_step_seconds_count %llu\n", (unsigned long long)launches);
    family(f, "linerate_anomaly_device_info", "gauge", "The detector's device (anomaly.device).");
    fprintf(f, "linerate_anomaly_device_info{device=\"%s\"} 1\n",
            lr_gpu_batcher_device(st->batcher));
}

void lr_cp_metrics_write(const struct lr_cp_state *st, FILE *f)
{
    uint32_t nw = st->workers ? lr_dp_workers_count(st->workers) : 0;
    char name[128], help[256];
    static const char *const transports[LR_TR_COUNT] = { "http", "grpc" };
    for (int s = 0; s < LR_SIG_COUNT; s++) {
        uint64_t acc[LR_TR_COUNT] = { 0 }, ref[LR_TR_COUNT] = { 0 };
        for (uint32_t i = 0; i < nw; i++) {
            const struct lr_worker_stats *ws = lr_dp_workers_info(st->workers, i)->stats;
            for (int t = 0; t < LR_TR_COUNT; t++) {
                acc[t] += lr_stat_get(&ws->accepted[t][s]);
                ref[t] += lr_stat_get(&ws->refused[t][s]);
            }
        }
        snprintf(name, sizeof(name), "otelcol_receiver_accepted_%s", item_suffix[s]);
        snprintf(help, sizeof(help), "Number of %s successfully pushed into the pipeline.",
                 item_what[s]);
        family(f, name, "counter", help);
        for (int t = 0; t < LR_TR_COUNT; t++)
            fprintf(f, "%s{receiver=\"otlp\",transport=\"%s\"} %llu\n", name, transports[t],
                    (unsigned long long)acc[t]);
        snprintf(name, sizeof(name), "otelcol_receiver_refused_%s", item_suffix[s]);
        snprintf(help, sizeof(help), "Number of %s that could not be pushed into the pipeline.",
                 item_what[s]);
        family(f, name, "counter", help);
        for (int t = 0; t < LR_TR_COUNT; t++)
            fprintf(f, "%s{receiver=\"otlp\",transport=\"%s\"} %llu\n", name, transports[t],
                    (unsigned long long)ref[t]);
    }
    if (st->cfg->tail.enabled && st->workers)
        tail_metrics(f, st, nw);
    if (st->batcher && st->workers)
        anomaly_metrics(f, st, nw);
    /* Head sampling: written while configured on, or once anything was counted (a PUT /sampling
     * may turn it on at run time). */
    uint64_t smp[2] = { 0, 0 }, lsmp[2] = { 0, 0 }, forced = 0;
    for (uint32_t i = 0; i < nw; i++) {
        const struct lr_worker_stats *ws = lr_dp_workers_info(st->workers, i)->stats;
        for (int k = 0; k < 2; k++) {
            smp[k] += lr_stat_get(&ws->sampled[k]);
            lsmp[k] += lr_stat_get(&ws->logs_sampled[k]);
        }
        forced += lr_stat_get(&ws->force_kept);
    }
    if (st->cfg->sampler.enabled || st->cfg->adaptive.enabled || smp[0] || smp[1]) {
        family(f, "otelcol_processor_probabilistic_sampler_count_traces_sampled", "counter",
               "Count of spans that were sampled or not (head sampling, per span).");
        for (int k = 0; k < 2; k++)
            fprintf(f,
                    "otelcol_processor_probabilistic_sampler_count_traces_sampled{policy=\"\","
                    "sampled=\"%s\"} %llu\n",
                    k ? "true" : "false", (unsigned long long)smp[k]);
    }
    if (st->cfg->sampler.logs || lsmp[0] || lsmp[1]) {
        family(f, "otelcol_processor_probabilistic_sampler_count_logs_sampled", "counter",
               "Count of logs that were sampled or not (head sampling, per log record; records "
               "without a trace id count as sampled).");
        for (int k = 0; k < 2; k++)
            fprintf(f,
                    "otelcol_processor_probabilistic_sampler_count_logs_sampled{policy=\"\","
                    "sampled=\"%s\"} %llu\n",
                    k ? "true" : "false", (unsigned long long)lsmp[k]);
    }
    if (st->cfg->adaptive.enabled || forced) {
        family(f, "linerate_sampling_force_kept_total", "counter",
               "Spans the head sampler dropped and the adaptive always-keep rule kept (errors, "
               "slow spans and their traces while the rate is lowered).");
        fprintf(f, "linerate_sampling_force_kept_total %llu\n", (unsigned long long)forced);
    }
    if (st->kafka) {
        const struct lr_output_stats *os = lr_cp_kafka_stats(st->kafka);
        for (int s = 0; s < LR_SIG_COUNT; s++) {
            snprintf(name, sizeof(name), "otelcol_exporter_sent_%s", item_suffix[s]);
            snprintf(help, sizeof(help), "Number of %s successfully sent to destination.",
                     item_what[s]);
            family(f, name, "counter", help);
            fprintf(f, "%s{exporter=\"kafka\"} %llu\n", name,
                    (unsigned long long)lr_stat_get(&os->sent[s]));
            snprintf(name, sizeof(name), "otelcol_exporter_send_failed_%s", item_suffix[s]);
            snprintf(help, sizeof(help), "Number of %s in failed attempts to send to destination.",
                     item_what[s]);
            family(f, name, "counter", help);
            fprintf(f, "%s{exporter=\"kafka\"} %llu\n", name,
                    (unsigned long long)lr_stat_get(&os->send_failed[s]));
        }
        family(f, "otelcol_exporter_queue_size", "gauge",
               "Current size of the retry queue (in batches).");
        fprintf(f, "otelcol_exporter_queue_size{exporter=\"kafka\"} %llu\n",
                (unsigned long long)lr_cp_kafka_queue_size(st->kafka));
        family(f, "otelcol_exporter_queue_capacity", "gauge",
               "Fixed capacity of the retry queue (in batches).");
        fprintf(f, "otelcol_exporter_queue_capacity{exporter=\"kafka\"} %llu\n",
                (unsigned long long)nw * st->cfg->workers.queue_size);
        family(f, "linerate_kafka_records_sent_total", "counter",
               "Kafka records acknowledged by the broker.");
        fprintf(f, "linerate_kafka_records_sent_total %llu\n",
                (unsigned long long)lr_stat_get(&os->records_sent));
        family(f, "linerate_kafka_records_failed_total", "counter",
               "Kafka records that failed permanently.");
        fprintf(f, "linerate_kafka_records_failed_total %llu\n",
                (unsigned long long)lr_stat_get(&os->records_failed));
        family(f, "linerate_kafka_connected", "gauge", "1 once a Kafka broker has answered.");
        fprintf(f, "linerate_kafka_connected %d\n", lr_cp_kafka_connected(st->kafka) ? 1 : 0);
        static const char *const states[] = { "connected", "backing_off", "open" };
        family(f, "linerate_kafka_state", "gauge",
               "The producer's state: connected, backing_off (deliveries failing, retrying), open "
               "(circuit open: every broker down).");
        for (int i = 0; i < 3; i++)
            fprintf(f, "linerate_kafka_state{state=\"%s\"} %d\n", states[i],
                    lr_cp_kafka_state(st->kafka) == i ? 1 : 0);
        family(f, "linerate_kafka_producer_restarts_total", "counter",
               "Producers replaced after a fatal error (the spool was replayed).");
        fprintf(f, "linerate_kafka_producer_restarts_total %llu\n",
                (unsigned long long)lr_cp_kafka_restarts(st->kafka));
        family(f, "linerate_kafka_records_retried_total", "counter",
               "Kafka records produced again after a retryable delivery error.");
        fprintf(f, "linerate_kafka_records_retried_total %llu\n",
                (unsigned long long)lr_stat_get(&os->retried));
    }
    if (st->workers) {
        bool head;
        double rate = lr_cp_sampling_rate_pct(lr_dp_workers_sampling(st->workers), &head);
        lr_cp_adapt_metrics_write(st->adapt, head, rate, f);
    }
    if (st->spools) {
#define PER_SPOOL(metric, type, help, expr)                     \
    do {                                                        \
        family(f, metric, type, help);                          \
        for (uint32_t i = 0; i < st->n_spools; i++)             \
            fprintf(f, "%s{worker=\"%u\"} %llu\n", metric, i,   \
                    (unsigned long long)(expr(st->spools[i]))); \
    } while (0)
        PER_SPOOL("linerate_spool_bytes", "gauge", "Bytes in the worker's spool segment files.",
                  lr_cp_spool_used_bytes);
        PER_SPOOL("linerate_spool_segments", "gauge", "Segment files in the worker's spool.",
                  lr_cp_spool_segments);
        PER_SPOOL("linerate_spool_written_seq", "gauge",
                  "Sequence number of the last record written.", lr_cp_spool_written_seq);
        PER_SPOOL("linerate_spool_durable_seq", "gauge",
                  "Every record up to this sequence number is on disk (fdatasync).",
                  lr_cp_spool_durable_seq);
        PER_SPOOL("linerate_spool_delivered_seq", "gauge",
                  "Every record below this sequence number is in Kafka.",
                  lr_cp_spool_delivered_below);
        PER_SPOOL("linerate_spool_fsyncs_total", "counter", "Group commits (fdatasync calls).",
                  lr_cp_spool_fsyncs);
        PER_SPOOL("linerate_spool_read_errors_total", "counter",
                  "Records found damaged when read back for Kafka.", lr_cp_spool_read_errors);
#undef PER_SPOOL
        static const char *const modes[2] = { "spool", "kafka" };
        family(f, "linerate_ack_latency_seconds", "histogram",
               "From a request's records written to the spool to its answer being released: "
               "fdatasync (mode=spool) or Kafka's acknowledgement (mode=kafka).");
        for (int m = 0; m < 2; m++) {
            uint64_t cum = 0;
            for (int b = 0; b < LR_LAT_BUCKETS; b++) {
                for (uint32_t i = 0; i < nw; i++)
                    cum +=
                        lr_stat_get(&lr_dp_workers_info(st->workers, i)->stats->ack_latency[m][b]);
                if (b == LR_LAT_BUCKETS - 1)
                    fprintf(f,
                            "linerate_ack_latency_seconds_bucket{mode=\"%s\",le=\"+Inf\"} %llu\n",
                            modes[m], (unsigned long long)cum);
                else
                    fprintf(f, "linerate_ack_latency_seconds_bucket{mode=\"%s\",le=\"%g\"} %llu\n",
                            modes[m], (double)(1ull << b) / 1e6, (unsigned long long)cum);
            }
            fprintf(f, "linerate_ack_latency_seconds_count{mode=\"%s\"} %llu\n", modes[m],
                    (unsigned long long)cum);
        }
    }

#define PER_WORKER(metric, type, help, expr)                                                       \
    do {                                                                                           \
        family(f, metric, type, help);                                                             \
        for (uint32_t i = 0; i < nw; i++) {                                                        \
            const struct lr_dp_worker_info *wi = lr_dp_workers_info(st->workers, i);               \
            const struct lr_worker_stats *ws = wi->stats;                                          \
            (void)ws;                                                                              \
            fprintf(f, "%s{worker=\"%u\",cpu=\"%d\",numa_node=\"%d\"} %llu\n", metric, i, wi->cpu, \
                    wi->numa_node, (unsigned long long)(expr));                                    \
        }                                                                                          \
    } while (0)

    family(f, "linerate_worker_requests_total", "counter",
           "OTLP export requests answered 200, per worker and signal.");
    family(f, "linerate_worker_items_accepted_total", "counter",
           "Items accepted, per worker and signal.");
    for (uint32_t i = 0; i < nw; i++) {
        const struct lr_dp_worker_info *wi = lr_dp_workers_info(st->workers, i);
        for (int s = 0; s < LR_SIG_COUNT; s++) {
            fprintf(f,
                    "linerate_worker_requests_total{worker=\"%u\",cpu=\"%d\",signal=\"%s\"} %llu\n",
                    i, wi->cpu, sig_names[s],
                    (unsigned long long)(lr_stat_get(&wi->stats->requests[LR_TR_HTTP][s]) +
                                         lr_stat_get(&wi->stats->requests[LR_TR_GRPC][s])));
            fprintf(f,
                    "linerate_worker_items_accepted_total{worker=\"%u\",cpu=\"%d\",signal=\"%s\"} "
                    "%llu\n",
                    i, wi->cpu, sig_names[s],
                    (unsigned long long)(lr_stat_get(&wi->stats->accepted[LR_TR_HTTP][s]) +
                                         lr_stat_get(&wi->stats->accepted[LR_TR_GRPC][s])));
        }
    }
    PER_WORKER("linerate_worker_bad_requests_total", "counter", "Requests answered 4xx.",
               lr_stat_get(&ws->bad_requests));
    PER_WORKER("linerate_worker_overloaded_total", "counter",
               "Requests refused with a retryable error: output queue or spool full, or out of "
               "memory.",
               lr_stat_get(&ws->overloaded));
    PER_WORKER("linerate_worker_spool_full_total", "counter",
               "Requests refused (retryable) because the spool was at its high watermark.",
               lr_stat_get(&ws->spool_full));
    PER_WORKER("linerate_worker_spool_errors_total", "counter",
               "Requests refused (retryable) because the spool write failed (disk full, I/O "
               "error).",
               lr_stat_get(&ws->spool_errors));
    PER_WORKER("linerate_worker_connections_accepted_total", "counter", "TCP connections accepted.",
               lr_stat_get(&ws->conns_accepted));
    PER_WORKER("linerate_worker_connections_open", "gauge", "TCP connections open.",
               lr_stat_get(&ws->conns_open));
    PER_WORKER("linerate_worker_received_bytes_total", "counter", "Bytes received.",
               lr_stat_get(&ws->bytes_in));
    PER_WORKER("linerate_worker_sent_bytes_total", "counter", "Bytes sent.",
               lr_stat_get(&ws->bytes_out));
    PER_WORKER("linerate_worker_queue_depth", "gauge",
               "Records waiting in the worker's ring to the output thread.",
               lr_ring_count(wi->ring));
    if (st->cfg->dp.mode == LR_DP_MODE_DPDK) {
        /* The userspace TCP path, per worker (lcore); drops by reason in one family. */
        static const struct {
            const char *name, *type, *help;
            enum lr_dp_counter k;
        } dpm[] = {
            { "linerate_dp_rx_packets_total", "counter", "Frames received on the port queue.",
              LR_DPC_RX_PKTS },
            { "linerate_dp_rx_bytes_total", "counter", "Bytes received on the port queue.",
              LR_DPC_RX_BYTES },
            { "linerate_dp_tx_packets_total", "counter", "Frames sent on the port queue.",
              LR_DPC_TX_PKTS },
            { "linerate_dp_tx_bytes_total", "counter", "Bytes sent on the port queue.",
              LR_DPC_TX_BYTES },
            { "linerate_dp_rx_checksum_offloaded_total", "counter",
              "Frames whose IPv4 and TCP checksums the port verified (RX offload).",
              LR_DPC_RX_CSUM_OFFLOADED },
            { "linerate_dp_tx_checksum_offloaded_total", "counter",
              "Frames sent with their IPv4 and TCP checksums left to the port (TX offload).",
              LR_DPC_TX_CSUM_OFFLOADED },
            { "linerate_dp_arp_requests_total", "counter", "ARP requests for our address.",
              LR_DPC_ARP_REQUESTS_IN },
            { "linerate_dp_icmp_echo_total", "counter", "ICMP echo requests answered.",
              LR_DPC_ICMP_ECHO },
            { "linerate_dp_tcp_segments_in_total", "counter", "TCP segments received.",
              LR_DPC_TCP_SEGS_IN },
            { "linerate_dp_tcp_segments_out_total", "counter", "TCP segments sent.",
              LR_DPC_TCP_SEGS_OUT },
            { "linerate_dp_tcp_connections_opened_total", "counter", "TCP connections established.",
              LR_DPC_CONNS_OPENED },
            { "linerate_dp_tcp_connections_reset_total", "counter", "TCP connections reset.",
              LR_DPC_CONNS_RESET },
            { "linerate_dp_tcp_connections", "gauge", "TCP connections in the table.",
              LR_DPC_CONNS_OPEN },
            { "linerate_dp_tcp_retransmits_total", "counter", "Segments sent again.",
              LR_DPC_RETRANSMITS },
            { "linerate_dp_tcp_syn_cookies_sent_total", "counter",
              "SYN-ACKs with a SYN cookie (SYN queue full).", LR_DPC_SYN_COOKIES_SENT },
            { "linerate_dp_tcp_syn_cookies_ok_total", "counter",
              "Connections opened from a valid SYN cookie.", LR_DPC_SYN_COOKIES_OK },
            { "linerate_dp_tcp_zero_windows_total", "counter",
              "Times the receive window closed (the pipeline pushed back).", LR_DPC_ZERO_WINDOWS },
            { "linerate_dp_tcp_challenge_acks_total", "counter", "RFC 5961 challenge ACKs sent.",
              LR_DPC_CHALLENGE_ACKS },
            { "linerate_dp_busy_cycles_total", "counter",
              "TSC cycles the worker spent in loop passes that received frames or ran timers.",
              LR_DPC_BUSY_CYCLES },
            { "linerate_dp_busy_passes_total", "counter", "Those loop passes.",
              LR_DPC_BUSY_PASSES },
        };
        for (size_t k = 0; k < sizeof(dpm) / sizeof(dpm[0]); k++)
            PER_WORKER(dpm[k].name, dpm[k].type, dpm[k].help, lr_stat_get(&ws->dp[dpm[k].k]));
        static const char *const reasons[] = {
            "tx_no_mbuf",        "not_ours",       "bad_frame",      "ipv6",
            "ip_header",         "ip_checksum",    "ip_fragment",    "other_protocol",
            "no_route",          "arp_unresolved", "tcp_checksum",   "tcp_header",
            "tcp_out_of_window", "tcp_paws",       "tcp_ooo_memory", "tcp_table_full",
        };
        _Static_assert(sizeof(reasons) / sizeof(reasons[0]) == LR_DPC_COUNT - LR_DPC_FIRST_DROP,
                       "one reason per drop counter");
        family(f, "linerate_dp_drops_total", "counter",
               "Packets dropped on the userspace TCP path, by reason.");
        for (uint32_t i = 0; i < nw; i++) {
            const struct lr_dp_worker_info *wi = lr_dp_workers_info(st->workers, i);
            for (size_t r = 0; r < sizeof(reasons) / sizeof(reasons[0]); r++)
                fprintf(f, "linerate_dp_drops_total{worker=\"%u\",reason=\"%s\"} %llu\n", i,
                        reasons[r],
                        (unsigned long long)lr_stat_get(&wi->stats->dp[LR_DPC_FIRST_DROP + r]));
        }
    }
#undef PER_WORKER
    family(f, "linerate_ready", "gauge", "1 while accepting OTLP traffic.");
    fprintf(f, "linerate_ready %d\n", atomic_load(&((struct lr_cp_state *)st)->ready) ? 1 : 0);
    family(f, "linerate_uptime_seconds", "gauge", "Seconds since start.");
    fprintf(f, "linerate_uptime_seconds %.3f\n", (double)(lr_mono_ns() - st->start_ns) / 1e9);
    if (st->host)
        lr_cp_host_metrics_write(st->host, f);
}

/* ---- HTTP -------------------------------------------------------------------------------------
 */

static void set_body(struct lr_cp_admin *a, struct lr_http_resp *resp, char *body, size_t len)
{
    free(a->body);
    a->body = body;
    resp->body = lr_slice_make(body, len);
}

static void on_request(void *ctx, const struct lr_http_req *req, struct lr_http_resp *resp)
{
    struct lr_cp_admin *a = ctx;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        resp->status = 500;
        return;
    }
    bool get = lr_slice_eq(req->method, "GET") || lr_slice_eq(req->method, "HEAD");
    resp->content_type = "text/plain; charset=utf-8";
    if (!get && (lr_slice_eq(req->path, "/health") || lr_slice_eq(req->path, "/ready") ||
                 lr_slice_eq(req->path, "/metrics"))) {
        resp->status = 405;
        resp->extra_headers = "Allow: GET, HEAD\r\n";
        fprintf(f, "method not allowed\n");
    } else if (lr_slice_eq(req->path, "/health")) {
        resp->status = 200;
        resp->content_type = "application/json";
        fprintf(f, "{\"status\":\"Server available\",\"uptime_s\":%.3f}\n",
                (double)(lr_mono_ns() - a->st->start_ns) / 1e9);
    } else if (lr_slice_eq(req->path, "/ready")) {
        bool ready = atomic_load(&a->st->ready);
        bool kafka = a->st->kafka && lr_cp_kafka_connected(a->st->kafka);
        resp->status = ready ? 200 : 503;
        resp->content_type = "application/json";
        fprintf(f, "{\"ready\":%s,\"kafka_connected\":%s}\n", ready ? "true" : "false",
                kafka ? "true" : "false");
    } else if (lr_slice_eq(req->path, "/sampling") && a->st->sampling) {
        resp->content_type = "application/json";
        if (get) {
            resp->status = 200;
            lr_cp_sampling_get(a->st->sampling, f);
        } else if (lr_slice_eq(req->method, "PUT")) {
            struct lr_slice auth = { 0 };
            for (uint32_t i = 0; i < req->n_headers; i++)
                if (req->headers[i].name.len == 13 &&
                    strncasecmp((const char *)req->headers[i].name.p, "authorization", 13) == 0)
                    auth = req->headers[i].value;
            resp->status = lr_cp_sampling_put(a->st->sampling, (const char *)auth.p, auth.len,
                                              req->body.p, req->body.len, f);
            if (resp->status == 401)
                resp->extra_headers = "WWW-Authenticate: Bearer\r\n";
        } else {
            resp->status = 405;
            resp->extra_headers = "Allow: GET, HEAD, PUT\r\n";
            fprintf(f, "{\"error\":\"method not allowed\"}\n");
        }
    } else if (lr_slice_eq(req->path, "/anomalies")) {
        resp->content_type = "application/json";
        if (!get) {
            resp->status = 405;
            resp->extra_headers = "Allow: GET, HEAD\r\n";
            fprintf(f, "{\"error\":\"method not allowed\"}\n");
        } else if (!a->st->batcher) {
            resp->status = 404;
            fprintf(f, "{\"error\":\"anomaly scoring is off (anomaly.enabled)\"}\n");
        } else {
            resp->status = 200;
            lr_gpu_batcher_write_open(a->st->batcher, f);
        }
    } else if (lr_slice_eq(req->path, "/metrics")) {
        resp->status = 200;
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        lr_cp_metrics_write(a->st, f);
    } else {
        resp->status = 404;
        fprintf(f, "not found; try /health, /ready, /metrics, /sampling or /anomalies\n");
    }
    fclose(f);
    set_body(a, resp, buf, lr_slice_eq(req->method, "HEAD") ? 0 : len);
}

static void on_error(void *ctx, const struct lr_http_req *req, int err, const char *reason,
                     struct lr_http_resp *resp)
{
    (void)req;
    struct lr_cp_admin *a = ctx;
    char *msg = NULL;
    if (asprintf(&msg, "%s\n", reason ? reason : lr_err_name(err)) < 0)
        return;
    resp->content_type = "text/plain; charset=utf-8";
    set_body(a, resp, msg, strlen(msg));
}

static void conn_close(struct admin_conn *c)
{
    struct lr_cp_admin *a = c->a;
    epoll_ctl(a->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    lr_http1_conn_free(c->h);
    if (c->prev)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

static void conn_flush(struct admin_conn *c)
{
    for (;;) {
        struct lr_slice out = lr_http1_conn_output(c->h);
        if (out.len == 0)
            break;
        ssize_t k = send(c->fd, out.p, out.len, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EAGAIN)
            break;
        if (k < 0) {
            conn_close(c);
            return;
        }
        lr_http1_conn_output_consumed(c->h, (size_t)k);
    }
    size_t left = lr_http1_conn_output(c->h).len;
    if (left == 0 && lr_http1_conn_closing(c->h)) {
        conn_close(c);
        return;
    }
    struct epoll_event ev = { .events = EPOLLIN | (left ? EPOLLOUT : 0), .data.ptr = &c->ev };
    epoll_ctl(c->a->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_event(struct lr_cp_ev *self, uint32_t events)
{
    struct admin_conn *c = (struct admin_conn *)self;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        uint8_t buf[16384];
        ssize_t k = recv(c->fd, buf, sizeof(buf), 0);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
            lr_http1_conn_eof(c->h);
            if (lr_http1_conn_output(c->h).len == 0) {
                conn_close(c);
                return;
            }
        } else if (k > 0) {
            lr_http1_conn_feed(c->h, buf, (size_t)k, lr_mono_ns());
        }
    }
    conn_flush(c);
}

static void listener_event(struct lr_cp_ev *self, uint32_t events)
{
    (void)events;
    struct lr_cp_admin *a = (struct lr_cp_admin *)self;
    for (;;) {
        int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct admin_conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->ev.on_event = conn_event;
        c->a = a;
        c->fd = fd;
        c->h = lr_http1_conn_new(&a->limits, &a->handler, lr_mono_ns());
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->ev };
        if (!c->h || epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            lr_http1_conn_free(c->h);
            free(c);
            close(fd);
            continue;
        }
        c->next = a->conns;
        if (a->conns)
            a->conns->prev = c;
        a->conns = c;
    }
}

struct lr_cp_admin *lr_cp_admin_start(struct lr_cp_state *st, int epfd, char *errstr, size_t errlen)
{
    struct lr_cp_admin *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    a->ev.on_event = listener_event;
    a->st = st;
    a->epfd = epfd;
    a->limits = (struct lr_http1_limits){
        .max_header_bytes = 16384,
        .max_headers = 64,
        .max_body_bytes = 65536,
        .header_timeout_ns = 10ull * 1000000000ull,
        .idle_timeout_ns = 60ull * 1000000000ull,
        .body_timeout_ns = 10ull * 1000000000ull,
    };
    a->handler =
        (struct lr_http_handler){ .on_request = on_request, .on_error = on_error, .ctx = a };
    struct addrinfo hints = { .ai_family = AF_UNSPEC,
                              .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", st->cfg->admin.port);
    int rc = getaddrinfo(st->cfg->admin.host, port, &hints, &res);
    if (rc != 0) {
        snprintf(errstr, errlen, "admin.endpoint %s:%s: %s", st->cfg->admin.host, port,
                 gai_strerror(rc));
        free(a);
        return NULL;
    }
    a->lfd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (a->lfd >= 0)
        setsockopt(a->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &a->ev };
    if (a->lfd < 0 || bind(a->lfd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(a->lfd, 128) != 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, a->lfd, &ev) != 0) {
        snprintf(errstr, errlen, "admin.endpoint: listen on %s:%s: %s", st->cfg->admin.host, port,
                 strerror(errno));
        if (a->lfd >= 0)
            close(a->lfd);
        freeaddrinfo(res);
        free(a);
        return NULL;
    }
    freeaddrinfo(res);
    return a;
}

void lr_cp_admin_tick(struct lr_cp_admin *a, uint64_t t)
{
    struct admin_conn *c = a->conns, *next;
    for (; c; c = next) {
        next = c->next;
        if (lr_http1_conn_tick(c->h, t) < 0 || lr_http1_conn_closing(c->h))
            conn_flush(c);
    }
}

void lr_cp_admin_free(struct lr_cp_admin *a)
{
    if (!a)
        return;
    while (a->conns)
        conn_close(a->conns);
    epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->lfd, NULL);
    close(a->lfd);
    free(a->body);
    free(a);
}
