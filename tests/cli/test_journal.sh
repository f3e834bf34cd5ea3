#!/usr/bin/env bash
# test_journal.sh - `fxpipe journal stats|verify|dump` from the outside:
# usage errors exit 2, a missing directory exits 3 with a clear message, an
# empty directory has 0 records, and a small segment written byte by byte
# here from the format in docs/internals/journal.md reads back; a flipped
# bit and a torn tail are reported with file and offset (exit 1) and left
# as they are. (End-to-end checks on journals written by `fxpipe run` come
# with that integration.)
#
# usage: test_journal.sh path/to/fxpipe
set -u

FXPIPE=${1:?usage: test_journal.sh path/to/fxpipe}
case $FXPIPE in /*) ;; *) FXPIPE=$PWD/$FXPIPE ;; esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# run CMD...: runs fxpipe, leaving stdout in out.txt, stderr in err.txt,
# the status in $rc.
run() {
    "$FXPIPE" "$@" >out.txt 2>err.txt
    rc=$?
    err=$(cat err.txt)
}

expect_rc() { # expect_rc WANT WHAT
    if [ "$rc" != "$1" ]; then
        fail "$2: exit $rc, want $1 (stderr: $err)"
    fi
}

expect_out() { # expect_out FIXED-STRING WHAT
    if ! grep -qF -- "$1" out.txt; then
        fail "$2: stdout lacks '$1' (got: $(cat out.txt))"
    fi
}

expect_err() { # expect_err FIXED-STRING WHAT
    if ! grep -qF -- "$1" err.txt; then
        fail "$2: stderr lacks '$1' (got: $err)"
    fi
}

# --- usage ----------------------------------------------------------------
run --help
expect_rc 0 "fxpipe --help"
expect_out "journal" "fxpipe --help lists journal"

run journal
expect_rc 2 "journal without a subcommand"
expect_err "usage: fxpipe journal" "journal without a subcommand"

run journal --help
expect_rc 0 "journal --help"
expect_out "usage: fxpipe journal stats DIR" "journal --help"

run journal bogus d
expect_rc 2 "unknown subcommand"
expect_err "unknown subcommand 'bogus'" "unknown subcommand"

run journal verify
expect_rc 2 "verify without a directory"
expect_err "missing the journal directory" "verify without a directory"

run journal stats a b
expect_rc 2 "stats with two directories"
expect_err "unexpected argument 'b'" "stats with two directories"

run journal stats --limit 3 d
expect_rc 2 "--limit on stats"
expect_err "--limit is a dump option" "--limit on stats"

run journal dump --from -1 d
expect_rc 2 "negative --from"
expect_err "--from wants a whole number" "negative --from"

run journal dump --bogus d
expect_rc 2 "unknown option"

# --- a missing directory --------------------------------------------------
for sub in stats verify dump; do
    run journal $sub nope
    expect_rc 3 "$sub on a missing directory"
    expect_err "cannot open journal 'nope': No such file or directory" \
        "$sub on a missing directory"
done

# --- an empty directory ---------------------------------------------------
mkdir empty
run journal stats empty
expect_rc 0 "stats on an empty directory"
expect_out "segments:    0" "stats on an empty directory"
expect_out "records:     0" "stats on an empty directory"

run journal verify empty
expect_rc 0 "verify on an empty directory"
expect_out "empty: ok, 0 records in 0 segments" "verify on an empty directory"

run journal dump empty
expect_rc 0 "dump on an empty directory"
[ -s out.txt ] && fail "dump on an empty directory printed: $(cat out.txt)"

# --- a segment made by hand -------------------------------------------------
# Header "FXPJ", version 1, first seq 1; then records (u32 length, u32
# crc32c over seq + payload, u64 seq, payload), little-endian:
#   seq 1 "hello journal" at offset 16, seq 2 00 01 fe at 45, seq 3 empty
#   at 64; 80 bytes in all.
mkdir j
seg=j/00000000000000000001.fxj
printf '\x46\x58\x50\x4a\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00'\
'\x0d\x00\x00\x00\x07\xc6\x47\x40\x01\x00\x00\x00\x00\x00\x00\x00'\
'\x68\x65\x6c\x6c\x6f\x20\x6a\x6f\x75\x72\x6e\x61\x6c'\
'\x03\x00\x00\x00\xae\x67\x6a\xcd\x02\x00\x00\x00\x00\x00\x00\x00'\
'\x00\x01\xfe'\
'\x00\x00\x00\x00\xe3\x35\x6c\x57\x03\x00\x00\x00\x00\x00\x00\x00' >$seg
cp $seg good.fxj
[ "$(wc -c <$seg)" = 80 ] || fail "test segment is not 80 bytes"

run journal stats j
expect_rc 0 "stats"
expect_out "segments:    1" "stats"
expect_out "bytes:       80" "stats"
expect_out "records:     3" "stats"
expect_out "first seq:   1" "stats"
expect_out "last seq:    3" "stats"
expect_out "corrupt:     0" "stats"

run journal verify j
expect_rc 0 "verify"
expect_out "j: ok, 3 records in 1 segments, seq 1..3" "verify"

run journal dump j
expect_rc 0 "dump"
printf '%s\n' 'seq=1 len=13 text="hello journal"' 'seq=2 len=3 hex=0001fe' \
    'seq=3 len=0 text=""' >want.txt
cmp -s out.txt want.txt || fail "dump: got $(cat out.txt)"

run journal dump j --from 2 --limit 1
expect_rc 0 "dump --from 2 --limit 1"
[ "$(cat out.txt)" = "seq=2 len=3 hex=0001fe" ] ||
    fail "dump --from 2 --limit 1: got $(cat out.txt)"

# --- a flipped bit: reported with file and offset, nothing written --------
printf '\x01' | dd of=$seg bs=1 seek=61 conv=notrunc status=none
cp $seg flipped.fxj
run journal verify j
expect_rc 1 "verify with a flipped bit"
expect_err "journal 'j/00000000000000000001.fxj': corrupt record at offset 45 (crc mismatch)" \
    "verify with a flipped bit"
expect_out "1 corrupt" "verify with a flipped bit"
cmp -s $seg flipped.fxj || fail "verify changed the segment"

run journal dump j
expect_rc 1 "dump with a flipped bit"
[ "$(cat out.txt)" = 'seq=1 len=13 text="hello journal"' ] ||
    fail "dump with a flipped bit: got $(cat out.txt)"
expect_err "corrupt record at offset 45" "dump with a flipped bit"

# --- a torn tail: reported, left for the writer to truncate ---------------
cp good.fxj $seg
truncate -s 70 $seg
run journal verify j
expect_rc 1 "verify with a torn tail"
expect_err "torn tail of 6 bytes at offset 64" "verify with a torn tail"
[ "$(wc -c <$seg)" = 70 ] || fail "verify truncated the segment"

run journal stats j
expect_rc 0 "stats with a torn tail"
expect_out "torn tail:   6 bytes" "stats with a torn tail"
expect_out "records:     2" "stats with a torn tail"

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed" >&2
    exit 1
fi
echo "ok"
