#!/bin/bash
# Run QEMU's iotests with format vhdx against the built QEMU: the stock
# tests of group 'auto' that support vhdx, a few more stock tests that do
# (and need qemu-system firmware), and this project's tests
# (tests/qemu-iotests/tests/vhdx-*, overlaid into QEMU's tree).
# Writes the counts to build/logs/results/iotests (see count-unit.py's format).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# IOTESTS_NAME names the log and result (make check-sanitize runs only
# our tests, IOTESTS_OURS_ONLY=1, in its own build tree)
NAME=${IOTESTS_NAME:-iotests}
# Tests run one at a time unless IOTESTS_JOBS says more (make
# check-sanitize runs two: each test then takes minutes)
JOBS_IOTESTS=${IOTESTS_JOBS:-1}
STOCK=(-g auto 064 070 213)
[ "${IOTESTS_OURS_ONLY:-0}" = 0 ] || STOCK=()
IOTESTS=$QEMU_BUILD/tests/qemu-iotests
LOG=$LOGS/$NAME.log
result=$LOGS/results/$NAME
mkdir -p "$LOGS/results"
rm -f "$result"

[ -x "$IOTESTS/check" ] || die "no $IOTESTS/check (run scripts/build-qemu.sh)"

ours=()
for t in "$ROOT"/tests/qemu-iotests/tests/vhdx-*; do
    [ -f "$t" ] || continue
    case $t in *.out|*.*) continue ;; esac
    ours+=("$(basename "$t")")
done

# The guest of vhdx-merge-guest, on first use; without it that test is
# skipped and says why
if [[ " ${ours[*]} " == *" vhdx-merge-guest "* ]] &&
   ! bash "$ROOT/scripts/fetch-guest.sh"; then
    say "guest: not fetched (log: ${LOGS#$ROOT/}/guest-download.log); vhdx-merge-guest will be skipped"
fi

say "$NAME: ./check -vhdx ${STOCK[*]} ${ours[*]} (log: ${LOG#$ROOT/})"
# The venv configure made (Debian's /usr/bin/python3 with QEMU's python/ on
# the path), as QEMU's own 'make check-block' uses.
cd "$IOTESTS"
rm -rf scratch
"$QEMU_BUILD/pyvenv/bin/python3" ./check --color off -j "$JOBS_IOTESTS" -vhdx \
    "${STOCK[@]}" "${ours[@]}" 2>&1 | tee "$LOG" |
    tr '\r' '\n' | awk '($2 == "pass" || $2 == "fail" || ($2 == "not" && $3 == "run")) &&
        !/not suitable for this|No qualified output/ {
        sub(/[ \t]+$/, ""); print "    " $0; fflush() }' || true

# Result lines look like "001   pass   [10:00:00] [10:00:01]   0.5s ...".
# Tests that do not apply to vhdx (most of group 'auto') are not counted;
# a test that applies but did not run counts as skipped.
tr '\r' '\n' < "$LOG" | awk '
    $2 == "pass" { p++ }
    $2 == "fail" { f++; failed = failed "\n" $1 ": fail" }
    $2 == "not" && $3 == "run" {
        if (/not suitable for this|No qualified output/) n++
        else { s++; skipped = skipped " " $1 }
    }
    END {
        printf "%d %d %d%s\n", p, f, s, failed
        printf "%d tests do not apply to vhdx%s\n", n,
               skipped == "" ? "" : "; not run:" skipped > "/dev/stderr"
    }
' 2> "$result.notes" > "$result"
if ! grep -qE '^(Passed all [0-9]+|Failed [0-9]+ of [0-9]+) iotests' "$LOG"; then
    # check stopped before its summary: count that as a failure
    awk 'NR == 1 { $2++ } { print }' "$result" > "$result.tmp"
    echo "check: did not finish (see ${LOG})" >> "$result.tmp"
    mv "$result.tmp" "$result"
fi
read -r p f s < "$result"
note "$p passed, $f failed, $s skipped ($(cat "$result.notes"))"
[ "$f" = 0 ] || note "the differences from the expected output are in ${LOG#$ROOT/}"
[ "$f" = 0 ] || exit 1
