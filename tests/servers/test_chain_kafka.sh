#!/usr/bin/env bash
# servers: clickhouse postgres
# The distributed chain over Kafka (librdkafka's mock cluster: real Kafka
# protocol on loopback ports, hosted by tests/tools/kafka_mock): fxpipe
# ingest -> Kafka -> aggregate -> Kafka -> TWO bridges in one consumer
# group -> ClickHouse and PostgreSQL, on a replayed tick file. Every
# store's exports must equal `fxpipe run`'s byte for byte; the bridges must
# both have taken part (the group split the partitions between them).
# usage: test_chain_kafka.sh FXPIPE   (run by with_servers.sh)
set -uo pipefail
fx=${1:?usage: test_chain_kafka.sh FXPIPE}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/chain_lib.sh"
mock=${FXP_KAFKA_MOCK:-${FXP_BUILD_DIR:-}/tests/kafka_mock}
[ -x "$mock" ] || { echo "FAIL - no kafka_mock program ($mock)"; exit 1; }

# Two days of quotes: the mock keeps only a few MB per partition.
chain_setup 2
"$mock" --brokers 3 --ready-file "$tmp/bootstrap" >"$tmp/mock.out" 2>"$tmp/mock.log" &
mock_pid=$!
pids+=("$mock_pid")
for _ in $(seq 100); do [ -s "$tmp/bootstrap" ] && break; sleep 0.1; done
[ -s "$tmp/bootstrap" ] || { echo "FAIL - the mock cluster did not start"; exit 1; }
bus="kafka://$(cat "$tmp/bootstrap")"
echo "# mock cluster at $bus"
prefix=kchain

start_aggregate "$bus" "$prefix" --idle-exit 8
start_bridge "$bus" "$prefix" bridges "$FXP_CH_URL" "$FXP_PG_URL"
b1=$bridge_pid; mv "$tmp/bridge.log" "$tmp/bridge1.log" 2>/dev/null
start_bridge "$bus" "$prefix" bridges "$FXP_CH_URL" "$FXP_PG_URL"
b2=$bridge_pid
"$fx" ingest --bus "$bus" --bus-prefix "$prefix" --journal "$tmp/ing.journal" \
  --feed replay:"$tmp/ticks.csv" --speed max 2>"$tmp/ingest.log" \
  || fail "ingest exited $? ($(tail -3 "$tmp/ingest.log"))"
ok "ingest published the file over Kafka and exited 0"
wait "$agg_pid"; rc=$?
[ "$rc" -eq 0 ] && ok "aggregate stopped when idle" || fail "aggregate exited $rc"

# Wait until PostgreSQL holds the reference (count and sum of versions).
want=$(sqlite3 "$tmp/ref.db" "select count(*) || ',' || sum(version) from bars")
for _ in $(seq 240); do
  got=$(psql "$FXP_PG_URL" -tAc "select count(*) || ',' || sum(version) from bars" 2>/dev/null)
  [ "$got" = "$want" ] && break
  sleep 0.5
done
echo "# postgres holds $got (reference $want)"
pids=("$b1" "$b2")
stop_all
kill -TERM "$mock_pid"; wait "$mock_pid"

for url in "$FXP_CH_URL" "$FXP_PG_URL"; do
  compare_store "$url"
done
check_counts_ch_pg
n1=$(grep -o "^bridge: [0-9]* messages" "$tmp/bridge1.log" | tail -1 | awk '{print $2}')
n2=$(grep -o "^bridge: [0-9]* messages" "$tmp/bridge.log" | tail -1 | awk '{print $2}')
echo "# bridge 1 stored $n1 messages, bridge 2 $n2"
[ "${n1:-0}" -gt 0 ] && [ "${n2:-0}" -gt 0 ] && ok "both bridges of the group took part" \
  || fail "one bridge got nothing ($n1 / $n2): the group did not split the partitions"
finish
