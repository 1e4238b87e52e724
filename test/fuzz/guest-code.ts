// Guest code for the fuzz suite: a prologue that points registers at RAM
// and the board's devices and installs a trap vector inside the code, then
// random words or opcode-biased instructions (valid encodings of every
// major opcode: memory at RAM and device bases, CSRs, privileged ones,
// AMOs, F/D, compressed). Half the cases run the code in S-mode on an Sv39
// identity map, so guest paging is exercised on top of the partition's
// direct, nested or shadow paging.
import type { Rng } from './random.ts';
import { fmt } from '../support/rv.ts';

export const RAM_BASE = 0x8000_0000;
/** Where the fuzzed code starts (the prologue is below it). */
export const CODE_OFFSET = 0x1000;
const ROOT_TABLE = 0x1_0000;

// Registers the prologue sets and the generator mostly leaves alone.
const S0 = 8; // RAM base
const S1 = 9; // UART
const S2 = 18; // CLINT
const S3 = 19; // PLIC
const S4 = 20; // test finisher (or RAM, when the case does not want it)
const T0 = 5;
const T1 = 6;
const T2 = 7;
const BASES = [S0, S0, S0, S1, S2, S3, S4];

const { R, I, S, B, U, J } = fmt;

const addi = (rd: number, rs1: number, imm: number) => I(0x13, rd, 0, rs1, imm);
const csrw = (csr: number, rs1: number) => I(0x73, 0, 1, rs1, csr);
const csrs = (csr: number, rs1: number) => I(0x73, 0, 2, rs1, csr);
const csrc = (csr: number, rs1: number) => I(0x73, 0, 3, rs1, csr);

/** CSRs worth poking: trap set-up, interrupts, paging, PMP, counters, FP. */
const CSRS = [
  0x300, 0x301, 0x302, 0x303, 0x304, 0x305, 0x306, 0x340, 0x341, 0x342, 0x343, 0x344, // machine trap set-up and handling
  0x100, 0x104, 0x105, 0x106, 0x140, 0x141, 0x142, 0x143, 0x144, 0x180, // supervisor, satp
  0x3a0, 0x3a2, 0x3b0, 0x3b1, 0x3b2, // PMP
  0xb00, 0xb02, 0xc00, 0xc01, 0xc02, 0x320, 0x30a, 0x10a, // counters, envcfg
  0x001, 0x002, 0x003, // fflags, frm, fcsr
  0xf11, 0xf12, 0xf13, 0xf14, 0x7b0, 0x5a8, 0x14d, // read-only ids, debug, unknown, stimecmp
];
const OP_FP_F7 = [0x00, 0x01, 0x04, 0x05, 0x08, 0x09, 0x0c, 0x0d, 0x2c, 0x2d, 0x10, 0x11, 0x14, 0x15, 0x20, 0x21, 0x50, 0x51, 0x60, 0x61, 0x68, 0x69, 0x70, 0x71, 0x78, 0x79];
const AMO_F5 = [0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c];

export type CodeKind = 'random' | 'biased';

export interface GuestImage {
  bytes: Uint8Array;
  /** Runs the code in S-mode under an Sv39 identity map. */
  sv39: boolean;
}

/** A raw image for 0x8000_0000: the prologue, then `words` instructions of `kind`. */
export function guestImage(rng: Rng, kind: CodeKind, words: number): GuestImage {
  const sv39 = rng.chance(0.5);
  const finisher = rng.chance(0.2);
  const code = kind === 'random' ? randomWords(rng, words) : biasedWords(rng, words);
  const p: number[] = [];
  p.push(U(0x17, S0, 0)); // auipc s0, 0: RAM base
  p.push(U(0x37, S1, 0x10000), U(0x37, S2, 0x2000), U(0x37, S3, 0xc000));
  p.push(finisher ? U(0x37, S4, 0x100) : addi(S4, S0, 0x400));
  p.push(U(0x37, T0, 1), R(0x33, T0, 0, S0, T0, 0)); // t0 = code
  p.push(addi(T0, T0, rng.int(Math.min(words, 500)) * 4), csrw(0x305, T0), csrw(0x105, T0)); // mtvec, stvec inside the code
  p.push(U(0x37, T1, 0x2), csrs(0x300, T1)); // mstatus.FS = initial (0x2000): F/D usable
  for (let r = 10; r <= 17; r++) p.push(addi(r, 0, rng.range(-2048, 2047))); // a0..a7
  if (sv39) {
    p.push(U(0x37, T1, 0x10), R(0x33, T1, 0, S0, T1, 0)); // t1 = root table
    p.push(addi(T2, 0, 0xcf), S(0x23, 3, T1, T2, 0)); // devices: gigapage at 0, VRWXAD
    p.push(U(0x37, T2, 0x20000), addi(T2, T2, 0xcf), S(0x23, 3, T1, T2, 16)); // RAM: gigapage at 0x8000_0000
    p.push(I(0x13, T2, 5, T1, 12), addi(T0, 0, 8), I(0x13, T0, 1, T0, 60), R(0x33, T2, 6, T2, T0, 0), csrw(0x180, T2)); // satp = Sv39 | root
    p.push(U(0x37, T2, rng.u32() & 0xf), addi(T2, T2, rng.int(2048)), csrw(0x302, T2)); // some exceptions delegated to S
    p.push(U(0x37, T2, 2), addi(T2, T2, -0x800), csrc(0x300, T2), addi(T2, 0, 0x7ff), addi(T2, T2, 1), csrs(0x300, T2)); // MPP = S
    p.push(U(0x37, T2, 1), R(0x33, T2, 0, S0, T2, 0), csrw(0x341, T2), 0x3020_0073); // mepc = code; mret
  } else {
    p.push(J(0, CODE_OFFSET - p.length * 4)); // jump to the code
  }
  if (p.length * 4 > CODE_OFFSET) throw new Error('fuzz prologue too long');
  const bytes = new Uint8Array(CODE_OFFSET + code.length * 4);
  const dv = new DataView(bytes.buffer);
  p.forEach((w, k) => dv.setUint32(k * 4, w, true));
  code.forEach((w, k) => dv.setUint32(CODE_OFFSET + k * 4, w >>> 0, true));
  if (sv39 && bytes.length > ROOT_TABLE) throw new Error('fuzz code overlaps the page table');
  return { bytes, sv39 };
}

function randomWords(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.u32());
}

/** A destination register: mostly not one the prologue set (so addresses stay useful). */
function rd(rng: Rng): number {
  const r = rng.range(1, 31);
  return [S0, S1, S2, S3, S4].includes(r) && rng.chance(0.9) ? rng.range(10, 17) : r;
}
const reg = (rng: Rng) => rng.range(0, 31);
const imm12 = (rng: Rng) => (rng.chance(0.7) ? rng.range(-64, 64) : rng.range(-2048, 2047));
const near = (rng: Rng) => rng.range(-16, 16) * 4;

function biasedWords(rng: Rng, n: number): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const k = rng.int(100);
    if (k < 14) out.push(I(0x13, rd(rng), rng.int(8), reg(rng), imm12(rng)));
    else if (k < 24) out.push(R(0x33, rd(rng), rng.int(8), reg(rng), reg(rng), rng.pick([0, 0, 0x20, 1])));
    else if (k < 28) out.push(R(0x3b, rd(rng), rng.int(8), reg(rng), reg(rng), rng.pick([0, 0x20, 1])), I(0x1b, rd(rng), rng.int(8), reg(rng), imm12(rng)));
    else if (k < 31) out.push(U(rng.pick([0x37, 0x17]), rd(rng), rng.u32()));
    else if (k < 41) out.push(I(0x03, rd(rng), rng.int(7), rng.pick(BASES), imm12(rng) & ~3));
    else if (k < 50) out.push(S(0x23, rng.int(4), rng.pick(BASES), reg(rng), imm12(rng) & ~3));
    else if (k < 58) out.push(B(rng.pick([0, 1, 4, 5, 6, 7]), reg(rng), reg(rng), near(rng) || 8));
    else if (k < 61) out.push(J(rng.chance(0.5) ? 0 : 1, near(rng) || 8));
    else if (k < 63) out.push(I(0x67, rd(rng), 0, reg(rng), imm12(rng)));
    else if (k < 73) out.push(I(0x73, rd(rng), rng.pick([1, 2, 3, 5, 6, 7]), reg(rng), rng.pick(CSRS)));
    else if (k < 78)
      out.push(
        rng.pick([0x0000_0073, 0x0010_0073, 0x3020_0073, 0x1020_0073, 0x1050_0073, R(0x73, 0, 0, reg(rng), reg(rng), 0x09), 0x0000_100f, 0x0ff0_000f]),
      ); // ecall ebreak mret sret wfi sfence.vma fence.i fence
    else if (k < 83) out.push(R(0x2f, rd(rng), rng.pick([2, 3]), S0, reg(rng), (rng.pick(AMO_F5) << 2) | rng.int(4)));
    else if (k < 86) out.push(I(0x07, rng.int(32), rng.pick([2, 3]), S0, imm12(rng) & ~7), S(0x27, rng.pick([2, 3]), S0, rng.int(32), imm12(rng) & ~7));
    else if (k < 92) out.push(R(0x53, rng.int(32), rng.int(8), rng.int(32), rng.int(32), rng.pick(OP_FP_F7)));
    else if (k < 94) out.push(((rng.int(32) << 27) | (rng.int(4) << 25) | (rng.u32() & 0x1ff_ff80) | rng.pick([0x43, 0x47, 0x4b, 0x4f])) >>> 0);
    else out.push((rng.u32() & 0xfffc_fffc) | rng.int(3) | (rng.int(3) << 16)); // two compressed instructions
  }
  return out.slice(0, n);
}
