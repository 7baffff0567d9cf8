#!/usr/bin/env python3
#
# Helpers for the vhdx-concurrency iotest
#
#   vhdx-concurrency.py ref FILE SIZE WRITE...
#       Writes a sparse raw image FILE of SIZE bytes holding what the
#       writes put there, in order; everything else reads as zeros.
#       A WRITE is OFFSET:LENGTH:PATTERN (one write) or
#       bench:OFFSET:STEP:COUNT:LENGTH:PATTERN (what 'qemu-img bench -w'
#       writes: COUNT requests from OFFSET on, STEP apart, wrapping at
#       SIZE as qemu-img bench does).
#
#   vhdx-concurrency.py races RANGE...
#       Reads qemu-io output (hex dumps of 'aio_read -v') from stdin.
#       Each RANGE is OFFSET:LENGTH:PATTERN: a range read while a write of
#       PATTERN into it was in flight.  Each 4 KiB chunk must read as all
#       zeros (the old content) or all PATTERN (the new one).  Prints
#       "race N: ok" per range, or what was wrong; lines of qemu-io
#       output that are neither dumps nor completion reports are printed
#       as they are.  With VHDX_RACES_DEBUG set, stderr says per range
#       whether the old or the new content was read.
#
# Numbers may carry a K or M suffix (KiB, MiB) or be hex (0x...).
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import sys

CHUNK = 4096


def number(text):
    text = text.strip()
    for suffix, mult in (('K', 1 << 10), ('M', 1 << 20), ('G', 1 << 30)):
        if text.upper().endswith(suffix):
            return int(text[:-1], 0) * mult
    return int(text, 0)


def writes(specs, size):
    """Expands WRITE specs to (offset, length, pattern) in order"""
    for spec in specs:
        f = spec.split(':')
        if f[0] == 'bench':
            offset, step, count, length, pattern = map(number, f[1:])
            for _ in range(count):
                yield offset, length, pattern
                offset = (offset + step) % size
        else:
            yield tuple(map(number, f))


def cmd_ref(path, size, specs):
    size = number(size)
    with open(path, 'wb') as f:
        f.truncate(size)
        for offset, length, pattern in writes(specs, size):
            f.seek(offset)
            f.write(bytes([pattern]) * length)


DUMP_LINE = re.compile(r'^([0-9a-f]{8,}):  ((?:[0-9a-f]{2} ){1,16})')
REPORT_LINE = re.compile(r'^(read|wrote) [0-9]+/[0-9]+ bytes at offset '
                         r'[0-9]+$|^[0-9.]+ [KMGT]?i?B, [0-9]+ ops; ')


def cmd_races(ranges):
    lines = {}                  # offset of a dump line -> its bytes
    for line in sys.stdin:
        line = line.rstrip('\n').replace('qemu-io> ', '')
        m = DUMP_LINE.match(line)
        if m:
            lines[int(m.group(1), 16)] = bytes.fromhex(m.group(2))
        elif line and not REPORT_LINE.match(line):
            print(line)
    for n, spec in enumerate(ranges):
        offset, length, pattern = map(number, spec.split(':'))
        zeros, new = bytes(CHUNK), bytes([pattern]) * CHUNK
        problems = []
        seen = set()
        for chunk in range(offset, offset + length, CHUNK):
            try:
                got = b''.join(lines[o] for o in range(chunk, chunk + CHUNK,
                                                       16))
            except KeyError:
                got = b''
            if len(got) != CHUNK:
                problems.append('%#x: not read' % chunk)
            elif got not in (zeros, new):
                foreign = [o for o in range(CHUNK)
                           if got[o] not in (0, pattern)]
                if foreign:
                    problems.append('%#x: foreign byte 0x%02x at %#x' %
                                    (chunk, got[foreign[0]],
                                     chunk + foreign[0]))
                else:
                    problems.append('%#x: torn (zeros and pattern)' % chunk)
            seen.add('new' if got == new else 'old' if got == zeros
                     else 'bad')
        if os.environ.get('VHDX_RACES_DEBUG'):
            sys.stderr.write('race %d: %s\n' % (n, sorted(seen)))
        if problems:
            print('race %d: FAILED: %s' % (n, '; '.join(problems[:4])))
        else:
            print('race %d: ok' % n)


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == 'ref':
        cmd_ref(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) >= 2 and sys.argv[1] == 'races':
        cmd_races(sys.argv[2:])
    else:
        sys.exit('usage: see the comment at the top of ' + sys.argv[0])


if __name__ == '__main__':
    main()
