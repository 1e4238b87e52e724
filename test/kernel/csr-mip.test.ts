// mip.SEIP is the OR of a software-writable bit and the PLIC's line; the
// CSRRS/CSRRC read-modify-write must use the software bit only (privileged
// spec 3.1.9), or firmware that sets STIP while a device interrupts latches
// SEIP on for good (it stormed Linux with external interrupts under OpenSBI).
import { describe, expect, it } from 'vitest';
import { Machine } from '../../runtime/machine/machine.ts';
import { code, rv } from '../support/rv.ts';

const RAM = 0x8000_0000;
const MIP = 0x344;
const T0 = 5;
const T1 = 6;
const T2 = 7;
const SEIP = 1n << 9n;
const STIP = 1n << 5n;

function machine(words: number[]): Machine {
  const m = new Machine({ ramSize: 1 << 20, harts: 1, clock: 'icount', onConsole: () => {} });
  m.loadRaw(code(words), RAM, 'test code');
  m.boot(BigInt(RAM), m.placeDtb());
  return m;
}

describe('mip read-modify-write (Zicsr on mip)', () => {
  const program = [
    rv.addi(T0, 0, 0x20), // t0 = STIP
    rv.csrrs(T2, MIP, T0), // set STIP while the PLIC's S line is high; t2 = mip as read
    rv.csrrs(T1, MIP, 0), // read mip after the line dropped
  ];

  it('reads SEIP from the PLIC line but does not latch it into the software bit', () => {
    const m = machine(program);
    const h = m.harts[0]!;
    h.setExternalIrq(9, true);
    m.kernel.exports.vcpuRun(m.firstVcpu, 2);
    expect(h.getX(T2) & SEIP).toBe(SEIP); // the read shows the line
    h.setExternalIrq(9, false);
    m.kernel.exports.vcpuRun(m.firstVcpu, 1);
    expect(h.getX(T1) & (SEIP | STIP)).toBe(STIP);
  });

  it('keeps a software-written SEIP across a set of another bit', () => {
    const m = machine([rv.lui(T0, 0), rv.addi(T0, 0, 0x200), rv.csrrs(0, MIP, T0), ...program]);
    const h = m.harts[0]!;
    m.kernel.exports.vcpuRun(m.firstVcpu, 6);
    expect(h.getX(T1) & (SEIP | STIP)).toBe(SEIP | STIP);
  });
});
