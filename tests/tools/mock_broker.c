/* A Kafka-protocol broker for failure tests: librdkafka's mock cluster with the OTLP topics,
 * driven by its fault API. Prints the bootstrap address on the first line of stdout, then runs
 * the commands it reads from stdin, one per line, until EOF or "quit":
 *   down            the broker closes its connections and refuses new ones
 *   up              the broker serves again
 *   rtt MS          every answer is delayed by MS milliseconds
 *   err API COUNT CODE
 *                   the next COUNT requests of Kafka API key API (0 Produce, 3 Metadata,
 *                   22 InitProducerId, ...) fail with error CODE, a numeric rd_kafka_resp_err_t
 *                   (e.g. 45 OUT_OF_ORDER_SEQUENCE_NUMBER, 7 REQUEST_TIMED_OUT,
 *                   6 NOT_LEADER_FOR_PARTITION); COUNT 1..1024. The errors are queued
 *                   cluster-wide (rd_kafka_mock_push_request_errors_array) and taken one per
 *                   request, in order, before the request is handled.
 * Each command is answered on stdout by "ok LINE" or "error LINE".
 * Usage: mock_broker [PARTITIONS] (default 4). */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int partitions = argc > 1 ? atoi(argv[1]) : 4;
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "mock_broker: %s\n", err);
        return 2;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    if (!mc) {
        fprintf(stderr, "mock_broker: cannot start the mock cluster\n");
        return 2;
    }
    static const char *const topics[] = { "otlp_spans", "otlp_metrics", "otlp_logs" };
    for (int i = 0; i < 3; i++)
        if (rd_kafka_mock_topic_create(mc, topics[i], partitions, 1)) {
            fprintf(stderr, "mock_broker: cannot create %s\n", topics[i]);
            return 2;
        }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    char line[256];
    while (fgets(line, sizeof(line), stdin)) {
        int rc = 0, ms, api, count, code;
        if (sscanf(line, "err %d %d %d", &api, &count, &code) == 3) {
            static rd_kafka_resp_err_t errs[1024];
            if (api < 0 || api > INT16_MAX || count < 1 || count > 1024) {
                rc = 1;
            } else {
                for (int i = 0; i < count; i++)
                    errs[i] = (rd_kafka_resp_err_t)code;
                rd_kafka_mock_push_request_errors_array(mc, (int16_t)api, (size_t)count, errs);
            }
        } else if (strncmp(line, "down", 4) == 0)
            rc = rd_kafka_mock_broker_set_down(mc, 1);
        else if (strncmp(line, "up", 2) == 0)
            rc = rd_kafka_mock_broker_set_up(mc, 1);
        else if (sscanf(line, "rtt %d", &ms) == 1)
            rc = rd_kafka_mock_broker_set_rtt(mc, 1, ms);
        else if (strncmp(line, "quit", 4) == 0)
            break;
        else {
            fprintf(stderr, "mock_broker: unknown command: %s", line);
            rc = 1;
        }
        printf("%s %s\n", rc ? "error" : "ok", strtok(line, "\n"));
        fflush(stdout);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
