#!/usr/bin/env python3
"""run-qemu-irq.py - the interrupt-latency guests (irq_spin, irq_wfi) on QEMU.

    guests/run-qemu-irq.py            run both, compare with expected/NAME.out
    guests/run-qemu-irq.py --update   rewrite expected/NAME.out from QEMU

They need what run-qemu.sh does not give: a disk (a scratch copy of the
pattern image tests/irq_latency.h describes: byte i of sector s is
(s * 37 + i) & 0xff) and a person at the terminal, who types 'a' after
"ready 0", 'b' after "ready 1" (QEMU's stdin is a pty here: it drops bytes
piped in at once). Each guest runs with the legacy (QEMU's default) and the
modern virtio-mmio transport, under -icount. Lines starting with "latency"
are measurements and are left out of the comparison and of expected/.
"""
import os
import pty
import select
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
QEMU = os.environ.get('QEMU', 'qemu-system-riscv64')
GUESTS = ['irq_spin', 'irq_wfi']


def image(path):
    img = bytearray(64 * 1024)
    for s in range(len(img) // 512):
        for i in range(512):
            img[s * 512 + i] = (s * 37 + i) & 0xff
    with open(path, 'wb') as f:
        f.write(img)


def run(guest, legacy):
    with tempfile.TemporaryDirectory() as d:
        disk = os.path.join(d, 'disk.img')
        image(disk)
        argv = [QEMU, '-M', 'virt', '-bios', 'none', '-nographic', '-m', '64M', '-icount', 'shift=0',
                '-global', 'virtio-mmio.force-legacy=' + ('true' if legacy else 'false'),
                '-kernel', os.path.join(HERE, 'bin', guest + '.elf'),
                '-drive', 'file=%s,format=raw,if=none,id=d0' % disk, '-device', 'virtio-blk-device,drive=d0']
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp(argv[0], argv)
        out, typed, end = b'', 0, time.time() + 60
        while time.time() < end:
            if not select.select([fd], [], [], 0.1)[0]:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
            while b'ready %d' % typed in out:
                os.write(fd, bytes([ord('a') + typed]))
                typed += 1
        else:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        text = out.decode('latin1').replace('\r\n', '\n')
        return os.waitstatus_to_exitcode(status), ''.join(l for l in text.splitlines(True) if not l.startswith('latency'))


def main():
    update = sys.argv[1:] == ['--update']
    failed = False
    for g in GUESTS:
        outs = [run(g, legacy) for legacy in (True, False)]
        exp = os.path.join(HERE, 'expected', g + '.out')
        for (code, text), transport in zip(outs, ('legacy', 'modern')):
            if code != 0:
                print('FAIL %s (%s): exit status %d' % (g, transport, code))
                failed = True
            elif update and transport == 'legacy':
                with open(exp, 'w', encoding='latin1') as f:
                    f.write(text)
                print('wrote expected/%s.out' % g)
            elif text != open(exp, encoding='latin1').read():
                print('FAIL %s (%s): output differs from expected/%s.out' % (g, transport, g))
                failed = True
            else:
                print('ok   %s (%s)' % (g, transport))
    sys.exit(1 if failed else 0)


main()
