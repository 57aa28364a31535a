#!/bin/bash
# Runs every test: unit (gtest, normal and ASan+UBSan builds), integration with real peers (both
# builds), short fuzz runs, format check. Prints one line per test and ends with exactly one line
# "N passed, N failed". Logs go to build/test-logs/.
#
# Environment: FUZZ_SECONDS (default 10 per target), TESTS (a regex: run only matching names).
set -u
cd "$(dirname "$0")/.."
LOGS=build/test-logs
rm -rf "$LOGS" && mkdir -p "$LOGS"
# Captured from the official OpenTelemetry JS exporters (see tests/fixtures/otlp-js-0.223/README.md).
export LR_FIXTURES=${LR_FIXTURES:-$(pwd)/tests/fixtures/otlp-js-0.223}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
TESTS=${TESTS:-.}
passed=0
failed=0
failed_names=()

# report NAME RC SECONDS LOG: one test's line and the counters.
report() {
    local name=$1 rc=$2 secs=$3 log=$4
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        printf 'PASS  %-50s %4ds\n' "$name" "$secs"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        printf 'FAIL  %-50s %4ds  (log: %s)\n' "$name" "$secs" "$log"
        tail -n 25 "$log" | sed 's/^/      | /'
    fi
}

# t NAME CMD... : one test; passes when CMD exits 0.
t() {
    local name=$1
    shift
    [[ $name =~ $TESTS ]] || return 0
    local log="$LOGS/${name//\//_}.log" start=$SECONDS
    "$@" >"$log" 2>&1
    report "$name" $? $((SECONDS - start)) "$log"
}

# gtest binaries count one test per test case.
gtest() {
    local label=$1 bin=$2
    local name="$label/$(basename "$bin")"
    [[ $name =~ $TESTS ]] || return 0
    local log="$LOGS/${name//\//_}.log" start=$SECONDS
    "$bin" --gtest_color=no >"$log" 2>&1
    local rc=$?
    local p f
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    p=${p:-0}
    f=${f:-0}
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # crashed or sanitizer report
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" -eq 0 ]; then
        printf 'PASS  %-50s %4ds  (%d cases)\n' "$name" $((SECONDS - start)) "$p"
    else
        failed_names+=("$name")
        printf 'FAIL  %-50s %4ds  (%d passed, %d failed; log: %s)\n' "$name" $((SECONDS - start)) \
            "$p" "$f" "$log"
        grep -E '^\[  FAILED  \]|ERROR: AddressSanitizer|runtime error' "$log" | head -20 |
            sed 's/^/      | /'
    fi
}

for b in build build-asan; do
    label=unit
    [ $b = build-asan ] && label=unit-asan
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
    for bin in $(find $b/tests/unit -type f -perm -u+x 2>/dev/null | sort); do
        gtest $label "$bin"
    done
done

for s in $(ls tests/integration/test_*.sh 2>/dev/null | sort); do
    n=$(basename "$s" .sh)
    t "integration/$n" env LR_BUILD=build "$s"
    t "integration-asan/$n" env LR_BUILD=build-asan "$s"
done

# The fuzz runs are CPU-bound and independent: NPROC of them at a time (each writes its own
# corpus and log), reported in name order once all are done.
fuzz_one() {
    local f=$1 n
    n=$(basename "$f")
    local corpus=build-fuzz/corpus/$n dict="" start=$SECONDS
    mkdir -p "$corpus"
    [ -f tests/fuzz/$n.dict ] && dict="-dict=tests/fuzz/$n.dict"
    "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 $dict \
        "$corpus" tests/fuzz/corpus/$n >"$LOGS/fuzz_$n.log" 2>&1
    echo "$? $((SECONDS - start))" >"$LOGS/fuzz_$n.rc"
}
fuzzers=()
for f in $(ls build-fuzz/fuzz_* 2>/dev/null | grep -v '\.' | sort); do
    [[ fuzz/$(basename "$f") =~ $TESTS ]] && fuzzers+=("$f")
done
jobs_max=$(nproc 2>/dev/null || echo 2)
for f in "${fuzzers[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
    fuzz_one "$f" &
done
wait
for f in "${fuzzers[@]}"; do
    n=$(basename "$f")
    read -r rc secs <"$LOGS/fuzz_$n.rc" 2>/dev/null || { rc=1; secs=0; }
    report "fuzz/$n" "$rc" "$secs" "$LOGS/fuzz_$n.log"
done

t "format-check" make --no-print-directory format-check

if [ ${#failed_names[@]} -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
