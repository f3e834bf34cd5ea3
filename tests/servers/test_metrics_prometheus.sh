#!/usr/bin/env bash
# servers: prometheus
# test_metrics_prometheus.sh - a real Prometheus scrapes the health server's
# /metrics (health.h) from tests/tools/health_demo: the target comes up,
# the demo's counter series is stored and increases between scrapes, and
# `promtool check metrics` finds nothing wrong with the exposition text.
#
# Run by with_servers.sh (FXP_PROM_URL, FXP_SERVERS_DIR). The demo program
# is $FXP_HEALTH_DEMO, else $FXP_BUILD_DIR/tests/health_demo.
set -euo pipefail

die() { echo "test_metrics_prometheus: $*" >&2; exit 1; }

demo=${FXP_HEALTH_DEMO:-${FXP_BUILD_DIR:-}/tests/health_demo}
[ -x "$demo" ] || die "no demo program at '$demo' (set FXP_HEALTH_DEMO)"
: "${FXP_PROM_URL:?run me through tests/servers/with_servers.sh}"
: "${FXP_SERVERS_DIR:?run me through tests/servers/with_servers.sh}"
PY=/usr/bin/python3

work=$(mktemp -d /tmp/fxp-prom-test.XXXXXX)
demo_pid=
cleanup() {
  if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
    kill "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# query EXPR: the first sample's value of an instant query, or "" if none.
query() {
  curl -sfg --max-time 5 "$FXP_PROM_URL/api/v1/query" --data-urlencode "query=$1" |
    "$PY" -c 'import json,sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")'
}

# 1. The demo on a free port; it prints "port N" once it listens.
"$demo" 127.0.0.1:0 > "$work/demo.out" 2> "$work/demo.err" &
demo_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$work/demo.out")
  [ -n "$port" ] && break
  kill -0 "$demo_pid" 2>/dev/null || die "demo exited: $(cat "$work/demo.err")"
  sleep 0.05
done
[ -n "$port" ] || die "demo did not report its port"
base=http://127.0.0.1:$port

# 2. Its endpoints answer directly.
[ "$(curl -sf "$base/healthz")" = ok ] || die "/healthz is not ok"
curl -sf "$base/readyz" > "$work/readyz.json" || die "/readyz is not 200"
"$PY" - "$work/readyz.json" <<'PY' || die "/readyz body: $(cat "$work/readyz.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "ready" and r["service"] == "health_demo", r
assert r["deps"]["self"] == {"ok": True, "critical": True, "detail": "demo alive"}, r
assert r["deps"]["breaker"]["ok"] is True and r["deps"]["breaker"]["critical"] is False, r
PY

# 3. promtool lints a /metrics body: no output, exit 0.
curl -sf "$base/metrics" > "$work/metrics.txt"
grep -q '^fxpipe_demo_ticks_total{stage="demo"} [0-9]' "$work/metrics.txt" \
  || die "counter missing from /metrics: $(cat "$work/metrics.txt")"
if ! lint=$(promtool check metrics < "$work/metrics.txt" 2>&1) || [ -n "$lint" ]; then
  die "promtool check metrics: $lint"
fi
echo "promtool check metrics: no problems ($(wc -l < "$work/metrics.txt") lines)"

# 4. Point Prometheus at the demo and reload its configuration.
cat > "$FXP_SERVERS_DIR/prometheus/prometheus.yml" <<YML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: fxpipe
    scrape_interval: 1s
    static_configs:
      - targets: ["127.0.0.1:$port"]
YML
curl -sf -X POST "$FXP_PROM_URL/-/reload" > /dev/null || die "reload refused"

# 5. The first scrape lands ~5 s after Prometheus started: poll up to 30 s.
up=
for _ in $(seq 60); do
  up=$(query 'up{job="fxpipe"}' || true)
  [ "$up" = 1 ] && break
  sleep 0.5
done
[ "$up" = 1 ] || die "target never up (up='$up'); log: $(tail -5 "$FXP_SERVERS_DIR/prometheus/log")"
echo "up{job=\"fxpipe\"} = 1"

# 6. The counter series is stored and increases between scrapes.
series='fxpipe_demo_ticks_total{job="fxpipe",stage="demo"}'
first=$(query "$series")
[ -n "$first" ] || die "no sample for $series"
second=$first
for _ in $(seq 30); do
  sleep 0.5
  second=$(query "$series")
  "$PY" -c "import sys; sys.exit(0 if float('$second') > float('$first') else 1)" && break
done
"$PY" -c "import sys; sys.exit(0 if float('$second') > float('$first') else 1)" \
  || die "$series did not increase ($first -> $second)"
echo "$series: $first -> $second"
for g in 'fxpipe_breaker_state{dep="demo"}' fxpipe_demo_uptime_seconds fxpipe_demo_queue_depth; do
  [ -n "$(query "$g")" ] || die "no sample for $g"
done

# 7. Stop the demo by PID; it exits 0 on SIGTERM.
kill -TERM "$demo_pid"
rc=0; wait "$demo_pid" || rc=$?
demo_pid=
[ "$rc" -eq 0 ] || die "demo exited $rc after SIGTERM"
echo "ok"
