#!/usr/bin/env bash
# servers: postgres
# test_store_pg.sh FXPIPE: `fxpipe import` into a PostgreSQL store, checked
# with the independent psql: every export equal byte for byte to the same
# import into SQLite, row counts equal to SQLite's (sqlite3), no duplicate
# keys, ticks in native daily partitions (no TimescaleDB here), a second
# identical import writes no row, stats/gaps read it back like SQLite, and
# an unreachable server fails clearly without showing a password. Needs
# FXP_PG_URL (tests/servers/with_servers.sh sets it).
set -euo pipefail
FX=${1:?usage: test_store_pg.sh FXPIPE}
PY=/usr/bin/python3
: "${FXP_PG_URL:?FXP_PG_URL is not set (run through with_servers.sh)}"

passes=0 fails=0
ok() { passes=$((passes + 1)); echo "ok - $1"; }
bad() { fails=$((fails + 1)); echo "FAIL - $1"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi; }

# A database of its own, so reruns against one server start empty.
db=fxp_sh_$$_$RANDOM
base=${FXP_PG_URL%/*}
url="$base/$db"
pq() { psql "$url" -v ON_ERROR_STOP=1 -tAqc "$1"; }
tmp=$(mktemp -d)
trap 'psql "$FXP_PG_URL" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
psql "$FXP_PG_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $db" >/dev/null

# Two symbols of quotes from Friday noon to Tuesday (three UTC days with
# ticks, the weekend closed), plus a crossed, an unparsable and a non-UTF-8
# line.
"$PY" - "$tmp/ticks.csv" <<'PY'
import math, sys
t0 = 1704456000000  # 2024-01-05T12:00:00Z, a Friday
with open(sys.argv[1], "wb") as f:
    f.write(b"symbol,ts,bid,ask\n")
    rows = []
    for sym, px, dec in (("EURUSD", 1.09, 5), ("USDJPY", 144.2, 3)):
        t = t0
        for i in range(16000):
            t += 4000 + (i * 7919) % 20000
            bid = round(px * (1 + 2e-4 * math.sin(i / 40)), dec)
            rows.append((t, sym, bid, round(bid + 2 * 10 ** -dec, dec)))
    rows.sort()
    for i, (t, sym, bid, ask) in enumerate(rows):
        if i == 100:
            f.write(f"{sym},{t},{ask},{bid}\n".encode())  # crossed
        elif i == 200:
            f.write(f"{sym},{t},oops,{ask}\n".encode())  # parse
        elif i == 300:
            f.write(f"{sym},{t},{bid}\xff,{ask}\n".encode("latin-1"))
        else:
            f.write(f"{sym},{t},{bid},{ask}\n".encode())
PY

# --- import into both stores ----------------------------------------------
if "$FX" import --keep-ticks --db "$url" "$tmp/ticks.csv" 2> "$tmp/import1.err"; then
  ok "fxpipe import --db postgresql://... exits 0"
else
  bad "fxpipe import into PostgreSQL: $(tail -3 "$tmp/import1.err")"
fi
if "$FX" import --keep-ticks --db "$tmp/ref.db" "$tmp/ticks.csv" 2> "$tmp/sqlite.err"; then
  ok "the same import into SQLite exits 0"
else
  bad "fxpipe import into SQLite: $(tail -3 "$tmp/sqlite.err")"
fi

# --- every series exported from both, byte for byte ------------------------
same=0 differ=""
for sym in EURUSD USDJPY; do
  for tf in 1m 5m 15m 30m 1h 4h 1d 1w; do
    "$FX" export --store "$url" -s "$sym" -t "$tf" > "$tmp/pg.csv" 2> "$tmp/exp.err" || true
    "$FX" export --db "$tmp/ref.db" -s "$sym" -t "$tf" > "$tmp/sq.csv"
    if [ -s "$tmp/sq.csv" ] && cmp -s "$tmp/pg.csv" "$tmp/sq.csv"; then
      same=$((same + 1))
    else
      differ="$differ $sym/$tf($(head -c 200 "$tmp/exp.err"))"
    fi
  done
done
check "export of all 16 series equals SQLite's byte for byte${differ:+:$differ}" "$same" 16
check "export as JSON lines equals SQLite's too" \
  "$("$FX" export --store "$url" -s EURUSD -t 1h -f jsonl | md5sum)" \
  "$("$FX" export --db "$tmp/ref.db" -s EURUSD -t 1h -f jsonl | md5sum)"

# --- counts and keys, seen by psql -----------------------------------------
sq() { sqlite3 "$tmp/ref.db" "$1"; }
check "bars: same row count as SQLite" "$(pq 'SELECT count(*) FROM bars')" \
  "$(sq 'SELECT count(*) FROM bars')"
check "bars per timeframe as in SQLite" \
  "$(pq "SELECT string_agg(timeframe || '=' || n, ',' ORDER BY timeframe) FROM
         (SELECT timeframe, count(*) n FROM bars GROUP BY 1) x")" \
  "$(sq "SELECT group_concat(timeframe || '=' || n, ',') FROM
         (SELECT timeframe, count(*) n FROM bars GROUP BY 1 ORDER BY 1)")"
check "ticks: same row count as SQLite" "$(pq 'SELECT count(*) FROM ticks')" \
  "$(sq 'SELECT count(*) FROM ticks')"
check "rejects: same reasons and counts as SQLite" \
  "$(pq "SELECT string_agg(reason || '=' || n, ',' ORDER BY reason) FROM
         (SELECT reason, count(*) n FROM rejects GROUP BY 1) x")" \
  "$(sq "SELECT group_concat(reason || '=' || n, ',') FROM
         (SELECT reason, count(*) n FROM rejects GROUP BY 1 ORDER BY 1)")"
check "no duplicate bar keys" "$(pq 'SELECT count(*) FROM (SELECT 1 FROM bars
  GROUP BY symbol, timeframe, ts HAVING count(*) > 1) d')" 0
check "no duplicate ticks" "$(pq 'SELECT count(*) FROM (SELECT 1 FROM ticks
  GROUP BY symbol, ts, bid, ask HAVING count(*) > 1) d')" 0
check "bar times are whole milliseconds, as imported" \
  "$(pq "SELECT count(*) FROM bars WHERE extract(microseconds FROM ts)::bigint % 1000 <> 0")" 0
check "first 1m bar (psql) is SQLite's" \
  "$(pq "SELECT (extract(epoch FROM ts) * 1000)::bigint, open, close, n_ticks
         FROM bars WHERE symbol = 'EURUSD' AND timeframe = '1m' ORDER BY ts LIMIT 1")" \
  "$(sq "SELECT ts, open, close, ticks FROM bars WHERE symbol = 'EURUSD'
         AND timeframe = '1m' ORDER BY ts LIMIT 1")"
check "schema_version recorded" "$(pq "SELECT value FROM meta WHERE key = 'schema_version'")" 1
check "rejects, the non-UTF-8 line's included, as SQLite keeps them" \
  "$(pq "SELECT origin || '|' || ts_ms || '|' || symbol || '|' || reason || '|'
         || detail || '|' || coalesce(raw, '') FROM rejects ORDER BY origin" | md5sum)" \
  "$(sq "SELECT origin || '|' || ts || '|' || symbol || '|' || reason || '|'
         || detail || '|' || coalesce(raw, '') FROM rejects ORDER BY origin" | md5sum)"

# --- ticks in native daily partitions ---------------------------------------
check "ticks is partitioned by range (TimescaleDB is not installed here)" \
  "$(pq "SELECT c.relkind::text || ':' || pg_get_partkeydef(c.oid) FROM pg_class c
         WHERE c.oid = 'ticks'::regclass")" "p:RANGE (ts)"
parts=$(pq "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'ticks'::regclass")
days=$(pq "SELECT string_agg(d, ',' ORDER BY d) FROM (SELECT DISTINCT
            'ticks_' || to_char(ts AT TIME ZONE 'UTC', 'YYYYMMDD') d FROM ticks) x")
check "one partition per UTC day with ticks, named ticks_YYYYMMDD" "$parts" "$days"
check "each partition holds only its own day" \
  "$(pq "SELECT count(*) FROM ticks t JOIN pg_class c ON c.oid = t.tableoid
         WHERE c.relname <> 'ticks_' || to_char(t.ts AT TIME ZONE 'UTC', 'YYYYMMDD')")" 0
if psql "$url" -c '\d+ ticks' | grep -q "Partitions: ticks_2024"; then
  ok "\\d+ ticks lists the daily partitions"
else
  bad "\\d+ ticks: $(psql "$url" -c '\d+ ticks' | tail -5)"
fi

# --- a second identical import writes nothing --------------------------------
fingerprint() {
  pq "SELECT md5(string_agg(b::text, '|' ORDER BY symbol, timeframe, ts)) FROM bars b"
  pq "SELECT md5(string_agg(t::text, '|' ORDER BY symbol, ts, bid, ask)) FROM ticks t"
  pq "SELECT md5(string_agg(r::text, '|' ORDER BY origin)) FROM rejects r"
  pq "SELECT md5(string_agg(m::text, '|' ORDER BY key)) FROM meta m"
}
before=$(fingerprint)
xid=$(pq "SELECT txid_current()")
if "$FX" import --keep-ticks --db "$url" "$tmp/ticks.csv" 2> "$tmp/import2.err"; then
  ok "second import exits 0"
else
  bad "second import: $(tail -3 "$tmp/import2.err")"
fi
check "second import: every table's content unchanged" "$(fingerprint)" "$before"
check "second import: no row inserted or updated (xmin)" \
  "$(pq "SELECT (SELECT count(*) FROM bars WHERE xmin::text::bigint > $xid)
            + (SELECT count(*) FROM ticks WHERE xmin::text::bigint > $xid)
            + (SELECT count(*) FROM rejects WHERE xmin::text::bigint > $xid)
            + (SELECT count(*) FROM meta WHERE xmin::text::bigint > $xid)")" 0
check "second import: no new partition" "$(pq "SELECT string_agg(c.relname, ',' ORDER BY
  c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'ticks'::regclass")" "$parts"

# --- read back through the CLI like SQLite ------------------------------------
check "stats reads the same as from SQLite (but the store line)" \
  "$("$FX" stats --store "$url" 2>&1 | grep -v '^store:')" \
  "$("$FX" stats --db "$tmp/ref.db" 2>&1 | grep -v '^store:')"
check "gaps reports the same as from SQLite" \
  "$("$FX" gaps --store "$url" --from 2024-01-05 --to 2024-01-10 2>&1)" \
  "$("$FX" gaps --db "$tmp/ref.db" --from 2024-01-05 --to 2024-01-10 2>&1)"

# --- an unreachable server: clear, fast, no password ---------------------------
set +e
"$FX" export --store "postgresql://fx:s3cret@127.0.0.1:1/nodb" -s EURUSD -t 1m \
  > /dev/null 2> "$tmp/unreach.err"
rc=$?
set -e
check "unreachable server: exit status 3" "$rc" 3
msg=$(cat "$tmp/unreach.err")
case $msg in
  *s3cret*) bad "the password is shown: $msg" ;;
  *"127.0.0.1:1/nodb"*) ok "unreachable server named without the password" ;;
  *) bad "unreachable message does not name the server: $msg" ;;
esac

echo "# $passes passed, $fails failed"
[ "$fails" -eq 0 ]
