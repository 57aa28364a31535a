#!/bin/bash
# HTTP/2 defences of the gRPC port (dataplane/h2.c): each attack of tests/tools/h2_attack must be
# disconnected by the server within a bound, while a legitimate gRPC client (h2load) running at
# the same time gets all of its 200 calls through, and linerate's memory stays bounded.
#
# Bounds (one linerate for all modes, header_timeout_ms=1000, send_timeout_ms=2000):
#   floods (rapid-reset, continuation-flood, hpack-bomb, settings-flood, ping-flood,
#   empty-data-flood): disconnected within 2000 ms;
#   slowloris (header timeout 1 s): within 3000 ms;  zero-window (send timeout 2 s): within 4000 ms.
#   Peak RSS (VmHWM) at most 64 MiB over the baseline taken after a warm-up (×3 under ASan).
# The attack is repeated (a new connection each time) for as long as h2load runs, so that the
# legitimate calls overlap the attack even when one attack connection lasts a millisecond.
source "$(dirname "$0")/lib.sh"

GRPC_PATH=/opentelemetry.proto.collector.trace.v1.TraceService/Export
ATTACK="$TOOLS/h2_attack"
[ -x "$ATTACK" ] || fail "$ATTACK not built"
RSS_BOUND_KB=$((64 * 1024))
[ "$LR_BUILD" = build-asan ] && RSS_BOUND_KB=$((3 * RSS_BOUND_KB))

start_linerate --set receivers.otlp.protocols.grpc.header_timeout_ms=1000 \
    --set receivers.otlp.protocols.grpc.send_timeout_ms=2000

status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$LR_PID/status"; }
spans() { metric 'otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"}'; }

# legit NAME: 200 unary gRPC calls (3 spans each) on one connection, 4 in flight.
legit() {
    h2load -n 200 -c 1 -m 4 -t 1 -d "$FIX/traces.grpc.grpcframes" \
        -H 'content-type: application/grpc' -H 'te: trailers' \
        "http://127.0.0.1:$GRPC_PORT$GRPC_PATH" >"$WORK/h2load.$1.out" 2>&1 || true
    grep -q "requests: 200 total, 200 started, 200 done, 200 succeeded, 0 failed, 0 errored, 0 timeout" \
        "$WORK/h2load.$1.out"
}

# Warm-up, then the baseline.
legit warmup || fail "warm-up: h2load saw errors: $(grep -E 'requests:|status codes' "$WORK/h2load.warmup.out")"
BASE_KB=$(status_kb VmRSS)
echo "baseline VmRSS ${BASE_KB} kB (bound +$((RSS_BOUND_KB / 1024)) MiB peak, $LR_BUILD)"

failures=()
for spec in rapid-reset:2000 continuation-flood:2000 hpack-bomb:2000 settings-flood:2000 \
    ping-flood:2000 empty-data-flood:2000 slowloris:3000 zero-window:4000; do
    mode=${spec%%:*}
    bound_ms=${spec##*:}
    secs=$((bound_ms / 1000 + 1)) # the tool gives up (exit 1) after this
    before=$(spans)
    log="$WORK/attack.$mode.log"
    : >"$log"
    rm -f "$WORK/legit.done"
    # The attack loop: at least one connection, more while h2load runs.
    (
        set +e
        while :; do
            t0=$(date +%s%N)
            out=$("$ATTACK" 127.0.0.1 "$GRPC_PORT" "$mode" "$secs" 2>&1)
            rc=$?
            echo "$rc $t0 $(date +%s%N) $out" >>"$log"
            [ $rc -eq 0 ] || break
            [ -e "$WORK/legit.done" ] && break
        done
    ) &
    apid=$!
    peak_kb=0
    legit_ok=1
    l0=$(date +%s%N)
    legit "$mode" || legit_ok=0
    touch "$WORK/legit.done"
    legit_ms=$((($(date +%s%N) - l0) / 1000000))
    while kill -0 $apid 2>/dev/null; do
        kb=$(status_kb VmRSS)
        [ "$kb" -gt "$peak_kb" ] && peak_kb=$kb
        sleep 0.05
    done
    wait $apid || true
    hwm=$(status_kb VmHWM)
    rss=$(status_kb VmRSS)
    [ "$hwm" -gt "$peak_kb" ] && peak_kb=$hwm
    # The accepted-spans counter: exactly the legitimate 600.
    after=$(spans)
    for i in $(seq 1 20); do
        [ $((after - before)) -ge 600 ] && break
        sleep 0.1
        after=$(spans)
    done

    n=$(wc -l <"$log")
    bad=$(awk '$1 != 0' "$log" | head -1 | cut -d' ' -f4-)
    # How long the attack connections ran, from the first start to the last end (wall clock).
    attack_ms=$((($(tail -1 "$log" | cut -d' ' -f3) - $(head -1 "$log" | cut -d' ' -f2)) / 1000000))
    # Time to disconnect as the tool measured it ("... in T ms (...)"), the worst of all runs.
    worst=$(sed -n 's/.* in \([0-9]*\) ms (.*/\1/p' "$log" | sort -n | tail -1)
    goaway=$(sed -n 's/.*(\(.*\))$/\1/p' "$log" | sort | uniq -c | sort -rn | head -1 | sed 's/^ *[0-9]* //')
    printf '%-18s disconnected in max %s ms over %d connections (bound %d ms; %s); RSS +%d kB now, +%d kB peak; h2load %s in %d ms during %d ms of attack; spans +%d\n' \
        "$mode" "${worst:-?}" "$n" "$bound_ms" "${goaway:-?}" $((rss - BASE_KB)) \
        $((peak_kb - BASE_KB)) "$([ $legit_ok = 1 ] && echo 200/200 || echo FAILED)" "$legit_ms" "$attack_ms" \
        $((after - before))

    msg=""
    [ -z "$bad" ] || msg="$msg; attack not disconnected: $bad"
    [ -n "$worst" ] && [ "$worst" -le "$bound_ms" ] || msg="$msg; time to disconnect ${worst:-?} ms > $bound_ms ms"
    [ $legit_ok = 1 ] || msg="$msg; legitimate h2load: $(grep -E 'requests:' "$WORK/h2load.$mode.out" | tr -s ' ')"
    [ $((after - before)) -eq 600 ] || msg="$msg; accepted spans grew by $((after - before)), not 600"
    [ $((peak_kb - BASE_KB)) -le $RSS_BOUND_KB ] ||
        msg="$msg; RSS peak +$((peak_kb - BASE_KB)) kB > +$RSS_BOUND_KB kB"
    [ -z "$msg" ] || failures+=("$mode${msg}")
done

kill -0 "$LR_PID" 2>/dev/null || fail "linerate died"
stop_linerate
if [ ${#failures[@]} -gt 0 ]; then
    printf 'FAIL: %s\n' "${failures[@]}" >&2
    exit 1
fi
echo "ok"
