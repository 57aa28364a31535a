#!/bin/bash
# Host probes degrade cleanly (docs/host-metrics.md): without the capabilities to load BPF
# (capsh drops CAP_BPF, CAP_SYS_ADMIN and CAP_PERFMON from an otherwise root linerate), and
# without kernel BTF (an empty tmpfs over /sys/kernel/btf in linerate's own mount namespace),
# every probe is off with the reason, in the start-up block and in /metrics, and linerate still
# takes OTLP and delivers it to Kafka; a probe left out of host_metrics.probes is off as "not selected"
# while the others run and ship their metrics.
source "$(dirname "$0")/lib.sh"

# ---- no permission ---------------------------------------------------------------------------
REAL="$LINERATE"
printf '#!/bin/sh\nexec capsh --drop=cap_bpf,cap_sys_admin,cap_perfmon -- -c %s "%s" "$@"\n' \
    "'exec \"\$0\" \"\$@\"'" "$REAL" >"$WORK/nocap.sh"
chmod +x "$WORK/nocap.sh"
LINERATE="$WORK/nocap.sh"
start_linerate --set host_metrics.enabled=true --set host_metrics.interval_ms=500
why="cannot load the BPF programs: Operation not permitted (needs CAP_BPF and CAP_PERFMON, or root)"
for p in tcp_retransmit tcp_state tcp_reset_sent tcp_reset_received tcp_rtt runq disk skb_drop \
    softirq exec exit oom; do
    grep -qF "host probe  $p off: $why" "$WORK/linerate.out" ||
        fail "the start-up block does not say why $p is off"
    # (the reason has spaces: metric() reads one word; and grep -q must not read from a pipe,
    # under pipefail curl's SIGPIPE would fail the match)
    curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" >"$WORK/metrics.txt"
    grep -qxF "linerate_host_probe_up{probe=\"$p\",reason=\"$why\"} 0" "$WORK/metrics.txt" ||
        fail "/metrics does not say why $p is off"
done
grep -q "host probes every 500 ms to the metrics topic; on: none" "$WORK/linerate.out" ||
    fail "the start-up block does not say that no probe is on"
expect_eq "$(post /v1/metrics application/x-protobuf "$FIX/metrics.http-protobuf.body")" 200 \
    "OTLP metrics without probes"
sleep 1.5 # three host-metric intervals: none of them may send anything
kcat -b "$KAFKA" -C -t otlp_metrics -e -q -f '%S %s' | "$TOOLS/otlp_metrics_dump" >"$WORK/all.txt" ||
    fail "a record in otlp_metrics does not decode"
expect_eq "$(grep -c "name=linerate.host" "$WORK/all.txt" || true)" 0 \
    "host-metric points with every probe off"
expect_eq "$(awk '{ print $1 }' "$WORK/all.txt" | sort -u | wc -l)" 1 \
    "records in otlp_metrics (the one posted)"
expect_eq "$(metric linerate_host_requests_total)" 0 "host-metric requests"
stop_linerate
echo "no permission: every probe off with the reason; OTLP still delivered"

# ---- no BTF: an empty tmpfs over /sys/kernel/btf in a mount namespace of linerate's own -------
printf '#!/bin/sh\nexec unshare -m sh -c %s "%s" "$@"\n' \
    "'mount -t tmpfs none /sys/kernel/btf && exec \"\$0\" \"\$@\"'" "$REAL" >"$WORK/nobtf.sh"
chmod +x "$WORK/nobtf.sh"
LINERATE="$WORK/nobtf.sh"
: >"$WORK/linerate.out"
start_linerate --set host_metrics.enabled=true --set host_metrics.interval_ms=500
why="no kernel BTF (/sys/kernel/btf/vmlinux: No such file or directory)"
grep -qF "host probe  runq off: $why" "$WORK/linerate.out" ||
    fail "the start-up block does not say that there is no BTF"
curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" >"$WORK/metrics.txt"
grep -qxF "linerate_host_probe_up{probe=\"tcp_retransmit\",reason=\"$why\"} 0" "$WORK/metrics.txt" ||
    fail "/metrics does not say that there is no BTF"
expect_eq "$(post /v1/metrics application/x-protobuf "$FIX/metrics.http-protobuf.body")" 200 \
    "OTLP metrics without BTF"
stop_linerate
[ -r /sys/kernel/btf/vmlinux ] || fail "the tmpfs leaked out of linerate's mount namespace"
echo "no BTF: every probe off with the reason; OTLP still taken"

# ---- a probe not selected --------------------------------------------------------------------
LINERATE="$REAL"
: >"$WORK/linerate.out"
start_linerate --set host_metrics.enabled=true --set host_metrics.interval_ms=500 \
    --set host_metrics.probes=exec,oom
expect_eq "$(metric 'linerate_host_probe_up{probe="exec",reason=""}')" 1 "exec on"
curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" >"$WORK/metrics.txt"
grep -qxF 'linerate_host_probe_up{probe="runq",reason="not selected (host_metrics.probes)"} 0' \
    "$WORK/metrics.txt" || fail "/metrics does not say why runq is off"
grep -q "host probes every 500 ms to the metrics topic; on: exec oom$" "$WORK/linerate.out" ||
    fail "the start-up block does not list exec and oom as the probes on"
for i in $(seq 1 40); do
    kcat -b "$KAFKA" -C -t otlp_metrics -e -q -f '%S %s' | "$TOOLS/otlp_metrics_dump" >"$WORK/all.txt"
    grep -q "name=linerate.host.process.execs" "$WORK/all.txt" && break
    sleep 0.25
done
grep -q "name=linerate.host.process.execs" "$WORK/all.txt" || fail "no exec count in Kafka"
names=$(awk '{ print $5 }' "$WORK/all.txt" | sort -u | tr '\n' ' ')
expect_eq "$names" "name=linerate.host.memory.oom_kills name=linerate.host.process.execs " \
    "metrics sent with exec and oom selected"
stop_linerate
echo "ok"
