// Real firmware nobody here wrote: Debian's OpenSBI (fw_jump) and U-Boot for
// QEMU virt (S-mode) boot to the U-Boot prompt under hv and answer commands.
import { existsSync } from 'node:fs';
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

  it('boots with two harts', async () => {
    const s = await bootToPrompt(['-smp', '2']);
    expect(s.output).toMatch(/Platform HART Count\s+: 2/);
  });
});
if (!present) describe('OpenSBI and U-Boot', () => it.skip('need Debian packages opensbi and u-boot-qemu', () => {}));
