// Linux 6.12 (Debian's linux-source-6.12) with a busybox userland, built by
// guests/linux/build.sh and booted as a user would: OpenSBI's fw_jump or the
// hypervisor as SBI firmware (-bios hv), commands typed at its shell on
// ttyS0, ext2 on virtio-blk disks (raw and VHD) across reboots and runs,
// poweroff ending hv with status 0, and four of them at once.
//
// The host modes, paging modes, firmware and hart counts are covered
// pairwise (every pair of host mode and paging mode once, each firmware and
// -smp 1/4 in several), not as a full product: nine boots instead of 36.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { linuxImage, LinuxSession, OPENSBI } from '../support/linux.ts';
import { ConsoleSession } from '../support/session.ts';

const image = linuxImage();
/** A boot on a loaded 2-core machine can take a while; the limits only keep a hung guest from hanging the suite. */
const TEST_MS = 600_000;

describe.runIf(!image && process.env.CI)('the Linux guest', () => {
  it('is built before the tests run (.ci/run runs guests/linux/build.sh)', () => {
    expect.fail('guests/linux/build.sh --path names no built Image');
  });
});

describe.skipIf(!image)('Linux guest (guests/linux)', () => {
  let session: LinuxSession | undefined;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hv-linux-'));
  });
  afterEach(() => session?.kill());

  const boot = (firmware: 'opensbi' | 'hv', args: string[]) => (session = LinuxSession.boot(image!, firmware, ['-m', '128M', ...args]));

  it(
    'boots with OpenSBI to a busybox shell that answers typed commands, and poweroff ends hv with status 0',
    async () => {
      const s = boot('opensbi', []);
      await s.prompt();
      expect(s.output).toMatch(/OpenSBI v1\.\d/);
      expect(s.output).toMatch(/Linux version 6\.12\.\d+/);
      expect(s.output).toContain('hv-linux: userspace up (1 harts)');
      expect(await s.run('echo hello from the guest')).toBe('hello from the guest\n');
      expect(await s.run('uname -a')).toMatch(/^Linux hv 6\.12\.\d+ .* riscv64 GNU\/Linux\n$/);
      const cpuinfo = await s.run('cat /proc/cpuinfo');
      // What our device tree says the harts implement, and nothing more
      // (Linux adds Zca and Zcd, which C and D imply).
      expect(cpuinfo).toMatch(/^isa\s+: rv64imafdc_zicsr_zifencei_zca_zcd$/m);
      expect(cpuinfo).toMatch(/^mmu\s+: sv48$/m);
      const dev = (await s.run('ls /dev')).split(/\s+/);
      expect(dev).toEqual(expect.arrayContaining(['console', 'null', 'ttyS0', 'zero', 'rtc0']));
      expect(await s.poweroff()).toBe(0);
      expect(s.output).toMatch(/reboot: Power down/);
    },
    TEST_MS,
  );

  // [firmware, -smp, host mode, paging]: each host mode meets each paging mode once.
  const matrix: [string, 'opensbi' | 'hv', number, string[], string][] = [
    ['OpenSBI, 4 harts, --pcpus 1, nested', 'opensbi', 4, ['--pcpus', '1'], 'nested'],
    ['OpenSBI, 1 hart, --deterministic, shadow', 'opensbi', 1, ['--deterministic'], 'shadow'],
    ['OpenSBI, 4 harts, threaded, direct', 'opensbi', 4, [], 'direct'],
    ['-bios hv, 1 hart, threaded, shadow', 'hv', 1, [], 'shadow'],
    ['-bios hv, 4 harts, threaded, nested', 'hv', 4, [], 'nested'],
    ['-bios hv, 1 hart, --pcpus 1, direct', 'hv', 1, ['--pcpus', '1'], 'direct'],
    ['-bios hv, 4 harts, --deterministic, nested', 'hv', 4, ['--deterministic'], 'nested'],
    ['OpenSBI, 4 harts, --pcpus 1, shadow', 'opensbi', 4, ['--pcpus', '1'], 'shadow'],
    ['-bios hv, 4 harts, --deterministic, direct', 'hv', 4, ['--deterministic'], 'direct'],
  ];
  it.each(matrix)(
    'boots to its shell and powers off: %s',
    async (_name, firmware, harts, mode, paging) => {
      const s = boot(firmware, ['-smp', String(harts), ...mode, '--paging', paging]);
      await s.prompt();
      expect(s.output).toContain(`hv-linux: userspace up (${harts} harts)`);
      // U-mode reads time (the vDSO, date): the firmware left scounteren on.
      expect(await s.run('date +%Y')).toMatch(/^20\d\d\n$/);
      expect(await s.run('grep -c ^processor /proc/cpuinfo')).toBe(`${harts}\n`);
      expect(await s.poweroff()).toBe(0);
    },
    TEST_MS,
  );

  /** A fresh disk of 32 MiB: raw zeros, or a dynamic VHD made by `hv vhd create`. */
  function disk(format: 'raw' | 'vpc'): string {
    const path = join(dir, `disk-${format}-${Math.random().toString(36).slice(2)}.${format === 'raw' ? 'img' : 'vhd'}`);
    if (format === 'raw') writeFileSync(path, new Uint8Array(32 << 20));
    else {
      const r = spawnSync(process.execPath, ['bin/hv.js', 'vhd', 'create', '-q', '-f', 'vpc', '-o', 'subformat=dynamic', path, '32M']);
      expect(r.status).toBe(0);
    }
    return path;
  }

  it.each([['raw'], ['vpc']] as const)(
    'keeps files on an ext2 file system across a reboot and a new hv run (%s disk)',
    async (format) => {
      const path = disk(format);
      const drive = ['-drive', `file=${path},format=${format},if=virtio`];
      let s = boot('opensbi', drive);
      await s.prompt();
      expect(s.output).toMatch(/virtio_blk virtio0: \[vda\] 65536 512-byte logical blocks/);
      // Short command lines: busybox's line editor wraps long ones at 80 columns.
      await s.run('mke2fs -q /dev/vda');
      await s.run('mount -t ext2 /dev/vda /mnt');
      await s.run('echo first boot > /mnt/log');
      // reboot: init unmounts, the firmware resets the board, hv boots the partition again.
      const at = s.output.length;
      s.console.type('reboot\n');
      await s.console.waitFor(/OpenSBI v1\.\d[\s\S]*hv-linux: userspace up/, 240_000, at);
      await s.prompt(s.output.lastIndexOf('hv-linux: userspace up'));
      await s.run('mount -t ext2 /dev/vda /mnt');
      expect(await s.run('cat /mnt/log')).toBe('first boot\n');
      await s.run('echo after reboot >> /mnt/log');
      await s.run('umount /mnt');
      expect(await s.poweroff()).toBe(0);

      s = boot('hv', drive);
      await s.prompt();
      await s.run('mount -t ext2 /dev/vda /mnt');
      expect(await s.run('cat /mnt/log')).toBe('first boot\nafter reboot\n');
      await s.run('umount /mnt');
      expect(await s.poweroff()).toBe(0);
      if (format === 'vpc') {
        const check = spawnSync(process.execPath, ['bin/hv.js', 'vhd', 'check', path], { encoding: 'utf8' });
        expect(check.status).toBe(0);
      }
    },
    TEST_MS,
  );

  it(
    'runs four partitions from one VM config on 2 pCPUs, each reaching its shell, using its own disk and powering off',
    async () => {
      const partitions = [0, 1, 2, 3].map((i) => ({
        name: `linux${i}`,
        memory: '128M',
        vcpus: i % 2 ? 2 : 1,
        paging: ['direct', 'nested', 'shadow', 'direct'][i],
        boot: i === 3 ? 'enlightened' : 'firmware',
        ...(i === 3 ? {} : { bios: OPENSBI }),
        kernel: image,
        append: 'console=ttyS0 hv.autorun=smoke',
        disks: [{ path: disk('raw'), format: 'raw' }],
      }));
      const config = join(dir, 'four.json');
      writeFileSync(config, JSON.stringify({ pcpus: 2, partitions }));
      const c = new ConsoleSession(process.execPath, ['bin/hv.js', 'run', '--config', config]);
      let status: number | null;
      try {
        status = await c.exited;
      } finally {
        c.kill();
      }
      const lines = (i: number) => c.output.split('\n').filter((l) => l.startsWith(`[linux${i}] `)).slice(-15).join('\n');
      for (let i = 0; i < 4; i++) {
        const why = `partition linux${i}'s last lines:\n${lines(i)}\n(hv's last output: ${c.output.slice(-300)})`;
        expect(c.output, why).toContain(`[linux${i}] hv-linux: smoke test on 6.12`);
        expect(c.output, why).toContain(`[linux${i}] hv-linux: disk has 1 visits`);
        expect(c.output, why).toMatch(new RegExp(`\\[linux${i}\\] \\[ *[\\d.]+\\] reboot: Power down`));
      }
      expect(status, c.output.slice(-500)).toBe(0);
    },
    TEST_MS,
  );
});
