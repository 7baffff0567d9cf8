#!/bin/bash
# make demo: build, then create a dynamic VHDX image, write a pattern with
# qemu-io, read it back verified, and show qemu-img info and check; then
# put a differencing image (a Hyper-V style checkpoint) on top of it and
# show reads through the chain, its map and the backing chain.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bash "$ROOT/scripts/prepare.sh"
bash "$ROOT/scripts/build-qemu.sh"

IMG=$BUILD/demo/demo.vhdx
CHILD=$BUILD/demo/checkpoint.avhdx
mkdir -p "$(dirname "$IMG")"
rm -f "$IMG" "$CHILD"
# step CMD...: show CMD (quoted, paths relative to the project), then run it
step() {
    local a shown=
    for a in "$@"; do
        a=${a//$ROOT\//}
        [[ $a == *[[:space:]]* ]] && a="'$a'"
        shown+=" $a"
    done
    printf '\n$%s\n' "$shown"
    "$@"
}

say "demo: our VHDX driver in build/qemu-build"
step "$QEMU_BUILD/qemu-img" create -f vhdx "$IMG" 64M
step "$QEMU_BUILD/qemu-io" -f vhdx -c 'write -P 0xab 0 4M' "$IMG"
step "$QEMU_BUILD/qemu-io" -f vhdx -c 'read -P 0xab 0 4M' "$IMG"
step "$QEMU_BUILD/qemu-img" info -f vhdx "$IMG"
step "$QEMU_BUILD/qemu-img" check -f vhdx "$IMG"

say "demo: a differencing image (checkpoint) on top"
step "$QEMU_BUILD/qemu-img" create -f vhdx -b demo.vhdx -F vhdx "$CHILD"
step "$QEMU_BUILD/qemu-io" -f vhdx -c 'write -P 0xcd 1M 64k' "$CHILD"
step "$QEMU_BUILD/qemu-io" -f vhdx -c 'read -P 0xab 0 1M' \
    -c 'read -P 0xcd 1M 64k' -c 'read -P 0xab 1088k 2M' "$CHILD"
step "$QEMU_BUILD/qemu-img" map -f vhdx "$CHILD"
step "$QEMU_BUILD/qemu-img" info --backing-chain -f vhdx "$CHILD"
step "$QEMU_BUILD/qemu-img" check -f vhdx "$CHILD"

say "demo: merge the checkpoint into its parent (vhdx-merge)"
step "$QEMU_BUILD/vhdx-merge" --depth 1 "$CHILD"
step "$QEMU_BUILD/qemu-io" -f vhdx -c 'read -P 0xcd 1M 64k' \
    -c 'read -P 0xab 1088k 2M' "$IMG"
step "$QEMU_BUILD/qemu-img" map -f vhdx "$CHILD"
echo
say "demo: done ($IMG, $CHILD)"
