#!/usr/bin/env python3
#
# A tiny Linux guest for iotests that need a real guest on a VHDX disk
# (vhdx-merge-guest): Debian 12's kernel and busybox-static, which
# scripts/fetch-guest.sh unpacks into build/guest, and an initramfs built
# here at test time (cpio newc, gzip) holding busybox, the virtio modules
# the kernel needs for a virtio-blk disk, and an /init that the test
# drives over the serial console.
#
# The guest's protocol, one line per command on ttyS0, one reply line
# starting with "@@VHDX " for each (kernel messages and the like are
# whatever else is on the console, and are not part of it):
#
#   (after boot)              @@VHDX ready SIZE          SIZE of /dev/vda
#   write TAG OFFSET LENGTH   @@VHDX wrote TAG OFFSET LENGTH
#       LENGTH bytes of pattern(TAG) at OFFSET, O_DIRECT and fsync
#   read TAG OFFSET LENGTH    @@VHDX read TAG OFFSET LENGTH MD5
#       the md5sum of LENGTH bytes at OFFSET, read with O_DIRECT
#   disk                      @@VHDX disk MD5            of all of /dev/vda
#   poweroff                  @@VHDX poweroff, then poweroff -f
#
# Failures reply "@@VHDX error ...".  OFFSET and LENGTH must be multiples
# of 512.
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

import glob
import gzip
import hashlib
import lzma
import os
import re
import select
import struct
import time

# The modules to load for a virtio-blk disk on PCI, if they are modules
# (their dependencies come first, found from the modules themselves)
MODULES = ['virtio_pci', 'virtio_blk']

MARKER = '@@VHDX '

INIT = r'''#!/bin/sh
# /init of the vhdx_guest.py initramfs
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
dmesg -n 1
stty -echo
say() { echo "@@VHDX $*"; }
for m in $(cat /lib/modules/load); do
    insmod "/lib/modules/$m.ko" || say "error insmod $m"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] || say "error no /dev/vda"
say ready "$(blockdev --getsize64 /dev/vda)"
while read -r cmd tag off len; do
    case $cmd in
    write)
        if yes "vhdx-guest-$tag" | head -c "$len" |
           dd of=/dev/vda bs=4096 seek="$off" iflag=fullblock \
              oflag=seek_bytes,direct conv=notrunc,fsync 2>/tmp/err; then
            say wrote "$tag" "$off" "$len"
        else
            say error write "$tag" "$(tr '\n' ' ' < /tmp/err)"
        fi ;;
    read)
        sum=$(dd if=/dev/vda bs=4096 skip="$off" count="$len" \
                 iflag=skip_bytes,count_bytes,direct 2>/tmp/err | md5sum)
        if grep -q 'records out' /tmp/err; then
            say read "$tag" "$off" "$len" "${sum%% *}"
        else
            say error read "$tag" "$(tr '\n' ' ' < /tmp/err)"
        fi ;;
    disk)
        sum=$(dd if=/dev/vda bs=1048576 iflag=direct 2>/dev/null | md5sum)
        say disk "${sum%% *}" ;;
    poweroff)
        say poweroff
        sync
        poweroff -f ;;
    '') ;;
    *)
        say error unknown command "$cmd" ;;
    esac
done
say error console closed
poweroff -f
'''


def pattern(tag, length):
    """What 'write TAG OFFSET LENGTH' writes: yes vhdx-guest-TAG | head"""
    line = f'vhdx-guest-{tag}\n'.encode()
    return (line * (length // len(line) + 1))[:length]


class GuestFiles:
    """The kernel, its modules and busybox in build/guest"""

    def __init__(self, root):
        self.root = root
        kernels = sorted(glob.glob(os.path.join(root, 'boot', 'vmlinuz-*')))
        self.kernel = kernels[-1] if kernels else None
        self.busybox = os.path.join(root, 'bin', 'busybox')
        self.modules = None
        if self.kernel:
            version = os.path.basename(self.kernel)[len('vmlinuz-'):]
            self.modules = os.path.join(root, 'lib', 'modules', version)

    def missing(self):
        """None, or what is missing"""
        if not self.kernel:
            return f'no kernel {self.root}/boot/vmlinuz-*'
        if not os.access(self.busybox, os.X_OK):
            return f'no {self.busybox}'
        if not os.path.isdir(self.modules):
            return f'no {self.modules}'
        return None


def find_guest(qemu_img):
    """The guest files of the build that @qemu_img (build/qemu-build/
    qemu-img) belongs to, or of $VHDX_GUEST_DIR"""
    root = os.environ.get('VHDX_GUEST_DIR')
    if not root:
        build = os.path.dirname(os.path.dirname(os.path.realpath(qemu_img)))
        root = os.path.join(build, 'guest')
    return GuestFiles(root)


def modinfo(data):
    """The .modinfo strings of a kernel module (ELF64, little-endian)"""
    if data[:6] != b'\x7fELF\x02\x01':
        raise ValueError('not an ELF64 little-endian file')
    shoff, = struct.unpack_from('<Q', data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x3a)

    def section(i):
        name, = struct.unpack_from('<I', data, shoff + i * shentsize)
        off, size = struct.unpack_from('<QQ', data,
                                       shoff + i * shentsize + 0x18)
        return name, data[off:off + size]

    _, strtab = section(shstrndx)
    for i in range(shnum):
        name, body = section(i)
        if strtab[name:strtab.index(b'\0', name)] == b'.modinfo':
            info = {}
            for item in body.split(b'\0'):
                key, sep, value = item.decode(errors='replace').partition('=')
                if sep:
                    info.setdefault(key, value)
            return info
    return {}


def read_module(path):
    """A module's contents, decompressed"""
    with open(path, 'rb') as f:
        data = f.read()
    if path.endswith('.xz'):
        return lzma.decompress(data)
    if path.endswith('.gz'):
        return gzip.decompress(data)
    if path.endswith('.zst'):
        raise ValueError(f'{path}: zstd-compressed modules are not supported')
    return data


def resolve_modules(moddir, wanted):
    """[(name, contents)] of the modules @wanted and their dependencies,
    dependencies first; built-in ones are left out"""
    files = {}
    for path in glob.glob(os.path.join(moddir, 'kernel', '**', '*.ko*'),
                          recursive=True):
        name = re.sub(r'\.ko(\.(xz|gz|zst))?$', '', os.path.basename(path))
        files[name.replace('-', '_')] = path
    builtin = set()
    try:
        with open(os.path.join(moddir, 'modules.builtin'),
                  encoding='utf-8') as f:
            for line in f:
                name = re.sub(r'\.ko$', '', os.path.basename(line.strip()))
                builtin.add(name.replace('-', '_'))
    except FileNotFoundError:
        pass

    order = []
    seen = set()

    def visit(name):
        name = name.replace('-', '_')
        if name in seen or name in builtin:
            return
        seen.add(name)
        if name not in files:
            raise ValueError(f'module {name} not found in {moddir}')
        data = read_module(files[name])
        for dep in modinfo(data).get('depends', '').split(','):
            if dep:
                visit(dep)
        order.append((name, data))

    for name in wanted:
        visit(name)
    return order


class Cpio:
    """An archive in the cpio 'newc' format, as the kernel unpacks it"""

    def __init__(self):
        self.data = bytearray()
        self.ino = 1

    def add(self, name, mode, body=b'', rdev=(0, 0)):
        namez = name.encode() + b'\0'
        fields = (self.ino, mode, 0, 0, 1, 0, len(body), 0, 0,
                  rdev[0], rdev[1], len(namez), 0)
        self.ino += 1
        self.data += b'070701' + b''.join(b'%08X' % v for v in fields)
        self.data += namez
        self.data += b'\0' * (-len(self.data) % 4)
        self.data += body
        self.data += b'\0' * (-len(self.data) % 4)

    def directory(self, name):
        self.add(name, 0o040755)

    def file(self, name, body, perm=0o644):
        self.add(name, 0o100000 | perm, body)

    def symlink(self, name, target):
        self.add(name, 0o120777, target.encode())

    def chardev(self, name, major, minor):
        self.add(name, 0o020600, rdev=(major, minor))

    def finish(self):
        self.add('TRAILER!!!', 0)
        return bytes(self.data)


def build_initramfs(guest, path):
    """Writes the guest's initramfs (gzip-compressed cpio) to @path"""
    cpio = Cpio()
    for d in ('bin', 'dev', 'proc', 'sys', 'tmp', 'lib', 'lib/modules'):
        cpio.directory(d)
    cpio.chardev('dev/console', 5, 1)
    with open(guest.busybox, 'rb') as f:
        cpio.file('bin/busybox', f.read(), 0o755)
    cpio.symlink('bin/sh', 'busybox')
    modules = resolve_modules(guest.modules, MODULES)
    for name, data in modules:
        cpio.file(f'lib/modules/{name}.ko', data)
    cpio.file('lib/modules/load',
              ''.join(name + '\n' for name, _ in modules).encode())
    cpio.file('init', INIT.encode(), 0o755)
    with open(path, 'wb') as f:
        f.write(gzip.compress(cpio.finish(), mtime=0))
    return [name for name, _ in modules]


def kernel_args(guest, initrd):
    """QEMU options to boot the guest, quickly, on its serial console"""
    return ['-kernel', guest.kernel, '-initrd', initrd,
            '-append', 'console=ttyS0 quiet panic=-1',
            '-m', '256', '-no-reboot']


class GuestError(Exception):
    pass


class Console:
    """The guest's end of the protocol, over the socket of its serial
    console.  Keeps everything the guest printed (transcript)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''
        self.transcript = b''
        self.replies = []       # marker lines not yet taken

    def _fill(self, timeout):
        rd, _, _ = select.select([self.sock], [], [], timeout)
        if not rd:
            return
        data = self.sock.recv(65536)
        if not data:
            raise GuestError('the guest console closed')
        self.transcript += data
        self.buf += data
        *lines, self.buf = self.buf.split(b'\n')
        for line in lines:
            text = line.decode(errors='replace').rstrip('\r')
            pos = text.find(MARKER)
            if pos >= 0:
                self.replies.append(text[pos + len(MARKER):].strip())

    def send(self, line):
        self.sock.sendall(line.encode() + b'\n')

    def expect(self, word, timeout=60):
        """The next reply, which must start with @word, as a list of
        words (without @word)"""
        deadline = time.monotonic() + timeout
        while not self.replies:
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestError(f'no reply "{word}" from the guest in '
                                 f'{timeout} s\n' + self.tail())
            self._fill(left)
        reply = self.replies.pop(0).split()
        if not reply or reply[0] != word:
            raise GuestError(f'the guest replied "{" ".join(reply)}" '
                             f'instead of "{word} ..."\n' + self.tail())
        return reply[1:]

    def command(self, line, timeout=60):
        self.send(line)
        return self.expect(line.split()[0].replace('write', 'wrote'),
                           timeout)

    def tail(self, lines=40):
        text = self.transcript.decode(errors='replace').replace('\r', '')
        return ('--- guest console (last lines) ---\n' +
                '\n'.join(text.splitlines()[-lines:]))


def md5(data):
    return hashlib.md5(data).hexdigest()
