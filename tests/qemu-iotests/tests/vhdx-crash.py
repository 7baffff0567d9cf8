#!/usr/bin/env python3
#
# kill -9 loop for the vhdx-crash iotest
#
# Usage: vhdx-crash.py IMAGE SEED ITERATIONS
#
# Each iteration drives qemu-io through its stdin with a seeded random
# series of writes (allocating writes into new blocks, overwrites, zero
# writes) and flushes, reading qemu-io's output to know which commands
# have completed, and kills it with SIGKILL after a seeded random delay.
# Then the image must reopen (replaying its log), 'qemu-img check' must
# find no corruption, and every 4 KiB chunk must read as one of the
# contents it may legally have:
#   - what it held when the last completed flush returned, or
#   - what any write issued after that flush put there.
# Anything else (flushed data lost, torn or foreign bytes) is a failure.
#
# Only "iteration N: ok" is printed for a good iteration, so the output is
# the same from run to run; a failure prints what went wrong.
#
# The programs come from the iotests environment: QEMU_IO_PROG,
# QEMU_IO_OPTIONS, QEMU_IMG_PROG, QEMU_IMG_OPTIONS.  With VHDX_CRASH_DEBUG
# set, each iteration also says on stderr how far qemu-io got.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import threading
import time

KiB = 1024
MiB = 1024 * KiB
CHUNK = 4 * KiB
BLOCK = 1 * MiB

# Commands qemu-io may have queued that have not completed yet.  Small, so
# that "issued after the last completed flush" stays a short list.
DEPTH = 4

QEMU_IO = [os.environ['QEMU_IO_PROG']] + \
    shlex.split(os.environ.get('QEMU_IO_OPTIONS', ''))
QEMU_IMG = [os.environ['QEMU_IMG_PROG']] + \
    shlex.split(os.environ.get('QEMU_IMG_OPTIONS') or '')


# What 'length' prints, e.g. "512 MiB"
LENGTH_LINE = re.compile(r'^[0-9.]+ (bytes|[KMGTPE]iB)$')


class Failure(Exception):
    pass


def run(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    return p.returncode, p.stdout


class Workload:
    """Generates the seeded command series; remembers what was written"""

    def __init__(self, rng, virtual_size):
        self.rng = rng
        self.blocks = virtual_size // BLOCK
        self.touched = []           # blocks written so far (overwrites)
        self.touched_set = set()
        self.pattern = 0

    def _new_pattern(self):
        self.pattern = self.pattern % 255 + 1
        return self.pattern

    def _touch(self, offset, length):
        for b in range(offset // BLOCK, (offset + length - 1) // BLOCK + 1):
            if b not in self.touched_set:
                self.touched_set.add(b)
                self.touched.append(b)

    def next(self):
        """A command: ('flush',) or ('write', offset, length, byte)"""
        rng = self.rng
        r = rng.random()
        if r < 0.12:
            return ('flush',)
        if r < 0.17 or not self.touched:
            # Allocating write, into a random block, maybe a new one
            block = rng.randrange(self.blocks)
        else:
            block = rng.choice(self.touched)
        if r < 0.20:
            # Zero a whole block (frees its space) or a few chunks
            if rng.random() < 0.5:
                offset, length = block * BLOCK, BLOCK
            else:
                offset = block * BLOCK + rng.randrange(BLOCK // CHUNK) * CHUNK
                length = CHUNK * rng.randint(1, 4)
            byte = 0
        else:
            length = rng.choice([CHUNK, CHUNK, 2 * CHUNK, 16 * KiB,
                                 64 * KiB, 192 * KiB])
            offset = block * BLOCK + rng.randrange(BLOCK // CHUNK) * CHUNK
            byte = self._new_pattern()
        offset = min(offset, self.blocks * BLOCK - length)
        self._touch(offset, length)
        return ('write', offset, length, byte)


def command_text(cmd):
    if cmd[0] == 'flush':
        # 'flush' prints nothing: 'length' answers once the flush is done
        return 'flush\nlength\n'
    _, offset, length, byte = cmd
    if byte == 0:
        return 'write -z %d %d\n' % (offset, length)
    return 'write -P %d %d %d\n' % (byte, offset, length)


class Driver:
    """Feeds qemu-io, counting completed commands from its output"""

    def __init__(self, image, workload):
        self.workload = workload
        self.sent = []              # commands in the order sent
        self.done = 0               # how many of them have completed
        self.errors = []
        self.cond = threading.Condition()
        self.stopping = False
        self.proc = subprocess.Popen(QEMU_IO + [image], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read)
        self.writer = threading.Thread(target=self._write)
        self.reader.start()
        self.writer.start()

    def _write(self):
        try:
            while True:
                with self.cond:
                    while (not self.stopping and
                           len(self.sent) - self.done >= DEPTH):
                        self.cond.wait()
                    if self.stopping:
                        return
                    cmd = self.workload.next()
                    # Recorded before it is sent: it may run at once
                    self.sent.append(cmd)
                self.proc.stdin.write(command_text(cmd).encode())
                self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def _read(self):
        for raw in self.proc.stdout:
            if not raw.endswith(b'\n'):
                continue            # cut short by the kill
            line = raw.decode(errors='replace').replace('qemu-io> ', '')
            line = line.strip()
            if not line:
                continue
            if line.startswith('wrote ') or LENGTH_LINE.match(line):
                # A write, or the 'length' after a flush, has completed
                with self.cond:
                    self.done += 1
                    self.cond.notify_all()
            elif ' ops; ' in line:
                pass
            else:
                with self.cond:
                    self.errors.append(line)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.writer.join()
        self.reader.join()
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.stdout.close()


def allowed_contents(durable, sent, done):
    """The bytes each chunk may hold after the crash: chunk -> set"""
    last_flush = -1
    for i in range(done):
        if sent[i][0] == 'flush':
            last_flush = i
    contents = dict(durable)
    for cmd in sent[:max(last_flush, 0)]:
        if cmd[0] == 'write':
            _, offset, length, byte = cmd
            for c in range(offset // CHUNK, (offset + length) // CHUNK):
                contents[c] = byte
    allowed = {c: {b} for c, b in contents.items()}
    for cmd in sent[last_flush + 1:]:
        if cmd[0] == 'write':
            _, offset, length, byte = cmd
            for c in range(offset // CHUNK, (offset + length) // CHUNK):
                allowed.setdefault(c, {0}).add(byte)
    return allowed


def read_image(image, raw):
    """Chunk -> byte for every non-zero chunk; fails on mixed chunks"""
    if os.path.exists(raw):
        os.unlink(raw)
    rc, out = run(QEMU_IMG + ['convert', '-f', 'vhdx', '-O', 'raw',
                              image, raw])
    if rc != 0:
        raise Failure('qemu-img convert failed (%d): %s' % (rc, out))
    observed = {}
    zero = bytes(CHUNK)
    with open(raw, 'rb') as f:
        fd = f.fileno()
        end = os.fstat(fd).st_size
        pos = 0
        while pos < end:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            stop = os.lseek(fd, start, os.SEEK_HOLE)
            start -= start % CHUNK
            f.seek(start)
            data = f.read(stop - start)
            for i in range(0, len(data), CHUNK):
                piece = data[i:i + CHUNK]
                if piece == zero:
                    continue
                if piece != bytes([piece[0]]) * len(piece):
                    raise Failure('chunk at %#x holds mixed bytes' %
                                  (start + i))
                observed[(start + i) // CHUNK] = piece[0]
            pos = stop
    os.unlink(raw)
    return observed


def verify(image, raw, durable, sent, done):
    # A read-write open replays the log; it must succeed
    rc, out = run(QEMU_IO + ['-c', 'length', image])
    if rc != 0 or not LENGTH_LINE.match(out.strip()):
        raise Failure('reopen failed (%d): %s' % (rc, out))
    # No corruption; space leaked by the crash is fine
    rc, out = run(QEMU_IMG + ['check', '-f', 'vhdx', image])
    if rc not in (0, 3) or re.search(r'[0-9]+ errors were found', out):
        raise Failure('qemu-img check (%d): %s' % (rc, out))
    allowed = allowed_contents(durable, sent, done)
    observed = read_image(image, raw)
    for c in sorted(set(allowed) | set(observed)):
        got = observed.get(c, 0)
        ok = allowed.get(c, {0})
        if got not in ok:
            raise Failure('chunk at %#x reads 0x%02x, expected one of %s' %
                          (c * CHUNK, got,
                           ', '.join('0x%02x' % b for b in sorted(ok))))
    return observed


def main():
    image, seed, iterations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    raw = image + '.raw'
    rc, out = run(QEMU_IMG + ['info', '--output=json', '-f', 'vhdx', image])
    if rc != 0:
        raise SystemExit('qemu-img info failed: ' + out)
    size = json.loads(out)['virtual-size']
    workload = Workload(rng, size)
    durable = {}
    failed = 0
    for it in range(iterations):
        delay = rng.uniform(0.02, 0.4)
        driver = Driver(image, workload)
        time.sleep(delay)
        driver.kill()
        try:
            if driver.errors:
                raise Failure('qemu-io said: ' + ' | '.join(driver.errors))
            if driver.proc.returncode != -signal.SIGKILL:
                raise Failure('qemu-io ended with %d before the kill' %
                              driver.proc.returncode)
            durable = verify(image, raw, durable, driver.sent, driver.done)
            if os.environ.get('VHDX_CRASH_DEBUG'):
                flushes = sum(1 for c in driver.sent[:driver.done]
                              if c[0] == 'flush')
                sys.stderr.write('  %d sent, %d done, %d flushes, '
                                 '%d chunks, last: %s\n' %
                                 (len(driver.sent), driver.done, flushes,
                                  len(durable), driver.sent[driver.done:]
                                  [:1]))
            print('iteration %d: ok' % it)
        except Failure as e:
            print('iteration %d: FAILED: %s' % (it, e))
            print('  (%d commands sent, %d completed)' %
                  (len(driver.sent), driver.done))
            failed += 1
            break
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
