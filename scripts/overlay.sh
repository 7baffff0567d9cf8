#!/bin/bash
# Copy this project's driver, core, headers and iotests onto the QEMU source
# tree.  A file is copied only when its content differs, so an unchanged
# file keeps its timestamp and ninja rebuilds only what really changed (a
# copied file gets a fresh timestamp, so it is always seen as newer).
# Files removed from the project are removed from the tree again (a stock
# QEMU file that we had replaced is restored).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

OVERLAY=(block/vhdx.c block/vhdx-common.c block/vhdx-create.c block/vhdx-grant.c
         block/vhdx-info.c block/vhdx-parent.c
         block/vhdx-int.h
         block/vhdx include/vhdx tests/qemu-iotests)
MANIFEST=$SRC_DIR/.qemu-vhdx-overlay       # files we put into the tree
ORIG=$SRC_DIR/.qemu-vhdx-orig              # stock files we replaced

[ -d "$SRC_DIR" ] || die "no QEMU source in $SRC_DIR (run scripts/fetch-qemu.sh)"

list_files() {
    local p paths=()
    for p in "${OVERLAY[@]}"; do
        [ ! -e "$ROOT/$p" ] || paths+=("$p")
    done
    [ ${#paths[@]} -gt 0 ] || return 0
    (cd "$ROOT" && find "${paths[@]}" -type f \
        ! -name '*~' ! -name '.*.sw?' ! -name '*.orig' ! -name '*.rej' \
        ! -name '*.pyc' ! -path '*/__pycache__/*' | LC_ALL=C sort)
}

main() {
    local new copied=0 removed=0 f mode changed=()
    new=$(list_files)
    while IFS= read -r f; do
        [ -n "$f" ] || continue
        local src=$ROOT/$f dst=$SRC_DIR/$f
        if ! cmp -s "$src" "$dst"; then
            if [ -e "$dst" ] && [ ! -e "$ORIG/$f" ] &&
               ! grep -qxF "$f" "$MANIFEST" 2>/dev/null; then
                mkdir -p "$(dirname "$ORIG/$f")"
                cp -p "$dst" "$ORIG/$f"          # keep the stock file
            fi
            mkdir -p "$(dirname "$dst")"
            cp "$src" "$dst.tmp" && mv "$dst.tmp" "$dst"
            copied=$((copied + 1))
            changed+=("$f")
        fi
        mode=$(stat -c %a "$src")
        case $f in      # iotests must be executable, whatever git kept
            tests/qemu-iotests/*.out) ;;
            tests/qemu-iotests/*) mode=$(printf '%o' $((8#$mode | 8#111))) ;;
        esac
        [ "$mode" = "$(stat -c %a "$dst")" ] || chmod "$mode" "$dst"
    done <<< "$new"

    if [ -f "$MANIFEST" ]; then
        while IFS= read -r f; do
            grep -qxF "$f" <<< "$new" && continue
            if [ -e "$ORIG/$f" ]; then
                mv "$ORIG/$f" "$SRC_DIR/$f"; note "restored stock $f"
            else
                rm -f "$SRC_DIR/$f"; note "removed $f"
            fi
            removed=$((removed + 1))
        done < "$MANIFEST"
    fi
    printf '%s\n' "$new" > "$MANIFEST"
    if [ $copied -le 10 ]; then
        for f in "${changed[@]}"; do note "copied $f"; done
    fi
    say "overlay: $copied file(s) copied, $removed removed, $(grep -c . <<< "$new") in the overlay"
}

main "$@"
