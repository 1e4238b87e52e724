// Density with overcommit (docs/memory.md, issue 11): Linux guests from one
// kernel and initramfs, whose RAM adds up to many times the host memory
// given, all reach their shells. What makes it fit: their RAM is
// demand-allocated (a page takes a frame when first written), they share a
// salt, so the scanner merges their identical pages (kernel text, the
// initramfs) across them, and when the pool runs dry the no-memory exit
// reclaims what sharing can before anyone is stopped.
import { describe, expect, it } from 'vitest';
import { bootIdenticalLinux } from '../support/linux-density.ts';
import { linuxImage } from '../support/linux.ts';

const image = linuxImage();
const MiB = 1 << 20;
const GUESTS = 4;
const RAM = 128 * MiB;
const HOST_MEMORY = 32 * MiB;

describe.skipIf(!image)('Linux guests in a fraction of their RAM', () => {
  it(`${GUESTS} guests of ${RAM / MiB} MiB boot to their shells on a host with ${HOST_MEMORY / MiB} MiB`, async () => {
    const run = await bootIdenticalLinux(image!, GUESTS, RAM, HOST_MEMORY);
    for (const [i, out] of run.outs.entries()) {
      expect(out, `linux${i}`).not.toMatch(/Kernel panic|unhandled signal|Out of memory/);
      expect(run.machines[i]!.result, `linux${i}`).toEqual({ kind: 'insn-limit' }); // stopped at its prompt
    }
    expect(run.allAtShell).toBe(true);
    expect(run.usedAtShell).toBeLessThanOrEqual(HOST_MEMORY);
    // Each guest wrote thousands of pages, more in all than the host has: they
    // boot the same way, so most of their pages are the same and merge.
    const written = run.maps.map((p) => p.private + p.shared + p.zero);
    for (const w of written) expect(w).toBeGreaterThan(2000);
    expect(written.reduce((a, b) => a + b, 0) * 4096).toBeGreaterThan(HOST_MEMORY);
    expect(run.maps.reduce((n, p) => n + p.shared, 0)).toBeGreaterThan((GUESTS - 1) * 1000);
    console.log(
      `${GUESTS} x ${RAM / MiB} MiB Linux at their shells on ${HOST_MEMORY / MiB} MiB: ${(run.usedAtShell / MiB).toFixed(1)} MiB of host frames ` +
        `(${(run.usedAfterScan / MiB).toFixed(1)} after a full scan) for ${written.map((w) => ((w * 4096) / MiB).toFixed(1)).join(' + ')} MiB written, ${(run.ms / 1000).toFixed(1)} s`,
    );
  }, 300_000);
});
