// Page sharing under a running Linux (docs/memory.md, issue 11): the scanner
// made aggressive (1,024 pages between rounds of the deterministic host), so
// pages are merged, broken and their frames reused while Linux boots. Before
// the fix to the interpreter's fetch page (test/kernel/fetch-page.test.ts)
// init died of SIGSEGV here at ~0.075 s guest time, in both paging modes.
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../runtime/host/hypervisor.ts';
import { partitionSpec } from '../../runtime/host/spec.ts';
import { setupPartition, specHostBytes } from '../../runtime/machine/setup.ts';
import type { Machine } from '../../runtime/machine/machine.ts';
import { linuxImage, PROMPT } from '../support/linux.ts';

const image = linuxImage();
const MiB = 1 << 20;
const END = /(^|\n)hv:[^\n#]*# $|Kernel panic/;

describe.skipIf(!image)('Linux with page sharing', () => {
  it.each(['nested', 'shadow'] as const)('boots to its shell under %s paging with the scanner merging 1,024 pages a round', async (paging) => {
    const spec = partitionSpec('linux', image!, { memory: 64 * MiB, paging, boot: 'enlightened', overcommit: {} });
    const hv = new Hypervisor(specHostBytes(spec));
    let out = '';
    let m: Machine | undefined;
    const { machine } = setupPartition(spec, hv, {
      onConsole: (b) => {
        out += Buffer.from(b).toString('latin1');
        if (END.test(out)) m?.limit(0); // the shell, or the panic: enough either way
      },
      clock: 'icount',
    });
    m = machine;
    hv.sharePagesPerRound = 1024;
    await machine.run({ timeoutMs: 120_000 });
    expect(out).not.toMatch(/Kernel panic|unhandled signal/);
    expect(out).toMatch(PROMPT);
    const pages = machine.overcommit!.map();
    // Zero pages Linux wrote, merged and their frames freed for reuse (RAM it never wrote is unpopulated: nothing to merge).
    expect(pages.zero).toBeGreaterThan(300);
    expect(pages.cowBreaks).toBeGreaterThan(100);
  }, 150_000);
});
