#!/bin/bash
# Build and run the format core's unit tests (top-level meson.build).
# usage: run-unit.sh NAME [MESON SETUP OPTIONS...]
#   builds in build/NAME, logs to build/logs/NAME.log and writes the counts
#   to build/logs/results/NAME (see count-unit.py).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

name=$1; shift
dir=$BUILD/$name
result=$LOGS/results/$name
mkdir -p "$LOGS/results"
rm -f "$result"

# Reconfigure from scratch if the options changed.
if [ ! -f "$dir/build.ninja" ] || [ "$(cat "$dir/.qemu-vhdx-setup" 2>/dev/null)" != "$*" ]; then
    say "$name: meson setup $*"
    rm -rf "$dir"
    if ! run "$name-setup" "$MESON" setup "$dir" "$ROOT" "$@"; then
        printf '0 1 0\nmeson setup failed (see %s)\n' "$LOGS/$name-setup.log" > "$result"
        exit 1
    fi
    printf '%s' "$*" > "$dir/.qemu-vhdx-setup"
fi

say "$name: build"
if ! run "$name-build" "$MESON" compile -C "$dir"; then
    printf '0 1 0\nbuild failed (see %s)\n' "$LOGS/$name-build.log" > "$result"
    exit 1
fi

say "$name: run (log: ${LOGS#$ROOT/}/$name.log)"
rm -f "$dir/meson-logs/testlog.json"
"$MESON" test -C "$dir" --no-rebuild --print-errorlogs > "$LOGS/$name.log" 2>&1 || true
if [ ! -f "$dir/meson-logs/testlog.json" ]; then
    printf '0 1 0\nmeson test did not run (see %s)\n' "$LOGS/$name.log" > "$result"
    exit 1
fi
"$PYTHON" "$ROOT/scripts/count-unit.py" "$dir/meson-logs/testlog.json" > "$result"
read -r p f s < "$result"
note "$p passed, $f failed, $s skipped"
sed -n '2,$s/^/    FAIL: /p' "$result"
[ "$f" = 0 ] || exit 1
