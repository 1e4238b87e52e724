// Hypervisor swap under a running Linux (docs/memory.md): the host evicts
// its pages while it boots (256 every 100 rounds, as a busy kswapd), then puts
// nearly all it holds in the swap file at the shell; Linux runs its
// commands from there, every page it touches coming back through a
// swap-in exit. Runs on the deterministic host, in this process, so the
// test can evict between rounds.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../runtime/host/hypervisor.ts';
import { partitionSpec } from '../../runtime/host/spec.ts';
import { setupPartition, specHostBytes } from '../../runtime/machine/setup.ts';
import { linuxImage, PROMPT, until } from '../support/linux.ts';

const image = linuxImage();
const TEST_MS = 240_000;
const MiB = 1 << 20;

describe.skipIf(!image)('Linux with hypervisor swap', () => {
  it.each(['nested', 'shadow'] as const)(
    'boots while the host evicts its pages, and runs commands with nearly all its RAM in the swap file (%s paging)',
    async (paging) => {
      const dir = mkdtempSync(join(tmpdir(), 'hv-linux-swap-'));
      try {
        const spec = partitionSpec('linux', image!, { memory: 64 * MiB, paging, boot: 'enlightened', overcommit: { swap: { dir, lowWatermark: 0 } } });
        const hv = new Hypervisor(specHostBytes(spec));
        let out = '';
        const { machine } = setupPartition(spec, hv, { onConsole: (b) => (out += Buffer.from(b).toString('latin1')), clock: 'icount' });
        hv.sharePagesPerRound = 0; // swap alone
        const oc = machine.overcommit!;
        let evicting = true;
        let rounds = 0;
        const before = machine.beforeRound.bind(machine);
        machine.beforeRound = () => {
          before();
          // 256 pages every 100 rounds (of 100,000 instructions), one turn of
          // the clock each: what was just swapped in runs first.
          if (evicting && ++rounds % 100 === 0) oc.swap!.swapOut(256, 1);
        };
        const running = machine.run({ timeoutMs: TEST_MS - 30_000 });
        const tail = () => out.slice(-1500);
        await until(() => PROMPT.test(out), 150_000, () => `no shell prompt:\n${tail()}`);
        expect(out).not.toMatch(/Kernel panic|unhandled signal|Oops/);
        const booted = oc.stats().swap!;
        expect(booted.swappedIn).toBeGreaterThan(500); // the boot took pages back all along

        evicting = false;
        const resident = oc.map().private;
        const evicted = oc.swapOut(64 * MiB / 4096);
        expect(evicted).toBeGreaterThan(0.9 * resident);
        expect(oc.map().swapped * 4096).toBeGreaterThan(8 * MiB); // most of what Linux holds
        const run = async (command: string): Promise<string> => {
          const from = out.length;
          machine.input(command + '\n');
          await until(() => PROMPT.test(out.slice(from)), 60_000, tail);
          return out.slice(from);
        };
        expect(await run('echo still here')).toContain('still here');
        expect(await run('ls /bin | wc -l; grep -c processor /proc/cpuinfo')).toMatch(/\n\d{2,}\r?\n1\r?\n/);
        expect(oc.stats().swap!.swappedIn).toBeGreaterThan(booted.swappedIn + 50);
        expect(readdirSync(dir)).toEqual([]);

        machine.input('poweroff\n');
        await running;
        expect(machine.result).toMatchObject({ kind: 'exit', code: 0 });
        expect(out).not.toMatch(/Kernel panic|unhandled signal|Oops/);
        machine.releaseMemory();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    TEST_MS,
  );
});
