// Transparent page sharing (kernel/mm/share.ts, docs/memory.md): identical
// pages merge copy-on-write within a salt group and never across groups,
// zero pages map the zero frame, and every write — a guest store, a
// device's DMA — lands in a private copy that no other partition sees.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../../runtime/host/hypervisor.ts';
import { checkPartition, partitionSpec } from '../../../runtime/host/spec.ts';
import { readSave, restorePartition, savePartition } from '../../../runtime/persist/partition.ts';
import { setupPartition, specHostBytes } from '../../../runtime/machine/setup.ts';
import { Machine, type PagingMode } from '../../../runtime/machine/machine.ts';
import { OvercommitError, sharingCounters } from '../../../runtime/machine/overcommit.ts';
import { code, elf, rv } from '../../support/rv.ts';

const RAM = 0x8000_0000;
const PAGE = 4096;
const RAM_SIZE = 64 * PAGE;
const [T0, T1, T2, T3, T4, T5, T6] = [5, 6, 7, 28, 29, 30, 31];

/** rd = RAM + off (off < 2 GiB, a multiple of 4 KiB), without lui's sign extension. */
function la(rd: number, off: number, tmp: number): number[] {
  return [rv.addi(rd, 0, 1), rv.slli(rd, rd, 31), rv.lui(tmp, off >>> 12), rv.add(rd, rd, tmp)];
}

/** Writes 0x0010_0000 <- 0x5555 (the test finisher: pass). */
const finish = [rv.lui(T2, 0x100), rv.lui(T3, 5), rv.addi(T3, T3, 0x555), rv.sw(T3, T2, 0)];

/**
 * The guest: loads page 10 (its TLB now maps the shared frame), stores
 * 0x5a5 there, loads it again, and leaves both loads in page 20.
 */
const writer = code([
  ...la(T0, 10 * PAGE, T2),
  rv.ld(T4, T0, 0),
  rv.addi(T1, 0, 0x5a5),
  rv.sd(T1, T0, 0),
  rv.ld(T5, T0, 0),
  ...la(T6, 20 * PAGE, T2),
  rv.sd(T4, T6, 0),
  rv.sd(T5, T6, 8),
  ...finish,
]);

function pattern(seed: number): Uint8Array {
  const b = new Uint8Array(PAGE);
  for (let i = 0; i < PAGE; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

/**
 * A partition with the writer at RAM, pages 10-19 all pattern(1), pages
 * 20-29 each its own, pages 30-39 written with zeros; the other 33 pages of
 * its demand-allocated RAM are never written (unpopulated).
 */
function partition(hv: Hypervisor, paging: PagingMode, salt?: number): Machine {
  const m = new Machine({ ramSize: RAM_SIZE, harts: 1, clock: 'icount', paging, overcommit: { salt }, onConsole: () => {} }, hv);
  m.loadRaw(writer, RAM, 'code');
  for (let p = 10; p < 20; p++) m.guestMemory.write(RAM + p * PAGE, pattern(1));
  for (let p = 20; p < 30; p++) m.guestMemory.write(RAM + p * PAGE, pattern(100 + p));
  m.guestMemory.write(RAM + 30 * PAGE, new Uint8Array(10 * PAGE));
  m.boot(BigInt(RAM), 0);
  return m;
}

function host(m: Machine, page: number): number {
  return Number(m.kernel.exports.partitionHostRead(m.id, BigInt(RAM + page * PAGE)));
}

/** Scans until a full pass merges nothing new. */
function scanAll(hv: Hypervisor): void {
  for (let i = 0; i < 4; i++) hv.kernel.exports.shareScan(4096);
}

describe.each(['nested', 'shadow'] as const)('page sharing under %s paging', (paging) => {
  it('merges identical pages of a partition into one frame and zero pages into the zero frame, freeing the rest', () => {
    const hv = new Hypervisor(16 << 20);
    const m = partition(hv, paging);
    const used = hv.kernel.exports.framesUsed();
    scanAll(hv);
    const c = sharingCounters(hv.kernel);
    expect(c.pagesShared).toBe(1);
    expect(c.pagesSharing).toBe(10);
    // The 10 pages written with zeros; the 33 never written have no frame to merge.
    expect(c.zeroPages).toBe(10);
    expect(c.bytesSaved).toBe((10 - 1 + 10) * PAGE);
    expect(used - hv.kernel.exports.framesUsed()).toBe(c.bytesSaved / PAGE);
    expect(new Set([10, 11, 15, 19].map((p) => host(m, p))).size).toBe(1);
    expect(host(m, 20)).not.toBe(host(m, 21));
    expect(m.overcommit!.map()).toMatchObject({ private: 11, shared: 10, zero: 10, unpopulated: 33, ballooned: 0 });
    for (let p = 10; p < 20; p++) expect(m.guestMemory.read(RAM + p * PAGE, PAGE)).toEqual(pattern(1));
  });

  it('a store to a shared page whose frame the TLB already cached breaks sharing: the writer reads its own value, the other pages keep theirs', async () => {
    const hv = new Hypervisor(16 << 20);
    const m = partition(hv, paging);
    scanAll(hv);
    const before = sharingCounters(hv.kernel);
    const result = await m.run({ maxInsns: 10_000 });
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
    const dv = new DataView(m.guestMemory.read(RAM + 20 * PAGE, 16).buffer);
    expect(dv.getBigUint64(0, true)).toBe(new DataView(pattern(1).buffer).getBigUint64(0, true));
    expect(dv.getBigUint64(8, true)).toBe(0x5a5n);
    expect(m.guestMemory.u64(RAM + 10 * PAGE)).toBe(0x5a5n);
    for (let p = 11; p < 20; p++) expect(m.guestMemory.read(RAM + p * PAGE, PAGE)).toEqual(pattern(1));
    expect(sharingCounters(hv.kernel).cowBreaks - before.cowBreaks).toBe(1);
    expect(m.overcommit!.map().cowBreaks).toBe(1);
    expect(host(m, 10)).not.toBe(host(m, 11));
  });

  it('partitions in different salt groups never share a frame; the same salt shares', () => {
    const hv = new Hypervisor(32 << 20);
    const [a, b] = [partition(hv, paging), partition(hv, paging)];
    const [c, d] = [partition(hv, paging, 7), partition(hv, paging, 7)];
    scanAll(hv);
    const frames = (m: Machine) => new Set(Array.from({ length: 64 }, (_, p) => host(m, p)));
    const zero = host(a, 40);
    const without = (s: Set<number>) => new Set([...s].filter((f) => f !== zero));
    // Default salts: a and b share no frame but the zero frame.
    expect([...without(frames(a))].filter((f) => without(frames(b)).has(f))).toEqual([]);
    // Salt 7: c and d hold the same pages, and every page of c is now d's frame.
    for (let p = 0; p < 64; p++) expect(host(c, p)).toBe(host(d, p));
    expect(without(frames(c)).size).toBe(12); // code, the pattern, 10 unique pages
    expect(host(c, 10)).not.toBe(host(a, 10));
  });

  it("a guest's write to a frame it shares with another partition is never visible there", async () => {
    const hv = new Hypervisor(32 << 20);
    const [a, b] = [partition(hv, paging, 3), partition(hv, paging, 3)];
    scanAll(hv);
    expect(host(a, 10)).toBe(host(b, 10));
    hv.unregister(b.id); // only a runs
    expect(await a.run({ maxInsns: 10_000 })).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
    expect(a.guestMemory.u64(RAM + 10 * PAGE)).toBe(0x5a5n);
    for (let p = 10; p < 20; p++) expect(b.guestMemory.read(RAM + p * PAGE, PAGE)).toEqual(pattern(1));
  });

  it('a partition with shared pages saves what its guest sees and restores to run on exactly as it would have', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hv-share-save-'));
    const kernel = join(dir, 'writer.elf');
    writeFileSync(kernel, elf(writer));
    const spec = partitionSpec('saved', kernel, { memory: RAM_SIZE, paging, overcommit: {} });
    const options = { onConsole: () => {}, clock: 'icount' as const };
    const hv = new Hypervisor(specHostBytes(spec));
    const { machine: m } = setupPartition(spec, hv, options);
    for (let p = 10; p < 20; p++) m.guestMemory.write(RAM + p * PAGE, pattern(1));
    for (let p = 20; p < 30; p++) m.guestMemory.write(RAM + p * PAGE, pattern(100 + p));
    scanAll(hv);
    const before = m.overcommit!.map();
    expect(before.shared).toBe(10);
    const ram = m.overcommit!.snapshot();
    const file = join(dir, 'saved.hvs');
    savePartition(file, m, spec, () => {});

    const hv2 = new Hypervisor(specHostBytes(spec));
    const { machine: r } = restorePartition(readSave(file), hv2, options);
    expect(r.guestMemory.read(RAM, RAM_SIZE)).toEqual(ram);
    scanAll(hv2); // shares again on the new host
    // The save stores no zero page: a restore gives frames to the stored pages only.
    expect(r.overcommit!.map()).toMatchObject({ shared: 10, zero: 0, unpopulated: before.unpopulated + before.zero, private: before.private });
    expect(await r.run({ maxInsns: 10_000 })).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
    expect(r.guestMemory.u64(RAM + 20 * PAGE + 8)).toBe(0x5a5n);
    for (let p = 11; p < 20; p++) expect(r.guestMemory.read(RAM + p * PAGE, PAGE)).toEqual(pattern(1));
  });

  it('device DMA into a shared page writes a private copy', () => {
    const hv = new Hypervisor(32 << 20);
    const [a, b] = [partition(hv, paging, 5), partition(hv, paging, 5)];
    scanAll(hv);
    const frame = host(a, 12);
    a.guestMemory.write(RAM + 12 * PAGE + 100, new Uint8Array([1, 2, 3]));
    a.guestMemory.setU32(RAM + 13 * PAGE, 0xdeadbeef);
    expect(host(a, 12)).not.toBe(frame);
    expect(host(b, 12)).toBe(frame);
    expect(Array.from(a.guestMemory.read(RAM + 12 * PAGE + 100, 3))).toEqual([1, 2, 3]);
    expect(a.guestMemory.u32(RAM + 13 * PAGE)).toBe(0xdeadbeef);
    expect(b.guestMemory.read(RAM + 12 * PAGE, PAGE)).toEqual(pattern(1));
    expect(b.guestMemory.read(RAM + 13 * PAGE, PAGE)).toEqual(pattern(1));
    expect(sharingCounters(hv.kernel).cowBreaks).toBe(2);
  });
});

describe('the scanner', () => {
  it('counts only pages with a frame of their own: a 64 MiB partition that wrote 32 of its 16,384 pages is scanned in full by 32 pages of budget, and a larger budget stops after one lap', () => {
    const hv = new Hypervisor(16 << 20);
    const pages = (64 << 20) / PAGE;
    const m = new Machine({ ramSize: pages * PAGE, harts: 1, paging: 'nested', overcommit: {}, onConsole: () => {} }, hv);
    for (let t = 0; t < 32; t++) m.guestMemory.write(RAM + (t * 512 + 7) * PAGE, pattern(t)); // one page in each leaf table
    const k = hv.kernel.exports;
    expect(k.shareScan(32)).toBe(32);
    expect(k.shareScan(1)).toBe(1); // the next lap's first page: the last lap is complete
    const c = sharingCounters(hv.kernel);
    expect([c.fullScans, c.pagesScanned, c.pagesUnshared, c.merges]).toEqual([1, 33, 32, 0]);
    expect(k.shareScan(1_000_000)).toBe(32); // one lap, not the budget
    expect(m.overcommit!.map().unpopulated).toBe(pages - 32);
  });

  it('merges two pages whose bytes a page it hashed earlier held before it changed (the stale table entry gives way)', () => {
    const hv = new Hypervisor(16 << 20);
    const m = partition(hv, 'nested');
    const k = hv.kernel.exports;
    const peek = (page: number) => Number(k.partitionHostPeek(m.id, BigInt(RAM + page * PAGE)));
    m.guestMemory.write(RAM + 40 * PAGE, pattern(7));
    scanAll(hv); // page 40's bytes are in the table
    m.guestMemory.write(RAM + 40 * PAGE, pattern(8)); // in place: the same frame, other bytes
    m.guestMemory.write(RAM + 41 * PAGE, pattern(7));
    m.guestMemory.write(RAM + 42 * PAGE, pattern(7));
    scanAll(hv);
    expect(peek(41)).toBe(peek(42));
    expect(peek(40)).not.toBe(peek(41));
  });
});

describe('overcommit configuration', () => {
  it('direct paging refuses it, saying why', () => {
    expect(() => new Machine({ ramSize: RAM_SIZE, harts: 1, paging: 'direct', overcommit: {}, onConsole: () => {} })).toThrow(
      new OvercommitError(
        'memory overcommit (page sharing, ballooning) needs nested or shadow paging: direct paging maps RAM as one host run, with no per-page map to change',
      ),
    );
  });

  it('a partition may have VMBus devices (their GPADL pages are pinned, test/runtime/memory/vmbus-pin.test.ts)', () => {
    const spec = (more: object) => partitionSpec('p', 'k.elf', { paging: 'nested', boot: 'enlightened', overcommit: {}, ...more });
    expect(() => checkPartition(spec({ disks: [{ path: 'd.img', if: 'vmbus' }] }))).not.toThrow();
    expect(() => checkPartition(spec({ nics: [{}] }))).not.toThrow();
    expect(() => checkPartition(spec({ vmbus: { ic: ['heartbeat'] } }))).not.toThrow();
  });

  it('a salt outside 1..0x7fffffff is refused', () => {
    expect(() => new Machine({ ramSize: RAM_SIZE, harts: 1, paging: 'nested', overcommit: { salt: 2 ** 31 }, onConsole: () => {} })).toThrow(
      OvercommitError,
    );
  });
});
