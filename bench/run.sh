#!/usr/bin/env bash
# All benchmarks, side by side with their peers; figures go to stdout.
# usage: bench/run.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
here=$(dirname "$0")
echo "== engine (in memory)"; "$build/bench/bench_engine" 10000000 5
echo "== resample vs pandas"; "$here/resample_vs_pandas.sh" "$build" 10000000 3
for b in "$build"/bench/bench_store; do
  [ -x "$b" ] && { echo "== store"; "$b"; }
done
echo "== import vs sqlite3"; "$here/import_vs_sqlite.sh" "$build" 10000000 3
echo "== fxpipe run on its default feed"
tmp=$(mktemp -d); (cd "$tmp" && "$OLDPWD/$build/fxpipe" run 2>&1 | grep -E 'read|RSS'); rm -rf "$tmp"
echo "== journal on vs off"; "$here/journal_cost.sh" "$build" 10000000 3
for b in "$build"/bench/bench_journal "$build"/bench/bench_gaps; do
  [ -x "$b" ] && { echo "== $(basename "$b")"; "$b"; }
done
echo "== gap detection in pandas (the peer of bench_gaps (a))"; /usr/bin/python3 "$here/gaps_pandas.py"
echo "== gap detection, 28 symbols x 8 timeframes x 10 years (builds ~12 GB once)"
"$build/bench/bench_gaps_wide" "${TMPDIR:-/tmp}/fxp_bench_gaps_wide.db" 28
