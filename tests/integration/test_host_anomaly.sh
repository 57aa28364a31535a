#!/bin/bash
# Host-metric series in the anomaly detector (docs/anomaly.md "Features", docs/host-metrics.md),
# end to end with the real probes and a real load change. linerate runs with anomaly scoring and
# the disk probe, both every 250 ms. A writer of our own (python, O_DIRECT, paced on the clock)
# writes 4 KiB 40 times a second to a loop device that nothing else writes to, for 20 s: the
# series system.disk.io{system.device=loopN,disk.io.direction=write} learns ~160 KiB/s. Then it
# writes 64 KiB blocks at the same pace (16 times the bytes). Checked:
#   - no anomaly record for that series during the steady part;
#   - a linerate.anomaly record (opened) for it reaches otlp_logs within 10 s of the change, with
#     service.name linerate, span.kind host and anomaly.feature rate_per_s, the host's name in
#     its resource (host.name);
#   - GET /anomalies lists it the same way, with a value above 4 times the baseline's rate;
#   - linerate_anomaly_host_samples_total counts the host samples.
# Other host series (this machine's other disks) may open or not: the test names only its own.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || fail "python3 missing (scripts/setup.sh installs it)"

LOOP=""
WRITER=""
trap '[ -n "$WRITER" ] && kill $WRITER 2>/dev/null; [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null;
      cleanup' EXIT

sync
truncate -s 16M "$WORK/disk.img"
LOOP=$(losetup -f --show "$WORK/disk.img") || fail "losetup"
dev=$(basename "$LOOP")
SERIES="system.disk.io{system.device=$dev,disk.io.direction=write}"

start_linerate --set anomaly.enabled=true --set anomaly.window_ms=250 \
    --set host_metrics.enabled=true --set host_metrics.interval_ms=250 \
    --set host_metrics.probes=disk
expect_eq "$(metric 'linerate_host_probe_up{probe="disk",reason=""}')" 1 "disk probe up"

# The writer: BS bytes (read from $WORK/bs each second) RATE times a second, at t0 + i / RATE,
# catching up when it was held back, so each 250 ms read sees ~10 writes.
echo 4096 >"$WORK/bs"
python3 -c '
import mmap, os, sys, time
dev, bsfile = sys.argv[1], sys.argv[2]
rate = 40.0
fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 1 << 16)
t0 = time.monotonic(); i = 0; bs = 4096; checked = 0
while True:
    now = time.monotonic()
    if now - checked > 0.1:
        bs = int(open(bsfile).read()); checked = now
    due = t0 + i / rate
    if due > now:
        time.sleep(due - now)
    os.pwrite(fd, memoryview(buf)[:bs], 0)
    i += 1' "$LOOP" "$WORK/bs" &
WRITER=$!

# The otlp_logs records, one a line, bytes that are not printable as blanks.
logs() {
    kcat -C -b "$KAFKA" -t otlp_logs -e -q -f '@@REC@@%s' 2>/dev/null | tr -c '[:print:]' ' ' |
        sed 's/@@REC@@/\n/g'
}
ours() { logs | grep 'linerate.anomaly' | grep -F "$SERIES"; }

sleep 20
kill -0 $WRITER 2>/dev/null || fail "the writer died"
samples=$(metric linerate_anomaly_host_samples_total)
[ "${samples:-0}" -ge 60 ] || fail "only ${samples:-0} host samples reached the detector in 20 s"
[ -z "$(ours)" ] || {
    ours | head -3 >&2
    fail "an anomaly was reported for $SERIES during its steady part"
}
echo 65536 >"$WORK/bs"

opened_ours() { ours | grep -q 'opened'; }
within_ms 10000 opened_ours || {
    echo "open: $(curl -s "http://127.0.0.1:$ADMIN_PORT/anomalies")" >&2
    curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | grep -E '^linerate_(anomaly|host_anomaly)_' >&2
    fail "no linerate.anomaly record for $SERIES in otlp_logs within 10 s"
}
echo "anomaly record for $SERIES in Kafka $WAITED_MS ms after the change"
rec=$(ours | grep opened | head -1)
echo "$rec" | grep -q "anomaly opened: rate_per_s of linerate $SERIES (host): " ||
    fail "the record's body does not name the host series and feature: $rec"
for a in 'span.kind *host' 'anomaly.feature *rate_per_s' 'service.name *linerate' \
    "host.name *$(hostname)"; do
    echo "$rec" | grep -q "$a" || fail "the record lacks $a: $rec"
done
# The value in the opening window (bytes per second; the body says it as %.6g). The window it
# opened in can be one of the change's first, while the writer's first 64 KiB writes are still
# slow (a dip); the series' value while it is open must be the new rate, checked below.
value=$(echo "$rec" | sed -n 's/.*(host): \([0-9.e+]*\), expected.*/\1/p')
echo "opening value $value (baseline $((40 * 4096)) B/s)"

# GET /anomalies lists it as a host series, and, within 5 s, with the latest window's value above
# 4 times the baseline's rate.
listed() {
    curl -sf "http://127.0.0.1:$ADMIN_PORT/anomalies" >"$WORK/open.json" || return 1
    grep -qF "\"service\":\"linerate\",\"operation\":\"$SERIES\",\"span_kind\":\"host\",\"feature\":\"rate_per_s\"" \
        "$WORK/open.json" || return 1
    local v
    v=$(sed -n "s/.*\"operation\":\"$SERIES\",[^}]*\"value\":\([0-9.e+-]*\).*/\1/p" "$WORK/open.json")
    awk -v v="$v" 'BEGIN { exit !(v > 4 * 40 * 4096) }'
}
within_ms 5000 listed ||
    fail "GET /anomalies does not list $SERIES with a value above 4 times the baseline: $(cat "$WORK/open.json")"
echo "GET /anomalies: $(cat "$WORK/open.json")"
echo "host samples: $(metric linerate_anomaly_host_samples_total); late reads:" \
    "$(metric linerate_anomaly_host_late_total); series: $(metric linerate_anomaly_series)"
kill $WRITER
wait $WRITER 2>/dev/null || true
WRITER=""
stop_linerate
echo "ok"
