// A guest trying to reach what is not its own — memory past its RAM, hv's own
// memory at low host addresses, holes, huge addresses, a page-table loop, a
// flood of faulting exits — gets architectural faults in every paging mode,
// and the host carries on.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../support/guest.ts';

describe('isolation', () => {
  it.each(['direct', 'nested', 'shadow'] as const)('every escape attempt faults under %s paging', async (paging) => {
    const { output, result } = await runGuest('guests/bin/isolation.elf', { ramSize: 64 << 20, paging });
    expect(output).not.toMatch(/FAIL/);
    expect(output).toMatch(/PASSED all 39 checks/);
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
  });

  it('guest stores outside RAM leave host memory untouched', async () => {
    const { machine } = await runGuest('guests/bin/isolation.elf', { ramSize: 64 << 20 });
    const host = new Uint8Array(machine.memory.buffer as ArrayBuffer);
    // The prober stored 0xdeadbeef at guest addresses that equal these host addresses.
    for (const addr of [0x0, 0x0020_0000, 0x0120_0000]) {
      const word = new DataView(host.buffer, addr, 8).getBigUint64(0, true);
      expect(word).not.toBe(0xdeadbeefn);
    }
  });

  it('a trap storm (a handler that faults forever) still ends the slice, so the host stays in control', () => {
    // csrw mtvec, zero; ecall -> the handler at 0 faults on fetch, and again, forever.
    const dir = mkdtempSync(join(tmpdir(), 'hv-storm-'));
    const image = join(dir, 'storm.bin');
    const words = new Uint32Array([0x3050_1073, 0x0000_0073]);
    writeFileSync(image, new Uint8Array(words.buffer));
    const r = spawnSync(process.execPath, ['bin/hv.js', 'run', '--timeout', '1', '-kernel', image], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(124);
    expect(r.stderr).toMatch(/timeout after 1 s/);
  });
});
