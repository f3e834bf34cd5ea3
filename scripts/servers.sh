#!/usr/bin/env bash
# Start and stop the real servers the distributed tests and benchmarks use:
# nats-server (JetStream), clickhouse-server (HTTP), PostgreSQL 15 and
# Prometheus, each on a free loopback port, in its own directory under DIR.
#
#   scripts/servers.sh start DIR nats|nats3|clickhouse|postgres|prometheus...
#   scripts/servers.sh stop DIR [NAME...]      stop what start started (by PID)
#   scripts/servers.sh restart DIR NAME        stop and start again, same port
#
# `start` appends to DIR/env lines a test can source:
#   FXP_NATS_URL=nats://127.0.0.1:P   FXP_NATS_MON=http://127.0.0.1:M
#   FXP_CH_URL=clickhouse://127.0.0.1:P/default   FXP_CH_HTTP=http://127.0.0.1:P
#   FXP_CH_TCP=P   FXP_PG_URL=postgresql://postgres@127.0.0.1:P/postgres
#   FXP_PG_PORT=P   FXP_PROM_URL=http://127.0.0.1:P
# Each server's PID is in DIR/NAME/pid and its log in DIR/NAME/log.
set -euo pipefail

die() { echo "servers.sh: $*" >&2; exit 1; }

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS CMD...: poll CMD every 50 ms until it succeeds.
wait_for() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || return 1
    sleep 0.05
  done
}

port_of() { cat "$1/port"; }
keep_port() { [ -f "$1/port" ] && cat "$1/port" || { free_port | tee "$1/port"; }; }

start_nats() {
  local d=$DIR/nats; mkdir -p "$d/js"
  local p m; p=$(keep_port "$d"); [ -f "$d/mon" ] || free_port > "$d/mon"; m=$(cat "$d/mon")
  cat > "$d/conf" <<CONF
listen: 127.0.0.1:$p
http: 127.0.0.1:$m
jetstream { store_dir: "$d/js", max_memory_store: 256MB, max_file_store: 2GB }
CONF
  nats-server -c "$d/conf" -l "$d/log" </dev/null >>"$d/stdout" 2>&1 &
  echo $! > "$d/pid"
  wait_for 20 curl -sf "http://127.0.0.1:$m/healthz?js-enabled-only=true" \
    || die "nats-server did not become ready (log: $d/log)"
  env_set FXP_NATS_URL "nats://127.0.0.1:$p"
  env_set FXP_NATS_MON "http://127.0.0.1:$m"
}

start_clickhouse() {
  local d=$DIR/clickhouse; mkdir -p "$d/data" "$d/tmp" "$d/user_files" "$d/schemas"
  local p t; p=$(keep_port "$d"); [ -f "$d/tcp" ] || free_port > "$d/tcp"; t=$(cat "$d/tcp")
  cat > "$d/users.xml" <<XML
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
XML
  cat > "$d/config.xml" <<XML
<yandex>
  <logger><level>warning</level><log>$d/log</log><errorlog>$d/err.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$p</http_port>
  <tcp_port>$t</tcp_port>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <user_files_path>$d/user_files/</user_files_path>
  <format_schema_path>$d/schemas/</format_schema_path>
  <users_config>$d/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <mark_cache_size>268435456</mark_cache_size>
</yandex>
XML
  clickhouse-server --config-file="$d/config.xml" </dev/null >"$d/stdout" 2>&1 &
  echo $! > "$d/pid"
  wait_for 30 sh -c "curl -sf http://127.0.0.1:$p/ping | grep -q Ok" \
    || die "clickhouse-server did not become ready (log: $d/err.log)"
  env_set FXP_CH_URL "clickhouse://127.0.0.1:$p/default"
  env_set FXP_CH_HTTP "http://127.0.0.1:$p"
  env_set FXP_CH_TCP "$t"
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1; }

start_postgres() {
  local d=$DIR/postgres bin; bin=$(pg_bin)
  mkdir -p "$d"; chmod 755 "$DIR" "$d"
  local p; p=$(keep_port "$d")
  local run=(); [ "$(id -u)" -eq 0 ] && { run=(runuser -u postgres --); chown postgres "$d"; }
  if [ ! -f "$d/data/PG_VERSION" ]; then
    "${run[@]}" "$bin/initdb" -D "$d/data" -U postgres --auth=trust -E UTF8 \
      --locale=C.UTF-8 --no-sync > "$d/initdb.log" 2>&1 || die "initdb failed (log: $d/initdb.log)"
    cat >> "$d/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $p
unix_socket_directories = '$d'
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  fi
  "${run[@]}" "$bin/pg_ctl" -D "$d/data" -l "$d/log" -w -t 30 start > /dev/null \
    || die "postgres did not start (log: $d/log)"
  head -1 "$d/data/postmaster.pid" > "$d/pid"
  env_set FXP_PG_URL "postgresql://postgres@127.0.0.1:$p/postgres"
  env_set FXP_PG_PORT "$p"
}

start_prometheus() {
  local d=$DIR/prometheus; mkdir -p "$d/tsdb"
  local p; p=$(keep_port "$d")
  [ -f "$d/prometheus.yml" ] || cat > "$d/prometheus.yml" <<YML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs: []
YML
  prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/tsdb" \
    --web.listen-address="127.0.0.1:$p" --web.enable-lifecycle > "$d/log" 2>&1 &
  echo $! > "$d/pid"
  wait_for 20 curl -sf "http://127.0.0.1:$p/-/ready" || die "prometheus not ready (log: $d/log)"
  env_set FXP_PROM_URL "http://127.0.0.1:$p"
}

env_set() {
  touch "$DIR/env"
  grep -v "^$1=" "$DIR/env" > "$DIR/env.tmp" || true
  echo "$1=$2" >> "$DIR/env.tmp"; mv "$DIR/env.tmp" "$DIR/env"
}

stop_one() {
  local d=$DIR/$1
  [ -f "$d/pid" ] || return 0
  local pid; pid=$(cat "$d/pid")
  if [ "$1" = postgres ]; then
    local run=(); [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
    "${run[@]}" "$(pg_bin)/pg_ctl" -D "$d/data" -m fast -w stop > /dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  else
    kill "$pid" 2>/dev/null || true
  fi
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$d/pid"
}

cmd=${1:-}; DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || die "usage: servers.sh start|stop|restart DIR [NAME...]"
mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd); shift 2
case $cmd in
  start)
    for s in "$@"; do
      case $s in
        nats|clickhouse|postgres|prometheus) "start_$s" ;;
        *) die "unknown server '$s' (nats, clickhouse, postgres, prometheus)" ;;
      esac
    done ;;
  stop)
    names=("$@"); ((${#names[@]})) || names=(nats clickhouse postgres prometheus)
    for s in "${names[@]}"; do stop_one "$s"; done ;;
  restart)
    for s in "$@"; do stop_one "$s"; "start_$s"; done ;;
  *) die "unknown command '$cmd'" ;;
esac
