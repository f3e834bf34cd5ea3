#!/usr/bin/python3
"""Oracle for `fxpipe calendar`: the weekly sessions of 2000-2035, checked
against sessions computed independently with Python's zoneinfo (the same
IANA rules, a different implementation).

  1. --holidays none: every week is Sunday 17:00 -> Friday 17:00
     America/New_York, converted to UTC by zoneinfo, clipped to the range.
  2. --holidays default: the same minus exactly the trading days that end
     17:00 New York on a weekday Christmas Day or New Year's Day (each runs
     17:00 the day before -> 17:00 that day).

Usage: test_dst_calendar.py PATH/TO/fxpipe
"""
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")
UTC = timezone.utc
FROM = datetime(2000, 1, 1, tzinfo=UTC)
TO = datetime(2036, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def ny_1700(d):
    """17:00 New York on date d, as a UTC datetime."""
    return datetime(d.year, d.month, d.day, 17, tzinfo=NY).astimezone(UTC)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def clip(spans):
    out = []
    for o, c in spans:
        o, c = max(o, FROM), min(c, TO)
        if o < c:
            out.append((o, c))
    return out


def weekly_sessions():
    """Sunday 17:00 -> Friday 17:00 New York for every week near 2000-2035."""
    spans = []
    d = date(1999, 12, 26)  # a Sunday
    while ny_1700(d) < TO:
        spans.append((ny_1700(d), ny_1700(d + 5 * DAY)))
        d += 7 * DAY
    return clip(spans)


def is_default_holiday(d):
    return (d.month, d.day) in ((12, 25), (1, 1))


def trading_day_sessions(closed):
    """Merge the trading days [17:00 NY on D-1, 17:00 NY on D) of every
    weekday D for which closed(D) is false."""
    spans = []
    d = date(1999, 12, 27)
    while ny_1700(d - DAY) < TO:
        if d.weekday() < 5 and not closed(d):
            o, c = ny_1700(d - DAY), ny_1700(d)
            if spans and spans[-1][1] == o:
                spans[-1] = (spans[-1][0], c)
            else:
                spans.append((o, c))
        d += DAY
    return clip(spans)


def run(binary, holidays):
    cmd = [binary, "calendar", "--from", "2000-01-01", "--to", "2036-01-01",
           "--holidays", holidays]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("dst oracle: '%s' exited %d: %s"
                 % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return p.stdout.splitlines()


def compare(label, got, spans):
    want = ["%s,%s" % (iso(o), iso(c)) for o, c in spans]
    bad = [i for i in range(max(len(got), len(want)))
           if i >= len(got) or i >= len(want) or got[i] != want[i]]
    for i in bad[:20]:
        print("%s: line %d: got  %s" % (label, i + 1,
                                       got[i] if i < len(got) else "<none>"))
        print("%s: line %d: want %s" % (label, i + 1,
                                       want[i] if i < len(want) else "<none>"))
    if len(got) != len(want):
        print("%s: %d lines, want %d" % (label, len(got), len(want)))
    return len(bad)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: test_dst_calendar.py PATH/TO/fxpipe")
    binary = sys.argv[1]
    failures = 0

    # 1. Weekends only.
    weeks = weekly_sessions()
    # The trading-day construction must agree with the weekly one.
    assert trading_day_sessions(lambda d: False) == weeks
    n_bad = compare("none", run(binary, "none"), weeks)
    print("dst oracle: %d weeks compared, %d mismatches" % (len(weeks), n_bad))
    failures += n_bad

    # 2. Built-in holidays: Christmas and New Year's Day trading days gone.
    removed = [d for d in (date(y, m, dd) for y in range(1999, 2037)
                           for m, dd in ((1, 1), (12, 25)))
               if d.weekday() < 5 and ny_1700(d - DAY) < TO and ny_1700(d) > FROM]
    hol = trading_day_sessions(is_default_holiday)
    n_bad = compare("default", run(binary, "default"), hol)
    # Exactly those days went: the open time lost is their length.
    lost = sum(((c - o) for o, c in weeks), timedelta()) - \
        sum(((c - o) for o, c in hol), timedelta())
    want_lost = sum((min(ny_1700(d), TO) - max(ny_1700(d - DAY), FROM)
                     for d in removed), timedelta())
    if lost != want_lost:
        print("default: %s of open time removed, want %s" % (lost, want_lost))
        n_bad += 1
    print("holiday oracle: %d sessions compared, %d trading days removed, "
          "%d mismatches" % (len(hol), len(removed), n_bad))
    failures += n_bad
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
