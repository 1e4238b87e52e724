// Demand-allocated RAM, admission control and the no-memory exit
// (docs/memory.md): an overcommit partition starts with no RAM frames, a
// page takes one on its first write, a host refuses a partition whose fixed
// needs do not fit, and a partition that writes more RAM than the host has
// is stopped alone while the others run on.
import { describe, expect, it } from 'vitest';
import { Host } from '../../../runtime/host/host.ts';
import { Hypervisor } from '../../../runtime/host/hypervisor.ts';
import { HostMemoryError } from '../../../runtime/host/memory-pressure.ts';
import { partitionSpec } from '../../../runtime/host/spec.ts';
import { Machine, type PagingMode, type RunResult } from '../../../runtime/machine/machine.ts';
import { code, elf, rv } from '../../support/rv.ts';
import { parseElf } from '../../../runtime/loader/elf.ts';
import { DmaError } from '../../../drivers/emulated/dma.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RAM = 0x8000_0000;
const PAGE = 4096;
const [T0, T1, T2, T3, T4] = [5, 6, 7, 28, 29];

/** rd = RAM + off (off < 2 GiB, a multiple of 4 KiB), without lui's sign extension. */
function la(rd: number, off: number, tmp: number): number[] {
  return [rv.addi(rd, 0, 1), rv.slli(rd, rd, 31), rv.lui(tmp, off >>> 12), rv.add(rd, rd, tmp)];
}

/**
 * A guest that stores its address into the first doubleword of every page
 * from page 1 up to (not including) page `end` (each page different: nothing
 * to share), then counts down `spin` x 4096 iterations and passes (the finisher).
 */
function writer(end: number, spin: number): Uint8Array {
  return code([
    ...la(T0, PAGE, T2),
    ...la(T1, end * PAGE, T2),
    rv.lui(T2, 1),
    rv.sd(T0, T0, 0), // loop:
    rv.add(T0, T0, T2),
    rv.bne(T0, T1, -8),
    rv.lui(T4, spin),
    rv.addi(T4, T4, -1), // spin:
    rv.bne(T4, 0, -4),
    rv.lui(T2, 0x100),
    rv.lui(T3, 5),
    rv.addi(T3, T3, 0x555),
    rv.sw(T3, T2, 0),
  ]);
}

function machine(hv: Hypervisor, ramSize: number, paging: PagingMode, program: Uint8Array): Machine {
  const m = new Machine({ ramSize, harts: 1, clock: 'icount', paging, overcommit: {}, onConsole: () => {} }, hv);
  m.loadRaw(program, RAM, 'code');
  m.boot(BigInt(RAM), 0);
  return m;
}

describe('demand-allocated RAM', () => {
  for (const paging of ['nested', 'shadow'] as const) {
    it(`an overcommit partition (${paging}) takes no RAM frames until its pages are written; reads are zeros and take none`, () => {
      const hv = new Hypervisor(8 << 20);
      const k = hv.kernel.exports;
      const before = k.framesUsed();
      const m = new Machine({ ramSize: 4 << 20, harts: 1, clock: 'icount', paging, overcommit: {}, onConsole: () => {} }, hv);
      const pages = (4 << 20) / PAGE;
      expect(m.overcommit!.map()).toMatchObject({ unpopulated: pages, private: 0, zero: 0, ballooned: 0 });
      // Its tables and the host's page-sharing metadata, not its 1,024 pages of RAM.
      const created = k.framesUsed() - before;
      expect(created).toBeLessThan(pages / 4);
      expect(m.guestMemory.read(RAM + 5 * PAGE, 2 * PAGE)).toEqual(new Uint8Array(2 * PAGE));
      expect(k.framesUsed() - before).toBe(created);
      m.guestMemory.write(RAM + 7 * PAGE + 12, Uint8Array.of(1, 2, 3));
      expect(k.framesUsed() - before).toBe(created + 1);
      expect(m.overcommit!.map()).toMatchObject({ private: 1, unpopulated: pages - 1 });
      expect(m.guestMemory.read(RAM + 7 * PAGE + 11, 5)).toEqual(Uint8Array.of(0, 1, 2, 3, 0));
    });
  }

  it("loading an ELF zero-fills its .bss without frames for pages that read as zeros, and a reload zeroes what the guest wrote", () => {
    const hv = new Hypervisor(8 << 20);
    const m = new Machine({ ramSize: 4 << 20, harts: 1, clock: 'icount', paging: 'nested', overcommit: {}, onConsole: () => {} }, hv);
    const image = elf(new Uint8Array(PAGE + 8).fill(0x13)); // a page and 8 bytes of code
    new DataView(image.buffer).setBigUint64(104, BigInt(64 * PAGE), true); // p_memsz: the rest of 64 pages is .bss
    m.loadElf(parseElf(image));
    expect(m.overcommit!.map()).toMatchObject({ private: 2, unpopulated: 1022 });
    m.guestMemory.write(RAM + PAGE + 100, Uint8Array.of(9)); // .bss in the code's last page
    m.guestMemory.write(RAM + 10 * PAGE, Uint8Array.of(7));
    m.loadElf(parseElf(image));
    expect(m.guestMemory.read(RAM + PAGE + 100, 1)).toEqual(Uint8Array.of(0));
    expect(m.guestMemory.read(RAM + 10 * PAGE, 1)).toEqual(Uint8Array.of(0));
    expect(m.overcommit!.map()).toMatchObject({ private: 3, unpopulated: 1021 });
  });

  it('a guest that writes 64 pages of a 4 MiB partition holds 64 frames of RAM, and runs as with RAM reserved', async () => {
    const hv = new Hypervisor(8 << 20);
    const m = machine(hv, 4 << 20, 'nested', writer(65, 1));
    expect(m.overcommit!.map()).toMatchObject({ private: 1, unpopulated: 1023 }); // the code page
    expect(await m.run()).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
    // (Frames in use are not compared: with the JIT on, its tables come from the pool too.)
    expect(m.overcommit!.map()).toMatchObject({ private: 65, unpopulated: 1024 - 65 });
    expect(m.guestMemory.u64(RAM + 64 * PAGE)).toBe(BigInt(RAM + 64 * PAGE));
  });

  it('a balloon inflation of an untouched page moves it from unpopulated to ballooned, with no frame either way', () => {
    const hv = new Hypervisor(8 << 20);
    const m = new Machine({ ramSize: 1 << 20, harts: 1, paging: 'nested', overcommit: {}, onConsole: () => {} }, hv);
    const used = hv.kernel.exports.framesUsed();
    expect(m.overcommit!.balloonPage(RAM + 3 * PAGE)).toBe(true);
    expect(m.overcommit!.balloonPage(RAM + 3 * PAGE)).toBe(false);
    expect(m.overcommit!.map()).toMatchObject({ ballooned: 1, unpopulated: 255, private: 0 });
    expect(hv.kernel.exports.framesUsed()).toBe(used);
  });
});

describe('admission control', () => {
  it('refuses a partition whose tables and reserved RAM do not fit in what the pool has left, with HostMemoryError', () => {
    const hv = new Hypervisor(4 << 20);
    const config = { ramSize: 64 << 20, harts: 1, paging: 'nested' as const, onConsole: () => {} };
    expect(() => new Machine(config, hv)).toThrow(HostMemoryError);
    expect(() => new Machine(config, hv)).toThrow(/^host memory exhausted: a partition of 64M \(nested paging\) needs 64\.\d MiB of host memory at once, the host has \d+\.\d MiB left$/);
    // With overcommit only its G-stage tables are needed at once: it is admitted.
    const m = new Machine({ ...config, overcommit: {} }, hv);
    expect(m.overcommit!.map().unpopulated).toBe((64 << 20) / PAGE);
  });

  it('refuses an overcommit partition whose G-stage tables alone do not fit', () => {
    const hv = new Hypervisor(1 << 20);
    const config = { ramSize: 1 << 30, harts: 1, paging: 'nested' as const, overcommit: {}, onConsole: () => {} };
    expect(() => new Machine(config, hv)).toThrow(/^host memory exhausted: a partition of 1G \(nested paging, overcommit\) needs 2\.1 MiB/);
  });
});

describe('the no-memory exit', () => {
  /** On a 2 MiB host: `small` writes 64 of its pages then spins, `big` writes all of its 4 MiB. */
  function pair(hv: Hypervisor): { small: Machine; big: Machine } {
    const small = machine(hv, 2 << 20, 'nested', writer(65, 50));
    const big = machine(hv, 4 << 20, 'nested', writer(1024, 1));
    return { small, big };
  }

  for (const paging of ['nested', 'shadow'] as const) {
    it(`a guest (${paging}) that writes more RAM than the host has is stopped alone with MemoryExhaustedError; the other partition runs on to its end`, async () => {
      const hv = new Hypervisor(2 << 20);
      const small = machine(hv, 1 << 20, 'nested', writer(65, 50));
      const big = machine(hv, 4 << 20, paging, writer(1024, 1));
      await hv.run({ timeoutMs: 20_000 });
      expect(big.result).toMatchObject({ kind: 'memory-exhausted', error: 'MemoryExhaustedError' });
      expect((big.result as { message: string }).message).toMatch(/^out of host memory: vCPU 0 wrote guest-physical 0x8[0-9a-f]{7}, which needs a host frame, and none is free or could be reclaimed$/);
      expect(small.result).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
      // It stopped at the store that found no frame: every page before it holds its value.
      const stopped = Number(BigInt.asUintN(64, big.harts[0]!.getX(T0)));
      for (let gpa = RAM + PAGE; gpa < stopped; gpa += 64 * PAGE) expect(big.guestMemory.u64(gpa)).toBe(BigInt(gpa));
    });
  }

  it('frames freed by page sharing let a vCPU that found none run on: the root reclaims before it gives up', async () => {
    /** How many pages `big` wrote before it was stopped, with `same` identical pages written into `small` first. */
    const pagesWritten = async (same: number) => {
      const hv = new Hypervisor(2 << 20);
      const { small, big } = pair(hv);
      const bytes = new Uint8Array(PAGE).fill(0x6b);
      for (let p = 100; p < 100 + same; p++) small.guestMemory.write(RAM + p * PAGE, bytes);
      hv.sharePagesPerRound = 0; // no scanning between rounds: only the no-memory exit's
      await hv.run({ timeoutMs: 20_000 });
      expect(small.result).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
      expect(big.result).toMatchObject({ kind: 'memory-exhausted' });
      expect(hv.kernel.exports.framesAvailable()).toBe(0);
      return { pages: Number(BigInt.asUintN(64, big.harts[0]!.getX(T0)) - BigInt(RAM)) / PAGE, shared: small.overcommit!.map().shared };
    };
    const alone = await pagesWritten(0);
    const merged = await pagesWritten(200);
    // The 200 identical pages cost 200 frames, and merging gave most back to the big guest.
    expect(merged.shared).toBeGreaterThan(100);
    expect(merged.pages - (alone.pages - 200)).toBe(merged.shared - 1);
  });

  it.each([
    ['a threaded host (devices on the root thread)', true],
    ['a deterministic host (devices called inside a vCPU run)', false],
  ])('a device write that finds the pool dry on %s: reclaims and lands, or fails with DmaError', (_, exits) => {
    const hv = new Hypervisor(2 << 20);
    const m = new Machine({ ramSize: 4 << 20, harts: 1, paging: 'nested', overcommit: {}, exits, onConsole: () => {} }, hv);
    // Identical pages until the pool is dry: sharing can give all but one back.
    const same = new Uint8Array(PAGE).fill(0x6b);
    let page = 1;
    while (hv.kernel.exports.framesAvailable() > 0) m.guestMemory.write(RAM + page++ * PAGE, same);
    const write = () => m.guestMemory.write(RAM + page * PAGE, Uint8Array.of(7));
    if (!exits) {
      expect(write).toThrow(DmaError);
      expect(write).toThrow(/no host frame for a write to 0x80/);
      return;
    }
    write();
    expect(m.guestMemory.read(RAM + page * PAGE, 2)).toEqual(Uint8Array.of(7, 0));
    expect(m.overcommit!.map().shared).toBeGreaterThan(page / 2);
  });

  it('on the threaded host: the root stops the partition that ran out alone, the other finishes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hv-demand-'));
    const file = (name: string, program: Uint8Array) => {
      const path = join(dir, name);
      writeFileSync(path, elf(program));
      return path;
    };
    const host = await Host.start({ pcpus: 2, memoryBytes: 2 << 20 });
    try {
      const small = await host.create(partitionSpec('small', file('small.elf', writer(65, 4000)), { memory: 1 << 20, paging: 'nested', overcommit: {} }));
      const big = await host.create(partitionSpec('big', file('big.elf', writer(1024, 1)), { memory: 4 << 20, paging: 'nested', overcommit: {} }));
      await host.start(small);
      // Once small has written its pages (it spins for 16 M iterations then), big takes the rest of the pool and more.
      while ((await host.stats(small)).totals.instructions < 1000) await new Promise((r) => setTimeout(r, 1));
      await host.start(big);
      const results: RunResult[] = [await host.wait(big), await host.wait(small)];
      expect(results[0]).toMatchObject({ kind: 'memory-exhausted', error: 'MemoryExhaustedError' });
      expect(results[1]).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
      const stats = await host.stats(big);
      expect(stats.vcpuStats[0]!.exits.memory).toBeGreaterThanOrEqual(1);
    } finally {
      await host.close();
    }
  });
});
