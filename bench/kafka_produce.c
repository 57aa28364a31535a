/* Kafka produce throughput on its own: librdkafka's idempotent producer, configured as linerate's
 * output thread configures it (control/kafka.c: acks=all, idempotence, partitioner fnv1a_random,
 * linger 5 ms, 256 MiB of producer queue, no compression), writing keyed records of
 * otlp-load's trace request size into the embedded broker (librdkafka's mock cluster, in this
 * process, as linerate runs it) as fast as delivery reports come back. What linerate's end-to-end
 * figures with the embedded broker are bounded by.
 *
 * Usage: kafka_produce [RECORD_BYTES default 29401] [SECONDS default 5] [PARTITIONS default 4]
 * Prints: records=N bytes=B seconds=S records/s=X MB/s=Y */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "util.h"

static long delivered, failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    if (m->err)
        failed++;
    else
        delivered++;
}

static int set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_produce: %s: %s\n", k, err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    size_t len = argc > 1 ? (size_t)atol(argv[1]) : 29401;
    double secs = argc > 2 ? atof(argv[2]) : 5;
    int parts = argc > 3 ? atoi(argv[3]) : 4;
    char err[512];

    /* The mock cluster needs a client to live in, as in control/kafka.c. */
    rd_kafka_conf_t *mc = rd_kafka_conf_new();
    set(mc, "log_level", "3"); /* it has no brokers of its own to talk to: no warning */
    rd_kafka_t *host = rd_kafka_new(RD_KAFKA_PRODUCER, mc, err, sizeof(err));
    if (!host) {
        fprintf(stderr, "kafka_produce: %s\n", err);
        return 2;
    }
    rd_kafka_mock_cluster_t *cl = rd_kafka_mock_cluster_new(host, 1);
    if (!cl || rd_kafka_mock_topic_create(cl, "otlp_spans", parts, 1) != 0) {
        fprintf(stderr, "kafka_produce: mock cluster\n");
        return 2;
    }
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (set(c, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(cl)) ||
        set(c, "enable.idempotence", "true") || set(c, "acks", "all") || set(c, "linger.ms", "5") ||
        set(c, "message.max.bytes", "1000000") || set(c, "partitioner", "fnv1a_random") ||
        set(c, "queue.buffering.max.kbytes", "262144"))
        return 2;
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "kafka_produce: %s\n", err);
        return 2;
    }
    uint8_t *v = malloc(len);
    for (size_t i = 0; i < len; i++)
        v[i] = (uint8_t)(i * 31);
    char key[33];
    long sent = 0;
    /* Warm up (metadata, producer id), then measure. */
    rd_kafka_poll(rk, 1000);
    double t0 = bench_now_s(), t = t0;
    long d0 = delivered;
    while (t - t0 < secs) {
        snprintf(key, sizeof(key), "%032lx", sent);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC("otlp_spans"), RD_KAFKA_V_KEY(key, 32), RD_KAFKA_V_VALUE(v, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 1);
        } else if (e) {
            fprintf(stderr, "kafka_produce: %s\n", rd_kafka_err2str(e));
            return 1;
        } else {
            sent++;
            rd_kafka_poll(rk, 0);
        }
        t = bench_now_s();
    }
    double t1 = bench_now_s();
    long n = delivered - d0;
    rd_kafka_flush(rk, 10000);
    printf("records=%ld bytes=%zu seconds=%.2f records/s=%.0f MB/s=%.1f failed=%ld\n", n, len,
           t1 - t0, (double)n / (t1 - t0), (double)n * (double)len / (t1 - t0) / 1e6, failed);
    free(v);
    rd_kafka_destroy(rk);
    rd_kafka_mock_cluster_destroy(cl);
    rd_kafka_destroy(host);
    return failed ? 1 : 0;
}
