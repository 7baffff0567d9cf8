#!/bin/bash
# Configure (when needed) and build the overlaid QEMU in build/qemu-build:
# only the binaries the tests use.  Then point the build tree at Debian's
# firmware so that qemu-system-x86_64 finds its BIOS and option ROMs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# A lean configuration that is the same on every machine: all optional
# features off, then on only what the iotests and the demo need.
# --enable-werror: QEMU turns -Werror on only in git checkouts; this tree is
# an unpacked source package, and our files must compile warning-free.
# --firmwarepath: Debian's firmware directories (see link_firmware).
CONFIGURE_OPTS=(
    --python="$PYTHON"
    --target-list=x86_64-softmmu
    --without-default-features
    --enable-tools --enable-kvm --enable-tcg --enable-pixman
    --enable-vhdx --enable-qcow1 --enable-vdi --enable-vmdk --enable-vpc
    --enable-qed --enable-parallels --enable-bochs --enable-cloop
    --enable-dmg --enable-vvfat
    --disable-docs --disable-download --disable-install-blobs
    --enable-werror
    --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
)
# A second build tree may add options (make check-sanitize: sanitizers)
read -r -a EXTRA_OPTS <<< "${QEMU_EXTRA_CONFIGURE:-}"
CONFIGURE_OPTS+=("${EXTRA_OPTS[@]}")
# Logs: qemu-configure.log and qemu-build.log for the main tree, named
# after the tree for another (qemu-sanitize-build.log)
LOG_PREFIX=qemu
[ "$QEMU_BUILD" = "$BUILD/qemu-build" ] || LOG_PREFIX=${QEMU_BUILD##*/}
TARGETS=(qemu-img qemu-io qemu-nbd storage-daemon/qemu-storage-daemon
         qemu-system-x86_64)
STAMP=$QEMU_BUILD/.qemu-vhdx-configure

configure() {
    local want
    want=$(printf '%s\n' "${CONFIGURE_OPTS[@]}")
    if [ -f "$QEMU_BUILD/build.ninja" ] && [ -f "$STAMP" ] &&
       [ "$(cat "$STAMP")" = "$want" ]; then
        return
    fi
    say "qemu: configure (log: ${LOGS#$ROOT/}/$LOG_PREFIX-configure.log)"
    rm -rf "$QEMU_BUILD"
    mkdir -p "$QEMU_BUILD"
    (cd "$QEMU_BUILD" && run "$LOG_PREFIX-configure" "$SRC_DIR/configure" "${CONFIGURE_OPTS[@]}")
    printf '%s\n' "$want" > "$STAMP"
}

# qemu-system looks for firmware in --firmwarepath, and when it runs from
# the build tree (which has a qemu-bundle/ directory) it looks for each of
# those paths inside qemu-bundle/.  Debian's +ds source ships no prebuilt
# firmware, so link the bundle's copies of the firmware paths to the files
# Debian's packages installed: seabios (bios-256k.bin, VGA BIOSes), ipxe-qemu
# (NIC option ROMs) and qemu-system-data (kvmvapic.bin, linuxboot_dma.bin...).
link_firmware() {
    local d
    for d in /usr/share/qemu /usr/share/seabios /usr/lib/ipxe/qemu; do
        [ -d "$d" ] || die "firmware directory $d missing (run scripts/setup-apt.sh)"
        mkdir -p "$QEMU_BUILD/qemu-bundle$(dirname "$d")"
        ln -sfn "$d" "$QEMU_BUILD/qemu-bundle$d"
    done
}

build() {
    say "qemu: ninja ${TARGETS[*]} (log: ${LOGS#$ROOT/}/$LOG_PREFIX-build.log)"
    local start=$SECONDS
    if ! ninja -C "$QEMU_BUILD" -j "$JOBS" -k 0 "${TARGETS[@]}" > "$LOGS/$LOG_PREFIX-build.log" 2>&1; then
        grep -E -A8 'error:|FAILED:|ERROR' "$LOGS/$LOG_PREFIX-build.log" | head -n 80 >&2
        die "QEMU build failed; see $LOGS/$LOG_PREFIX-build.log"
    fi
    note "$(grep -c '^\[' "$LOGS/$LOG_PREFIX-build.log" || true) build step(s), $((SECONDS - start)) s"
}

main() {
    [ -d "$SRC_DIR" ] || die "no QEMU source in $SRC_DIR (run scripts/fetch-qemu.sh)"
    configure
    build
    link_firmware
    bash "$ROOT/scripts/install-tools.sh"    # vhdx-merge next to qemu-img
}

main "$@"
