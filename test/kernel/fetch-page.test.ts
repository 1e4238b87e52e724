// The interpreter's fetch page (kernel/cpu/exec.ts): between slow fetches it
// keeps the host address of the page pc is in. A jump from that page to the
// last halfword of the page below it must not be fetched through it: the
// page below is another guest page, whose host frame need not be the one
// before (issue 11: Linux lost init to SIGSEGV once page sharing had moved
// busybox's text onto scattered frames). A hand-assembled S-mode program
// runs on two virtual pages mapped to guest pages that are not adjacent.
import { describe, expect, it } from 'vitest';
import { Machine, type PagingMode } from '../../runtime/machine/machine.ts';

const RAM_BASE = 0x8000_0000;
const ROOT = 0x10000, L1 = 0x11000, L0 = 0x12000;
const LOW = 0x20000; // guest page of VA 0x4000_0000
const HIGH = 0x30000; // guest page of VA 0x4000_1000
const DECOY = HIGH - 0x1000; // the guest page (and, when RAM is one run, host frame) before HIGH
const VA_HIGH = 0x4000_1000n;

const V = 1n, R = 2n, X = 8n, A = 64n;
const pte = (pa: number, flags: bigint) => (BigInt(RAM_BASE + pa) >> 12n << 10n) | flags | V;

const T0 = 5, T1 = 6, T2 = 7, T3 = 28, T4 = 29, A0 = 10;
const csrw = (csr: number, rs: number) => (csr << 20) | (rs << 15) | (1 << 12) | 0x73;
const csrs = (csr: number, rs: number) => (csr << 20) | (rs << 15) | (2 << 12) | 0x73;
const MRET = 0x3020_0073;
const J_SELF = 0x6f;
/** jal x0, `off` (J-type immediate). */
const j = (off: number) =>
  ((((off >> 20) & 1) << 31) | (((off >> 1) & 0x3ff) << 21) | (((off >> 11) & 1) << 20) | (((off >> 12) & 0xff) << 12) | 0x6f) >>> 0;
/** c.li a0, imm (0 <= imm < 32). */
const cLiA0 = (imm: number) => 0x4000 | (A0 << 7) | (imm << 2) | 1;
const SATP = 0x180, MSTATUS = 0x300, MEPC = 0x341, PMPCFG0 = 0x3a0, PMPADDR0 = 0x3b0;

function machine(paging: PagingMode): Machine {
  const m = new Machine({ ramSize: 1 << 20, harts: 1, clock: 'icount', paging, onConsole: () => {} });
  // M-mode: PMP open for S, Sv39, then mret to S-mode at VA_HIGH + 4.
  const setup = new Uint32Array([csrw(PMPADDR0, T3), csrw(PMPCFG0, T4), csrw(SATP, T0), csrw(MEPC, T1), csrs(MSTATUS, T2), MRET]);
  m.loadRaw(new Uint8Array(setup.buffer), RAM_BASE, 'setup');
  m.boot(BigInt(RAM_BASE), 0);
  const dv = new DataView(m.ram.buffer, m.ram.byteOffset, m.ram.byteLength);
  dv.setBigUint64(ROOT + 8, pte(L1, 0n), true); // VA 0x4000_0000
  dv.setBigUint64(L1, pte(L0, 0n), true);
  dv.setBigUint64(L0, pte(LOW, R | X | A), true);
  dv.setBigUint64(L0 + 8, pte(HIGH, R | X | A), true);
  // VA 0x4000_0ffe: a0 = 7, then on into the high page; VA 0x4000_1000: stop.
  dv.setUint16(LOW + 0xffe, cLiA0(7), true);
  dv.setUint32(HIGH, J_SELF, true);
  dv.setUint32(HIGH + 4, j(-6), true); // back to VA 0x4000_0ffe
  dv.setUint16(DECOY + 0xffe, cLiA0(9), true); // what the high page's frame has 2 bytes before it
  const h = m.harts[0]!;
  h.setX(T0, (8n << 60n) | (BigInt(RAM_BASE + ROOT) >> 12n));
  h.setX(T1, VA_HIGH + 4n);
  h.setX(T2, 1n << 11n); // MPP = S
  h.setX(T3, 0x003f_ffff_ffff_ffffn); // PMP entry 0: everything, R W X
  h.setX(T4, 0x1fn);
  return m;
}

describe.each(['direct', 'nested', 'shadow'] as PagingMode[])('instruction fetch under %s paging', (paging) => {
  it('fetches a jump target on the last halfword of the page below from that page', () => {
    const m = machine(paging);
    m.kernel.exports.vcpuRun(m.firstVcpu, 6 + 4); // the setup, the jump, c.li, then j . twice
    const h = m.harts[0]!;
    expect(h.getX(A0)).toBe(7n);
    expect(h.pc).toBe(VA_HIGH);
  });
});
