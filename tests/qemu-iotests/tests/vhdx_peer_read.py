#!/usr/bin/env python3
#
# Read a VHDX image through libvhdi (python3-libvhdi, module pyvhdi) and
# compare what it sees with a raw reference file.  Helper of the iotest
# vhdx-peer-compat; run it with the system python that has pyvhdi.
#
# Usage: vhdx_peer_read.py IMAGE.vhdx REFERENCE.raw
#
# Prints one line:
#   libvhdi read: OK (<type>, <n>-byte sectors)
# or MISMATCH lines naming the first differing offset, so that the
# iotest's golden output stays stable and a failure says where it is.
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


def data_extents(fd, size):
    """Yield (start, end) of the ranges of fd that may hold data."""
    pos = 0
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:          # ENXIO: only a hole is left
            return
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        yield start, end
        pos = end


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def main():
    image, reference = sys.argv[1], sys.argv[2]

    vhd = pyvhdi.file()
    vhd.open(image)
    try:
        size = vhd.get_media_size()
        ref_size = os.path.getsize(reference)
        if size != ref_size:
            print('libvhdi read: MISMATCH: media size %d, reference %d'
                  % (size, ref_size))
            return 1

        fd = os.open(reference, os.O_RDONLY)
        try:
            extents = list(data_extents(fd, size))
            zeros = bytes(CHUNK)
            off = 0
            while off < size:
                n = min(CHUNK, size - off)
                got = vhd.read_buffer_at_offset(n, off)
                if any(s < off + n and e > off for s, e in extents):
                    want = os.pread(fd, n, off)
                else:
                    want = zeros[:n]
                if got != want:
                    at = off + first_difference(got, want)
                    print('libvhdi read: MISMATCH at offset 0x%x '
                          '(read %d of %d bytes at 0x%x)'
                          % (at, len(got), n, off))
                    return 1
                off += n
        finally:
            os.close(fd)

        print('libvhdi read: OK (%s, %d-byte sectors)'
              % (DISK_TYPES.get(vhd.get_disk_type(), 'unknown'),
                 vhd.get_bytes_per_sector()))
        return 0
    finally:
        vhd.close()


if __name__ == '__main__':
    sys.exit(main())
