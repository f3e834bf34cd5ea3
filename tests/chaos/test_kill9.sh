#!/usr/bin/env bash
# Nothing lost, nothing doubled: `fxpipe run` on a replayed tick file is
# killed with SIGKILL at N random moments (a different moment each time,
# the seed is printed), each followed by a restart of the same command; the
# final `fxpipe export` of every symbol and timeframe must equal that of an
# uninterrupted run, byte for byte.
# usage: test_kill9.sh FXPIPE [ITERATIONS]
set -uo pipefail
fx=${1:?usage: test_kill9.sh FXPIPE [ITERATIONS]}
iters=${2:-${FXP_CHAOS_ITERATIONS:-50}}
seed=${FXP_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "# seed $seed, $iters kills"
RANDOM=$seed
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

# A week of quotes for three symbols, sorted, with a DST-free week.
/usr/bin/python3 - "$tmp/ticks.csv" <<'PY'
import random, sys
r = random.Random(7)
t0 = 1710712800000  # Sunday 2024-03-17 22:00 UTC = 18:00 New York (EDT)
end = t0 + 5 * 86400000 - 3600000
rows = []
for sym, px, d in [("EURUSD", 1.09, 5), ("USDJPY", 149.0, 3), ("XAUUSD", 2160.0, 2)]:
    t = t0
    while True:
        t += r.randint(500, 20000)
        if t >= end:
            break
        px *= 1 + r.gauss(0, 1e-4)
        b = round(px, d)
        rows.append((t, sym, f"{b:.{d}f}", f"{b + 10 ** -d * r.randint(1, 9):.{d}f}"))
rows.sort()
with open(sys.argv[1], "w") as f:
    f.write("symbol,ts,bid,ask\n")
    for t, s, b, a in rows:
        f.write(f"{s},{t},{b},{a}\n")
PY
n=$(($(wc -l <"$tmp/ticks.csv") - 1))
echo "# $n ticks"

export_all() { # db dir
  mkdir -p "$2"
  for s in EURUSD USDJPY XAUUSD; do
    for tf in 1m 5m 15m 30m 1h 4h 1d 1w; do
      "$fx" export --db "$1" --symbol $s --timeframe $tf -o "$2/$s.$tf.csv" 2>/dev/null
    done
  done
}

# The reference: one uninterrupted run.
FXPIPE_PIPELINE_BATCH_SIZE=4096 FXPIPE_TEST_WRITE_DELAY_MS=0 \
  "$fx" run --feed replay:"$tmp/ticks.csv" --db "$tmp/ref.db" 2>/dev/null || {
  echo "FAIL - reference run"; exit 1; }
export_all "$tmp/ref.db" "$tmp/ref"

# A slowed run (small batches, a slow store) so kills land mid-way. The
# variables are exported, not set on a function call: $! must be the PID
# of fxpipe itself, not of a subshell.
export FXPIPE_PIPELINE_BATCH_SIZE=256 FXPIPE_TEST_WRITE_DELAY_MS=2
slow() { "$fx" run --feed replay:"$tmp/ticks.csv" --db "$tmp/c.db" "$@"; }
t0=$(date +%s%N)
slow --db "$tmp/probe.db" 2>/dev/null
dur_ms=$((($(date +%s%N) - t0) / 1000000))
rm -rf "$tmp/probe.db"* "$tmp/probe.journal"
echo "# an uninterrupted slowed run takes $dur_ms ms"

killed=0
for i in $(seq "$iters"); do
  "$fx" run --feed replay:"$tmp/ticks.csv" --db "$tmp/c.db" 2>>"$tmp/runs.log" &
  pid=$!
  delay=$((RANDOM % (dur_ms + 1)))
  sleep "$(echo "scale=3; $delay / 1000" | bc)"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null
  pid=""
done
echo "# $killed of $iters runs killed mid-way"
slow 2>>"$tmp/runs.log" || { echo "FAIL - final run"; tail -5 "$tmp/runs.log"; exit 1; }
grep -h "warning" "$tmp/runs.log" | sort | uniq -c | head -5
export_all "$tmp/c.db" "$tmp/got"
if diff -r "$tmp/ref" "$tmp/got" >"$tmp/diff"; then
  files=$(ls "$tmp/got" | wc -l)
  echo "ok - after $killed kill -9s every export equals the uninterrupted run's ($files files)"
  echo "kill9: 1 passed, 0 failed"
else
  echo "FAIL - exports differ after kill -9 (seed $seed):"
  head -20 "$tmp/diff"
  echo "kill9: 0 passed, 1 failed"
  exit 1
fi
