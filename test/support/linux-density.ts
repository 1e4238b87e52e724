// N identical Linux guests on one host with a memory cap (docs/memory.md,
// issue 11): the same kernel and initramfs, overcommit with one salt (their
// identical pages merge across them) and a balloon each, on the
// deterministic host so the figures are read between rounds. Used by
// test/guests/linux-density.test.ts and `npm run bench -- memory`.
import { Hypervisor } from '../../runtime/host/hypervisor.ts';
import { partitionSpec } from '../../runtime/host/spec.ts';
import { hostPoolBytes, setupPartition } from '../../runtime/machine/setup.ts';
import type { Machine } from '../../runtime/machine/machine.ts';
import type { PartitionMemoryMap } from '../../runtime/machine/overcommit.ts';
import { PROMPT } from './linux.ts';

const END = /(^|\n)hv:[^\n#]*# $|Kernel panic/;

export interface DensityRun {
  hv: Hypervisor;
  machines: Machine[];
  /** Each guest's console. */
  outs: string[];
  /** Did every guest reach its shell prompt? */
  allAtShell: boolean;
  /** Host frames in use (bytes) when the last guest reached its shell, and after one more full pass of the scanner. */
  usedAtShell: number;
  usedAfterScan: number;
  /** Each guest's pages by where they live, after that pass. */
  maps: PartitionMemoryMap[];
  ms: number;
}

/**
 * Boots `guests` Linux guests of `ram` bytes from `image` on a host whose
 * frame pool is `hostMemory` (--host-memory), each stopping at its shell
 * prompt (or a panic), and reads the host's frames.
 */
export async function bootIdenticalLinux(image: string, guests: number, ram: number, hostMemory: number, timeoutMs = 240_000): Promise<DensityRun> {
  const specs = Array.from({ length: guests }, (_, i) =>
    partitionSpec(`linux${i}`, image, { memory: ram, paging: 'nested', boot: 'enlightened', overcommit: { salt: 1, balloon: true } }),
  );
  const t0 = performance.now();
  const hv = new Hypervisor(hostPoolBytes(specs, hostMemory));
  const k = hv.kernel.exports;
  const outs = specs.map(() => '');
  const machines: Machine[] = [];
  specs.forEach((spec, i) => {
    const { machine } = setupPartition(spec, hv, {
      onConsole: (b) => {
        outs[i] += Buffer.from(b).toString('latin1');
        if (END.test(outs[i]!)) machines[i]?.limit(0); // at its shell (or its panic): it has done its part
      },
      clock: 'icount',
    });
    machines.push(machine);
  });
  await hv.run({ timeoutMs });
  const usedAtShell = k.framesUsed() * 4096;
  // One more pass over every guest's pages (what the scanner does next, at any rate).
  k.shareScan(k.sharePages());
  k.shareReclaim();
  return {
    hv, machines, outs, allAtShell: outs.every((o) => PROMPT.test(o)), usedAtShell, usedAfterScan: k.framesUsed() * 4096,
    maps: machines.map((m) => m.overcommit!.map()), ms: performance.now() - t0,
  };
}
