#!/usr/bin/env bash
# servers: nats clickhouse postgres
# Nothing lost, nothing doubled across the distributed chain while things
# fail. A tick file is replayed at a pace (about 20 s) through ingest ->
# NATS -> aggregate -> NATS -> bridge -> ClickHouse + PostgreSQL + SQLite,
# and meanwhile: the bridge is killed with -9 and restarted, ClickHouse is
# stopped and started, the aggregate is killed with -9 and restarted,
# nats-server is stopped and started, PostgreSQL is stopped and started,
# and ingest gets SIGTERM and is started again. At the end every store's
# exports must equal `fxpipe run`'s byte for byte, and the counts seen by
# clickhouse-client (FINAL) and psql must equal the reference's.
# usage: test_chain_faults.sh FXPIPE   (run by with_servers.sh)
set -uo pipefail
fx=${1:?usage: test_chain_faults.sh FXPIPE}
here=$(cd "$(dirname "$0")" && pwd)
srv=$here/../../scripts/servers.sh
. "$here/chain_lib.sh"

chain_setup 5
bus=$FXP_NATS_URL
prefix=faults$$
stores=("$FXP_CH_URL" "$FXP_PG_URL" "sqlite:$tmp/chain.db")
ingest() {
  "$fx" ingest --bus "$bus" --bus-prefix "$prefix" --journal "$tmp/ing.journal" \
    --feed replay:"$tmp/ticks.csv" --speed 20000 2>>"$tmp/ingest.log" &
  ing_pid=$!
}
kill9() { kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

start_aggregate "$bus" "$prefix"
start_bridge "$bus" "$prefix" bridge1 "${stores[@]}"
ingest
sleep 2

kill9 "$bridge_pid"; start_bridge "$bus" "$prefix" bridge1 "${stores[@]}"
echo "# bridge killed -9 and restarted"
sleep 1
"$srv" stop "$FXP_SERVERS_DIR" clickhouse; sleep 3
"$srv" start "$FXP_SERVERS_DIR" clickhouse >/dev/null
echo "# clickhouse stopped for 3 s"
sleep 1
kill9 "$agg_pid"; start_aggregate "$bus" "$prefix"
echo "# aggregate killed -9 and restarted"
sleep 1
"$srv" stop "$FXP_SERVERS_DIR" nats; sleep 3
"$srv" start "$FXP_SERVERS_DIR" nats >/dev/null
echo "# nats-server stopped for 3 s"
sleep 1
"$srv" stop "$FXP_SERVERS_DIR" postgres; sleep 3
"$srv" start "$FXP_SERVERS_DIR" postgres >/dev/null
echo "# postgres stopped for 3 s"
kill -TERM "$ing_pid"; wait "$ing_pid"; rc=$?
[ "$rc" -eq 0 ] && ok "ingest stopped cleanly on SIGTERM mid-stream" || fail "ingest exited $rc on SIGTERM"
ingest
wait "$ing_pid"; rc=$?
[ "$rc" -eq 0 ] && ok "ingest restarted and finished the file" || fail "ingest exited $rc"

# Stop the aggregate cleanly (its open bars are published) and let it run
# once more until idle, completing them from its journal.
kill -TERM "$agg_pid"; wait "$agg_pid"; rc=$?
[ "$rc" -eq 0 ] && ok "aggregate stopped cleanly on SIGTERM" || fail "aggregate exited $rc on SIGTERM"
pids=("$bridge_pid")
start_aggregate "$bus" "$prefix" --idle-exit 5
wait "$agg_pid"; rc=$?
[ "$rc" -eq 0 ] && ok "aggregate restarted and stopped when idle" || fail "aggregate exited $rc"
pids=("$bridge_pid")
wait_like_ref "$tmp/chain.db" 180
stop_all

for url in "${stores[@]}"; do
  compare_store "$url"
done
check_counts_ch_pg
grep -h "replayed\|breaker\|retry\|waiting" "$tmp"/*.log | sort | uniq -c | sort -rn | head -8 | sed 's/^/# /'
finish
