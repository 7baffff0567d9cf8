#!/bin/bash
# Install this project's tools into the QEMU build tree, next to qemu-img:
# tools/vhdx-merge becomes build/qemu-build/vhdx-merge, run by Debian's
# python (the shebang) with QEMU's python/ directory on its path (for
# qemu.qmp).  There the iotests find it (next to $QEMU_IMG_PROG), and it
# finds the qemu-img next to itself.  The test library tests/crash/
# iorecord.c (recording writes, stopping a process at a given one) becomes
# build/qemu-build/iorecord.so, for the iotests and the crash simulation.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

install_python_tool() {
    local name=$1 src dst qemu_python
    src=$ROOT/tools/$name
    dst=$QEMU_BUILD/$name
    qemu_python=$SRC_DIR/python
    [ -d "$qemu_python/qemu/qmp" ] ||
        die "no $qemu_python/qemu/qmp (run scripts/fetch-qemu.sh)"
    [ -d "$QEMU_BUILD" ] || die "no $QEMU_BUILD (run scripts/build-qemu.sh)"
    grep -q '^QEMU_PYTHON_DIR = None' "$src" ||
        die "$src: no line 'QEMU_PYTHON_DIR = None' to set"
    # The path goes into a python string literal: let python quote it
    QEMU_PYTHON=$qemu_python "$PYTHON" - "$src" "$dst.tmp" <<'EOF'
import os
import sys

src, dst = sys.argv[1], sys.argv[2]
with open(src) as f:
    lines = f.readlines()
lines[0] = '#!/usr/bin/python3\n'
lines = ['QEMU_PYTHON_DIR = %r\n' % os.environ['QEMU_PYTHON']
         if line.startswith('QEMU_PYTHON_DIR = None') else line
         for line in lines]
with open(dst, 'w') as f:
    f.writelines(lines)
EOF
    "$PYTHON" -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' \
        "$dst.tmp"
    chmod 755 "$dst.tmp"
    if cmp -s "$dst.tmp" "$dst"; then
        rm -f "$dst.tmp"
    else
        mv "$dst.tmp" "$dst"
        note "installed ${dst#"$ROOT"/}"
    fi
}

install_preload_library() {
    local src=$ROOT/tests/crash/$1.c dst=$QEMU_BUILD/$1.so
    if [ ! -f "$dst" ] || [ "$src" -nt "$dst" ]; then
        gcc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$dst.tmp" "$src" \
            -ldl -lpthread
        mv "$dst.tmp" "$dst"
        note "installed ${dst#"$ROOT"/}"
    fi
}

install_python_tool vhdx-merge
install_preload_library iorecord
