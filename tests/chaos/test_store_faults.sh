#!/usr/bin/env bash
# A failing store, injected at the store interface (FXPIPE_TEST_STORE_FAIL):
# 1. failing for a while: the breaker opens, the batch waits for its retry,
#    the source is paused (queues full), and when the store returns every
#    bar arrives exactly once (exports equal a clean run's);
# 2. never returning: batches end in the dead-letter file after their
#    attempts; `fxpipe dlq replay` later stores them all, and the result
#    equals the clean run's; the dead-letter file is then empty;
# 3. SIGTERM while the store is down: the stop deadline moves what is left
#    to the dead-letter file and the process exits promptly.
set -uo pipefail
fx=${1:?usage: test_store_faults.sh FXPIPE}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { echo "ok - $1"; passes=$((passes + 1)); }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
range=(--from 2024-03-17T21:00:00Z --to 2024-03-20T21:00:00Z)
export_all() {
  mkdir -p "$2"
  for s in EURUSD GBPUSD USDJPY XAUUSD; do
    for tf in 1m 1h 1d; do
      "$fx" export --db "$1" --symbol $s --timeframe $tf -o "$2/$s.$tf.csv" 2>/dev/null
    done
  done
}
"$fx" run --db "$tmp/ref.db" "${range[@]}" 2>/dev/null
export_all "$tmp/ref.db" "$tmp/ref"

# 1. Failing for a while.
FXPIPE_TEST_STORE_FAIL=5:5 FXPIPE_STORE_RETRY_BASE_MS=50 \
  FXPIPE_STORE_BREAKER_THRESHOLD=3 FXPIPE_STORE_BREAKER_OPEN_MS=300 \
  FXPIPE_PIPELINE_QUEUE_BATCHES=4 \
  "$fx" run --db "$tmp/a.db" "${range[@]}" 2>"$tmp/err_a"
rc=$?
check "failing store: exit 0" "[ $rc -eq 0 ]"
check "failing store: the breaker opened" "grep -q \"breaker 'store': closed -> open\" '$tmp/err_a'"
check "failing store: and closed again" "grep -q \"breaker 'store': half_open -> closed\" '$tmp/err_a'"
check "failing store: writes were retried" "grep -q '5 store writes retried, 0 batches dead-lettered' '$tmp/err_a'"
check "failing store: the source was paused (queues full)" \
  "grep -q 'high-water marks 4 (in) 4 (out)' '$tmp/err_a'"
export_all "$tmp/a.db" "$tmp/a"
check "failing store: every bar arrived once" "diff -r '$tmp/ref' '$tmp/a' >/dev/null"

# 2. Never returning: dead letters, then replay.
FXPIPE_TEST_STORE_FAIL=3:-1 FXPIPE_STORE_RETRY_BASE_MS=5 FXPIPE_STORE_RETRY_ATTEMPTS=2 \
  FXPIPE_STORE_BREAKER_THRESHOLD=3 FXPIPE_STORE_BREAKER_OPEN_MS=10 \
  "$fx" run --db "$tmp/b.db" "${range[@]}" 2>"$tmp/err_b"
rc=$?
check "dead store: exit 1 naming the dead-letter file" \
  "[ $rc -eq 1 ] && grep -q 'fxpipe dlq replay' '$tmp/err_b'"
n=$("$fx" dlq list --db "$tmp/b.db" 2>/dev/null | grep -c 'retries_exhausted')
check "dead store: batches are in the dead-letter file ($n)" "[ '$n' -gt 10 ]"
"$fx" dlq replay --db "$tmp/b.db" >"$tmp/out_r" 2>&1
check "dlq replay: exit 0" "[ $? -eq 0 ]"
export_all "$tmp/b.db" "$tmp/b"
check "dlq replay: the store equals a clean run's" "diff -r '$tmp/ref' '$tmp/b' >/dev/null"
left=$("$fx" dlq list --db "$tmp/b.db" 2>/dev/null | grep -c 'retries_exhausted')
check "dlq replay: the dead-letter file is empty after ($left)" "[ '$left' = 0 ]"

# 3. SIGTERM while the store is down: the deadline bounds the stop.
FXPIPE_TEST_STORE_FAIL=2:-1 FXPIPE_STORE_RETRY_BASE_MS=1000 \
  FXPIPE_STORE_STOP_DEADLINE_MS=500 \
  "$fx" run --db "$tmp/c.db" "${range[@]}" 2>"$tmp/err_c" &
pid=$!
sleep 1.5
t0=$(date +%s.%N)
kill -TERM $pid
wait $pid
rc=$?
t1=$(date +%s.%N)
check "stop with a dead store: done within 3 s" "[ \$(echo '$t1 - $t0 < 3' | bc) = 1 ]"
check "stop with a dead store: exit 1, rest dead-lettered" \
  "[ $rc -eq 1 ] && grep -q 'dead-lettered' '$tmp/err_c'"
n=$("$fx" dlq list --db "$tmp/c.db" 2>/dev/null | grep -c 'stop_deadline')
check "stop with a dead store: entries say stop_deadline ($n)" "[ '$n' -ge 1 ]"

echo "store faults: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
