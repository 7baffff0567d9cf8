#!/usr/bin/env python3
#
# Damage one field of a VHDX image, for the vhdx-hostile iotest
#
# Usage: vhdx-hostile.py IMAGE CASE
#
# Where the point is to test the validation of a field rather than a
# checksum, the CRC-32C of the structure holding the field is computed
# again, so the driver gets past the checksum and must judge the field.
# Structures that exist twice (headers, region tables) are damaged in both
# copies, as a driver may use the second copy when the first is invalid.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import struct
import sys
import uuid

# The format helpers live next to this script, shared with
# vhdx_hostile_corpus.py
from vhdx_format import (KiB, MiB, HEADER_OFFSETS, REGION_OFFSETS, BAT_GUID,
                         FILE_PARAMETERS, VIRTUAL_DISK_SIZE,
                         LOGICAL_SECTOR_SIZE, Image, current_header,
                         patch_headers, region_entries, patch_region_tables,
                         metadata_offset, metadata_item, read_bat, write_bat,
                         set_checksum)

LOG_GUID = uuid.UUID('01234567-89ab-cdef-0123-456789abcdef')


def write_log_entry(img, entry_length, flushed, last):
    """Sets a LogGuid in both headers and writes a 'loge' entry with no
    descriptors at the start of the log"""
    patch_headers(img, '<16s', 48, LOG_GUID.bytes_le)
    h = current_header(img)
    log_offset = struct.unpack_from('<Q', h, 72)[0]
    e = bytearray(4 * KiB)
    struct.pack_into('<4sIIIQII16sQQ', e, 0, b'loge', 0, entry_length, 0, 1,
                     0, 0, LOG_GUID.bytes_le, flushed, last)
    set_checksum(e)
    img.write(log_offset, e)


def case(img, name):
    if name == 'file-signature':
        img.write(0, b'vhdxfilX')
    elif name == 'headers-checksum':
        patch_headers(img, None, 0, 0, fix_crc=False)
    elif name == 'current-header-checksum':
        # Only the current header: the other one is still valid
        off = max(HEADER_OFFSETS, key=lambda o: struct.unpack(
            '<Q', img.read(o + 8, 8))[0])
        img.write(off + 4, struct.pack('<I', 0xdeadbeef))
    elif name == 'headers-signature':
        patch_headers(img, '<4s', 0, b'hexd')
    elif name == 'header-log-offset-unaligned':
        h = current_header(img)
        log_offset = struct.unpack_from('<Q', h, 72)[0]
        patch_headers(img, '<Q', 72, log_offset + 4 * KiB)
    elif name == 'header-log-length-beyond-file':
        patch_headers(img, '<I', 68, 1024 * MiB)
    elif name == 'header-log-offset-beyond-file':
        patch_headers(img, '<Q', 72, 1024 * 1024 * MiB)
    elif name == 'log-entry-flushed-beyond-file':
        end = img.length() + 64 * MiB
        write_log_entry(img, 4 * KiB, end, end)
    elif name == 'log-entry-huge-length':
        write_log_entry(img, 0xfffff000, 0, img.length())
    elif name == 'region-checksum':
        patch_region_tables(img, None, 0, 0, fix_crc=False)
    elif name == 'region1-checksum':
        # Only the first copy: the second one is still valid
        img.write(REGION_OFFSETS[0] + 4, struct.pack('<I', 0xdeadbeef))
    elif name == 'region-entry-count':
        patch_region_tables(img, '<I', 8, 5000)
    elif name == 'region-bat-beyond-file':
        i = region_entries(img)[BAT_GUID][0]
        patch_region_tables(img, '<Q', 16 + 32 * i + 16, 1024 * MiB)
    elif name == 'metadata-entry-count':
        img.write(metadata_offset(img) + 10, struct.pack('<H', 5000))
    elif name == 'block-size':
        img.write(metadata_item(img, FILE_PARAMETERS),
                  struct.pack('<I', 3 * MiB))
    elif name == 'logical-sector-size':
        img.write(metadata_item(img, LOGICAL_SECTOR_SIZE),
                  struct.pack('<I', 1000))
    elif name == 'virtual-size':
        img.write(metadata_item(img, VIRTUAL_DISK_SIZE),
                  struct.pack('<Q', 1 << 63))
    elif name == 'bat-beyond-file':
        mb = (img.length() + 16 * MiB) // MiB
        write_bat(img, 0, (mb << 20) | 6)
    elif name == 'bat-reserved-state':
        write_bat(img, 0, (read_bat(img, 0) & ~7) | 4)
    elif name == 'bat-overlap':
        write_bat(img, 1, read_bat(img, 0))
    else:
        sys.exit('unknown case ' + name)


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: vhdx-hostile.py IMAGE CASE')
    img = Image(sys.argv[1])
    case(img, sys.argv[2])
    img.close()


if __name__ == '__main__':
    main()
