#!/usr/bin/python3
# test_kafka_wire.py - what fxpipe puts on Kafka, read by clients that share
# no code with it. It hosts a mock cluster itself:
# servers:
#
# The kafka_mock program (env FXP_KAFKA_MOCK) hosts librdkafka's mock
# cluster; test_bus_kafka (env FXP_BUS_KAFKA_TEST) in its wire mode
# publishes a known set of batches through fxpipe's Kafka bus and writes
# what it sent to a manifest. confluent_kafka (a consumer group) and kcat
# read the topics back; every payload is decoded here from the batch layout
# of docs/wire-format.md (src/reliable/batchcodec.c) and must equal the
# manifest: keys, headers, ticks, tick positions, bars, order per symbol.
# Both programs default to $FXP_BUILD_DIR/tests/; without them: SKIP.
import os
import signal
import shutil
import struct
import subprocess
import sys
import tempfile
import time

CONTENT_TYPE = "application/vnd.fxpipe.batch; v=1"


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def program(env, name):
    path = os.environ.get(env)
    if not path and os.environ.get("FXP_BUILD_DIR"):
        path = os.path.join(os.environ["FXP_BUILD_DIR"], "tests", name)
    return path if path and os.access(path, os.X_OK) else None


# ---- the batch layout, written from the format description ----

def crc32c(data):
    table = crc32c.table
    if table is None:
        table = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table.append(c)
        crc32c.table = table
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ table[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


crc32c.table = None


class Reader:
    def __init__(self, buf, end):
        self.buf, self.p, self.end = buf, 0, end

    def take(self, fmt):
        n = struct.calcsize(fmt)
        if self.p + n > self.end:
            raise ValueError("truncated at %d" % self.p)
        v = struct.unpack_from(fmt, self.buf, self.p)
        self.p += n
        return v

    def bytes(self, n):
        if self.p + n > self.end:
            raise ValueError("truncated string at %d" % self.p)
        v = self.buf[self.p:self.p + n]
        self.p += n
        return v

    def str(self):
        (n,) = self.take("<I")
        return None if n == 0xFFFFFFFF else self.bytes(n).decode()


def decode(buf):
    """A payload as {'syms', 'bars', 'ticks', 'pos', 'rejects', 'meta'}."""
    if len(buf) < 24 or buf[:4] != b"FXPB" or buf[4] != 1:
        raise ValueError("not a version 1 batch")
    (crc,) = struct.unpack_from("<I", buf, len(buf) - 4)
    if crc != crc32c(buf[:-4]):
        raise ValueError("bad CRC-32C")
    r = Reader(buf, len(buf) - 4)
    r.p = 5
    flags, n_syms, n_bars, n_ticks, n_rej = r.take("<BHIII")
    if flags & ~3:
        raise ValueError("unknown flags %#x" % flags)
    syms = []
    for _ in range(n_syms):
        (n,) = r.take("<B")
        syms.append(r.bytes(n).decode())
    out = {"syms": syms, "bars": [], "ticks": [], "pos": None,
           "rejects": [], "meta": None}
    for _ in range(n_bars):
        ts, o, h, lo, c, v, ver, nt, sym, tf, src, fl = r.take("<q5dqIHBBH")
        out["bars"].append((syms[sym], ts, o, h, lo, c, v, ver, nt, tf, src,
                            fl))
    for _ in range(n_ticks):
        ts, bid, ask, vol, sym, fl = r.take("<q3dHI")
        out["ticks"].append((syms[sym], ts, bid, ask, vol, fl))
    if flags & 2:
        out["pos"] = [r.take("<Q")[0] for _ in range(n_ticks)]
    for _ in range(n_rej):
        origin = r.str()
        (ts,) = r.take("<q")
        out["rejects"].append((origin, ts, r.str(), r.str(), r.str(),
                               r.str()))
    if flags & 1:
        out["meta"] = (r.str(), r.str())
    if r.p != r.end:
        raise ValueError("%d bytes left before the CRC" % (r.end - r.p))
    return out


# ---- the manifest test_bus_kafka wrote ----

def read_manifest(path):
    msgs, cur = [], None
    with open(path) as f:
        for line in f:
            w = line.split()
            if w[0] == "msg":
                cur = {"stream": w[1], "key": w[2], "id": w[3],
                       "corr": None if w[4] == "-" else w[4], "n": int(w[5]),
                       "ticks": [], "pos": [], "bars": []}
                msgs.append(cur)
            elif w[0] == "tick":
                cur["ticks"].append((w[1], int(w[2]), float(w[3]),
                                     float(w[4]), float(w[5]), int(w[6])))
                cur["pos"].append(int(w[7]))
            elif w[0] == "bar":
                cur["bars"].append((w[1], int(w[2]), float(w[3]), float(w[4]),
                                    float(w[5]), float(w[6]), float(w[7]),
                                    int(w[8]), int(w[9]), int(w[10])))
    return {m["id"]: m for m in msgs}


def check_payload(want, value, where):
    d = decode(value)
    if want["stream"] == "ticks":
        if d["ticks"] != want["ticks"] or d["pos"] != want["pos"]:
            fail("%s: ticks %r pos %r, sent %r pos %r" % (
                where, d["ticks"], d["pos"], want["ticks"], want["pos"]))
        if d["bars"]:
            fail("%s: bars in a ticks batch" % where)
    else:
        got = [b[:10] for b in d["bars"]]
        if got != want["bars"] or d["ticks"]:
            fail("%s: bars %r, sent %r" % (where, got, want["bars"]))
    if d["rejects"] or d["meta"]:
        fail("%s: unexpected rejects or meta" % where)


def check_headers(want, key, headers, where):
    h = dict(headers)
    if key != want["key"]:
        fail("%s: key %r, sent %r" % (where, key, want["key"]))
    if h.get("fxpipe-msg-id") != want["id"]:
        fail("%s: fxpipe-msg-id %r" % (where, h.get("fxpipe-msg-id")))
    if h.get("content-type") != CONTENT_TYPE:
        fail("%s: content-type %r" % (where, h.get("content-type")))
    if h.get("correlation-id") != want["corr"]:
        fail("%s: correlation-id %r, sent %r" % (where, h.get(
            "correlation-id"), want["corr"]))


def check_order(seen, where):
    """seen: (key, partition, offset, id) in arrival order."""
    by_key = {}
    for key, part, off, mid in seen:
        by_key.setdefault(key, []).append((part, off, int(mid.split("-")[-1])))
    for key, lst in by_key.items():
        if len({p for p, _, _ in lst}) != 1:
            fail("%s: %s spread over partitions" % (where, key))
        if [s for _, _, s in sorted(lst)] != sorted(s for _, _, s in lst):
            fail("%s: %s out of order: %r" % (where, key, lst))


def read_confluent(bs, manifest):
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": bs, "group.id": "wire-check",
                  "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe(["fxpipe.ticks", "fxpipe.bars"])
    got, seen, end = {}, [], time.time() + 60
    while len(got) < len(manifest) and time.time() < end:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            fail("confluent_kafka: %s" % m.error())
        headers = [(k, v.decode()) for k, v in (m.headers() or [])]
        mid = dict(headers).get("fxpipe-msg-id", "?")
        if mid not in manifest or mid in got:
            fail("confluent_kafka: unexpected or repeated message %r" % mid)
        want = manifest[mid]
        if m.topic() != "fxpipe." + want["stream"]:
            fail("%s on topic %s" % (mid, m.topic()))
        where = "confluent_kafka %s" % mid
        check_headers(want, m.key().decode(), headers, where)
        check_payload(want, m.value(), where)
        got[mid] = True
        if want["stream"] == "ticks":
            seen.append((want["key"], m.partition(), m.offset(), mid))
    c.commit(asynchronous=False)
    c.close()
    if len(got) != len(manifest):
        fail("confluent_kafka read %d of %d messages" % (len(got),
                                                        len(manifest)))
    check_order(seen, "confluent_kafka")


def kcat(bs, fmt):
    p = subprocess.run(["kcat", "-b", bs, "-C", "-t", "fxpipe.ticks", "-o",
                        "beginning", "-e", "-q", "-f", fmt],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    if p.returncode != 0:
        fail("kcat: %s" % p.stderr.decode(errors="replace"))
    return p.stdout


def read_kcat(bs, manifest):
    ticks = {i: m for i, m in manifest.items() if m["stream"] == "ticks"}
    seen, sizes = [], {}
    for line in kcat(bs, "%k\t%h\t%S\t%p\t%o\n").decode().splitlines():
        key, hdrs, size, part, off = line.split("\t")
        headers = [tuple(kv.split("=", 1)) for kv in hdrs.split(",")]
        mid = dict(headers).get("fxpipe-msg-id", "?")
        if mid not in ticks or mid in sizes:
            fail("kcat: unexpected or repeated message %r" % mid)
        check_headers(ticks[mid], key, headers, "kcat %s" % mid)
        sizes[mid] = int(size)
        seen.append((key, int(part), int(off), mid))
    if len(sizes) != len(ticks):
        fail("kcat read %d of %d messages" % (len(sizes), len(ticks)))
    check_order(seen, "kcat")
    # Payloads framed by their big-endian length (%R): decode each.
    payloads = split_framed(kcat(bs, "%R%s"))
    want = sorted((m["ticks"], m["pos"]) for m in ticks.values())
    got = []
    for value in payloads:
        d = decode(value)
        got.append((d["ticks"], d["pos"]))
    if sorted(got) != want:
        fail("kcat payloads decode to other ticks than were sent")
    if sorted(sizes.values()) != sorted(len(v) for v in payloads):
        fail("kcat: payload sizes disagree between its two outputs")
    return len(payloads)


def split_framed(raw):
    p, out = 0, []
    while p < len(raw):
        (ln,) = struct.unpack_from(">i", raw, p)
        out.append(raw[p + 4:p + 4 + ln])
        p += 4 + ln
    return out


def main():
    mock = program("FXP_KAFKA_MOCK", "kafka_mock")
    pub = program("FXP_BUS_KAFKA_TEST", "test_bus_kafka")
    if not mock or not pub:
        print("SKIP: set FXP_KAFKA_MOCK (kafka_mock) and FXP_BUS_KAFKA_TEST "
              "(test_bus_kafka) to the built programs")
        return 0
    if not shutil.which("kcat"):
        fail("kcat is not installed")
    if crc32c(b"123456789") != 0xE3069283:
        fail("the CRC-32C here is wrong")
    d = tempfile.mkdtemp(prefix="fxp-kwire.")
    ready = os.path.join(d, "ready")
    proc = subprocess.Popen([mock, "--brokers", "3", "--topics", "fxpipe:4",
                             "--ready-file", ready], stdout=subprocess.PIPE)
    try:
        end = time.time() + 15
        while not os.path.exists(ready) and time.time() < end:
            if proc.poll() is not None:
                fail("kafka_mock exited with %d" % proc.returncode)
            time.sleep(0.05)
        with open(ready) as f:
            bs = f.read().strip()
        line = proc.stdout.readline().decode().strip()
        if line != bs or not bs.startswith("127.0.0.1:"):
            fail("kafka_mock printed %r, ready file has %r" % (line, bs))

        manifest_path = os.path.join(d, "manifest")
        env = dict(os.environ, FXP_KAFKA_WIRE_OUT=manifest_path,
                   FXP_KAFKA_BOOTSTRAP=bs)
        t = time.time()
        p = subprocess.run([pub], env=env, timeout=120)
        if p.returncode != 0:
            fail("the wire publisher exited with %d" % p.returncode)
        print("published in %.2f s" % (time.time() - t))
        manifest = read_manifest(manifest_path)
        if len(manifest) != 13:
            fail("manifest lists %d messages, not 13" % len(manifest))

        read_confluent(bs, manifest)
        print("confluent_kafka: %d messages match" % len(manifest))
        n = read_kcat(bs, manifest)
        print("kcat: %d tick messages match" % n)

        proc.send_signal(signal.SIGTERM)
        if proc.wait(timeout=15) != 0:
            fail("kafka_mock exited with %d after SIGTERM" % proc.returncode)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
