#!/bin/bash
# A SYN flood against the userspace TCP stack (dataplane.mode: dpdk) while a legitimate client
# sends: the client is served, memory stays bounded.
#
# tests/tools/syn_flood sends SYNs from the namespace at FLOOD_RATE per second for FLOOD_S
# seconds, each from a random port of a random spoofed address of 10.77.0.0/24 (see its header:
# linerate learns the address from the frame and its SYN-ACKs are dropped unanswered by the
# namespace's kernel, as from a real spoofed flood). With dataplane.tcp.syn_queue=64 the SYN
# queue fills within milliseconds and stays full (a half-open connection lives through 5 SYN-ACK
# retransmissions, about a minute), so every later SYN, the legitimate client's included, gets a
# SYN cookie. During the flood the official JS exporter sends traces over OTLP/HTTP (keep-alive)
# and curl opens a fresh connection per request; then:
#  - everything the client sent is in Kafka, item by item (compare.js), every curl got 200;
#  - syn_cookies_sent > 0, and syn_cookies_ok > 0: the real Linux client completed handshakes
#    on cookies (timestamps, SACK and window scale carried in the cookie's TSval);
#  - the connection gauge, sampled every 100 ms, never exceeds max_conns (nor syn_queue plus the
#    client's few connections: cookies take no slot);
#  - linerate's VmRSS, sampled every 100 ms, never exceeds its value before the flood by more
#    than RSS_GROWTH_KIB, nor RSS_MAX_KIB in all.
#
# The memory bounds, from measurements on the test machine (2 CPUs; 5000 and 20000 SYN/s):
# VmRSS before the flood 52 MiB (ASan build: 70 MiB); it holds the stack's tables, allocated at
# start (4096 connection slots, the hash, the neighbour cache), while the 4096 x 320 KiB buffer
# region is a MAP_NORESERVE mapping that only served connections touch. Growth to the peak
# during the flood and the client's run: 2.3 MiB (ASan: 11 to 13 MiB), the same at 20000 SYN/s as
# at 5000: it is the client's traffic, not the flood's. 32 MiB of growth over 40000 SYNs catches
# anything that keeps about 800 bytes or more per SYN; 256 MiB in all catches a stack that backs
# its buffer region for connections that never carried data.
source "$(dirname "$0")/lib.sh"

FLOOD_RATE=${FLOOD_RATE:-5000}
FLOOD_S=${FLOOD_S:-8}
SYN_QUEUE=64
MAX_CONNS=4096
RSS_GROWTH_KIB=$((32 * 1024))
RSS_MAX_KIB=$((256 * 1024))

dp_net_setup
start_linerate_dpdk --set dataplane.tcp.syn_queue=$SYN_QUEUE --set dataplane.tcp.max_conns=$MAX_CONNS
URL=http://10.77.0.1:$HTTP_PORT
m() { metric "$1{worker=\"0\",cpu=\"0\",numa_node=\"0\"}"; }
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$LR_PID/status"; }

# Warm up before the baseline: one connection and one request through the stack, so that the
# baseline holds what a served request touches once (the HTTP engine, the Kafka producer).
code=$(nsx curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-protobuf' \
    --data-binary @"$FIX/traces.http-protobuf.body" "$URL/v1/traces")
expect_eq "$code" 200 "warm-up request"
sleep 1
RSS0=$(rss_kib)

# Sampler: RSS (KiB) and the connection gauge every 100 ms until told to stop.
(
    while [ ! -e "$WORK/stop-sampler" ]; do
        echo "$(rss_kib) $(m linerate_dp_tcp_connections)"
        sleep 0.1
    done
) >"$WORK/samples" 2>/dev/null &
SAMPLER=$!

nsx "$TOOLS/syn_flood" --dst 10.77.0.1 --port "$HTTP_PORT" --rate "$FLOOD_RATE" \
    --duration-s "$FLOOD_S" --src-net 10.77.0.0/24 >"$WORK/flood.json" 2>"$WORK/flood.err" &
FLOOD=$!
sleep 1 # the SYN queue is full long before this

# The legitimate client, during the flood.
cookies_before=$(m linerate_dp_tcp_syn_cookies_sent_total)
[ "${cookies_before:-0}" -gt 0 ] || fail "no SYN cookie after 1 s of flood: is the SYN queue full?"
nsx node "$CLIENTS/send.js" --url "$URL" --protocol http/protobuf --signal traces --count 3000 \
    --traces 300 --batch 50 --concurrency 2 --timeout-ms 20000 --seed 21 \
    --out "$WORK/sent.json" >/dev/null 2>"$WORK/send.err" || {
    cat "$WORK/send.err" >&2
    fail "send.js during the flood"
}
ncurl=0
while kill -0 $FLOOD 2>/dev/null && [ $ncurl -lt 30 ]; do
    code=$(nsx curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
        -H 'Content-Type: application/x-protobuf' \
        --data-binary @"$FIX/traces.http-protobuf.body" "$URL/v1/traces")
    expect_eq "$code" 200 "curl (a new connection) during the flood"
    ncurl=$((ncurl + 1))
done
flood_live=0
kill -0 $FLOOD 2>/dev/null && flood_live=1
wait $FLOOD || fail "syn_flood: $(cat "$WORK/flood.err")"
[ $flood_live = 1 ] || [ $ncurl -ge 5 ] ||
    fail "the flood ended before the client did: raise FLOOD_S (send.js was too slow?)"
touch "$WORK/stop-sampler"
wait $SAMPLER || true

read -r sent secs < <(node -e 'const f = JSON.parse(require("fs").readFileSync(process.argv[1]));
console.log(f.sent, f.seconds)' "$WORK/flood.json")
# The SYN-ACKs to spoofed addresses reach the namespace's kernel, which drops them (no forwarding).
addr_err=$(nsx awk '$1 == "Ip:" { if ($2 ~ /^[0-9]/) print $k; else for (i = 2; i <= NF; i++)
    if ($i == "InAddrErrors") k = i }' /proc/net/snmp)
cookies=$(m linerate_dp_tcp_syn_cookies_sent_total)
cookies_ok=$(m linerate_dp_tcp_syn_cookies_ok_total)
opened=$(m linerate_dp_tcp_connections_opened_total)
segs=$(m linerate_dp_tcp_segments_in_total)
full=$(metric 'linerate_dp_drops_total{worker="0",reason="tcp_table_full"}')
badsum=$(metric 'linerate_dp_drops_total{worker="0",reason="tcp_checksum"}')
read -r rss_max conns_max < <(awk 'NF == 2 { if ($1 > r) r = $1; if ($2 > c) c = $2 }
    END { print r + 0, c + 0 }' "$WORK/samples")
nsamples=$(awk 'NF == 2' "$WORK/samples" | wc -l)
echo "flood: $sent SYNs in ${secs}s ($(awk -v n="$sent" -v s="$secs" 'BEGIN { printf "%d", n / s }')/s); $segs segments in"
echo "SYN cookies: $cookies sent, $cookies_ok accepted; $opened connections opened; $ncurl curl requests; table-full drops ${full:-0}"
echo "SYN-ACKs to spoofed sources dropped by the namespace (InAddrErrors): $addr_err"
echo "connections (gauge) peak: $conns_max of $MAX_CONNS; VmRSS: $RSS0 KiB before, $rss_max KiB peak ($nsamples samples)"

[ "$nsamples" -ge 20 ] || fail "too few samples ($nsamples)"
[ "$sent" -ge $((FLOOD_RATE * FLOOD_S * 9 / 10)) ] || fail "the flood sent only $sent SYNs"
expect_eq "${badsum:-none}" 0 "TCP checksum drops (syn_flood's checksums)"
[ "$cookies" -gt 0 ] || fail "no SYN cookies sent"
[ "${cookies_ok:-0}" -gt 0 ] || fail "no connection opened on a SYN cookie (the client's handshakes)"
[ "$conns_max" -le $MAX_CONNS ] || fail "connections $conns_max above max_conns $MAX_CONNS"
[ "$conns_max" -le $((SYN_QUEUE + 64)) ] ||
    fail "connections peaked at $conns_max: the flood holds more than the SYN queue ($SYN_QUEUE)"
[ "$rss_max" -le $((RSS0 + RSS_GROWTH_KIB)) ] ||
    fail "VmRSS grew by $((rss_max - RSS0)) KiB during the flood (bound $RSS_GROWTH_KIB KiB)"
[ "$rss_max" -le $RSS_MAX_KIB ] || fail "VmRSS peaked at $rss_max KiB (bound $RSS_MAX_KIB KiB)"

"$TOOLS/kafka_verify" -b "$KAFKA" -t otlp_spans --signal traces --allow-dup --timeout-ms 10000 \
    --out "$WORK/got.json" >/dev/null 2>"$WORK/kv.err" || { cat "$WORK/kv.err" >&2; fail "kafka_verify"; }
# The warm-up and curl requests repeat one fixture: count them apart from the SDK's traces.
node -e '
const fs = require("fs");
const [got, a, out] = process.argv.slice(1);
const sent = new Set(JSON.parse(fs.readFileSync(a)).traces.map((t) => t.trace_id));
const g = JSON.parse(fs.readFileSync(got));
const fixture = g.traces.filter((r) => !sent.has(r.trace_id));
g.traces = g.traces.filter((r) => sent.has(r.trace_id));
fs.writeFileSync(out, JSON.stringify(g));
console.log(fixture.reduce((n, r) => n + r.spans.length, 0));
' "$WORK/got.json" "$WORK/sent.json" "$WORK/got-sdk.json" >"$WORK/nfix"
node "$CLIENTS/compare.js" --actual "$WORK/got-sdk.json" "$WORK/sent.json" ||
    fail "the client's spans in Kafka differ from what was sent"
expect_eq "$(cat "$WORK/nfix")" $((3 * (ncurl + 1))) "fixture spans in Kafka (warm-up and curl)"
stop_linerate
echo "ok"
