#
# The VHDX on-disk format, as much of it as the hostile-image tests need
#
# Shared by vhdx-hostile.py (one damaged field per case) and
# vhdx_hostile_corpus.py (the hostile-image corpus): CRC-32C, the fixed
# layout of the first MiB, headers, region tables, the metadata table,
# the parent locator, the BAT and log entries.  Everything is written
# from the MS-VHDX specification, not from the driver, so that the tests
# do not share the driver's mistakes.
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
#

import os
import re
import struct
import uuid

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
TiB = 1024 * GiB

HEADER_OFFSETS = (64 * KiB, 128 * KiB)
HEADER_SIZE = 4 * KiB
REGION_OFFSETS = (192 * KiB, 256 * KiB)
REGION_SIZE = 64 * KiB
REGION_MAX_ENTRIES = 2047
METADATA_TABLE_SIZE = 64 * KiB
METADATA_MAX_ENTRIES = 2047

# Header fields
HDR_SEQUENCE = 8
HDR_FILE_WRITE_GUID = 16
HDR_DATA_WRITE_GUID = 32
HDR_LOG_GUID = 48
HDR_LOG_VERSION = 64
HDR_VERSION = 66
HDR_LOG_LENGTH = 68
HDR_LOG_OFFSET = 72

BAT_GUID = uuid.UUID('2dc27766-f623-4200-9d64-115e9bfd4a08')
METADATA_GUID = uuid.UUID('8b7ca206-4790-4b9a-b8fe-575f050f886e')

FILE_PARAMETERS = uuid.UUID('caa16737-fa36-4d43-b3b6-33f0aa44e76b')
VIRTUAL_DISK_SIZE = uuid.UUID('2fa54224-cd1b-4876-b211-5dbed83bf4b8')
PAGE83 = uuid.UUID('beca12ab-b2e6-4523-93ef-c309e000c746')
LOGICAL_SECTOR_SIZE = uuid.UUID('8141bf1d-a96f-4709-ba47-f233a8faab5f')
PHYSICAL_SECTOR_SIZE = uuid.UUID('cda348c7-445d-4471-9cc9-e9885251c556')
PARENT_LOCATOR = uuid.UUID('a8d35f2d-b30b-454d-abf7-d3d84834ab0c')
VHDX_LOCATOR_TYPE = uuid.UUID('b04aefb7-d19e-4a81-b789-25b8e9445913')

# Metadata table entry flags
MD_IS_USER = 1 << 0
MD_IS_VIRTUAL_DISK = 1 << 1
MD_IS_REQUIRED = 1 << 2

# Region table entry flag
REGION_REQUIRED = 1 << 0

# BAT entry states
PAYLOAD_NOT_PRESENT = 0
PAYLOAD_ZERO = 2
PAYLOAD_FULLY_PRESENT = 6
PAYLOAD_PARTIALLY_PRESENT = 7
BITMAP_PRESENT = 6

LOG_SECTOR = 4 * KiB


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc32c_table()


def _zeros_operator():
    """Column matrices over GF(2) advancing the CRC register over 2^k zero
    bytes: structures are mostly zeros, and a byte loop in Python costs a
    third of a second per MiB, so runs of zeros are skipped in O(log n)"""
    one = [0] * 32
    for j in range(32):
        c = 1 << j
        one[j] = CRC_TABLE[c & 0xff] ^ (c >> 8)
    ops = [one]
    for _ in range(1, 48):
        m = ops[-1]
        ops.append([_apply(m, m[j]) for j in range(32)])
    return ops


def _apply(matrix, vec):
    out = 0
    j = 0
    while vec:
        if vec & 1:
            out ^= matrix[j]
        vec >>= 1
        j += 1
    return out


ZEROS_OPS = _zeros_operator()
ZERO_RUN = re.compile(b'\x00{256,}')


def _crc_zeros(crc, n):
    k = 0
    while n:
        if n & 1:
            crc = _apply(ZEROS_OPS[k], crc)
        n >>= 1
        k += 1
    return crc


def _crc_bytes(crc, data):
    for b in data:
        crc = CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc


def crc32c(data):
    """CRC-32C (Castagnoli), reflected, init and xorout 0xffffffff"""
    crc = 0xffffffff
    pos = 0
    data = bytes(data)
    for m in ZERO_RUN.finditer(data):
        crc = _crc_bytes(crc, data[pos:m.start()])
        crc = _crc_zeros(crc, m.end() - m.start())
        pos = m.end()
    crc = _crc_bytes(crc, data[pos:])
    return crc ^ 0xffffffff


# The check value of the algorithm catches a wrong table at once; the
# second line checks the zero-run shortcut against the byte loop
assert crc32c(b'123456789') == 0xe3069283
assert crc32c(bytes(1000) + b'x') == \
    _crc_bytes(0xffffffff, bytes(1000) + b'x') ^ 0xffffffff


def set_checksum(buf, offset=4):
    """Fills in the CRC-32C at @offset, computed with the field zeroed"""
    struct.pack_into('<I', buf, offset, 0)
    struct.pack_into('<I', buf, offset, crc32c(buf))


class Image:
    def __init__(self, path):
        self.path = path
        self.f = open(path, 'r+b')

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    def read(self, offset, length):
        self.f.seek(offset)
        data = self.f.read(length)
        return bytearray(data.ljust(length, b'\0'))

    def write(self, offset, data):
        self.f.seek(offset)
        self.f.write(data)

    def length(self):
        self.f.seek(0, 2)
        return self.f.tell()

    def truncate(self, length):
        self.f.truncate(length)

    def close(self):
        self.f.close()


# ---- Headers ----

def current_header_offset(img):
    """Offset of the header with the higher sequence number"""
    return max(HEADER_OFFSETS, key=lambda o: struct.unpack(
        '<Q', img.read(o + HDR_SEQUENCE, 8))[0])


def current_header(img):
    return img.read(current_header_offset(img), HEADER_SIZE)


def header_field(img, fmt, field):
    return struct.unpack_from(fmt, current_header(img), field)[0]


def patch_headers(img, fmt, field, value, fix_crc=True):
    """Sets a field in both headers (a driver may fall back to the other)"""
    for off in HEADER_OFFSETS:
        h = img.read(off, HEADER_SIZE)
        if fmt is not None:
            struct.pack_into(fmt, h, field, value)
        if fix_crc:
            set_checksum(h)
        else:
            struct.pack_into('<I', h, 4, 0xdeadbeef)
        img.write(off, h)


def log_region(img):
    h = current_header(img)
    return (struct.unpack_from('<Q', h, HDR_LOG_OFFSET)[0],
            struct.unpack_from('<I', h, HDR_LOG_LENGTH)[0])


# ---- Region table ----

def region_entries(img):
    """{guid: (index, offset, length)} of the first region table"""
    rt = img.read(REGION_OFFSETS[0], REGION_SIZE)
    count = struct.unpack_from('<I', rt, 8)[0]
    entries = {}
    for i in range(min(count, REGION_MAX_ENTRIES)):
        e = 16 + 32 * i
        guid = uuid.UUID(bytes_le=bytes(rt[e:e + 16]))
        offset, length = struct.unpack_from('<QI', rt, e + 16)
        entries.setdefault(guid, (i, offset, length))
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


def write_region_tables(img, entries, count=None):
    """Writes both region tables with @entries, a list of
    (guid, offset, length, flags); EntryCount is @count if given"""
    rt = bytearray(REGION_SIZE)
    struct.pack_into('<4sII', rt, 0, b'regi', 0,
                     len(entries) if count is None else count)
    for i, (guid, offset, length, flags) in enumerate(entries):
        struct.pack_into('<16sQII', rt, 16 + 32 * i, guid.bytes_le, offset,
                         length, flags)
    set_checksum(rt)
    for off in REGION_OFFSETS:
        img.write(off, rt)


def region_list(img):
    """The first region table as a list of (guid, offset, length, flags)"""
    rt = img.read(REGION_OFFSETS[0], REGION_SIZE)
    count = struct.unpack_from('<I', rt, 8)[0]
    out = []
    for i in range(min(count, REGION_MAX_ENTRIES)):
        e = 16 + 32 * i
        guid = uuid.UUID(bytes_le=bytes(rt[e:e + 16]))
        out.append((guid,) + struct.unpack_from('<QII', rt, e + 16))
    return out


# ---- Metadata ----

def metadata_offset(img):
    return region_entries(img)[METADATA_GUID][1]


def metadata_length(img):
    return region_entries(img)[METADATA_GUID][2]


class MetadataTable:
    """The metadata table as a list of [guid, offset, length, flags]
    entries; write() puts it back (offsets are inside the region)"""

    def __init__(self, img):
        self.img = img
        self.offset = metadata_offset(img)
        table = img.read(self.offset, METADATA_TABLE_SIZE)
        assert table[0:8] == b'metadata'
        count = struct.unpack_from('<H', table, 10)[0]
        self.entries = []
        for i in range(count):
            e = 32 + 32 * i
            guid = uuid.UUID(bytes_le=bytes(table[e:e + 16]))
            self.entries.append([guid] + list(
                struct.unpack_from('<III', table, e + 16)))

    def find(self, guid):
        for e in self.entries:
            if e[0] == guid:
                return e
        raise KeyError(guid)

    def item_offset(self, guid):
        """File offset of item @guid"""
        return self.offset + self.find(guid)[1]

    def read_item(self, guid):
        e = self.find(guid)
        return self.img.read(self.offset + e[1], e[2])

    def end_of_items(self):
        return max(e[1] + e[2] for e in self.entries)

    def write(self, count=None):
        table = bytearray(METADATA_TABLE_SIZE)
        struct.pack_into('<8sHH', table, 0, b'metadata', 0,
                         len(self.entries) if count is None else count)
        for i, (guid, offset, length, flags) in enumerate(self.entries):
            struct.pack_into('<16sIII', table, 32 + 32 * i, guid.bytes_le,
                             offset, length, flags)
        self.img.write(self.offset, table)


def metadata_item(img, guid):
    """File offset of metadata item @guid"""
    return MetadataTable(img).item_offset(guid)


# ---- Parent locator ----

def utf16(s):
    return s.encode('utf-16-le', 'surrogatepass')


def encode_locator(pairs, loc_type=VHDX_LOCATOR_TYPE):
    """A parent locator item holding @pairs, a list of (key, value); a
    key or value may be str or raw UTF-16LE bytes"""
    strings = bytearray()
    table = bytearray()
    base = 20 + 12 * len(pairs)
    for key, value in pairs:
        k = key if isinstance(key, bytes) else utf16(key)
        v = value if isinstance(value, bytes) else utf16(value)
        koff = base + len(strings)
        strings += k
        voff = base + len(strings)
        strings += v
        table += struct.pack('<IIHH', koff, voff, len(k), len(v))
    return (struct.pack('<16sHH', loc_type.bytes_le, 0, len(pairs)) +
            table + strings)


def set_parent_locator(img, item):
    """Replaces the parent locator item with @item, placed after the last
    other item (the region is 1 MiB; items are a few hundred bytes)"""
    mt = MetadataTable(img)
    loc = mt.find(PARENT_LOCATOR)
    others = [e for e in mt.entries if e[0] != PARENT_LOCATOR]
    start = (max(e[1] + e[2] for e in others) + 7) & ~7
    # No trace of the old item (qemu-img's holds the path it was made at)
    img.write(mt.offset + loc[1], bytes(loc[2]))
    loc[1] = start
    loc[2] = len(item)
    img.write(mt.offset + start, item)
    mt.write()


def guid_text(guid):
    return '{' + str(guid) + '}'


# ---- BAT ----

def bat_offset(img):
    return region_entries(img)[BAT_GUID][1]


def geometry(img):
    """(block size, logical sector size, chunk ratio)"""
    mt = MetadataTable(img)
    block_size = struct.unpack('<I', mt.read_item(FILE_PARAMETERS)[:4])[0]
    sector = struct.unpack('<I', mt.read_item(LOGICAL_SECTOR_SIZE))[0]
    return block_size, sector, (1 << 23) * sector // block_size


def bat_index(img, block):
    """BAT index of payload block @block (one bitmap entry per chunk)"""
    chunk_ratio = geometry(img)[2]
    return block + block // chunk_ratio


def bitmap_index(img, chunk):
    """BAT index of the sector bitmap entry of chunk @chunk"""
    chunk_ratio = geometry(img)[2]
    return chunk * (chunk_ratio + 1) + chunk_ratio


def read_bat(img, block):
    off = bat_offset(img) + 8 * bat_index(img, block)
    return struct.unpack('<Q', img.read(off, 8))[0]


def write_bat(img, block, entry):
    off = bat_offset(img) + 8 * bat_index(img, block)
    img.write(off, struct.pack('<Q', entry))


def bat_entry(offset, state):
    return (offset // MiB) << 20 | state


# ---- Log ----

def log_entry(guid, sequence, tail=0, flushed=0, last=0, descriptors=(),
              entry_length=None, descriptor_count=None):
    """A log entry (MS-VHDX 2.3.1) with a correct checksum.
    @descriptors: ('data', file_offset, 4 KiB sector) or
    ('zero', file_offset, length).  EntryLength and DescriptorCount are
    computed unless given (to lie about them)."""
    descs = bytearray()
    data = bytearray()
    for d in descriptors:
        if d[0] == 'data':
            sector = bytes(d[2])
            assert len(sector) == LOG_SECTOR
            descs += struct.pack('<4sIQQQ', b'desc',
                                 struct.unpack_from('<I', sector, 4092)[0],
                                 struct.unpack_from('<Q', sector, 0)[0],
                                 d[1], sequence)
            data += struct.pack('<4sI', b'data', sequence >> 32)
            data += sector[8:4092]
            data += struct.pack('<I', sequence & 0xffffffff)
        else:
            descs += struct.pack('<4sIQQQ', b'zero', 0, d[2], d[1], sequence)
    head_len = 64 + len(descs)
    head = bytearray((head_len + LOG_SECTOR - 1) // LOG_SECTOR * LOG_SECTOR)
    if entry_length is None:
        entry_length = len(head) + len(data)
    if descriptor_count is None:
        descriptor_count = len(descriptors)
    struct.pack_into('<4sIIIQII16sQQ', head, 0, b'loge', 0, entry_length,
                     tail, sequence, descriptor_count, 0, guid.bytes_le,
                     flushed, last)
    head[64:64 + len(descs)] = descs
    entry = head + data
    # The checksum covers EntryLength bytes; a lying EntryLength gets the
    # checksum over what is there
    struct.pack_into('<I', entry, 4, crc32c(entry[:entry_length]))
    return entry


# ---- Sparse files ----

def data_segments(f):
    """(offset, length) of the parts of file object @f that hold data"""
    fd = f.fileno()
    end = os.fstat(fd).st_size
    pos = 0
    while pos < end:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:
            break
        stop = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, stop - start
        pos = stop
