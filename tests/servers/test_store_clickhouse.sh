#!/usr/bin/env bash
# servers: clickhouse
# test_store_clickhouse.sh FXPIPE: `fxpipe import` into a ClickHouse store,
# checked with the independent clickhouse-client: tables and engines; every
# bar equal to the same import into SQLite (read with sqlite3) and to
# `fxpipe resample`; a second import changes nothing a FINAL read sees (raw
# rows doubled until a merge); ticks (--keep-ticks), rejects, schema version;
# `fxpipe stats` / `export --store` read it back. Needs FXP_CH_HTTP and
# FXP_CH_TCP (tests/servers/with_servers.sh sets them).
set -euo pipefail
FX=${1:?usage: test_store_clickhouse.sh FXPIPE}
PY=/usr/bin/python3
: "${FXP_CH_HTTP:?FXP_CH_HTTP is not set (run through with_servers.sh)}"
: "${FXP_CH_TCP:?FXP_CH_TCP is not set (run through with_servers.sh)}"

passes=0 fails=0
ok() { passes=$((passes + 1)); echo "ok - $1"; }
bad() { fails=$((fails + 1)); echo "FAIL - $1"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi; }
chq() { clickhouse-client --port "$FXP_CH_TCP" -q "$1"; }

db=fxp_sh_$$_$RANDOM
url="clickhouse://${FXP_CH_HTTP#http://}/$db"
tmp=$(mktemp -d)
trap 'chq "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT

# Two symbols of quotes over three hours of a Monday, plus two bad lines.
"$PY" - "$tmp/ticks.csv" <<'PY'
import math, sys
t0 = 1704715200000  # 2024-01-08T12:00:00Z
with open(sys.argv[1], "w") as f:
    f.write("symbol,ts,bid,ask\n")
    rows = []
    for sym, px, dec in (("EURUSD", 1.09, 5), ("USDJPY", 144.2, 3)):
        t = t0
        for i in range(6000):
            t += 1000 + (i * 7919) % 2600
            bid = round(px * (1 + 2e-4 * math.sin(i / 40)), dec)
            rows.append((t, sym, bid, round(bid + 2 * 10 ** -dec, dec)))
    rows.sort()
    for i, (t, sym, bid, ask) in enumerate(rows):
        if i == 100:
            f.write(f"{sym},{t},{ask},{bid}\n")  # crossed
        elif i == 200:
            f.write(f"{sym},{t},oops,{ask}\n")  # parse
        else:
            f.write(f"{sym},{t},{bid},{ask}\n")
PY

# --- import, then look with clickhouse-client ------------------------------
if "$FX" import --keep-ticks --db "$url" "$tmp/ticks.csv" 2> "$tmp/import1.err"; then
  ok "fxpipe import --db $url exits 0"
else
  bad "fxpipe import --db $url exits 0: $(tail -3 "$tmp/import1.err")"
fi
create=$(chq "SHOW CREATE TABLE $db.bars")
case $create in
  *"ReplacingMergeTree(version)"*"PARTITION BY toYYYYMM("*"ORDER BY (symbol, timeframe, ts)"*)
    ok "bars is a ReplacingMergeTree(version) by month, keyed (symbol, timeframe, ts)" ;;
  *) bad "bars schema: $create" ;;
esac
check "tables created" "$(chq "SELECT groupArray(name) FROM (SELECT name FROM system.tables WHERE database = '$db' ORDER BY name)")" \
  "['bars','ledger','meta','rejects','ticks']"
check "schema_version is 1" "$(chq "SELECT value FROM $db.meta FINAL WHERE key = 'schema_version'")" 1

# The same file imported into SQLite is the reference, row for row
# (version and source included); resample agrees on the prices.
"$FX" import --db "sqlite:$tmp/ref.db" "$tmp/ticks.csv" 2> /dev/null \
  || bad "reference import into SQLite exits 0"
# quote() prints a REAL with all its digits (the CLI's default shows 15).
sqlite3 -csv "$tmp/ref.db" "SELECT symbol, timeframe, ts, quote(open),
  quote(high), quote(low), quote(close), quote(volume), ticks, version, source
  FROM bars" > "$tmp/want.csv"
"$FX" resample "$tmp/ticks.csv" 2> /dev/null | tail -n +2 | cut -d, -f1-9 > "$tmp/resample.csv"
bars_csv() {
  chq "SELECT symbol, timeframe, ts, open, high, low, close, volume, ticks,
       version, source FROM $db.bars FINAL FORMAT CSV" > "$1"
}
cmp_bars() {
  "$PY" - "$@" <<'PY'
import csv, sys
tfs = ["1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w"]
def load(path, n):
    with open(path) as f:
        return sorted((r[0], tfs.index(r[1]), int(r[2]), *map(float, r[3:8]),
                       *r[8:n]) for r in csv.reader(f))
n = 11 if sys.argv[3] == "all" else 9
want, got = load(sys.argv[1], n), load(sys.argv[2], n)
if want != got:
    print(f"{len(want)} bars want, {len(got)} in ClickHouse")
    for w, g in zip(want, got):
        if w != g:
            print(f"first difference: want {w} got {g}")
            break
    sys.exit(1)
print(f"{len(got)} bars")
PY
}
bars_csv "$tmp/got.csv"
if out=$(cmp_bars "$tmp/want.csv" "$tmp/got.csv" all); then
  ok "bars in ClickHouse = bars of the same import into SQLite ($out)"
else
  bad "bars differ from the SQLite import: $out"
fi
if out=$(cmp_bars "$tmp/resample.csv" "$tmp/got.csv" prices); then
  ok "bars in ClickHouse = fxpipe resample ($out)"
else
  bad "bars differ from fxpipe resample: $out"
fi
n_bars=$(chq "SELECT count() FROM $db.bars FINAL")
check "count() FROM bars FINAL = bars in SQLite" "$n_bars" "$(wc -l < "$tmp/want.csv")"
n_ticks=$(chq "SELECT count() FROM $db.ticks FINAL")
check "ticks kept with --keep-ticks (all valid quotes)" "$n_ticks" 11998
check "rejects stored with their reason" \
  "$(chq "SELECT groupArray(reason) FROM (SELECT reason FROM $db.rejects FINAL ORDER BY reason)")" \
  "['crossed','parse']"

# --- a second import changes nothing a FINAL read sees ---------------------
chq "SYSTEM STOP MERGES $db.bars" > /dev/null
"$FX" import --keep-ticks --db "$url" "$tmp/ticks.csv" 2> "$tmp/import2.err" \
  || bad "second import exits 0: $(tail -3 "$tmp/import2.err")"
raw=$(chq "SELECT count() FROM $db.bars")
if [ "$raw" -ge $((2 * n_bars)) ]; then
  ok "the second import wrote every bar again ($raw raw rows, merges stopped)"
else
  bad "second import: $raw raw rows, want at least $((2 * n_bars))"
fi
check "count() FROM bars FINAL unchanged by the second import" \
  "$(chq "SELECT count() FROM $db.bars FINAL")" "$n_bars"
check "no key appears twice with FINAL" \
  "$(chq "SELECT count() FROM (SELECT symbol, timeframe, ts, count() AS c FROM $db.bars FINAL GROUP BY symbol, timeframe, ts HAVING c > 1)")" 0
check "ticks FINAL unchanged by the second import" "$(chq "SELECT count() FROM $db.ticks FINAL")" "$n_ticks"
check "rejects FINAL unchanged by the second import" "$(chq "SELECT count() FROM $db.rejects FINAL")" 2
bars_csv "$tmp/got2.csv"
if out=$(cmp_bars "$tmp/want.csv" "$tmp/got2.csv" all); then
  ok "bars after the second import still equal the SQLite import"
else
  bad "bars after the second import: $out"
fi
chq "SYSTEM START MERGES $db.bars" > /dev/null
chq "OPTIMIZE TABLE $db.bars FINAL" > /dev/null
check "after OPTIMIZE FINAL the raw rows are the FINAL rows" "$(chq "SELECT count() FROM $db.bars")" "$n_bars"

# --- fxpipe reads the store back -------------------------------------------
if "$FX" stats --store "$url" > "$tmp/stats.out" 2>&1 && grep -q USDJPY "$tmp/stats.out"; then
  ok "fxpipe stats --store reads the ClickHouse store"
else
  bad "fxpipe stats --store: $(head -5 "$tmp/stats.out")"
fi
for tf in 1m 1h; do
  "$FX" export --store "$url" --symbol EURUSD --timeframe "$tf" > "$tmp/exp.csv" 2> "$tmp/exp.err" || true
  "$FX" export --db "$tmp/ref.db" --symbol EURUSD --timeframe "$tf" > "$tmp/exp_ref.csv" 2> /dev/null || true
  if [ -s "$tmp/exp_ref.csv" ] && cmp -s "$tmp/exp.csv" "$tmp/exp_ref.csv"; then
    ok "fxpipe export --store EURUSD $tf = the same export from SQLite"
  else
    bad "fxpipe export --store EURUSD $tf differs: $(diff "$tmp/exp.csv" "$tmp/exp_ref.csv" | head -3) $(head -2 "$tmp/exp.err")"
  fi
done

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
