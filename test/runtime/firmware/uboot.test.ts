// Real firmware nobody here wrote: Debian's OpenSBI (fw_jump) and U-Boot for
// QEMU virt (S-mode) boot to the U-Boot prompt under hv and answer commands.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsoleSession } from '../../support/session.ts';

const OPENSBI = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin';
const UBOOT = '/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin';
const present = existsSync(OPENSBI) && existsSync(UBOOT);

describe.skipIf(!present)('OpenSBI and U-Boot', () => {
  let session: ConsoleSession | undefined;
  afterEach(() => session?.kill());

  async function bootToPrompt(extra: string[] = []): Promise<ConsoleSession> {
    const s = (session = ConsoleSession.hv(['run', ...extra, '-bios', OPENSBI, '-kernel', UBOOT, '--timeout', '120']));
    await s.waitFor('Hit any key to stop autoboot', 60_000);
    s.type('\r'); // stop autoboot
    await s.waitFor(/\n=> $/, 30_000);
    return s;
  }

  it('prints the OpenSBI banner and reaches the U-Boot prompt, where version answers', async () => {
    const s = await bootToPrompt();
    expect(s.output).toMatch(/OpenSBI v\d+\.\d+/);
    expect(s.output).toMatch(/Platform Name\s+: riscv-virtio,qemu/);
    const before = s.output.length;
    s.type('version\r');
    await s.waitFor(/U-Boot 20\d\d[\s\S]*=> $/, 30_000, before);
  });

  it('boots two harts the same way with every vCPU on one thread (--deterministic) and on two pCPU threads', async () => {
    for (const mode of [['--deterministic'], ['--pcpus', '2']]) {
      const s = await bootToPrompt(['-smp', '2', ...mode]);
      expect(s.output).toMatch(/Platform HART Count\s+: 2/);
      s.kill();
    }
  });

  it('sees a virtio-blk disk and reads it (raw image)', async () => {
    const img = join(mkdtempSync(join(tmpdir(), 'hv-uboot-')), 'disk.raw');
    const bytes = new Uint8Array(4 << 20);
    bytes.set(new TextEncoder().encode('HELLO DISK'), 0);
    writeFileSync(img, bytes);
    const s = await bootToPrompt(['-drive', `file=${img},format=raw,if=virtio`]);
    let at = s.output.length;
    s.type('virtio info\r');
    await s.waitFor(/Capacity: 4\.0 MB = 0\.0 GB \(8192 x 512\)[\s\S]*=> $/, 30_000, at);
    at = s.output.length;
    s.type('virtio read 0x84000000 0 1\r');
    await s.waitFor(/1 blocks read: OK[\s\S]*=> $/, 30_000, at);
    at = s.output.length;
    s.type('md.b 0x84000000 10\r');
    await s.waitFor(/84000000: 48 45 4c 4c 4f 20 44 49 53 4b 00 00 00 00 00 00  HELLO DISK/, 30_000, at);
  });

  it.skipIf(spawnSync('qemu-img', ['--version']).status !== 0).each([
    ['the guest powers off', 'poweroff', 0],
    ['hv is sent SIGTERM', 'SIGTERM', 143],
  ] as const)('writes through virtio-blk to a dynamic VHD that qemu-img then reads, when %s', async (_, end, status) => {
    const dir = mkdtempSync(join(tmpdir(), 'hv-uboot-'));
    const vhd = join(dir, 'disk.vhd');
    expect(spawnSync(process.execPath, ['bin/hv.js', 'vhd', 'create', '-o', 'subformat=dynamic', vhd, '8M']).status).toBe(0);
    const s = await bootToPrompt(['-drive', `file=${vhd},format=vpc,if=virtio`]);
    let at = s.output.length;
    s.type('mw.b 0x84000000 0x5a 0x200\r');
    await s.waitFor(/=> $/, 30_000, at + 1);
    at = s.output.length;
    s.type('virtio write 0x84000000 0x10 1\r');
    await s.waitFor(/1 blocks written: OK[\s\S]*=> $/, 30_000, at);
    // SBI SRST -> finisher, or a signal: either way hv closes (flushes) the disk before it exits.
    if (end === 'poweroff') s.type('poweroff\r');
    else s.signal(end);
    expect(await s.exited).toBe(status);
    const raw = join(dir, 'disk.raw');
    expect(spawnSync('qemu-img', ['convert', '-f', 'vpc', '-O', 'raw', vhd, raw]).status).toBe(0);
    const data = (await import('node:fs')).readFileSync(raw);
    expect(data.subarray(0x10 * 512, 0x11 * 512).every((b) => b === 0x5a)).toBe(true);
    expect(data.subarray(0, 0x10 * 512).every((b) => b === 0)).toBe(true);
  });
});
if (!present) describe('OpenSBI and U-Boot', () => it.skip('need Debian packages opensbi and u-boot-qemu', () => {}));
