// Density (docs/memory.md, "Density"): many small partitions on one
// threaded host, each running guests/sched/ticker.S (it prints the last
// digit of its tick count every 100 ms of its clock), in one salt group so
// that their identical pages share frames. The density test and
// `npm run bench -- density` both start them here and read the figures here.
import type { HostMemoryStats } from '../../runtime/host/controller.ts';
import type { Host } from '../../runtime/host/host.ts';
import { partitionSpec, type PartitionSpec } from '../../runtime/host/spec.ts';
import { overcommitOverhead } from '../../runtime/machine/overcommit.ts';
import { specHostBytes } from '../../runtime/machine/setup.ts';

export const TICKER = 'guests/bin/sched/ticker.elf';

/** The target of issue 11: host memory a partition may cost beyond its guest RAM. */
export const OVERHEAD_TARGET = 256 << 10;

/** Ticker partition `i`: one vCPU, `ram` bytes, nested paging, sharing with salt 1. */
export function tickerSpec(i: number, ram: number): PartitionSpec {
  return partitionSpec(`t${i}`, TICKER, { memory: ram, paging: 'nested', overcommit: { salt: 1 } });
}

/** Host memory (the frame pool) for `count` ticker partitions of `ram` bytes. */
export function tickerPool(count: number, ram: number): number {
  const each = specHostBytes(tickerSpec(0, ram));
  return count * each + overcommitOverhead(count * each);
}

/** What a ticker's console holds after n ticks: "1234567890123...". */
export function ticks(n: number): string {
  let s = '';
  for (let i = 1; i <= n; i++) s += String(i % 10);
  return s;
}

export interface Tickers {
  ids: number[];
  /** Each partition's console, as it arrives. */
  out: string[];
  /** Host memory before the first partition was created. */
  before: HostMemoryStats;
  createMs: number;
  startMs: number;
}

/** Creates `count` ticker partitions on `host`, then starts them all. */
export async function startTickers(host: Host, count: number, ram: number): Promise<Tickers> {
  const before = await host.hostMemory();
  const out: string[] = Array(count).fill('');
  const ids: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i++) ids.push(await host.create(tickerSpec(i, ram), (b) => (out[i] += Buffer.from(b).toString('latin1'))));
  const t1 = performance.now();
  await Promise.all(ids.map((id) => host.start(id)));
  return { ids, out, before, createMs: t1 - t0, startMs: performance.now() - t1 };
}

/** Resolves once every console shows at least `n` ticks (polled; the caller's timeout bounds it). */
export async function allTicked(out: readonly string[], n: number): Promise<void> {
  while (out.some((s) => s.length < n)) await new Promise((r) => setTimeout(r, 10));
}

/** Per partition, in bytes: what `count` partitions added to the host since `before`. */
export interface DensityFigures {
  /** Host memory beyond the frames that hold its guest RAM after sharing: tables, vCPU block, descriptor, the root's JS objects. */
  overhead: number;
  /** Frames holding its guest RAM after sharing (its private pages and its part of shared frames). */
  ram: number;
  /** overhead + ram: what it costs the host in all. */
  total: number;
}

/**
 * The figures from two hostMemory() readings around `count` partitions
 * (and nothing else created meanwhile). Frames waiting for a grace period
 * are neither: they are free a moment later.
 */
export function densityFigures(before: HostMemoryStats, after: HostMemoryStats, count: number): DensityFigures {
  const ramHeld = after.ramBytes - before.ramBytes;
  const frames = after.usedBytes - before.usedBytes - (after.sharing.pendingFree - before.sharing.pendingFree) * 4096;
  const fixed = after.vcpuBytes - before.vcpuBytes;
  const heap = Math.max(0, after.rootHeapBytes - before.rootHeapBytes);
  const overhead = (frames - ramHeld + fixed + heap) / count;
  return { overhead, ram: ramHeld / count, total: overhead + ramHeld / count };
}
