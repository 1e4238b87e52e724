// Runs a guest ELF in-process on a fresh Machine and returns what it printed.
import { readFileSync } from 'node:fs';
import { parseElf } from '../../runtime/loader/elf.ts';
import { Machine, type MachineConfig, type RunResult } from '../../runtime/machine/machine.ts';
import type { JitMode } from '../../runtime/jit/tier.ts';

export interface GuestRun {
  output: string;
  result: RunResult;
  machine: Machine;
}

export async function runGuest(
  elf: string | Uint8Array,
  options: Partial<Omit<MachineConfig, 'onConsole'>> & {
    maxInsns?: number;
    input?: string;
    /** 'firmware' (default): M-mode at the entry, as -bios none; 'enlightened': S-mode, hv is the SBI firmware. */
    boot?: 'firmware' | 'enlightened';
    /** The JIT tier (docs/jit.md); default HV_JIT from the environment, else off. */
    jit?: JitMode;
  } = {},
): Promise<GuestRun> {
  let output = '';
  const machine = new Machine({
    ramSize: options.ramSize ?? 64 << 20,
    harts: options.harts ?? 1,
    clock: options.clock ?? 'icount',
    bootargs: options.bootargs,
    paging: options.paging,
    drives: options.drives,
    vmbus: options.vmbus,
    onConsole: (b) => (output += Buffer.from(b).toString('latin1')),
  });
  if (options.jit) machine.hypervisor.setJit(options.jit);
  const bytes = typeof elf === 'string' ? readFileSync(elf) : elf;
  const entry = machine.loadElf(parseElf(bytes));
  if (options.boot === 'enlightened') machine.bootEnlightened(entry, machine.placeDtb());
  else machine.boot(entry, machine.placeDtb());
  if (options.input) machine.input(options.input);
  const result = await machine.run({ maxInsns: options.maxInsns ?? 200_000_000 });
  return { output, result, machine };
}
