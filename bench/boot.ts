// Firmware boot time: spawn to the U-Boot prompt (OpenSBI fw_jump + U-Boot,
// Debian's images for QEMU virt), on hv and on qemu-system-riscv64, same
// images, same keystroke to stop autoboot.
import { existsSync } from 'node:fs';
import { ConsoleSession } from '../test/support/session.ts';
import { qemuAvailable } from './qemu.ts';

const OPENSBI = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin';
const UBOOT = '/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin';

async function timeToPrompt(command: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  const s = new ConsoleSession(command, args);
  try {
    await s.waitFor('Hit any key to stop autoboot', 120_000);
    s.type('\r');
    await s.waitFor(/\n=> $/, 60_000);
    return (performance.now() - t0) / 1000;
  } finally {
    s.kill();
  }
}

export async function benchBoot(): Promise<void> {
  if (!existsSync(OPENSBI) || !existsSync(UBOOT)) {
    console.log('boot: needs Debian packages opensbi and u-boot-qemu');
    return;
  }
  const best = async (f: () => Promise<number>) => Math.min(await f(), await f(), await f());
  const hv = (...mode: string[]) => timeToPrompt(process.execPath, ['bin/hv.js', 'run', ...mode, '-bios', OPENSBI, '-kernel', UBOOT]);
  const ours = await best(() => hv());
  const oneThread = await best(() => hv('--deterministic'));
  const jit = await best(() => hv('--jit', 'on'));
  console.log(
    `boot: OpenSBI -> U-Boot prompt on hv: ${ours.toFixed(3)} s threaded (devices on the root's thread), ` +
      `${oneThread.toFixed(3)} s --deterministic, ${jit.toFixed(3)} s threaded with --jit on (spawn to prompt, best of 3)`,
  );
  if (!qemuAvailable()) return;
  const qemu = await best(() =>
    timeToPrompt('qemu-system-riscv64', ['-M', 'virt', '-nographic', '-m', '128M', '-bios', OPENSBI, '-kernel', UBOOT]),
  );
  console.log(`boot: same on qemu-system-riscv64: ${qemu.toFixed(3)} s; hv/qemu time ratio = ${(ours / qemu).toFixed(2)}`);
}
