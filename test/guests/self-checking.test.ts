// Our own bare-metal guests (guests/bin) on hv, and — when QEMU is installed —
// differentially against qemu-system-riscv64 -M virt on the same ELF: the
// console output must be byte-identical.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../support/guest.ts';

const BIN = 'guests/bin';
/** Guests that need a disk or run too long for a unit test are covered elsewhere. */
const ELSEWHERE = new Set(['cpu.elf', 'virtio_blk.elf', 'isolation.elf', 'irq_spin.elf', 'irq_wfi.elf']);
const guests = readdirSync(BIN).filter((f) => f.endsWith('.elf') && !ELSEWHERE.has(f)).sort();

const qemu = spawnSync('qemu-system-riscv64', ['--version']).status === 0;

function runQemu(elf: string): { stdout: string; code: number | null } {
  const r = spawnSync(
    'qemu-system-riscv64',
    // -icount: QEMU's time from instruction counts (1 ns each, as hv's
    // icount clock), idle time skipped. Without it a guest's timer tests
    // depend on how busy the machine is; under a loaded test run QEMU once
    // waited out the 30 s limit on interrupts.elf.
    ['-M', 'virt', '-bios', 'none', '-nographic', '-m', '64M', '-icount', 'shift=0,sleep=off', '-kernel', elf],
    { encoding: 'latin1', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return { stdout: r.stdout, code: r.status };
}

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

  describe.skipIf(!qemu)('against QEMU', () => {
    it.each(guests)('%s prints the same bytes on hv and on qemu-system-riscv64', async (name) => {
      const elf = join(BIN, name);
      const ours = await runGuest(elf);
      const theirs = runQemu(elf);
      expect(ours.output).toBe(theirs.stdout);
      expect(theirs.code).toBe(0);
    });
  });
  if (!qemu) it.skip('differential runs need qemu-system-riscv64 (apt-get install qemu-system-misc)', () => {});
});

