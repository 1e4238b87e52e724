// Our own bare-metal guests (guests/bin) on hv. Where QEMU's output is
// recorded (guests/expected/NAME.out, written by guests/run-qemu.sh --update
// from qemu-system-riscv64 -M virt on the same ELF), hv's console output must
// be byte-identical to it. The suite does not run QEMU itself: a reference
// that depends on how busy the machine is made the suite flake.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../support/guest.ts';

const BIN = 'guests/bin';
/** Guests that need a disk or run too long for a unit test are covered elsewhere (smc.elf: test/jit/smc.test.ts). */
const ELSEWHERE = new Set(['cpu.elf', 'virtio_blk.elf', 'disk_writer.elf', 'isolation.elf', 'irq_spin.elf', 'irq_wfi.elf', 'smc.elf']);
const guests = readdirSync(BIN).filter((f) => f.endsWith('.elf') && !ELSEWHERE.has(f)).sort();

/** QEMU 7.2's console output for a guest, where recorded. */
function expectedOutput(name: string): string | undefined {
  const path = join('guests/expected', name.replace(/\.elf$/, '.out'));
  return existsSync(path) ? readFileSync(path, 'latin1') : undefined;
}
/** smp_ipi needs 4 harts: devices.test.ts compares it. */
const recorded = guests.filter((g) => g !== 'smp_ipi.elf' && expectedOutput(g) !== undefined);

/** Each guest's run under direct paging, made once and compared against by the other modes. */
const directRuns = new Map<string, ReturnType<typeof runGuest>>();
function directRun(name: string): ReturnType<typeof runGuest> {
  let run = directRuns.get(name);
  if (!run) directRuns.set(name, (run = runGuest(join(BIN, name))));
  return run;
}

describe('self-checking guests', () => {
  it.each(guests)('%s passes every check on hv', async (name) => {
    const { output, result } = await directRun(name);
    expect(output).not.toMatch(/FAIL/);
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
  });

  it.each(guests)('%s prints the same under nested paging, through real G-stage walks', async (name) => {
    const direct = await directRun(name);
    const nested = await runGuest(join(BIN, name), { paging: 'nested' });
    expect(nested.output).toBe(direct.output);
    expect(nested.result).toEqual(direct.result);
    expect(nested.machine.instructions()).toBe(direct.machine.instructions());
    expect(direct.machine.stats().gstageWalks).toBe(0);
    expect(nested.machine.stats().gstageWalks).toBeGreaterThan(0);
  });

  it.each(guests)('%s prints the same under shadow paging, with guest page tables write-protected', async (name) => {
    const direct = await directRun(name);
    const shadow = await runGuest(join(BIN, name), { paging: 'shadow' });
    expect(shadow.output).toBe(direct.output);
    expect(shadow.result).toEqual(direct.result);
    expect(shadow.machine.instructions()).toBe(direct.machine.instructions());
  });

  it('the MMU guest under shadow paging builds shadow entries and catches page-table stores', async () => {
    const { machine } = await runGuest(join(BIN, 'mmu.elf'), { paging: 'shadow' });
    const s = machine.stats();
    expect(s.shadowFills).toBeGreaterThan(0);
    expect(s.wpFaults).toBeGreaterThan(0); // the guest remaps pages after first use
    expect(s.gstageWalks).toBe(0);
  });

  it.each(recorded)('%s prints the same bytes on hv as on qemu-system-riscv64 (guests/expected)', async (name) => {
    const { output } = await directRun(name);
    expect(output).toBe(expectedOutput(name));
  });
});

