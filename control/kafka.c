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
#include <unistd.h>

#include "kafka.h"
#include "linerate/clock.h"
#include "linerate/msg.h"
#include "linerate/spool.h"

#define NO_SPOOL UINT32_MAX
#define OPEN_PROBE_RECORDS 256u /* in flight while the circuit is open (all brokers down) */
#define REPLACE_DRAIN_MS 5000

/* One record on its way to Kafka: librdkafka borrows `value` (no copy, no free) until the
 * delivery report, whose opaque is the track. */
struct track {
    struct track *next; /* on the retry list */
    uint32_t src;       /* spool index, or NO_SPOOL for a memory-mode record */
    enum lr_signal signal;
    uint64_t seq; /* in that spool */
    uint64_t n_items;
    uint8_t key_len;
    char key[32];
    uint8_t *value; /* owned */
    size_t len;
};

struct lr_cp_kafka {
    const struct lr_config *cfg;
    rd_kafka_t *mock_owner; /* the handle the embedded broker lives in */
    rd_kafka_mock_cluster_t *mock;
    rd_kafka_t *rk;
    rd_kafka_topic_t *topics[LR_SIG_COUNT];
    char brokers[1024];
    struct lr_ring *const *rings;
    uint32_t n_rings;
    struct lr_cp_spool *const *spools; /* borrowed; the output thread is their only reader */
    uint32_t n_spools;
    const int *notify_fds; /* per worker (the first n_rings spools): answers held for Kafka */
    bool notify;           /* some receiver acknowledges in kafka mode */
    uint64_t *notified;    /* per spool: the delivered watermark last told to its worker */
    rd_kafka_conf_t *conf; /* a template: each producer gets a copy (fresh after a fatal error) */
    struct track *held;    /* librdkafka's queue was full for it: produced first */
    struct track *retry, *retry_tail; /* failed with a retryable error: produced again */
    uint64_t retry_at_ns;             /* not before this (backoff) */
    uint32_t backoff_ms;
    uint64_t in_flight; /* tracks librdkafka holds */
    bool replacing;     /* tearing down a producer after a fatal error */
    _Atomic bool fatal;
    _Atomic int state; /* enum lr_cp_kafka_state */
    _Atomic uint64_t restarts;
    _Atomic uint64_t outq; /* rd_kafka_outq_len, published by the output thread (the producer
                              handle may be replaced under other threads' feet) */
    pthread_t thread;
    bool started;
    _Atomic bool stop;
    _Atomic uint64_t stop_deadline_ns; /* the output thread gives up on the rest after this */
    uint64_t abandoned;                /* records never handed to librdkafka (stop deadline) */
    _Atomic bool connected;
    _Atomic uint64_t pending_records; /* taken from a ring or spool, not yet accepted by
                                         librdkafka (the held record) */
    struct lr_output_stats stats;
    uint64_t last_err_log_ns;
};

static void track_free(struct track *t)
{
    if (!t)
        return;
    free(t->value);
    free(t);
}

static const char *const default_topics[LR_SIG_COUNT] = { "otlp_spans", "otlp_metrics",
                                                          "otlp_logs" };

const char *lr_cp_kafka_topic(const struct lr_cp_kafka *k, int signal)
{
    const char *t = signal == LR_SIG_TRACES    ? k->cfg->kafka.topic_traces
                    : signal == LR_SIG_METRICS ? k->cfg->kafka.topic_metrics
                                               : k->cfg->kafka.topic_logs;
    return t[0] ? t : default_topics[signal];
}

static void log_limited(struct lr_cp_kafka *k, const char *fmt, const char *a, size_t n,
                        const char *b)
{
    uint64_t t = lr_mono_ns();
    if (t - k->last_err_log_ns > 1000000000ull) {
        k->last_err_log_ns = t;
        fprintf(stderr, fmt, a, n, b);
    }
}

static void retry_push(struct lr_cp_kafka *k, struct track *t)
{
    t->next = NULL;
    if (k->retry_tail)
        k->retry_tail->next = t;
    else
        k->retry = t;
    k->retry_tail = t;
}

/* Errors no retry can fix: the record itself is what Kafka refuses. It is counted as failed and
 * logged, and the spool moves on (otherwise one bad record would stop the worker's spool
 * forever). Everything else is retried with backoff, authorization and unknown-topic errors
 * included: an operator can fix those, and the spool holds the data meanwhile. (linerate cuts
 * records to exporters.kafka.max_message_bytes, so a size error means the topic's own
 * max.message.bytes is lower.) */
static bool permanent(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return true;
    default:
        return false;
    }
}

/* A record Kafka will never take: counted, logged, and off the spool. */
static void fail_track(struct lr_cp_kafka *k, struct track *t, rd_kafka_resp_err_t err)
{
    lr_stat_add(&k->stats.send_failed[t->signal], t->n_items);
    lr_stat_add(&k->stats.records_failed, 1);
    log_limited(k, "linerate: kafka: a %s record (%zu bytes) failed for good: %s\n",
                lr_cp_kafka_topic(k, t->signal), t->len, rd_kafka_err2str(err));
    if (t->src != NO_SPOOL)
        lr_cp_spool_delivered(k->spools[t->src], t->seq);
    track_free(t);
}

/* A retryable failure: produced again after a backoff (100 ms doubling to 5 s). */
static void retry_later(struct lr_cp_kafka *k, struct track *t, rd_kafka_resp_err_t err)
{
    lr_stat_add(&k->stats.retried, 1);
    if (atomic_load(&k->state) == LR_CP_KAFKA_CONNECTED)
        atomic_store(&k->state, LR_CP_KAFKA_BACKING_OFF);
    k->backoff_ms = k->backoff_ms ? (k->backoff_ms * 2 > 5000 ? 5000 : k->backoff_ms * 2) : 100;
    k->retry_at_ns = lr_mono_ns() + (uint64_t)k->backoff_ms * 1000000ull;
    log_limited(k, "linerate: kafka: a %s record (%zu bytes) will be retried: %s\n",
                lr_cp_kafka_topic(k, t->signal), t->len, rd_kafka_err2str(err));
    retry_push(k, t);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *ctx)
{
    (void)rk;
    struct lr_cp_kafka *k = ctx;
    struct track *t = m->_private;
    k->in_flight--;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        lr_stat_add(&k->stats.sent[t->signal], t->n_items);
        lr_stat_add(&k->stats.records_sent, 1);
        atomic_store(&k->connected, true);
        atomic_store(&k->state, LR_CP_KAFKA_CONNECTED);
        k->backoff_ms = 0;
        if (t->src != NO_SPOOL)
            lr_cp_spool_delivered(k->spools[t->src], t->seq);
        track_free(t);
        return;
    }
    if (k->replacing || m->err == RD_KAFKA_RESP_ERR__FATAL ||
        m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
        /* The producer is being replaced: a spool record is read again from the spool after the
         * rewind; a memory record is produced again by the new producer. */
        if (t->src != NO_SPOOL)
            track_free(t);
        else
            retry_push(k, t);
        return;
    }
    if (permanent(m->err)) {
        fail_track(k, t, m->err);
        return;
    }
    retry_later(k, t, m->err);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *ctx)
{
    (void)rk;
    struct lr_cp_kafka *k = ctx;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        /* Handled by the output thread: a new producer, and a replay from the spool. */
        atomic_store(&k->fatal, true);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        atomic_store(&k->state, LR_CP_KAFKA_OPEN);
        return;
    }
    /* librdkafka's own log already reports connection failures (and suppresses repeats). */
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__RESOLVE) {
        if (atomic_load(&k->state) == LR_CP_KAFKA_CONNECTED)
            atomic_store(&k->state, LR_CP_KAFKA_BACKING_OFF);
        return;
    }
    uint64_t t = lr_mono_ns();
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

/* Hands one record to librdkafka. Returns 0 (taken), 1 when its queue is full (the caller keeps
 * the track and polls), -1 on a permanent error (counted, logged, freed). */
static int produce(struct lr_cp_kafka *k, struct track *t)
{
    if (k->cfg->kafka.null_sink) {
        /* exporters.null: delivered at once, as a delivery report would say. */
        lr_stat_add(&k->stats.produced, 1);
        lr_stat_add(&k->stats.sent[t->signal], t->n_items);
        lr_stat_add(&k->stats.records_sent, 1);
        if (t->src != NO_SPOOL)
            lr_cp_spool_delivered(k->spools[t->src], t->seq);
        track_free(t);
        return 0;
    }
    if (rd_kafka_produce(k->topics[t->signal], RD_KAFKA_PARTITION_UA, 0, t->value, t->len,
                         t->key_len ? t->key : NULL, t->key_len, t) == 0) {
        k->in_flight++;
        lr_stat_add(&k->stats.produced, 1);
        return 0;
    }
    rd_kafka_resp_err_t err = rd_kafka_last_error();
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return 1;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        atomic_store(&k->fatal, true);
        if (t->src == NO_SPOOL)
            retry_push(k, t);
        else
            track_free(t);
        return 0;
    }
    if (permanent(err)) {
        fail_track(k, t, err);
        return -1;
    }
    /* Unknown topic or partition (metadata not there yet, topic being re-created): later. */
    retry_later(k, t, err);
    return 0;
}

static struct track *track_of_msg(struct lr_msg *m)
{
    struct track *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->src = NO_SPOOL;
    t->signal = m->signal;
    t->n_items = m->n_items;
    t->key_len = (uint8_t)m->key_len;
    memcpy(t->key, m->key, m->key_len);
    t->value = m->value;
    t->len = m->len;
    m->value = NULL;
    lr_msg_free(m);
    return t;
}

static struct track *track_of_spool(uint32_t src, struct lr_cp_spool_msg *m)
{
    struct track *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->src = src;
    t->seq = m->seq;
    t->signal = m->signal;
    t->n_items = m->n_items;
    t->key_len = m->key_len;
    memcpy(t->key, m->key, m->key_len);
    t->value = m->value;
    t->len = m->len;
    return t;
}

static int make_producer(struct lr_cp_kafka *k, char *errstr, size_t errlen)
{
    char e[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(k->conf);
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (!k->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errlen, "kafka: %s", e);
        return -1;
    }
    for (int s = 0; s < LR_SIG_COUNT; s++) {
        k->topics[s] = rd_kafka_topic_new(k->rk, lr_cp_kafka_topic(k, s), NULL);
        if (!k->topics[s]) {
            snprintf(errstr, errlen, "kafka: topic %s: %s", lr_cp_kafka_topic(k, s),
                     rd_kafka_err2str(rd_kafka_last_error()));
            return -1;
        }
    }
    return 0;
}

static void destroy_producer(struct lr_cp_kafka *k)
{
    for (int s = 0; s < LR_SIG_COUNT; s++) {
        if (k->topics[s])
            rd_kafka_topic_destroy(k->topics[s]);
        k->topics[s] = NULL;
    }
    if (k->rk) {
        rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(k->rk, 0);
        rd_kafka_destroy(k->rk);
        k->rk = NULL;
    }
}

/* A fatal error (an idempotence sequence the broker refuses, a fenced producer): librdkafka's
 * producer cannot go on. Everything it held goes back: spool records are read again from the
 * spool (rewind to the first one not delivered), memory records are queued again; then a fresh
 * producer starts. What Kafka had already written may come twice: at-least-once. */
static void replace_producer(struct lr_cp_kafka *k)
{
    char reason[512] = "";
    rd_kafka_resp_err_t err = rd_kafka_fatal_error(k->rk, reason, sizeof(reason));
    fprintf(stderr,
            "linerate: kafka: fatal producer error %s: %s; starting a new producer and replaying "
            "from the spool\n",
            rd_kafka_err2name(err), reason);
    k->replacing = true;
    rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    uint64_t deadline = lr_mono_ns() + REPLACE_DRAIN_MS * 1000000ull;
    while (k->in_flight > 0 && lr_mono_ns() < deadline)
        rd_kafka_poll(k->rk, 50);
    destroy_producer(k);
    k->in_flight = 0;
    k->replacing = false;
    /* Spool records waiting to be produced are read again after the rewind. */
    struct track *keep = NULL, *keep_tail = NULL, *t = k->retry, *next;
    for (; t; t = next) {
        next = t->next;
        if (t->src != NO_SPOOL) {
            track_free(t);
            continue;
        }
        t->next = NULL;
        if (keep_tail)
            keep_tail->next = t;
        else
            keep = t;
        keep_tail = t;
    }
    k->retry = keep;
    k->retry_tail = keep_tail;
    if (k->held && k->held->src != NO_SPOOL) {
        track_free(k->held);
        k->held = NULL;
    }
    for (uint32_t i = 0; i < k->n_spools; i++)
        lr_cp_spool_rewind(k->spools[i]);
    char e[512];
    while (make_producer(k, e, sizeof(e)) < 0) {
        fprintf(stderr, "linerate: kafka: cannot start a new producer: %s; retrying\n", e);
        destroy_producer(k);
        if (atomic_load(&k->stop))
            return; /* k->rk stays NULL: the output thread ends, the spool keeps everything */
        struct timespec ts = { 1, 0 };
        nanosleep(&ts, NULL);
    }
    atomic_fetch_add(&k->restarts, 1);
    atomic_store(&k->fatal, false);
}

/* Tells the workers holding answers for Kafka that their spool's delivered watermark moved. */
static void notify_workers(struct lr_cp_kafka *k)
{
    if (!k->notify)
        return;
    for (uint32_t i = 0; i < k->n_spools && i < k->n_rings; i++) {
        uint64_t d = lr_cp_spool_delivered_below(k->spools[i]);
        if (d != k->notified[i] && k->notify_fds[i] >= 0) {
            k->notified[i] = d;
            uint64_t one = 1;
            if (write(k->notify_fds[i], &one, sizeof(one)) < 0) {
                /* EAGAIN: the counter is saturated, the worker wakes anyway */
            }
        }
    }
}

/* One round of the output thread. Returns true when it did something. *drained is set when
 * nothing is left to produce (rings, retries and spools empty) and nothing is in flight. */
static bool output_round(struct lr_cp_kafka *k, bool *drained)
{
    bool any = false, full = false;
    uint64_t t = lr_mono_ns();
    if (k->held) {
        int rc = produce(k, k->held);
        if (rc == 1)
            full = true;
        else
            k->held = NULL, any = true;
    }
    while (!full && k->retry && t >= k->retry_at_ns) {
        struct track *r = k->retry;
        k->retry = r->next;
        if (!k->retry)
            k->retry_tail = NULL;
        if (produce(k, r) == 1) {
            k->held = r;
            full = true;
        }
        any = true;
    }
    /* While every broker is down, keep only a probe's worth in librdkafka: the spool holds the
     * rest, and reads it when a broker answers again. */
    uint64_t cap = atomic_load(&k->state) == LR_CP_KAFKA_OPEN ? OPEN_PROBE_RECORDS : UINT64_MAX;
    for (uint32_t i = 0; i < k->n_rings && !full; i++) {
        /* A bounded batch per source per round keeps them fair. */
        for (int j = 0; j < 512 && k->in_flight < cap; j++) {
            struct lr_msg *m = lr_ring_pop(k->rings[i]);
            if (!m)
                break;
            any = true;
            struct track *tr = track_of_msg(m);
            if (!tr) {
                lr_stat_add(&k->stats.send_failed[m->signal], m->n_items);
                lr_msg_free(m);
                continue;
            }
            if (produce(k, tr) == 1) {
                k->held = tr;
                full = true;
                break;
            }
        }
    }
    bool spool_more = false;
    for (uint32_t i = 0; i < k->n_spools && !full; i++) {
        for (int j = 0; j < 512; j++) {
            if (k->in_flight >= cap) {
                spool_more = true;
                break;
            }
            struct lr_cp_spool_msg m;
            int rc = lr_cp_spool_read(k->spools[i], &m);
            if (rc < 0)
                log_limited(k, "linerate: kafka: reading spool %s%zu: %s\n", "w", i, strerror(-rc));
            if (rc <= 0)
                break;
            any = spool_more = true;
            struct track *tr = track_of_spool(i, &m);
            if (!tr) {
                free(m.value);
                lr_cp_spool_rewind(k->spools[i]); /* read it again later */
                break;
            }
            if (produce(k, tr) == 1) {
                k->held = tr;
                full = true;
                break;
            }
        }
    }
    bool rings_empty = true;
    for (uint32_t i = 0; i < k->n_rings; i++)
        if (lr_ring_count(k->rings[i]) > 0)
            rings_empty = false;
    atomic_store(&k->pending_records, k->held ? 1 : 0);
    *drained = !full && !k->held && !k->retry && !spool_more && rings_empty && k->in_flight == 0;
    return any;
}

static void *output_main(void *arg)
{
    struct lr_cp_kafka *k = arg;
    pthread_setname_np(pthread_self(), "lr-output");
    for (;;) {
        if (atomic_load(&k->fatal))
            replace_producer(k);
        /* Read the stop flag before the round: stop is set after the workers were joined, so a
         * round that starts after seeing it sees every record they wrote, and only such a round
         * may decide that everything is drained. */
        bool stopping = atomic_load(&k->stop);
        bool drained;
        bool any = output_round(k, &drained);
        if (!k->rk)
            break; /* stopping while no producer could be made */
        rd_kafka_poll(k->rk, any ? 0 : 1);
        int q = rd_kafka_outq_len(k->rk);
        atomic_store(&k->outq, q > 0 ? (uint64_t)q : 0);
        notify_workers(k);
        if (!stopping)
            continue;
        if (drained)
            break;
        /* Kafka takes nothing (down, or far behind): give up at the deadline rather than hang
         * the shutdown. Spool records stay in the spool for the next start; memory records are
         * counted as lost. */
        if (lr_mono_ns() >= atomic_load(&k->stop_deadline_ns)) {
            struct lr_msg *m;
            for (uint32_t i = 0; i < k->n_rings; i++)
                while ((m = lr_ring_pop(k->rings[i]))) {
                    k->abandoned++;
                    lr_stat_add(&k->stats.send_failed[m->signal], m->n_items);
                    lr_msg_free(m);
                }
            break;
        }
    }
    atomic_store(&k->pending_records, 0);
    return NULL;
}

struct lr_cp_kafka *lr_cp_kafka_start(const struct lr_config *cfg, struct lr_ring *const *rings,
                                      uint32_t n_rings, struct lr_cp_spool *const *spools,
                                      uint32_t n_spools, const int *notify_fds, char *errstr,
                                      size_t errlen)
{
    struct lr_cp_kafka *k = calloc(1, sizeof(*k));
    if (!k) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    k->cfg = cfg;
    k->rings = rings;
    k->n_rings = n_rings;
    k->spools = spools;
    k->n_spools = spools ? n_spools : 0;
    k->notify_fds = notify_fds;
    k->notify = notify_fds && (cfg->http.ack == LR_ACK_KAFKA || cfg->grpc.ack == LR_ACK_KAFKA);
    k->notified = calloc(k->n_spools + 1, sizeof(*k->notified));
    atomic_store(&k->state, LR_CP_KAFKA_BACKING_OFF);
    if (!k->notified) {
        snprintf(errstr, errlen, "out of memory");
        goto fail;
    }
    if (cfg->kafka.brokers[0])
        snprintf(k->brokers, sizeof(k->brokers), "%s", cfg->kafka.brokers);
    else if (start_embedded(k, errstr, errlen) < 0)
        goto fail;

    char maxb[32];
    snprintf(maxb, sizeof(maxb), "%llu", (unsigned long long)cfg->kafka.max_message_bytes);
    k->conf = rd_kafka_conf_new();
    /* Defaults first, then the operator's properties, which win. Idempotence with acks=all: a
     * retried batch is written once, in order, per partition. No message timeout: a record
     * librdkafka holds is retried until a broker takes it (the spool holds it meanwhile, and
     * only a probe's worth is handed over while every broker is down). */
    if (conf_set(k->conf, "bootstrap.servers", k->brokers, errstr, errlen) < 0 ||
        conf_set(k->conf, "partitioner", "fnv1a_random", errstr, errlen) < 0 ||
        conf_set(k->conf, "linger.ms", "5", errstr, errlen) < 0 ||
        conf_set(k->conf, "enable.idempotence", "true", errstr, errlen) < 0 ||
        conf_set(k->conf, "acks", "all", errstr, errlen) < 0 ||
        conf_set(k->conf, "message.timeout.ms", "0", errstr, errlen) < 0 ||
        conf_set(k->conf, "retry.backoff.ms", "100", errstr, errlen) < 0 ||
        conf_set(k->conf, "message.max.bytes", maxb, errstr, errlen) < 0 ||
        conf_set(k->conf, "queue.buffering.max.kbytes", "262144", errstr, errlen) < 0)
        goto fail;
    for (size_t i = 0; i < cfg->kafka.n_producer; i++)
        if (conf_set(k->conf, cfg->kafka.producer[i].key, cfg->kafka.producer[i].value, errstr,
                     errlen) < 0)
            goto fail;
    rd_kafka_conf_set_opaque(k->conf, k);
    rd_kafka_conf_set_dr_msg_cb(k->conf, on_delivery);
    rd_kafka_conf_set_error_cb(k->conf, on_error);
    if (make_producer(k, errstr, errlen) < 0)
        goto fail;
    /* Ask for metadata once so that /ready and the start-up block can say whether a broker
     * answers; do not block start-up on it for long. */
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(k->rk, 0, k->topics[0], &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_store(&k->connected, true);
        atomic_store(&k->state, LR_CP_KAFKA_CONNECTED);
        rd_kafka_metadata_destroy(md);
    }
    int rc = pthread_create(&k->thread, NULL, output_main, k);
    if (rc != 0) {
        snprintf(errstr, errlen, "pthread_create: %s", strerror(rc));
        goto fail;
    }
    k->started = true;
    return k;
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

int lr_cp_kafka_state(const struct lr_cp_kafka *k)
{
    return atomic_load(&((struct lr_cp_kafka *)k)->state);
}

uint64_t lr_cp_kafka_restarts(const struct lr_cp_kafka *k)
{
    return atomic_load(&((struct lr_cp_kafka *)k)->restarts);
}

uint64_t lr_cp_kafka_queue_size(const struct lr_cp_kafka *k)
{
    uint64_t n = atomic_load(&((struct lr_cp_kafka *)k)->outq) +
                 atomic_load(&((struct lr_cp_kafka *)k)->pending_records);
    for (uint32_t i = 0; i < k->n_rings; i++)
        n += lr_ring_count(k->rings[i]);
    /* Spool records not yet handed to librdkafka. */
    for (uint32_t i = 0; i < k->n_spools; i++) {
        uint64_t w = lr_cp_spool_written_seq(k->spools[i]);
        uint64_t d = lr_cp_spool_delivered_below(k->spools[i]);
        uint64_t f = lr_cp_spool_in_flight(k->spools[i]);
        if (w + 1 > d + f)
            n += w + 1 - d - f;
    }
    return n;
}

/* Memory records that never reached Kafka: counted as failed. */
static void abandon(struct lr_cp_kafka *k, struct track *t)
{
    if (t->src == NO_SPOOL) {
        k->abandoned++;
        lr_stat_add(&k->stats.send_failed[t->signal], t->n_items);
    }
    track_free(t);
}

uint64_t lr_cp_kafka_stop(struct lr_cp_kafka *k, uint32_t flush_ms)
{
    uint64_t deadline = lr_mono_ns() + (uint64_t)flush_ms * 1000000ull;
    if (k->started) {
        atomic_store(&k->stop_deadline_ns, deadline);
        atomic_store(&k->stop, true);
        pthread_join(k->thread, NULL);
        k->started = false;
    }
    uint64_t t = lr_mono_ns();
    int left = 0;
    if (k->rk) {
        rd_kafka_flush(k->rk, t < deadline ? (int)((deadline - t) / 1000000ull) : 0);
        left = rd_kafka_outq_len(k->rk);
    }
    /* What librdkafka still holds is purged (spool records stay in the spool; memory records are
     * lost and counted). */
    k->replacing = true;
    if (k->rk) {
        rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(k->rk, 0);
    }
    k->replacing = false;
    if (k->held)
        abandon(k, k->held);
    k->held = NULL;
    while (k->retry) {
        struct track *r = k->retry;
        k->retry = r->next;
        abandon(k, r);
    }
    k->retry_tail = NULL;
    return k->abandoned + (left > 0 ? (uint64_t)left : 0);
}

void lr_cp_kafka_free(struct lr_cp_kafka *k)
{
    if (!k)
        return;
    if (k->started)
        lr_cp_kafka_stop(k, 0);
    destroy_producer(k);
    if (k->held)
        track_free(k->held);
    while (k->retry) {
        struct track *r = k->retry;
        k->retry = r->next;
        track_free(r);
    }
    if (k->conf)
        rd_kafka_conf_destroy(k->conf);
    if (k->mock)
        rd_kafka_mock_cluster_destroy(k->mock);
    if (k->mock_owner)
        rd_kafka_destroy(k->mock_owner);
    free(k->notified);
    free(k);
}
