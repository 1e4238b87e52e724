// The threaded host (runtime/host/host.ts):
//  - smp: aggregate guest MIPS of two CPU-bound guests on 2 pCPU threads
//    against one guest on 1 pCPU (target >= 1.7x);
//  - exits: the cost of a VM exit to the root partition (a device access
//    serviced on the root's thread) against the same access served
//    synchronously on the vCPU's thread (deterministic mode) and on QEMU.
import { Host } from '../runtime/host/host.ts';
import { partitionSpec, type PartitionSpec } from '../runtime/host/spec.ts';
import { runGuest } from '../test/support/guest.ts';
import { CPU_GUEST } from './cpu.ts';
import { bestOf, qemuAvailable, timeQemu } from './qemu.ts';

const EXITS_GUEST = 'guests/bin/exits.elf';
const EXITS = 20_000; // device reads the guest makes (guests/bench/exits/exits.c)

function spec(name: string, kernel: string): PartitionSpec {
  return partitionSpec(name, kernel, { memory: 32 << 20 });
}

/** Runs `count` copies of `kernel` at once on a host of `pcpus` threads: wall seconds and instructions. */
async function runOnHost(pcpus: number, kernel: string, count: number): Promise<{ seconds: number; instructions: number }> {
  const host = await Host.start({ pcpus, memoryBytes: 256 << 20 });
  try {
    const ids: number[] = [];
    for (let i = 0; i < count; i++) ids.push(await host.create(spec(`g${i}`, kernel)));
    const t0 = performance.now();
    for (const id of ids) await host.start(id);
    for (const id of ids) await host.wait(id);
    const seconds = (performance.now() - t0) / 1000;
    let instructions = 0;
    for (const id of ids) instructions += (await host.stats(id)).totals.instructions;
    return { seconds, instructions };
  } finally {
    await host.close();
  }
}

async function best(n: number, f: () => Promise<{ seconds: number; instructions: number }>) {
  let b: { seconds: number; instructions: number } | undefined;
  for (let i = 0; i < n; i++) {
    const r = await f();
    if (!b || r.seconds < b.seconds) b = r;
  }
  return b!;
}

export async function benchSmp(): Promise<void> {
  const one = await best(2, () => runOnHost(1, CPU_GUEST, 1));
  const two = await best(2, () => runOnHost(2, CPU_GUEST, 2));
  const mips = (r: { seconds: number; instructions: number }) => r.instructions / r.seconds / 1e6;
  console.log(`smp: 1 guest on 1 pCPU: ${mips(one).toFixed(1)} MIPS (${one.seconds.toFixed(2)} s)`);
  console.log(`smp: 2 guests on 2 pCPUs: ${mips(two).toFixed(1)} MIPS aggregate (${two.seconds.toFixed(2)} s)`);
  console.log(`smp: scaling 2 pCPUs / 1 pCPU = ${(mips(two) / mips(one)).toFixed(2)}x (target >= 1.7x)`);
}

export async function benchExits(): Promise<void> {
  const sync = await best(3, async () => {
    const t0 = performance.now();
    const { machine } = await runGuest(EXITS_GUEST, { clock: 'realtime' });
    return { seconds: (performance.now() - t0) / 1000, instructions: machine.instructions() };
  });
  const threaded = await best(3, () => runOnHost(1, EXITS_GUEST, 1));
  const us = (s: number) => (s * 1e6) / EXITS;
  console.log(`exits: ${EXITS} device reads, synchronous on the vCPU's thread (deterministic): ${us(sync.seconds).toFixed(2)} us each`);
  console.log(
    `exits: as VM exits to the root partition's thread (1 pCPU): ${us(threaded.seconds).toFixed(2)} us each, ` +
      `${(threaded.seconds / sync.seconds).toFixed(1)}x the synchronous call`,
  );
  if (!qemuAvailable()) return;
  const base = bestOf(3, () => timeQemu(['-bios', 'none', '-kernel', 'guests/bin/hello.elf']));
  const q = bestOf(3, () => timeQemu(['-bios', 'none', '-kernel', EXITS_GUEST]));
  const qs = Math.max(q.seconds - base.seconds, 1e-4);
  console.log(`exits: qemu-system-riscv64 (device emulated in the vCPU thread): ${us(qs).toFixed(2)} us each; threaded hv/qemu = ${(threaded.seconds / qs).toFixed(1)}`);
}
