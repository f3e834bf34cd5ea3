#!/usr/bin/env bash
# test_dlq.sh - `fxpipe dlq` from the outside: usage errors, list/replay/
# purge on a missing DLQ, the default path (fxpipe.db -> fxpipe.dlq),
# purge refusing without --yes, a store file refused as a DLQ. When
# python3 is present it also writes DLQ entries itself from the layout
# documented in docs/internals/retry-and-dlq.md (an independent encoder),
# and checks show, replay (a bad payload stays, exit 1; good ones are
# stored and removed) and purge. The pipeline's own dead-lettering is
# checked end to end elsewhere.
#
# usage: test_dlq.sh path/to/fxpipe
set -u

FXPIPE=${1:?usage: test_dlq.sh path/to/fxpipe}
case $FXPIPE in /*) ;; *) FXPIPE=$PWD/$FXPIPE ;; esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# An empty directory, without the caller's FXPIPE_* variables, so the
# defaults (store.db = fxpipe.db) apply.
cd "$tmp" || exit 1
for v in $(env | sed -n 's/^\(FXPIPE_[A-Za-z0-9_]*\)=.*/\1/p'); do
    unset "$v"
done

fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

run() { # run ARGS...: stdout in out.txt/$out, stderr in err.txt/$err
    "$FXPIPE" "$@" >out.txt 2>err.txt
    rc=$?
    out=$(cat out.txt)
    err=$(cat err.txt)
}

expect_rc() { # expect_rc WANT WHAT
    [ "$rc" = "$1" ] || fail "$2: exit $rc, want $1 (stderr: $err)"
}

expect_out() { # expect_out FIXED-STRING WHAT
    grep -qF -- "$1" out.txt || fail "$2: stdout lacks '$1' (got: $out)"
}

expect_err() { # expect_err FIXED-STRING WHAT
    grep -qF -- "$1" err.txt || fail "$2: stderr lacks '$1' (got: $err)"
}

# --- usage ----------------------------------------------------------------
run dlq --help
expect_rc 0 "dlq --help"
expect_out "usage: fxpipe dlq list" "dlq --help"
run dlq
expect_rc 2 "dlq without an action"
expect_err "missing action" "dlq without an action"
run dlq frobnicate
expect_rc 2 "unknown action"
expect_err "unknown action 'frobnicate'" "unknown action"
run dlq show
expect_rc 2 "show without an id"
expect_err "show needs an entry id" "show without an id"
run dlq show abc
expect_rc 2 "show with a bad id"
expect_err "bad entry id 'abc'" "show with a bad id"
run dlq show 0
expect_rc 2 "show with id 0"
run dlq list extra
expect_rc 2 "list with an extra argument"
expect_err "unexpected argument 'extra'" "list with an extra argument"
run dlq list --yes
expect_rc 2 "--yes outside purge"
run dlq list --no-such-flag
expect_rc 2 "unknown flag"
"$FXPIPE" --help | grep -q '^  dlq ' || fail "fxpipe --help does not list dlq"

# --- a missing DLQ: nothing listed, nothing created -------------------------
run dlq list
expect_rc 0 "list without a DLQ"
expect_out "dead-letter queue 'fxpipe.dlq': no entries (no file)" \
    "list without a DLQ (default path)"
[ ! -e fxpipe.dlq ] || fail "list created fxpipe.dlq"
run dlq list --db data/x.sqlite
expect_out "'data/x.dlq'" "default path follows --db"
run dlq list --store sqlite:y.db
expect_out "'y.dlq'" "default path follows --store"
printf '[store]\ndb = z.db\n' >cfg.ini
run dlq list --config cfg.ini
expect_out "'z.dlq'" "default path follows the config's store.db"
FXPIPE_STORE_DB=w.db run dlq list
expect_out "'w.dlq'" "default path follows FXPIPE_STORE_DB"
run dlq list --dlq other.q --db x.db
expect_out "'other.q'" "--dlq wins over --db"
run dlq replay
expect_rc 0 "replay without a DLQ"
expect_out "nothing to replay" "replay without a DLQ"
run dlq replay 3
expect_rc 1 "replay of a missing id"
run dlq show 3
expect_rc 1 "show without a DLQ"
expect_err "no entry 3" "show without a DLQ"
run dlq purge
expect_rc 2 "purge without --yes"
expect_err "without --yes" "purge without --yes"
run dlq purge --yes
expect_rc 0 "purge --yes without a DLQ"
expect_out "purged 0 entries" "purge --yes without a DLQ"
[ ! -e fxpipe.dlq ] || fail "a reading command created fxpipe.dlq"

# --- a file that is not a DLQ ------------------------------------------------
echo "not a database, not at all; just text long enough to be read" >junk.dlq
run dlq list --dlq junk.dlq
expect_rc 3 "list of a non-database"
expect_err "junk.dlq" "list of a non-database names the file"

# --- entries written by an independent encoder --------------------------------
if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 not found: skipping the checks with entries"
    [ "$fails" = 0 ] && echo "ok" || echo "$fails failure(s)"
    exit $((fails > 0))
fi

# A store to replay into: one imported bar creates it.
printf 'symbol,ts,open,high,low,close,volume\nGBPUSD,2024-01-02T10:00:00Z,1.27,1.2705,1.2695,1.2702,10\n' >one.csv
run import --db fxpipe.db one.csv
expect_rc 0 "import creates the store"

run dlq list --dlq fxpipe.db
expect_rc 3 "the store is not a DLQ"
expect_err "not a dead-letter queue" "the store is not a DLQ"

python3 - <<'EOF' || fail "writing DLQ entries with python3"
import sqlite3, struct

def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF

def s(x):
    if x is None:
        return struct.pack('<I', 0xFFFFFFFF)
    b = x.encode()
    return struct.pack('<I', len(b)) + b

def batch(syms, bars, rejects=(), meta=None):
    out = b'FXPB' + struct.pack('<BBHIII', 1, 1 if meta else 0, len(syms),
                                len(bars), 0, len(rejects))
    for n in syms:
        out += struct.pack('<B', len(n)) + n.encode()
    for (ts, o, h, l, c, v, ver, nt, sym, tf, src) in bars:
        out += struct.pack('<qdddddqIHBBH', ts, o, h, l, c, v, ver, nt, sym,
                           tf, src, 0)
    for (origin, ts, sym, reason, detail, raw) in rejects:
        out += s(origin) + struct.pack('<q', ts) + s(sym) + s(reason) \
            + s(detail) + s(raw)
    if meta:
        out += s(meta[0]) + s(meta[1])
    return out + struct.pack('<I', crc32c(out))

T0 = 1704067200000
good = batch(['EURUSD', 'XAUUSD'],
             [(T0 + i * 60000, 1.1, 1.1005, 1.0995, 1.1002, 7.0, 5, 7,
               i % 2, 0, 3) for i in range(4)],
             [('feed.csv:9', T0, 'EURUSD', 'crossed', 'ask below bid', 'x')],
             ('cursor', 'feed.csv:9'))
db = sqlite3.connect('fxpipe.dlq')
db.execute('PRAGMA journal_mode=WAL')
db.execute('''CREATE TABLE dlq(id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL, reason TEXT NOT NULL, error TEXT NOT NULL,
  attempts INTEGER NOT NULL, source TEXT NOT NULL,
  correlation_id TEXT NOT NULL, n_records INTEGER NOT NULL,
  first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL,
  payload BLOB NOT NULL)''')
db.execute('PRAGMA application_id = %d' % 0x46585051)
db.execute('PRAGMA user_version = 1')
for corr, payload in (('corr-a', good), ('corr-bad', b'garbage'),
                      ('corr-c', good)):
    db.execute('INSERT INTO dlq(kind, reason, error, attempts, source, '
               'correlation_id, n_records, first_ts, last_ts, payload) '
               'VALUES(?,?,?,?,?,?,?,?,?,?)',
               ('batch', 'retries_exhausted',
                "cannot write to 'fxpipe.db': database is locked", 6,
                'run synthetic', corr, 5, T0, T0 + 180000, payload))
db.commit()
EOF

run dlq list
expect_rc 0 "list with entries"
expect_out "3 entries" "list with entries"
expect_out "corr-bad" "list shows the correlation id"
expect_out "2024-01-01T00:03:00Z" "list shows the last time as ISO"
expect_out "database is locked" "list shows the error"
run dlq show 1
expect_rc 0 "show 1"
expect_out "4 bars, 0 ticks, 1 rejects" "show decodes the payload"
expect_out "EURUSD XAUUSD" "show lists the payload's symbols"
run dlq show 2
expect_rc 0 "show of an undecodable entry"
expect_out "cannot be decoded" "show of an undecodable entry"

run dlq purge
expect_rc 2 "purge with entries, without --yes"
run dlq list
expect_out "3 entries" "purge without --yes removed nothing"

run dlq replay 1
expect_rc 0 "replay 1"
expect_out "replayed 1 of 1 entry" "replay 1"
run dlq replay
expect_rc 1 "replay with an undecodable entry"
expect_err "entry 2" "replay names the entry it left"
expect_out "replayed 1 of 2 entries" "replay counts"
expect_out "1 left in 'fxpipe.dlq'" "the bad entry stays"
run dlq list
expect_out "1 entry" "only the bad entry is left"
expect_out "corr-bad" "only the bad entry is left"
if command -v sqlite3 >/dev/null 2>&1; then
    n=$(sqlite3 fxpipe.db "select count(*) from bars where timeframe='1m' and symbol in ('EURUSD','XAUUSD')")
    [ "$n" = 4 ] || fail "replayed bars in the store: $n, want 4"
    n=$(sqlite3 fxpipe.db "select count(*) from rejects where origin='feed.csv:9'")
    [ "$n" = 1 ] || fail "replayed reject in the store: $n, want 1"
    n=$(sqlite3 fxpipe.db "select count(*) from meta where key='cursor'")
    [ "$n" = 0 ] || fail "replay stored the stale cursor"
fi

run dlq purge --yes
expect_rc 0 "purge --yes"
expect_out "purged 1 entry from" "purge --yes"
run dlq list
expect_out "0 entries" "empty after purge"

[ "$fails" = 0 ] && echo "ok" || echo "$fails failure(s)"
exit $((fails > 0))
