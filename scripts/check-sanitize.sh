#!/bin/bash
# make check-sanitize: build QEMU with AddressSanitizer and UBSan in its
# own tree (build/qemu-sanitize, next to the plain one) and run this
# project's iotests with it.  Leak detection stays on: a leak in the
# driver shows up as a report in a test's output, failing it.
# Too slow for every CI run (a second QEMU build, tests 2-3x slower);
# the maintainer notes say when it last ran.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
start=$SECONDS

export QEMU_BUILD=$BUILD/qemu-sanitize
export QEMU_EXTRA_CONFIGURE="--enable-asan --enable-ubsan"
# Stop at the first UBSan report too, with a stack, as ASan does
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1

bash "$ROOT/scripts/prepare.sh"
bash "$ROOT/scripts/build-qemu.sh"
rc=0
IOTESTS_NAME=iotests-sanitize IOTESTS_OURS_ONLY=1 \
    bash "$ROOT/scripts/run-iotests.sh" || rc=$?
read -r p f s < "$LOGS/results/iotests-sanitize"
say "check-sanitize: $p passed, $f failed, $s skipped in $((SECONDS - start)) s"
exit $rc
