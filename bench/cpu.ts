// Interpreter and JIT speed: guest MIPS on a CPU-bound guest of our own, and the
// ratio against QEMU's TCG on the same ELF (same instruction count: the
// guest is deterministic). QEMU's start-up cost is measured with hello.elf
// and subtracted, so the ratio compares execution speed.
import { existsSync } from 'node:fs';
import { runGuest } from '../test/support/guest.ts';
import { bestOf, qemuAvailable, timeQemu } from './qemu.ts';

export const CPU_GUEST = 'guests/bin/cpu.elf';

export async function benchCpu(): Promise<void> {
  if (!existsSync(CPU_GUEST)) {
    console.log(`cpu: ${CPU_GUEST} missing (run guests/build.sh)`);
    return;
  }
  // The interpreter and the JIT tier (--jit on) alternate, best of 3 each,
  // so a busy machine weighs on both alike.
  const modes = ['off', 'on'] as const;
  const bests = new Map(modes.map((m) => [m, { mips: 0, instructions: 0, seconds: 0, output: '' }]));
  for (let i = 0; i < 3; i++) {
    for (const jit of modes) {
      const t0 = performance.now();
      const { machine, output } = await runGuest(CPU_GUEST, { clock: 'realtime', maxInsns: 5e9, jit });
      const seconds = (performance.now() - t0) / 1000;
      const instructions = machine.instructions();
      const mips = instructions / seconds / 1e6;
      if (mips > bests.get(jit)!.mips) bests.set(jit, { mips, instructions, seconds, output });
    }
  }
  const best = bests.get('off')!;
  const jit = bests.get('on')!;
  console.log(`cpu: ${best.instructions} instructions in ${best.seconds.toFixed(3)} s: ${best.mips.toFixed(1)} MIPS (interpreter; target >= 150)`);
  console.log(
    `cpu: ${jit.instructions} instructions in ${jit.seconds.toFixed(3)} s: ${jit.mips.toFixed(1)} MIPS (--jit on, ` +
      `${(jit.mips / best.mips).toFixed(2)}x the interpreter${jit.output === best.output ? '' : '; WARNING: different output'})`,
  );
  if (!qemuAvailable()) {
    console.log('cpu: qemu-system-riscv64 not installed: no ratio');
    return;
  }
  const base = bestOf(3, () => timeQemu(['-bios', 'none', '-kernel', 'guests/bin/hello.elf']));
  const q = bestOf(3, () => timeQemu(['-bios', 'none', '-kernel', CPU_GUEST]));
  if (q.stdout !== best.output) console.log('cpu: WARNING: QEMU printed different output');
  const qSeconds = Math.max(q.seconds - base.seconds, 1e-3);
  const qMips = best.instructions / qSeconds / 1e6;
  console.log(
    `cpu: qemu-system-riscv64 (TCG JIT) ${qSeconds.toFixed(3)} s (${q.seconds.toFixed(3)} s minus ${base.seconds.toFixed(3)} s start-up): ` +
      `${qMips.toFixed(0)} MIPS; hv/qemu = ${(best.mips / qMips).toFixed(3)} interpreter, ${(jit.mips / qMips).toFixed(3)} JIT (target >= 0.5)`,
  );
}
