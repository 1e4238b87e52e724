// 192 toy partitions at once (Hyper-V's first release allowed 192 VMs on 24
// cores): every one boots, runs hello.elf and exits; prints the host memory
// each partition costs beyond its guest RAM (target at most 256 KiB): its
// vCPU block and descriptor in host memory, second-stage structures, and the
// JS heap of its board's device models.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Host } from '../runtime/host/host.ts';
import { Hypervisor } from '../runtime/host/hypervisor.ts';
import { partitionSpec } from '../runtime/host/spec.ts';
import { parseElf } from '../runtime/loader/elf.ts';
import { Machine, type MachineConfig, type PagingMode } from '../runtime/machine/machine.ts';

const COUNT = 192;
const RAM = 2 << 20;

export async function benchPartitions(): Promise<void> {
  const image = parseElf(readFileSync('guests/bin/hello.elf'));
  for (const paging of ['direct', 'nested'] as PagingMode[]) {
    const config: Omit<MachineConfig, 'onConsole'> = { ramSize: RAM, harts: 1, paging, clock: 'icount' };
    globalThis.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const hv = new Hypervisor(COUNT * Machine.hostBytes({ ...config, onConsole: () => {} }));
    const k = hv.kernel.exports;
    const framesBefore = k.framesUsed();
    let greetings = 0;
    const machines: Machine[] = [];
    const t0 = performance.now();
    for (let i = 0; i < COUNT; i++) {
      const m = new Machine({ ...config, onConsole: (b) => (greetings += Buffer.from(b).toString().split('\n').length - 1) }, hv);
      m.boot(m.loadElf(image), m.placeDtb());
      machines.push(m);
    }
    const framesAfter = k.framesUsed();
    globalThis.gc?.();
    const heapPer = (process.memoryUsage().heapUsed - heap0) / COUNT;
    await hv.run({ timeoutMs: 120_000 });
    const seconds = (performance.now() - t0) / 1000;
    const finished = machines.filter((m) => m.result?.kind === 'exit' && m.result.code === 0).length;
    // Frames beyond guest RAM (G-stage tables), plus each partition's vCPU block and descriptor.
    const ramFrames = (COUNT * RAM) / 4096;
    const hostPer = ((framesAfter - framesBefore - ramFrames) * 4096) / COUNT + hv.kernel.layout.vcpuSize + 256;
    const total = hostPer + heapPer;
    console.log(
      `partitions: ${paging.padEnd(6)} ${finished}/${COUNT} finished (${greetings} greetings) in ${seconds.toFixed(2)} s; ` +
        `overhead per partition beyond its RAM: host memory ${(hostPer / 1024).toFixed(1)} KiB + JS heap ${(heapPer / 1024).toFixed(1)} KiB ` +
        `= ${(total / 1024).toFixed(1)} KiB (target <= 256 KiB)${globalThis.gc ? '' : ' [heap without --expose-gc: approximate]'}`,
    );
  }
}

/** The same 192 partitions on a threaded host: every pCPU thread runs them, the root services their UART exits. */
export async function benchPartitionsThreaded(): Promise<void> {
  const pcpus = availableParallelism();
  const host = await Host.start({ pcpus, memoryBytes: COUNT * (RAM + (64 << 10)) + (16 << 20) });
  try {
    const t0 = performance.now();
    const ids: number[] = [];
    for (let i = 0; i < COUNT; i++) {
      ids.push(await host.create(partitionSpec(`p${i}`, 'guests/bin/hello.elf', { memory: RAM, paging: 'nested' })));
    }
    const created = performance.now();
    for (const id of ids) await host.start(id);
    const results = await Promise.all(ids.map((id) => host.wait(id)));
    const finished = results.filter((r) => r.kind === 'exit' && r.code === 0).length;
    const exits = (await Promise.all(ids.map((id) => host.stats(id)))).reduce((n, s) => n + s.vcpuStats[0]!.mmioExits, 0);
    console.log(
      `partitions: threaded (${pcpus} pCPUs, nested) ${finished}/${COUNT} finished; created in ${((created - t0) / 1000).toFixed(2)} s, ` +
        `ran in ${((performance.now() - created) / 1000).toFixed(2)} s with ${exits} VM exits to the root partition`,
    );
  } finally {
    await host.close();
  }
}
