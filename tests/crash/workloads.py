"""The workloads of the power-loss simulation: each makes its images,
then runs QEMU's tools on them with iorecord.so preloaded, and says what
the guest must see afterwards (a Model) and which image to read it from.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import random
import shutil
import subprocess
import sys
import time

from guest import GuestOp, Model, QemuIo, write_bytes

MiB = 1024 * 1024


class Recorded:
    """A workload's outcome: the trace's log and the files' first state,
    the model, the image to read the guest's disk from (@top, or, after
    a cut at time t, @top_at(t)) and every image, parents first"""

    def __init__(self, log, initial, model, top, files, top_at=None):
        self.log = log
        self.initial = initial
        self.model = model
        self.top_at = top_at or (lambda t: top)
        self.files = files


class Env:
    def __init__(self, qemu_build, preload, work):
        self.qemu_build = os.path.abspath(qemu_build)
        self.qemu_img = os.path.abspath(os.path.join(qemu_build, 'qemu-img'))
        self.qemu_io = os.path.abspath(os.path.join(qemu_build, 'qemu-io'))
        self.preload = os.path.abspath(preload)
        self.work = os.path.abspath(work)
        self.images = os.path.join(work, 'images')
        self.patterns = os.path.join(work, 'patterns')
        self.log = os.path.join(work, 'io.log')
        for d in (self.images, self.patterns):
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
        if os.path.exists(self.log):
            os.unlink(self.log)

    def path(self, name):
        return os.path.join(self.images, name)

    def img(self, *args):
        subprocess.run([self.qemu_img] + list(args), check=True,
                       stdout=subprocess.DEVNULL)

    def recorded(self, args, op=None):
        """Runs @args with the recorder preloaded; @op is timed"""
        if op:
            op.issued = time.monotonic_ns()
        subprocess.run(args, check=True, env=self.recording_env(),
                       stdout=subprocess.DEVNULL)
        if op:
            op.acked = time.monotonic_ns()

    def recording_env(self):
        env = dict(os.environ)
        env.update(IORECORD_DIR=self.images, IORECORD_LOG=self.log,
                   LD_PRELOAD=self.preload)
        return env

    def snapshot(self, names):
        """Copies of the images before recording starts"""
        snap = os.path.join(self.work, 'initial')
        shutil.rmtree(snap, ignore_errors=True)
        os.makedirs(snap)
        initial = {}
        for name in names:
            src = self.path(name)
            dst = os.path.join(snap, name)
            shutil.copyfile(src, dst)
            initial[src] = dst
        return initial

    def pattern(self, model, op):
        """The file qemu-io writes @op's data from"""
        path = os.path.join(self.patterns, '%d' % op.wid)
        with open(path, 'wb') as f:
            f.write(write_bytes(op.wid, op.offset, op.length, model.lss))
        return path


def guest_write(env, io, model, offset, length):
    op = GuestOp('write', offset, length, model.new_wid())
    model.add(op)
    io.run('write -q -s %s %d %d' % (env.pattern(model, op), offset, length),
           op)


def guest_zero(env, io, model, offset, length, discard=False):
    op = GuestOp('discard' if discard else 'zero', offset, length)
    model.add(op)
    if discard:
        io.run('discard -q %d %d' % (offset, length), op)
    else:
        io.run('write -q -z -u %d %d' % (offset, length), op)


def guest_flush(io, model):
    op = GuestOp('flush')
    model.add(op)
    io.run('flush', op)


def random_extent(rng, size, lss, max_len=MiB):
    length = rng.randrange(1, max_len // lss + 1) * lss
    offset = rng.randrange(0, (size - length) // lss + 1) * lss
    return offset, length


def prefill(env, model, name, extents):
    """Writes data into image @name before recording (not part of the
    trace); the model starts with it"""
    io = QemuIo([env.qemu_io, '-f', 'vhdx', env.path(name)], os.environ)
    for offset, length in extents:
        guest_write(env, io, model, offset, length)
    io.close()
    for op in model.ops:
        for s in range(op.offset // model.lss,
                       (op.offset + op.length) // model.lss):
            model.initial[s] = op.wid
    model.ops = []


def random_writes(env, io, model, rng, count, flush_every, size):
    for i in range(count):
        guest_write(env, io, model, *random_extent(rng, size, model.lss))
        if rng.randrange(flush_every) == 0:
            guest_flush(io, model)


def workload_a(env, seed, lss):
    """Random allocating writes (a sector to 1 MiB) with flushes into a
    dynamic image"""
    rng = random.Random(seed)
    size = 8 * MiB
    env.img('create', '-f', 'vhdx', '-o',
            'block_size=1M,logical_sector_size=%d' % lss,
            env.path('a.vhdx'), str(size))
    initial = env.snapshot(['a.vhdx'])
    model = Model(size, lss)
    io = QemuIo([env.qemu_io, '-f', 'vhdx', env.path('a.vhdx')],
                env.recording_env())
    random_writes(env, io, model, rng, 40, 4, size)
    io.close()
    model.freeze()
    return Recorded(env.log, initial, model, env.path('a.vhdx'),
                    [env.path('a.vhdx')])


def make_child(env, model, lss, size, parent_extents):
    """base.vhdx with data, child.avhdx on it, the model as the child
    shows it"""
    env.img('create', '-f', 'vhdx', '-o',
            'block_size=1M,logical_sector_size=%d' % lss,
            env.path('base.vhdx'), str(size))
    prefill(env, model, 'base.vhdx', parent_extents)
    env.img('create', '-f', 'vhdx', '-o', 'block_size=1M', '-b',
            'base.vhdx', '-F', 'vhdx', env.path('child.avhdx'))


def workload_b(env, seed, lss):
    """The same into a child over a populated parent: partial blocks and
    sector bitmap blocks"""
    rng = random.Random(seed)
    size = 8 * MiB
    model = Model(size, lss)
    make_child(env, model, lss, size,
               [random_extent(rng, size, lss, 2 * MiB) for _ in range(6)])
    initial = env.snapshot(['base.vhdx', 'child.avhdx'])
    io = QemuIo([env.qemu_io, '-f', 'vhdx', env.path('child.avhdx')],
                env.recording_env())
    for i in range(40):
        # Small writes too: many partially present blocks
        offset, length = random_extent(rng, size, lss,
                                       MiB if i % 2 else 16 * lss)
        guest_write(env, io, model, offset, length)
        if rng.randrange(4) == 0:
            guest_flush(io, model)
    io.close()
    model.freeze()
    return Recorded(env.log, initial, model, env.path('child.avhdx'),
                    [env.path('base.vhdx'), env.path('child.avhdx')])


def workload_c(env, seed, lss, child=True):
    """Write-zeroes and discard, whole and partial blocks, in a child (or
    a base)"""
    rng = random.Random(seed)
    size = 8 * MiB
    model = Model(size, lss)
    extents = [(0, 4 * MiB), random_extent(rng, size, lss, 2 * MiB)]
    if child:
        make_child(env, model, lss, size, extents)
        names = ['base.vhdx', 'child.avhdx']
    else:
        env.img('create', '-f', 'vhdx', '-o',
                'block_size=1M,logical_sector_size=%d' % lss,
                env.path('base.vhdx'), str(size))
        prefill(env, model, 'base.vhdx', extents)
        names = ['base.vhdx']
    initial = env.snapshot(names)
    top = env.path(names[-1])
    io = QemuIo([env.qemu_io, '-f', 'vhdx', top], env.recording_env())
    for i in range(30):
        what = rng.randrange(4)
        if what == 0:
            guest_write(env, io, model, *random_extent(rng, size, lss))
        elif what == 1:
            # Whole blocks, or not
            block = rng.randrange(size // MiB)
            if rng.randrange(2):
                guest_zero(env, io, model, block * MiB, MiB)
            else:
                guest_zero(env, io, model, *random_extent(rng, size, lss))
        elif what == 2:
            block = rng.randrange(size // MiB - 1)
            guest_zero(env, io, model, block * MiB, 2 * MiB, discard=True)
        else:
            guest_flush(io, model)
    io.close()
    model.freeze()
    return Recorded(env.log, initial, model, top,
                    [env.path(n) for n in names])


def workload_d(env, seed, lss):
    """Growing an image past what its BAT region holds (1 MiB blocks: 127
    GiB), so the BAT moves, with writes before and after"""
    rng = random.Random(seed)
    size = 8 * MiB
    first, grown = 100 * 1024 * MiB, 200 * 1024 * MiB
    env.img('create', '-f', 'vhdx', '-o', 'block_size=1M', env.path('d.vhdx'),
            str(first))
    initial = env.snapshot(['d.vhdx'])
    model = Model(size, lss, virtual_size=first)
    io = QemuIo([env.qemu_io, '-f', 'vhdx', env.path('d.vhdx')],
                env.recording_env())
    random_writes(env, io, model, rng, 8, 3, size)
    guest_flush(io, model)
    op = GuestOp('resize', 0, grown)
    model.add(op)
    io.run('truncate %d' % grown, op)
    random_writes(env, io, model, rng, 8, 3, size)
    guest_flush(io, model)
    io.close()
    model.freeze()
    return Recorded(env.log, initial, model, env.path('d.vhdx'),
                    [env.path('d.vhdx')])


def make_chain(env, model, names, size, rng, writes=4):
    """A chain of VHDX images, the first the base, each with data; the
    model as the last one shows it"""
    parent = None
    for name in names:
        args = ['create', '-f', 'vhdx', '-o', 'block_size=1M']
        if parent:
            args += ['-b', parent, '-F', 'vhdx']
        env.img(*args, env.path(name), str(size))
        prefill(env, model, name, [random_extent(rng, size, model.lss)
                                   for _ in range(writes)])
        parent = name


def workload_e(env, seed, lss):
    """qemu-img commit of a child into its parent (which empties the
    child): the child shows the same all along"""
    rng = random.Random(seed)
    size = 8 * MiB
    model = Model(size, lss)
    names = ['base.vhdx', 'child.avhdx']
    make_chain(env, model, names, size, rng)
    initial = env.snapshot(names)
    env.recorded([env.qemu_img, 'commit', '-f', 'vhdx',
                  env.path('child.avhdx')])
    model.freeze()
    return Recorded(env.log, initial, model, env.path('child.avhdx'),
                    [env.path(n) for n in names])


def workload_f(env, seed, lss, unsafe=False):
    """qemu-img rebase of a child from base1 onto base2, which differs in
    part: safe, the child shows the same all along; -u, what it shows
    where it has no data of its own becomes base2's"""
    rng = random.Random(seed)
    size = 8 * MiB
    model = Model(size, lss)
    make_chain(env, model, ['base1.vhdx'], size, rng)
    env.img('convert', '-f', 'vhdx', '-O', 'vhdx', '-o', 'block_size=1M',
            env.path('base1.vhdx'), env.path('base2.vhdx'))
    base1 = dict(model.initial)
    prefill(env, model, 'base2.vhdx', [random_extent(rng, size, lss)
                                       for _ in range(3)])
    base2 = dict(model.initial)
    model.initial = dict(base1)
    env.img('create', '-f', 'vhdx', '-o', 'block_size=1M', '-b',
            'base1.vhdx', '-F', 'vhdx', env.path('child.avhdx'))
    before = dict(model.initial)
    prefill(env, model, 'child.avhdx', [random_extent(rng, size, lss)
                                        for _ in range(3)])
    own = {s for s, w in model.initial.items() if before.get(s) != w}
    names = ['base1.vhdx', 'base2.vhdx', 'child.avhdx']
    initial = env.snapshot(names)
    args = [env.qemu_img, 'rebase', '-f', 'vhdx', '-F', 'vhdx', '-b',
            'base2.vhdx', env.path('child.avhdx')]
    if unsafe:
        args.insert(2, '-u')
        view = {s: base2.get(s, 0) for s in range(size // lss)
                if s not in own and base2.get(s, 0) != base1.get(s, 0)}
        op = GuestOp('view', view=view)
        model.add(op)
        env.recorded(args, op)
        # Made durable by qemu-img's close: a flush acknowledged with it
        flush = GuestOp('flush')
        flush.issued, flush.acked = op.acked, op.acked
        model.add(flush)
    else:
        env.recorded(args)
    model.freeze()
    return Recorded(env.log, initial, model, env.path('child.avhdx'),
                    [env.path(n) for n in names])


def workload_g(env, seed, lss):
    """vhdx-merge --depth 2 offline on a 4-image chain (qemu-img commit
    -b BASE --rebase: copy into BASE, rebase, make empty): the top shows
    the same all along"""
    rng = random.Random(seed)
    size = 8 * MiB
    model = Model(size, lss)
    names = ['base.vhdx', 's1.avhdx', 's2.avhdx', 'top.avhdx']
    make_chain(env, model, names, size, rng, writes=3)
    initial = env.snapshot(names)
    env.recorded([os.path.join(env.qemu_build, 'vhdx-merge'), '--qemu-img',
                  env.qemu_img, '--depth', '2', env.path('top.avhdx')])
    model.freeze()
    return Recorded(env.log, initial, model, env.path('top.avhdx'),
                    [env.path(n) for n in names])


def close_qmp(qmp):
    """Closes @qmp after QEMU quit: the reader may have seen the socket
    close first, and the EOF it met then surfaces here; nothing is lost"""
    try:
        qmp.close()
    except EOFError:
        pass


def workload_h(env, seed, lss):
    """A live active block-commit of top into base (base <- s1 <- top) in
    qemu-system, with guest writes before, during and after it; the
    guest's disk is the top until the job completed, the base after"""
    sys.path.insert(0, os.path.join(os.path.dirname(env.qemu_build), 'src',
                                    'qemu', 'python'))
    from qemu.qmp.legacy import QEMUMonitorProtocol

    rng = random.Random(seed)
    size = 8 * MiB
    model = Model(size, lss)
    names = ['base.vhdx', 's1.avhdx', 'top.avhdx']
    make_chain(env, model, names, size, rng, writes=3)
    initial = env.snapshot(names)
    sock = os.path.join(env.work, 'qmp.sock')
    if os.path.exists(sock):
        os.unlink(sock)
    qmp = QEMUMonitorProtocol(sock, server=True)
    args = [os.path.join(env.qemu_build, 'qemu-system-x86_64'), '-accel',
            'qtest', '-nodefaults', '-display', 'none', '-qmp',
            'unix:%s' % sock]
    parent = None
    for name in names:
        ro = ',read-only=on' if name != names[-1] else ''
        node = name.split('.')[0]
        args += ['-blockdev', 'driver=file,filename=%s,node-name=f-%s' %
                 (env.path(name), node),
                 '-blockdev', 'driver=vhdx,file=f-%s,node-name=%s%s%s' %
                 (node, node, ro, ',backing=' + parent if parent else '')]
        parent = node
    args += ['-device', 'virtio-blk-pci,drive=top,id=disk0']
    vm = subprocess.Popen(args, env=env.recording_env(),
                          stdout=subprocess.DEVNULL)
    try:
        qmp.accept()
        io = HmpQemuIo(qmp, '/machine/peripheral/disk0/virtio-backend')
        random_writes(env, io, model, rng, 6, 3, size)
        guest_flush(io, model)
        qmp.cmd('block-commit', **{'job-id': 'j', 'device': 'top',
                                   'base-node': 'base', 'speed': 4 * MiB})
        random_writes(env, io, model, rng, 6, 3, size)
        wait_event(qmp, 'BLOCK_JOB_READY')
        random_writes(env, io, model, rng, 4, 3, size)
        guest_flush(io, model)
        qmp.cmd('job-complete', id='j')
        wait_event(qmp, 'BLOCK_JOB_COMPLETED')
        completed = time.monotonic_ns()
        random_writes(env, io, model, rng, 6, 3, size)
        guest_flush(io, model)
        qmp.cmd('quit')
        vm.wait()
    finally:
        if vm.poll() is None:
            vm.kill()
            vm.wait()
        close_qmp(qmp)
    model.freeze()
    top, base = env.path('top.avhdx'), env.path('base.vhdx')
    return Recorded(env.log, initial, model, top,
                    [env.path(n) for n in names],
                    top_at=lambda t: top if t < completed else base)


def wait_event(qmp, name):
    while True:
        ev = qmp.pull_event(wait=60.0)
        if ev is None:
            raise RuntimeError('no %s' % name)
        if ev['event'] == name:
            return ev


class HmpQemuIo:
    """QemuIo's run() through HMP's qemu-io on a device"""

    def __init__(self, qmp, device):
        self.qmp, self.device = qmp, device

    def run(self, cmd, op=None):
        if op:
            op.issued = time.monotonic_ns()
        out = self.qmp.cmd('human-monitor-command',
                           **{'command-line': 'qemu-io -d %s "%s"' %
                              (self.device, cmd)})
        if op:
            op.acked = time.monotonic_ns()
        if 'failed' in out or 'error' in out.lower():
            raise RuntimeError('qemu-io %s: %s' % (cmd, out))
        return out


WORKLOADS = {
    'a512': lambda env, seed: workload_a(env, seed, 512),
    'a4096': lambda env, seed: workload_a(env, seed, 4096),
    'b': lambda env, seed: workload_b(env, seed, 512),
    'b4096': lambda env, seed: workload_b(env, seed, 4096),
    'c': lambda env, seed: workload_c(env, seed, 512),
    'c-base': lambda env, seed: workload_c(env, seed, 512, child=False),
    'd': lambda env, seed: workload_d(env, seed, 512),
    'e': lambda env, seed: workload_e(env, seed, 512),
    'f': lambda env, seed: workload_f(env, seed, 512),
    'f-u': lambda env, seed: workload_f(env, seed, 512, unsafe=True),
    'g': lambda env, seed: workload_g(env, seed, 512),
    'h': lambda env, seed: workload_h(env, seed, 512),
}
