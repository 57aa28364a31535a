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
struct lr_cp_spool;

/* The producer's state (the linerate_kafka_state metric). */
enum lr_cp_kafka_state {
    LR_CP_KAFKA_CONNECTED = 0,   /* a broker answers and records are delivered */
    LR_CP_KAFKA_BACKING_OFF = 1, /* deliveries fail or connections drop: retrying with backoff */
    LR_CP_KAFKA_OPEN = 2,        /* circuit open: every broker is down; only a probe's worth of
                                    records is handed to librdkafka, the spool keeps the rest */
};

/* Creates the idempotent producer (and the embedded broker when cfg->kafka.brokers is empty),
 * then starts the output thread. It pops `rings` (memory-mode records) and reads `spools` (one
 * per worker, then any left by a previous run with more workers; NULL when no receiver uses the
 * spool), reports deliveries to the spools, and writes to `notify_fds[i]` (per worker) when spool
 * i's delivered watermark moved. Everything is borrowed and must outlive the handle; this thread
 * becomes the only consumer of the rings and the only reader of the spools. A fatal producer error
 * replaces the producer and replays from the spools. Returns an owned handle, or NULL with
 * `errstr` set. */
struct lr_cp_kafka *lr_cp_kafka_start(const struct lr_config *cfg, struct lr_ring *const *rings,
                                      uint32_t n_rings, struct lr_cp_spool *const *spools,
                                      uint32_t n_spools, const int *notify_fds, char *errstr,
                                      size_t errlen);

/* enum lr_cp_kafka_state, and how many times a fatal error replaced the producer. */
int lr_cp_kafka_state(const struct lr_cp_kafka *k);
uint64_t lr_cp_kafka_restarts(const struct lr_cp_kafka *k);

/* The bootstrap servers in use ("127.0.0.1:PORT" for the embedded broker). Borrowed. */
const char *lr_cp_kafka_brokers(const struct lr_cp_kafka *k);
bool lr_cp_kafka_embedded(const struct lr_cp_kafka *k);
const char *lr_cp_kafka_topic(const struct lr_cp_kafka *k, int signal);

const struct lr_output_stats *lr_cp_kafka_stats(const struct lr_cp_kafka *k);

/* Records waiting: in the rings plus in librdkafka's queue (otelcol_exporter_queue_size). */
uint64_t lr_cp_kafka_queue_size(const struct lr_cp_kafka *k);

/* True once a broker has answered (metadata received). */
bool lr_cp_kafka_connected(const struct lr_cp_kafka *k);

/* Stops the output thread once the rings and spools are drained (call after the workers stopped)
 * and waits for Kafka to acknowledge everything, `flush_ms` at most in all. At the deadline,
 * memory-mode records still queued are dropped and counted as failed; spool records stay in the
 * spool for the next start. Returns the records not acknowledged (0 when everything was
 * delivered). Call lr_cp_spool_close on the spools after this. */
uint64_t lr_cp_kafka_stop(struct lr_cp_kafka *k, uint32_t flush_ms);

/* Destroys the producer and the embedded broker. Accepts NULL. */
void lr_cp_kafka_free(struct lr_cp_kafka *k);

#endif
