#!/bin/sh
# Installs what linerate needs to build and test on Debian 12, and nothing that is already there.
# Idempotent; prints nothing when nothing is missing. Run by `make run` and `make test`.
set -eu
cd "$(dirname "$0")/.."

pkgs="build-essential pkg-config clang llvm libclang-rt-14-dev clang-format openssl ca-certificates
      libprotobuf-c-dev protobuf-c-compiler librdkafka-dev libnghttp2-dev nghttp2-client
      libnuma-dev libhwloc-dev zlib1g-dev libzstd-dev libyaml-dev libgtest-dev
      libsnappy-dev liblz4-dev libjson-c-dev libisal-dev dpdk-dev libdpdk-dev
      kcat curl nodejs npm iproute2 ethtool libbpf-dev bpftool valgrind python3"
missing=""
for p in $pkgs; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in *" installed") ;; *) missing="$missing $p" ;; esac
done
if [ -n "$missing" ]; then
    # node and npm may come from elsewhere (e.g. NodeSource); do not fight them.
    if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
        missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
    fi
fi
if [ -n "$(echo "$missing" | tr -d ' ')" ]; then
    echo "setup: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq --no-install-recommends $missing >/tmp/linerate-setup.log 2>&1; then
        apt-get update -qq >>/tmp/linerate-setup.log 2>&1 || true
        apt-get install -y -qq --no-install-recommends $missing >>/tmp/linerate-setup.log 2>&1 || {
            echo "setup: apt-get install failed; see /tmp/linerate-setup.log" >&2; exit 1; }
    fi
fi

# The pinned OpenTelemetry JS SDK test clients (versions and hashes in package-lock.json).
clients=tests/integration/clients
if [ -f "$clients/package-lock.json" ]; then
    if [ ! -f "$clients/node_modules/.linerate-stamp" ] ||
       [ "$clients/package-lock.json" -nt "$clients/node_modules/.linerate-stamp" ]; then
        (cd "$clients" && npm ci --silent --no-audit --no-fund --loglevel=error >/tmp/linerate-npm.log 2>&1) || {
            echo "setup: npm ci in $clients failed; see /tmp/linerate-npm.log" >&2; exit 1; }
        touch "$clients/node_modules/.linerate-stamp"
    fi
fi
