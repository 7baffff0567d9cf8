#!/usr/bin/env python3
#
# Put one repairable fault into a VHDX image, for the vhdx-repair iotest
#
# Usage: vhdx-repair.py IMAGE FAULT
#
# Checksums are computed again where a checksummed structure changes, so
# the fault is what the driver sees.  The structure helpers come from
# vhdx_format.py, next to this file.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vhdx_format as vh  # noqa: E402

MiB = 1024 * 1024

# BAT states (MS-VHDX 2.5.1)
PAYLOAD_FULLY_PRESENT = 6
PAYLOAD_PARTIALLY_PRESENT = 7
BITMAP_PRESENT = 6


def bitmap_entry_offset(img, chunk):
    return vh.bat_offset(img) + 8 * vh.bitmap_index(img, chunk)


def set_state(img, block, state):
    vh.write_bat(img, block, (vh.read_bat(img, block) & ~7) | state)


def fault(img, name):
    if name == 'beyond-eof':
        mb = img.length() // MiB + 64
        vh.write_bat(img, 1, (mb << 20) | PAYLOAD_FULLY_PRESENT)
    elif name == 'invalid-state':
        set_state(img, 1, 4)
    elif name == 'partial-without-parent':
        set_state(img, 1, PAYLOAD_PARTIALLY_PRESENT)
    elif name == 'shared':
        vh.write_bat(img, 2, vh.read_bat(img, 0))
    elif name == 'on-metadata':
        bat = vh.bat_offset(img)
        vh.write_bat(img, 1, bat | PAYLOAD_FULLY_PRESENT)
    elif name == 'region-copy':
        # The second copy torn by a crash: its checksum no longer matches
        off = vh.REGION_OFFSETS[1] + 100
        img.write(off, bytes([img.read(off, 1)[0] ^ 0xff]))
    elif name == 'no-bitmap':
        img.write(bitmap_entry_offset(img, 0), struct.pack('<Q', 0))
    elif name == 'bitmap-beyond-eof':
        mb = img.length() // MiB + 64
        img.write(bitmap_entry_offset(img, 0),
                  struct.pack('<Q', (mb << 20) | BITMAP_PRESENT))
    else:
        sys.exit('unknown fault ' + name)


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: vhdx-repair.py IMAGE FAULT')
    img = vh.Image(sys.argv[1])
    fault(img, sys.argv[2])
    img.close()


if __name__ == '__main__':
    main()
