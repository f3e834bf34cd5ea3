#!/usr/bin/env bash
# The cost of the reliability layer: `fxpipe run` on a 10M-tick replay with
# the journal on (fsync every 100 ms) vs off, same file, same run, medians.
# usage: bench/journal_cost.sh BUILD_DIR [N_TICKS] [RUNS]
set -euo pipefail
build=${1:-build}; n=${2:-10000000}; runs=${3:-3}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$build/bench/bench_gen" "$n" > "$tmp/ticks.csv"
median() { sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
on=(); off=()
for i in $(seq "$runs"); do
  rm -rf "$tmp"/on.* "$tmp"/off.*
  on+=("$(t "$build/fxpipe" run --feed replay:"$tmp/ticks.csv" --db "$tmp/on.db")")
  off+=("$(FXPIPE_JOURNAL_ENABLED=false t "$build/fxpipe" run --feed replay:"$tmp/ticks.csv" --db "$tmp/off.db")")
done
mon=$(printf '%s\n' "${on[@]}" | median)
moff=$(printf '%s\n' "${off[@]}" | median)
# Recovery: the journal of the last run replayed into bars by a restart
# whose database is gone (everything is replayed, nothing read from the
# source again).
rep=()
for i in $(seq "$runs"); do
  rm -f "$tmp"/on.db*
  rep+=("$(t "$build/fxpipe" run --feed replay:"$tmp/ticks.csv" --db "$tmp/on.db")")
done
mrep=$(printf '%s\n' "${rep[@]}" | median)
jbytes=$(du -sb "$tmp/on.journal" | cut -f1)
printf 'journal cost: fxpipe run on a %d-tick replay, median of %d runs\n' "$n" "$runs"
printf '  journal on (fsync every 100 ms)  %6.2f s  %6.2f M ticks/s\n' "$mon" "$(echo "$n/$mon/1000000" | bc -l)"
printf '  journal off                      %6.2f s  %6.2f M ticks/s\n' "$moff" "$(echo "$n/$moff/1000000" | bc -l)"
printf '  ratio on/off                     %6.2f\n' "$(echo "$mon/$moff" | bc -l)"
printf '  recovery: %d MB journal replayed into bars in %.2f s (%.2f M ticks/s)\n' \
  $((jbytes / 1000000)) "$mrep" "$(echo "$n/$mrep/1000000" | bc -l)"
