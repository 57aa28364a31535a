/* linerate's configuration (include/linerate/config.h).
 *
 * One table per section (librdkafka's rdkafka_conf.c is the model): each row names a dotted key as
 * it appears in the YAML, its type, where it lives in struct lr_config, its range, its default as
 * text and its doc string. The same rows fill the defaults, parse the YAML file and --set values,
 * check ranges, name the keys that exist when one does not, and write docs/CONFIG.md.
 *
 * The YAML shape follows the OpenTelemetry Collector where it maps (receivers.otlp.protocols.http,
 * exporters.kafka.traces.topic), so that a Collector user finds the keys where they expect them. */
#include "linerate/config.h"
#include "../dataplane/tail_policy.h"
#include "errf.h"
#include "hostprobes_names.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <yaml.h>

enum vtype {
    T_STRING,   /* char[size]; min = shortest length accepted */
    T_ENDPOINT, /* HOST:PORT into char host[size] at off and uint16_t port at off2 */
    T_UINT,     /* uint32_t or uint64_t (size), min..max */
    T_BOOL,     /* bool */
    T_BYTES,    /* like T_UINT, with an optional KiB/MiB/GiB suffix */
    T_MS,       /* like T_UINT, a duration in milliseconds */
    T_CPUS,     /* char[size]: "all" or a Linux cpu list */
    T_TOPIC,    /* char[size]: a Kafka topic name */
    T_BROKERS,  /* char[size]: HOST:PORT list, comma-joined; a YAML sequence or a string */
    T_PROPS,    /* kafka.producer: a mapping passed through untouched */
    T_ENUM,     /* uint32_t: the index of the value in `choices` ("a|b|c") */
    T_PERCENT,  /* double, 0..100 */
    T_SVCPCT,   /* sampler.services: a mapping service.name -> percentage */
    T_POLICIES, /* tail.policies: a sequence of tail-sampling policies (dataplane/tail_policy.c) */
};

#define F_ZERO_OFF 1u /* 0 is accepted besides min..max and means "off" */

struct row {
    const char *key; /* dotted, as in the YAML */
    enum vtype type;
    size_t off;  /* into struct lr_config */
    size_t size; /* of the member: string capacity or integer width */
    size_t off2; /* T_ENDPOINT: the port member */
    uint64_t min, max;
    unsigned flags;
    const char *def; /* default, as text (what the docs show) */
    const char *doc;
    const char *choices; /* T_ENUM: the accepted values, '|'-separated, in enum order */
};

struct section {
    const char *name; /* heading in the docs */
    const char *intro;
    const struct row *rows;
    size_t n;
};

#define FIELD(m) .off = offsetof(struct lr_config, m), .size = sizeof(((struct lr_config *)0)->m)
#define KiB ((uint64_t)1024)
#define MiB (KiB * 1024)
#define GiB (MiB * 1024)
#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

static const struct row http_rows[] = {
    { .key = "receivers.otlp.protocols.http.endpoint",
      .type = T_ENDPOINT,
      FIELD(http.host),
      .off2 = offsetof(struct lr_config, http.port),
      .def = "127.0.0.1:4318",
      .doc = "Address the OTLP/HTTP receiver listens on: `HOST:PORT`, `[V6]:PORT`, or `:PORT` to "
             "change only the port." },
    { .key = "receivers.otlp.protocols.http.max_request_body_size",
      .type = T_BYTES,
      FIELD(http.max_body_bytes),
      .min = KiB,
      .max = 4 * GiB,
      .def = "20971520",
      .doc = "Largest request body accepted, in bytes; a larger request is refused with 413." },
    { .key = "receivers.otlp.protocols.http.max_header_bytes",
      .type = T_BYTES,
      FIELD(http.max_header_bytes),
      .min = KiB,
      .max = MiB,
      .def = "65536",
      .doc = "Largest request head (request line and header fields) accepted, in bytes." },
    { .key = "receivers.otlp.protocols.http.max_headers",
      .type = T_UINT,
      FIELD(http.max_headers),
      .min = 1,
      .max = 1000,
      .def = "100",
      .doc = "Most header fields accepted in one request." },
    { .key = "receivers.otlp.protocols.http.header_timeout_ms",
      .type = T_MS,
      FIELD(http.header_timeout_ms),
      .min = 100,
      .max = 3600000,
      .def = "10000",
      .doc = "Time allowed to receive a complete request head." },
    { .key = "receivers.otlp.protocols.http.idle_timeout_ms",
      .type = T_MS,
      FIELD(http.idle_timeout_ms),
      .min = 100,
      .max = 3600000,
      .def = "60000",
      .doc =
          "How long a keep-alive connection may sit idle between requests before it is closed." },
    { .key = "receivers.otlp.protocols.http.body_timeout_ms",
      .type = T_MS,
      FIELD(http.body_timeout_ms),
      .min = 100,
      .max = 3600000,
      .def = "30000",
      .doc = "Time allowed to receive a complete request body." },
    { .key = "receivers.otlp.protocols.http.overload_status",
      .type = T_UINT,
      FIELD(http.overload_status),
      .min = 429,
      .max = 503,
      .def = "503",
      .doc = "HTTP status when the output queue is full: `503` or `429` (both retryable in OTLP; "
             "either comes with `Retry-After`)." },
    { .key = "receivers.otlp.protocols.http.ack",
      .type = T_ENUM,
      FIELD(http.ack),
      .choices = "memory|spool|kafka",
      .def = "spool",
      .doc = "Acknowledgement mode: `memory` answers once the request is queued in memory, `spool` "
             "once it is durable in the write-ahead spool (fdatasync, group-committed), `kafka` "
             "once Kafka acknowledged every record of it." },
};

static const struct row grpc_rows[] = {
    { .key = "receivers.otlp.protocols.grpc.endpoint",
      .type = T_ENDPOINT,
      FIELD(grpc.host),
      .off2 = offsetof(struct lr_config, grpc.port),
      .def = "127.0.0.1:4317",
      .doc = "Address the OTLP/gRPC receiver listens on (h2c with prior knowledge). gRPC is also "
             "accepted on the OTLP/HTTP port, recognised by the HTTP/2 preface." },
    { .key = "receivers.otlp.protocols.grpc.max_recv_msg_size_mib",
      .type = T_UINT,
      FIELD(grpc.max_recv_msg_size_mib),
      .min = 1,
      .max = 1024,
      .def = "4",
      .doc = "Largest gRPC request message after decompression, in MiB (the Collector's key); "
             "larger is RESOURCE_EXHAUSTED." },
    { .key = "receivers.otlp.protocols.grpc.max_concurrent_streams",
      .type = T_UINT,
      FIELD(grpc.max_concurrent_streams),
      .min = 1,
      .max = 10000,
      .def = "100",
      .doc = "SETTINGS_MAX_CONCURRENT_STREAMS: calls in flight on one connection." },
    { .key = "receivers.otlp.protocols.grpc.max_header_list_bytes",
      .type = T_BYTES,
      FIELD(grpc.max_header_list_bytes),
      .min = KiB,
      .max = MiB,
      .def = "16384",
      .doc = "SETTINGS_MAX_HEADER_LIST_SIZE: decoded header bytes per request (HPACK bombs and "
             "CONTINUATION floods stop here)." },
    { .key = "receivers.otlp.protocols.grpc.hpack_table_bytes",
      .type = T_BYTES,
      FIELD(grpc.hpack_table_bytes),
      .min = 0,
      .max = MiB,
      .def = "4096",
      .doc = "SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table the peer may use." },
    { .key = "receivers.otlp.protocols.grpc.stream_window_bytes",
      .type = T_BYTES,
      FIELD(grpc.stream_window_bytes),
      .min = 65535,
      .max = 2147483647,
      .def = "1048576",
      .doc = "SETTINGS_INITIAL_WINDOW_SIZE: flow-control window per stream." },
    { .key = "receivers.otlp.protocols.grpc.connection_window_bytes",
      .type = T_BYTES,
      FIELD(grpc.connection_window_bytes),
      .min = 65535,
      .max = 2147483647,
      .def = "16777216",
      .doc = "Flow-control window of the whole connection." },
    { .key = "receivers.otlp.protocols.grpc.max_resets_per_s",
      .type = T_UINT,
      FIELD(grpc.max_resets_per_s),
      .min = 1,
      .max = 1000000,
      .def = "200",
      .doc = "RST_STREAM frames a client may send per second before it is disconnected (rapid "
             "reset, CVE-2023-44487)." },
    { .key = "receivers.otlp.protocols.grpc.max_control_frames_per_s",
      .type = T_UINT,
      FIELD(grpc.max_control_frames_per_s),
      .min = 1,
      .max = 1000000,
      .def = "1000",
      .doc = "SETTINGS, PING, WINDOW_UPDATE, PRIORITY and empty frames a client may send per "
             "second before it is disconnected." },
    { .key = "receivers.otlp.protocols.grpc.header_timeout_ms",
      .type = T_MS,
      FIELD(grpc.header_timeout_ms),
      .min = 100,
      .max = 3600000,
      .def = "10000",
      .doc = "Time allowed for the connection preface and for each request to arrive whole." },
    { .key = "receivers.otlp.protocols.grpc.idle_timeout_ms",
      .type = T_MS,
      FIELD(grpc.idle_timeout_ms),
      .min = 100,
      .max = 3600000,
      .def = "60000",
      .doc = "How long a connection with no open stream may stay before it gets GOAWAY." },
    { .key = "receivers.otlp.protocols.grpc.send_timeout_ms",
      .type = T_MS,
      FIELD(grpc.send_timeout_ms),
      .min = 100,
      .max = 3600000,
      .def = "30000",
      .doc = "How long answers may wait on a client that does not read (zero window) before the "
             "connection closes." },
    { .key = "receivers.otlp.protocols.grpc.ack",
      .type = T_ENUM,
      FIELD(grpc.ack),
      .choices = "memory|spool|kafka",
      .def = "spool",
      .doc = "Acknowledgement mode of OTLP/gRPC calls (on either port): `memory`, `spool` or "
             "`kafka`, as for OTLP/HTTP." },
};

static const struct row dp_rows[] = {
    { .key = "dataplane.mode",
      .type = T_ENUM,
      FIELD(dp.mode),
      .choices = "socket|dpdk",
      .def = "socket",
      .doc = "How packets reach the receivers: `socket` (the kernel's TCP stack, epoll) or `dpdk` "
             "(a DPDK port, one RX/TX queue per worker, linerate's own TCP stack; needs "
             "`dataplane.ip` and `dataplane.dpdk.eal_args`)." },
    { .key = "dataplane.dpdk.eal_args",
      .type = T_STRING,
      FIELD(dp.eal_args),
      .min = 0,
      .def = "",
      .doc = "DPDK EAL arguments, blank-separated, as on a DPDK application's command line: "
             "`--no-pci --no-huge -m 256 --no-shconf --vdev=net_af_packet0,iface=eth1` for a "
             "kernel interface without hugepages, or `-l 0 -a 0000:3b:00.0` for a NIC bound to "
             "vfio-pci." },
    { .key = "dataplane.dpdk.port_id",
      .type = T_UINT,
      FIELD(dp.port_id),
      .min = 0,
      .max = 65535,
      .def = "0",
      .doc = "DPDK port to use (ports are numbered in the order the EAL found them)." },
    { .key = "dataplane.ip",
      .type = T_STRING,
      FIELD(dp.ip),
      .min = 0,
      .def = "",
      .doc = "Our IPv4 address and subnet on the DPDK port, `A.B.C.D/N`; the receivers' ports "
             "are served on it. Needed in `dpdk` mode." },
    { .key = "dataplane.gateway",
      .type = T_STRING,
      FIELD(dp.gateway),
      .min = 0,
      .def = "",
      .doc = "Next hop for peers off the subnet, `A.B.C.D` on the subnet; empty: only peers on "
             "the subnet are answered." },
    { .key = "dataplane.vlan",
      .type = T_UINT,
      FIELD(dp.vlan),
      .min = 0,
      .max = 4094,
      .def = "0",
      .doc = "802.1Q VLAN id to tag with and accept; 0: untagged." },
    { .key = "dataplane.mtu",
      .type = T_UINT,
      FIELD(dp.mtu),
      .min = 576,
      .max = 9000,
      .def = "1500",
      .doc = "Largest IPv4 datagram on the DPDK port; the TCP MSS is this minus 40." },
    { .key = "dataplane.tcp.max_conns",
      .type = T_UINT,
      FIELD(dp.max_conns),
      .min = 16,
      .max = 4194304,
      .def = "16384",
      .doc = "Connections per worker (established and half-open), allocated at start." },
    { .key = "dataplane.tcp.syn_queue",
      .type = T_UINT,
      FIELD(dp.syn_queue),
      .min = 1,
      .max = 4194304,
      .def = "1024",
      .doc = "Half-open connections per worker before SYN cookies take over." },
    { .key = "dataplane.tcp.rcv_buf_bytes",
      .type = T_BYTES,
      FIELD(dp.rcv_buf_bytes),
      .min = 4 * KiB,
      .max = 64 * MiB,
      .def = "262144",
      .doc = "Receive buffer per connection: the most it advertises as its window; it shrinks "
             "while the request is not consumed (backpressure)." },
    { .key = "dataplane.tcp.snd_buf_bytes",
      .type = T_BYTES,
      FIELD(dp.snd_buf_bytes),
      .min = 4 * KiB,
      .max = 64 * MiB,
      .def = "65536",
      .doc = "Send buffer per connection: answers sent and not yet acknowledged, plus queued." },
};

static const struct row workers_rows[] = {
    { .key = "workers.cores",
      .type = T_CPUS,
      FIELD(workers.cores),
      .def = "all",
      .doc = "CPUs that run a dataplane worker each: `all`, or a Linux cpu list such as `0-3,6`." },
    { .key = "workers.queue_size",
      .type = T_UINT,
      FIELD(workers.queue_size),
      .min = 64,
      .max = 1048576,
      .def = "4096",
      .doc = "Entries in each worker's queue toward the Kafka exporter (rounded up to a power of "
             "two)." },
};

static const struct row kafka_rows[] = {
    { .key = "exporters.kafka.brokers",
      .type = T_BROKERS,
      FIELD(kafka.brokers),
      .def = "[]",
      .doc = "Kafka bootstrap brokers: a list of `HOST:PORT`, or one string with commas. Empty "
             "starts the embedded broker." },
    { .key = "exporters.kafka.traces.topic",
      .type = T_TOPIC,
      FIELD(kafka.topic_traces),
      .def = "otlp_spans",
      .doc = "Topic that receives spans." },
    { .key = "exporters.kafka.metrics.topic",
      .type = T_TOPIC,
      FIELD(kafka.topic_metrics),
      .def = "otlp_metrics",
      .doc = "Topic that receives metrics." },
    { .key = "exporters.kafka.logs.topic",
      .type = T_TOPIC,
      FIELD(kafka.topic_logs),
      .def = "otlp_logs",
      .doc = "Topic that receives log records." },
    { .key = "exporters.kafka.partition_traces_by_id",
      .type = T_BOOL,
      FIELD(kafka.partition_traces_by_id),
      .def = "true",
      .doc = "Key span messages by trace ID, so that all spans of a trace land in one partition." },
    { .key = "exporters.kafka.embedded_partitions",
      .type = T_UINT,
      FIELD(kafka.embedded_partitions),
      .min = 1,
      .max = 256,
      .def = "4",
      .doc = "Partitions per topic on the embedded broker (used when `brokers` is empty)." },
    { .key = "exporters.kafka.flush_timeout_ms",
      .type = T_MS,
      FIELD(kafka.flush_timeout_ms),
      .min = 0,
      .max = 600000,
      .def = "10000",
      .doc = "At shutdown, how long to wait for queued messages to reach Kafka." },
    { .key = "exporters.kafka.max_message_bytes",
      .type = T_BYTES,
      FIELD(kafka.max_message_bytes),
      .min = 4 * KiB,
      .max = 1000 * MiB,
      .def = "1000000",
      .doc = "Largest Kafka record linerate writes (also librdkafka's `message.max.bytes`, as the "
             "Collector's `producer.max_message_bytes`). A larger record is split per resource; "
             "a resource larger than this is rejected with `partial_success`." },
    { .key = "exporters.kafka.producer",
      .type = T_PROPS,
      FIELD(kafka.producer),
      .def = "{}",
      .doc = "librdkafka producer properties (`linger.ms: 5`), passed through untouched; a later "
             "key overrides an earlier one." },
};

static const struct row null_rows[] = {
    { .key = "exporters.null.enabled",
      .type = T_BOOL,
      FIELD(kafka.null_sink),
      .def = "false",
      .doc = "Drop every record at the exporter instead of producing it to Kafka, and count it as "
             "sent (spool records are marked delivered). Everything before Kafka runs as usual. "
             "For benchmarks and for measuring the pipeline without a broker; the Collector's "
             "`nop` exporter. Loses data by design: never on in production." },
};

static const struct row spool_rows[] = {
    { .key = "spool.dir",
      .type = T_STRING,
      FIELD(spool.dir),
      .min = 0,
      .def = "",
      .doc =
          "Folder of the write-ahead spool (one sub-folder per worker). Empty: `RUN_DIR/spool`." },
    { .key = "spool.segment_bytes",
      .type = T_BYTES,
      FIELD(spool.segment_bytes),
      .min = 64 * KiB,
      .max = 4 * GiB,
      .def = "67108864",
      .doc = "Size at which a worker starts a new segment file; segments are deleted whole once "
             "Kafka has every record in them." },
    { .key = "spool.commit_interval_us",
      .type = T_UINT,
      FIELD(spool.commit_interval_us),
      .min = 0,
      .max = 1000000,
      .def = "200",
      .doc = "Group commit: how often each worker's spool is fdatasync'ed when it has new records "
             "(one fdatasync answers every request written since the last). 0: back to back." },
    { .key = "spool.max_bytes",
      .type = T_BYTES,
      FIELD(spool.max_bytes),
      .min = MiB,
      .max = (uint64_t)1 << 50,
      .def = "4294967296",
      .doc = "Disk the spool may use, shared equally by the workers." },
    { .key = "spool.high_watermark_pct",
      .type = T_UINT,
      FIELD(spool.high_watermark_pct),
      .min = 1,
      .max = 100,
      .def = "90",
      .doc = "Receivers refuse with retryable errors (HTTP 503/429 + `Retry-After`, gRPC "
             "`UNAVAILABLE`) once a worker's spool uses this share of its part of `max_bytes`..." },
    { .key = "spool.low_watermark_pct",
      .type = T_UINT,
      FIELD(spool.low_watermark_pct),
      .min = 1,
      .max = 99,
      .def = "70",
      .doc = "... and accept again once it is back at or below this share." },
};

static const struct row sampler_rows[] = {
    { .key = "processors.probabilistic_sampler.enabled",
      .type = T_BOOL,
      FIELD(sampler.enabled),
      .def = "false",
      .doc = "Head-sample spans as the Collector's probabilistic sampler processor does, with the "
             "same decisions for the same settings. Off: every span is forwarded byte for byte." },
    { .key = "processors.probabilistic_sampler.sampling_percentage",
      .type = T_PERCENT,
      FIELD(sampler.percentage),
      .def = "100",
      .doc = "Share of traces kept, in percent." },
    { .key = "processors.probabilistic_sampler.mode",
      .type = T_ENUM,
      FIELD(sampler.mode),
      .choices = "hash_seed|proportional|equalizing",
      .def = "hash_seed",
      .doc = "`hash_seed` (FNV hash of the seed and the trace id), `proportional` or `equalizing` "
             "(OpenTelemetry consistent probability sampling: randomness from the trace id or "
             "`rv`, the threshold written to the tracestate as `ot=th:`)." },
    { .key = "processors.probabilistic_sampler.hash_seed",
      .type = T_UINT,
      FIELD(sampler.hash_seed),
      .min = 0,
      .max = UINT32_MAX,
      .def = "0",
      .doc = "Seed of `hash_seed` mode; samplers with the same seed make the same decisions." },
    { .key = "processors.probabilistic_sampler.sampling_precision",
      .type = T_UINT,
      FIELD(sampler.precision),
      .min = 1,
      .max = 14,
      .def = "4",
      .doc = "Hex digits of the threshold written to the tracestate." },
    { .key = "processors.probabilistic_sampler.fail_closed",
      .type = T_BOOL,
      FIELD(sampler.fail_closed),
      .def = "true",
      .doc =
          "Drop spans whose sampling inputs are in error (bad tracestate, missing randomness)." },
    { .key = "processors.probabilistic_sampler.logs.enabled",
      .type = T_BOOL,
      FIELD(sampler.logs),
      .def = "false",
      .doc = "Sample log records too, by their trace id, with the same mode and seed (as the "
             "Collector's sampler in a logs pipeline). Records without a trace id are kept, and no "
             "sampling attribute is written (differences: docs/sampling.md)." },
    { .key = "processors.probabilistic_sampler.logs.sampling_percentage",
      .type = T_PERCENT,
      FIELD(sampler.logs_percentage),
      .def = "100",
      .doc = "Share of log records kept, in percent (`sampling_percentage` is the traces' one)." },
    { .key = "processors.probabilistic_sampler.services",
      .type = T_SVCPCT,
      FIELD(sampler.services),
      .def = "{}",
      .doc = "Per-service overrides: a mapping from the resource's `service.name` to a "
             "percentage, used instead of the signal's for that service (`checkout: 100`). With "
             "`--set`, `name=pct,name=pct`." },
};

static const struct row tail_rows[] = {
    { .key = "processors.tail_sampling.enabled",
      .type = T_BOOL,
      FIELD(tail.enabled),
      .def = "false",
      .doc = "Tail-sample traces as the Collector's tail_sampling processor does: every span of a "
             "trace goes to the worker that owns its trace id, which decides once the first span "
             "is `decision_wait_ms` old. Spans waiting for a decision are held in memory (see "
             "docs/sampling.md)." },
    { .key = "processors.tail_sampling.decision_wait_ms",
      .type = T_MS,
      FIELD(tail.decision_wait_ms),
      .min = 1,
      .max = 3600000,
      .def = "30000",
      .doc =
          "How long after its first span a trace is decided (the Collector's `decision_wait`)." },
    { .key = "processors.tail_sampling.num_traces",
      .type = T_UINT,
      FIELD(tail.num_traces),
      .min = 1,
      .max = 100000000,
      .def = "50000",
      .doc = "Traces held at most, shared by the workers; when full, the oldest trace is decided "
             "early and counted as dropped too early." },
    { .key = "processors.tail_sampling.decision_cache.sampled_cache_size",
      .type = T_UINT,
      FIELD(tail.sampled_cache),
      .min = 0,
      .max = 100000000,
      .def = "100000",
      .doc = "Trace ids kept after a keep decision, so late spans are kept too (0: off)." },
    { .key = "processors.tail_sampling.decision_cache.non_sampled_cache_size",
      .type = T_UINT,
      FIELD(tail.non_sampled_cache),
      .min = 0,
      .max = 100000000,
      .def = "100000",
      .doc = "Trace ids kept after a drop decision, so late spans are dropped too (0: off)." },
    { .key = "processors.tail_sampling.route_queue_size",
      .type = T_UINT,
      FIELD(tail.route_queue),
      .min = 64,
      .max = 1u << 24,
      .def = "4096",
      .doc = "Entries of the ring from each worker to each other one that carries spans to the "
             "worker owning their trace; a full ring refuses the request (retryable)." },
    { .key = "processors.tail_sampling.policies",
      .type = T_POLICIES,
      FIELD(tail.policies),
      .def = "[]",
      .doc = "The policies, in the Collector's shape (`name`, `type` and the type's block); see "
             "docs/sampling.md. At least one when enabled." },
};

static const struct row adaptive_rows[] = {
    { .key = "processors.adaptive_sampling.enabled",
      .type = T_BOOL,
      FIELD(adaptive.enabled),
      .def = "false",
      .doc = "Lower the head-sampling rate while Kafka or the spool falls behind, and raise it "
             "back up to the configured rate when they catch up. Turns head sampling on." },
    { .key = "processors.adaptive_sampling.tick_ms",
      .type = T_MS,
      FIELD(adaptive.tick_ms),
      .min = 10,
      .max = 600000,
      .def = "1000",
      .doc = "How often the controller looks at the queues." },
    { .key = "processors.adaptive_sampling.kafka_queue_threshold",
      .type = T_UINT,
      FIELD(adaptive.kafka_queue_threshold),
      .min = 1,
      .max = UINT32_MAX,
      .def = "10000",
      .doc = "Records waiting for Kafka above which the rate falls (x0.9 per tick); below half "
             "of it the rate rises (x1.1 per tick)." },
    { .key = "processors.adaptive_sampling.spool_threshold_pct",
      .type = T_UINT,
      FIELD(adaptive.spool_threshold_pct),
      .min = 1,
      .max = 100,
      .def = "50",
      .doc = "Share of `spool.max_bytes` in use above which the rate falls faster (x0.8 per "
             "tick)." },
    { .key = "processors.adaptive_sampling.floor_percentage",
      .type = T_PERCENT,
      FIELD(adaptive.floor_percentage),
      .def = "1",
      .doc = "The rate never falls below this percentage." },
    { .key = "processors.adaptive_sampling.latency_threshold_ms",
      .type = T_MS,
      FIELD(adaptive.latency_threshold_ms),
      .min = 0,
      .max = 3600000,
      .def = "1000",
      .doc = "While the rate is lowered, spans with an error status or lasting at least this "
             "long, and the spans of their trace in the same request, are always kept (0: errors "
             "only)." },
};

static const struct row host_rows[] = {
    { .key = "host_metrics.enabled",
      .type = T_BOOL,
      FIELD(host_metrics.enabled),
      .def = "false",
      .doc = "Load the eBPF host probes (TCP retransmits, resets, state changes and RTT, run-queue "
             "latency, block I/O latency, packet drops by reason, softirq time, exec, exit and "
             "OOM kills) and send what they count as OTLP metrics to the metrics topic. Needs "
             "kernel BTF and CAP_BPF + CAP_PERFMON (or root); a probe that cannot load is off "
             "and says why (start-up block, `linerate_host_probe_up`). See "
             "docs/host-metrics.md." },
    { .key = "host_metrics.interval_ms",
      .type = T_MS,
      FIELD(host_metrics.interval_ms),
      .min = 100,
      .max = 3600000,
      .def = "10000",
      .doc = "How often the probes' maps are read and one metrics request is sent." },
    { .key = "host_metrics.probes",
      .type = T_STRING,
      FIELD(host_metrics.probes),
      .min = 1,
      .def = "all",
      .doc = "Which probes to load: `all`, or a comma-separated list of `tcp_retransmit`, "
             "`tcp_state`, `tcp_reset_sent`, `tcp_reset_received`, `tcp_rtt`, `runq`, `disk`, "
             "`skb_drop`, `softirq`, `exec`, `exit`, `oom`." },
    { .key = "host_metrics.probe_stats",
      .type = T_BOOL,
      FIELD(host_metrics.probe_stats),
      .def = "true",
      .doc = "Have the kernel count each probe's run time and runs (`bpf_enable_stats`, as "
             "`kernel.bpf_stats_enabled`), shown in /metrics. Costs two clock reads per run of "
             "every BPF program on the host while linerate runs." },
};

static const struct row anomaly_rows[] = {
    { .key = "anomaly.enabled",
      .type = T_BOOL,
      FIELD(anomaly.enabled),
      .def = "false",
      .doc = "Score every (service.name, span name, span kind) series, and with "
             "`host_metrics.enabled` every host-metric series, each window for anomalies, "
             "write each opening and closing to the logs topic as a `linerate.anomaly` log "
             "record, and keep the traces of open series at `keep_percent`. Off by default: "
             "it adds records to the logs topic and overrides head sampling for open series, so "
             "what reaches Kafka is no longer exactly what the Collector would write "
             "(docs/anomaly.md)." },
    { .key = "anomaly.device",
      .type = T_ENUM,
      FIELD(anomaly.device),
      .choices = "auto|cpu|cuda",
      .def = "auto",
      .doc = "Where the detector runs: `cuda` (a GPU, or linerate does not start), `cpu` (the "
             "reference implementation), `auto` (the GPU when the CUDA runtime finds one, else "
             "the CPU; the start-up block says which)." },
    { .key = "anomaly.window_ms",
      .type = T_MS,
      FIELD(anomaly.window_ms),
      .min = 100,
      .max = 60000,
      .def = "1000",
      .doc = "Length of one window (one detector tick): each series' request count, error count "
             "and latency p50/p95/p99 are computed over it." },
    { .key = "anomaly.max_series",
      .type = T_UINT,
      FIELD(anomaly.max_series),
      .min = 1,
      .max = 1048576,
      .def = "4096",
      .doc = "Series tracked at once, per worker and by the detector; spans of further series "
             "are counted (`linerate_anomaly_overflow_spans_total`) and not scored. Each worker "
             "holds about 1 KiB per series touched in a window." },
    { .key = "anomaly.keep_percent",
      .type = T_PERCENT,
      FIELD(anomaly.keep_percent),
      .def = "100",
      .doc = "While a series is open, share of its traces kept by head sampling, whatever the "
             "sampling rate (decided on the trace id, so all spans of a trace agree, and with "
             "the rest of the trace in the same request)." },
    { .key = "anomaly.batch_max_size",
      .type = T_UINT,
      FIELD(anomaly.batch_max_size),
      .min = 1,
      .max = 16777216,
      .def = "65536",
      .doc = "Most series in one detector launch; a tick with more series takes several." },
    { .key = "anomaly.batch_max_wait_ms",
      .type = T_MS,
      FIELD(anomaly.batch_max_wait_ms),
      .min = 1,
      .max = 60000,
      .def = "250",
      .doc = "After a window ends, how long the batcher waits for every worker's share of it "
             "before it scores what it has (workers hand their windows over within 100 ms). A "
             "share that arrives later is counted (`linerate_anomaly_late_windows_total`) and "
             "dropped." },
    { .key = "anomaly.idle_windows",
      .type = T_UINT,
      FIELD(anomaly.idle_windows),
      .min = 1,
      .max = 1000000,
      .def = "300",
      .doc = "A series with no span for this many windows is forgotten (its detector state "
             "reset, its slot free); until then each window without spans scores a count of 0." },
};

static const struct row admin_rows[] = {
    { .key = "admin.endpoint",
      .type = T_ENDPOINT,
      FIELD(admin.host),
      .off2 = offsetof(struct lr_config, admin.port),
      .def = "127.0.0.1:13133",
      .doc = "Address of the admin HTTP server (health and status)." },
    { .key = "admin.token",
      .type = T_STRING,
      FIELD(admin.token),
      .min = 0,
      .def = "",
      .doc = "Bearer token that `PUT /sampling` must carry (`Authorization: Bearer TOKEN`); "
             "empty: runtime changes are refused." },
};

static const struct row service_rows[] = {
    { .key = "service.run_dir",
      .type = T_STRING,
      FIELD(service.run_dir),
      .min = 1,
      .def = "/run/linerate",
      .doc = "Folder for runtime files." },
    { .key = "service.status_interval_ms",
      .type = T_MS,
      FIELD(service.status_interval_ms),
      .min = 100,
      .max = 3600000,
      .flags = F_ZERO_OFF,
      .def = "5000",
      .doc = "How often to report a status summary; 0 turns it off." },
    { .key = "service.shutdown_grace_ms",
      .type = T_MS,
      FIELD(service.shutdown_grace_ms),
      .min = 0,
      .max = 600000,
      .def = "10000",
      .doc = "At shutdown, how long requests in flight may take to finish." },
};

static const struct section sections[] = {
    { "receivers.otlp.protocols.grpc",
      "The OTLP/gRPC receiver (`opentelemetry.proto.collector.*.v1.*Service/Export`) and its "
      "HTTP/2 limits.",
      grpc_rows, N_ROWS(grpc_rows) },
    { "receivers.otlp.protocols.http",
      "The OTLP/HTTP receiver (`/v1/traces`, `/v1/metrics`, "
      "`/v1/logs`).",
      http_rows, N_ROWS(http_rows) },
    { "workers", "Dataplane workers: one thread pinned to each CPU.", workers_rows,
      N_ROWS(workers_rows) },
    { "dataplane",
      "The io backend. In `dpdk` mode linerate owns a network port through DPDK and answers ARP, "
      "ICMP echo and TCP on `dataplane.ip` itself.",
      dp_rows, N_ROWS(dp_rows) },
    { "exporters.kafka",
      "Where the telemetry goes. The shape follows the Collector's kafka "
      "exporter.",
      kafka_rows, N_ROWS(kafka_rows) },
    { "exporters.null", "The null sink, in place of Kafka.", null_rows, N_ROWS(null_rows) },
    { "processors.probabilistic_sampler",
      "Head sampling of traces and logs (the Collector's probabilistic sampler processor).",
      sampler_rows, N_ROWS(sampler_rows) },
    { "processors.tail_sampling",
      "Tail sampling of traces (the Collector's tail_sampling processor), across workers.",
      tail_rows, N_ROWS(tail_rows) },
    { "processors.adaptive_sampling",
      "The backpressure controller: the head-sampling rate follows the Kafka queue and the spool.",
      adaptive_rows, N_ROWS(adaptive_rows) },
    { "anomaly",
      "Anomaly scoring of every service's operations in batches (GPU or CPU), its events and "
      "the sampling boost (docs/anomaly.md).",
      anomaly_rows, N_ROWS(anomaly_rows) },
    { "spool",
      "The write-ahead spool: what was acknowledged and is not yet in Kafka, on disk, per "
      "worker.",
      spool_rows, N_ROWS(spool_rows) },
    { "host_metrics",
      "Host telemetry from linerate's own eBPF probes, shipped as OTLP metrics "
      "(docs/host-metrics.md).",
      host_rows, N_ROWS(host_rows) },
    { "admin", "The admin HTTP server.", admin_rows, N_ROWS(admin_rows) },
    { "service", "The process itself.", service_rows, N_ROWS(service_rows) },
};

#define N_SECTIONS N_ROWS(sections)

/* ---- lookups over the tables ---------------------------------------------------------------- */

static const struct row *row_find(const char *key)
{
    for (size_t s = 0; s < N_SECTIONS; s++)
        for (size_t i = 0; i < sections[s].n; i++)
            if (strcmp(sections[s].rows[i].key, key) == 0)
                return &sections[s].rows[i];
    return NULL;
}

/* Whether `prefix` is an inner node of the key tree: some row lies below it. */
static bool is_inner(const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t s = 0; s < N_SECTIONS; s++)
        for (size_t i = 0; i < sections[s].n; i++) {
            const char *k = sections[s].rows[i].key;
            if (n == 0 || (strncmp(k, prefix, n) == 0 && k[n] == '.'))
                return true;
        }
    return false;
}

/* Writes "a, b, c": the names directly below `prefix` ("" = the top level), in table order. */
static void known_children(const char *prefix, char *out, size_t outlen)
{
    const char *seen[64];
    size_t seen_len[64], n_seen = 0, n = strlen(prefix), used = 0;
    out[0] = '\0';
    for (size_t s = 0; s < N_SECTIONS; s++)
        for (size_t i = 0; i < sections[s].n; i++) {
            const char *k = sections[s].rows[i].key;
            if (n > 0 && (strncmp(k, prefix, n) != 0 || k[n] != '.'))
                continue;
            const char *child = n > 0 ? k + n + 1 : k;
            size_t clen = strcspn(child, "."), j;
            /* Rows below one child need not be adjacent. */
            for (j = 0; j < n_seen; j++)
                if (seen_len[j] == clen && strncmp(seen[j], child, clen) == 0)
                    break;
            if (j < n_seen || n_seen == 64)
                continue;
            seen[n_seen] = child;
            seen_len[n_seen++] = clen;
            int w =
                snprintf(out + used, outlen - used, "%s%.*s", used ? ", " : "", (int)clen, child);
            if (w < 0 || (size_t)w >= outlen - used)
                return;
            used += (size_t)w;
        }
}

/* ---- value parsers: text in, member out, or -1 with a reason -------------------------------- */

static void reason(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reason(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* Parses decimal digits only (no sign, no blanks); false on anything else or overflow. */
static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* "4GiB" when exact, else the plain number. */
static void fmt_bytes(uint64_t v, char *out, size_t len)
{
    if (v >= GiB && v % GiB == 0)
        snprintf(out, len, "%" PRIu64 "GiB", v / GiB);
    else if (v >= MiB && v % MiB == 0)
        snprintf(out, len, "%" PRIu64 "MiB", v / MiB);
    else if (v >= KiB && v % KiB == 0)
        snprintf(out, len, "%" PRIu64 "KiB", v / KiB);
    else
        snprintf(out, len, "%" PRIu64, v);
}

/* The accepted range as text: "1..1000", "1KiB..4GiB", "0 or 100..3600000". */
static void fmt_range(const struct row *r, char *out, size_t len)
{
    char lo[32], hi[32];
    if (r->type == T_BYTES) {
        fmt_bytes(r->min, lo, sizeof(lo));
        fmt_bytes(r->max, hi, sizeof(hi));
    } else {
        snprintf(lo, sizeof(lo), "%" PRIu64, r->min);
        snprintf(hi, sizeof(hi), "%" PRIu64, r->max);
    }
    snprintf(out, len, "%s%s..%s", (r->flags & F_ZERO_OFF) ? "0 or " : "", lo, hi);
}

static void put_uint(struct lr_config *c, const struct row *r, uint64_t v)
{
    char *p = (char *)c + r->off;
    if (r->size == sizeof(uint64_t)) {
        uint64_t w = v;
        memcpy(p, &w, sizeof(w));
    } else {
        uint32_t w = (uint32_t)v;
        memcpy(p, &w, sizeof(w));
    }
}

static int parse_number(struct lr_config *c, const struct row *r, const char *s, char *why,
                        size_t wl)
{
    size_t len = strlen(s);
    uint64_t v, mul = 1;
    if (r->type == T_BYTES) {
        static const struct {
            const char *sfx;
            uint64_t mul;
        } units[] = { { "KiB", KiB }, { "MiB", MiB }, { "GiB", GiB } };
        for (size_t i = 0; i < N_ROWS(units); i++)
            if (len > 3 && strcmp(s + len - 3, units[i].sfx) == 0) {
                mul = units[i].mul;
                len -= 3;
                break;
            }
        if (!parse_u64(s, len, &v) || v > UINT64_MAX / mul) {
            reason(why, wl, "'%s' is not a size (an integer, optionally with KiB, MiB or GiB)", s);
            return -1;
        }
        v *= mul;
    } else if (!parse_u64(s, len, &v)) {
        reason(why, wl, "'%s' is not an unsigned integer", s);
        return -1;
    }
    if (!(v == 0 && (r->flags & F_ZERO_OFF)) && (v < r->min || v > r->max)) {
        char range[80];
        fmt_range(r, range, sizeof(range));
        reason(why, wl, "%s is out of range %s", s, range);
        return -1;
    }
    put_uint(c, r, v);
    return 0;
}

static void put_string(struct lr_config *c, const struct row *r, const char *s)
{
    char *p = (char *)c + r->off;
    /* Zero the whole member, so that two configs with the same values compare equal bytewise. */
    memset(p, 0, r->size);
    memcpy(p, s, strlen(s));
}

static bool host_char_ok(char ch, bool bracketed)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    if (ch == '.' || ch == '-' || ch == '_')
        return true;
    return bracketed && (ch == ':' || ch == '%');
}

/* Splits "HOST:PORT", "[V6]:PORT" or ":PORT". `host` gets the host without brackets ("" for
 * ":PORT"); `hostcap` is its capacity. */
static int parse_endpoint(const char *s, char *host, size_t hostcap, uint16_t *port, char *why,
                          size_t wl)
{
    const char *colon, *h = s;
    size_t hlen;
    bool bracketed = s[0] == '[';
    if (bracketed) {
        const char *close = strchr(s, ']');
        if (!close) {
            reason(why, wl, "'%s' has an unclosed '['", s);
            return -1;
        }
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
        if (*colon != ':') {
            reason(why, wl, "'%s' is not HOST:PORT (missing :PORT after ']')", s);
            return -1;
        }
        if (hlen == 0) {
            reason(why, wl, "'%s' has an empty address in brackets", s);
            return -1;
        }
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            reason(why, wl, "'%s' is not HOST:PORT (missing :PORT)", s);
            return -1;
        }
        hlen = (size_t)(colon - s);
        if (memchr(s, ':', hlen)) {
            reason(why, wl, "'%s': put an IPv6 address in brackets, as in [::1]:4318", s);
            return -1;
        }
    }
    for (size_t i = 0; i < hlen; i++)
        if (!host_char_ok(h[i], bracketed)) {
            reason(why, wl, "'%s' has an invalid character in the host", s);
            return -1;
        }
    if (hlen >= hostcap) {
        reason(why, wl, "'%s': the host is longer than %zu characters", s, hostcap - 1);
        return -1;
    }
    uint64_t p;
    const char *ps = colon + 1;
    if (!parse_u64(ps, strlen(ps), &p)) {
        reason(why, wl, "'%s': port '%s' is not a number", s, ps);
        return -1;
    }
    if (p < 1 || p > 65535) {
        reason(why, wl, "'%s': port %s is out of range 1..65535", s, ps);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return 0;
}

static int parse_endpoint_row(struct lr_config *c, const struct row *r, const char *s, char *why,
                              size_t wl)
{
    char host[LR_CFG_HOST_MAX];
    uint16_t port;
    if (parse_endpoint(s, host, sizeof(host), &port, why, wl) < 0)
        return -1;
    if (host[0] != '\0' || s[0] == '[') /* ":PORT" keeps the host */
        put_string(c, r, host);
    memcpy((char *)c + r->off2, &port, sizeof(port));
    return 0;
}

/* "all", or a Linux cpu list: N or N-M items joined by commas, ascending within an item.
 * `max_cpu` gets the highest CPU named (-1 for "all"). */
static int parse_cpus(const char *s, long *max_cpu, char *why, size_t wl)
{
    *max_cpu = -1;
    if (strcmp(s, "all") == 0)
        return 0;
    const char *p = s;
    for (;;) {
        uint64_t lo, hi;
        size_t n = strspn(p, "0123456789");
        if (n == 0 || n > 5 || !parse_u64(p, n, &lo))
            goto bad;
        p += n;
        hi = lo;
        if (*p == '-') {
            p++;
            n = strspn(p, "0123456789");
            if (n == 0 || n > 5 || !parse_u64(p, n, &hi))
                goto bad;
            p += n;
            if (hi < lo) {
                reason(why, wl, "'%s': the range %" PRIu64 "-%" PRIu64 " ends before it starts", s,
                       lo, hi);
                return -1;
            }
        }
        if ((long)hi > *max_cpu)
            *max_cpu = (long)hi;
        if (*p == '\0')
            return 0;
        if (*p != ',')
            goto bad;
        p++;
    }
bad:
    reason(why, wl, "'%s' is not \"all\" or a cpu list such as 0-3,6", s);
    return -1;
}

/* Kafka's rule (kafka.common.internals.Topic): 1..249 of [a-zA-Z0-9._-], not "." or "..". */
static int check_topic(const char *s, char *why, size_t wl)
{
    size_t len = strlen(s);
    if (len == 0) {
        reason(why, wl, "a topic name must not be empty");
        return -1;
    }
    if (len > 249) {
        reason(why, wl, "a topic name is at most 249 characters (this one has %zu)", len);
        return -1;
    }
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
        reason(why, wl, "'%s' is not a valid topic name", s);
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        if (!host_char_ok(s[i], false)) {
            reason(why, wl, "'%s' has a character other than a-z A-Z 0-9 . _ -", s);
            return -1;
        }
    return 0;
}

/* Appends one broker to the comma list in `list` (capacity `cap`) after checking it. */
static int broker_append(char *list, size_t cap, const char *b, char *why, size_t wl)
{
    char host[LR_CFG_HOST_MAX];
    uint16_t port;
    if (parse_endpoint(b, host, sizeof(host), &port, why, wl) < 0)
        return -1;
    if (host[0] == '\0') {
        reason(why, wl, "'%s': a broker needs a host", b);
        return -1;
    }
    size_t used = strlen(list), blen = strlen(b);
    if (used + (used ? 1 : 0) + blen >= cap) {
        reason(why, wl, "the broker list is longer than %zu characters", cap - 1);
        return -1;
    }
    if (used)
        list[used++] = ',';
    memcpy(list + used, b, blen + 1);
    return 0;
}

/* A comma list, blanks around items ignored; "" = no brokers (the embedded one). */
static int parse_broker_list(char *list, size_t cap, const char *s, char *why, size_t wl)
{
    char item[LR_CFG_HOST_MAX + 16];
    const char *p = s;
    while (*p == ' ')
        p++;
    if (*p == '\0')
        return 0;
    for (;;) {
        size_t n = strcspn(p, ",");
        const char *e = p + n;
        while (n > 0 && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == 0) {
            reason(why, wl, "'%s' has an empty item", s);
            return -1;
        }
        if (n >= sizeof(item)) {
            reason(why, wl, "'%.*s...' is too long for a broker", 32, p);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (broker_append(list, cap, item, why, wl) < 0)
            return -1;
        if (*e == '\0')
            return 0;
        p = e + 1;
    }
}

/* Sets one property of kafka.producer: replaces the value of a property already there. */
static int producer_put(struct lr_config *c, const char *key, const char *value, char *why,
                        size_t wl)
{
    char *v = strdup(value);
    if (!v)
        goto oom;
    for (size_t i = 0; i < c->kafka.n_producer; i++)
        if (strcmp(c->kafka.producer[i].key, key) == 0) {
            free(c->kafka.producer[i].value);
            c->kafka.producer[i].value = v;
            return 0;
        }
    char *k = strdup(key);
    struct lr_cfg_kv *a =
        k ? realloc(c->kafka.producer, (c->kafka.n_producer + 1) * sizeof(*a)) : NULL;
    if (!a) {
        free(k);
        free(v);
        goto oom;
    }
    a[c->kafka.n_producer++] = (struct lr_cfg_kv){ .key = k, .value = v };
    c->kafka.producer = a;
    return 0;
oom:
    reason(why, wl, "out of memory");
    return -1;
}

/* Sets the percentage of one service in sampler.services, replacing an earlier one. */
static int svc_put(struct lr_config *c, const char *name, const char *pct, char *why, size_t wl)
{
    char *end;
    errno = 0;
    double v = strtod(pct, &end);
    if (end == pct || *end || errno || !(v >= 0 && v <= 100)) {
        reason(why, wl, "%s: '%s' is not a percentage (a number from 0 to 100)", name, pct);
        return -1;
    }
    if (!name[0] || strlen(name) > 255) {
        reason(why, wl, "a service name must have 1..255 characters");
        return -1;
    }
    for (size_t i = 0; i < c->sampler.n_services; i++)
        if (strcmp(c->sampler.services[i].service, name) == 0) {
            c->sampler.services[i].percentage = v;
            return 0;
        }
    char *n = strdup(name);
    struct lr_cfg_svc_pct *a =
        n ? realloc(c->sampler.services, (c->sampler.n_services + 1) * sizeof(*a)) : NULL;
    if (!a) {
        free(n);
        reason(why, wl, "out of memory");
        return -1;
    }
    a[c->sampler.n_services++] = (struct lr_cfg_svc_pct){ .service = n, .percentage = v };
    c->sampler.services = a;
    return 0;
}

static void svc_clear(struct lr_config *c)
{
    for (size_t i = 0; i < c->sampler.n_services; i++)
        free(c->sampler.services[i].service);
    free(c->sampler.services);
    c->sampler.services = NULL;
    c->sampler.n_services = 0;
}

/* `--set ...services=a=10,b=20`: replaces the whole mapping ("" empties it). */
static int svc_parse_list(struct lr_config *c, const char *s, char *why, size_t wl)
{
    svc_clear(c);
    char item[512];
    while (*s) {
        size_t n = strcspn(s, ",");
        if (n >= sizeof(item)) {
            reason(why, wl, "entry too long");
            return -1;
        }
        memcpy(item, s, n);
        item[n] = '\0';
        char *eq = strrchr(item, '=');
        if (!eq) {
            reason(why, wl, "'%s' is not NAME=PERCENT", item);
            return -1;
        }
        *eq = '\0';
        if (svc_put(c, item, eq + 1, why, wl) < 0)
            return -1;
        s += n;
        if (*s == ',')
            s++;
    }
    return 0;
}

static void policies_set(struct lr_config *c, struct lr_tail_policies *p)
{
    lr_dp_tail_policies_free(c->tail.policies);
    c->tail.policies = p;
}

/* Applies a scalar (as text) to the row's member. T_PROPS is not handled here. */
static int apply_text(struct lr_config *c, const struct row *r, const char *s, char *why, size_t wl)
{
    switch (r->type) {
    case T_STRING:
        if (strlen(s) < r->min) {
            reason(why, wl, "must not be empty");
            return -1;
        }
        if (strlen(s) >= r->size) {
            reason(why, wl, "longer than %zu characters", r->size - 1);
            return -1;
        }
        put_string(c, r, s);
        return 0;
    case T_ENDPOINT:
        return parse_endpoint_row(c, r, s, why, wl);
    case T_UINT:
    case T_BYTES:
    case T_MS:
        return parse_number(c, r, s, why, wl);
    case T_BOOL: {
        static const char *const yes[] = { "true", "yes", "on" };
        static const char *const no[] = { "false", "no", "off" };
        for (size_t i = 0; i < 3; i++)
            if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
                bool v = strcasecmp(s, yes[i]) == 0;
                memcpy((char *)c + r->off, &v, sizeof(v));
                return 0;
            }
        reason(why, wl, "'%s' is not a boolean (true or false)", s);
        return -1;
    }
    case T_CPUS: {
        long max_cpu;
        if (parse_cpus(s, &max_cpu, why, wl) < 0)
            return -1;
        if (strlen(s) >= r->size) {
            reason(why, wl, "longer than %zu characters", r->size - 1);
            return -1;
        }
        put_string(c, r, s);
        return 0;
    }
    case T_TOPIC:
        if (check_topic(s, why, wl) < 0)
            return -1;
        put_string(c, r, s);
        return 0;
    case T_BROKERS: {
        char list[sizeof(c->kafka.brokers)] = "";
        if (parse_broker_list(list, sizeof(list), s, why, wl) < 0)
            return -1;
        put_string(c, r, list);
        return 0;
    }
    case T_ENUM: {
        uint32_t idx = 0;
        for (const char *p = r->choices; *p; idx++) {
            size_t n = strcspn(p, "|");
            if (strlen(s) == n && strncmp(p, s, n) == 0) {
                memcpy((char *)c + r->off, &idx, sizeof(idx));
                return 0;
            }
            p += n;
            if (*p == '|')
                p++;
        }
        reason(why, wl, "'%s' is not one of %s", s, r->choices);
        return -1;
    }
    case T_PERCENT: {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || *end || errno || !(v >= 0 && v <= 100)) {
            reason(why, wl, "'%s' is not a percentage (a number from 0 to 100)", s);
            return -1;
        }
        memcpy((char *)c + r->off, &v, sizeof(v));
        return 0;
    }
    case T_SVCPCT:
        return svc_parse_list(c, s, why, wl);
    case T_POLICIES: {
        struct lr_tail_policies *p = NULL;
        /* "" and "[]": none (the doc's default column reads back, as for the other lists). */
        if (*s && strcmp(s, "[]") != 0 &&
            !(p = lr_dp_tail_policies_parse_text(s, strlen(s), why, wl)))
            return -1;
        policies_set(c, p);
        return 0;
    }
    case T_PROPS:
        break;
    }
    reason(why, wl, "not a single value");
    return -1;
}

/* ---- public: defaults, set, free ------------------------------------------------------------ */

void lr_cp_config_defaults(struct lr_config *c)
{
    char why[256];
    memset(c, 0, sizeof(*c));
    for (size_t s = 0; s < N_SECTIONS; s++)
        for (size_t i = 0; i < sections[s].n; i++) {
            const struct row *r = &sections[s].rows[i];
            if (r->type == T_PROPS || r->type == T_SVCPCT || r->type == T_POLICIES ||
                (r->type == T_BROKERS && strcmp(r->def, "[]") == 0))
                continue; /* empty: the memset did it */
            /* The defaults are ours; a test checks that each one parses. */
            (void)apply_text(c, r, r->def, why, sizeof(why));
        }
}

void lr_cp_config_free(struct lr_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->kafka.n_producer; i++) {
        free(c->kafka.producer[i].key);
        free(c->kafka.producer[i].value);
    }
    free(c->kafka.producer);
    c->kafka.producer = NULL;
    c->kafka.n_producer = 0;
    svc_clear(c);
    policies_set(c, NULL);
}

void lr_cp_errf(char *errstr, size_t errlen, const char *fmt, ...)
{
    if (!errstr || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errlen, fmt, ap);
    va_end(ap);
}

#define PRODUCER_KEY "exporters.kafka.producer"
#define PRODUCER_PREFIX PRODUCER_KEY "."

int lr_cp_config_set(struct lr_config *c, const char *key, const char *value, char *errstr,
                     size_t errlen)
{
    char why[512], known[512], path[512];
    const struct row *r = row_find(key);
    if (r && r->type != T_PROPS) {
        if (apply_text(c, r, value, why, sizeof(why)) < 0) {
            lr_cp_errf(errstr, errlen, "%s: %s", key, why);
            return -1;
        }
        return 0;
    }
    if (strcmp(key, PRODUCER_KEY) == 0 || strcmp(key, PRODUCER_PREFIX) == 0) {
        lr_cp_errf(errstr, errlen, "%s: name a property, as in %slinger.ms", PRODUCER_KEY,
                   PRODUCER_PREFIX);
        return -1;
    }
    if (strncmp(key, PRODUCER_PREFIX, strlen(PRODUCER_PREFIX)) == 0) {
        if (producer_put(c, key + strlen(PRODUCER_PREFIX), value, why, sizeof(why)) < 0) {
            lr_cp_errf(errstr, errlen, "%s: %s", key, why);
            return -1;
        }
        return 0;
    }
    if (is_inner(key) && key[0] != '\0') {
        known_children(key, known, sizeof(known));
        lr_cp_errf(errstr, errlen, "%s: a section, not a single value (keys: %s)", key, known);
        return -1;
    }
    /* Name the first component that does not exist, and what exists beside it. */
    if (key[0] == '\0') {
        lr_cp_errf(errstr, errlen, "(empty key): unknown key");
        return -1;
    }
    snprintf(path, sizeof(path), "%s", key);
    for (size_t n = 0;;) {
        size_t next = n + strcspn(path + n, ".");
        char saved = path[next];
        path[next] = '\0';
        if (saved != '\0' && row_find(path)) {
            lr_cp_errf(errstr, errlen, "%s: unknown key (%s takes a single value)", key, path);
            return -1;
        }
        if (saved == '\0' || !is_inner(path)) {
            if (n > 0)
                path[n - 1] = '\0';
            known_children(n > 0 ? path : "", known, sizeof(known));
            if (n > 0)
                path[n - 1] = '.';
            lr_cp_errf(errstr, errlen, "%s: unknown key (known: %s)", path, known);
            return -1;
        }
        path[next] = saved;
        n = next + 1;
    }
}

/* ---- YAML ------------------------------------------------------------------------------------ */

struct load {
    struct lr_config *c;
    yaml_document_t *doc;
    const char *name;
    char *errstr;
    size_t errlen;
};

static size_t line_of(const yaml_node_t *n)
{
    return n->start_mark.line + 1;
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a sequence";
    default:
        return "a scalar";
    }
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* A plain empty, "~" or "null" scalar: YAML's null. */
static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = scalar(n);
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static int load_fail(struct load *L, const yaml_node_t *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int load_fail(struct load *L, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    lr_cp_errf(L->errstr, L->errlen, "%s:%zu: %s: %s", L->name, line_of(n), key, why);
    return -1;
}

/* The key node before `p` in `map` with the same text as p's key, or NULL. */
static const yaml_node_t *earlier_key(struct load *L, const yaml_node_t *map,
                                      const yaml_node_pair_t *p)
{
    const char *k = scalar(yaml_document_get_node(L->doc, p->key));
    for (const yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
        const yaml_node_t *qk = yaml_document_get_node(L->doc, q->key);
        if (qk->type == YAML_SCALAR_NODE && strcmp(scalar(qk), k) == 0)
            return qk;
    }
    return NULL;
}

static int load_producer(struct load *L, const char *path, const yaml_node_t *map)
{
    char key[512], why[512];
    if (is_null(map))
        return 0;
    if (map->type != YAML_MAPPING_NODE)
        return load_fail(L, map, path, "expected a mapping, got %s", node_kind(map));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(L->doc, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return load_fail(L, k, path, "a key must be a scalar, got %s", node_kind(k));
        snprintf(key, sizeof(key), "%s.%s", path, scalar(k));
        /* Within one mapping a repeated key is a mistake; across sources the later one wins. */
        const yaml_node_t *first = earlier_key(L, map, p);
        if (first)
            return load_fail(L, k, key, "duplicate key (first at line %zu)", line_of(first));
        if (v->type != YAML_SCALAR_NODE)
            return load_fail(L, v, key, "expected a scalar, got %s", node_kind(v));
        if (is_null(v))
            return load_fail(L, v, key, "missing value");
        if (producer_put(L->c, scalar(k), scalar(v), why, sizeof(why)) < 0)
            return load_fail(L, v, key, "%s", why);
    }
    return 0;
}

static int load_brokers(struct load *L, const struct row *r, const yaml_node_t *v)
{
    char list[sizeof(L->c->kafka.brokers)] = "", why[512];
    if (v->type == YAML_MAPPING_NODE)
        return load_fail(L, v, r->key, "expected a sequence of HOST:PORT or a string, got %s",
                         node_kind(v));
    if (v->type == YAML_SCALAR_NODE) {
        if (!is_null(v) && parse_broker_list(list, sizeof(list), scalar(v), why, sizeof(why)) < 0)
            return load_fail(L, v, r->key, "%s", why);
    } else {
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            yaml_node_t *b = yaml_document_get_node(L->doc, *it);
            if (b->type != YAML_SCALAR_NODE || is_null(b))
                return load_fail(L, b, r->key, "a broker must be a HOST:PORT string, got %s",
                                 is_null(b) ? "null" : node_kind(b));
            if (broker_append(list, sizeof(list), scalar(b), why, sizeof(why)) < 0)
                return load_fail(L, b, r->key, "%s", why);
        }
    }
    put_string(L->c, r, list);
    return 0;
}

static int load_services(struct load *L, const struct row *r, const yaml_node_t *map)
{
    char key[512], why[512];
    if (is_null(map))
        return 0;
    if (map->type != YAML_MAPPING_NODE)
        return load_fail(L, map, r->key, "expected a mapping of service.name to percentage, got %s",
                         node_kind(map));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(L->doc, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return load_fail(L, k, r->key, "a key must be a scalar, got %s", node_kind(k));
        snprintf(key, sizeof(key), "%s.%s", r->key, scalar(k));
        const yaml_node_t *first = earlier_key(L, map, p);
        if (first)
            return load_fail(L, k, key, "duplicate key (first at line %zu)", line_of(first));
        if (v->type != YAML_SCALAR_NODE || is_null(v))
            return load_fail(L, v, key, "expected a percentage");
        if (svc_put(L->c, scalar(k), scalar(v), why, sizeof(why)) < 0)
            return load_fail(L, v, key, "%s", why);
    }
    return 0;
}

static int load_policies(struct load *L, const struct row *r, const yaml_node_t *v)
{
    char why[512];
    if (is_null(v)) {
        policies_set(L->c, NULL);
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return load_fail(L, v, r->key, "expected a sequence of policies, got %s", node_kind(v));
    if (v->data.sequence.items.start == v->data.sequence.items.top) {
        policies_set(L->c, NULL); /* [] : none, as the default */
        return 0;
    }
    struct lr_tail_policies *p =
        lr_dp_tail_policies_parse(L->doc, (yaml_node_t *)v, why, sizeof(why));
    if (!p)
        return load_fail(L, v, r->key, "%s", why);
    policies_set(L->c, p);
    return 0;
}

static int load_leaf(struct load *L, const struct row *r, const yaml_node_t *v)
{
    char why[512];
    if (r->type == T_PROPS)
        return load_producer(L, r->key, v);
    if (r->type == T_BROKERS)
        return load_brokers(L, r, v);
    if (r->type == T_SVCPCT)
        return load_services(L, r, v);
    if (r->type == T_POLICIES)
        return load_policies(L, r, v);
    if (v->type != YAML_SCALAR_NODE)
        return load_fail(L, v, r->key, "expected a scalar, got %s", node_kind(v));
    if (is_null(v))
        return load_fail(L, v, r->key, "missing value");
    if (apply_text(L->c, r, scalar(v), why, sizeof(why)) < 0)
        return load_fail(L, v, r->key, "%s", why);
    return 0;
}

/* Walks one mapping whose dotted path is `prefix` ("" at the top). The depth is bounded by the
 * tables: a key deeper than any row is unknown, so aliases that loop cannot recurse forever. */
static int load_mapping(struct load *L, const char *prefix, const yaml_node_t *map)
{
    char key[512], known[512];
    const char *where = prefix[0] ? prefix : "(top level)";
    if (is_null(map))
        return 0; /* "http:" with nothing below: all defaults */
    if (map->type != YAML_MAPPING_NODE)
        return load_fail(L, map, where, "expected a mapping, got %s", node_kind(map));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(L->doc, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return load_fail(L, k, where, "a key must be a scalar, got %s", node_kind(k));
        int w = snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] ? "." : "", scalar(k));
        const yaml_node_t *first = earlier_key(L, map, p);
        if (first)
            return load_fail(L, k, key, "duplicate key (first at line %zu)", line_of(first));
        const struct row *r = NULL;
        bool dotted = strchr(scalar(k), '.') != NULL || scalar(k)[0] == '\0';
        if (w < 0 || (size_t)w >= sizeof(key) || dotted)
            ; /* unknown: keys are single names (the producer's are handled apart) */
        else if ((r = row_find(key)) != NULL) {
            if (load_leaf(L, r, v) < 0)
                return -1;
            continue;
        } else if (is_inner(key)) {
            if (load_mapping(L, key, v) < 0)
                return -1;
            continue;
        }
        known_children(prefix, known, sizeof(known));
        return load_fail(L, k, key, "unknown key (known: %s)", known);
    }
    return 0;
}

int lr_cp_config_load_string(struct lr_config *c, const char *yaml, size_t len, const char *name,
                             char *errstr, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    int rc = -1;
    if (!yaml_parser_initialize(&parser)) {
        lr_cp_errf(errstr, errlen, "%s: out of memory", name);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        lr_cp_errf(errstr, errlen, "%s:%zu: YAML syntax error: %s", name,
                   parser.problem_mark.line + 1, parser.problem ? parser.problem : "unknown");
        goto out_parser;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) {
        /* A second document would be silently ignored: refuse it. */
        if (!yaml_parser_load(&parser, &extra)) {
            lr_cp_errf(errstr, errlen, "%s:%zu: YAML syntax error: %s", name,
                       parser.problem_mark.line + 1, parser.problem ? parser.problem : "unknown");
            goto out_doc;
        }
        yaml_node_t *second = yaml_document_get_root_node(&extra);
        if (second) {
            lr_cp_errf(errstr, errlen, "%s:%zu: (document): only one YAML document is allowed",
                       name, line_of(second));
            yaml_document_delete(&extra);
            goto out_doc;
        }
        yaml_document_delete(&extra);
        struct load L = { .c = c, .doc = &doc, .name = name, .errstr = errstr, .errlen = errlen };
        if (load_mapping(&L, "", root) < 0)
            goto out_doc;
    }
    rc = 0;
out_doc:
    yaml_document_delete(&doc);
out_parser:
    yaml_parser_delete(&parser);
    return rc;
}

int lr_cp_config_load_file(struct lr_config *c, const char *path, char *errstr, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    if (!f) {
        lr_cp_errf(errstr, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (len == cap) {
            /* A configuration file is small; past 16 MiB it is the wrong file. */
            if (cap >= 16 * MiB) {
                lr_cp_errf(errstr, errlen, "%s: larger than 16 MiB: not a configuration file",
                           path);
                goto out;
            }
            char *nb = realloc(buf, cap ? cap * 2 : 4096);
            if (!nb) {
                lr_cp_errf(errstr, errlen, "%s: out of memory", path);
                goto out;
            }
            buf = nb;
            cap = cap ? cap * 2 : 4096;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                lr_cp_errf(errstr, errlen, "%s: cannot read: %s", path, strerror(errno));
                goto out;
            }
            break;
        }
    }
    rc = lr_cp_config_load_string(c, buf, len, path, errstr, errlen);
out:
    free(buf);
    fclose(f);
    return rc;
}

/* ---- cross-field checks --------------------------------------------------------------------- */

static bool wildcard_host(const char *h)
{
    return h[0] == '\0' || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0;
}

/* One dotted quad, strictly (inet_pton refuses octal, hex and short forms). */
static bool parse_ipv4(const char *s, size_t len, uint32_t *out)
{
    char buf[INET_ADDRSTRLEN];
    struct in_addr a;
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, &a) != 1)
        return false;
    *out = ntohl(a.s_addr);
    return true;
}

/* dataplane.ip and dataplane.gateway; on error `errstr` names the key and says why. */
static int dp_addr(const struct lr_config *c, uint32_t *ip, uint8_t *prefix, uint32_t *gateway,
                   char *errstr, size_t errlen)
{
    const char *s = c->dp.ip, *slash = strchr(s, '/');
    uint64_t pfx = 0;
    uint32_t a = 0, gw = 0;
    if (!slash || !parse_ipv4(s, (size_t)(slash - s), &a) ||
        !parse_u64(slash + 1, strlen(slash + 1), &pfx) || pfx < 1 || pfx > 32) {
        lr_cp_errf(errstr, errlen,
                   "dataplane.ip: '%s' is not an IPv4 address with a prefix length 1..32 "
                   "(A.B.C.D/N, e.g. 192.0.2.10/24)",
                   s);
        return -1;
    }
    uint32_t mask = ~0u << (32 - pfx);
    if ((a >> 24) == 0 || (a >> 24) == 127 || a >= 0xe0000000u ||
        (pfx < 31 && ((a & ~mask) == 0 || (a | mask) == ~0u))) {
        lr_cp_errf(errstr, errlen,
                   "dataplane.ip: '%s' is not a host address (zero, loopback, multicast, or the "
                   "subnet's network or broadcast address)",
                   s);
        return -1;
    }
    if (c->dp.gateway[0]) {
        if (!parse_ipv4(c->dp.gateway, strlen(c->dp.gateway), &gw)) {
            lr_cp_errf(errstr, errlen, "dataplane.gateway: '%s' is not an IPv4 address (A.B.C.D)",
                       c->dp.gateway);
            return -1;
        }
        if ((gw & mask) != (a & mask) || gw == a) {
            lr_cp_errf(errstr, errlen,
                       "dataplane.gateway: %s is not another host on the subnet of "
                       "dataplane.ip (%s)",
                       c->dp.gateway, s);
            return -1;
        }
    }
    *ip = a;
    *prefix = (uint8_t)pfx;
    *gateway = gw;
    return 0;
}

int lr_cp_config_dp_addr(const struct lr_config *c, uint32_t *ip, uint8_t *prefix,
                         uint32_t *gateway)
{
    char why[256];
    return dp_addr(c, ip, prefix, gateway, why, sizeof(why));
}

/* dataplane.*: what dpdk mode needs, and any address given, whatever the mode. */
static int dp_finalize(const struct lr_config *c, char *errstr, size_t errlen)
{
    uint32_t ip, gw;
    uint8_t prefix;
    if (c->dp.mode == LR_DP_MODE_DPDK && c->dp.ip[0] == '\0') {
        lr_cp_errf(errstr, errlen, "dataplane.ip: needed in dpdk mode, e.g. 192.0.2.10/24");
        return -1;
    }
    if ((c->dp.ip[0] || c->dp.gateway[0]) && dp_addr(c, &ip, &prefix, &gw, errstr, errlen) < 0)
        return -1;
    if (c->dp.mode == LR_DP_MODE_DPDK && strspn(c->dp.eal_args, " \t") == strlen(c->dp.eal_args)) {
        lr_cp_errf(errstr, errlen,
                   "dataplane.dpdk.eal_args: needed in dpdk mode, e.g. --no-pci --no-huge -m 256 "
                   "--no-shconf --vdev=net_af_packet0,iface=eth1");
        return -1;
    }
    if (c->dp.syn_queue > c->dp.max_conns) {
        lr_cp_errf(errstr, errlen,
                   "dataplane.tcp.syn_queue: %u is more than dataplane.tcp.max_conns (%u)",
                   (unsigned)c->dp.syn_queue, (unsigned)c->dp.max_conns);
        return -1;
    }
    return 0;
}

/* host_metrics.probes: "all" or names of control/hostmetrics.c's probes, comma-separated. */
int lr_cp_config_finalize(struct lr_config *c, char *errstr, size_t errlen)
{
    char why[512];
    long max_cpu;
    if (parse_cpus(c->workers.cores, &max_cpu, why, sizeof(why)) < 0) {
        lr_cp_errf(errstr, errlen, "workers.cores: %s", why);
        return -1;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    if (ncpu > 0 && max_cpu >= ncpu) {
        lr_cp_errf(errstr, errlen,
                   "workers.cores: cpu %ld does not exist (this machine has cpus "
                   "0-%ld)",
                   max_cpu, ncpu - 1);
        return -1;
    }
    if (c->http.overload_status != 429 && c->http.overload_status != 503) {
        lr_cp_errf(errstr, errlen,
                   "receivers.otlp.protocols.http.overload_status: %u is neither 429 nor 503",
                   (unsigned)c->http.overload_status);
        return -1;
    }
    if (dp_finalize(c, errstr, errlen) < 0)
        return -1;
    if (lr_cp_host_probes_check(c->host_metrics.probes, why, sizeof(why)) < 0) {
        lr_cp_errf(errstr, errlen, "host_metrics.probes: %s", why);
        return -1;
    }
    if (c->spool.low_watermark_pct >= c->spool.high_watermark_pct) {
        lr_cp_errf(errstr, errlen,
                   "spool.low_watermark_pct: %u must be below spool.high_watermark_pct (%u)",
                   (unsigned)c->spool.low_watermark_pct, (unsigned)c->spool.high_watermark_pct);
        return -1;
    }
    if (c->tail.enabled && !c->tail.policies) {
        lr_cp_errf(errstr, errlen,
                   "processors.tail_sampling.policies: at least one policy is needed when tail "
                   "sampling is enabled");
        return -1;
    }
    /* Two listeners on one port collide when the hosts are the same or one is a wildcard. */
    const struct {
        const char *key, *host;
        uint16_t port;
    } eps[] = {
        { "receivers.otlp.protocols.grpc.endpoint", c->grpc.host, c->grpc.port },
        { "receivers.otlp.protocols.http.endpoint", c->http.host, c->http.port },
        { "admin.endpoint", c->admin.host, c->admin.port },
    };
    for (size_t i = 1; i < N_ROWS(eps); i++)
        for (size_t j = 0; j < i; j++)
            if (eps[i].port == eps[j].port &&
                (strcmp(eps[i].host, eps[j].host) == 0 || wildcard_host(eps[i].host) ||
                 wildcard_host(eps[j].host))) {
                lr_cp_errf(errstr, errlen, "%s: port %u is already taken by %s", eps[i].key,
                           (unsigned)eps[i].port, eps[j].key);
                return -1;
            }
    /* librdkafka would take these over exporters.kafka.brokers, or the other way round: one
     * place for the brokers only. */
    for (size_t i = 0; i < c->kafka.n_producer; i++) {
        const char *k = c->kafka.producer[i].key;
        if (strcmp(k, "message.max.bytes") == 0) {
            lr_cp_errf(errstr, errlen, "%s%s: set exporters.kafka.max_message_bytes instead",
                       PRODUCER_PREFIX, k);
            return -1;
        }
        if (strcmp(k, "bootstrap.servers") == 0 || strcmp(k, "metadata.broker.list") == 0) {
            lr_cp_errf(errstr, errlen, "%s%s: set exporters.kafka.brokers instead", PRODUCER_PREFIX,
                       k);
            return -1;
        }
    }
    return 0;
}

/* ---- docs/CONFIG.md ------------------------------------------------------------------------ */

static const char *type_name(enum vtype t)
{
    switch (t) {
    case T_STRING:
        return "string";
    case T_ENDPOINT:
        return "host:port";
    case T_UINT:
        return "uint";
    case T_BOOL:
        return "bool";
    case T_BYTES:
        return "bytes";
    case T_MS:
        return "duration (ms)";
    case T_CPUS:
        return "cpu list";
    case T_TOPIC:
        return "topic";
    case T_BROKERS:
        return "list of host:port";
    case T_PROPS:
        return "map";
    case T_ENUM:
        return "enum";
    case T_PERCENT:
        return "percentage";
    case T_SVCPCT:
        return "map";
    case T_POLICIES:
        return "list";
    }
    return "?";
}

static void doc_range(const struct row *r, char *out, size_t len)
{
    switch (r->type) {
    case T_UINT:
    case T_BYTES:
    case T_MS:
        fmt_range(r, out, len);
        return;
    case T_STRING:
        snprintf(out, len, "%" PRIu64 "..%zu characters", r->min, r->size - 1);
        return;
    case T_ENDPOINT:
        snprintf(out, len, "port 1..65535");
        return;
    case T_BOOL:
        snprintf(out, len, "true, false");
        return;
    case T_CPUS:
        snprintf(out, len, "`all` or cpus that exist");
        return;
    case T_TOPIC:
        snprintf(out, len, "1..249 of `a-z A-Z 0-9 . _ -`");
        return;
    case T_BROKERS:
        snprintf(out, len, "up to %zu characters joined", r->size - 1);
        return;
    case T_PROPS:
        snprintf(out, len, "librdkafka properties");
        return;
    case T_PERCENT:
        snprintf(out, len, "0..100");
        return;
    case T_SVCPCT:
        snprintf(out, len, "service.name: 0..100");
        return;
    case T_POLICIES:
        snprintf(out, len, "tail-sampling policies");
        return;
    case T_ENUM: {
        size_t o = 0;
        for (const char *p = r->choices; *p && o + 1 < len;) {
            size_t n = strcspn(p, "|");
            int k = snprintf(out + o, len - o, "%s`%.*s`", o ? ", " : "", (int)n, p);
            if (k < 0)
                break;
            o += (size_t)k;
            p += n;
            if (*p == '|')
                p++;
        }
        return;
    }
    }
    out[0] = '\0';
}

/* A Markdown table cell: '|' would end it. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
}

void lr_cp_config_write_doc(FILE *f)
{
    char range[128];
    fputs("# linerate configuration reference\n\n"
          "Generated from the tables in `control/config.c`; do not edit by hand. Regenerate with\n"
          "`build/tests/tools/config_doc > docs/CONFIG.md` (a unit test fails when this file is\n"
          "stale). `docs/linerate.example.yaml` lists every key with its default.\n\n"
          "linerate starts from the defaults below, applies the YAML file given with\n"
          "`--config FILE`, then the other command-line flags in order, and finally checks the\n"
          "result as a whole. `--set KEY=VALUE` sets any key by its dotted name, as in\n"
          "`--set receivers.otlp.protocols.http.max_headers=200` or\n"
          "`--set exporters.kafka.producer.linger.ms=5`. Sizes take a plain integer or a `KiB`,\n"
          "`MiB` or `GiB` suffix; durations are integers in milliseconds. Unknown keys, values of\n"
          "the wrong type and values out of range are errors that name the file, line and key.\n",
          f);
    for (size_t s = 0; s < N_SECTIONS; s++) {
        const struct section *sec = &sections[s];
        fprintf(f, "\n## %s\n\n%s\n\n", sec->name, sec->intro);
        fputs("| key | type | default | range | meaning |\n", f);
        fputs("|---|---|---|---|---|\n", f);
        for (size_t i = 0; i < sec->n; i++) {
            const struct row *r = &sec->rows[i];
            doc_range(r, range, sizeof(range));
            fprintf(f, "| `%s` | %s | `", r->key, type_name(r->type));
            md_cell(f, r->def);
            fputs("` | ", f);
            md_cell(f, range);
            fputs(" | ", f);
            md_cell(f, r->doc);
            fputs(" |\n", f);
        }
    }
}
