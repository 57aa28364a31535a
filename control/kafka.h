/* The output thread: drains the workers' rings into Kafka through librdkafka (control/kafka.c).
 * With no brokers configured it first starts an embedded Kafka-protocol broker (librdkafka's mock
 * cluster) on a local port. */
#ifndef LINERATE_CP_KAFKA_H
#define LINERATE_CP_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linerate/config.h"
#include "linerate/ring.h"
#include "linerate/stats.h"

struct lr_cp_kafka;

/* Creates the producer (and the embedded broker when cfg->kafka.brokers is empty), then starts
 * the output thread popping `rings` (borrowed; they must outlive the handle; this thread becomes
 * their only consumer). Returns an owned handle, or NULL with `errstr` set. */
struct lr_cp_kafka *lr_cp_kafka_start(const struct lr_config *cfg, struct lr_ring *const *rings,
                                      uint32_t n_rings, char *errstr, size_t errlen);

/* The bootstrap servers in use ("127.0.0.1:PORT" for the embedded broker). Borrowed. */
const char *lr_cp_kafka_brokers(const struct lr_cp_kafka *k);
bool lr_cp_kafka_embedded(const struct lr_cp_kafka *k);
const char *lr_cp_kafka_topic(const struct lr_cp_kafka *k, int signal);

const struct lr_output_stats *lr_cp_kafka_stats(const struct lr_cp_kafka *k);

/* Records waiting: in the rings plus in librdkafka's queue (otelcol_exporter_queue_size). */
uint64_t lr_cp_kafka_queue_size(const struct lr_cp_kafka *k);

/* True once a broker has answered (metadata received). */
bool lr_cp_kafka_connected(const struct lr_cp_kafka *k);

/* Stops the output thread once the rings are empty (call after the workers stopped) and waits for
 * Kafka to acknowledge everything, `flush_ms` at most in all: records still in the rings at the
 * deadline are dropped and counted as failed. Returns the records not acknowledged (0 when
 * everything was delivered). */
uint64_t lr_cp_kafka_stop(struct lr_cp_kafka *k, uint32_t flush_ms);

/* Destroys the producer and the embedded broker. Accepts NULL. */
void lr_cp_kafka_free(struct lr_cp_kafka *k);

#endif
