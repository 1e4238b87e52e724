// execFp: decoding of OP-FP and the R4 fused multiply-adds on a hart
// image in the test module's memory - NaN boxing, rounding-mode selection,
// fcsr accrual, mstatus.FS/SD, and the encodings that must be illegal.

import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CANON64, FLAG, f32bits, f64bits, type Fpu, loadFpu } from './fpu-harness.ts';

const { NV, NX, OF } = FLAG;
const HART = 0x80000;
const H_F = 0x100;
const H_FCSR = 0x20c;
const H_MSTATUS = 0x210;
const FS_INITIAL = 1n << 13n;
const FS_DIRTY = 3n << 13n;
const SD = 1n << 63n;
const BOX = 0xffffffff00000000n;

let fpu: Fpu;
const mem = () => new DataView(fpu.memory.buffer);
const getX = (r: number) => mem().getBigUint64(HART + r * 8, true);
const setX = (r: number, v: bigint) => mem().setBigUint64(HART + r * 8, BigInt.asUintN(64, v), true);
const getF = (r: number) => mem().getBigUint64(HART + H_F + r * 8, true);
const setF = (r: number, v: bigint) => mem().setBigUint64(HART + H_F + r * 8, BigInt.asUintN(64, v), true);
const fcsr = () => mem().getUint32(HART + H_FCSR, true);
const setFcsr = (v: number) => mem().setUint32(HART + H_FCSR, v, true);
const mstatus = () => mem().getBigUint64(HART + H_MSTATUS, true);
const setMstatus = (v: bigint) => mem().setBigUint64(HART + H_MSTATUS, v, true);
const single = (x: number) => BOX | BigInt(f32bits(x));
const double = (x: number) => f64bits(x);

/** OP-FP R-type: funct5, fmt (0 S, 1 D), rs2, rs1, rm/funct3, rd. */
function op(funct5: number, fmt: number, rs2: number, rs1: number, rm: number, rd: number): number {
  return (((funct5 << 2) | fmt) << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | 0x53) >>> 0;
}
/** R4-type fused multiply-add: opcode 0x43/0x47/0x4b/0x4f. */
function r4(opcode: number, fmt: number, rs3: number, rs2: number, rs1: number, rm: number, rd: number): number {
  return (rs3 << 27 | fmt << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | opcode) >>> 0;
}
const exec = (insn: number) => fpu.execFp(insn) !== 0;

const DYN = 7;
const [FADD, FSUB, FMUL, FDIV, FSGNJ, FMINMAX, FCVT_FF, FSQRT, FCMP, FCVT_IF, FCVT_FI, FMVX, FMVF] =
  [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x0b, 0x14, 0x18, 0x1a, 0x1c, 0x1e];
const S = 0;
const D = 1;

beforeAll(async () => {
  fpu = await loadFpu();
  fpu.setHart(HART);
});
beforeEach(() => {
  new Uint8Array(fpu.memory.buffer, HART, 0x4000).fill(0);
  setMstatus(FS_INITIAL);
});

describe('NaN boxing', () => {
  it('fadd.s reads boxed singles and writes a boxed result', () => {
    setF(1, single(1.5));
    setF(2, single(2.25));
    expect(exec(op(FADD, S, 2, 1, 0, 3))).toBe(true);
    expect(getF(3)).toBe(single(3.75));
  });
  it('a single read from an improperly boxed register is the canonical NaN', () => {
    setF(1, BigInt(f32bits(1.5))); // upper half zero: not a valid box
    setF(2, single(2));
    expect(exec(op(FADD, S, 2, 1, 0, 3))).toBe(true);
    expect(getF(3)).toBe(BOX | 0x7fc00000n);
    expect(fcsr() & 0x1f).toBe(0); // the canonical NaN is quiet
  });
  it('fmv.x.w moves the raw low 32 bits, sign-extended, without checking the box', () => {
    setF(1, 0x12345678_80000001n);
    expect(exec(op(FMVX, S, 0, 1, 0, 5))).toBe(true);
    expect(getX(5)).toBe(0xffffffff80000001n);
  });
  it('fmv.w.x boxes the low 32 bits of x; fmv.d.x and fmv.x.d move 64 raw bits', () => {
    setX(1, 0xdeadbeef_3f800000n);
    expect(exec(op(FMVF, S, 0, 1, 0, 2))).toBe(true);
    expect(getF(2)).toBe(BOX | 0x3f800000n);
    expect(exec(op(FMVF, D, 0, 1, 0, 3))).toBe(true);
    expect(getF(3)).toBe(0xdeadbeef_3f800000n);
    expect(exec(op(FMVX, D, 0, 3, 0, 4))).toBe(true);
    expect(getX(4)).toBe(0xdeadbeef_3f800000n);
  });
  it('fsgnj.s on an unboxed operand injects into the canonical NaN', () => {
    setF(1, 0x3f800000n);
    setF(2, single(-1));
    expect(exec(op(FSGNJ, S, 2, 1, 0, 3))).toBe(true);
    expect(getF(3)).toBe(BOX | 0xffc00000n);
  });
  it('fsgnj.s takes the sign from rs2 unboxed too: an improper box gives the positive canonical NaN sign', () => {
    setF(1, BOX | 0x12345678n);
    setF(2, 0x7fffffff80000000n); // not boxed: reads as +qNaN, sign 0
    expect(exec(op(FSGNJ, S, 2, 1, 0, 3))).toBe(true);
    expect(getF(3)).toBe(BOX | 0x12345678n);
    setF(2, BOX | 0x80000000n); // boxed -0
    expect(exec(op(FSGNJ, S, 2, 1, 0, 3))).toBe(true);
    expect(getF(3)).toBe(BOX | 0x92345678n);
  });
  it('fsgnj.d treats the register as 64 raw bits, boxed single or not', () => {
    setF(1, 0x7fffffff11111111n);
    setF(2, 0xffffffff91111111n);
    expect(exec(op(FSGNJ, D, 2, 1, 0, 3))).toBe(true);
    expect(getF(3)).toBe(0xffffffff11111111n);
  });
  it('fcvt.s.d then fcvt.d.s of a NaN gives the canonical binary64 NaN', () => {
    setF(1, 0xfff0000000000123n); // a negative signaling NaN
    expect(exec(op(FCVT_FF, S, 1, 1, 0, 2))).toBe(true);
    expect(getF(2)).toBe(BOX | 0x7fc00000n);
    expect(exec(op(FCVT_FF, D, 0, 2, 0, 3))).toBe(true);
    expect(getF(3)).toBe(CANON64);
    expect(fcsr()).toBe(NV);
  });
  it('fcvt.d.s converts a boxed single; fcvt.s.d writes a boxed single', () => {
    setF(1, single(0.1));
    expect(exec(op(FCVT_FF, D, 0, 1, 0, 2))).toBe(true);
    expect(getF(2)).toBe(double(Math.fround(0.1)));
    setF(3, double(0.1));
    expect(exec(op(FCVT_FF, S, 1, 3, 0, 4))).toBe(true);
    expect(getF(4)).toBe(single(0.1));
    expect(fcsr() & 0x1f).toBe(NX);
  });
});

describe('sign injection', () => {
  it('fsgnj/fsgnjn/fsgnjx.d copy, negate and XOR the sign of rs2 (fmv, fneg, fabs)', () => {
    setF(1, double(-3));
    setF(2, double(5));
    expect(exec(op(FSGNJ, D, 2, 1, 0, 3))).toBe(true);
    expect(getF(3)).toBe(double(3));
    expect(exec(op(FSGNJ, D, 2, 1, 1, 3))).toBe(true);
    expect(getF(3)).toBe(double(-3));
    expect(exec(op(FSGNJ, D, 1, 1, 2, 3))).toBe(true); // fabs
    expect(getF(3)).toBe(double(3));
  });
  it('sign injection never raises a flag, even on a signaling NaN', () => {
    setF(1, 0x7ff0000000000001n);
    expect(exec(op(FSGNJ, D, 1, 1, 1, 2))).toBe(true);
    expect(getF(2)).toBe(0xfff0000000000001n);
    expect(fcsr()).toBe(0);
  });
});

describe('rounding mode', () => {
  it('a static rm in the instruction applies', () => {
    setF(1, double(1));
    setF(2, double(3));
    expect(exec(op(FDIV, D, 2, 1, 3 /* RUP */, 3))).toBe(true);
    expect(getF(3)).toBe(0x3fd5555555555556n);
  });
  it('rm = 7 takes the dynamic mode from fcsr.frm', () => {
    setF(1, double(1));
    setF(2, double(3));
    setFcsr(3 << 5); // frm = RUP
    expect(exec(op(FDIV, D, 2, 1, DYN, 3))).toBe(true);
    expect(getF(3)).toBe(0x3fd5555555555556n);
    expect(fcsr()).toBe((3 << 5) | NX);
  });
  it('static rm 5 and 6 are illegal and change nothing', () => {
    setF(1, double(1));
    for (const rm of [5, 6]) {
      expect(exec(op(FADD, D, 1, 1, rm, 3))).toBe(false);
      expect(exec(r4(0x43, D, 1, 1, 1, rm, 3))).toBe(false);
      expect(exec(op(FCVT_IF, D, 0, 1, rm, 3))).toBe(false);
    }
    expect(getF(3)).toBe(0n);
    expect(mstatus()).toBe(FS_INITIAL);
  });
  it('dynamic rm with fcsr.frm >= 5 is illegal', () => {
    for (const frm of [5, 6, 7]) {
      setFcsr(frm << 5);
      expect(exec(op(FMUL, S, 1, 1, DYN, 3))).toBe(false);
      expect(exec(op(FCVT_FI, D, 0, 1, DYN, 3))).toBe(false);
    }
  });
  it('instructions whose funct3 is not a rounding mode ignore a bad frm', () => {
    setFcsr(5 << 5);
    setF(1, double(1));
    setF(2, double(2));
    expect(exec(op(FMINMAX, D, 2, 1, 0, 3))).toBe(true);
    expect(getF(3)).toBe(double(1));
    expect(exec(op(FCMP, D, 2, 1, 1, 4))).toBe(true); // flt
    expect(getX(4)).toBe(1n);
  });
});

describe('fcsr and mstatus', () => {
  it('flags accrue into fcsr.fflags without disturbing frm or earlier flags', () => {
    setFcsr((1 << 5) | OF);
    setF(1, double(1));
    setF(2, double(3));
    expect(exec(op(FDIV, D, 2, 1, DYN, 3))).toBe(true);
    expect(fcsr()).toBe((1 << 5) | OF | NX);
  });
  it('writing an f register marks FS dirty and sets SD', () => {
    setF(1, double(1));
    expect(exec(op(FADD, D, 1, 1, 0, 2))).toBe(true);
    expect(mstatus()).toBe(FS_DIRTY | SD);
  });
  it('a comparison that raises no flag writes x only and leaves FS clean', () => {
    setF(1, double(1));
    setF(2, double(2));
    expect(exec(op(FCMP, D, 2, 1, 2, 5))).toBe(true); // feq
    expect(getX(5)).toBe(0n);
    expect(mstatus()).toBe(FS_INITIAL);
  });
  it('flt on a NaN sets NV in fcsr and marks FS dirty', () => {
    setF(1, CANON64);
    setF(2, double(2));
    expect(exec(op(FCMP, D, 2, 1, 1, 5))).toBe(true);
    expect(fcsr()).toBe(NV);
    expect(mstatus()).toBe(FS_DIRTY | SD);
  });
  it('mstatus.FS = Off makes every F/D instruction illegal', () => {
    setMstatus(0n);
    setX(1, 0x3ff0000000000000n);
    for (const insn of [op(FADD, D, 1, 1, 0, 2), op(FMVF, D, 0, 1, 0, 2), op(FMVX, D, 0, 1, 0, 2), r4(0x4f, S, 1, 1, 1, 0, 2)]) {
      expect(exec(insn)).toBe(false);
    }
    expect(getF(2)).toBe(0n);
    expect(getX(2)).toBe(0n);
  });
  it('a comparison into x0 leaves x0 zero', () => {
    setF(1, double(1));
    expect(exec(op(FCMP, D, 1, 1, 2, 0))).toBe(true);
    expect(getX(0)).toBe(0n);
  });
});

describe('operations', () => {
  it('the four R4 opcodes compute fmadd, fmsub, fnmsub, fnmadd', () => {
    setF(1, double(2));
    setF(2, double(3));
    setF(3, double(1));
    const want = [7, 5, -5, -7];
    [0x43, 0x47, 0x4b, 0x4f].forEach((opc, i) => {
      expect(exec(r4(opc, D, 3, 2, 1, 0, 10 + i))).toBe(true);
      expect(getF(10 + i)).toBe(double(want[i]));
    });
    setF(4, single(2));
    setF(5, single(3));
    setF(6, single(1));
    expect(exec(r4(0x4b, S, 6, 5, 4, 0, 7))).toBe(true);
    expect(getF(7)).toBe(single(-5));
  });
  it('fsub, fmul and fsqrt on doubles', () => {
    setF(1, double(10));
    setF(2, double(4));
    expect(exec(op(FSUB, D, 2, 1, 0, 3))).toBe(true);
    expect(getF(3)).toBe(double(6));
    expect(exec(op(FMUL, D, 2, 1, 0, 3))).toBe(true);
    expect(getF(3)).toBe(double(40));
    expect(exec(op(FSQRT, D, 0, 2, 0, 3))).toBe(true);
    expect(getF(3)).toBe(double(2));
  });
  it('fcvt.w.s and fcvt.wu.s write sign-extended values to x', () => {
    setF(1, single(-7.5));
    expect(exec(op(FCVT_IF, S, 0, 1, 1 /* RTZ */, 5))).toBe(true);
    expect(getX(5)).toBe(BigInt.asUintN(64, -7n));
    setF(2, single(3e9));
    expect(exec(op(FCVT_IF, S, 1, 2, 1, 6))).toBe(true);
    expect(getX(6)).toBe(BigInt.asUintN(64, BigInt((3e9 | 0))));
    expect(fcsr() & 0x1f).toBe(NX);
  });
  it('fcvt.d.l and fcvt.s.wu read x registers', () => {
    setX(1, BigInt.asUintN(64, -5n));
    expect(exec(op(FCVT_FI, D, 2, 1, 0, 2))).toBe(true);
    expect(getF(2)).toBe(double(-5));
    expect(exec(op(FCVT_FI, S, 1, 1, 0, 3))).toBe(true); // low 32 bits unsigned
    expect(getF(3)).toBe(single(4294967291));
  });
  it('fclass.d writes the class mask to x', () => {
    setF(1, 0xfff0000000000000n);
    expect(exec(op(FMVX, D, 0, 1, 1, 5))).toBe(true);
    expect(getX(5)).toBe(1n);
  });
  it('fmin.s and fmax.s', () => {
    setF(1, single(-0));
    setF(2, single(0));
    expect(exec(op(FMINMAX, S, 2, 1, 0, 3))).toBe(true);
    expect(getF(3)).toBe(single(-0));
    expect(exec(op(FMINMAX, S, 2, 1, 1, 3))).toBe(true);
    expect(getF(3)).toBe(single(0));
  });
});

describe('illegal encodings', () => {
  it('formats H (2) and Q (3) are not implemented', () => {
    expect(exec(op(FADD, 2, 1, 1, 0, 2))).toBe(false);
    expect(exec(op(FADD, 3, 1, 1, 0, 2))).toBe(false);
    expect(exec(r4(0x43, 3, 1, 1, 1, 0, 2))).toBe(false);
  });
  it('unknown funct5 values are illegal', () => {
    for (const f5 of [0x06, 0x07, 0x09, 0x0a, 0x0c, 0x10, 0x15, 0x19, 0x1b, 0x1d, 0x1f]) {
      expect(exec(op(f5, D, 0, 1, 0, 2))).toBe(false);
    }
  });
  it('reserved funct3 / rs2 values of otherwise valid instructions are illegal', () => {
    expect(exec(op(FSGNJ, D, 1, 1, 3, 2))).toBe(false);
    expect(exec(op(FMINMAX, D, 1, 1, 2, 2))).toBe(false);
    expect(exec(op(FCMP, D, 1, 1, 3, 2))).toBe(false);
    expect(exec(op(FSQRT, D, 1, 1, 0, 2))).toBe(false);
    expect(exec(op(FCVT_FF, D, 1, 1, 0, 2))).toBe(false); // fcvt.d.d
    expect(exec(op(FCVT_FF, S, 0, 1, 0, 2))).toBe(false); // fcvt.s.s
    expect(exec(op(FCVT_FF, D, 2, 1, 0, 2))).toBe(false); // fcvt.d.h
    expect(exec(op(FCVT_IF, D, 4, 1, 0, 2))).toBe(false);
    expect(exec(op(FCVT_FI, S, 5, 1, 0, 2))).toBe(false);
    expect(exec(op(FMVX, D, 1, 1, 0, 2))).toBe(false);
    expect(exec(op(FMVX, D, 0, 1, 2, 2))).toBe(false);
    expect(exec(op(FMVF, D, 0, 1, 1, 2))).toBe(false);
  });
});
