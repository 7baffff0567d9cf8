#!/usr/bin/env python3
#
# Read a chain of VHDX images (a base .vhdx and differencing .avhdx
# children) through libvhdi (python3-libvhdi, module pyvhdi) and compare
# what the top of the chain reads with a raw reference file.  Helper of the
# iotests vhdx-chain*; run it with the system python that has pyvhdi.
#
# Usage: vhdx-chain-libvhdi.py REFERENCE.raw BASE.vhdx [CHILD.avhdx...]
#
# The images are opened in the order given and each child gets the image
# before it as its parent (libvhdi checks that the child's parent
# identifier is the parent's; our driver writes parent_linkage in lower
# case, the only case libvhdi parses).
#
# What libvhdi (20210425, Debian 12) reads right: in a differencing image
# it takes every block that is not fully present sector by sector from the
# chunk's sector bitmap, without looking at the block's state or at the
# bitmap's BAT entry.  So a PAYLOAD_BLOCK_ZERO block reads from the parent
# (where the specification says zeros), and in a chunk without a sector
# bitmap block (SB_BLOCK_NOT_PRESENT, offset 0) it takes the first bytes
# of the file as the bitmap.  Chains given to this helper must have no
# zeroed blocks in children, and every chunk of every child must have a
# sector bitmap block (some block in it partially present).
#
# Prints one line:
#   libvhdi read of N images: OK (<type>, <n>-byte sectors)
# or a MISMATCH line naming the first differing offset, so that the
# iotests' golden output stays stable and a failure says where it is.
#
# SPDX-License-Identifier: GPL-2.0-or-later
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
#
# This program is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU General Public License for more details.
#
# You should have received a copy of the GNU General Public License
# along with this program.  If not, see <http://www.gnu.org/licenses/>.

import os
import sys

import pyvhdi

CHUNK = 1 << 20
DISK_TYPES = {2: 'fixed', 3: 'dynamic', 4: 'differencing'}


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def compare(top, reference):
    size = top.get_media_size()
    ref_size = os.path.getsize(reference)
    if size != ref_size:
        return 'MISMATCH: media size %d, reference %d' % (size, ref_size)
    fd = os.open(reference, os.O_RDONLY)
    try:
        off = 0
        while off < size:
            n = min(CHUNK, size - off)
            got = top.read_buffer_at_offset(n, off)
            want = os.pread(fd, n, off)
            if got != want:
                at = off + first_difference(got, want)
                return ('MISMATCH at offset 0x%x (read %d of %d bytes at 0x%x)'
                        % (at, len(got), n, off))
            off += n
    finally:
        os.close(fd)
    return None


def main():
    reference, images = sys.argv[1], sys.argv[2:]
    label = 'libvhdi read of %d image%s' % (len(images),
                                           '' if len(images) == 1 else 's')
    opened = []
    try:
        for i, path in enumerate(images):
            f = pyvhdi.file()
            f.open(path)
            opened.append(f)
            if i == 0:
                continue
            parent = opened[i - 1]
            if f.get_disk_type() != 4:
                print('%s: MISMATCH: image %d is no differencing image'
                      % (label, i))
                return 1
            if f.get_parent_identifier() != parent.get_identifier():
                print('%s: MISMATCH: image %d names parent %s, image %d is %s'
                      % (label, i, f.get_parent_identifier(), i - 1,
                         parent.get_identifier()))
                return 1
            f.set_parent(parent)
        top = opened[-1]
        err = compare(top, reference)
        if err:
            print('%s: %s' % (label, err))
            return 1
        print('%s: OK (%s, %d-byte sectors)'
              % (label, DISK_TYPES.get(top.get_disk_type(), 'unknown'),
                 top.get_bytes_per_sector()))
        return 0
    finally:
        for f in reversed(opened):
            f.close()


if __name__ == '__main__':
    sys.exit(main())
