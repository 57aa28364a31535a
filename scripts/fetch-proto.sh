#!/bin/sh
# Fetches the official OTLP .proto files (OTLP v1.4.0) from a pinned npm package, checks the
# tarball against its pinned sha512 integrity, and writes protoc-c-ready copies under $1.
# @elastic/mockotlpserver ships opentelemetry-proto unmodified under package/opentelemetry/proto.
# protoc-c 1.4.1 rejects proto3 `optional`; `optional T f = N;` becomes `oneof _f { T f = N; }`,
# which has the same wire format (a singular field with presence).
set -eu
out=${1:?usage: fetch-proto.sh OUTDIR}
pkg=@elastic/mockotlpserver@0.10.0
tgz_name=elastic-mockotlpserver-0.10.0.tgz
integrity='sha512-Oau6R/achnZd+ih5HPAsfmFddVZPJrHzoRSgeg3Rn3AhkQaIRvp7uKrERqv1Cn/irfaGxaAOPBBd+oq+JMfqHg=='

mkdir -p "$out"
cache="$out/.cache"
mkdir -p "$cache"
if [ ! -f "$cache/$tgz_name" ]; then
    (cd "$cache" && npm pack --silent --loglevel=error "$pkg" >/dev/null 2>&1) || {
        echo "fetch-proto: npm pack $pkg failed (is the npm registry reachable?)" >&2; exit 1; }
fi
got="sha512-$(openssl dgst -sha512 -binary "$cache/$tgz_name" | base64 -w0)"
if [ "$got" != "$integrity" ]; then
    echo "fetch-proto: integrity mismatch for $pkg: got $got" >&2
    rm -f "$cache/$tgz_name"
    exit 1
fi
rm -rf "$cache/x" && mkdir -p "$cache/x"
tar -xzf "$cache/$tgz_name" -C "$cache/x" package/opentelemetry/proto
for f in common/v1/common resource/v1/resource trace/v1/trace metrics/v1/metrics logs/v1/logs \
         collector/trace/v1/trace_service collector/metrics/v1/metrics_service \
         collector/logs/v1/logs_service; do
    src="$cache/x/package/opentelemetry/proto/$f.proto"
    dst="$out/opentelemetry/proto/$f.proto"
    mkdir -p "$(dirname "$dst")"
    sed -E 's/^([[:space:]]*)optional ([A-Za-z0-9_.]+) ([A-Za-z0-9_]+) = ([0-9]+);/\1oneof _\3 { \2 \3 = \4; }/' \
        "$src" >"$dst"
done
rm -rf "$cache/x"
