"""The I/O a workload made, as iorecord.so recorded it, and the files a
power cut after any point of it may leave.

A disk keeps a write for sure only once a flush of its file that began
after the write completed has completed itself.  Cut the power after the
k-th recorded operation (the first k completed, the rest never did): each
file holds every operation up to its last completed flush, plus any
subset of the later ones, each of those possibly torn (only some of its
physical sectors written).  A State says which subset and which tears;
files_at() builds the files it leaves.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import random
import struct

WRITE, FLUSH, TRUNCATE, ZERO, ALLOCATE = 1, 2, 3, 4, 5
KEEP_SIZE = 1
HEAD = struct.Struct('<4sBB2xIQQQQH')
# Tears are at the disk's physical sector size
PHYS = 4096
# Cuts of a long run of pending operations: this many prefixes at most
MAX_PREFIXES = 16


class Op:
    __slots__ = ('index', 'type', 'flags', 'pid', 'start', 'end', 'offset',
                 'length', 'path', 'data_at')

    def __repr__(self):
        return ('Op(%d %s %s +%d len %d)' %
                (self.index, 'x wfta'[self.type], os.path.basename(self.path),
                 self.offset, self.length))


class Trace:
    """The recorded operations (in completion order) and the files as
    they were when recording began"""

    def __init__(self, log_path, initial):
        # initial: path -> path of a copy of the file before the workload
        # (or None if the file did not exist)
        self.log_path = log_path
        self.initial = initial
        with open(log_path, 'rb') as f:
            self.raw = f.read()
        self.ops = []
        pos = 0
        while pos < len(self.raw):
            magic, typ, flags, pid, start, end, off, length, plen = \
                HEAD.unpack_from(self.raw, pos)
            if magic != b'IOR1':
                raise ValueError('%s: bad record at %d' % (log_path, pos))
            op = Op()
            op.index = len(self.ops)
            op.type, op.flags, op.pid = typ, flags, pid
            op.start, op.end, op.offset, op.length = start, end, off, length
            pos += HEAD.size
            op.path = self.raw[pos:pos + plen].decode()
            pos += plen
            op.data_at = pos
            if typ == WRITE:
                pos += length
            self.ops.append(op)
        self.files = sorted(set(initial) | {op.path for op in self.ops})

    def data(self, op):
        return self.raw[op.data_at:op.data_at + op.length]

    def pending(self, k):
        """Per file, the operations among the first @k that a power cut
        may lose: those after the file's last covering flush"""
        covered = {}
        for op in self.ops[:k]:
            if op.type == FLUSH:
                covered[op.path] = max(covered.get(op.path, 0), op.start)
        durable, pending = [], []
        for op in self.ops[:k]:
            if op.type == FLUSH:
                continue
            if op.end <= covered.get(op.path, -1):
                durable.append(op)
            else:
                pending.append(op)
        return durable, pending

    def crash_time(self, k):
        """The latest moment a cut after @k operations can happen: before
        the (k+1)-th completes"""
        if k >= len(self.ops):
            return float('inf')
        return self.ops[k].end


class State:
    """A power cut after @k operations that left the pending operations
    @kept (indexes), those in @torn (index -> kept physical sectors, as
    indexes into the operation's sectors) only in part"""

    def __init__(self, k, kept, torn=None, name=''):
        self.k = k
        self.kept = tuple(sorted(kept))
        self.torn = dict(torn or {})
        self.name = name

    def key(self):
        return (self.k, self.kept,
                tuple(sorted((i, tuple(s)) for i, s in self.torn.items())))

    def describe(self):
        torn = ''.join(' torn %d:%s' % (i, ','.join(map(str, s)))
                       for i, s in sorted(self.torn.items()))
        return 'k=%d %s kept=%s%s' % (self.k, self.name,
                                      ','.join(map(str, self.kept)) or '-',
                                      torn)


def phys_sectors(op):
    """The physical sectors a write covers: (offset, length) pieces"""
    first = op.offset // PHYS * PHYS
    pieces = []
    pos = first
    while pos < op.offset + op.length:
        lo = max(pos, op.offset)
        hi = min(pos + PHYS, op.offset + op.length)
        pieces.append((lo, hi - lo))
        pos += PHYS
    return pieces


def enumerate_states(trace, k, rng, max_random=4):
    """The states of a cut after @k operations worth checking: none or
    all of the pending ones, each prefix and the newest alone (up to a
    bound), random subsets, and tears of the newest write"""
    durable, pending = trace.pending(k)
    idx = [op.index for op in pending]
    states = [State(k, [], name='none')]
    if not idx:
        return states
    states.append(State(k, idx, name='all'))
    states.append(State(k, idx[-1:], name='newest'))
    cuts = range(1, len(idx))
    if len(cuts) > MAX_PREFIXES:
        cuts = sorted(rng.sample(cuts, MAX_PREFIXES))
    for n in cuts:
        states.append(State(k, idx[:n], name='prefix%d' % n))
    for _ in range(max_random):
        states.append(State(k, [i for i in idx if rng.random() < 0.5],
                            name='random'))
    writes = [op for op in pending if op.type == WRITE]
    for op in writes[-2:]:
        pieces = phys_sectors(op)
        if len(pieces) < 2:
            continue
        keep = [i for i in range(len(pieces)) if rng.random() < 0.5]
        states.append(State(k, idx, {op.index: keep}, name='torn'))
        states.append(State(k, idx, {op.index: list(range(len(pieces) // 2))},
                            name='torn-half'))
    seen, unique = set(), []
    for st in states:
        if st.key() not in seen:
            seen.add(st.key())
            unique.append(st)
    return unique


def _apply(trace, op, f, size, pieces=None):
    """Applies @op to the open file @f of @size bytes; returns the size"""
    if op.type == WRITE:
        data = trace.data(op)
        for lo, n in pieces if pieces is not None else [(op.offset,
                                                          op.length)]:
            f.seek(lo)
            f.write(data[lo - op.offset:lo - op.offset + n])
            size = max(size, lo + n)
    elif op.type == TRUNCATE:
        f.truncate(op.offset)
        size = op.offset
    elif op.type == ZERO:
        end = op.offset + op.length
        if op.flags & KEEP_SIZE:
            end = min(end, size)
        if end > op.offset:
            f.seek(op.offset)
            f.write(bytes(end - op.offset))
            size = max(size, end)
    elif op.type == ALLOCATE:
        if op.offset + op.length > size:
            f.truncate(op.offset + op.length)
            size = op.offset + op.length
    return size


def content_key(trace, state):
    """What decides the files @state leaves: states of different cut
    points that keep the same operations leave the same files"""
    durable, pending = trace.pending(state.k)
    kept = set(state.kept)
    ops = tuple(op.index for op in durable) + \
        tuple(op.index for op in pending if op.index in kept)
    return ops, tuple(sorted((i, tuple(s)) for i, s in state.torn.items()))


def touched(trace, state):
    """The files @state changes"""
    durable, pending = trace.pending(state.k)
    kept = set(state.kept)
    return {op.path for op in durable} | \
        {op.path for op in pending if op.index in kept}


def files_at(trace, state, out_dir):
    """Writes the files @state leaves into @out_dir (same base names);
    returns path -> new path.  Files it does not change are symbolic links
    to their first state: they must only be read."""
    durable, pending = trace.pending(state.k)
    kept = set(state.kept)
    result = {}
    for path in trace.files:
        new = os.path.join(out_dir, os.path.basename(path))
        src = trace.initial.get(path)
        ops = [op for op in durable if op.path == path] + \
              [op for op in pending if op.path == path and op.index in kept]
        if src is None and not ops:
            continue
        if not ops:
            # Untouched: the first state, shared (nothing writes it)
            os.symlink(src, new)
            result[path] = new
            continue
        if src is None:
            open(new, 'wb').close()
        else:
            _copy_sparse(src, new)
        with open(new, 'r+b') as f:
            size = os.fstat(f.fileno()).st_size
            for op in sorted(ops, key=lambda o: o.index):
                pieces = None
                if op.index in state.torn:
                    allp = phys_sectors(op)
                    pieces = [allp[i] for i in state.torn[op.index]]
                size = _apply(trace, op, f, size, pieces)
        result[path] = new
    return result


def _copy_sparse(src, dst):
    with open(src, 'rb') as fi, open(dst, 'wb') as fo:
        size = os.fstat(fi.fileno()).st_size
        pos = 0
        while pos < size:
            try:
                data_at = os.lseek(fi.fileno(), pos, os.SEEK_DATA)
            except OSError:
                break
            hole_at = os.lseek(fi.fileno(), data_at, os.SEEK_HOLE)
            fi.seek(data_at)
            fo.seek(data_at)
            left = hole_at - data_at
            while left:
                chunk = fi.read(min(left, 1 << 20))
                fo.write(chunk)
                left -= len(chunk)
            pos = hole_at
        fo.truncate(size)


def sample_states(trace, n, seed, all_points=False):
    """States of every cut point (@all_points), or @n of them drawn with
    @seed from all cut points' states"""
    rng = random.Random(seed)
    states = []
    for k in range(len(trace.ops) + 1):
        states += enumerate_states(trace, k,
                                   random.Random(seed * 1000003 + k))
    if all_points or n >= len(states):
        return states
    return sorted(rng.sample(states, n), key=lambda s: s.key())
