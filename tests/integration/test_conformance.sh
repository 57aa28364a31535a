#!/bin/bash
# The conformance matrix with the official OpenTelemetry JS SDK exporters: http/json,
# http/protobuf and grpc × traces, metrics, logs × no compression and gzip (and gRPC on the
# OTLP/HTTP port, recognised by the HTTP/2 preface). Everything is read back from Kafka, decoded
# with protobuf-c, and compared item by item with what was sent.
source "$(dirname "$0")/lib.sh"

start_linerate
runs=0
grpc_runs=0
for proto in http/protobuf http/json grpc grpc-on-4318; do
    for gz in "" --gzip; do
        case $proto in
        grpc) url=http://127.0.0.1:$GRPC_PORT p=grpc ;;
        grpc-on-4318) url=http://127.0.0.1:$HTTP_PORT p=grpc ;;
        *) url=http://127.0.0.1:$HTTP_PORT p=$proto ;;
        esac
        [ $proto = grpc-on-4318 ] && [ -n "$gz" ] && continue
        runs=$((runs + 1))
        [ $p = grpc ] && grpc_runs=$((grpc_runs + 1))
        for sig in traces metrics logs; do
            out="$WORK/$sig.$runs.json"
            node "$CLIENTS/send.js" --url "$url" --protocol $p $gz --signal $sig --count 20 \
                --traces 5 --seed $((runs * 10 + ${#sig})) --out "$out" >"$WORK/send.log" 2>&1 ||
                fail "$proto $gz $sig: export failed: $(tail -3 "$WORK/send.log")"
        done
        echo "sent: $proto ${gz:-(no compression)}"
    done
done

verify() {
    local sig=$1 topic=$2 records=$3
    "$TOOLS/kafka_verify" -b "$KAFKA" -t $topic --signal $sig --expect-records $records \
        --timeout-ms 10000 --out "$WORK/$sig.got.json" >/dev/null || fail "kafka_verify $sig"
    node "$CLIENTS/compare.js" --actual "$WORK/$sig.got.json" "$WORK"/$sig.[0-9]*.json ||
        fail "$sig in Kafka differ from what the SDK sent"
}
verify traces otlp_spans $((runs * 5))
verify metrics otlp_metrics $runs
verify logs otlp_logs $runs
expect_eq "$(metric 'otelcol_receiver_accepted_spans{receiver="otlp",transport="http"}')" \
    $(((runs - grpc_runs) * 20)) "accepted spans over HTTP"
expect_eq "$(metric 'otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"}')" \
    $((grpc_runs * 20)) "accepted spans over gRPC"
stop_linerate
echo "ok: $runs protocol/compression combinations x 3 signals"
