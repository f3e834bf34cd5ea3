# chain_lib.sh - what the distributed-chain tests share (sourced): a tick
# file and the reference bars of `fxpipe run`, starting and stopping the
# services by PID, waiting for the chain to go quiet, and comparing a
# store's exports with the reference. Expects $fx and $here.

fails=0
pids=()
ok() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
finish() {
  [ "$fails" -eq 0 ] || { echo "# $fails failed"; for f in "$tmp"/*.log; do echo "## $f"; tail -5 "$f"; done; exit 1; }
  echo "# all passed"; exit 0
}
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}

SYMS="EURUSD USDJPY XAUUSD"
TFS="1m 5m 15m 30m 1h 4h 1d 1w"

# chain_setup DAYS: the tick file and the reference exports.
chain_setup() {
  tmp=$(mktemp -d)
  trap cleanup EXIT
  /usr/bin/python3 "$here/../tools/gen_ticks.py" "$tmp/ticks.csv" --days "$1" --seed 11
  echo "# $(($(wc -l <"$tmp/ticks.csv") - 1)) ticks"
  "$fx" run --feed replay:"$tmp/ticks.csv" --db "$tmp/ref.db" 2>"$tmp/ref.log" \
    || { echo "FAIL - reference run"; exit 1; }
  export_all "sqlite:$tmp/ref.db" "$tmp/ref"
  ref_rows=$(sqlite3 "$tmp/ref.db" "select count(*) from bars")
  echo "# reference: $ref_rows bars"
}

export_all() { # url dir
  mkdir -p "$2"
  for s in $SYMS; do
    for tf in $TFS; do
      "$fx" export --store "$1" --symbol "$s" --timeframe "$tf" -o "$2/$s.$tf.csv" 2>>"$tmp/export.log"
    done
  done
}

start_aggregate() { # bus prefix [extra args]
  local bus=$1 prefix=$2; shift 2
  "$fx" aggregate --bus "$bus" --bus-prefix "$prefix" --journal "$tmp/agg.journal" \
    "$@" 2>>"$tmp/aggregate.log" &
  agg_pid=$!
  pids+=("$agg_pid")
}

start_bridge() { # bus prefix group store...
  local bus=$1 prefix=$2 group=$3; shift 3
  local args=()
  for s in "$@"; do args+=(--store "$s"); done
  "$fx" bridge --bus "$bus" --prefix "$prefix" --group "$group" --dlq none \
    "${args[@]}" 2>>"$tmp/bridge.log" &
  bridge_pid=$!
  pids+=("$bridge_pid")
}

# wait_like_ref DB [SECONDS]: until the SQLite store holds as many bars
# with the same sum of versions as the reference (every bar final), at most
# SECONDS (180).
wait_like_ref() {
  local want got
  want=$(sqlite3 "$tmp/ref.db" "select count(*) || ',' || sum(version) from bars")
  for _ in $(seq $((${2:-180} * 2))); do
    got=$(sqlite3 "$1" "select count(*) || ',' || sum(version) from bars" 2>/dev/null)
    [ "$got" = "$want" ] && { echo "# the chain holds the reference's $want (bars,sum of versions)"; return 0; }
    sleep 0.5
  done
  echo "# gave up waiting: $got, reference $want"
}

# wait_quiet DB: until the SQLite store's bar count has not changed for 3 s
# (at most 120 s).
wait_quiet() {
  local last=-1 same=0 n
  for _ in $(seq 240); do
    n=$(sqlite3 "$1" "select count(*) from bars" 2>/dev/null || echo 0)
    if [ "$n" = "$last" ] && [ "$n" != 0 ]; then
      same=$((same + 1)); [ $same -ge 6 ] && break
    else
      same=0; last=$n
    fi
    sleep 0.5
  done
  echo "# chain quiet at $last bars in SQLite"
}

# stop_all: SIGTERM every service, each must exit 0 within 10 s.
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    local t0=$SECONDS
    wait "$p"; local rc=$?
    [ "$rc" -eq 0 ] && ok "service $p stopped cleanly on SIGTERM" \
      || fail "service $p exited $rc on SIGTERM"
    [ $((SECONDS - t0)) -le 10 ] || fail "service $p took $((SECONDS - t0)) s to stop"
  done
  pids=()
}

compare_store() { # url
  local d; d="$tmp/out.$(echo "$1" | tr -c 'a-z0-9' '_')"
  export_all "$1" "$d"
  if diff -r -q "$tmp/ref" "$d" >/dev/null; then
    ok "$1: every export equals fxpipe run's ($(cat "$d"/*.csv | wc -l) lines)"
  else
    fail "$1: exports differ from fxpipe run's: $(diff -r -q "$tmp/ref" "$d" | head -3 | tr '\n' ' ')"
  fi
}

check_counts_ch_pg() {
  local ch pg
  ch=$(clickhouse-client --port "$FXP_CH_TCP" -q "SELECT count() FROM bars FINAL" 2>&1)
  [ "$ch" = "$ref_rows" ] && ok "clickhouse-client: $ch bars with FINAL" \
    || fail "clickhouse-client counts $ch bars with FINAL, expected $ref_rows"
  pg=$(psql "$FXP_PG_URL" -tAc "SELECT count(*) FROM bars" 2>&1)
  [ "$pg" = "$ref_rows" ] && ok "psql: $pg bars" || fail "psql counts $pg bars, expected $ref_rows"
}
