#!/usr/bin/env bash
# fxpipe import (all 8 timeframes into SQLite) vs the sqlite3 CLI's own
# .import of the same CSV plus one GROUP BY for 1-minute OHLC; same run,
# medians. Also peak RSS of the import.
# usage: bench/import_vs_sqlite.sh BUILD_DIR [N_TICKS] [RUNS]
set -euo pipefail
build=${1:-build}; n=${2:-10000000}; runs=${3:-3}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$build/bench/bench_gen" "$n" > "$tmp/ticks.csv"
median() { sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>"$tmp/last.err"; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
sqlite_job() {
  rm -f "$tmp/s.db"
  sqlite3 "$tmp/s.db" <<SQL
create table ticks(symbol text, ts integer, bid real, ask real);
.import --csv --skip 1 $tmp/ticks.csv ticks
create table bars1m as
  select symbol, ts / 60000 * 60000 as ts1m, min(ts) as first_ts,
         (bid + ask) / 2 as open, max((bid + ask) / 2) as high,
         min((bid + ask) / 2) as low, count(*) as n
  from ticks group by symbol, ts / 60000;
SQL
}
fx=(); fxk=(); sq=(); rss=()
for _ in $(seq "$runs"); do
  rm -f "$tmp/f.db"*
  fx+=("$(t "$build/fxpipe" import --db "$tmp/f.db" "$tmp/ticks.csv")")
  rss+=("$(sed -n 's/.*peak RSS \([0-9.]*\) MB.*/\1/p' "$tmp/last.err")")
  rm -f "$tmp/k.db"*
  fxk+=("$(t "$build/fxpipe" import --keep-ticks --db "$tmp/k.db" "$tmp/ticks.csv")")
  sq+=("$(t sqlite_job)")
done
mf=$(printf '%s\n' "${fx[@]}" | median)
mk=$(printf '%s\n' "${fxk[@]}" | median)
ms=$(printf '%s\n' "${sq[@]}" | median)
mr=$(printf '%s\n' "${rss[@]}" | median)
printf 'import: %d ticks CSV -> SQLite, median of %d runs\n' "$n" "$runs"
printf '  fxpipe import (8 timeframes)         %6.2f s %6.2f M ticks/s  %5.1fx sqlite3  peak RSS %s MB\n' \
  "$mf" "$(echo "$n/$mf/1000000" | bc -l)" "$(echo "$ms/$mf" | bc -l)" "$mr"
printf '  fxpipe import --keep-ticks           %6.2f s %6.2f M ticks/s  %5.1fx sqlite3\n' \
  "$mk" "$(echo "$n/$mk/1000000" | bc -l)" "$(echo "$ms/$mk" | bc -l)"
printf '  sqlite3 .import + GROUP BY (1m only) %6.2f s %6.2f M ticks/s\n' \
  "$ms" "$(echo "$n/$ms/1000000" | bc -l)"
