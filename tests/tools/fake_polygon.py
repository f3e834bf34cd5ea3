#!/usr/bin/env python3
"""fake_polygon.py - a local stand-in for Polygon.io's REST aggregates.

Serves GET /v2/aggs/ticker/C:SYM/range/1/minute/FROM/TO from a CSV of 1m
bars (header symbol,ts,open,high,low,close,volume,n; ts in Unix ms) in the
response shape Polygon documents, with cursor pagination (next_url without
the apiKey), API-key checks and fault injection. Binds 127.0.0.1 on --port
(0 = any free port), prints "PORT <n>" on stdout once listening, then
serves until killed. Each request is logged to stderr (path without the
apiKey, status). Python 3 standard library only.

  fake_polygon.py bars.csv --key KEY [--port 0] [--page-size 1000]
      [--fail-429-every N] [--fail-500-at 2,5] [--slow-at 3]
      [--slow-seconds 3] [--empty-symbol GBPUSD] [--drop-field h]
      [--count-file FILE]

Request numbers count every request from 1, whatever its answer. Faults
come before the key check, like errors from a proxy in front of the API:
--slow-at sleeps and then answers normally (or with the fault due).
"""
import argparse
import base64
import binascii
import csv
import datetime
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit


def parse_list(s):
    return {int(x) for x in s.split(",") if x.strip()} if s else set()


def parse_time(s, end):
    """FROM/TO as Unix ms or YYYY-MM-DD (TO = the whole day, inclusive)."""
    if s.isdigit():
        return int(s)
    d = datetime.datetime.strptime(s, "%Y-%m-%d").replace(
        tzinfo=datetime.timezone.utc)
    ms = int(d.timestamp() * 1000)
    return ms + 86400000 - 1 if end else ms


def load_bars(path):
    bars = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            bar = {
                "t": int(row["ts"]),
                "o": float(row["open"]),
                "h": float(row["high"]),
                "l": float(row["low"]),
                "c": float(row["close"]),
                "v": float(row.get("volume") or 0),
                "n": int(row.get("n") or 1),
            }
            bar["vw"] = round((bar["o"] + bar["c"]) / 2, 6)
            bars.setdefault(row["symbol"].upper(), []).append(bar)
    for lst in bars.values():
        lst.sort(key=lambda b: b["t"])
    return bars


class State:
    def __init__(self, args):
        self.args = args
        self.bars = load_bars(args.csv)
        self.fail_500 = parse_list(args.fail_500_at)
        self.slow = parse_list(args.slow_at)
        self.empty = {s.upper() for s in args.empty_symbol}
        self.lock = threading.Lock()
        self.count = 0
        self.port = 0

    def next_request(self):
        with self.lock:
            self.count += 1
            n = self.count
            if self.args.count_file:
                tmp = self.args.count_file + ".tmp"
                with open(tmp, "w") as f:
                    f.write("%d\n" % n)
                os.replace(tmp, self.args.count_file)
        return n


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_polygon/1"

    def log_message(self, fmt, *a):  # the default log goes to stderr too
        pass

    def answer(self, status, obj, shown):
        body = json.dumps(obj).encode()
        sys.stderr.write("fake_polygon: %s %s %d\n" %
                         (self.command, shown, status))
        sys.stderr.flush()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timed out) before we answered

    def do_GET(self):
        st = self.server.state
        a = st.args
        n = st.next_request()
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        shown = url.path + ("?" + urlencode(
            [(k, v) for k, vs in q.items() if k != "apiKey" for v in vs])
            if any(k != "apiKey" for k in q) else "")
        rid = uuid.uuid4().hex
        if n in st.slow:
            time.sleep(a.slow_seconds)
        if n in st.fail_500:
            return self.answer(500, {"status": "ERROR", "request_id": rid,
                                     "error": "injected failure"}, shown)
        if a.fail_429_every and n % a.fail_429_every == 0:
            return self.answer(429, {"status": "ERROR", "request_id": rid,
                                     "error": "You've exceeded the maximum "
                                     "requests per minute"}, shown)
        if q.get("apiKey", [None])[0] != a.key:
            return self.answer(401, {"status": "ERROR", "request_id": rid,
                                     "error": "Unknown API Key"}, shown)
        parts = url.path.split("/")
        # ['', 'v2', 'aggs', 'ticker', 'C:SYM', 'range', M, SPAN, FROM, TO]
        if (len(parts) != 10 or parts[1:4] != ["v2", "aggs", "ticker"] or
                parts[5] != "range" or not parts[4].startswith("C:")):
            return self.answer(404, {"status": "NOT_FOUND", "request_id": rid,
                                     "message": "no such route"}, shown)
        sym, mult, span = parts[4][2:].upper(), parts[6], parts[7]
        if (mult, span) != ("1", "minute"):
            return self.answer(400, {
                "status": "ERROR", "request_id": rid,
                "error": "fake_polygon serves range/1/minute only, not "
                         "%s/%s" % (mult, span)}, shown)
        try:
            t0 = parse_time(parts[8], False)
            t1 = parse_time(parts[9], True)
            limit = int(q.get("limit", ["50000"])[0])
            offset = 0
            if "cursor" in q:
                offset = int(base64.urlsafe_b64decode(q["cursor"][0]))
        except (ValueError, binascii.Error):
            return self.answer(400, {"status": "ERROR", "request_id": rid,
                                     "error": "bad request"}, shown)
        rows = [] if sym in st.empty else [
            b for b in st.bars.get(sym, []) if t0 <= b["t"] <= t1]
        page = rows[offset:offset + min(limit, a.page_size)]
        if a.drop_field:
            page = [dict(b) for b in page]
            for b in page[:1]:
                b.pop(a.drop_field, None)
        obj = {"adjusted": True, "queryCount": len(rows),
               "request_id": rid, "resultsCount": len(page),
               "status": "OK", "ticker": "C:" + sym}
        if page:
            obj["results"] = page
        end = offset + len(page)
        if end < len(rows):
            cursor = base64.urlsafe_b64encode(str(end).encode()).decode()
            obj["next_url"] = ("http://127.0.0.1:%d%s?cursor=%s" %
                               (st.port, url.path, cursor))
        return self.answer(200, obj, shown)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key", default="testkey")
    ap.add_argument("--page-size", type=int, default=1000)
    ap.add_argument("--fail-429-every", type=int, default=0)
    ap.add_argument("--fail-500-at", default="")
    ap.add_argument("--slow-at", default="")
    ap.add_argument("--slow-seconds", type=float, default=3.0)
    ap.add_argument("--empty-symbol", action="append", default=[])
    ap.add_argument("--drop-field", default="",
                    help="drop this field from each page's first bar")
    ap.add_argument("--count-file", default="")
    args = ap.parse_args()

    state = State(args)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.state = state
    state.port = srv.server_address[1]
    print("PORT %d" % state.port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
