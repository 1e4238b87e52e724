// Pinned pages (kernel/mm/pin.ts): a page the host holds in place (a VMBus
// GPADL's) moves into the frame the host gives it, keeps its bytes, and is
// never merged or ballooned until it is unpinned.
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../../runtime/host/hypervisor.ts';
import { Machine } from '../../../runtime/machine/machine.ts';
import { sharingCounters } from '../../../runtime/machine/overcommit.ts';

const RAM = 0x8000_0000;
const PAGE = 4096;

function pattern(seed: number): Uint8Array {
  const b = new Uint8Array(PAGE);
  for (let i = 0; i < PAGE; i++) b[i] = (i * 13 + seed) & 0xff;
  return b;
}

describe.each(['nested', 'shadow'] as const)('pinning guest pages under %s paging', (paging) => {
  function setup() {
    const hv = new Hypervisor(16 << 20);
    const m = new Machine({ ramSize: 64 * PAGE, harts: 1, clock: 'icount', paging, overcommit: { balloon: false }, onConsole: () => {} }, hv);
    // Pages 10-13: the same bytes (they would merge); 20: zero; 30: shared before it is pinned.
    for (let p = 10; p < 14; p++) m.guestMemory.write(RAM + p * PAGE, pattern(1));
    m.guestMemory.write(RAM + 30 * PAGE, pattern(1));
    m.boot(BigInt(RAM), 0);
    const k = hv.kernel.exports;
    const gpa = (p: number) => BigInt(RAM + p * PAGE);
    return { hv, m, k, gpa, host: (p: number) => Number(k.partitionHostPeek(m.id, gpa(p))) };
  }

  it('moves private, shared and zero pages into the host’s run with their bytes, and the scanner and balloon leave them there', () => {
    const { hv, m, k, gpa, host } = setup();
    k.shareScan(4096); // page 30 and 10-13 are shared now, 20 is the zero frame
    expect(host(30)).toBe(host(10));
    const run = k.framesAllocContiguous(3, PAGE);
    // 11: shared, 20: zero, 40: zero too; write 40 first so it is private.
    m.guestMemory.write(RAM + 40 * PAGE, pattern(7));
    expect([11, 20, 40].map((p, i) => k.partitionPinPage(m.id, gpa(p), run + i * PAGE))).toEqual([0, 0, 0]);
    expect([11, 20, 40].map(host)).toEqual([run, run + PAGE, run + 2 * PAGE]);
    expect(m.guestMemory.read(RAM + 11 * PAGE, PAGE)).toEqual(pattern(1));
    expect(m.guestMemory.read(RAM + 20 * PAGE, PAGE)).toEqual(new Uint8Array(PAGE));
    expect(m.guestMemory.read(RAM + 40 * PAGE, PAGE)).toEqual(pattern(7));
    expect(k.partitionMemPages(m.id, 4)).toBe(3);
    // Pinned again, ballooned, scanned: all leave it where it is.
    expect(k.partitionPinPage(m.id, gpa(11), run)).toBe(3);
    expect(k.partitionBalloonPage(m.id, gpa(40))).toBe(0);
    m.guestMemory.write(RAM + 41 * PAGE, pattern(7));
    for (let i = 0; i < 4; i++) k.shareScan(4096);
    expect([11, 20, 40].map(host)).toEqual([run, run + PAGE, run + 2 * PAGE]);
    expect(host(41)).not.toBe(run + 2 * PAGE);
    // A host write goes straight to the pinned frame (no copy-on-write).
    m.guestMemory.write(RAM + 40 * PAGE, pattern(9));
    expect(host(40)).toBe(run + 2 * PAGE);
    expect(new Uint8Array(hv.memory.buffer, run + 2 * PAGE, PAGE)).toEqual(pattern(9));
    // Unpinned, it is the partition's again: the next scan merges it with 41 once they match.
    expect(k.partitionUnpinPage(m.id, gpa(40))).toBe(1);
    expect(k.partitionUnpinPage(m.id, gpa(40))).toBe(0);
    m.guestMemory.write(RAM + 40 * PAGE, pattern(7));
    for (let i = 0; i < 4; i++) k.shareScan(4096);
    expect(host(40)).toBe(host(41));
    expect(k.partitionMemPages(m.id, 4)).toBe(2);
    expect(sharingCounters(hv.kernel).pendingFree).toBe(0);
  });

  it('refuses ballooned and out-of-range pages, leaving the frame the caller’s', () => {
    const { m, k, gpa, host } = setup();
    const run = k.framesAllocContiguous(1, PAGE);
    expect(k.partitionBalloonPage(m.id, gpa(50))).toBe(1);
    expect(k.partitionPinPage(m.id, gpa(50), run)).toBe(2);
    expect(host(50)).toBe(-1); // still ballooned: the refusal did not fault it back in
    expect(k.partitionPinPage(m.id, gpa(64), run)).toBe(1);
    expect(k.partitionPinPage(m.id, 1n << 45n, run)).toBe(1);
    expect(k.partitionMemPages(m.id, 4)).toBe(0);
  });
});
