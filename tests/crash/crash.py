#!/usr/bin/env python3
"""Power-loss simulation of the VHDX driver over recorded real I/O.

Each workload runs QEMU's own tools on VHDX images with iorecord.so
preloaded, which records every write, flush, truncate and fallocate they
make to the image files.  From the trace, states a power cut could have
left are built (trace.py) and each is checked:

  1. opened read-only (a dirty log replayed in memory), the guest's disk
     reads as the model allows (guest.py): every sector acknowledged
     before a completed flush, the others old or new, nothing else;
  2. qemu-img check -r leaks on every image the state changed, opened on
     its own, read-write (so a dirty log is replayed into the file): no
     corruption, no error (leaks are allowed, and repaired);
  3. read again after that, the same holds.

usage: crash.py [--workloads a512,b,...] [--states N | --all]
                [--seeds S[-T]] [--jobs J] [--rebuild STATE --out DIR]

A seed makes a workload's random requests and draws its states.  It
prints a table of the operations recorded, the states checked, passed
and failed, and the seconds per workload and seed, and ends with
"S states; N passed, M failed" (a workload and seed passes when all its
states do).  A failure prints the workload, seed and state, and the
command that rebuilds that state's files.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import argparse
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from iotrace import (State, Trace, content_key,  # noqa: E402
                     files_at, sample_states, touched)
from workloads import WORKLOADS, Env  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

MiB = 1024 * 1024

# Set in each worker by init_worker()
CTX = {}


def qemu(ctx, *args):
    return subprocess.run([ctx['qemu_img']] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)


def read_guest(ctx, top, out, what):
    """The guest's disk as far as the model looks (a raw image), or an
    error; and its virtual size when the model has one"""
    mib = ctx['model'].size // MiB
    res = qemu(ctx, 'dd', '-f', 'vhdx', '-O', 'raw', 'bs=1M',
               'count=%d' % mib, 'if=' + top, 'of=' + out)
    if res.returncode != 0:
        return None, '%s: qemu-img dd failed: %s' % (what,
                                                      res.stdout.strip())
    with open(out, 'rb') as f:
        raw = f.read()
    if ctx['model'].virtual_size is None:
        return (raw, None), None
    res = qemu(ctx, 'info', '--output=json', '-f', 'vhdx', top)
    if res.returncode != 0:
        return None, '%s: qemu-img info failed: %s' % (what,
                                                       res.stdout.strip())
    return (raw, json.loads(res.stdout)['virtual-size']), None


def check_model(ctx, seen, t, what):
    raw, size = seen
    model = ctx['model']
    if size is not None and size not in model.sizes_allowed(t):
        return '%s: virtual size %d, allowed %s' % (
            what, size, sorted(model.sizes_allowed(t)))
    bad = model.check(raw, t)
    if not bad:
        return None
    return '%s: sectors not as allowed: %s' % (what, '; '.join(
        'sector %d reads %s, allowed %s' % b for b in bad))


def json_image(path):
    """@path as a VHDX image opened without its parent"""
    return 'json:' + json.dumps({
        'driver': 'vhdx', 'backing': None,
        'file': {'driver': 'file', 'filename': path},
    })


def check_files(ctx, state, top_path):
    """Builds @state's files and looks at them through QEMU: the guest's
    disk (read from @top_path) read-only, the result of qemu-img check -r
    leaks on each file the state changes, the guest's disk after that
    (None: unchanged)"""
    trace = ctx['trace']
    d = tempfile.mkdtemp(dir=ctx['scratch'])
    try:
        files = files_at(trace, state, d)
        top = files.get(top_path)
        if top is None:
            return None, 'the image %s does not exist' % top_path, None
        raw_path = os.path.join(d, 'guest.raw')
        ro, err = read_guest(ctx, top, raw_path, 'read-only')
        if err:
            return None, err, None
        changed = touched(trace, state)
        before = {p: os.stat(p).st_mtime_ns for p in files.values()}
        # Each file on its own (a merge may have dropped it from the
        # chain).  A file the state does not change is the clean image the
        # workload began with.
        for path in ctx['files']:
            if path not in files or path not in changed:
                continue
            res = qemu(ctx, 'check', '-r', 'leaks', json_image(files[path]))
            if res.returncode not in (0, 3):
                return ro, 'qemu-img check -r leaks %s: exit %d: %s' % (
                    os.path.basename(path), res.returncode,
                    res.stdout.strip()), None
        if all(os.stat(p).st_mtime_ns == m for p, m in before.items()):
            return ro, None, None   # nothing replayed or trimmed
        rw, err = read_guest(ctx, top, raw_path, 'after replay')
        return ro, err, rw
    finally:
        shutil.rmtree(d, ignore_errors=True)


def check_state(state):
    """Checks @state; None, or what is wrong.  Cut points that leave the
    same files are looked at through QEMU once (per worker)."""
    ctx = CTX
    trace = ctx['trace']
    t = trace.crash_time(state.k)
    top = ctx['top_at'](t)
    cache = ctx.setdefault('cache', {})
    key = (content_key(trace, state), top)
    if key not in cache:
        if len(cache) >= 8:
            cache.pop(next(iter(cache)))
        cache[key] = check_files(ctx, state, top)
    ro, err, rw = cache[key]
    if ro is not None and not err:
        err = check_model(ctx, ro, t, 'read-only')
    if rw is not None and not err:
        err = check_model(ctx, rw, t, 'after replay')
    return err


def init_worker(ctx):
    CTX.update(ctx)


def parse_state(text):
    """A State from State.describe()'s text"""
    m = re.match(r'k=(\d+) (\S*) kept=(\S+)((?: torn \d+:\S*)*)$', text)
    if not m:
        raise ValueError('not a state: %s' % text)
    kept = [] if m.group(3) == '-' else [int(i) for i in
                                         m.group(3).split(',')]
    torn = {}
    for idx, sectors in re.findall(r'torn (\d+):(\S*)', m.group(4)):
        torn[int(idx)] = [int(s) for s in sectors.split(',') if s]
    return State(int(m.group(1)), kept, torn, m.group(2))


def record(args, name, seed):
    work = os.path.join(args.work, name)
    os.makedirs(work, exist_ok=True)
    env = Env(args.qemu_build, args.preload, work)
    rec = WORKLOADS[name](env, seed)
    trace = Trace(rec.log, rec.initial)
    ctx = {
        'qemu_img': env.qemu_img,
        'trace': trace,
        'model': rec.model,
        'top_at': rec.top_at,
        'files': rec.files,
        'scratch': args.scratch,
    }
    return ctx


def rebuild(args):
    name = args.workloads.split(',')[0]
    ctx = record(args, name, args.seeds[0])
    state = parse_state(args.rebuild)
    os.makedirs(args.out, exist_ok=True)
    files = files_at(ctx['trace'], state, args.out)
    for path, new in sorted(files.items()):
        print('%s: %s' % (os.path.basename(path), new))
    init_worker(ctx)
    top = ctx['top_at'](ctx['trace'].crash_time(state.k))
    print('the guest disk is read from %s' % files.get(top, top))
    print(check_state(state) or 'this state passes')


def run_workload(args, name, seed, pool_size):
    start = time.monotonic()
    ctx = record(args, name, seed)
    states = sample_states(ctx['trace'], args.states, seed,
                           all_points=args.all)
    # States that leave the same files next to each other (see check_state)
    states.sort(key=lambda st: (content_key(ctx['trace'], st), st.k))
    with multiprocessing.Pool(pool_size, init_worker, (ctx,)) as pool:
        results = pool.map(check_state, states, chunksize=16)
    failed = [(st, err) for st, err in zip(states, results) if err]
    secs = time.monotonic() - start
    for st, err in failed[:5]:
        print('FAIL %s seed %d %s\n  %s\n  rebuild: %s --workloads %s '
              '--seeds %d --rebuild %r --out DIR' %
              (name, seed, st.describe(), err, sys.argv[0], name, seed,
               st.describe()))
    return len(states), len(states) - len(failed), len(failed), secs, \
        len(ctx['trace'].ops)


def parse_seeds(text):
    first, _, last = text.partition('-')
    return list(range(int(first), int(last or first) + 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--qemu-build',
                    default=os.path.join(ROOT, 'build', 'qemu-build'))
    ap.add_argument('--preload',
                    default=os.path.join(ROOT, 'build', 'qemu-build',
                                         'iorecord.so'))
    ap.add_argument('--work', default=os.path.join(ROOT, 'build', 'crash'))
    ap.add_argument('--scratch', default=None,
                    help='where states are built (default: /dev/shm)')
    ap.add_argument('--workloads', default=','.join(WORKLOADS))
    ap.add_argument('--states', type=int, default=150,
                    help='states per workload, drawn with --seed')
    ap.add_argument('--all', action='store_true',
                    help='every state of every cut point')
    ap.add_argument('--seeds', default='1', type=parse_seeds,
                    help='a seed, or a range of them: 1-4')
    ap.add_argument('--jobs', type=int, default=os.cpu_count())
    ap.add_argument('--rebuild', metavar='STATE')
    ap.add_argument('--out', metavar='DIR')
    args = ap.parse_args()
    if args.scratch is None:
        args.scratch = tempfile.mkdtemp(
            prefix='vhdx-crash-',
            dir='/dev/shm' if os.path.isdir('/dev/shm') else None)
    try:
        if args.rebuild:
            return rebuild(args)
        print('%-8s %4s %6s %7s %7s %7s %8s' % (
            'workload', 'seed', 'ops', 'states', 'passed', 'failed',
            'seconds'))
        totals = [0, 0, 0]
        for seed in args.seeds:
            for name in args.workloads.split(','):
                n, ok, bad, secs, ops = run_workload(args, name, seed,
                                                     args.jobs)
                print('%-8s %4d %6d %7d %7d %7d %8.1f' % (
                    name, seed, ops, n, ok, bad, secs), flush=True)
                totals[0] += n
                totals[1 if not bad else 2] += 1
        print('%d states; %d passed, %d failed' %
              (totals[0], totals[1], totals[2]))
        return 1 if totals[2] else 0
    finally:
        shutil.rmtree(args.scratch, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
