// Tests control/config.c and control/cli.c: defaults, the YAML file, --set, every error message,
// the cross-field checks, docs/CONFIG.md being up to date, and the command line.
// Runs from the repository root (it reads docs/).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" {
#include "linerate/config.h"
}

namespace
{

std::string read_file(const char *path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A config that frees itself.
struct Cfg {
    lr_config c;
    Cfg() { lr_cp_config_defaults(&c); }
    ~Cfg() { lr_cp_config_free(&c); }
    Cfg(const Cfg &) = delete;
    Cfg &operator=(const Cfg &) = delete;
};

// Loads `yaml` (named t.yaml) on top of the defaults; returns "" or the error.
std::string load(lr_config *c, const std::string &yaml)
{
    char err[1024] = "";
    int rc = lr_cp_config_load_string(c, yaml.data(), yaml.size(), "t.yaml", err, sizeof(err));
    EXPECT_EQ(rc == 0, err[0] == '\0') << err;
    return rc == 0 ? "" : err;
}

std::string set(lr_config *c, const char *key, const char *value)
{
    char err[1024] = "";
    int rc = lr_cp_config_set(c, key, value, err, sizeof(err));
    return rc == 0 ? "" : err;
}

std::string finalize(lr_config *c)
{
    char err[1024] = "";
    int rc = lr_cp_config_finalize(c, err, sizeof(err));
    return rc == 0 ? "" : err;
}

std::string producer_value(const lr_config &c, const char *key)
{
    for (size_t i = 0; i < c.kafka.n_producer; i++)
        if (strcmp(c.kafka.producer[i].key, key) == 0)
            return c.kafka.producer[i].value;
    return "<absent>";
}

void expect_same(const lr_config &a, const lr_config &b)
{
    EXPECT_STREQ(a.http.host, b.http.host);
    EXPECT_EQ(a.http.port, b.http.port);
    EXPECT_EQ(a.http.max_body_bytes, b.http.max_body_bytes);
    EXPECT_EQ(a.http.max_header_bytes, b.http.max_header_bytes);
    EXPECT_EQ(a.http.max_headers, b.http.max_headers);
    EXPECT_EQ(a.http.header_timeout_ms, b.http.header_timeout_ms);
    EXPECT_EQ(a.http.idle_timeout_ms, b.http.idle_timeout_ms);
    EXPECT_EQ(a.http.body_timeout_ms, b.http.body_timeout_ms);
    EXPECT_EQ(a.http.overload_status, b.http.overload_status);
    EXPECT_EQ(a.http.ack, b.http.ack);
    EXPECT_EQ(a.grpc.ack, b.grpc.ack);
    EXPECT_STREQ(a.grpc.host, b.grpc.host);
    EXPECT_EQ(a.grpc.port, b.grpc.port);
    EXPECT_EQ(a.grpc.max_recv_msg_size_mib, b.grpc.max_recv_msg_size_mib);
    EXPECT_EQ(a.grpc.max_concurrent_streams, b.grpc.max_concurrent_streams);
    EXPECT_EQ(a.grpc.max_header_list_bytes, b.grpc.max_header_list_bytes);
    EXPECT_EQ(a.grpc.hpack_table_bytes, b.grpc.hpack_table_bytes);
    EXPECT_EQ(a.grpc.stream_window_bytes, b.grpc.stream_window_bytes);
    EXPECT_EQ(a.grpc.connection_window_bytes, b.grpc.connection_window_bytes);
    EXPECT_EQ(a.grpc.max_resets_per_s, b.grpc.max_resets_per_s);
    EXPECT_EQ(a.grpc.max_control_frames_per_s, b.grpc.max_control_frames_per_s);
    EXPECT_EQ(a.grpc.header_timeout_ms, b.grpc.header_timeout_ms);
    EXPECT_EQ(a.grpc.idle_timeout_ms, b.grpc.idle_timeout_ms);
    EXPECT_EQ(a.grpc.send_timeout_ms, b.grpc.send_timeout_ms);
    EXPECT_STREQ(a.workers.cores, b.workers.cores);
    EXPECT_EQ(a.workers.queue_size, b.workers.queue_size);
    EXPECT_EQ(a.dp.mode, b.dp.mode);
    EXPECT_STREQ(a.dp.eal_args, b.dp.eal_args);
    EXPECT_EQ(a.dp.port_id, b.dp.port_id);
    EXPECT_STREQ(a.dp.ip, b.dp.ip);
    EXPECT_STREQ(a.dp.gateway, b.dp.gateway);
    EXPECT_EQ(a.dp.vlan, b.dp.vlan);
    EXPECT_EQ(a.dp.mtu, b.dp.mtu);
    EXPECT_EQ(a.dp.max_conns, b.dp.max_conns);
    EXPECT_EQ(a.dp.syn_queue, b.dp.syn_queue);
    EXPECT_EQ(a.dp.rcv_buf_bytes, b.dp.rcv_buf_bytes);
    EXPECT_EQ(a.dp.snd_buf_bytes, b.dp.snd_buf_bytes);
    EXPECT_STREQ(a.kafka.brokers, b.kafka.brokers);
    EXPECT_STREQ(a.kafka.topic_traces, b.kafka.topic_traces);
    EXPECT_STREQ(a.kafka.topic_metrics, b.kafka.topic_metrics);
    EXPECT_STREQ(a.kafka.topic_logs, b.kafka.topic_logs);
    EXPECT_EQ(a.kafka.partition_traces_by_id, b.kafka.partition_traces_by_id);
    EXPECT_EQ(a.kafka.embedded_partitions, b.kafka.embedded_partitions);
    EXPECT_EQ(a.kafka.flush_timeout_ms, b.kafka.flush_timeout_ms);
    EXPECT_EQ(a.kafka.max_message_bytes, b.kafka.max_message_bytes);
    EXPECT_STREQ(a.spool.dir, b.spool.dir);
    EXPECT_EQ(a.spool.segment_bytes, b.spool.segment_bytes);
    EXPECT_EQ(a.spool.commit_interval_us, b.spool.commit_interval_us);
    EXPECT_EQ(a.spool.max_bytes, b.spool.max_bytes);
    EXPECT_EQ(a.spool.high_watermark_pct, b.spool.high_watermark_pct);
    EXPECT_EQ(a.spool.low_watermark_pct, b.spool.low_watermark_pct);
    EXPECT_EQ(a.sampler.enabled, b.sampler.enabled);
    EXPECT_EQ(a.sampler.percentage, b.sampler.percentage);
    EXPECT_EQ(a.sampler.mode, b.sampler.mode);
    EXPECT_EQ(a.sampler.hash_seed, b.sampler.hash_seed);
    EXPECT_EQ(a.sampler.precision, b.sampler.precision);
    EXPECT_EQ(a.sampler.fail_closed, b.sampler.fail_closed);
    EXPECT_EQ(a.anomaly.enabled, b.anomaly.enabled);
    EXPECT_EQ(a.anomaly.device, b.anomaly.device);
    EXPECT_EQ(a.anomaly.window_ms, b.anomaly.window_ms);
    EXPECT_EQ(a.anomaly.max_series, b.anomaly.max_series);
    EXPECT_EQ(a.anomaly.keep_percent, b.anomaly.keep_percent);
    EXPECT_EQ(a.anomaly.batch_max_size, b.anomaly.batch_max_size);
    EXPECT_EQ(a.anomaly.batch_max_wait_ms, b.anomaly.batch_max_wait_ms);
    EXPECT_EQ(a.anomaly.idle_windows, b.anomaly.idle_windows);
    ASSERT_EQ(a.kafka.n_producer, b.kafka.n_producer);
    for (size_t i = 0; i < a.kafka.n_producer; i++) {
        EXPECT_STREQ(a.kafka.producer[i].key, b.kafka.producer[i].key);
        EXPECT_STREQ(a.kafka.producer[i].value, b.kafka.producer[i].value);
    }
    EXPECT_STREQ(a.admin.host, b.admin.host);
    EXPECT_EQ(a.admin.port, b.admin.port);
    EXPECT_STREQ(a.service.run_dir, b.service.run_dir);
    EXPECT_EQ(a.service.status_interval_ms, b.service.status_interval_ms);
    EXPECT_EQ(a.service.shutdown_grace_ms, b.service.shutdown_grace_ms);
}

const char kKnownTop[] = "known: receivers, workers, dataplane, exporters, processors, anomaly, "
                         "spool, host_metrics, admin, service";
const char kKnownKafka[] = "brokers, traces, metrics, logs, partition_traces_by_id, "
                           "embedded_partitions, flush_timeout_ms, max_message_bytes, producer";

// ---- defaults ----------------------------------------------------------------------------------

TEST(ConfigDefaults, AreTheDocumentedOnes)
{
    Cfg d;
    const lr_config &c = d.c;
    EXPECT_STREQ(c.http.host, "127.0.0.1");
    EXPECT_EQ(c.http.port, 4318);
    EXPECT_EQ(c.http.max_body_bytes, 20u * 1024 * 1024);
    EXPECT_EQ(c.http.max_header_bytes, 65536u);
    EXPECT_EQ(c.http.max_headers, 100u);
    EXPECT_EQ(c.http.header_timeout_ms, 10000u);
    EXPECT_EQ(c.http.idle_timeout_ms, 60000u);
    EXPECT_EQ(c.http.body_timeout_ms, 30000u);
    EXPECT_STREQ(c.workers.cores, "all");
    EXPECT_EQ(c.workers.queue_size, 4096u);
    EXPECT_STREQ(c.kafka.brokers, "");
    EXPECT_STREQ(c.kafka.topic_traces, "otlp_spans");
    EXPECT_STREQ(c.kafka.topic_metrics, "otlp_metrics");
    EXPECT_STREQ(c.kafka.topic_logs, "otlp_logs");
    EXPECT_TRUE(c.kafka.partition_traces_by_id);
    EXPECT_EQ(c.kafka.embedded_partitions, 4u);
    EXPECT_EQ(c.kafka.flush_timeout_ms, 10000u);
    EXPECT_EQ(c.kafka.n_producer, 0u);
    EXPECT_EQ(c.kafka.producer, nullptr);
    EXPECT_STREQ(c.admin.host, "127.0.0.1");
    EXPECT_EQ(c.admin.port, 13133);
    EXPECT_STREQ(c.service.run_dir, "/run/linerate");
    EXPECT_EQ(c.service.status_interval_ms, 5000u);
    EXPECT_EQ(c.service.shutdown_grace_ms, 10000u);
    EXPECT_EQ(c.http.ack, (uint32_t)LR_ACK_SPOOL);
    EXPECT_EQ(c.grpc.ack, (uint32_t)LR_ACK_SPOOL);
    EXPECT_EQ(c.kafka.max_message_bytes, 1000000u);
    EXPECT_STREQ(c.spool.dir, "");
    EXPECT_EQ(c.spool.segment_bytes, 64u << 20);
    EXPECT_EQ(c.spool.commit_interval_us, 200u);
    EXPECT_EQ(c.spool.max_bytes, 4ull << 30);
    EXPECT_EQ(c.spool.high_watermark_pct, 90u);
    EXPECT_EQ(c.spool.low_watermark_pct, 70u);
    EXPECT_FALSE(c.sampler.enabled);
    EXPECT_EQ(c.sampler.percentage, 100.0);
    EXPECT_EQ(c.sampler.mode, 0u);
    EXPECT_EQ(c.sampler.hash_seed, 0u);
    EXPECT_EQ(c.sampler.precision, 4u);
    EXPECT_TRUE(c.sampler.fail_closed);
    EXPECT_EQ(c.dp.mode, (uint32_t)LR_DP_MODE_SOCKET);
    EXPECT_STREQ(c.dp.eal_args, "");
    EXPECT_EQ(c.dp.port_id, 0u);
    EXPECT_STREQ(c.dp.ip, "");
    EXPECT_STREQ(c.dp.gateway, "");
    EXPECT_EQ(c.dp.vlan, 0u);
    EXPECT_EQ(c.dp.mtu, 1500u);
    EXPECT_EQ(c.dp.max_conns, 16384u);
    EXPECT_EQ(c.dp.syn_queue, 1024u);
    EXPECT_EQ(c.dp.rcv_buf_bytes, 256u * 1024);
    EXPECT_EQ(c.dp.snd_buf_bytes, 64u * 1024);
    EXPECT_EQ(finalize(&d.c), "");
}

TEST(ConfigKeys, SamplingPercentage)
{
    const struct {
        const char *value;
        double want; // < 0: error
    } cases[] = { { "0", 0 },    { "100", 100 },  { "12.5", 12.5 }, { "0.01", 0.01 },
                  { "1e1", 10 }, { "100.5", -1 }, { "-1", -1 },     { "nan", -1 },
                  { "inf", -1 }, { "", -1 },      { "5%", -1 },     { "abc", -1 } };
    for (auto &tc : cases) {
        Cfg c;
        std::string err =
            set(&c.c, "processors.probabilistic_sampler.sampling_percentage", tc.value);
        if (tc.want < 0) {
            EXPECT_EQ(err, std::string("processors.probabilistic_sampler.sampling_percentage: '") +
                               tc.value + "' is not a percentage (a number from 0 to 100)")
                << tc.value;
            continue;
        }
        EXPECT_EQ(err, "") << tc.value;
        EXPECT_EQ(c.c.sampler.percentage, tc.want) << tc.value;
    }
    Cfg c;
    ASSERT_EQ(load(&c.c, "processors:\n  probabilistic_sampler:\n    enabled: true\n"
                         "    mode: proportional\n    sampling_percentage: 2.5\n"),
              "");
    EXPECT_TRUE(c.c.sampler.enabled);
    EXPECT_EQ(c.c.sampler.mode, 1u);
    EXPECT_EQ(c.c.sampler.percentage, 2.5);
}

TEST(ConfigKeys, AckModes)
{
    const struct {
        const char *value;
        int want; // -1: error
    } cases[] = { { "memory", LR_ACK_MEMORY },
                  { "spool", LR_ACK_SPOOL },
                  { "kafka", LR_ACK_KAFKA },
                  { "Kafka", -1 },
                  { "", -1 },
                  { "spoolx", -1 },
                  { "mem", -1 } };
    for (auto &tc : cases)
        for (const char *key :
             { "receivers.otlp.protocols.http.ack", "receivers.otlp.protocols.grpc.ack" }) {
            Cfg c;
            std::string err = set(&c.c, key, tc.value);
            if (tc.want < 0) {
                EXPECT_EQ(err, std::string(key) + ": '" + tc.value +
                                   "' is not one of memory|spool|kafka")
                    << tc.value;
                continue;
            }
            EXPECT_EQ(err, "") << tc.value;
            uint32_t got = strstr(key, "http") ? c.c.http.ack : c.c.grpc.ack;
            EXPECT_EQ(got, (uint32_t)tc.want) << key << "=" << tc.value;
        }
    Cfg c;
    ASSERT_EQ(load(&c.c, "receivers:\n  otlp:\n    protocols:\n      grpc:\n        ack: kafka\n"
                         "      http: {ack: memory}\n"),
              "");
    EXPECT_EQ(c.c.grpc.ack, (uint32_t)LR_ACK_KAFKA);
    EXPECT_EQ(c.c.http.ack, (uint32_t)LR_ACK_MEMORY);
}

// The default column of docs/CONFIG.md, set key by key, gives the defaults back.
TEST(ConfigDefaults, DocDefaultColumnMatches)
{
    std::string doc = read_file("docs/CONFIG.md");
    ASSERT_FALSE(doc.empty()) << "run the tests from the repository root";
    Cfg from_doc, defaults;
    std::istringstream lines(doc);
    std::string line;
    int rows = 0;
    while (std::getline(lines, line)) {
        if (line.rfind("| `", 0) != 0)
            continue;
        size_t k0 = 3, k1 = line.find('`', k0);
        size_t c1 = line.find(" | ", k1);     // after the key
        size_t c2 = line.find(" | ", c1 + 3); // after the type
        size_t d0 = c2 + 4, d1 = line.find('`', d0);
        std::string key = line.substr(k0, k1 - k0), def = line.substr(d0, d1 - d0);
        rows++;
        if (def == "[]")
            def = "";
        if (def == "{}")
            continue;
        EXPECT_EQ(set(&from_doc.c, key.c_str(), def.c_str()), "") << key;
    }
    EXPECT_EQ(rows, 90);
    expect_same(from_doc.c, defaults.c);
}

TEST(ConfigDefaults, ExampleYamlLoadsAndEqualsDefaults)
{
    Cfg ex, defaults;
    char err[1024] = "";
    ASSERT_EQ(lr_cp_config_load_file(&ex.c, "docs/linerate.example.yaml", err, sizeof(err)), 0)
        << err;
    expect_same(ex.c, defaults.c);
    // Every key of the reference appears in the example.
    std::string example = read_file("docs/linerate.example.yaml");
    for (const char *leaf : { "endpoint:",
                              "max_request_body_size:",
                              "max_header_bytes:",
                              "max_headers:",
                              "header_timeout_ms:",
                              "idle_timeout_ms:",
                              "body_timeout_ms:",
                              "cores:",
                              "queue_size:",
                              "brokers:",
                              "topic:",
                              "partition_traces_by_id:",
                              "embedded_partitions:",
                              "flush_timeout_ms:",
                              "producer:",
                              "run_dir:",
                              "status_interval_ms:",
                              "shutdown_grace_ms:",
                              "ack:",
                              "max_message_bytes:",
                              "segment_bytes:",
                              "commit_interval_us:",
                              "max_bytes:",
                              "high_watermark_pct:",
                              "low_watermark_pct:",
                              "sampling_percentage:",
                              "services:",
                              "decision_wait_ms:",
                              "policies:",
                              "kafka_queue_threshold:",
                              "latency_threshold_ms:",
                              "token:",
                              "eal_args:",
                              "port_id:",
                              "ip:",
                              "gateway:",
                              "vlan:",
                              "mtu:",
                              "max_conns:",
                              "syn_queue:",
                              "rcv_buf_bytes:",
                              "snd_buf_bytes:" })
        EXPECT_NE(example.find(leaf), std::string::npos) << leaf;
}

TEST(ConfigDefaults, EmptyAndNullDocumentsAreValid)
{
    for (const char *yaml : { "", "# only a comment\n", "---\n", "receivers:\n",
                              "receivers:\n  otlp:\n    protocols:\n      http:\n", "workers: ~\n",
                              "exporters:\n  kafka:\n    producer:\n    brokers:\n" }) {
        Cfg c, defaults;
        EXPECT_EQ(load(&c.c, yaml), "") << yaml;
        expect_same(c.c, defaults.c);
    }
}

// ---- every key, through YAML and through lr_cp_config_set ---------------------------------------

const char kFullYaml[] = R"(receivers:
  otlp:
    protocols:
      http:
        endpoint: "[::1]:14318"
        max_request_body_size: 8MiB
        max_header_bytes: 2KiB
        max_headers: 50
        header_timeout_ms: 1000
        idle_timeout_ms: 2000
        body_timeout_ms: 3000
workers:
  cores: 0-1,3
  queue_size: 128
exporters:
  kafka:
    brokers: [k1:9092, "[fe80::1]:9093"]
    traces: {topic: t.spans}
    metrics: {topic: t-metrics}
    logs: {topic: T_logs}
    partition_traces_by_id: false
    embedded_partitions: 16
    flush_timeout_ms: 0
    producer:
      linger.ms: 7
      compression.type: zstd
admin:
  endpoint: 0.0.0.0:9000
service:
  run_dir: /tmp/lr
  status_interval_ms: 0
  shutdown_grace_ms: 600000
)";

void expect_full(const lr_config &c)
{
    EXPECT_STREQ(c.http.host, "::1");
    EXPECT_EQ(c.http.port, 14318);
    EXPECT_EQ(c.http.max_body_bytes, 8u * 1024 * 1024);
    EXPECT_EQ(c.http.max_header_bytes, 2048u);
    EXPECT_EQ(c.http.max_headers, 50u);
    EXPECT_EQ(c.http.header_timeout_ms, 1000u);
    EXPECT_EQ(c.http.idle_timeout_ms, 2000u);
    EXPECT_EQ(c.http.body_timeout_ms, 3000u);
    EXPECT_STREQ(c.workers.cores, "0-1,3");
    EXPECT_EQ(c.workers.queue_size, 128u);
    EXPECT_STREQ(c.kafka.brokers, "k1:9092,[fe80::1]:9093");
    EXPECT_STREQ(c.kafka.topic_traces, "t.spans");
    EXPECT_STREQ(c.kafka.topic_metrics, "t-metrics");
    EXPECT_STREQ(c.kafka.topic_logs, "T_logs");
    EXPECT_FALSE(c.kafka.partition_traces_by_id);
    EXPECT_EQ(c.kafka.embedded_partitions, 16u);
    EXPECT_EQ(c.kafka.flush_timeout_ms, 0u);
    ASSERT_EQ(c.kafka.n_producer, 2u);
    EXPECT_STREQ(c.kafka.producer[0].key, "linger.ms");
    EXPECT_STREQ(c.kafka.producer[0].value, "7");
    EXPECT_STREQ(c.kafka.producer[1].key, "compression.type");
    EXPECT_STREQ(c.kafka.producer[1].value, "zstd");
    EXPECT_STREQ(c.admin.host, "0.0.0.0");
    EXPECT_EQ(c.admin.port, 9000);
    EXPECT_STREQ(c.service.run_dir, "/tmp/lr");
    EXPECT_EQ(c.service.status_interval_ms, 0u);
    EXPECT_EQ(c.service.shutdown_grace_ms, 600000u);
}

TEST(ConfigKeys, EveryKeyThroughYaml)
{
    Cfg c;
    ASSERT_EQ(load(&c.c, kFullYaml), "");
    expect_full(c.c);
}

TEST(ConfigKeys, EveryKeyThroughSet)
{
    Cfg c;
    const char *kv[][2] = {
        { "receivers.otlp.protocols.http.endpoint", "[::1]:14318" },
        { "receivers.otlp.protocols.http.max_request_body_size", "8388608" },
        { "receivers.otlp.protocols.http.max_header_bytes", "2048" },
        { "receivers.otlp.protocols.http.max_headers", "50" },
        { "receivers.otlp.protocols.http.header_timeout_ms", "1000" },
        { "receivers.otlp.protocols.http.idle_timeout_ms", "2000" },
        { "receivers.otlp.protocols.http.body_timeout_ms", "3000" },
        { "workers.cores", "0-1,3" },
        { "workers.queue_size", "128" },
        { "exporters.kafka.brokers", " k1:9092 , [fe80::1]:9093" },
        { "exporters.kafka.traces.topic", "t.spans" },
        { "exporters.kafka.metrics.topic", "t-metrics" },
        { "exporters.kafka.logs.topic", "T_logs" },
        { "exporters.kafka.partition_traces_by_id", "false" },
        { "exporters.kafka.embedded_partitions", "16" },
        { "exporters.kafka.flush_timeout_ms", "0" },
        { "exporters.kafka.producer.linger.ms", "5" },
        { "exporters.kafka.producer.compression.type", "zstd" },
        { "exporters.kafka.producer.linger.ms", "7" },
        { "admin.endpoint", "0.0.0.0:9000" },
        { "service.run_dir", "/tmp/lr" },
        { "service.status_interval_ms", "0" },
        { "service.shutdown_grace_ms", "600000" },
    };
    for (auto &p : kv)
        ASSERT_EQ(set(&c.c, p[0], p[1]), "") << p[0];
    expect_full(c.c);
}

TEST(ConfigKeys, ScalarForms)
{
    Cfg c;
    // Sizes with suffixes, booleans in YAML 1.1 spellings, quoted numbers, :PORT keeps the host.
    EXPECT_EQ(set(&c.c, "receivers.otlp.protocols.http.max_request_body_size", "4GiB"), "");
    EXPECT_EQ(c.c.http.max_body_bytes, 4ull << 30);
    EXPECT_EQ(set(&c.c, "receivers.otlp.protocols.http.max_header_bytes", "1MiB"), "");
    EXPECT_EQ(c.c.http.max_header_bytes, 1u << 20);
    EXPECT_EQ(set(&c.c, "receivers.otlp.protocols.http.max_header_bytes", "1KiB"), "");
    EXPECT_EQ(c.c.http.max_header_bytes, 1024u);
    for (const char *t : { "true", "True", "TRUE", "yes", "on" }) {
        c.c.kafka.partition_traces_by_id = false;
        EXPECT_EQ(set(&c.c, "exporters.kafka.partition_traces_by_id", t), "");
        EXPECT_TRUE(c.c.kafka.partition_traces_by_id) << t;
    }
    for (const char *f : { "false", "False", "no", "off", "OFF" }) {
        c.c.kafka.partition_traces_by_id = true;
        EXPECT_EQ(set(&c.c, "exporters.kafka.partition_traces_by_id", f), "");
        EXPECT_FALSE(c.c.kafka.partition_traces_by_id) << f;
    }
    EXPECT_EQ(load(&c.c, "workers: {queue_size: \"256\"}\n"), "");
    EXPECT_EQ(c.c.workers.queue_size, 256u);
    EXPECT_EQ(set(&c.c, "admin.endpoint", "10.0.0.1:1"), "");
    EXPECT_EQ(set(&c.c, "admin.endpoint", ":65535"), "");
    EXPECT_STREQ(c.c.admin.host, "10.0.0.1");
    EXPECT_EQ(c.c.admin.port, 65535);
    EXPECT_EQ(set(&c.c, "receivers.otlp.protocols.http.endpoint", "my-host.example_1:80"), "");
    EXPECT_STREQ(c.c.http.host, "my-host.example_1");
    EXPECT_EQ(set(&c.c, "service.status_interval_ms", "100"), "");
    EXPECT_EQ(set(&c.c, "service.status_interval_ms", "3600000"), "");
    EXPECT_EQ(set(&c.c, "workers.cores", "7"), "");
    EXPECT_EQ(set(&c.c, "workers.cores", "0,2-2,4-5"), "");
    EXPECT_EQ(set(&c.c, "exporters.kafka.traces.topic", std::string(249, 'x').c_str()), "");
}

TEST(ConfigKeys, BrokersListAndStringForms)
{
    struct {
        const char *yaml, *want;
    } cases[] = {
        { "exporters: {kafka: {brokers: [a:1, b:2, \"[::1]:3\"]}}", "a:1,b:2,[::1]:3" },
        { "exporters:\n  kafka:\n    brokers:\n      - a:1\n      - b:2\n", "a:1,b:2" },
        { "exporters: {kafka: {brokers: a:1}}", "a:1" },
        { "exporters: {kafka: {brokers: \"a:1, b:2\"}}", "a:1,b:2" },
        { "exporters: {kafka: {brokers: []}}", "" },
        { "exporters: {kafka: {brokers: \"\"}}", "" },
        { "exporters: {kafka: {brokers: ~}}", "" },
    };
    for (auto &t : cases) {
        Cfg c;
        ASSERT_EQ(set(&c.c, "exporters.kafka.brokers", "old:1"), "");
        EXPECT_EQ(load(&c.c, t.yaml), "") << t.yaml;
        EXPECT_STREQ(c.c.kafka.brokers, t.want) << t.yaml;
    }
    Cfg c;
    EXPECT_EQ(set(&c.c, "exporters.kafka.brokers", "a:1,b:2"), "");
    EXPECT_STREQ(c.c.kafka.brokers, "a:1,b:2");
    EXPECT_EQ(set(&c.c, "exporters.kafka.brokers", ""), "");
    EXPECT_STREQ(c.c.kafka.brokers, "");
}

TEST(ConfigKeys, ProducerPassthrough)
{
    Cfg c;
    ASSERT_EQ(load(&c.c, "exporters:\n  kafka:\n    producer:\n      acks: all\n"
                         "      enable.idempotence: true\n"
                         "      queue.buffering.max.kbytes: 1048576\n"
                         "      client.id: \"lr 1\"\n"),
              "");
    ASSERT_EQ(c.c.kafka.n_producer, 4u);
    EXPECT_EQ(producer_value(c.c, "acks"), "all");
    EXPECT_EQ(producer_value(c.c, "enable.idempotence"), "true"); // untouched text
    EXPECT_EQ(producer_value(c.c, "queue.buffering.max.kbytes"), "1048576");
    EXPECT_EQ(producer_value(c.c, "client.id"), "lr 1");
    // A second file merges; a later key overrides an earlier one and keeps its place.
    ASSERT_EQ(load(&c.c, "exporters: {kafka: {producer: {acks: \"1\", linger.ms: 0}}}"), "");
    ASSERT_EQ(c.c.kafka.n_producer, 5u);
    EXPECT_STREQ(c.c.kafka.producer[0].key, "acks");
    EXPECT_STREQ(c.c.kafka.producer[0].value, "1");
    EXPECT_STREQ(c.c.kafka.producer[4].key, "linger.ms");
    // --set passes values through too, any text at all.
    EXPECT_EQ(set(&c.c, "exporters.kafka.producer.linger.ms", "not checked here"), "");
    EXPECT_EQ(producer_value(c.c, "linger.ms"), "not checked here");
    EXPECT_EQ(c.c.kafka.n_producer, 5u);
}

TEST(ConfigKeys, FreeAcceptsNullAndEmpties)
{
    lr_cp_config_free(nullptr);
    Cfg c;
    ASSERT_EQ(set(&c.c, "exporters.kafka.producer.acks", "all"), "");
    lr_cp_config_free(&c.c);
    EXPECT_EQ(c.c.kafka.n_producer, 0u);
    EXPECT_EQ(c.c.kafka.producer, nullptr);
}

// ---- every error, with its exact message ------------------------------------------------------

struct ErrCase {
    std::string yaml;
    std::string want;
};

const std::string kHttp = "receivers:\n  otlp:\n    protocols:\n      http:\n"; // lines 1-4
const std::string kKafka = "exporters:\n  kafka:\n";                            // lines 1-2

std::vector<ErrCase> yaml_errors()
{
    std::string long_host(256, 'h'), long_topic(250, 't'), long_path(512, 'p');
    std::string long_cores = "0";
    while (long_cores.size() < 256)
        long_cores += ",0";
    std::string many_brokers = "[";
    for (int i = 0; i < 100; i++)
        many_brokers += (i ? ", " : "") + std::string("broker-") + std::to_string(i) + ".x:9092";
    many_brokers += "]";
    const std::string range_http = " is out of range 100..3600000";
    return {
        // The brief's two examples.
        { kHttp + "        endpoint: 127.0.0.1:4318\n        max_headers: 10\n"
                  "        max_headers_x: 1\n",
          "t.yaml:7: receivers.otlp.protocols.http.max_headers_x: unknown key (known: endpoint, "
          "max_request_body_size, max_header_bytes, max_headers, header_timeout_ms, "
          "idle_timeout_ms, body_timeout_ms, overload_status, ack)" },
        { kHttp + "        endpoint: 127.0.0.1:4318\n\n        max_headers: 5000\n",
          "t.yaml:7: receivers.otlp.protocols.http.max_headers: 5000 is out of range 1..1000" },
        { "receivers:\n  otlp:\n    protocols:\n      htp: {}\n",
          "t.yaml:4: receivers.otlp.protocols.htp: unknown key (known: grpc, http)" },
        // Unknown keys at each level.
        { "foo: 1\n", std::string("t.yaml:1: foo: unknown key (") + kKnownTop + ")" },
        { "receivers:\n  jaeger: {}\n", "t.yaml:2: receivers.jaeger: unknown key (known: otlp)" },
        { "receivers: {otlp: {grpc: {}}}\n",
          "t.yaml:1: receivers.otlp.grpc: unknown key (known: protocols)" },
        { "exporters: {kafka: {topic: x}}\n",
          std::string("t.yaml:1: exporters.kafka.topic: unknown key (known: ") + kKnownKafka +
              ")" },
        { "exporters: {kafka: {traces: {encoding: otlp_proto}}}\n",
          "t.yaml:1: exporters.kafka.traces.encoding: unknown key (known: topic)" },
        { "admin: {port: 1}\n", "t.yaml:1: admin.port: unknown key (known: endpoint, token)" },
        { "service: {pipelines: {}}\n",
          "t.yaml:1: service.pipelines: unknown key (known: run_dir, status_interval_ms, "
          "shutdown_grace_ms)" },
        // Keys are single names: a dotted key is not a shortcut.
        { "receivers.otlp: {}\n",
          std::string("t.yaml:1: receivers.otlp: unknown key (") + kKnownTop + ")" },
        { "\"\": 1\n", std::string("t.yaml:1: : unknown key (") + kKnownTop + ")" },
        { long_path + ": 1\n",
          "t.yaml:1: " + long_path.substr(0, 511) + ": unknown key (" + kKnownTop + ")" },
        // Wrong types.
        { "hello\n", "t.yaml:1: (top level): expected a mapping, got a scalar" },
        { "- a\n", "t.yaml:1: (top level): expected a mapping, got a sequence" },
        { "receivers: 5\n", "t.yaml:1: receivers: expected a mapping, got a scalar" },
        { "receivers: [otlp]\n", "t.yaml:1: receivers: expected a mapping, got a sequence" },
        { "exporters: {kafka: {traces: otlp_spans}}\n",
          "t.yaml:1: exporters.kafka.traces: expected a mapping, got a scalar" },
        { "workers:\n  cores: {a: 1}\n",
          "t.yaml:2: workers.cores: expected a scalar, got a mapping" },
        { "workers:\n  queue_size: [1]\n",
          "t.yaml:2: workers.queue_size: expected a scalar, got a sequence" },
        { "workers:\n  queue_size: ~\n", "t.yaml:2: workers.queue_size: missing value" },
        { "workers:\n  queue_size: null\n", "t.yaml:2: workers.queue_size: missing value" },
        { "? [a]\n: 1\n", "t.yaml:1: (top level): a key must be a scalar, got a sequence" },
        { "workers:\n  ? {a: 1}\n  : 1\n",
          "t.yaml:2: workers: a key must be a scalar, got a mapping" },
        // Duplicate keys.
        { "workers:\n  cores: all\n  cores: 1\n",
          "t.yaml:3: workers.cores: duplicate key (first at line 2)" },
        { "admin: {}\nworkers: {}\nadmin: {}\n",
          "t.yaml:3: admin: duplicate key (first at line 1)" },
        { kKafka + "    producer:\n      acks: all\n    producer: {}\n",
          "t.yaml:5: exporters.kafka.producer: duplicate key (first at line 3)" },
        // Integers, sizes, durations.
        { "workers: {queue_size: abc}\n",
          "t.yaml:1: workers.queue_size: 'abc' is not an unsigned integer" },
        { "workers: {queue_size: -1}\n",
          "t.yaml:1: workers.queue_size: '-1' is not an unsigned integer" },
        { "workers: {queue_size: +64}\n",
          "t.yaml:1: workers.queue_size: '+64' is not an unsigned integer" },
        { "workers: {queue_size: 1e3}\n",
          "t.yaml:1: workers.queue_size: '1e3' is not an unsigned integer" },
        { "workers: {queue_size: 0x100}\n",
          "t.yaml:1: workers.queue_size: '0x100' is not an unsigned integer" },
        { "workers: {queue_size: \"\"}\n",
          "t.yaml:1: workers.queue_size: '' is not an unsigned integer" },
        { "workers: {queue_size: 99999999999999999999}\n",
          "t.yaml:1: workers.queue_size: '99999999999999999999' is not an unsigned integer" },
        { "workers: {queue_size: 63}\n",
          "t.yaml:1: workers.queue_size: 63 is out of range 64..1048576" },
        { "workers: {queue_size: 1048577}\n",
          "t.yaml:1: workers.queue_size: 1048577 is out of range 64..1048576" },
        { "workers: {queue_size: 4294967296}\n",
          "t.yaml:1: workers.queue_size: 4294967296 is out of range 64..1048576" },
        { kHttp + "        max_headers: 0\n",
          "t.yaml:5: receivers.otlp.protocols.http.max_headers: 0 is out of range 1..1000" },
        { kHttp + "        max_request_body_size: 20MB\n",
          "t.yaml:5: receivers.otlp.protocols.http.max_request_body_size: '20MB' is not a size (an "
          "integer, optionally with KiB, MiB or GiB)" },
        { kHttp + "        max_request_body_size: MiB\n",
          "t.yaml:5: receivers.otlp.protocols.http.max_request_body_size: 'MiB' is not a size (an "
          "integer, optionally with KiB, MiB or GiB)" },
        { kHttp + "        max_request_body_size: 20 MiB\n",
          "t.yaml:5: receivers.otlp.protocols.http.max_request_body_size: '20 MiB' is not a size "
          "(an integer, optionally with KiB, MiB or GiB)" },
        { kHttp + "        max_request_body_size: 99999999999GiB\n",
          "t.yaml:5: receivers.otlp.protocols.http.max_request_body_size: '99999999999GiB' is not "
          "a "
          "size (an integer, optionally with KiB, MiB or GiB)" },
        { kHttp + "        max_request_body_size: 5GiB\n",
          "t.yaml:5: receivers.otlp.protocols.http.max_request_body_size: 5GiB is out of range "
          "1KiB..4GiB" },
        { kHttp + "        max_request_body_size: 1023\n",
          "t.yaml:5: receivers.otlp.protocols.http.max_request_body_size: 1023 is out of range "
          "1KiB..4GiB" },
        { kHttp + "        max_header_bytes: 2MiB\n",
          "t.yaml:5: receivers.otlp.protocols.http.max_header_bytes: 2MiB is out of range "
          "1KiB..1MiB" },
        { kHttp + "        header_timeout_ms: 99\n",
          "t.yaml:5: receivers.otlp.protocols.http.header_timeout_ms: 99" + range_http },
        { kHttp + "        idle_timeout_ms: 3600001\n",
          "t.yaml:5: receivers.otlp.protocols.http.idle_timeout_ms: 3600001" + range_http },
        { kHttp + "        body_timeout_ms: 0\n",
          "t.yaml:5: receivers.otlp.protocols.http.body_timeout_ms: 0" + range_http },
        { kHttp + "        body_timeout_ms: 10s\n",
          "t.yaml:5: receivers.otlp.protocols.http.body_timeout_ms: '10s' is not an unsigned "
          "integer" },
        { kKafka + "    embedded_partitions: 257\n",
          "t.yaml:3: exporters.kafka.embedded_partitions: 257 is out of range 1..256" },
        { kKafka + "    flush_timeout_ms: 600001\n",
          "t.yaml:3: exporters.kafka.flush_timeout_ms: 600001 is out of range 0..600000" },
        { "service: {status_interval_ms: 99}\n",
          "t.yaml:1: service.status_interval_ms: 99 is out of range 0 or 100..3600000" },
        { "service: {status_interval_ms: 3600001}\n",
          "t.yaml:1: service.status_interval_ms: 3600001 is out of range 0 or 100..3600000" },
        { "service: {shutdown_grace_ms: 600001}\n",
          "t.yaml:1: service.shutdown_grace_ms: 600001 is out of range 0..600000" },
        // Booleans.
        { kKafka + "    partition_traces_by_id: maybe\n",
          "t.yaml:3: exporters.kafka.partition_traces_by_id: 'maybe' is not a boolean (true or "
          "false)" },
        { kKafka + "    partition_traces_by_id: 1\n",
          "t.yaml:3: exporters.kafka.partition_traces_by_id: '1' is not a boolean (true or "
          "false)" },
        // Endpoints.
        { kHttp + "        endpoint: localhost\n",
          "t.yaml:5: receivers.otlp.protocols.http.endpoint: 'localhost' is not HOST:PORT (missing "
          ":PORT)" },
        { kHttp + "        endpoint: 4318\n",
          "t.yaml:5: receivers.otlp.protocols.http.endpoint: '4318' is not HOST:PORT (missing "
          ":PORT)" },
        { kHttp + "        endpoint: \"[::1:4318\"\n",
          "t.yaml:5: receivers.otlp.protocols.http.endpoint: '[::1:4318' has an unclosed '['" },
        { kHttp + "        endpoint: \"[::1]4318\"\n",
          "t.yaml:5: receivers.otlp.protocols.http.endpoint: '[::1]4318' is not HOST:PORT (missing "
          ":PORT after ']')" },
        { kHttp + "        endpoint: \"[]:4318\"\n",
          "t.yaml:5: receivers.otlp.protocols.http.endpoint: '[]:4318' has an empty address in "
          "brackets" },
        { kHttp + "        endpoint: ::1:4318\n",
          "t.yaml:5: receivers.otlp.protocols.http.endpoint: '::1:4318': put an IPv6 address in "
          "brackets, as in [::1]:4318" },
        { kHttp + "        endpoint: a b:4318\n",
          "t.yaml:5: receivers.otlp.protocols.http.endpoint: 'a b:4318' has an invalid character "
          "in "
          "the host" },
        { kHttp + "        endpoint: \"[::1/64]:4318\"\n",
          "t.yaml:5: receivers.otlp.protocols.http.endpoint: '[::1/64]:4318' has an invalid "
          "character in the host" },
        { kHttp + "        endpoint: " + long_host + ":1\n",
          "t.yaml:5: receivers.otlp.protocols.http.endpoint: '" + long_host +
              ":1': the host is longer than 255 characters" },
        { kHttp + "        endpoint: \"host:\"\n",
          "t.yaml:5: receivers.otlp.protocols.http.endpoint: 'host:': port '' is not a number" },
        { kHttp + "        endpoint: host:http\n",
          "t.yaml:5: receivers.otlp.protocols.http.endpoint: 'host:http': port 'http' is not a "
          "number" },
        { kHttp + "        endpoint: host:0\n",
          "t.yaml:5: receivers.otlp.protocols.http.endpoint: 'host:0': port 0 is out of range "
          "1..65535" },
        { "admin: {endpoint: \"host:65536\"}\n",
          "t.yaml:1: admin.endpoint: 'host:65536': port 65536 is out of range 1..65535" },
        // Cpu lists.
        { "workers: {cores: 0-}\n",
          "t.yaml:1: workers.cores: '0-' is not \"all\" or a cpu list such as 0-3,6" },
        { "workers: {cores: \"0,,1\"}\n",
          "t.yaml:1: workers.cores: '0,,1' is not \"all\" or a cpu list such as 0-3,6" },
        { "workers: {cores: \"0, 1\"}\n",
          "t.yaml:1: workers.cores: '0, 1' is not \"all\" or a cpu list such as 0-3,6" },
        { "workers: {cores: \"1,\"}\n",
          "t.yaml:1: workers.cores: '1,' is not \"all\" or a cpu list such as 0-3,6" },
        { "workers: {cores: ALL}\n",
          "t.yaml:1: workers.cores: 'ALL' is not \"all\" or a cpu list such as 0-3,6" },
        { "workers: {cores: 123456}\n",
          "t.yaml:1: workers.cores: '123456' is not \"all\" or a cpu list such as 0-3,6" },
        { "workers: {cores: 3-1}\n",
          "t.yaml:1: workers.cores: '3-1': the range 3-1 ends before it starts" },
        { "workers: {cores: \"" + long_cores + "\"}\n",
          "t.yaml:1: workers.cores: longer than 255 characters" },
        // Topics.
        { kKafka + "    traces: {topic: \"\"}\n",
          "t.yaml:3: exporters.kafka.traces.topic: a topic name must not be empty" },
        { kKafka + "    metrics: {topic: " + long_topic + "}\n",
          "t.yaml:3: exporters.kafka.metrics.topic: a topic name is at most 249 characters (this "
          "one has 250)" },
        { kKafka + "    logs: {topic: my logs}\n", "t.yaml:3: exporters.kafka.logs.topic: 'my "
                                                   "logs' has a character other than a-z A-Z 0-9 . "
                                                   "_ -" },
        { kKafka + "    logs: {topic: \"a/b\"}\n",
          "t.yaml:3: exporters.kafka.logs.topic: 'a/b' has a character other than a-z A-Z 0-9 . "
          "_ -" },
        { kKafka + "    logs: {topic: .}\n",
          "t.yaml:3: exporters.kafka.logs.topic: '.' is not a valid topic name" },
        { kKafka + "    logs: {topic: ..}\n",
          "t.yaml:3: exporters.kafka.logs.topic: '..' is not a valid topic name" },
        // Brokers.
        { kKafka + "    brokers: {a: 1}\n",
          "t.yaml:3: exporters.kafka.brokers: expected a sequence of HOST:PORT or a string, got a "
          "mapping" },
        { kKafka + "    brokers:\n      - a:1\n      - [b:2]\n",
          "t.yaml:5: exporters.kafka.brokers: a broker must be a HOST:PORT string, got a "
          "sequence" },
        { kKafka + "    brokers:\n      - a:1\n      -\n",
          "t.yaml:5: exporters.kafka.brokers: a broker must be a HOST:PORT string, got null" },
        { kKafka + "    brokers: [kafka]\n",
          "t.yaml:3: exporters.kafka.brokers: 'kafka' is not HOST:PORT (missing :PORT)" },
        { kKafka + "    brokers: [\":9092\"]\n",
          "t.yaml:3: exporters.kafka.brokers: ':9092': a broker needs a host" },
        { kKafka + "    brokers: \"a:1,,b:2\"\n",
          "t.yaml:3: exporters.kafka.brokers: 'a:1,,b:2' has an empty item" },
        { kKafka + "    brokers: \"a:1,\"\n",
          "t.yaml:3: exporters.kafka.brokers: 'a:1,' has an empty item" },
        { kKafka + "    brokers: \"a:1,b\"\n",
          "t.yaml:3: exporters.kafka.brokers: 'b' is not HOST:PORT (missing :PORT)" },
        { kKafka + "    brokers: \"a:1," + std::string(300, 'b') + ":2\"\n",
          "t.yaml:3: exporters.kafka.brokers: '" + std::string(32, 'b') +
              "...' is too long for a broker" },
        { kKafka + "    brokers: " + many_brokers + "\n",
          "t.yaml:3: exporters.kafka.brokers: the broker list is longer than 1023 characters" },
        // Producer properties.
        { kKafka + "    producer: [linger.ms=5]\n",
          "t.yaml:3: exporters.kafka.producer: expected a mapping, got a sequence" },
        { kKafka + "    producer: linger.ms=5\n",
          "t.yaml:3: exporters.kafka.producer: expected a mapping, got a scalar" },
        { kKafka + "    producer:\n      linger:\n        ms: 5\n",
          "t.yaml:5: exporters.kafka.producer.linger: expected a scalar, got a mapping" },
        { kKafka + "    producer:\n      acks:\n",
          "t.yaml:4: exporters.kafka.producer.acks: missing value" },
        { kKafka + "    producer:\n      ? [a]\n      : 1\n",
          "t.yaml:4: exporters.kafka.producer: a key must be a scalar, got a sequence" },
        { kKafka + "    producer:\n      acks: all\n      acks: 1\n",
          "t.yaml:5: exporters.kafka.producer.acks: duplicate key (first at line 4)" },
        // Strings.
        { "service: {run_dir: \"\"}\n", "t.yaml:1: service.run_dir: must not be empty" },
        { "service: {run_dir: " + long_path + "}\n",
          "t.yaml:1: service.run_dir: longer than 511 characters" },
        // YAML itself.
        { "a: b: c\n",
          "t.yaml:1: YAML syntax error: mapping values are not allowed in this context" },
        { "workers:\n  cores: [0\n",
          "t.yaml:3: YAML syntax error: did not find expected ',' or ']'" },
        { "workers:\n\tcores: 1\n",
          "t.yaml:2: YAML syntax error: found character that cannot start any token" },
        { "a: *nope\n", "t.yaml:1: YAML syntax error: found undefined alias" },
        { "workers: {}\n---\nadmin: {}\n",
          "t.yaml:3: (document): only one YAML document is allowed" },
        { "workers: {}\n---\nadmin: [\n",
          "t.yaml:4: YAML syntax error: did not find expected node content" },
    };
}

TEST(ConfigErrors, EveryYamlErrorHasItsMessage)
{
    for (const ErrCase &t : yaml_errors()) {
        Cfg c;
        EXPECT_EQ(load(&c.c, t.yaml), t.want) << "yaml:\n" << t.yaml;
    }
}

// Aliases are resolved; one that loops cannot recurse forever (keys deeper than a row are unknown).
TEST(ConfigErrors, AliasesAndLoops)
{
    Cfg c;
    EXPECT_EQ(load(&c.c, "workers: &w {queue_size: 128}\nadmin: {}\n"), "");
    EXPECT_EQ(load(&c.c, "receivers: &r {otlp: *r}\n"),
              "t.yaml:1: receivers.otlp.otlp: unknown key (known: protocols)");
}

TEST(ConfigErrors, FileErrors)
{
    Cfg c;
    char err[1024];
    EXPECT_EQ(lr_cp_config_load_file(&c.c, "/nonexistent/linerate.yaml", err, sizeof(err)), -1);
    EXPECT_STREQ(err, "/nonexistent/linerate.yaml: cannot open: No such file or directory");
    EXPECT_EQ(lr_cp_config_load_file(&c.c, "docs", err, sizeof(err)), -1);
    EXPECT_STREQ(err, "docs: cannot read: Is a directory");
    EXPECT_EQ(lr_cp_config_load_file(&c.c, "/dev/zero", err, sizeof(err)), -1);
    EXPECT_STREQ(err, "/dev/zero: larger than 16 MiB: not a configuration file");
    // The file's own errors carry its path.
    char path[] = "/tmp/lr_config_test_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    const char text[] = "workers:\n  queue_size: 1\n";
    ASSERT_EQ(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    EXPECT_EQ(lr_cp_config_load_file(&c.c, path, err, sizeof(err)), -1);
    EXPECT_EQ(std::string(err),
              std::string(path) + ":2: workers.queue_size: 1 is out of range 64..1048576");
    unlink(path);
    // A short errstr is truncated, never overrun; a NULL one is allowed.
    char tiny[8];
    EXPECT_EQ(lr_cp_config_load_string(&c.c, "x: 1", 4, "t.yaml", tiny, sizeof(tiny)), -1);
    EXPECT_STREQ(tiny, "t.yaml:");
    EXPECT_EQ(lr_cp_config_load_string(&c.c, "x: 1", 4, "t.yaml", nullptr, 0), -1);
    EXPECT_EQ(lr_cp_config_set(&c.c, "x", "1", nullptr, 0), -1);
}

TEST(ConfigErrors, EverySetErrorHasItsMessage)
{
    struct {
        const char *key, *value;
        std::string want;
    } cases[] = {
        { "receivers.otlp.protocols.htp.endpoint", "x",
          "receivers.otlp.protocols.htp: unknown key (known: grpc, http)" },
        { "receivers.otlp.protocols.http.endpoints", "x",
          "receivers.otlp.protocols.http.endpoints: unknown key (known: endpoint, "
          "max_request_body_size, max_header_bytes, max_headers, header_timeout_ms, "
          "idle_timeout_ms, body_timeout_ms, overload_status, ack)" },
        { "nope", "1", std::string("nope: unknown key (") + kKnownTop + ")" },
        { "nope.deeper", "1", std::string("nope: unknown key (") + kKnownTop + ")" },
        { "", "1", "(empty key): unknown key" },
        { "workers.cores.x", "1",
          "workers.cores.x: unknown key (workers.cores takes a single value)" },
        { "exporters.kafka", "1",
          std::string("exporters.kafka: a section, not a single value (keys: ") + kKnownKafka +
              ")" },
        { "exporters.kafka.traces", "x",
          "exporters.kafka.traces: a section, not a single value (keys: topic)" },
        { "exporters.kafka.producer", "x",
          "exporters.kafka.producer: name a property, as in exporters.kafka.producer.linger.ms" },
        { "exporters.kafka.producer.", "x",
          "exporters.kafka.producer: name a property, as in exporters.kafka.producer.linger.ms" },
        { "workers.queue_size", "1", "workers.queue_size: 1 is out of range 64..1048576" },
        { "workers.queue_size", "", "workers.queue_size: '' is not an unsigned integer" },
        { "workers.cores", "x", "workers.cores: 'x' is not \"all\" or a cpu list such as 0-3,6" },
        { "admin.endpoint", "x", "admin.endpoint: 'x' is not HOST:PORT (missing :PORT)" },
        { "exporters.kafka.brokers", "a:1,b",
          "exporters.kafka.brokers: 'b' is not HOST:PORT (missing :PORT)" },
        { "exporters.kafka.brokers", " , ", "exporters.kafka.brokers: ' , ' has an empty item" },
        { "exporters.kafka.traces.topic", "a b",
          "exporters.kafka.traces.topic: 'a b' has a character other than a-z A-Z 0-9 . _ -" },
        { "exporters.kafka.partition_traces_by_id", "2",
          "exporters.kafka.partition_traces_by_id: '2' is not a boolean (true or false)" },
        { "service.run_dir", "", "service.run_dir: must not be empty" },
        { "service.status_interval_ms", "1",
          "service.status_interval_ms: 1 is out of range 0 or 100..3600000" },
    };
    for (auto &t : cases) {
        Cfg c, defaults;
        EXPECT_EQ(set(&c.c, t.key, t.value), t.want) << t.key << "=" << t.value;
        expect_same(c.c, defaults.c); // a failed set changes nothing
    }
}

TEST(ConfigFinalize, CrossFieldChecks)
{
    long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    ASSERT_GT(ncpu, 0);
    {
        Cfg c;
        ASSERT_EQ(set(&c.c, "workers.cores", ("0," + std::to_string(ncpu - 1)).c_str()), "");
        EXPECT_EQ(finalize(&c.c), "");
        ASSERT_EQ(set(&c.c, "workers.cores", ("0-" + std::to_string(ncpu)).c_str()), "");
        EXPECT_EQ(finalize(&c.c), "workers.cores: cpu " + std::to_string(ncpu) +
                                      " does not exist (this machine has cpus 0-" +
                                      std::to_string(ncpu - 1) + ")");
    }
    const char *clash[][2] = {
        { "127.0.0.1:4318", "127.0.0.1:4318" },
        { "0.0.0.0:4318", "127.0.0.1:4318" },
        { "127.0.0.1:4318", "[::]:4318" },
    };
    for (auto &p : clash) {
        Cfg c;
        ASSERT_EQ(set(&c.c, "receivers.otlp.protocols.http.endpoint", p[0]), "");
        ASSERT_EQ(set(&c.c, "admin.endpoint", p[1]), "");
        EXPECT_EQ(finalize(&c.c), "admin.endpoint: port 4318 is already taken by "
                                  "receivers.otlp.protocols.http.endpoint")
            << p[0] << " " << p[1];
    }
    {
        Cfg c; // a struct written directly is checked again
        strcpy(c.c.workers.cores, "0-");
        EXPECT_EQ(finalize(&c.c), "workers.cores: '0-' is not \"all\" or a cpu list such as 0-3,6");
    }
    {
        Cfg c; // the gRPC port collides too
        ASSERT_EQ(set(&c.c, "receivers.otlp.protocols.grpc.endpoint", "127.0.0.1:4318"), "");
        EXPECT_EQ(finalize(&c.c), "receivers.otlp.protocols.http.endpoint: port 4318 is already "
                                  "taken by receivers.otlp.protocols.grpc.endpoint");
    }
    {
        Cfg c; // only the two retryable statuses
        ASSERT_EQ(set(&c.c, "receivers.otlp.protocols.http.overload_status", "429"), "");
        EXPECT_EQ(finalize(&c.c), "");
        ASSERT_EQ(set(&c.c, "receivers.otlp.protocols.http.overload_status", "500"), "");
        EXPECT_EQ(finalize(&c.c),
                  "receivers.otlp.protocols.http.overload_status: 500 is neither 429 nor 503");
    }
    {
        Cfg c; // same port, different hosts: two sockets
        ASSERT_EQ(set(&c.c, "admin.endpoint", "127.0.0.2:4318"), "");
        EXPECT_EQ(finalize(&c.c), "");
    }
    {
        Cfg c; // the low watermark must be below the high one
        ASSERT_EQ(set(&c.c, "spool.low_watermark_pct", "90"), "");
        EXPECT_EQ(finalize(&c.c),
                  "spool.low_watermark_pct: 90 must be below spool.high_watermark_pct (90)");
        ASSERT_EQ(set(&c.c, "spool.low_watermark_pct", "89"), "");
        EXPECT_EQ(finalize(&c.c), "");
    }
    {
        Cfg c; // host probes by name, "all", or nothing unknown
        ASSERT_EQ(set(&c.c, "host_metrics.probes", "runq, tcp_retransmit,exec"), "");
        EXPECT_EQ(finalize(&c.c), "");
        ASSERT_EQ(set(&c.c, "host_metrics.probes", "runq,kprobe"), "");
        EXPECT_EQ(finalize(&c.c),
                  "host_metrics.probes: unknown probe \"kprobe\" (all, tcp_retransmit, "
                  "tcp_state, tcp_reset_sent, tcp_reset_received, tcp_rtt, runq, disk, skb_drop, "
                  "softirq, exec, exit, oom)");
    }
    {
        Cfg c; // one place for the record size limit
        ASSERT_EQ(set(&c.c, "exporters.kafka.producer.message.max.bytes", "2000000"), "");
        EXPECT_EQ(finalize(&c.c), "exporters.kafka.producer.message.max.bytes: set "
                                  "exporters.kafka.max_message_bytes instead");
    }
    for (const char *k : { "bootstrap.servers", "metadata.broker.list" }) {
        Cfg c;
        ASSERT_EQ(set(&c.c, (std::string("exporters.kafka.producer.") + k).c_str(), "a:1"), "");
        EXPECT_EQ(finalize(&c.c), std::string("exporters.kafka.producer.") + k +
                                      ": set exporters.kafka.brokers instead");
    }
}

TEST(ConfigFinalize, DataplaneDpdkMode)
{
    const std::string eal =
        "--no-pci --no-huge -m 256 --no-shconf --vdev=net_af_packet0,iface=eth1";
    {
        Cfg c; // socket mode needs nothing
        ASSERT_EQ(set(&c.c, "dataplane.mode", "socket"), "");
        EXPECT_EQ(finalize(&c.c), "");
        EXPECT_EQ(set(&c.c, "dataplane.mode", "xdp"),
                  "dataplane.mode: 'xdp' is not one of socket|dpdk");
    }
    {
        Cfg c;
        ASSERT_EQ(set(&c.c, "dataplane.mode", "dpdk"), "");
        EXPECT_EQ(c.c.dp.mode, (uint32_t)LR_DP_MODE_DPDK);
        EXPECT_EQ(finalize(&c.c), "dataplane.ip: needed in dpdk mode, e.g. 192.0.2.10/24");
        ASSERT_EQ(set(&c.c, "dataplane.ip", "192.0.2.10/24"), "");
        EXPECT_EQ(finalize(&c.c), "dataplane.dpdk.eal_args: needed in dpdk mode, e.g. --no-pci "
                                  "--no-huge -m 256 --no-shconf --vdev=net_af_packet0,iface=eth1");
        ASSERT_EQ(set(&c.c, "dataplane.dpdk.eal_args", "  "), "");
        EXPECT_NE(finalize(&c.c), "");
        ASSERT_EQ(set(&c.c, "dataplane.dpdk.eal_args", eal.c_str()), "");
        EXPECT_EQ(finalize(&c.c), "");
        ASSERT_EQ(set(&c.c, "dataplane.gateway", "192.0.2.1"), "");
        EXPECT_EQ(finalize(&c.c), "");
        uint32_t ip = 0, gw = 0;
        uint8_t prefix = 0;
        ASSERT_EQ(lr_cp_config_dp_addr(&c.c, &ip, &prefix, &gw), 0);
        EXPECT_EQ(ip, 0xc000020au);
        EXPECT_EQ(prefix, 24);
        EXPECT_EQ(gw, 0xc0000201u);
    }
    const char *bad_ip[] = { "192.0.2.10",    "192.0.2.10/",    "192.0.2.10/33", "192.0.2.10/0",
                             "192.0.2/24",    "192.0.2.010/24", "0x1.0.2.10/24", "192.0.2.10/24x",
                             "300.0.2.10/24", " 192.0.2.10/24", "192.0.2.10/-1", "a.b.c.d/8" };
    for (const char *v : bad_ip) {
        Cfg c;
        ASSERT_EQ(set(&c.c, "dataplane.ip", v), "") << v;
        EXPECT_EQ(finalize(&c.c), std::string("dataplane.ip: '") + v +
                                      "' is not an IPv4 address with a prefix length 1..32 "
                                      "(A.B.C.D/N, e.g. 192.0.2.10/24)")
            << v;
        uint32_t ip, gw;
        uint8_t prefix;
        EXPECT_EQ(lr_cp_config_dp_addr(&c.c, &ip, &prefix, &gw), -1) << v;
    }
    for (const char *v :
         { "0.0.0.1/8", "127.0.0.1/8", "224.0.0.1/4", "192.0.2.0/24", "192.0.2.255/24" }) {
        Cfg c;
        ASSERT_EQ(set(&c.c, "dataplane.ip", v), "") << v;
        EXPECT_EQ(finalize(&c.c), std::string("dataplane.ip: '") + v +
                                      "' is not a host address (zero, loopback, multicast, or "
                                      "the subnet's network or broadcast address)")
            << v;
    }
    {
        Cfg c; // /31 and /32 have no network or broadcast address
        ASSERT_EQ(set(&c.c, "dataplane.ip", "192.0.2.0/31"), "");
        EXPECT_EQ(finalize(&c.c), "");
        ASSERT_EQ(set(&c.c, "dataplane.ip", "192.0.2.7/32"), "");
        EXPECT_EQ(finalize(&c.c), "");
    }
    {
        Cfg c;
        ASSERT_EQ(set(&c.c, "dataplane.ip", "10.1.2.3/16"), "");
        ASSERT_EQ(set(&c.c, "dataplane.gateway", "10.1.2"), "");
        EXPECT_EQ(finalize(&c.c), "dataplane.gateway: '10.1.2' is not an IPv4 address (A.B.C.D)");
        ASSERT_EQ(set(&c.c, "dataplane.gateway", "10.2.0.1"), "");
        EXPECT_EQ(finalize(&c.c), "dataplane.gateway: 10.2.0.1 is not another host on the subnet "
                                  "of dataplane.ip (10.1.2.3/16)");
        ASSERT_EQ(set(&c.c, "dataplane.gateway", "10.1.2.3"), "");
        EXPECT_NE(finalize(&c.c), "");
        ASSERT_EQ(set(&c.c, "dataplane.gateway", "10.1.255.254"), "");
        EXPECT_EQ(finalize(&c.c), "");
        ASSERT_EQ(set(&c.c, "dataplane.gateway", ""), "");
        uint32_t ip, gw = 1;
        uint8_t prefix;
        ASSERT_EQ(lr_cp_config_dp_addr(&c.c, &ip, &prefix, &gw), 0);
        EXPECT_EQ(gw, 0u);
    }
    {
        Cfg c; // the SYN queue is part of the connection table
        ASSERT_EQ(set(&c.c, "dataplane.tcp.max_conns", "100"), "");
        ASSERT_EQ(set(&c.c, "dataplane.tcp.syn_queue", "101"), "");
        EXPECT_EQ(finalize(&c.c),
                  "dataplane.tcp.syn_queue: 101 is more than dataplane.tcp.max_conns (100)");
    }
    {
        Cfg c; // ranges
        EXPECT_NE(set(&c.c, "dataplane.vlan", "4095"), "");
        EXPECT_NE(set(&c.c, "dataplane.mtu", "575"), "");
        EXPECT_NE(set(&c.c, "dataplane.mtu", "9001"), "");
        EXPECT_NE(set(&c.c, "dataplane.dpdk.port_id", "65536"), "");
        EXPECT_EQ(set(&c.c, "dataplane.tcp.rcv_buf_bytes", "1MiB"), "");
        EXPECT_EQ(c.c.dp.rcv_buf_bytes, 1u << 20);
        EXPECT_EQ(load(&c.c, "dataplane:\n  mode: dpdk\n  ip: 10.0.0.2/24\n  dpdk:\n    "
                             "eal_args: --no-huge --no-pci\n    port_id: 1\n  vlan: 7\n"),
                  "");
        EXPECT_EQ(c.c.dp.port_id, 1u);
        EXPECT_EQ(c.c.dp.vlan, 7u);
        EXPECT_STREQ(c.c.dp.eal_args, "--no-huge --no-pci");
        EXPECT_EQ(finalize(&c.c), "");
    }
}

// ---- docs/CONFIG.md ---------------------------------------------------------------------------

std::string generated_doc()
{
    char *buf = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    lr_cp_config_write_doc(f);
    fclose(f);
    std::string s(buf, len);
    free(buf);
    return s;
}

TEST(ConfigDoc, IsUpToDate)
{
    std::string doc = generated_doc();
    EXPECT_EQ(doc, read_file("docs/CONFIG.md"))
        << "docs/CONFIG.md is stale: regenerate with build/tests/tools/config_doc > docs/CONFIG.md";
}

TEST(ConfigDoc, HasEverySectionAndKey)
{
    std::string doc = generated_doc();
    EXPECT_EQ(doc.rfind("# linerate configuration reference\n", 0), 0u);
    for (const char *s : { "## receivers.otlp.protocols.http", "## workers", "## exporters.kafka",
                           "## admin", "## service" })
        EXPECT_NE(doc.find(s), std::string::npos) << s;
    EXPECT_NE(doc.find("| key | type | default | range | meaning |"), std::string::npos);
    EXPECT_NE(doc.find("| `receivers.otlp.protocols.http.max_headers` | uint | `100` | 1..1000 |"),
              std::string::npos);
    EXPECT_NE(doc.find("| `service.status_interval_ms` | duration (ms) | `5000` | 0 or "
                       "100..3600000 |"),
              std::string::npos);
}

// ---- command line -----------------------------------------------------------------------------

struct Argv {
    std::vector<std::string> s;
    std::vector<char *> p;
    explicit Argv(const std::vector<std::string> &args) : s(args)
    {
        s.insert(s.begin(), "linerate");
        for (auto &a : s)
            p.push_back(&a[0]);
        p.push_back(nullptr);
    }
    int argc() const { return (int)s.size(); }
    char **argv() { return p.data(); }
};

int cli(lr_config *c, const std::vector<std::string> &args, std::string *err,
        std::string *out = nullptr)
{
    Argv a(args);
    char buf[1024] = "";
    testing::internal::CaptureStdout();
    int rc = lr_cp_cli_parse(c, a.argc(), a.argv(), buf, sizeof(buf));
    std::string o = testing::internal::GetCapturedStdout();
    if (out)
        *out = o;
    *err = rc < 0 ? buf : "";
    return rc;
}

TEST(Cli, HelpVersionDoc)
{
    Cfg c;
    std::string err, out;
    EXPECT_EQ(cli(&c.c, { "--help" }, &err, &out), 1);
    for (const char *flag : { "--config FILE", "--endpoint HOST:PORT", "--admin HOST:PORT",
                              "--brokers LIST", "--cores LIST", "--run-dir DIR", "--set KEY=VALUE",
                              "--print-config-doc", "--check-config", "--help", "--version" })
        EXPECT_NE(out.find(flag), std::string::npos) << flag;
    EXPECT_EQ(cli(&c.c, { "-h" }, &err), 1);
    // --help wins over a broken flag after it.
    EXPECT_EQ(cli(&c.c, { "--help", "--cores", "x" }, &err), 1);
    EXPECT_EQ(cli(&c.c, { "--version" }, &err, &out), 1);
    EXPECT_EQ(out, "linerate 0.1.0\n");
    EXPECT_EQ(cli(&c.c, { "-V" }, &err), 1);
    EXPECT_EQ(cli(&c.c, { "--print-config-doc" }, &err, &out), 1);
    EXPECT_EQ(out, generated_doc());
    EXPECT_EQ(cli(&c.c, {}, &err, &out), 0);
    EXPECT_EQ(out, "");
}

TEST(Cli, FlagsApply)
{
    Cfg c;
    std::string err;
    ASSERT_EQ(cli(&c.c,
                  { "--endpoint", "0.0.0.0:9999", "--admin=:8080", "--brokers", "a:1, b:2",
                    "--cores", "0", "--run-dir", "/tmp/x", "--set", "workers.queue_size=128",
                    "--set", "exporters.kafka.producer.acks=all", "--set",
                    "exporters.kafka.producer.client.id=a=b" },
                  &err),
              0)
        << err;
    EXPECT_STREQ(c.c.http.host, "0.0.0.0");
    EXPECT_EQ(c.c.http.port, 9999);
    EXPECT_STREQ(c.c.admin.host, "127.0.0.1");
    EXPECT_EQ(c.c.admin.port, 8080);
    EXPECT_STREQ(c.c.kafka.brokers, "a:1,b:2");
    EXPECT_STREQ(c.c.workers.cores, "0");
    EXPECT_STREQ(c.c.service.run_dir, "/tmp/x");
    EXPECT_EQ(c.c.workers.queue_size, 128u);
    EXPECT_EQ(producer_value(c.c, "acks"), "all");
    EXPECT_EQ(producer_value(c.c, "client.id"), "a=b");
    // Later flags override earlier ones; an empty --brokers means the embedded broker.
    ASSERT_EQ(cli(&c.c, { "--cores", "0", "--cores", "all", "--brokers", "" }, &err), 0) << err;
    EXPECT_STREQ(c.c.workers.cores, "all");
    EXPECT_STREQ(c.c.kafka.brokers, "");
}

TEST(Cli, ConfigIsAppliedFirst)
{
    char path[] = "/tmp/lr_cli_test_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    const char text[] =
        "workers:\n  queue_size: 256\n  cores: all\nservice: {run_dir: /from/file}\n";
    ASSERT_EQ(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    for (bool short_flag : { false, true }) {
        Cfg c;
        std::string err;
        ASSERT_EQ(cli(&c.c,
                      { "--set", "workers.queue_size=128", "--cores", "0",
                        short_flag ? "-c" : "--config", path },
                      &err),
                  0)
            << err;
        EXPECT_EQ(c.c.workers.queue_size, 128u);
        EXPECT_STREQ(c.c.workers.cores, "0");
        EXPECT_STREQ(c.c.service.run_dir, "/from/file");
    }
    {
        Cfg c;
        std::string err, out;
        EXPECT_EQ(cli(&c.c, { "--check-config", "--config", path }, &err, &out), 1) << err;
        EXPECT_EQ(out, "configuration OK\n");
        EXPECT_EQ(
            cli(&c.c, { "--config", path, "--check-config", "--cores", "100000" }, &err, &out), -1);
        EXPECT_EQ(err, "--cores: '100000' is not \"all\" or a cpu list such as 0-3,6");
        EXPECT_EQ(cli(&c.c, { "--config", path, "--check-config", "--cores", "4095" }, &err, &out),
                  -1);
        EXPECT_EQ(err.rfind("workers.cores: cpu 4095 does not exist", 0), 0u) << err;
        EXPECT_EQ(out, "");
    }
    unlink(path);
}

TEST(Cli, BadFlags)
{
    struct {
        std::vector<std::string> args;
        std::string want;
    } cases[] = {
        { { "--nope" }, "unknown option '--nope' (see --help)" },
        { { "-x" }, "unknown option '-x' (see --help)" },
        { { "--cores" }, "--cores: missing value" },
        { { "--config" }, "--config: missing value" },
        { { "-c" }, "-c: missing value" },
        { { "--help=1" }, "unknown option '--help=1' (see --help)" },
        { { "stray" }, "unexpected argument 'stray' (see --help)" },
        { { "--cores", "x" }, "--cores: 'x' is not \"all\" or a cpu list such as 0-3,6" },
        { { "--endpoint", "x" }, "--endpoint: 'x' is not HOST:PORT (missing :PORT)" },
        { { "--admin", "h:0" }, "--admin: 'h:0': port 0 is out of range 1..65535" },
        { { "--brokers", "a" }, "--brokers: 'a' is not HOST:PORT (missing :PORT)" },
        { { "--run-dir", "" }, "--run-dir: must not be empty" },
        { { "--set", "foo" }, "--set: 'foo' is not KEY=VALUE" },
        { { "--set", "=1" }, "--set: '=1' is not KEY=VALUE" },
        { { "--set", "nope=1" }, std::string("--set: nope: unknown key (") + kKnownTop + ")" },
        { { "--set", "workers.queue_size=1" },
          "--set: workers.queue_size: 1 is out of range 64..1048576" },
        { { "--set", std::string(512, 'k') + "=1" },
          "--set: the key is longer than 511 characters" },
        { { "--config", "/nonexistent.yaml" },
          "/nonexistent.yaml: cannot open: No such file or directory" },
    };
    for (auto &t : cases) {
        Cfg c;
        std::string err;
        EXPECT_EQ(cli(&c.c, t.args, &err), -1) << t.want;
        EXPECT_EQ(err, t.want);
    }
}

} // namespace
