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
# Reports go to files, not into the tests' output: ASan warns once per
# process about QEMU's coroutines (makecontext/swapcontext), which would
# make every golden output differ.  Every report other than that warning
# counts as a failure below.  A sanitizer error still stops the process
# (UBSan too, as ASan does), which the test's output then shows.
REPORTS=$LOGS/sanitize-reports
rm -rf "$REPORTS"
mkdir -p "$REPORTS"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$REPORTS/ubsan
# Full stacks for leaks (glib's allocator has no frame pointers), so that
# stock QEMU's known leaks can be suppressed by function name
# verify_asan_link_order=0: the stop points (vhdx-stop.rc) preload
# iorecord.so, which ASan would refuse as coming before its runtime.
export ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:verify_asan_link_order=0:log_path=$REPORTS/asan
export LSAN_OPTIONS=suppressions=$ROOT/scripts/lsan-suppressions.txt

bash "$ROOT/scripts/prepare.sh"
bash "$ROOT/scripts/build-qemu.sh"
rc=0
IOTESTS_NAME=iotests-sanitize IOTESTS_OURS_ONLY=1 IOTESTS_JOBS=$(nproc) \
    bash "$ROOT/scripts/run-iotests.sh" || rc=$?
read -r p f s < "$LOGS/results/iotests-sanitize"
# Reports of errors and leaks (the coroutine warnings aside)
errors=$(grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error' \
             "$REPORTS"/* 2>/dev/null || true)
if [ -n "$errors" ]; then
    say "check-sanitize: sanitizer reports in:"
    printf '    %s\n' $errors
    rc=1
fi
say "check-sanitize: $p passed, $f failed, $s skipped," \
    "$(echo "$errors" | grep -c . || true) sanitizer report(s)" \
    "in $((SECONDS - start)) s"
exit $rc
