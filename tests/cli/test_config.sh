#!/usr/bin/env bash
# test_config.sh - `fxpipe config` from the outside: the output is an INI
# file that reads back to the same values, origins are shown, precedence is
# defaults < file < FXPIPE_* < --set, bad files exit 2 naming file:line.
#
# usage: test_config.sh path/to/fxpipe
set -u

FXPIPE=${1:?usage: test_config.sh path/to/fxpipe}
case $FXPIPE in /*) ;; *) FXPIPE=$PWD/$FXPIPE ;; esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Work in an empty directory so no ./fxpipe.ini is picked up by accident,
# and without the caller's FXPIPE_* variables.
cd "$tmp" || exit 1
for v in $(env | sed -n 's/^\(FXPIPE_[A-Za-z0-9_]*\)=.*/\1/p'); do
    unset "$v"
done

fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# run CMD...: runs fxpipe, leaving stdout in $out, stderr in $err, status
# in $rc.
run() {
    "$FXPIPE" "$@" >out.txt 2>err.txt
    rc=$?
    out=$(cat out.txt)
    err=$(cat err.txt)
}

expect_rc() { # expect_rc WANT WHAT
    if [ "$rc" != "$1" ]; then
        fail "$2: exit $rc, want $1 (stderr: $err)"
    fi
}

expect_out() { # expect_out FIXED-STRING WHAT
    if ! grep -qF -- "$1" out.txt; then
        fail "$2: stdout lacks '$1'"
    fi
}

expect_err() { # expect_err FIXED-STRING WHAT
    if ! grep -qF -- "$1" err.txt; then
        fail "$2: stderr lacks '$1' (got: $err)"
    fi
}

# --- the defaults print as INI --------------------------------------------
run config
expect_rc 0 "config"
[ -z "$err" ] || fail "config: unexpected stderr: $err"
cp out.txt defaults.ini
expect_out "db = fxpipe.db  ; default" "defaults"
for s in store feed validate bars calendar gaps polygon journal pipeline log; do
    expect_out "[$s]" "section $s"
done

if command -v python3 >/dev/null 2>&1; then
    # An independent INI parser must read it, with the values we expect.
    if ! python3 - defaults.ini <<'EOF'
import configparser, sys
p = configparser.ConfigParser(inline_comment_prefixes=(";",),
                              comment_prefixes=("#", ";"),
                              interpolation=None)
p.read(sys.argv[1])
want = {("store", "db"): "fxpipe.db", ("store", "busy_timeout_ms"): "5000",
        ("feed", "from"): "", ("feed", "quotes_per_sec"): "2",
        ("bars", "session"): "ny-close", ("log", "level"): "info"}
for (s, k), v in want.items():
    got = p.get(s, k)
    if got != v:
        sys.exit(f"{s}.{k} = {got!r}, want {v!r}")
n = sum(len(p.options(s)) for s in p.sections())
if n != 50:
    sys.exit(f"{n} keys, want 50")
EOF
    then
        fail "python configparser cannot read the output as expected"
    fi
fi

# --- print -> load gives the same values ----------------------------------
export FXPIPE_STORE_DB=" /tmp/odd name;x.db "
export FXPIPE_FEED_SYMBOLS="EURUSD,XAUUSD"
run config --set bars.price=ask --set feed.quotes_per_sec=0.25 \
    --set calendar.holidays=";x"
expect_rc 0 "config with overrides"
cp out.txt first.ini
unset FXPIPE_STORE_DB FXPIPE_FEED_SYMBOLS
run config --config first.ini
expect_rc 0 "reading the printed config back"
cp out.txt second.ini
# Values must match; only the origin comments differ.
if ! diff <(sed 's/  ; .*$//' first.ini) <(sed 's/  ; .*$//' second.ini) \
    >diff.txt; then
    fail "round trip changed values: $(cat diff.txt)"
fi
expect_out "; from file 'first.ini' line" "round trip origin"

# --- origins and precedence -----------------------------------------------
printf '[store]\nbusy_timeout_ms = 100\n\n[bars]\nprice = bid\n' >f.ini
run config --config f.ini
expect_out "busy_timeout_ms = 100  ; from file 'f.ini' line 2" "file origin"
expect_out "price = bid  ; from file 'f.ini' line 5" "file origin line"

FXPIPE_STORE_BUSY_TIMEOUT_MS=200 run config --config f.ini
expect_out "busy_timeout_ms = 200  ; from env FXPIPE_STORE_BUSY_TIMEOUT_MS" \
    "env origin"
FXPIPE_STORE_BUSY_TIMEOUT_MS=200 run config --config f.ini \
    --set store.busy_timeout_ms=300
expect_out "busy_timeout_ms = 300  ; from command line" "flag origin"

FXPIPE_STORE_BUSY_TIMEOUT_MS=200 run config --config f.ini \
    --get store.busy_timeout_ms
[ "$out" = "200" ] || fail "--get with env: '$out', want 200"
run config --set store.busy_timeout_ms=300 --config f.ini \
    --get store.busy_timeout_ms
[ "$out" = "300" ] || fail "--set before --config: '$out', want 300"
run config --get store.db
[ "$out" = "fxpipe.db" ] || fail "--get store.db: '$out'"

# FXPIPE_CONFIG, then ./fxpipe.ini
FXPIPE_CONFIG=f.ini run config --get bars.price
[ "$out" = "bid" ] || fail "FXPIPE_CONFIG: '$out', want bid"
printf '[bars]\nprice = ask\n' >fxpipe.ini
run config --get bars.price
[ "$out" = "ask" ] || fail "./fxpipe.ini: '$out', want ask"
FXPIPE_CONFIG=f.ini run config --get bars.price
[ "$out" = "bid" ] || fail "FXPIPE_CONFIG over ./fxpipe.ini: '$out'"
rm fxpipe.ini

# --- errors ---------------------------------------------------------------
printf '[store]\ndb = x.db\nbusy_timeout_ms = -1\n' >bad.ini
run config --config bad.ini
expect_rc 2 "bad value"
expect_err "config 'bad.ini' line 3: 'store.busy_timeout_ms' must be between 0 and 600000, got '-1'" \
    "bad value"
[ -z "$out" ] || fail "bad value: something printed on stdout"

printf '[pipeline]\nqeue_batches = 3\n' >typo.ini
run config --config typo.ini
expect_rc 2 "unknown key"
expect_err "config 'typo.ini' line 2: unknown key 'pipeline.qeue_batches'" \
    "unknown key"

printf '[bars]\nprice = last\n' >enum.ini
run config --config enum.ini
expect_rc 2 "bad enum"
expect_err "'bars.price' must be one of mid, bid, ask, got 'last'" "bad enum"

printf '[store]\nthis line has no equals sign\n' >syntax.ini
run config --config syntax.ini
expect_rc 2 "syntax error"
expect_err "config 'syntax.ini' line 2: expected '[section]' or 'key = value'" \
    "syntax error"

run config --config missing.ini
expect_rc 2 "missing file"
expect_err "cannot open config 'missing.ini': No such file or directory" \
    "missing file"

FXPIPE_CONFIG=missing.ini run config
expect_rc 2 "missing FXPIPE_CONFIG file"

FXPIPE_LOG_LEVEL=loud run config
expect_rc 2 "bad env value"
expect_err "environment FXPIPE_LOG_LEVEL: 'log.level' must be one of error, warn, info, debug, got 'loud'" \
    "bad env value"

run config --set pipeline.batch_size=1
expect_rc 2 "bad --set"
expect_err "--set pipeline.batch_size: 'pipeline.batch_size' must be between 16 and 1048576, got '1'" \
    "bad --set"

run config --set nonsense
expect_rc 2 "--set without ="

run config --get store.nope
expect_rc 2 "--get unknown key"
expect_err "unknown key 'store.nope'" "--get unknown key"

FXPIPE_STORE_BD=x run config --get store.db
expect_rc 0 "misspelt variable"
expect_err "warning: ignoring FXPIPE_STORE_BD" "misspelt variable"

run config --bogus
expect_rc 2 "unknown option"

run config --help
expect_rc 0 "--help"
expect_out "usage: fxpipe config" "--help"

# --- the Markdown table ---------------------------------------------------
run config --markdown
expect_rc 0 "--markdown"
lines=$(wc -l <out.txt)
[ "$lines" -eq 52 ] || fail "--markdown: $lines lines, want 52"
# shellcheck disable=SC2016 # backquotes are Markdown, not a command
expect_out '| `store.db` |' "--markdown"

if [ "$fails" -ne 0 ]; then
    echo "test_config.sh: $fails check(s) failed" >&2
    exit 1
fi
echo "test_config.sh: all checks passed"
