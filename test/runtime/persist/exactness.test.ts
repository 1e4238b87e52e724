// Save/restore is exact on the deterministic host (--icount): a guest saved
// at an arbitrary step and restored in a fresh `hv` process prints exactly
// what an uninterrupted run prints, ends the same way, and at a later step
// is in exactly the same state (registers, CSRs, RAM, devices).
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { guestState, hv } from '../../support/save.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hv-save-'));
});

/**
 * Runs `args` uninterrupted, and again saved at step `at`, restored, saved
 * at step `later`, restored again to the end; `disk` gives each run its own
 * copy of a disk image (the argument is its -drive option for a path).
 */
function checkExact(
  name: string,
  args: string[],
  at: number,
  later: number,
  disk?: { image: Uint8Array; drive: (path: string) => string[] },
  restoreArgs: string[] = [],
) {
  const withDisk = (run: string) => {
    if (!disk) return { args, image: '' };
    const image = join(dir, `${name}-${run}.img`);
    writeFileSync(image, disk.image);
    return { args: [...disk.drive(image), ...args], image };
  };
  const whole = withDisk('whole');
  const a = hv('run', '--icount', ...whole.args);
  const e = hv('run', ...withDisk('e').args, '--save', join(dir, `${name}-e.hvs`), '--save-after-insns', String(later));
  const parts = withDisk('parts');
  const b = hv('run', ...parts.args, '--save', join(dir, `${name}-b.hvs`), '--save-after-insns', String(at));
  expect(b.stderr).toContain(`saved the guest at step ${at}`);
  expect(b.code).toBe(0);
  const c = hv('restore', ...restoreArgs, join(dir, `${name}-b.hvs`), '--save', join(dir, `${name}-c.hvs`), '--save-after-insns', String(later));
  expect(c.stderr).toContain(`saved the guest at step ${later}`);
  const d = hv('restore', ...restoreArgs, join(dir, `${name}-c.hvs`));
  expect(b.stdout + c.stdout + d.stdout).toBe(a.stdout);
  expect(d.code).toBe(a.code);
  expect(d.stderr).toBe(a.stderr);
  // The state at step `later`, reached in one run and in two.
  expect(guestState(join(dir, `${name}-c.hvs`))).toEqual(guestState(join(dir, `${name}-e.hvs`)));
  expect(e.stdout).toBe(b.stdout + c.stdout);
  if (disk) expect(readFileSync(parts.image).equals(readFileSync(whole.image))).toBe(true);
}

describe('a guest saved and restored in a new process', () => {
  it('runs on exactly as if uninterrupted: timer and software interrupts (interrupts.elf)', () => {
    checkExact('interrupts', ['guests/bin/interrupts.elf'], 40_009, 90_001);
  });

  it('runs on exactly as if uninterrupted: four harts exchanging IPIs, saved inside a slice (smp_ipi.elf)', () => {
    checkExact('smp', ['-smp', '4', 'guests/bin/smp_ipi.elf'], 3_001, 6_007);
  });

  it('runs on exactly as if uninterrupted: an enlightened guest on the SBI firmware, two harts (sbi-smp.elf)', () => {
    checkExact('sbi-smp', ['-smp', '2', '-bios', 'hv', 'guests/bin/enlightened/sbi-smp.elf'], 77_777, 150_001);
  });

  it('runs on exactly as if uninterrupted: SBI timer interrupts (sbi-timer.elf)', () => {
    checkExact('sbi-timer', ['-bios', 'hv', 'guests/bin/enlightened/sbi-timer.elf'], 2_003, 6_011);
  });

  it('runs on exactly as if uninterrupted under another paging mode: its TLB and shadow tables are rebuilt, not carried (mmu.elf, asid.elf)', () => {
    checkExact('mmu-shadow', ['--paging', 'nested', 'guests/bin/mmu.elf'], 50_021, 80_033, undefined, ['--paging', 'shadow']);
    checkExact('asid', ['guests/bin/asid.elf'], 45_007, 70_001, undefined, ['--paging', 'nested']);
  });

  it('runs on exactly as if uninterrupted with a synthetic disk on VMBus, saved between its requests and inside one (vmbus-disk.elf)', () => {
    const image = new Uint8Array(1 << 20);
    image.set(new TextEncoder().encode('VMBUS-DISK-TEST: sector 0\n'));
    const disk = { image, drive: (path: string) => ['-drive', `file=${path},if=vmbus`] };
    const args = ['-bios', 'hv', 'guests/bin/enlightened/vmbus-disk.elf'];
    checkExact('vmbus-disk', args, 1_300_007, 2_000_003, disk);
    checkExact('vmbus-disk-early', args, 400_001, 900_017, disk); // while it negotiates and opens the channel
  });

  it('runs on exactly as if uninterrupted and writes its disk the same way (virtio_blk.elf)', () => {
    const image = new Uint8Array(64 * 1024);
    const msg = new TextEncoder().encode('RVHV virtio-blk test disk\n');
    image.set(msg);
    for (let i = msg.length; i < image.length; i++) image[i] = (i * 7) & 0xff;
    const drive = (path: string) => ['-m', '16M', '-drive', `file=${path},format=raw,if=virtio`];
    checkExact('blk', ['guests/bin/virtio_blk.elf'], 12_011, 27_013, { image, drive });
  });
});
