#!/usr/bin/env bash
# servers: nats clickhouse postgres
# The distributed chain on real servers: fxpipe ingest -> NATS JetStream ->
# fxpipe aggregate -> NATS JetStream -> fxpipe bridge -> ClickHouse,
# PostgreSQL and SQLite, on a replayed tick file, must give exactly the bars
# `fxpipe run` gives on SQLite: the exports of every symbol and timeframe
# are compared byte for byte, and the row counts are checked with the
# servers' own clients (clickhouse-client with FINAL, psql).
# usage: test_chain_nats.sh FXPIPE   (run by with_servers.sh)
set -uo pipefail
fx=${1:?usage: test_chain_nats.sh FXPIPE}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/chain_lib.sh"

chain_setup 5
bus=$FXP_NATS_URL
prefix=chain$$

# Start the consumers first, then feed.
start_aggregate "$bus" "$prefix" --idle-exit 3
start_bridge "$bus" "$prefix" bridge1 "$FXP_CH_URL" "$FXP_PG_URL" "sqlite:$tmp/chain.db"
"$fx" ingest --bus "$bus" --bus-prefix "$prefix" --journal "$tmp/ing.journal" \
  --feed replay:"$tmp/ticks.csv" --speed max 2>"$tmp/ingest.log" \
  || fail "ingest exited $? ($(tail -3 "$tmp/ingest.log"))"
ok "ingest published the file and exited 0"

# The aggregate publishes its open bars when it stops (after 3 s without
# input); then the bridge stores them and goes quiet.
wait "$agg_pid"; rc=$?
[ "$rc" -eq 0 ] && ok "aggregate stopped when idle" || fail "aggregate exited $rc"
pids=("$bridge_pid")
wait_quiet "$tmp/chain.db"
curl -s "$FXP_NATS_MON/jsz?streams=true" | /usr/bin/python3 -c '
import json,sys; d=json.load(sys.stdin); p=sys.argv[1].upper()
for a in d.get("account_details",[]):
  for s in a.get("stream_detail",[]):
    if s["name"].startswith(p + "_"):
      print("# stream", s["name"], s["state"]["messages"], "messages")' "$prefix"
stop_all

for url in "sqlite:$tmp/chain.db" "$FXP_CH_URL" "$FXP_PG_URL"; do
  compare_store "$url"
done
check_counts_ch_pg
finish
