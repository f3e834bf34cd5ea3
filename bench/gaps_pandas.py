#!/usr/bin/python3
"""The pandas side of bench_gaps (a): missing runs in ten years of 1m bars.

Data (not timed): a tz-aware pd.date_range of every minute of
2015-01-01 .. 2025-01-01 filtered to market hours (Sunday 17:00 -> Friday
17:00 America/New_York, minus the trading days of Dec 25 and Jan 1, the
default holidays), then ~1% removed in seeded runs of 1..120 minutes.
Timed with time.perf_counter, median of 3: the set difference expected -
present and the coalescing of the missing minutes into runs (diff/cumsum,
groupby: first, last + 1 minute, count) - what fxp_gaps_diff does.
A plain numpy variant on int64 minutes is timed too, for reference.

usage: gaps_pandas.py [runs]
"""
import statistics
import sys
import time
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

NY = ZoneInfo("America/New_York")
SEED = 20150101
RUN_MAX = 120


def expected_minutes():
    utc = pd.date_range("2015-01-01", "2025-01-01", freq="1min", inclusive="left",
                        tz="UTC")
    local = utc.tz_convert(NY)
    wd = np.asarray(local.dayofweek)
    mins = np.asarray(local.hour * 60 + local.minute)
    is_open = (wd <= 3) | ((wd == 4) & (mins < 17 * 60)) | ((wd == 6) & (mins >= 17 * 60))
    # The trading day ends at 17:00 New York: shift by 7 h to get its date.
    tday = (local + pd.Timedelta(hours=7))
    month, day = np.asarray(tday.month), np.asarray(tday.day)
    holiday = ((month == 12) & (day == 25)) | ((month == 1) & (day == 1))
    return utc[is_open & ~holiday]


def remove_runs(expected, rng):
    """~1% removed: a run of 1..RUN_MAX starts at a bar with p = 1/6050."""
    n = len(expected)
    keep = np.ones(n, dtype=bool)
    starts = np.flatnonzero(rng.random(n) < 1 / (100 * (RUN_MAX + 1) / 2))
    for s, k in zip(starts, rng.integers(1, RUN_MAX + 1, size=len(starts))):
        keep[s:s + k] = False
    return expected[keep]


def runs_pandas(expected, present):
    missing = expected.difference(present)
    s = pd.Series(missing)
    run = (s.diff() != pd.Timedelta(minutes=1)).cumsum()
    g = s.groupby(run)
    out = pd.DataFrame({"start": g.first(), "end": g.last() + pd.Timedelta(minutes=1),
                        "bars": g.size()})
    return out, len(missing)


def runs_numpy(e, p):
    missing = e[~np.isin(e, p, assume_unique=True)]
    brk = np.flatnonzero(np.diff(missing) != 60000) + 1
    starts = np.concatenate(([0], brk))
    ends = np.concatenate((brk, [len(missing)]))
    return missing[starts], missing[ends - 1] + 60000, ends - starts


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rng = np.random.default_rng(SEED)
    t0 = time.perf_counter()
    expected = expected_minutes()
    present = remove_runs(expected, rng)
    print(f"data: {len(expected)} expected 1m bars, {len(present)} present "
          f"({100 * (1 - len(present) / len(expected)):.2f}% removed), "
          f"built in {time.perf_counter() - t0:.1f} s (not timed)")

    t, res = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        res = runs_pandas(expected, present)
        t.append((time.perf_counter() - t0) * 1e3)
    print(f"pandas (DatetimeIndex.difference + diff/cumsum/groupby): "
          f"{statistics.median(t):.1f} ms (median of {runs}); "
          f"{len(res[0])} ranges, {res[1]} missing")

    e = expected.asi8 // 1_000_000
    p = present.asi8 // 1_000_000
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        st, en, k = runs_numpy(e, p)
        t.append((time.perf_counter() - t0) * 1e3)
    print(f"numpy (isin + diff on int64 ms): {statistics.median(t):.1f} ms "
          f"(median of {runs}); {len(st)} ranges, {int(k.sum())} missing")


if __name__ == "__main__":
    main()
