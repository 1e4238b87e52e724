// Hypervisor swap on the threaded host: the guest's vCPU runs on a pCPU
// thread while the root partition's thread evicts its pages (HostController
// swapOut, the lab's knob) and serves its swap-in exits; the guest checks a
// pattern over 4 MiB three times and passes only if every page came back
// with its bytes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlError } from '../../../runtime/host/controller.ts';
import { Host } from '../../../runtime/host/host.ts';
import { partitionSpec } from '../../../runtime/host/spec.ts';

describe('hypervisor swap on the threaded host', () => {
  let host: Host;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hv-swap-threaded-'));
    host = await Host.start({ pcpus: 2, memoryBytes: 64 << 20 });
  });
  afterAll(async () => {
    await host?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['nested', 'shadow'] as const)('the root evicts pages while the vCPU runs on its pCPU, and every page comes back (%s paging)', async (paging) => {
    const id = await host.create(
      partitionSpec(`pattern-${paging}`, 'guests/bin/swap_pattern.elf', { memory: 8 << 20, paging, overcommit: { swap: { dir, lowWatermark: 0 } } }),
    );
    await host.start(id);
    let done = false;
    const result = host.wait(id).then((r) => ((done = true), r));
    let evictions = 0;
    while (!done) {
      try {
        await host.swapOut(id, 512);
        evictions++;
      } catch (e) {
        if (!(e instanceof ControlError) || !/finished/.test(e.message)) throw e;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await result).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
    const swap = (await host.stats(id)).totals.memory!.swap!;
    expect(evictions).toBeGreaterThan(0);
    expect(swap.swappedOut).toBeGreaterThan(1000); // ~6,400 in a measured run
    expect(swap.swappedIn).toBeGreaterThan(1000); // ~5,400: through swap-in exits served by the root
    expect(swap.swappedOut - swap.swappedIn).toBe(swap.swapped);
    await host.destroy(id);
  });

  it('swapOut of a partition without a swap file is a ControlError', async () => {
    const id = await host.create(partitionSpec('plain', 'guests/bin/hello.elf', { memory: 1 << 20, paging: 'nested', overcommit: {} }));
    await expect(host.swapOut(id, 1)).rejects.toThrow(/has no swap file/);
    await host.destroy(id);
  });
});
