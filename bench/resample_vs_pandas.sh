#!/usr/bin/env bash
# fxpipe resample vs pandas on the same 10M-tick CSV, same run, medians.
# usage: bench/resample_vs_pandas.sh BUILD_DIR [N_TICKS] [RUNS]
set -euo pipefail
build=${1:-build}; n=${2:-10000000}; runs=${3:-3}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$build/bench/bench_gen" "$n" > "$tmp/ticks.csv"
size=$(stat -c %s "$tmp/ticks.csv")
median() { sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
fx_utc=(); fx_ny=(); pd=()
for _ in $(seq "$runs"); do
  fx_utc+=("$(t "$build/fxpipe" resample --session utc --holidays none "$tmp/ticks.csv")")
  fx_ny+=("$(t "$build/fxpipe" resample "$tmp/ticks.csv")")
  pd+=("$(t /usr/bin/python3 "$(dirname "$0")/pandas_resample.py" "$tmp/ticks.csv")")
done
mu=$(printf '%s\n' "${fx_utc[@]}" | median)
mn=$(printf '%s\n' "${fx_ny[@]}" | median)
mp=$(printf '%s\n' "${pd[@]}" | median)
printf 'resample: %d ticks (%d MB CSV), 8 timeframes, median of %d runs\n' "$n" $((size/1000000)) "$runs"
printf '  fxpipe resample (utc)       %6.2f s  %6.1f M ticks/s  %5.1fx pandas\n' "$mu" "$(echo "$n/$mu/1000000" | bc -l)" "$(echo "$mp/$mu" | bc -l)"
printf '  fxpipe resample (ny-close)  %6.2f s  %6.1f M ticks/s  %5.1fx pandas\n' "$mn" "$(echo "$n/$mn/1000000" | bc -l)" "$(echo "$mp/$mn" | bc -l)"
printf '  pandas read_csv+resample    %6.2f s  %6.1f M ticks/s\n' "$mp" "$(echo "$n/$mp/1000000" | bc -l)"
