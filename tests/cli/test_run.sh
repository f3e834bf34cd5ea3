#!/usr/bin/env bash
# fxpipe run end to end, checked with the sqlite3 CLI: the default feed
# stores every timeframe; a rerun changes nothing; SIGTERM mid-run stops
# cleanly with everything read so far stored; a slow store keeps memory
# bounded (queues full, RSS small); bad usage gives clear errors.
set -uo pipefail
fx=${1:?usage: test_run.sh FXPIPE}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { echo "ok - $1"; passes=$((passes + 1)); }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
q() { sqlite3 "$tmp/$1" "$2"; }

# 1. Two weeks around the 2024 spring DST switch.
"$fx" run --db "$tmp/a.db" --from 2024-03-03T22:00:00Z --to 2024-03-15T21:00:00Z \
  >"$tmp/out" 2>"$tmp/err"
check "run exits 0" "[ $? -eq 0 ]"
check "summary names bars per timeframe" "grep -q 'bar rows written: 1m' '$tmp/err'"
n1m=$(q a.db "select count(*) from bars where timeframe='1m'")
n1d=$(q a.db "select count(*) from bars where timeframe='1d'")
n1w=$(q a.db "select count(*) from bars where timeframe='1w'")
check "4 symbols x 10 daily bars" "[ '$n1d' = 40 ]"
check "4 symbols x 2 weekly bars" "[ '$n1w' = 8 ]"
check "1m bars stored ($n1m)" "[ '$n1m' -gt 50000 ]"
# No bar opens while the market is closed: Saturday, or Sunday before 17:00
# New York (21:00/22:00 UTC); checked on the UTC weekday with a margin.
sat=$(q a.db "select count(*) from bars where timeframe='1m' and strftime('%w', ts/1000, 'unixepoch')='6'")
check "no 1m bar on a Saturday" "[ '$sat' = 0 ]"
# The weekly bars open Sunday 22:00 UTC (EST) then 21:00 UTC (EDT).
weeks=$(q a.db "select group_concat(datetime(ts/1000,'unixepoch'), ' ') from (select distinct ts from bars where timeframe='1w' order by ts)")
check "weeks open 17:00 New York across DST ($weeks)" \
  "[ '$weeks' = '2024-03-03 22:00:00 2024-03-10 21:00:00' ]"
# Higher timeframes are consistent with the 1m bars they contain.
agg=$(q a.db "select count(*) from bars h where timeframe='1h' and volume != (select sum(volume) from bars m where m.symbol=h.symbol and m.timeframe='1m' and m.ts >= h.ts and m.ts < h.ts + 3600000)")
check "every 1h volume is the sum of its 1m volumes" "[ '$agg' = 0 ]"
hl=$(q a.db "select count(*) from bars h where timeframe='1d' and high != (select max(high) from bars m where m.symbol=h.symbol and m.timeframe='1m' and m.ts >= h.ts and m.ts < h.ts + 86400000)")
check "every 1d high is the max of its 1m highs" "[ '$hl' = 0 ]"
live=$(q a.db "select count(*) from bars where source != 'live' or version < (3 << 40)")
check "live bars carry the live rank" "[ '$live' = 0 ]"

# 2. The same run again: identical database.
q a.db .dump >"$tmp/dump1"
"$fx" run --db "$tmp/a.db" --from 2024-03-03T22:00:00Z --to 2024-03-15T21:00:00Z 2>/dev/null
q a.db .dump >"$tmp/dump2"
check "a rerun leaves the database identical" "cmp -s '$tmp/dump1' '$tmp/dump2'"

# 3. SIGTERM mid-run (paced at 7200x: two weeks take ~170 s).
"$fx" run --db "$tmp/b.db" --from 2024-03-03T22:00:00Z --to 2024-03-15T21:00:00Z \
  --speed 7200 2>"$tmp/err_b" &
pid=$!
sleep 3
kill -TERM "$pid"
t0=$(date +%s.%N)
wait "$pid"
rc=$?
t1=$(date +%s.%N)
check "SIGTERM: exit 0" "[ $rc -eq 0 ]"
check "SIGTERM: clean stop in under 1 s" "[ \$(echo '$t1 - $t0 < 1' | bc) = 1 ]"
check "SIGTERM: says it stopped" "grep -q 'stopped by signal' '$tmp/err_b'"
last=$(q b.db "select max(ts) from bars where timeframe='1m'")
nb=$(q b.db "select count(*) from bars where timeframe='1m'")
check "SIGTERM: some bars stored ($nb)" "[ '$nb' -gt 10 ]"
# Every 1m bar before the last one equals the uninterrupted run's.
diffs=$(sqlite3 "$tmp/b.db" "attach '$tmp/a.db' as a; select count(*) from bars b left join a.bars x using (symbol, timeframe, ts) where b.timeframe='1m' and b.ts < $last and (x.close is null or x.close != b.close or x.volume != b.volume)")
check "SIGTERM: complete 1m bars equal the full run's" "[ '$diffs' = 0 ]"

# 4. A store slower than the feed: queues fill, memory stays bounded.
FXPIPE_TEST_WRITE_DELAY_MS=3 FXPIPE_PIPELINE_QUEUE_BATCHES=4 \
  "$fx" run --db "$tmp/c.db" --from 2024-03-03T22:00:00Z --to 2024-03-15T21:00:00Z \
  2>"$tmp/err_c"
check "slow store: exit 0" "[ $? -eq 0 ]"
check "slow store: queues reached their cap" "grep -q 'high-water marks 4 (in) 4 (out)' '$tmp/err_c'"
rss=$(sed -n 's/.*peak RSS \([0-9.]*\) MB.*/\1/p' "$tmp/err_c")
echo "# slow store: peak RSS $rss MB"
if [ "${FXP_SANITIZED:-0}" = 1 ]; then
  echo "# slow store: RSS bound not checked under AddressSanitizer (shadow memory)"
else
  check "slow store: peak RSS under 32 MB ($rss)" "[ \$(echo '$rss < 32' | bc) = 1 ]"
fi
sqlite3 "$tmp/c.db" "attach '$tmp/a.db' as a; select count(*) from bars except select count(*) from a.bars" >"$tmp/cnt"
check "slow store: same bars as the fast run" "[ ! -s '$tmp/cnt' ]"

# 5. Raw ticks kept with a one-day retention window.
FXPIPE_STORE_TICK_RETENTION_DAYS=1 "$fx" run --db "$tmp/t.db" --keep-ticks \
  --from 2024-03-03T22:00:00Z --to 2024-03-08T22:00:00Z 2>"$tmp/err_t"
check "keep ticks: exit 0" "[ $? -eq 0 ]"
span=$(q t.db "select (max(ts) - min(ts)) / 3600000 from ticks")
nt=$(q t.db "select count(*) from ticks")
check "keep ticks: ticks stored ($nt)" "[ '$nt' -gt 10000 ]"
check "keep ticks: only the last day kept (span ${span} h)" "[ '$span' -le 24 ]"
last_tick=$(q t.db "select max(ts) from ticks")
last_bar=$(q t.db "select max(ts) from bars where timeframe='1m'")
check "keep ticks: the newest ticks are kept" "[ \$(( last_tick / 60000 * 60000 )) = '$last_bar' ]"

# 6. Bad usage and unusable databases.
"$fx" run --db "$tmp/x.db" --speed fast 2>"$tmp/e1"
check "bad speed: exit 2 naming it" "[ $? -eq 2 ] && grep -q \"'fast'\" '$tmp/e1'"
"$fx" run --db "$tmp/nodir/x.db" 2>"$tmp/e2"
check "database in a missing directory: exit 3 naming it" \
  "[ $? -eq 3 ] && grep -q 'nodir/x.db' '$tmp/e2'"
"$fx" run --feed replay:"$tmp/none.csv" --db "$tmp/y.db" 2>"$tmp/e3"
check "missing replay file: clear error" "[ $? -ne 0 ] && grep -q 'none.csv' '$tmp/e3'"
"$fx" run --frobnicate 2>/dev/null
check "unknown flag: exit 2" "[ $? -eq 2 ]"
"$fx" run --help | grep -q 'usage: fxpipe run'
check "--help" "[ $? -eq 0 ]"

echo "run: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
