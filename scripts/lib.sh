# Shared settings and helpers for the scripts in this directory.
# Source it; do not run it.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
SRC_DIR=$BUILD/src/qemu            # unpacked, patched, overlaid QEMU source
QEMU_BUILD=${QEMU_BUILD:-$BUILD/qemu-build}   # QEMU's build directory
LOGS=$BUILD/logs
JOBS=${JOBS:-$(nproc)}
# Debian's packages (meson, python3-libvhdi, ...) belong to this interpreter,
# whatever python3 comes first on PATH.
PYTHON=/usr/bin/python3
MESON=/usr/bin/meson

mkdir -p "$LOGS"

# Under set -e a failing command ends the script: say which one.
trap 'printf "ERROR: %s:%s: \"%s\" failed\n" "${BASH_SOURCE[0]##*/}" "$LINENO" "$BASH_COMMAND" >&2' ERR

say()  { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# run LOGNAME CMD...: run CMD with its output in $LOGS/LOGNAME.log; on
# failure show the end of the log and fail.
run() {
    local log=$LOGS/$1.log
    shift
    if ! "$@" >"$log" 2>&1; then
        printf 'ERROR: %s failed; last lines of %s:\n' "$*" "$log" >&2
        tail -n 40 "$log" >&2
        return 1
    fi
}
