// Linux boot time (guests/linux): spawn to the busybox shell's prompt, and
// to power-off after a scripted session (hv.autorun=smoke: uname, ls /dev,
// an ext2 disk made, mounted, written and unmounted, poweroff), on hv and on
// qemu-system-riscv64 with the same kernel, firmware and kind of disk, in
// the same run. Also the guest MIPS during the boot on hv.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linuxImage, OPENSBI } from '../test/support/linux.ts';
import { ConsoleSession } from '../test/support/session.ts';
import { qemuAvailable } from './qemu.ts';

const PROMPT = /\nhv:\/# $/;

/** Seconds from spawn to the prompt (typing nothing). */
async function timeToPrompt(command: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  const s = new ConsoleSession(command, args);
  try {
    await s.waitFor(PROMPT, 300_000);
    return (performance.now() - t0) / 1000;
  } finally {
    s.kill();
  }
}

/** Seconds from spawn to exit of a run that powers itself off, and what it printed. */
function timeToPoweroff(command: string, args: string[]): { seconds: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(command, args, { encoding: 'latin1', timeout: 300_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${command} exited ${r.status}: ${r.stderr.slice(-500)}`);
  return { seconds: (performance.now() - t0) / 1000, stdout: r.stdout + r.stderr };
}

async function best(n: number, f: () => Promise<number> | number): Promise<number> {
  let b = Infinity;
  for (let i = 0; i < n; i++) b = Math.min(b, await f());
  return b;
}

export async function benchLinux(): Promise<void> {
  const image = linuxImage();
  if (!image) {
    console.log('linux: build the guest first (sh guests/linux/build.sh)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'hv-bench-linux-'));
  const freshDisk = () => {
    const path = join(dir, `disk-${Math.random().toString(36).slice(2)}.img`);
    writeFileSync(path, new Uint8Array(32 << 20));
    return path;
  };
  const common = ['-m', '256M', '-bios', OPENSBI, '-kernel', image];
  const smoke = (drive: string) => ['-append', 'console=ttyS0 hv.autorun=smoke', '-drive', `file=${drive},format=raw,if=virtio`];
  const hv = (...more: string[]) => [join('bin', 'hv.js'), 'run', ...more, ...common];

  const hvPrompt = await best(3, () => timeToPrompt(process.execPath, hv()));
  const hvPromptJit = await best(3, () => timeToPrompt(process.execPath, hv('--jit', 'on')));
  const hvOff = await best(3, () => timeToPoweroff(process.execPath, [...hv('--stats'), ...smoke(freshDisk())]).seconds);
  // Guest MIPS over a whole boot-and-poweroff (hv --stats).
  const stats = timeToPoweroff(process.execPath, [...hv('--stats'), ...smoke(freshDisk())]).stdout;
  const insns = Number(/instructions\s+(\d+)/.exec(stats)?.[1] ?? NaN);
  const mips = Number(/MIPS\s+([\d.]+)/.exec(stats)?.[1] ?? NaN);
  console.log(
    `linux: Linux 6.12 + busybox on hv (OpenSBI fw_jump, 1 hart, threaded): shell prompt ${hvPrompt.toFixed(2)} s, ` +
      `scripted session to poweroff ${hvOff.toFixed(2)} s (best of 3); ${(insns / 1e6).toFixed(0)} M guest instructions at ${mips.toFixed(0)} MIPS`,
  );
  console.log(`linux: shell prompt with --jit on ${hvPromptJit.toFixed(2)} s (interpreter ${hvPrompt.toFixed(2)} s, best of 3 each)`);
  if (!qemuAvailable()) return;
  const qemu = ['-M', 'virt', '-nographic', ...common];
  const qPrompt = await best(3, () => timeToPrompt('qemu-system-riscv64', qemu));
  const qOff = await best(3, () => timeToPoweroff('qemu-system-riscv64', [...qemu, ...smoke(freshDisk())]).seconds);
  console.log(
    `linux: same on qemu-system-riscv64: shell prompt ${qPrompt.toFixed(2)} s, to poweroff ${qOff.toFixed(2)} s; ` +
      `hv/qemu = ${(hvPrompt / qPrompt).toFixed(2)} (prompt), ${(hvOff / qOff).toFixed(2)} (poweroff)`,
  );
}
