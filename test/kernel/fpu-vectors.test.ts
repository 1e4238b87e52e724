// The F/D operations against reference vectors, every operation in every
// rounding mode: the host FPU (x86 SSE/FMA under <fenv.h>) for RNE, RTZ,
// RDN, RUP, and exact rational arithmetic (fpu-rmm.py) for RMM - and, as a
// cross-check of that second reference, for the other modes too.
//
// Each vector set runs three ways: from clear flags; with NX already
// accrued (exec.ts then skips exactness tests); and, for the operations
// that have one, through the integer soft-float path alone, so the slow
// path is checked on all inputs and not only those the fast path rejects.

import { beforeAll, describe, expect, it } from 'vitest';
import { Base, D, S, RM_NAMES, exactVectors, hostVectors, loadFpu, mismatches, opName, type Fpu } from './fpu-harness.ts';

let fpu: Fpu;
beforeAll(async () => {
  fpu = await loadFpu();
});

const N = 20000; // host vectors per operation and mode
const NX_EXACT = 1500; // exact-arithmetic vectors per operation and mode
const HW = [0, 1, 2, 3];
const ALL = [0, 1, 2, 3, 4];

const ROUNDED = [Base.ADD, Base.SUB, Base.MUL, Base.DIV, Base.SQRT, Base.MADD, Base.MSUB, Base.NMSUB, Base.NMADD];
const SOFT = new Set<number>([Base.ADD, Base.SUB, Base.MUL, Base.DIV, Base.MADD, Base.MSUB, Base.NMSUB, Base.NMADD]);
const EXACT_OPS = [...ROUNDED, Base.FROM_W, Base.FROM_WU, Base.FROM_L, Base.FROM_LU];

function checkAll(op: number, rm: number, v: BigUint64Array): void {
  expect(mismatches(fpu, op, rm, v), 'from clear flags').toEqual([]);
  expect(mismatches(fpu, op, rm, v, { preNX: true }), 'with NX accrued').toEqual([]);
  if (SOFT.has(op & 31)) expect(mismatches(fpu, op, rm, v, { soft: true }), 'soft-float path').toEqual([]);
}

const modes = (ms: number[]) => ms.map((m) => RM_NAMES[m]).join('/');

for (const fmt of [S, D]) {
  describe(fmt === S ? 'binary32 (F)' : 'binary64 (D)', () => {
    for (const base of ROUNDED) {
      const op = fmt + base;
      it(`${opName(op)} is correctly rounded with exact flags in ${modes(HW)} (host FPU, ${N} edge-biased cases each)`, () => {
        for (const rm of HW) checkAll(op, rm, hostVectors(op, rm, N, 1 + rm));
      });
    }

    const cvt = fmt + Base.CVT;
    it(`${opName(cvt)} ${fmt === S ? 'is exact and quiets NaNs' : 'rounds, overflows and underflows'} like the host in ${modes(HW)}`, () => {
      for (const rm of HW) checkAll(cvt, rm, hostVectors(cvt, rm, N, 11 + rm));
    });

    for (const base of [Base.TO_W, Base.TO_WU, Base.TO_L, Base.TO_LU]) {
      const op = fmt + base;
      it(`${opName(op)} rounds by rm, flags NX/NV and saturates per the RISC-V table in ${modes(ALL)}`, () => {
        for (const rm of ALL) checkAll(op, rm, hostVectors(op, rm, N, 21 + rm));
      });
    }

    for (const base of [Base.FROM_W, Base.FROM_WU, Base.FROM_L, Base.FROM_LU]) {
      const op = fmt + base;
      it(`${opName(op)} rounds like the host in ${modes(HW)}`, () => {
        for (const rm of HW) checkAll(op, rm, hostVectors(op, rm, N, 31 + rm));
      });
    }

    it(`feq/flt/fle.${fmt === S ? 's' : 'd'} compare like the host: feq quiet, flt/fle signaling`, () => {
      for (const base of [Base.EQ, Base.LT, Base.LE]) checkAll(fmt + base, 0, hostVectors(fmt + base, 0, N, 41));
    });

    it(`fmin/fmax.${fmt === S ? 's' : 'd'} follow minimumNumber/maximumNumber with -0 < +0 and NV on sNaN`, () => {
      for (const base of [Base.MIN, Base.MAX]) checkAll(fmt + base, 0, hostVectors(fmt + base, 0, N, 51));
    });

    it(`fclass.${fmt === S ? 's' : 'd'} agrees with the C classification`, () => {
      checkAll(fmt + Base.CLASS, 0, hostVectors(fmt + Base.CLASS, 0, N, 61));
    });

    it(`every rounding operation of ${fmt === S ? 'binary32' : 'binary64'} matches exact rational arithmetic in ${modes(ALL)}, ties-away RMM included (${NX_EXACT} cases each)`, () => {
      const ops = [...EXACT_OPS.map((b) => fmt + b), ...(fmt === D ? [D + Base.CVT] : [])];
      const specs: [number, number][] = ops.flatMap((op) => ALL.map((rm) => [op, rm] as [number, number]));
      const sets = exactVectors(specs, NX_EXACT, 3);
      specs.forEach(([op, rm], i) => checkAll(op, rm, sets[i]));
    });
  });
}
