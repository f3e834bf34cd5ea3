#!/usr/bin/env bash
# fxpipe gaps --serve: the scheduled job repeats on its interval, never two
# at once (a second instance is refused), an overlong run is warned about
# and the runs it missed are coalesced, SIGTERM stops it promptly.
set -uo pipefail
fx=${1:?usage: test_serve.sh FXPIPE}
src=${FXP_SOURCE_DIR:-$(dirname "$0")/../..}
tmp=$(mktemp -d)
pids=()
server=""
cleanup() {
  for p in "${pids[@]}" $server; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0 passes=0
ok() { echo "ok - $1"; passes=$((passes + 1)); }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

# A day of 1m bars with a hole, as a generic bar file.
t0=1704715200000 # Monday 2024-01-08 12:00 UTC
{
  echo "symbol,ts,open,high,low,close,volume,n"
  for i in $(seq 0 119); do
    [ "$i" -ge 50 ] && [ "$i" -lt 60 ] && continue
    echo "EURUSD,$((t0 + i * 60000)),1.1,1.1002,1.0998,1.1001,5,5"
  done
} >"$tmp/bars.csv"
cut -d, -f1-7 "$tmp/bars.csv" >"$tmp/import.csv"
"$fx" import --db "$tmp/s.db" "$tmp/import.csv" 2>/dev/null
range=(--from "$t0" --to "$((t0 + 120 * 60000))")

# 1. Repeats on its interval; a second instance is refused.
"$fx" gaps --db "$tmp/s.db" --symbol EURUSD --timeframe 1m "${range[@]}" \
  --serve --interval 1 >"$tmp/out1" 2>"$tmp/err1" &
pids+=($!)
sleep 2.5
"$fx" gaps --db "$tmp/s.db" --symbol EURUSD --timeframe 1m "${range[@]}" \
  --serve --interval 1 >/dev/null 2>"$tmp/err2"
rc=$?
check "a second instance is refused (exit 2)" "[ $rc -eq 2 ] && grep -q 'holds' '$tmp/err2'"
t_kill=$(date +%s.%N)
kill -TERM "${pids[0]}"
wait "${pids[0]}"
rc=$?
t_done=$(date +%s.%N)
runs=$(grep -c '^EURUSD' "$tmp/out1")
check "it ran on every interval ($runs runs in 2.5 s)" "[ $runs -ge 2 ] && [ $runs -le 4 ]"
check "SIGTERM stops it within 1 s" "[ \$(echo '$t_done - $t_kill < 1' | bc) = 1 ]"
check "exit status after SIGTERM is 0" "[ $rc -eq 0 ]"

# 2. An overlong run (a slow source) is warned about; missed runs coalesce.
exec 3< <(/usr/bin/python3 "$src/tests/tools/fake_polygon.py" --port 0 --key k \
  --slow-at 1 --slow-seconds 2.5 "$tmp/bars.csv" 2>/dev/null)
server=$!
read -r _ port <&3
POLYGON_API_KEY=k "$fx" gaps --db "$tmp/s.db" --symbol EURUSD --timeframe 1m \
  "${range[@]}" --fill --source polygon --base-url "http://127.0.0.1:$port" \
  --rate-limit 0 --timeout-ms 10000 --serve --interval 1 >"$tmp/out3" 2>"$tmp/err3" &
pids+=($!)
sleep 4
kill -TERM "${pids[1]}"
wait "${pids[1]}"
check "an overlong run is warned about" "grep -q 'longer than the 1 s interval' '$tmp/err3'"
check "the runs it missed are coalesced" "grep -q 'missed run.* coalesced' '$tmp/err3'"
check "the fill completed the series" "grep -q 'complete' '$tmp/out3'"

echo "serve: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
