/* Kafka output. Records are what the OpenTelemetry Collector's kafka exporter writes with
 * `encoding: otlp_proto`: the value is a serialized Export*ServiceRequest, traces keyed by the
 * trace id in lowercase hex (partition_traces_by_id). Keyed records are partitioned with
 * librdkafka's `fnv1a_random`, which is Sarama's hash partitioner (the Collector's), so a trace
 * lands in the same partition whichever of the two wrote it. */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka.h"
#include "linerate/msg.h"

struct lr_cp_kafka {
    const struct lr_config *cfg;
    rd_kafka_t *mock_owner; /* the handle the embedded broker lives in */
    rd_kafka_mock_cluster_t *mock;
    rd_kafka_t *rk;
    rd_kafka_topic_t *topics[LR_SIG_COUNT];
    char brokers[1024];
    struct lr_ring *const *rings;
    uint32_t n_rings;
    pthread_t thread;
    bool started;
    _Atomic bool stop;
    _Atomic uint64_t stop_deadline_ns; /* the output thread gives up on the rest after this */
    uint64_t abandoned;                /* records never handed to librdkafka (stop deadline) */
    _Atomic bool connected;
    _Atomic uint64_t pending_records; /* popped but not yet accepted by librdkafka */
    struct lr_output_stats stats;
    uint64_t last_err_log_ns;
};

static const char *const default_topics[LR_SIG_COUNT] = { "otlp_spans", "otlp_metrics",
                                                          "otlp_logs" };

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *lr_cp_kafka_topic(const struct lr_cp_kafka *k, int signal)
{
    const char *t = signal == LR_SIG_TRACES    ? k->cfg->kafka.topic_traces
                    : signal == LR_SIG_METRICS ? k->cfg->kafka.topic_metrics
                                               : k->cfg->kafka.topic_logs;
    return t[0] ? t : default_topics[signal];
}

/* The opaque carried by each record: signal in the low 2 bits, item count above. */
static void *opaque_of(const struct lr_msg *m)
{
    return (void *)(uintptr_t)((m->n_items << 2) | (uint64_t)m->signal);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *ctx)
{
    (void)rk;
    struct lr_cp_kafka *k = ctx;
    uintptr_t o = (uintptr_t)m->_private;
    int sig = (int)(o & 3);
    uint64_t items = (uint64_t)(o >> 2);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        lr_stat_add(&k->stats.sent[sig], items);
        lr_stat_add(&k->stats.records_sent, 1);
        atomic_store(&k->connected, true);
    } else {
        lr_stat_add(&k->stats.send_failed[sig], items);
        lr_stat_add(&k->stats.records_failed, 1);
        uint64_t t = now_ns();
        if (t - k->last_err_log_ns > 1000000000ull) {
            k->last_err_log_ns = t;
            fprintf(stderr, "linerate: kafka: a %s record (%zu bytes) failed: %s\n",
                    lr_cp_kafka_topic(k, sig), m->len, rd_kafka_err2str(m->err));
        }
    }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *ctx)
{
    (void)rk;
    struct lr_cp_kafka *k = ctx;
    /* librdkafka's own log already reports connection failures (and suppresses repeats). */
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
        err == RD_KAFKA_RESP_ERR__RESOLVE)
        return;
    uint64_t t = now_ns();
    if (t - k->last_err_log_ns > 1000000000ull) {
        k->last_err_log_ns = t;
        fprintf(stderr, "linerate: kafka: %s: %s\n", rd_kafka_err2name(err), reason);
    }
}

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                    size_t errlen)
{
    char e[256];
    if (rd_kafka_conf_set(conf, key, value, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errlen, "exporters.kafka.producer.%s: %s", key, e);
        return -1;
    }
    return 0;
}

static int start_embedded(struct lr_cp_kafka *k, char *errstr, size_t errlen)
{
    char e[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", e, sizeof(e));
    k->mock_owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (!k->mock_owner) {
        snprintf(errstr, errlen, "embedded kafka: %s", e);
        return -1;
    }
    k->mock = rd_kafka_mock_cluster_new(k->mock_owner, 1);
    if (!k->mock) {
        snprintf(errstr, errlen, "embedded kafka: cannot start the mock cluster");
        return -1;
    }
    snprintf(k->brokers, sizeof(k->brokers), "%s", rd_kafka_mock_cluster_bootstraps(k->mock));
    for (int s = 0; s < LR_SIG_COUNT; s++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
            k->mock, lr_cp_kafka_topic(k, s), (int)k->cfg->kafka.embedded_partitions, 1);
        if (err) {
            snprintf(errstr, errlen, "embedded kafka: create topic %s: %s", lr_cp_kafka_topic(k, s),
                     rd_kafka_err2str(err));
            return -1;
        }
    }
    return 0;
}

/* Hands one record to librdkafka. Returns 0 (taken: librdkafka frees the value), 1 when its queue
 * is full (the caller keeps the record and polls), -1 on a permanent error (counted, freed). */
static int produce(struct lr_cp_kafka *k, struct lr_msg *m)
{
    int rc =
        rd_kafka_produce(k->topics[m->signal], RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_FREE, m->value,
                         m->len, m->key_len ? m->key : NULL, m->key_len, opaque_of(m));
    if (rc == 0) {
        m->value = NULL; /* librdkafka owns it now */
        lr_stat_add(&k->stats.produced, 1);
        lr_msg_free(m);
        return 0;
    }
    rd_kafka_resp_err_t err = rd_kafka_last_error();
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return 1;
    lr_stat_add(&k->stats.send_failed[m->signal], m->n_items);
    lr_stat_add(&k->stats.records_failed, 1);
    uint64_t t = now_ns();
    if (t - k->last_err_log_ns > 1000000000ull) {
        k->last_err_log_ns = t;
        fprintf(stderr, "linerate: kafka: cannot produce a %zu-byte %s record: %s\n", m->len,
                lr_cp_kafka_topic(k, m->signal), rd_kafka_err2str(err));
    }
    lr_msg_free(m);
    return -1;
}

static void *output_main(void *arg)
{
    struct lr_cp_kafka *k = arg;
    struct lr_msg *held = NULL; /* a record librdkafka had no room for yet */
    pthread_setname_np(pthread_self(), "lr-output");
    for (;;) {
        bool any = false;
        if (held) {
            if (produce(k, held) == 1) {
                rd_kafka_poll(k->rk, 5); /* librdkafka's queue is full: let it drain */
            } else {
                held = NULL;
                atomic_store(&k->pending_records, 0);
            }
        }
        for (uint32_t i = 0; i < k->n_rings && !held; i++) {
            /* A bounded batch per ring per round keeps the rings fair. */
            for (int j = 0; j < 512; j++) {
                struct lr_msg *m = lr_ring_pop(k->rings[i]);
                if (!m)
                    break;
                any = true;
                if (produce(k, m) == 1) {
                    held = m;
                    atomic_store(&k->pending_records, 1);
                    break;
                }
            }
        }
        rd_kafka_poll(k->rk, any ? 0 : 1);
        if (atomic_load(&k->stop)) {
            bool empty = !held;
            for (uint32_t i = 0; i < k->n_rings && empty; i++)
                if (lr_ring_count(k->rings[i]) > 0)
                    empty = false;
            if (empty)
                break;
            /* Kafka takes nothing (down, or far behind): give up at the deadline rather than
             * hang the shutdown. What is left is counted; the spool (a later step) keeps it. */
            if (now_ns() >= atomic_load(&k->stop_deadline_ns)) {
                struct lr_msg *m;
                if (held) {
                    k->abandoned++;
                    lr_stat_add(&k->stats.send_failed[held->signal], held->n_items);
                    lr_msg_free(held);
                    held = NULL;
                }
                for (uint32_t i = 0; i < k->n_rings; i++)
                    while ((m = lr_ring_pop(k->rings[i]))) {
                        k->abandoned++;
                        lr_stat_add(&k->stats.send_failed[m->signal], m->n_items);
                        lr_msg_free(m);
                    }
                atomic_store(&k->pending_records, 0);
                break;
            }
        }
    }
    return NULL;
}

struct lr_cp_kafka *lr_cp_kafka_start(const struct lr_config *cfg, struct lr_ring *const *rings,
                                      uint32_t n_rings, char *errstr, size_t errlen)
{
    char e[512];
    struct lr_cp_kafka *k = calloc(1, sizeof(*k));
    if (!k) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    k->cfg = cfg;
    k->rings = rings;
    k->n_rings = n_rings;
    if (cfg->kafka.brokers[0])
        snprintf(k->brokers, sizeof(k->brokers), "%s", cfg->kafka.brokers);
    else if (start_embedded(k, errstr, errlen) < 0)
        goto fail;

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Defaults first, then the operator's properties, which win. */
    if (conf_set(conf, "bootstrap.servers", k->brokers, errstr, errlen) < 0 ||
        conf_set(conf, "partitioner", "fnv1a_random", errstr, errlen) < 0 ||
        conf_set(conf, "linger.ms", "5", errstr, errlen) < 0 ||
        conf_set(conf, "acks", "all", errstr, errlen) < 0 ||
        conf_set(conf, "queue.buffering.max.kbytes", "1048576", errstr, errlen) < 0)
        goto fail_conf;
    for (size_t i = 0; i < cfg->kafka.n_producer; i++)
        if (conf_set(conf, cfg->kafka.producer[i].key, cfg->kafka.producer[i].value, errstr,
                     errlen) < 0)
            goto fail_conf;
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (!k->rk) {
        snprintf(errstr, errlen, "kafka: %s", e);
        goto fail_conf;
    }
    for (int s = 0; s < LR_SIG_COUNT; s++) {
        k->topics[s] = rd_kafka_topic_new(k->rk, lr_cp_kafka_topic(k, s), NULL);
        if (!k->topics[s]) {
            snprintf(errstr, errlen, "kafka: topic %s: %s", lr_cp_kafka_topic(k, s),
                     rd_kafka_err2str(rd_kafka_last_error()));
            goto fail;
        }
    }
    /* Ask for metadata once so that /ready and the start-up block can say whether a broker
     * answers; do not block start-up on it for long. */
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(k->rk, 0, k->topics[0], &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_store(&k->connected, true);
        rd_kafka_metadata_destroy(md);
    }
    int rc = pthread_create(&k->thread, NULL, output_main, k);
    if (rc != 0) {
        snprintf(errstr, errlen, "pthread_create: %s", strerror(rc));
        goto fail;
    }
    k->started = true;
    return k;
fail_conf:
    if (!k->rk)
        rd_kafka_conf_destroy(conf);
fail:
    lr_cp_kafka_free(k);
    return NULL;
}

const char *lr_cp_kafka_brokers(const struct lr_cp_kafka *k)
{
    return k->brokers;
}

bool lr_cp_kafka_embedded(const struct lr_cp_kafka *k)
{
    return k->mock != NULL;
}

const struct lr_output_stats *lr_cp_kafka_stats(const struct lr_cp_kafka *k)
{
    return &k->stats;
}

bool lr_cp_kafka_connected(const struct lr_cp_kafka *k)
{
    return atomic_load(&((struct lr_cp_kafka *)k)->connected);
}

uint64_t lr_cp_kafka_queue_size(const struct lr_cp_kafka *k)
{
    uint64_t n = (uint64_t)rd_kafka_outq_len(k->rk) +
                 atomic_load(&((struct lr_cp_kafka *)k)->pending_records);
    for (uint32_t i = 0; i < k->n_rings; i++)
        n += lr_ring_count(k->rings[i]);
    return n;
}

uint64_t lr_cp_kafka_stop(struct lr_cp_kafka *k, uint32_t flush_ms)
{
    uint64_t deadline = now_ns() + (uint64_t)flush_ms * 1000000ull;
    if (k->started) {
        atomic_store(&k->stop_deadline_ns, deadline);
        atomic_store(&k->stop, true);
        pthread_join(k->thread, NULL);
        k->started = false;
    }
    uint64_t t = now_ns();
    rd_kafka_flush(k->rk, t < deadline ? (int)((deadline - t) / 1000000ull) : 0);
    int left = rd_kafka_outq_len(k->rk);
    return k->abandoned + (left > 0 ? (uint64_t)left : 0);
}

void lr_cp_kafka_free(struct lr_cp_kafka *k)
{
    if (!k)
        return;
    if (k->started)
        lr_cp_kafka_stop(k, 0);
    for (int s = 0; s < LR_SIG_COUNT; s++)
        if (k->topics[s])
            rd_kafka_topic_destroy(k->topics[s]);
    if (k->rk) {
        rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(k->rk, 0);
        rd_kafka_destroy(k->rk);
    }
    if (k->mock)
        rd_kafka_mock_cluster_destroy(k->mock);
    if (k->mock_owner)
        rd_kafka_destroy(k->mock_owner);
    free(k);
}
