#!/usr/bin/python3
"""The pandas peer of `fxpipe resample`: read_csv + resample().ohlc() for
the 8 timeframes (UTC-aligned, as pandas does by default). Prints the
number of bars so the work cannot be skipped."""
import sys

import pandas as pd

RULES = ["1min", "5min", "15min", "30min", "1H", "4H", "1D", "W-MON"]
df = pd.read_csv(sys.argv[1])
df["px"] = (df["bid"] + df["ask"]) / 2
df.index = pd.to_datetime(df["ts"], unit="ms")
n = 0
for rule in RULES:
    g = df.groupby("symbol")["px"].resample(rule)
    o = g.ohlc()
    o["volume"] = g.count()
    n += int((o["volume"] > 0).sum())
print(n)
