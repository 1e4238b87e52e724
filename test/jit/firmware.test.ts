// Real firmware and a real OS with the JIT tier on (docs/jit.md): Debian's
// OpenSBI + U-Boot to the U-Boot prompt, and the Linux guest to its shell,
// where commands answer and poweroff ends hv with status 0. One Linux boot
// (the suite's budget); the guests test covers --jit always exhaustively.
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { linuxImage, LinuxSession, OPENSBI } from '../support/linux.ts';
import { ConsoleSession } from '../support/session.ts';

const UBOOT = '/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin';
const image = linuxImage();

describe('firmware and Linux with --jit on', () => {
  let session: ConsoleSession | LinuxSession | undefined;
  afterEach(() => session?.kill());

  it.skipIf(!existsSync(OPENSBI) || !existsSync(UBOOT))('OpenSBI and U-Boot reach the U-Boot prompt, where version answers', async () => {
    const s = (session = ConsoleSession.hv(['run', '--jit', 'on', '-bios', OPENSBI, '-kernel', UBOOT, '--timeout', '120']));
    await s.waitFor('Hit any key to stop autoboot', 60_000);
    s.type('\r');
    await s.waitFor(/\n=> $/, 30_000);
    const before = s.output.length;
    s.type('version\r');
    await s.waitFor(/U-Boot 20\d\d[\s\S]*=> $/, 30_000, before);
  }, 120_000);

  it.skipIf(!image)('Linux boots to a shell that runs commands, and poweroff ends hv with status 0', async () => {
    const s = (session = LinuxSession.boot(image!, 'opensbi', ['-m', '128M', '--jit', 'on']));
    await s.prompt();
    expect(s.output).toContain('hv-linux: userspace up (1 harts)');
    expect(await s.run('echo hello from the guest')).toBe('hello from the guest\n');
    expect(await s.run('uname -a')).toMatch(/^Linux hv 6\.12\.\d+ .* riscv64 GNU\/Linux\n$/);
    expect(await s.run('seq 1 2000 | md5sum')).toBe('ea4d0a24dabcaa11f9aa979b872d162b  -\n');
    expect(await s.poweroff()).toBe(0);
  }, 600_000);
});
