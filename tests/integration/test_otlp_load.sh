#!/bin/bash
# bench/otlp-load against a real linerate: short runs bounded by --requests over HTTP/1.1
# (Content-Length; chunked and gzip; a traces/metrics/logs mix on pipelined connections; a
# fixed rate) and gRPC (4 connections x 8 streams; a mix with gzip). Each must exit 0, and
# linerate's accepted counters must equal the items otlp-load reports as answered. Then the
# errors: a closed port (exit 1, connect errors), a wrong HTTP path (exit 1, 404s) and a wrong
# gRPC method (exit 1, grpc-status 12).
source "$(dirname "$0")/lib.sh"

LOAD="$ROOT/$LR_BUILD/bench/otlp-load"
[ -x "$LOAD" ] || fail "$LOAD is not built (make all builds it)"
start_linerate

# field FILE KEY: a number from otlp-load's JSON line, by a key that occurs once in it (sent, ok,
# spans, metric_points, log_records, connect, an HTTP or gRPC status code).
field() {
    grep -o "\"$2\":[0-9]*" "$1" | head -1 | cut -d: -f2
}

declare -A want=([http.spans]=0 [http.metric_points]=0 [http.log_records]=0
    [grpc.spans]=0 [grpc.metric_points]=0 [grpc.log_records]=0)
n=0
# load TRANSPORT ARGS...: one run that must succeed; adds its items to want[].
load() {
    local tr=$1 rc=0 out
    shift
    n=$((n + 1))
    out="$WORK/load$n.json"
    "$LOAD" --quiet "$@" >"$out" 2>"$WORK/load$n.err" || rc=$?
    [ $rc -eq 0 ] || fail "otlp-load $* exited $rc: $(cat "$WORK/load$n.err") $(cat "$out")"
    local sent ok
    sent=$(field "$out" sent)
    ok=$(field "$out" ok)
    [ "$ok" -gt 0 ] && [ "$ok" = "$sent" ] || fail "otlp-load $*: $ok of $sent requests answered 200"
    for k in spans metric_points log_records; do
        want[$tr.$k]=$((want[$tr.$k] + $(field "$out" $k)))
    done
    echo "$tr $*: $ok requests, $(field "$out" spans) spans," \
        "$(field "$out" metric_points) points, $(field "$out" log_records) records"
}

H=http://127.0.0.1:$HTTP_PORT
G=grpc://127.0.0.1:$GRPC_PORT
load http --target $H --requests 300 --duration-s 2 --connections 4
load http --target $H --requests 200 --duration-s 2 --connections 2 --chunked --gzip
load http --target $H --requests 300 --duration-s 2 --connections 2 --inflight 4 --threads 2 \
    --mix traces=2,metrics=1,logs=1
load http --target $H --requests 100 --duration-s 2 --connections 2 --rate 200 --signal logs
load grpc --target $G --requests 300 --duration-s 2 --connections 4 --inflight 8
load grpc --target $G --requests 200 --duration-s 2 --connections 2 --inflight 4 --gzip \
    --mix traces=1,metrics=1,logs=1

for tr in http grpc; do
    for k in spans metric_points log_records; do
        expect_eq "$(metric "otelcol_receiver_accepted_$k{receiver=\"otlp\",transport=\"$tr\"}")" \
            "${want[$tr.$k]}" "accepted $k over $tr against otlp-load's count"
    done
done

# A closed port: connect errors, exit 1, and it gives up on its own (about a second).
rc=0
"$LOAD" --quiet --target "http://127.0.0.1:$(free_port)" --duration-s 5 >"$WORK/closed.json" \
    2>"$WORK/closed.err" || rc=$?
expect_eq $rc 1 "otlp-load exit status against a closed port"
[ "$(field "$WORK/closed.json" connect)" -gt 0 ] || fail "no connect errors: $(cat "$WORK/closed.json")"
expect_eq "$(field "$WORK/closed.json" sent)" 0 "requests sent to a closed port"

# A wrong path and a wrong gRPC method: every request is an error, exit 1.
rc=0
"$LOAD" --quiet --target "$H/v1/nothing" --requests 5 >"$WORK/path.json" 2>/dev/null || rc=$?
expect_eq $rc 1 "otlp-load exit status on a wrong path"
expect_eq "$(field "$WORK/path.json" 404)" 5 "404 answers"
rc=0
"$LOAD" --quiet --target "$G/example.Nothing/Export" --requests 5 >"$WORK/grpc.json" 2>/dev/null ||
    rc=$?
expect_eq $rc 1 "otlp-load exit status on a wrong gRPC method"
expect_eq "$(field "$WORK/grpc.json" 12)" 5 "grpc-status 12 (UNIMPLEMENTED) answers"
stop_linerate
echo "ok"
