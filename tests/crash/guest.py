"""What the guest wrote, and what a disk cut off by a power loss may show.

Every guest write gets an id; each of its sectors holds the id and the
sector's number, so a sector read back names the write it came from (0:
zeros) or is garbage.  The model keeps, per sector, the writes that
touched it with their issue and acknowledgment times; after a cut at
time t it allows the sector's value as of the last guest flush
acknowledged before t (the newest write acknowledged before that flush
was issued), or that of any later write issued before t.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import bisect
import os
import struct
import subprocess
import time

ZEROS = 0
GARBAGE = -1
HEAD = struct.Struct('<QQ')


def sector_bytes(wid, sector, lss):
    """The content write @wid gives sector @sector"""
    fill = bytes([wid % 251 + 1]) * (lss - HEAD.size)
    return HEAD.pack(wid, sector) + fill


def write_bytes(wid, offset, length, lss):
    return b''.join(sector_bytes(wid, s, lss)
                    for s in range(offset // lss, (offset + length) // lss))


def decode(data, sector, lss):
    """The write id sector @sector's @data came from; ZEROS or GARBAGE"""
    if data == bytes(lss):
        return ZEROS
    wid, where = HEAD.unpack_from(data)
    if where != sector or data != sector_bytes(wid, sector, lss):
        return GARBAGE
    return wid


class GuestOp:
    """A guest request: write, zero, discard or flush; or 'view', a change
    of what whole sectors show (@view: sector -> write id) that is not a
    write of the guest's (qemu-img rebase -u); or 'resize' to @length"""
    __slots__ = ('kind', 'offset', 'length', 'wid', 'view', 'issued',
                 'acked')

    def __init__(self, kind, offset=0, length=0, wid=ZEROS, view=None):
        self.kind, self.offset, self.length, self.wid = \
            kind, offset, length, wid
        self.view = view
        self.issued = self.acked = None

    def sectors(self, lss):
        """sector -> write id this operation gives"""
        if self.kind == 'view':
            return self.view
        if self.kind in ('write', 'zero', 'discard'):
            return {s: self.wid for s in range(self.offset // lss,
                                               (self.offset + self.length) //
                                               lss)}
        return {}


class Model:
    """The guest's view of a disk of @size bytes with @lss-byte sectors,
    @initial its content before the workload (sector -> write id)"""

    def __init__(self, size, lss, initial=None, virtual_size=None):
        self.size, self.lss = size, lss
        self.initial = dict(initial or {})
        self.ops = []
        self.next_wid = max(self.initial.values(), default=0) + 1
        # The disk's size, when a workload changes it (else not checked)
        self.virtual_size = virtual_size

    def new_wid(self):
        wid = self.next_wid
        self.next_wid += 1
        return wid

    def add(self, op):
        self.ops.append(op)

    def freeze(self):
        """Indexes the acknowledged operations for allowed()"""
        self.by_sector = {}
        for i, op in enumerate(self.ops):
            for s in op.sectors(self.lss):
                if s < self.size // self.lss:
                    self.by_sector.setdefault(s, []).append(i)
        self.flushes = [op for op in self.ops if op.kind == 'flush']
        self.flush_acks = [op.acked for op in self.flushes]

    def durable_before(self, t):
        """Writes acknowledged before this time are durable at a cut at
        @t: the issue time of the last flush acknowledged before @t"""
        n = bisect.bisect_left(self.flush_acks, t)
        return self.flushes[n - 1].issued if n else -1

    def allowed(self, sector, t):
        """The write ids sector @sector may read after a cut at @t"""
        first = self.initial.get(sector, ZEROS)
        ops = self.by_sector.get(sector)
        if not ops:
            return {first}
        limit = self.durable_before(t)
        values = {first}
        for i in ops:
            op = self.ops[i]
            wid = op.sectors(self.lss)[sector]
            if op.acked is not None and op.acked < limit:
                if op.kind == 'discard':
                    values.add(ZEROS)
                else:
                    values = {wid}
            elif op.issued is not None and op.issued < t:
                values.add(wid)
        return values

    def sizes_allowed(self, t):
        """The virtual sizes a cut at @t may leave"""
        limit = self.durable_before(t)
        sizes = {self.virtual_size}
        for op in self.ops:
            if op.kind != 'resize':
                continue
            if op.acked is not None and op.acked < limit:
                sizes = {op.length}
            elif op.issued is not None and op.issued < t:
                sizes.add(op.length)
        return sizes

    def image_after(self, n):
        """The disk's bytes after the first @n operations, built from the
        nearest one before it (all kept: a few MiB each)"""
        cache = self.__dict__.setdefault('images', {})
        if n in cache:
            return cache[n]
        lss = self.lss
        below = [m for m in cache if m < n]
        if below:
            start = max(below)
            img = bytearray(cache[start])
        else:
            start = 0
            img = bytearray(self.size)
            for s, wid in self.initial.items():
                img[s * lss:(s + 1) * lss] = sector_bytes(wid, s, lss)
        for op in self.ops[start:n]:
            if op.kind in ('write', 'zero', 'discard'):
                end = min(op.offset + op.length, self.size)
                if op.offset >= end:
                    continue
                img[op.offset:end] = \
                    write_bytes(op.wid, op.offset, end - op.offset, lss) \
                    if op.wid else bytes(end - op.offset)
            elif op.kind == 'view':
                for s, wid in op.view.items():
                    if s < self.size // lss:
                        img[s * lss:(s + 1) * lss] = \
                            sector_bytes(wid, s, lss) if wid else bytes(lss)
        cache[n] = bytes(img)
        return cache[n]

    def counts_at(self, t):
        """How many operations are durable, and how many were issued, at
        a cut at @t"""
        limit = self.durable_before(t)
        durable = issued = 0
        for i, op in enumerate(self.ops):
            if op.acked is not None and op.acked < limit:
                durable = i + 1
            if op.issued is not None and op.issued < t:
                issued = i + 1
        return durable, issued

    def check(self, raw, t):
        """Compares a raw image of the guest disk with what a cut at @t
        allows; returns the first few mismatches.  A sector equal to the
        disk as of the last durable operation, or of the last one issued,
        is fine; others are looked at one by one."""
        lss = self.lss
        if len(raw) != self.size:
            return [('size', len(raw), self.size)]
        durable, issued = self.counts_at(t)
        d_img = self.image_after(durable)
        l_img = self.image_after(issued)
        bad = []
        chunk = 64 * 1024
        for base in range(0, self.size, chunk):
            piece = raw[base:base + chunk]
            if piece == d_img[base:base + chunk] or \
                    piece == l_img[base:base + chunk]:
                continue
            for pos in range(base, min(base + chunk, self.size), lss):
                data = raw[pos:pos + lss]
                if data == d_img[pos:pos + lss] or \
                        data == l_img[pos:pos + lss]:
                    continue
                s = pos // lss
                got = decode(data, s, lss)
                allowed = self.allowed(s, t)
                if got not in allowed:
                    bad.append((s, got, sorted(allowed)))
                    if len(bad) >= 5:
                        return bad
        return bad


class QemuIo:
    """qemu-io run interactively, a command at a time, each timed from
    its issue to its acknowledgment (the next prompt)"""

    PROMPT = b'qemu-io> '

    def __init__(self, args, env):
        self.p = subprocess.Popen(['stdbuf', '-oL'] + args,
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, env=env,
                                  bufsize=0)
        self.buf = b''
        self.wait()

    def wait(self):
        while not self.buf.endswith(self.PROMPT):
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError('qemu-io ended: %s' % self.buf.decode())
            self.buf += chunk
        out, self.buf = self.buf[:-len(self.PROMPT)], b''
        return out.decode(errors='replace')

    def run(self, cmd, op=None):
        if op:
            op.issued = time.monotonic_ns()
        self.p.stdin.write(cmd.encode() + b'\n')
        out = self.wait()
        if op:
            op.acked = time.monotonic_ns()
        if 'failed' in out or 'error' in out.lower():
            raise RuntimeError('qemu-io %s: %s' % (cmd, out))
        return out

    def close(self):
        self.p.stdin.write(b'quit\n')
        self.p.stdin.close()
        rest = self.p.stdout.read()
        if self.p.wait() != 0:
            raise RuntimeError('qemu-io: %s' % rest.decode())
