#!/bin/bash
# Fetch the guest of iotest vhdx-merge-guest into build/guest, once: Debian
# 12's kernel image (the linux-image-6.1.*-amd64 package linux-image-amd64
# depends on) and busybox-static, downloaded with apt-get download and
# unpacked with dpkg-deb, not installed.  Of the kernel package only the
# kernel, its config, the module lists and the virtio and block driver
# modules are kept (about 12 MB of its 400 MB).
# scripts/run-iotests.sh calls it; nothing else needs the guest, so
# make demo downloads no kernel.  When the download fails, the test says
# so and is skipped.  GUEST_REFRESH=1 fetches again (e.g. a newer kernel).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

GUEST=$BUILD/guest
# What the guest needs of the kernel package (tar patterns; a directory
# comes with its contents).
GUEST_KERNEL_FILES=('./boot/vmlinuz-*' './boot/config-*'
                    './lib/modules/*/modules.*'
                    './lib/modules/*/kernel/drivers/virtio'
                    './lib/modules/*/kernel/drivers/block')

# The concrete kernel image package of Debian 12's linux-image-amd64 (its
# candidate version, e.g. linux-image-6.1.0-56-amd64).
kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null | awk '
        $1 == "Depends:" && $2 ~ /^linux-image-6\.1\.[0-9]+-[0-9]+-amd64$/ {
            print $2; exit
        }' | grep .
}

guest_present() {
    [ -f "$GUEST/PACKAGES" ] && [ -x "$GUEST/bin/busybox" ] &&
        compgen -G "$GUEST/boot/vmlinuz-*" >/dev/null &&
        compgen -G "$GUEST/lib/modules/*/kernel/drivers/block/virtio_blk.ko*" >/dev/null
}

# Download and unpack the guest's kernel and busybox into $GUEST (as a
# whole: a new directory replaces the old one once everything is there).
fetch_guest() {
    if [ "${GUEST_REFRESH:-}" != 1 ] && guest_present; then
        say "guest: present in ${GUEST#"$ROOT"/} ($(paste -sd' ' "$GUEST/PACKAGES"))"
        return 0
    fi
    local kpkg dl=$GUEST.download new=$GUEST.new deb
    kpkg=$(kernel_package) ||
        die "apt-cache: no linux-image-6.1.*-amd64 dependency of linux-image-amd64"
    say "guest: apt-get download $kpkg busybox-static"
    rm -rf "$dl" "$new"
    mkdir -p "$dl" "$new"
    chown _apt "$dl" 2>/dev/null || true    # so that apt downloads sandboxed
    if ! (cd "$dl" && run guest-download apt-get download "$kpkg" busybox-static) 2>/dev/null; then
        say "guest: download failed; apt-get update and retry"
        run apt-update apt-get update
        (cd "$dl" && run guest-download apt-get download "$kpkg" busybox-static)
    fi
    deb=$(compgen -G "$dl/${kpkg}_*.deb" | head -n 1)
    dpkg-deb --fsys-tarfile "$deb" |
        tar -x -C "$new" --wildcards "${GUEST_KERNEL_FILES[@]}"
    dpkg-deb -x "$(compgen -G "$dl/busybox-static_*.deb" | head -n 1)" "$new"
    for deb in "$dl"/*.deb; do
        dpkg-deb -W --showformat='${Package}=${Version}\n' "$deb"
    done > "$new/PACKAGES"
    [ -x "$new/bin/busybox" ] || die "guest: no bin/busybox in busybox-static"
    rm -rf "$GUEST" "$dl"
    mv "$new" "$GUEST"
    guest_present || die "guest: kernel or virtio_blk module missing in ${GUEST#"$ROOT"/}"
    note "$(paste -sd' ' "$GUEST/PACKAGES"), $(du -sh "$GUEST" | cut -f1) in ${GUEST#"$ROOT"/}"
}

fetch_guest
