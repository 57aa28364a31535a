# Shared helpers for integration tests (sourced). Each test starts its own linerate on free ports
# with the embedded Kafka broker, in its own temporary run folder.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LR_BUILD=${LR_BUILD:-build}
LINERATE="$ROOT/$LR_BUILD/linerate"
TOOLS="$ROOT/$LR_BUILD/tests/tools"
CLIENTS="$ROOT/tests/integration/clients"
FIX=${LR_FIXTURES:-$ROOT/tests/fixtures/otlp-js-0.223}
WORK=$(mktemp -d /tmp/linerate-it.XXXXXX)
LR_PID=""
MB_PID=""
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

cleanup() {
    if [ -n "$LR_PID" ] && kill -0 "$LR_PID" 2>/dev/null; then
        kill -KILL "$LR_PID" 2>/dev/null || true
    fi
    if [ -n "$MB_PID" ]; then
        exec 5>&- 2>/dev/null || true
        kill "$MB_PID" 2>/dev/null || true
    fi
    for j in $(jobs -p); do kill -KILL "$j" 2>/dev/null || true; done
    if mountpoint -q "$WORK/tmpfs" 2>/dev/null; then umount "$WORK/tmpfs" || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    if [ -f "$WORK/linerate.out" ]; then
        echo "---- linerate output (last 40 lines) ----" >&2
        tail -n 40 "$WORK/linerate.out" >&2
    fi
    exit 1
}

# A TCP port nobody listens on (bind-checked by linerate itself; we retry on failure).
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
            echo $p
            return
        fi
    done
}

# start_broker [PARTITIONS]: a standalone Kafka-protocol broker (tests/tools/mock_broker, the
# mock cluster) that outlives linerate restarts; sets BROKER; `broker CMD` drives its fault API.
start_broker() {
    mkfifo "$WORK/mb.in"
    "$TOOLS/mock_broker" "${1:-4}" <"$WORK/mb.in" >"$WORK/mb.out" 2>"$WORK/mb.err" &
    MB_PID=$!
    exec 5>"$WORK/mb.in"
    local i
    for i in $(seq 1 50); do [ -s "$WORK/mb.out" ] && break; sleep 0.1; done
    BROKER=$(head -1 "$WORK/mb.out")
    [ -n "$BROKER" ] || fail "mock broker did not start"
    echo "mock broker at $BROKER"
}

broker() {
    echo "$*" >&5
}

# start_linerate [extra flags...]: sets HTTP_PORT, GRPC_PORT, ADMIN_PORT, KAFKA, LR_PID.
# With KEEP_PORTS=1 and ports already chosen, a restart listens on the same ones.
start_linerate() {
    local tries=0 fresh
    while :; do
        fresh=0
        if [ "${KEEP_PORTS:-0}" != 1 ] || [ -z "${HTTP_PORT:-}" ]; then
            fresh=1
            HTTP_PORT=$(free_port)
            ADMIN_PORT=$(free_port)
            GRPC_PORT=$(free_port)
            # Three random picks can collide: pick again until they differ.
            while [ "$ADMIN_PORT" = "$HTTP_PORT" ]; do ADMIN_PORT=$(free_port); done
            while [ "$GRPC_PORT" = "$HTTP_PORT" ] || [ "$GRPC_PORT" = "$ADMIN_PORT" ]; do
                GRPC_PORT=$(free_port)
            done
        fi
        mkdir -p "$WORK/run"
        rm -f "$WORK/run/kafka.addr"
        "$LINERATE" --endpoint 127.0.0.1:$HTTP_PORT --admin 127.0.0.1:$ADMIN_PORT \
            --grpc-endpoint 127.0.0.1:$GRPC_PORT \
            --run-dir "$WORK/run" --set service.status_interval_ms=1000 "$@" \
            >>"$WORK/linerate.out" 2>&1 &
        LR_PID=$!
        local i
        for i in $(seq 1 150); do
            if [ -s "$WORK/run/kafka.addr" ] &&
                curl -sf "http://127.0.0.1:$ADMIN_PORT/ready" >/dev/null 2>&1; then
                KAFKA=$(cat "$WORK/run/kafka.addr")
                return 0
            fi
            kill -0 $LR_PID 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL $LR_PID 2>/dev/null || true
        wait $LR_PID 2>/dev/null || true
        LR_PID=""
        tries=$((tries + 1))
        if [ $fresh = 1 ]; then HTTP_PORT=""; fi
        if [ $tries -ge 3 ] || [ $fresh = 0 ] ||
            ! grep -q "Address already in use" "$WORK/linerate.out"; then
            fail "linerate did not start"
        fi
    done
}

# stop_linerate: SIGTERM, expect exit status 0 within 30 s.
stop_linerate() {
    kill -TERM "$LR_PID"
    local i
    for i in $(seq 1 300); do
        kill -0 "$LR_PID" 2>/dev/null || break
        sleep 0.1
    done
    local rc=0
    wait "$LR_PID" || rc=$?
    LR_PID=""
    [ $rc -eq 0 ] || fail "linerate exited with status $rc after SIGTERM"
    grep -q "linerate: stopped" "$WORK/linerate.out" || fail "no shutdown summary"
}

# metric NAME_WITH_LABELS: the value of one sample from /metrics.
metric() {
    curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

# post PATH CONTENT_TYPE FILE [curl args...]: prints the HTTP status; body to $WORK/resp.
post() {
    local path=$1 ct=$2 file=$3
    shift 3
    curl -s -o "$WORK/resp" -w '%{http_code}' -H "Content-Type: $ct" --data-binary "@$file" \
        "$@" "http://127.0.0.1:$HTTP_PORT$path"
}

# kill9: kill -9 linerate and reap it.
kill9() {
    kill -0 "$LR_PID" 2>/dev/null || fail "linerate (pid $LR_PID) had already exited"
    kill -KILL "$LR_PID"
    wait "$LR_PID" 2>/dev/null || true
    LR_PID=""
}

# span_ids_in_kafka OUT: every span id in otlp_spans (one per line, duplicates kept).
span_ids_in_kafka() {
    "$TOOLS/kafka_verify" -b "$BROKER" -t otlp_spans --signal traces --allow-dup \
        --timeout-ms 5000 --ids-out "$1" >/dev/null 2>"$WORK/kv.err" || {
        cat "$WORK/kv.err" >&2
        fail "kafka_verify"
    }
}

# check_acked_in_kafka ACKED_FILE [WAIT_S]: every acknowledged span id is in Kafka (waiting up to
# WAIT_S for the spool to drain); prints the duplicate count.
check_acked_in_kafka() {
    local acked=$1 wait_s=${2:-60} i missing=0
    sort -u "$acked" >"$WORK/acked.sorted"
    for i in $(seq 1 "$wait_s"); do
        span_ids_in_kafka "$WORK/kids.txt"
        sort -u "$WORK/kids.txt" >"$WORK/kids.sorted"
        missing=$(comm -23 "$WORK/acked.sorted" "$WORK/kids.sorted" | wc -l)
        [ "$missing" -eq 0 ] && break
        sleep 1
    done
    local acked_n total uniq
    acked_n=$(wc -l <"$WORK/acked.sorted")
    total=$(wc -l <"$WORK/kids.txt")
    uniq=$(wc -l <"$WORK/kids.sorted")
    echo "acknowledged spans: $acked_n; spans in kafka: $total ($uniq distinct, $((total - uniq)) duplicates); missing: $missing"
    [ "$acked_n" -gt 0 ] || fail "nothing was acknowledged"
    [ "$missing" -eq 0 ] || {
        comm -23 "$WORK/acked.sorted" "$WORK/kids.sorted" | head -5 >&2
        fail "$missing acknowledged spans are not in Kafka"
    }
    DUPLICATES=$((total - uniq))
}

# within_ms MS CMD...: runs CMD every 0.1 s until it succeeds (returns 0) or MS milliseconds
# have passed (returns 1); sets WAITED_MS to the milliseconds it waited.
within_ms() {
    local ms=$1 t0
    shift
    t0=$(date +%s%N)
    while :; do
        if "$@"; then
            WAITED_MS=$((($(date +%s%N) - t0) / 1000000))
            return 0
        fi
        [ $(($(date +%s%N) - t0)) -lt $((ms * 1000000)) ] || return 1
        sleep 0.1
    done
}

expect_eq() {
    [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}

source "$ROOT/scripts/veth.sh"

# dp_net_setup: a veth pair for the kernel-bypass dataplane; the client end in a new network
# namespace $NS at 10.77.0.2/24 (run commands there with `nsx`), the host end $VH left without
# an address for DPDK's af_packet PMD; offloads off on both ends, so that the bypass path sees full
# checksums and MTU-sized frames (scripts/veth.sh). Removed at exit.
dp_net_setup() {
    NS=lrdp$$
    VH=lrh$$
    VC=lrc$$
    trap 'ip netns del $NS 2>/dev/null || true; ip link del $VH 2>/dev/null || true; cleanup' EXIT
    veth_pair $NS $VH $VC 10.77.0.2
}

nsx() {
    ip netns exec "$NS" "$@"
}

# start_linerate_dpdk [extra flags...]: linerate in dataplane.mode dpdk on $VH at 10.77.0.1
# (--no-huge --no-pci). DP_CORES: the workers' cores (default 0: one worker, one queue); DP_VDEV:
# the port (default net_af_packet0,iface=$VH).
start_linerate_dpdk() {
    start_linerate --cores "${DP_CORES:-0}" --set dataplane.mode=dpdk \
        --set "dataplane.dpdk.eal_args=--no-huge --no-pci -m 256 --no-shconf --vdev=${DP_VDEV:-net_af_packet0,iface=$VH}" \
        --set dataplane.ip=10.77.0.1/24 "$@"
}

# dp_curl URL: one OTLP/HTTP protobuf and one JSON request with curl from the namespace; both 200.
dp_curl() {
    local code
    code=$(nsx curl -s -o "$WORK/r1" -w '%{http_code}' -H 'Content-Type: application/x-protobuf' \
        --data-binary @"$FIX/traces.http-protobuf.body" "$1/v1/traces")
    expect_eq "$code" 200 "curl protobuf over the userspace stack"
    code=$(nsx curl -s -o "$WORK/r2" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary @"$FIX/metrics.http-json.body" "$1/v1/metrics")
    expect_eq "$code" 200 "curl JSON over the userspace stack"
}

# dp_check_h2load N: h2load's output in $WORK/h2load.out shows N requests, all answered 200.
dp_check_h2load() {
    grep -q "$1 succeeded, 0 failed" "$WORK/h2load.out" ||
        fail "h2load: $(grep -E 'requests:|status codes' "$WORK/h2load.out")"
    grep -q "$1 2xx" "$WORK/h2load.out" || fail "h2load: not all 200: $(grep 'status codes' "$WORK/h2load.out")"
}

# dp_check_traces FIXTURE_SPANS: otlp_spans holds exactly what send.js sent ($WORK/sent-http.json
# and sent-grpc.json) plus FIXTURE_SPANS spans of the curl/h2load fixture (counted apart, as the
# fixture repeats one trace id).
dp_check_traces() {
    "$TOOLS/kafka_verify" -b "$KAFKA" -t otlp_spans --signal traces --allow-dup --timeout-ms 10000 \
        --out "$WORK/got.json" >/dev/null 2>"$WORK/kv.err" || { cat "$WORK/kv.err" >&2; fail "kafka_verify"; }
    node -e '
const fs = require("fs");
const [got, a, b, out] = process.argv.slice(1);
const sent = new Set([...JSON.parse(fs.readFileSync(a)).traces, ...JSON.parse(fs.readFileSync(b)).traces].map((t) => t.trace_id));
const g = JSON.parse(fs.readFileSync(got));
const fixture = g.traces.filter((r) => !sent.has(r.trace_id));
g.traces = g.traces.filter((r) => sent.has(r.trace_id));
fs.writeFileSync(out, JSON.stringify(g));
console.log(fixture.reduce((n, r) => n + r.spans.length, 0));
' "$WORK/got.json" "$WORK/sent-http.json" "$WORK/sent-grpc.json" "$WORK/got-sdk.json" >"$WORK/nfix"
    node "$CLIENTS/compare.js" --actual "$WORK/got-sdk.json" "$WORK/sent-http.json" "$WORK/sent-grpc.json" ||
        fail "the SDK's spans in Kafka differ from what was sent"
    expect_eq "$(cat "$WORK/nfix")" "$1" "fixture spans in Kafka (curl and h2load)"
}

# dp_check_logs: otlp_logs holds exactly what send.js sent ($WORK/sent-logs.json).
dp_check_logs() {
    "$TOOLS/kafka_verify" -b "$KAFKA" -t otlp_logs --signal logs --timeout-ms 10000 \
        --out "$WORK/got-logs.json" >/dev/null 2>"$WORK/kvl.err" || { cat "$WORK/kvl.err" >&2; fail "kafka_verify logs"; }
    node "$CLIENTS/compare.js" --actual "$WORK/got-logs.json" "$WORK/sent-logs.json" ||
        fail "the log records in Kafka differ from what was sent"
}

# dp_basic_run LABEL: the basic client mix against linerate at 10.77.0.1 from the namespace,
# then the checks: curl (protobuf and JSON), the JS exporters (3000 spans over OTLP/HTTP and as
# many over OTLP/gRPC, 500 log records), h2load (400 requests on 4 keep-alive connections);
# everything must be in Kafka, and worker 0's userspace stack must have carried it.
dp_basic_run() {
    local url=http://10.77.0.1:$HTTP_PORT proto u
    dp_curl "$url"
    for proto in http/protobuf grpc; do
        u=$url
        [ $proto = grpc ] && u=http://10.77.0.1:$GRPC_PORT
        nsx node "$CLIENTS/send.js" --url "$u" --protocol $proto --signal traces --count 3000 \
            --traces 300 --batch 50 --seed "$([ $proto = grpc ] && echo 5 || echo 4)" \
            --out "$WORK/sent-${proto%%/*}.json" >/dev/null || fail "send.js $proto"
    done
    nsx node "$CLIENTS/send.js" --url "$url" --protocol http/protobuf --signal logs --count 500 \
        --batch 100 --seed 6 --out "$WORK/sent-logs.json" >/dev/null || fail "send.js logs"
    nsx h2load -n 400 -c 4 --h1 -d "$FIX/traces.http-protobuf.body" \
        -H 'Content-Type: application/x-protobuf' "$url/v1/traces" >"$WORK/h2load.out" 2>&1 ||
        fail "h2load: $(tail -5 "$WORK/h2load.out")"
    dp_check_h2load 400
    dp_check_traces 1203 # 1 curl + 400 h2load requests of the 3-span fixture
    dp_check_logs
    local opened rx
    opened=$(metric 'linerate_dp_tcp_connections_opened_total{worker="0",cpu="0",numa_node="0"}')
    rx=$(metric 'linerate_dp_rx_packets_total{worker="0",cpu="0",numa_node="0"}')
    [ "${opened:-0}" -ge 8 ] || fail "connections opened by the userspace stack: ${opened:-none}"
    [ "${rx:-0}" -gt 100 ] || fail "frames received on the DPDK queue: ${rx:-none}"
    echo "userspace TCP over $1: $opened connections, $rx frames in"
}

# dp_arp_check: a TCP connection to 10.77.0.1 opens and the namespace learned its MAC by ARP,
# answered by linerate itself (ICMP echo is covered by tests/unit/dataplane/test_net.cc: ping is
# not installed here).
dp_arp_check() {
    nsx bash -c "exec 3<>/dev/tcp/10.77.0.1/$HTTP_PORT && echo connected" >/dev/null ||
        fail "no TCP connection to the userspace stack"
    nsx ip neigh show 10.77.0.1 | grep -q lladdr || fail "no ARP answer"
}
