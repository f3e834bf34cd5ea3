#!/usr/bin/python3
"""Gap oracle: `fxpipe gaps` vs an independent pandas computation.

Three weeks of 1m bars (2024-10-27 .. 2024-11-17, across the US DST
switch of 2024-11-03) for two symbols are written at open-market minutes
only (Sunday 17:00 -> Friday 17:00 America/New_York, from zoneinfo, no
holidays), random runs of minutes are deleted (seeded; the seed is
printed, FXP_SEED overrides it), the file is imported and `fxpipe gaps
--json` must report exactly the missing runs that pandas finds: a
tz-aware date_range of the open-market minutes minus the present ones,
coalesced into runs of consecutive minutes. No range may touch a closed
minute, and the exit status must be 1 (gaps remain).

usage: test_gaps_pandas.py /path/to/fxpipe
"""
import json
import os
import random
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

NY = ZoneInfo("America/New_York")
SEED = int(os.environ.get("FXP_SEED", "20241103"))
FROM = datetime(2024, 10, 27, tzinfo=timezone.utc)
TO = datetime(2024, 11, 17, tzinfo=timezone.utc)
SYMBOLS = {"EURUSD": 1.0850, "GBPUSD": 1.2950}
MINUTE_MS = 60000


def is_open(dt_utc):
    """Sunday 17:00 -> Friday 17:00 New York, by zoneinfo (holidays: none)."""
    t = dt_utc.astimezone(NY)
    wd, minutes = t.weekday(), t.hour * 60 + t.minute  # Monday = 0
    if wd == 5:
        return False
    if wd == 6:
        return minutes >= 17 * 60
    if wd == 4:
        return minutes < 17 * 60
    return True


def open_minutes_python():
    """Open-market minute starts (Unix ms), minute by minute in Python."""
    out, t = [], FROM
    while t < TO:
        if is_open(t):
            out.append(int(t.timestamp() * 1000))
        t += timedelta(minutes=1)
    return out


def ms(text):
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def delete_runs(minutes, rng):
    """Remove random runs, plus runs placed on the edges that matter: the
    Friday close, the Sunday open after the DST switch, UTC midnight."""
    gone = set()
    idx = {m: i for i, m in enumerate(minutes)}
    for _ in range(40):
        start = rng.randrange(len(minutes))
        length = rng.choice([1, 1, 2, 3, 5, 17, 60, 240, 900])
        gone.update(minutes[start:start + length])
    fixed = [("2024-11-01T16:50:00-04:00", 10),   # to the Friday close
             ("2024-11-03T17:00:00-05:00", 7),    # the first minutes after DST
             ("2024-11-05T23:55:00+00:00", 10),   # across UTC midnight
             ("2024-11-08T16:58:00-05:00", 2)]    # Friday close, winter time
    for start, length in fixed:
        i = idx[ms(start)]
        gone.update(minutes[i:i + length])
    # A run over a weekend: the last hour of Friday and the first of Sunday.
    i = idx[ms("2024-11-15T16:00:00-05:00")]
    gone.update(minutes[i:i + 120])
    return gone


def write_csv(path, present, rng):
    with open(path, "w") as f:
        f.write("symbol,ts,open,high,low,close,volume\n")
        rows = []
        for sym, px in SYMBOLS.items():
            for t in present[sym]:
                px *= 1 + rng.gauss(0, 0.0002)
                o = round(px, 5)
                c = round(px * (1 + rng.gauss(0, 0.0001)), 5)
                h = round(max(o, c) + 0.0002, 5)
                lo = round(min(o, c) - 0.0002, 5)
                rows.append((t, sym, o, h, lo, c, rng.randint(1, 90)))
        rows.sort()
        for t, sym, o, h, lo, c, v in rows:
            f.write(f"{sym},{t},{o:.5f},{h:.5f},{lo:.5f},{c:.5f},{v}\n")


def pandas_ranges(present_ms):
    """The missing runs, computed with pandas independently of fxpipe."""
    utc = pd.date_range(FROM, TO, freq="1min", inclusive="left", tz="UTC")
    local = utc.tz_convert(NY)
    wd, mins = local.dayofweek, local.hour * 60 + local.minute
    open_mask = ((wd <= 3) | ((wd == 4) & (mins < 17 * 60)) |
                 ((wd == 6) & (mins >= 17 * 60)))
    expected = utc[np.asarray(open_mask)]
    present = pd.to_datetime(sorted(present_ms), unit="ms", utc=True)
    missing = expected.difference(present)
    if len(missing) == 0:
        return len(expected), []
    s = pd.Series(missing)
    run = (s.diff() != pd.Timedelta(minutes=1)).cumsum()
    g = s.groupby(run)
    first, last, n = g.min(), g.max(), g.size()
    out = []
    for a, b, k in zip(first, last, n):
        start = int(a.value // 1_000_000)
        out.append((start, int(b.value // 1_000_000) + MINUTE_MS, int(k)))
    return len(expected), out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    fx = sys.argv[1]
    print(f"seed {SEED} (set FXP_SEED to repeat another)")
    rng = random.Random(SEED)
    minutes = open_minutes_python()
    open_set = set(minutes)
    present = {}
    for sym in SYMBOLS:
        gone = delete_runs(minutes, rng)
        present[sym] = [m for m in minutes if m not in gone]
        print(f"{sym}: {len(minutes)} open minutes, {len(gone)} deleted")

    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        csv, db = f"{tmp}/bars.csv", f"{tmp}/gaps.db"
        write_csv(csv, present, rng)
        p = subprocess.run([fx, "import", "--db", db, "--holidays", "none", csv],
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"fxpipe import failed ({p.returncode}):\n{p.stderr}")
        for sym in SYMBOLS:
            p = subprocess.run([fx, "gaps", "--db", db, "--symbol", sym,
                                "--timeframe", "1m", "--from", FROM.isoformat(),
                                "--to", TO.isoformat(), "--holidays", "none",
                                "--json"], capture_output=True, text=True)
            if p.returncode == 2 and "unknown command" in p.stderr:
                sys.exit("fxpipe gaps does not exist yet")
            if p.returncode != 1:
                print(f"FAIL {sym}: exit {p.returncode}, want 1 (gaps remain)\n"
                      f"{p.stderr}")
                failures += 1
            reps = [json.loads(line) for line in p.stdout.splitlines() if line]
            reps = [r for r in reps if r["symbol"] == sym and r["timeframe"] == "1m"]
            if len(reps) != 1:
                print(f"FAIL {sym}: {len(reps)} 1m reports in:\n{p.stdout[:500]}")
                failures += 1
                continue
            r = reps[0]
            n_expected, want = pandas_ranges(present[sym])
            got = [(g["start"], g["end"], g["bars"]) for g in r["ranges"]]
            states = {g["state"] for g in r["ranges"]}
            if n_expected != r["expected"] or len(present[sym]) != r["present"]:
                print(f"FAIL {sym}: expected/present {r['expected']}/{r['present']},"
                      f" pandas {n_expected}/{len(present[sym])}")
                failures += 1
            if states - {"missing"}:
                print(f"FAIL {sym}: states {states}, want only 'missing'")
                failures += 1
            if got != want:
                only_fx = sorted(set(got) - set(want))[:10]
                only_pd = sorted(set(want) - set(got))[:10]
                print(f"FAIL {sym}: {len(got)} ranges from fxpipe, {len(want)} from"
                      f" pandas\n  only fxpipe: {only_fx}\n  only pandas: {only_pd}")
                failures += 1
            closed = [(a, b) for a, b, _ in got
                      if any(t not in open_set for t in range(a, b, MINUTE_MS))]
            if closed:
                print(f"FAIL {sym}: ranges touching closed minutes: {closed[:5]}")
                failures += 1
            missing = sum(k for _, _, k in want)
            if r["missing"] != missing or r["complete"]:
                print(f"FAIL {sym}: missing {r['missing']} (want {missing}), "
                      f"complete {r['complete']}")
                failures += 1
            print(f"{sym}: {len(got)} ranges, {r['missing']} missing bars, "
                  f"completeness {r['completeness']:.6f}: "
                  f"{'match' if got == want else 'MISMATCH'}")
    if failures:
        sys.exit(f"gaps oracle: {failures} failures")
    print("gaps oracle: all ranges match pandas")


if __name__ == "__main__":
    main()
