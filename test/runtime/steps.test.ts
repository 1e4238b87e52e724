// --max-insns counts steps: instructions retired, traps taken and idle time
// in WFI, so that every guest comes to its limit, even one that retires
// nothing, and the kernel's slices end after exactly their budget in steps.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../runtime/machine/machine.ts';
import { code, CSR, rv } from '../support/rv.ts';

const RAM = 0x8000_0000;
const T0 = 5;
const T1 = 6;

/** A bare machine (M-mode at 0x8000_0000, icount clock) running `bytes`. */
function machine(bytes: Uint8Array): Machine {
  const m = new Machine({ ramSize: 1 << 20, harts: 1, clock: 'icount', onConsole: () => {} });
  m.loadRaw(bytes, RAM, 'test code');
  m.boot(BigInt(RAM), m.placeDtb());
  return m;
}

/** main: an illegal instruction, again and again; the handler steps over it. */
const trapLoop = code([
  rv.auipc(T0, 0), // 0x00
  rv.addi(T0, T0, 0x18), // 0x04: t0 = handler
  rv.csrrw(0, CSR.mtvec, T0), // 0x08
  rv.illegal(), // 0x0c
  rv.jal(0, -4), // 0x10: back to the illegal instruction
  0, // 0x14 (unused)
  rv.csrrs(T1, CSR.mepc, 0), // 0x18 handler
  rv.addi(T1, T1, 4),
  rv.csrrw(0, CSR.mepc, T1),
  rv.mret(),
]);

describe('a slice counts steps (kernel)', () => {
  it('spends its whole budget on a trap storm that retires nothing (4 zero bytes at mtvec = 0)', () => {
    const m = machine(new Uint8Array(4));
    m.kernel.exports.vcpuRun(m.firstVcpu, 1000);
    expect(m.harts[0]!.instret).toBe(0);
    expect(m.harts[0]!.steps).toBe(1000);
  });

  it('ends after exactly its budget of instructions and traps together', () => {
    const m = machine(trapLoop);
    for (const budget of [1, 2, 7, 1000, 1001]) {
      const before = m.harts[0]!.steps;
      m.kernel.exports.vcpuRun(m.firstVcpu, budget);
      expect(m.harts[0]!.steps - before).toBe(budget);
    }
    expect(m.stats().traps).toBeGreaterThan(300);
  });
});

describe('--max-insns (Machine.run maxInsns) bounds every guest', () => {
  it('stops a guest that retires nothing after exactly the limit in steps', async () => {
    const m = machine(new Uint8Array(4));
    expect(await m.run({ maxInsns: 123_457 })).toEqual({ kind: 'insn-limit' });
    expect(m.steps()).toBe(123_457);
  });

  it('stops a trap loop after exactly the limit', async () => {
    const m = machine(trapLoop);
    expect(await m.run({ maxInsns: 250_001 })).toEqual({ kind: 'insn-limit' });
    expect(m.steps()).toBe(250_001);
  });

  it('stops a guest waiting in WFI with no interrupt source (nothing could wake it)', async () => {
    const m = machine(code([rv.wfi(), rv.jal(0, -4)]));
    expect(await m.run({ maxInsns: 1_000_000 })).toEqual({ kind: 'insn-limit' });
    expect(m.steps()).toBe(1_000_000);
  });

  it('counts idle time in WFI as steps, as icount does, up to a timer far away', async () => {
    // mtimecmp = 2^40 ticks away, the timer enabled, then WFI for ever.
    const m = machine(
      code([
        rv.lui(T0, 0x2004), // t0 = 0x0200_4000 (CLINT mtimecmp)
        rv.addi(T1, 0, 1),
        rv.slli(T1, T1, 40),
        rv.sd(T1, T0, 0),
        rv.addi(T1, 0, 0x80),
        rv.csrrs(0, CSR.mie, T1), // MTIE
        rv.wfi(),
        rv.jal(0, -4),
      ]),
    );
    expect(await m.run({ maxInsns: 5_000_000 })).toEqual({ kind: 'insn-limit' });
    expect(m.instructions()).toBeLessThan(20);
    expect(m.steps()).toBe(5_000_000);
  });

  it('lets a guest whose timer comes before the limit take it', async () => {
    // mtimecmp = 1000 ticks (100,000 steps of idle time); the handler ends the guest through the finisher.
    const m = machine(
      code([
        rv.auipc(T0, 0),
        rv.addi(T0, T0, 0x30), // handler at 0x30
        rv.csrrw(0, CSR.mtvec, T0),
        rv.lui(T0, 0x2004),
        rv.addi(T1, 0, 1000),
        rv.sd(T1, T0, 0),
        rv.addi(T1, 0, 0x80),
        rv.csrrs(0, CSR.mie, T1),
        rv.csrrwi(0, CSR.mstatus, 8), // MIE
        rv.wfi(),
        rv.jal(0, -4),
        0,
        rv.lui(T0, 0x100), // 0x30: t0 = 0x0010_0000 (finisher)
        rv.lui(T1, 5),
        rv.addi(T1, T1, 0x555), // 0x5555: pass
        rv.sw(T1, T0, 0),
        rv.jal(0, 0),
      ]),
    );
    expect(await m.run({ maxInsns: 1_000_000 })).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
  });
});

describe('device space without a device', () => {
  it('faults each access (counted as unmapped on the bus) and the guest runs on to its limit', async () => {
    // A load from 0x3000_0000 (no device), its fault stepped over by the handler, for ever.
    const m = machine(
      code([
        rv.auipc(T0, 0),
        rv.addi(T0, T0, 0x18), // handler at 0x18
        rv.csrrw(0, CSR.mtvec, T0),
        rv.lui(T0, 0x30000),
        rv.ld(T1, T0, 0), // 0x10
        rv.jal(0, -4),
        rv.csrrs(T1, CSR.mepc, 0), // 0x18 handler
        rv.addi(T1, T1, 4),
        rv.csrrw(0, CSR.mepc, T1),
        rv.mret(),
      ]),
    );
    expect(await m.run({ maxInsns: 60_000 })).toEqual({ kind: 'insn-limit' });
    expect(m.stats().traps).toBeGreaterThan(9000);
    expect(m.board.bus.unmapped).toBe(m.stats().traps);
  });
});
