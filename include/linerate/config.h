/* linerate's configuration: one struct, filled from embedded defaults, then a YAML file, then
 * command-line flags, then checked as a whole (control/config.c). The parser is driven by one
 * table per section; the same tables write docs/CONFIG.md. Read-only once finalized: every thread
 * may read it without locks. */
#ifndef LINERATE_CONFIG_H
#define LINERATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LR_CFG_HOST_MAX 256
#define LR_CFG_PATH_MAX 512

/* When a receiver answers an export (receivers.otlp.protocols.*.ack). */
enum lr_ack_mode {
    LR_ACK_MEMORY = 0, /* once its records are queued in memory */
    LR_ACK_SPOOL = 1,  /* once they are durable in the write-ahead spool */
    LR_ACK_KAFKA = 2,  /* once Kafka acknowledged every one of them */
};

/* A librdkafka property passed through untouched (exporters.kafka.producer). */
struct lr_cfg_kv {
    char *key;   /* owned */
    char *value; /* owned */
};

/* A per-service head-sampling percentage (processors.probabilistic_sampler.services). */
struct lr_cfg_svc_pct {
    char *service; /* owned: the resource's service.name */
    double percentage;
};

/* Which io backend carries the receivers (dataplane.mode). */
enum lr_dp_mode {
    LR_DP_MODE_SOCKET = 0, /* kernel sockets (dataplane/sock.c) */
    LR_DP_MODE_DPDK = 1,   /* a DPDK port and the userspace TCP stack (dataplane/dpdk.c, tcp.c) */
};

struct lr_tail_policies; /* dataplane/tail_policy.h */

struct lr_config {
    struct {
        char host[LR_CFG_HOST_MAX]; /* receivers.otlp.protocols.http.endpoint host (default
                                       127.0.0.1) */
        uint16_t port;              /* ... port (default 4318) */
        uint64_t max_body_bytes; /* receivers.otlp.protocols.http.max_request_body_size (20 MiB) */
        uint32_t max_header_bytes;  /* receivers.otlp.protocols.http.max_header_bytes (64 KiB) */
        uint32_t max_headers;       /* receivers.otlp.protocols.http.max_headers (100) */
        uint32_t header_timeout_ms; /* receivers.otlp.protocols.http.header_timeout_ms (10000) */
        uint32_t idle_timeout_ms;   /* receivers.otlp.protocols.http.idle_timeout_ms (60000) */
        uint32_t body_timeout_ms;   /* receivers.otlp.protocols.http.body_timeout_ms (30000) */
        uint32_t overload_status;   /* ... overload_status: 503 or 429 (503) */
        uint32_t ack;               /* ... ack: enum lr_ack_mode (spool) */
    } http;
    struct {
        char host[LR_CFG_HOST_MAX];        /* receivers.otlp.protocols.grpc.endpoint host */
        uint16_t port;                     /* ... port (default 4317) */
        uint32_t max_recv_msg_size_mib;    /* ... max_recv_msg_size_mib (4) */
        uint32_t max_concurrent_streams;   /* ... max_concurrent_streams (100) */
        uint32_t max_header_list_bytes;    /* ... max_header_list_bytes (16 KiB) */
        uint32_t hpack_table_bytes;        /* ... hpack_table_bytes (4096) */
        uint32_t stream_window_bytes;      /* ... stream_window_bytes (1 MiB) */
        uint32_t connection_window_bytes;  /* ... connection_window_bytes (16 MiB) */
        uint32_t max_resets_per_s;         /* ... max_resets_per_s (200) */
        uint32_t max_control_frames_per_s; /* ... max_control_frames_per_s (1000) */
        uint32_t header_timeout_ms;        /* ... header_timeout_ms (10000) */
        uint32_t idle_timeout_ms;          /* ... idle_timeout_ms (60000) */
        uint32_t send_timeout_ms;          /* ... send_timeout_ms (30000) */
        uint32_t ack;                      /* ... ack: enum lr_ack_mode (spool) */
    } grpc;
    struct {
        uint32_t mode;          /* dataplane.mode: enum lr_dp_mode (socket) */
        char eal_args[1024];    /* dataplane.dpdk.eal_args: EAL arguments, blank-separated ("") */
        uint32_t port_id;       /* dataplane.dpdk.port_id (0) */
        char ip[64];            /* dataplane.ip: our IPv4 address and prefix, A.B.C.D/N ("") */
        char gateway[64];       /* dataplane.gateway: A.B.C.D, "" for none */
        uint32_t vlan;          /* dataplane.vlan: 802.1Q id, 0 untagged (0) */
        uint32_t mtu;           /* dataplane.mtu (1500) */
        uint32_t max_conns;     /* dataplane.tcp.max_conns: per worker (16384) */
        uint32_t syn_queue;     /* dataplane.tcp.syn_queue: per worker (1024) */
        uint32_t rcv_buf_bytes; /* dataplane.tcp.rcv_buf_bytes: per connection (256 KiB) */
        uint32_t snd_buf_bytes; /* dataplane.tcp.snd_buf_bytes: per connection (64 KiB) */
    } dp;
    struct {
        char cores[256];     /* workers.cores: "all" or a cpu list "0-3,6" (default all) */
        uint32_t queue_size; /* workers.queue_size: ring entries per worker (4096) */
    } workers;
    struct {
        char brokers[1024];           /* exporters.kafka.brokers, comma-joined; "" = embedded */
        char topic_traces[250];       /* exporters.kafka.traces.topic (otlp_spans) */
        char topic_metrics[250];      /* exporters.kafka.metrics.topic (otlp_metrics) */
        char topic_logs[250];         /* exporters.kafka.logs.topic (otlp_logs) */
        bool partition_traces_by_id;  /* exporters.kafka.partition_traces_by_id (true) */
        uint32_t embedded_partitions; /* exporters.kafka.embedded_partitions (4) */
        uint32_t flush_timeout_ms;    /* exporters.kafka.flush_timeout_ms (10000) */
        uint64_t max_message_bytes;   /* exporters.kafka.max_message_bytes (1000000) */
        struct lr_cfg_kv *producer;   /* exporters.kafka.producer: librdkafka properties */
        size_t n_producer;
        bool null_sink; /* exporters.null.enabled: drop at the exporter instead (false) */
    } kafka;
    struct {
        bool enabled;       /* processors.probabilistic_sampler.enabled (false) */
        double percentage;  /* ... sampling_percentage (100) */
        uint32_t mode;      /* ... mode: 0 hash_seed, 1 proportional, 2 equalizing (hash_seed) */
        uint32_t hash_seed; /* ... hash_seed (0) */
        uint32_t precision; /* ... sampling_precision (4) */
        bool fail_closed;   /* ... fail_closed (true) */
        bool logs;          /* ... logs.enabled (false): sample log records by trace id too */
        double logs_percentage;          /* ... logs.sampling_percentage (100) */
        struct lr_cfg_svc_pct *services; /* ... services: service.name -> percentage */
        size_t n_services;
    } sampler;
    struct {
        bool enabled;               /* processors.tail_sampling.enabled (false) */
        uint32_t decision_wait_ms;  /* ... decision_wait_ms (30000) */
        uint32_t num_traces;        /* ... num_traces (50000, shared by the workers) */
        uint32_t sampled_cache;     /* ... decision_cache.sampled_cache_size (100000) */
        uint32_t non_sampled_cache; /* ... decision_cache.non_sampled_cache_size (100000) */
        uint32_t route_queue;       /* ... route_queue_size (4096): ring entries per worker pair */
        struct lr_tail_policies *policies; /* ... policies (owned; NULL = none) */
    } tail;
    struct {
        bool enabled;                   /* processors.adaptive_sampling.enabled (false) */
        uint32_t tick_ms;               /* ... tick_ms (1000) */
        uint64_t kafka_queue_threshold; /* ... kafka_queue_threshold (10000 records) */
        uint32_t spool_threshold_pct;   /* ... spool_threshold_pct (50) */
        double floor_percentage;        /* ... floor_percentage (1) */
        uint32_t latency_threshold_ms;  /* ... latency_threshold_ms (1000) */
    } adaptive;
    struct {
        bool enabled;         /* host_metrics.enabled (false) */
        uint32_t interval_ms; /* host_metrics.interval_ms (10000) */
        char probes[256];     /* host_metrics.probes ("all" or a comma-separated list) */
        bool probe_stats;     /* host_metrics.probe_stats (true): kernel run-time stats */
    } host_metrics;
    struct {
        bool enabled;               /* anomaly.enabled (false) */
        uint32_t device;            /* anomaly.device: enum lr_anom_device, auto|cpu|cuda (auto) */
        uint32_t window_ms;         /* anomaly.window_ms (1000) */
        uint32_t max_series;        /* anomaly.max_series (4096) */
        double keep_percent;        /* anomaly.keep_percent (100) */
        uint32_t batch_max_size;    /* anomaly.batch_max_size (65536) */
        uint32_t batch_max_wait_ms; /* anomaly.batch_max_wait_ms (250) */
        uint32_t idle_windows;      /* anomaly.idle_windows (300) */
    } anomaly;
    struct {
        char dir[LR_CFG_PATH_MAX];   /* spool.dir ("": RUN_DIR/spool) */
        uint64_t segment_bytes;      /* spool.segment_bytes (64 MiB) */
        uint32_t commit_interval_us; /* spool.commit_interval_us (200) */
        uint64_t max_bytes;          /* spool.max_bytes (4 GiB, shared by the workers) */
        uint32_t high_watermark_pct; /* spool.high_watermark_pct (90) */
        uint32_t low_watermark_pct;  /* spool.low_watermark_pct (70) */
    } spool;
    struct {
        char host[LR_CFG_HOST_MAX]; /* admin.endpoint host (127.0.0.1) */
        uint16_t port;              /* admin.endpoint port (13133) */
        char token[256];            /* admin.token: bearer token for PUT /sampling ("": refused) */
    } admin;
    struct {
        char run_dir[LR_CFG_PATH_MAX]; /* service.run_dir (/run/linerate) */
        uint32_t status_interval_ms;   /* service.status_interval_ms (5000; 0 = off) */
        uint32_t shutdown_grace_ms;    /* service.shutdown_grace_ms (10000) */
    } service;
};

/* Fills `c` with the embedded defaults. Never fails. */
void lr_cp_config_defaults(struct lr_config *c);

/* Applies the YAML document in `path` on top of `c`. Returns 0, or -1 with `errstr` set to
 * "PATH:LINE: KEY: REASON" (unknown key, wrong type, out of range, unreadable file, bad YAML). */
int lr_cp_config_load_file(struct lr_config *c, const char *path, char *errstr, size_t errlen);

/* The same for a YAML document in memory; `name` stands for the path in messages. */
int lr_cp_config_load_string(struct lr_config *c, const char *yaml, size_t len, const char *name,
                             char *errstr, size_t errlen);

/* Sets one key by its dotted name ("receivers.otlp.protocols.http.endpoint") from a string, with
 * the same checks as the file. For `exporters.kafka.producer.<prop>` the value passes through.
 * Returns 0 or -1 with `errstr` set to "KEY: REASON". */
int lr_cp_config_set(struct lr_config *c, const char *key, const char *value, char *errstr,
                     size_t errlen);

/* Checks cross-field constraints. Returns 0 or -1 with `errstr` naming the key and why. */
int lr_cp_config_finalize(struct lr_config *c, char *errstr, size_t errlen);

/* The kernel-bypass dataplane's addresses from dataplane.ip ("A.B.C.D/N") and dataplane.gateway
 * ("" or "A.B.C.D"), in host byte order; *gateway is 0 when there is none. Returns 0, or -1 when
 * dataplane.ip is empty or malformed, the prefix is not 1..32, or the gateway is malformed
 * (lr_cp_config_finalize has already said why in dpdk mode). Any thread. */
int lr_cp_config_dp_addr(const struct lr_config *c, uint32_t *ip, uint8_t *prefix,
                         uint32_t *gateway);

/* Frees what `c` owns (the producer properties). Accepts NULL. */
void lr_cp_config_free(struct lr_config *c);

/* Writes the configuration reference (docs/CONFIG.md) generated from the tables. */
void lr_cp_config_write_doc(FILE *f);

/* Parses the command line on top of `c` (defaults must be set first): `--config FILE` is applied
 * first, then the other flags in order. Returns 0 to run, 1 when the run is complete (--help or
 * --version printed to stdout, --print-config-doc), or -1 with `errstr` set. */
int lr_cp_cli_parse(struct lr_config *c, int argc, char **argv, char *errstr, size_t errlen);

#endif
