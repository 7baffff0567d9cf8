#!/usr/bin/python3
#
# qemu-vhdx benchmark: our VHDX driver against the stock VHDX driver
# (Debian's qemu-img 10.0), qcow2 and raw, in one run, on this machine.
#
# Every case runs each peer in turn and repeats that round (ours, stock,
# qcow2, raw, then again ...), so that a slow phase of a shared machine
# hits all peers alike; the tables give the median of the rounds, the
# spread (min-max) and cost ratios of medians, ours/peer: time, memory,
# bytes on disk or host syscalls, where below 1 means ours costs less;
# where it differs, also the median of each round's own ratio ("by
# round"), which a slow phase shared by a round's peers does not move.
#
# usage: bench.py [--quick] [--reps N] [--cases a,b,...]
# bench/run.sh calls it; README.md ("Benchmark") says what each case does.
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

import argparse
import concurrent.futures
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, 'build', 'qemu-build')
OUT_DIR = os.path.join(ROOT, 'build', 'bench')
WORK = os.path.join(OUT_DIR, 'work')
# tmpfs, for the case that keeps its images in memory
MEM_WORK = '/dev/shm/qemu-vhdx-bench'

OURS_IMG = os.path.join(BUILD, 'qemu-img')
OURS_IO = os.path.join(BUILD, 'qemu-io')
QSD = os.path.join(BUILD, 'storage-daemon', 'qemu-storage-daemon')
STOCK_IMG = '/usr/bin/qemu-img'
STOCK_IO = '/usr/bin/qemu-io'
MERGE = os.path.join(ROOT, 'tools', 'vhdx-merge')

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
TiB = 1024 * GiB

# qemu-img bench, as the cases before issue 11 ran it: O_DIRECT and a
# thread pool, so that the page cache and the AIO backend are the same
# for every driver and only the drivers differ
BENCH_IO = ['-t', 'none', '-i', 'threads']
# ...and for images in memory (tmpfs has no O_DIRECT): the page cache
MEM_IO = ['-t', 'writeback', '-i', 'threads']

# The qcow2 a user would set against VHDX's per-sector bitmaps for small
# writes into a child: extended L2 entries split a cluster into 32
# subclusters, so 128 KiB clusters make them 4 KiB, the size of the
# writes, and a 4 KiB write copies nothing from the parent; with 2 MiB
# clusters a subcluster is 64 KiB and each write still copies 60 KiB
QCOW2_XL2_OPTS = 'extended_l2=on,cluster_size=128k'


class BenchError(Exception):
    """A command failed; its case marks the peer 'error' and goes on"""


class Proc:
    """One finished process: exit code, wall seconds, peak RSS in MiB
    (the kernel's ru_maxrss of the process itself) and its output"""

    def __init__(self, argv, code, wall, rss_mib, out):
        self.argv = argv
        self.code = code
        self.wall = wall
        self.rss = rss_mib
        self.out = out

    def message(self):
        """What a failed QEMU tool said: its first "qemu-...: " line (a
        hint may follow it), else the last line of its output"""
        lines = [ln for ln in self.out.splitlines() if ln.strip()]
        for ln in lines:
            if ln.startswith('qemu-'):
                return ln
        return lines[-1] if lines else 'exit code %d' % self.code


def run(argv, cwd=None):
    """Runs @argv to its end; wall time from fork to reaped, peak RSS
    from wait4 (no /usr/bin/time in between to count)"""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
    except OSError as e:
        # e.g. a binary being relinked by a build running meanwhile
        raise BenchError('cannot run %s: %s' % (argv[0], e)) from None
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Proc(argv, proc.returncode, wall, usage.ru_maxrss / 1024,
                out.decode(errors='replace'))


def run_ok(argv, cwd=None):
    """run(), and a BenchError when the command fails"""
    p = run(argv, cwd)
    if p.code != 0:
        cmd = ' '.join([os.path.basename(argv[0])] + argv[1:])
        raise BenchError('%s: %s' % (cmd, p.message()))
    return p


def bench_secs(proc):
    """The seconds qemu-img bench reports for its requests alone (without
    the open, and without the flush when it closes the image)"""
    for line in proc.out.splitlines():
        if line.startswith('Run completed in '):
            return float(line.split()[3])
    raise BenchError('qemu-img bench: no timing in its output')


def du_mib(path):
    """Space the file takes on disk (allocated blocks), in MiB"""
    return os.stat(path).st_blocks * 512 / MiB


def spread_stride(size, req):
    """A step for qemu-img bench that hops across the whole image: the
    golden-ratio fraction of its slots, odd so that it is coprime with a
    power-of-two slot count and visits every slot once before repeating"""
    slots = size // req
    return (int(slots * 0.6180339887) | 1) * req


def copy_sparse(src_dir, dst_dir):
    """A fresh copy of an image directory, synced, so that writeback of
    the copy does not run into the timed part that follows"""
    shutil.rmtree(dst_dir, ignore_errors=True)
    os.makedirs(dst_dir)
    for name in sorted(os.listdir(src_dir)):
        dst = os.path.join(dst_dir, name)
        run_ok(['cp', '--sparse=always', os.path.join(src_dir, name), dst])
        fd = os.open(dst, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Peer:
    """An image format as one pair of qemu-img and qemu-io opens it"""

    def __init__(self, name, img, io, fmt, opts=''):
        self.name = name
        self.img = img
        self.io = io
        self.fmt = fmt
        self.opts = opts

    @property
    def ext(self):
        return self.fmt

    def create(self, path, size=None, backing=None, opts='', cwd=None,
               unsafe=False):
        """qemu-img create; @backing as given (relative or absolute);
        @unsafe: -u, the backing chain is not opened (see ChainOpen)"""
        argv = [self.img, 'create', '-q', '-f', self.fmt]
        if unsafe:
            argv.append('-u')
        all_opts = ','.join(o for o in (self.opts, opts) if o)
        if all_opts:
            argv += ['-o', all_opts]
        if backing:
            argv += ['-b', backing, '-F', self.fmt]
        argv.append(path)
        if size is not None:
            argv.append(str(size))
        return run_ok(argv, cwd)

    def bench(self, path, args, cwd=None, io=BENCH_IO):
        """qemu-img bench with @io (cache and AIO options); returns the
        Proc, .secs set"""
        p = run_ok([self.img, 'bench', '-f', self.fmt] + io + args +
                   [path], cwd)
        p.secs = bench_secs(p)
        return p

    def fill(self, path, size, req, stride, offset=0):
        """Writes @req-sized pieces every @stride bytes from @offset,
        as far as the image goes (setup, not timed); not zeros, which a
        commit or a driver might treat as holes"""
        count = (size - offset) // stride
        self.bench(path, ['-w', '-d', '16', '-c', str(count), '-s', str(req),
                          '-S', str(stride), '-o', str(offset),
                          '--pattern=90'])


OURS = Peer('ours', OURS_IMG, OURS_IO, 'vhdx')
STOCK = Peer('stock', STOCK_IMG, STOCK_IO, 'vhdx')
QCOW2 = Peer('qcow2', OURS_IMG, OURS_IO, 'qcow2')
QCOW2_XL2 = Peer('qcow2-xl2', OURS_IMG, OURS_IO, 'qcow2', QCOW2_XL2_OPTS)
RAW = Peer('raw', OURS_IMG, OURS_IO, 'raw')


class Qmp:
    """A minimal QMP client over a UNIX socket: one command at a time,
    events kept until asked for"""

    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.file = self.sock.makefile('rwb')
        self.events = []
        self.read()                     # the greeting
        self.cmd('qmp_capabilities')

    def read(self):
        try:
            line = self.file.readline()
        except socket.timeout:
            raise BenchError('QMP: timed out') from None
        if not line:
            raise BenchError('QMP: connection closed')
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        self.file.write(json.dumps(msg).encode() + b'\n')
        self.file.flush()
        while True:
            reply = self.read()
            if 'event' in reply:
                self.events.append(reply)
            elif 'error' in reply:
                raise BenchError('QMP %s: %s' % (name,
                                                 reply['error']['desc']))
            elif 'return' in reply:
                return reply['return']

    def event(self, name, **data):
        """Waits for event @name whose data has @data; a block job that
        ends with an error meanwhile raises"""
        while True:
            ev = self.events.pop(0) if self.events else self.read()
            got = ev.get('data', {})
            if ev.get('event') == name and \
                    all(got.get(k) == v for k, v in data.items()):
                return ev
            if ev.get('event') in ('BLOCK_JOB_COMPLETED',
                                   'BLOCK_JOB_CANCELLED') and \
                    got.get('error'):
                raise BenchError('QMP: %s: %s' % (ev['event'],
                                                  got['error']))

    def job(self, cmd, job_id, **args):
        """Runs a job that needs job-dismiss (blockdev-create) to its
        end; raises when it failed"""
        self.cmd(cmd, **{'job-id': job_id}, **args)
        self.event('JOB_STATUS_CHANGE', id=job_id, status='concluded')
        for job in self.cmd('query-jobs'):
            if job['id'] == job_id and job.get('error'):
                self.cmd('job-dismiss', id=job_id)
                raise BenchError('%s: %s' % (cmd, job['error']))
        self.cmd('job-dismiss', id=job_id)

    def close(self):
        self.file.close()
        self.sock.close()


class Daemon:
    """qemu-storage-daemon with a QMP socket in directory @d, reaped with
    wait4 for its peak RSS; its output goes to a log file (a pipe nobody
    reads could fill)"""

    def __init__(self, d, args=()):
        self.sock = os.path.join(d, 'qmp.sock')
        self.log = os.path.join(d, 'daemon.log')
        argv = [QSD, '--chardev',
                'socket,id=qmp0,path=%s,server=on,wait=off' % self.sock,
                '--monitor', 'chardev=qmp0'] + list(args)
        with open(self.log, 'wb') as out:
            try:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                             stdout=out,
                                             stderr=subprocess.STDOUT)
            except OSError as e:
                raise BenchError('cannot run %s: %s' % (QSD, e)) from None
        self.rss = None
        self.status = None

    def connect(self, timeout=300):
        """The QMP connection, once the daemon listens (it creates the
        socket after opening its --blockdev nodes)"""
        deadline = time.monotonic() + 30
        while True:
            if self.exited():
                raise BenchError('qemu-storage-daemon: %s' %
                                 self.last_words())
            try:
                return Qmp(self.sock, timeout)
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise BenchError('qemu-storage-daemon: no QMP socket')
                time.sleep(0.02)

    def exited(self, block=False):
        if self.status is None:
            pid, status, usage = os.wait4(self.proc.pid,
                                          0 if block else os.WNOHANG)
            if pid:
                self.status = status
                self.rss = usage.ru_maxrss / 1024
                # Popen must not wait for a pid that is gone
                self.proc.returncode = os.waitstatus_to_exitcode(status)
        return self.status is not None

    def stop(self, timeout=30):
        """Waits for it to quit; kills it when it does not"""
        deadline = time.monotonic() + timeout
        while not self.exited() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.exited():
            self.proc.kill()
            self.exited(block=True)

    def last_words(self):
        with open(self.log, errors='replace') as f:
            lines = [ln for ln in f.read().splitlines() if ln.strip()]
        return lines[-1] if lines else 'exited'


def qmp_create(qmp, peer, path, size, backing=None):
    """An image made through QMP, as qemu-img create -f FMT [-b BACKING
    -F FMT] PATH SIZE makes it (without opening the backing chain); the
    empty file made here, as the file driver's create would, saves a job
    and a blockdev-add per image"""
    open(path, 'wb').close()
    opts = {'driver': peer.fmt, 'size': size,
            'file': {'driver': 'file', 'filename': path}}
    if backing:
        opts.update({'backing-file': backing, 'backing-fmt': peer.fmt})
    qmp.job('blockdev-create', 'create', options=opts)


class Settings:
    """Sizes and counts of a run; --quick makes everything smaller"""

    def __init__(self, quick, reps):
        self.quick = quick
        # the basic cases as before issue 11; the others are newer and
        # smaller in quick mode, to stay under two minutes in all
        self.basic_size = (256 if quick else 1024) * MiB
        self.size = (128 if quick else 1024) * MiB
        # random reads run a second or more in a full run: 20,000 took
        # 0.4 s, where this storage's round-to-round spread was +-10%
        self.rand_count = 5000 if quick else 60000
        self.child_count = 2000 if quick else 20000
        self.chain_reads = 5000 if quick else 60000
        self.mem_reads = 50000 if quick else 200000
        self.reps = reps or (3 if quick else 5)
        self.open_depths = (1, 100, 256)
        # the stock driver writes and reads its whole BAT: 512 MiB at
        # 64 TiB, some 10 s a round; quick mode keeps a quarter of it
        self.big_size = (16 if quick else 64) * TiB


class Metric:
    """One row of a case's table: @key in what measure() returns, how it
    is printed, and whether ours/peer ratios of it are shown: they are
    for costs, not for throughput (its time ratio says the same) nor for
    rows that are only there for reference"""

    def __init__(self, key, label, ratio=True):
        self.key = key
        self.label = label
        self.ratio = ratio


class Case:
    """A benchmark case: setup() once per peer (not timed), measure() once
    per peer and round; a subclass sets the attributes below"""

    key = ''
    title = ''
    about = []          # paragraphs printed under the title
    peers = []          # Peer objects, in the order they run and print
    tables = []         # (heading, [Metric]) pairs
    ratios = []         # (numerator, denominator) peer names

    def __init__(self, settings):
        self.s = settings
        self.dir = os.path.join(WORK, self.key)
        self.notes = set()      # why something was refused, for the table

    def setup(self, peer):
        return None

    def measure(self, peer, state):
        raise NotImplementedError

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def peer_dir(self, peer, *sub):
        d = os.path.join(self.dir, peer.name, *sub)
        os.makedirs(d, exist_ok=True)
        return d


class Basic(Case):
    """The four cases the benchmark had before issue 11, measured as they
    were: qemu-img bench's own timing of the requests"""

    key = 'basic'
    peers = [OURS, STOCK, QCOW2, RAW]
    ratios = [('ours', 'stock'), ('ours', 'qcow2'), ('ours', 'raw')]

    def __init__(self, settings):
        super().__init__(settings)
        mib = settings.basic_size // MiB
        self.title = 'the four basic cases, %d MiB images' % mib
        self.about = [
            'qemu-img bench -t none -i threads; time = its "Run completed" '
            '(the requests, not the open or the flush at close)',
            'seq-write  1 MiB writes over a new image, depth 16',
            'seq-read   1 MiB reads of that image, depth 16',
            'rand-read  4 KiB reads of it, depth 16, step 4 KiB * 65537, '
            'as before (on 256 MiB that step walks the disk sequentially, '
            'on 1 GiB as four interleaved sequential walks)',
            'alloc-4k   4 KiB writes into a new image, step 2 MiB (each '
            'allocates a block or cluster), depth 8, a flush every 8',
        ]
        self.tables = []
        for name, rate in (('seq-write', 'MiB/s'), ('seq-read', 'MiB/s'),
                           ('alloc-4k', 'IOPS'), ('rand-read', 'IOPS')):
            self.tables.append((name, [
                Metric(name + '/s', 'time s'),
                Metric(name + '/rate', rate, ratio=False),
                Metric(name + '/rss', 'peak RSS MiB')]))

    def measure(self, peer, state):
        s = self.s
        img = os.path.join(self.peer_dir(peer), 'disk.' + peer.ext)
        seq = s.basic_size // MiB
        alloc = s.basic_size // (2 * MiB)
        res = {}
        peer.create(img, s.basic_size)
        self.record(res, 'seq-write', peer.bench(img, [
            '-w', '-d', '16', '-c', str(seq), '-s', '1M', '-S', '1M']),
            seq)
        self.record(res, 'seq-read', peer.bench(img, [
            '-d', '16', '-c', str(seq), '-s', '1M', '-S', '1M']), seq)
        self.record(res, 'rand-read', peer.bench(img, [
            '-d', '16', '-c', str(s.rand_count), '-s', '4k',
            '-S', str(4096 * 65537)]), s.rand_count)
        peer.create(img, s.basic_size)
        self.record(res, 'alloc-4k', peer.bench(img, [
            '-w', '-d', '8', '-c', str(alloc), '-s', '4k', '-S', '2M',
            '--flush-interval=8']), alloc)
        os.unlink(img)
        return res

    @staticmethod
    def record(res, name, proc, units):
        """time, rate (MiB/s for the 1 MiB cases, IOPS for 4 KiB: @units
        is MiB or requests) and peak RSS of one qemu-img bench"""
        res[name + '/s'] = proc.secs
        res[name + '/rate'] = units / proc.secs
        res[name + '/rss'] = proc.rss


class ChildWrites(Case):
    """Small writes into a fresh child over a fully written parent: what a
    VM does after a snapshot.  VHDX keeps a sector bitmap per block and
    writes 4 KiB as 4 KiB; qcow2 copies the rest of the cluster from the
    parent, unless extended L2 entries make 4 KiB subclusters"""

    key = 'child-4k'
    peers = [OURS, QCOW2, QCOW2_XL2, RAW]
    ratios = [('ours', 'qcow2'), ('ours', 'qcow2-xl2'), ('ours', 'raw')]
    tables = [('child-4k', [
        Metric('run', 'time s'),
        Metric('wall', 'wall s'),
        Metric('du', 'child du MiB')])]

    def __init__(self, settings):
        super().__init__(settings)
        s = settings
        self.stride = spread_stride(s.size, 4 * KiB)
        self.title = ('4 KiB writes into a fresh child of a fully written '
                      '%d MiB parent' % (s.size // MiB))
        self.about = [
            'qemu-img bench -w -d 16 -s 4k -c %d -S %d (a golden-ratio '
            'step, so the writes scatter over the disk); no guest flush.  '
            'time = "Run completed" (the requests); wall = the whole process '
            '(open, requests, and the flush and metadata writes at close).'
            % (s.child_count, self.stride),
            'A new child (-b parent, relative) every round; the stock vhdx '
            'driver cannot open children.  qcow2-xl2: -o %s for parent and '
            'child (4 KiB subclusters, as a user would set for small '
            'writes).  raw: the same writes into a fully written raw file '
            '(what a copy of the parent is).' % QCOW2_XL2_OPTS,
        ]

    def setup(self, peer):
        parent = os.path.join(self.peer_dir(peer), 'parent.' + peer.ext)
        peer.create(parent, self.s.size)
        peer.fill(parent, self.s.size, MiB, MiB)
        return parent

    def measure(self, peer, parent):
        target = parent
        if peer is not RAW:
            target = os.path.join(os.path.dirname(parent),
                                  'child.' + peer.ext)
            if os.path.exists(target):
                os.unlink(target)
            peer.create(target, backing=os.path.basename(parent),
                        cwd=os.path.dirname(parent))
        p = peer.bench(target, ['-w', '-d', '16', '-c',
                                str(self.s.child_count), '-s', '4k',
                                '-S', str(self.stride)])
        res = {'run': p.secs, 'wall': p.wall}
        # raw writes in place: its "child" is the whole file
        res['du'] = du_mib(target) if peer is not RAW else None
        return res


def spread_chain(peer, d, size, depth, piece):
    """A chain l0 (base) .. l(depth-1) in @d, layer i holding @piece bytes
    at i * @piece every @depth pieces: each layer a share of the disk,
    together all of it; returns the top's path"""
    for i in range(depth):
        top = os.path.join(d, 'l%d.%s' % (i, peer.ext))
        if i == 0:
            peer.create(top, size)
        else:
            peer.create(top, backing='l%d.%s' % (i - 1, peer.ext), cwd=d)
        peer.fill(top, size, piece, piece * depth, piece * i)
    return top


class ChainReads(Case):
    """4 KiB reads through a chain of 10 images, the data spread over all
    layers, so every read finds its layer by looking down the chain"""

    key = 'chain-10'
    peers = [OURS, QCOW2]
    ratios = [('ours', 'qcow2')]
    tables = [('chain-10', [
        Metric('run', 'time s'),
        Metric('wall', 'wall s'),
        Metric('rss', 'peak RSS MiB')])]
    depth = 10
    piece = 64 * KiB

    def __init__(self, settings):
        super().__init__(settings)
        s = settings
        self.stride = spread_stride(s.size, 4 * KiB)
        self.title = ('4 KiB random reads through a %d-deep chain, %d MiB' %
                      (self.depth, s.size // MiB))
        self.about = [
            'Layer i (0 = base) holds 64 KiB at i * 64 KiB every 640 KiB: '
            'each layer a tenth of the disk, together all of it.  qemu-img '
            'bench -d 16 -s 4k -c %d -S %d on the top; time = "Run '
            'completed", wall and peak RSS = the whole process.'
            % (s.chain_reads, self.stride),
        ]

    def setup(self, peer):
        return spread_chain(peer, self.peer_dir(peer), self.s.size,
                            self.depth, self.piece)

    def measure(self, peer, top):
        p = peer.bench(top, ['-d', '16', '-c', str(self.s.chain_reads),
                             '-s', '4k', '-S', str(self.stride)])
        return {'run': p.secs, 'wall': p.wall, 'rss': p.rss}


class ChainOpen(Case):
    """Opening a deep chain: every image, its parent found from what the
    child records (a relative or an absolute name)"""

    key = 'chain-open'
    peers = [OURS, QCOW2]
    ratios = [('ours', 'qcow2')]

    def __init__(self, settings):
        super().__init__(settings)
        self.depths = settings.open_depths
        self.max_depth = max(self.depths)
        self.title = 'opening chains of %s images' % ', '.join(
            str(d) for d in self.depths)
        self.about = [
            'qemu-io -r -f FMT -c quit TOP opens the whole chain (every '
            'parent, as a VM would; read-only so that an open changes '
            'nothing) and quits: wall time and peak RSS of the process.  '
            'Depth 1 is the top alone (process start-up).  Empty 1 GiB '
            'images.',
            'rel: each child made with backing-file lN.FMT (as -b lN.FMT; '
            'blockdev-create in one qemu-storage-daemon, not 512 qemu-img '
            'runs), opened from inside its directory; abs: made with '
            '/full/path/lN.FMT, opened from another directory.  Our '
            'driver records relative_path and absolute_win32_path either '
            'way and tries relative_path first, so for ours the two differ '
            'only in how the top is named.  '
            '"refused": the driver would not create or open the chain (the '
            'notes say why).',
        ]
        metrics = []
        for d in self.depths:
            for mode in ('rel', 'abs'):
                metrics.append(Metric('%d-%s' % (d, mode),
                                      'depth %d %s s' % (d, mode)))
        metrics.append(Metric('rss', 'depth %d rel RSS MiB' %
                              self.max_depth))
        self.tables = [('chain-open', metrics)]

    def setup(self, peer):
        """Both chains, as deep as the driver lets us create them;
        returns {mode: (directory, images created)}.  The two are built
        side by side, each a daemon waiting on our QMP round trips most
        of the time"""
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            built = {mode: pool.submit(self.build, peer, mode)
                     for mode in ('rel', 'abs')}
        return {mode: f.result() for mode, f in built.items()}

    def build(self, peer, mode):
        """One chain, made with blockdev-create in one storage daemon:
        as many qemu-img runs would cost a process start-up each (some
        35 ms of CPU), and qemu-img create even opens the whole chain
        below the new child, which makes the building quadratic
        (minutes).  blockdev-create is what qemu-img create runs in the
        driver; the parent is named as -b would name it"""
        d = self.peer_dir(peer, mode)
        daemon = Daemon(d)
        try:
            qmp = daemon.connect()
            try:
                made = self.make_chain(qmp, peer, mode, d)
                qmp.cmd('quit')
            finally:
                qmp.close()
        finally:
            daemon.stop()
        return d, made

    def make_chain(self, qmp, peer, mode, d):
        """Creates l0 .. l(N-1); how many it made (fewer when refused)"""
        for i in range(self.max_depth):
            path = os.path.join(d, 'l%d.%s' % (i, peer.ext))
            parent = 'l%d.%s' % (i - 1, peer.ext) if i else None
            if parent and mode == 'abs':
                parent = os.path.join(d, parent)
            try:
                qmp_create(qmp, peer, path, GiB, parent)
            except BenchError as e:
                self.notes.add('%s %s: creating image %d: %s' %
                               (peer.name, mode, i + 1, e))
                return i
        return self.max_depth

    def measure(self, peer, chains):
        res = {}
        for depth in self.depths:
            for mode in ('rel', 'abs'):
                p = self.open(peer, mode, chains[mode], depth)
                res['%d-%s' % (depth, mode)] = (p.wall if p else 'refused')
                if p and mode == 'rel' and depth == self.max_depth:
                    res['rss'] = p.rss
        return res

    def open(self, peer, mode, chain, depth):
        """The Proc of one open, or None when the chain is refused (when
        it was built or by the open); the reason goes to the notes"""
        d, created = chain
        if depth > created:
            return None
        top = 'l%d.%s' % (depth - 1, peer.ext)
        cwd = d if mode == 'rel' else WORK
        if mode == 'abs':
            top = os.path.join(d, top)
        p = run([peer.io, '-r', '-f', peer.fmt, '-c', 'quit', top], cwd)
        if p.code != 0:
            self.notes.add('%s %s depth %d: %s' % (peer.name, mode, depth,
                                                    p.message()))
            return None
        return p


class BigImage(Case):
    """A 64 TiB image (16 TiB in quick mode) with 1 MiB blocks: its BAT
    has 64 Mi entries (512 MiB) that the stock driver writes at create
    and reads whole at open; a sparse BAT should cost neither time nor
    memory"""

    key = 'big'
    peers = [OURS, STOCK, QCOW2]
    ratios = [('ours', 'stock'), ('ours', 'qcow2')]
    tables = [('big', [
        Metric('create', 'create s'),
        Metric('du', 'du MiB'),
        Metric('open', 'open s'),
        Metric('rss', 'open RSS MiB'),
        Metric('open-small', 'open s, 1 GiB'),
    ])]

    def __init__(self, settings):
        super().__init__(settings)
        self.title = 'a new %d TiB image' % (settings.big_size // TiB)
        self.about = [
            'vhdx -o block_size=1M (ours and stock), qcow2 with its default '
            '64 KiB clusters.  create = qemu-img create (wall); du = space '
            'allocated on disk after it; open = qemu-io -r -c quit (wall) '
            'and its peak RSS.  "open s, 1 GiB": the same open of an empty '
            '1 GiB image, to tell process start-up from the cost of the '
            'size.',
        ]

    def opts(self, peer):
        return 'block_size=1M' if peer.fmt == 'vhdx' else ''

    def setup(self, peer):
        small = os.path.join(self.peer_dir(peer), 'small.' + peer.ext)
        peer.create(small, GiB, opts=self.opts(peer))
        return small

    def measure(self, peer, small):
        img = os.path.join(self.peer_dir(peer), 'big.' + peer.ext)
        if os.path.exists(img):
            os.unlink(img)
        created = peer.create(img, self.s.big_size, opts=self.opts(peer))
        opened = run_ok([peer.io, '-r', '-f', peer.fmt, '-c', 'quit', img])
        res = {'create': created.wall, 'du': du_mib(img),
               'open': opened.wall, 'rss': opened.rss}
        res['open-small'] = run_ok([peer.io, '-r', '-f', peer.fmt, '-c',
                                    'quit', small]).wall
        os.unlink(img)
        return res


# The depth-3 chain of the commit cases: base <- s1 <- s2 <- top, data in
# every layer, overlapping between the children: (name, piece, stride,
# offset) of the writes that fill each layer
COMMIT_LAYERS = [
    ('base', MiB, 8 * MiB, 0),
    ('s1', 64 * KiB, 512 * KiB, 0),
    ('s2', 64 * KiB, 512 * KiB, 256 * KiB),
    ('top', 64 * KiB, 512 * KiB, 32 * KiB),
]
COMMIT_ABOUT = ('base <- s1 <- s2 <- top, default block and cluster '
                'sizes; base: 1 MiB every 8 MiB, each child 64 KiB every '
                '512 KiB (top overlapping s1), a fresh copy every round.')


def commit_template(peer, size):
    """The chain of COMMIT_LAYERS for @peer's format, built once per run
    and copied for every round (a commit changes it)"""
    d = os.path.join(WORK, 'templates', '%s-%d' % (peer.name, size))
    done = d + '.done'      # outside: the copies hold the images only
    if os.path.exists(done):
        return d
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    parent = None
    for name, piece, stride, offset in COMMIT_LAYERS:
        img = os.path.join(d, '%s.%s' % (name, peer.ext))
        peer.create(img, size if parent is None else None, backing=parent,
                    cwd=d)
        peer.fill(img, size, piece, stride, offset)
        parent = os.path.basename(img)
    open(done, 'w').close()
    return d


class OfflineCommit(Case):
    """qemu-img commit of a depth-3 chain into its base; the same with
    --rebase, which then makes the top an empty child of the base; and
    vhdx-merge, which drives that one command for the same merge and also
    checks the chain and the directory for siblings"""

    key = 'commit'
    rebase = Peer('ours-rebase', OURS_IMG, OURS_IO, 'vhdx')
    merge = Peer('merge', OURS_IMG, OURS_IO, 'vhdx')
    peers = [OURS, QCOW2, rebase, merge]
    ratios = [('ours', 'qcow2'), ('merge', 'ours-rebase')]
    tables = [('commit', [Metric('s', 'time s')])]

    def __init__(self, settings):
        super().__init__(settings)
        self.title = ('offline commit of a depth-3 chain, %d MiB' %
                      (settings.size // MiB))
        self.about = [
            COMMIT_ABOUT,
            'ours, qcow2: qemu-img commit -b base.FMT top.FMT (wall time; '
            'base gets s1, s2 and top; -b implies -d: top is left as it '
            'was).  ours-rebase: qemu-img commit -b /full/base.vhdx --rebase '
            'top.vhdx (patches/0010: top then becomes an empty child of '
            'base).  merge: tools/vhdx-merge --depth 3 top.vhdx, which runs '
            'that command, plus its checks (qemu-img info of the chain '
            'before and after, the directory searched for siblings); '
            'merge/ours-rebase = what the tool adds to the qemu-img work it '
            'drives.',
        ]

    def setup(self, peer):
        return commit_template(peer, self.s.size)

    def measure(self, peer, template):
        d = os.path.join(self.dir, peer.name)
        copy_sparse(template, d)
        if peer is self.merge:
            argv = [sys.executable, MERGE, '--qemu-img', OURS_IMG,
                    '--depth', '3', 'top.vhdx']
        elif peer is self.rebase:
            argv = [peer.img, 'commit', '-q', '-f', 'vhdx', '-b',
                    os.path.join(d, 'base.vhdx'), '--rebase', 'top.vhdx']
        else:
            argv = [peer.img, 'commit', '-q', '-f', peer.fmt,
                    '-b', 'base.' + peer.ext, 'top.' + peer.ext]
        p = run_ok(argv, d)
        return {'s': p.wall}


class LiveCommit(Case):
    """Active commit in a running process (qemu-storage-daemon, the top of
    the chain its block node): the copy runs until BLOCK_JOB_READY, then
    job-complete switches over to the base"""

    key = 'live-commit'
    # qcow2 with 4 KiB subclusters, as the children of VHDX keep sectors:
    # the top then holds only what it wrote, as ours does
    peers = [OURS, QCOW2, QCOW2_XL2]
    ratios = [('ours', 'qcow2'), ('ours', 'qcow2-xl2')]
    tables = [('live-commit', [
        Metric('ready', 'to READY s'),
        Metric('done', 'to COMPLETED s'),
        Metric('rss', 'daemon RSS MiB')])]

    def __init__(self, settings):
        super().__init__(settings)
        self.title = ('live active commit of a depth-3 chain, %d MiB' %
                      (settings.size // MiB))
        self.about = [
            COMMIT_ABOUT,
            'qemu-storage-daemon --blockdev FMT (top, cache.direct=on, '
            'aio=threads), QMP block-commit device=top (active commit into '
            'the base): time from the command to BLOCK_JOB_READY, and on to '
            'BLOCK_JOB_COMPLETED after job-complete; peak RSS of the daemon.  '
            'The stock vhdx driver cannot open the chain.',
            'qcow2-xl2: every layer %s (4 KiB subclusters: a child holds '
            'only what it wrote, as a VHDX child does; plain qcow2 copies '
            'the rest of a 64 KiB cluster up when a child writes part of '
            'it, so its commit reads each cluster from one file).'
            % QCOW2_XL2_OPTS,
        ]

    def setup(self, peer):
        return commit_template(peer, self.s.size)

    def measure(self, peer, template):
        d = os.path.join(self.dir, peer.name)
        copy_sparse(template, d)
        node = {'driver': peer.fmt, 'node-name': 'top',
                'cache': {'direct': True},
                'file': {'driver': 'file', 'aio': 'threads',
                         'filename': os.path.join(d, 'top.' + peer.ext)}}
        daemon = Daemon(d, ['--blockdev', json.dumps(node)])
        try:
            res = self.commit(daemon)
        except BaseException:
            daemon.stop(timeout=0)
            raise
        daemon.stop()
        res['rss'] = daemon.rss
        return res

    @staticmethod
    def commit(daemon):
        qmp = daemon.connect()
        try:
            start = time.monotonic()
            qmp.cmd('block-commit', **{'job-id': 'commit', 'device': 'top'})
            qmp.event('BLOCK_JOB_READY')
            ready = time.monotonic() - start
            qmp.cmd('job-complete', id='commit')
            qmp.event('BLOCK_JOB_COMPLETED')
            done = time.monotonic() - start
            qmp.cmd('quit')
        finally:
            qmp.close()
        return {'ready': ready, 'done': done}


SYNC_CALLS = ('fdatasync', 'fsync')
TRACED = SYNC_CALLS + ('ftruncate',)


def strace_counts(argv, out_file):
    """Runs @argv under strace -f -c; {syscall: calls} of TRACED, summed
    over all its threads"""
    run_ok(['strace', '-f', '-c', '-o', out_file,
            '-e', 'trace=' + ','.join(TRACED)] + argv)
    counts = dict.fromkeys(TRACED, 0)
    with open(out_file) as f:
        for line in f:
            words = line.split()
            # % time, seconds, usecs/call, calls, [errors,] syscall
            if len(words) >= 5 and words[-1] in counts:
                counts[words[-1]] = int(words[3])
    return counts


class Flushes(Case):
    """How many host syncs a guest flush costs: each is a disk cache flush
    on real storage, so they decide small-write latency on disks that
    honour them"""

    key = 'flushes'
    peers = [OURS, STOCK, QCOW2, RAW]
    ratios = [('ours', 'stock'), ('ours', 'qcow2'), ('ours', 'raw')]
    tables = [('flushes', [
        Metric('alloc-per-flush', 'alloc-4k syncs/flush'),
        Metric('alloc-truncate', 'alloc-4k ftruncate', ratio=False),
        Metric('wt-write', 'wt write: syncs'),
        Metric('wt-base', 'wt open+close: syncs', ratio=False),
        Metric('wt-truncate', 'wt write: ftruncate', ratio=False),
    ])]

    def __init__(self, settings):
        super().__init__(settings)
        self.alloc = settings.basic_size // (2 * MiB)
        self.title = 'host syncs per guest flush (strace -f -c)'
        self.about = [
            'syncs = fdatasync + fsync calls of the whole process (all '
            'threads, open and close included).  alloc-4k: as in the basic '
            'case, on a new %d MiB image: %d writes, a flush every 8, so %d '
            'guest flushes; its syncs are divided by those.'
            % (settings.basic_size // MiB, self.alloc, self.alloc // 8),
            'wt: qemu-io -t writethrough -c "write 0 4k" on a new image (one '
            'allocating write, one guest flush); and the same open and close '
            'without the write.',
        ]

    def fresh(self, peer, name):
        img = os.path.join(self.peer_dir(peer), name + '.' + peer.ext)
        if os.path.exists(img):
            os.unlink(img)
        peer.create(img, self.s.basic_size)
        return img

    def measure(self, peer, state):
        trace = os.path.join(self.peer_dir(peer), 'strace.txt')
        img = self.fresh(peer, 'alloc')
        alloc = strace_counts(
            [peer.img, 'bench', '-f', peer.fmt] + BENCH_IO +
            ['-w', '-d', '8', '-c', str(self.alloc), '-s', '4k', '-S', '2M',
             '--flush-interval=8', img], trace)
        img = self.fresh(peer, 'wt')
        write = strace_counts([peer.io, '-t', 'writethrough', '-f', peer.fmt,
                               '-c', 'write 0 4k', img], trace)
        img = self.fresh(peer, 'wt')
        base = strace_counts([peer.io, '-t', 'writethrough', '-f', peer.fmt,
                              '-c', 'quit', img], trace)

        def syncs(c):
            return sum(c[k] for k in SYNC_CALLS)
        return {'alloc-per-flush': syncs(alloc) / (self.alloc // 8),
                'alloc-truncate': alloc['ftruncate'],
                'wt-write': syncs(write), 'wt-base': syncs(base),
                'wt-truncate': write['ftruncate']}


class ChainSeqReads(Case):
    """1 MiB reads, one at a time, through the depth-3 chain of the commit
    cases: each read gathers pieces of every layer, which the driver
    reads concurrently (as qcow2 reads a request's clusters)"""

    key = 'chain-seq'
    peers = [OURS, QCOW2]
    ratios = [('ours', 'qcow2')]
    tables = [('chain-seq', [Metric('run', 'time s')])]

    def __init__(self, settings):
        super().__init__(settings)
        self.title = ('1 MiB sequential reads at depth 1 through a depth-3 '
                      'chain, %d MiB' % (settings.size // MiB))
        self.about = [
            COMMIT_ABOUT,
            'qemu-img bench -d 1 -s 1M -S 1M over the whole disk of the top '
            '(O_DIRECT); time = "Run completed".',
        ]

    def setup(self, peer):
        return os.path.join(commit_template(peer, self.s.size),
                            'top.' + peer.ext)

    def measure(self, peer, top):
        p = peer.bench(top, ['-d', '1', '-s', '1M', '-S', '1M',
                             '-c', str(self.s.size // MiB)])
        return {'run': p.secs}


class MemoryReads(Case):
    """The random reads of rand-read and chain-10 with the images in
    memory: what each driver costs per read, without the storage.  On
    this machine's storage the O_DIRECT cases also measure how the data
    lies in the file (a VHDX child keeps data at its place in a block, so
    its file has an extent per piece written; qcow2 packs clusters), which
    is not the driver's work"""

    key = 'mem-reads'
    peers = [OURS, QCOW2]
    ratios = [('ours', 'qcow2')]
    tables = [('mem-reads single', [Metric('single', 'time s')]),
              ('mem-reads chain-10', [Metric('chain', 'time s')])]
    # the chain of the chain-10 case
    depth = ChainReads.depth
    piece = ChainReads.piece

    def __init__(self, settings):
        super().__init__(settings)
        s = settings
        self.size = min(s.size, 256 * MiB)
        self.stride = spread_stride(self.size, 4 * KiB)
        self.dir = os.path.join(MEM_WORK, self.key)
        self.title = ('4 KiB random reads of images in memory (tmpfs, page '
                      'cache), %d MiB' % (self.size // MiB))
        self.about = [
            'qemu-img bench -t writeback -i threads -d 16 -s 4k -c %d -S %d '
            'with the images in %s: single = one fully written image, '
            'chain-10 = the chain of the chain-10 case; time = "Run '
            'completed".  No O_DIRECT, no storage: the CPU each driver '
            'spends per read.' % (s.mem_reads, self.stride, MEM_WORK),
        ]

    def setup(self, peer):
        d = self.peer_dir(peer)
        single = os.path.join(d, 'single.' + peer.ext)
        peer.create(single, self.size)
        peer.fill(single, self.size, MiB, MiB)
        return single, spread_chain(peer, d, self.size, self.depth,
                                    self.piece)

    def measure(self, peer, images):
        args = ['-d', '16', '-c', str(self.s.mem_reads), '-s', '4k',
                '-S', str(self.stride)]
        return {'single': peer.bench(images[0], args, io=MEM_IO).secs,
                'chain': peer.bench(images[1], args, io=MEM_IO).secs}

    def cleanup(self):
        shutil.rmtree(MEM_WORK, ignore_errors=True)


CASES = [Basic, ChildWrites, ChainReads, ChainSeqReads, MemoryReads,
         ChainOpen, BigImage, OfflineCommit, LiveCommit, Flushes]


class Results:
    """Every sample of the run: samples[case][metric][peer] is the list of
    values of the rounds (a number, 'refused' or None: not applicable)"""

    def __init__(self):
        self.samples = {}
        self.errors = {}        # case: [message]
        self.seconds = {}       # case: how long it took, setup included

    def add(self, case, values, peer):
        metrics = self.samples.setdefault(case.key, {})
        for key, value in values.items():
            metrics.setdefault(key, {}).setdefault(peer.name, []).append(
                value)

    def error(self, case, peer, msg):
        self.errors.setdefault(case.key, []).append('%s: %s' %
                                                     (peer.name, msg))
        progress('  %s: error: %s' % (peer.name, msg))


def progress(msg):
    print(msg, file=sys.stderr, flush=True)


def run_case(case, results):
    """Setup for every peer, then the rounds, each peer in turn; a peer
    that fails is left out of the rounds after it, the others go on"""
    start = time.monotonic()
    cpu = children_cpu()
    progress('%s: %s' % (case.key, case.title))
    states = {}
    for peer in case.peers:
        try:
            states[peer.name] = case.setup(peer)
        except BenchError as e:
            results.error(case, peer, 'setup: %s' % e)
    for _ in range(case.s.reps):
        for peer in case.peers:
            if peer.name not in states:
                continue
            try:
                results.add(case, case.measure(peer, states[peer.name]), peer)
            except BenchError as e:
                results.error(case, peer, str(e))
                del states[peer.name]
    case.cleanup()
    results.seconds[case.key] = time.monotonic() - start
    # CPU time well below twice the wall time on 2 cores: the case
    # waited for the disk or for other work on the machine
    progress('  %.0f s (CPU of its processes: %.0f s)' %
             (results.seconds[case.key], children_cpu() - cpu))


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Printing

LABEL_W = 22
COL_W = 14


def wrap(para):
    """A paragraph of a case's description, indented; an entry such as
    "seq-write  what it does" hangs below its text"""
    term = re.match(r'\S+\s{2,}', para)
    hang = ' ' * (len(term.group(0)) if term else 0)
    return textwrap.wrap(para, width=78, initial_indent='   ',
                         subsequent_indent='   ' + hang)


def fmt(v):
    """A number with about three significant digits; counts (and any
    whole number) without decimals"""
    if v is None:
        return '-'
    if isinstance(v, str):
        return v
    a = abs(v)
    if a >= 100 or v == int(v):
        return '%.0f' % v
    if a >= 10:
        return '%.1f' % v
    if a >= 1:
        return '%.2f' % v
    return '%.3f' % v


def summary(values):
    """(median, min, max) of a cell's samples; 'refused' when any round
    was refused; None when there is nothing to show"""
    if not values:
        return None
    if 'refused' in values:
        return 'refused'
    nums = [v for v in values if isinstance(v, (int, float))]
    if not nums:
        return None
    return statistics.median(nums), min(nums), max(nums)


def ratio(num, den):
    """num/den of two cells' medians, two decimals (two significant
    digits when small); None when either cell has no numbers"""
    if not isinstance(num, tuple) or not isinstance(den, tuple):
        return None
    if den[0] == 0:
        return '-' if num[0] == 0 else 'inf'
    r = num[0] / den[0]
    return '%.2g' % r if r < 0.1 else '%.2f' % r


def paired_ratio(num, den):
    """The median over rounds of num/den, each round's two samples taken
    together: a slow phase of the machine that a round shares cancels
    out.  None unless at least three rounds have both"""
    pairs = [a / b for a, b in zip(num or [], den or [])
             if isinstance(a, (int, float)) and isinstance(b, (int, float))
             and b > 0]
    if len(pairs) < 3:
        return None
    r = statistics.median(pairs)
    return '%.2g' % r if r < 0.1 else '%.2f' % r


def metric_lines(case, metric, cells, samples):
    """Median, spread and cost-ratio lines of one metric (@samples: each
    peer's values, round by round)"""
    names = [p.name for p in case.peers]
    med = [c[0] if isinstance(c, tuple) else c for c in
           (cells.get(n) for n in names)]
    spread = ['%s-%s' % (fmt(c[1]), fmt(c[2])) if isinstance(c, tuple)
              else '' for c in (cells.get(n) for n in names)]
    lines = [metric.label.ljust(LABEL_W) +
             ''.join(fmt(v).rjust(COL_W) for v in med),
             '  min-max'.ljust(LABEL_W) +
             ''.join(s.rjust(COL_W) for s in spread)]
    if metric.ratio:
        parts = []
        for a, b in case.ratios:
            r = ratio(cells.get(a), cells.get(b))
            if r is not None:
                parts.append('%s/%s %s' % (a, b, r))
        if parts:
            lines.append('  cost ratio: ' + '  '.join(parts))
        paired = []
        for a, b in case.ratios:
            r = paired_ratio(samples.get(a), samples.get(b))
            if r is not None:
                paired.append('%s/%s %s' % (a, b, r))
        if paired and paired != parts:
            lines.append('  by round:   ' + '  '.join(paired))
    return lines


def case_text(case, results):
    """The tables of one case, its notes and errors"""
    s = case.s
    lines = ['', '== %s: %s (median of %d rounds) ==' %
             (case.key, case.title, s.reps)]
    for para in case.about:
        lines += wrap(para)
    samples = results.samples.get(case.key, {})
    for heading, metrics in case.tables:
        if len(case.tables) > 1:
            lines.append('-- ' + heading)
        lines.append(''.ljust(LABEL_W) +
                     ''.join(p.name.rjust(COL_W) for p in case.peers))
        for m in metrics:
            values = samples.get(m.key, {})
            cells = {peer: summary(vals) for peer, vals in values.items()}
            lines += metric_lines(case, m, cells, values)
    lines += ['note: ' + n for n in sorted(case.notes)]
    lines += ['error: ' + e for e in results.errors.get(case.key, [])]
    return lines


def git_state():
    try:
        return subprocess.run(['git', '-C', ROOT, 'describe', '--always',
                               '--dirty'], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def build_time():
    """When build/qemu-build/qemu-img was linked: which driver ran"""
    try:
        return time.strftime('%Y-%m-%d %H:%M:%S UTC',
                             time.gmtime(os.stat(OURS_IMG).st_mtime))
    except OSError:
        return 'unknown'


def header_text(s, started):
    built = build_time()
    return [
        'qemu-vhdx benchmark, %s mode, %s' % (
            'quick' if s.quick else 'full',
            time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))),
        'tree %s; ours: build/qemu-build (qemu-img built %s); stock: %s' %
        (git_state(), built, STOCK_IMG),
        'qcow2, qcow2-xl2 and raw use the build\'s qemu-img; every case ran '
        'its peers in',
        'turn, %d rounds; tables show the median, the spread (min-max) '
        'and cost ratios' % s.reps,
        'a/b of the medians (time, memory, space, syscalls): below 1 '
        'means a costs less;',
        '"by round", where it differs: the median of the rounds\' own '
        'ratios a/b (a round\'s peers ran side by side)',
        'load average at the start: %s' % load(),
    ]


def load():
    return ' '.join('%.2f' % x for x in os.getloadavg())


def footer_text(results, total, built):
    times = ', '.join('%s %.0f s' % (k, v) for k, v in
                      results.seconds.items())
    lines = ['', 'load average at the end: %s' % load(),
             'seconds per case (setup included): %s' % times,
             'total: %.0f s' % total]
    if build_time() != built:
        lines.append('WARNING: build/qemu-build changed during the run '
                     '(now built %s): the cases may have run different '
                     'drivers' % build_time())
    return lines


# Main

def parse_args(argv):
    parser = argparse.ArgumentParser(
        description='qemu-vhdx benchmark: ours, stock vhdx, qcow2, raw')
    parser.add_argument('--quick', action='store_true',
                        help='smaller images and counts (46-95 s on an '
                        'idle 2-core machine)')
    parser.add_argument('--reps', type=int, default=0,
                        help='rounds per case (default 3 quick, 5 full)')
    parser.add_argument('--size-mib', type=int, default=0,
                        help='image size of the cases that scale (default '
                        '1024; quick: 256 basic, 128 the others); for '
                        'trying the script out')
    parser.add_argument('--cases', default='',
                        help='only these cases, comma-separated: ' +
                        ','.join(c.key for c in CASES))
    args = parser.parse_args(argv)
    known = {c.key: c for c in CASES}
    wanted = [c for c in args.cases.split(',') if c]
    for c in wanted:
        if c not in known:
            parser.error('unknown case %s' % c)
    args.case_classes = [known[c] for c in wanted] or CASES
    if args.reps < 0 or args.reps == 1 or args.reps == 2:
        parser.error('--reps: at least 3, so that a median means something')
    return args


def check_tools():
    for path in (OURS_IMG, OURS_IO, QSD, STOCK_IMG, STOCK_IO):
        if not os.access(path, os.X_OK):
            sys.exit('bench: %s missing (make qemu, make setup)' % path)
    if not os.access(MERGE, os.R_OK):       # run with python3, not +x
        sys.exit('bench: %s missing' % MERGE)
    if not shutil.which('strace'):
        sys.exit('bench: strace missing (apt-get install strace)')


def save(lines, results, settings, started, partial):
    """build/bench/bench-TIME[-quick][-partial].txt (the tables) and .json
    (every sample), kept, so that runs before and after a change compare;
    -partial: some cases left out or the sizes changed"""
    stamp = time.strftime('%Y%m%d-%H%M%S', time.gmtime(started))
    base = os.path.join(OUT_DIR, 'bench-%s%s%s' % (
        stamp, '-quick' if settings.quick else '',
        '-partial' if partial else ''))
    with open(base + '.txt', 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(base + '.json', 'w') as f:
        json.dump({'settings': vars(settings), 'samples': results.samples,
                   'errors': results.errors, 'seconds': results.seconds},
                  f, indent=1)
    return base + '.txt'


def main(argv):
    args = parse_args(argv)
    check_tools()
    settings = Settings(args.quick, args.reps)
    if args.size_mib:
        settings.size = settings.basic_size = args.size_mib * MiB
    started = time.time()
    built = build_time()
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    lines = header_text(settings, started)
    results = Results()
    cases = [c(settings) for c in args.case_classes]
    for case in cases:
        run_case(case, results)
    shutil.rmtree(WORK, ignore_errors=True)
    for case in cases:
        lines += case_text(case, results)
    lines += footer_text(results, time.time() - started, built)
    path = save(lines, results, settings, started,
                bool(args.cases or args.size_mib))
    print('\n'.join(lines))
    print('\n(saved as %s)' % os.path.relpath(path, ROOT))
    return 1 if results.errors else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
