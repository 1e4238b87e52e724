// Benchmark: memory overcommit (kernel/mm/share*.ts, docs/memory.md), each
// figure with its reference measured in the same run:
//  - scan throughput: the scanner over a partition of unique pages (leaf
//    walk, zero test, hash, table probe), against the scanner's hash alone
//    over the same frames in the same order, in the same kernel instance,
//    and over the same bytes as one contiguous run; interleaved passes, the
//    median and the best of each (one pass is ~25 ms: on a loaded machine a
//    single pass preempted once read 35% of its reference, measured);
//  - metadata: host frames page sharing takes, per frame of the pool;
//  - COW break cost: a host write to a shared page (copy, remap,
//    shootdown) and to a zero-frame page, against a write to a private page;
//  - balloon inflate rate: pages taken out of a partition and their frames
//    freed, per second;
//  - hypervisor swap: swap-in latency against a plain 4 KiB pread of the
//    same file (bench/memory-swap.ts);
//  - memory saved for N identical Linux guests: the host frames they hold
//    at their shells on a host with a memory cap, against N x their RAM.
import { loadavg } from 'node:os';
import { Hypervisor } from '../runtime/host/hypervisor.ts';
import { Machine } from '../runtime/machine/machine.ts';
import { sharingCounters } from '../runtime/machine/overcommit.ts';
import { benchSwap } from './memory-swap.ts';
import { bootIdenticalLinux } from '../test/support/linux-density.ts';
import { linuxImage } from '../test/support/linux.ts';

const RAM = 0x8000_0000;
const PAGE = 4096;
const RAM_SIZE = 256 << 20;
const PAGES = RAM_SIZE / PAGE;

/** The scan bench's scratch partition: one u32 per page of the other, the frames' list. */
const SCRATCH = { ramSize: 1 << 20, harts: 1, paging: 'direct' as const, onConsole: () => {} };

/** The overcommit partition's host has room for SCRATCH too. */
function machine(overcommit: boolean): Machine {
  const config = { ramSize: RAM_SIZE, harts: 1, paging: 'nested' as const, onConsole: () => {}, ...(overcommit ? { overcommit: {} } : {}) };
  const bytes = Machine.hostBytes({ ...config, overcommit: {} }) + (overcommit ? Machine.hostBytes(SCRATCH) : 0);
  return new Machine(config, new Hypervisor(bytes));
}

/** RAM_SIZE bytes whose every page is different (an xorshift stream). */
function uniquePages(): Uint8Array {
  const words = new Uint32Array(RAM_SIZE / 4);
  let x = 0x9e37_79b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer);
}

function seconds(f: () => void): number {
  const t0 = performance.now();
  f();
  return (performance.now() - t0) / 1000;
}

const gbps = (bytes: number, s: number) => (bytes / s / 1e9).toFixed(2);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const us = (s: number, n: number) => ((s / n) * 1e6).toFixed(2);

export async function benchMemory(): Promise<void> {
  console.log(`memory overcommit (one ${RAM_SIZE >> 20} MiB nested partition)`);

  // Metadata: frames used with and without overcommit, the same partition
  // with the same bytes in every page (overcommit RAM takes its frames as it
  // is written; the other's is one run).
  const bytes = uniquePages();
  const plain = machine(false);
  plain.ram.set(bytes);
  const m = machine(true);
  m.guestMemory.write(RAM, bytes);
  const k = m.kernel.exports;
  const metaFrames = k.framesUsed() - plain.kernel.exports.framesUsed();
  const poolFrames = Math.floor(m.memory.buffer.byteLength / PAGE);
  console.log(
    `  metadata          ${((metaFrames * PAGE) / poolFrames).toFixed(1)} bytes per host frame (${metaFrames} frames for a ${poolFrames}-frame memory), ${((100 * metaFrames * PAGE) / RAM_SIZE).toFixed(2)}% of guest RAM`,
  );

  // Scan throughput. The first pass fills the table; then the scan, its
  // hash alone over the frames it reads (listed in page order, in the
  // scratch partition) and over the plain partition's run, taken in turns.
  const first = seconds(() => k.shareScan(PAGES));
  const scratch = new Machine(SCRATCH, m.hypervisor);
  const list = new Uint32Array(scratch.ram.buffer, scratch.ram.byteOffset, PAGES);
  let runs = 1;
  for (let i = 0; i < PAGES; i++) {
    list[i] = Number(k.partitionHostPeek(m.id, BigInt(RAM + i * PAGE)));
    if (i && list[i] !== list[i - 1] + PAGE) runs++;
  }
  const ROUNDS = 9;
  const scan: number[] = [], listed: number[] = [], run: number[] = [], ratio: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    scan.push(seconds(() => k.shareScan(PAGES)));
    listed.push(seconds(() => k.hashFrameList(scratch.ramHostAddress, PAGES)));
    run.push(seconds(() => plain.kernel.exports.hashFrames(plain.ramHostAddress, PAGES)));
    ratio.push(listed[r] / scan[r]);
  }
  const c = sharingCounters(m.kernel);
  if (c.merges !== 0) throw new Error(`unique pages merged (${c.merges})`);
  const rate = (t: number[]) => `${gbps(RAM_SIZE, median(t))} GB/s (best ${gbps(RAM_SIZE, Math.min(...t))})`;
  console.log(`  scan              ${rate(scan)}, ${ROUNDS} passes over ${PAGES} private pages on one core: leaf walk, zero test, hash, table probe (${gbps(RAM_SIZE, first)} GB/s filling the table)`);
  console.log(
    `  hash, its frames  ${rate(listed)}: the scanner's hash alone over the frames the scan read, in its order; the scan runs at ${(100 * median(ratio)).toFixed(0)}% of it (median of the passes' ratios)`,
  );
  console.log(`  hash, one run     ${rate(run)}: the same bytes in one contiguous run (the scan's frames are ${runs} run${runs === 1 ? '' : 's'})`);
  console.log(`  load average      ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);

  // COW breaks: 4096 pages shared (one content), 4096 zero-frame pages, 4096
  // private ones; merged again by the scanner (untimed) before each round.
  // Each pass is a few ms: the median of the rounds, as for the scan.
  const N = 4096;
  const same = new Uint8Array(PAGE).fill(0x5a);
  const pageAt = (i: number) => RAM + i * PAGE;
  for (let i = 0; i < N; i++) m.guestMemory.write(pageAt(i), same);
  for (let i = N; i < 2 * N; i++) m.guestMemory.write(pageAt(i), new Uint8Array(PAGE));
  const write = (from: number) => () => {
    for (let i = from; i < from + N; i++) k.partitionHostWrite(m.id, BigInt(pageAt(i)));
  };
  const cow: number[] = [], zero: number[] = [], priv: number[] = [];
  for (let r = 0; r < 5; r++) {
    for (let pass = 0; pass < 3; pass++) k.shareScan(PAGES);
    const shared = m.overcommit!.map();
    if (shared.shared < N || shared.zero < N) throw new Error(`expected ${N} shared and ${N} zero pages, got ${JSON.stringify(shared)}`);
    cow.push(seconds(write(0)));
    zero.push(seconds(write(N)));
    priv.push(seconds(write(0))); // private now
  }
  console.log(
    `  COW break         ${us(median(cow), N)} us (copy), ${us(median(zero), N)} us (zero frame); a write to a private page ${us(median(priv), N)} us (host write translations; medians of 5 rounds of ${N} pages)`,
  );

  // Balloon inflation: 4 rounds of 16 MiB out of the partition, frames back to the pool.
  const B = (16 << 20) / PAGE;
  const inflate: number[] = [];
  let freed = 0;
  for (let r = 0; r < 4; r++) {
    const before = k.framesUsed();
    inflate.push(seconds(() => {
      for (let i = 0; i < B; i++) k.partitionBalloonPage(m.id, BigInt(pageAt(2 * N + r * B + i)));
      k.shareReclaim();
    }));
    freed += before - k.framesUsed();
  }
  const inflateS = median(inflate);
  console.log(`  balloon inflate   ${((B / inflateS) / 1e6).toFixed(2)} M pages/s (${gbps(B * PAGE, inflateS)} GB/s; median of 4 rounds of ${B} private pages), ${freed} frames back to the pool`);

  await benchSwap();
  await benchLinuxDensity();
}

/**
 * Memory saved for N identical Linux guests: N guests of the same kernel
 * and initramfs boot to their shells on a host with a memory cap (16 times
 * less than their RAM); the host frames they hold against N x guest RAM, and
 * against what they wrote (what demand allocation alone would hold).
 */
async function benchLinuxDensity(): Promise<void> {
  const image = linuxImage();
  if (!image) {
    console.log('  Linux density     skipped: no Linux build (sh guests/linux/build.sh)');
    return;
  }
  const N = 4;
  const ram = 128 << 20;
  const cap = (N * ram) / 16;
  const r = await bootIdenticalLinux(image, N, ram, cap);
  if (!r.allAtShell) throw new Error(`not every guest reached its shell: ${r.machines.map((m) => m.result?.kind).join(', ')}`);
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const written = r.maps.reduce((n, p) => n + p.private + p.shared + p.zero, 0) * PAGE;
  console.log(
    `  Linux density     ${N} x ${mib(ram)} MiB guests at their shells on --host-memory ${mib(cap)}M: ${mib(r.usedAtShell)} MiB of host frames ` +
      `(${mib(r.usedAfterScan)} after one more scan) against ${mib(N * ram)} MiB of guest RAM: ${((N * ram) / r.usedAtShell).toFixed(1)}x ` +
      `(${((N * ram) / r.usedAfterScan).toFixed(1)}x); they wrote ${mib(written)} MiB, ${(written / r.usedAfterScan).toFixed(1)}x what they hold; ${(r.ms / 1000).toFixed(1)} s`,
  );
}
