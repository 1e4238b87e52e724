// `npm run bench -- vmbus`: VMBus against its references, each in this run.
//  - the ring primitive between two threads (ring.ts), against memcpy + Atomics;
//  - guest disk I/O: the same sequential reads of the same image through
//    synthetic storage (storvsc on VMBus) and through virtio-blk, on the
//    threaded host (guests/enlightened/disk-bench.c): throughput as the guest
//    times its reads, VM exits to the root partition per request and the
//    root partition's thread's busy time per request (its event loop's
//    active time; a run of 0 requests gives the set-up's, taken off).
//    storvsc's channel is served by the endpoint worker (docs/vmbus.md).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host } from '../runtime/host/host.ts';
import { partitionSpec } from '../runtime/host/spec.ts';
import { benchRing } from './ring.ts';

const GUEST = 'guests/bin/enlightened/disk-bench.elf';
const IMAGE_BYTES = 16 << 20; // the guest's reads wrap around its first 16 MiB
const MTIME_HZ = 10_000_000;

interface DiskRun {
  seconds: number;
  exits: number;
  /** The root's thread busy from create to destroy (ms). */
  rootMs: number;
}

async function runGuest(host: Host, image: string, path: 'vmbus' | 'virtio', reqs: number, size: number): Promise<DiskRun> {
  const spec = partitionSpec(`disk-bench-${path}`, GUEST, {
    boot: 'enlightened', memory: 32 << 20, append: `reqs=${reqs} size=${size}`, disks: [{ path: image, format: 'raw', readonly: true, if: path }],
  });
  let out = '';
  const busy0 = await host.rootBusyMs();
  const id = await host.create(spec, (b) => (out += Buffer.from(b).toString('latin1')));
  try {
    await host.start(id);
    const result = await host.wait(id);
    const m = /disk-bench: \S+ (\d+) reads of (\d+) bytes in (\d+) ticks/.exec(out);
    if (result.kind !== 'exit' || result.code !== 0 || !m) throw new Error(`disk-bench on ${path} failed (${JSON.stringify(result)}): ${out}`);
    const stats = await host.stats(id);
    const exits = stats.vcpuStats.reduce((n, v) => n + v.exits.mmio + v.exits.sbi + v.exits.htif + v.exits.other, 0);
    return { seconds: Number(m[3]) / MTIME_HZ, exits, rootMs: (await host.rootBusyMs()) - busy0 };
  } finally {
    await host.destroy(id);
  }
}

export async function benchVmbusDisk(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hv-bench-vmbus-'));
  const image = join(dir, 'disk.img');
  writeFileSync(image, Buffer.alloc(IMAGE_BYTES, 0x5a));
  const host = await Host.start({ pcpus: 2, memoryBytes: 128 << 20 });
  try {
    const lends = (await host.endpointStats()).lends;
    console.log('vmbus disk: sequential reads of one raw image from an enlightened guest (threaded host, 2 pCPUs), best of 3');
    console.log('  request  | path        |   MB/s  requests/s | VM exits/request | root busy µs/request | storvsc/virtio-blk');
    for (const [size, reqs] of [
      [4096, 2000],
      [65536, 1000],
    ] as const) {
      const figures = new Map<string, { mbs: number; rps: number; exits: number }>();
      for (const path of ['virtio', 'vmbus'] as const) {
        const base = await runGuest(host, image, path, 0, size);
        let best: DiskRun | undefined;
        for (let i = 0; i < 3; i++) {
          const r = await runGuest(host, image, path, reqs, size);
          if (!best || r.seconds < best.seconds) best = r;
        }
        const f = { mbs: (reqs * size) / best!.seconds / 1e6, rps: reqs / best!.seconds, exits: (best!.exits - base.exits) / reqs, rootUs: ((best!.rootMs - base.rootMs) * 1000) / reqs };
        figures.set(path, f);
        const ratio = path === 'vmbus' ? `${(f.mbs / figures.get('virtio')!.mbs).toFixed(2)}x throughput, ${(f.exits / figures.get('virtio')!.exits).toFixed(2)}x exits` : '';
        const label = `${size / 1024} KiB`.padEnd(8);
        console.log(`  ${label} | ${(path === 'vmbus' ? 'storvsc' : 'virtio-blk').padEnd(11)} | ${f.mbs.toFixed(1).padStart(6)} ${f.rps.toFixed(0).padStart(11)} | ${f.exits.toFixed(2).padStart(16)} | ${f.rootUs.toFixed(1).padStart(20)} | ${ratio}`);
      }
    }
    console.log(`  storvsc channels lent to the endpoint worker: ${(await host.endpointStats()).lends - lends}`);
  } finally {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchVmbus(): Promise<void> {
  await benchRing();
  await benchVmbusDisk();
}
