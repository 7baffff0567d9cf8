#!/bin/bash
# Make this Debian 12 machine able to build and test qemu-vhdx:
#  1. add bookworm-backports (deb, deb-src) and trixie (deb-src) apt sources,
#     using the Debian archive URI and key the machine already uses for
#     bookworm;
#  2. install the build and test dependencies that are missing;
# Idempotent: apt-get update and apt-get install run only when needed.
# The guest kernel of iotest vhdx-merge-guest is not fetched here but by
# scripts/fetch-guest.sh, when the iotests first run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

OUR_SOURCES=/etc/apt/sources.list.d/qemu-vhdx.sources

# Packages from bookworm itself.  clang, llvm and libclang-rt-14-dev
# (libFuzzer, the sanitizers, llvm-cov) serve scripts/run-fuzz.sh.
PKGS=(build-essential pkg-config ninja-build libglib2.0-dev zlib1g-dev
      uuid-dev libpixman-1-dev python3-venv flex bison dpkg-dev
      python3-libvhdi python3-libnbd socat seabios ipxe-qemu xz-utils time
      pyflakes3 pycodestyle
      clang llvm libclang-rt-14-dev)
# Packages from bookworm-backports: QEMU 10.0 needs meson >= 1.5; qemu-utils
# is the stock 10.0 qemu-img we compare against; qemu-system-data carries
# the x86 option ROMs (kvmvapic.bin, ...) that Debian builds from source.
BPO_PKGS=(meson qemu-utils qemu-system-data)

# Print "URI<TAB>SIGNED-BY" of the first enabled 'deb' entry for the
# bookworm suite, from deb822 .sources files, then one-line .list files.
find_bookworm_entry() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && [ "$f" != "$OUR_SOURCES" ] || continue
        awk '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/ &&
                    tolower(enabled) != "no" && uris != "") {
                    split(uris, u, " "); print u[1] "\t" signed; found = 1; exit
                }
                types = suites = uris = signed = enabled = ""; key = ""
            }
            /^#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ { next }            # continuation line (e.g. inline key)
            {
                key = tolower($0); sub(/:.*/, "", key)
                val = $0; sub(/^[^:]*:[ \t]*/, "", val); gsub(/[ \t]+/, " ", val)
                if (key == "types") types = val
                else if (key == "suites") suites = val
                else if (key == "uris") uris = val
                else if (key == "signed-by") signed = val
                else if (key == "enabled") enabled = val
            }
            END { if (!found) flush() }
        ' "$f" | head -n 1 | grep . && return 0
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '
            /^[ \t]*deb[ \t]/ {
                signed = ""; i = 2
                if ($2 ~ /^\[/) {
                    while (i <= NF) {
                        o = $i; gsub(/[][]/, "", o)
                        if (o ~ /^signed-by=/) { sub(/^signed-by=/, "", o); signed = o }
                        if ($i ~ /\]$/) { i++; break }
                        i++
                    }
                }
                if ($(i + 1) == "bookworm") { print $i "\t" signed; exit }
            }
        ' "$f" | head -n 1 | grep . && return 0
    done
    return 1
}

write_sources() {
    local entry uri signed content
    entry=$(find_bookworm_entry) ||
        die "no 'deb' entry for the bookworm suite found in /etc/apt"
    uri=${entry%%$'\t'*}
    signed=${entry#*$'\t'}
    [[ $signed == /* ]] || signed=   # only a key file path can be reused
    content=$(
        stanza() {
            printf 'Types: %s\nURIs: %s\nSuites: %s\nComponents: main\n' "$1" "$uri" "$2"
            [ -z "$signed" ] || printf 'Signed-By: %s\n' "$signed"
        }
        echo "# Written by qemu-vhdx scripts/setup-apt.sh from the bookworm entry."
        stanza "deb deb-src" bookworm-backports
        echo
        stanza deb-src trixie
    )
    if [ -f "$OUR_SOURCES" ] && [ "$(cat "$OUR_SOURCES")" = "$content" ]; then
        return 1    # unchanged
    fi
    say "apt: writing $OUR_SOURCES (archive $uri)"
    printf '%s\n' "$content" > "$OUR_SOURCES"
}

lists_present() {
    local pat
    for pat in '_dists_bookworm_*Packages*' '_dists_bookworm-backports_*Packages*' \
               '_dists_bookworm-backports_*Sources*' '_dists_trixie_*Sources*'; do
        compgen -G "/var/lib/apt/lists/*$pat" >/dev/null || return 1
    done
}

installed() {   # installed PKG: true if PKG is installed
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

version_ok() {  # version_ok PKG: true if PKG is installed in a usable version
    local v
    installed "$1" || return 1
    v=$(dpkg-query -W -f='${Version}' "$1")
    case $1 in
        meson) dpkg --compare-versions "$v" ge 1.5 ;;
        qemu-*) dpkg --compare-versions "$v" ge 1:10.0 ;;
        *) true ;;
    esac
}

apt_install() {
    DEBIAN_FRONTEND=noninteractive run apt-install \
        apt-get install -y --no-install-recommends "$@"
}

# Install; if that fails (package lists gone stale), update once and retry.
install_missing() {
    if ! apt_install "$@" 2>/dev/null; then
        say "apt: install failed; apt-get update and retry"
        run apt-update apt-get update
        apt_install "$@"
    fi
}

main() {
    [ "$(id -u)" = 0 ] || die "setup-apt.sh must run as root (it calls apt-get)"
    if write_sources || ! lists_present; then
        say "apt: apt-get update"
        run apt-update apt-get update
    fi

    local missing=() bpo_missing=() p
    for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
    for p in "${BPO_PKGS[@]}"; do version_ok "$p" || bpo_missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        say "apt: installing ${missing[*]}"
        install_missing "${missing[@]}"
    fi
    if [ ${#bpo_missing[@]} -gt 0 ]; then
        say "apt: installing from bookworm-backports: ${bpo_missing[*]}"
        install_missing -t bookworm-backports "${bpo_missing[@]}"
    fi
    if [ ${#missing[@]} = 0 ] && [ ${#bpo_missing[@]} = 0 ]; then
        say "apt: all packages present"
    fi
}

main "$@"
