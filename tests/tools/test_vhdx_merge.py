#!/usr/bin/env python3
#
# Unit tests of tools/vhdx-merge: how --depth and --speed are read, the
# state file an offline merge leaves for a resume, progress, and how the
# online mode names devices.  The merges themselves are iotests
# (vhdx-merge-*).
#
# SPDX-License-Identifier: GPL-2.0-or-later

import contextlib
import importlib.machinery
import importlib.util
import io
import json
import os
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, '..', '..', 'tools', 'vhdx-merge')


def load_tool():
    loader = importlib.machinery.SourceFileLoader('vhdx_merge', TOOL)
    spec = importlib.util.spec_from_loader('vhdx_merge', loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


vm = load_tool()


def refused_args(argv):
    """Whether the command line @argv is refused (usage error)"""
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            vm.parse_args(argv)
        except SystemExit:
            return True
    return False


def chain(n):
    """A chain of @n images, top first"""
    return [vm.Layer('/i/%d.vhdx' % i, 'vhdx', 64 << 20) for i in range(n)]


class ResolveDepth(unittest.TestCase):
    def test_numbers(self):
        self.assertEqual(vm.resolve_depth('1', chain(4), 'top'), 1)
        self.assertEqual(vm.resolve_depth('3', chain(4), 'top'), 3)

    def test_all_is_the_base(self):
        self.assertEqual(vm.resolve_depth('all', chain(4), 'top'), 3)
        self.assertEqual(vm.resolve_depth('all', chain(2), 'top'), 1)

    def test_too_deep(self):
        with self.assertRaisesRegex(vm.MergeError,
                                    'top has 3 ancestors; --depth 4 is too '
                                    'deep'):
            vm.resolve_depth('4', chain(4), 'top')

    def test_at_least_one(self):
        for arg in ('0', '-2'):
            with self.assertRaisesRegex(vm.MergeError, 'at least 1'):
                vm.resolve_depth(arg, chain(3), 'top')

    def test_not_a_number(self):
        with self.assertRaisesRegex(vm.MergeError, "number of layers or "
                                    "'all'"):
            vm.resolve_depth('two', chain(3), 'top')

    def test_no_parent(self):
        with self.assertRaisesRegex(vm.MergeError, 'top has no parent'):
            vm.resolve_depth('all', chain(1), 'top')


class ParseSize(unittest.TestCase):
    def test_plain_and_suffixes(self):
        cases = {'0': 0, '4096': 4096, '512K': 512 << 10, '1M': 1 << 20,
                 '1m': 1 << 20, '2G': 2 << 30, '1T': 1 << 40, '100B': 100,
                 '1.5M': 3 << 19, ' 8 M ': 8 << 20}
        for text, value in cases.items():
            self.assertEqual(vm.parse_size(text), value, text)

    def test_refused(self):
        for text in ('', 'M', 'fast', '1X', '1MiB', '-1', '1.3', '1e3',
                     '8E'):
            with self.assertRaises(ValueError, msg=text):
                vm.parse_size(text)

    def test_command_line(self):
        args = vm.parse_args(['--speed', '1M', 'top.avhdx'])
        self.assertEqual(args.speed, 1 << 20)
        self.assertTrue(refused_args(['--speed', 'fast', 'top.avhdx']))


class StateFile(unittest.TestCase):
    """The plan an offline merge writes before it starts and reads to
    resume"""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, 'top.avhdx.merge')

    def tearDown(self):
        self.dir.cleanup()

    def state(self, **changes):
        state = {'version': vm.STATE_VERSION, 'image': '/i/top.avhdx',
                 'base': '/i/base.vhdx', 'depth': 3, 'depth_arg': 'all',
                 'whole_chain': True, 'dropped': ['/i/s1']}
        state.update(changes)
        return state

    def write_raw(self, text):
        with open(self.path, 'w') as f:
            f.write(text)

    def test_round_trip(self):
        vm.write_state(self.path, self.state())
        self.assertEqual(vm.read_state(self.path), self.state())
        self.assertFalse(os.path.exists(self.path + '.tmp'))

    def test_none_when_absent(self):
        self.assertIsNone(vm.read_state(self.path))

    def test_not_json(self):
        self.write_raw('{"version": 1, "base"')
        with self.assertRaisesRegex(vm.MergeError, 'cannot read the state '
                                    'of an interrupted merge'):
            vm.read_state(self.path)

    def test_wrong_shape(self):
        for bad in (self.state(version=vm.STATE_VERSION + 1),
                    self.state(base=7), self.state(depth='3'), [1, 2]):
            self.write_raw(json.dumps(bad))
            with self.assertRaisesRegex(vm.MergeError, 'not a state file'):
                vm.read_state(self.path)

    def test_remove(self):
        vm.write_state(self.path, self.state())
        vm.remove_state(self.path)
        self.assertIsNone(vm.read_state(self.path))


class SameMerge(unittest.TestCase):
    """Which --depth may resume an interrupted merge"""

    STATE = {'depth': 3, 'depth_arg': 'all', 'whole_chain': True}

    def test_no_depth_resumes(self):
        self.assertTrue(vm.same_merge(None, self.STATE))

    def test_same_depth_either_way(self):
        self.assertTrue(vm.same_merge('3', self.STATE))
        self.assertTrue(vm.same_merge('all', self.STATE))
        self.assertTrue(vm.same_merge('all', {'depth': 2, 'depth_arg': '2',
                                              'whole_chain': True}))

    def test_other_depth_refused(self):
        self.assertFalse(vm.same_merge('2', self.STATE))
        self.assertFalse(vm.same_merge('all', {'depth': 2, 'depth_arg': '2',
                                               'whole_chain': False}))

    def test_offline_bytes(self):
        self.assertEqual(vm.offline_bytes(chain(3)), 64 << 20)


class OfflineCommit(unittest.TestCase):
    """The one qemu-img commit an offline merge runs (with a stand-in
    qemu-img that records its arguments and shows progress)"""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.log = os.path.join(self.dir.name, 'argv')
        self.fake = os.path.join(self.dir.name, 'qemu-img')
        with open(self.fake, 'w') as f:
            f.write('#!/bin/sh\nprintf "%%s\\n" "$@" > %s\n'
                    'printf "    (50.00/100%%%%)\\r"\n'
                    'printf "    (100.00/100%%%%)\\r"\n' % self.log)
        os.chmod(self.fake, 0o755)
        self.image = os.path.join(self.dir.name, 'top.avhdx')
        self.state_path = self.image + '.merge'

    def tearDown(self):
        self.dir.cleanup()

    def merge(self, n):
        layers = [vm.Layer(os.path.join(self.dir.name, name), 'vhdx',
                           64 << 20)
                  for name in ('top.avhdx', 's2.avhdx', 's1.avhdx',
                               'base.vhdx')]
        state = {'version': vm.STATE_VERSION, 'base': layers[n].path,
                 'depth': n}
        progress = vm.Progress('merging', False, 64 << 20)
        vm.merge_offline(vm.QemuImg(self.fake), self.image, layers, n, state,
                         self.state_path, progress)
        with open(self.log) as f:
            return f.read().split('\n')[:-1], state

    def test_deeper_base_one_commit_with_rebase(self):
        argv, state = self.merge(3)
        self.assertEqual(argv, ['commit', '-f', 'vhdx', '-p', '-b',
                                os.path.join(self.dir.name, 'base.vhdx'),
                                '--rebase', self.image])
        self.assertEqual(state['dropped'], [
            os.path.join(self.dir.name, n) for n in ('s2.avhdx', 's1.avhdx')])
        self.assertFalse(os.path.exists(self.state_path))

    def test_parent_plain_commit(self):
        argv, state = self.merge(1)
        self.assertEqual(argv, ['commit', '-f', 'vhdx', '-p', self.image])
        self.assertEqual(state['dropped'], [])


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Progress(unittest.TestCase):
    def test_rate_and_time_left(self):
        clock = FakeClock()
        rate = vm.Rate(clock)
        self.assertIsNone(rate.bytes_per_second())
        rate.add(0.0, 0)
        clock.now += 2
        rate.add(0.25, 100 << 20)
        self.assertEqual(rate.bytes_per_second(), 50 << 20)
        self.assertAlmostEqual(rate.seconds_left(), 6.0)

    def test_window_follows_changes(self):
        clock = FakeClock()
        rate = vm.Rate(clock)
        for i in range(30):
            rate.add(i / 100, i << 20)
            clock.now += 1
        # 1 MiB/s throughout; then 4 MiB/s for the last window
        for i in range(12):
            rate.add((30 + 4 * i) / 100, (30 + 4 * i) << 20)
            clock.now += 1
        self.assertEqual(rate.bytes_per_second(), 4 << 20)

    def test_line(self):
        self.assertEqual(vm.progress_line('merging', 0.5, 10),
                         'merging [#####.....]  50%')
        self.assertEqual(vm.progress_line('m', 0.25, 4, 3 << 20, 125),
                         'm [#...]  25%  3.0 MiB/s  ETA 2:05')
        self.assertEqual(vm.progress_line('m', 1.0, 4, 1024, 0),
                         'm [####] 100%  1.0 KiB/s')

    def test_formats(self):
        self.assertEqual(vm.format_duration(3725), '1:02:05')
        self.assertEqual(vm.format_duration(59.6), '1:00')
        self.assertEqual(vm.format_size(512), '512 B')
        self.assertEqual(vm.format_size(1536), '1.5 KiB')


class Online(unittest.TestCase):
    def test_qmp_address(self):
        self.assertEqual(vm.parse_qmp_address('localhost:4444'),
                         ('localhost', 4444))
        self.assertEqual(vm.parse_qmp_address('/run/vm.qmp'), '/run/vm.qmp')

    def test_device_names(self):
        block = {'device': '', 'qdev': '/machine/peripheral/disk0/virtio'}
        self.assertTrue(vm.device_matches(block, 'disk0'))
        self.assertFalse(vm.device_matches(block, 'disk1'))
        self.assertEqual(vm.device_name(block), 'disk0')
        self.assertTrue(vm.device_matches({'device': 'drive0'}, 'drive0'))

    def test_target_of_a_node(self):
        node = {'node-name': 'top', 'image': {'filename': 'top.avhdx'}}
        t = vm.Target('top', node=node)
        self.assertEqual(t.node_name, 'top')
        self.assertEqual(t.describe(), 'node top')
        self.assertEqual(t.image['filename'], 'top.avhdx')

    def test_arguments(self):
        args = vm.parse_args(['--qmp', 'q.sock', '--device', 'top',
                              '--depth', '2', '--no-progress',
                              '--output=json'])
        self.assertFalse(args.progress)
        self.assertEqual(args.output, 'json')
        for bad in (['--qmp', 'q.sock'], [], ['--output=xml', 'img'],
                    ['--qmp', 'q', '--device', 'd', 'img']):
            self.assertTrue(refused_args(bad), bad)


if __name__ == '__main__':
    unittest.main()
