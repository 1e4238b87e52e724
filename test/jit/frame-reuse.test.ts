// Translations belong to the bytes they were made from, not to a host frame:
// a partition's RAM freed and handed to the next partition (destroy then
// create, as a snapshot revert or a clone on a busy host does) holds other
// code at the same guest addresses, and the JIT must not run the old
// partition's translations there. Every guest of ours starts at 0x80000000,
// so the second guest reuses the first one's frames at the same pcs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../runtime/host/hypervisor.ts';
import { parseElf } from '../../runtime/loader/elf.ts';
import { Machine } from '../../runtime/machine/machine.ts';

const RAM = 16 << 20;

async function run(hv: Hypervisor, guest: string): Promise<{ output: string; ramHost: number; machine: Machine }> {
  let output = '';
  const m = new Machine({ ramSize: RAM, harts: 1, clock: 'icount', onConsole: (b) => (output += Buffer.from(b).toString('latin1')) }, hv);
  m.boot(m.loadElf(parseElf(readFileSync(`guests/bin/${guest}.elf`))), m.placeDtb());
  expect(await m.run({ maxInsns: 200_000_000 })).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
  hv.unregister(m.id);
  m.releaseMemory();
  return { output, ramHost: m.ram.byteOffset, machine: m };
}

describe('JIT translations and reused frames', () => {
  it.each([
    ['rv64i', 'rv64m'],
    ['rv64m', 'rv64i'],
    ['mmu', 'traps'],
    ['traps', 'privilege'],
    ['zicsr', 'rv64c'],
  ])('a %s partition destroyed, then %s created on its frames, prints exactly its own output with --jit always', async (first, second) => {
    const hv = new Hypervisor(Machine.hostBytes({ ramSize: RAM, harts: 1 } as never) * 2);
    hv.setJit('always');
    const a = await run(hv, first);
    expect(a.output).toBe(readFileSync(`guests/expected/${first}.out`, 'latin1'));
    const b = await run(hv, second);
    expect(b.ramHost).toBe(a.ramHost); // the test is only meaningful on the same frames
    expect(b.output).toBe(readFileSync(`guests/expected/${second}.out`, 'latin1'));
  });
});
