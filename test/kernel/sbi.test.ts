// The kernel's SBI firmware (kernel/hypercall/), one call at a time: every
// extension's functions, and every error path a guest can reach.
import { describe, expect, it } from 'vitest';
import { EID, Exit, LEGACY_A1, RAM_BASE, SBI, SbiExit, SbiHarness, State } from '../support/enlightened.ts';

const ALL = -1n; // hart_mask_base = -1: every hart
const U64_MAX = (1n << 64n) - 1n;
const SSIP = 1n << 1n;

describe('SBI Base extension', () => {
  const t = new SbiHarness(2);

  it('reports spec version 2.0, the implementation id "hv" and its version', () => {
    expect(t.call(EID.BASE, 0)).toMatchObject({ error: 0n, value: 0x0200_0000n });
    expect(t.call(EID.BASE, 1)).toMatchObject({ error: 0n, value: 0x6876n });
    expect(t.machine.kernel.layout.sbiImplId).toBe(0x6876);
    expect(t.call(EID.BASE, 2)).toMatchObject({ error: 0n, value: 1n });
  });

  it('reports mvendorid, marchid and mimpid as the virtual hart has them (0)', () => {
    for (const fid of [4, 5, 6]) expect(t.call(EID.BASE, fid)).toMatchObject({ error: 0n, value: 0n });
  });

  it.each([
    ['Base', EID.BASE, 1n], ['TIME', EID.TIME, 1n], ['IPI', EID.IPI, 1n], ['RFENCE', EID.RFENCE, 1n],
    ['HSM', EID.HSM, 1n], ['SRST', EID.SRST, 1n], ['DBCN', EID.DBCN, 1n], ['hv hypercalls', EID.HV, 1n],
    ['legacy set_timer', 0x00n, 1n], ['legacy shutdown', 0x08n, 1n], ['reserved legacy 0x09', 0x09n, 0n],
    ['PMU', 0x504d55n, 0n], ['SUSP', 0x53555350n, 0n], ['another firmware', 0x0a000001n, 0n],
    ['an unknown EID', 0x12345678n, 0n],
  ])('probe_extension(%s) = %i', (_name, eid, want) => {
    expect(t.call(EID.BASE, 3, [eid])).toMatchObject({ error: 0n, value: want });
  });

  it('answers unknown functions and extensions with NOT_SUPPORTED', () => {
    expect(t.call(EID.BASE, 7).error).toBe(SBI.NOT_SUPPORTED);
    expect(t.call(EID.BASE, 1n << 32n).error).toBe(SBI.NOT_SUPPORTED); // FIDs are 32-bit
    for (const eid of [0x11n, 0x12345678n, 0x0a000000n, 0x0affffffn, (0xffff_ffffn << 32n) | EID.TIME]) {
      expect(t.call(eid, 0).error, `EID 0x${eid.toString(16)}`).toBe(SBI.NOT_SUPPORTED);
    }
  });

  it('advances pc past the ECALL and leaves other registers alone', () => {
    const h = t.hart(0);
    h.setX(12, 0x1234n);
    h.setX(5, 0x5555n);
    const r = t.call(EID.BASE, 0, [0, 0, 0x1234]);
    expect(r.pc).toBe(BigInt(RAM_BASE + 4));
    expect(h.getX(12)).toBe(0x1234n);
    expect(h.getX(5)).toBe(0x5555n);
    expect(h.getX(17)).toBe(EID.BASE);
  });

  it('counts the calls it services', () => {
    const before = t.hart(0).stat('SBI_CALLS');
    t.call(EID.BASE, 0);
    t.call(0x12345678n, 0);
    expect(t.hart(0).stat('SBI_CALLS')).toBe(before + 2);
  });
});

describe('SBI TIME extension', () => {
  it('set_timer arms the S-timer comparator; -1 disarms it', () => {
    const t = new SbiHarness(1);
    expect(t.hart(0).stimecmp).toBe(U64_MAX); // disarmed at boot
    expect(t.call(EID.TIME, 0, [123456n]).error).toBe(0n);
    expect(t.hart(0).stimecmp).toBe(123456n);
    expect(t.call(EID.TIME, 0, [U64_MAX]).error).toBe(0n);
    expect(t.hart(0).stimecmp).toBe(U64_MAX);
  });

  it('drives STIP, as Sstc does: pending once mtime reaches the comparator, cleared by a later one', () => {
    const t = new SbiHarness(1);
    const STIP = 1n << 5n;
    expect(t.sip() & STIP).toBe(0n);
    t.call(EID.TIME, 0, [0]); // in the past
    expect(t.sip() & STIP).toBe(STIP);
    t.call(EID.TIME, 0, [1n << 40n]); // far in the future
    expect(t.sip() & STIP).toBe(0n);
    expect(t.hart(0).u64('MIP') & STIP).toBe(0n); // computed, never stored
  });

  it('does not raise STIP in a partition whose firmware the hypervisor is not', () => {
    // (The S-timer comparator is zero after an ordinary vcpuReset: it must not count.)
    const t = new SbiHarness(1);
    t.call(EID.TIME, 0, [0]);
    t.machine.kernel.exports.partitionSetEnlightened(0, 0);
    expect(t.sip() & (1n << 5n)).toBe(0n);
  });

  it('has no function other than set_timer', () => {
    const t = new SbiHarness(1);
    expect(t.call(EID.TIME, 1).error).toBe(SBI.NOT_SUPPORTED);
  });
});

describe('SBI IPI extension', () => {
  it('sets SSIP on the harts of the mask', () => {
    const t = new SbiHarness(4);
    expect(t.call(EID.IPI, 0, [0b0110n, 0]).error).toBe(0n);
    expect(t.machine.harts.map((h) => h.u64('MIP') & SSIP)).toEqual([0n, SSIP, SSIP, 0n]);
  });

  it('honours hart_mask_base, and -1 for every hart', () => {
    const t = new SbiHarness(4);
    expect(t.call(EID.IPI, 0, [0b1n, 3]).error).toBe(0n);
    expect(t.hart(3).u64('MIP') & SSIP).toBe(SSIP);
    expect(t.hart(0).u64('MIP') & SSIP).toBe(0n);
    expect(t.call(EID.IPI, 0, [0, ALL]).error).toBe(0n);
    expect(t.machine.harts.every((h) => (h.u64('MIP') & SSIP) === SSIP)).toBe(true);
  });

  it.each([
    ['a hart beyond the last', 1n << 4n, 0n],
    ['bit 63', 1n << 63n, 0n],
    ['a base beyond the last hart', 1n, 4n],
    ['a base whose mask runs past the last hart', 0b11n, 3n],
    ['a base + bit that overflows', 2n, U64_MAX - 1n],
  ])('rejects %s with INVALID_PARAM and sends nothing', (_what, mask, base) => {
    const t = new SbiHarness(4);
    expect(t.call(EID.IPI, 0, [mask | 1n, base]).error).toBe(SBI.INVALID_PARAM);
    expect(t.machine.harts.map((h) => h.u64('MIP') & SSIP)).toEqual([0n, 0n, 0n, 0n]);
  });

  it('accepts an empty mask', () => {
    const t = new SbiHarness(2);
    expect(t.call(EID.IPI, 0, [0, 0]).error).toBe(0n);
    expect(t.call(EID.IPI, 0, [0, 1000]).error).toBe(0n);
  });

  it('wakes a target waiting in WFI with sie.SSIE', () => {
    const t = new SbiHarness(2);
    const k = t.machine.kernel.exports;
    expect(t.call(EID.HSM, 0, [1, RAM_BASE + 4, 0]).error).toBe(0n); // hart 1 spins on `j .`
    expect(k.vcpuWakeup(1)).toBe(0); // nothing pending
    t.call(EID.IPI, 0, [0b10n, 0]);
    expect(t.hart(1).u64('MIP') & SSIP).toBe(SSIP);
  });

  it('has no function other than send_ipi', () => {
    expect(new SbiHarness(1).call(EID.IPI, 1, [1, 0]).error).toBe(SBI.NOT_SUPPORTED);
  });
});

describe('SBI RFENCE extension', () => {
  it('flushes the caller at once and queues the flush for other harts until they next run', () => {
    const t = new SbiHarness(2);
    t.call(EID.HSM, 0, [1, RAM_BASE + 4, 0]); // hart 1 runs `j .`
    t.run(1, 10);
    const flushes = (i: number) => t.hart(i).stat('TLB_FLUSHES');
    const f0 = flushes(0), f1 = flushes(1);
    expect(t.call(EID.RFENCE, 1, [0b11n, 0, 0, U64_MAX]).error).toBe(0n);
    expect(flushes(0)).toBe(f0 + 1);
    expect(t.hart(0).u32('FENCE_PENDING')).toBe(0);
    expect(flushes(1)).toBe(f1);
    expect(t.hart(1).u32('FENCE_PENDING')).toBe(1); // sfence.vma queued
    t.run(1, 1);
    expect(flushes(1)).toBe(f1 + 1);
    expect(t.hart(1).u32('FENCE_PENDING')).toBe(0);
  });

  it('queues fence.i and the ASID form', () => {
    const t = new SbiHarness(2);
    expect(t.call(EID.RFENCE, 0, [0b10n, 0]).error).toBe(0n);
    expect(t.hart(1).u32('FENCE_PENDING') & 2).toBe(2);
    expect(t.call(EID.RFENCE, 2, [0, ALL, 0x1000, 0x1000, 7]).error).toBe(0n);
    expect(t.hart(1).u32('FENCE_PENDING') & 1).toBe(1);
  });

  it('rejects invalid hart masks with INVALID_PARAM', () => {
    const t = new SbiHarness(2);
    for (const fid of [0, 1, 2]) {
      expect(t.call(EID.RFENCE, fid, [0b100n, 0]).error).toBe(SBI.INVALID_PARAM);
      expect(t.call(EID.RFENCE, fid, [1n, 2n]).error).toBe(SBI.INVALID_PARAM);
    }
    expect(t.hart(1).u32('FENCE_PENDING')).toBe(0);
  });

  it('has no hypervisor fences (no H extension)', () => {
    const t = new SbiHarness(1);
    for (const fid of [3, 4, 5, 6, 7]) expect(t.call(EID.RFENCE, fid, [1, 0]).error).toBe(SBI.NOT_SUPPORTED);
  });
});

describe('SBI HSM extension', () => {
  it('boots hart 0 in S-mode and leaves the others STOPPED', () => {
    const t = new SbiHarness(3);
    expect(t.hart(0).priv).toBe(1);
    expect(t.hart(0).state).toBe(State.RUNNABLE);
    expect(t.machine.harts.slice(1).map((h) => h.state)).toEqual([State.STOPPED, State.STOPPED]);
    expect(t.call(EID.HSM, 2, [0])).toMatchObject({ error: 0n, value: 0n }); // STARTED
    expect(t.call(EID.HSM, 2, [1])).toMatchObject({ error: 0n, value: 1n }); // STOPPED
  });

  it('hart_start enters the target in S-mode at start_addr with a0 = hartid, a1 = opaque, satp 0, SIE 0', () => {
    const t = new SbiHarness(3);
    expect(t.call(EID.HSM, 0, [2, RAM_BASE + 4, 0xfeedn]).error).toBe(0n);
    const h = t.hart(2);
    expect(h.state).toBe(State.RUNNABLE);
    expect(h.pc).toBe(BigInt(RAM_BASE + 4));
    expect(h.getX(10)).toBe(2n);
    expect(h.getX(11)).toBe(0xfeedn);
    expect(h.priv).toBe(1);
    expect(h.u64('SATP')).toBe(0n);
    expect(h.u64('MSTATUS') & 2n).toBe(0n);
    expect(t.call(EID.HSM, 2, [2])).toMatchObject({ error: 0n, value: 0n });
    expect(t.run(2, 100)).toBe(Exit.BUDGET);
    expect(h.pc).toBe(BigInt(RAM_BASE + 4)); // spinning on `j .`
  });

  it('refuses to start a started hart with ALREADY_AVAILABLE', () => {
    const t = new SbiHarness(2);
    expect(t.call(EID.HSM, 0, [0, RAM_BASE, 0]).error).toBe(SBI.ALREADY_AVAILABLE); // itself
    expect(t.call(EID.HSM, 0, [1, RAM_BASE + 4, 0]).error).toBe(0n);
    expect(t.call(EID.HSM, 0, [1, RAM_BASE + 4, 0]).error).toBe(SBI.ALREADY_AVAILABLE);
  });

  it.each([2n, 64n, 1n << 32n, U64_MAX])('rejects nonexistent hart %i with INVALID_PARAM', (hartid) => {
    const t = new SbiHarness(2);
    expect(t.call(EID.HSM, 0, [hartid, RAM_BASE, 0]).error).toBe(SBI.INVALID_PARAM);
    expect(t.call(EID.HSM, 2, [hartid]).error).toBe(SBI.INVALID_PARAM);
  });

  it.each([
    ['zero', 0n],
    ['the CLINT', 0x0200_0000n],
    ['the UART', 0x1000_0000n],
    ['the end of RAM', BigInt(RAM_BASE + (1 << 20))],
    ['the last byte of RAM (a 2-byte fetch runs off it)', BigInt(RAM_BASE + (1 << 20) - 1)],
    ['-1', U64_MAX],
  ])('rejects a start address at %s with INVALID_ADDRESS; the hart stays stopped', (_what, addr) => {
    const t = new SbiHarness(2);
    expect(t.call(EID.HSM, 0, [1, addr, 0]).error).toBe(SBI.INVALID_ADDRESS);
    expect(t.hart(1).state).toBe(State.STOPPED);
  });

  it('hart_stop stops the caller once it has left run(), and it can be started again', () => {
    const t = new SbiHarness(2);
    t.call(EID.HSM, 0, [1, RAM_BASE, 0]);
    const r = t.call(EID.HSM, 1, [], 1);
    expect(r.exit).toBe(Exit.HOST);
    expect(t.hart(1).takeSbiExit().kind).toBe(SbiExit.HART_STOP);
    expect(t.hart(1).state).toBe(State.STOPPED);
    expect(t.call(EID.HSM, 2, [1])).toMatchObject({ error: 0n, value: 1n });
    expect(t.run(1, 10)).toBe(Exit.WFI); // the kernel will not run a stopped vCPU
    expect(t.call(EID.HSM, 0, [1, RAM_BASE + 4, 7]).error).toBe(0n);
    expect(t.hart(1).getX(11)).toBe(7n);
  });

  it('retentive suspend waits like WFI and reports SUSPENDED meanwhile', () => {
    const t = new SbiHarness(2);
    t.call(EID.HSM, 0, [1, RAM_BASE, 0]);
    const r = t.call(EID.HSM, 3, [0, 0, 0], 1);
    expect(r).toMatchObject({ error: 0n, exit: Exit.WFI, pc: BigInt(RAM_BASE + 4) });
    expect(t.call(EID.HSM, 2, [1])).toMatchObject({ error: 0n, value: 4n }); // SUSPENDED
    t.run(1, 1); // once it runs again (the scheduler's call, on an interrupt) it is STARTED

    expect(t.call(EID.HSM, 2, [1])).toMatchObject({ error: 0n, value: 0n });
  });

  it.each([
    ['non-retentive (unsupported)', 0x8000_0000n, SBI.NOT_SUPPORTED],
    ['reserved 1', 1n, SBI.INVALID_PARAM],
    ['platform retentive', 0x1000_0000n, SBI.INVALID_PARAM],
    ['reserved non-retentive', 0x8000_0001n, SBI.INVALID_PARAM],
    ['platform non-retentive', 0x9000_0000n, SBI.INVALID_PARAM],
    ['wider than 32 bits', 1n << 32n, SBI.INVALID_PARAM],
  ])('refuses suspend type %s', (_what, type, err) => {
    const t = new SbiHarness(1);
    expect(t.call(EID.HSM, 3, [type, RAM_BASE, 0])).toMatchObject({ error: err, exit: Exit.BUDGET });
  });

  it('answers unknown functions with NOT_SUPPORTED', () => {
    expect(new SbiHarness(1).call(EID.HSM, 4).error).toBe(SBI.NOT_SUPPORTED);
  });
});

describe('SBI SRST extension', () => {
  it.each([
    [0n, 0n], [0n, 1n], [1n, 0n], [2n, 1n], [0n, 0xe000_0000n], [0n, 0xe000_00ffn],
  ])('system_reset(type %i, reason %i) goes to the host', (type, reason) => {
    const t = new SbiHarness(2);
    const r = t.call(EID.SRST, 0, [type, reason]);
    expect(r.exit).toBe(Exit.HOST);
    expect(t.hart(0).takeSbiExit()).toEqual({ kind: SbiExit.RESET, type: Number(type), reason: Number(reason) });
  });

  it.each([
    ['a reserved type', 3n, 0n],
    ['a platform-specific type', 0xf000_0000n, 0n],
    ['a type wider than 32 bits', 1n << 32n, 0n],
    ['a reserved reason', 0n, 2n],
    ['an implementation reason beyond ours', 0n, 0xe000_0100n],
    ['a platform-specific reason', 0n, 0xf000_0000n],
    ['a reason wider than 32 bits', 0n, 1n << 32n],
  ])('refuses %s with INVALID_PARAM and keeps running', (_what, type, reason) => {
    const t = new SbiHarness(1);
    expect(t.call(EID.SRST, 0, [type, reason])).toMatchObject({ error: SBI.INVALID_PARAM, exit: Exit.BUDGET });
    expect(t.hart(0).takeSbiExit().kind).toBe(SbiExit.NONE);
  });

  it('answers unknown functions with NOT_SUPPORTED', () => {
    expect(new SbiHarness(1).call(EID.SRST, 1, [0, 0]).error).toBe(SBI.NOT_SUPPORTED);
  });
});

describe('SBI DBCN extension', () => {
  const text = (t: SbiHarness, addr: number, s: string) => t.ramAt(addr, s.length).set(Buffer.from(s, 'latin1'));

  it('console_write copies bytes from guest-physical memory to the console ring', () => {
    const t = new SbiHarness(1);
    text(t, RAM_BASE + 0x800, 'hello, console\n');
    expect(t.call(EID.DBCN, 0, [15, RAM_BASE + 0x800, 0])).toMatchObject({ error: 0n, value: 15n, exit: Exit.BUDGET });
    expect(t.drain()).toBe('hello, console\n');
  });

  it('writes what fits when the ring fills, and asks the host to drain it', () => {
    const t = new SbiHarness(1);
    const size = t.machine.kernel.layout.consSize;
    const s = 'x'.repeat(size + 50);
    text(t, RAM_BASE + 0x800, s);
    const r = t.call(EID.DBCN, 0, [s.length, RAM_BASE + 0x800, 0]);
    expect(r).toMatchObject({ error: 0n, value: BigInt(size), exit: Exit.HOST });
    expect(t.hart(0).takeSbiExit().kind).toBe(SbiExit.CONSOLE);
    expect(t.drain().length).toBe(size);
    expect(t.call(EID.DBCN, 0, [50, RAM_BASE + 0x800 + size, 0])).toMatchObject({ error: 0n, value: 50n });
  });

  it('copies across a page boundary', () => {
    const t = new SbiHarness(1);
    text(t, RAM_BASE + 0xffa, 'page-crossing');
    expect(t.call(EID.DBCN, 0, [13, RAM_BASE + 0xffa, 0]).value).toBe(13n);
    expect(t.drain()).toBe('page-crossing');
  });

  it.each([
    ['address 0', 8n, 0n, 0n],
    ['a device (UART)', 1n, 0x1000_0000n, 0n],
    ['below RAM', 16n, BigInt(RAM_BASE - 8), 0n],
    ['running off the end of RAM', 16n, BigInt(RAM_BASE + (1 << 20) - 8), 0n],
    ['a huge length', U64_MAX, BigInt(RAM_BASE), 0n],
    ['a wrapping range', 0x2000n, U64_MAX - 0xfffn, 0n],
    ['base_addr_hi set', 4n, BigInt(RAM_BASE), 1n],
  ])('console_write and console_read from %s fail with INVALID_ADDRESS', (_what, n, lo, hi) => {
    const t = new SbiHarness(1);
    expect(t.call(EID.DBCN, 0, [n, lo, hi])).toMatchObject({ error: SBI.INVALID_ADDRESS, value: 0n });
    expect(t.call(EID.DBCN, 1, [n, lo, hi])).toMatchObject({ error: SBI.INVALID_ADDRESS, value: 0n });
    expect(t.drain()).toBe('');
  });

  it('zero-length writes and reads succeed with 0 bytes', () => {
    const t = new SbiHarness(1);
    expect(t.call(EID.DBCN, 0, [0, RAM_BASE, 0])).toMatchObject({ error: 0n, value: 0n });
    expect(t.call(EID.DBCN, 1, [0, RAM_BASE, 0])).toMatchObject({ error: 0n, value: 0n });
  });

  it('console_read returns the host input queued so far, 0 bytes when there is none', () => {
    const t = new SbiHarness(1);
    expect(t.call(EID.DBCN, 1, [8, RAM_BASE + 0x900, 0])).toMatchObject({ error: 0n, value: 0n });
    t.machine.input('abc');
    expect(t.call(EID.DBCN, 1, [2, RAM_BASE + 0x900, 0])).toMatchObject({ error: 0n, value: 2n });
    expect(Buffer.from(t.ramAt(RAM_BASE + 0x900, 2)).toString()).toBe('ab');
    expect(t.call(EID.DBCN, 1, [8, RAM_BASE + 0x900, 0])).toMatchObject({ error: 0n, value: 1n });
    expect(t.ramAt(RAM_BASE + 0x900, 1)[0]).toBe(0x63);
  });

  it('console_write_byte writes one byte; on a full ring the ECALL waits for the host', () => {
    const t = new SbiHarness(1);
    const size = t.machine.kernel.layout.consSize;
    expect(t.call(EID.DBCN, 2, [0x41])).toMatchObject({ error: 0n, value: 0n });
    for (let i = 1; i < size; i++) t.call(EID.DBCN, 2, [0x42]);
    const r = t.call(EID.DBCN, 2, [0x43]);
    expect(r).toMatchObject({ exit: Exit.HOST, pc: BigInt(RAM_BASE) }); // retried, not returned
    expect(t.hart(0).takeSbiExit().kind).toBe(SbiExit.CONSOLE);
    expect(t.drain()).toBe('A' + 'B'.repeat(size - 1));
    t.run(0, 1); // the retry
    expect(t.hart(0).pc).toBe(BigInt(RAM_BASE + 4));
    expect(t.drain()).toBe('C');
  });

  it('answers unknown functions with NOT_SUPPORTED', () => {
    expect(new SbiHarness(1).call(EID.DBCN, 3).error).toBe(SBI.NOT_SUPPORTED);
  });
});

describe('SBI legacy extensions', () => {
  const MASK_AT = RAM_BASE + 0xc00;
  const putMask = (t: SbiHarness, mask: bigint, at = MASK_AT) =>
    new DataView(t.machine.ram.buffer, t.machine.ram.byteOffset).setBigUint64(at - RAM_BASE, mask, true);

  it('console_putchar and console_getchar return in a0 only', () => {
    const t = new SbiHarness(1);
    expect(t.legacy(0x01, [0x5a])).toMatchObject({ error: 0n, value: LEGACY_A1 });
    expect(t.drain()).toBe('Z');
    expect(t.legacy(0x02)).toMatchObject({ error: -1n, value: LEGACY_A1 }); // no input
    t.machine.input('q');
    expect(t.legacy(0x02).error).toBe(0x71n);
  });

  it('set_timer arms the comparator', () => {
    const t = new SbiHarness(1);
    expect(t.legacy(0x00, [999]).error).toBe(0n);
    expect(t.hart(0).stimecmp).toBe(999n);
  });

  it('send_ipi and the remote fences read the hart mask through the pointer; clear_ipi clears SSIP', () => {
    const t = new SbiHarness(2);
    putMask(t, 0b11n);
    expect(t.legacy(0x04, [MASK_AT]).error).toBe(0n);
    expect(t.machine.harts.map((h) => h.u64('MIP') & SSIP)).toEqual([SSIP, SSIP]);
    expect(t.legacy(0x03).error).toBe(0n);
    expect(t.hart(0).u64('MIP') & SSIP).toBe(0n);
    expect(t.legacy(0x05, [MASK_AT]).error).toBe(0n);
    expect(t.legacy(0x06, [MASK_AT, 0, U64_MAX]).error).toBe(0n);
    expect(t.legacy(0x07, [MASK_AT, 0, U64_MAX, 1]).error).toBe(0n);
    expect(t.hart(1).u32('FENCE_PENDING')).toBe(3);
  });

  it.each([
    ['not RAM', 0x1000],
    ['misaligned', MASK_AT + 4 + 1],
    ['off the end of RAM', RAM_BASE + (1 << 20) - 4],
  ])('refuses a hart-mask pointer that is %s with INVALID_ADDRESS', (_what, ptr) => {
    const t = new SbiHarness(2);
    for (const eid of [0x04, 0x05, 0x06, 0x07]) expect(t.legacy(eid, [ptr]).error).toBe(SBI.INVALID_ADDRESS);
  });

  it('refuses a mask naming a hart that does not exist', () => {
    const t = new SbiHarness(2);
    putMask(t, 0b100n);
    expect(t.legacy(0x04, [MASK_AT]).error).toBe(SBI.INVALID_PARAM);
  });

  it('shutdown goes to the host as an SRST shutdown', () => {
    const t = new SbiHarness(1);
    expect(t.legacy(0x08).exit).toBe(Exit.HOST);
    expect(t.hart(0).takeSbiExit()).toEqual({ kind: SbiExit.RESET, type: 0, reason: 0 });
  });

  it.each([0x09, 0x0a, 0x0f])('reserved EID 0x%s is NOT_SUPPORTED', (eid) => {
    expect(new SbiHarness(1).legacy(eid).error).toBe(SBI.NOT_SUPPORTED);
  });
});

describe('hv hypercall extension (EID 0x0A000000 | impl_id)', () => {
  it('lives at 0x0A000000 | sbi_get_impl_id()', () => {
    const t = new SbiHarness(1);
    expect(0x0a00_0000n | t.call(EID.BASE, 1).value).toBe(EID.HV);
  });

  it('returns the partition id, the calling vCPU index and the vCPU count', () => {
    const t = new SbiHarness(3);
    t.call(EID.HSM, 0, [2, RAM_BASE, 0]);
    expect(t.call(EID.HV, 0)).toMatchObject({ error: 0n, value: 0n });
    expect(t.call(EID.HV, 1)).toMatchObject({ error: 0n, value: 0n });
    expect(t.call(EID.HV, 1, [], 2)).toMatchObject({ error: 0n, value: 2n });
    expect(t.call(EID.HV, 4, [], 2)).toMatchObject({ error: 0n, value: 3n });
  });

  it('get_stat returns the exact instructions retired before the call, and the SBI call count', () => {
    const t = new SbiHarness(1);
    t.hart(0).setPc(BigInt(RAM_BASE + 4));
    t.run(0, 1000); // 1000 x `j .`
    const r = t.call(EID.HV, 3, [0]);
    expect(r).toMatchObject({ error: 0n, value: 1000n });
    const calls = t.call(EID.HV, 3, [1]).value;
    expect(t.call(EID.HV, 3, [1]).value).toBe(calls + 1n);
    for (const c of [2, 3, 4, 5, 6, 7]) expect(t.call(EID.HV, 3, [c]).error).toBe(0n);
  });

  it('rejects unknown counters with INVALID_PARAM', () => {
    const t = new SbiHarness(1);
    for (const c of [8n, 99n, 1n << 32n, U64_MAX]) expect(t.call(EID.HV, 3, [c]).error).toBe(SBI.INVALID_PARAM);
  });

  it('yield returns to the host', () => {
    const t = new SbiHarness(1);
    expect(t.call(EID.HV, 2)).toMatchObject({ error: 0n, exit: Exit.HOST, pc: BigInt(RAM_BASE + 4) });
    expect(t.hart(0).takeSbiExit().kind).toBe(SbiExit.YIELD);
  });

  it('answers unknown functions with NOT_SUPPORTED', () => {
    const t = new SbiHarness(1);
    for (const fid of [5, 0x3f, 0x45, 0x50, 1n << 31n]) expect(t.call(EID.HV, fid).error).toBe(SBI.NOT_SUPPORTED);
  });
});

describe('under nested paging (guest-physical memory through G-stage tables)', () => {
  it('DBCN reads and writes guest memory page by page, across pages, and refuses addresses outside RAM', () => {
    const t = new SbiHarness(1, 1 << 20, 'nested');
    t.ramAt(RAM_BASE + 0x1ffa, 13).set(Buffer.from('page-crossing'));
    expect(t.call(EID.DBCN, 0, [13, RAM_BASE + 0x1ffa, 0])).toMatchObject({ error: 0n, value: 13n });
    expect(t.drain()).toBe('page-crossing');
    t.machine.input('xyz');
    expect(t.call(EID.DBCN, 1, [3, RAM_BASE + 0x2ffe, 0])).toMatchObject({ error: 0n, value: 3n });
    expect(Buffer.from(t.ramAt(RAM_BASE + 0x2ffe, 3)).toString()).toBe('xyz');
    expect(t.call(EID.DBCN, 0, [8, 0x1000, 0]).error).toBe(SBI.INVALID_ADDRESS);
    expect(t.call(EID.DBCN, 0, [16, RAM_BASE + (1 << 20) - 8, 0]).error).toBe(SBI.INVALID_ADDRESS);
  });

  it('HSM starts harts and the legacy calls read hart masks', () => {
    const t = new SbiHarness(2, 1 << 20, 'nested');
    expect(t.call(EID.HSM, 0, [1, RAM_BASE + 4, 0]).error).toBe(0n);
    expect(t.call(EID.HSM, 0, [1, RAM_BASE + 4, 0]).error).toBe(SBI.ALREADY_AVAILABLE);
    new DataView(t.machine.ram.buffer, t.machine.ram.byteOffset).setBigUint64(0xc00, 0b10n, true);
    expect(t.legacy(0x04, [RAM_BASE + 0xc00]).error).toBe(0n);
    expect(t.hart(1).u64('MIP') & SSIP).toBe(SSIP);
  });
});

describe('robustness', () => {
  it('no argument a guest passes aborts the host or writes outside its RAM', () => {
    const t = new SbiHarness(2, 64 << 10);
    const k = t.machine.kernel.exports;
    const mem = new Uint8Array(t.machine.memory.buffer);
    const ramStart = t.machine.ram.byteOffset, ramEnd = ramStart + t.machine.ram.length;
    // Everything past guest RAM (sentinel) must stay untouched.
    mem.fill(0xa5, ramEnd, ramEnd + 4096);
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0);
    const interesting = [0n, 1n, 2n, 3n, 63n, 64n, 0x8000_0000n, BigInt(RAM_BASE), BigInt(RAM_BASE + 0xfff),
      BigInt(RAM_BASE + (64 << 10) - 1), BigInt(RAM_BASE + (64 << 10)), 1n << 32n, 1n << 63n, U64_MAX, U64_MAX - 1n];
    const arg = () => (rnd() & 1 ? interesting[rnd() % interesting.length]! : BigInt(rnd()) * BigInt(rnd()));
    const eids = [0x00n, 0x01n, 0x02n, 0x03n, 0x04n, 0x05n, 0x06n, 0x07n, 0x09n, 0x0fn, EID.BASE, EID.TIME, EID.IPI,
      EID.RFENCE, EID.HSM, EID.DBCN, EID.HV, 0x0a000000n, 0xdeadbeefn];
    const codes = new Set([0n, -1n, -2n, -3n, -4n, -5n, -6n]);
    for (let i = 0; i < 3000; i++) {
      const eid = eids[rnd() % eids.length]!;
      let fid = BigInt(rnd() % 8);
      if (eid === EID.HSM && fid === 1n) fid = 2n; // keep hart 0 alive
      const r = t.call(eid, fid, [arg(), arg(), arg(), arg(), arg(), arg()]);
      if (eid > 0x0fn) expect(codes.has(r.error), `EID 0x${eid.toString(16)} FID ${fid} -> ${r.error}`).toBe(true);
      t.hart(0).takeSbiExit();
      t.drain();
      if (t.hart(1).state === State.RUNNABLE) k.vcpuStop(1);
    }
    expect(mem.subarray(ramEnd, ramEnd + 4096).every((b) => b === 0xa5)).toBe(true);
  });
});
