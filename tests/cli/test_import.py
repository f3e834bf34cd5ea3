#!/usr/bin/python3
"""fxpipe import / export / stats end to end, checked with independent
tools (the sqlite3 CLI, pandas):

* each importer on sample files generated here (generic ticks and bars,
  HistData ticks and M1 bars, Dukascopy ticks and bars);
* export after import gives exactly the bars `fxpipe resample` gives, and
  pandas agrees on the 1m and 1h bars;
* importing twice leaves `sqlite3 .dump` identical;
* bad input: malformed lines (file:line, stored with their reason, good
  lines kept), an unknown format, a missing file, an unusable database
  path, a full disk (nothing half-written).

usage: test_import.py FXPIPE
"""
import io
import os
import random
import subprocess
import sys
import tempfile

import pandas as pd

FX = sys.argv[1]
PASSES = FAILS = 0


def check(name, cond, detail=""):
    global PASSES, FAILS
    if cond:
        PASSES += 1
        print(f"ok - {name}")
    else:
        FAILS += 1
        print(f"FAIL - {name} {detail}")


def fx(*args, **kw):
    return subprocess.run([FX, *args], capture_output=True, text=True, **kw)


def sql(db, q):
    return subprocess.run(["sqlite3", db, q], capture_output=True, text=True,
                          check=True).stdout.strip()


def ticks_rows(rng, sym, t0, n, px, dec):
    rows, t = [], t0
    for _ in range(n):
        t += rng.randint(200, 9000)
        px *= 1 + rng.gauss(0, 2e-5)
        bid = round(px, dec)
        rows.append((sym, t, f"{bid:.{dec}f}", f"{bid + 10 ** -dec * rng.randint(1, 9):.{dec}f}"))
    return rows


def main():
    rng = random.Random(4242)
    tmp = tempfile.mkdtemp()
    t0 = 1704715200000  # Monday 2024-01-08 12:00 UTC
    # --- generic ticks: import, export == resample, pandas agrees -------------
    rows = ticks_rows(rng, "EURUSD", t0, 20000, 1.095, 5) + \
        ticks_rows(rng, "USDJPY", t0, 20000, 144.2, 3)
    rows.sort(key=lambda r: r[1])
    gt = f"{tmp}/generic_ticks.csv"
    with open(gt, "w") as f:
        f.write("symbol,ts,bid,ask\n")
        for r in rows:
            f.write(",".join(map(str, r)) + "\n")
    db = f"{tmp}/a.db"
    p = fx("import", "--db", db, gt)
    check("generic ticks import exits 0", p.returncode == 0, p.stderr)
    check("import prints a summary", "bar rows written" in p.stderr, p.stderr)
    res = fx("resample", gt)
    want = pd.read_csv(io.StringIO(res.stdout), float_precision="round_trip")
    cols = ["symbol", "timeframe", "ts", "open", "high", "low", "close", "volume", "ticks"]
    for sym in ["EURUSD", "USDJPY"]:
        for tf in ["1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w"]:
            e = fx("export", "--db", db, "--symbol", sym, "--timeframe", tf)
            got = pd.read_csv(io.StringIO(e.stdout), float_precision="round_trip")
            w = want[(want.symbol == sym) & (want.timeframe == tf)].sort_values("ts")
            same = got[cols].reset_index(drop=True).equals(w[cols].reset_index(drop=True))
            check(f"export {sym} {tf} == resample ({len(got)} bars)", same and len(got) > 0)
    # pandas, independently, from the raw ticks
    df = pd.read_csv(gt, float_precision="round_trip")
    df = df[df.symbol == "EURUSD"]
    df["px"] = (df.bid + df.ask) / 2
    df.index = pd.to_datetime(df.ts, unit="ms")
    for tf, rule in [("1m", "1min"), ("1h", "1H")]:
        o = df.px.resample(rule).ohlc()
        o["volume"] = df.px.resample(rule).count()
        o = o[o.volume > 0]
        e = fx("export", "--db", db, "--symbol", "EUR/USD", "--timeframe", tf)
        got = pd.read_csv(io.StringIO(e.stdout), float_precision="round_trip")
        ok = (len(got) == len(o) and (got.open.values == o.open.values).all()
              and (got.close.values == o.close.values).all()
              and (got.high.values == o.high.values).all()
              and (got.volume.values == o.volume.values).all()
              and (got.ts.values == o.index.astype("int64").values // 10**6).all())
        check(f"pandas agrees on EURUSD {tf}", ok)
    # idempotent re-import
    d1 = sql(db, ".dump")
    p = fx("import", "--db", db, gt)
    check("re-import exits 0", p.returncode == 0, p.stderr)
    check("re-import: sqlite3 .dump identical", sql(db, ".dump") == d1)
    # stats
    s = fx("stats", "--db", db)
    check("stats lists the series", s.returncode == 0 and "USDJPY   1w" in s.stdout, s.stdout)
    j = fx("export", "--db", db, "--symbol", "EURUSD", "--timeframe", "1h", "--format", "jsonl")
    check("jsonl export", j.returncode == 0 and j.stdout.startswith('{"symbol":"EURUSD"'))

    # --- HistData M1 bars: symbol from the file name, EST = UTC-5 -------------
    hd = f"{tmp}/DAT_ASCII_GBPUSD_M1_202401.csv"
    with open(hd, "w") as f:
        for m in range(300):  # 2024-01-08 07:00 EST = 12:00 UTC
            hh, mm = 7 + m // 60, m % 60
            f.write(f"20240108 {hh:02d}{mm:02d}00;1.2700{m % 10};1.2710{m % 10};1.2690{m % 10};1.2705{m % 10};0\n")
    p = fx("import", "--db", f"{tmp}/h.db", hd)
    check("histdata M1 import exits 0", p.returncode == 0, p.stderr)
    check("symbol taken from the file name is said", "GBPUSD" in p.stderr and "file name" in p.stderr, p.stderr)
    first = sql(f"{tmp}/h.db", "select min(ts) from bars where symbol='GBPUSD' and timeframe='1m'")
    check("histdata EST 07:00 is 12:00 UTC", first == str(t0), first)
    n5 = sql(f"{tmp}/h.db", "select count(*), sum(volume) from bars where timeframe='5m'")
    check("300 M1 bars make 60 5m bars", n5.startswith("60|"), n5)
    hist = sql(f"{tmp}/h.db", "select count(*) from bars where source != 'historical' or version >= (2 << 40)")
    check("imported bars carry the historical rank", hist == "0")

    # --- HistData ticks --------------------------------------------------------
    ht = f"{tmp}/DAT_ASCII_EURUSD_T_202401.csv"
    with open(ht, "w") as f:
        f.write("20240108 070000123,1.09500,1.09510,0\n20240108 070001500,1.09520,1.09530,0\n")
    p = fx("import", "--db", f"{tmp}/ht.db", ht)
    row = sql(f"{tmp}/ht.db", "select ts, open, close, volume from bars where timeframe='1m'")
    check("histdata ticks: one 1m bar at 12:00 UTC, tick-count volume",
          p.returncode == 0 and row == f"{t0}|1.09505|1.09525|2.0", row + p.stderr)

    # --- Dukascopy ticks (ask first) and bars ----------------------------------
    dt = f"{tmp}/xauusd-tick-2024-01-08-2024-01-09.csv"
    with open(dt, "w") as f:
        f.write("timestamp,askPrice,bidPrice,askVolume,bidVolume\n")
        f.write(f"{t0 + 100},2030.50,2030.10,1.5,2.5\n{t0 + 200},2031.00,2030.60,0.5,0.5\n")
    p = fx("import", "--db", f"{tmp}/d.db", dt)
    row = sql(f"{tmp}/d.db", "select symbol, open, close, volume from bars where timeframe='1m'")
    check("dukascopy ticks: mid from bid/ask, summed volumes",
          p.returncode == 0 and row == "XAUUSD|2030.3|2030.8|5.0", row + p.stderr)
    dbars = f"{tmp}/usdjpy-m1-bid-2024-01-08-2024-01-09.csv"
    with open(dbars, "w") as f:
        f.write("timestamp,open,high,low,close,volume\n")
        for m in range(60):
            f.write(f"{t0 + m * 60000},144.1{m % 10},144.2{m % 10},144.0{m % 10},144.15,{m}\n")
    p = fx("import", "--db", f"{tmp}/d.db", dbars)
    row = sql(f"{tmp}/d.db", "select count(*), sum(volume) from bars where symbol='USDJPY' and timeframe='1m'")
    h1 = sql(f"{tmp}/d.db", "select volume from bars where symbol='USDJPY' and timeframe='1h'")
    check("dukascopy bars: 60 1m bars, one 1h bar with the volume sum",
          p.returncode == 0 and row == "60|1770.0" and h1 == "1770.0", row + " " + h1 + p.stderr)

    # --- generic bars ----------------------------------------------------------
    gb = f"{tmp}/bars.csv"
    with open(gb, "w") as f:
        f.write("symbol,ts,open,high,low,close,volume\n")
        f.write(f"AUDUSD,{t0},0.67,0.671,0.669,0.6705,10\nAUDUSD,2024-01-08T12:01:00Z,0.6705,0.672,0.67,0.671,5\n")
    p = fx("import", "--db", f"{tmp}/g.db", gb)
    row = sql(f"{tmp}/g.db", "select open, high, low, close, volume from bars where timeframe='5m'")
    check("generic bars build higher timeframes", p.returncode == 0 and row == "0.67|0.672|0.669|0.671|15.0", row + p.stderr)

    # --- bad input --------------------------------------------------------------
    bad = f"{tmp}/bad.csv"
    with open(bad, "w") as f:
        f.write("symbol,ts,bid,ask\n")
        f.write(f"EURUSD,{t0},1.1,1.1001\n")            # 2 good
        f.write(f"EURUSD,{t0 + 1000},abc,1.1\n")        # 3 not a number
        f.write(f"EURUSD,{t0 + 2000},1.1002,1.1001\n")  # 4 crossed
        f.write(f"EURUSD,{t0 + 3000}\n")                # 5 too few fields
        f.write(f"EURUSD,{t0 + 4000},1.1003,1.1004\n")  # 6 good
    p = fx("import", "--db", f"{tmp}/b.db", bad)
    check("bad lines: the import still succeeds", p.returncode == 0, p.stderr)
    rej = sql(f"{tmp}/b.db", "select origin, reason from rejects order by origin")
    check("bad lines stored with file:line and reason",
          rej == f"{bad}:3|parse\n{bad}:4|crossed\n{bad}:5|parse", rej)
    good = sql(f"{tmp}/b.db", "select volume from bars where timeframe='1m'")
    check("good lines are not lost", good == "2.0", good)
    p = fx("import", "--db", f"{tmp}/u.db", "--format", "excel", gt)
    check("unknown format: exit 2 naming it", p.returncode == 2 and "excel" in p.stderr, p.stderr)
    p = fx("import", "--db", f"{tmp}/m.db", f"{tmp}/missing.csv")
    check("missing file: exit 3 naming it, no database created",
          p.returncode == 3 and "missing.csv" in p.stderr and not os.path.exists(f"{tmp}/m.db"), p.stderr)
    p = fx("import", "--db", "/etc/passwd/x.db", gt)
    check("unusable database path: exit 3 naming it", p.returncode == 3 and "/etc/passwd/x.db" in p.stderr, p.stderr)
    junk = f"{tmp}/junk.csv"
    with open(junk, "w") as f:
        f.write("hello world\nthis is not market data\n")
    p = fx("import", "--db", f"{tmp}/j.db", junk)
    check("a file in no known format: exit 2 with a reason", p.returncode == 2 and "junk.csv" in p.stderr, p.stderr)
    p = fx("export", "--db", f"{tmp}/none.db", "--symbol", "EURUSD", "--timeframe", "1m")
    check("export from a missing database: exit 3", p.returncode == 3 and "none.db" in p.stderr, p.stderr)

    # --- a full disk: a 160 KiB tmpfs ------------------------------------------
    mnt = f"{tmp}/small"
    os.mkdir(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", mnt],
                      capture_output=True).returncode != 0:
        print("# SKIP full disk: cannot mount a tmpfs here (needs root)")
    else:
        try:
            p = fx("import", "--db", f"{mnt}/full.db", gt)
            check("full disk: non-zero exit with a clear reason",
                  p.returncode != 0 and ("full" in p.stderr or "space" in p.stderr), p.stderr[-300:])
            ic = sql(f"{mnt}/full.db", "pragma integrity_check")
            check("full disk: the database is intact", ic == "ok", ic)
        finally:
            subprocess.run(["umount", mnt])
    print(f"import: {PASSES} passed, {FAILS} failed")
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
