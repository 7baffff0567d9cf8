#!/bin/bash
# Fetch Debian's qemu source package of the 10.0 series (from trixie) and
# unpack it, with Debian's patches applied, into build/src/qemu.  Once
# unpacked, it is reused as is: `make distclean` starts over.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DL=$BUILD/src/dl
STAMP=$SRC_DIR/.qemu-vhdx-source     # holds the Debian version unpacked

# The newest version of source package qemu whose upstream part is 10.0.x.
pick_version() {
    local best= v upstream
    while read -r v; do
        upstream=${v#*:}; upstream=${upstream%-*}
        [[ $upstream == 10.0.* ]] || continue
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
            best=$v
        fi
    done < <(apt-cache showsrc qemu 2>/dev/null | sed -n 's/^Version: //p')
    [ -n "$best" ] || die "apt-cache showsrc qemu lists no 10.0.x version (deb-src for trixie missing? run scripts/setup-apt.sh)"
    echo "$best"
}

main() {
    if [ -f "$STAMP" ]; then
        say "source: reusing QEMU $(cat "$STAMP") in ${SRC_DIR#$ROOT/}"
        return
    fi
    local version noepoch dsc
    version=$(pick_version)
    noepoch=${version#*:}
    dsc=$DL/qemu_$noepoch.dsc
    mkdir -p "$DL"
    if [ -f "$dsc" ] && [ -f "$DL/qemu_${noepoch%-*}.orig.tar.xz" ]; then
        say "source: reusing downloaded qemu $version"
    else
        say "source: apt-get source qemu=$version"
        (cd "$DL" && run apt-source apt-get source --download-only \
            -o APT::Sandbox::User=root "qemu=$version")
    fi
    say "source: unpacking (dpkg-source -x applies Debian's patches)"
    rm -rf "$SRC_DIR" "$SRC_DIR.tmp"
    run dpkg-source dpkg-source -x "$dsc" "$SRC_DIR.tmp"
    echo "$version" > "$SRC_DIR.tmp/.qemu-vhdx-source"
    mv "$SRC_DIR.tmp" "$SRC_DIR"
    note "QEMU $version in ${SRC_DIR#$ROOT/}"
}

main "$@"
