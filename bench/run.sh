#!/usr/bin/env bash
# All benchmarks, side by side with their peers; figures go to stdout.
# usage: bench/run.sh BUILD_DIR
#        bench/run.sh BUILD_DIR --distributed   only the distributed mode:
#          network stores vs raw clients (bench_store_net) and the service
#          chain (bench/chain.sh), on servers started by scripts/servers.sh
set -euo pipefail
build=${1:-build}
here=$(dirname "$0")
if [ "${2:-}" = --distributed ]; then
  srv=$(mktemp -d "${TMPDIR:-/tmp}/fxp_bench_srv.XXXXXX"); chmod 755 "$srv"
  trap '"$here/../scripts/servers.sh" stop "$srv" >/dev/null 2>&1; rm -rf "$srv"' EXIT
  "$here/../scripts/servers.sh" start "$srv" clickhouse postgres >/dev/null
  (
    set -a; . "$srv/env"; set +a
    for batch in 10000 100000; do
      echo "== network stores vs raw clients, batches of $batch"
      "$build/bench/bench_store_net" 1000000 5 "$batch"
    done
  )
  "$here/../scripts/servers.sh" stop "$srv" >/dev/null
  echo "== the service chain: end to end, latency, a burst with a slow store"
  "$here/chain.sh" "$build"
  exit 0
fi
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
