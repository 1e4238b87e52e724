// Dirty logging (kernel/mm/dirty.ts) in every paging mode, seen from the
// host's side: after arming, a store marks exactly its page, even through a
// store TLB entry cached before the arming; fetching clears and re-arms; a
// store that makes the walk set a PTE's D bit marks the page-table page too;
// load entries survive (only store entries are dropped); device DMA marks.
// A hand-assembled M-mode program stores through MPRV (as S-mode) with Sv39
// tables the test builds in guest RAM.
import { describe, expect, it } from 'vitest';
import { RamGuestMemory } from '../../drivers/emulated/dma.ts';
import { Machine, type PagingMode } from '../../runtime/machine/machine.ts';

const RAM_BASE = 0x8000_0000;
const RAM_SIZE = 1 << 20;
const ROOT = 0x10000, L1 = 0x11000, L0 = 0x12000;
const PAGE_X = 0x20000, PAGE_Y = 0x21000;
const VA_X = 0x4000_0000n, VA_Y = 0x4000_1000n;

const V = 1n, R = 2n, W = 4n, A = 64n, D = 128n;
const pte = (pa: number, flags: bigint) => (BigInt(RAM_BASE + pa) >> 12n << 10n) | flags | V;

const T0 = 5, T2 = 7, S0 = 8, S1 = 9, A0 = 10, A1 = 11, A2 = 12, T3 = 28, T4 = 29;
const csrw = (csr: number, rs: number) => (csr << 20) | (rs << 15) | (1 << 12) | 0x73;
const csrs = (csr: number, rs: number) => (csr << 20) | (rs << 15) | (2 << 12) | 0x73;
const ld = (rd: number, rs1: number) => (rs1 << 15) | (3 << 12) | (rd << 7) | 0x03;
const sd = (rs2: number, rs1: number) => (rs2 << 20) | (rs1 << 15) | (3 << 12) | 0x23;
const MSTATUS = 0x300, SATP = 0x180, PMPCFG0 = 0x3a0, PMPADDR0 = 0x3b0;

const SETUP = [csrw(PMPADDR0, T3), csrw(PMPCFG0, T4), csrs(MSTATUS, T2), csrw(SATP, T0)];
const BEFORE_ARMING = [ld(S0, A0), sd(A2, A0)]; // caches load and store entries for X
const ARMED = [ld(S1, A0), sd(A2, A0)]; // the load hits; the store must be logged
const AFTER_FETCH = [sd(A2, A0), sd(A2, A1)]; // X again; Y's leaf has no D: the walk sets it

function machine(paging: PagingMode): Machine {
  const m = new Machine({ ramSize: RAM_SIZE, harts: 1, clock: 'icount', paging, onConsole: () => {} });
  const code = new Uint32Array([...SETUP, ...BEFORE_ARMING, ...ARMED, ...AFTER_FETCH, 0x6f]);
  m.loadRaw(new Uint8Array(code.buffer), RAM_BASE, 'test code');
  m.boot(BigInt(RAM_BASE), 0);
  const dv = new DataView(m.ram.buffer, m.ram.byteOffset, m.ram.byteLength);
  dv.setBigUint64(ROOT + 8, pte(L1, 0n), true);
  dv.setBigUint64(L1, pte(L0, 0n), true);
  dv.setBigUint64(L0, pte(PAGE_X, R | W | A | D), true);
  dv.setBigUint64(L0 + 8, pte(PAGE_Y, R | W | A), true);
  const h = m.harts[0]!;
  h.setX(T0, (8n << 60n) | (BigInt(RAM_BASE + ROOT) >> 12n));
  h.setX(T2, (1n << 17n) | (1n << 11n)); // MPRV, MPP = S
  h.setX(T3, 0x003f_ffff_ffff_ffffn); // PMP entry 0: everything
  h.setX(T4, 0x1fn);
  h.setX(A0, VA_X);
  h.setX(A1, VA_Y);
  h.setX(A2, 0x1234n);
  return m;
}

/** RAM offsets of the pages in the fetched bitmap. */
function fetchedPages(m: Machine): number[] {
  const k = m.kernel.exports;
  const n = k.dirtyLogFetch(m.id);
  const words = new Uint32Array(m.memory.buffer, k.dirtyLogBitmap(m.id), RAM_SIZE / 4096 / 32);
  const pages: number[] = [];
  words.forEach((w, i) => {
    for (let b = 0; b < 32; b++) if (w & (1 << b)) pages.push((i * 32 + b) * 4096);
  });
  expect(pages.length).toBe(n);
  return pages;
}

describe.each(['direct', 'nested', 'shadow'] as PagingMode[])('the dirty log under %s paging', (paging) => {
  const m = machine(paging);
  const k = m.kernel.exports;
  const h = m.harts[0]!;
  const run = (insns: number[]) => k.vcpuRun(m.firstVcpu, insns.length);
  run(SETUP);
  run(BEFORE_ARMING);

  it('logs a store after arming, though a store TLB entry for its page was cached before, and keeps the load entries', () => {
    // The same program on a twin that does not log: arming costs exactly one TLB miss, the store's.
    const twin = machine(paging);
    for (const part of [SETUP, BEFORE_ARMING]) twin.kernel.exports.vcpuRun(twin.firstVcpu, part.length);
    const twinMisses = twin.harts[0]!.stat('TLB_MISSES');
    twin.kernel.exports.vcpuRun(twin.firstVcpu, ARMED.length);
    expect(k.dirtyLogStart(m.id)).toBe(1);
    expect(k.dirtyLogSynced(m.id)).toBe(1); // no vCPU is running
    const misses = h.stat('TLB_MISSES');
    run(ARMED);
    expect([h.getX(S0), h.getX(S1)]).toEqual([0n, 0x1234n]); // before and after the first store
    expect(h.stat('TLB_MISSES') - misses).toBe(twin.harts[0]!.stat('TLB_MISSES') - twinMisses + 1);
    expect(fetchedPages(m)).toEqual([PAGE_X]);
  });

  it('logs the page again after a fetch, and the page table whose D bit a store makes the walk set', () => {
    run(AFTER_FETCH);
    expect(fetchedPages(m)).toEqual([L0, PAGE_X, PAGE_Y]);
    expect(fetchedPages(m)).toEqual([]);
  });

  it('logs what a device writes into guest RAM (DMA), and nothing once stopped', () => {
    const dma = new RamGuestMemory(m.ram, RAM_BASE, m.dirty);
    dma.write(RAM_BASE + 0x30ffe, new Uint8Array(4)); // straddles two pages
    dma.setU32(RAM_BASE + 0x40000, 1);
    expect(fetchedPages(m)).toEqual([0x30000, 0x31000, 0x40000]);
    k.dirtyLogStop(m.id);
    dma.setU32(RAM_BASE + 0x40000, 2);
    expect(fetchedPages(m)).toEqual([]);
  });
});
