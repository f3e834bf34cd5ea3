#!/usr/bin/env bash
# The distributed chain on real servers, measured: fxpipe ingest -> bus ->
# fxpipe aggregate -> bus -> fxpipe bridge -> store. Not part of `make test`.
#
#   bench/chain.sh BUILD_DIR [e2e] [kafka] [latency] [burst]   (default: all)
#
#   e2e      ticks/s from ingest start until ClickHouse holds the bars,
#            through NATS JetStream, one bridge, CHAIN_RUNS runs (3), median
#   kafka    the same through Kafka (librdkafka's mock cluster hosted by
#            tests/tools/kafka_mock.c, KAFKA_BROKERS="1 3" brokers)
#   latency  tick -> 1m bar stored, p50/p99/max: 30 symbols at ~20 ticks/s
#            each replayed in real time (--speed 1) into an SQLite store
#            whose triggers timestamp every stored row; a tick's wall time
#            comes from the pacing origin, bounded by the ticks stream's
#            own message times (read back with $JS.API.STREAM.MSG.GET)
#   burst    RSS of each service for a >= 50k ticks/s burst while the bridge
#            writes to a PostgreSQL store slowed by a pg_sleep trigger
#
# It starts its own nats-server, clickhouse-server and PostgreSQL with
# scripts/servers.sh in a temporary directory and stops them (by PID,
# through that script) at the end. Knobs (environment): CHAIN_DAYS (1.1:
# ~9.1M ticks of 6 symbols), CHAIN_RUNS (3), KAFKA_BROKERS ("1 3"),
# LAT_SECONDS (240), BURST_TICKS (3300000), BURST_SPEED (550),
# BURST_SLEEP_MS (25), CHAIN_AGG_ENV (e.g. FXPIPE_PIPELINE_BATCH_SIZE=32768:
# configuration for the end-to-end runs' aggregate only), CHAIN_KEEP=1 keeps
# the directory (with every service's log). Figures go to stdout.
set -uo pipefail
build=${1:?usage: bench/chain.sh BUILD_DIR [e2e] [kafka] [latency] [burst]}
shift
build=$(cd "$build" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
fx=$build/fxpipe
py=/usr/bin/python3
parts=("$@")
((${#parts[@]})) || parts=(e2e kafka latency burst)

CHAIN_DAYS=${CHAIN_DAYS:-1.1}
CHAIN_RUNS=${CHAIN_RUNS:-3}
KAFKA_BROKERS=${KAFKA_BROKERS:-1 3}
LAT_SECONDS=${LAT_SECONDS:-240}
BURST_TICKS=${BURST_TICKS:-3300000}
BURST_SPEED=${BURST_SPEED:-550}
BURST_SLEEP_MS=${BURST_SLEEP_MS:-25}
CHAIN_AGG_ENV=${CHAIN_AGG_ENV:-} # e2e/kafka: VAR=VALUE.. for the aggregate only
SYMS=EURUSD,USDJPY,XAUUSD,GBPUSD,AUDUSD,USDCHF
# 30 symbols for the latency run: more 1m bars per minute of feed.
LAT_SYMS=$SYMS,USDCAD,NZDUSD,EURGBP,EURJPY,EURCHF,EURAUD,EURCAD,EURNZD,GBPJPY,GBPCHF,GBPAUD,GBPCAD,GBPNZD,AUDJPY,AUDCHF,AUDCAD,AUDNZD,CADJPY,CADCHF,CHFJPY,NZDJPY,NZDCHF,NZDCAD,XAGUSD

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fxp_chain.XXXXXX")
chmod 755 "$tmp" # PostgreSQL runs as its own user
srv=$tmp/srv
tpids=()   # /usr/bin/time wrappers of the services still running
spids=()   # the services themselves
km_pid=""

cleanup() {
  local p
  for p in "${spids[@]}" "${tpids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [ -n "$km_pid" ] && kill -TERM "$km_pid" 2>/dev/null && wait "$km_pid" 2>/dev/null
  "$root/scripts/servers.sh" stop "$srv" >/dev/null 2>&1
  if [ "${CHAIN_KEEP:-0}" = 1 ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "chain.sh: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { if (t + 0 > 0) printf "%.0f", n / (t / 1000); else print "-" }'; } # N MS
ms2s() { awk -v m="$1" 'BEGIN { printf "%.2f", m / 1000 }'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END {
  if (!NR) { print "-"; exit } print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# start_svc NAME LOG CMD...: run CMD under /usr/bin/time -v (its peak RSS),
# stderr to LOG; sets pid_NAME (the service) and tpid_NAME (the wrapper).
start_svc() {
  local name=$1 log=$2; shift 2
  /usr/bin/time -v -o "$log.time" "$@" 2>"$log" &
  local tp=$! p=""
  for _ in $(seq 200); do
    p=$(pgrep -P "$tp" | head -1)
    [ -n "$p" ] && break
    kill -0 "$tp" 2>/dev/null || break
    sleep 0.01
  done
  tpids+=("$tp")
  [ -n "$p" ] && spids+=("$p")
  printf -v "pid_$name" '%s' "$p"
  printf -v "tpid_$name" '%s' "$tp"
}

# stop_svc NAME [SIGNAL]: signal the service (unless it ended), wait for it.
stop_svc() {
  local p t
  p=$(eval echo "\${pid_$1:-}"); t=$(eval echo "\${tpid_$1:-}")
  [ -n "$p" ] && [ "${2:-}" != none ] && kill -"${2:-TERM}" "$p" 2>/dev/null
  [ -n "$t" ] && wait "$t" 2>/dev/null
  local keep=() x
  for x in "${tpids[@]}"; do [ "$x" != "$t" ] && keep+=("$x"); done
  tpids=("${keep[@]}")
  keep=()
  for x in "${spids[@]}"; do [ "$x" != "$p" ] && keep+=("$x"); done
  spids=("${keep[@]}")
}

alive() { local t; t=$(eval echo "\${tpid_$1:-}"); [ -n "$t" ] && kill -0 "$t" 2>/dev/null; }
cpu_s() { awk -F': ' '/User time|System time/ { t += $2 } END { printf "%.1f", t }' "$1.time" 2>/dev/null; }
# CPU seconds a running process used so far (utime + stime).
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }
peak_mb() { awk -F': ' '/Maximum resident/ { printf "%.1f", $2 / 1024 }' "$1.time" 2>/dev/null; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# metric TEXT NAME: the value of a Prometheus line NAME[{...}] VALUE.
metric() { awk -v n="$2" '$1 == n || index($1, n "{") == 1 { v = $2 } END { printf "%d", v + 0 }' <<<"$1"; }

# ref_numbers DB: "count,sum" of all bars and of the bars closed by the
# data (all but the last of each series: those are open when the feed
# ends and come with the aggregate's flush when it stops).
ref_numbers() {
  want_all=$(sqlite3 "$1" "select count(*) || ',' || sum(version) from bars")
  want_closed=$(sqlite3 "$1" "select count(*) || ',' || sum(version) from bars b
    where ts < (select max(ts) from bars c where c.symbol = b.symbol and c.timeframe = b.timeframe)")
}

reference() { # ticks.csv db
  "$fx" run --feed replay:"$1" --db "$2" >"$2.log" 2>&1 || die "reference run failed: $(tail -3 "$2.log")"
}

gen_ticks() { "$py" "$root/tests/tools/gen_ticks.py" "$@" || die "gen_ticks.py failed"; }

start_servers() {
  "$root/scripts/servers.sh" start "$srv" "$@" >/dev/null || die "servers did not start"
  set -a; . "$srv/env"; set +a
}

# nats_delete_streams URL STREAM...: delete JetStream streams (their files
# would otherwise pile up from run to run), over the NATS protocol.
nats_delete_streams() {
  $py - "$@" <<'PY'
import socket, sys
host, port = sys.argv[1].split("://", 1)[1].split(",")[0].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
f = s.makefile("rb")
f.readline()
s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB _INBOX.fxbdel 1\r\n')
for name in sys.argv[2:]:
    s.sendall(b"PUB $JS.API.STREAM.DELETE.%s _INBOX.fxbdel 0\r\n\r\n" % name.encode())
    while not f.readline().startswith(b"MSG"):
        pass
    f.readline()
s.close()
PY
}
urlq() { $py -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }

# ---- end to end: ingest -> bus -> aggregate -> bus -> bridge -> ClickHouse

e2e_data() {
  [ -f "$tmp/e2e.csv" ] && return
  echo "# generating the tick file (gen_ticks.py --days $CHAIN_DAYS --min-gap 20 --max-gap 100, 6 symbols)"
  gen_ticks "$tmp/e2e.csv" --days "$CHAIN_DAYS" --seed 3 --min-gap 20 --max-gap 100 --symbols "$SYMS"
  e2e_n=$(($(wc -l <"$tmp/e2e.csv") - 1))
  local t0; t0=$(now_ms)
  reference "$tmp/e2e.csv" "$tmp/e2e_ref.db"
  local t1; t1=$(now_ms)
  ref_numbers "$tmp/e2e_ref.db"
  e2e_want_all=$want_all; e2e_want_closed=$want_closed
  echo "# $e2e_n ticks; reference (fxpipe run on SQLite, $(ms2s $((t1 - t0))) s): bars,sum(version) $want_all; closed by the data $want_closed"
}

# e2e_run BUS_URL LABEL RUN: prints one line of figures, appends to $tmp/e2e.LABEL
e2e_run() {
  local bus=$1 label=$2 r=$3
  local run=$tmp/$label.$r prefix=b${label}$r db=e2e_${label}_$r
  mkdir -p "$run"
  # Every run on servers in the same state: restarted (same ports), the
  # previous run's writeback out of the way.
  local fresh=(clickhouse); [ "${bus#nats://}" != "$bus" ] && fresh+=(nats)
  "$root/scripts/servers.sh" restart "$srv" "${fresh[@]}" >/dev/null || die "cannot restart ${fresh[*]}"
  sync; sleep 3
  local ip ap bp; ip=$(free_port); ap=$(free_port); bp=$(free_port)
  local ch_url=${FXP_CH_URL%/*}/$db
  local chq; chq="$FXP_CH_HTTP/?query=$(urlq "SELECT toString(count()) || ',' || toString(sum(version)) FROM $db.bars FINAL")"

  start_svc agg "$run/aggregate.log" env $CHAIN_AGG_ENV "$fx" aggregate --bus "$bus" --bus-prefix "$prefix" \
    --journal "$run/agg.journal" --health "127.0.0.1:$ap"
  start_svc bridge "$run/bridge.log" "$fx" bridge --bus "$bus" --prefix "$prefix" --group bridge \
    --dlq none --store "$ch_url" --health "127.0.0.1:$bp"
  # Both consumers joined (the bridge created the ClickHouse tables), then
  # a moment for a Kafka group to settle.
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$bp/readyz" >/dev/null 2>&1 && curl -sf "http://127.0.0.1:$ap/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  sleep 2

  local t0 t_ing="" t_agg="" t_closed="" t_all="" t now got m n_agg=0
  local last_seen="" t_seen=0
  local bus_pid=${km_pid:-$(cat "$srv/nats/pid")} ch_pid; ch_pid=$(cat "$srv/clickhouse/pid")
  local bus_cpu0 ch_cpu0; bus_cpu0=$(proc_cpu "$bus_pid"); ch_cpu0=$(proc_cpu "$ch_pid")
  t0=$(now_ms)
  start_svc ing "$run/ingest.log" "$fx" ingest --bus "$bus" --bus-prefix "$prefix" \
    --journal "$run/ing.journal" --feed replay:"$tmp/e2e.csv" --speed max --health "127.0.0.1:$ip"
  : >"$run/timeline"
  while :; do
    sleep 0.25
    now=$(now_ms); t=$((now - t0))
    m=$(curl -s --max-time 2 "http://127.0.0.1:$ap/metrics" "$chq" 2>/dev/null)
    got=$(grep -E '^[0-9]+,[0-9]+$' <<<"$m" | tail -1)
    n_agg=$(metric "$m" fxpipe_aggregate_ticks)
    echo "$t $n_agg $got $(rss_kb "$pid_ing") $(rss_kb "$pid_agg") $(rss_kb "$pid_bridge")" >>"$run/timeline"
    [ -z "$t_ing" ] && ! alive ing && t_ing=$t
    [ -z "$t_agg" ] && [ "$n_agg" -ge "$e2e_n" ] && t_agg=$t
    # Every bar the data closes is stored: stop the aggregate, which
    # publishes the bars still open (the last of each series).
    [ -z "$t_closed" ] && [ "$got" = "$e2e_want_closed" ] && { t_closed=$t; kill -TERM "$pid_agg"; }
    # (the aggregate's metrics lag by up to 200 ms: every closed bar
    # stored means it has read every tick)
    [ -n "$t_closed" ] && [ -z "$t_agg" ] && t_agg=$t_closed
    [ "$got" = "$e2e_want_all" ] && { t_all=$t; break; }
    [ "$n_agg $got" != "$last_seen" ] && { last_seen="$n_agg $got"; t_seen=$t; }
    ((t - t_seen > 60000)) && { echo "# run $r: no progress for 60 s: aggregate read $n_agg ticks, ClickHouse holds $got, want $e2e_want_closed then $e2e_want_all"; break; }
  done
  local bus_cpu ch_cpu
  bus_cpu=$(awk -v a="$bus_cpu0" -v b="$(proc_cpu "$bus_pid")" 'BEGIN { printf "%.1f", b - a }')
  ch_cpu=$(awk -v a="$ch_cpu0" -v b="$(proc_cpu "$ch_pid")" 'BEGIN { printf "%.1f", b - a }')
  stop_svc ing none
  stop_svc agg TERM
  local hwm_b; hwm_b=$(hwm_kb "$pid_bridge")
  stop_svc bridge TERM
  local fin; fin=$(clickhouse-client --port "$FXP_CH_TCP" -q "SELECT toString(count()) || ',' || toString(sum(version)) FROM $db.bars FINAL" 2>&1)

  # Each service's own figures, from its summary lines.
  local is as bs
  is=$(grep -E '^ingest: [0-9]+ read' "$run/ingest.log" | sed -E 's/.* in ([0-9.]+) s$/\1/')
  as=$(grep -E '^aggregate: [0-9]+ ticks and' "$run/aggregate.log" | sed -E 's/.* in ([0-9.]+) s .*/\1/')
  bs=$(grep -E '^bridge: [0-9]+ messages' "$run/bridge.log" | sed -E 's/.*, ([0-9.]+) s.*/\1/')
  local apause; apause=$(grep -E '^aggregate: peak RSS' "$run/aggregate.log" | sed -E 's/.*paused [0-9]+ times, ([0-9.]+) s.*/\1/')
  local atx; atx=$(grep -E '^aggregate: peak RSS' "$run/aggregate.log" | sed -E 's/.* ([0-9]+) store transactions/\1/')
  local bmsg; bmsg=$(grep -E '^bridge: [0-9]+ messages' "$run/bridge.log" | sed -E 's/^bridge: ([0-9]+) messages.*/\1/')
  local imsg; imsg=$(grep -E '^ingest: [0-9]+ read' "$run/ingest.log" | sed -E 's/.*published \(([0-9]+) messages.*/\1/')
  local rate_e2e rate_all rate_i rate_a
  rate_e2e=$(rate "$e2e_n" "$t_closed"); rate_all=$(rate "$e2e_n" "$t_all")
  rate_i=$(rate "$e2e_n" "$(awk -v s="$is" 'BEGIN { print s * 1000 }')"); rate_a=$(rate "$e2e_n" "$t_agg")
  [ "$fin" = "$e2e_want_all" ] && fin="= reference" || fin="$fin, reference $e2e_want_all: DIFFERENT"
  printf '  run %d: ingest done %6s s, aggregate has read every tick %6s s, ClickHouse holds every closed bar %6s s -> %8s ticks/s; with the flush on SIGTERM %6s s -> %8s ticks/s; ClickHouse %s\n' \
    "$r" "$(ms2s "$t_ing")" "$(ms2s "$t_agg")" "$(ms2s "$t_closed")" "$rate_e2e" "$(ms2s "$t_all")" "$rate_all" "$fin"
  printf '         ingest: %s ticks in %s s (%s ticks/s, %s messages), peak RSS %s MB | aggregate: summary %s s incl. waiting, paused %s s for room, %s publishes, peak RSS %s MB | bridge: %s messages in %s s incl. waiting, peak RSS %s MB (VmHWM %s MB)\n' \
    "$e2e_n" "$is" "$rate_i" "$imsg" "$(peak_mb "$run/ingest.log")" "$as" "$apause" "$atx" "$(peak_mb "$run/aggregate.log")" \
    "$bmsg" "$bs" "$(peak_mb "$run/bridge.log")" "$(awk -v k="$hwm_b" 'BEGIN { printf "%.1f", k / 1024 }')"
  local ci ca cb
  ci=$(cpu_s "$run/ingest.log"); ca=$(cpu_s "$run/aggregate.log"); cb=$(cpu_s "$run/bridge.log")
  printf '         CPU seconds: ingest %s, aggregate %s, bridge %s, %s %s, clickhouse-server %s; %.1f in all over %s s = %.2f of the 2 cores\n' \
    "$ci" "$ca" "$cb" "$([ -n "$km_pid" ] && echo kafka_mock || echo nats-server)" "$bus_cpu" "$ch_cpu" \
    "$(awk -v a="$ci" -v b="$ca" -v c="$cb" -v d="$bus_cpu" -v e="$ch_cpu" 'BEGIN { print a + b + c + d + e }')" "$(ms2s "$t_all")" \
    "$(awk -v a="$ci" -v b="$ca" -v c="$cb" -v d="$bus_cpu" -v e="$ch_cpu" -v t="$t_all" 'BEGIN { print t ? (a + b + c + d + e) / (t / 1000) : 0 }')"
  if [ "$fin" != "= reference" ] || [ -z "$t_all" ]; then
    echo "$r" >>"$tmp/e2e.$label.failed"
    cp -r "$run" "$tmp/failed.$label.$r" 2>/dev/null
    return
  fi
  echo "$rate_e2e $rate_all $(ms2s "$t_ing") $(ms2s "$t_agg") $(ms2s "$t_closed") $(ms2s "$t_all") $rate_i $rate_a $(peak_mb "$run/ingest.log") $(peak_mb "$run/aggregate.log") $(peak_mb "$run/bridge.log") $ci $ca $cb $bus_cpu $ch_cpu" >>"$tmp/e2e.$label"
  curl -s -o /dev/null --data-binary "DROP DATABASE IF EXISTS $db" "$FXP_CH_HTTP/"
  [ "${bus#nats://}" != "$bus" ] && nats_delete_streams "$bus" "${prefix^^}_TICKS" "${prefix^^}_BARS"
  rm -rf "$run/ing.journal" "$run/agg.journal" "$run/agg.journal.state"
}

e2e_summary() { # LABEL TITLE
  local f=$tmp/e2e.$1 col
  [ -s "$tmp/e2e.$1.failed" ] && echo "$2: $(wc -l <"$tmp/e2e.$1.failed") run(s) did not complete (left out below; logs kept in $tmp/failed.$1.*, CHAIN_KEEP=1 keeps them)"
  [ -s "$f" ] || return
  echo "$2: medians of $(wc -l <"$f") runs"
  med() { awk -v c="$1" '{ print $c }' "$f" | median; }
  printf '  end to end, ingest start -> every closed bar in ClickHouse: %s s, %.0f ticks/s (until the bars still open are stored, after a SIGTERM to the aggregate at that moment: %s s, %.0f ticks/s)\n' \
    "$(med 5)" "$(med 1)" "$(med 6)" "$(med 2)"
  printf '  ingest done at %s s (own summary: %.0f ticks/s); aggregate had read every tick at %s s (%.0f ticks/s)\n' \
    "$(med 3)" "$(med 7)" "$(med 4)" "$(med 8)"
  printf '  peak RSS: ingest %s MB, aggregate %s MB, bridge %s MB\n' "$(med 9)" "$(med 10)" "$(med 11)"
  printf '  CPU seconds: ingest %s, aggregate %s, bridge %s, bus server %s, clickhouse-server %s\n' "$(med 12)" "$(med 13)" "$(med 14)" "$(med 15)" "$(med 16)"
}

part_e2e() {
  echo "== end to end through NATS JetStream into ClickHouse, one bridge"
  e2e_data
  for r in $(seq "$CHAIN_RUNS"); do e2e_run "$FXP_NATS_URL" nats "$r"; done
  e2e_summary nats "NATS JetStream"
}

part_kafka() {
  echo "== end to end through Kafka (librdkafka mock cluster) into ClickHouse, one bridge"
  local km=$build/tests/kafka_mock
  if [ ! -x "$km" ]; then
    km=$tmp/kafka_mock
    cc -O2 -o "$km" "$root/tests/tools/kafka_mock.c" $(pkg-config --cflags --libs rdkafka) 2>"$tmp/kafka_mock.cc.log" \
      || { echo "# kafka_mock does not build: $(head -3 "$tmp/kafka_mock.cc.log")"; return; }
  fi
  e2e_data
  local nb boot
  for nb in $KAFKA_BROKERS; do
    for r in $(seq "$CHAIN_RUNS"); do
      # A fresh mock cluster per run: it keeps every message in memory.
      "$km" --brokers "$nb" >"$tmp/km.$nb.out" 2>"$tmp/km.$nb.$r.log" &
      km_pid=$!
      boot=""
      for _ in $(seq 100); do boot=$(head -1 "$tmp/km.$nb.out" 2>/dev/null); [ -n "$boot" ] && break; sleep 0.05; done
      if [ -z "$boot" ]; then
        echo "# kafka_mock --brokers $nb printed no bootstrap list: $(head -3 "$tmp/km.$nb.$r.log")"
      else
        ((r == 1)) && echo "# kafka_mock --brokers $nb: $boot"
        e2e_run "kafka://$boot" "kafka$nb" "$r"
      fi
      kill -TERM "$km_pid"; wait "$km_pid" 2>/dev/null; km_pid=""
    done
    e2e_summary "kafka$nb" "Kafka mock cluster, $nb broker(s)"
  done
}

# ---- latency: tick -> 1m bar stored --------------------------------------

part_latency() {
  echo "== latency tick -> 1m bar stored (NATS, SQLite store with timestamping triggers)"
  local run=$tmp/lat; mkdir -p "$run"
  local days; days=$(awk -v s="$LAT_SECONDS" 'BEGIN { printf "%.6f", (s + 3600) / 86400 }')
  # Monday 2024-03-18 10:00 UTC: market hours. Pacing anchors the feed's
  # first tick to the moment it is read (source_pace.c note 1), so the
  # ticks need not carry today's date.
  gen_ticks "$run/ticks.csv" --days "$days" --seed 9 --start 1710756000000 --min-gap 25 --max-gap 75 --symbols "$LAT_SYMS"
  local n; n=$(($(wc -l <"$run/ticks.csv") - 1))
  reference "$run/ticks.csv" "$run/ref.db"
  ref_numbers "$run/ref.db"
  echo "# $n ticks over $LAT_SECONDS s, 30 symbols (~$((n / LAT_SECONDS / 30)) ticks/s each), replayed at --speed 1"

  # The store's schema from an import of a header-only file, then a table
  # that records when every bar row was inserted or updated.
  echo "symbol,ts,bid,ask" >"$run/empty.csv"
  "$fx" import --db "$run/lat.db" "$run/empty.csv" >"$run/import.log" 2>&1 || die "import: $(tail -2 "$run/import.log")"
  sqlite3 "$run/lat.db" <<'SQL' || die "cannot add the triggers"
CREATE TABLE stored_at(symbol, timeframe, ts, version, at_ms);
CREATE TRIGGER bars_ins AFTER INSERT ON bars BEGIN
  INSERT INTO stored_at VALUES (NEW.symbol, NEW.timeframe, NEW.ts, NEW.version,
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)); END;
CREATE TRIGGER bars_upd AFTER UPDATE ON bars BEGIN
  INSERT INTO stored_at VALUES (NEW.symbol, NEW.timeframe, NEW.ts, NEW.version,
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)); END;
SQL
  local prefix=lat
  start_svc agg "$run/aggregate.log" "$fx" aggregate --bus "$FXP_NATS_URL" --bus-prefix "$prefix" --journal "$run/agg.journal"
  start_svc bridge "$run/bridge.log" "$fx" bridge --bus "$FXP_NATS_URL" --prefix "$prefix" --group bridge \
    --dlq none --store "sqlite:$run/lat.db"
  sleep 3
  local t_launch; t_launch=$(now_ms)
  start_svc ing "$run/ingest.log" "$fx" ingest --bus "$FXP_NATS_URL" --bus-prefix "$prefix" \
    --journal "$run/ing.journal" --feed replay:"$run/ticks.csv" --speed 1
  stop_svc ing none
  sleep 3
  stop_svc agg TERM # publishes the open bars
  sleep 3
  stop_svc bridge TERM
  local got; got=$(sqlite3 "$run/lat.db" "select count(*) || ',' || sum(version) from bars")
  [ "$got" = "$want_all" ] && echo "# the SQLite store holds the reference's $got (bars,sum of versions)" \
    || echo "# the SQLite store holds $got, reference $want_all: DIFFERENT"
  local nmsg; nmsg=$(grep -E '^ingest: [0-9]+ read' "$run/ingest.log" | sed -E 's/.*published \(([0-9]+) messages.*/\1/')
  $py - "$run/ticks.csv" "$run/lat.db" "$t_launch" "$FXP_NATS_URL" "${prefix^^}_TICKS" "$nmsg" <<'PY'
import base64, bisect, csv, datetime, json, socket, sqlite3, sys
ticks, db, t_launch, url, stream, nmsg = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])

def stream_msgs(url, stream, last):
    """(message id, server time in ms) of messages 1..last of a JetStream
    stream, asked for with $JS.API.STREAM.MSG.GET over the NATS protocol."""
    host, port = url.split("://", 1)[1].split(",")[0].rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    f = s.makefile("rb")
    f.readline()
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\nSUB _INBOX.fxb 1\r\n')
    subj = ("$JS.API.STREAM.MSG.GET." + stream).encode()
    out, seq = [], 1
    while seq <= last:
        n = min(500, last - seq + 1)
        s.sendall(b"".join(b"PUB %s _INBOX.fxb %d\r\n%s\r\n" % (subj, len(b), b)
                           for b in (json.dumps({"seq": q}).encode() for q in range(seq, seq + n))))
        got = 0
        while got < n:
            line = f.readline()
            if line.startswith(b"PING"):
                s.sendall(b"PONG\r\n")
                continue
            if not line.startswith(b"MSG"):
                continue
            body = f.read(int(line.split()[-1]))
            f.readline()
            m = json.loads(body)["message"]
            mid = ""
            for h in base64.b64decode(m.get("hdrs") or "").decode().split("\r\n"):
                if h.lower().startswith("nats-msg-id:"):
                    mid = h.split(":", 1)[1].strip()
            base, frac = m["time"].rstrip("Z").split(".")
            t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
            out.append((mid, t.timestamp() * 1000 + float("0." + frac) * 1000))
            got += 1
        seq += n
    s.close()
    return out

# Ticks in file order: the ingest journal sequence of the k-th tick is k.
ts_of, per, per_seq = [None], {}, {}
with open(ticks) as f:
    r = csv.reader(f)
    next(r)
    for k, (sym, ts, _, _) in enumerate(r, 1):
        ts = int(ts)
        ts_of.append(ts)
        per.setdefault(sym, []).append(ts)
        per_seq.setdefault(sym, []).append(k)
f0 = ts_of[1]

# The paced replay hands out tick k at w0 + ts_k - f0, w0 being the wall
# time it read the first tick (source_pace.c). A message holding ticks up
# to sequence L is on the bus after tick L was handed out, so
# w0 <= time(message) - (ts_L - f0) for every message: the smallest such
# bound is w0 plus the fastest journal-and-publish path (well under 1 ms).
msgs = stream_msgs(url, stream, nmsg)
ranges = {}
w0 = None
for mid, t in msgs:
    sym, rng = mid.rsplit(":", 1)
    lo, hi = (int(x) for x in rng.split("-"))
    ranges.setdefault(sym, []).append((hi, t))
    b = t - (ts_of[hi] - f0)
    w0 = b if w0 is None else min(w0, b)
for v in ranges.values():
    v.sort()

con = sqlite3.connect(db)
rows = con.execute("""
  select s.symbol, s.ts, min(s.at_ms) from stored_at s
  join bars b on b.symbol = s.symbol and b.timeframe = s.timeframe and b.ts = s.ts
  where s.timeframe = '1m' and s.version = b.version
  group by s.symbol, s.ts""").fetchall()

def pct(v, p):
    v = sorted(v)
    k = (len(v) - 1) * p / 100
    i = int(k)
    return v[i] if i + 1 >= len(v) else v[i] + (v[i + 1] - v[i]) * (k - i)

total, ing, rest = [], [], []
for sym, ts, at in rows:
    tl = per[sym]
    i = bisect.bisect_left(tl, ts + 60000)
    if i == len(tl):
        continue  # the last bar of the symbol: stored by the flush at stop
    seq = per_seq[sym][i]
    wall = w0 + tl[i] - f0
    rs = ranges[sym]
    j = bisect.bisect_left(rs, (seq, -1.0))
    pub = rs[j][1]
    total.append(at - wall)
    ing.append(pub - wall)
    rest.append(at - pub)
if not total:
    print("  no 1m bar was closed by a tick: make LAT_SECONDS longer")
    sys.exit(0)
for label, v in (("tick -> 1m bar stored", total), ("  tick -> on the ticks stream (ingest)", ing),
                 ("  ticks stream -> bar stored (aggregate, bus, bridge)", rest)):
    print("  %-52s p50 %6.1f ms  p90 %6.1f ms  p99 %6.1f ms  max %6.1f ms"
          % (label, pct(v, 50), pct(v, 90), pct(v, 99), max(v)))
print("  %d bars of 1m (the last of each symbol, stored by the flush at stop, left out); the feed's"
      " first tick was handed out %.0f ms after the ingest was launched" % (len(total), w0 - t_launch))
PY
  echo "  open bars are not published (the aggregate publishes a bar when a later tick closes it), so there is no open-bar latency to measure"
  for s in ingest aggregate bridge; do
    grep -E "^$s: ([0-9]+ read|[0-9]+ ticks and|[0-9]+ messages)" "$run/$s.log" | sed 's/^/  /'
  done
}

# ---- burst: RSS under 50k ticks/s with a slow store ------------------------

part_burst() {
  echo "== RSS under a burst of >= 50k ticks/s with a slow store (PostgreSQL, pg_sleep(${BURST_SLEEP_MS} ms) per bar row)"
  local run=$tmp/burst; mkdir -p "$run"
  e2e_data
  head -n $((BURST_TICKS + 1)) "$tmp/e2e.csv" >"$run/ticks.csv"
  local n; n=$(($(wc -l <"$run/ticks.csv") - 1))
  reference "$run/ticks.csv" "$run/ref.db"
  ref_numbers "$run/ref.db"
  local db=burst pg_url=${FXP_PG_URL%/*}/burst
  PGOPTIONS='-c client_min_messages=warning' psql "$FXP_PG_URL" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null || die "psql"
  "$fx" stats --db "$pg_url" >/dev/null 2>&1 || die "cannot create the store's schema in $pg_url"
  psql "$pg_url" -q >/dev/null <<SQL || die "cannot add the trigger"
CREATE FUNCTION slow_bar() RETURNS trigger LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM pg_sleep(${BURST_SLEEP_MS} / 1000.0); RETURN NEW; END \$\$;
CREATE TRIGGER slow_bar BEFORE INSERT OR UPDATE ON bars FOR EACH ROW EXECUTE FUNCTION slow_bar();
SQL
  local ap bp prefix=burst
  ap=$(free_port); bp=$(free_port)
  start_svc agg "$run/aggregate.log" "$fx" aggregate --bus "$FXP_NATS_URL" --bus-prefix "$prefix" \
    --journal "$run/agg.journal" --health "127.0.0.1:$ap"
  start_svc bridge "$run/bridge.log" "$fx" bridge --bus "$FXP_NATS_URL" --prefix "$prefix" --group bridge \
    --dlq none --store "$pg_url" --health "127.0.0.1:$bp"
  sleep 3
  local t0; t0=$(now_ms)
  start_svc ing "$run/ingest.log" "$fx" ingest --bus "$FXP_NATS_URL" --bus-prefix "$prefix" \
    --journal "$run/ing.journal" --feed replay:"$run/ticks.csv" --speed "$BURST_SPEED"
  local t got="" t_ing="" t_agg="" t_agg_term="" t_done="" m ab bb back max_back=0
  : >"$run/rss"
  while :; do
    sleep 1
    t=$(($(now_ms) - t0))
    m=$(curl -s --max-time 2 "http://127.0.0.1:$ap/metrics" "http://127.0.0.1:$bp/metrics" 2>/dev/null)
    ab=$(metric "$m" fxpipe_aggregate_bars); bb=$(metric "$m" fxpipe_bridge_bars_total)
    # The feed is over and aggregated: stop the aggregate, which publishes
    # the bars still open.
    [ -n "$t_ing" ] && [ -z "$t_agg_term" ] && [ "$(metric "$m" fxpipe_aggregate_ticks)" -ge "$n" ] \
      && { t_agg_term=$t; kill -TERM "$pid_agg"; }
    back=$((ab - bb)); ((back > max_back)) && max_back=$back
    echo "$t $(rss_kb "$pid_ing") $(rss_kb "$pid_agg") $(rss_kb "$pid_bridge") $ab $bb" >>"$run/rss"
    [ -z "$t_ing" ] && ! alive ing && t_ing=$t
    [ -z "$t_agg" ] && ! alive agg && t_agg=$t
    if [ -n "$t_agg" ]; then
      got=$(psql "$pg_url" -tAc "select count(*) || ',' || sum(version) from bars")
      [ "$got" = "$want_all" ] && { t_done=$t; break; }
    fi
    ((t > 900000)) && { echo "# gave up after 900 s: PostgreSQL holds $got, want $want_all"; break; }
  done
  stop_svc ing none
  stop_svc agg TERM
  local hwm_b; hwm_b=$(hwm_kb "$pid_bridge")
  stop_svc bridge TERM
  local is; is=$(grep -E '^ingest: [0-9]+ read' "$run/ingest.log" | sed -E 's/.* in ([0-9.]+) s$/\1/')
  printf '  %d ticks at --speed %s: ingest %s s = %.0f ticks/s; aggregate had every tick at %s s; PostgreSQL caught up at %s s; bars waiting on the bus between aggregate and store: up to %d\n' \
    "$n" "$BURST_SPEED" "$is" "$(awk -v n="$n" -v t="$is" 'BEGIN { print n / t }')" "$(ms2s "$t_agg_term")" "$(ms2s "$t_done")" "$max_back"
  [ "$got" = "$want_all" ] && echo "  PostgreSQL holds the reference's $got (bars,sum of versions): nothing lost" \
    || echo "  PostgreSQL holds $got, reference $want_all: DIFFERENT"
  awk -v ti="${t_ing:-0}" -v ta="${t_agg:-0}" '
    function mb(k) { return sprintf("%.1f", k / 1024) }
    { for (c = 2; c <= 4; c++) if ($c > 0) { if ($c > mx[c]) mx[c] = $c; last[c] = $c; n[c]++ } }
    END {
      split("ingest aggregate bridge", nm, " ")
      for (c = 2; c <= 4; c++)
        printf "  %-9s VmRSS sampled every 1 s (%d samples): max %s MB, last %s MB\n", nm[c - 1], n[c], mb(mx[c]), mb(last[c])
    }' "$run/rss"
  printf '  peak RSS (VmHWM at exit): ingest %s MB, aggregate %s MB, bridge %s MB\n' \
    "$(peak_mb "$run/ingest.log")" "$(peak_mb "$run/aggregate.log")" "$(awk -v k="$hwm_b" 'BEGIN { printf "%.1f", k / 1024 }')"
  echo "  VmRSS (MB) of ingest/aggregate/bridge every 10 s:"
  awk 'NR % 10 == 0 { printf "    %4d s  %6.1f %6.1f %6.1f   bars published %d, stored %d\n", $1 / 1000, $2 / 1024, $3 / 1024, $4 / 1024, $5, $6 }' "$run/rss"
  for s in ingest aggregate bridge; do
    grep -E "^$s: ([0-9]+ read|[0-9]+ ticks and|[0-9]+ messages)" "$run/$s.log" | sed 's/^/  /'
  done
}

echo "# $(date -u +%FT%TZ), $(nproc) cores, $fx"
need=(nats clickhouse)
for p in "${parts[@]}"; do
  case $p in e2e | kafka | latency) ;; burst) need+=(postgres) ;; *) die "unknown part '$p' (e2e kafka latency burst)" ;; esac
done
start_servers "${need[@]}"
for p in "${parts[@]}"; do "part_$p"; done
