#!/bin/bash
# The power-loss simulation (tests/crash/crash.py) over the built QEMU:
#   run-crash.sh sampled   a fixed sample, for make check (~1000 states)
#   run-crash.sh full      every state of every cut point, seeds 1-4, for
#                          make crash (over 20,000 states)
# Extra arguments go to crash.py.  Writes the counts (a workload and seed
# is one test) to build/logs/results/crash.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mode=${1:-sampled}
shift || true
result=$LOGS/results/crash
log=$LOGS/crash.log
mkdir -p "$LOGS/results" "$BUILD/crash"
rm -f "$result"

if [ ! -x "$QEMU_BUILD/qemu-img" ] || [ ! -f "$QEMU_BUILD/iorecord.so" ]; then
    printf '0 1 0\nno qemu-img or iorecord.so in %s (run scripts/build-qemu.sh)\n' \
        "${QEMU_BUILD#$ROOT/}" > "$result"
    exit 1
fi

case $mode in
    sampled) args=(--states 90 --seeds 1) ;;
    full)    args=(--all --seeds 1-4) ;;
    *)       die "usage: run-crash.sh sampled|full [crash.py options]" ;;
esac
say "crash: power-loss simulation, ${args[*]} $* (log: ${log#$ROOT/})"
set +e
"$PYTHON" "$ROOT/tests/crash/crash.py" --work "$BUILD/crash" \
    --qemu-build "$QEMU_BUILD" --preload "$QEMU_BUILD/iorecord.so" \
    "${args[@]}" "$@" 2>&1 | tee "$log" | sed -e 's/^/    /' | cut -c1-200
rc=${PIPESTATUS[0]}
set -e
last=$(tail -n 1 "$log")
if [[ $last =~ ^([0-9]+)\ states\;\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    {
        echo "${BASH_REMATCH[2]} ${BASH_REMATCH[3]} 0"
        grep '^FAIL ' "$log" | cut -c1-160 || true
    } > "$result"
else
    printf '0 1 0\ncrash.py did not finish (exit %d, see %s)\n' "$rc" \
        "$log" > "$result"
fi
[ "$rc" = 0 ]
