#!/bin/bash
# Fetch one exact Debian source package of QEMU 10.0, check it against the
# sha256 sums below, and unpack it, with Debian's patches applied, into
# build/src/qemu.  Once unpacked it is reused while its version is the one
# asked for; `make distclean` starts over.
#
# usage: fetch-qemu.sh            fetch (when needed), verify, unpack
#        fetch-qemu.sh --verify   only check the downloaded files
#
# Building the same commit twice must compile the same QEMU, so the version
# is pinned rather than "the newest 10.0.x apt knows".  The .dsc lists the
# sha256 of every other file of the package, and dpkg-source -x checks them
# when unpacking, so pinning the .dsc pins the Debian patches too; the
# upstream tarball is checked here as well, before anything is unpacked.
#
# To build another 10.0.x (the archive keeps only the newest point
# release, so a pinned version can disappear), name it and its sums:
#   QEMU_DEB_VERSION=1:10.0.N+ds-... QEMU_DSC_SHA256=... QEMU_ORIG_SHA256=...
# Run with only QEMU_DEB_VERSION first: the error then prints the sums of
# what apt fetched, for you to check against Debian's and pass back.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PIN_VERSION=1:10.0.13+ds-0+deb13u1
PIN_DSC_SHA256=a426c892e5369058c3423816c8625bc8010bb5a58ece57261f62b64ee4d765ad
PIN_ORIG_SHA256=6a0888e806c2ffc0c5f0733e974f9aea55491950d3c47c98669c8b236dde59ae

VERSION=${QEMU_DEB_VERSION:-$PIN_VERSION}
if [ "$VERSION" = "$PIN_VERSION" ]; then
    DSC_SHA256=${QEMU_DSC_SHA256:-$PIN_DSC_SHA256}
    ORIG_SHA256=${QEMU_ORIG_SHA256:-$PIN_ORIG_SHA256}
else
    DSC_SHA256=${QEMU_DSC_SHA256:-}
    ORIG_SHA256=${QEMU_ORIG_SHA256:-}
fi

DL=$BUILD/src/dl
STAMP=$SRC_DIR/.qemu-vhdx-source     # holds the Debian version unpacked
NOEPOCH=${VERSION#*:}
UPSTREAM=${NOEPOCH%-*}
DSC=$DL/qemu_$NOEPOCH.dsc
ORIG=$DL/qemu_$UPSTREAM.orig.tar.xz

check_version() {
    [[ $UPSTREAM == 10.0.* ]] ||
        die "QEMU_DEB_VERSION=$VERSION is not a QEMU 10.0.x source package"
}

# Versions of source package qemu that apt can fetch, on one line
apt_versions() {
    apt-cache showsrc qemu 2>/dev/null | sed -n 's/^Version: //p' |
        paste -sd' ' | sed 's/ /, /g'
}

download() {
    local have
    have=$(apt_versions)
    if ! apt-cache showsrc qemu 2>/dev/null | grep -qxF "Version: $VERSION"; then
        printf 'ERROR: QEMU source qemu=%s cannot be fetched\n' "$VERSION" >&2
        printf '  apt offers: %s\n' "${have:-nothing (deb-src lines missing? run scripts/setup-apt.sh)}" >&2
        printf '  to build another 10.0.x, set QEMU_DEB_VERSION (see scripts/fetch-qemu.sh)\n' >&2
        exit 1
    fi
    say "source: apt-get source qemu=$VERSION"
    mkdir -p "$DL"
    (cd "$DL" && run apt-source apt-get source --download-only \
        -o APT::Sandbox::User=root "qemu=$VERSION")
}

# verify_file FILE SHA256 VARIABLE: FILE's sha256 is SHA256, else stop and
# say which file, what it is, and which variable names the expected sum
verify_file() {
    local file=$1 want=$2 var=$3 got
    [ -f "$file" ] || die "${file#$ROOT/} missing (not downloaded yet?)"
    got=$(sha256sum "$file" | cut -d' ' -f1)
    [ "$got" = "$want" ] && return
    printf 'ERROR: sha256 mismatch for %s\n' "${file#$ROOT/}" >&2
    printf '  expected %s\n  got      %s\n' "${want:-(none given)}" "$got" >&2
    if [ -n "${!var:-}" ]; then
        printf '  the expected sum is %s from the environment\n' "$var" >&2
    elif [ "$VERSION" = "$PIN_VERSION" ]; then
        printf '  the download differs from the pinned QEMU %s: delete %s and retry, or check your apt mirror\n' \
            "$VERSION" "${DL#$ROOT/}" >&2
    else
        printf '  QEMU_DEB_VERSION=%s is not pinned: check the sum against Debian'"'"'s and set %s=%s\n' \
            "$VERSION" "$var" "$got" >&2
    fi
    exit 1
}

verify() {
    verify_file "$DSC" "$DSC_SHA256" QEMU_DSC_SHA256
    verify_file "$ORIG" "$ORIG_SHA256" QEMU_ORIG_SHA256
}

unpack() {
    say "source: unpacking (dpkg-source -x checks the .dsc's sums and applies Debian's patches)"
    rm -rf "$SRC_DIR" "$SRC_DIR.tmp"
    run dpkg-source dpkg-source -x "$DSC" "$SRC_DIR.tmp"
    echo "$VERSION" > "$SRC_DIR.tmp/.qemu-vhdx-source"
    mv "$SRC_DIR.tmp" "$SRC_DIR"
    note "QEMU $VERSION in ${SRC_DIR#$ROOT/} (sha256 verified)"
}

main() {
    check_version
    if [ "${1:-}" = --verify ]; then
        verify
        say "source: qemu $VERSION in ${DL#$ROOT/} matches its sha256 sums"
        return
    fi
    if [ -f "$STAMP" ]; then
        if [ "$(cat "$STAMP")" = "$VERSION" ]; then
            say "source: reusing QEMU $VERSION in ${SRC_DIR#$ROOT/}"
            return
        fi
        note "source: ${SRC_DIR#$ROOT/} holds QEMU $(cat "$STAMP"), not $VERSION"
    fi
    if [ -f "$DSC" ] && [ -f "$ORIG" ]; then
        say "source: reusing downloaded qemu $VERSION"
    else
        download
    fi
    verify
    unpack
}

main "$@"
