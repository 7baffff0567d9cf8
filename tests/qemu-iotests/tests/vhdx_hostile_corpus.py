#!/usr/bin/env python3
#
# Generate a corpus of hostile VHDX images, for the vhdx-hostile-corpus
# iotest
#
# Usage: vhdx_hostile_corpus.py QEMU_IMG OUTDIR
#        vhdx_hostile_corpus.py --digest FILE...
#        vhdx_hostile_corpus.py --digest-server
#
# The first form makes base images with QEMU_IMG (and qemu-io, taken from
# $QEMU_IO_PROG or found next to QEMU_IMG to write data), then writes
# every case as OUTDIR/NAME.vhdx, plus companions OUTDIR/NAME.*.vhdx where
# a case needs more than one file (parents of differencing images), and
# OUTDIR/MANIFEST with one "NAME: what is hostile" line per case, in the
# order the cases should run.
#
# Each case makes one thing hostile; CRC-32C checksums are computed again
# so that the driver gets past them and must judge the field itself.  The
# cases stress every structure a file can make a reader inflate: the
# parent locator, the log, the region and metadata tables, the metadata
# region, the BAT and its free space, the chain of parents, the headers.
# GUIDs that qemu-img makes at random are replaced by fixed ones, so that
# every case, checksums included, is the same from run to run.
#
# Images are sparse: only 4 KiB blocks that are not zero are written, and
# large files are made by truncation, so the corpus stays small on disk
# although some files claim terabytes.
#
# The second form prints LENGTH:DIGEST for the contents of each file
# named, reading only the parts that hold data: md5sum would read every
# byte of a sparse file of hundreds of GiB.  Two files with the same
# contents have the same digest, however their holes lie.  The third form
# does the same for sets of names read from stdin, one a line, each set
# ended by an empty line (one line printed per set).
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

import hashlib
import os
import shutil
import struct
import subprocess
import sys
import uuid

from vhdx_format import (
    KiB, MiB, GiB, TiB, HEADER_OFFSETS, HEADER_SIZE,
    HDR_SEQUENCE, HDR_FILE_WRITE_GUID, HDR_LOG_GUID,
    HDR_LOG_VERSION, HDR_VERSION, HDR_LOG_LENGTH, HDR_LOG_OFFSET,
    BAT_GUID, METADATA_GUID, FILE_PARAMETERS, VIRTUAL_DISK_SIZE, PAGE83,
    LOGICAL_SECTOR_SIZE, PHYSICAL_SECTOR_SIZE, PARENT_LOCATOR,
    VHDX_LOCATOR_TYPE, MD_IS_USER, MD_IS_REQUIRED, REGION_REQUIRED,
    PAYLOAD_ZERO, PAYLOAD_FULLY_PRESENT, PAYLOAD_PARTIALLY_PRESENT,
    BITMAP_PRESENT, LOG_SECTOR,
    Image, MetadataTable, set_checksum, header_field, patch_headers,
    log_region, region_list, write_region_tables, region_entries,
    metadata_offset, encode_locator, set_parent_locator, guid_text,
    bat_offset, bat_index, bitmap_index, read_bat, write_bat, bat_entry,
    geometry, log_entry, data_segments)

# Fixed GUIDs: made from names, so they are the same in every run
NAMESPACE = uuid.UUID('6c1b7e8a-51c5-4b7e-9a2e-3f0d8d6f2a11')


def guid(name):
    return uuid.uuid5(NAMESPACE, name)


LOG_GUID = guid('log')

# A 1 MiB aligned size reading as "huge" in messages: 15 TiB
FAR = 15 * TiB

DIGEST_CHUNK = 64 * KiB


def align_up(n, a=MiB):
    return (n + a - 1) // a * a


def die(msg):
    sys.exit('vhdx_hostile_corpus.py: ' + msg)


def run(*args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if p.returncode != 0:
        die('%s failed:\n%s' % (' '.join(args), p.stdout))


# ---- Templates: images kept in memory as their non-zero blocks ----

class Template:
    """An image read once; copies write only its non-zero 4 KiB blocks"""

    def __init__(self, path):
        self.blocks = []
        zero = bytes(LOG_SECTOR)
        with open(path, 'rb') as f:
            self.length = os.fstat(f.fileno()).st_size
            for start, size in list(data_segments(f)):
                f.seek(start)
                data = f.read(size)
                for i in range(0, len(data), LOG_SECTOR):
                    block = data[i:i + LOG_SECTOR]
                    if block != zero[:len(block)]:
                        self.blocks.append((start + i, block))

    def write(self, path):
        with open(path, 'wb') as f:
            for offset, block in self.blocks:
                f.seek(offset)
                f.write(block)
            f.truncate(self.length)
        return Image(path)


# ---- Identity: the GUIDs a file has ----

def set_identity(img, label):
    """FileWriteGuid, DataWriteGuid and Page 83 data made from @label"""
    for off in HEADER_OFFSETS:
        h = img.read(off, HEADER_SIZE)
        struct.pack_into('<16s16s', h, HDR_FILE_WRITE_GUID,
                         guid(label + '/file').bytes_le,
                         guid(label + '/data').bytes_le)
        set_checksum(h)
        img.write(off, h)
    img.write(MetadataTable(img).item_offset(PAGE83),
              guid(label + '/page83').bytes_le)


def data_write_guid(label):
    return guid(label + '/data')


def normalize(path, label):
    """Fixed GUIDs, and a log holding nothing: qemu-io's sessions leave
    their entries, under a random LogGuid, in the log region, and that
    LogGuid in the older header"""
    with Image(path) as img:
        assert header_field(img, '<16s', HDR_LOG_GUID) == bytes(16)
        offset, length = log_region(img)
        img.write(offset, bytes(length))
        patch_headers(img, '<16s', HDR_LOG_GUID, bytes(16))
        set_identity(img, label)


# ---- Small editing helpers ----

def set_log(img, offset=None, length=None, log_guid=None):
    """Moves or resizes the log and sets LogGuid, in both headers"""
    if offset is not None:
        patch_headers(img, '<Q', HDR_LOG_OFFSET, offset)
    if length is not None:
        patch_headers(img, '<I', HDR_LOG_LENGTH, length)
    if log_guid is not None:
        patch_headers(img, '<16s', HDR_LOG_GUID, log_guid.bytes_le)


def write_log(img, entries, at=0):
    """Writes @entries one after the other from log offset @at"""
    offset, length = log_region(img)
    pos = at
    for e in entries:
        assert pos + len(e) <= length
        img.write(offset + pos, e)
        pos += len(e)


def flushed(img):
    """A FlushedFileOffset the file satisfies"""
    return img.length() // MiB * MiB


def payload_offset(img, block):
    return read_bat(img, block) >> 20 << 20


def set_item(img, guid_, data):
    img.write(MetadataTable(img).item_offset(guid_), data)


def set_region(img, guid_, offset=None, length=None, flags=None):
    entries = region_list(img)
    for i, e in enumerate(entries):
        if e[0] == guid_:
            entries[i] = (e[0], e[1] if offset is None else offset,
                          e[2] if length is None else length,
                          e[3] if flags is None else flags)
    write_region_tables(img, entries)


def move_region(img, guid_, new_offset, new_length):
    """Copies a region's first MiB to @new_offset and points the region
    table there with @new_length"""
    _, offset, length = region_entries(img)[guid_]
    data = img.read(offset, min(length, new_length, MiB))
    if img.length() < new_offset + new_length:
        img.truncate(new_offset + new_length)
    img.write(new_offset, data)
    set_region(img, guid_, new_offset, new_length)


# ---- The corpus ----

class Corpus:
    def __init__(self, qemu_img, qemu_io, outdir):
        self.qemu_img = qemu_img
        self.qemu_io = qemu_io
        self.outdir = outdir
        self.basedir = os.path.join(outdir, '.base')
        self.manifest = []

    def path(self, name):
        return os.path.join(self.outdir, name + '.vhdx')

    def base_path(self, name):
        return os.path.join(self.basedir, name + '.vhdx')

    def make_bases(self):
        os.makedirs(self.basedir)
        img, io = self.qemu_img, self.qemu_io
        base = self.base_path('base')

        # 64 MiB, 1 MiB blocks; blocks 0, 1 and 63 hold data
        run(img, 'create', '-q', '-f', 'vhdx', '-o', 'block_size=1M',
            base, '64M')
        run(io, '-f', 'vhdx', '-c', 'write -P 0x11 0 64k',
            '-c', 'write -P 0x22 1M 4k', '-c', 'write -P 0x33 63M 4k', base)

        # A child with a partially present block 0 (so a sector bitmap),
        # and one without data, for chains (2 MiB blocks, qemu-img's
        # default for differencing images)
        for name, cmds in (('child', ['-c', 'write -P 0x44 0 4k']),
                           ('child0', [])):
            path = self.base_path(name)
            run(img, 'create', '-q', '-f', 'vhdx', '-b', base, '-F', 'vhdx',
                path)
            if cmds:
                run(io, '-f', 'vhdx', *cmds, path)
            normalize(path, name)
        normalize(base, 'base')

        # 300,000 blocks of 1 MiB: room for the free-space case
        big = self.base_path('big')
        run(img, 'create', '-q', '-f', 'vhdx', '-o', 'block_size=1M',
            big, '300000M')
        normalize(big, 'big')

        self.base = Template(base)
        self.child = Template(self.base_path('child'))
        self.child0 = Template(self.base_path('child0'))
        self.big = Template(big)

    def add(self, name, what):
        assert ':' not in name and '\n' not in what
        assert name not in (n for n, _ in self.manifest)
        self.manifest.append((name, what))
        return self.path(name)

    def copy_base(self, name, what):
        return self.base.write(self.add(name, what))

    def copy_child(self, name, what, pairs=None, parent=True):
        """A differencing image NAME.vhdx with its parent NAME.parent.vhdx
        and a locator holding @pairs (default: linkage and relative path)"""
        img = self.child.write(self.add(name, what))
        if parent:
            self.base.write(self.path(name + '.parent')).close()
        if pairs is None:
            pairs = child_pairs(name + '.parent.vhdx', 'base')
        if isinstance(pairs, list):
            pairs = encode_locator(pairs)
        set_parent_locator(img, pairs)
        return img

    def write_manifest(self):
        with open(os.path.join(self.outdir, 'MANIFEST'), 'w') as f:
            for name, what in self.manifest:
                f.write('%s: %s\n' % (name, what))


def child_pairs(parent_file, parent_label):
    return [('parent_linkage', guid_text(data_write_guid(parent_label))),
            ('relative_path', '.\\' + parent_file)]


def locator_entry(item, i):
    """Offset of locator entry @i in @item"""
    return 20 + 12 * i


# ---- Cases: parent locator ----

def locator_cases(c):
    # (a) of the issue: 63,461 entries, every key and value the same
    # 32,767-unit string; decoding each would cost 8 GiB
    n, units = 63461, 32767
    s_off = 20 + 12 * n
    item = bytearray(s_off + 2 * units)
    struct.pack_into('<16sHH', item, 0, VHDX_LOCATOR_TYPE.bytes_le, 0, n)
    for i in range(n):
        struct.pack_into('<IIHH', item, 20 + 12 * i, s_off, s_off,
                         2 * units, 2 * units)
    item[s_off:] = 'x'.encode('utf-16-le') * units
    c.copy_child('locator-shared-string',
                 '63,461 locator entries whose keys and values all point '
                 'at one 32,767-unit string', bytes(item)).close()

    # (a) of the issue, second part: 1,000 long keys sharing a 440-unit
    # prefix; finding duplicates by comparing every pair of keys would
    # compare 440 units half a million times
    prefix = 'k' * 440
    long_keys = child_pairs('locator-long-keys.parent.vhdx', 'base')
    long_keys += [(prefix + '%09d' % i, 'v') for i in range(998)]
    c.copy_child('locator-long-keys',
                 '1,000 locator keys of 449 units sharing a 440-unit prefix '
                 '(valid)', long_keys).close()
    dup = child_pairs('locator-long-keys-dup.parent.vhdx', 'base')
    dup += [(prefix + '%09d' % i, 'v') for i in range(997)]
    dup += [(prefix.upper() + '%09d' % 0, 'w')]
    c.copy_child('locator-long-keys-dup',
                 '1,000 long locator keys with a common prefix; the last '
                 'one repeats the third in capitals', dup).close()

    def raw(name):
        return bytearray(encode_locator(
            child_pairs(name + '.parent.vhdx', 'base')))

    item = raw('locator-count-beyond-item')
    struct.pack_into('<H', item, 18, 65535)
    c.copy_child('locator-count-beyond-item',
                 'locator KeyValueCount 65535 in an item of two entries',
                 bytes(item)).close()

    item = raw('locator-key-offset-beyond')
    struct.pack_into('<I', item, locator_entry(item, 1), len(item) + 100)
    c.copy_child('locator-key-offset-beyond',
                 'locator entry 1 KeyOffset beyond the end of the item',
                 bytes(item)).close()

    item = raw('locator-offset-huge')
    struct.pack_into('<I', item, locator_entry(item, 0) + 4, 0xffffffff)
    c.copy_child('locator-offset-huge',
                 'locator entry 0 ValueOffset 0xffffffff (offset plus length '
                 'overflows 32 bits)', bytes(item)).close()

    item = raw('locator-value-length-beyond')
    struct.pack_into('<H', item, locator_entry(item, 1) + 10, 0xfffe)
    c.copy_child('locator-value-length-beyond',
                 'locator entry 1 ValueLength 0xfffe runs past the item',
                 bytes(item)).close()

    item = raw('locator-key-length-odd')
    struct.pack_into('<H', item, locator_entry(item, 0) + 8, 27)
    c.copy_child('locator-key-length-odd',
                 'locator entry 0 KeyLength 27 (odd: half a UTF-16 unit)',
                 bytes(item)).close()

    item = raw('locator-key-length-zero')
    struct.pack_into('<H', item, locator_entry(item, 1) + 8, 0)
    c.copy_child('locator-key-length-zero',
                 'locator entry 1 KeyLength 0', bytes(item)).close()

    # Strings that share bytes: relative_path's value starts inside
    # parent_linkage's value; 200 spare bytes at the end keep the total
    # of the string lengths within the item
    item = raw('locator-overlapping-strings') + bytes(200)
    linkage_value = struct.unpack_from('<I', item, locator_entry(item, 0) + 4)
    struct.pack_into('<I', item, locator_entry(item, 1) + 4,
                     linkage_value[0] + 2)
    c.copy_child('locator-overlapping-strings',
                 'locator relative_path value overlaps the parent_linkage '
                 'value', bytes(item)).close()

    pairs = child_pairs('locator-dup-key-case.parent.vhdx', 'base')
    pairs.append(('PARENT_LINKAGE', guid_text(guid('other'))))
    c.copy_child('locator-dup-key-case',
                 'locator keys parent_linkage and PARENT_LINKAGE (differ only '
                 'in case)', pairs).close()

    pairs = child_pairs('locator-no-linkage.parent.vhdx', 'base')[1:]
    c.copy_child('locator-no-linkage',
                 'locator without parent_linkage', pairs).close()

    pairs = [('parent_linkage', 'not-a-guid')] + \
        child_pairs('locator-linkage-not-guid.parent.vhdx', 'base')[1:]
    c.copy_child('locator-linkage-not-guid',
                 'locator parent_linkage value is not a GUID', pairs).close()

    pairs = child_pairs('locator-no-path.parent.vhdx', 'base')[:1]
    c.copy_child('locator-no-path',
                 'locator with parent_linkage only: no path to the parent',
                 pairs).close()

    pairs = child_pairs('locator-lone-surrogate.parent.vhdx', 'base')
    pairs[1] = ('relative_path', '.\\par\ud800ent.vhdx')
    c.copy_child('locator-lone-surrogate',
                 'locator relative_path value holds a lone UTF-16 surrogate '
                 '(0xd800)', pairs).close()

    pairs = child_pairs('locator-nul-char.parent.vhdx', 'base')
    pairs.append(('volume\0path', 'x'))
    c.copy_child('locator-nul-char',
                 'locator key with a NUL character inside', pairs).close()

    item = raw('locator-wrong-type')
    item[0:16] = guid('not-a-locator-type').bytes_le
    c.copy_child('locator-wrong-type',
                 'locator LocatorType is not the VHDX locator type',
                 bytes(item)).close()

    c.copy_child('locator-zero-entries',
                 'locator KeyValueCount 0 (an empty locator)', []).close()

    c.copy_child('locator-item-short',
                 'locator item of 10 bytes, shorter than its 20-byte header',
                 bytes(10)).close()

    img = c.copy_child('locator-item-huge-length',
                       'metadata entry of the locator claims Length '
                       '0x80000000')
    mt = MetadataTable(img)
    mt.find(PARENT_LOCATOR)[2] = 0x80000000
    mt.write()
    img.close()


# ---- Cases: log ----

def log_cases(c):
    # (c) of the issue: a 4 GiB log (the largest LogLength that is a
    # multiple of 1 MiB) with LogGuid set and not one entry; a hole
    img = c.copy_base('log-4gib-empty',
                      'LogGuid set, LogLength 0xfff00000 (4 GiB), no entry, '
                      'the log a hole')
    start = align_up(img.length())
    img.truncate(start + 0xfff00000)
    set_log(img, start, 0xfff00000, LOG_GUID)
    img.close()

    # The same log with one invalid entry header in every MiB: nothing
    # is a hole, so every MiB must be read
    img = c.copy_base('log-4gib-every-mib',
                      '4 GiB log with an invalid entry (bad checksum) at the '
                      'start of every MiB')
    start = align_up(img.length())
    img.truncate(start + 0xfff00000)
    set_log(img, start, 0xfff00000, LOG_GUID)
    bad = log_entry(LOG_GUID, 1)
    bad[4:8] = b'\xde\xad\xbe\xef'
    for mib in range(0xfff):
        img.write(start + mib * MiB, bad)
    img.close()

    # (d) of the issue: a valid entry claiming a 15 TiB file, writing one
    # sector just below 15 TiB
    img = c.copy_base('log-replay-15tib',
                      'valid log entry with LastFileOffset 15 TiB writing a '
                      'sector at 15 TiB - 4 KiB')
    set_log(img, log_guid=LOG_GUID)
    write_log(img, [log_entry(LOG_GUID, 1, 0, flushed(img), FAR,
                              [('data', FAR - 4 * KiB,
                                b'\xab' * LOG_SECTOR)])])
    img.close()

    img = c.copy_base('log-length-zero', 'LogLength 0')
    set_log(img, length=0)
    img.close()

    img = c.copy_base('log-length-unaligned', 'LogLength 0x180000 (1.5 MiB)')
    set_log(img, length=0x180000)
    img.close()

    img = c.copy_base('log-beyond-file',
                      'log of 4 MiB at 6 MiB in a 7 MiB file')
    set_log(img, 6 * MiB, 4 * MiB)
    img.close()

    img = c.copy_base('log-overlaps-bat', 'LogOffset is the BAT offset')
    set_log(img, bat_offset(img), MiB)
    img.close()

    # A log that is the BAT, holding a valid entry: replaying it first
    # and judging the placement afterwards would write the entry home
    img = c.copy_base('log-overlaps-bat-dirty',
                      'LogGuid set, the log at the BAT offset, a valid entry '
                      'there writing a sector into block 63')
    set_log(img, bat_offset(img), MiB, LOG_GUID)
    write_log(img, [log_entry(LOG_GUID, 1, 0, flushed(img), img.length(),
                              [('data', payload_offset(img, 63),
                                b'\xab' * LOG_SECTOR)])])
    img.close()

    img = c.copy_base('log-overlaps-metadata',
                      'log of 2 MiB from 1 MiB runs into the metadata region')
    set_log(img, MiB, 2 * MiB)
    img.close()

    img = c.copy_base('log-in-headers', 'LogOffset 0 (the header area)')
    set_log(img, 0, MiB)
    img.close()

    img = c.copy_base('log-entry-huge-length',
                      'log entry with EntryLength 0xfffff000 in a 1 MiB log')
    set_log(img, log_guid=LOG_GUID)
    write_log(img, [log_entry(LOG_GUID, 1, 0, flushed(img), img.length(),
                              entry_length=0xfffff000)])
    img.close()

    img = c.copy_base('log-tail-outside',
                      'log entry with Tail 0x10000000, outside the 1 MiB log')
    set_log(img, log_guid=LOG_GUID)
    write_log(img, [log_entry(LOG_GUID, 1, 0x10000000, flushed(img),
                              img.length())])
    img.close()

    img = c.copy_base('log-tail-not-entry',
                      'log entry whose Tail points at a sector holding no '
                      'entry (an incomplete sequence)')
    set_log(img, log_guid=LOG_GUID)
    write_log(img, [log_entry(LOG_GUID, 1, 64 * KiB, flushed(img),
                              img.length())])
    img.close()

    img = c.copy_base('log-desc-count-huge',
                      'log entry with DescriptorCount 0xffffffff')
    set_log(img, log_guid=LOG_GUID)
    write_log(img, [log_entry(LOG_GUID, 1, 0, flushed(img), img.length(),
                              descriptor_count=0xffffffff)])
    img.close()

    img = c.copy_base('log-desc-in-headers',
                      'log entry writing a sector over header 1 (64 KiB)')
    set_log(img, log_guid=LOG_GUID)
    write_log(img, [log_entry(LOG_GUID, 1, 0, flushed(img), img.length(),
                              [('data', 64 * KiB, b'\xab' * LOG_SECTOR)])])
    img.close()

    img = c.copy_base('log-desc-in-log',
                      'log entry writing a sector inside the log itself')
    set_log(img, log_guid=LOG_GUID)
    offset, _ = log_region(img)
    write_log(img, [log_entry(LOG_GUID, 1, 0, flushed(img), img.length(),
                              [('data', offset + 64 * KiB,
                                b'\xab' * LOG_SECTOR)])])
    img.close()

    img = c.copy_base('log-flushed-beyond-file',
                      'valid log entry with FlushedFileOffset 64 MiB beyond '
                      'the end of the file')
    set_log(img, log_guid=LOG_GUID)
    end = img.length() + 64 * MiB
    write_log(img, [log_entry(LOG_GUID, 1, 0, end, end)])
    img.close()

    # Thousands of small valid entries, one sequence: the log moved to a
    # 16 MiB region at the end of the file
    img = c.copy_base('log-many-entries',
                      '4,096 valid log entries of 4 KiB in one sequence of a '
                      '16 MiB log')
    start = align_up(img.length())
    img.truncate(start + 16 * MiB)
    set_log(img, start, 16 * MiB, LOG_GUID)
    fl = flushed(img)
    write_log(img, [log_entry(LOG_GUID, 1 + i, 0, fl, fl)
                    for i in range(4096)])
    img.close()

    # Sequence numbers running up to 2^64 - 1, then 0 and 1
    img = c.copy_base('log-sequence-wrap',
                      'log entries with SequenceNumber 2^64-2, 2^64-1, 0, 1')
    set_log(img, log_guid=LOG_GUID)
    fl = flushed(img)
    write_log(img, [log_entry(LOG_GUID, s & (2 ** 64 - 1), 0, fl, fl)
                    for s in (2 ** 64 - 2, 2 ** 64 - 1, 2 ** 64, 2 ** 64 + 1)])
    img.close()

    # An entry wrapping around the end of the ring: its descriptor sector
    # is the last sector of the log, its data sector the first
    img = c.copy_base('log-entry-wraps-ring',
                      'valid log entry starting in the last sector of the log '
                      'and wrapping to its start')
    set_log(img, log_guid=LOG_GUID)
    offset, length = log_region(img)
    block0 = payload_offset(img, 0)
    e = log_entry(LOG_GUID, 1, length - LOG_SECTOR, flushed(img),
                  img.length(), [('data', block0, b'\x5a' * LOG_SECTOR)])
    img.write(offset + length - LOG_SECTOR, e[:LOG_SECTOR])
    img.write(offset, e[LOG_SECTOR:])
    img.close()

    # More zero descriptors than an in-memory replay keeps
    img = c.copy_base('log-many-zero-descriptors',
                      'valid log entry with 5,000 zero descriptors of 4 KiB, '
                      'each beyond the end of the file')
    set_log(img, log_guid=LOG_GUID)
    fl = flushed(img)
    descs = [('zero', fl + 8 * KiB * i, 4 * KiB) for i in range(5000)]
    write_log(img, [log_entry(LOG_GUID, 1, 0, fl,
                              align_up(fl + 8 * KiB * 5000), descs)])
    img.close()

    img = c.copy_base('log-zero-huge-range',
                      'valid log entry zeroing 1 TiB from 8 MiB (beyond the '
                      'end of the file)')
    set_log(img, log_guid=LOG_GUID)
    write_log(img, [log_entry(LOG_GUID, 1, 0, flushed(img), 8 * MiB + TiB,
                              [('zero', 8 * MiB, TiB)])])
    img.close()


# ---- Cases: region table ----

def region_cases(c):
    img = c.copy_base('region-count-2047',
                      'region table with 2,047 entries (2,045 unknown '
                      'optional regions)')
    entries = region_list(img)
    entries += [(guid('region%d' % i), TiB + i * MiB, MiB, 0)
                for i in range(2047 - len(entries))]
    write_region_tables(img, entries)
    img.close()

    img = c.copy_base('region-count-2048',
                      'region table EntryCount 2048 (more than fit the table)')
    write_region_tables(img, region_list(img), 2048)
    img.close()

    img = c.copy_base('region-count-huge', 'region table EntryCount '
                      '0xffffffff')
    write_region_tables(img, region_list(img), 0xffffffff)
    img.close()

    img = c.copy_base('region-duplicate',
                      'BAT region listed twice in the region table')
    entries = region_list(img)
    bat = [e for e in entries if e[0] == BAT_GUID][0]
    entries.append((BAT_GUID, align_up(img.length()), bat[2], bat[3]))
    img.truncate(align_up(img.length()) + bat[2])
    write_region_tables(img, entries)
    img.close()

    img = c.copy_base('region-unknown-required',
                      'unknown region marked Required')
    entries = region_list(img)
    entries.append((guid('required-region'), TiB, MiB, REGION_REQUIRED))
    write_region_tables(img, entries)
    img.close()

    img = c.copy_base('region-bat-overlaps-metadata',
                      'BAT region at the metadata region offset')
    set_region(img, BAT_GUID, metadata_offset(img))
    img.close()

    # The regions are copied there, so that only the placement is wrong
    img = c.copy_base('region-bat-overlaps-log',
                      'BAT region (a copy of it) at the log offset')
    move_region(img, BAT_GUID, log_region(img)[0], MiB)
    img.close()

    img = c.copy_base('region-metadata-overlaps-log',
                      'metadata region (a copy of it) at the log offset')
    move_region(img, METADATA_GUID, log_region(img)[0], MiB)
    img.close()

    img = c.copy_base('region-in-headers', 'BAT region at offset 0')
    set_region(img, BAT_GUID, 0)
    img.close()

    img = c.copy_base('region-length-zero', 'metadata region Length 0')
    set_region(img, METADATA_GUID, length=0)
    img.close()

    img = c.copy_base('region-length-unaligned',
                      'BAT region Length 0x101000 (not a multiple of 1 MiB)')
    set_region(img, BAT_GUID, length=0x101000)
    img.close()

    img = c.copy_base('region-beyond-file',
                      'metadata region at 1 TiB in a 7 MiB file')
    set_region(img, METADATA_GUID, TiB)
    img.close()

    img = c.copy_base('region-no-metadata',
                      'region table without a metadata region')
    write_region_tables(img, [e for e in region_list(img)
                              if e[0] != METADATA_GUID])
    img.close()

    # The metadata region claiming 4 GiB of a sparse file
    img = c.copy_base('region-metadata-4gib',
                      'metadata region of 0xfff00000 bytes (4 GiB) at the end '
                      'of the file, a hole after its first MiB')
    move_region(img, METADATA_GUID, align_up(img.length()), 0xfff00000)
    img.close()

    img = c.copy_base('region-metadata-item-at-1gib',
                      'metadata region of 4 GiB with an unknown optional item '
                      'at 1 GiB into it')
    move_region(img, METADATA_GUID, align_up(img.length()), 0xfff00000)
    mt = MetadataTable(img)
    mt.entries.append([guid('far-item'), GiB, 8, 0])
    mt.write()
    img.close()


# ---- Cases: metadata ----

def metadata_cases(c):
    img = c.copy_base('metadata-count-2047',
                      'metadata table with 2,047 entries (2,042 unknown '
                      'optional items of 8 bytes)')
    mt = MetadataTable(img)
    pos = align_up(mt.end_of_items(), 8)
    for i in range(2047 - len(mt.entries)):
        mt.entries.append([guid('item%d' % i), pos, 8, 0])
        pos += 8
    mt.write()
    img.close()

    # Unknown optional items are kept in memory: as many 1 MiB items as
    # the 16 MiB the driver reads of a metadata region hold, holes all
    img = c.copy_base('metadata-big-unknown-items',
                      'metadata region of 16 MiB holding 15 unknown optional '
                      'items of 1 MiB')
    move_region(img, METADATA_GUID, align_up(img.length()), 16 * MiB)
    mt = MetadataTable(img)
    for i in range(15):
        mt.entries.append([guid('big-item%d' % i), (i + 1) * MiB, MiB, 0])
    mt.write()
    img.close()

    img = c.copy_base('metadata-count-2048', 'metadata table EntryCount 2048')
    MetadataTable(img).write(2048)
    img.close()

    img = c.copy_base('metadata-count-max', 'metadata table EntryCount 65535')
    MetadataTable(img).write(65535)
    img.close()

    img = c.copy_base('metadata-items-overlap',
                      'virtual disk size item at the offset of the file '
                      'parameters item')
    mt = MetadataTable(img)
    mt.find(VIRTUAL_DISK_SIZE)[1] = mt.find(FILE_PARAMETERS)[1]
    mt.write()
    img.close()

    img = c.copy_base('metadata-item-beyond-region',
                      'page 83 item (16 bytes) at 8 bytes before the end of '
                      'the metadata region')
    mt = MetadataTable(img)
    mt.find(PAGE83)[1] = region_entries(img)[METADATA_GUID][2] - 8
    mt.write()
    img.close()

    img = c.copy_base('metadata-item-in-table',
                      'file parameters item at offset 32, inside the table')
    mt = MetadataTable(img)
    mt.find(FILE_PARAMETERS)[1] = 32
    mt.write()
    img.close()

    img = c.copy_base('metadata-unknown-required',
                      'unknown metadata item marked IsRequired')
    mt = MetadataTable(img)
    mt.entries.append([guid('required-item'), align_up(mt.end_of_items(), 8),
                       8, MD_IS_REQUIRED])
    mt.write()
    img.close()

    img = c.copy_base('metadata-duplicate-item',
                      'file parameters item listed twice')
    mt = MetadataTable(img)
    fp = mt.find(FILE_PARAMETERS)
    at = align_up(mt.end_of_items(), 8)
    img.write(mt.offset + at, img.read(mt.offset + fp[1], 8))
    mt.entries.append([FILE_PARAMETERS, at, 8, fp[3]])
    mt.write()
    img.close()

    img = c.copy_base('metadata-item-huge-length',
                      'physical sector size item with Length 0xffffffff')
    mt = MetadataTable(img)
    mt.find(PHYSICAL_SECTOR_SIZE)[2] = 0xffffffff
    mt.write()
    img.close()

    img = c.copy_base('metadata-item-wrong-length',
                      'logical sector size item with Length 8 (must be 4)')
    mt = MetadataTable(img)
    mt.find(LOGICAL_SECTOR_SIZE)[2] = 8
    mt.write()
    img.close()

    img = c.copy_base('metadata-user-items-1025',
                      '1,025 user metadata items (at most 1,024 allowed)')
    mt = MetadataTable(img)
    pos = align_up(mt.end_of_items(), 8)
    for i in range(1025):
        mt.entries.append([guid('user%d' % i), pos, 8, MD_IS_USER])
        pos += 8
    mt.write()
    img.close()

    img = c.copy_base('metadata-block-size-zero', 'BlockSize 0')
    set_item(img, FILE_PARAMETERS, struct.pack('<I', 0))
    img.close()

    img = c.copy_base('metadata-block-size-huge',
                      'BlockSize 0x80000000 (2 GiB)')
    set_item(img, FILE_PARAMETERS, struct.pack('<I', 0x80000000))
    img.close()

    img = c.copy_base('metadata-logical-sector-zero', 'LogicalSectorSize 0')
    set_item(img, LOGICAL_SECTOR_SIZE, struct.pack('<I', 0))
    img.close()

    img = c.copy_base('metadata-physical-sector', 'PhysicalSectorSize 1000')
    set_item(img, PHYSICAL_SECTOR_SIZE, struct.pack('<I', 1000))
    img.close()

    img = c.copy_base('metadata-virtual-size-zero', 'VirtualDiskSize 0')
    set_item(img, VIRTUAL_DISK_SIZE, struct.pack('<Q', 0))
    img.close()

    img = c.copy_base('metadata-virtual-size-unaligned',
                      'VirtualDiskSize 64 MiB + 1 (not a multiple of the '
                      'sector size)')
    set_item(img, VIRTUAL_DISK_SIZE, struct.pack('<Q', 64 * MiB + 1))
    img.close()

    img = c.copy_base('metadata-virtual-size-huge',
                      'VirtualDiskSize 2^64 - 512')
    set_item(img, VIRTUAL_DISK_SIZE, struct.pack('<Q', 2 ** 64 - 512))
    img.close()

    img = c.copy_base('metadata-64tib-bat-too-small',
                      'VirtualDiskSize 64 TiB with a BAT region of 1 MiB')
    set_item(img, VIRTUAL_DISK_SIZE, struct.pack('<Q', 64 * TiB))
    img.close()

    img = c.copy_base('metadata-has-parent-no-locator',
                      'HasParent set in an image without a parent locator')
    set_item(img, FILE_PARAMETERS,
              struct.pack('<II', MiB, 2))
    img.close()


# ---- Cases: BAT ----

def bat_cases(c):
    img = c.copy_base('bat-beyond-eof',
                      'BAT entry 0 at FileOffsetMB 2^43 - 1 (8 EiB), far '
                      'beyond the end of the file')
    write_bat(img, 0, ((1 << 43) - 1) << 20 | PAYLOAD_FULLY_PRESENT)
    img.close()

    img = c.copy_base('bat-overlap', 'BAT entries 0 and 1 at the same block')
    write_bat(img, 1, read_bat(img, 0))
    img.close()

    img = c.copy_base('bat-overlaps-metadata',
                      'BAT entry 0 at the metadata region')
    write_bat(img, 0, bat_entry(metadata_offset(img), PAYLOAD_FULLY_PRESENT))
    img.close()

    img = c.copy_base('bat-overlaps-log', 'BAT entry 0 at the log')
    write_bat(img, 0, bat_entry(log_region(img)[0], PAYLOAD_FULLY_PRESENT))
    img.close()

    img = c.copy_base('bat-in-headers', 'BAT entry 0 at FileOffsetMB 0')
    write_bat(img, 0, bat_entry(0, PAYLOAD_FULLY_PRESENT))
    img.close()

    img = c.copy_base('bat-reserved-state', 'BAT entry 0 in state 5 '
                      '(reserved)')
    write_bat(img, 0, read_bat(img, 0) & ~7 | 5)
    img.close()

    img = c.copy_base('bat-partial-in-base',
                      'BAT entry 0 PARTIALLY_PRESENT in an image without a '
                      'parent')
    write_bat(img, 0, read_bat(img, 0) & ~7 | PAYLOAD_PARTIALLY_PRESENT)
    img.close()

    img = c.copy_child('bat-partial-no-bitmap',
                       'child: block 0 PARTIALLY_PRESENT, its chunk without '
                       'a sector bitmap block')
    bitmap = bat_offset(img) + 8 * bitmap_index(img, 0)
    img.write(bitmap, struct.pack('<Q', 0))
    img.close()

    img = c.copy_child('bat-bitmap-state-zero',
                       'child: sector bitmap entry in state 2 (ZERO, a '
                       'payload state)')
    bitmap = bat_offset(img) + 8 * bitmap_index(img, 0)
    entry = struct.unpack('<Q', img.read(bitmap, 8))[0]
    img.write(bitmap, struct.pack('<Q', entry & ~7 | PAYLOAD_ZERO))
    img.close()

    img = c.copy_child('bat-bitmap-beyond-eof',
                       'child: sector bitmap block at 15 TiB, beyond the end '
                       'of the file')
    bitmap = bat_offset(img) + 8 * bitmap_index(img, 0)
    img.write(bitmap, struct.pack('<Q', bat_entry(FAR, BITMAP_PRESENT)))
    img.close()

    img = c.copy_child('bat-bitmap-overlaps-block',
                       'child: sector bitmap block at the same offset as '
                       'payload block 0')
    bitmap = bat_offset(img) + 8 * bitmap_index(img, 0)
    img.write(bitmap, struct.pack('<Q', bat_entry(
        payload_offset(img, 0), BITMAP_PRESENT)))
    img.close()

    # A file as long as the filesystem allows (1 EiB where it can), with
    # blocks far out in it
    img = c.copy_base('bat-huge-sparse-file',
                      'file of 1 EiB (or the largest the filesystem allows), '
                      'blocks 0 and 1 at 8 and 15 TiB')
    huge_truncate(img)
    write_bat(img, 0, bat_entry(8 * TiB, PAYLOAD_FULLY_PRESENT))
    write_bat(img, 1, bat_entry(FAR, PAYLOAD_FULLY_PRESENT))
    img.close()

    # (b) of the issue: 300,000 blocks each with a free MiB before it
    img = c.big.write(c.add('bat-300k-holes',
                            '300,000 blocks each after a free MiB of a '
                            'sparse file: 300,000 free 1 MiB holes'))
    n = 300000
    block_size, _, ratio = geometry(img)
    assert block_size == MiB
    start = align_up(img.length())
    bat = bytearray(8 * bat_index(img, n))
    for b in range(n):
        struct.pack_into('<Q', bat, 8 * (b + b // ratio),
                         bat_entry(start + (2 * b + 1) * MiB,
                                   PAYLOAD_FULLY_PRESENT))
    img.write(bat_offset(img), bat)
    img.truncate(start + 2 * n * MiB)
    img.close()

    # The largest virtual disk with 1 MiB blocks: a 513 MiB BAT, all of
    # it a hole at the end of the file
    img = c.copy_base('bat-region-513mib',
                      'VirtualDiskSize 64 TiB, 1 MiB blocks: a BAT region of '
                      '513 MiB, a hole')
    set_item(img, VIRTUAL_DISK_SIZE, struct.pack('<Q', 64 * TiB))
    blocks = 64 * TiB // MiB
    entries = blocks + (blocks - 1) // geometry(img)[2]
    move_region(img, BAT_GUID, align_up(img.length()), align_up(8 * entries))
    img.close()


def huge_truncate(img):
    """Extends @img to 1 EiB, or to the largest 1 MiB multiple the
    filesystem allows (ext4: 16 TiB - 1 MiB)"""
    try:
        img.truncate(1 << 60)
        return
    except OSError:
        pass
    lo, hi = img.length() // MiB, (1 << 60) // MiB
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            img.truncate(mid * MiB)
            lo = mid
        except OSError:
            hi = mid
    img.truncate(lo * MiB)


# ---- Cases: chains ----

def chain_cases(c):
    c.copy_child('chain-self-loop', 'child whose relative_path names itself',
                 child_pairs('chain-self-loop.vhdx', 'chain-self-loop'),
                 parent=False).close()
    # The linkage must be the looping image's own DataWriteGuid, or the
    # linkage rule would stop the loop before the loop check does
    with Image(c.path('chain-self-loop')) as img:
        set_identity(img, 'chain-self-loop')

    name = 'chain-loop-2'
    c.copy_child(name, 'child A whose parent B names A as its parent',
                 child_pairs(name + '.b.vhdx', name + '.b'),
                 parent=False).close()
    with Image(c.path(name)) as img:
        set_identity(img, name)
    img = c.child.write(c.path(name + '.b'))
    set_parent_locator(img, encode_locator(child_pairs(name + '.vhdx',
                                                       name)))
    set_identity(img, name + '.b')
    img.close()

    # 257 images: the top one, 255 children between, and a base
    name = 'chain-257-deep'
    files = [name] + ['%s.p%03d' % (name, i) for i in range(1, 257)]
    c.add(name, 'a chain of 257 images (top, 255 intermediate, base)')
    for i, f in enumerate(files[:-1]):
        img = c.child0.write(c.path(f))
        set_identity(img, f)
        set_parent_locator(img, encode_locator(
            child_pairs(files[i + 1] + '.vhdx', files[i + 1])))
        img.close()
    img = c.base.write(c.path(files[-1]))
    set_identity(img, files[-1])
    img.close()

    c.copy_child('chain-missing-parent',
                 'child whose parent file does not exist',
                 child_pairs('chain-missing-parent.parent.vhdx', 'base'),
                 parent=False).close()

    c.copy_child('chain-linkage-mismatch',
                 'child whose parent_linkage is not its parent\'s '
                 'DataWriteGuid',
                 child_pairs('chain-linkage-mismatch.parent.vhdx',
                             'someone-else')).close()

    c.copy_child('chain-parent-not-vhdx',
                 'child whose parent is a file of zeros, not a VHDX image',
                 parent=False).close()
    with open(c.path('chain-parent-not-vhdx.parent'), 'wb') as f:
        f.truncate(64 * MiB)


# ---- Cases: file identifier and headers ----

def header_cases(c):
    img = c.copy_base('headers-both-invalid',
                      'header 1 checksum wrong, header 2 signature wrong')
    h = img.read(HEADER_OFFSETS[0], HEADER_SIZE)
    struct.pack_into('<I', h, 4, 0xdeadbeef)
    img.write(HEADER_OFFSETS[0], h)
    h = img.read(HEADER_OFFSETS[1], HEADER_SIZE)
    h[0:4] = b'hexd'
    set_checksum(h)
    img.write(HEADER_OFFSETS[1], h)
    img.close()

    img = c.copy_base('headers-equal-sequence',
                      'both headers valid with the same SequenceNumber but '
                      'different contents')
    seq = header_field(img, '<Q', HDR_SEQUENCE)
    patch_headers(img, '<Q', HDR_SEQUENCE, seq)
    h = img.read(HEADER_OFFSETS[1], HEADER_SIZE)
    h[HDR_FILE_WRITE_GUID:HDR_FILE_WRITE_GUID + 16] = guid('other').bytes_le
    set_checksum(h)
    img.write(HEADER_OFFSETS[1], h)
    img.close()

    img = c.copy_base('header-version', 'header Version 2')
    patch_headers(img, '<H', HDR_VERSION, 2)
    img.close()

    img = c.copy_base('header-log-version', 'header LogVersion 1')
    patch_headers(img, '<H', HDR_LOG_VERSION, 1)
    img.close()

    img = c.copy_base('header-sequence-max',
                      'current header SequenceNumber 2^64 - 1 (cannot be '
                      'incremented)')
    off = max(HEADER_OFFSETS, key=lambda o: struct.unpack(
        '<Q', img.read(o + HDR_SEQUENCE, 8))[0])
    h = img.read(off, HEADER_SIZE)
    struct.pack_into('<Q', h, HDR_SEQUENCE, 2 ** 64 - 1)
    set_checksum(h)
    img.write(off, h)
    img.close()

    img = c.copy_base('file-too-short',
                      'file cut to 512 KiB, inside the header area')
    img.truncate(512 * KiB)
    img.close()

    img = c.copy_base('file-identifier-only',
                      'file of 64 KiB holding only the file identifier')
    img.truncate(64 * KiB)
    img.close()


def make_corpus(qemu_img, outdir):
    qemu_io = os.environ.get('QEMU_IO_PROG') or \
        os.path.join(os.path.dirname(qemu_img), 'qemu-io')
    if os.path.exists(outdir):
        die(outdir + ' exists')
    os.makedirs(outdir)
    c = Corpus(qemu_img, qemu_io, outdir)
    c.make_bases()
    header_cases(c)
    region_cases(c)
    metadata_cases(c)
    locator_cases(c)
    log_cases(c)
    bat_cases(c)
    chain_cases(c)
    c.write_manifest()
    shutil.rmtree(c.basedir)


def digest(path):
    """A digest of the contents of @path that reads only its data"""
    h = hashlib.md5()
    zero = bytes(DIGEST_CHUNK)
    with open(path, 'rb') as f:
        # Chunks on fixed boundaries, and zeros skipped wherever they are:
        # the same contents give the same digest, holes or not
        done = 0
        for start, size in list(data_segments(f)):
            pos = max(done, start // DIGEST_CHUNK * DIGEST_CHUNK)
            while pos < start + size:
                f.seek(pos)
                chunk = f.read(DIGEST_CHUNK)
                if chunk != zero[:len(chunk)]:
                    h.update(b'%d\n' % pos)
                    h.update(chunk)
                pos += DIGEST_CHUNK
            done = pos
        return '%d:%s' % (os.fstat(f.fileno()).st_size, h.hexdigest())


def digest_server():
    """Reads sets of file names, one a line, each set ended by an empty
    line, and prints a line of LENGTH:DIGEST for the files of each set: a
    test then starts Python once rather than once per comparison"""
    paths = []
    for line in sys.stdin:
        line = line.rstrip('\n')
        if line:
            paths.append(line)
            continue
        print(' '.join(digest(p) for p in paths), flush=True)
        paths = []


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == '--digest':
        print(' '.join(digest(p) for p in sys.argv[2:]))
    elif sys.argv[1:] == ['--digest-server']:
        digest_server()
    elif len(sys.argv) == 3:
        make_corpus(sys.argv[1], sys.argv[2])
    else:
        sys.exit('usage: vhdx_hostile_corpus.py QEMU_IMG OUTDIR\n'
                 '       vhdx_hostile_corpus.py --digest FILE...\n'
                 '       vhdx_hostile_corpus.py --digest-server')


if __name__ == '__main__':
    main()
