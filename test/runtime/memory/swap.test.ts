// Hypervisor swap (kernel/mm/swap.ts, runtime/machine/swap.ts): pages the
// host evicts to the partition's swap file come back, on a vCPU's access
// (the swap-in exit) or the host's own (DMA, saves), with the bytes the
// guest last wrote, in both paging modes that overcommit.
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseElf } from '../../../runtime/loader/elf.ts';
import { Hypervisor } from '../../../runtime/host/hypervisor.ts';
import { Machine, type PagingMode } from '../../../runtime/machine/machine.ts';
import { SwapError } from '../../../runtime/machine/swap.ts';
import { runGuest } from '../../support/guest.ts';

const RAM_SIZE = 8 << 20;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function swapDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'hv-swap-test-'));
  dirs.push(d);
  return d;
}

/** Big byte arrays compare by digest (vitest's deep equality walks them element by element). */
function digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function swapMachine(paging: PagingMode, dir: string) {
  const out = { text: '' };
  const m = new Machine({
    ramSize: RAM_SIZE, harts: 1, clock: 'icount', paging, overcommit: { swap: { dir } },
    onConsole: (b) => (out.text += Buffer.from(b).toString('latin1')),
  });
  m.hypervisor.sharePagesPerRound = 0; // swap alone: every private page is a candidate
  const entry = m.loadElf(parseElf(readFileSync('guests/bin/swap_pattern.elf')));
  m.boot(entry, m.placeDtb());
  return { m, out };
}

/**
 * Evicts up to `pages` before every round, one turn of the clock as the
 * eviction driver does: the host swaps the guest out as fast as it runs.
 */
function evictEveryRound(m: Machine, pages: number): void {
  const before = m.beforeRound.bind(m);
  m.beforeRound = () => {
    before();
    m.overcommit!.swap!.swapOut(pages, 1);
  };
}

describe.each(['nested', 'shadow'] as const)('hypervisor swap under %s paging', (paging) => {
  it('a guest checking a pattern over 4 MiB of its RAM prints the same, to the instruction, while the host evicts its pages every round', async () => {
    const plain = await runGuest('guests/bin/swap_pattern.elf', { paging, ramSize: RAM_SIZE });
    const dir = swapDir();
    const { m, out } = swapMachine(paging, dir);
    evictEveryRound(m, 64);
    const result = await m.run({ maxInsns: 200_000_000, slice: 20_000 });
    expect(out.text).toBe(plain.output);
    expect(out.text).toContain('swap_pattern: 4096 KiB checked 3 times');
    expect(result).toEqual(plain.result);
    expect(m.instructions()).toBe(plain.machine.instructions());
    const swap = m.overcommit!.stats().swap!;
    expect(swap.swappedOut).toBeGreaterThan(2000); // each pass's pages went out (and came back) more than once
    expect(swap.swappedIn).toBeGreaterThan(2000);
    expect(swap.swappedOut - swap.swappedIn).toBe(swap.swapped);
    expect(m.overcommit!.map().swapped).toBe(swap.swapped);
    expect(swap.fileSlots).toBeLessThan(RAM_SIZE / 4096); // slots are reused
    expect(readdirSync(dir)).toEqual([]); // unlinked once open: nothing is left behind, however the process ends
    m.releaseMemory();
  });

  it("the host's reads of swapped pages (a save's copy of RAM, DMA) get the guest's bytes, never zeros, and take no frame", async () => {
    const { m } = swapMachine(paging, swapDir());
    await m.run({ maxInsns: 3_000_000 }); // the first pass has written part of the area
    const before = m.overcommit!.snapshot();
    expect(before.some((b) => b !== 0)).toBe(true);
    const out = m.overcommit!.swapOut(RAM_SIZE / 4096);
    expect(out).toBeGreaterThan(800); // what the guest has written (the rest, its .bss among it, was never populated)
    expect(m.overcommit!.map()).toMatchObject({ swapped: out, private: 0 });
    expect(digest(m.overcommit!.snapshot())).toBe(digest(before)); // from the file: pages stay out
    expect(m.overcommit!.map().swapped).toBe(out);
    // A device's read swaps in synchronously.
    const entryPage = 0x8000_0000;
    expect(digest(m.guestMemory.read(entryPage, 4096))).toBe(digest(before.subarray(0, 4096)));
    expect(m.overcommit!.map()).toMatchObject({ swapped: out - 1, private: 1 });
    m.releaseMemory();
  });

  it("a host write to a swapped page is not lost: the page comes back first, then takes the write", async () => {
    const { m } = swapMachine(paging, swapDir());
    await m.run({ maxInsns: 3_000_000 });
    const page = 0x8000_0000 + (1 << 20); // inside the pattern area
    const original = m.guestMemory.read(page, 4096);
    expect(m.overcommit!.swapOut(RAM_SIZE / 4096)).toBeGreaterThan(800);
    expect(m.overcommit!.swap!.peek(page)).toBeDefined(); // out
    m.guestMemory.write(page + 8, new Uint8Array([1, 2, 3, 4]));
    const expected = original.slice();
    expected.set([1, 2, 3, 4], 8); // the rest of the page is the guest's
    expect(digest(m.guestMemory.read(page, 4096))).toBe(digest(expected));
    m.releaseMemory();
  });

  it('pages pinned for the host (VMBus GPADLs) are never evicted, and a swapped page is swapped in before it is pinned', async () => {
    const { m } = swapMachine(paging, swapDir());
    await m.run({ maxInsns: 3_000_000 });
    const oc = m.overcommit!;
    const area = 0x8000_0000 + (1 << 20);
    const pinning = oc.gpadlPinning();
    expect(pinning.pin([area, area + 4096])).toBeUndefined();
    const out = oc.swapOut(RAM_SIZE / 4096);
    expect(oc.map()).toMatchObject({ private: 2, pinned: 2, swapped: out });
    expect(oc.swap!.peek(area)).toBeUndefined();
    expect(pinning.hostOf(area)).toBeDefined();
    // A page in the swap file comes back to be pinned.
    const later = area + 16 * 4096;
    const bytes = oc.swap!.peek(later)!;
    expect(pinning.pin([later])).toBeUndefined();
    expect(oc.map()).toMatchObject({ pinned: 3, swapped: out - 1 });
    expect(digest(m.guestMemory.read(later, 4096))).toBe(digest(bytes));
    pinning.unpin([area, area + 4096, later]);
    m.releaseMemory();
  });

  it("a vCPU's SynIC message and event pages (which VMBus endpoints write in place) are never evicted", async () => {
    const { m } = swapMachine(paging, swapDir());
    await m.run({ maxInsns: 3_000_000 });
    const [simp, siefp] = [0x8000_0000 + (1 << 20), 0x8000_0000 + (1 << 20) + 4096];
    const h = m.harts[0]!;
    const dv = new DataView(m.memory.buffer);
    const off = m.kernel.layout.off;
    dv.setBigUint64(h.base + off.SYNIC_SIMP!, BigInt(simp) | 1n, true); // enabled (bit 0)
    dv.setBigUint64(h.base + off.SYNIC_SIEFP!, BigInt(siefp) | 1n, true);
    const resident = m.overcommit!.map().private;
    for (let i = 0; i < 3; i++) m.overcommit!.swapOut(RAM_SIZE / 4096); // every lap it takes
    expect(m.overcommit!.map()).toMatchObject({ private: 2, swapped: resident - 2 });
    expect(m.overcommit!.swap!.peek(simp)).toBeUndefined();
    expect(m.overcommit!.swap!.peek(siefp)).toBeUndefined();
    m.releaseMemory();
  });

  it("a swapped page the guest gives to its balloon leaves unread, and its slot is reused", async () => {
    const { m } = swapMachine(paging, swapDir());
    await m.run({ maxInsns: 3_000_000 });
    const oc = m.overcommit!;
    const out = oc.swapOut(RAM_SIZE / 4096);
    const slots = oc.stats().swap!.fileSlots;
    const page = 0x8000_0000 + (1 << 20);
    expect(oc.balloonPage(page)).toBe(true);
    expect(oc.map()).toMatchObject({ swapped: out - 1, ballooned: 1 });
    expect(oc.stats().swap!.swappedIn).toBe(0);
    expect(digest(m.guestMemory.read(page, 4096))).toBe(digest(new Uint8Array(4096))); // a ballooned page reads as zeros
    // Another page back in and out again: it takes a free slot, the file does not grow.
    m.guestMemory.read(page + 4096, 8);
    expect(oc.swapOut(RAM_SIZE / 4096)).toBe(1);
    expect(oc.stats().swap!.fileSlots).toBe(slots);
    m.releaseMemory();
  });

  it('a swap file that cannot be written gives a SwapError, and the partition keeps its pages and runs on', async () => {
    const { m, out } = swapMachine(paging, swapDir());
    // The file's descriptor now refuses writes (as a full or failing disk would).
    const file = m.overcommit!.swap!.file as unknown as { fd: number };
    closeSync(file.fd);
    file.fd = openSync('/dev/null', 'r');
    const loaded = digest(m.overcommit!.snapshot());
    expect(() => m.overcommit!.swapOut(64)).toThrow(SwapError);
    expect(() => m.overcommit!.swapOut(64)).toThrow(/writing slot \d+ of '.*hv-swap-.*' failed/);
    expect(m.overcommit!.map().swapped).toBe(0);
    expect(digest(m.overcommit!.snapshot())).toBe(loaded);
    // The eviction driver gives up quietly, every round, and the guest runs to its end.
    const before = m.beforeRound.bind(m);
    m.beforeRound = () => {
      before();
      expect(m.overcommit!.balance(64)).toBe(0);
    };
    const result = await m.run({ maxInsns: 200_000_000, slice: 100_000 });
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
    expect(out.text).toContain('checked 3 times');
    expect(m.overcommit!.stats().swap!.writeErrors).toBeGreaterThan(100);
    expect(m.overcommit!.map().swapped).toBe(0);
    m.releaseMemory();
  });
});

it('a guest out of host memory and swap (its file full) is stopped alone with MemoryExhaustedError; the other partition runs on', async () => {
  const hv = new Hypervisor(3 << 20); // the 4 MiB the guest checks do not fit, nor in 3 MiB and 256 KiB of swap
  const dir = swapDir();
  let hello = '';
  const load = (m: Machine, elf: string) => m.boot(m.loadElf(parseElf(readFileSync(elf))), m.placeDtb());
  const other = new Machine({ ramSize: 1 << 20, harts: 1, clock: 'icount', paging: 'nested', overcommit: {}, onConsole: (b) => (hello += Buffer.from(b).toString('latin1')) }, hv);
  load(other, 'guests/bin/hello.elf');
  const big = new Machine({ ramSize: RAM_SIZE, harts: 1, clock: 'icount', paging: 'shadow', overcommit: { swap: { dir, maxBytes: 256 << 10 } }, onConsole: () => {} }, hv);
  load(big, 'guests/bin/swap_pattern.elf');
  hv.sharePagesPerRound = 0;
  await hv.run({ timeoutMs: 60_000 });
  expect(big.result).toMatchObject({ kind: 'memory-exhausted', error: 'MemoryExhaustedError' });
  const swap = big.overcommit!.stats().swap!;
  expect(swap.fileSlots).toBe(64); // full
  expect(swap.swapped).toBe(64);
  expect(swap.writeErrors).toBeGreaterThan(0);
  expect(other.result).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
  expect(hello).toContain('Hello from RISC-V guest!');
});

it('swap needs nested or shadow paging, and a directory it can create its file in', () => {
  expect(() => new Machine({ ramSize: RAM_SIZE, harts: 1, paging: 'direct', overcommit: { swap: { dir: tmpdir() } }, onConsole: () => {} })).toThrow(/nested or shadow/);
  expect(() => new Machine({ ramSize: RAM_SIZE, harts: 1, paging: 'nested', overcommit: { swap: { dir: '/nonexistent/hv' } }, onConsole: () => {} })).toThrow(SwapError);
});
