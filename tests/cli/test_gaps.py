#!/usr/bin/python3
"""fxpipe gaps / download end to end against the local fake Polygon server
(tests/tools/fake_polygon.py) with injected faults (429s, a 500, a response
slower than the timeout, pagination), checked with sqlite3:

* injected gaps are found exactly; closed-market time is never a gap;
* --fill downloads only what is missing, stores it, rebuilds the higher
  timeframes and verifies; minutes the source has no data for become
  confirmed-empty and are not detected (or downloaded) again;
* a rejected API key is fatal and never printed;
* a download killed with SIGKILL and run again ends with exactly the bars
  of an uninterrupted download;
* --html writes a coverage page.

usage: test_gaps.py FXPIPE
"""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

FX = sys.argv[1]
SRC = os.environ.get("FXP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
FAKE = os.path.join(SRC, "tests", "tools", "fake_polygon.py")
NY = ZoneInfo("America/New_York")
KEY = "test-key-5f3a9c"
PASSES = FAILS = 0


def check(name, cond, detail=""):
    global PASSES, FAILS
    if cond:
        PASSES += 1
        print(f"ok - {name}")
    else:
        FAILS += 1
        print(f"FAIL - {name} {detail}")


def fx(*args, env=None):
    e = dict(os.environ, POLYGON_API_KEY=KEY)
    e.update(env or {})
    return subprocess.run([FX, *args], capture_output=True, text=True, env=e)


def sql(db, q):
    return subprocess.run(["sqlite3", db, q], capture_output=True, text=True,
                          check=True).stdout.strip()


def open_minutes(start, end):
    """Market-open minutes in [start, end), from zoneinfo (no holidays)."""
    out, t = [], start
    while t < end:
        n = t.astimezone(NY)
        wd, m = n.weekday(), n.hour * 60 + n.minute
        if not (wd == 5 or (wd == 6 and m < 1020) or (wd == 4 and m >= 1020)):
            out.append(int(t.timestamp() * 1000))
        t += timedelta(minutes=1)
    return out


def write_bars(path, sym, minutes, rng):
    with open(path, "w") as f:
        f.write("symbol,ts,open,high,low,close,volume,n\n")
        px = 1.1
        for ts in minutes:
            px *= 1 + rng.gauss(0, 1e-4)
            o, c = round(px, 5), round(px * (1 + rng.gauss(0, 5e-5)), 5)
            n = rng.randint(5, 60)
            f.write(f"{sym},{ts},{o},{max(o, c) + 0.0001:.5f},{min(o, c) - 0.0001:.5f},{c},{n},{n}\n")


class Server:
    def __init__(self, data, *flags):
        self.count = tempfile.mktemp()
        self.p = subprocess.Popen(["/usr/bin/python3", FAKE, "--port", "0", "--key", KEY,
                                   "--count-file", self.count, data, *flags],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("PORT "):
            raise SystemExit(f"fake server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def requests(self):
        try:
            return int(open(self.count).read().strip() or 0)
        except OSError:
            return 0

    def stop(self):
        self.p.kill()
        self.p.wait()


def main():
    rng = random.Random(31337)
    tmp = tempfile.mkdtemp()
    # Two trading weeks across the 2024 autumn DST switch.
    start = datetime(2024, 10, 27, 21, tzinfo=timezone.utc)
    end = datetime(2024, 11, 8, 22, tzinfo=timezone.utc)
    F, T = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    minutes = open_minutes(start, end)
    # The source's data: everything but a few quiet minutes.
    quiet = set(minutes[i] for i in rng.sample(range(len(minutes)), 25))
    server_minutes = [m for m in minutes if m not in quiet]
    full = f"{tmp}/server.csv"
    write_bars(full, "EURUSD", server_minutes, rng)
    # What we already have: the server's data minus three injected gaps.
    lines = open(full).read().splitlines()
    header, rows = lines[0], lines[1:]
    cut = [(1000, 1030), (4000, 4001), (9000, 9300)]
    drop = set()
    for a, b in cut:
        drop.update(range(a, b))
    have = f"{tmp}/have.csv"
    with open(have, "w") as f:
        f.write(header.rsplit(",", 1)[0] + "\n")
        for i, r in enumerate(rows):
            if i not in drop:
                f.write(r.rsplit(",", 1)[0] + "\n")
    db = f"{tmp}/g.db"
    p = fx("import", "--db", db, "--holidays", "none", have)
    check("import of the partial history", p.returncode == 0, p.stderr)

    # 1. Detection: the injected gaps, exactly; quiet minutes too.
    p = fx("gaps", "--db", db, "--symbol", "EURUSD", "--timeframe", "1m",
           "--from", str(F), "--to", str(T), "--holidays", "none", "--json")
    check("gaps exit 1 while gaps remain", p.returncode == 1, p.stderr)
    rep = json.loads(p.stdout.splitlines()[0])
    want = set(minutes) - set(server_minutes[i] for i in range(len(rows)) if i not in drop)
    got = set()
    for g in rep["ranges"]:
        got.update(range(g["start"], g["end"], 60000))
    check_state = all(g["state"] == "missing" for g in rep["ranges"])
    check("every missing minute is reported and nothing else", got == want,
          f"{len(got ^ want)} differ")
    check("expected = open-market minutes", rep["expected"] == len(minutes), rep["expected"])
    check("json has the documented keys", all(k in rep for k in
          ["symbol", "timeframe", "expected", "present", "completeness", "ranges"]))
    check("all ranges are fillable before a fill", check_state)

    # 2. Fill from the fake server with faults.
    srv = Server(full, "--page-size", "400", "--fail-429-every", "3", "--fail-500-at", "2",
                 "--slow-at", "4", "--slow-seconds", "2")
    try:
        html = f"{tmp}/cov.html"
        p = fx("gaps", "--db", db, "--symbol", "EURUSD", "--from", str(F), "--to", str(T),
               "--holidays", "none", "--fill", "--source", "polygon", "--base-url", srv.url,
               "--rate-limit", "0", "--retry-base-ms", "10", "--timeout-ms", "1000",
               "--html", html, "--json")
        check("fill: exit 0 (only confirmed-empty minutes remain)", p.returncode == 0,
              p.stderr[-600:])
        check("fill: the key is never printed", KEY not in p.stderr and KEY not in p.stdout)
        n = sql(db, "select count(*) from bars where timeframe='1m'")
        check("fill: every minute the source has is stored", n == str(len(server_minutes)), n)
        reps = [json.loads(l) for l in p.stdout.splitlines()]
        m1 = [r for r in reps if r["timeframe"] == "1m"][0]
        empty = sum(g["bars"] for g in m1["ranges"] if g["state"] == "confirmed-empty")
        miss = [g for g in m1["ranges"] if g["state"] == "missing"]
        check("fill: quiet minutes are confirmed-empty, nothing missing",
              empty == len(quiet) and not miss, f"{empty} {miss[:3]}")
        bad = sql(db, "select count(*) from bars h where timeframe='1h' and volume != "
                      "(select sum(volume) from bars m where m.symbol=h.symbol and "
                      "m.timeframe='1m' and m.ts >= h.ts and m.ts < h.ts + 3600000)")
        check("fill: 1h bars rebuilt from the completed 1m bars", bad == "0", bad)
        led = sql(db, "select state, count(*) from ledger group by state")
        check("fill: ledger days verified", "verified" in led and "review" not in led, led)
        check("fill: coverage page written", os.path.exists(html) and
              "<table" in open(html).read() and "EURUSD" in open(html).read())
        r1 = srv.requests()
        # 3. Again: confirmed-empty is not re-detected, nothing downloaded.
        p = fx("gaps", "--db", db, "--symbol", "EURUSD", "--timeframe", "1m",
               "--from", str(F), "--to", str(T), "--holidays", "none", "--fill",
               "--source", "polygon", "--base-url", srv.url, "--rate-limit", "0")
        check("second fill: exit 0, no request sent", p.returncode == 0 and srv.requests() == r1,
              f"{r1} -> {srv.requests()} {p.stderr[-300:]}")
        # 4. A wrong key: fatal, not retried, not printed.
        p = fx("download", "--db", f"{tmp}/k.db", "--source", "polygon", "--base-url", srv.url,
               "--symbol", "EURUSD", "--from", str(F), "--to", str(T), "--rate-limit", "0",
               env={"POLYGON_API_KEY": "wrong-key-77"})
        check("wrong key: exit 2 with a clear message", p.returncode == 2 and "401" in p.stderr,
              p.stderr[-300:])
        check("wrong key: the key is not printed", "wrong-key-77" not in p.stderr)
    finally:
        srv.stop()

    # 5. kill -9 during a download, then again: same result as a clean run.
    srv = Server(full, "--page-size", "200")
    try:
        clean = f"{tmp}/clean.db"
        p = fx("download", "--db", clean, "--source", "polygon", "--base-url", srv.url,
               "--symbol", "EURUSD", "--from", str(F), "--to", str(T), "--rate-limit", "0",
               "--holidays", "none")
        check("clean download: exit 0", p.returncode == 0, p.stderr[-300:])
        crash = f"{tmp}/crash.db"
        args = [FX, "download", "--db", crash, "--source", "polygon", "--base-url", srv.url,
                "--symbol", "EURUSD", "--from", str(F), "--to", str(T), "--rate-limit", "240",
                "--holidays", "none"]
        env = dict(os.environ, POLYGON_API_KEY=KEY)
        k = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.0)
        k.send_signal(signal.SIGKILL)
        k.wait()
        mid = sql(crash, "select count(*) from bars where timeframe='1m'")
        p = fx("download", "--db", crash, "--source", "polygon", "--base-url", srv.url,
               "--symbol", "EURUSD", "--from", str(F), "--to", str(T), "--rate-limit", "0",
               "--holidays", "none")
        check(f"kill -9 landed mid-download ({mid} of {len(server_minutes)} 1m bars stored)",
              0 < int(mid) < len(server_minutes))
        check("rerun after kill -9: exit 0", p.returncode == 0, p.stderr[-300:])
        q = "select symbol, timeframe, ts, open, high, low, close, volume, ticks, version from bars order by 1, 2, 3"
        check("after kill -9 and rerun: bars identical to a clean download",
              sql(crash, q) == sql(clean, q))
        dup = sql(crash, "select count(*) from (select 1 from bars group by symbol, timeframe, ts having count(*) > 1)")
        check("no duplicates", dup == "0")
    finally:
        srv.stop()
    print(f"gaps: {PASSES} passed, {FAILS} failed")
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
