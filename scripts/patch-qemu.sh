#!/bin/bash
# Apply patches/*.patch (git format-patch style, in name order) to the
# unpacked QEMU source, each once: a stamp per patch records what was applied.
# --fuzz=0: a patch whose context no longer matches fails instead of landing
# somewhere nearby.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

STAMPS=$SRC_DIR/.qemu-vhdx-patches
[ -d "$SRC_DIR" ] || die "no QEMU source in $SRC_DIR (run scripts/fetch-qemu.sh)"
mkdir -p "$STAMPS"

n=0
for p in "$ROOT"/patches/*.patch; do
    [ -f "$p" ] || continue
    name=$(basename "$p")
    sum=$(sha256sum < "$p")
    if [ -f "$STAMPS/$name" ]; then
        [ "$(cat "$STAMPS/$name")" = "$sum" ] ||
            die "patches/$name changed after it was applied; run 'make distclean' to start from a fresh QEMU source"
        continue
    fi
    say "patch: $name"
    if ! (cd "$SRC_DIR" && patch -p1 --forward --batch --fuzz=0 --dry-run < "$p" >"$LOGS/patch.log" 2>&1); then
        cat "$LOGS/patch.log" >&2
        die "patches/$name does not apply to the QEMU source"
    fi
    (cd "$SRC_DIR" && patch -p1 --forward --batch --fuzz=0 < "$p" >"$LOGS/patch.log" 2>&1)
    echo "$sum" > "$STAMPS/$name"
    n=$((n + 1))
done
[ $n -gt 0 ] || say "patch: all patches already applied"
