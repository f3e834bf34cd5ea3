#!/usr/bin/env python3
"""Write a sorted tick CSV (symbol,ts,bid,ask) for tests and benchmarks.

usage: gen_ticks.py OUT [--days N] [--seed S] [--symbols A,B,C] [--start MS]
                        [--min-gap MS] [--max-gap MS]

Quotes for each symbol follow a random walk from a plausible price with the
symbol's decimals, from Sunday 2024-03-17 22:00 UTC (18:00 New York, the
market open) for N days less an hour, so every tick is in market hours.
"""
import argparse
import random

PX = {"EURUSD": (1.09, 5), "USDJPY": (149.0, 3), "XAUUSD": (2160.0, 2),
      "GBPUSD": (1.27, 5), "AUDUSD": (0.65, 5), "USDCHF": (0.89, 5)}

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--days", type=float, default=5)
ap.add_argument("--seed", type=int, default=7)
ap.add_argument("--symbols", default="EURUSD,USDJPY,XAUUSD")
ap.add_argument("--start", type=int, default=1710712800000)
ap.add_argument("--min-gap", type=int, default=500)
ap.add_argument("--max-gap", type=int, default=20000)
a = ap.parse_args()
r = random.Random(a.seed)
end = a.start + int(a.days * 86400000) - 3600000
rows = []
for sym in a.symbols.split(","):
    px, d = PX.get(sym, (1.0, 5))
    t = a.start
    while True:
        t += r.randint(a.min_gap, a.max_gap)
        if t >= end:
            break
        px *= 1 + r.gauss(0, 1e-4)
        b = round(px, d)
        rows.append((t, sym, f"{b:.{d}f}",
                     f"{b + 10 ** -d * r.randint(1, 9):.{d}f}"))
rows.sort()
with open(a.out, "w") as f:
    f.write("symbol,ts,bid,ask\n")
    for t, s, b, ask in rows:
        f.write(f"{s},{t},{b},{ask}\n")
