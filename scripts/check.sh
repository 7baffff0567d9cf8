#!/bin/bash
# make check: prepare and build everything, run the unit tests (plain and
# ASan+UBSan), the tests of tools/ (vhdx-merge), the iotests, README's
# Hyper-V commands and a sample of the power-loss simulation, print
# a summary ending in "N passed, M failed".
# A failing build counts as one failure; the other suites still run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
S=$ROOT/scripts
start=$SECONDS

bash "$S/prepare.sh"
rm -rf "$LOGS/results"
mkdir -p "$LOGS/results"

if ! bash "$S/build-qemu.sh"; then
    printf '0 1 0\nQEMU build failed (see %s)\n' "$LOGS/qemu-build.log" > "$LOGS/results/qemu-build"
fi
bash "$S/run-unit.sh" unit || true
bash "$S/run-unit.sh" unit-asan -Db_sanitize=address,undefined -Db_lundef=false || true
bash "$S/run-tools-tests.sh" || true
if [ ! -f "$LOGS/results/qemu-build" ]; then
    bash "$S/run-iotests.sh" || true
    bash "$ROOT/tests/readme/check-readme.sh" || true
    bash "$S/run-crash.sh" sampled || true
fi

echo
say "summary ($((SECONDS - start)) s; logs in ${LOGS#$ROOT/}/)"
P=0 F=0
for suite in qemu-build unit unit-asan tools iotests readme crash; do
    r=$LOGS/results/$suite
    [ -f "$r" ] || continue
    read -r p f s < "$r"
    printf '    %-11s %4d passed, %d failed, %d skipped\n' "$suite:" "$p" "$f" "$s"
    sed -n '2,$s/^/        FAIL: /p' "$r"
    P=$((P + p)) F=$((F + f))
done
echo "$P passed, $F failed"
[ "$F" = 0 ] || exit 1
