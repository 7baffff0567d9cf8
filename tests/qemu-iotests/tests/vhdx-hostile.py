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

KiB = 1024
MiB = 1024 * KiB

HEADER_OFFSETS = (64 * KiB, 128 * KiB)
HEADER_SIZE = 4 * KiB
REGION_OFFSETS = (192 * KiB, 256 * KiB)
REGION_SIZE = 64 * KiB

BAT_GUID = uuid.UUID('2dc27766-f623-4200-9d64-115e9bfd4a08')
METADATA_GUID = uuid.UUID('8b7ca206-4790-4b9a-b8fe-575f050f886e')

FILE_PARAMETERS = uuid.UUID('caa16737-fa36-4d43-b3b6-33f0aa44e76b')
VIRTUAL_DISK_SIZE = uuid.UUID('2fa54224-cd1b-4876-b211-5dbed83bf4b8')
LOGICAL_SECTOR_SIZE = uuid.UUID('8141bf1d-a96f-4709-ba47-f233a8faab5f')

LOG_GUID = uuid.UUID('01234567-89ab-cdef-0123-456789abcdef')


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli), reflected, init and xorout 0xffffffff"""
    crc = 0xffffffff
    for b in data:
        crc = CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc ^ 0xffffffff


# The check value of the algorithm: catches a wrong table at once
assert crc32c(b'123456789') == 0xe3069283


class Image:
    def __init__(self, path):
        self.f = open(path, 'r+b')

    def read(self, offset, length):
        self.f.seek(offset)
        return bytearray(self.f.read(length))

    def write(self, offset, data):
        self.f.seek(offset)
        self.f.write(data)

    def length(self):
        self.f.seek(0, 2)
        return self.f.tell()

    def close(self):
        self.f.close()


def set_checksum(buf):
    """Fills in the CRC-32C at offset 4, computed with the field zeroed"""
    struct.pack_into('<I', buf, 4, 0)
    struct.pack_into('<I', buf, 4, crc32c(buf))


def current_header(img):
    """The header with the higher sequence number"""
    best = None
    for off in HEADER_OFFSETS:
        h = img.read(off, HEADER_SIZE)
        seq = struct.unpack_from('<Q', h, 8)[0]
        if best is None or seq > best[0]:
            best = (seq, h)
    return best[1]


def patch_headers(img, fmt, field, value, fix_crc=True):
    for off in HEADER_OFFSETS:
        h = img.read(off, HEADER_SIZE)
        if fmt is not None:
            struct.pack_into(fmt, h, field, value)
        if fix_crc:
            set_checksum(h)
        else:
            struct.pack_into('<I', h, 4, 0xdeadbeef)
        img.write(off, h)


def region_entries(img):
    rt = img.read(REGION_OFFSETS[0], REGION_SIZE)
    count = struct.unpack_from('<I', rt, 8)[0]
    entries = {}
    for i in range(count):
        e = 16 + 32 * i
        guid = uuid.UUID(bytes_le=bytes(rt[e:e + 16]))
        offset, length = struct.unpack_from('<QI', rt, e + 16)
        entries[guid] = (i, offset, length)
    return entries


def patch_region_tables(img, fmt, field, value, fix_crc=True):
    for off in REGION_OFFSETS:
        rt = img.read(off, REGION_SIZE)
        if fmt is not None:
            struct.pack_into(fmt, rt, field, value)
        if fix_crc:
            set_checksum(rt)
        else:
            struct.pack_into('<I', rt, 4, 0xdeadbeef)
        img.write(off, rt)


def metadata_offset(img):
    return region_entries(img)[METADATA_GUID][1]


def metadata_item(img, guid):
    """File offset of metadata item @guid"""
    md = metadata_offset(img)
    table = img.read(md, 64 * KiB)
    assert table[0:8] == b'metadata'
    count = struct.unpack_from('<H', table, 10)[0]
    for i in range(count):
        e = 32 + 32 * i
        if uuid.UUID(bytes_le=bytes(table[e:e + 16])) == guid:
            return md + struct.unpack_from('<I', table, e + 16)[0]
    raise KeyError(guid)


def bat_offset(img):
    return region_entries(img)[BAT_GUID][1]


def bat_index(img, block):
    """BAT index of payload block @block (one bitmap entry per chunk)"""
    block_size = struct.unpack('<I', img.read(metadata_item(img, FILE_PARAMETERS), 4))[0]
    sector = struct.unpack('<I', img.read(metadata_item(img, LOGICAL_SECTOR_SIZE), 4))[0]
    chunk_ratio = (1 << 23) * sector // block_size
    return block + block // chunk_ratio


def read_bat(img, block):
    off = bat_offset(img) + 8 * bat_index(img, block)
    return struct.unpack('<Q', img.read(off, 8))[0]


def write_bat(img, block, entry):
    off = bat_offset(img) + 8 * bat_index(img, block)
    img.write(off, struct.pack('<Q', entry))


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
